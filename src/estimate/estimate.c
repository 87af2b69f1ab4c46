/* estimate.c — the estimators behind dle_estimate_project (see estimate.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/energy.h"
#include "dlenergy/estimate.h"

/* Green Algorithms' memory power, W per GB of memory available. */
#define GA_W_PER_GB 0.3725

static const char *const method_names[DLE_EST_COUNT] = {
    "mlco2", "ga", "carbontracker", "flops", "step-power", "step-energy", "step-auto",
    "step-remain"};

const char *dle_estimate_method_name(dle_estimate_method m) {
  return (unsigned)m < DLE_EST_COUNT ? method_names[m] : "?";
}

int dle_estimate_method_parse(const char *s, dle_estimate_method *out, dle_error *err) {
  for (int i = 0; s && i < DLE_EST_COUNT; i++)
    if (strcmp(s, method_names[i]) == 0) {
      *out = (dle_estimate_method)i;
      return DLE_OK;
    }
  return dle_error_set(err, DLE_EINVAL,
                       "unknown method '%s' (mlco2, ga, carbontracker, flops, step-power, "
                       "step-energy, step-auto, step-remain)",
                       s ? s : "");
}

int dle_estimate_method_components(dle_estimate_method m, bool gpu_only, bool have_cpu_facts) {
  switch (m) {
    case DLE_EST_MLCO2:
    case DLE_EST_FLOPS: return DLE_EST_GPU;
    case DLE_EST_GA:
      if (gpu_only) return DLE_EST_GPU;
      return DLE_EST_GPU | DLE_EST_RAM | (have_cpu_facts ? DLE_EST_CPU : 0);
    default: return gpu_only ? DLE_EST_GPU : DLE_EST_GPU | DLE_EST_RAM;
  }
}

void dle_estimate_input_init(dle_estimate_input *in) {
  memset(in, 0, sizeof *in);
  in->cutoff_s = NAN;
  in->gpu_tdp_w = NAN;
  in->host_ram_gb = NAN;
  in->cpu_tdp_w = NAN;
  in->pue = 1;
  in->gflops_forward = NAN;
  in->samples_per_epoch = NAN;
  in->gpu_peak_flops = NAN;
  in->flops_utilization = 0.3;
  in->stable_epoch = 10;
  in->window_epochs = 5;
  in->carbontracker_k = 1;
  in->window_s = 0;
  in->start_s = NAN;
  in->at_fraction = NAN;
  in->detected_until_s = NAN;
  in->tail_fraction = DLE_EST_REMAIN_TAIL;
  in->bound_k = DLE_EST_REMAIN_BOUND_K;
  dle_stabilize_opts_init(&in->stab);
  in->stab.n_regimes = 3;
}

/* ---- what is known at the cut-off ---- */

typedef struct ctx {
  const dle_estimate_input *in;
  const dle_trace *tr;
  size_t n;          /* samples up to the cut-off */
  double t0, t_cut;  /* trace start, cut-off time */
  double t_last;     /* last sample of the whole trace */
  double t_seen;     /* latest time whose data the method read (default t_cut) */
  int k;             /* completed epochs used (epoch mode) */
  bool complete;     /* measured total duration known */
  bool time_mode;
  int N;             /* planned epochs (0 unknown) */
  int comps;         /* components of the power series p */
  double *p;         /* combined power up to the cut-off */
  dle_error *err;
} ctx;

static double epoch_begin(const ctx *c, int e) {
  const dle_epoch *ep = c->in->epochs;
  if (!isnan(ep[e].t_begin_s)) return ep[e].t_begin_s;
  return e > 0 ? ep[e - 1].t_end_s : c->t0;
}

static double epoch_end(const ctx *c, int e) { return c->in->epochs[e].t_end_s; }

static int energy_between(const ctx *c, double a, double b, double *out) {
  if (!(b >= a)) return dle_error_set(c->err, DLE_EINVAL, "window [%g, %g] s is empty", a, b);
  if (dle_energy_between_j(c->tr->t_s, c->p, c->n, a, b, out) != 0)
    return dle_error_set(c->err, DLE_EINVAL, "sample times go backwards before %.1f s", b);
  if (isnan(*out))
    return dle_error_set(c->err, DLE_ERANGE, "no power samples in [%.1f, %.1f] s", a, b);
  return DLE_OK;
}

/* Combined power of the components in comps at sample i. The primary component (GPU
 * when in comps, else CPU) leaves a gap where it is NaN; a missing RAM (or secondary
 * CPU) reading counts as 0 W. */
static double combined_w(const dle_trace *t, size_t i, int comps) {
  double v;
  if (comps & DLE_EST_GPU) {
    v = t->gpu_power_w[i];
    if ((comps & DLE_EST_CPU) && isfinite(t->cpu_power_w[i])) v += t->cpu_power_w[i];
  } else {
    v = t->cpu_power_w[i];
  }
  if ((comps & DLE_EST_RAM) && isfinite(t->ram_power_w[i])) v += t->ram_power_w[i];
  return v;
}

