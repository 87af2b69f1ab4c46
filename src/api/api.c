/* api.c — the C API for foreign callers (see dlenergy/api.h): an in-process tracker
 * over the recorder, and JSON readers of a store. */
#define _GNU_SOURCE
#include "dlenergy/api.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "dlenergy/energy.h"
#include "dlenergy/error.h"
#include "dlenergy/estimate.h"
#include "dlenergy/recorder.h"
#include "dlenergy/store.h"

enum { MAX_META = 256 };

struct dle_tracker {
  pid_t owner; /* the process that made it: calls from forked children are ignored */
  /* options (owned copies) */
  char *db, *country, *job, *host, *command, *source, *gpus;
  double carbon_g_per_kwh, pue, interval_s, cpu_tdp_w, ram_w_per_gb, drain_period_s;
  bool no_gpu, no_rapl, no_cpu, gpus_set;
  int scope, epochs;
  char *meta[MAX_META + 1]; /* "key=value", NULL-terminated */
  size_t n_meta;
  /* state */
  dle_recorder *rec;
  bool stopped;
  char *summary;
  char err[DLE_ERRMSG_MAX];
};

static const char *db_path(const char *db) {
  if (db && *db) return db;
  const char *env = getenv("DLENERGY_DB");
  return env && *env ? env : "dlenergy.db";
}

static int fail(dle_tracker *t, const dle_error *e) {
  snprintf(t->err, sizeof t->err, "%s", e->msg);
  return e->code;
}

static int failf(dle_tracker *t, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int failf(dle_tracker *t, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->err, sizeof t->err, fmt, ap);
  va_end(ap);
  return code;
}

static bool foreign(const dle_tracker *t) { return getpid() != t->owner; }

dle_tracker *dle_tracker_new(void) {
  dle_tracker *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->owner = getpid();
  t->carbon_g_per_kwh = NAN;
  t->pue = 1.0;
  t->interval_s = 0.1;
  t->cpu_tdp_w = NAN;
  t->ram_w_per_gb = DLE_RAM_W_PER_GB;
  t->scope = DLE_SCOPE_PROCESS;
  return t;
}

