/* data.c — metric names and units, and the per-run table built from the run store. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/energy.h"
#include "dlenergy/report.h"

static const struct {
  const char *name, *column, *label;
} METRICS[] = {
    {"energy", "gpu_energy_mj", "GPU energy (MJ)"},
    {"duration", "training_duration_h", "training duration (h)"},
    {"power", "avg_gpu_power_w", "mean GPU power (W)"},
    {"f1", "f1_score", "F1 score"},
    {"accuracy", "accuracy", "validation accuracy"},
    {"emissions", "emissions_gco2e", "emissions (g CO2e)"},
    {"gflops", "forward_pass_gflop", "forward pass (GFLOP)"},
    {"usage", "gpu_usage_pct", "GPU usage (%)"},
    {"temperature", "avg_gpu_temperature_c", "mean GPU temperature (°C)"},
    {"total", "total_energy_mj", "total energy, GPU + CPU + memory (MJ)"},
    {"memory", "avg_gpu_memory_used_mib", "mean GPU memory used (MiB)"},
    {"epochs", "trained_epochs", "trained epochs"},
};

const char *dle_report_metric_column(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < sizeof METRICS / sizeof METRICS[0]; i++)
    if (strcmp(METRICS[i].name, name) == 0) return METRICS[i].column;
  return name;
}

const char *dle_report_resolve_column(const dle_table *t, const char *name) {
  if (t && name && dle_table_find_col(t, name) >= 0) return name;
  return dle_report_metric_column(name);
}

const char *dle_report_metric_label(const char *column) {
  if (!column) return NULL;
  for (size_t i = 0; i < sizeof METRICS / sizeof METRICS[0]; i++)
    if (strcmp(METRICS[i].column, column) == 0) return METRICS[i].label;
  return column;
}

static int set_num(dle_table *t, size_t row, const char *col, double v, dle_error *err) {
  char buf[64];
  if (!isfinite(v))
    buf[0] = '\0';
  else
    snprintf(buf, sizeof buf, "%.17g", v);
  return dle_table_set(t, row, col, buf, err);
}

static int add_run(dle_store *st, dle_table *t, int64_t id, dle_error *err) {
  dle_run_info info;
  int rc = dle_store_get_run(st, id, &info, err);
  if (rc) return rc;
  size_t row;
  rc = dle_table_add_row(t, &row, err);
  if (rc) return rc;
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)id);
  rc = dle_table_set(t, row, "run_id", buf, err);
  if (!rc) rc = dle_table_set(t, row, "status", dle_run_status_str(info.status), err);
  if (!rc) rc = dle_table_set(t, row, "source", info.source, err);
  if (!rc) rc = dle_table_set(t, row, "host", info.host, err);
  if (rc) return rc;
  dle_kv *kv = NULL;
  size_t nkv = 0;
  rc = dle_store_get_meta(st, id, &kv, &nkv, err);
  if (rc) return rc;
  for (size_t i = 0; i < nkv && !rc; i++) rc = dle_table_set(t, row, kv[i].key, kv[i].value, err);
  dle_kv_free(kv, nkv);
  if (rc) return rc;
  /* streamed: memory does not grow with the run's samples */
  dle_run_energy re;
  rc = dle_energy_summarize_run(st, id, &info, NULL, 0, NULL, &re, err);
  if (rc) return rc;
  if (re.sum.samples > 0) {
    const dle_energy_summary s = re.sum;
    {
      rc = set_num(t, row, "samples", (double)s.samples, err);
      if (!rc) rc = set_num(t, row, "training_duration_h", s.duration_s / 3600, err);
      if (!rc) rc = set_num(t, row, "gpu_energy_mj", s.energy_j[DLE_COMP_GPU] / 1e6, err);
      if (!rc) rc = set_num(t, row, "avg_gpu_power_w", s.avg_power_w[DLE_COMP_GPU], err);
      if (!rc) rc = set_num(t, row, "total_energy_mj", s.total_j / 1e6, err);
      if (!rc && isfinite(s.total_j)) {
        /* Whether the total is measured, modelled or both (captions follow it). */
        bool meas = false, model = false;
        int parts[3] = {DLE_COMP_GPU, DLE_COMP_CPU,
                        isfinite(s.energy_j[DLE_COMP_DRAM]) ? DLE_COMP_DRAM : DLE_COMP_RAM};
        for (int k = 0; k < 3; k++)
          if (isfinite(s.energy_j[parts[k]])) {
            if (s.measured[parts[k]])
              meas = true;
            else
              model = true;
          }
        rc = dle_table_set(t, row, "total_energy_figure",
                           meas && model ? "measured + modelled" : meas ? "measured" : "modelled",
                           err);
      }
      if (!rc) rc = set_num(t, row, "gpu_usage_pct", re.gpu_util_mean_pct, err);
      if (!rc) rc = set_num(t, row, "avg_gpu_temperature_c", re.gpu_temp_mean_c, err);
    }
  }
  return rc;
}

int dle_report_runs_table(dle_store *st, const char *filter, const int64_t *ids, size_t n_ids,
                          dle_table **out, dle_error *err) {
  *out = NULL;
  if (!st) return dle_error_set(err, DLE_EINVAL, "no run store");
  int64_t *sel = NULL;
  size_t n = 0;
  int rc = 0;
  if (n_ids == 0) {
    rc = dle_store_select_runs(st, filter, &sel, &n, err);
    if (rc) return rc;
    ids = sel;
  } else {
    n = n_ids;
  }
  dle_table *t = NULL;
  rc = dle_table_new(&t, err);
  for (size_t i = 0; i < n && !rc; i++) {
    rc = add_run(st, t, ids[i], err);
    if (rc) dle_error_prefix(err, "run %lld: ", (long long)ids[i]);
  }
  free(sel);
  if (rc) {
    dle_table_free(t);
    return rc;
  }
  *out = t;
  return 0;
}
