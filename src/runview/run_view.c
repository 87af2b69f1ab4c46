/* run_view.c — a run's figures (streamed from the store, or from a trace in memory)
 * and the JSON object of `show --json` built from them. */
#include "dlenergy/run_view.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dle_json_number_or_null(struct cJSON *o, const char *key, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, key, v);
  else
    cJSON_AddNullToObject(o, key);
}

const char *dle_energy_figure_kind(const dle_energy_summary *s, int c) {
  if (isnan(s->energy_j[c])) return "absent";
  return s->measured[c] ? "measured" : "modelled";
}

void dle_run_view_free(dle_run_view *v) {
  if (!v) return;
  free(v->ep);
  free(v->w);
  for (int c = 0; c < DLE_COMP_COUNT; c++) free(v->epoch_j[c]), free(v->window_j[c]);
  dle_kv_free(v->kv, v->nkv);
  memset(v, 0, sizeof *v);
}

static int alloc_cols(double *cols[DLE_COMP_COUNT], size_t n, dle_error *err) {
  for (int c = 0; c < DLE_COMP_COUNT; c++)
    if (!(cols[c] = calloc(n ? n : 1, sizeof(double))))
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
  return DLE_OK;
}

/* The windows as epochs: dle_energy_per_epoch's rule gives each its energy. */
static dle_epoch *windows_as_epochs(const dle_window *w, size_t nw) {
  dle_epoch *wep = calloc(nw ? nw : 1, sizeof *wep);
  for (size_t k = 0; wep && k < nw; k++) {
    wep[k].index = (int32_t)(k + 1);
    wep[k].t_begin_s = w[k].t_begin_s;
    wep[k].t_end_s = w[k].t_end_s;
  }
  return wep;
}

int dle_run_view_load(dle_store *st, int64_t id, bool with_epochs, dle_run_view *v,
                      dle_error *err) {
  memset(v, 0, sizeof *v);
  int rc = dle_store_get_run(st, id, &v->info, err);
  v->info.id = id;
  if (rc == DLE_OK) rc = dle_store_load_epochs(st, id, &v->ep, &v->ne, err);
  if (rc == DLE_OK) rc = dle_store_get_meta(st, id, &v->kv, &v->nkv, err);
  if (rc == DLE_OK) rc = dle_windows_from_meta(v->kv, v->nkv, &v->w, &v->nw, err);
  if (rc == DLE_OK && with_epochs) rc = alloc_cols(v->epoch_j, v->ne, err);
  dle_run_energy re;
  if (rc == DLE_OK)
    rc = dle_energy_summarize_run(st, id, &v->info, v->ep, with_epochs ? v->ne : 0,
                                  with_epochs ? v->epoch_j : NULL, &re, err);
  if (rc == DLE_OK) {
    v->sum = re.sum;
    v->t_first_s = re.t_first_s;
    v->t_last_s = re.t_last_s;
  }
  /* Windows overlap and nest, so they get a pass of their own (overlapping ones make
   * it read the run as a whole trace). */
  if (rc == DLE_OK && v->nw) {
    dle_epoch *wep = windows_as_epochs(v->w, v->nw);
    rc =
        wep ? alloc_cols(v->window_j, v->nw, err) : dle_error_set(err, DLE_ENOMEM, "out of memory");
    if (rc == DLE_OK)
      rc = dle_energy_summarize_run(st, id, &v->info, wep, v->nw, v->window_j, &re, err);
    free(wep);
  }
  if (rc) dle_run_view_free(v);
  return rc;
}