static bool parse_num(const char *s, double lo, double hi, double *out) {
  if (!s || !*s) return false;
  char *end;
  double v = strtod(s, &end);
  while (*end && isspace((unsigned char)*end)) end++;
  if (*end || !isfinite(v) || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static int set_str(dle_tracker *t, char **slot, const char *value) {
  char *c = strdup(value ? value : "");
  if (!c) return failf(t, DLE_ENOMEM, "out of memory");
  free(*slot);
  *slot = c;
  return DLE_OK;
}

int dle_tracker_set(dle_tracker *t, const char *key, const char *value) {
  if (!t || !key) return DLE_EINVAL;
  t->err[0] = '\0';
  if (t->rec || t->stopped) return failf(t, DLE_ESTATE, "options are set before start");
  const char *v = value ? value : "";
  double x;
  if (strcmp(key, "db") == 0) return set_str(t, &t->db, v);
  if (strcmp(key, "command") == 0) return set_str(t, &t->command, v);
  if (strcmp(key, "country") == 0) {
    if (!*v) return failf(t, DLE_EINVAL, "country wants a code or name such as ES");
    return set_str(t, &t->country, v);
  }
  if (strcmp(key, "source") == 0) {
    if (!*v || strlen(v) > 15) return failf(t, DLE_EINVAL, "source wants 1..15 characters");
    return set_str(t, &t->source, v);
  }
  if (strcmp(key, "job") == 0) {
    if (!*v || strchr(v, ',') || strchr(v, '='))
      return failf(t, DLE_EINVAL, "job wants a non-empty name without ',' or '=', not '%s'", v);
    return set_str(t, &t->job, v);
  }
  if (strcmp(key, "host") == 0) {
    if (!*v || strlen(v) > 255) return failf(t, DLE_EINVAL, "host wants a name of 1..255 characters");
    return set_str(t, &t->host, v);
  }
  if (strcmp(key, "gpus") == 0) {
    if (strcmp(v, "none") == 0) {
      t->no_gpu = true;
      return DLE_OK;
    }
    if (strcmp(v, "all") != 0)
      for (const char *p = v; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == ','))
          return failf(t, DLE_EINVAL, "gpus wants all, none or indices like 0,2; not '%s'", v);
    t->gpus_set = true;
    t->no_gpu = false;
    return set_str(t, &t->gpus, v);
  }
  if (strcmp(key, "no_gpu") == 0) return t->no_gpu = true, DLE_OK;
  if (strcmp(key, "no_rapl") == 0) return t->no_rapl = true, DLE_OK;
  if (strcmp(key, "no_cpu") == 0) return t->no_cpu = true, DLE_OK;
  if (strcmp(key, "carbon_intensity") == 0) {
    if (!parse_num(v, 0, 5000, &x))
      return failf(t, DLE_EINVAL, "carbon_intensity wants g/kWh in [0, 5000], not '%s'", v);
    t->carbon_g_per_kwh = x;
    return DLE_OK;
  }
  if (strcmp(key, "pue") == 0) {
    if (!parse_num(v, 1, 10, &x)) return failf(t, DLE_EINVAL, "pue wants a number in [1, 10], not '%s'", v);
    t->pue = x;
    return DLE_OK;
  }
  if (strcmp(key, "interval") == 0) {
    if (!parse_num(v, 0.001, 3600, &x))
      return failf(t, DLE_EINVAL, "interval wants seconds in 0.001..3600, not '%s'", v);
    t->interval_s = x;
    return DLE_OK;
  }
  if (strcmp(key, "drain_period") == 0) {
    if (!parse_num(v, 0.001, 60, &x))
      return failf(t, DLE_EINVAL, "drain_period wants seconds in 0.001..60, not '%s'", v);
    t->drain_period_s = x;
    return DLE_OK;
  }
  if (strcmp(key, "cpu_tdp") == 0) {
    if (!parse_num(v, 1e-9, 10000, &x))
      return failf(t, DLE_EINVAL, "cpu_tdp wants watts in (0, 10000], not '%s'", v);
    t->cpu_tdp_w = x;
    return DLE_OK;
  }
  if (strcmp(key, "ram_w_per_gb") == 0) {
    if (!parse_num(v, 0, 100, &x))
      return failf(t, DLE_EINVAL, "ram_w_per_gb wants W/GB in [0, 100], not '%s'", v);
    t->ram_w_per_gb = x;
    return DLE_OK;
  }
  if (strcmp(key, "scope") == 0) {
    int sc = dle_scope_parse(v);
    if (sc < 0) return failf(t, DLE_EINVAL, "scope wants process or machine, not '%s'", v);
    t->scope = sc;
    return DLE_OK;
  }
  if (strcmp(key, "epochs") == 0) {
    if (!parse_num(v, 1, 1e9, &x) || x != floor(x))
      return failf(t, DLE_EINVAL, "epochs wants a positive integer, not '%s'", v);
    t->epochs = (int)x;
    return DLE_OK;
  }
  if (strncmp(key, "meta.", 5) == 0) {
    const char *k = key + 5;
    if (!*k || strchr(k, '=') || strpbrk(k, " \t\r\n") || strpbrk(v, "\r\n"))
      return failf(t, DLE_EINVAL, "meta wants a key without spaces or '=' and a one-line value ('%s')", k);
    if (t->n_meta >= MAX_META) return failf(t, DLE_ERANGE, "more than %d metadata values", MAX_META);
    char *kv = NULL;
    if (asprintf(&kv, "%s=%s", k, v) < 0) return failf(t, DLE_ENOMEM, "out of memory");
    t->meta[t->n_meta++] = kv;
    t->meta[t->n_meta] = NULL;
    return DLE_OK;
  }
  return failf(t, DLE_EINVAL, "unknown option '%s'", key);
}

int dle_tracker_start(dle_tracker *t) {
  if (!t) return DLE_EINVAL;
  t->err[0] = '\0';
  if (foreign(t)) return failf(t, DLE_ESTATE, "the tracker belongs to process %ld", (long)t->owner);
  if (t->rec || t->stopped) return failf(t, DLE_ESTATE, "the tracker was already started");
  dle_error e;
  dle_error_clear(&e);
  /* The carbon intensity and its label, as `dlenergy run` resolves them. */
  char carbon_how[256];
  double carbon = t->carbon_g_per_kwh;
  if (t->country && !isnan(carbon))
    return failf(t, DLE_EINVAL, "country and carbon_intensity both give the carbon intensity: use one");
  if (!isnan(carbon)) {
    snprintf(carbon_how, sizeof carbon_how, "%.4g g/kWh (carbon_intensity)", carbon);
  } else {
    dle_carbon_info ci;
    if (dle_carbon_find(t->country ? t->country : "WORLD", &ci, &e) != DLE_OK) return fail(t, &e);
    carbon = ci.g_per_kwh;
    snprintf(carbon_how, sizeof carbon_how, "%s%.4g g/kWh (%s, %d; %s)", t->country ? "" : "default: ",
             ci.g_per_kwh, ci.name, ci.year, ci.source);
  }
  dle_recorder_config cfg;
  dle_recorder_config_init(&cfg);
  cfg.db = db_path(t->db);
  cfg.sampler.interval_s = t->interval_s;
  dle_sensors_config *sc = &cfg.sampler.sensors;
  sc->root_pid = getpid();
  if (t->no_gpu) sc->enable_nvml = false;
  if (t->gpus_set && !t->no_gpu) sc->gpus = t->gpus, sc->enable_nvml = true;
  if (t->no_rapl) sc->enable_rapl = false;
  if (t->no_cpu) sc->enable_procfs = false;
  if (!isnan(t->cpu_tdp_w)) sc->cpu_tdp_w = t->cpu_tdp_w;
  sc->ram_w_per_gb = t->ram_w_per_gb;
  sc->scope = t->scope;
  cfg.source = t->source ? t->source : "inproc";
  cfg.host = t->host;
  cfg.command = t->command;
  cfg.pue = t->pue;
  cfg.carbon_g_per_kwh = carbon;
  cfg.carbon_how = carbon_how;
  cfg.country = t->country;
  cfg.job = t->job;
  cfg.epochs_planned = t->epochs;
  cfg.meta = t->n_meta ? t->meta : NULL;
  if (dle_recorder_begin(&cfg, &t->rec, &e) != DLE_OK) return fail(t, &e);
  if (dle_recorder_start(t->rec, &e) != DLE_OK ||
      dle_recorder_start_drain_thread(t->rec, t->drain_period_s, &e) != DLE_OK) {
    dle_recorder_stop(t->rec);
    dle_recorder_abort(t->rec, -1, e.msg);
    dle_recorder_free(t->rec);
    t->rec = NULL;
    return fail(t, &e);
  }
  return DLE_OK;
}

static int running(dle_tracker *t) {
  if (!t) return DLE_EINVAL;
  if (foreign(t)) return DLE_ESTATE; /* a forked worker: silently ignored */
  if (!t->rec || t->stopped) return failf(t, DLE_ESTATE, "the tracker is not running");
  return DLE_OK;
}

double dle_tracker_now_s(const dle_tracker *t) {
  return t && t->rec ? dle_recorder_now_s(t->rec) : NAN;
}

int64_t dle_tracker_run_id(const dle_tracker *t) {
  return t && t->rec ? dle_recorder_run_id(t->rec) : 0;
}

int dle_tracker_epochs_total(dle_tracker *t, int n) {
  int rc = running(t);
  if (rc) return rc;
  if (n < 0) return failf(t, DLE_EINVAL, "epochs_total %d is negative", n);
  dle_recorder_set_epochs_total(t->rec, n);
  return DLE_OK;
}

int dle_tracker_epoch_begin(dle_tracker *t, int index) {
  int rc = running(t);
  if (rc) return rc;
  dle_recorder_epoch_begin(t->rec, index, dle_recorder_now_s(t->rec));
  return DLE_OK;
}

int dle_tracker_epoch_end(dle_tracker *t, int index, const char *metrics) {
  int rc = running(t);
  if (rc) return rc;
  if (metrics && strpbrk(metrics, "\r\n"))
    return failf(t, DLE_EINVAL, "epoch metrics must be one line of key=value pairs");
  dle_recorder_epoch_end(t->rec, index, dle_recorder_now_s(t->rec), metrics);
  return DLE_OK;
}

int dle_tracker_meta(dle_tracker *t, const char *key, const char *value) {
  int rc = running(t);
  if (rc) return rc;
  if (!key || !*key || strchr(key, '=') || strpbrk(key, " \t\r\n"))
    return failf(t, DLE_EINVAL, "a metadata key is non-empty, without spaces or '='");
  if (!value || strpbrk(value, "\r\n")) return failf(t, DLE_EINVAL, "metadata '%s': one-line value", key);
  if (strncmp(key, "window.", 7) == 0) return failf(t, DLE_EINVAL, "'window.' keys are the windows'");
  dle_recorder_set_meta(t->rec, key, value);
  return DLE_OK;
}

int dle_tracker_window_begin(dle_tracker *t, const char *name) {
  int rc = running(t);
  if (rc) return rc;
  dle_error e;
  if (dle_recorder_window_begin(t->rec, name, dle_recorder_now_s(t->rec), &e) != DLE_OK)
    return fail(t, &e);
  return DLE_OK;
}

int dle_tracker_window_end(dle_tracker *t, const char *name, double *energy_j) {
  if (energy_j) *energy_j = NAN;
  int rc = running(t);
  if (rc) return rc;
  dle_error e;
  if (dle_recorder_window_end(t->rec, name, dle_recorder_now_s(t->rec), energy_j, &e) != DLE_OK)
    return fail(t, &e);
  return DLE_OK;
}

/* ------------------------------------------------------------------ summary JSON */

static void num_or_null(cJSON *o, const char *key, double v) {
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
    num_or_null(g, "energy_j", s->device_energy_j[d]);
    num_or_null(g, "avg_power_w", s->device_avg_power_w[d]);
    num_or_null(g, "counter_energy_j", s->device_counter_j[d]);
    num_or_null(g, "integral_energy_j", s->device_integral_j[d]);
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
  num_or_null(o, "gpu_energy_used_j", any_used ? used_j : NAN);
}

/* A run as JSON: the fields of `dlenergy show --json` that carry figures (same names,
 * same functions behind them), its epochs and windows with their energies. */
static cJSON *summary_json(const dle_run_info *info, const dle_trace *tr, const dle_epoch *ep,
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
  num_or_null(o, "start_wall_s", info->start_wall_s);
  num_or_null(o, "end_wall_s", info->end_wall_s);
  num_or_null(o, "interval_s", info->interval_s);
  cJSON_AddNumberToObject(o, "exit_code", info->exit_code);
  cJSON_AddNumberToObject(o, "term_signal", info->term_signal);
  num_or_null(o, "duration_s", s.duration_s);
  cJSON_AddNumberToObject(o, "samples", (double)s.samples);
  size_t done = 0;
  for (size_t i = 0; i < ne; i++) done += isfinite(ep[i].t_end_s);
  cJSON_AddNumberToObject(o, "epochs", (double)done);
  cJSON_AddNumberToObject(o, "epochs_open", (double)(ne - done));
  cJSON_AddNumberToObject(o, "epochs_planned", info->epochs_planned);
  num_or_null(o, "gpu_energy_j", s.energy_j[DLE_COMP_GPU]);
  num_or_null(o, "avg_gpu_power_w", s.avg_power_w[DLE_COMP_GPU]);
  num_or_null(o, "gpu_counter_energy_j", s.gpu_counter_j);
  num_or_null(o, "gpu_integral_energy_j", s.gpu_integral_j);
  cJSON_AddBoolToObject(o, "gpu_counter_disagrees", s.gpu_counter_disagrees != 0);
  num_or_null(o, "gpu_energy_all_j", s.gpu_all_j);
  cJSON *en = cJSON_AddObjectToObject(o, "energy_j");
  cJSON *comp = cJSON_AddObjectToObject(o, "components");
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    const char *name = dle_component_name((dle_component)c);
    num_or_null(en, name, s.energy_j[c]);
    cJSON *co = cJSON_AddObjectToObject(comp, name);
    num_or_null(co, "energy_j", s.energy_j[c]);
    num_or_null(co, "avg_power_w", s.avg_power_w[c]);
    cJSON_AddStringToObject(co, "figure", figure_kind(&s, c));
    cJSON_AddStringToObject(co, "source", s.source[c]);
  }
  num_or_null(o, "total_energy_j", s.total_j);
  cJSON_AddNumberToObject(o, "pue", s.pue);
  num_or_null(o, "facility_energy_j", s.facility_j);
  num_or_null(o, "carbon_g_per_kwh", s.carbon_g_per_kwh);
  num_or_null(o, "emissions_g", s.emissions_g);
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
      num_or_null(eo, "t_begin_s", b);
      num_or_null(eo, "t_end_s", e);
      cJSON_AddBoolToObject(eo, "open", isnan(ep[k].t_end_s));
      cJSON *een = cJSON_AddObjectToObject(eo, "energy_j");
      for (int c = 0; c < DLE_COMP_COUNT; c++)
        num_or_null(een, dle_component_name((dle_component)c), ej[c][k]);
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
    num_or_null(wo, "t_begin_s", w[k].t_begin_s);
    num_or_null(wo, "t_end_s", w[k].t_end_s);
    cJSON_AddBoolToObject(wo, "open", isnan(w[k].t_end_s));
    cJSON *wen = cJSON_AddObjectToObject(wo, "energy_j");
    for (int c = 0; c < DLE_COMP_COUNT; c++)
      num_or_null(wen, dle_component_name((dle_component)c), parts[c]);
    num_or_null(wo, "total_energy_j", tot);
    cJSON_AddItemToArray(wa, wo);
  }
  return o;
}

