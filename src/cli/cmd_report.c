/* cmd_report.c — `dlenergy report`: one self-contained HTML file comparing runs. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/report.h"
#include "dlenergy/stats.h"
#include "dlenergy/store.h"

static const char *const VERB = "report";

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy report [RUN... | --runs FILTER] [--csv FILE] [--db PATH] -o FILE.html\n"
          "Writes one self-contained HTML file (inline SVG and CSS, no scripts, no external\n"
          "assets): the power profile of the runs with epoch boundaries and the stabilizing\n"
          "point, box plots by group, metric vs F1 with the Pareto front, the statistical tests\n"
          "with plain-language verdicts, and each estimator's predicted vs measured energy.\n\n"
          "  RUN...           store runs (ids or 'last') to draw and estimate\n"
          "  --runs FILTER    key=value[,...]: store runs by metadata, and CSV rows by column\n"
          "                   (--filter is the same option)\n"
          "  --csv FILE       per-run table for the comparison (e.g. the study's runs.csv);\n"
          "                   without it the table is built from the store runs\n"
          "  --db PATH        run store (default $DLENERGY_DB or ./dlenergy.db); with --csv the\n"
          "                   store is only opened when --db or RUNs are given\n"
          "  --by COLS        grouping columns (default architecture,environment)\n"
          "  --metric NAME    energy | duration | power | ... | any column (default energy)\n"
          "  --quality NAME   column maximised on the Pareto front (default f1)\n"
          "  --title TEXT     report title\n"
          "  --max-profiles N power profiles drawn before switching to one per group (12)\n"
          "  --no-estimates   skip the estimators section\n"
          "  -o, --output F   output file ('-' = standard output); written atomically\n"
          "  -h, --help       this help\n");
}

static int report_main(int argc, char **argv) {
  static const struct option opts[] = {
      {"runs", required_argument, NULL, 'r'},
      {"filter", required_argument, NULL, 'r'}, /* as list */    {"csv", required_argument, NULL, 'C'},
      {"db", required_argument, NULL, 'd'},      {"by", required_argument, NULL, 'b'},
      {"metric", required_argument, NULL, 'm'},  {"quality", required_argument, NULL, 'q'},
      {"title", required_argument, NULL, 't'},   {"max-profiles", required_argument, NULL, 'M'},
      {"no-estimates", no_argument, NULL, 'E'},  {"output", required_argument, NULL, 'o'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  const char *filter = NULL, *csv = NULL, *db = NULL, *by = "architecture,environment";
  const char *metric = "energy", *quality = "f1", *title = NULL, *output = NULL;
  int max_profiles = 12, estimates = 1, by_set = 0, quality_set = 0, metric_set = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    switch (c) {
    case 'r': filter = optarg; break;
    case 'C': csv = optarg; break;
    case 'd': db = optarg; break;
    case 'b': by = optarg; by_set = 1; break;
    case 'm': metric = optarg; metric_set = 1; break;
    case 'q': quality = optarg; quality_set = 1; break;
    case 't': title = optarg; break;
    case 'M':
      if (!cli_parse_int(optarg, &max_profiles) || max_profiles < 1 || max_profiles > 1000)
        return cli_usage_error(VERB, "--max-profiles wants 1..1000, got '%s'", optarg);
      break;
    case 'E': estimates = 0; break;
    case 'o': output = optarg; break;
    case 'h': usage(stdout); return DLE_EXIT_OK;
    default:
      return cli_usage_error(VERB, "unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (!output) return cli_usage_error(VERB, "missing -o FILE.html");
  int n_pos = argc - optind;
  if (n_pos > 0 && filter) return cli_usage_error(VERB, "give RUN ids or --runs, not both");
  const char *bycols[8];
  size_t n_by = 0;
  char *by_copy = cli_split_columns(by, bycols, 8, &n_by);
  if (!by_copy) return DLE_EXIT_FAIL;
  if (n_by == 0) {
    free(by_copy);
    return cli_usage_error(VERB, "--by wants one or more column names");
  }

  dle_error err = {0};
  dle_store *st = NULL;
  dle_table *csv_all = NULL, *table = NULL;
  int64_t *ids = NULL;
  size_t n_ids = 0;
  int rc = 0, status = DLE_EXIT_OK;
  bool use_store = !csv || db || n_pos > 0;
  if (use_store) {
    rc = cli_open_store_existing(cli_db_path(db), &st, &err);
    if (!rc && n_pos > 0) {
      ids = calloc((size_t)n_pos, sizeof *ids);
      if (!ids) rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
      for (int i = 0; !rc && i < n_pos; i++) rc = dle_store_resolve_run(st, argv[optind + i], &ids[n_ids++], &err);
    } else if (!rc) {
      rc = dle_store_select_runs(st, filter, &ids, &n_ids, &err);
    }
  }
  if (!rc && csv) {
    rc = dle_table_read_csv(csv, &csv_all, &err);
    if (!rc) rc = dle_table_filter(csv_all, filter, &table, &err);
    if (!rc && dle_table_rows(table) == 0)
      rc = dle_error_set(&err, DLE_ERANGE, "no rows of %s match the filter '%s'", csv,
                         filter ? filter : "");
  } else if (!rc) {
    if (n_ids == 0)
      rc = dle_error_set(&err, DLE_ERANGE, "no runs selected%s%s", filter ? " by filter " : "",
                         filter ? filter : " (the store is empty)");
    else
      rc = dle_report_runs_table(st, NULL, ids, n_ids, &table, &err);
  }
  /* Columns asked for explicitly must exist (the defaults are dropped when absent). */
  for (size_t i = 0; !rc && by_set && i < n_by; i++)
    if (dle_table_find_col(table, bycols[i]) < 0)
      rc = dle_error_set(&err, DLE_ENOTFOUND, "no column '%s' to group by", bycols[i]);
  if (!rc && quality_set && dle_table_find_col(table, dle_report_resolve_column(table, quality)) < 0)
    rc = dle_error_set(&err, DLE_ENOTFOUND, "no column '%s' for --quality", quality);
  if (!rc) {
    dle_report_options o;
    dle_report_options_init(&o);
    o.title = title;
    o.table = table;
    o.by = bycols;
    o.n_by = n_by;
    o.metric = dle_report_resolve_column(table, cli_default_metric(table, metric, metric_set));
    o.quality = dle_report_resolve_column(table, quality);
    o.store = st;
    o.runs = ids;
    o.n_runs = n_ids;
    o.max_profiles = (size_t)max_profiles;
    o.estimates = estimates;
    rc = dle_report_write(&o, output, &err);
  }
  if (rc)
    status = cli_fail(VERB, &err);
  else if (strcmp(output, "-") != 0)
    fprintf(stderr, "dlenergy report: wrote %s\n", output);
  dle_table_free(table);
  dle_table_free(csv_all);
  dle_store_close(st);
  free(ids);
  free(by_copy);
  return status;
}

const dle_cli_verb dle_verb_report = {"report", "write a self-contained HTML report comparing runs", report_main};
