/* store_internal.h — what the two backends (SQLite, PostgreSQL) implement and what
 * the common layer (store.c) does for both: dispatch, the one-second commit rule,
 * filters, trace building. Tests include it for the fault seam; nothing else should. */
#ifndef DLE_STORE_INTERNAL_H
#define DLE_STORE_INTERNAL_H

#include "dlenergy/store.h"

/* Current schema version of both backends. Bump it and add a step to the
 * backend's migration table when the schema changes. Version 3 adds a chunk
 * column mode (integer deltas of the bits, chunk.h) that version-2 binaries cannot
 * decode: its step changes no row, it makes them refuse the store clearly. */
enum { DLE_STORE_SCHEMA_VERSION = 3 };

typedef struct dle_store_ops {
  const char *name; /* "sqlite" or "postgresql" */
  void (*close)(dle_store *st);
  int (*create_run)(dle_store *st, const dle_run_info *info, int64_t *id, dle_error *err);
  int (*update_run)(dle_store *st, const dle_run_info *info, dle_error *err);
  int (*set_meta)(dle_store *st, int64_t run_id, const char *key, const char *value,
                  dle_error *err);
  int (*append_samples)(dle_store *st, int64_t run_id, const dle_sample *s, size_t n,
                        dle_error *err);
  int (*put_epoch)(dle_store *st, int64_t run_id, const dle_epoch *e, dle_error *err);
  int (*commit)(dle_store *st, dle_error *err); /* no-op when nothing is pending */
  int (*begin)(dle_store *st, dle_error *err);  /* optional: dle_store_begin */
  int (*delete_run)(dle_store *st, int64_t run_id, dle_error *err);
  int (*list_runs)(dle_store *st, int64_t only_id, dle_run_info **out, size_t *n,
                   dle_error *err); /* only_id < 0: all runs */
  int (*last_run)(dle_store *st, int64_t *id, dle_error *err);
  int (*get_meta)(dle_store *st, int64_t run_id, dle_kv **out, size_t *n, dle_error *err);
  int (*meta_match)(dle_store *st, const char *key, const char *value, int64_t **ids,
                    size_t *n, dle_error *err);
  int (*foreach_sample)(dle_store *st, int64_t run_id, dle_store_sample_fn fn, void *ctx,
                        dle_error *err);
  int (*load_epochs)(dle_store *st, int64_t run_id, dle_epoch **out, size_t *n,
                     dle_error *err);
  int (*count_samples)(dle_store *st, int64_t run_id, int64_t *n, dle_error *err);
} dle_store_ops;

/* Fault seam for tests: when set, the backend calls hook(ctx, op) before it commits
 * buffered rows ("commit"); a non-zero return makes the backend send a statement
 * that fails on the database side inside the open transaction, so the real error
 * path (failed statement → rollback → error returned) runs. */
typedef int (*dle_store_fault_hook)(void *ctx, const char *op);

/* Every backend's handle starts with this struct. */
struct dle_store {
  const dle_store_ops *ops;
  char location[512];      /* for messages; a URI's password is not kept */
  double last_commit_s;    /* monotonic time of the last commit (or open) */
  size_t pending;          /* rows written since the last commit */
  double commit_interval_s; /* 1.0: the durability promise of store.h */
  dle_store_fault_hook fault_hook;
  void *fault_ctx;
};

void dle_store_set_fault_hook(dle_store *st, dle_store_fault_hook hook, void *ctx);

/* Backend constructors (location already classified). */
int dle_store_open_sqlite(const char *path, dle_store **out, dle_error *err);
int dle_store_open_pg(const char *uri, dle_store **out, dle_error *err);

/* Shared helpers. */
double dle_store_mono_s(void);
void dle_store_copy_str(char *dst, size_t n, const char *src);
/* Called by backends after a successful commit / a rollback of pending rows. */
void dle_store_mark_committed(dle_store *st);
/* Sets err to "no run ID in LOCATION" and returns DLE_ENOTFOUND. */
int dle_store_no_run(const dle_store *st, int64_t run_id, dle_error *err);
/* DLE_OK when a store at schema version `version` can be used by this build; else
 * DLE_EDB with a message asking for a newer dlenergy. */
int dle_store_check_schema_version(const dle_store *st, int version, dle_error *err);
/* Copies a sample's fields and its n_gpus GPUs (the slots the store keeps). */
void dle_store_copy_sample(dle_sample *dst, const dle_sample *src);
/* A stored sample's GPU count, clamped to 0..DLE_MAX_GPUS. */
uint32_t dle_store_clamp_n_gpus(int64_t n_gpus);

#endif
