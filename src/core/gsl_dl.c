/* gsl_dl.c — the GSL functions dlenergy calls, resolved with dlopen on first use. See
 * gsl_dl.h for why. The table is filled once (pthread_once) and read-only afterwards. */
#include "gsl_dl.h"
#include "dl.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The definitions below keep GSL's names; hidden, so libdlenergy.so does not export them
 * (a process that links GSL itself keeps its own). */
#pragma GCC visibility push(hidden)
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <gsl/gsl_vector.h>

/* Every GSL function dlenergy calls: return type, name, parameters, arguments, and what
 * the shim returns without the library. Another GSL call = one more line (the link
 * fails until then). */
/* clang-format off */
#define DLE_GSL_FUNCS(X)                                                                     \
  X(double, gsl_cdf_chisq_Q, (double x, double nu), (x, nu), NAN)                            \
  X(double, gsl_cdf_fdist_Q, (double x, double nu1, double nu2), (x, nu1, nu2), NAN)        \
  X(double, gsl_cdf_gaussian_Q, (double x, double sigma), (x, sigma), NAN)                   \
  X(double, gsl_cdf_tdist_Q, (double x, double nu), (x, nu), NAN)                            \
  X(double, gsl_cdf_ugaussian_Pinv, (double p), (p), NAN)                                    \
  X(double, gsl_cdf_ugaussian_Q, (double x), (x), NAN)                                       \
  X(int, gsl_linalg_LQ_decomp, (gsl_matrix * A, gsl_vector * tau), (A, tau), GSL_EFAILED)    \
  X(int, gsl_linalg_LQ_vecQT, (const gsl_matrix *LQ, const gsl_vector *tau, gsl_vector *v),  \
    (LQ, tau, v), GSL_EFAILED)                                                               \
  X(int, gsl_linalg_SV_decomp, (gsl_matrix * A, gsl_matrix *V, gsl_vector *S,                \
    gsl_vector *work), (A, V, S, work), GSL_EFAILED)                                         \
  X(gsl_matrix *, gsl_matrix_alloc, (size_t n1, size_t n2), (n1, n2), NULL)                  \
  X(gsl_matrix *, gsl_matrix_calloc, (size_t n1, size_t n2), (n1, n2), NULL)                 \
  X(gsl_matrix_view, gsl_matrix_view_array, (double *base, size_t n1, size_t n2),            \
    (base, n1, n2), (gsl_matrix_view){0})                                                    \
  X(gsl_vector *, gsl_vector_alloc, (size_t n), (n), NULL)                                   \
  X(gsl_vector_view, gsl_vector_view_array, (double *v, size_t n), (v, n),                   \
    (gsl_vector_view){0})                                                                    \
  X(gsl_multifit_linear_workspace *, gsl_multifit_linear_alloc, (size_t n, size_t p),        \
    (n, p), NULL)                                                                            \
  X(int, gsl_multifit_linear_tsvd, (const gsl_matrix *X, const gsl_vector *y, double tol,    \
    gsl_vector *c, gsl_matrix *cov, double *chisq, size_t *rank,                             \
    gsl_multifit_linear_workspace *work), (X, y, tol, c, cov, chisq, rank, work),            \
    GSL_EFAILED)                                                                             \
  X(double, gsl_stats_correlation, (const double data1[], size_t stride1,                    \
    const double data2[], size_t stride2, size_t n), (data1, stride1, data2, stride2, n),    \
    NAN)                                                                                     \
  X(double, gsl_stats_mean, (const double data[], size_t stride, size_t n),                  \
    (data, stride, n), NAN)                                                                  \
  X(double, gsl_stats_quantile_from_sorted_data, (const double sorted_data[], size_t stride, \
    size_t n, double f), (sorted_data, stride, n, f), NAN)                                   \
  X(double, gsl_stats_sd, (const double data[], size_t stride, size_t n), (data, stride, n), \
    NAN)

/* Functions without a result. */
#define DLE_GSL_VOID_FUNCS(X)                                                                \
  X(gsl_matrix_free, (gsl_matrix * m), (m))                                                  \
  X(gsl_matrix_set, (gsl_matrix * m, size_t i, size_t j, double x), (m, i, j, x))            \
  X(gsl_vector_free, (gsl_vector * v), (v))                                                  \
  X(gsl_vector_set, (gsl_vector * v, size_t i, double x), (v, i, x))                         \
  X(gsl_multifit_linear_free, (gsl_multifit_linear_workspace * w), (w))                      \
  X(gsl_sort_index, (size_t * p, const double *data, size_t stride, size_t n),               \
    (p, data, stride, n))
/* clang-format on */

typedef struct gsl_table {
  int ok;
  char why[400];
#define X(ret, name, params, args, fallback) ret(*name) params;
  DLE_GSL_FUNCS(X)
#undef X
#define X(name, params, args) void(*name) params;
  DLE_GSL_VOID_FUNCS(X)
#undef X
} gsl_table;

/* Written once inside pthread_once, read-only afterwards. */
static gsl_table g_gsl;
static pthread_once_t g_gsl_once = PTHREAD_ONCE_INIT;

static void gsl_init(void) {
  const char *path, *why;
  /* Kept open for the process's life. */
  void *lib = dle_dl_open("DLENERGY_LIBGSL", DLE_LIBGSL_SONAME, &path, &why);
  if (!lib) {
    snprintf(g_gsl.why, sizeof g_gsl.why,
             "the statistics and linear regression need %s (%s): apt-get install libgsl27", path,
             why);
    return;
  }
  const char *missing = NULL;
#define X(ret, name, params, args, fallback) dle_dl_resolve(lib, #name, &g_gsl.name, &missing);
  DLE_GSL_FUNCS(X)
#undef X
#define X(name, params, args) dle_dl_resolve(lib, #name, &g_gsl.name, &missing);
  DLE_GSL_VOID_FUNCS(X)
#undef X
  if (missing) {
    snprintf(g_gsl.why, sizeof g_gsl.why, "%s lacks %s: not GSL 2.7 (apt-get install libgsl27)",
             path, missing);
    dlclose(lib);
    return;
  }
  g_gsl.ok = 1;
}

static const gsl_table *gsl(void) {
  pthread_once(&g_gsl_once, gsl_init);
  return g_gsl.ok ? &g_gsl : NULL;
}

#define X(ret, name, params, args, fallback) \
  ret name params {                          \
    const gsl_table *t = gsl();              \
    return t ? t->name args : fallback;      \
  }
DLE_GSL_FUNCS(X)
#undef X
#define X(name, params, args)  \
  void name params {           \
    const gsl_table *t = gsl(); \
    if (t) t->name args;       \
  }
DLE_GSL_VOID_FUNCS(X)
#undef X
#pragma GCC visibility pop

int dle_gsl_load(dle_error *err) {
  if (gsl()) return DLE_OK;
  return dle_error_set(err, DLE_EUNSUPPORTED, "%s", g_gsl.why);
}
