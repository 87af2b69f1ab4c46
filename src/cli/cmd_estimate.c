/* cmd_estimate.c — `dlenergy estimate RUN --method M`: project one run's total energy
 * with one or more estimators (see include/dlenergy/estimate.h); and the live
 * projections of `dlenergy run` / `attach` (monitor_projection_hooks, at the end). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/run_view.h"
#include "dlenergy/energy.h"
#include "dlenergy/estimate.h"
#include "dlenergy/exporter.h"
#include "dlenergy/store.h"
#include "monitor.h"

static const char *const VERB = "estimate";

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy estimate RUN --method M[,M...]|all [OPTIONS]\n"
          "Project the total energy of run RUN (an id or 'last') as it was known at a\n"
          "cut-off, with a lower/upper bound. All projections are modelled; for a finished\n"
          "run the measured energy of the same components is shown beside them.\n\n"
          "Methods: mlco2, ga, carbontracker, flops, step-power, step-energy, step-auto,\n"
          "step-remain (energy measured so far + a level over whole power periods x the\n"
          "remaining time; on a finished run it projects from 25 %% of it, as it would have\n"
          "been then, unless --at-fraction says otherwise). The study's STEP rules stay\n"
          "available by name (step-power, step-energy, step-auto).\n\n"
          "The auto start (step-auto, --start-seconds auto) searches with 3 regimes and takes\n"
          "the LATEST change before the window; 'dlenergy stabilize' reports the FIRST change\n"
          "of 2 regimes (the study's definition), so the two can differ for one run.\n\n"
          "A run of more than 65,536 samples is read as about 32,768 buckets (memory does\n"
          "not grow with the run): energies over whole epochs and the run stay measured\n"
          "from every sample; the stabilizing point and what falls inside a bucket are\n"
          "computed at the bucket's resolution (docs/estimate.md).\n\n"
          "Options:\n"
          "  --method LIST            comma-separated methods, or 'all' (required; --methods is\n"
          "                           the same option)\n"
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
          "  --m M, --regimes R, --excl-factor F   stabilization detection (defaults 10, 3\n"
          "                           for the auto start, 3; the study's stumpy used 5)\n"
          "  --at-fraction F          finished run: project as it was at F (0, 1] of its\n"
          "                           duration (the duration stays the measured one)\n"
          "  --tail-fraction F        step-remain: level from the last F of what was seen\n"
          "                           (default 0.25)\n"
          "  --bound-k K              step-remain: bound in spreads of the tail (default 3)\n"
          "  --json                   one JSON object\n"
          "  --db PATH                run store (default $DLENERGY_DB or ./dlenergy.db)\n"
          "  -h, --help               this help\n");
}

/* Long options that map one-to-one onto dle_estimate_input_set keys. */
static const char *const param_opts[] = {
    "at-epoch",    "epochs",      "stable-epoch", "window-epochs", "window-seconds",
    "start-seconds", "ct-epochs", "tdp",          "pue",           "host-ram-gb",
    "cpu-cores",   "cpu-tdp",     "gflops",       "samples-per-epoch", "peak-tflops",
    "utilization", "m",           "regimes",      "excl-factor", "at-fraction",
    "tail-fraction", "bound-k"};
enum { N_PARAM = sizeof param_opts / sizeof *param_opts, OPT_PARAM = 1000 };