/* A stored run as summary JSON. */
static cJSON *stored_run_json(dle_store *st, int64_t id, bool with_epochs, dle_error *err) {
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
    o = summary_json(&info, &tr, ep, ne, w, nw, kv, nkv, with_epochs, err);
  free(w);
  dle_kv_free(kv, nkv);
  free(ep);
  dle_trace_free(&tr);
  return o;
}

static char *print_json(cJSON *o) {
  char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return txt;
}

int dle_tracker_stop(dle_tracker *t, const char *status, const char *error) {
  int rc = running(t);
  if (rc) return rc;
  dle_run_status st = DLE_RUN_COMPLETE;
  if (status && dle_run_status_parse(status, &st) != DLE_OK)
    return failf(t, DLE_EINVAL, "status wants complete, failed or killed, not '%s'", status);
  if (st == DLE_RUN_RUNNING) return failf(t, DLE_EINVAL, "a stopped run is not 'running'");
  dle_recorder *r = t->rec;
  dle_recorder_stop(r); /* joins the drain thread; the last sample is at this instant */
  dle_recorder_drain(r);
  t->stopped = true;
  if (error && *error) dle_recorder_set_meta(r, "error", error);
  int frc = dle_recorder_finish(r, st, st == DLE_RUN_COMPLETE ? 0 : -1, 0);
  dle_error e;
  dle_error_clear(&e);
  cJSON *o = NULL;
  const char *store_err = dle_recorder_store_failed(r);
  if (!store_err) o = stored_run_json(dle_recorder_store(r), dle_recorder_run_id(r), true, &e);
  if (!o) {
    /* The store failed (or cannot be read back): the figures from the samples in memory. */
    dle_sensors_info si;
    bool sel[DLE_MAX_GPUS];
    dle_recorder_select_headline(r, &si, sel);
    size_t ne, nw;
    const dle_epoch *ep = dle_recorder_epochs(r, &ne);
    const dle_window *w = dle_recorder_windows(r, &nw);
    dle_error e2;
    o = summary_json(dle_recorder_info(r), dle_recorder_trace(r), ep, ne, w, nw, NULL, 0, true, &e2);
    if (o) {
      cJSON_AddBoolToObject(o, "recorded", false);
      cJSON_AddStringToObject(o, "store_error", store_err ? store_err : e.msg);
    }
  } else {
    cJSON_AddBoolToObject(o, "recorded", true);
  }
  if (o) {
    dle_sampler_stats ss;
    dle_recorder_sampler_stats(r, &ss);
    cJSON_AddNumberToObject(o, "sampler_cpu_s", ss.cpu_time_s);
    cJSON_AddNumberToObject(o, "samples_dropped", (double)ss.dropped);
    const dle_sensors_info *si = dle_recorder_sensors(r);
    if (si->notes[0]) cJSON_AddStringToObject(o, "sensor_notes", si->notes);
  }
  t->summary = print_json(o);
  if (!t->summary) return failf(t, DLE_ENOMEM, "no summary: %s", e.msg[0] ? e.msg : "out of memory");
  if (frc != DLE_OK)
    return failf(t, DLE_EDB, "the run store failed: %s", store_err ? store_err : "unknown error");
  return DLE_OK;
}

