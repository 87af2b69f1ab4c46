/* stats.h — comparing configurations: group statistics, the study's hypothesis
 * tests, effect sizes, correlation, a two-factor interaction test, the Pareto front
 * and the largest saving between groups. Distribution functions come from GSL.
 *
 * Three layers:
 *  1. single tests on plain arrays (dle_stats_shapiro_wilk, dle_stats_kruskal, ...);
 *  2. dle_table, a small string table (a CSV file such as the study's runs.csv, or
 *     rows built from run-store metadata);
 *  3. dle_analyze(): groups a table's rows by one or more columns and runs every
 *     test on one numeric column, filling a dle_analysis that the CLI prints (text or
 *     JSON) and the HTML report draws.
 *
 * Undefined results are NaN, never a made-up number: a group with fewer than 3
 * values has no Shapiro–Wilk result, all-equal values give no rank test, and so on.
 * Each such case sets the matching `note` to a one-line reason. */
#ifndef DLENERGY_STATS_H
#define DLENERGY_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "dlenergy/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- 1. tests */

/* Average ranks (1-based, ties get the mean of their positions) of x[0..n) into
 * ranks[0..n). When tie_sum is not NULL it receives sum(t^3 - t) over tie groups. */
int dle_stats_rank(const double *x, size_t n, double *ranks, double *tie_sum, dle_error *err);

/* Median and quartiles (linear interpolation between order statistics, as numpy's
 * default) of x[0..n); x need not be sorted. NaN outputs when n == 0. */
void dle_stats_describe(const double *x, size_t n, double *median, double *mean, double *q1,
                        double *q3);

/* Shapiro–Wilk W and p-value by Royston's 1995 algorithm (AS R94), 3 <= n <= 5000.
 * DLE_ERANGE for other n or when every value is equal (W undefined). */
int dle_stats_shapiro_wilk(const double *x, size_t n, double *w, double *p, dle_error *err);

/* k groups given as one array of values and a parallel array of group indices
 * 0..k-1 (every index in [0,k) must occur). */
typedef struct dle_stats_groups {
  const double *x;
  const size_t *group;
  size_t n;
  size_t k;
} dle_stats_groups;

/* Levene's test centred on group medians (Brown–Forsythe). W ~ F(k-1, n-k).
 * DLE_ERANGE when k < 2, n <= k, or every group has zero spread. */
int dle_stats_levene_median(const dle_stats_groups *g, double *w, double *p, dle_error *err);

/* Kruskal–Wallis H with tie correction, p from chi-square(k-1) and
 * eta^2 = (H - k + 1) / (n - k). DLE_ERANGE when k < 2, n <= k or all values equal. */
int dle_stats_kruskal(const dle_stats_groups *g, double *h, double *p, double *eta2,
                      dle_error *err);

/* One pair of groups (a < b). */
typedef struct dle_stats_pair {
  size_t a, b;
  double z;          /* Dunn's z, positive when group a has the higher mean rank */
  double p;          /* two-sided, unadjusted */
  double p_holm;     /* Holm-adjusted over all k(k-1)/2 pairs */
  double delta;      /* Cliff's delta, P(a > b) - P(a < b) */
  const char *magnitude; /* "negligible", "small", "medium", "large" (static string) */
} dle_stats_pair;

/* Dunn's test with tie correction for every pair (a<b, ordered (0,1),(0,2)..),
 * Holm-adjusted, plus Cliff's delta for each pair. pairs must hold k(k-1)/2.
 * DLE_ERANGE when all values are equal (z undefined). */
int dle_stats_dunn(const dle_stats_groups *g, dle_stats_pair *pairs, dle_error *err);

/* Holm step-down adjustment of p[0..m) into adj[0..m) (may alias p). */
int dle_stats_holm(const double *p, size_t m, double *adj, dle_error *err);

