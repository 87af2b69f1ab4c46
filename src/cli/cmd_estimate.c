/* cmd_estimate.c — `dlenergy estimate RUN --method M`: project one run's total energy
 * with one or more estimators (see include/dlenergy/estimate.h). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/energy.h"
#include "dlenergy/estimate.h"
#include "dlenergy/store.h"

static const char *const VERB = "estimate";

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy estimate RUN --method M[,M...]|all [OPTIONS]\n"
          "Project the total energy of run RUN (an id or 'last') as it was known at a\n"
          "cut-off, with a lower/upper bound. All projections are modelled; for a finished\n"
          "run the measured energy of the same components is shown beside them.\n\n"
          "Methods: mlco2, ga, carbontracker, flops, step-power, step-energy, step-auto.\n\n"
          "Options:\n"
          "  --method LIST            comma-separated methods, or 'all' (required)\n"
          "  --at-epoch K             cut-off after epoch K (default: everything recorded)\n"
          "  --epochs N               planned number of epochs (default: metadata)\n"
          "  --stable-epoch S         epochs before the STEP window (default 10)\n"
          "  --window-epochs W        STEP window in epochs (default 5)\n"
          "  --window-seconds S       time-window variant: window length (default 300 when\n"
          "                           the run has no epochs)\n"
          "  --start-seconds S|auto   time-window start (default auto: detected)\n"
          "  --gpu-only               GPU power only (no RAM/CPU terms)\n"
          "  --ct-epochs K            carbontracker's measured epochs (default 1)\n"
          "  --tdp W                  GPU TDP (default: metadata gpu_tdp_w, trace limit)\n"
          "  --pue X                  power usage effectiveness for ga (default: the run's)\n"
          "  --host-ram-gb G, --cpu-cores N, --cpu-tdp W   ga's memory and CPU terms\n"
          "  --gflops G, --samples-per-epoch N, --peak-tflops T, --utilization U   flops\n"
          "  --m M, --regimes R, --excl-factor F   stabilization detection\n"
          "  --json                   one JSON object\n"
          "  --db PATH                run store (default $DLENERGY_DB or ./dlenergy.db)\n"
          "  -h, --help               this help\n");
}

/* Long options that map one-to-one onto dle_estimate_input_set keys. */
static const char *const param_opts[] = {
    "at-epoch",    "epochs",      "stable-epoch", "window-epochs", "window-seconds",
    "start-seconds", "ct-epochs", "tdp",          "pue",           "host-ram-gb",
    "cpu-cores",   "cpu-tdp",     "gflops",       "samples-per-epoch", "peak-tflops",
    "utilization", "m",           "regimes",      "excl-factor"};
enum { N_PARAM = sizeof param_opts / sizeof *param_opts, OPT_PARAM = 1000 };

static const char *comps_str(int c) {
  static const char *const names[8] = {"none", "GPU", "RAM", "GPU+RAM",
                                       "CPU",  "GPU+CPU", "RAM+CPU", "GPU+RAM+CPU"};
  return names[c & 7];
}

static int parse_methods(const char *list, bool *use, dle_error *err) {
  memset(use, 0, sizeof(bool) * DLE_EST_COUNT);
  if (strcmp(list, "all") == 0) {
    for (int i = 0; i < DLE_EST_COUNT; i++) use[i] = true;
    return DLE_OK;
  }
  char buf[512];
  snprintf(buf, sizeof buf, "%s", list);
  char *save = NULL;
  int any = 0;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    dle_estimate_method m;
    int rc = dle_estimate_method_parse(t, &m, err);
    if (rc) return rc;
    use[m] = true;
    any = 1;
  }
  if (!any) return dle_error_set(err, DLE_EINVAL, "no method given");
  return DLE_OK;
}

