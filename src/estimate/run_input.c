/* run_input.c — a stored run (trace, epochs, metadata) as estimator input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/energy.h"
#include "dlenergy/estimate.h"
#include "dlenergy/gpus.h"

int dle_estimate_run_load_opts(dle_store *st, int64_t run_id, size_t max_full,
                               size_t buckets, dle_estimate_run *out, dle_error *err) {
  memset(out, 0, sizeof *out);
  int rc = dle_store_get_run(st, run_id, &out->info, err);
  if (!rc) rc = dle_store_load_epochs(st, run_id, &out->epochs, &out->n_epochs, err);
  /* only the columns the estimators read, streamed through the energy stream; a long
   * run downsampled with bucket edges at its epoch times (bounded memory) */
  if (!rc)
    rc = dle_estimate_series_load(st, run_id, out->epochs, out->n_epochs, max_full, buckets,
                                  &out->trace, &out->trace_buckets, err);
  if (!rc) rc = dle_store_get_meta(st, run_id, &out->meta, &out->n_meta, err);
  if (rc) {
    dle_estimate_run_free(out);
    return rc;
  }
  /* keep ended epochs only, in order */
  size_t k = 0;
  for (size_t i = 0; i < out->n_epochs; i++)
    if (!isnan(out->epochs[i].t_end_s)) out->epochs[k++] = out->epochs[i];
  out->n_epochs = k;
  return DLE_OK;
}

int dle_estimate_run_load(dle_store *st, int64_t run_id, dle_estimate_run *out,
                          dle_error *err) {
  return dle_estimate_run_load_opts(st, run_id, 0, 0, out, err);
}

void dle_estimate_run_free(dle_estimate_run *r) {
  if (!r) return;
  dle_trace_free(&r->trace);
  free(r->epochs);
  dle_kv_free(r->meta, r->n_meta);
  memset(r, 0, sizeof *r);
}

static double meta_num(const dle_estimate_run *r, const char *key) {
  const char *v = dle_kv_get(r->meta, r->n_meta, key);
  if (!v || !*v) return NAN;
  char *end = NULL;
  double d = strtod(v, &end);
  while (end && (*end == ' ' || *end == '\t')) end++;
  return end && *end == '\0' && isfinite(d) ? d : NAN;
}

void dle_estimate_input_from_run(dle_estimate_input *in, const dle_estimate_run *r) {
  dle_estimate_input_init(in);
  in->trace = &r->trace;
  in->trace_buckets = r->trace_buckets;
  in->epochs = r->epochs;
  in->n_epochs = r->n_epochs;
  in->run_complete = r->info.status != DLE_RUN_RUNNING;
  double et = meta_num(r, "epochs_total");
  in->epochs_total = et >= 1 ? (int)et : (r->info.epochs_planned > 0 ? r->info.epochs_planned : 0);
  in->pue = r->info.pue >= 1 ? r->info.pue : 1;
  double n_gpus = meta_num(r, "gpu_count");
  if (!(n_gpus >= 1)) n_gpus = r->trace.n_gpus ? r->trace.n_gpus : 1;
  in->gpu_tdp_w = meta_num(r, "gpu_tdp_w");
  /* Runs recorded before issue 9 stored GPU 0's TDP as gpu_tdp_w; since then it
   * is the total over the run's GPUs (meta gpus_headline marks the new runs). */
  if (in->gpu_tdp_w > 0 && n_gpus > 1 && !dle_kv_get(r->meta, r->n_meta, "gpus_headline") &&
      (strcmp(r->info.source, "run") == 0 || strcmp(r->info.source, "attach") == 0))
    in->gpu_tdp_w *= n_gpus;
  if (!(in->gpu_tdp_w > 0)) in->gpu_tdp_w = meta_num(r, "gpu_max_power_limit_w");
  double peak_t = meta_num(r, "gpu_peak_tflops");
  const char *name = dle_kv_get(r->meta, r->n_meta, "gpu_name");
  if (name && *name && (!(in->gpu_tdp_w > 0) || !(peak_t > 0))) {
    dle_gpu_spec spec;
    dle_error e;
    if (dle_gpu_lookup(name, &spec, &e) == DLE_OK) {
      if (!(in->gpu_tdp_w > 0) && spec.tdp_w > 0) in->gpu_tdp_w = spec.tdp_w * n_gpus;
      if (!(peak_t > 0) && spec.fp32_tflops > 0) peak_t = spec.fp32_tflops * n_gpus;
    }
  }
  if (!(in->gpu_tdp_w > 0)) in->gpu_tdp_w = NAN;
  in->gpu_peak_flops = peak_t > 0 ? peak_t * 1e12 : NAN;
  in->host_ram_gb = meta_num(r, "host_ram_gb");
  double cores = meta_num(r, "cpu_cores");
  in->cpu_cores = cores >= 1 ? (int)cores : 0;
  /* The CPU at full load of the CPUs the run saw (dlenergy run records it; a
   * 2-vCPU guest is not charged a whole package), else the TDP as given. */
  in->cpu_tdp_w = meta_num(r, "cpu_model_w");
  if (!isfinite(in->cpu_tdp_w)) in->cpu_tdp_w = meta_num(r, "cpu_tdp_w");
  in->gflops_forward = meta_num(r, "gflops");
  in->samples_per_epoch = meta_num(r, "training_size");
}

