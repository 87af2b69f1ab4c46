/* summary.c — a run as JSON: `dlenergy show --json`'s object (the run view's builder,
 * include/dlenergy/run_view.h), from the store or from the trace in memory. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_internal.h"
#include "dlenergy/api.h"
#include "dlenergy/energy.h"
#include "dlenergy/error.h"
#include "dlenergy/estimate.h"
#include "dlenergy/recorder.h"
#include "dlenergy/run_view.h"
#include "dlenergy/store.h"

const char *dle_api_db_path(const char *db) {
  if (db && *db) return db;
  const char *env = getenv("DLENERGY_DB");
  return env && *env ? env : "dlenergy.db";
}

/* A run as JSON from its record, trace, epochs and windows in memory (kv may be NULL):
 * the run view's builder, the one `show --json` uses. */
cJSON *dle_api_summary_json(const dle_run_info *info, const dle_trace *tr, const dle_epoch *ep,
                            size_t ne, const dle_window *w, size_t nw, const dle_kv *kv, size_t nkv,
                            bool with_epochs, dle_error *err) {
  dle_run_view v;
  if (dle_run_view_from_trace(info, tr, ep, ne, w, nw, kv, nkv, &v, err) != DLE_OK) return NULL;
  cJSON *o = dle_run_view_json(&v, with_epochs, err);
  dle_run_view_free(&v);
  return o;
}

/* A stored run as summary JSON: exactly `show --json` (streamed from the store). */
cJSON *dle_api_stored_run_json(dle_store *st, int64_t id, bool with_epochs, dle_error *err) {
  dle_run_view v;
  if (dle_run_view_load(st, id, with_epochs, &v, err) != DLE_OK) return NULL;
  cJSON *o = dle_run_view_json(&v, with_epochs, err);
  dle_run_view_free(&v);
  return o;
}

char *dle_api_print_json(cJSON *o) {
  char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return txt;
}
