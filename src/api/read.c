/* read.c — the C API's readers of a store (dlenergy/api.h): runs, samples, estimates. */
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
#include "dlenergy/run_view.h"
#include "dlenergy/api.h"
#include "dlenergy/energy.h"
#include "dlenergy/error.h"
#include "dlenergy/estimate.h"
#include "dlenergy/recorder.h"
#include "dlenergy/store.h"

/* ------------------------------------------------------------------ readers */

static int api_fail(const dle_error *e, char *err, size_t err_size) {
  if (err && err_size) snprintf(err, err_size, "%s", e->msg);
  return e->code ? e->code : DLE_EINTERNAL;
}

static int finish_out(cJSON *o, char **out, dle_error *e) {
  *out = dle_api_print_json(o);
  if (!*out) return dle_error_set(e, e->code ? e->code : DLE_ENOMEM, "%s", e->msg[0] ? e->msg : "out of memory");
  return DLE_OK;
}

int dle_api_run_json(const char *db, const char *run, char **out, char *err, size_t err_size) {
  *out = NULL;
  dle_error e;
  dle_error_clear(&e);
  dle_store *st = NULL;
  int64_t id;
  int rc = dle_store_open(dle_api_db_path(db), &st, &e);
  if (rc == DLE_OK) rc = dle_store_resolve_run(st, run ? run : "last", &id, &e);
  if (rc == DLE_OK) rc = finish_out(dle_api_stored_run_json(st, id, true, &e), out, &e);
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
  int rc = dle_store_open(dle_api_db_path(db), &st, &e);
  if (rc == DLE_OK) rc = dle_store_select_runs(st, filter, &ids, &n, &e);
  cJSON *arr = rc == DLE_OK ? cJSON_CreateArray() : NULL;
  for (size_t i = 0; arr && i < n; i++) {
    cJSON *o = dle_api_stored_run_json(st, ids[i], false, &e);
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
  int rc = dle_store_open(dle_api_db_path(db), &st, &e);
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
  if (rc == DLE_OK) rc = dle_store_open(dle_api_db_path(db), &st, &e);
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
    dle_json_number_or_null(o, "total_j", r.total_j);
    dle_json_number_or_null(o, "lower_j", r.lower_j);
    dle_json_number_or_null(o, "upper_j", r.upper_j);
    dle_json_number_or_null(o, "duration_s", r.duration_s);
    dle_json_number_or_null(o, "mean_power_w", r.mean_power_w);
    dle_json_number_or_null(o, "window_start_s", r.window_start_s);
    dle_json_number_or_null(o, "window_end_s", r.window_end_s);
    dle_json_number_or_null(o, "seen_s", r.seen_s);
    dle_json_number_or_null(o, "fraction_seen", r.fraction_seen);
    dle_json_number_or_null(o, "measured_j", meas);
    dle_json_number_or_null(o, "error_fraction", isfinite(meas) && meas != 0 ? (r.total_j - meas) / meas : NAN);
    cJSON_AddStringToObject(o, "assumptions", r.assumptions);
    rc = finish_out(o, out, &e);
  }
  if (loaded) dle_estimate_run_free(&er);
  dle_store_close(st);
  return rc == DLE_OK ? DLE_OK : api_fail(&e, err, err_size);
}

void dle_api_free(char *p) { free(p); }

