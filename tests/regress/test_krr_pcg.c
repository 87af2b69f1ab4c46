/* The CV fast paths: kernel ridge's preconditioned CG (src/regress/krr_pcg.c)
 * against a dense Cholesky solve of the same system, the cross-validation scores of
 * the search with the fast path against the dense path (dle_dataset_set_exact_solve),
 * and SVR's CV solver (src/regress/svr_smo.c) against libsvm's RBF kernel. */
#include <lapacke.h>
#include <stdint.h>

#include "check.h"
#include "dlenergy/regress.h"
#include "regress/krr_pcg.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static double uniform(void) { /* splitmix64 -> [0, 1) */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* G = RBF kernel (gamma) of n points in dim dimensions, standard-normal-ish. */
static void rbf(double *G, size_t n, size_t dim, double gamma, double *pts) {
  for (size_t i = 0; i < n * dim; i++) pts[i] = uniform() * 4 - 2 + (uniform() - 0.5);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t k = 0; k < dim; k++) {
        double t = pts[i * dim + k] - pts[j * dim + k];
        s += t * t;
      }
      G[i * n + j] = exp(-gamma * s);
    }
}

/* Max |x - y| / max |y|. */
static double rel_err(const double *x, const double *y, size_t n) {
  double e = 0, m = 0;
  for (size_t i = 0; i < n; i++) {
    e = fmax(e, fabs(x[i] - y[i]));
    m = fmax(m, fabs(y[i]));
  }
  return e / m;
}

