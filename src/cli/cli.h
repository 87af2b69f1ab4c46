/* cli.h — what every verb file needs: the verb descriptor and shared helpers.
 * Only src/cli/ may print, read the environment for options, or exit. */
#ifndef DLENERGY_CLI_H
#define DLENERGY_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "dlenergy/energy.h"
#include "dlenergy/error.h"
#include "dlenergy/estimate.h"
#include "dlenergy/store.h"

struct cJSON;

typedef struct dle_cli_verb {
  const char *name;
  const char *summary; /* one line for `dlenergy --help` */
  int (*main)(int argc, char **argv); /* argv[0] is the verb; returns the exit status */
} dle_cli_verb;

/* Exit statuses of the CLI. */
enum { DLE_EXIT_OK = 0, DLE_EXIT_FAIL = 1, DLE_EXIT_USAGE = 2 };

/* Prints "dlenergy VERB: message" to stderr; returns DLE_EXIT_FAIL. */
int cli_fail(const char *verb, const dle_error *err);
/* Prints "dlenergy VERB: <formatted>" and a hint to run --help; returns DLE_EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The run store location: --db value if given, else $DLENERGY_DB, else ./dlenergy.db */
const char *cli_db_path(const char *opt_db);

/* Opens a run store that must already exist (read-only verbs: list, show, export,
 * estimate, evaluate, stabilize, analyze, report, fit --db): a missing SQLite file
 * is DLE_ENOTFOUND naming the path, and no file is created. */
int cli_open_store_existing(const char *location, dle_store **out, dle_error *err);

/* analyze/report: the metric to use. When the user named none (metric_set false)
 * and no run has a GPU energy (CPU-only machines), the runs' total energy
 * ("total") instead of the GPU energy; else metric unchanged. */
struct dle_table;
const char *cli_default_metric(const struct dle_table *t, const char *metric, bool metric_set);

/* Strict number parsing: the whole string must be a finite number in range. */
bool cli_parse_double(const char *s, double *out);
bool cli_parse_int64(const char *s, int64_t *out);
bool cli_parse_int(const char *s, int *out);
/* A whole number lo..hi (a count or size). */
bool cli_parse_size(const char *s, size_t lo, size_t hi, size_t *out);

/* Human-readable energy with unit: J, kJ, MJ and kWh as fits ("12.3 kJ (0.0034 kWh)"). */
void cli_format_energy(double joules, char *buf, size_t n);
/* The same scale (J, kJ, MJ with the unit) without the kWh figure, "-" when NaN:
 * for table columns (list, analyze, report). */
void cli_format_energy_short(double joules, char *buf, size_t n);
/* Human-readable duration: "1h 02m 03s", "4.2 s". */
void cli_format_duration(double seconds, char *buf, size_t n);

/* "HxW" (or "HXW"): image height and width, whole numbers 1..100000 each.
 * False, with *h and *w untouched, for anything else. */
bool cli_parse_image_hw(const char *s, long *h, long *w);

/* Splits a comma-separated list of column names: out[0..*n) point into the
 * returned copy (the caller frees it), at most max names, empty ones skipped.
 * NULL when out of memory. */
char *cli_split_columns(const char *list, const char **out, size_t max, size_t *n);

/* The name of an estimator component mask (DLE_EST_GPU | DLE_EST_RAM | DLE_EST_CPU):
 * "GPU", "GPU+RAM", ..., "none". */
const char *cli_components_str(int mask);

/* "all" or a comma-separated list of estimator names: use[0..DLE_EST_COUNT) says
 * which are named, *n_named how many names the list held (0 for an empty list,
 * which the caller reports). Fails on an unknown name. */
int cli_parse_estimate_methods(const char *list, bool *use, size_t *n_named, dle_error *err);

/* Sets on in each estimator parameter that was given: values[i] (NULL: not given)
 * for the option names[i] of 'dlenergy estimate' (dle_estimate_input_set). Stops at
 * the first bad value. */
int cli_estimate_params_apply(dle_estimate_input *in, const char *const *names,
                              const char *const *values, size_t n, dle_error *err);

/* Opens the run store at db_path, resolves ref (an id or 'last') into *id, loads
 * that run into *run (dle_estimate_run_load) and closes the store. On failure
 * *run is freed; on success the caller frees it with dle_estimate_run_free. */
int cli_load_estimate_run(const char *db_path, const char *ref, int64_t *id,
                          dle_estimate_run *run, dle_error *err);

/* Prints o as formatted JSON and a newline to stdout. False when it could not be
 * formatted (o NULL or out of memory): then nothing is printed. */
bool cli_print_json(const struct cJSON *o);

/* True when stderr is a terminal (for progress lines). */
bool cli_stderr_is_tty(void);

/* From cmd_show.c, shared with cmd_list.c and cmd_import.c so that `list --json`
 * elements, `show --json` and `import --json` carry the same fields. */
/* A run's info, energy summary and (n_epochs non-NULL) its number of epochs. */
int show_run_summary(dle_store *st, int64_t id, dle_run_info *info, dle_energy_summary *sum,
                     size_t *n_epochs, dle_error *err);
/* The run as `show --json` prints it (with_epochs: with the per-epoch list). */
struct cJSON *show_run_json(dle_store *st, int64_t id, bool with_epochs, dle_error *err);
/* Jobs (metadata 'job'): one job's runs added up, total / per host / per GPU; and one
 * line (or JSON object) per job among the runs matching filter. */
int show_job(dle_store *st, const char *job, bool json, dle_error *err);
int list_jobs(dle_store *st, const char *filter, bool json, dle_error *err);
/* A wall-clock time as "YYYY-MM-DD HH:MM:SS UTC" ("(log time)" for imported runs). */
void show_format_wall(double wall_s, const char *source, char *buf, size_t n);

#endif