const char *dle_tracker_summary_json(const dle_tracker *t) { return t ? t->summary : NULL; }
const char *dle_tracker_error(const dle_tracker *t) { return t ? t->err : ""; }

void dle_tracker_free(dle_tracker *t) {
  if (!t) return;
  if (foreign(t)) return; /* a forked child's copy: its threads do not exist here */
  if (t->rec && !t->stopped) {
    dle_recorder_stop(t->rec);
    dle_recorder_drain(t->rec);
    dle_recorder_finish(t->rec, DLE_RUN_FAILED, -1, 0);
  }
  dle_recorder_free(t->rec);
  free(t->db), free(t->country), free(t->job), free(t->host);
  free(t->command), free(t->source), free(t->gpus);
  for (size_t i = 0; i < t->n_meta; i++) free(t->meta[i]);
  free(t->summary);
  free(t);
}

/* ------------------------------------------------------------------ readers */

static int api_fail(const dle_error *e, char *err, size_t err_size) {
  if (err && err_size) snprintf(err, err_size, "%s", e->msg);
  return e->code ? e->code : DLE_EINTERNAL;
}

static int finish_out(cJSON *o, char **out, dle_error *e) {
  *out = print_json(o);
  if (!*out) return dle_error_set(e, e->code ? e->code : DLE_ENOMEM, "%s", e->msg[0] ? e->msg : "out of memory");
  return DLE_OK;
}