/* Power series of the components a method wants that the trace has. A trace with no
 * GPU power at all (a CPU-only run) is modelled with its CPU power instead. */
static int build_power(ctx *c, int want) {
  const dle_trace *t = c->tr;
  int have_gpu = 0, have_ram = 0, have_cpu = 0;
  for (size_t i = 0; i < c->n; i++) {
    if (isfinite(t->gpu_power_w[i])) have_gpu = 1;
    if (isfinite(t->ram_power_w[i])) have_ram = 1;
    if (isfinite(t->cpu_power_w[i])) have_cpu = 1;
  }
  if (have_gpu)
    c->comps = DLE_EST_GPU | ((want & DLE_EST_CPU) && have_cpu ? DLE_EST_CPU : 0);
  else if (have_cpu)
    c->comps = DLE_EST_CPU;
  else
    return dle_error_set(c->err, DLE_ERANGE, "the trace has no GPU or CPU power");
  if ((want & DLE_EST_RAM) && have_ram) c->comps |= DLE_EST_RAM;
  free(c->p);
  c->p = malloc((c->n ? c->n : 1) * sizeof *c->p);
  if (!c->p) return dle_error_set(c->err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < c->n; i++) c->p[i] = combined_w(t, i, c->comps);
  return DLE_OK;
}

static const char *comps_str(int comps) {
  switch (comps) {
    case DLE_EST_GPU: return "GPU";
    case DLE_EST_GPU | DLE_EST_RAM: return "GPU+RAM";
    case DLE_EST_GPU | DLE_EST_CPU: return "GPU+CPU";
    case DLE_EST_CPU: return "CPU";
    case DLE_EST_CPU | DLE_EST_RAM: return "CPU+RAM";
    default: return "GPU+RAM+CPU";
  }
}

static int setup(ctx *c, const dle_estimate_input *in, dle_estimate_method m, dle_error *err) {
  memset(c, 0, sizeof *c);
  c->in = in;
  c->err = err;
  c->tr = in->trace;
  if (!in->trace || in->trace->n < 2)
    return dle_error_set(err, DLE_ERANGE, "the trace has fewer than 2 samples");
  if (in->n_epochs && !in->epochs) return dle_error_set(err, DLE_EINVAL, "epochs missing");
  const dle_trace *t = in->trace;
  c->t0 = t->t_s[0];
  c->t_last = t->t_s[t->n - 1];
  c->time_mode = in->window_s > 0 || in->n_epochs == 0;
  if (in->at_epoch < 0 || (size_t)in->at_epoch > in->n_epochs)
    return dle_error_set(err, DLE_ERANGE, "cut-off epoch %d but only %zu epochs are known",
                         in->at_epoch, in->n_epochs);
  c->k = in->at_epoch ? in->at_epoch : (int)in->n_epochs;
  for (int e = 0; e < c->k; e++)
    if (isnan(in->epochs[e].t_end_s))
      return dle_error_set(err, DLE_ERANGE, "epoch %d has not ended", in->epochs[e].index);
  if (in->n_epochs && c->k < (int)in->n_epochs) {
    c->complete = false; /* projecting as it would have been at epoch k */
    c->t_cut = epoch_end(c, c->k - 1);
  } else {
    c->complete = in->run_complete;
    c->t_cut = isnan(in->cutoff_s) || in->run_complete ? c->t_last : in->cutoff_s;
    if (!c->complete && c->k > 0 && isnan(in->cutoff_s)) c->t_cut = epoch_end(c, c->k - 1);
    /* A finished run seen as it was at a fraction of its (known) duration. */
    double f = in->at_fraction;
    if (isnan(f) && m == DLE_EST_STEP_REMAIN) f = DLE_EST_REMAIN_FRACTION;
    if (c->complete && f > 0 && f < 1) {
      c->t_cut = c->t0 + f * (c->t_last - c->t0);
      int k = 0;
      while (k < c->k && in->epochs[k].t_end_s <= c->t_cut) k++;
      c->k = k;
    }
  }
  c->t_seen = c->t_cut;
  size_t n = 0;
  while (n < t->n && t->t_s[n] <= c->t_cut) n++;
  /* plus the first sample after the cut-off: it closes the interval that straddles it,
   * so an epoch ending between two samples gets its energy interpolated up to its end */
  if (n < t->n) n++;
  c->n = n;
  if (n < 2) return dle_error_set(err, DLE_ERANGE, "fewer than 2 samples before the cut-off");
  c->N = in->epochs_total > 0 ? in->epochs_total : (in->run_complete ? (int)in->n_epochs : 0);
  return DLE_OK;
}

static double trace_tdp(const ctx *c) {
  if (isfinite(c->in->gpu_tdp_w) && c->in->gpu_tdp_w > 0) return c->in->gpu_tdp_w;
  double mx = NAN;
  for (size_t i = 0; i < c->n; i++) {
    double v = c->tr->gpu_power_limit_w[i];
    if (isfinite(v) && (isnan(mx) || v > mx)) mx = v;
  }
  return mx;
}