static int cmd_estimate(int argc, char **argv) {
  struct option opts[N_PARAM + 7];
  for (int i = 0; i < N_PARAM; i++)
    opts[i] = (struct option){param_opts[i], required_argument, NULL, OPT_PARAM + i};
  opts[N_PARAM] = (struct option){"method", required_argument, NULL, 'M'};
  opts[N_PARAM + 1] = (struct option){"gpu-only", no_argument, NULL, 'g'};
  opts[N_PARAM + 2] = (struct option){"json", no_argument, NULL, 'j'};
  opts[N_PARAM + 3] = (struct option){"db", required_argument, NULL, 'd'};
  opts[N_PARAM + 4] = (struct option){"help", no_argument, NULL, 'h'};
  opts[N_PARAM + 5] = (struct option){"methods", required_argument, NULL, 'M'}; /* as evaluate */
  opts[N_PARAM + 6] = (struct option){NULL, 0, NULL, 0};
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
  size_t n_methods;
  if (cli_parse_estimate_methods(method_list, use, &n_methods, &err))
    return cli_usage_error(VERB, "%s", err.msg);
  if (!n_methods) return cli_usage_error(VERB, "no method given");
  /* Validate the parameters before touching the store. */
  dle_estimate_input probe;
  dle_estimate_input_init(&probe);
  if (cli_estimate_params_apply(&probe, param_opts, params, N_PARAM, &err))
    return cli_usage_error(VERB, "%s", err.msg);

  int64_t id;
  dle_estimate_run run;
  if (cli_load_estimate_run(cli_db_path(db), argv[optind], &id, &run, &err))
    return cli_fail(VERB, &err);
  dle_estimate_input in;
  dle_estimate_input_from_run(&in, &run);
  cli_estimate_params_apply(&in, param_opts, params, N_PARAM, &err); /* validated above */
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
    /* 0: the full series; else the long run's buckets (docs/estimate.md) */
    cJSON_AddNumberToObject(root, "buckets", (double)run.trace_buckets);
    arr = cJSON_AddArrayToObject(root, "estimates");
  } else {
    printf("Run %lld (%s, %zu epochs%s): projected total energy (modelled)\n", (long long)id,
           dle_run_status_str(run.info.status), run.n_epochs,
           in.at_epoch ? ", cut-off at an earlier epoch" : "");
    if (run.trace_buckets && run.trace.n > 1)
      printf("  long run: read as %zu buckets of about %.1f s; energies between epoch edges "
             "are from every sample, what falls inside a bucket (stabilizing point, time "
             "windows, fractions) is modelled at that resolution (docs/estimate.md)\n",
             run.trace_buckets,
             (run.trace.t_s[run.trace.n - 1] - run.trace.t_s[0]) / (double)run.trace_buckets);
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
      cJSON_AddStringToObject(o, "components", cli_components_str(r.components));
      dle_json_number_or_null(o, "seen_s", r.seen_s);
      dle_json_number_or_null(o, "fraction_seen", r.fraction_seen);
      if (isfinite(r.period_s)) cJSON_AddNumberToObject(o, "period_s", r.period_s);
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
      printf("  %-14s %s  [%s .. %s]  %s\n", r.method, tot, lo, hi,
             cli_components_str(r.components));
      if (isfinite(carbon))
        printf("  %-14s emissions %.1f g CO2e at %.0f g/kWh (modelled)\n", "",
               dle_emissions_g(r.total_j, carbon), carbon);
      if (isfinite(meas)) {
        cli_format_energy(meas, me, sizeof me);
        printf("  %-14s measured %s, error %+.1f%%\n", "", me, 100 * (r.total_j - meas) / meas);
      }
      if (isfinite(r.fraction_seen))
        printf("  %-14s projected from the first %.1f s (%.1f %% of the run)\n", "", r.seen_s,
               100 * r.fraction_seen);
      printf("  %-14s %s\n", "", r.assumptions);
    }
  }
  dle_estimate_run_free(&run);
  if (root) {
    bool printed = cli_print_json(root);
    cJSON_Delete(root);
    if (!printed) {
      dle_error e = {DLE_ENOMEM, "out of memory building JSON"};
      return cli_fail(VERB, &e);
    }
  }
  if (ok == 0 && failed > 0) return cli_fail(VERB, &last);
  return DLE_EXIT_OK;
}

const dle_cli_verb dle_verb_estimate = {"estimate",
                                        "project a run's total energy (STEP and baselines)",
                                        cmd_estimate};

/* ---- live projections in `dlenergy run` / `attach` ----
 * After every epoch: carbontracker, step-power, step-energy, mlco2 and ga (GPU/host facts
 * from the sensors) project the total from what is known; the epoch line shows the
 * STEP power projection once its window is complete (carbontracker's before), with its
 * bound and emissions; the exporter gets every method. step-auto runs live on a
 * streaming matrix profile (dle_stabilize_stream: each new 1-s bin costs O(n), FLUSS
 * O(n) per epoch), fed with the samples up to the end of epoch k - w - 1, so it never
 * recomputes the O(n^2) batch profile in the loop. At the end the summary
 * lists each method's projection at each epoch against the measured total. The state
 * is this process's one run (CLI-level, not library state).
 * $DLENERGY_PROJECTION tunes them with the estimate options as key=value pairs
 * ("stable-epoch=3,window-epochs=2,gpu-only"), or "off" disables them. */