/* Cliff's delta = (#{x_i > y_j} - #{x_i < y_j}) / (nx ny), exact, O((nx+ny) log). */
int dle_stats_cliffs_delta(const double *x, size_t nx, const double *y, size_t ny,
                           double *delta, dle_error *err);
/* negligible < 0.147 <= small < 0.33 <= medium < 0.474 <= large, on |delta|. */
const char *dle_stats_cliffs_magnitude(double delta);

/* Spearman's rho with a two-sided p from Student's t with n-2 degrees of freedom
 * (as scipy.stats.spearmanr). DLE_ERANGE when n < 3 or either side is constant. */
int dle_stats_spearman(const double *x, const double *y, size_t n, double *rho, double *p,
                       dle_error *err);

/* Interaction of two factors by the aligned rank transform (Wobbrock et al. 2011):
 * responses are aligned for the A x B effect (residual from the cell mean plus the
 * estimated interaction cell - A - B + grand, from observed means), ranked, and the
 * interaction F is the increase in residual sum of squares from the full (cell-means)
 * model to the additive model A + B, fitted by least squares. For the highest-order
 * term this equals the type III test, so unbalanced designs and empty cells are fine;
 * df1 = (non-empty cells) - rank(additive design), df2 = n - (non-empty cells). */
typedef struct dle_stats_interaction {
  double f, p;
  double df1, df2;
  double partial_eta2; /* SS_AB / (SS_AB + SS_error) on the aligned ranks */
} dle_stats_interaction;
int dle_stats_art_interaction(const double *y, const size_t *a, size_t ka, const size_t *b,
                              size_t kb, size_t n, dle_stats_interaction *out, dle_error *err);

/* Pareto efficiency for (cost down, benefit up): efficient[i] is true when no j has
 * cost <= and benefit >= with one strict. NaN points are never efficient. */
int dle_stats_pareto(const double *cost, const double *benefit, size_t n, bool *efficient,
                     dle_error *err);

/* ---------------------------------------------------------------- 2. tables */

typedef struct dle_table dle_table;

int dle_table_new(dle_table **out, dle_error *err);
void dle_table_free(dle_table *t);
/* Reads a comma-separated file with a header row (RFC 4180 quoting accepted). */
int dle_table_read_csv(const char *path, dle_table **out, dle_error *err);
/* Appends an empty row; its index goes to *row. */
int dle_table_add_row(dle_table *t, size_t *row, dle_error *err);
/* Sets a cell, adding the column when it is new. */
int dle_table_set(dle_table *t, size_t row, const char *col, const char *value, dle_error *err);
size_t dle_table_rows(const dle_table *t);
size_t dle_table_cols(const dle_table *t);
const char *dle_table_col_name(const dle_table *t, size_t col);
/* Column index or -1. */
long dle_table_find_col(const dle_table *t, const char *name);
/* Cell text ("" when unset). */
const char *dle_table_get(const dle_table *t, size_t row, size_t col);
/* Cell as a number; NaN when empty or not a number. */
double dle_table_get_double(const dle_table *t, size_t row, size_t col);

/* Rows of t matching filter: comma-separated "column=value" conditions, all of which
 * must hold (exact text match), e.g. "environment_id=cloud,architecture=vgg16".
 * NULL or "" keeps every row. DLE_ENOTFOUND for an unknown column, DLE_EINVAL for a
 * condition without '='. The result is a new table (free with dle_table_free). */
int dle_table_filter(const dle_table *t, const char *filter, dle_table **out, dle_error *err);

/* ---------------------------------------------------------------- 3. analysis */

typedef struct dle_analysis_options {
  const char *const *by;   /* grouping columns, e.g. {"architecture", "environment"} */
  size_t n_by;             /* >= 1 */
  const char *metric;      /* numeric column tested (e.g. "gpu_energy_mj") */
  const char *metric_label;/* for verdicts ("energy"); NULL = metric */
  const char *quality;     /* column maximised on the Pareto front ("f1_score"); NULL = none */
  const char *const *corr; /* columns correlated with metric (Spearman); missing ones skipped */
  size_t n_corr;
  double alpha;            /* significance level; 0 = 0.05 */
} dle_analysis_options;

