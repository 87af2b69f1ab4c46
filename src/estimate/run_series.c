/* run_series.c — a stored run as a series of bounded length: the full series for a
 * run of up to max_full samples, else buckets of consecutive samples whose power rows
 * keep every bucket's energy (see dle_estimate_series_load in estimate.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/energy.h"
#include "dlenergy/estimate.h"

enum { P_GPU, P_CPU, P_DRAM, P_RAM, P_N };

/* What a bucket sums, each a trapezoid energy over its intervals:
 *   A_GPU, A_CPU, A_DRAM, A_RAM  the column's own (both ends valid, energy.h's rule)
 *   A_CPU_G, A_RAM_G             CPU and RAM over the intervals where the GPU power has
 *                                both readings, a missing reading counted as 0 W: the
 *                                estimators' combination rule with the GPU as primary
 *   A_RAM_C                      RAM the same way with the CPU as primary (a run
 *                                without GPU power)
 * so that the downsampled GPU + CPU + RAM rows add up to the same energies as the
 * estimators' combined series of the full run. */
enum { A_GPU, A_CPU, A_DRAM, A_RAM, A_CPU_G, A_RAM_G, A_RAM_C, A_N };

/* The bucketing state: rows arrive in order, buckets leave as row pairs in out. */
typedef struct reducer {
  dle_trace *out;
  size_t rows_per_bucket;
  double *edges; /* sorted, unique, finite epoch times */
  size_t n_edges, next_edge;
  /* the previous row (or the split point that started the bucket): raw values (NaN
   * where missing) and the same with a missing value as 0 W */
  bool have_prev;
  double tp, pp[P_N], pz[P_N];
  /* the open bucket */
  double t_start;
  double e_j[A_N];
  bool any[A_N];
  size_t rows;           /* rows added to it (the row that opens it counts) */
  double gu_sum, cu_sum; /* utilization sums */
  size_t gu_n, cu_n;
  double lim_max, rss_max; /* NaN while none */
  size_t n_buckets;
  bool run_has_gpu; /* some bucket has GPU energy */
  /* per bucket, the CPU-primary columns (swapped in at the end for a run without GPU
   * power): the CPU's own mean power and RAM's given the CPU */
  double *cpu_own, *ram_c;
  size_t cap_side;
} reducer;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int out_reserve(dle_trace *t, size_t rows, dle_error *err) {
  if (rows <= t->cap) return DLE_OK;
  size_t cap = t->cap ? t->cap : 256;
  while (cap < rows) cap *= 2;
  double **cols[] = {&t->t_s,         &t->gpu_power_w,  &t->cpu_power_w,       &t->dram_power_w,
                     &t->ram_power_w, &t->gpu_util_pct, &t->gpu_power_limit_w, &t->cpu_util_pct,
                     &t->rss_mib};
  for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
    double *p = realloc(*cols[c], cap * sizeof *p);
    if (!p) return dle_error_set(err, DLE_ENOMEM, "run series: out of memory");
    *cols[c] = p;
  }
  t->cap = cap;
  return DLE_OK;
}

static void bucket_reset(reducer *r, double t) {
  r->t_start = t;
  for (int c = 0; c < A_N; c++) r->e_j[c] = 0, r->any[c] = false;
  r->rows = 0;
  r->gu_sum = r->cu_sum = 0;
  r->gu_n = r->cu_n = 0;
  r->lim_max = r->rss_max = NAN;
}

/* Closes the open bucket at time t_end: two rows, then a new bucket from t_end. */
static int bucket_close(reducer *r, double t_end, dle_error *err) {
  dle_trace *o = r->out;
  int rc = out_reserve(o, o->n + 2, err);
  if (rc) return rc;
  if (r->n_buckets >= r->cap_side) {
    size_t cap = r->cap_side ? 2 * r->cap_side : 1024;
    double *a = realloc(r->cpu_own, cap * sizeof *a);
    if (a) r->cpu_own = a;
    double *b = a ? realloc(r->ram_c, cap * sizeof *b) : NULL;
    if (b) r->ram_c = b;
    if (!a || !b) return dle_error_set(err, DLE_ENOMEM, "run series: out of memory");
    r->cap_side = cap;
  }
  double len = t_end - r->t_start, p[A_N];
  for (int c = 0; c < A_N; c++) p[c] = r->any[c] && len > 0 ? r->e_j[c] / len : NAN;
  if (isfinite(p[A_GPU])) r->run_has_gpu = true;
  r->cpu_own[r->n_buckets] = p[A_CPU];
  r->ram_c[r->n_buckets] = p[A_RAM_C];
  double gu = r->gu_n ? r->gu_sum / (double)r->gu_n : NAN;
  double cu = r->cu_n ? r->cu_sum / (double)r->cu_n : NAN;
  for (int k = 0; k < 2; k++) {
    size_t i = o->n++;
    o->t_s[i] = k ? t_end : r->t_start;
    o->gpu_power_w[i] = p[A_GPU];
    o->cpu_power_w[i] = p[A_CPU_G];
    o->dram_power_w[i] = p[A_DRAM];
    o->ram_power_w[i] = p[A_RAM_G];
    o->gpu_util_pct[i] = gu;
    o->cpu_util_pct[i] = cu;
    o->gpu_power_limit_w[i] = r->lim_max;
    o->rss_mib[i] = r->rss_max;
  }
  r->n_buckets++;
  bucket_reset(r, t_end);
  return DLE_OK;
}

