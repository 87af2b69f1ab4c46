/* cmd_evaluate.c — `dlenergy evaluate`: error of each estimator against the measured
 * totals over a set of finished runs, and the window/start sweeps of the study. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/run_view.h"
#include "dlenergy/estimate.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/store.h"

static const char *const VERB = "evaluate";

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy evaluate [--runs FILTER] [--methods LIST|all]\n"
          "                         [--sweep window|start|fraction]\n"
          "                         [--csv FILE] [--json] [estimator options]\n"
          "Estimate every selected finished run with each method and report RMSE, MAE,\n"
          "MAPE (percent in the text table, a fraction in --json and --csv) and R^2 against\n"
          "the measured totals. Each method is compared\n"
          "with the measured (trapezoid) energy of the components it models: GPU for mlco2\n"
          "and flops; GPU+RAM for ga (+CPU when CPU facts are known), carbontracker and the\n"
          "step methods, or GPU alone with --gpu-only or when the run has no RAM power.\n"
          "PUE is 1 here (IT energy). Runs still recording are skipped.\n"
          "Each method also reports how much of each run it had seen when it projected\n"
          "(median and 90th percentile of the fraction of the measured duration whose data\n"
          "it read, detection included: the study's auto start searches up to the end\n"
          "minus the window) and the coverage of its bounds (share of runs whose measured\n"
          "total lies in [lower, upper]; step-remain's are calibrated for 90 %%).\n"
          "step-remain projects from %.0f %% of each run unless --at-fraction says otherwise.\n"
          "A run of more than 65,536 samples is read as about 32,768 buckets (bounded memory;\n"
          "energies over whole epochs stay measured from every sample; see estimate --help).\n\n"
          "Options:\n"
          "  --runs FILTER         metadata filter, e.g. architecture=vgg16,status=complete\n"
          "                        (--filter is the same option)\n"
          "  --methods LIST        comma-separated methods or 'all' (default all; --method is\n"
          "                        the same option)\n"
          "  --sweep window|start  also vary the STEP window (size) or its start: epochs for\n"
          "                        runs with epochs, seconds for runs without\n"
          "  --sweep fraction      also project every method from 5, 10, 15, 20, 30, 50 %%\n"
          "                        of each run (its measured duration known), as --at-fraction\n"
          "  --sweep-values LIST   values to sweep (default epochs 1,2,3,5,8,10,15,20 or\n"
          "                        0,1,2,3,5,8,10,15,20; seconds 60,120,300,600,900,1200,1800\n"
          "                        or 0,60,120,300,600,900,1200; fractions in (0, 1])\n"
          "  --csv FILE            write the metrics as CSV ('-' = standard output)\n"
          "  --json                one JSON object with a 'methods' array\n"
          "  --db PATH             run store (default $DLENERGY_DB or ./dlenergy.db)\n"
          "  estimator options as in 'dlenergy estimate --help': --at-epoch, --epochs,\n"
          "  --stable-epoch, --window-epochs, --window-seconds, --start-seconds, --gpu-only,\n"
          "  --ct-epochs, --tdp, --host-ram-gb, --cpu-cores, --cpu-tdp, --gflops,\n"
          "  --samples-per-epoch, --peak-tflops, --utilization, --m, --regimes, --excl-factor,\n"
          "  --at-fraction, --tail-fraction, --bound-k\n",
          100 * DLE_EST_REMAIN_FRACTION);
}

static const char *const param_opts[] = {
    "at-epoch",    "epochs",      "stable-epoch", "window-epochs", "window-seconds",
    "start-seconds", "ct-epochs", "tdp",          "host-ram-gb",   "cpu-cores",
    "cpu-tdp",     "gflops",      "samples-per-epoch", "peak-tflops", "utilization",
    "m",           "regimes",     "excl-factor", "at-fraction", "tail-fraction",
    "bound-k"};
enum { N_PARAM = sizeof param_opts / sizeof *param_opts, OPT_PARAM = 1000 };
enum { MAX_SWEEP = 64 };

typedef struct acc {
  double *pred, *meas, *frac;
  size_t n, cap, skipped;
  size_t covered, n_frac;
  int comps;
  char first_error[200];
} acc;

static int acc_push(acc *a, double p, double m) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    double *np = realloc(a->pred, cap * sizeof *np);
    if (!np) return -1;
    a->pred = np;
    double *nm = realloc(a->meas, cap * sizeof *nm);
    if (!nm) return -1;
    a->meas = nm;
    double *nf = realloc(a->frac, cap * sizeof *nf);
    if (!nf) return -1;
    a->frac = nf;
    a->cap = cap;
  }
  a->pred[a->n] = p;
  a->meas[a->n] = m;
  a->n++;
  return 0;
}

static int cmp_dbl(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* q-quantile (nearest rank) of the fractions seen; NaN when none is known. */
static double frac_quantile(const acc *a, double q) {
  if (a->n_frac == 0) return NAN;
  double *tmp = malloc(a->n_frac * sizeof *tmp);
  if (!tmp) return NAN;
  memcpy(tmp, a->frac, a->n_frac * sizeof *tmp);
  qsort(tmp, a->n_frac, sizeof *tmp, cmp_dbl);
  size_t k = (size_t)ceil(q * (double)a->n_frac);
  double v = tmp[k > 0 ? k - 1 : 0];
  free(tmp);
  return v;
}

