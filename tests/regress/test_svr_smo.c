/* test_svr_smo — the epsilon-SVR solver of the cross-validation (src/regress/svr_smo.c)
 * against libsvm on the same kernel (random problems, and folds of the shipped
 * training table through dle_regress_cv_many's fast and --exact paths): KKT
 * conditions at tol, the dual objective and predictions close to libsvm's, warm starts
 * equal to cold ones, degenerate problems and the iteration cap. Prints both solvers'
 * iteration counts (no timing is asserted). */
#include <libsvm/svm.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dlenergy/gpus.h"
#include "dlenergy/regress.h"
#include "regress/svr_smo.h"

static const double TOL = 1e-3;

static unsigned long long rng_state = 88172645463325252ULL;
static double urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

typedef struct prob {
  size_t n, d;
  double *X, *y, *K;
} prob;

/* n rows in d dims, with `dup` copies of each distinct row (noisy targets). */
static prob make_prob(size_t n_distinct, size_t dup, size_t d, double gamma) {
  prob p = {n_distinct * dup, d, NULL, NULL, NULL};
  p.X = malloc(p.n * d * sizeof *p.X);
  p.y = malloc(p.n * sizeof *p.y);
  p.K = malloc(p.n * p.n * sizeof *p.K);
  for (size_t i = 0; i < n_distinct; i++) {
    double x[8];
    for (size_t j = 0; j < d; j++) x[j] = 2 * urand() - 1;
    for (size_t c = 0; c < dup; c++) {
      size_t r = i * dup + c;
      memcpy(p.X + r * d, x, d * sizeof *x);
      p.y[r] = sin(3 * x[0]) + 0.5 * x[d - 1] + 0.2 * (urand() - 0.5);
    }
  }
  for (size_t i = 0; i < p.n; i++)
    for (size_t j = 0; j < p.n; j++) {
      double s = 0;
      for (size_t k = 0; k < d; k++) {
        double t = p.X[i * d + k] - p.X[j * d + k];
        s += t * t;
      }
      p.K[i * p.n + j] = exp(-gamma * s);
    }
  return p;
}

static void free_prob(prob *p) {
  free(p->X);
  free(p->y);
  free(p->K);
}

static double objective(const prob *p, const double *b, double eps) {
  double o = 0;
  for (size_t i = 0; i < p->n; i++) {
    double kb = 0;
    for (size_t j = 0; j < p->n; j++) kb += p->K[i * p->n + j] * b[j];
    o += 0.5 * b[i] * kb - p->y[i] * b[i] + eps * fabs(b[i]);
  }
  return o;
}

/* The maximal violating pair's gap of beta, recomputed from scratch (libsvm's rule on
 * alpha = max(beta, 0), alpha* = max(-beta, 0)); also checks the box and the sum. */
static double kkt_gap(const prob *p, const double *b, double c, double eps) {
  double mup = -INFINITY, mlow = INFINITY, sum = 0, scale = 0;
  for (size_t i = 0; i < p->n; i++) {
    CHECK_MSG(b[i] >= -c && b[i] <= c, "beta[%zu] = %g outside [-%g, %g]", i, b[i], c, c);
    sum += b[i];
    scale += fabs(b[i]);
    double g = -p->y[i];
    for (size_t j = 0; j < p->n; j++) g += p->K[i * p->n + j] * b[j];
    double up = b[i] < 0 ? -g + eps : (b[i] < c ? -g - eps : -INFINITY);
    double low = b[i] > 0 ? -g - eps : (b[i] > -c ? -g + eps : INFINITY);
    if (up > mup) mup = up;
    if (low < mlow) mlow = low;
  }
  CHECK_MSG(fabs(sum) <= 1e-9 * (scale + 1), "sum beta = %g", sum);
  return mup - mlow;
}

static void print_quiet(const char *s) {
  (void)s;
}
static long libsvm_iters;
static void print_iters(const char *s) {
  const char *t = strstr(s, "#iter = ");
  if (t) libsvm_iters = atol(t + 8);
}