/* Total duration: measured when complete; else elapsed + (N-k) x mean epoch duration
 * of epochs [e0, e1), with min/max for the bounds. */
static int duration(const ctx *c, int e0, int e1, double *d, double *dlo, double *dhi,
                    char *why, size_t whylen) {
  if (c->complete) {
    *d = *dlo = *dhi = c->t_last - c->t0;
    snprintf(why, whylen, "measured duration %.0f s", *d);
    return DLE_OK;
  }
  if (c->k == 0)
    return dle_error_set(c->err, DLE_ERANGE,
                         "a run without epochs can only be estimated once it is over "
                         "(its total duration is unknown before)");
  if (c->N <= 0)
    return dle_error_set(c->err, DLE_EINVAL,
                         "the planned number of epochs is unknown (epochs_total / --epochs)");
  if (c->N < c->k)
    return dle_error_set(c->err, DLE_EINVAL, "planned epochs %d < completed epochs %d", c->N,
                         c->k);
  if (e1 <= e0) return dle_error_set(c->err, DLE_ERANGE, "no completed epoch to time");
  double sum = 0, mn = INFINITY, mx = -INFINITY;
  for (int e = e0; e < e1; e++) {
    double de = epoch_end(c, e) - epoch_begin(c, e);
    sum += de;
    mn = fmin(mn, de);
    mx = fmax(mx, de);
  }
  double elapsed = c->t_cut - c->t0, rem = (double)(c->N - c->k);
  *d = elapsed + rem * sum / (e1 - e0);
  *dlo = elapsed + rem * mn;
  *dhi = elapsed + rem * mx;
  snprintf(why, whylen, "duration projected: %.0f s elapsed + %d epochs x %.1f s", elapsed,
           c->N - c->k, sum / (e1 - e0));
  return DLE_OK;
}

static void result_init(dle_estimate_result *r, dle_estimate_method m) {
  memset(r, 0, sizeof *r);
  snprintf(r->method, sizeof r->method, "%s", dle_estimate_method_name(m));
  r->total_j = r->lower_j = r->upper_j = r->duration_s = r->mean_power_w = NAN;
  r->window_start_s = r->window_end_s = NAN;
  r->seen_s = r->fraction_seen = r->period_s = NAN;
  r->stable_epoch = -1;
}

static double mean_col(const double *col, size_t n) {
  double s = 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(col[i])) s += col[i], k++;
  return k ? s / (double)k : NAN;
}

static int est_mlco2(ctx *c, dle_estimate_result *r) {
  double tdp = trace_tdp(c);
  if (!isfinite(tdp))
    return dle_error_set(c->err, DLE_EINVAL, "needs the GPU TDP (gpu_tdp_w / --tdp)");
  double d, dlo, dhi;
  char why[160];
  int rc = duration(c, 0, c->k, &d, &dlo, &dhi, why, sizeof why);
  if (rc) return rc;
  r->mean_power_w = tdp;
  r->duration_s = d;
  r->total_j = tdp * d;
  r->lower_j = tdp * dlo;
  r->upper_j = tdp * dhi;
  r->components = DLE_EST_GPU;
  snprintf(r->assumptions, sizeof r->assumptions,
           "E = TDP %.1f W x duration; %s; GPU only; %s", tdp, why,
           c->complete ? "no spread (finished run)" : "bound from the epoch durations");
  return DLE_OK;
}

static int est_ga(ctx *c, dle_estimate_result *r) {
  const dle_estimate_input *in = c->in;
  double tdp = trace_tdp(c);
  if (!isfinite(tdp))
    return dle_error_set(c->err, DLE_EINVAL, "needs the GPU TDP (gpu_tdp_w / --tdp)");
  double u = mean_col(c->tr->gpu_util_pct, c->n);
  if (!isfinite(u)) return dle_error_set(c->err, DLE_EINVAL, "needs GPU utilization samples");
  double p = tdp * u / 100;
  int comps = DLE_EST_GPU;
  char extra[200] = "";
  if (!in->gpu_only) {
    double ram_gb = in->host_ram_gb;
    const char *src = "host RAM";
    if (!(ram_gb > 0)) {
      double mx = NAN;
      for (size_t i = 0; i < c->n; i++)
        if (isfinite(c->tr->rss_mib[i]) && (isnan(mx) || c->tr->rss_mib[i] > mx))
          mx = c->tr->rss_mib[i];
      ram_gb = mx / 1024;
      src = "peak RSS";
    }
    if (isfinite(ram_gb)) {
      p += ram_gb * GA_W_PER_GB;
      comps |= DLE_EST_RAM;
      size_t o = strlen(extra);
      snprintf(extra + o, sizeof extra - o, " + %s %.2f GB x %.4f W/GB", src, ram_gb,
               GA_W_PER_GB);
    }
    double cu = mean_col(c->tr->cpu_util_pct, c->n);
    if (in->cpu_cores > 0 && isfinite(in->cpu_tdp_w) && isfinite(cu)) {
      /* cores x (TDP / cores) W per core x usage */
      p += in->cpu_tdp_w * cu / 100;
      comps |= DLE_EST_CPU;
      size_t o = strlen(extra);
      snprintf(extra + o, sizeof extra - o, " + %d cores x %.2f W x usage %.1f%%",
               in->cpu_cores, in->cpu_tdp_w / in->cpu_cores, cu);
    }
  }
  double d, dlo, dhi;
  char why[160];
  int rc = duration(c, 0, c->k, &d, &dlo, &dhi, why, sizeof why);
  if (rc) return rc;
  double pue = in->pue >= 1 ? in->pue : 1;
  r->mean_power_w = p;
  r->duration_s = d;
  r->total_j = p * d * pue;
  r->lower_j = p * dlo * pue;
  r->upper_j = p * dhi * pue;
  r->components = comps;
  snprintf(r->assumptions, sizeof r->assumptions,
           "E = (TDP %.1f W x GPU usage %.1f%%%s) x duration x PUE %.2f; %s", tdp, u, extra, pue,
           why);
  return DLE_OK;
}

