/* recorder.h — records one run: the sampler, the run's row and metadata in the store,
 * the epoch table and the in-memory trace. `dlenergy run` and `dlenergy attach` (the
 * CLI's monitor loop, src/cli/cmd_run.c) drive it; whoever starts a run goes through
 * the same calls, so every run is recorded alike.
 *
 * The recorder never prints. What the caller shows (live lines, the summary) it reads
 * back through the accessors below. A failing store never stops the recording: the
 * first failure is kept (dle_recorder_store_failed), reported once through
 * on_store_failed, and the store is left alone from then on.
 *
 * Life cycle:
 *   dle_recorder_begin     sensors, store, the run's row and static metadata (committed)
 *   dle_recorder_start     the sampler thread starts (t = 0 of the run)
 *   dle_recorder_drain     (every ~100 ms) samples into the store and the trace
 *   dle_recorder_epoch_*   marks from the training (run-relative seconds)
 *   dle_recorder_stop      last sample at this instant
 *   dle_recorder_finish    end status and end-of-run metadata, committed
 *     or dle_recorder_abort when the command never ran
 *   dle_recorder_free
 *
 * In-process mode (a Python script or notebook records itself, no wrapper):
 * dle_recorder_start_drain_thread after dle_recorder_start makes the recorder drain
 * itself every period (default 1 s) on its own thread named dle-drain (signals
 * blocked); dle_recorder_stop joins it. The sampler's thread is named dle-sampler.
 * Every call that writes (drain, marks, windows, meta, finish, abort) takes the
 * recorder's lock, so marks may come from any thread while the drain thread runs.
 * The accessors that return pointers (trace, epochs, info) are for after stop.
 *
 * Named windows (Zeus-style begin_window/end_window): any number, nested or
 * overlapping, identified by name while open (a name may be reused once closed).
 * Each is recorded as metadata window.N = "T_BEGIN T_END NAME" (T_END "open" until
 * it ends; N counts from 1 in begin order), so no schema change is needed and every
 * backend keeps them; dle_windows_from_meta reads them back and dle_window_energy
 * gives their energies the way epochs get theirs. */
#ifndef DLENERGY_RECORDER_H
#define DLENERGY_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"
#include "dlenergy/sampler.h"
#include "dlenergy/sensors.h"
#include "dlenergy/store.h"
#include "dlenergy/trace.h"

typedef struct dle_recorder dle_recorder;

typedef struct dle_recorder_config {
  const char *db;               /* store location */
  dle_sampler_config sampler;   /* sensors + interval, root pid included */
  const char *source;           /* the run's source: "run", "attach", ... */
  const char *host;             /* NULL: gethostname() */
  const char *command;          /* recorded as the run's command; may be NULL */
  double pue;
  double carbon_g_per_kwh;      /* NaN: unknown */
  const char *carbon_how;       /* recorded as carbon_source when non-empty; may be NULL */
  const char *country;          /* recorded as meta when set */
  const char *job;              /* NULL: $SLURM_JOB_ID / $TORCHELASTIC_RUN_ID */
  int epochs_planned;           /* 0 = unknown; > 0 wins over dle_recorder_set_epochs_total */
  char *const *meta;            /* "key=value" strings (key non-empty), NULL-terminated */
  /* Each sample appended to the trace, as drained. May be NULL. */
  void (*on_sample)(const dle_sample *s, void *user);
  /* The store failed for the first time (message); recording goes on. May be NULL. */
  void (*on_store_failed)(const char *msg, void *user);
  void *user;
} dle_recorder_config;

void dle_recorder_config_init(dle_recorder_config *cfg);

/* Creates the sampler (a bad sensor option fails here, before anything is recorded),
 * opens the store and records the run (status "running") with its static metadata.
 * Strings in cfg are copied or recorded here; the callbacks and user stay in use. */
int dle_recorder_begin(const dle_recorder_config *cfg, dle_recorder **out, dle_error *err);

/* Starts the sampler thread: t = 0 of the run. */
int dle_recorder_start(dle_recorder *r, dle_error *err);
/* The process tree to watch from now on (the command, once started). */
void dle_recorder_set_pid(dle_recorder *r, pid_t pid);
/* Stops the sampler, which takes the last sample at this instant. */
void dle_recorder_stop(dle_recorder *r);
/* Moves the samples taken so far into the store and the trace. */
void dle_recorder_drain(dle_recorder *r);

/* Marks; t_s is run-relative. epoch_end returns true when it ended the epoch now
 * (false: already ended, or out of memory), metrics "key=value ..." or NULL. */
void dle_recorder_epoch_begin(dle_recorder *r, int32_t index, double t_s);
bool dle_recorder_epoch_end(dle_recorder *r, int32_t index, double t_s, const char *metrics);
/* The planned number of epochs as the script says it (ignored when cfg had one). */
void dle_recorder_set_epochs_total(dle_recorder *r, int n);
void dle_recorder_set_meta(dle_recorder *r, const char *key, const char *value);
void dle_recorder_set_meta_num(dle_recorder *r, const char *key, double v); /* NaN: skipped */

