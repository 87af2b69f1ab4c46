/* summary.c — a run as JSON: the fields of `dlenergy show --json` that carry figures
 * (same names, same functions behind them), its epochs and windows with energies. */
#define _GNU_SOURCE
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api_internal.h"
#include "dlenergy/api.h"
#include "dlenergy/energy.h"
#include "dlenergy/error.h"
#include "dlenergy/estimate.h"
#include "dlenergy/recorder.h"
#include "dlenergy/store.h"

const char *dle_api_db_path(const char *db) {
  if (db && *db) return db;
  const char *env = getenv("DLENERGY_DB");
  return env && *env ? env : "dlenergy.db";
}

/* ------------------------------------------------------------------ summary JSON */

void dle_api_num_or_null(cJSON *o, const char *key, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, key, v);
  else
    cJSON_AddNullToObject(o, key);
}

static const char *figure_kind(const dle_energy_summary *s, int c) {
  if (isnan(s->energy_j[c])) return "absent";
  return s->measured[c] ? "measured" : "modelled";
}

/* Is NVML index idx in the comma-separated list ("0,2")? */
static bool index_listed(const char *list, uint32_t idx) {
  for (const char *p = list; p && *p;) {
    char *end = NULL;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p) break;
    if (v == idx) return true;
    p = *end == ',' ? end + 1 : end;
  }
  return false;
}

/* Per-device energies and attribution, as `show --json` lists them ("gpus"). */
static void add_devices(cJSON *o, const dle_energy_summary *s, const char *used,
                        const char *shared) {
  cJSON *arr = cJSON_AddArrayToObject(o, "gpus");
  double used_j = 0;
  bool any_used = false, unknown = used && strcmp(used, "unknown") == 0;
  for (uint32_t d = 0; d < s->n_devices; d++) {
    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "index", s->device_index[d]);
    dle_api_num_or_null(g, "energy_j", s->device_energy_j[d]);
    dle_api_num_or_null(g, "avg_power_w", s->device_avg_power_w[d]);
    dle_api_num_or_null(g, "counter_energy_j", s->device_counter_j[d]);
    dle_api_num_or_null(g, "integral_energy_j", s->device_integral_j[d]);
    cJSON_AddBoolToObject(g, "headline", s->device_headline[d] != 0);
    bool u = used && !unknown && index_listed(used, s->device_index[d]);
    if (used && !unknown) {
      cJSON_AddBoolToObject(g, "used_by_run", u);
      if (u && !isnan(s->device_energy_j[d])) used_j += s->device_energy_j[d], any_used = true;
    } else {
      cJSON_AddNullToObject(g, "used_by_run");
    }
    cJSON_AddBoolToObject(g, "shared", shared && index_listed(shared, s->device_index[d]));
    cJSON_AddItemToArray(arr, g);
  }
  dle_api_num_or_null(o, "gpu_energy_used_j", any_used ? used_j : NAN);
}

/* A run as JSON: the fields of `dlenergy show --json` that carry figures (same names,
 * same functions behind them), its epochs and windows with their energies. */