static const dle_estimate_method live_methods[] = {
    DLE_EST_CARBONTRACKER, DLE_EST_STEP_POWER, DLE_EST_STEP_ENERGY, DLE_EST_STEP_AUTO,
    DLE_EST_STEP_REMAIN,   DLE_EST_MLCO2,      DLE_EST_GA};
enum { N_LIVE = sizeof live_methods / sizeof *live_methods, LIVE_MAX_ROWS = 30 };

typedef struct live_row {
  int32_t epoch;
  double total_j[N_LIVE];
} live_row;

enum { LIVE_MAX_PARAMS = 16 };

static struct {
  char params[512]; /* $DLENERGY_PROJECTION, validated; kept across runs of the struct */
  live_row *rows;
  size_t n, cap;
  int comps[N_LIVE];
  double tdp_w, host_ram_gb, cpu_tdp_w, carbon, pue;
  int cpu_cores;
  dle_stabilize_stream *stream; /* live detection for step-auto */
  size_t fed;                   /* trace samples pushed into it */
  bool stream_failed;
} live;

/* Applies "key=value,key,..." (estimate option names) to in; validated when err. */
static int apply_params(const char *list, dle_estimate_input *in, dle_error *err) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", list);
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(t, '=');
    if (eq) *eq = '\0';
    int rc = dle_estimate_input_set(in, t, eq ? eq + 1 : NULL, err);
    if (rc) return rc;
  }
  return DLE_OK;
}

static int live_start(const monitor_view *v, void *user, dle_error *err) {
  (void)user, (void)err;
  free(live.rows);
  dle_stabilize_stream_free(live.stream);
  char params[sizeof live.params];
  memcpy(params, live.params, sizeof params);
  memset(&live, 0, sizeof live);
  memcpy(live.params, params, sizeof params);
  double tdp = 0;
  int have = 0;
  for (uint32_t g = 0; v->sensors && g < v->sensors->n_gpus; g++)
    if (isfinite(v->sensors->gpu[g].tdp_w)) tdp += v->sensors->gpu[g].tdp_w, have = 1;
  live.tdp_w = have ? tdp : NAN;
  live.host_ram_gb = v->sensors ? v->sensors->host_ram_gb : NAN;
  live.cpu_cores = v->sensors ? v->sensors->cpu_logical : 0;
  live.cpu_tdp_w = v->sensors && isfinite(v->sensors->cpu_model_w) ? v->sensors->cpu_model_w
                   : v->sensors && isfinite(v->sensors->cpu_tdp_w)
                       ? v->sensors->cpu_tdp_w * (v->sensors->cpu_packages > 0 ? v->sensors->cpu_packages : 1)
                       : NAN;
  live.carbon = v->info ? v->info->carbon_g_per_kwh : NAN;
  live.pue = v->info && v->info->pue >= 1 ? v->info->pue : 1;
  return DLE_OK;
}

static void live_input(const monitor_view *v, size_t n_epochs, dle_estimate_input *in) {
  dle_estimate_input_init(in);
  in->trace = v->trace;
  in->epochs = v->epochs;
  in->n_epochs = n_epochs;
  in->epochs_total = v->epochs_total;
  in->gpu_tdp_w = live.tdp_w;
  in->host_ram_gb = live.host_ram_gb;
  in->cpu_cores = live.cpu_cores;
  in->cpu_tdp_w = live.cpu_tdp_w;
  in->pue = live.pue;
  /* Live, Carbontracker's rule uses every completed epoch so far (the projection
   * follows the run; its range is the min/max epoch), unless ct-epochs is given. */
  in->carbontracker_k = n_epochs > 0 ? (int)n_epochs : 1;
  apply_params(live.params, in, NULL);
}