static int per_epoch_energy(ctx *c, int e, double *ej, double *dur) {
  double a = epoch_begin(c, e), b = epoch_end(c, e);
  *dur = b - a;
  return energy_between(c, a, b, ej);
}

static int est_carbontracker(ctx *c, dle_estimate_result *r) {
  int kk = c->in->carbontracker_k > 0 ? c->in->carbontracker_k : 1;
  if (c->time_mode)
    return dle_error_set(c->err, DLE_EINVAL, "needs epoch markers");
  if (c->k < kk)
    return dle_error_set(c->err, DLE_ERANGE, "needs %d completed epochs, have %d",
                         kk, c->k);
  if (c->N <= 0)
    return dle_error_set(c->err, DLE_EINVAL,
                         "the planned number of epochs is unknown (epochs_total / --epochs)");
  int rc = build_power(c, dle_estimate_method_components(DLE_EST_CARBONTRACKER,
                                                         c->in->gpu_only, false));
  if (rc) return rc;
  double sum = 0, mn = INFINITY, mx = -INFINITY, durs = 0;
  for (int e = 0; e < kk; e++) {
    double ej, de;
    if ((rc = per_epoch_energy(c, e, &ej, &de))) return rc;
    sum += ej, durs += de;
    mn = fmin(mn, ej), mx = fmax(mx, ej);
  }
  c->t_seen = epoch_end(c, kk - 1);
  r->total_j = sum * c->N / kk;
  r->lower_j = mn * c->N;
  r->upper_j = mx * c->N;
  r->duration_s = durs * c->N / kk;
  r->mean_power_w = sum / durs;
  r->components = c->comps;
  snprintf(r->assumptions, sizeof r->assumptions,
           "E = energy of the first %d epoch(s) %.1f J x N %d / %d; %s; setup and tail "
           "outside epochs not counted",
           kk, sum, c->N, kk, comps_str(c->comps));
  return DLE_OK;
}

static int est_flops(ctx *c, dle_estimate_result *r) {
  const dle_estimate_input *in = c->in;
  double tdp = trace_tdp(c);
  if (!(in->gflops_forward > 0) || !(in->samples_per_epoch > 0) || !(in->gpu_peak_flops > 0))
    return dle_error_set(c->err, DLE_EINVAL,
                         "needs forward GFLOPs, samples per epoch and the GPU's peak "
                         "FLOP/s (gflops / --gflops, training_size, --peak-tflops)");
  if (!isfinite(tdp)) return dle_error_set(c->err, DLE_EINVAL, "needs the GPU TDP");
  if (c->N <= 0)
    return dle_error_set(c->err, DLE_EINVAL, "needs the planned number of epochs");
  double u = in->flops_utilization > 0 && in->flops_utilization <= 1 ? in->flops_utilization : 0.3;
  double flops = 3 * in->gflops_forward * 1e9 * in->samples_per_epoch * c->N;
  double tsec = flops / (in->gpu_peak_flops * u);
  double ulo = fmin(1, u * 1.5), uhi = u / 2;
  r->duration_s = tsec;
  r->mean_power_w = tdp;
  r->total_j = tsec * tdp;
  r->lower_j = flops / (in->gpu_peak_flops * ulo) * tdp;
  r->upper_j = flops / (in->gpu_peak_flops * uhi) * tdp;
  r->components = DLE_EST_GPU;
  snprintf(r->assumptions, sizeof r->assumptions,
           "E = 3 x %.4g GFLOP x %.0f samples x %d epochs / (%.4g TFLOP/s x utilization %.2f) "
           "x TDP %.1f W; bound: utilization x1.5 .. /2",
           in->gflops_forward, in->samples_per_epoch, c->N, in->gpu_peak_flops / 1e12, u, tdp);
  return DLE_OK;
}

