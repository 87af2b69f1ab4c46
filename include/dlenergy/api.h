/* api.h — a small C API for foreign callers (Python through ctypes, or any FFI):
 * plain types only (int, int64_t, double, const char *, opaque pointers), results
 * as JSON text. It records in-process (the calling process and its children are the
 * monitored tree) through the same recorder as `dlenergy run` (dlenergy/recorder.h),
 * so a run recorded here has the same schema and figures as any other.
 *
 * Errors: functions return 0 (DLE_OK) or a negative DLE_E* code (dlenergy/error.h);
 * the tracker keeps the last message (dle_tracker_error), the reading functions
 * write it into the caller's err buffer (err_size bytes, NUL-terminated).
 *
 * Crash-proof rule: once started, nothing here aborts or signals the host process.
 * A sensor that fails reads as absent (NaN) and is counted in the run's metadata;
 * a store that fails stops the writing (first message kept) but not the tracking:
 * the summary then comes from the in-memory samples, with "recorded": false and
 * "store_error". Calls from a forked child of the process that started the tracker
 * (DataLoader workers) are ignored (DLE_ESTATE), never deadlock.
 *
 * Thread-safety: the marks (epochs, windows, meta) may come from any thread; set,
 * start, stop and free from one thread. */
#ifndef DLENERGY_API_H
#define DLENERGY_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_tracker dle_tracker;

/* A tracker with the defaults (store ./dlenergy.db or $DLENERGY_DB, 10 Hz, every
 * sensor, world-average carbon intensity). NULL when out of memory. */
dle_tracker *dle_tracker_new(void);

/* Sets an option before start (value as text; NULL or "" for the flags):
 *   db PATH|URI, country CC, carbon_intensity G, pue X, interval S, gpus all|none|0,2,
 *   no_gpu, no_rapl, no_cpu, cpu_tdp W, ram_w_per_gb W, scope process|machine,
 *   job NAME, host NAME, epochs N, command TEXT, source NAME (default "inproc"),
 *   drain_period S (default 1: the store's commit interval), meta.KEY VALUE (run metadata; KEY without spaces).
 * DLE_EINVAL with a message for an unknown key or a bad value, as the CLI says it. */
int dle_tracker_set(dle_tracker *t, const char *key, const char *value);

/* Opens the sensors and the store, records the run (status running) and starts the
 * sampler and drain threads: t = 0 of the run. */
int dle_tracker_start(dle_tracker *t);

/* Run-relative seconds now (NaN before start). */
double dle_tracker_now_s(const dle_tracker *t);
int64_t dle_tracker_run_id(const dle_tracker *t); /* 0 before start */

/* Marks at this instant. metrics: "key=value key=value" or NULL. */
int dle_tracker_epochs_total(dle_tracker *t, int n);
int dle_tracker_epoch_begin(dle_tracker *t, int index);
int dle_tracker_epoch_end(dle_tracker *t, int index, const char *metrics);
int dle_tracker_meta(dle_tracker *t, const char *key, const char *value);
/* Named windows (nested or overlapping). *energy_j (may be NULL): the window's
 * energy from the samples so far (the summary has the final figure). */
int dle_tracker_window_begin(dle_tracker *t, const char *name);
int dle_tracker_window_end(dle_tracker *t, const char *name, double *energy_j);

/* Stops sampling, records the end (status "complete", "failed" or "killed"; error
 * text recorded as metadata "error" when not NULL) and builds the summary. Returns
 * DLE_EDB when the store failed during the run (the summary is still there). */
int dle_tracker_stop(dle_tracker *t, const char *status, const char *error);
/* The summary as JSON (the fields of `dlenergy show --json` plus "windows",
 * "recorded" and, when it failed, "store_error"); NULL before stop. */
const char *dle_tracker_summary_json(const dle_tracker *t);
/* The last error message ("" when none). */
const char *dle_tracker_error(const dle_tracker *t);
/* Stops (as failed, when still running) and frees. NULL is fine. */
void dle_tracker_free(dle_tracker *t);

/* ---- reading a store (db NULL: $DLENERGY_DB, else ./dlenergy.db) ----
 * *out gets malloc'd JSON text, freed with dle_api_free. */

/* One run (id, or "last") as dle_tracker_summary_json describes it. */
int dle_api_run_json(const char *db, const char *run, char **out, char *err, size_t err_size);
/* The runs matching filter ("key=value,..." as `dlenergy list --filter`; NULL: all),
 * each as dle_api_run_json without epoch_list, in a JSON array. */
int dle_api_runs_json(const char *db, const char *filter, char **out, char *err,
                      size_t err_size);
/* A run's samples as columns: {"t_s": [...], "wall_s": [...], "gpu_power_w": [...],
 * "cpu_power_w", "dram_power_w", "ram_power_w", "cpu_util_pct", "rss_mib",
 * "gpu_energy_counter_j", "gpu_util_pct", "gpu_mem_used_mib", "n_gpus"}, per-GPU
 * figures summed over the devices (power, energy counter, memory) or averaged
 * (utilization); null where absent. */
int dle_api_samples_json(const char *db, const char *run, char **out, char *err,
                         size_t err_size);
/* A projection of a stored run (method as `dlenergy estimate --method`; params
 * "key=value;key=value" as dle_estimate_input_set names them, may be NULL):
 * {"method", "total_j", "lower_j", "upper_j", "duration_s", "mean_power_w",
 *  "measured_j", "figure": "modelled", "assumptions", ...}. */
int dle_api_estimate_json(const char *db, const char *run, const char *method,
                          const char *params, char **out, char *err, size_t err_size);
void dle_api_free(char *p);

#ifdef __cplusplus
}
#endif
#endif