static void live_epoch(const monitor_view *v, void *user, char *extra, size_t extra_size) {
  (void)user;
  size_t n_ep = v->epoch_pos + 1;
  if (!v->trace || n_ep > v->n_epochs) return;
  for (size_t e = 0; e < n_ep; e++)
    if (!isfinite(v->epochs[e].t_end_s)) return; /* an earlier epoch is still open */
  if (live.n == live.cap) {
    size_t cap = live.cap ? live.cap * 2 : 32;
    live_row *r = realloc(live.rows, cap * sizeof *r);
    if (!r) return;
    live.rows = r, live.cap = cap;
  }
  live_row *row = &live.rows[live.n++];
  row->epoch = v->epochs[v->epoch_pos].index;
  dle_estimate_input in;
  live_input(v, n_ep, &in);
  /* step-auto searches up to the end of epoch k - w - 1: feed the stream that far */
  dle_stabilize_result sr;
  int w = in.window_epochs;
  if (!live.stream && !live.stream_failed) {
    dle_error se;
    live.stream_failed = dle_stabilize_stream_new(&in.stab, &live.stream, &se) != 0;
  }
  if (live.stream && w > 0 && (int)n_ep - w >= 1) {
    double cut = v->epochs[n_ep - w - 1].t_end_s;
    dle_error se;
    const dle_trace *tr = v->trace;
    while (live.fed < tr->n && tr->t_s[live.fed] <= cut) {
      if (dle_stabilize_stream_push(live.stream, tr->t_s[live.fed], tr->gpu_power_w[live.fed],
                                    &se) != 0) {
        live.stream_failed = true;
        break;
      }
      live.fed++;
    }
    if (!live.stream_failed && dle_stabilize_stream_result(live.stream, &sr, &se) == 0) {
      in.detected = &sr;
      in.detected_until_s = cut;
    }
  }
  dle_estimate_result shown;
  bool have_shown = false;
  for (int i = 0; i < N_LIVE; i++) {
    dle_estimate_result r;
    dle_error e;
    row->total_j[i] = NAN;
    /* never the O(n^2) batch detection in the loop: step-auto only with the stream's */
    if (live_methods[i] == DLE_EST_STEP_AUTO && (!in.detected || in.window_s > 0)) continue;
    if (dle_estimate_project(&in, live_methods[i], &r, &e) != 0) continue;
    /* The facility energy, as the measured side is shown: x PUE (ga applies it
     * itself), and never below what the same components have already used. */
    double f = live_methods[i] == DLE_EST_GA ? 1 : live.pue;
    r.total_j *= f, r.lower_j *= f, r.upper_j *= f;
    double spent = NAN;
    if (dle_estimate_measured_j(v->trace, r.components, &spent, &e) == 0 && isfinite(spent)) {
      spent *= live.pue;
      if (r.total_j < spent) r.total_j = spent;
      if (r.lower_j < spent) r.lower_j = spent;
      if (r.upper_j < spent) r.upper_j = spent;
    }
    row->total_j[i] = r.total_j;
    live.comps[i] |= r.components;
    if (v->exporter) dle_exporter_set_projection(v->exporter, r.method, r.total_j);
    if (live_methods[i] == DLE_EST_STEP_POWER ||
        (live_methods[i] == DLE_EST_CARBONTRACKER && !have_shown))
      shown = r, have_shown = true;
  }
  if (!have_shown || extra_size == 0) return;
  char tot[64], lo[64], hi[64], em[64] = "";
  cli_format_energy(shown.total_j, tot, sizeof tot);
  cli_format_energy(shown.lower_j, lo, sizeof lo);
  cli_format_energy(shown.upper_j, hi, sizeof hi);
  for (char *b = lo; b; b = b == lo ? hi : NULL) { /* the bounds without the kWh part */
    char *cut = strchr(b, '(');
    if (cut) cut[-1] = '\0';
  }
  if (isfinite(live.carbon))
    snprintf(em, sizeof em, ", %.3g g CO2e", dle_emissions_g(shown.total_j, live.carbon));
  char pue[32] = "";
  if (live.pue != 1) snprintf(pue, sizeof pue, " x PUE %.2f", live.pue);
  snprintf(extra, extra_size, "projected %s [%s .. %s] by %s%s (modelled%s)", tot, lo, hi,
           shown.method, pue, em);
}