/* libsvm on the same kernel (precomputed): beta by row, rho. */
static void libsvm_solve(const prob *p, double c, double eps, double *beta, double *rho) {
  size_t n = p->n;
  struct svm_node *nodes = malloc(n * (n + 2) * sizeof *nodes);
  struct svm_node **rows = malloc(n * sizeof *rows);
  for (size_t i = 0; i < n; i++) {
    rows[i] = nodes + i * (n + 2);
    rows[i][0].index = 0;
    rows[i][0].value = (double)(i + 1);
    for (size_t j = 0; j < n; j++) {
      rows[i][j + 1].index = (int)j + 1;
      rows[i][j + 1].value = p->K[i * n + j];
    }
    rows[i][n + 1].index = -1;
  }
  struct svm_problem pr = {.l = (int)n, .y = p->y, .x = rows};
  struct svm_parameter par;
  memset(&par, 0, sizeof par);
  par.svm_type = EPSILON_SVR;
  par.kernel_type = PRECOMPUTED;
  par.C = c;
  par.p = eps;
  par.eps = TOL;
  par.cache_size = 100;
  par.shrinking = 1;
  svm_set_print_string_function(print_iters);
  struct svm_model *m = svm_train(&pr, &par);
  svm_set_print_string_function(print_quiet);
  memset(beta, 0, n * sizeof *beta);
  for (int k = 0; k < m->l; k++) beta[m->sv_indices[k] - 1] = m->sv_coef[0][k];
  *rho = m->rho[0];
  svm_free_and_destroy_model(&m);
  free(nodes);
  free(rows);
}

/* Our solver and libsvm on one problem: both meet the KKT gap, the dual objectives
 * agree to a small relative tolerance, the decision values are close. */
static void compare(const prob *p, double c, double eps, double gamma_label) {
  size_t n = p->n;
  double *b = malloc(n * sizeof *b), *bl = malloc(n * sizeof *bl);
  double rho = 0, rhol = 0;
  dle_svr_smo *s = dle_svr_smo_new(n);
  dle_svr_smo_stats st;
  dle_error err = {0};
  CHECK_OK(dle_svr_smo_solve(s, p->K, n, NULL, n, p->y, c, eps, TOL, NULL, 0, b, &rho, &st, &err),
           &err);
  CHECK(st.converged);
  libsvm_solve(p, c, eps, bl, &rhol);
  double gap = kkt_gap(p, b, c, eps);
  CHECK_MSG(gap <= TOL * (1 + 1e-6), "gap %g (solver said %g)", gap, st.gap);
  double o = objective(p, b, eps), ol = objective(p, bl, eps);
  CHECK_NEAR(o, st.obj, 1e-9 * (fabs(o) + 1));
  /* Both stop at the same tol: their objectives differ by far less than the scale. */
  CHECK_MSG(fabs(o - ol) <= 1e-3 * (fabs(ol) + 1), "objective %.10g vs libsvm %.10g", o, ol);
  /* Decision values at the training rows. */
  double ysd = 0, ym = 0, maxdiff = 0;
  for (size_t i = 0; i < n; i++) ym += p->y[i] / (double)n;
  for (size_t i = 0; i < n; i++) ysd += (p->y[i] - ym) * (p->y[i] - ym) / (double)n;
  ysd = sqrt(ysd);
  for (size_t i = 0; i < n; i++) {
    double f = -rho, fl = -rhol;
    for (size_t j = 0; j < n; j++) {
      f += p->K[i * n + j] * b[j];
      fl += p->K[i * n + j] * bl[j];
    }
    if (fabs(f - fl) > maxdiff) maxdiff = fabs(f - fl);
  }
  CHECK_MSG(maxdiff <= 0.05 * ysd + 2 * TOL, "predictions differ by %g (y sd %g)", maxdiff, ysd);
  printf("n %zu C %g eps %g gamma %g: iterations %zu (libsvm %ld), objective %.8g (libsvm %.8g), "
         "max prediction diff %.2g\n",
         n, c, eps, gamma_label, st.iters, libsvm_iters, o, ol, maxdiff);
  /* Warm start from a perturbed solution: the same optimum within tolerance. */
  double *seed = malloc(n * sizeof *seed), *bw = malloc(n * sizeof *bw), rhow = 0;
  for (size_t i = 0; i < n; i++) seed[i] = b[i] * (0.9 + 0.2 * urand()) + 0.01 * c * (urand() - 0.5);
  CHECK_OK(dle_svr_smo_solve(s, p->K, n, NULL, n, p->y, c, eps, TOL, seed, 0, bw, &rhow, &st, &err),
           &err);
  CHECK(kkt_gap(p, bw, c, eps) <= TOL * (1 + 1e-6));
  double ow = objective(p, bw, eps);
  CHECK_MSG(fabs(ow - o) <= 1e-3 * (fabs(o) + 1), "warm objective %.10g vs cold %.10g", ow, o);
  /* Infeasible seed (outside the box, nonzero sum): projected, same optimum. */
  for (size_t i = 0; i < n; i++) seed[i] = (urand() - 0.3) * 3 * c;
  CHECK_OK(dle_svr_smo_solve(s, p->K, n, NULL, n, p->y, c, eps, TOL, seed, 0, bw, &rhow, &st, &err),
           &err);
  CHECK(kkt_gap(p, bw, c, eps) <= TOL * (1 + 1e-6));
  CHECK(fabs(objective(p, bw, eps) - o) <= 1e-3 * (fabs(o) + 1));
  free(seed);
  free(bw);
  free(b);
  free(bl);
  dle_svr_smo_free(s);
}