/* Window start for the automatic variants: FLUSS over the power up to `cut` with
 * in->stab.n_regimes regimes (3 by default: warm-up, a first phase such as training a
 * classifier head, the final regime); the start is the LATEST change found, i.e.
 * where the last regime before the window begins. */
static int detect_start(ctx *c, double cut, const dle_epoch *ep, size_t n_ep, double *t_out,
                        int *epoch_pos) {
  dle_stabilize_result sr;
  if (!(cut > c->t0))
    return dle_error_set(c->err, DLE_ERANGE, "no room for a window after a stabilizing point");
  if (c->in->detected && c->in->detected_until_s == cut) {
    sr = *c->in->detected; /* made incrementally over the same points (live) */
  } else {
    int rc = dle_estimate_stabilize(c->tr, c->in->trace_buckets, cut, ep, n_ep, &c->in->stab,
                                    &sr, c->err);
    if (rc) return dle_error_prefix(c->err, "detecting the stabilizing point: ");
  }
  if (sr.n_changes == 0)
    return dle_error_set(c->err, DLE_ERANGE, "detecting the stabilizing point: no change");
  double t = sr.change_t_s[sr.n_changes - 1];
  *t_out = t;
  if (epoch_pos) {
    *epoch_pos = -1;
    for (size_t e = 0; e < n_ep; e++)
      if (t <= ep[e].t_end_s) {
        *epoch_pos = (int)e;
        break;
      }
  }
  return DLE_OK;
}

/* Time-window step-power: mean power over [start, start + W] x measured duration. */
static int est_step_time(ctx *c, dle_estimate_method m, dle_estimate_result *r) {
  const dle_estimate_input *in = c->in;
  double W = in->window_s > 0 ? in->window_s : 300;
  double start = in->start_s;
  char how[96];
  if (m == DLE_EST_STEP_ENERGY || m == DLE_EST_CARBONTRACKER)
    return dle_error_set(c->err, DLE_EINVAL, "needs epoch markers");
  if (isnan(start) || m == DLE_EST_STEP_AUTO) {
    /* search only where a whole window still fits before the cut-off */
    int rc = detect_start(c, c->t_cut - W, NULL, 0, &start, NULL);
    if (rc) return rc;
    snprintf(how, sizeof how, "detected stabilizing point %.1f s", start);
  } else {
    snprintf(how, sizeof how, "start %.1f s", start);
  }
  if (!(start < c->t_cut))
    return dle_error_set(c->err, DLE_ERANGE, "window start %.1f s is after the cut-off %.1f s",
                         start, c->t_cut);
  double end = fmin(start + W, c->t_cut);
  int rc = build_power(c, dle_estimate_method_components(m, in->gpu_only, false));
  if (rc) return rc;
  double ew;
  if ((rc = energy_between(c, start, end, &ew))) return rc;
  double len = end - start;
  if (!(len > 0)) return dle_error_set(c->err, DLE_ERANGE, "empty window");
  int parts = in->window_epochs > 0 ? in->window_epochs : 5;
  double mn = INFINITY, mx = -INFINITY;
  for (int q = 0; q < parts; q++) {
    double a = start + len * q / parts, b = start + len * (q + 1) / parts, e;
    if ((rc = energy_between(c, a, b, &e))) return rc;
    mn = fmin(mn, e / (b - a));
    mx = fmax(mx, e / (b - a));
  }
  double d, dlo, dhi;
  char why[160];
  if ((rc = duration(c, 0, c->k, &d, &dlo, &dhi, why, sizeof why))) return rc;
  double pm = ew / len;
  r->mean_power_w = pm;
  r->duration_s = d;
  r->total_j = pm * d;
  r->lower_j = mn * dlo;
  r->upper_j = mx * dhi;
  r->window_start_s = start;
  r->window_end_s = end;
  r->components = c->comps;
  /* the detector read the power up to cut - W (auto); the window up to its end */
  c->t_seen = end;
  if (isnan(in->start_s) || m == DLE_EST_STEP_AUTO) c->t_seen = fmax(end, c->t_cut - W);
  snprintf(r->assumptions, sizeof r->assumptions,
           "E = mean %s power %.2f W over [%.1f, %.1f] s (%s%s) x %s; bound: min/max over %d "
           "sub-windows",
           comps_str(c->comps), pm, start, end, how, end < start + W ? ", window cut short" : "",
           why, parts);
  return DLE_OK;
}