static void live_summary(const monitor_view *v, void *user, FILE *out) {
  (void)user;
  if (live.n == 0 || !v->trace) return;
  double meas[N_LIVE];
  bool any = false;
  for (int i = 0; i < N_LIVE; i++) {
    dle_error e;
    meas[i] = NAN;
    if (live.comps[i] && dle_estimate_measured_j(v->trace, live.comps[i], &meas[i], &e) == 0) {
      meas[i] *= live.pue; /* projections are facility energies too */
      any = true;
    }
  }
  if (!any) return;
  /* A run that stopped early measured only part of what was projected. */
  size_t done = 0;
  for (size_t e = 0; e < v->n_epochs; e++) done += isfinite(v->epochs[e].t_end_s);
  bool stopped = (v->info && v->info->status != DLE_RUN_COMPLETE) ||
                 (v->epochs_total > 0 && done < (size_t)v->epochs_total);
  fprintf(out, "\nProjected totals made at each epoch (modelled%s) vs the measured total of "
               "the same components:\n", live.pue != 1 ? ", x PUE" : "");
  if (stopped) {
    char of[32] = "";
    if (v->epochs_total > 0) snprintf(of, sizeof of, " of %d", v->epochs_total);
    fprintf(out, "  (the run stopped after %zu%s epochs: the projections are of the whole run "
                 "and cannot be compared with what was measured)\n", done, of);
  }
  fprintf(out, "  %-8s", "epoch");
  for (int i = 0; i < N_LIVE; i++)
    if (live.comps[i]) fprintf(out, " %22s", dle_estimate_method_name(live_methods[i]));
  fprintf(out, "\n  %-8s", "measured");
  for (int i = 0; i < N_LIVE; i++) {
    if (!live.comps[i]) continue;
    char b[64], c[80];
    cli_format_energy(meas[i], b, sizeof b);
    char *cut = strchr(b, '(');
    if (cut) cut[-1] = '\0';
    snprintf(c, sizeof c, "%s %s", b, cli_components_str(live.comps[i]));
    fprintf(out, " %22s", c);
  }
  fputc('\n', out);
  size_t step = live.n > LIVE_MAX_ROWS ? (live.n + LIVE_MAX_ROWS - 1) / LIVE_MAX_ROWS : 1;
  for (size_t r = 0; r < live.n; r++) {
    if (r % step != 0 && r + 1 != live.n) continue;
    fprintf(out, "  %-8d", live.rows[r].epoch);
    for (int i = 0; i < N_LIVE; i++) {
      if (!live.comps[i]) continue;
      double p = live.rows[r].total_j[i];
      char b[64], c[80];
      if (!isfinite(p)) {
        fprintf(out, " %22s", "-");
        continue;
      }
      cli_format_energy(p, b, sizeof b);
      char *cut = strchr(b, '(');
      if (cut) cut[-1] = '\0';
      if (isfinite(meas[i]) && meas[i] > 0 && !stopped)
        snprintf(c, sizeof c, "%s %+.1f%%", b, 100 * (p - meas[i]) / meas[i]);
      else
        snprintf(c, sizeof c, "%s", b);
      fprintf(out, " %22s", c);
    }
    fputc('\n', out);
  }
  if (step > 1) fprintf(out, "  (every %zu-th epoch and the last shown)\n", step);
}

static void live_finish(void *user) {
  dle_stabilize_stream_free(live.stream);
  (void)user;
  free(live.rows);
  memset(&live, 0, sizeof live);
}

int monitor_projection_hooks(monitor_opts *o) {
  const char *env = getenv("DLENERGY_PROJECTION");
  if (env && strcmp(env, "off") == 0) return 0;
  if (env && *env) {
    dle_estimate_input probe;
    dle_estimate_input_init(&probe);
    dle_error err = {0};
    if (strlen(env) >= sizeof live.params)
      return cli_usage_error(o->verb, "DLENERGY_PROJECTION is too long");
    if (apply_params(env, &probe, &err))
      return cli_usage_error(o->verb, "DLENERGY_PROJECTION: %s", err.msg);
    snprintf(live.params, sizeof live.params, "%s", env);
  }
  if (o->n_hooks >= MONITOR_MAX_HOOKS) return 0; /* no room: run without projections */
  monitor_hooks h = {NULL, live_start, NULL, live_epoch, live_summary, live_finish};
  o->hooks[o->n_hooks++] = h;
  return 0;
}
