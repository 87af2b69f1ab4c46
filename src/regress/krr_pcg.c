/* krr_pcg.c — (G + alpha I) x = b by CG preconditioned with a pivoted partial
 * Cholesky factor of G (see krr_pcg.h). */
#include "krr_pcg.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
  PCG_MIN_N = 96,    /* below this a dense Cholesky is as cheap */
  PCG_RANK_CAP = 256 /* the factor's rank is at most min(n / 3, this) */
};
/* The factor stops once the trace of what it leaves out (a bound on its 2-norm) is
 * at most this fraction of alpha: the preconditioned matrix's eigenvalues then lie in
 * [1, 1 + fraction], and CG gains more than a decimal digit per iteration. */
static const double PCG_TRACE_FRAC = 0.1;
static const int PCG_MAX_ITERS = 60;
/* Recursive residual at which CG stops, relative to |b|. */
static const double PCG_RTOL = 1e-15;
/* Acceptance: the true residual's normwise backward error
 * |b - A x|_inf / (|A|_inf |x|_inf + |b|_inf), at most 64 units of roundoff (a
 * Cholesky solve of these systems measures 1e-17..1e-16). */
static const double PCG_BACKWARD = 64 * DBL_EPSILON;

struct dle_krr_pcg {
  size_t cap, rcap;
  double *L; /* rcap columns of length cap: column k at L + k * cap */
  double *d; /* residual diagonal */
  double *M; /* rcap x rcap: Cholesky factor of alpha I + L'L (column-major, lower) */
  double *t; /* rcap */
  double *r, *z, *p, *q;
};

dle_krr_pcg *dle_krr_pcg_new(size_t n) {
  dle_krr_pcg *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  size_t nn = n ? n : 1;
  w->cap = n;
  w->rcap = n / 3 < PCG_RANK_CAP ? n / 3 : PCG_RANK_CAP;
  size_t rc = w->rcap ? w->rcap : 1;
  w->L = malloc(rc * nn * sizeof *w->L);
  w->d = malloc(nn * sizeof *w->d);
  w->M = malloc(rc * rc * sizeof *w->M);
  w->t = malloc(rc * sizeof *w->t);
  w->r = malloc(nn * sizeof *w->r);
  w->z = malloc(nn * sizeof *w->z);
  w->p = malloc(nn * sizeof *w->p);
  w->q = malloc(nn * sizeof *w->q);
  if (!w->L || !w->d || !w->M || !w->t || !w->r || !w->z || !w->p || !w->q) {
    dle_krr_pcg_free(w);
    return NULL;
  }
  return w;
}

void dle_krr_pcg_free(dle_krr_pcg *w) {
  if (!w) return;
  free(w->L);
  free(w->d);
  free(w->M);
  free(w->t);
  free(w->r);
  free(w->z);
  free(w->p);
  free(w->q);
  free(w);
}