int dle_run_view_from_trace(const dle_run_info *info, const dle_trace *tr, const dle_epoch *ep,
                            size_t ne, const dle_window *w, size_t nw, const dle_kv *kv, size_t nkv,
                            dle_run_view *v, dle_error *err) {
  memset(v, 0, sizeof *v);
  v->info = *info;
  int rc = dle_energy_summarize(tr, info, &v->sum, err);
  v->t_first_s = tr->n ? tr->t_s[0] : NAN;
  v->t_last_s = tr->n ? tr->t_s[tr->n - 1] : NAN;
  if (rc == DLE_OK &&
      ((ne && !(v->ep = malloc(ne * sizeof *ep))) || (nw && !(v->w = malloc(nw * sizeof *w))) ||
       (nkv && !(v->kv = calloc(nkv, sizeof *kv)))))
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
  if (rc == DLE_OK) {
    if (ne) memcpy(v->ep, ep, ne * sizeof *ep);
    if (nw) memcpy(v->w, w, nw * sizeof *w);
    v->ne = ne;
    v->nw = nw;
    for (size_t i = 0; i < nkv; i++) {
      v->kv[i].key = strdup(kv[i].key);
      v->kv[i].value = strdup(kv[i].value);
      v->nkv = i + 1;
      if (!v->kv[i].key || !v->kv[i].value) {
        rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
        break;
      }
    }
  }
  if (rc == DLE_OK) rc = alloc_cols(v->epoch_j, ne, err);
  if (rc == DLE_OK) rc = alloc_cols(v->window_j, nw, err);
  dle_epoch *wep = rc == DLE_OK ? windows_as_epochs(w, nw) : NULL;
  if (rc == DLE_OK && !wep) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (int c = 0; rc == DLE_OK && c < DLE_COMP_COUNT; c++) {
    dle_error e2;
    if (!tr->n || dle_energy_per_epoch(tr, ep, ne, (dle_component)c, v->epoch_j[c], &e2) != DLE_OK)
      for (size_t k = 0; k < ne; k++) v->epoch_j[c][k] = NAN;
    if (!tr->n ||
        dle_energy_per_epoch(tr, wep, nw, (dle_component)c, v->window_j[c], &e2) != DLE_OK)
      for (size_t k = 0; k < nw; k++) v->window_j[c][k] = NAN;
  }
  free(wep);
  if (rc) dle_run_view_free(v);
  return rc;
}

static cJSON *epochs_json(const dle_run_view *d, dle_error *err) {
  const dle_epoch *ep = d->ep;
  size_t ne = d->ne;
  double *const *ej = d->epoch_j;
  cJSON *arr = cJSON_CreateArray();
  if (!arr) dle_error_set(err, DLE_ENOMEM, "out of memory");
  double prev_end = d->t_first_s;
  for (size_t k = 0; arr && k < ne; k++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", ep[k].index);
    double b = isnan(ep[k].t_begin_s) ? prev_end : ep[k].t_begin_s;
    double e = isnan(ep[k].t_end_s) ? d->t_last_s : ep[k].t_end_s;
    dle_json_number_or_null(o, "t_begin_s", b);
    dle_json_number_or_null(o, "t_end_s", e);
    cJSON_AddBoolToObject(o, "open", isnan(ep[k].t_end_s));
    cJSON *en = cJSON_AddObjectToObject(o, "energy_j");
    for (int c = 0; c < DLE_COMP_COUNT; c++)
      dle_json_number_or_null(en, dle_component_name((dle_component)c), ej[c][k]);
    cJSON_AddStringToObject(o, "metrics", ep[k].metrics);
    cJSON_AddItemToArray(arr, o);
    prev_end = e;
  }
  return arr;
}

/* Named windows with their energies; the total as dle_window_energy: GPU + CPU +
 * memory (DRAM, else modelled RAM). */