static int num(const char *key, const char *v, double lo, double hi, double *out,
               dle_error *err) {
  char *end = NULL;
  double d = v && *v ? strtod(v, &end) : NAN;
  if (!v || !*v || *end != '\0' || !isfinite(d) || d < lo || d > hi)
    return dle_error_set(err, DLE_EINVAL, "--%s: '%s' is not a number in [%g, %g]", key,
                         v ? v : "", lo, hi);
  *out = d;
  return DLE_OK;
}

static int whole(const char *key, const char *v, int lo, int hi, int *out, dle_error *err) {
  double d = NAN;
  int rc = num(key, v, lo, hi, &d, err);
  if (rc) return rc;
  if (d != floor(d))
    return dle_error_set(err, DLE_EINVAL, "--%s: '%s' is not a whole number", key, v);
  *out = (int)d;
  return DLE_OK;
}

int dle_estimate_input_set(dle_estimate_input *in, const char *key, const char *value,
                           dle_error *err) {
  const double big = 1e15;
  double d;
  int i, rc = DLE_OK;
  if (!key) return dle_error_set(err, DLE_EINVAL, "missing parameter name");
  if (strcmp(key, "gpu-only") == 0) {
    in->gpu_only = true;
  } else if (strcmp(key, "at-epoch") == 0) {
    rc = whole(key, value, 1, 1000000, &in->at_epoch, err);
  } else if (strcmp(key, "epochs") == 0) {
    rc = whole(key, value, 1, 1000000, &in->epochs_total, err);
  } else if (strcmp(key, "stable-epoch") == 0) {
    rc = whole(key, value, 0, 1000000, &in->stable_epoch, err);
  } else if (strcmp(key, "window-epochs") == 0) {
    rc = whole(key, value, 1, 1000000, &in->window_epochs, err);
  } else if (strcmp(key, "ct-epochs") == 0) {
    rc = whole(key, value, 1, 1000000, &in->carbontracker_k, err);
  } else if (strcmp(key, "window-seconds") == 0) {
    rc = num(key, value, 1e-3, big, &in->window_s, err);
  } else if (strcmp(key, "start-seconds") == 0) {
    if (value && strcmp(value, "auto") == 0)
      in->start_s = NAN;
    else
      rc = num(key, value, 0, big, &in->start_s, err);
  } else if (strcmp(key, "tdp") == 0) {
    rc = num(key, value, 1e-3, big, &in->gpu_tdp_w, err);
  } else if (strcmp(key, "pue") == 0) {
    rc = num(key, value, 1, 10, &in->pue, err);
  } else if (strcmp(key, "host-ram-gb") == 0) {
    rc = num(key, value, 0, big, &in->host_ram_gb, err);
  } else if (strcmp(key, "cpu-cores") == 0) {
    rc = whole(key, value, 1, 1000000, &in->cpu_cores, err);
  } else if (strcmp(key, "cpu-tdp") == 0) {
    rc = num(key, value, 0, big, &in->cpu_tdp_w, err);
  } else if (strcmp(key, "gflops") == 0) {
    rc = num(key, value, 1e-12, big, &in->gflops_forward, err);
  } else if (strcmp(key, "samples-per-epoch") == 0) {
    rc = num(key, value, 1, big, &in->samples_per_epoch, err);
  } else if (strcmp(key, "peak-tflops") == 0) {
    if (!(rc = num(key, value, 1e-6, 1e9, &d, err))) in->gpu_peak_flops = d * 1e12;
  } else if (strcmp(key, "utilization") == 0) {
    rc = num(key, value, 1e-6, 1, &in->flops_utilization, err);
  } else if (strcmp(key, "m") == 0) {
    if (!(rc = whole(key, value, 2, 100000, &i, err))) in->stab.m = (size_t)i;
  } else if (strcmp(key, "regimes") == 0) {
    rc = whole(key, value, 2, DLE_STABILIZE_MAX_REGIMES, &in->stab.n_regimes, err);
  } else if (strcmp(key, "at-fraction") == 0) {
    rc = num(key, value, 1e-6, 1, &in->at_fraction, err);
  } else if (strcmp(key, "tail-fraction") == 0) {
    rc = num(key, value, 1e-3, 1, &in->tail_fraction, err);
  } else if (strcmp(key, "bound-k") == 0) {
    rc = num(key, value, 0, 1000, &in->bound_k, err);
  } else if (strcmp(key, "excl-factor") == 0) {
    rc = num(key, value, 0, 1000, &in->stab.excl_factor, err);
  } else {
    rc = dle_error_set(err, DLE_EINVAL, "unknown estimator parameter '%s'", key);
  }
  return rc;
}