/* Duplicated rows given once as a u x u kernel with a row map: the same problem. */
static void check_map(void) {
  prob p = make_prob(30, 4, 2, 0.5);
  size_t u = 30, n = p.n;
  double *Ku = malloc(u * u * sizeof *Ku);
  size_t *map = malloc(n * sizeof *map);
  for (size_t i = 0; i < u; i++)
    for (size_t j = 0; j < u; j++) Ku[i * u + j] = p.K[(i * 4) * n + j * 4];
  for (size_t r = 0; r < n; r++) map[r] = r / 4;
  double *b = malloc(n * sizeof *b), *bf = malloc(n * sizeof *bf), rho, rhof;
  dle_svr_smo *s = dle_svr_smo_new(n);
  dle_svr_smo_stats st, stf;
  dle_error err = {0};
  CHECK_OK(dle_svr_smo_solve(s, Ku, u, map, n, p.y, 50, 0.05, TOL, NULL, 0, b, &rho, &st, &err),
           &err);
  CHECK_OK(dle_svr_smo_solve(s, p.K, n, NULL, n, p.y, 50, 0.05, TOL, NULL, 0, bf, &rhof, &stf, &err),
           &err);
  CHECK(kkt_gap(&p, b, 50, 0.05) <= TOL * (1 + 1e-6));
  /* The same arithmetic on the same values: the same iterates. */
  CHECK(st.iters == stf.iters);
  CHECK_NEAR(st.obj, stf.obj, 1e-9 * fabs(stf.obj));
  compare(&p, 50, 0.05, 0.5); /* duplicates against libsvm too */
  free(Ku);
  free(map);
  free(b);
  free(bf);
  dle_svr_smo_free(s);
  free_prob(&p);
}

