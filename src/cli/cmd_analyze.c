/* cmd_analyze.c — `dlenergy analyze`: compare groups of runs (configurations) on one
 * metric with the study's tests; text or JSON output. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/report.h"
#include "dlenergy/stats.h"
#include "dlenergy/store.h"

static const char *const VERB = "analyze";

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy analyze [--by COLS] [--metric NAME] [--runs FILTER [--db PATH] | "
          "--csv FILE] [--json]\n"
          "Compares groups of runs on one metric: per group n, median, mean, IQR; Shapiro-Wilk,\n"
          "Levene (median-centred), Kruskal-Wallis with eta2, Dunn's post-hoc (Holm), Cliff's\n"
          "delta, Spearman correlations, the model x environment interaction (aligned rank\n"
          "transform ANOVA), the Pareto front (metric down, quality up) and the largest saving.\n\n"
          "  --by COLS        grouping columns, comma-separated (default architecture,environment)\n"
          "  --metric NAME    energy | duration | power | f1 | accuracy | emissions | any column\n"
          "                   (default energy)\n"
          "  --quality NAME   column maximised on the Pareto front (default f1)\n"
          "  --corr COLS      columns correlated with the metric (default gflops,usage,temperature)\n"
          "  --csv FILE       read a per-run table (e.g. the study's runs.csv) instead of the store\n"
          "  --runs FILTER    key=value[,key=value...]: store runs by metadata, or CSV rows by column\n"
          "                   (--filter is the same option)\n"
          "  --db PATH        run store (default $DLENERGY_DB or ./dlenergy.db)\n"
          "  --alpha A        significance level (default 0.05)\n"
          "  --json           one JSON object on stdout\n"
          "  -h, --help       this help\n\n"
          "Metric names map to runs.csv columns: energy=gpu_energy_mj, duration=training_duration_h,\n"
          "power=avg_gpu_power_w, f1=f1_score, emissions=emissions_gco2e, gflops=forward_pass_gflop,\n"
          "usage=gpu_usage_pct, temperature=avg_gpu_temperature_c. Store runs get the same columns,\n"
          "computed from their traces (measured), plus their metadata.\n"
          "Undefined statistics (a group of 1-2 runs, all-equal values) are shown as n/a (JSON\n"
          "null) with the reason.\n");
}

static void fmt_num(char *buf, size_t n, double v) {
  if (isnan(v))
    snprintf(buf, n, "n/a");
  else
    snprintf(buf, n, "%.4g", v);
}

/* A metric value: energies (columns in MJ) on the J/kJ/MJ scale with the unit, as
 * list, show and report print them; other metrics as numbers. */
static void fmt_metric(char *buf, size_t n, double v, bool energy_mj) {
  if (energy_mj && isfinite(v))
    cli_format_energy_short(v * 1e6, buf, n);
  else
    fmt_num(buf, n, v);
}

static void fmt_p(char *buf, size_t n, double p) {
  if (isnan(p))
    snprintf(buf, n, "n/a");
  else if (p < 1e-4)
    snprintf(buf, n, "%.2e", p);
  else
    snprintf(buf, n, "%.4f", p);
}

/* "measured", "modelled" or "measured + modelled": how the metric's figures were
 * obtained, from the runs' data (GPU figures are measured; the total follows each
 * run's components); "as given" for a CSV table. */
static const char *metric_kind(const dle_table *t, const char *mcol, bool from_csv) {
  if (from_csv) return "as given in the table";
  if (strncmp(mcol, "total_energy", 12) != 0) return "measured";
  long c = dle_table_find_col(t, "total_energy_figure");
  if (c < 0) return "measured";
  bool meas = false, model = false;
  for (size_t r = 0; r < dle_table_rows(t); r++) {
    const char *v = dle_table_get(t, r, (size_t)c);
    if (!v) continue;
    if (strstr(v, "measured")) meas = true;
    if (strstr(v, "modelled")) model = true;
  }
  return meas && model ? "measured + modelled" : model ? "modelled" : "measured";
}