static int cmd_estimate(int argc, char **argv) {
  struct option opts[N_PARAM + 6];
  for (int i = 0; i < N_PARAM; i++)
    opts[i] = (struct option){param_opts[i], required_argument, NULL, OPT_PARAM + i};
  opts[N_PARAM] = (struct option){"method", required_argument, NULL, 'M'};
  opts[N_PARAM + 1] = (struct option){"gpu-only", no_argument, NULL, 'g'};
  opts[N_PARAM + 2] = (struct option){"json", no_argument, NULL, 'j'};
  opts[N_PARAM + 3] = (struct option){"db", required_argument, NULL, 'd'};
  opts[N_PARAM + 4] = (struct option){"help", no_argument, NULL, 'h'};
  opts[N_PARAM + 5] = (struct option){NULL, 0, NULL, 0};
  const char *params[N_PARAM] = {0};
  const char *method_list = NULL, *db = NULL;
  bool json = false, gpu_only = false;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c >= OPT_PARAM && c < OPT_PARAM + N_PARAM) {
      params[c - OPT_PARAM] = optarg;
      continue;
    }
    switch (c) {
      case 'M': method_list = optarg; break;
      case 'g': gpu_only = true; break;
      case 'j': json = true; break;
      case 'd': db = optarg; break;
      case 'h': usage(stdout); return DLE_EXIT_OK;
      default: return cli_usage_error(VERB, "unknown option");
    }
  }
  if (optind + 1 != argc) return cli_usage_error(VERB, "expected one RUN argument");
  if (!method_list) return cli_usage_error(VERB, "--method is required");
  dle_error err = {0};
  bool use[DLE_EST_COUNT];
  if (parse_methods(method_list, use, &err)) return cli_usage_error(VERB, "%s", err.msg);
  /* Validate the parameters before touching the store. */
  dle_estimate_input probe;
  dle_estimate_input_init(&probe);
  for (int i = 0; i < N_PARAM; i++)
    if (params[i] && dle_estimate_input_set(&probe, param_opts[i], params[i], &err))
      return cli_usage_error(VERB, "%s", err.msg);

  dle_store *st = NULL;
  if (dle_store_open(cli_db_path(db), &st, &err)) return cli_fail(VERB, &err);
  int64_t id;
  dle_estimate_run run;
  memset(&run, 0, sizeof run);
  int rc = dle_store_resolve_run(st, argv[optind], &id, &err);
  if (!rc) rc = dle_estimate_run_load(st, id, &run, &err);
  dle_store_close(st);
  if (rc) {
    dle_estimate_run_free(&run);
    return cli_fail(VERB, &err);
  }
  dle_estimate_input in;
  dle_estimate_input_from_run(&in, &run);
  for (int i = 0; i < N_PARAM; i++)
    if (params[i]) dle_estimate_input_set(&in, param_opts[i], params[i], &err);
  if (gpu_only) in.gpu_only = true;
  /* A measured reference exists when the cut-off is the end of a finished run. */
  bool at_end = in.run_complete && (in.at_epoch == 0 || (size_t)in.at_epoch == in.n_epochs);

  cJSON *root = json ? cJSON_CreateObject() : NULL;
  cJSON *arr = NULL;
  if (root) {
    cJSON_AddNumberToObject(root, "run_id", (double)id);
    cJSON_AddStringToObject(root, "status", dle_run_status_str(run.info.status));
    cJSON_AddNumberToObject(root, "epochs", (double)run.n_epochs);
    cJSON_AddNumberToObject(root, "at_epoch", in.at_epoch ? in.at_epoch : (double)run.n_epochs);
    arr = cJSON_AddArrayToObject(root, "estimates");
  } else {
    printf("Run %lld (%s, %zu epochs%s): projected total energy (modelled)\n", (long long)id,
           dle_run_status_str(run.info.status), run.n_epochs,
           in.at_epoch ? ", cut-off at an earlier epoch" : "");
  }
  double carbon = run.info.carbon_g_per_kwh;
  int ok = 0, failed = 0;
  dle_error last = {0};
  for (int m = 0; m < DLE_EST_COUNT; m++) {
    if (!use[m]) continue;
    dle_estimate_result r;
    dle_error e = {0};
    if (dle_estimate_project(&in, (dle_estimate_method)m, &r, &e)) {
      failed++;
      last = e;
      if (root) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", dle_estimate_method_name((dle_estimate_method)m));
        cJSON_AddStringToObject(o, "error", e.msg);
        cJSON_AddItemToArray(arr, o);
      } else {
        printf("  %-14s n/a: %s\n", dle_estimate_method_name((dle_estimate_method)m), e.msg);
      }
      continue;
    }
    ok++;
    double meas = NAN;
    if (at_end && dle_estimate_measured_j(&run.trace, r.components, &meas, &e)) meas = NAN;
    if (isfinite(meas) && m == DLE_EST_GA) meas *= in.pue >= 1 ? in.pue : 1;
    if (root) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "method", r.method);
      cJSON_AddStringToObject(o, "kind", "modelled");
      cJSON_AddNumberToObject(o, "total_j", r.total_j);
      cJSON_AddNumberToObject(o, "lower_j", r.lower_j);
      cJSON_AddNumberToObject(o, "upper_j", r.upper_j);
      cJSON_AddNumberToObject(o, "duration_s", r.duration_s);
      if (isfinite(r.mean_power_w)) cJSON_AddNumberToObject(o, "mean_power_w", r.mean_power_w);
      if (r.stable_epoch >= 0) cJSON_AddNumberToObject(o, "stable_epoch", r.stable_epoch);
      if (isfinite(r.window_start_s)) {
        cJSON_AddNumberToObject(o, "window_start_s", r.window_start_s);
        cJSON_AddNumberToObject(o, "window_end_s", r.window_end_s);
      }
      cJSON_AddStringToObject(o, "components", comps_str(r.components));
      if (isfinite(carbon)) cJSON_AddNumberToObject(o, "emissions_g", dle_emissions_g(r.total_j, carbon));
      cJSON_AddStringToObject(o, "assumptions", r.assumptions);
      if (isfinite(meas)) {
        cJSON_AddNumberToObject(o, "measured_j", meas);
        cJSON_AddNumberToObject(o, "error_fraction", (r.total_j - meas) / meas);
      } else {
        cJSON_AddNullToObject(o, "measured_j");
      }
      cJSON_AddItemToArray(arr, o);
    } else {
      char tot[64], lo[64], hi[64], me[64];
      cli_format_energy(r.total_j, tot, sizeof tot);
      cli_format_energy(r.lower_j, lo, sizeof lo);
      cli_format_energy(r.upper_j, hi, sizeof hi);
      printf("  %-14s %s  [%s .. %s]  %s\n", r.method, tot, lo, hi, comps_str(r.components));
      if (isfinite(carbon))
        printf("  %-14s emissions %.1f g CO2e at %.0f g/kWh (modelled)\n", "",
               dle_emissions_g(r.total_j, carbon), carbon);
      if (isfinite(meas)) {
        cli_format_energy(meas, me, sizeof me);
        printf("  %-14s measured %s, error %+.1f%%\n", "", me, 100 * (r.total_j - meas) / meas);
      }
      printf("  %-14s %s\n", "", r.assumptions);
    }
  }
  dle_estimate_run_free(&run);
  if (root) {
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) {
      dle_error e = {DLE_ENOMEM, "out of memory building JSON"};
      return cli_fail(VERB, &e);
    }
    puts(s);
    cJSON_free(s);
  }
  if (ok == 0 && failed > 0) return cli_fail(VERB, &last);
  return DLE_EXIT_OK;
}

const dle_cli_verb dle_verb_estimate = {"estimate",
                                        "project a run's total energy (STEP and baselines)",
                                        cmd_estimate};
