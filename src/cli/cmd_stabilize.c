/* cmd_stabilize.c — `dlenergy stabilize RUN`: where the run's GPU power settles
 * (matrix profile + FLUSS, see include/dlenergy/stabilize.h). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/estimate.h"
#include "dlenergy/stabilize.h"
#include "dlenergy/store.h"

static const char *const VERB = "stabilize";

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy stabilize RUN [--m 10] [--regimes 2] [--json] [--db PATH]\n"
          "Find where the GPU power of run RUN (an id or 'last') stabilizes: the exact\n"
          "matrix profile (z-normalized distance, window m) and FLUSS's corrected arc\n"
          "curve; the stabilizing point is the earliest regime change, mapped to its epoch.\n"
          "Samples are averaged into bins of about --resample seconds first.\n"
          "The defaults are the study's (stumpy's fluss): 2 regimes, exclusion factor 5,\n"
          "exclusion zone |i-j| <= ceil(m/4). A flat arc curve (no change stands out, e.g.\n"
          "a short run) gives the first point, as stumpy's argmin does, marked 'flat'.\n"
          "This is not the estimators' auto start (step-auto, estimate --start-seconds\n"
          "auto): that one searches only where a whole window fits before the cut-off,\n"
          "with 3 regimes and exclusion factor 3, and takes the LATEST change, so the\n"
          "two report different points for the same run (docs/estimate.md).\n"
          "A run of more than 65,536 samples is analysed on one point per bucket of about\n"
          "32,768 (its mean power; bounded memory and time), not on --resample bins.\n\n"
          "Options:\n"
          "  --m N             matrix profile window in points (default 10)\n"
          "  --L N             FLUSS subsequence length (default m)\n"
          "  --regimes N       number of regimes (default 2: one change)\n"
          "  --excl-factor F   FLUSS exclusion factor (default 5, the study's)\n"
          "  --resample S      bin length in seconds before the profile (default 1; 0 = raw)\n"
          "  --threads N       threads for the matrix profile (default 2)\n"
          "  --json            one JSON object\n"
          "  --db PATH         run store (default $DLENERGY_DB or ./dlenergy.db)\n"
          "  -h, --help        this help\n");
}

static int cmd_stabilize(int argc, char **argv) {
  static const struct option opts[] = {
      {"m", required_argument, NULL, 'm'},        {"L", required_argument, NULL, 'L'},
      {"regimes", required_argument, NULL, 'r'},  {"excl-factor", required_argument, NULL, 'x'},
      {"resample", required_argument, NULL, 's'}, {"threads", required_argument, NULL, 't'},
      {"json", no_argument, NULL, 'j'},           {"db", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
  dle_stabilize_opts so;
  dle_stabilize_opts_init(&so);
  so.excl_factor = 5; /* the study's (stumpy's fluss default) */
  bool json = false;
  const char *db = NULL;
  size_t v;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'm':
        if (!cli_parse_size(optarg, 2, 100000, &so.m))
          return cli_usage_error(VERB, "bad --m '%s'", optarg);
        break;
      case 'L':
        if (!cli_parse_size(optarg, 1, 100000, &so.L))
          return cli_usage_error(VERB, "bad --L '%s'", optarg);
        break;
      case 'r':
        if (!cli_parse_size(optarg, 2, DLE_STABILIZE_MAX_REGIMES, &v))
          return cli_usage_error(VERB, "--regimes must be 2..%d", DLE_STABILIZE_MAX_REGIMES);
        so.n_regimes = (int)v;
        break;
      case 'x':
        if (!cli_parse_double(optarg, &so.excl_factor) || so.excl_factor < 0)
          return cli_usage_error(VERB, "bad --excl-factor '%s'", optarg);
        break;
      case 's':
        if (!cli_parse_double(optarg, &so.resample_s) || so.resample_s < 0)
          return cli_usage_error(VERB, "bad --resample '%s'", optarg);
        break;
      case 't':
        if (!cli_parse_size(optarg, 1, 64, &v))
          return cli_usage_error(VERB, "--threads must be 1..64");
        so.n_threads = (int)v;
        break;
      case 'j': json = true; break;
      case 'd': db = optarg; break;
      case 'h': usage(stdout); return DLE_EXIT_OK;
      default: return cli_usage_error(VERB, "unknown option");
    }
  }
  if (optind + 1 != argc) return cli_usage_error(VERB, "expected one RUN argument");
  dle_error err = {0};
  int64_t id;
  dle_estimate_run run;
  if (cli_load_estimate_run(cli_db_path(db), argv[optind], &id, &run, &err))
    return cli_fail(VERB, &err);
  dle_stabilize_result r;
  if (dle_estimate_stabilize(&run.trace, run.trace_buckets, NAN, run.epochs, run.n_epochs, &so,
                             &r, &err)) {
    dle_estimate_run_free(&run);
    return cli_fail(VERB, &err);
  }
  size_t L = so.L ? so.L : so.m;
  int epoch_index = r.epoch >= 0 ? run.epochs[r.epoch].index : -1;
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "run_id", (double)id);
    cJSON_AddNumberToObject(o, "t_s", r.t_s);
    cJSON_AddNumberToObject(o, "index", (double)r.index);
    cJSON_AddNumberToObject(o, "n_points", (double)r.n_points);
    cJSON_AddNumberToObject(o, "step_s", r.step_s);
    cJSON_AddNumberToObject(o, "cac_min", r.cac_min);
    cJSON_AddBoolToObject(o, "flat", r.flat != 0);
    if (epoch_index >= 0)
      cJSON_AddNumberToObject(o, "epoch", epoch_index);
    else
      cJSON_AddNullToObject(o, "epoch");
    cJSON *ch = cJSON_AddArrayToObject(o, "changes_t_s");
    for (size_t i = 0; i < r.n_changes; i++) cJSON_AddItemToArray(ch, cJSON_CreateNumber(r.change_t_s[i]));
    cJSON_AddNumberToObject(o, "m", (double)so.m);
    cJSON_AddNumberToObject(o, "L", (double)L);
    cJSON_AddNumberToObject(o, "regimes", so.n_regimes);
    cJSON_AddNumberToObject(o, "excl_factor", so.excl_factor);
    /* 0: the full series; else the run was downsampled into this many buckets */
    cJSON_AddNumberToObject(o, "buckets", (double)run.trace_buckets);
    bool printed = cli_print_json(o);
    cJSON_Delete(o);
    if (!printed) {
      dle_estimate_run_free(&run);
      dle_error e = {DLE_ENOMEM, "out of memory building JSON"};
      return cli_fail(VERB, &e);
    }
  } else {
    char dur[64];
    cli_format_duration(r.t_s - run.trace.t_s[0], dur, sizeof dur);
    printf("Run %lld: GPU power stabilizes at %.1f s (%s into the run), point %zu of %zu "
           "analysed at %.2f s\n",
           (long long)id, r.t_s, dur, r.index, r.n_points, r.step_s);
    if (epoch_index >= 0)
      printf("  in epoch %d (%d of %zu recorded epochs)\n", epoch_index, r.epoch + 1,
             run.n_epochs);
    else
      printf("  epoch: %s\n", run.n_epochs ? "after the last recorded epoch" : "no epoch markers");
    printf("  corrected arc curve minimum %.3f (0 = sharp change, 1 = none)\n", r.cac_min);
    if (r.flat)
      printf("  flat arc curve: no change stands out; the first point is reported, as "
             "stumpy's fluss does\n");
    printf("  regime changes:");
    for (size_t i = 0; i < r.n_changes; i++) printf(" %.1f s", r.change_t_s[i]);
    printf("\n  matrix profile m=%zu, FLUSS L=%zu, %d regimes, exclusion factor %g\n", so.m, L,
           so.n_regimes, so.excl_factor);
    if (run.trace_buckets)
      printf("  long run: analysed on %zu buckets of its samples (mean power of each, "
             "docs/estimate.md)\n",
             run.trace_buckets);
  }
  dle_estimate_run_free(&run);
  return DLE_EXIT_OK;
}

const dle_cli_verb dle_verb_stabilize = {"stabilize",
                                         "find where a run's GPU power stabilizes (FLUSS)",
                                         cmd_stabilize};