int dle_api_run_json(const char *db, const char *run, char **out, char *err, size_t err_size) {
  *out = NULL;
  dle_error e;
  dle_error_clear(&e);
  dle_store *st = NULL;
  int64_t id;
  int rc = dle_store_open(db_path(db), &st, &e);
  if (rc == DLE_OK) rc = dle_store_resolve_run(st, run ? run : "last", &id, &e);
  if (rc == DLE_OK) rc = finish_out(stored_run_json(st, id, true, &e), out, &e);
  dle_store_close(st);
  return rc == DLE_OK ? DLE_OK : api_fail(&e, err, err_size);
}

int dle_api_runs_json(const char *db, const char *filter, char **out, char *err,
                      size_t err_size) {
  *out = NULL;
  dle_error e;
  dle_error_clear(&e);
  dle_store *st = NULL;
  int64_t *ids = NULL;
  size_t n = 0;
  int rc = dle_store_open(db_path(db), &st, &e);
  if (rc == DLE_OK) rc = dle_store_select_runs(st, filter, &ids, &n, &e);
  cJSON *arr = rc == DLE_OK ? cJSON_CreateArray() : NULL;
  for (size_t i = 0; arr && i < n; i++) {
    cJSON *o = stored_run_json(st, ids[i], false, &e);
    if (!o) {
      cJSON_Delete(arr);
      arr = NULL;
      rc = e.code ? e.code : DLE_ENOMEM;
      break;
    }
    cJSON_AddItemToArray(arr, o);
  }
  if (rc == DLE_OK) rc = finish_out(arr, out, &e);
  free(ids);
  dle_store_close(st);
  return rc == DLE_OK ? DLE_OK : api_fail(&e, err, err_size);
}