typedef struct dle_analysis_group {
  char *name;              /* values of the `by` columns joined by " / " */
  size_t n;
  double median, mean, q1, q3, iqr, min, max;
  double *values;          /* the metric, sorted ascending, n of them */
  double quality_median;   /* NaN without a quality column */
  double *quality;         /* quality per row, aligned with rows[] (NaN when absent) */
  double *metric_by_row;   /* metric per row, aligned with rows[] */
  size_t *rows;            /* table row of each value (unsorted order) */
  double shapiro_w, shapiro_p; /* NaN when undefined: see shapiro_note */
  char shapiro_note[96];
  bool pareto;             /* (median metric, median quality) is Pareto-efficient */
} dle_analysis_group;

typedef struct dle_analysis_corr {
  char *column;
  size_t n;
  double rho, p;
  char note[96];
} dle_analysis_corr;

typedef struct dle_analysis {
  char *metric;
  char *metric_label;
  char *quality;           /* NULL when none */
  char **by;
  size_t n_by;
  double alpha;
  size_t n_rows;           /* rows used */
  size_t n_dropped;        /* rows skipped: metric empty or not a finite number */
  size_t n_groups;
  dle_analysis_group *groups; /* sorted by name */
  double levene_w, levene_p;
  char levene_note[96];
  bool parametric_ok;      /* every Shapiro p >= alpha and Levene p >= alpha */
  double kruskal_h, kruskal_p, kruskal_eta2;
  char kruskal_note[96];
  size_t n_pairs;          /* k(k-1)/2 */
  dle_stats_pair *pairs;   /* Dunn (NaN z/p when undefined) + Cliff's delta */
  char dunn_note[96];
  size_t n_corr;
  dle_analysis_corr *corr;
  dle_stats_interaction interaction; /* NaN when not computed */
  char interaction_note[128];
  /* Largest relative saving between group medians: from the highest to the lowest
   * median; fraction = 1 - median_to / median_from. */
  long saving_from, saving_to; /* group indices, -1 when fewer than 2 groups */
  double saving_fraction;
  double saving_quality_change; /* quality median (to) - quality median (from); NaN if none */
  char verdict_normality[192];
  char verdict_kruskal[256];
  char verdict_saving[256];
  char verdict_interaction[256];
} dle_analysis;

/* Groups and tests. DLE_ENOTFOUND when a column is missing, DLE_ERANGE when no row
 * has a usable metric value. Tests that are undefined on the data are NaN with a note. */
int dle_analyze(const dle_table *t, const dle_analysis_options *opt, dle_analysis **out,
                dle_error *err);
void dle_analysis_free(dle_analysis *a);

/* The analysis as one JSON object (malloc'd string): source, metric, by, groups
 * (name, n, median, mean, q1, q3, iqr, min, max, quality_median, pareto), shapiro
 * (group, w, p, note), levene (w, p), kruskal (h, p, eta2, df, verdict), dunn (a, b,
 * z, p, p_holm, verdict), cliffs_delta (a, b, delta, magnitude), spearman (x, y, n,
 * rho, p), interaction (method, f, df1, df2, p, partial_eta2), pareto (group names),
 * largest_saving (from, to, fraction, quality_change, verdict). NaN is null, with a
 * "note" saying why. */
int dle_analysis_to_json(const dle_analysis *a, const char *source, char **out,
                         dle_error *err);

/* Plain-language verdict for one pair ("a uses less energy than b (large effect)"). */
void dle_analysis_pair_verdict(const dle_analysis *a, const dle_stats_pair *pr, char *buf,
                               size_t n);

#ifdef __cplusplus
}
#endif
#endif
