/* stabilize.c — stabilizing point of a power series: resample, matrix profile,
 * FLUSS, earliest regime change, mapped to a time and an epoch (see stabilize.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/stabilize.h"

void dle_stabilize_opts_init(dle_stabilize_opts *o) {
  memset(o, 0, sizeof *o);
  o->m = 10;
  o->L = 0;
  o->n_regimes = 2;
  o->excl_factor = 3; /* STUMPY's fluss uses 5; docs/estimate.md says why 3 here */
  o->resample_s = 1.0;
  o->n_threads = 2;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

/* Groups of r consecutive points averaged, r from the median spacing so that a group
 * spans about resample_s seconds (r = 1 when the series is already that coarse). */
static size_t group_size(const double *t, size_t n, double resample_s) {
  if (!t || n < 3 || !(resample_s > 0)) return 1;
  double *dt = malloc((n - 1) * sizeof *dt);
  if (!dt) return 1;
  for (size_t i = 0; i + 1 < n; i++) dt[i] = t[i + 1] - t[i];
  qsort(dt, n - 1, sizeof *dt, cmp_double);
  double med = dt[(n - 1) / 2];
  free(dt);
  if (!(med > 0)) return 1;
  double r = floor(resample_s / med + 0.5);
  return r >= 2 ? (size_t)r : 1;
}

/* FLUSS over a profile index of np points sampled at ts (o->L set): the regime changes,
 * the earliest one as the stabilizing point; a flat CAC gives the first point. */
static int from_profile(const int64_t *mpi, const double *ts, size_t np,
                        const dle_stabilize_opts *o, dle_stabilize_result *out, dle_error *err) {
  size_t l = np - o->m + 1;
  double *cac = malloc(l * sizeof *cac);
  if (!cac) return dle_error_set(err, DLE_ENOMEM, "stabilize: out of memory");
  int rc = dle_fluss_cac(mpi, l, o->L, o->excl_factor, cac, err);
  size_t locs[DLE_STABILIZE_MAX_REGIMES], nf = 0;
  if (!rc) rc = dle_fluss_regimes(cac, l, o->n_regimes, o->L, o->excl_factor, locs, &nf, err);
  if (rc) {
    free(cac);
    return rc;
  }
  if (nf == 0) {
    /* Flat corrected arc curve (every value 1 outside the masked ends): no change
     * stands out. STUMPY's fluss returns argmin = index 0 here; we do the same (the
     * power is taken as stable from the start) and say so in `flat`. */
    out->flat = 1;
    locs[0] = 0;
    nf = 1;
  }
  qsort(locs, nf, sizeof *locs, cmp_size);
  out->n_points = np;
  out->step_s = np > 1 ? (ts[np - 1] - ts[0]) / (double)(np - 1) : 0;
  out->index = locs[0];
  out->t_s = ts[locs[0]];
  out->cac_min = cac[locs[0]];
  out->n_changes = nf;
  for (size_t i = 0; i < nf; i++) out->change_t_s[i] = ts[locs[i]];
  free(cac);
  return DLE_OK;
}

/* Options checked and completed (L = m when 0). */
static int check_opts(const dle_stabilize_opts *opts, dle_stabilize_opts *o, dle_error *err) {
  if (opts)
    *o = *opts;
  else
    dle_stabilize_opts_init(o);
  if (o->L == 0) o->L = o->m;
  if (o->m < 2) return dle_error_set(err, DLE_EINVAL, "stabilize: window m must be >= 2");
  if (o->n_regimes < 2 || o->n_regimes > DLE_STABILIZE_MAX_REGIMES)
    return dle_error_set(err, DLE_EINVAL, "stabilize: regimes must be 2..%d",
                         DLE_STABILIZE_MAX_REGIMES);
  if (!(o->excl_factor >= 0) || !(o->resample_s >= 0))
    return dle_error_set(err, DLE_EINVAL, "stabilize: negative exclusion factor or resample");
  return DLE_OK;
}

