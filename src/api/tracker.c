/* tracker.c — the in-process tracker of the C API (dlenergy/api.h) over the recorder. */
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
  cfg.db = dle_api_db_path(t->db);
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
  if (!store_err) o = dle_api_stored_run_json(dle_recorder_store(r), dle_recorder_run_id(r), true, &e);
  if (!o) {
    /* The store failed (or cannot be read back): the figures from the samples in memory. */
    dle_sensors_info si;
    bool sel[DLE_MAX_GPUS];
    dle_recorder_select_headline(r, &si, sel);
    size_t ne, nw;
    const dle_epoch *ep = dle_recorder_epochs(r, &ne);
    const dle_window *w = dle_recorder_windows(r, &nw);
    dle_error e2;
    o = dle_api_summary_json(dle_recorder_info(r), dle_recorder_trace(r), ep, ne, w, nw, NULL, 0, true, &e2);
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
  t->summary = dle_api_print_json(o);
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