/* Secondary column x given a primary valid at both ends: missing readings as 0 W. */
static void add_given(reducer *r, int acc, double dt, const double *pa, const double *za,
                      const double *pb, const double *zb, int x) {
  r->e_j[acc] += dt * (za[x] + zb[x]) / 2;
  if (isfinite(pa[x]) || isfinite(pb[x])) r->any[acc] = true;
}

static void add_interval(reducer *r, double ta, const double *pa, const double *za, double tb,
                         const double *pb, const double *zb) {
  if (!(tb > ta)) return; /* zero length (or NaN times): contributes nothing */
  double dt = tb - ta;
  for (int c = 0; c < P_N; c++) /* A_GPU..A_RAM are P_GPU..P_RAM */
    if (isfinite(pa[c]) && isfinite(pb[c])) {
      r->e_j[c] += dt * (pa[c] + pb[c]) / 2;
      r->any[c] = true;
    }
  if (isfinite(pa[P_GPU]) && isfinite(pb[P_GPU])) {
    add_given(r, A_CPU_G, dt, pa, za, pb, zb, P_CPU);
    add_given(r, A_RAM_G, dt, pa, za, pb, zb, P_RAM);
  }
  if (isfinite(pa[P_CPU]) && isfinite(pb[P_CPU])) add_given(r, A_RAM_C, dt, pa, za, pb, zb, P_RAM);
}

static void max_in(double *m, double v) {
  if (isfinite(v) && (isnan(*m) || v > *m)) *m = v;
}

static int reducer_add(reducer *r, const dle_energy_row *row, dle_error *err) {
  double t = row->t_s;
  double p[P_N] = {row->gpu_power_w, row->cpu_power_w, row->dram_power_w, row->ram_power_w};
  double z[P_N];
  for (int c = 0; c < P_N; c++) z[c] = isfinite(p[c]) ? p[c] : 0;
  int rc;
  if (!isfinite(t)) { /* a hole in every integral, as the trapezoid rule makes it */
    r->have_prev = false;
    return DLE_OK;
  }
  if (r->out->n == 0 && r->rows == 0 && !r->have_prev) {
    bucket_reset(r, t);
    while (r->next_edge < r->n_edges && r->edges[r->next_edge] <= t) r->next_edge++;
  } else if (r->have_prev && t >= r->tp) {
    /* split the interval at every epoch time strictly inside it, the values there
     * linearly interpolated (NaN when an end is missing; 0-for-missing for the
     * secondary sums) */
    while (r->next_edge < r->n_edges && r->edges[r->next_edge] < t) {
      double tau = r->edges[r->next_edge++];
      if (!(tau > r->tp)) continue;
      double f = (tau - r->tp) / (t - r->tp), pt[P_N], zt[P_N];
      for (int c = 0; c < P_N; c++) {
        pt[c] = r->pp[c] + (p[c] - r->pp[c]) * f;
        zt[c] = r->pz[c] + (z[c] - r->pz[c]) * f;
      }
      add_interval(r, r->tp, r->pp, r->pz, tau, pt, zt);
      if ((rc = bucket_close(r, tau, err))) return rc;
      r->tp = tau;
      memcpy(r->pp, pt, sizeof pt);
      memcpy(r->pz, zt, sizeof zt);
    }
    add_interval(r, r->tp, r->pp, r->pz, t, p, z);
  } else if (r->have_prev) {
    return dle_error_set(err, DLE_EINVAL, "run series: sample times go backwards at %.3f s", t);
  }
  r->have_prev = true;
  r->tp = t;
  memcpy(r->pp, p, sizeof p);
  memcpy(r->pz, z, sizeof z);
  r->rows++;
  if (isfinite(row->gpu_util_pct)) r->gu_sum += row->gpu_util_pct, r->gu_n++;
  if (isfinite(row->cpu_util_pct)) r->cu_sum += row->cpu_util_pct, r->cu_n++;
  max_in(&r->lim_max, row->gpu_power_limit_w);
  max_in(&r->rss_max, row->rss_mib);
  bool at_edge = false;
  while (r->next_edge < r->n_edges && r->edges[r->next_edge] <= t) at_edge = true, r->next_edge++;
  /* a bucket holds rows_per_bucket intervals (its first row opens it) */
  if ((at_edge || r->rows > r->rows_per_bucket) && t > r->t_start) {
    if ((rc = bucket_close(r, t, err))) return rc;
    r->rows = 1; /* the closing row opens the next bucket too */
  }
  return DLE_OK;
}

