/* lapack_dl.c — the LAPACK routines the regressors call, resolved with dlopen on first
 * use. See lapack_dl.h for why. The table is filled once (pthread_once), read-only after. */
#include "lapack_dl.h"
#include "core/dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hidden: libdlenergy.so does not export these names, so a process that links a LAPACK
 * of its own (numpy's OpenBLAS in a Python that loads libdlenergy.so) keeps it. */
#pragma GCC visibility push(hidden)

typedef void (*dpotrf_fn)(const char *uplo, const lapack_int *n, double *A,
                          const lapack_int *lda, lapack_int *info, size_t uplo_len);
typedef void (*dpotrs_fn)(const char *uplo, const lapack_int *n, const lapack_int *nrhs,
                          const double *A, const lapack_int *lda, double *B,
                          const lapack_int *ldb, lapack_int *info, size_t uplo_len);
typedef void (*dgesv_fn)(const lapack_int *n, const lapack_int *nrhs, double *A,
                         const lapack_int *lda, lapack_int *ipiv, double *B,
                         const lapack_int *ldb, lapack_int *info);

typedef struct lapack_table {
  int ok;
  char why[400];
  dpotrf_fn dpotrf;
  dpotrs_fn dpotrs;
  dgesv_fn dgesv;
} lapack_table;

/* Written once inside pthread_once, read-only afterwards. */
static lapack_table g_lapack;
static pthread_once_t g_lapack_once = PTHREAD_ONCE_INIT;

static void lapack_init(void) {
  const char *path, *why;
  /* Kept open for the process's life. */
  void *lib = dle_dl_open("DLENERGY_LIBLAPACK", DLE_LIBLAPACK_SONAME, &path, &why);
  if (!lib) {
    snprintf(
        g_lapack.why, sizeof g_lapack.why,
        "ridge, kernel ridge and the SVR cross-validation need %s (%s): apt-get install liblapack3",
        path, why);
    return;
  }
  const char *missing = NULL;
  dle_dl_resolve(lib, "dpotrf_", &g_lapack.dpotrf, &missing);
  dle_dl_resolve(lib, "dpotrs_", &g_lapack.dpotrs, &missing);
  dle_dl_resolve(lib, "dgesv_", &g_lapack.dgesv, &missing);
  if (missing) {
    snprintf(g_lapack.why, sizeof g_lapack.why, "%s lacks %s: not a LAPACK library", path,
             missing);
    dlclose(lib);
    return;
  }
  g_lapack.ok = 1;
}

static const lapack_table *lapack(void) {
  pthread_once(&g_lapack_once, lapack_init);
  return g_lapack.ok ? &g_lapack : NULL;
}

/* Without the library (dle_lapack_load() not called or failed) each routine reports an
 * illegal first argument, as LAPACK does for bad input, instead of computing nothing. */
void LAPACK_dpotrf_base(const char *uplo, const lapack_int *n, double *A, const lapack_int *lda,
                        lapack_int *info, size_t uplo_len) {
  const lapack_table *t = lapack();
  if (t)
    t->dpotrf(uplo, n, A, lda, info, uplo_len);
  else
    *info = -1;
}

void LAPACK_dpotrs_base(const char *uplo, const lapack_int *n, const lapack_int *nrhs,
                        const double *A, const lapack_int *lda, double *B, const lapack_int *ldb,
                        lapack_int *info, size_t uplo_len) {
  const lapack_table *t = lapack();
  if (t)
    t->dpotrs(uplo, n, nrhs, A, lda, B, ldb, info, uplo_len);
  else
    *info = -1;
}

void LAPACK_dgesv(const lapack_int *n, const lapack_int *nrhs, double *A, const lapack_int *lda,
                  lapack_int *ipiv, double *B, const lapack_int *ldb, lapack_int *info) {
  const lapack_table *t = lapack();
  if (t)
    t->dgesv(n, nrhs, A, lda, ipiv, B, ldb, info);
  else
    *info = -1;
}
#pragma GCC visibility pop

int dle_lapack_load(dle_error *err) {
  if (lapack()) return DLE_OK;
  return dle_error_set(err, DLE_EUNSUPPORTED, "%s", g_lapack.why);
}