/* The end: status, exit code (-1 when none) and signal; end-of-run metadata (GPUs the
 * run used, sampler statistics), committed. Returns DLE_OK, or DLE_EDB when the store
 * failed at any time during the run (dle_recorder_store_failed has the message). */
int dle_recorder_finish(dle_recorder *r, dle_run_status status, int exit_code, int term_signal);
/* The command never ran: status failed, the exit code (-1: none) and error as meta. */
void dle_recorder_abort(dle_recorder *r, int exit_code, const char *error);

/* Reading back (valid until dle_recorder_free). */
int64_t dle_recorder_run_id(const dle_recorder *r);
const char *dle_recorder_host(const dle_recorder *r);
const dle_run_info *dle_recorder_info(const dle_recorder *r);
const dle_sensors_info *dle_recorder_sensors(const dle_recorder *r); /* as at begin */
const dle_trace *dle_recorder_trace(const dle_recorder *r);
const dle_epoch *dle_recorder_epochs(const dle_recorder *r, size_t *n); /* ordered by index */
size_t dle_recorder_epoch_pos(const dle_recorder *r, int32_t index); /* SIZE_MAX: none */
int dle_recorder_epochs_total(const dle_recorder *r);
dle_store *dle_recorder_store(dle_recorder *r);
/* NULL while the store works, else the first failure's message. */
const char *dle_recorder_store_failed(const dle_recorder *r);
void dle_recorder_sampler_stats(const dle_recorder *r, dle_sampler_stats *out);
/* gpu + cpu + memory energy over [t0, t1] from the samples so far; NaN if none. */
double dle_recorder_energy_between_j(const dle_recorder *r, double t0_s, double t1_s);
/* Makes the trace's GPU figures those of the GPUs the run used so far (the rule that
 * dle_recorder_finish records), so live figures match `show` on the stored run. Fills
 * si with the sensors' current state and sel with the headline GPUs; returns the basis. */
const char *dle_recorder_select_headline(dle_recorder *r, dle_sensors_info *si,
                                         bool sel[DLE_MAX_GPUS]);

/* ---- in-process mode ---- */

/* Starts the drain thread. After dle_recorder_start. period_s: 0 = 1 s, the store's
 * commit interval: one wakeup, append and commit per second (at a period of 1 s or more
 * each drain commits, so a crash loses at most a period of samples). A period longer
 * than half the sampler ring's span (ring_capacity x interval) is cut to that, so the
 * ring never overflows between drains. Readers of the trace drain first (window_end
 * with an energy; stop then drain for the summary). */
int dle_recorder_start_drain_thread(dle_recorder *r, double period_s, dle_error *err);
/* Run-relative seconds now, on the sampler's clock; NaN before start. */
double dle_recorder_now_s(const dle_recorder *r);

enum { DLE_WINDOW_NAME_MAX = 128, DLE_WINDOWS_MAX = 100000 };

typedef struct dle_window {
  char name[DLE_WINDOW_NAME_MAX];
  int seq;          /* N of its window.N key: begin order, from 1 */
  double t_begin_s; /* run-relative */
  double t_end_s;   /* NaN while open (or when the run stopped before it ended) */
} dle_window;

/* Opens window name at t_s. DLE_EINVAL for an empty name, one longer than
 * DLE_WINDOW_NAME_MAX - 1 bytes or with control characters; DLE_ESTATE when a window
 * of that name is open or DLE_WINDOWS_MAX were opened. */
int dle_recorder_window_begin(dle_recorder *r, const char *name, double t_s, dle_error *err);
/* Closes the open window name at t_s; *energy_j (may be NULL) gets its total energy
 * (gpu + cpu + memory) from the samples drained so far (NaN when none; the stored
 * run's figure, from every sample, is dle_window_energy's). DLE_ENOTFOUND when no
 * window of that name is open. */
int dle_recorder_window_end(dle_recorder *r, const char *name, double t_s, double *energy_j,
                            dle_error *err);
/* The windows of the run so far, in begin order (valid until the next window call). */
const dle_window *dle_recorder_windows(const dle_recorder *r, size_t *n);

/* Windows recorded in a run's metadata (window.N keys), in begin order; malformed
 * values are skipped. Free *out with free(). */
int dle_windows_from_meta(const dle_kv *kv, size_t n, dle_window **out, size_t *n_out,
                          dle_error *err);
/* Energy of a window over the trace, per component (as epochs: power interpolated at
 * the edges; an open window runs to the trace end) and total (gpu + cpu + DRAM when
 * measured, else modelled RAM: the summary's rule). NaN where the trace lacks it. */
void dle_window_energy(const dle_trace *t, const dle_window *w, double out_j[4],
                       double *total_j);

/* Stops the sampler if running and releases everything (the store is closed). */
void dle_recorder_free(dle_recorder *r);

#endif