cJSON *dle_api_summary_json(const dle_run_info *info, const dle_trace *tr, const dle_epoch *ep,
                           size_t ne, const dle_window *w, size_t nw, const dle_kv *kv,
                           size_t nkv, bool with_epochs, dle_error *err) {
  dle_energy_summary s;
  if (dle_energy_summarize(tr, info, &s, err) != DLE_OK) return NULL;
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    dle_error_set(err, DLE_ENOMEM, "out of memory");
    return NULL;
  }
  cJSON_AddNumberToObject(o, "run_id", (double)info->id);
  cJSON_AddStringToObject(o, "status", dle_run_status_str(info->status));
  cJSON_AddStringToObject(o, "source", info->source);
  cJSON_AddStringToObject(o, "host", info->host);
  cJSON_AddStringToObject(o, "command", info->command);
  dle_api_num_or_null(o, "start_wall_s", info->start_wall_s);
  dle_api_num_or_null(o, "end_wall_s", info->end_wall_s);
  dle_api_num_or_null(o, "interval_s", info->interval_s);
  cJSON_AddNumberToObject(o, "exit_code", info->exit_code);
  cJSON_AddNumberToObject(o, "term_signal", info->term_signal);
  dle_api_num_or_null(o, "duration_s", s.duration_s);
  cJSON_AddNumberToObject(o, "samples", (double)s.samples);
  size_t done = 0;
  for (size_t i = 0; i < ne; i++) done += isfinite(ep[i].t_end_s);
  cJSON_AddNumberToObject(o, "epochs", (double)done);
  cJSON_AddNumberToObject(o, "epochs_open", (double)(ne - done));
  cJSON_AddNumberToObject(o, "epochs_planned", info->epochs_planned);
  dle_api_num_or_null(o, "gpu_energy_j", s.energy_j[DLE_COMP_GPU]);
  dle_api_num_or_null(o, "avg_gpu_power_w", s.avg_power_w[DLE_COMP_GPU]);
  dle_api_num_or_null(o, "gpu_counter_energy_j", s.gpu_counter_j);
  dle_api_num_or_null(o, "gpu_integral_energy_j", s.gpu_integral_j);
  cJSON_AddBoolToObject(o, "gpu_counter_disagrees", s.gpu_counter_disagrees != 0);
  dle_api_num_or_null(o, "gpu_energy_all_j", s.gpu_all_j);
  cJSON *en = cJSON_AddObjectToObject(o, "energy_j");
  cJSON *comp = cJSON_AddObjectToObject(o, "components");
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    const char *name = dle_component_name((dle_component)c);
    dle_api_num_or_null(en, name, s.energy_j[c]);
    cJSON *co = cJSON_AddObjectToObject(comp, name);
    dle_api_num_or_null(co, "energy_j", s.energy_j[c]);
    dle_api_num_or_null(co, "avg_power_w", s.avg_power_w[c]);
    cJSON_AddStringToObject(co, "figure", figure_kind(&s, c));
    cJSON_AddStringToObject(co, "source", s.source[c]);
  }
  dle_api_num_or_null(o, "total_energy_j", s.total_j);
  cJSON_AddNumberToObject(o, "pue", s.pue);
  dle_api_num_or_null(o, "facility_energy_j", s.facility_j);
  dle_api_num_or_null(o, "carbon_g_per_kwh", s.carbon_g_per_kwh);
  dle_api_num_or_null(o, "emissions_g", s.emissions_g);
  const char *cs = dle_kv_get(kv, nkv, "carbon_source");
  if (cs) cJSON_AddStringToObject(o, "carbon_source", cs);
  const char *scope = dle_kv_get(kv, nkv, "scope");
  if (scope) cJSON_AddStringToObject(o, "scope", scope);
  add_devices(o, &s, dle_kv_get(kv, nkv, "gpus_used"), dle_kv_get(kv, nkv, "gpus_shared"));
  cJSON *meta = cJSON_AddObjectToObject(o, "meta");
  for (size_t i = 0; i < nkv; i++) cJSON_AddStringToObject(meta, kv[i].key, kv[i].value);
  if (with_epochs) {
    cJSON *arr = cJSON_AddArrayToObject(o, "epoch_list");
    double *ej[DLE_COMP_COUNT] = {0};
    bool ok = true;
    for (int c = 0; ok && c < DLE_COMP_COUNT; c++) {
      ej[c] = calloc(ne ? ne : 1, sizeof(double));
      dle_error e2;
      ok = ej[c] && dle_energy_per_epoch(tr, ep, ne, (dle_component)c, ej[c], &e2) == DLE_OK;
    }
    double prev_end = tr->n ? tr->t_s[0] : NAN;
    for (size_t k = 0; ok && k < ne; k++) {
      cJSON *eo = cJSON_CreateObject();
      cJSON_AddNumberToObject(eo, "index", ep[k].index);
      double b = isnan(ep[k].t_begin_s) ? prev_end : ep[k].t_begin_s;
      double e = isnan(ep[k].t_end_s) ? (tr->n ? tr->t_s[tr->n - 1] : NAN) : ep[k].t_end_s;
      dle_api_num_or_null(eo, "t_begin_s", b);
      dle_api_num_or_null(eo, "t_end_s", e);
      cJSON_AddBoolToObject(eo, "open", isnan(ep[k].t_end_s));
      cJSON *een = cJSON_AddObjectToObject(eo, "energy_j");
      for (int c = 0; c < DLE_COMP_COUNT; c++)
        dle_api_num_or_null(een, dle_component_name((dle_component)c), ej[c][k]);
      cJSON_AddStringToObject(eo, "metrics", ep[k].metrics);
      cJSON_AddItemToArray(arr, eo);
      prev_end = e;
    }
    for (int c = 0; c < DLE_COMP_COUNT; c++) free(ej[c]);
  }
  cJSON *wa = cJSON_AddArrayToObject(o, "windows");
  for (size_t k = 0; k < nw; k++) {
    double parts[DLE_COMP_COUNT], tot;
    dle_window_energy(tr, &w[k], parts, &tot);
    cJSON *wo = cJSON_CreateObject();
    cJSON_AddStringToObject(wo, "name", w[k].name);
    dle_api_num_or_null(wo, "t_begin_s", w[k].t_begin_s);
    dle_api_num_or_null(wo, "t_end_s", w[k].t_end_s);
    cJSON_AddBoolToObject(wo, "open", isnan(w[k].t_end_s));
    cJSON *wen = cJSON_AddObjectToObject(wo, "energy_j");
    for (int c = 0; c < DLE_COMP_COUNT; c++)
      dle_api_num_or_null(wen, dle_component_name((dle_component)c), parts[c]);
    dle_api_num_or_null(wo, "total_energy_j", tot);
    cJSON_AddItemToArray(wa, wo);
  }
  return o;
}

/* A stored run as summary JSON. */
cJSON *dle_api_stored_run_json(dle_store *st, int64_t id, bool with_epochs, dle_error *err) {
  dle_run_info info;
  dle_trace tr;
  memset(&tr, 0, sizeof tr);
  dle_epoch *ep = NULL;
  size_t ne = 0, nkv = 0, nw = 0;
  dle_kv *kv = NULL;
  dle_window *w = NULL;
  cJSON *o = NULL;
  if (dle_store_get_run(st, id, &info, err) == DLE_OK &&
      dle_store_load_trace(st, id, &tr, err) == DLE_OK &&
      dle_store_load_epochs(st, id, &ep, &ne, err) == DLE_OK &&
      dle_store_get_meta(st, id, &kv, &nkv, err) == DLE_OK &&
      dle_windows_from_meta(kv, nkv, &w, &nw, err) == DLE_OK)
    o = dle_api_summary_json(&info, &tr, ep, ne, w, nw, kv, nkv, with_epochs, err);
  free(w);
  dle_kv_free(kv, nkv);
  free(ep);
  dle_trace_free(&tr);
  return o;
}

char *dle_api_print_json(cJSON *o) {
  char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return txt;
}