static void acc_free(acc *a) {
  free(a->pred);
  free(a->meas);
  free(a->frac);
}

static int parse_list(const char *s, double *vals, int *n) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", s);
  char *save = NULL;
  *n = 0;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (*n >= MAX_SWEEP || !cli_parse_double(t, &vals[*n]) || vals[*n] < 0) return -1;
    (*n)++;
  }
  return *n > 0 ? 0 : -1;
}

/* Measured energy of the run for a component mask, cached per mask. */
typedef struct meas_cache {
  double j[8];
  bool have[8];
} meas_cache;

static int measured(const dle_trace *t, int comps, meas_cache *mc, double *out) {
  comps &= 7;
  if (!mc->have[comps]) {
    dle_error e;
    if (dle_estimate_measured_j(t, comps, &mc->j[comps], &e)) mc->j[comps] = NAN;
    mc->have[comps] = true;
  }
  *out = mc->j[comps];
  return isfinite(*out) ? 0 : -1;
}

static void run_one(const dle_estimate_input *in, dle_estimate_method m, const dle_trace *t,
                    meas_cache *mc, acc *a, int64_t run_id) {
  dle_estimate_result r;
  dle_error e = {0};
  double mj;
  if (dle_estimate_project(in, m, &r, &e) == 0 && measured(t, r.components, mc, &mj) == 0 &&
      acc_push(a, r.total_j, mj) == 0) {
    a->comps |= r.components;
    if (isfinite(r.fraction_seen)) a->frac[a->n_frac++] = r.fraction_seen;
    if (r.lower_j <= mj && mj <= r.upper_j) a->covered++;
    return;
  }
  if (!a->skipped)
    snprintf(a->first_error, sizeof a->first_error, "run %lld: %s", (long long)run_id,
             e.msg[0] ? e.msg : "no measured total");
  a->skipped++;
}

typedef struct buf {
  char *p;
  size_t n, cap;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    size_t room = b->cap - b->n;
    va_start(ap, fmt);
    int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (b->p && (size_t)k < room) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->n + (size_t)k + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) return;
    b->p = np;
    b->cap = cap;
  }
}

static cJSON *metrics_json(const char *name, const acc *a, const dle_estimate_errors *er) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddNumberToObject(o, "n", (double)a->n);
  cJSON_AddNumberToObject(o, "skipped", (double)a->skipped);
  dle_json_number_or_null(o, "rmse_j", er->rmse_j);
  dle_json_number_or_null(o, "mae_j", er->mae_j);
  dle_json_number_or_null(o, "mape", er->mape);
  dle_json_number_or_null(o, "r2", er->r2);
  dle_json_number_or_null(o, "median_fraction_seen", frac_quantile(a, 0.5));
  dle_json_number_or_null(o, "p90_fraction_seen", frac_quantile(a, 0.9));
  dle_json_number_or_null(o, "bound_coverage", a->n ? (double)a->covered / (double)a->n : NAN);
  cJSON_AddStringToObject(o, "measured_components", cli_components_str(a->comps));
  if (a->skipped) cJSON_AddStringToObject(o, "first_skip_reason", a->first_error);
  return o;
}

static void compute(const acc *a, dle_estimate_errors *er) {
  dle_error e;
  if (dle_estimate_errors_compute(a->pred, a->meas, a->n, er, &e)) {
    er->n = a->n;
    er->rmse_j = er->mae_j = er->mape = er->r2 = NAN;
  }
}