/* Fewest points FLUSS needs: 2m for the profile, and room outside the masked ends. */
static size_t need_points(const dle_stabilize_opts *o) {
  size_t mask = (size_t)floor((double)o->L * o->excl_factor + 0.5);
  return 2 * o->m > 2 * mask + o->m + 1 ? 2 * o->m : 2 * mask + o->m + 1;
}

int dle_stabilize_series(const double *x, const double *t, size_t n,
                         const dle_stabilize_opts *opts, dle_stabilize_result *out,
                         dle_error *err) {
  dle_stabilize_opts o;
  int rc0 = check_opts(opts, &o, err);
  if (rc0) return rc0;
  memset(out, 0, sizeof *out);
  out->epoch = -1;

  size_t r = group_size(t, n, o.resample_s);
  size_t np = n / r;
  double *xs = malloc((np ? np : 1) * sizeof *xs), *ts = malloc((np ? np : 1) * sizeof *ts);
  if (!xs || !ts) {
    free(xs), free(ts);
    return dle_error_set(err, DLE_ENOMEM, "stabilize: out of memory");
  }
  for (size_t g = 0; g < np; g++) {
    double sx = 0;
    for (size_t q = 0; q < r; q++) sx += x[g * r + q];
    xs[g] = sx / (double)r;
    ts[g] = t ? t[g * r] : (double)(g * r);
  }
  size_t need = need_points(&o);
  if (np < need) {
    free(xs), free(ts);
    return dle_error_set(err, DLE_ERANGE,
                         "stabilize: %zu points after resampling, need at least %zu "
                         "(m=%zu, L=%zu, exclusion factor %g)",
                         np, need, o.m, o.L, o.excl_factor);
  }
  size_t l = np - o.m + 1;
  double *mp = malloc(l * sizeof *mp);
  int64_t *mpi = malloc(l * sizeof *mpi);
  int rc = DLE_OK;
  if (!mp || !mpi) {
    rc = dle_error_set(err, DLE_ENOMEM, "stabilize: out of memory");
    goto done;
  }
  rc = dle_matrix_profile(xs, np, o.m, 0, o.n_threads, mp, mpi, err);
  if (rc) goto done;
  rc = from_profile(mpi, ts, np, &o, out, err);
done:
  free(xs), free(ts), free(mp), free(mpi);
  return rc;
}

int dle_stabilize_trace(const dle_trace *trace, double cutoff_s, const dle_epoch *epochs,
                        size_t n_epochs, const dle_stabilize_opts *opts,
                        dle_stabilize_result *out, dle_error *err) {
  if (!trace || trace->n == 0) return dle_error_set(err, DLE_ERANGE, "stabilize: empty trace");
  double *x = malloc(trace->n * sizeof *x), *t = malloc(trace->n * sizeof *t);
  if (!x || !t) {
    free(x), free(t);
    return dle_error_set(err, DLE_ENOMEM, "stabilize: out of memory");
  }
  size_t n = 0;
  for (size_t i = 0; i < trace->n; i++) {
    if (!isnan(cutoff_s) && trace->t_s[i] > cutoff_s) break;
    double p = trace->gpu_power_w[i];
    if (!isfinite(p) || !isfinite(trace->t_s[i])) continue;
    x[n] = p;
    t[n] = trace->t_s[i];
    n++;
  }
  int rc;
  if (n == 0)
    rc = dle_error_set(err, DLE_ERANGE, "stabilize: no GPU power samples before the cut-off");
  else
    rc = dle_stabilize_series(x, t, n, opts, out, err);
  free(x), free(t);
  if (rc) return rc;
  out->epoch = -1;
  for (size_t e = 0; epochs && e < n_epochs; e++) {
    if (!isnan(epochs[e].t_end_s) && out->t_s <= epochs[e].t_end_s) {
      out->epoch = (int)e;
      break;
    }
  }
  return DLE_OK;
}

/* ---- the same, live: binned points into a growing profile ---- */