static void test_solve(void) {
  enum { N = 400, DIM = 3 };
  double *G = malloc(N * N * sizeof *G), *A = malloc(N * N * sizeof *A);
  double *pts = malloc(N * DIM * sizeof *pts), *b = malloc(N * sizeof *b);
  double *x = malloc(N * sizeof *x), *ref = malloc(N * sizeof *ref);
  dle_krr_pcg *w = dle_krr_pcg_new(N);
  CHECK(w != NULL);
  if (!G || !A || !pts || !b || !x || !ref || !w) return;
  /* Smooth kernels (the search's gamma ~ Exp(0.01)) with small and large alpha, and a
   * rough one (gamma 2: high numerical rank, still positive definite). */
  const double cases[][2] = {{0.01, 0.01}, {0.003, 1e-4}, {0.05, 0.002}, {0.01, 1.0}, {2.0, 0.01}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    rbf(G, N, DIM, cases[c][0], pts);
    for (size_t i = 0; i < N; i++) b[i] = uniform() * 2 - 1;
    memcpy(A, G, N * N * sizeof *A);
    for (size_t i = 0; i < N; i++) A[i * N + i] += cases[c][1];
    memcpy(ref, b, N * sizeof *b);
    CHECK(LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', N, 1, A, N, ref, N) == 0);
    size_t rank = 0, iters = 0;
    int rc = dle_krr_pcg_solve(w, G, N, cases[c][1], b, x, &rank, &iters);
    if (c < 4) { /* smooth: the fast path must take it, with a low-rank factor */
      CHECK_MSG(rc == 0, "case %zu declined (rank %zu, %zu iterations)", c, rank, iters);
      CHECK_MSG(rank < N / 4, "case %zu: rank %zu", c, rank);
      CHECK_MSG(iters <= 30, "case %zu: %zu iterations", c, iters);
    }
    if (rc == 0) {
      double e = rel_err(x, ref, N);
      CHECK_MSG(e < 1e-9, "case %zu: relative difference %g from Cholesky", c, e);
    }
  }
  /* Declines what it cannot solve: too small, not positive definite, bad alpha. */
  CHECK(dle_krr_pcg_solve(w, G, 50, 0.01, b, x, NULL, NULL) == -1);
  for (size_t i = 0; i < N * N; i++) G[i] = 0;
  for (size_t i = 0; i < N; i++) G[i * N + i] = -2.0;
  CHECK(dle_krr_pcg_solve(w, G, N, 0.01, b, x, NULL, NULL) == -1);
  CHECK(dle_krr_pcg_solve(w, G, N, 0.0, b, x, NULL, NULL) == -1);
  CHECK(dle_krr_pcg_solve(w, G, N + 1, 0.01, b, x, NULL, NULL) == -1); /* over capacity */
  dle_krr_pcg_free(w);
  free(G);
  free(A);
  free(pts);
  free(b);
  free(x);
  free(ref);
}

/* 600 rows, 3 numeric features (smooth target with noise) and a categorical; no
 * merging, so each CV fold solves 480 rows as themselves. */
static dle_dataset *smooth_data(void) {
  const char *num[] = {"a", "b", "c"}, *cat[] = {"k"};
  dle_dataset *d = NULL;
  dle_error e;
  CHECK_OK(dle_dataset_new(3, num, 1, cat, "y", "W", &d, &e), &e);
  if (!d) return NULL;
  dle_dataset_set_merge_rows(d, false);
  static const char *const lv[] = {"p", "q", "r"};
  for (int i = 0; i < 600; i++) {
    double v[3] = {uniform() * 4, uniform() * 2 - 1, (double)(i % 7)};
    const char *k[1] = {lv[i % 3]};
    double y = 50 + 20 * sin(v[0]) + 10 * v[1] * v[1] + 3 * v[2] + 5 * (i % 3) +
               2 * (uniform() - 0.5);
    CHECK_OK(dle_dataset_add(d, v, k, y, &e), &e);
  }
  return d;
}

static void test_cv_equal(void) {
  dle_dataset *d = smooth_data();
  if (!d) return;
  dle_error e;
  enum { H = 25 };
  dle_regress_hyper h[H];
  dle_cv_scores fast[H], exact[H];
  int fold[600];
  size_t f1 = 0, f2 = 0;
  CHECK_OK(dle_regress_draws(DLE_REG_KRR, 42, H, h, &e), &e);
  h[0].alpha = 1e-4; /* a hard one: tiny ridge */
  h[1].gamma = 3.0;  /* a rough one: high rank */
  CHECK_OK(dle_regress_folds(600, 5, true, 42, fold, &e), &e);
  CHECK_OK(dle_regress_cv_many(d, DLE_REG_KRR, h, H, fold, 5, fast, &f1, &e), &e);
  dle_dataset_set_exact_solve(d, true);
  CHECK_OK(dle_regress_cv_many(d, DLE_REG_KRR, h, H, fold, 5, exact, &f2, &e), &e);
  CHECK(f1 == 0 && f2 == 0);
  size_t bf = 0, be = 0;
  for (size_t i = 0; i < H; i++) {
    CHECK_MSG(fabs(fast[i].r2 - exact[i].r2) <= 1e-10 * fabs(exact[i].r2) + 1e-12,
              "draw %zu: R2 %.17g fast, %.17g exact", i, fast[i].r2, exact[i].r2);
    CHECK_REL(fast[i].rmse, exact[i].rmse, 1e-10);
    CHECK_REL(fast[i].mape, exact[i].mape, 1e-10);
    CHECK_REL(fast[i].mae, exact[i].mae, 1e-10);
    if (fast[i].r2 > fast[bf].r2) bf = i;
    if (exact[i].r2 > exact[be].r2) be = i;
  }
  CHECK(bf == be); /* the same draw is chosen */
  /* The search (fast CV, dense refit) picks the same draw and writes the same model as
   * the all-dense search, up to the CV scores' last digits. */
  dle_regress_search_opts o;
  dle_regress_search_opts_init(&o);
  o.draws = 10;
  dle_regress_model *m1 = NULL, *m2 = NULL;
  dle_regress_search_result r1, r2;
  CHECK_OK(dle_regress_search(d, DLE_REG_KRR, &o, NULL, 0, &m2, &r2, &e), &e);
  dle_dataset_set_exact_solve(d, false);
  CHECK_OK(dle_regress_search(d, DLE_REG_KRR, &o, NULL, 0, &m1, &r1, &e), &e);
  CHECK(r1.best.alpha == r2.best.alpha && r1.best.gamma == r2.best.gamma);
  CHECK_REL(r1.cv.r2, r2.cv.r2, 1e-10);
  if (m1 && m2) {
    double v[3] = {1.5, 0.2, 3}, y1 = 0, y2 = 1;
    const char *k[1] = {"q"};
    CHECK_OK(dle_regress_model_predict(m1, v, k, &y1, &e), &e);
    CHECK_OK(dle_regress_model_predict(m2, v, k, &y2, &e), &e);
    CHECK(y1 == y2); /* the refit is dense in both */
  }
  dle_regress_model_free(m1);
  dle_regress_model_free(m2);
  dle_dataset_free(d);
}

/* SVR's CV solver and libsvm (--exact) both stop at the maximal violating pair's gap
 * <= 1e-3: their CV scores agree to about that (relative), not bit for bit. */
static void test_svr_equal(void) {
  dle_dataset *d = smooth_data();
  if (!d) return;
  dle_error e;
  enum { H = 6 };
  dle_regress_hyper h[H];
  dle_cv_scores fast[H], exact[H];
  int fold[600];
  size_t f1 = 0, f2 = 0;
  CHECK_OK(dle_regress_draws(DLE_REG_SVR, 42, H, h, &e), &e);
  CHECK_OK(dle_regress_folds(600, 5, true, 42, fold, &e), &e);
  CHECK_OK(dle_regress_cv_many(d, DLE_REG_SVR, h, H, fold, 5, fast, &f1, &e), &e);
  dle_dataset_set_exact_solve(d, true);
  CHECK_OK(dle_regress_cv_many(d, DLE_REG_SVR, h, H, fold, 5, exact, &f2, &e), &e);
  CHECK(f1 == 0 && f2 == 0);
  for (size_t i = 0; i < H; i++) {
    CHECK_MSG(fabs(fast[i].r2 - exact[i].r2) <= 1e-3 * fabs(exact[i].r2),
              "draw %zu: R2 %.17g fast, %.17g exact", i, fast[i].r2, exact[i].r2);
    CHECK_REL(fast[i].rmse, exact[i].rmse, 1e-2);
    CHECK_REL(fast[i].mae, exact[i].mae, 1e-2);
    CHECK(fast[i].r2 > 0.5); /* and they are real fits */
  }
  dle_dataset_free(d);
}

int main(void) {
  test_svr_equal();
  test_solve();
  test_cv_equal();
  return check_finish();
}