static double dot(const double *a, const double *b, size_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

static void axpy(double a, const double *x, double *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* q = (G + alpha I) p; G symmetric, so row j of G is its column j. */
static void matvec(const double *G, size_t n, double alpha, const double *p, double *q) {
  for (size_t i = 0; i < n; i++) q[i] = alpha * p[i];
  for (size_t j = 0; j < n; j++) axpy(p[j], G + j * n, q, n);
}

/* Pivoted partial Cholesky of G: columns into w->L until the left-out trace is at most
 * PCG_TRACE_FRAC x alpha (or the rank cap). Returns the rank. */
static size_t pivoted_factor(dle_krr_pcg *w, const double *G, size_t n, double alpha) {
  double *d = w->d;
  for (size_t i = 0; i < n; i++) d[i] = G[i * n + i];
  size_t r = 0;
  while (r < w->rcap) {
    double tr = 0, dm = 0;
    size_t piv = 0;
    for (size_t i = 0; i < n; i++) {
      tr += d[i];
      if (d[i] > dm) {
        dm = d[i];
        piv = i;
      }
    }
    if (tr <= PCG_TRACE_FRAC * alpha || !(dm > 0)) break;
    double *l = w->L + r * w->cap;
    memcpy(l, G + piv * n, n * sizeof *l);
    for (size_t j = 0; j < r; j++) axpy(-w->L[j * w->cap + piv], w->L + j * w->cap, l, n);
    double s = 1.0 / sqrt(dm);
    for (size_t i = 0; i < n; i++) {
      l[i] *= s;
      d[i] -= l[i] * l[i];
      if (d[i] < 0) d[i] = 0;
    }
    d[piv] = 0;
    r++;
  }
  return r;
}

/* Cholesky (lower, column-major) of M = alpha I + L'L, r x r, in place in w->M. */
static int small_cholesky(dle_krr_pcg *w, size_t n, size_t r, double alpha) {
  double *M = w->M;
  for (size_t a = 0; a < r; a++)
    for (size_t b = a; b < r; b++)
      M[b + a * r] = dot(w->L + a * w->cap, w->L + b * w->cap, n) + (a == b ? alpha : 0.0);
  for (size_t j = 0; j < r; j++) {
    double s = M[j + j * r];
    for (size_t k = 0; k < j; k++) s -= M[j + k * r] * M[j + k * r];
    if (!(s > 0)) return -1;
    double c = sqrt(s);
    M[j + j * r] = c;
    for (size_t i = j + 1; i < r; i++) {
      double v = M[i + j * r];
      for (size_t k = 0; k < j; k++) v -= M[i + k * r] * M[j + k * r];
      M[i + j * r] = v / c;
    }
  }
  return 0;
}

/* z = P^-1 v with P = L L' + alpha I (Woodbury): (v - L (alpha I + L'L)^-1 L' v) / alpha. */
static void precond(const dle_krr_pcg *w, size_t n, size_t r, double alpha, const double *v,
                    double *z) {
  double *t = w->t;
  const double *M = w->M;
  for (size_t a = 0; a < r; a++) t[a] = dot(w->L + a * w->cap, v, n);
  for (size_t i = 0; i < r; i++) { /* M y = t, forward */
    double s = t[i];
    for (size_t k = 0; k < i; k++) s -= M[i + k * r] * t[k];
    t[i] = s / M[i + i * r];
  }
  for (size_t i = r; i-- > 0;) { /* M' x = y, backward */
    double s = t[i];
    for (size_t k = i + 1; k < r; k++) s -= M[k + i * r] * t[k];
    t[i] = s / M[i + i * r];
  }
  memcpy(z, v, n * sizeof *z);
  for (size_t a = 0; a < r; a++) axpy(-t[a], w->L + a * w->cap, z, n);
  double ia = 1.0 / alpha;
  for (size_t i = 0; i < n; i++) z[i] *= ia;
}

int dle_krr_pcg_solve(dle_krr_pcg *w, const double *G, size_t n, double alpha, const double *b,
                      double *x, size_t *rank_out, size_t *iters_out) {
  if (rank_out) *rank_out = 0;
  if (iters_out) *iters_out = 0;
  if (!w || n > w->cap || n < PCG_MIN_N || !(alpha > 0)) return -1;
  size_t r = pivoted_factor(w, G, n, alpha);
  if (rank_out) *rank_out = r;
  if (small_cholesky(w, n, r, alpha)) return -1;
  double *res = w->r, *z = w->z, *p = w->p, *q = w->q;
  double bn = sqrt(dot(b, b, n));
  memset(x, 0, n * sizeof *x);
  if (bn == 0) return 0;
  memcpy(res, b, n * sizeof *res);
  precond(w, n, r, alpha, res, z);
  memcpy(p, z, n * sizeof *p);
  double rz = dot(res, z, n);
  int it = 0;
  while (it < PCG_MAX_ITERS) {
    matvec(G, n, alpha, p, q);
    double pq = dot(p, q, n);
    if (!(pq > 0)) return -1;
    double a = rz / pq;
    axpy(a, p, x, n);
    axpy(-a, q, res, n);
    it++;
    if (sqrt(dot(res, res, n)) <= PCG_RTOL * bn) break;
    precond(w, n, r, alpha, res, z);
    double rz2 = dot(res, z, n);
    double beta = rz2 / rz;
    rz = rz2;
    for (size_t i = 0; i < n; i++) p[i] = z[i] + beta * p[i];
  }
  if (iters_out) *iters_out = (size_t)it;
  /* The true residual and the backward error, row by row (dot form: |A|_inf too). */
  double rmax = 0, amax = 0, xmax = 0, bmax = 0;
  for (size_t i = 0; i < n; i++) {
    const double *g = G + i * n;
    double s = alpha * x[i], a = alpha;
    for (size_t j = 0; j < n; j++) {
      s += g[j] * x[j];
      a += fabs(g[j]);
    }
    double e = fabs(b[i] - s);
    rmax = e > rmax ? e : rmax;
    amax = a > amax ? a : amax;
    xmax = fabs(x[i]) > xmax ? fabs(x[i]) : xmax;
    bmax = fabs(b[i]) > bmax ? fabs(b[i]) : bmax;
  }
  if (!(rmax <= PCG_BACKWARD * (amax * xmax + bmax))) return -1;
  return 0;
}