/* The sample columns; gathered by dle_store_foreach_sample. */
enum { C_T, C_WALL, C_GPU_W, C_CPU_W, C_DRAM_W, C_RAM_W, C_CPU_UTIL, C_RSS, C_GPU_CTR,
       C_GPU_UTIL, C_GPU_MEM, C_NGPU, N_COLS };
static const char *const k_cols[N_COLS] = {
    "t_s", "wall_s", "gpu_power_w", "cpu_power_w", "dram_power_w", "ram_power_w",
    "cpu_util_pct", "rss_mib", "gpu_energy_counter_j", "gpu_util_pct", "gpu_mem_used_mib",
    "n_gpus"};

static double gpu_sum(const dle_sample *s, size_t off, bool mean) {
  double sum = 0;
  int n = 0;
  for (uint32_t g = 0; g < s->n_gpus && g < DLE_MAX_GPUS; g++) {
    double v = *(const double *)((const char *)&s->gpu[g] + off);
    if (isfinite(v)) sum += v, n++;
  }
  return n ? (mean ? sum / n : sum) : NAN;
}

static int sample_cb(void *ctx, const dle_sample *s, dle_error *err) {
  cJSON **col = ctx;
  const double v[N_COLS] = {
      s->t_s, s->wall_s, dle_sample_gpu_power_w(s), s->cpu_power_w, s->dram_power_w,
      s->ram_power_w, s->cpu_util_pct, s->rss_mib,
      gpu_sum(s, offsetof(dle_gpu_sample, energy_counter_j), false),
      gpu_sum(s, offsetof(dle_gpu_sample, util_gpu_pct), true),
      gpu_sum(s, offsetof(dle_gpu_sample, mem_used_mib), false), (double)s->n_gpus};
  for (int c = 0; c < N_COLS; c++) {
    cJSON *x = isfinite(v[c]) ? cJSON_CreateNumber(v[c]) : cJSON_CreateNull();
    if (!x || !cJSON_AddItemToArray(col[c], x)) {
      cJSON_Delete(x);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
  }
  return DLE_OK;
}

int dle_api_samples_json(const char *db, const char *run, char **out, char *err,
                         size_t err_size) {
  *out = NULL;
  dle_error e;
  dle_error_clear(&e);
  dle_store *st = NULL;
  int64_t id;
  int rc = dle_store_open(db_path(db), &st, &e);
  if (rc == DLE_OK) rc = dle_store_resolve_run(st, run ? run : "last", &id, &e);
  cJSON *o = rc == DLE_OK ? cJSON_CreateObject() : NULL;
  cJSON *col[N_COLS];
  for (int c = 0; o && c < N_COLS; c++)
    if (!(col[c] = cJSON_AddArrayToObject(o, k_cols[c]))) {
      cJSON_Delete(o);
      o = NULL;
      rc = dle_error_set(&e, DLE_ENOMEM, "out of memory");
    }
  if (o) {
    rc = dle_store_foreach_sample(st, id, sample_cb, col, &e);
    if (rc != DLE_OK) cJSON_Delete(o), o = NULL;
  }
  if (rc == DLE_OK) rc = finish_out(o, out, &e);
  dle_store_close(st);
  return rc == DLE_OK ? DLE_OK : api_fail(&e, err, err_size);
}

int dle_api_estimate_json(const char *db, const char *run, const char *method,
                          const char *params, char **out, char *err, size_t err_size) {
  *out = NULL;
  dle_error e;
  dle_error_clear(&e);
  dle_store *st = NULL;
  int64_t id;
  dle_estimate_method m;
  dle_estimate_run er;
  bool loaded = false;
  int rc = dle_estimate_method_parse(method ? method : "step-auto", &m, &e);
  if (rc == DLE_OK) rc = dle_store_open(db_path(db), &st, &e);
  if (rc == DLE_OK) rc = dle_store_resolve_run(st, run ? run : "last", &id, &e);
  if (rc == DLE_OK) rc = dle_estimate_run_load(st, id, &er, &e);
  loaded = rc == DLE_OK;
  dle_estimate_input in;
  if (loaded) dle_estimate_input_from_run(&in, &er);
  /* "key=value;key=value" (a key alone for flags such as gpu-only). */
  char *copy = rc == DLE_OK && params ? strdup(params) : NULL;
  if (rc == DLE_OK && params && !copy) rc = dle_error_set(&e, DLE_ENOMEM, "out of memory");
  char *save = NULL;
  for (char *tok = copy ? strtok_r(copy, ";", &save) : NULL; rc == DLE_OK && tok;
       tok = strtok_r(NULL, ";", &save)) {
    char *eq = strchr(tok, '=');
    if (eq) *eq = '\0';
    rc = dle_estimate_input_set(&in, tok, eq ? eq + 1 : NULL, &e);
  }
  free(copy);
  dle_estimate_result r;
  if (rc == DLE_OK) rc = dle_estimate_project(&in, m, &r, &e);
  if (rc == DLE_OK) {
    cJSON *o = cJSON_CreateObject();
    bool at_end = in.run_complete && (in.at_epoch == 0 || (size_t)in.at_epoch == in.n_epochs);
    double meas = NAN;
    dle_error e2;
    if (at_end && dle_estimate_measured_j(&er.trace, r.components, &meas, &e2) != DLE_OK) meas = NAN;
    if (isfinite(meas) && m == DLE_EST_GA) meas *= in.pue >= 1 ? in.pue : 1;
    cJSON_AddNumberToObject(o, "run_id", (double)id);
    cJSON_AddStringToObject(o, "method", r.method);
    cJSON_AddStringToObject(o, "figure", "modelled");
    num_or_null(o, "total_j", r.total_j);
    num_or_null(o, "lower_j", r.lower_j);
    num_or_null(o, "upper_j", r.upper_j);
    num_or_null(o, "duration_s", r.duration_s);
    num_or_null(o, "mean_power_w", r.mean_power_w);
    num_or_null(o, "window_start_s", r.window_start_s);
    num_or_null(o, "window_end_s", r.window_end_s);
    num_or_null(o, "seen_s", r.seen_s);
    num_or_null(o, "fraction_seen", r.fraction_seen);
    num_or_null(o, "measured_j", meas);
    num_or_null(o, "error_fraction", isfinite(meas) && meas != 0 ? (r.total_j - meas) / meas : NAN);
    cJSON_AddStringToObject(o, "assumptions", r.assumptions);
    rc = finish_out(o, out, &e);
  }
  if (loaded) dle_estimate_run_free(&er);
  dle_store_close(st);
  return rc == DLE_OK ? DLE_OK : api_fail(&e, err, err_size);
}

void dle_api_free(char *p) { free(p); }