static int reducer_row(void *ctx, const dle_energy_row *row, dle_error *err) {
  return reducer_add(ctx, row, err);
}

static int reducer_init(reducer *r, dle_trace *out, const dle_epoch *ep, size_t n_ep,
                        size_t n_samples, size_t buckets, dle_error *err) {
  memset(r, 0, sizeof *r);
  memset(out, 0, sizeof *out);
  r->out = out;
  if (buckets == 0) buckets = DLE_SERIES_BUCKETS;
  r->rows_per_bucket = (n_samples + buckets - 1) / buckets;
  if (r->rows_per_bucket < 1) r->rows_per_bucket = 1;
  if (n_ep) {
    r->edges = malloc(2 * n_ep * sizeof *r->edges);
    if (!r->edges) return dle_error_set(err, DLE_ENOMEM, "run series: out of memory");
    for (size_t e = 0; e < n_ep; e++) {
      if (isfinite(ep[e].t_begin_s)) r->edges[r->n_edges++] = ep[e].t_begin_s;
      if (isfinite(ep[e].t_end_s)) r->edges[r->n_edges++] = ep[e].t_end_s;
    }
    qsort(r->edges, r->n_edges, sizeof *r->edges, cmp_double);
    size_t k = 0;
    for (size_t i = 0; i < r->n_edges; i++)
      if (k == 0 || r->edges[i] != r->edges[k - 1]) r->edges[k++] = r->edges[i];
    r->n_edges = k;
  }
  bucket_reset(r, NAN);
  return DLE_OK;
}

/* The last bucket, closed at the last sample. */
static int reducer_finish(reducer *r, size_t *n_buckets, dle_error *err) {
  int rc = DLE_OK;
  if (r->have_prev && r->tp > r->t_start) rc = bucket_close(r, r->tp, err);
  if (!rc && !r->run_has_gpu) {
    /* no GPU power: the CPU is the primary column (estimate.h), RAM given the CPU */
    for (size_t b = 0; b < r->n_buckets; b++)
      for (int k = 0; k < 2; k++) {
        r->out->cpu_power_w[2 * b + k] = r->cpu_own[b];
        r->out->ram_power_w[2 * b + k] = r->ram_c[b];
      }
  }
  free(r->edges);
  free(r->cpu_own);
  free(r->ram_c);
  r->edges = r->cpu_own = r->ram_c = NULL;
  *n_buckets = r->n_buckets;
  return rc;
}

int dle_estimate_series_reduce(const dle_trace *t, const dle_epoch *ep, size_t n_ep, size_t buckets,
                               dle_trace *out, size_t *n_buckets, dle_error *err) {
  reducer r;
  *n_buckets = 0;
  int rc = reducer_init(&r, out, ep, n_ep, t->n, buckets, err);
  for (size_t i = 0; !rc && i < t->n; i++) {
    dle_energy_row row = {.t_s = t->t_s[i],
                          .gpu_power_w = t->gpu_power_w ? t->gpu_power_w[i] : NAN,
                          .cpu_power_w = t->cpu_power_w ? t->cpu_power_w[i] : NAN,
                          .dram_power_w = t->dram_power_w ? t->dram_power_w[i] : NAN,
                          .ram_power_w = t->ram_power_w ? t->ram_power_w[i] : NAN,
                          .gpu_util_pct = t->gpu_util_pct ? t->gpu_util_pct[i] : NAN,
                          .gpu_power_limit_w = t->gpu_power_limit_w ? t->gpu_power_limit_w[i] : NAN,
                          .cpu_util_pct = t->cpu_util_pct ? t->cpu_util_pct[i] : NAN,
                          .rss_mib = t->rss_mib ? t->rss_mib[i] : NAN};
    rc = reducer_add(&r, &row, err);
  }
  if (!rc) rc = reducer_finish(&r, n_buckets, err);
  free(r.edges), free(r.cpu_own), free(r.ram_c);
  if (rc) {
    dle_trace_free(out);
    *n_buckets = 0;
    return rc;
  }
  out->n_gpus = t->n_gpus;
  out->gpus_selected = true;
  return DLE_OK;
}

