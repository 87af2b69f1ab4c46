/* fit.c — encoder, the four regressors, cross-validation and randomized search. */
#include <float.h>
#include <gsl/gsl_linalg.h>
#include <libsvm/svm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gsl_dl.h"
#include "krr_pcg.h"
#include "lapack_dl.h"
#include "svm_dl.h"
#include "svr_smo.h"
#include "regress_internal.h"

/* ---------------- encoder ---------------- */

void dle_enc_free(dle_enc *e) {
  if (!e) return;
  free(e->mean);
  free(e->min);
  free(e->max);
  free(e->scale);
  free(e->used);
  if (e->levels)
    for (size_t c = 0; c < e->n_cat; c++) dle_reg_strv_free(e->levels[c], e->n_levels[c]);
  free(e->levels);
  free(e->n_levels);
  memset(e, 0, sizeof *e);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fits the encoder on rows idx[0..m) of d. */
static int enc_fit(dle_enc *e, const dle_dataset *d, const size_t *idx, size_t m, dle_error *err) {
  memset(e, 0, sizeof *e);
  e->n_num = d->n_num;
  e->n_cat = d->n_cat;
  size_t nn = d->n_num ? d->n_num : 1, nc = d->n_cat ? d->n_cat : 1;
  e->mean = calloc(nn, sizeof *e->mean);
  e->scale = calloc(nn, sizeof *e->scale);
  e->min = calloc(nn, sizeof *e->min);
  e->max = calloc(nn, sizeof *e->max);
  e->used = calloc(nn, 1);
  e->n_levels = calloc(nc, sizeof *e->n_levels);
  e->levels = calloc(nc, sizeof *e->levels);
  const char **tmp = malloc((m ? m : 1) * sizeof *tmp);
  if (!e->mean || !e->scale || !e->min || !e->max || !e->used || !e->n_levels || !e->levels ||
      !tmp) {
    free(tmp);
    dle_enc_free(e);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  for (size_t j = 0; j < d->n_num; j++) {
    double s = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < m; i++) {
      double x = d->num[idx[i] * d->n_num + j];
      s += x;
      lo = x < lo ? x : lo;
      hi = x > hi ? x : hi;
    }
    e->min[j] = lo;
    e->max[j] = hi;
    double mean = s / (double)m, v = 0;
    for (size_t i = 0; i < m; i++) {
      double t = d->num[idx[i] * d->n_num + j] - mean;
      v += t * t;
    }
    v /= (double)m;
    /* scikit-learn's test for a constant feature (var within rounding of zero). */
    double eps = DBL_EPSILON, nm = (double)m * mean * eps;
    bool constant = v <= (double)m * eps * v + nm * nm;
    bool off = d->feat_off && d->feat_off[j]; /* scales the target only */
    e->mean[j] = mean;
    e->scale[j] = constant || off ? 1.0 : sqrt(v);
    e->used[j] = !constant && !off;
  }
  e->d = d->n_num;
  for (size_t c = 0; c < d->n_cat; c++) {
    for (size_t i = 0; i < m; i++) tmp[i] = d->cat[idx[i] * d->n_cat + c];
    qsort(tmp, m, sizeof *tmp, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
      if (u == 0 || strcmp(tmp[i], tmp[u - 1]) != 0) tmp[u++] = tmp[i];
    e->levels[c] = dle_reg_strv_dup(tmp, u);
    if (!e->levels[c]) {
      free(tmp);
      dle_enc_free(e);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
    e->n_levels[c] = u;
    e->d += u;
  }
  free(tmp);
  return DLE_OK;
}

static size_t find_level(char *const *levels, size_t n, const char *s) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(levels[mid], s);
    if (c == 0) return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return SIZE_MAX;
}

void dle_enc_row(const dle_enc *e, const double *num, const char *const *cat, double *out) {
  for (size_t j = 0; j < e->n_num; j++)
    out[j] = e->used[j] ? (num[j] - e->mean[j]) / e->scale[j] : 0.0;
  size_t o = e->n_num;
  for (size_t c = 0; c < e->n_cat; c++) {
    for (size_t l = 0; l < e->n_levels[c]; l++) out[o + l] = 0.0;
    const char *s = cat ? cat[c] : NULL;
    if (s) {
      size_t l = find_level(e->levels[c], e->n_levels[c], s);
      if (l != SIZE_MAX) out[o + l] = 1.0;
    }
    o += e->n_levels[c];
  }
}

static void enc_rows(const dle_enc *e, const dle_dataset *d, const size_t *idx, size_t m,
                     double *X) {
  for (size_t i = 0; i < m; i++)
    dle_enc_row(e, d->num + idx[i] * d->n_num, (const char *const *)d->cat + idx[i] * d->n_cat,
                X + i * e->d);
}

/* ---------------- solvers ---------------- */

static double sqdist(const double *a, const double *b, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) {
    double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

static bool all_finite(const double *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return false;
  return true;
}

/* Minimum-norm least squares of A (m x n, column-major, destroyed) against b (length
 * max(m, n), solution in b[0..n)); singular values below eps x max(m, n) x the largest
 * are dropped (numpy.linalg.lstsq's default cutoff, LAPACK dgelsd's rcond): a
 * rank-deficient design (one-hot blocks beside an intercept) gets the minimum-norm
 * solution instead of noise-sized singular values blown up into huge coefficients.
 * GSL (linked for the statistics anyway, so no library to load). GSL is row-major, so
 * column-major A is A' to it. For m >= n: the Householder LQ of A' (= the QR of A,
 * reflecting contiguous rows), A' = L Q, so A = Q' R with R = L'; then the Golub-Reinsch
 * SVD of the n x n triangle R = U S V' (singular values to eps x the largest, as
 * dgelsd's bidiagonal solver; GSL's one-sided Jacobi was slower and no closer to
 * dgelsd's result); x = V S+ U' (Q b)[0..n). For m < n: the SVD of A' = U S V' itself,
 * x = U S+ V' b. */
static int lstsq(double *A, size_t m, size_t n, double *b, dle_error *err) {
  int lrc = dle_gsl_load(err);
  if (lrc) return lrc;
  /* GSL's default error handler aborts: invalid input never reaches it. */
  if (!all_finite(A, m * n) || !all_finite(b, m))
    return dle_error_set(err, DLE_EINTERNAL, "least squares: the design or target is not finite");
  if (m == 0 || n == 0) {
    for (size_t j = 0; j < n; j++) b[j] = 0;
    return DLE_OK;
  }
  size_t k = m < n ? m : n, big = m < n ? n : m;
  /* R / U (k x k), V (k x k), S, tau, w (k each) */
  double *ws = malloc((2 * k * k + 3 * k) * sizeof *ws);
  if (!ws) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  double *U = ws, *V = U + k * k, *S = V + k * k, *tau = S + k, *w = tau + k;
  gsl_matrix_view At = gsl_matrix_view_array(A, n, m); /* A' */
  gsl_matrix_view Vv = gsl_matrix_view_array(V, k, k);
  gsl_vector_view Sv = gsl_vector_view_array(S, k);
  const double *left = V, *right = U; /* m < n: x = U S+ V' b */
  int grc;
  if (m >= n) {
    gsl_vector_view tv = gsl_vector_view_array(tau, n);
    gsl_vector_view bv = gsl_vector_view_array(b, m);
    grc = gsl_linalg_LQ_decomp(&At.matrix, &tv.vector);
    if (!grc) grc = gsl_linalg_LQ_vecQT(&At.matrix, &tv.vector, &bv.vector);
    for (size_t i = 0; i < n; i++) /* R = L': row i of R is column i of L */
      for (size_t j = 0; j < n; j++) U[i * n + j] = j >= i ? A[j * m + i] : 0.0;
    gsl_matrix_view Uv = gsl_matrix_view_array(U, n, n);
    if (!grc) grc = gsl_linalg_SV_decomp(&Uv.matrix, &Vv.matrix, &Sv.vector, &tv.vector);
    left = U; /* x = V S+ U' (Q b)[0..n) */
    right = V;
  } else {
    gsl_vector_view work = gsl_vector_view_array(tau, k);
    grc = gsl_linalg_SV_decomp(&At.matrix, &Vv.matrix, &Sv.vector, &work.vector);
    right = A; /* the n x m U of A', in place */
  }
  if (grc) {
    free(ws);
    return dle_error_set(err, DLE_EINTERNAL, "least squares (GSL) failed: %d", grc);
  }
  double smax = 0;
  for (size_t i = 0; i < k; i++) smax = S[i] > smax ? S[i] : smax;
  double tol = DBL_EPSILON * (double)big * smax;
  for (size_t i = 0; i < k; i++) {
    double t = 0;
    if (S[i] > tol) {
      for (size_t r = 0; r < k; r++) t += left[r * k + i] * b[r];
      t /= S[i];
    }
    w[i] = t;
  }
  for (size_t j = 0; j < n; j++) {
    double x = 0;
    for (size_t i = 0; i < k; i++) x += right[j * k + i] * w[i];
    b[j] = x;
  }
  free(ws);
  return DLE_OK;
}

/* Solves the symmetric system A x = b (A n x n, destroyed; b overwritten): Cholesky, or
 * least squares when A is not positive definite (as scikit-learn does). A symmetric
 * matrix's row-major storage is its column-major storage: LAPACK runs on it in place. */
static int solve_spd(double *A, size_t n, double *b, dle_error *err) {
  int rc = dle_lapack_load(err);
  if (rc) return rc;
  double *copy = malloc((n * n + n) * sizeof *copy);
  if (!copy) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  double *bcopy = copy + n * n;
  memcpy(copy, A, n * n * sizeof *copy);
  memcpy(bcopy, b, n * sizeof *b);
  lapack_int ln = (lapack_int)n, nrhs = 1, info = -1;
  /* dpotrf does not check for NaN (LAPACKE did): a non-finite A goes to lstsq, which
   * reports it. */
  if (all_finite(A, n * n) && all_finite(b, n)) {
    LAPACK_dpotrf("L", &ln, A, &ln, &info);
    if (info == 0) LAPACK_dpotrs("L", &ln, &nrhs, A, &ln, b, &ln, &info);
  }
  if (info != 0) {
    memcpy(b, bcopy, n * sizeof *b);
    rc = lstsq(copy, n, n, b, err);
  }
  free(copy);
  return rc;
}

static double dot_cols(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Linear (alpha == 0) or ridge: centered least squares; intercept = ym - xm . w.
 * X is n x d row-major (the encoder's rows); the centred design is built once,
 * column-major (contiguous columns for lstsq's reflections and ridge's Gram matrix), in
 * one allocation with the other scratch. */
static int fit_linear(const double *X, const double *y, size_t n, size_t d, double alpha,
                      double *coef, double *intercept, dle_error *err) {
  size_t rows = n > d ? n : d;
  size_t gram = alpha > 0 ? d * d + d : 0;
  double *xm = malloc((d + n * d + rows + 1 + gram) * sizeof *xm);
  if (!xm) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  memset(xm, 0, d * sizeof *xm);
  double *Ac = xm + d;        /* n x d, column-major, centred */
  double *b = Ac + n * d;     /* rows (+1): the centred target, then the solution */
  double *G = b + rows + 1;   /* ridge: d x d Gram + alpha I, then d: X'y */
  double ym = 0;
  for (size_t i = 0; i < n; i++) {
    ym += y[i];
    for (size_t j = 0; j < d; j++) xm[j] += X[i * d + j];
  }
  ym /= (double)n;
  for (size_t j = 0; j < d; j++) xm[j] /= (double)n;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) Ac[j * n + i] = X[i * d + j] - xm[j];
  for (size_t i = 0; i < n; i++) b[i] = y[i] - ym;
  for (size_t i = n; i <= rows; i++) b[i] = 0.0;
  int rc;
  if (alpha > 0) {
    double *r = G + d * d;
    for (size_t a = 0; a < d; a++) {
      for (size_t c = a; c < d; c++) G[a * d + c] = G[c * d + a] = dot_cols(Ac + a * n, Ac + c * n, n);
      G[a * d + a] += alpha;
      r[a] = dot_cols(Ac + a * n, b, n);
    }
    memcpy(b, r, d * sizeof *b);
    rc = d ? solve_spd(G, d, b, err) : DLE_OK;
  } else {
    rc = d ? lstsq(Ac, n, d, b, err) : DLE_OK;
  }
  if (rc == DLE_OK) {
    double ic = ym;
    for (size_t j = 0; j < d; j++) {
      coef[j] = b[j];
      ic -= xm[j] * b[j];
    }
    *intercept = ic;
  }
  free(xm);
  return rc;
}

/* Kernel ridge with identical training rows collapsed (exact). With u distinct
 * rows x_1..x_u, counts c and per-row target sums s, the dual problem
 * (K + alpha I) a = y of the n rows reduces, by the push-through identity, to
 * (C K_u + alpha I) beta = s with beta_j = sum of a_i over the copies of x_j, and
 * f(x) = sum_j beta_j k(x_j, x) is the same function. Solved in the symmetric form
 * (C^1/2 K_u C^1/2 + alpha I) z = C^-1/2 s, beta = C^1/2 z (Cholesky; least squares
 * when not positive definite). Repeated runs of one configuration (the study's
 * 30 repetitions) make u much smaller than n; with no duplicates u = n. */
typedef struct krr_uniq {
  size_t u;
  size_t *rep;    /* u representative row indices */
  size_t *group;  /* n: distinct row of each row */
  double *sqrt_c; /* u */
  double *b;      /* u: C^-1/2 s */
} krr_uniq;

static void krr_uniq_free(krr_uniq *q) {
  free(q->rep);
  free(q->group);
  free(q->sqrt_c);
  free(q->b);
  memset(q, 0, sizeof *q);
}

static bool rows_equal(const double *a, const double *b, size_t d) {
  for (size_t j = 0; j < d; j++)
    if (a[j] != b[j]) return false;
  return true;
}

static int krr_uniq_build(const double *X, const double *y, size_t n, size_t d, bool merge,
                          krr_uniq *q, dle_error *err) {
  memset(q, 0, sizeof *q);
  q->rep = malloc(n * sizeof *q->rep);
  q->group = malloc(n * sizeof *q->group);
  q->sqrt_c = calloc(n, sizeof *q->sqrt_c);
  q->b = calloc(n, sizeof *q->b);
  if (!q->rep || !q->group || !q->sqrt_c || !q->b) {
    krr_uniq_free(q);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    size_t g = 0;
    g = merge ? 0 : q->u;
    while (g < q->u && !rows_equal(X + q->rep[g] * d, X + i * d, d)) g++;
    if (g == q->u) q->rep[q->u++] = i;
    q->group[i] = g;
    q->sqrt_c[g] += 1.0; /* counts for now */
    q->b[g] += y[i];
  }
  for (size_t g = 0; g < q->u; g++) {
    q->sqrt_c[g] = sqrt(q->sqrt_c[g]);
    q->b[g] /= q->sqrt_c[g];
  }
  return DLE_OK;
}

/* Du: u x u squared distances of the distinct rows; S: u x u scratch; beta: u.
 * pcg (may be NULL: dense Cholesky) tries the preconditioned-CG solve first. */
static int fit_krr_uniq(const krr_uniq *q, const double *Du, double gamma, double alpha, double *S,
                        double *beta, dle_krr_pcg *pcg, dle_error *err) {
  size_t u = q->u;
  for (size_t i = 0; i < u; i++) {
    for (size_t j = 0; j < i; j++)
      S[i * u + j] = S[j * u + i] = q->sqrt_c[i] * q->sqrt_c[j] * exp(-gamma * Du[i * u + j]);
    S[i * u + i] = q->sqrt_c[i] * q->sqrt_c[i]; /* exp(0) = 1 */
  }
  int rc = DLE_OK;
  if (!pcg || dle_krr_pcg_solve(pcg, S, u, alpha, q->b, beta, NULL, NULL) != 0) {
    for (size_t i = 0; i < u; i++) S[i * u + i] += alpha;
    memcpy(beta, q->b, u * sizeof *beta);
    rc = solve_spd(S, u, beta, err);
  }
  if (rc == DLE_OK)
    for (size_t i = 0; i < u; i++) beta[i] *= q->sqrt_c[i];
  return rc;
}

static void silent_print(const char *s) {
  (void)s;
}

/* epsilon-SVR with RBF kernel through libsvm; fills the model's support vectors. */
static int fit_svr(const double *X, const double *y, size_t n, size_t d, const dle_regress_hyper *h,
                   size_t *n_sv, double **sv, double **dual, double *rho, dle_error *err) {
  struct svm_node *nodes = malloc(n * (d + 1) * sizeof *nodes);
  struct svm_node **rows = malloc(n * sizeof *rows);
  double *yy = malloc(n * sizeof *yy);
  if (!nodes || !rows || !yy) {
    free(nodes);
    free(rows);
    free(yy);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    rows[i] = nodes + i * (d + 1);
    for (size_t j = 0; j < d; j++) {
      rows[i][j].index = (int)j + 1;
      rows[i][j].value = X[i * d + j];
    }
    rows[i][d].index = -1;
    rows[i][d].value = 0;
    yy[i] = y[i];
  }
  struct svm_problem prob = {.l = (int)n, .y = yy, .x = rows};
  struct svm_parameter p;
  memset(&p, 0, sizeof p);
  p.svm_type = EPSILON_SVR;
  p.kernel_type = RBF;
  p.gamma = h->gamma;
  p.C = h->c;
  p.p = h->epsilon;
  p.eps = 1e-3; /* scikit-learn's SVR tol */
  p.cache_size = 200;
  p.shrinking = 1;
  p.probability = 0;
  int rc = DLE_OK;
  svm_set_print_string_function(silent_print);
  const char *msg = svm_check_parameter(&prob, &p);
  if (msg) {
    rc = dle_error_set(err, DLE_EINVAL, "libsvm: %s", msg);
  } else {
    struct svm_model *m = svm_train(&prob, &p);
    if (!m) {
      rc = dle_error_set(err, DLE_EINTERNAL, "libsvm training failed");
    } else {
      size_t l = (size_t)m->l;
      double *s = calloc((l ? l : 1) * (d ? d : 1), sizeof *s);
      double *c = malloc((l ? l : 1) * sizeof *c);
      if (!s || !c) {
        free(s);
        free(c);
        rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      } else {
        for (size_t i = 0; i < l; i++) {
          for (const struct svm_node *nd = m->SV[i]; nd->index != -1; nd++)
            if (nd->index >= 1 && (size_t)nd->index <= d)
              s[i * d + (size_t)nd->index - 1] = nd->value;
          c[i] = m->sv_coef[0][i];
        }
        *n_sv = l;
        *sv = s;
        *dual = c;
        *rho = m->rho[0];
      }
      svm_free_and_destroy_model(&m);
    }
  }
  free(nodes);
  free(rows);
  free(yy);
  return rc;
}

/* SVR cross-validation with the solver of svr_smo.c: per fold, the training rows'
 * distinct encodings (repeated runs of a configuration encode identically), their
 * squared distances and those of the test rows are computed once; per draw, the
 * kernel exp(-gamma d2) of the distinct rows only (identical rows share a kernel row;
 * every row keeps its own dual variable: nothing is merged), one solve, and the test
 * rows predicted from beta summed per distinct row. The solve may start from a seed
 * (the same draw's solution on the previous fold, by row). */
enum { SVR_FOLD_MAX_DISTINCT = 3000 }; /* 216 MB of distances and kernel */

typedef struct svr_fold {
  size_t n, u, nte;
  krr_uniq q;     /* the distinct training rows (q.group: row -> distinct row) */
  double *d2;     /* u x u */
  double *d2te;   /* nte x u */
  double *K;      /* u x u: the current draw's kernel */
  double *bsum;   /* u */
  double *y;      /* n */
  dle_svr_smo *smo;
} svr_fold;

static void svr_fold_free(svr_fold *f) {
  krr_uniq_free(&f->q);
  free(f->d2);
  free(f->d2te);
  free(f->K);
  free(f->bsum);
  free(f->y);
  dle_svr_smo_free(f->smo);
  memset(f, 0, sizeof *f);
}

static int svr_fold_build(svr_fold *f, const double *Xtr, const double *ytr, size_t n,
                          const double *Xte, size_t nte, size_t d, dle_error *err) {
  memset(f, 0, sizeof *f);
  int rc = krr_uniq_build(Xtr, ytr, n, d, true, &f->q, err);
  if (rc) return rc;
  size_t u = f->q.u;
  f->n = n;
  f->u = u;
  f->nte = nte;
  if (u > SVR_FOLD_MAX_DISTINCT) {
    svr_fold_free(f);
    return dle_error_set(err, DLE_ERANGE, "%zu distinct training rows", u);
  }
  f->d2 = malloc(u * u * sizeof *f->d2);
  f->d2te = malloc((nte ? nte : 1) * u * sizeof *f->d2te);
  f->K = malloc(u * u * sizeof *f->K);
  f->bsum = malloc(u * sizeof *f->bsum);
  f->y = malloc(n * sizeof *f->y);
  f->smo = dle_svr_smo_new(n);
  if (!f->d2 || !f->d2te || !f->K || !f->bsum || !f->y || !f->smo) {
    svr_fold_free(f);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  const size_t *rep = f->q.rep;
  for (size_t i = 0; i < u; i++)
    for (size_t j = 0; j <= i; j++)
      f->d2[i * u + j] = f->d2[j * u + i] = sqdist(Xtr + rep[i] * d, Xtr + rep[j] * d, d);
  for (size_t t = 0; t < nte; t++)
    for (size_t j = 0; j < u; j++) f->d2te[t * u + j] = sqdist(Xte + t * d, Xtr + rep[j] * d, d);
  memcpy(f->y, ytr, n * sizeof *f->y);
  return DLE_OK;
}

/* One draw on the fold: beta (n) gets the solution, pred (nte) the test rows'
 * decision values. seed (n) may be NULL. */
static int svr_fold_fit_predict(svr_fold *f, const dle_regress_hyper *h, const double *seed,
                                double *beta, double *pred, dle_svr_smo_stats *st,
                                dle_error *err) {
  size_t u = f->u;
  for (size_t i = 0; i < u; i++) {
    for (size_t j = 0; j < i; j++) f->K[i * u + j] = f->K[j * u + i] = exp(-h->gamma * f->d2[i * u + j]);
    f->K[i * u + i] = exp(-h->gamma * f->d2[i * u + i]);
  }
  double rho = 0;
  int rc = dle_svr_smo_solve(f->smo, f->K, u, f->q.group, f->n, f->y, h->c, h->epsilon, 1e-3,
                             seed, 0, beta, &rho, st, err);
  if (rc) return rc;
  memset(f->bsum, 0, u * sizeof *f->bsum);
  for (size_t k = 0; k < f->n; k++) f->bsum[f->q.group[k]] += beta[k];
  for (size_t t = 0; t < f->nte; t++) {
    const double *row = f->d2te + t * u;
    double v = -rho;
    for (size_t j = 0; j < u; j++)
      if (f->bsum[j] != 0) v += f->bsum[j] * exp(-h->gamma * row[j]);
    pred[t] = v;
  }
  return DLE_OK;
}

double dle_reg_predict_encoded(const dle_regress_model *m, const double *x) {
  size_t d = m->e.d;
  if (m->kind == DLE_REG_LINEAR || m->kind == DLE_REG_RIDGE) {
    double s = m->intercept;
    for (size_t j = 0; j < d; j++) s += m->coef[j] * x[j];
    return s;
  }
  double s = -m->rho;
  for (size_t i = 0; i < m->n_sv; i++)
    s += m->dual[i] * exp(-m->h.gamma * sqdist(m->sv + i * d, x, d));
  return s;
}

/* ---------------- target transform ---------------- */

double dle_reg_transform(bool log_target, const double *scale_exp, size_t n_num, const double *num,
                         double y) {
  if (!log_target) return y;
  if (!(y > 0)) return NAN;
  double t = log(y);
  for (size_t j = 0; scale_exp && j < n_num; j++) {
    if (scale_exp[j] == 0) continue;
    if (!(num[j] > 0)) return NAN;
    t -= scale_exp[j] * log(num[j]);
  }
  return t;
}

double dle_reg_untransform(bool log_target, const double *scale_exp, size_t n_num,
                           const double *num, double t) {
  if (!log_target) return t;
  double lt = t;
  for (size_t j = 0; scale_exp && j < n_num; j++)
    if (scale_exp[j] != 0) lt += scale_exp[j] * log(num[j]);
  return exp(lt);
}

/* Transformed targets of rows idx[0..m), standardized with their own mean and std
 * (std 1 when constant) into t; center and scale out. */
static void target_prep(const dle_dataset *d, const size_t *idx, size_t m, double *t,
                        double *center, double *scale) {
  double s = 0;
  for (size_t i = 0; i < m; i++) {
    t[i] = dle_reg_transform(d->log_target, d->scale_exp, d->n_num, d->num + idx[i] * d->n_num,
                             d->y[idx[i]]);
    s += t[i];
  }
  double mean = m ? s / (double)m : 0, v = 0;
  for (size_t i = 0; i < m; i++) v += (t[i] - mean) * (t[i] - mean);
  double sd = m ? sqrt(v / (double)m) : 0;
  if (!(sd > 1e-12 * (fabs(mean) + 1))) sd = 1.0;
  for (size_t i = 0; i < m; i++) t[i] = (t[i] - mean) / sd;
  *center = mean;
  *scale = sd;
}

/* ---------------- metrics ---------------- */

static void fold_scores(const double *y, const double *p, size_t n, dle_cv_scores *s) {
  double ym = 0;
  for (size_t i = 0; i < n; i++) ym += y[i];
  ym /= (double)n;
  double ss_res = 0, ss_tot = 0, ape = 0, ae = 0, sl = 0;
  for (size_t i = 0; i < n; i++) {
    double r = y[i] - p[i];
    double l = p[i] > 0 && y[i] > 0 ? log(p[i] / y[i]) : NAN;
    sl += l * l;
    ss_res += r * r;
    ss_tot += (y[i] - ym) * (y[i] - ym);
    ae += fabs(r);
    double den = fabs(y[i]) > DBL_EPSILON ? fabs(y[i]) : DBL_EPSILON;
    ape += fabs(r) / den;
  }
  /* r2_score with force_finite: a constant fold scores 1 if perfect, else 0. */
  s->r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : (ss_res == 0 ? 1.0 : 0.0);
  s->mape = ape / (double)n;
  s->rmse = sqrt(ss_res / (double)n);
  s->mae = ae / (double)n;
  s->rmsle = sqrt(sl / (double)n);
}

/* ---------------- models ---------------- */

dle_regress_model *dle_reg_model_alloc(void) {
  dle_regress_model *m = calloc(1, sizeof *m);
  if (m) {
    m->h = (dle_regress_hyper){NAN, NAN, NAN, NAN};
    m->cvs = (dle_cv_scores){NAN, NAN, NAN, NAN, NAN, NAN};
    m->y_center = 0;
    m->y_scale = 1;
  }
  return m;
}

void dle_regress_model_free(dle_regress_model *m) {
  if (!m) return;
  dle_reg_strv_free(m->num_names, m->e.n_num);
  dle_reg_strv_free(m->cat_names, m->e.n_cat);
  dle_enc_free(&m->e);
  free(m->coef);
  free(m->sv);
  free(m->dual);
  free(m->scale_exp);
  free(m);
}

static int check_hyper(dle_regress_kind kind, const dle_regress_hyper *h, dle_error *err) {
  bool ok = true;
  switch (kind) {
    case DLE_REG_LINEAR:
      break;
    case DLE_REG_RIDGE:
      ok = isfinite(h->alpha) && h->alpha > 0;
      break;
    case DLE_REG_KRR:
      ok = isfinite(h->alpha) && h->alpha > 0 && isfinite(h->gamma) && h->gamma > 0;
      break;
    case DLE_REG_SVR:
      ok = isfinite(h->c) && h->c > 0 && isfinite(h->epsilon) && h->epsilon >= 0 &&
           isfinite(h->gamma) && h->gamma > 0;
      break;
    default:
      return dle_error_set(err, DLE_EINVAL, "bad model kind");
  }
  if (!ok)
    return dle_error_set(err, DLE_EINVAL, "%s: hyperparameters must be finite and > 0",
                         dle_regress_kind_name(kind));
  return DLE_OK;
}

/* Fits the kind on encoded rows X (n x d) into m (coef or support vectors). */
static int fit_encoded(dle_regress_model *m, const double *X, const double *y, size_t n,
                       bool merge, dle_error *err) {
  size_t d = m->e.d;
  free(m->coef);
  free(m->sv);
  free(m->dual);
  m->coef = m->sv = m->dual = NULL;
  m->n_sv = 0;
  m->rho = 0;
  m->intercept = 0;
  if (m->kind == DLE_REG_LINEAR || m->kind == DLE_REG_RIDGE) {
    m->coef = calloc(d ? d : 1, sizeof *m->coef);
    if (!m->coef) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    return fit_linear(X, y, n, d, m->kind == DLE_REG_RIDGE ? m->h.alpha : 0.0, m->coef,
                      &m->intercept, err);
  }
  if (m->kind == DLE_REG_SVR)
    return fit_svr(X, y, n, d, &m->h, &m->n_sv, &m->sv, &m->dual, &m->rho, err);
  krr_uniq q;
  int rc = krr_uniq_build(X, y, n, d, merge, &q, err);
  if (rc) return rc;
  size_t u = q.u;
  double *D = malloc(u * u * sizeof *D);
  double *S = malloc(u * u * sizeof *S);
  m->dual = malloc(u * sizeof *m->dual);
  m->sv = malloc(u * (d ? d : 1) * sizeof *m->sv);
  if (!D || !S || !m->dual || !m->sv) {
    free(D);
    free(S);
    krr_uniq_free(&q);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < u; i++) {
    memcpy(m->sv + i * d, X + q.rep[i] * d, d * sizeof *X);
    for (size_t j = 0; j <= i; j++)
      D[i * u + j] = D[j * u + i] = sqdist(X + q.rep[i] * d, X + q.rep[j] * d, d);
  }
  rc = fit_krr_uniq(&q, D, m->h.gamma, m->h.alpha, S, m->dual, NULL, err); /* exact refit */
  m->n_sv = u;
  free(D);
  free(S);
  krr_uniq_free(&q);
  return rc;
}

/* The library the kind solves with, loaded on first use: libsvm and LAPACK for SVR, LAPACK's
 * Cholesky for ridge and kernel ridge (and GSL for their rare least-squares fallback,
 * loaded there), GSL's least squares for linear regression. */
static int load_solver(dle_regress_kind kind, dle_error *err) {
  if (kind == DLE_REG_LINEAR) return dle_gsl_load(err);
  if (kind == DLE_REG_SVR) {
    int rc = dle_svm_load(err);
    if (rc != DLE_OK) return rc;
  }
  /* SVR too: the CV's own solver (svr_smo.c) takes its Newton steps with LAPACK. */
  return dle_lapack_load(err);
}

static int model_init_from(dle_regress_model *m, const dle_dataset *d, dle_regress_kind kind,
                           const dle_regress_hyper *h, dle_error *err) {
  m->kind = kind;
  m->h = (dle_regress_hyper){NAN, NAN, NAN, NAN};
  if (kind == DLE_REG_RIDGE || kind == DLE_REG_KRR) m->h.alpha = h->alpha;
  if (kind == DLE_REG_KRR || kind == DLE_REG_SVR) m->h.gamma = h->gamma;
  if (kind == DLE_REG_SVR) {
    m->h.c = h->c;
    m->h.epsilon = h->epsilon;
  }
  snprintf(m->target, sizeof m->target, "%s", d->target);
  snprintf(m->unit, sizeof m->unit, "%s", d->unit);
  m->num_names = dle_reg_strv_dup((const char *const *)d->num_names, d->n_num);
  m->cat_names = dle_reg_strv_dup((const char *const *)d->cat_names, d->n_cat);
  if (!m->num_names || !m->cat_names) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  m->log_target = d->log_target;
  if (d->scale_exp) {
    m->scale_exp = malloc((d->n_num ? d->n_num : 1) * sizeof *m->scale_exp);
    if (!m->scale_exp) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    memcpy(m->scale_exp, d->scale_exp, d->n_num * sizeof *m->scale_exp);
  }
  return DLE_OK;
}

int dle_regress_fit(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                    dle_regress_model **out, dle_error *err) {
  *out = NULL;
  int rc = check_hyper(kind, h, err);
  if (rc) return rc;
  if (!d || d->n < 2) return dle_error_set(err, DLE_ERANGE, "at least 2 rows are needed to fit");
  if ((rc = load_solver(kind, err)) != DLE_OK) return rc;
  dle_regress_model *m = dle_reg_model_alloc();
  size_t *idx = malloc(d->n * sizeof *idx);
  double *X = NULL, *t = malloc(d->n * sizeof *t);
  if (!m || !idx || !t) {
    free(t);
    free(idx);
    dle_regress_model_free(m);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  /* Names are owned per the encoder's counts, so set them before anything can fail. */
  m->e.n_num = d->n_num;
  m->e.n_cat = d->n_cat;
  rc = model_init_from(m, d, kind, h, err);
  for (size_t i = 0; i < d->n; i++) idx[i] = i;
  if (!rc) rc = enc_fit(&m->e, d, idx, d->n, err);
  if (!rc) {
    X = malloc(d->n * (m->e.d ? m->e.d : 1) * sizeof *X);
    if (!X) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  if (!rc) {
    enc_rows(&m->e, d, idx, d->n, X);
    target_prep(d, idx, d->n, t, &m->y_center, &m->y_scale);
    rc = fit_encoded(m, X, t, d->n, !d->no_merge, err);
  }
  m->rows = d->n;
  free(t);
  free(X);
  free(idx);
  if (rc) {
    m->e.n_num = d->n_num; /* enc_fit may have cleared it on failure */
    m->e.n_cat = d->n_cat;
    dle_regress_model_free(m);
    return rc;
  }
  *out = m;
  return DLE_OK;
}

/* ---------------- cross-validation ---------------- */

/* CV of n_h settings; oof (may be NULL; only with n_h == 1) gets out-of-fold predictions. */
static int cv_core(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                   size_t n_h, const int *fold_of_row, int k, dle_cv_scores *out,
                   size_t *n_failed, double *oof, dle_error *err) {
  if (n_failed) *n_failed = 0;
  if (!d || !h || !fold_of_row || !out) return dle_error_set(err, DLE_EINVAL, "missing argument");
  if (k < 2) return dle_error_set(err, DLE_EINVAL, "at least 2 folds are needed");
  for (size_t i = 0; i < n_h; i++) {
    int rc = check_hyper(kind, &h[i], err);
    if (rc) {
      dle_error_prefix(err, "draw %zu: ", i + 1);
      return rc;
    }
  }
  int lrc = load_solver(kind, err); /* the library's name, not "no draw could be fitted" */
  if (lrc) return lrc;
  size_t n = d->n;
  for (size_t i = 0; i < n; i++)
    if (fold_of_row[i] < 0 || fold_of_row[i] >= k)
      return dle_error_set(err, DLE_EINVAL, "row %zu: fold %d outside 0..%d", i, fold_of_row[i],
                           k - 1);
  for (int f = 0; f < k; f++) {
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) cnt += fold_of_row[i] == f;
    if (cnt == 0 || cnt == n)
      return dle_error_set(err, DLE_ERANGE, "fold %d has no test rows or no training rows", f);
  }
  unsigned char *bad = calloc(n_h ? n_h : 1, 1);
  size_t *tr = malloc(n * sizeof *tr), *te = malloc(n * sizeof *te);
  double *sum = calloc(6 * (n_h ? n_h : 1), sizeof *sum);
  /* SVR: each draw's latest solution by row, to seed its next fold (up to 64 MB). */
  double *svr_beta = NULL, *svr_seed = NULL, *svr_memo = NULL;
  if (kind == DLE_REG_SVR && !d->cv_exact && k > 1 && n_h <= ((size_t)8 << 20) / n)
    svr_memo = calloc(n_h * n, sizeof *svr_memo); /* NULL: no seeding */
  if (!bad || !tr || !te || !sum) {
    free(bad);
    free(tr);
    free(te);
    free(sum);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int rc = DLE_OK;
  dle_regress_model m = {0};
  m.kind = kind;
  for (int f = 0; f < k && rc == DLE_OK; f++) {
    size_t ntr = 0, nte = 0;
    for (size_t i = 0; i < n; i++) {
      if (fold_of_row[i] == f)
        te[nte++] = i;
      else
        tr[ntr++] = i;
    }
    rc = enc_fit(&m.e, d, tr, ntr, err);
    if (rc) break;
    size_t dim = m.e.d ? m.e.d : 1;
    double *Xtr = malloc(ntr * dim * sizeof *Xtr), *Xte = malloc(nte * dim * sizeof *Xte);
    double *ytr = malloc(ntr * sizeof *ytr), *yte = malloc(nte * sizeof *yte);
    double *pred = malloc(nte * sizeof *pred);
    bool kernel = kind == DLE_REG_KRR;
    svr_fold sf = {0};
    /* The fold's distances and kernel take ~24 u^2 bytes (u distinct training rows):
     * beyond SVR_FOLD_MAX_DISTINCT (or when that memory is not there), and with
     * --exact, libsvm with its own RBF kernel. */
    bool svr = kind == DLE_REG_SVR && !d->cv_exact;
    krr_uniq q = {0};
    dle_krr_pcg *pcg = NULL;
    double *Dtr = NULL, *Dte = NULL, *K = NULL, *dual = NULL;
    if (!Xtr || !Xte || !ytr || !yte || !pred) {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    } else {
      enc_rows(&m.e, d, tr, ntr, Xtr);
      enc_rows(&m.e, d, te, nte, Xte);
      target_prep(d, tr, ntr, ytr, &m.y_center, &m.y_scale);
      for (size_t i = 0; i < nte; i++) yte[i] = d->y[te[i]];
    }
    size_t dd = m.e.d, u = 0;
    if (!rc && kernel) {
      /* Distinct rows and their distances do not depend on the hyperparameters:
       * computed once per fold. */
      rc = krr_uniq_build(Xtr, ytr, ntr, dd, !d->no_merge, &q, err);
      u = q.u;
      if (!rc) {
        Dtr = malloc(u * u * sizeof *Dtr);
        Dte = malloc(nte * u * sizeof *Dte);
        K = malloc(u * u * sizeof *K);
        dual = malloc(u * sizeof *dual);
        if (!Dtr || !Dte || !K || !dual) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
        /* The CV solves take the fast path unless asked for the dense one (no
         * workspace: dense too). */
        if (!rc && !d->cv_exact) pcg = dle_krr_pcg_new(u);
      }
      if (!rc) {
        for (size_t i = 0; i < u; i++)
          for (size_t j = 0; j <= i; j++)
            Dtr[i * u + j] = Dtr[j * u + i] = sqdist(Xtr + q.rep[i] * dd, Xtr + q.rep[j] * dd, dd);
        for (size_t i = 0; i < nte; i++)
          for (size_t j = 0; j < u; j++)
            Dte[i * u + j] = sqdist(Xte + i * dd, Xtr + q.rep[j] * dd, dd);
      }
    }
    if (!rc && svr) {
      dle_error berr;
      if (svr_fold_build(&sf, Xtr, ytr, ntr, Xte, nte, m.e.d, &berr) != DLE_OK)
        svr = false; /* too large or out of memory: the reference path */
    }
    if (!rc && svr && !svr_beta) {
      svr_beta = malloc(n * sizeof *svr_beta);
      svr_seed = malloc(n * sizeof *svr_seed);
      if (!svr_beta || !svr_seed) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
    if (!rc) {
      for (size_t hi = 0; hi < n_h; hi++) {
        if (bad[hi]) continue;
        m.h = h[hi];
        dle_error ferr;
        int frc;
        if (kernel) {
          frc = fit_krr_uniq(&q, Dtr, m.h.gamma, m.h.alpha, K, dual, pcg, &ferr);
          if (frc == DLE_OK)
            for (size_t i = 0; i < nte; i++) {
              double s = 0;
              const double *row = Dte + i * u;
              for (size_t j = 0; j < u; j++) s += dual[j] * exp(-m.h.gamma * row[j]);
              pred[i] = s;
            }
        } else if (svr) {
          /* Alpha seeding: the same draw's solution on the previous fold, row by row
           * (0 for rows that fold did not train on); projected onto this fold's box
           * and equality constraint by the solver. */
          double *by_row = svr_memo ? svr_memo + hi * n : NULL;
          if (by_row && f > 0)
            for (size_t i = 0; i < ntr; i++) svr_seed[i] = by_row[tr[i]];
          dle_svr_smo_stats sst;
          frc = svr_fold_fit_predict(&sf, &m.h, by_row && f > 0 ? svr_seed : NULL, svr_beta, pred,
                                     &sst, &ferr);
          if (frc == DLE_OK && by_row)
            for (size_t i = 0; i < ntr; i++) by_row[tr[i]] = svr_beta[i];
        } else {
          frc = fit_encoded(&m, Xtr, ytr, ntr, true, &ferr);
          if (frc == DLE_OK)
            for (size_t i = 0; i < nte; i++) pred[i] = dle_reg_predict_encoded(&m, Xte + i * dd);
        }
        for (size_t i = 0; frc == DLE_OK && i < nte; i++)
          pred[i] = dle_reg_untransform(d->log_target, d->scale_exp, d->n_num,
                                        d->num + te[i] * d->n_num,
                                        pred[i] * m.y_scale + m.y_center);
        if (frc == DLE_ENOMEM) {
          rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
          break;
        }
        bool finite = frc == DLE_OK;
        for (size_t i = 0; finite && i < nte; i++) finite = isfinite(pred[i]);
        if (!finite) {
          bad[hi] = 1;
          continue;
        }
        dle_cv_scores s;
        fold_scores(yte, pred, nte, &s);
        sum[6 * hi + 0] += s.r2;
        sum[6 * hi + 1] += s.mape;
        sum[6 * hi + 2] += s.rmse;
        sum[6 * hi + 3] += s.mae;
        sum[6 * hi + 4] += s.rmsle * s.rmsle;
        sum[6 * hi + 5] += s.mape * (double)nte;
        if (oof)
          for (size_t i = 0; i < nte; i++) oof[te[i]] = pred[i];
      }
    }
    free(Xtr);
    free(Xte);
    free(ytr);
    free(yte);
    free(pred);
    free(Dtr);
    free(Dte);
    free(K);
    free(dual);
    dle_krr_pcg_free(pcg);
    svr_fold_free(&sf);
    krr_uniq_free(&q);
    dle_enc_free(&m.e);
    free(m.coef);
    free(m.sv);
    free(m.dual);
    m.coef = m.sv = m.dual = NULL;
  }
  if (rc == DLE_OK) {
    size_t failed = 0;
    for (size_t hi = 0; hi < n_h; hi++) {
      if (bad[hi]) {
        failed++;
        out[hi] = (dle_cv_scores){NAN, NAN, NAN, NAN, NAN, NAN};
      } else {
        out[hi] = (dle_cv_scores){sum[6 * hi] / k,       sum[6 * hi + 1] / k,
                                  sum[6 * hi + 2] / k,   sum[6 * hi + 3] / k,
                                  sqrt(sum[6 * hi + 4] / k), sum[6 * hi + 5] / (double)n};
      }
    }
    if (n_failed) *n_failed = failed;
  }
  free(svr_beta);
  free(svr_seed);
  free(svr_memo);
  free(bad);
  free(tr);
  free(te);
  free(sum);
  return rc;
}

int dle_regress_cv_many(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                        size_t n_h, const int *fold_of_row, int k, dle_cv_scores *out,
                        size_t *n_failed, dle_error *err) {
  return cv_core(d, kind, h, n_h, fold_of_row, k, out, n_failed, NULL, err);
}

int dle_regress_cv_predict(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                           const int *fold_of_row, int k, double *pred, dle_cv_scores *out,
                           dle_error *err) {
  if (!pred || !out) return dle_error_set(err, DLE_EINVAL, "missing argument");
  size_t failed = 0;
  int rc = cv_core(d, kind, h, 1, fold_of_row, k, out, &failed, pred, err);
  if (rc == DLE_OK && failed)
    return dle_error_set(err, DLE_ERANGE, "%s could not be fitted on some fold",
                         dle_regress_kind_name(kind));
  return rc;
}

int dle_regress_cv(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                   const int *fold_of_row, int k, dle_cv_scores *out, dle_error *err) {
  size_t failed = 0;
  int rc = dle_regress_cv_many(d, kind, h, 1, fold_of_row, k, out, &failed, err);
  if (rc == DLE_OK && failed)
    return dle_error_set(err, DLE_ERANGE, "%s could not be fitted on some fold",
                         dle_regress_kind_name(kind));
  return rc;
}

void dle_regress_search_opts_init(dle_regress_search_opts *o) {
  o->folds = 5;
  o->shuffle = true;
  o->seed = 42;
  o->draws = 100;
  o->by_mape = false;
}

void dle_regress_model_set_cv(dle_regress_model *m, const dle_regress_search_opts *o,
                              const dle_cv_scores *s) {
  m->have_cv = true;
  m->cvo = *o;
  m->cvs = *s;
}

int dle_regress_search(const dle_dataset *d, dle_regress_kind kind,
                       const dle_regress_search_opts *opts, const dle_regress_hyper *draws,
                       size_t n_draws, dle_regress_model **out, dle_regress_search_result *res,
                       dle_error *err) {
  return dle_regress_search_folds(d, kind, opts, draws, n_draws, NULL, 0, NULL, out, res, err);
}

int dle_regress_search_folds(const dle_dataset *d, dle_regress_kind kind,
                             const dle_regress_search_opts *opts, const dle_regress_hyper *draws,
                             size_t n_draws, const int *given_folds, int given_k,
                             const char *group_by, dle_regress_model **out,
                             dle_regress_search_result *res, dle_error *err) {
  *out = NULL;
  if (!d) return dle_error_set(err, DLE_EINVAL, "no dataset");
  dle_regress_search_opts o;
  dle_regress_search_opts_init(&o);
  if (opts) o = *opts;
  if ((unsigned)kind >= DLE_REG_COUNT) return dle_error_set(err, DLE_EINVAL, "bad model kind");
  if (kind == DLE_REG_LINEAR) {
    draws = NULL;
    n_draws = 1;
  } else if (!draws) {
    n_draws = o.draws;
  }
  if (n_draws == 0 || n_draws > 1000000)
    return dle_error_set(err, DLE_EINVAL, "draws must be 1..1000000");
  if (given_folds) {
    o.folds = given_k;
    o.shuffle = false;
  }
  if (o.folds < 2 || (size_t)o.folds > d->n)
    return dle_error_set(err, DLE_ERANGE, "%d folds need at least %d rows (have %zu)", o.folds,
                         o.folds < 2 ? 2 : o.folds, d->n);
  dle_regress_hyper *h = malloc(n_draws * sizeof *h);
  dle_cv_scores *sc = malloc(n_draws * sizeof *sc);
  int *fold = malloc(d->n * sizeof *fold);
  if (!h || !sc || !fold) {
    free(h);
    free(sc);
    free(fold);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int rc = DLE_OK;
  if (draws)
    memcpy(h, draws, n_draws * sizeof *h);
  else
    rc = dle_regress_draws(kind, o.seed, n_draws, h, err);
  if (!rc && given_folds)
    memcpy(fold, given_folds, d->n * sizeof *fold);
  else if (!rc)
    rc = dle_regress_folds(d->n, o.folds, o.shuffle, o.seed, fold, err);
  size_t failed = 0;
  if (!rc) rc = dle_regress_cv_many(d, kind, h, n_draws, fold, o.folds, sc, &failed, err);
  size_t best = SIZE_MAX;
  if (!rc) {
    for (size_t i = 0; i < n_draws; i++)
      if (isfinite(sc[i].r2) &&
          (best == SIZE_MAX ||
           (o.by_mape ? sc[i].mape_rows < sc[best].mape_rows : sc[i].r2 > sc[best].r2)))
        best = i;
    if (best == SIZE_MAX)
      rc = dle_error_set(err, DLE_ERANGE, "%s: none of the %zu draws could be fitted",
                         dle_regress_kind_name(kind), n_draws);
  }
  if (!rc) rc = dle_regress_fit(d, kind, &h[best], out, err);
  if (!rc) {
    o.draws = n_draws;
    dle_regress_model_set_cv(*out, &o, &sc[best]);
    if (group_by) snprintf((*out)->group_by, sizeof (*out)->group_by, "%s", group_by);
    if (res) {
      res->best = (*out)->h;
      res->cv = sc[best];
      res->evaluated = n_draws;
      res->failed = failed;
    }
  }
  free(h);
  free(sc);
  free(fold);
  return rc;
}

/* ---------------- prediction and accessors ---------------- */

int dle_regress_model_predict(const dle_regress_model *m, const double *num, const char *const *cat,
                              double *y, dle_error *err) {
  if (!m || (!num && m->e.n_num)) return dle_error_set(err, DLE_EINVAL, "missing argument");
  for (size_t j = 0; j < m->e.n_num; j++)
    if (m->e.used[j] && !isfinite(num[j]))
      return dle_error_set(err, DLE_EINVAL, "feature %s is not finite", m->num_names[j]);
  for (size_t j = 0; m->log_target && m->scale_exp && j < m->e.n_num; j++)
    if (m->scale_exp[j] != 0 && !(num[j] > 0))
      return dle_error_set(err, DLE_EINVAL, "feature %s must be > 0", m->num_names[j]);
  double *x = malloc((m->e.d ? m->e.d : 1) * sizeof *x);
  if (!x) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  dle_enc_row(&m->e, num, cat, x);
  double t = dle_reg_predict_encoded(m, x) * m->y_scale + m->y_center;
  *y = dle_reg_untransform(m->log_target, m->scale_exp, m->e.n_num, num, t);
  free(x);
  if (!isfinite(*y)) return dle_error_set(err, DLE_ERANGE, "prediction is not finite");
  return DLE_OK;
}

const char *dle_regress_model_cv_group(const dle_regress_model *m) {
  return m->group_by;
}
bool dle_regress_model_log_target(const dle_regress_model *m) {
  return m->log_target;
}
dle_regress_kind dle_regress_model_kind(const dle_regress_model *m) {
  return m->kind;
}
const char *dle_regress_model_target(const dle_regress_model *m) {
  return m->target;
}
const char *dle_regress_model_target_unit(const dle_regress_model *m) {
  return m->unit;
}
dle_regress_hyper dle_regress_model_hyper(const dle_regress_model *m) {
  return m->h;
}
size_t dle_regress_model_rows(const dle_regress_model *m) {
  return m->rows;
}
bool dle_regress_model_cv(const dle_regress_model *m, dle_regress_search_opts *o,
                          dle_cv_scores *s) {
  if (!m->have_cv) return false;
  if (o) *o = m->cvo;
  if (s) *s = m->cvs;
  return true;
}
size_t dle_regress_model_num_count(const dle_regress_model *m) {
  return m->e.n_num;
}
const char *dle_regress_model_num_name(const dle_regress_model *m, size_t i) {
  return i < m->e.n_num ? m->num_names[i] : NULL;
}
bool dle_regress_model_num_range(const dle_regress_model *m, size_t i, double *min, double *max) {
  if (i >= m->e.n_num || !isfinite(m->e.min[i]) || !isfinite(m->e.max[i])) return false;
  *min = m->e.min[i];
  *max = m->e.max[i];
  return true;
}
bool dle_regress_model_num_used(const dle_regress_model *m, size_t i) {
  return i < m->e.n_num && m->e.used[i];
}
size_t dle_regress_model_cat_count(const dle_regress_model *m) {
  return m->e.n_cat;
}
const char *dle_regress_model_cat_name(const dle_regress_model *m, size_t i) {
  return i < m->e.n_cat ? m->cat_names[i] : NULL;
}
size_t dle_regress_model_cat_level_count(const dle_regress_model *m, size_t i) {
  return i < m->e.n_cat ? m->e.n_levels[i] : 0;
}
const char *dle_regress_model_cat_level(const dle_regress_model *m, size_t i, size_t j) {
  return i < m->e.n_cat && j < m->e.n_levels[i] ? m->e.levels[i][j] : NULL;
}

/* ---------------- nested CV ---------------- */

/* A copy of rows idx[0..m) of d (names, transform and merge setting kept). */
static int dataset_subset(const dle_dataset *d, const size_t *idx, size_t m, dle_dataset **out,
                          dle_error *err) {
  int rc = dle_dataset_new(d->n_num, (const char *const *)d->num_names, d->n_cat,
                           (const char *const *)d->cat_names, d->target, d->unit, out, err);
  if (!rc) rc = dle_dataset_set_transform(*out, d->log_target, d->scale_exp, d->feat_off, err);
  if (!rc) {
    (*out)->no_merge = d->no_merge;
    (*out)->cv_exact = d->cv_exact;
  }
  for (size_t i = 0; !rc && i < m; i++)
    rc = dle_dataset_add(*out, d->num + idx[i] * d->n_num,
                         (const char *const *)d->cat + idx[i] * d->n_cat, d->y[idx[i]], err);
  if (rc) {
    dle_dataset_free(*out);
    *out = NULL;
  }
  return rc;
}

int dle_regress_nested_cv(const dle_dataset *d, dle_regress_kind kind,
                          const dle_regress_search_opts *opts, const int *fold_of_row, int k,
                          double *pred, dle_cv_scores *out, dle_error *err) {
  if (!d || !fold_of_row || !out) return dle_error_set(err, DLE_EINVAL, "missing argument");
  if (k < 3) return dle_error_set(err, DLE_ERANGE, "nested CV needs at least 3 groups (have %d)", k);
  size_t n = d->n;
  size_t *tr = malloc(n * sizeof *tr), *te = malloc(n * sizeof *te);
  int *inner = malloc(n * sizeof *inner);
  double *p = malloc(n * sizeof *p), *yte = malloc(n * sizeof *yte);
  int rc = !tr || !te || !inner || !p || !yte ? dle_error_set(err, DLE_ENOMEM, "out of memory")
                                              : DLE_OK;
  double sum[6] = {0};
  for (int g = 0; !rc && g < k; g++) {
    size_t ntr = 0, nte = 0;
    for (size_t i = 0; i < n; i++) {
      if (fold_of_row[i] == g) {
        te[nte++] = i;
      } else {
        inner[ntr] = fold_of_row[i] < g ? fold_of_row[i] : fold_of_row[i] - 1;
        tr[ntr++] = i;
      }
    }
    if (nte == 0 || ntr == 0) {
      rc = dle_error_set(err, DLE_ERANGE, "fold %d has no test rows or no training rows", g);
      break;
    }
    dle_dataset *sub = NULL;
    dle_regress_model *m = NULL;
    rc = dataset_subset(d, tr, ntr, &sub, err);
    if (!rc)
      rc = dle_regress_search_folds(sub, kind, opts, NULL, 0, inner, k - 1, NULL, &m, NULL, err);
    for (size_t i = 0; !rc && i < nte; i++) {
      yte[i] = d->y[te[i]];
      rc = dle_regress_model_predict(m, d->num + te[i] * d->n_num,
                                     (const char *const *)d->cat + te[i] * d->n_cat, &p[i], err);
    }
    if (!rc) {
      dle_cv_scores s;
      fold_scores(yte, p, nte, &s);
      sum[0] += s.r2;
      sum[1] += s.mape;
      sum[2] += s.rmse;
      sum[3] += s.mae;
      sum[4] += s.rmsle * s.rmsle;
      sum[5] += s.mape * (double)nte;
      for (size_t i = 0; pred && i < nte; i++) pred[te[i]] = p[i];
    } else {
      dle_error_prefix(err, "outer fold %d: ", g + 1);
    }
    dle_regress_model_free(m);
    dle_dataset_free(sub);
  }
  if (!rc)
    *out = (dle_cv_scores){sum[0] / k, sum[1] / k, sum[2] / k, sum[3] / k, sqrt(sum[4] / k),
                           sum[5] / (double)n};
  free(tr);
  free(te);
  free(inner);
  free(p);
  free(yte);
  return rc;
}
