/* monitor.h — the recording loop shared by `dlenergy run` and `dlenergy attach`.
 * (Implemented in cmd_run.c: the CLI build compiles main.c, cli_util.c and the
 * cmd_*.c files.)
 *
 * One thread (the caller's) does everything but sampling: it waits in poll() on the
 * marker channel, the child's output (with --epoch-regex), the child's exit (pidfd)
 * and a self-pipe fed by the signal handler, and every ~100 ms drains the recorder
 * (dlenergy/recorder.h: sampler thread, run store, epoch table, in-memory trace) used
 * for the live line, the summary and the hooks below (about 150 bytes per sample:
 * 5.4 MB per hour at 10 Hz). The recorder makes the record; this loop prints.
 *
 * Hooks: the live line, the summary and live consumers (the metrics exporter of
 * --metrics-listen, live projections) plug in through monitor_opts.hooks without
 * touching the loop. Live projections (the estimation methods) are wired through
 * monitor_projection_hooks() below, which a verb file may define. */
#ifndef DLE_CLI_MONITOR_H
#define DLE_CLI_MONITOR_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "dlenergy/sample.h"
#include "dlenergy/sampler.h"
#include "dlenergy/sensors.h"
#include "dlenergy/store.h"
#include "dlenergy/trace.h"

/* What the hooks see. Pointers are valid during the call only. */
typedef struct monitor_view {
  int64_t run_id;
  const char *host;
  const dle_run_info *info;          /* status "running" until on_summary */
  const dle_sensors_info *sensors;   /* static facts, sources */
  const dle_trace *trace;            /* every sample so far (run-relative t_s) */
  const dle_epoch *epochs;           /* known epochs, ordered by index */
  size_t n_epochs;
  size_t epoch_pos;                  /* on_epoch: position in epochs of the one that ended */
  int epochs_total;                  /* planned N (--epochs or the script's epochs_total); 0 */
  double elapsed_s;                  /* run-relative time of the event */
  double energy_so_far_j;            /* gpu + cpu + memory up to elapsed_s (NaN if none) */
  bool finished;                     /* true in on_summary */
  struct dle_exporter *exporter;     /* --metrics-listen's exporter, or NULL: projections
                                        may publish with dle_exporter_set_projection */
} monitor_view;

typedef struct monitor_hooks {
  void *user;
  /* Once the run is recorded and before the command starts (run_id known).
   * A non-zero return aborts (the command is not started); set err. May be NULL. */
  int (*on_start)(const monitor_view *v, void *user, dle_error *err);
  /* Every sample, as drained (about every 100 ms). May be NULL. */
  void (*on_sample)(const dle_sample *s, void *user);
  /* After an epoch ends, once the samples reach its end: text appended to the live
   * line (e.g. "  projected 1.2 MJ [1.1, 1.3]"). Called with --quiet too (extra is
   * then not printed). May be NULL. */
  void (*on_epoch)(const monitor_view *v, void *user, char *extra, size_t extra_size);
  /* After the summary table: extra lines for it (stderr; not called with --quiet).
   * May be NULL. */
  void (*on_summary)(const monitor_view *v, void *user, FILE *out);
  /* Last call, always (also after failures): release what on_start made. May be NULL. */
  void (*on_finish)(void *user);
} monitor_hooks;

enum { MONITOR_MAX_HOOKS = 4 };

typedef struct monitor_opts {
  const char *verb;                  /* "run" or "attach", for messages */
  const char *db;                    /* store location */
  dle_sampler_config sampler;        /* sensors + interval (root pid set here) */
  double pue;
  double carbon_g_per_kwh;           /* NaN: unknown */
  const char *country;               /* recorded as meta when set */
  const char *job;                   /* --job; NULL: $SLURM_JOB_ID / $TORCHELASTIC_RUN_ID */
  const char *host;                  /* --host; NULL: gethostname() */
  char carbon_how[256];              /* where carbon_g_per_kwh comes from, in words
                                        ("default: World ..."), set by the option loop */
  bool carbon_default;               /* no --country/--carbon-intensity: the world average */
  bool json;                         /* run --json: the final summary as JSON on stdout */
  int epochs_planned;                /* --epochs; 0 = unknown */
  char **meta;                       /* "k=v" strings from --meta, NULL-terminated */
  const char *epoch_regex;           /* run only; NULL: no output capture */
  bool quiet;                        /* no live line, no summary; the run id on stdout */
  const char *metrics_listen;        /* --metrics-listen HOST:PORT, or NULL */
  const char *report_path;           /* --report FILE: single-run HTML report at the end */
  monitor_hooks hooks[MONITOR_MAX_HOOKS]; /* called in order */
  size_t n_hooks;
  /* run */
  char **argv;                       /* command (NULL for attach) */
  /* attach */
  pid_t attach_pid;
  const char *fifo_path;             /* NULL: a temporary FIFO, printed */
} monitor_opts;

void monitor_opts_init(monitor_opts *o, const char *verb);

/* Runs (or attaches), records, prints the live line and summary; returns the exit
 * status of dlenergy: the child's (128 + signal when killed), 127 when the command
 * does not exist, 126 when it cannot be executed, 1 when recording failed. */
int monitor_main(const monitor_opts *o);

/* The sensor options both verbs share; returns true when it consumed opt. */
bool monitor_sensor_option(const char *verb, int opt, const char *arg, monitor_opts *o,
                           int *usage_rc);

/* Live projections for `dlenergy run`/`attach`: a verb file (e.g. the estimation
 * one) may define this function; cmd_run.c declares it weak and, when it is linked
 * in, calls it once the options are parsed so that it can append its hooks
 * (o->hooks[o->n_hooks++] = ..., up to MONITOR_MAX_HOOKS). Returns 0, or an exit
 * status to stop with. */
int monitor_projection_hooks(monitor_opts *o) __attribute__((weak));

/* `dlenergy attach` after its verb: parses its options (the shared ones, listed in
 * common_help for usage(), plus --marker-fifo) and runs monitor_main(). */
int monitor_attach_main(int argc, char **argv, void (*usage)(FILE *out, const char *common_help));

/* A --meta "key=value": key non-empty, no whitespace anywhere. */
bool monitor_valid_meta(const char *kv);

#endif
