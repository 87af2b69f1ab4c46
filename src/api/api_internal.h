/* api_internal.h — what the C API's files share: the run summary as JSON (the fields of
 * `dlenergy show --json`, plus windows), built from a stored run or from a trace. */
#ifndef DLE_API_INTERNAL_H
#define DLE_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dlenergy/recorder.h"
#include "dlenergy/store.h"

/* db, else $DLENERGY_DB, else "dlenergy.db" (the CLI's rule). */
const char *dle_api_db_path(const char *db);
/* A run as JSON from its record, trace, epochs, windows and metadata (kv may be NULL). */
cJSON *dle_api_summary_json(const dle_run_info *info, const dle_trace *tr, const dle_epoch *ep,
                            size_t ne, const dle_window *w, size_t nw, const dle_kv *kv,
                            size_t nkv, bool with_epochs, dle_error *err);
/* A stored run as JSON (read back through st). */
cJSON *dle_api_stored_run_json(dle_store *st, int64_t id, bool with_epochs, dle_error *err);
/* Prints o unformatted and deletes it; NULL when o is NULL or out of memory. */
char *dle_api_print_json(cJSON *o);

#endif
