/* mp_stream.c — the matrix profile grown one point at a time (STUMPI's idea, in the
 * SCAMP covariance form of matrix_profile.c; see stabilize.h).
 *
 * A new point x[n-1] completes subsequence l = n - m. Every pair (l - k, l) lies on
 * diagonal k, whose previous pair (l - k - 1, l - 1) was computed when subsequence
 * l - 1 arrived; the diagonal's covariance is carried over with the same update as the
 * batch (cov(i,j) = cov(i-1,j-1) + df[i-1] dg[j-1] + df[j-1] dg[i-1]) and a new diagonal
 * starts with the same direct sum, so each correlation is computed with exactly the
 * batch's operations: the profile equals the batch profile of the same points, ties
 * included (both keep the smaller neighbour index). Cost per point O(n), memory O(n). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/stabilize.h"
#include "mp_window.h"

struct dle_mp_stream {
  size_t m, excl;            /* excl: first diagonal searched (STUMPY zone + 1) */
  size_t n, cap;             /* points */
  double *x;
  size_t l, lcap;            /* subsequences */
  double *mu, *invn, *cst, *df, *dg, *cov, *best;
  int64_t *idx;
};

static int grow(void **p, size_t elem, size_t cap) {
  void *q = realloc(*p, elem * cap);
  if (!q) return -1;
  *p = q;
  return 0;
}

int dle_mp_stream_new(size_t m, size_t excl, dle_mp_stream **out, dle_error *err) {
  *out = NULL;
  if (m < 2) return dle_error_set(err, DLE_EINVAL, "matrix profile: window m=%zu < 2", m);
  dle_mp_stream *s = calloc(1, sizeof *s);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "matrix profile: out of memory");
  s->m = m;
  s->excl = (excl ? excl : (m + 3) / 4) + 1;
  *out = s;
  return DLE_OK;
}

void dle_mp_stream_free(dle_mp_stream *s) {
  if (!s) return;
  free(s->x), free(s->mu), free(s->invn), free(s->cst), free(s->df), free(s->dg);
  free(s->cov), free(s->best), free(s->idx);
  free(s);
}

size_t dle_mp_stream_points(const dle_mp_stream *s) { return s->n; }

size_t dle_mp_stream_length(const dle_mp_stream *s) { return s->l; }

int dle_mp_stream_push(dle_mp_stream *s, double v, dle_error *err) {
  if (!isfinite(v)) return dle_error_set(err, DLE_EINVAL, "matrix profile: value is not finite");
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 1024;
    if (grow((void **)&s->x, sizeof *s->x, cap))
      return dle_error_set(err, DLE_ENOMEM, "matrix profile: out of memory");
    s->cap = cap;
  }
  s->x[s->n++] = v;
  size_t m = s->m;
  if (s->n < m) return DLE_OK;
  size_t j = s->n - m; /* the new subsequence */
  if (s->l == s->lcap) {
    size_t cap = s->lcap ? 2 * s->lcap : 1024;
    if (grow((void **)&s->mu, sizeof(double), cap) || grow((void **)&s->invn, sizeof(double), cap) ||
        grow((void **)&s->cst, sizeof(double), cap) || grow((void **)&s->df, sizeof(double), cap) ||
        grow((void **)&s->dg, sizeof(double), cap) || grow((void **)&s->cov, sizeof(double), cap) ||
        grow((void **)&s->best, sizeof(double), cap) || grow((void **)&s->idx, sizeof(int64_t), cap))
      return dle_error_set(err, DLE_ENOMEM, "matrix profile: out of memory");
    s->lcap = cap;
  }
  const double *x = s->x;
  double *mu = s->mu, *invn = s->invn, *cst = s->cst, *df = s->df, *dg = s->dg;
  /* the same statistics as the batch */
  dle_mp_window_stats(x + j, m, &mu[j], &invn[j], &cst[j]);
  if (j > 0) {
    df[j - 1] = (x[j - 1 + m] - x[j - 1]) / 2;
    dg[j - 1] = (x[j - 1 + m] - mu[j]) + (x[j - 1] - mu[j - 1]);
  }
  s->best[j] = -INFINITY;
  s->idx[j] = -1;
  s->l = j + 1;
  double *P = s->best, *C = s->cov;
  int64_t *I = s->idx;
  for (size_t k = s->excl; k <= j; k++) {
    size_t i = j - k;
    double c;
    if (i == 0) {
      c = 0;
      for (size_t q = 0; q < m; q++) c += (x[q] - mu[0]) * (x[k + q] - mu[k]);
    } else {
      c = C[k] + (df[i - 1] * dg[j - 1] + df[j - 1] * dg[i - 1]);
    }
    C[k] = c;
    dle_mp_offer(P, I, i, j, c * invn[i] * invn[j] + (cst[i] + cst[j]));
  }
  return DLE_OK;
}

int dle_mp_stream_profile(const dle_mp_stream *s, double *mp, int64_t *mpi, dle_error *err) {
  if (!mpi) return dle_error_set(err, DLE_EINVAL, "matrix profile: NULL argument");
  for (size_t i = 0; i < s->l; i++) {
    if (s->idx[i] < 0) {
      if (mp) mp[i] = INFINITY;
      mpi[i] = -1;
    } else {
      double d2 = 2.0 * (double)s->m * (1 - s->best[i]);
      if (mp) mp[i] = d2 > 0 ? sqrt(d2) : 0;
      mpi[i] = s->idx[i];
    }
  }
  return DLE_OK;
}
