/* store.h — the run store: runs, samples, epochs and key=value metadata.
 *
 * Backends: SQLite (a file path, the default ./dlenergy.db) and PostgreSQL
 * (a "postgresql://" or "postgres://" URI). Same schema and behaviour on both.
 *
 * Durability: appended samples and epochs are buffered in an open transaction that
 * is committed whenever the last commit is older than one second (checked on every
 * append) and on dle_store_commit(); so a kill -9 of the writer loses at most the
 * last second. A dle_store handle is not thread-safe: one thread uses it.
 *
 * Well-known metadata keys (all optional, values are text):
 *   gpu_name, gpu_uuid, gpu_count, gpu_tdp_w (max power limit), gpu_power_limit_w,
 *   host_ram_gb, cpu_model, cpu_cores, cpu_tdp_w, ram_w_per_gb,
 *   architecture, environment, dataset, batch_size, image (HxW), training_size,
 *   validation_size, gflops (forward pass, one sample), epochs_total,
 *   source_gpu_file, source_cpu_file, job (the distributed job the run is part of:
 *   run --job, $SLURM_JOB_ID or $TORCHELASTIC_RUN_ID), job_source. User metadata
 *   from markers and --meta goes in the same table.
 *
 * Samples are stored as compressed column chunks (lossless; docs/store.md) and
 * read back one chunk at a time. */
#ifndef DLENERGY_STORE_H
#define DLENERGY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"
#include "dlenergy/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dle_run_status {
  DLE_RUN_RUNNING = 0,  /* still being recorded, or the recorder died (see end_wall_s) */
  DLE_RUN_COMPLETE = 1, /* command exited with status 0 / import finished */
  DLE_RUN_FAILED = 2,   /* command exited non-zero, or could not start */
  DLE_RUN_KILLED = 3    /* command died from a signal */
} dle_run_status;

const char *dle_run_status_str(dle_run_status st); /* "running", "complete", ... */
int dle_run_status_parse(const char *s, dle_run_status *out);

typedef struct dle_run_info {
  int64_t id;                /* assigned by the store */
  dle_run_status status;
  char source[16];           /* "run", "attach" or "import" */
  char host[256];
  char command[2048];        /* argv joined for display only (never executed) */
  double start_wall_s;       /* Unix seconds */
  double end_wall_s;         /* NaN while running */
  double interval_s;         /* sampling interval */
  int exit_code;             /* -1 when unknown */
  int term_signal;           /* 0 when none */
  int epochs_planned;        /* 0 when unknown */
  double pue;                /* power usage effectiveness, >= 1 */
  double carbon_g_per_kwh;   /* NaN when not set */
  char gpu_source[16];       /* "nvml", "nvidia-smi", "none" */
  char cpu_source[16];       /* "rapl" (measured), "model", "psutil", "none" */
  char dram_source[16];      /* "rapl" or "none" */
  char ram_source[16];       /* "model" or "none" */
} dle_run_info;

/* Defaults: status running, source "run", pue 1, carbon NaN, end NaN, exit -1,
 * sources "none", everything else empty/zero. */
void dle_run_info_init(dle_run_info *info);

typedef struct dle_kv {
  char *key;
  char *value;
} dle_kv;
void dle_kv_free(dle_kv *kv, size_t n);
/* Value of key in kv[0..n), or NULL. */
const char *dle_kv_get(const dle_kv *kv, size_t n, const char *key);

typedef struct dle_store dle_store;

/* Opens (creating if needed) the store at location: a file path or a
 * postgresql:// URI. Creates or migrates the schema (versioned). */
int dle_store_open(const char *location, dle_store **out, dle_error *err);
void dle_store_close(dle_store *st); /* commits pending rows; NULL is fine */

/* ---- writing ---- */
int dle_store_create_run(dle_store *st, const dle_run_info *info, int64_t *run_id,
                         dle_error *err);
/* Updates status, end_wall_s, exit_code, term_signal, epochs_planned, pue,
 * carbon and sources of run info->id. Commits. */
int dle_store_update_run(dle_store *st, const dle_run_info *info, dle_error *err);
/* Inserts or replaces one metadata value. */
int dle_store_set_meta(dle_store *st, int64_t run_id, const char *key, const char *value,
                       dle_error *err);
int dle_store_append_samples(dle_store *st, int64_t run_id, const dle_sample *samples,
                             size_t n, dle_error *err);
/* Inserts or replaces epoch e->index of the run. */
int dle_store_put_epoch(dle_store *st, int64_t run_id, const dle_epoch *e, dle_error *err);
int dle_store_commit(dle_store *st, dle_error *err);
/* Optional grouping for bulk writers (import): the writes that follow (run, metadata,
 * epochs, samples) share one transaction until dle_store_commit(), a read through
 * this handle, or the one-second rule commits it; a failed write in it rolls back
 * all of it. Readers never see half of a group. PostgreSQL: a no-op. */
int dle_store_begin(dle_store *st, dle_error *err);
int dle_store_delete_run(dle_store *st, int64_t run_id, dle_error *err);

/* ---- reading ---- */
/* All runs, ascending id. Free with free(). */
int dle_store_list_runs(dle_store *st, dle_run_info **out, size_t *n, dle_error *err);
int dle_store_get_run(dle_store *st, int64_t run_id, dle_run_info *out, dle_error *err);
/* Resolves a user's RUN argument: a numeric id or "last". */
int dle_store_resolve_run(dle_store *st, const char *arg, int64_t *run_id, dle_error *err);
int dle_store_get_meta(dle_store *st, int64_t run_id, dle_kv **out, size_t *n, dle_error *err);
/* The run's headline GPUs (metadata gpus_headline, "1,3": the NVML indices of the
 * devices the run used) into idx; *n = 0 means every GPU. */
int dle_store_headline_gpus(dle_store *st, int64_t run_id, uint32_t idx[DLE_MAX_GPUS],
                            size_t *n, dle_error *err);
/* Loads the whole run as columns (memory grows with its samples: 15 doubles a
 * sample and 2 a GPU reading). A run's figures are cheaper with
 * dle_energy_summarize_run (energy.h), which streams, and the estimators' columns
 * with dle_energy_load_series (9 doubles a sample) or, bounded whatever the run's
 * length, dle_estimate_series_load (estimate.h). */
int dle_store_load_trace(dle_store *st, int64_t run_id, dle_trace *out, dle_error *err);
/* Epochs ordered by index. Free with free(). */
int dle_store_load_epochs(dle_store *st, int64_t run_id, dle_epoch **out, size_t *n,
                          dle_error *err);
int dle_store_count_samples(dle_store *st, int64_t run_id, int64_t *n, dle_error *err);

/* Streams a run's samples in order, each with all its GPUs as written (for exports
 * that need per-device readings the trace aggregates away). fn returning non-zero
 * stops the walk and that status is returned. */
typedef int (*dle_store_sample_fn)(void *ctx, const dle_sample *s, dle_error *err);
int dle_store_foreach_sample(dle_store *st, int64_t run_id, dle_store_sample_fn fn, void *ctx,
                             dle_error *err);

/* Runs matching a filter: comma-separated conditions, each "key=value" on metadata
 * or on the fields status, source, host (e.g. "architecture=vgg16,status=complete").
 * An empty or NULL filter selects every run. Ascending id; free with free(). */
int dle_store_select_runs(dle_store *st, const char *filter, int64_t **ids, size_t *n,
                          dle_error *err);

#ifdef __cplusplus
}
#endif
#endif