static int est_step_epochs(ctx *c, dle_estimate_method m, dle_estimate_result *r) {
  const dle_estimate_input *in = c->in;
  int s = in->stable_epoch, w = in->window_epochs;
  char how[96];
  if (w <= 0) return dle_error_set(c->err, DLE_EINVAL, "window of %d epochs", w);
  if (m == DLE_EST_STEP_AUTO) {
    /* search only where w whole epochs still fit before the cut-off */
    if (c->k - w < 1)
      return dle_error_set(c->err, DLE_ERANGE, "needs more than w = %d epochs", w);
    double ts = NAN;
    int ep_pos = -1;
    int rc = detect_start(c, epoch_end(c, c->k - w - 1), in->epochs, (size_t)(c->k - w), &ts,
                          &ep_pos);
    if (rc) return rc;
    if (ep_pos < 0)
      return dle_error_set(c->err, DLE_ERANGE, "stabilizing point %.1f s is in no epoch", ts);
    s = ep_pos + 1; /* first epoch that starts after the change */
    snprintf(how, sizeof how, "s = %d from the stabilizing point %.1f s in epoch %d", s, ts,
             in->epochs[ep_pos].index);
  } else {
    snprintf(how, sizeof how, "s = %d", s);
  }
  if (s < 0) return dle_error_set(c->err, DLE_EINVAL, "stabilizing epoch %d < 0", s);
  if (c->k < s + w)
    return dle_error_set(c->err, DLE_ERANGE, "needs %d completed epochs (s=%d, w=%d), have %d",
                         s + w, s, w, c->k);
  int rc = build_power(c, dle_estimate_method_components(m, in->gpu_only, false));
  if (rc) return rc;
  double ew = 0, dw = 0, pmn = INFINITY, pmx = -INFINITY, emn = INFINITY, emx = -INFINITY;
  for (int e = s; e < s + w; e++) {
    double ej, de;
    if ((rc = per_epoch_energy(c, e, &ej, &de))) return rc;
    if (!(de > 0)) return dle_error_set(c->err, DLE_EPARSE, "epoch %d has no duration", e);
    pmn = fmin(pmn, ej / de), pmx = fmax(pmx, ej / de);
    emn = fmin(emn, ej), emx = fmax(emx, ej);
  }
  /* The window is the whole span from the start of epoch s to the end of epoch
   * s+w-1, so time between one epoch's end and the next one's begin marker (e.g.
   * validation outside the markers) is part of the energy that is scaled up. */
  double wa = epoch_begin(c, s), wb = epoch_end(c, s + w - 1);
  if ((rc = energy_between(c, wa, wb, &ew))) return rc;
  dw = wb - wa;
  if (!(dw > 0)) return dle_error_set(c->err, DLE_EPARSE, "the window has no duration");
  double d, dlo, dhi;
  char why[160];
  if ((rc = duration(c, s, s + w, &d, &dlo, &dhi, why, sizeof why))) return rc;
  r->stable_epoch = s;
  r->window_start_s = epoch_begin(c, s);
  r->window_end_s = epoch_end(c, s + w - 1);
  c->t_seen = r->window_end_s;
  if (m == DLE_EST_STEP_AUTO) c->t_seen = fmax(c->t_seen, epoch_end(c, c->k - w - 1));
  r->duration_s = d;
  r->components = c->comps;
  if (m == DLE_EST_STEP_ENERGY) {
    if (c->N <= 0)
      return dle_error_set(c->err, DLE_EINVAL,
                           "the planned number of epochs is unknown (epochs_total / --epochs)");
    double eb;
    if ((rc = energy_between(c, c->t0, r->window_start_s, &eb))) return rc;
    int stable = c->N - s;
    r->mean_power_w = ew / dw;
    r->total_j = eb + ew * stable / w;
    r->lower_j = eb + emn * stable;
    r->upper_j = eb + emx * stable;
    snprintf(r->assumptions, sizeof r->assumptions,
             "E = %.1f J before epoch s + window of %d epochs %.1f J x (N %d - s) / %d; %s; %s; "
             "bound: min/max window epoch energy",
             eb, w, ew, c->N, w, how, comps_str(c->comps));
  } else {
    double pm = ew / dw;
    r->mean_power_w = pm;
    r->total_j = pm * d;
    r->lower_j = pmn * dlo;
    r->upper_j = pmx * dhi;
    snprintf(r->assumptions, sizeof r->assumptions,
             "E = mean %s power %.2f W over epochs %d..%d (%s, w = %d) x %s; bound: min/max "
             "epoch power and duration",
             comps_str(c->comps), pm, s, s + w - 1, how, w, why);
  }
  return DLE_OK;
}

/* ---- step-remain: measured so far + a robust level over whole periods ---- */

/* Power at 1-s steps over [a, b] by linear interpolation between finite samples; *n_out
 * points. NULL when there are fewer than 2 finite samples in range. */
static double *grid_1s(const ctx *c, double a, double b, size_t *n_out) {
  size_t n = (size_t)floor(b - a) + 1, j = 0;
  double *g = malloc(n * sizeof *g);
  if (!g) return NULL;
  size_t got = 0;
  size_t prev = SIZE_MAX; /* last finite sample at or before the grid point */
  for (size_t i = 0; i < n; i++) {
    double t = a + (double)i;
    while (j < c->n && c->tr->t_s[j] <= t) {
      if (isfinite(c->p[j])) prev = j;
      j++;
    }
    size_t nx = j;
    while (nx < c->n && !isfinite(c->p[nx])) nx++;
    if (prev == SIZE_MAX && nx >= c->n) continue;
    double v;
    if (prev == SIZE_MAX)
      v = c->p[nx];
    else if (nx >= c->n || c->tr->t_s[nx] <= c->tr->t_s[prev])
      v = c->p[prev];
    else
      v = c->p[prev] + (c->p[nx] - c->p[prev]) * (t - c->tr->t_s[prev]) /
                           (c->tr->t_s[nx] - c->tr->t_s[prev]);
    g[got++] = v;
  }
  if (got < 2) {
    free(g);
    return NULL;
  }
  *n_out = got;
  return g;
}