static int cmd_evaluate(int argc, char **argv) {
  struct option opts[N_PARAM + 12];
  for (int i = 0; i < N_PARAM; i++)
    opts[i] = (struct option){param_opts[i], required_argument, NULL, OPT_PARAM + i};
  opts[N_PARAM] = (struct option){"runs", required_argument, NULL, 'r'};
  opts[N_PARAM + 1] = (struct option){"methods", required_argument, NULL, 'M'};
  opts[N_PARAM + 2] = (struct option){"sweep", required_argument, NULL, 's'};
  opts[N_PARAM + 3] = (struct option){"sweep-values", required_argument, NULL, 'v'};
  opts[N_PARAM + 4] = (struct option){"csv", required_argument, NULL, 'c'};
  opts[N_PARAM + 5] = (struct option){"json", no_argument, NULL, 'j'};
  opts[N_PARAM + 6] = (struct option){"gpu-only", no_argument, NULL, 'g'};
  opts[N_PARAM + 7] = (struct option){"db", required_argument, NULL, 'd'};
  opts[N_PARAM + 8] = (struct option){"help", no_argument, NULL, 'h'};
  opts[N_PARAM + 9] = (struct option){"method", required_argument, NULL, 'M'};  /* as estimate */
  opts[N_PARAM + 10] = (struct option){"filter", required_argument, NULL, 'r'}; /* as list */
  opts[N_PARAM + 11] = (struct option){NULL, 0, NULL, 0};
  const char *params[N_PARAM] = {0};
  const char *filter = NULL, *methods = "all", *sweep = NULL, *sweep_vals = NULL;
  const char *csv = NULL, *db = NULL;
  bool json = false, gpu_only = false;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c >= OPT_PARAM && c < OPT_PARAM + N_PARAM) {
      params[c - OPT_PARAM] = optarg;
      continue;
    }
    switch (c) {
      case 'r': filter = optarg; break;
      case 'M': methods = optarg; break;
      case 's': sweep = optarg; break;
      case 'v': sweep_vals = optarg; break;
      case 'c': csv = optarg; break;
      case 'j': json = true; break;
      case 'g': gpu_only = true; break;
      case 'd': db = optarg; break;
      case 'h': usage(stdout); return DLE_EXIT_OK;
      default: return cli_usage_error(VERB, "unknown option");
    }
  }
  if (optind != argc) return cli_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
  dle_error err = {0};
  bool use[DLE_EST_COUNT];
  size_t n_methods;
  if (cli_parse_estimate_methods(methods, use, &n_methods, &err))
    return cli_usage_error(VERB, "%s", err.msg);
  if (!n_methods) return cli_usage_error(VERB, "--methods is empty");
  int sweep_kind = 0; /* 1 window, 2 start, 3 fraction */
  if (sweep) {
    if (strcmp(sweep, "window") == 0)
      sweep_kind = 1;
    else if (strcmp(sweep, "start") == 0)
      sweep_kind = 2;
    else if (strcmp(sweep, "fraction") == 0)
      sweep_kind = 3;
    else
      return cli_usage_error(VERB, "--sweep must be 'window', 'start' or 'fraction'");
  } else if (sweep_vals) {
    return cli_usage_error(VERB, "--sweep-values needs --sweep");
  }
  /* sweep values per unit: [0] epochs, [1] seconds */
  double sv[2][MAX_SWEEP];
  int nsv[2] = {0, 0};
  if (sweep_kind == 3) {
    const char *l = sweep_vals ? sweep_vals : "0.05,0.1,0.15,0.2,0.3,0.5";
    if (parse_list(l, sv[1], &nsv[1]))
      return cli_usage_error(VERB, "bad --sweep-values '%s' (up to %d numbers)", l, MAX_SWEEP);
    for (int i = 0; i < nsv[1]; i++)
      if (!(sv[1][i] > 0 && sv[1][i] <= 1))
        return cli_usage_error(VERB, "sweep fraction %g is not in (0, 1]", sv[1][i]);
  } else if (sweep_kind) {
    const char *defs[2][2] = {{"1,2,3,5,8,10,15,20", "60,120,300,600,900,1200,1800"},
                              {"0,1,2,3,5,8,10,15,20", "0,60,120,300,600,900,1200"}};
    for (int u = 0; u < 2; u++) {
      const char *l = sweep_vals ? sweep_vals : defs[sweep_kind - 1][u];
      if (parse_list(l, sv[u], &nsv[u]))
        return cli_usage_error(VERB, "bad --sweep-values '%s' (up to %d numbers >= 0)", l,
                               MAX_SWEEP);
      for (int i = 0; u == 0 && i < nsv[u]; i++)
        if (sv[u][i] != floor(sv[u][i]) || (sweep_kind == 1 && sv[u][i] < 1))
          return cli_usage_error(VERB, "sweep value %g is not a valid number of epochs",
                                 sv[u][i]);
    }
  }
  /* The swept methods: the STEP methods among those asked for (both when none is). */
  bool swept[DLE_EST_COUNT] = {0};
  if (sweep_kind == 3) {
    memcpy(swept, use, sizeof swept); /* every method, at every fraction */
  } else if (sweep_kind) {
    swept[DLE_EST_STEP_POWER] = use[DLE_EST_STEP_POWER];
    swept[DLE_EST_STEP_ENERGY] = use[DLE_EST_STEP_ENERGY];
    if (!swept[DLE_EST_STEP_POWER] && !swept[DLE_EST_STEP_ENERGY])
      swept[DLE_EST_STEP_POWER] = swept[DLE_EST_STEP_ENERGY] = true;
  }
  dle_estimate_input probe;
  dle_estimate_input_init(&probe);
  if (cli_estimate_params_apply(&probe, param_opts, params, N_PARAM, &err))
    return cli_usage_error(VERB, "%s", err.msg);

  dle_store *st = NULL;
  if (cli_open_store_existing(cli_db_path(db), &st, &err)) return cli_fail(VERB, &err);
  int64_t *ids = NULL;
  size_t n_ids = 0;
  if (dle_store_select_runs(st, filter, &ids, &n_ids, &err)) {
    dle_store_close(st);
    return cli_fail(VERB, &err);
  }
  acc base[DLE_EST_COUNT];
  memset(base, 0, sizeof base);
  acc *sw = calloc(2 * MAX_SWEEP * DLE_EST_COUNT, sizeof *sw);
  if (!sw) {
    free(ids);
    dle_store_close(st);
    dle_error e = {DLE_ENOMEM, "out of memory"};
    return cli_fail(VERB, &e);
  }