static int feed(void *ctx, const dle_sample *smp, dle_error *err) {
  return dle_energy_stream_add(ctx, smp, err);
}

int dle_estimate_series_load(dle_store *st, int64_t run_id, const dle_epoch *ep, size_t n_ep,
                             size_t max_full, size_t buckets, dle_trace *out, size_t *n_buckets,
                             dle_error *err) {
  if (!st || !out || !n_buckets)
    return dle_error_set(err, DLE_EINVAL, "run series: missing argument");
  memset(out, 0, sizeof *out);
  *n_buckets = 0;
  if (max_full == 0) max_full = DLE_SERIES_FULL_MAX;
  int64_t n = 0;
  int rc = dle_store_count_samples(st, run_id, &n, err);
  if (rc) return rc;
  if (n <= (int64_t)max_full) return dle_energy_load_series(st, run_id, out, err);
  uint32_t idx[DLE_MAX_GPUS];
  size_t ni = 0;
  rc = dle_store_headline_gpus(st, run_id, idx, &ni, err);
  if (rc) return rc;
  reducer r;
  if ((rc = reducer_init(&r, out, ep, n_ep, (size_t)n, buckets, err))) return rc;
  dle_energy_stream *s = NULL;
  rc = dle_energy_stream_new(idx, ni, NULL, 0, &s, err);
  if (!rc) {
    dle_energy_stream_on_row(s, reducer_row, &r);
    rc = dle_store_foreach_sample(st, run_id, feed, s, err);
    dle_energy_stream_result res;
    if (!rc) rc = dle_energy_stream_finish(s, &res, NULL, err);
    if (!rc) out->n_gpus = res.parts.n_devices;
  }
  dle_energy_stream_free(s);
  uint32_t n_gpus = out->n_gpus;
  if (!rc) rc = reducer_finish(&r, n_buckets, err);
  free(r.edges), free(r.cpu_own), free(r.ram_c);
  if (rc) {
    dle_trace_free(out);
    *n_buckets = 0;
  }
  if (rc == DLE_EUNSUPPORTED) {
    /* a run the stream does not handle: read whole, then downsampled the same way */
    dle_trace whole = {0};
    rc = dle_energy_load_series(st, run_id, &whole, err);
    if (!rc) rc = dle_estimate_series_reduce(&whole, ep, n_ep, buckets, out, n_buckets, err);
    dle_trace_free(&whole);
    return rc;
  }
  if (!rc) {
    out->n_gpus = n_gpus;
    out->gpus_selected = true;
  }
  return rc;
}

int dle_estimate_stabilize(const dle_trace *t, size_t n_buckets, double cutoff_s,
                           const dle_epoch *epochs, size_t n_epochs, const dle_stabilize_opts *opts,
                           dle_stabilize_result *out, dle_error *err) {
  if (!t) return dle_error_set(err, DLE_EINVAL, "stabilize: no trace");
  if (n_buckets == 0) return dle_stabilize_trace(t, cutoff_s, epochs, n_epochs, opts, out, err);
  size_t nb = t->n / 2;
  double *x = malloc((nb ? nb : 1) * sizeof *x), *ts = malloc((nb ? nb : 1) * sizeof *ts);
  if (!x || !ts) {
    free(x), free(ts);
    return dle_error_set(err, DLE_ENOMEM, "stabilize: out of memory");
  }
  size_t n = 0;
  for (size_t b = 0; b < nb; b++) {
    double tb = t->t_s[2 * b], p = t->gpu_power_w[2 * b];
    if (!isnan(cutoff_s) && tb > cutoff_s) break;
    if (!isfinite(p) || !isfinite(tb)) continue;
    x[n] = p;
    ts[n] = tb;
    n++;
  }
  int rc = n ? dle_stabilize_series(x, ts, n, opts, out, err)
             : dle_error_set(err, DLE_ERANGE, "stabilize: no GPU power samples before the cut-off");
  free(x), free(ts);
  if (rc) return rc;
  out->epoch = -1;
  for (size_t e = 0; epochs && e < n_epochs; e++)
    if (!isnan(epochs[e].t_end_s) && out->t_s <= epochs[e].t_end_s) {
      out->epoch = (int)e;
      break;
    }
  return DLE_OK;
}