/* Dominant period (s) of x[0..n) at 1-s steps: the highest local maximum of the
 * overlap-normalized autocorrelation between 10 s and min(n/2, 1800) s that is >= 0.3
 * (a training + validation cycle repeats clearly): the shortest lag whose peak reaches
 * 0.8 x the highest. NaN when none. */
static double find_period(const double *x, size_t n) {
  const size_t pmin = 10, pmax = n / 2 < 1800 ? n / 2 : 1800;
  if (pmax < pmin + 2) return NAN;
  double mean = 0, var = 0;
  for (size_t i = 0; i < n; i++) mean += x[i];
  mean /= (double)n;
  for (size_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  var /= (double)n;
  if (!(var > 0)) return NAN;
  double *ac = malloc((pmax + 1) * sizeof *ac);
  if (!ac) return NAN;
  for (size_t k = pmin - 1; k <= pmax; k++) {
    double s = 0;
    for (size_t i = 0; i + k < n; i++) s += (x[i] - mean) * (x[i + k] - mean);
    ac[k] = s / (double)(n - k) / var;
  }
  /* the fundamental: the shortest lag whose peak is >= 0.8 x the highest (multiples of
   * the period peak about as high) */
  double bv = 0.3;
  for (size_t k = pmin; k < pmax; k++)
    if (ac[k] >= ac[k - 1] && ac[k] >= ac[k + 1] && ac[k] >= bv) bv = ac[k];
  double best = NAN;
  for (size_t k = pmin; k < pmax && isnan(best); k++)
    if (ac[k] >= ac[k - 1] && ac[k] >= ac[k + 1] && ac[k] >= 0.3 && ac[k] >= 0.8 * bv)
      best = (double)k;
  free(ac);
  return best;
}

static int est_step_remain(ctx *c, dle_estimate_result *r) {
  const dle_estimate_input *in = c->in;
  int rc = build_power(c, dle_estimate_method_components(DLE_EST_STEP_REMAIN, in->gpu_only,
                                                         false));
  if (rc) return rc;
  double seen = c->t_cut - c->t0;
  if (!(seen >= 20))
    return dle_error_set(c->err, DLE_ERANGE, "needs at least 20 s before the cut-off, have %.1f s",
                         seen);
  double q = in->tail_fraction > 0 && in->tail_fraction <= 1 ? in->tail_fraction
                                                             : DLE_EST_REMAIN_TAIL;
  /* The period from the second half of what was seen (at most its last 2 h). */
  double pa = fmax(c->t0 + seen / 2, c->t_cut - 7200);
  size_t ng = 0;
  double *g = grid_1s(c, pa, c->t_cut, &ng);
  double period = g ? find_period(g, ng) : NAN;
  free(g);
  double len = q * seen, a = c->t_cut - len;
  int n_periods = 0;
  if (isfinite(period)) {
    n_periods = (int)floor(len / period + 0.5);
    if (n_periods < 1) n_periods = 1;
    a = c->t_cut - n_periods * period;
    if (a < c->t0) a = c->t0, n_periods = 0;
  }
  double e_seen, e_tail;
  if ((rc = energy_between(c, c->t0, c->t_cut, &e_seen))) return rc;
  if ((rc = energy_between(c, a, c->t_cut, &e_tail))) return rc;
  double level = e_tail / (c->t_cut - a);
  /* spread: population s.d. of the means of 5 equal sub-windows of the tail */
  double sub[5], sm = 0, sd = 0;
  for (int u = 0; u < 5; u++) {
    double ua = a + (c->t_cut - a) * u / 5, ub = a + (c->t_cut - a) * (u + 1) / 5, e;
    if ((rc = energy_between(c, ua, ub, &e))) return rc;
    sub[u] = e / (ub - ua);
    sm += sub[u] / 5;
  }
  for (int u = 0; u < 5; u++) sd += (sub[u] - sm) * (sub[u] - sm) / 5;
  sd = sqrt(sd);
  double rem, rlo, rhi;
  char why[160];
  if (c->complete) {
    rem = rlo = rhi = c->t_last - c->t_cut;
    snprintf(why, sizeof why, "measured duration %.0f s", c->t_last - c->t0);
  } else {
    if (c->time_mode && c->k == 0)
      return dle_error_set(c->err, DLE_ERANGE,
                           "a run without epochs can only be projected once its total "
                           "duration is known (it is over)");
    int e0 = 0;
    while (e0 < c->k - 1 && epoch_begin(c, e0) < a) e0++;
    double d, dlo, dhi;
    if ((rc = duration(c, e0, c->k, &d, &dlo, &dhi, why, sizeof why))) return rc;
    rem = fmax(0, d - seen), rlo = fmax(0, dlo - seen), rhi = fmax(0, dhi - seen);
  }
  double k = in->bound_k >= 0 ? in->bound_k : DLE_EST_REMAIN_BOUND_K;
  r->mean_power_w = level;
  r->duration_s = seen + rem;
  r->total_j = e_seen + level * rem;
  r->lower_j = e_seen + fmax(0, level - k * sd) * rlo;
  r->upper_j = e_seen + (level + k * sd) * rhi;
  r->window_start_s = a;
  r->window_end_s = c->t_cut;
  r->period_s = period;
  r->components = c->comps;
  char per[64] = "no period found";
  if (isfinite(period)) snprintf(per, sizeof per, "%d periods of %.0f s", n_periods, period);
  snprintf(r->assumptions, sizeof r->assumptions,
           "E = measured %.1f J up to %.1f s + mean %s power %.2f W over [%.1f, %.1f] s "
           "(%s) x remaining %.0f s; %s; bound: level -/+ %.2f x s.d. %.2f W of 5 "
           "sub-windows (calibrated for 90 %%)",
           e_seen, c->t_cut, comps_str(c->comps), level, a, c->t_cut, per, rem, why, k, sd);
  return DLE_OK;
}

int dle_estimate_project(const dle_estimate_input *in, dle_estimate_method m,
                         dle_estimate_result *out, dle_error *err) {
  if (!in || !out) return dle_error_set(err, DLE_EINVAL, "estimate: NULL argument");
  if ((unsigned)m >= DLE_EST_COUNT)
    return dle_error_set(err, DLE_EINVAL, "estimate: invalid method %d", (int)m);
  result_init(out, m);
  ctx c;
  int rc = setup(&c, in, m, err);
  if (rc == DLE_OK) {
    switch (m) {
      case DLE_EST_MLCO2: rc = est_mlco2(&c, out); break;
      case DLE_EST_GA: rc = est_ga(&c, out); break;
      case DLE_EST_CARBONTRACKER: rc = est_carbontracker(&c, out); break;
      case DLE_EST_FLOPS: rc = est_flops(&c, out); break;
      case DLE_EST_STEP_REMAIN: rc = est_step_remain(&c, out); break;
      default:
        rc = c.time_mode ? est_step_time(&c, m, out) : est_step_epochs(&c, m, out);
        break;
    }
  }
  free(c.p);
  if (rc == DLE_OK) {
    out->seen_s = c.t_seen - c.t0;
    double dur = c.t_last - c.t0;
    out->fraction_seen = c.complete && dur > 0 ? fmin(1, out->seen_s / dur) : NAN;
  }
  if (rc) {
    dle_error_prefix(err, "%s: ", dle_estimate_method_name(m));
    result_init(out, m);
  }
  return rc;
}

int dle_estimate_measured_j(const dle_trace *trace, int components, double *out_j,
                            dle_error *err) {
  if (!trace || !out_j) return dle_error_set(err, DLE_EINVAL, "measured: NULL argument");
  double *p = malloc((trace->n ? trace->n : 1) * sizeof *p);
  if (!p) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < trace->n; i++) p[i] = combined_w(trace, i, components);
  int rc = dle_energy_trapezoid_j(trace->t_s, p, trace->n, out_j);
  free(p);
  if (rc) return dle_error_set(err, DLE_EINVAL, "measured: times go backwards");
  if (isnan(*out_j))
    return dle_error_set(err, DLE_ERANGE, "measured: no %s power samples",
                         components & DLE_EST_GPU ? "GPU" : "CPU");
  return DLE_OK;
}

int dle_estimate_errors_compute(const double *pred, const double *meas, size_t n,
                                dle_estimate_errors *out, dle_error *err) {
  memset(out, 0, sizeof *out);
  out->n = n;
  if (n == 0) {
    out->rmse_j = out->mae_j = out->mape = out->r2 = NAN;
    return dle_error_set(err, DLE_ERANGE, "no runs to compare");
  }
  double se = 0, ae = 0, ape = 0, mean = 0, sst = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(pred[i]) || !isfinite(meas[i]) || meas[i] == 0)
      return dle_error_set(err, DLE_EINVAL, "run %zu: prediction or measured total not usable",
                           i);
    double d = pred[i] - meas[i];
    se += d * d, ae += fabs(d), ape += fabs(d) / fabs(meas[i]);
    mean += meas[i];
  }
  mean /= (double)n;
  for (size_t i = 0; i < n; i++) sst += (meas[i] - mean) * (meas[i] - mean);
  out->rmse_j = sqrt(se / (double)n);
  out->mae_j = ae / (double)n;
  out->mape = ape / (double)n;
  out->r2 = sst > 0 ? 1 - se / sst : NAN;
  return DLE_OK;
}