static cJSON *windows_json(const dle_run_view *d, dle_error *err) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr) dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t k = 0; arr && k < d->nw; k++) {
    double parts[DLE_COMP_COUNT];
    for (int c = 0; c < DLE_COMP_COUNT; c++) parts[c] = d->window_j[c] ? d->window_j[c][k] : NAN;
    double mem = isfinite(parts[DLE_COMP_DRAM]) ? parts[DLE_COMP_DRAM] : parts[DLE_COMP_RAM];
    const double tp[3] = {parts[DLE_COMP_GPU], parts[DLE_COMP_CPU], mem};
    double tot = 0;
    bool any = false;
    for (int i = 0; i < 3; i++)
      if (isfinite(tp[i])) tot += tp[i], any = true;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", d->w[k].name);
    dle_json_number_or_null(o, "t_begin_s", d->w[k].t_begin_s);
    dle_json_number_or_null(o, "t_end_s", d->w[k].t_end_s);
    cJSON_AddBoolToObject(o, "open", isnan(d->w[k].t_end_s));
    cJSON *en = cJSON_AddObjectToObject(o, "energy_j");
    for (int c = 0; c < DLE_COMP_COUNT; c++)
      dle_json_number_or_null(en, dle_component_name((dle_component)c), parts[c]);
    dle_json_number_or_null(o, "total_energy_j", any ? tot : NAN);
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
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

/* Multi-GPU attribution: energy per device, whether the monitored process tree
 * ran on it (NVML compute processes, meta gpus_used: a list, "none" or
 * "unknown"), whether it counts in gpu_energy_j (meta gpus_headline), and the
 * energy of the used ones. */
static void add_devices_json(cJSON *o, const dle_energy_summary *s, const char *used,
                             const char *shared) {
  cJSON *arr = cJSON_AddArrayToObject(o, "gpus");
  double used_j = 0;
  int any_used = 0;
  bool unknown = used && strcmp(used, "unknown") == 0;
  for (uint32_t d = 0; d < s->n_devices; d++) {
    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "index", s->device_index[d]);
    dle_json_number_or_null(g, "energy_j", s->device_energy_j[d]);
    dle_json_number_or_null(g, "avg_power_w", s->device_avg_power_w[d]);
    dle_json_number_or_null(g, "counter_energy_j", s->device_counter_j[d]);
    dle_json_number_or_null(g, "integral_energy_j", s->device_integral_j[d]);
    cJSON_AddBoolToObject(g, "headline", s->device_headline[d] != 0);
    bool u = used && !unknown && index_listed(used, s->device_index[d]);
    if (used && !unknown) {
      cJSON_AddBoolToObject(g, "used_by_run", u);
      if (u && !isnan(s->device_energy_j[d])) used_j += s->device_energy_j[d], any_used = 1;
    } else {
      cJSON_AddNullToObject(g, "used_by_run"); /* not recorded, or could not be checked */
    }
    cJSON_AddBoolToObject(g, "shared", shared && index_listed(shared, s->device_index[d]));
    cJSON_AddItemToArray(arr, g);
  }
  dle_json_number_or_null(o, "gpu_energy_used_j", any_used ? used_j : NAN);
}

