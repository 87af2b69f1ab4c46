/* matrix_profile.c — exact self-join matrix profile (see include/dlenergy/stabilize.h).
 *
 * Work is done in Pearson-correlation space and converted to distance at the end:
 * d(i,j)^2 = 2 m (1 - corr(i,j)). Along each diagonal j = i + k the centred
 * covariance cov(i,j) = sum_t (x[i+t] - mu_i)(x[j+t] - mu_j) is updated in O(1):
 *   cov(i+1,j+1) = cov(i,j) + df[i] dg[j] + df[j] dg[i]
 *   df[i] = (x[i+m] - x[i]) / 2,  dg[i] = (x[i+m] - mu[i+1]) + (x[i] - mu[i])
 * (the SCAMP formulation, which avoids the cancellation of raw dot products). Each
 * diagonal's first covariance is computed directly. Threads take contiguous ranges
 * of diagonals with equal numbers of cells and keep private profiles, merged at the
 * end: memory is O(n) per thread. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/stabilize.h"
#include "mp_window.h"

typedef struct mp_shared {
  const double *x;
  size_t l, m;
  const double *mu, *invn, *cst, *df, *dg;
} mp_shared;

typedef struct mp_task {
  const mp_shared *s;
  size_t k_begin, k_end; /* diagonals [k_begin, k_end) */
  double *corr;          /* private best correlation per subsequence */
  int64_t *idx;
} mp_task;

static void run_diagonals(const mp_task *t) {
  const mp_shared *s = t->s;
  const double *x = s->x, *mu = s->mu, *invn = s->invn, *cst = s->cst;
  const double *df = s->df, *dg = s->dg;
  double *restrict P = t->corr;
  int64_t *restrict I = t->idx;
  size_t l = s->l, m = s->m;
  for (size_t k = t->k_begin; k < t->k_end; k++) {
    size_t len = l - k;
    double c = 0;
    for (size_t q = 0; q < m; q++) c += (x[q] - mu[0]) * (x[k + q] - mu[k]);
    for (size_t i = 0; i < len; i++) {
      size_t j = i + k;
      dle_mp_offer(P, I, i, j, c * invn[i] * invn[j] + (cst[i] + cst[j]));
      if (i + 1 < len) c += df[i] * dg[j] + df[j] * dg[i];
    }
  }
}

static void *thread_main(void *arg) {
  run_diagonals(arg);
  return NULL;
}

uint64_t dle_matrix_profile_pairs(size_t n, size_t m, size_t excl) {
  if (m < 2 || n < m) return 0;
  if (excl == 0) excl = (m + 3) / 4;
  uint64_t l = n - m + 1;
  if (excl + 1 >= l) return 0;
  uint64_t d = l - excl - 1; /* diagonals excl+1..l-1 have lengths l-excl-1 .. 1 */
  return d * (d + 1) / 2;
}

int dle_matrix_profile(const double *x, size_t n, size_t m, size_t excl, int n_threads,
                       double *mp, int64_t *mpi, dle_error *err) {
  if (!x || !mp || !mpi) return dle_error_set(err, DLE_EINVAL, "matrix profile: NULL argument");
  if (m < 2) return dle_error_set(err, DLE_EINVAL, "matrix profile: window m=%zu < 2", m);
  if (n < 2 * m)
    return dle_error_set(err, DLE_ERANGE, "matrix profile: %zu points, need at least 2m = %zu",
                         n, 2 * m);
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return dle_error_set(err, DLE_EINVAL, "matrix profile: value %zu is not finite", i);
  if (excl == 0) excl = (m + 3) / 4;
  /* STUMPY's zone: |i - j| <= excl are trivial matches, so the first diagonal searched
   * is excl + 1. From here on `excl` is that first diagonal. */
  excl += 1;
  if (n_threads < 1) n_threads = 1;
  if (n_threads > 64) n_threads = 64;
  size_t l = n - m + 1;

  double *buf = malloc(sizeof(double) * 5 * l);
  if (!buf) return dle_error_set(err, DLE_ENOMEM, "matrix profile: out of memory");
  double *mu = buf, *invn = buf + l, *cst = buf + 2 * l, *df = buf + 3 * l, *dg = buf + 4 * l;
  /* constant windows: no shape (invn 0); correlation from cst[] alone */
  for (size_t i = 0; i < l; i++) dle_mp_window_stats(x + i, m, &mu[i], &invn[i], &cst[i]);
  for (size_t i = 0; i + 1 < l; i++) {
    df[i] = (x[i + m] - x[i]) / 2;
    dg[i] = (x[i + m] - mu[i + 1]) + (x[i] - mu[i]);
  }
  df[l - 1] = dg[l - 1] = 0;

  mp_shared sh = {x, l, m, mu, invn, cst, df, dg};
  size_t nt = (size_t)n_threads;
  if (excl >= l) nt = 1;
  mp_task tasks[64];
  pthread_t tids[64];
  double *pc = malloc(sizeof(double) * l * nt);
  int64_t *pi = malloc(sizeof(int64_t) * l * nt);
  if (!pc || !pi) {
    free(buf), free(pc), free(pi);
    return dle_error_set(err, DLE_ENOMEM, "matrix profile: out of memory");
  }
  for (size_t i = 0; i < l * nt; i++) pc[i] = -INFINITY, pi[i] = -1;
  /* Split diagonals so each thread gets about the same number of cells. */
  double total = excl < l ? (double)(l - excl) * (double)(l - excl + 1) / 2 : 0;
  size_t k = excl < l ? excl : l;
  for (size_t t = 0; t < nt; t++) {
    tasks[t].s = &sh;
    tasks[t].corr = pc + t * l;
    tasks[t].idx = pi + t * l;
    tasks[t].k_begin = k;
    if (t + 1 == nt) {
      k = l;
    } else {
      /* cells in [excl, K) = total - (l-K)(l-K+1)/2 ; solve for the (t+1)/nt share */
      double rest = total * (1 - (double)(t + 1) / (double)nt);
      double d = (sqrt(1 + 8 * rest) - 1) / 2; /* d(d+1)/2 = rest, d = l - K */
      size_t K = l - (size_t)llround(d);
      if (K < k) K = k;
      if (K > l) K = l;
      k = K;
    }
    tasks[t].k_end = k;
  }
  size_t started = 1;
  for (size_t t = 1; t < nt; t++) {
    if (pthread_create(&tids[t], NULL, thread_main, &tasks[t]) != 0) break;
    started++;
  }
  run_diagonals(&tasks[0]);
  for (size_t t = started; t < nt; t++) run_diagonals(&tasks[t]); /* could not start */
  for (size_t t = 1; t < started; t++) pthread_join(tids[t], NULL);

  for (size_t i = 0; i < l; i++) {
    double best = pc[i];
    int64_t bi = pi[i];
    for (size_t t = 1; t < nt; t++) {
      double c = pc[t * l + i];
      int64_t ci = pi[t * l + i];
      if (c > best || (c == best && ci >= 0 && (bi < 0 || ci < bi))) best = c, bi = ci;
    }
    if (bi < 0) {
      mp[i] = INFINITY;
      mpi[i] = -1;
    } else {
      double d2 = 2.0 * (double)m * (1 - best);
      mp[i] = d2 > 0 ? sqrt(d2) : 0;
      mpi[i] = bi;
    }
  }
  free(buf);
  free(pc);
  free(pi);
  return DLE_OK;
}