static void check_degenerate(void) {
  dle_svr_smo *s = dle_svr_smo_new(64);
  dle_svr_smo_stats st;
  dle_error err = {0};
  double beta[64], rho = NAN;
  /* All targets equal: beta = 0 is optimal, rho = -y. */
  prob p = make_prob(20, 1, 2, 1.0);
  for (size_t i = 0; i < p.n; i++) p.y[i] = 3.5;
  CHECK_OK(dle_svr_smo_solve(s, p.K, p.n, NULL, p.n, p.y, 10, 0.1, TOL, NULL, 0, beta, &rho, &st, &err),
           &err);
  CHECK(st.iters == 0);
  for (size_t i = 0; i < p.n; i++) CHECK(beta[i] == 0);
  CHECK_NEAR(rho, -3.5, 1e-12);
  /* epsilon wider than the targets' range: no support vectors. */
  prob q = make_prob(20, 1, 2, 1.0);
  CHECK_OK(dle_svr_smo_solve(s, q.K, q.n, NULL, q.n, q.y, 10, 100, TOL, NULL, 0, beta, &rho, &st, &err),
           &err);
  size_t nsv = 0;
  for (size_t i = 0; i < q.n; i++) nsv += beta[i] != 0;
  CHECK(nsv == 0);
  /* C tiny: every support vector at its bound, converges. */
  CHECK_OK(dle_svr_smo_solve(s, q.K, q.n, NULL, q.n, q.y, 1e-8, 0.01, TOL, NULL, 0, beta, &rho, &st, &err),
           &err);
  CHECK(kkt_gap(&q, beta, 1e-8, 0.01) <= TOL);
  /* n = 2. */
  double K2[4] = {1, 0.5, 0.5, 1}, y2[2] = {1, -1};
  CHECK_OK(dle_svr_smo_solve(s, K2, 2, NULL, 2, y2, 10, 0.1, TOL, NULL, 0, beta, &rho, &st, &err),
           &err);
  CHECK_NEAR(beta[0], -beta[1], 1e-12);
  CHECK(beta[0] > 0);
  /* Identical rows with different targets (a_ij = 0): no hang, feasible. */
  double K3[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, y3[3] = {0, 1, 5};
  CHECK_OK(dle_svr_smo_solve(s, K3, 3, NULL, 3, y3, 2, 0.1, TOL, NULL, 0, beta, &rho, &st, &err),
           &err);
  CHECK_NEAR(beta[0] + beta[1] + beta[2], 0, 1e-12);
  /* The iteration cap: a clear error, the last iterate still feasible. */
  prob h = make_prob(60, 1, 3, 0.05);
  int rc = dle_svr_smo_solve(s, h.K, h.n, NULL, h.n, h.y, 1e4, 0.001, TOL, NULL, 3, beta, &rho, &st,
                             &err);
  CHECK(rc == DLE_ERANGE);
  CHECK(!st.converged && st.iters == 3);
  CHECK(strstr(err.msg, "cap of 3 iterations") != NULL);
  (void)kkt_gap(&h, beta, 1e4, 0.001); /* box and sum */
  /* Bad arguments. */
  CHECK(dle_svr_smo_solve(s, q.K, q.n, NULL, q.n, q.y, 0, 0.1, TOL, NULL, 0, beta, &rho, &st, &err) ==
        DLE_EINVAL);
  CHECK(dle_svr_smo_solve(s, q.K, q.n, NULL, q.n, q.y, 1, -1, TOL, NULL, 0, beta, &rho, &st, &err) ==
        DLE_EINVAL);
  CHECK(dle_svr_smo_solve(s, q.K, 100, NULL, 100, q.y, 1, 0.1, TOL, NULL, 0, beta, &rho, &st, &err) ==
        DLE_EINVAL); /* larger than the workspace */
  q.y[3] = NAN;
  CHECK(dle_svr_smo_solve(s, q.K, q.n, NULL, q.n, q.y, 1, 0.1, TOL, NULL, 0, beta, &rho, &st, &err) ==
        DLE_EINVAL);
  free_prob(&p);
  free_prob(&q);
  free_prob(&h);
  dle_svr_smo_free(s);
}

/* The shipped training table: CV R^2 of the fast path (this solver) and of --exact
 * (libsvm's own RBF) for SVR draws, on the same folds. */
static void check_training_table(const char *path) {
  dle_error err = {0};
  dle_gpu_catalog *cat = NULL;
  dle_pre_table *t = NULL;
  dle_dataset *d = NULL;
  if (dle_gpu_catalog_load(NULL, &cat, &err) || dle_pre_table_read(path, &t, &err) ||
      dle_pre_phys_dataset(t, DLE_PRE_TARGET_POWER, cat, NULL, 0, &d, &err)) {
    CHECK_MSG(0, "%s: %s", path, err.msg);
    dle_gpu_catalog_free(cat);
    dle_pre_table_free(t);
    return;
  }
  dle_dataset_set_merge_rows(d, false);
  size_t n = dle_dataset_rows(d);
  int *fold = malloc(n * sizeof *fold);
  enum { ND = 4 };
  dle_regress_hyper h[ND];
  dle_cv_scores fast[ND], exact[ND];
  size_t failed = 0;
  CHECK_OK(dle_regress_folds(n, 5, true, 42, fold, &err), &err);
  CHECK_OK(dle_regress_draws(DLE_REG_SVR, 42, ND, h, &err), &err);
  CHECK_OK(dle_regress_cv_many(d, DLE_REG_SVR, h, ND, fold, 5, fast, &failed, &err), &err);
  CHECK(failed == 0);
  dle_dataset_set_exact_solve(d, true);
  CHECK_OK(dle_regress_cv_many(d, DLE_REG_SVR, h, ND, fold, 5, exact, &failed, &err), &err);
  for (int i = 0; i < ND; i++) {
    printf("training.csv draw %d (C %g, eps %g, gamma %g): CV R2 %.6f, libsvm %.6f\n", i, h[i].c,
           h[i].epsilon, h[i].gamma, fast[i].r2, exact[i].r2);
    CHECK_NEAR(fast[i].r2, exact[i].r2, 1e-3 * fabs(exact[i].r2));
    CHECK_NEAR(fast[i].mape, exact[i].mape, 1e-2 * exact[i].mape);
  }
  free(fold);
  dle_dataset_free(d);
  dle_pre_table_free(t);
  dle_gpu_catalog_free(cat);
}

int main(int argc, char **argv) {
  svm_set_print_string_function(print_quiet);
  const double gammas[] = {0.5, 0.05};
  const double cs[] = {1, 100, 3000};
  for (int gi = 0; gi < 2; gi++)
    for (int ci = 0; ci < 3; ci++) {
      prob p = make_prob(150, 1, 3, gammas[gi]);
      compare(&p, cs[ci], 0.05, gammas[gi]);
      free_prob(&p);
    }
  check_map();
  check_degenerate();
  if (argc > 1) check_training_table(argv[1]);
  return check_finish();
}
