/* report.h — one self-contained HTML report (inline SVG and CSS, no scripts, no
 * external assets) comparing runs: the power profile of runs over time with epoch
 * boundaries and the detected stabilizing point, energy box plots by group, energy vs
 * quality (F1) with the Pareto front, the statistical tests of stats.h with
 * plain-language verdicts, and, for runs with traces, each estimator's predicted vs
 * measured energy with its RMSE and the error-vs-window curve.
 *
 * Every user string (metadata, group names, titles) is HTML-escaped. Colours are the
 * Okabe–Ito palette (colour-blind safe). Files are written atomically.
 *
 * Also here: the per-run table built from the run store (the same columns as the
 * study's runs.csv where they apply) that `dlenergy analyze` uses too. */
#ifndef DLENERGY_REPORT_H
#define DLENERGY_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/stats.h"
#include "dlenergy/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Short metric names to table columns: energy -> gpu_energy_mj, duration ->
 * training_duration_h, power -> avg_gpu_power_w, f1 -> f1_score, accuracy ->
 * accuracy, emissions -> emissions_gco2e, gflops -> forward_pass_gflop, usage ->
 * gpu_usage_pct, temperature -> avg_gpu_temperature_c, total -> total_energy_mj.
 * Any other name is returned unchanged (a raw column name). */
const char *dle_report_metric_column(const char *name);
/* name itself when t has such a column, else dle_report_metric_column(name). */
const char *dle_report_resolve_column(const dle_table *t, const char *name);
/* Axis label with unit for a column ("GPU energy (MJ)"); the column itself when unknown. */
const char *dle_report_metric_label(const char *column);

/* One row per selected run: run_id, status, source, host, every metadata key, and,
 * computed from the run's trace (measured; these override metadata of the same
 * name): samples, training_duration_h, gpu_energy_mj, avg_gpu_power_w,
 * gpu_usage_pct, avg_gpu_temperature_c, total_energy_mj (GPU + CPU + memory, see
 * energy.h). Runs are the given ids when n_ids > 0, else those matching filter
 * (store.h syntax; NULL = all). A run without samples keeps the metadata only. */
int dle_report_runs_table(dle_store *st, const char *filter, const int64_t *ids, size_t n_ids,
                          dle_table **out, dle_error *err);

typedef struct dle_report_options {
  const char *title;            /* NULL = "dlenergy report" */
  const dle_table *table;       /* per-run table (CSV or dle_report_runs_table); NULL = none */
  const char *const *by;        /* grouping columns (default architecture, environment;
                                   columns missing from the table are dropped) */
  size_t n_by;
  const char *metric;           /* column compared (default gpu_energy_mj) */
  const char *quality;          /* column maximised (default f1_score; absent = no scatter) */
  double alpha;                 /* 0 = 0.05 */
  dle_store *store;             /* for power profiles and estimates; NULL = none */
  const int64_t *runs;          /* store runs to profile/estimate */
  size_t n_runs;
  size_t max_profiles;          /* power profiles drawn (default 12); with more runs,
                                   one per group: the run nearest the group median */
  bool estimates;               /* run the estimators on the runs' traces (default on
                                   when set by dle_report_options_init) */
} dle_report_options;

void dle_report_options_init(dle_report_options *o);

/* Renders the report into a malloc'd NUL-terminated string. */
int dle_report_render(const dle_report_options *o, char **html, size_t *len, dle_error *err);
/* Renders and writes atomically to path ("-" = standard output). */
int dle_report_write(const dle_report_options *o, const char *path, dle_error *err);
/* The single-run report (`dlenergy run --report FILE`): that run's power profile,
 * energy summary and estimates. */
int dle_report_write_run(dle_store *st, int64_t run_id, const char *path, dle_error *err);

/* Escapes s for HTML text and attribute values (& < > " '), appending to a buffer;
 * exposed for tests. Returns a malloc'd string or NULL on allocation failure. */
char *dle_report_escape(const char *s);

#ifdef __cplusplus
}
#endif
#endif