struct dle_stabilize_stream {
  dle_stabilize_opts o;
  dle_mp_stream *mp;
  size_t r;             /* bin size, fixed from the first 21 samples (0 = not yet) */
  double pend_x[64], pend_t[64]; /* samples waiting for the bin size / a full bin */
  size_t n_pend;
  double *ts;           /* bin times */
  size_t n_ts, cap_ts;
};

int dle_stabilize_stream_new(const dle_stabilize_opts *opts, dle_stabilize_stream **out,
                             dle_error *err) {
  *out = NULL;
  dle_stabilize_stream *s = calloc(1, sizeof *s);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "stabilize: out of memory");
  int rc = check_opts(opts, &s->o, err);
  if (!rc) rc = dle_mp_stream_new(s->o.m, 0, &s->mp, err);
  if (rc) {
    free(s);
    return rc;
  }
  *out = s;
  return DLE_OK;
}

void dle_stabilize_stream_free(dle_stabilize_stream *s) {
  if (!s) return;
  dle_mp_stream_free(s->mp);
  free(s->ts);
  free(s);
}

static int push_bin(dle_stabilize_stream *s, const double *x, const double *t, size_t r,
                    dle_error *err) {
  double sx = 0;
  for (size_t q = 0; q < r; q++) sx += x[q];
  if (s->n_ts == s->cap_ts) {
    size_t cap = s->cap_ts ? 2 * s->cap_ts : 1024;
    double *p = realloc(s->ts, cap * sizeof *p);
    if (!p) return dle_error_set(err, DLE_ENOMEM, "stabilize: out of memory");
    s->ts = p;
    s->cap_ts = cap;
  }
  s->ts[s->n_ts++] = t[0];
  return dle_mp_stream_push(s->mp, sx / (double)r, err);
}

/* Flushes every whole bin of the pending samples. */
static int flush(dle_stabilize_stream *s, dle_error *err) {
  size_t used = 0;
  while (s->n_pend - used >= s->r) {
    int rc = push_bin(s, s->pend_x + used, s->pend_t + used, s->r, err);
    if (rc) return rc;
    used += s->r;
  }
  memmove(s->pend_x, s->pend_x + used, (s->n_pend - used) * sizeof *s->pend_x);
  memmove(s->pend_t, s->pend_t + used, (s->n_pend - used) * sizeof *s->pend_t);
  s->n_pend -= used;
  return DLE_OK;
}

int dle_stabilize_stream_push(dle_stabilize_stream *s, double t_s, double x, dle_error *err) {
  if (!isfinite(x) || !isfinite(t_s)) return DLE_OK; /* gaps are skipped, as in the batch */
  s->pend_x[s->n_pend] = x;
  s->pend_t[s->n_pend] = t_s;
  s->n_pend++;
  if (s->r == 0) {
    if (s->n_pend < 21) return DLE_OK;
    s->r = group_size(s->pend_t, s->n_pend, s->o.resample_s);
    if (s->r > 21) s->r = 21; /* bins of at most 21 samples (the pending buffer) */
  }
  return flush(s, err);
}

size_t dle_stabilize_stream_points(const dle_stabilize_stream *s) { return s->n_ts; }

int dle_stabilize_stream_result(const dle_stabilize_stream *s, dle_stabilize_result *out,
                                dle_error *err) {
  memset(out, 0, sizeof *out);
  out->epoch = -1;
  size_t np = s->n_ts, need = need_points(&s->o);
  if (np < need)
    return dle_error_set(err, DLE_ERANGE,
                         "stabilize: %zu points so far, need at least %zu (m=%zu, L=%zu, "
                         "exclusion factor %g)",
                         np, need, s->o.m, s->o.L, s->o.excl_factor);
  size_t l = dle_mp_stream_length(s->mp);
  int64_t *mpi = malloc(l * sizeof *mpi);
  if (!mpi) return dle_error_set(err, DLE_ENOMEM, "stabilize: out of memory");
  int rc = dle_mp_stream_profile(s->mp, NULL, mpi, err);
  if (!rc) rc = from_profile(mpi, s->ts, np, &s->o, out, err);
  free(mpi);
  return rc;
}