cJSON *dle_run_view_json(const dle_run_view *d, bool with_epochs, dle_error *err) {
  int64_t id = d->info.id;
  const dle_run_info info = d->info;
  const dle_energy_summary s = d->sum;
  size_t ne = d->ne;
  const dle_kv *kv = d->kv;
  size_t nkv = d->nkv;
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    dle_error_set(err, DLE_ENOMEM, "out of memory");
    return NULL;
  }
  cJSON_AddNumberToObject(o, "run_id", (double)id);
  cJSON_AddStringToObject(o, "status", dle_run_status_str(info.status));
  cJSON_AddStringToObject(o, "source", info.source);
  cJSON_AddStringToObject(o, "host", info.host);
  cJSON_AddStringToObject(o, "command", info.command);
  dle_json_number_or_null(o, "start_wall_s", info.start_wall_s);
  dle_json_number_or_null(o, "end_wall_s", info.end_wall_s);
  dle_json_number_or_null(o, "interval_s", info.interval_s);
  cJSON_AddNumberToObject(o, "exit_code", info.exit_code);
  cJSON_AddNumberToObject(o, "term_signal", info.term_signal);
  dle_json_number_or_null(o, "duration_s", s.duration_s);
  cJSON_AddNumberToObject(o, "samples", (double)s.samples);
  /* Completed epochs, as the run summary and `list` count them; an epoch still open
   * when the run stopped is counted apart. */
  size_t done = 0;
  for (size_t i = 0; i < ne; i++) done += isfinite(d->ep[i].t_end_s);
  cJSON_AddNumberToObject(o, "epochs", (double)done);
  cJSON_AddNumberToObject(o, "epochs_open", (double)(ne - done));
  cJSON_AddNumberToObject(o, "epochs_planned", info.epochs_planned);
  dle_json_number_or_null(o, "gpu_energy_j", s.energy_j[DLE_COMP_GPU]);
  dle_json_number_or_null(o, "avg_gpu_power_w", s.avg_power_w[DLE_COMP_GPU]);
  dle_json_number_or_null(o, "gpu_counter_energy_j", s.gpu_counter_j);
  dle_json_number_or_null(o, "gpu_integral_energy_j", s.gpu_integral_j);
  cJSON_AddBoolToObject(o, "gpu_counter_disagrees", s.gpu_counter_disagrees != 0);
  dle_json_number_or_null(o, "gpu_energy_all_j", s.gpu_all_j);
  cJSON *en = cJSON_AddObjectToObject(o, "energy_j");
  cJSON *comp = cJSON_AddObjectToObject(o, "components");
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    const char *name = dle_component_name((dle_component)c);
    dle_json_number_or_null(en, name, s.energy_j[c]);
    cJSON *co = cJSON_AddObjectToObject(comp, name);
    dle_json_number_or_null(co, "energy_j", s.energy_j[c]);
    dle_json_number_or_null(co, "avg_power_w", s.avg_power_w[c]);
    cJSON_AddStringToObject(co, "figure", dle_energy_figure_kind(&s, c));
    cJSON_AddStringToObject(co, "source", s.source[c]);
  }
  dle_json_number_or_null(o, "total_energy_j", s.total_j);
  cJSON_AddNumberToObject(o, "pue", s.pue);
  dle_json_number_or_null(o, "facility_energy_j", s.facility_j);
  dle_json_number_or_null(o, "carbon_g_per_kwh", s.carbon_g_per_kwh);
  dle_json_number_or_null(o, "emissions_g", s.emissions_g);
  /* Where the modelled figures come from (recorded by run/attach; absent for
   * older runs and imports that did not record them). */
  const char *cs = dle_kv_get(kv, nkv, "carbon_source");
  if (cs) {
    cJSON_AddStringToObject(o, "carbon_source", cs);
    cJSON_AddBoolToObject(o, "carbon_default", strncmp(cs, "default", 7) == 0);
  }
  const char *scope = dle_kv_get(kv, nkv, "scope");
  if (scope) cJSON_AddStringToObject(o, "scope", scope);
  const char *cpm = dle_kv_get(kv, nkv, "cpu_power_model");
  if (cpm && !s.measured[DLE_COMP_CPU] && isfinite(s.energy_j[DLE_COMP_CPU]))
    cJSON_AddStringToObject(o, "cpu_power_model", cpm);
  add_devices_json(o, &s, dle_kv_get(kv, nkv, "gpus_used"), dle_kv_get(kv, nkv, "gpus_shared"));
  cJSON *meta = cJSON_AddObjectToObject(o, "meta");
  for (size_t i = 0; i < nkv; i++) cJSON_AddStringToObject(meta, kv[i].key, kv[i].value);
  cJSON *wins = windows_json(d, err);
  if (!wins) {
    cJSON_Delete(o);
    return NULL;
  }
  cJSON_AddItemToObject(o, "windows", wins);
  if (with_epochs && (d->ne == 0 || d->epoch_j[0])) {
    cJSON *arr = epochs_json(d, err);
    if (!arr) {
      cJSON_Delete(o);
      return NULL;
    }
    cJSON_AddItemToObject(o, "epoch_list", arr);
  }
  return o;
}