#define SW(u, v, m) sw[((u) * MAX_SWEEP + (v)) * DLE_EST_COUNT + (m)]
  size_t evaluated = 0, running = 0, load_failed = 0, downsampled = 0;
  int rc = 0;
  bool progress = cli_stderr_is_tty();
  for (size_t k = 0; k < n_ids; k++) {
    dle_estimate_run run;
    if (dle_estimate_run_load(st, ids[k], &run, &err)) {
      if (err.code == DLE_EDB || err.code == DLE_ENOMEM) {
        rc = 1;
        break;
      }
      fprintf(stderr, "dlenergy %s: run %lld skipped: %s\n", VERB, (long long)ids[k], err.msg);
      load_failed++;
      continue;
    }
    if (run.info.status == DLE_RUN_RUNNING) {
      running++;
      dle_estimate_run_free(&run);
      continue;
    }
    if (progress) fprintf(stderr, "\r%zu/%zu runs", k + 1, n_ids);
    dle_estimate_input in;
    dle_estimate_input_from_run(&in, &run);
    cli_estimate_params_apply(&in, param_opts, params, N_PARAM, &err); /* validated above */
    if (gpu_only) in.gpu_only = true;
    in.pue = 1;
    meas_cache mc;
    memset(&mc, 0, sizeof mc);
    for (int m = 0; m < DLE_EST_COUNT; m++)
      if (use[m]) run_one(&in, (dle_estimate_method)m, &run.trace, &mc, &base[m], ids[k]);
    if (sweep_kind) {
      int u = (in.n_epochs > 0 && !(in.window_s > 0)) ? 0 : 1;
      if (sweep_kind == 3) u = 1;
      for (int v = 0; v < nsv[u]; v++) {
        dle_estimate_input sin = in;
        double x = sv[u][v];
        if (sweep_kind == 1 && u == 0) sin.window_epochs = (int)x;
        if (sweep_kind == 1 && u == 1) sin.window_s = x;
        if (sweep_kind == 2 && u == 0) sin.stable_epoch = (int)x;
        if (sweep_kind == 2 && u == 1) sin.start_s = x;
        if (sweep_kind == 3) sin.at_fraction = x;
        if (sweep_kind == 1 && u == 1 && !(x > 0)) continue;
        for (int m = 0; m < DLE_EST_COUNT; m++)
          if (swept[m]) run_one(&sin, (dle_estimate_method)m, &run.trace, &mc, &SW(u, v, m), ids[k]);
      }
    }
    evaluated++;
    if (run.trace_buckets) downsampled++;
    dle_estimate_run_free(&run);
  }
  if (progress) fprintf(stderr, "\r%40s\r", "");
  free(ids);
  dle_store_close(st);

  dle_estimate_errors ber[DLE_EST_COUNT];
  for (int m = 0; m < DLE_EST_COUNT; m++)
    if (use[m]) compute(&base[m], &ber[m]);
  buf csvb = {0};
  if (csv) {
    bprintf(&csvb, "sweep,value,unit,method,n,skipped,rmse_j,mae_j,mape,r2,measured_components,"
                   "median_fraction_seen,p90_fraction_seen,bound_coverage\n");
    for (int m = 0; m < DLE_EST_COUNT; m++)
      if (use[m])
        bprintf(&csvb, "none,,,%s,%zu,%zu,%.17g,%.17g,%.17g,%.17g,%s,%.6g,%.6g,%.6g\n",
                dle_estimate_method_name((dle_estimate_method)m), base[m].n, base[m].skipped,
                ber[m].rmse_j, ber[m].mae_j, ber[m].mape, ber[m].r2,
                cli_components_str(base[m].comps), frac_quantile(&base[m], 0.5),
                frac_quantile(&base[m], 0.9),
                base[m].n ? (double)base[m].covered / (double)base[m].n : NAN);
  }
  cJSON *root = json ? cJSON_CreateObject() : NULL;
  cJSON *sweep_arr = NULL;
  if (root) {
    cJSON_AddNumberToObject(root, "runs", (double)evaluated);
    cJSON_AddNumberToObject(root, "skipped_running", (double)running);
    cJSON_AddNumberToObject(root, "skipped_unreadable", (double)load_failed);
    /* runs over the full-series limit, read as buckets (docs/estimate.md) */
    cJSON_AddNumberToObject(root, "runs_downsampled", (double)downsampled);
    cJSON *arr = cJSON_AddArrayToObject(root, "methods");
    for (int m = 0; m < DLE_EST_COUNT; m++)
      if (use[m])
        cJSON_AddItemToArray(arr, metrics_json(dle_estimate_method_name((dle_estimate_method)m),
                                               &base[m], &ber[m]));
    if (sweep_kind) {
      cJSON *so = cJSON_AddObjectToObject(root, "sweep");
      cJSON_AddStringToObject(so, "parameter", sweep);
      sweep_arr = cJSON_AddArrayToObject(so, "points");
    }
  } else {
    printf("Evaluated %zu finished runs (%zu still recording skipped, %zu unreadable)\n",
           evaluated, running, load_failed);
    if (downsampled)
      printf("%zu long run%s (over %d samples) read as buckets: energies over whole epochs "
             "measured from every sample, stabilizing points and time windows at the "
             "buckets' resolution (docs/estimate.md)\n",
             downsampled, downsampled == 1 ? "" : "s", (int)DLE_SERIES_FULL_MAX);
    printf("%-14s %5s %7s %12s %12s %8s %8s %6s %6s %6s  %s\n", "method", "n", "skipped",
           "RMSE", "MAE", "MAPE", "R^2", "seen", "p90", "cover", "compared with (measured)");
    for (int m = 0; m < DLE_EST_COUNT; m++) {
      if (!use[m]) continue;
      char r1[64], r2[64];
      cli_format_energy(ber[m].rmse_j, r1, sizeof r1);
      cli_format_energy(ber[m].mae_j, r2, sizeof r2);
      char *cut = strchr(r1, '('); /* keep the tables narrow: no kWh here */
      if (cut) cut[-1] = '\0';
      cut = strchr(r2, '(');
      if (cut) cut[-1] = '\0';
      printf("%-14s %5zu %7zu %12s %12s %7.2f%% %8.4f %6.3f %6.3f %6.3f  %s\n",
             dle_estimate_method_name((dle_estimate_method)m), base[m].n, base[m].skipped, r1,
             r2, 100 * ber[m].mape, ber[m].r2, frac_quantile(&base[m], 0.5),
             frac_quantile(&base[m], 0.9),
             base[m].n ? (double)base[m].covered / (double)base[m].n : NAN,
             cli_components_str(base[m].comps));
    }
    for (int m = 0; m < DLE_EST_COUNT; m++)
      if (use[m] && base[m].skipped)
        printf("  %s skipped %zu runs, first: %s\n",
               dle_estimate_method_name((dle_estimate_method)m), base[m].skipped,
               base[m].first_error);
    if (sweep_kind == 3)
      printf("\nProjected from a fraction of each run (its duration known):\n"
             "%-7s %-8s %-14s %5s %12s %8s %8s %6s %6s\n",
             "value", "unit", "method", "n", "RMSE (J)", "MAPE", "R^2", "seen", "cover");
    else if (sweep_kind)
      printf("\nSweep of the STEP window %s:\n%-7s %-7s %-12s %5s %12s %8s %8s\n",
             sweep_kind == 1 ? "size" : "start", "value", "unit", "method", "n", "RMSE (J)",
             "MAPE", "R^2");
  }
  for (int u = 0; sweep_kind && u < 2; u++)
    for (int v = 0; v < nsv[u]; v++)
      for (int m = 0; m < DLE_EST_COUNT; m++) {
        if (!swept[m]) continue;
        acc *a = &SW(u, v, m);
        if (a->n == 0 && a->skipped == 0) continue; /* no run of this unit */
        dle_estimate_errors er;
        compute(a, &er);
        const char *unit = sweep_kind == 3 ? "fraction" : u == 0 ? "epochs" : "s";
        const char *name = dle_estimate_method_name((dle_estimate_method)m);
        double cover = a->n ? (double)a->covered / (double)a->n : NAN;
        if (csv)
          bprintf(&csvb, "%s,%g,%s,%s,%zu,%zu,%.17g,%.17g,%.17g,%.17g,%s,%.6g,%.6g,%.6g\n",
                  sweep, sv[u][v], unit, name, a->n, a->skipped, er.rmse_j, er.mae_j, er.mape,
                  er.r2, cli_components_str(a->comps), frac_quantile(a, 0.5),
                  frac_quantile(a, 0.9), cover);
        if (root) {
          cJSON *o = metrics_json(name, a, &er);
          cJSON_AddNumberToObject(o, "value", sv[u][v]);
          cJSON_AddStringToObject(o, "unit", unit);
          cJSON_AddItemToArray(sweep_arr, o);
        } else if (sweep_kind == 3) {
          printf("%-7g %-8s %-14s %5zu %12.1f %7.2f%% %8.4f %6.3f %6.3f\n", sv[u][v], unit,
                 name, a->n, er.rmse_j, 100 * er.mape, er.r2, frac_quantile(a, 0.5), cover);
        } else {
          printf("%-7g %-7s %-12s %5zu %12.1f %7.2f%% %8.4f\n", sv[u][v], unit, name, a->n,
                 er.rmse_j, 100 * er.mape, er.r2);
        }
      }
  for (int m = 0; m < DLE_EST_COUNT; m++) acc_free(&base[m]);
  for (size_t i = 0; i < 2 * MAX_SWEEP * DLE_EST_COUNT; i++) acc_free(&sw[i]);
  free(sw);
#undef SW
  int out_rc = DLE_EXIT_OK;
  if (root) {
    bool printed = cli_print_json(root);
    cJSON_Delete(root);
    if (!printed) {
      err = (dle_error){DLE_ENOMEM, "out of memory building JSON"};
      out_rc = cli_fail(VERB, &err);
    }
  }
  if (csv) {
    if (!csvb.p)
      err = (dle_error){DLE_ENOMEM, "out of memory building CSV"}, out_rc = cli_fail(VERB, &err);
    else if (dle_write_file_atomic(csv, csvb.p, csvb.n, &err))
      out_rc = cli_fail(VERB, &err);
    free(csvb.p);
  }
  if (rc) return cli_fail(VERB, &err);
  return out_rc;
}

const dle_cli_verb dle_verb_evaluate = {"evaluate",
                                        "error of each estimator over many runs (RMSE, MAPE)",
                                        cmd_evaluate};