static void print_text(const dle_analysis *a, const char *source, const char *kind) {
  char b1[32], b2[32], b3[32], b4[32], b5[32];
  size_t ml = strlen(a->metric);
  bool energy = ml > 10 && strcmp(a->metric + ml - 10, "_energy_mj") == 0;
  char label[160];
  snprintf(label, sizeof label, "%s", a->metric_label);
  size_t ll = strlen(label);
  if (energy && ll > 5 && strcmp(label + ll - 5, " (MJ)") == 0) label[ll - 5] = '\0';
  printf("%s by ", label);
  for (size_t i = 0; i < a->n_by; i++) printf("%s%s", i ? ", " : "", a->by[i]);
  printf(" — %zu runs in %zu groups from %s (%s)", a->n_rows, a->n_groups, source, kind);
  if (a->n_dropped) printf("; %zu row(s) skipped: no numeric %s", a->n_dropped, a->metric);
  printf("\n\n");
  size_t w = 5;
  for (size_t g = 0; g < a->n_groups; g++)
    if (strlen(a->groups[g].name) > w) w = strlen(a->groups[g].name);
  printf("%-*s %4s %10s %10s %10s %8s %10s%s\n", (int)w, "group", "n", "median", "mean", "IQR",
         "SW W", "SW p", a->quality ? "  quality" : "");
  for (size_t g = 0; g < a->n_groups; g++) {
    const dle_analysis_group *gr = &a->groups[g];
    fmt_metric(b1, sizeof b1, gr->median, energy);
    fmt_metric(b2, sizeof b2, gr->mean, energy);
    fmt_metric(b3, sizeof b3, gr->iqr, energy);
    fmt_num(b4, sizeof b4, gr->shapiro_w);
    fmt_p(b5, sizeof b5, gr->shapiro_p);
    printf("%-*s %4zu %10s %10s %10s %8s %10s", (int)w, gr->name, gr->n, b1, b2, b3, b4, b5);
    if (a->quality) {
      fmt_num(b1, sizeof b1, gr->quality_median);
      printf("  %7s%s", b1, gr->pareto ? " *pareto" : "");
    }
    if (gr->shapiro_note[0]) printf("  (%s)", gr->shapiro_note);
    printf("\n");
  }
  fmt_num(b1, sizeof b1, a->levene_w);
  fmt_p(b2, sizeof b2, a->levene_p);
  printf("\nLevene (median-centred): W = %s, p = %s%s%s\n", b1, b2, a->levene_note[0] ? "  " : "",
         a->levene_note);
  printf("  -> %s\n", a->verdict_normality);
  fmt_num(b1, sizeof b1, a->kruskal_h);
  fmt_p(b2, sizeof b2, a->kruskal_p);
  fmt_num(b3, sizeof b3, a->kruskal_eta2);
  printf("Kruskal-Wallis: H = %s (df %zu), p = %s, eta2 = %s\n", b1,
         a->n_groups ? a->n_groups - 1 : 0, b2, b3);
  printf("  -> %s\n", a->verdict_kruskal);
  if (a->n_pairs) {
    printf("\nDunn's post-hoc (tie-corrected, Holm) and Cliff's delta:\n");
    for (size_t i = 0; i < a->n_pairs; i++) {
      const dle_stats_pair *pr = &a->pairs[i];
      char verdict[512];
      dle_analysis_pair_verdict(a, pr, verdict, sizeof verdict);
      fmt_num(b1, sizeof b1, pr->z);
      fmt_p(b2, sizeof b2, pr->p_holm);
      fmt_num(b3, sizeof b3, pr->delta);
      printf("  %s vs %s: z = %s, p_holm = %s, delta = %s (%s) — %s\n", a->groups[pr->a].name,
             a->groups[pr->b].name, b1, b2, b3, pr->magnitude ? pr->magnitude : "undefined",
             verdict);
    }
  }
  if (a->n_corr) {
    printf("\nSpearman correlation with %s (all selected runs):\n", a->metric);
    for (size_t i = 0; i < a->n_corr; i++) {
      fmt_num(b1, sizeof b1, a->corr[i].rho);
      fmt_p(b2, sizeof b2, a->corr[i].p);
      printf("  %-24s rho = %s, p = %s, n = %zu%s%s\n", a->corr[i].column, b1, b2, a->corr[i].n,
             a->corr[i].note[0] ? "  " : "", a->corr[i].note);
    }
  }
  printf("\nInteraction (aligned rank transform ANOVA): ");
  if (a->verdict_interaction[0])
    printf("%s\n", a->verdict_interaction);
  else
    printf("not tested: %s\n", a->interaction_note);
  if (a->quality) {
    printf("Pareto-efficient groups (%s down, %s up):", a->metric, a->quality);
    for (size_t g = 0; g < a->n_groups; g++)
      if (a->groups[g].pareto) printf(" [%s]", a->groups[g].name);
    printf("\n");
  }
  printf("Largest saving between group medians: %s\n", a->verdict_saving);
}

static int analyze_main(int argc, char **argv) {
  static const struct option opts[] = {
      {"by", required_argument, NULL, 'b'},      {"metric", required_argument, NULL, 'm'},
      {"quality", required_argument, NULL, 'q'}, {"corr", required_argument, NULL, 'c'},
      {"csv", required_argument, NULL, 'C'},     {"runs", required_argument, NULL, 'r'},
      {"filter", required_argument, NULL, 'r'}, /* as list */
      {"db", required_argument, NULL, 'd'},      {"alpha", required_argument, NULL, 'a'},
      {"json", no_argument, NULL, 'j'},          {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *by = "architecture,environment", *metric = "energy", *quality = "f1";
  const char *corr = "gflops,usage,temperature", *csv = NULL, *filter = NULL, *db = NULL;
  double alpha = 0.05;
  int json = 0, quality_set = 0, metric_set = 0, by_set = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'b': by = optarg; by_set = 1; break;
    case 'm': metric = optarg; metric_set = 1; break;
    case 'q': quality = optarg; quality_set = 1; break;
    case 'c': corr = optarg; break;
    case 'C': csv = optarg; break;
    case 'r': filter = optarg; break;
    case 'd': db = optarg; break;
    case 'a':
      if (!cli_parse_double(optarg, &alpha) || alpha <= 0 || alpha >= 1)
        return cli_usage_error(VERB, "--alpha wants a number in (0, 1), got '%s'", optarg);
      break;
    case 'j': json = 1; break;
    case 'h': usage(stdout); return DLE_EXIT_OK;
    default:
      return cli_usage_error(VERB, "unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
  if (csv && db) return cli_usage_error(VERB, "--csv and --db are alternatives");
  const char *bycols[8], *corrcols[16];
  size_t n_by = 0, n_corr = 0;
  char *by_copy = cli_split_columns(by, bycols, 8, &n_by);
  char *corr_copy = cli_split_columns(corr, corrcols, 16, &n_corr);
  if (!by_copy || !corr_copy || n_by == 0) {
    free(by_copy);
    free(corr_copy);
    return cli_usage_error(VERB, "--by wants one or more column names");
  }
  dle_error err = {0};
  dle_table *t = NULL, *sel = NULL;
  dle_analysis *a = NULL;
  int rc, status = DLE_EXIT_OK;
  char source[1200];
  if (csv) {
    rc = dle_table_read_csv(csv, &t, &err);
    if (!rc) rc = dle_table_filter(t, filter, &sel, &err);
    snprintf(source, sizeof source, "%s%s%s", csv, filter ? " where " : "", filter ? filter : "");
  } else {
    dle_store *st = NULL;
    const char *loc = cli_db_path(db);
    rc = cli_open_store_existing(loc, &st, &err);
    if (!rc) rc = dle_report_runs_table(st, filter, NULL, 0, &sel, &err);
    dle_store_close(st);
    snprintf(source, sizeof source, "run store %s%s%s", loc, filter ? " where " : "",
             filter ? filter : "");
  }
  if (!rc && dle_table_rows(sel) == 0)
    rc = dle_error_set(&err, DLE_ERANGE, "no runs selected%s%s", filter ? " by filter " : "",
                       filter ? filter : "");
  if (!rc && !by_set) {
    /* The default grouping columns that these runs have (CPU-only runs recorded with
     * `dlenergy run` may carry neither). */
    size_t keep = 0;
    for (size_t i = 0; i < n_by; i++)
      if (dle_table_find_col(sel, bycols[i]) >= 0) bycols[keep++] = bycols[i];
    n_by = keep;
    if (n_by == 0)
      rc = dle_error_set(&err, DLE_ENOTFOUND,
                         "the runs have neither 'architecture' nor 'environment' metadata to "
                         "group by: give --by COLS (e.g. --by command, or record runs with "
                         "--meta architecture=...)");
  }
  if (!rc) {
    metric = cli_default_metric(sel, metric, metric_set);
    /* Short names (energy, f1, ...) map to columns unless the table has that column. */
    for (size_t i = 0; i < n_corr; i++) corrcols[i] = dle_report_resolve_column(sel, corrcols[i]);
    const char *mcol = dle_report_resolve_column(sel, metric);
    dle_analysis_options o = {.by = bycols,
                              .n_by = n_by,
                              .metric = mcol,
                              .metric_label = dle_report_metric_label(mcol),
                              .quality = dle_report_resolve_column(sel, quality),
                              .corr = corrcols,
                              .n_corr = n_corr,
                              .alpha = alpha};
    if (quality_set && dle_table_find_col(sel, o.quality) < 0)
      rc = dle_error_set(&err, DLE_ENOTFOUND, "no column '%s' for --quality", quality);
    else
      rc = dle_analyze(sel, &o, &a, &err);
  }
  if (rc) {
    status = cli_fail(VERB, &err);
  } else if (json) {
    char *s = NULL;
    if (dle_analysis_to_json(a, source, &s, &err) != 0) {
      status = cli_fail(VERB, &err);
    } else {
      printf("%s\n", s);
      free(s);
    }
  } else {
    print_text(a, source, metric_kind(sel, dle_report_resolve_column(sel, metric), csv != NULL));
  }
  dle_analysis_free(a);
  dle_table_free(sel);
  dle_table_free(t);
  free(by_copy);
  free(corr_copy);
  return status;
}

const dle_cli_verb dle_verb_analyze = {"analyze", "compare configurations: group statistics, tests, Pareto front", analyze_main};
