/* Each estimator on synthetic traces whose answers are computed by hand in the
 * comments. Power is piecewise linear with knots on sample times, so trapezoid
 * integrals (and window energies with interpolated edges) are exact integrals. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "dlenergy/energy.h"
#include "dlenergy/estimate.h"

/* n back-to-back epochs of epoch_s seconds from t = 0, numbered from first_index. */
static void fill_epochs(dle_epoch *ep, int n, double epoch_s, int first_index) {
  for (int k = 0; k < n; k++) {
    ep[k].index = first_index + k;
    ep[k].t_begin_s = epoch_s * k;
    ep[k].t_end_s = epoch_s * (k + 1);
    ep[k].metrics[0] = 0;
  }
}

/* Trace A: 1 Hz, t = 0..120 s. GPU power ramps 100 -> 200 W over epoch 0 (0..10 s)
 * then stays at 200 W; RAM 10 W; GPU usage 50 %; power limit 300 W; RSS 2048 MiB.
 * Epochs of 10 s: epoch 0 GPU energy = 1500 J, every later one 2000 J. */
static void make_trace_a(dle_trace *tr, dle_epoch *ep, int n_ep) {
  dle_error e;
  for (int i = 0; i <= 120; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = i;
    s.n_gpus = 1;
    s.gpu[0].power_w = i < 10 ? 100 + 10.0 * i : 200;
    s.gpu[0].util_gpu_pct = 50;
    s.gpu[0].power_limit_w = 300;
    s.ram_power_w = 10;
    s.rss_mib = 2048;
    s.cpu_util_pct = 25;
    dle_trace_append(tr, &s, &e);
  }
  fill_epochs(ep, n_ep, 10.0, 1);
}

/* Trace A with 12 epochs as the estimator's input, STEP's stable epoch 2 and window 3. */
static void input_trace_a(dle_estimate_input *in, dle_trace *tr, dle_epoch ep[12]) {
  make_trace_a(tr, ep, 12);
  dle_estimate_input_init(in);
  in->trace = tr;
  in->epochs = ep;
  in->n_epochs = 12;
  in->stable_epoch = 2;
  in->window_epochs = 3;
}

static dle_estimate_result run(const dle_estimate_input *in, dle_estimate_method m, int want_rc) {
  dle_estimate_result r;
  dle_error e = {0};
  int rc = dle_estimate_project(in, m, &r, &e);
  CHECK_MSG(rc == want_rc, "%s: rc %d (want %d): %s", dle_estimate_method_name(m), rc, want_rc,
            e.msg);
  if (rc == 0) {
    CHECK_MSG(r.lower_j <= r.total_j + 1e-9 && r.total_j <= r.upper_j + 1e-9,
              "%s: bound %g <= %g <= %g", r.method, r.lower_j, r.total_j, r.upper_j);
    CHECK(strcmp(r.method, dle_estimate_method_name(m)) == 0);
    CHECK(r.assumptions[0] != '\0');
  }
  return r;
}

static void test_complete_run(void) {
  dle_trace tr = {0};
  dle_epoch ep[12];
  dle_estimate_input in;
  input_trace_a(&in, &tr, ep);
  in.run_complete = true;
  dle_estimate_result r;
  dle_error e;

  /* measured: GPU 1500 + 11 x 2000 = 23500 J; RAM 10 W x 120 s = 1200 J */
  double mg, mgr;
  CHECK_OK(dle_estimate_measured_j(&tr, DLE_EST_GPU, &mg, &e), &e);
  CHECK_OK(dle_estimate_measured_j(&tr, DLE_EST_GPU | DLE_EST_RAM, &mgr, &e), &e);
  CHECK_NEAR(mg, 23500, 1e-6);
  CHECK_NEAR(mgr, 24700, 1e-6);

  /* mlco2: 300 W x 120 s */
  r = run(&in, DLE_EST_MLCO2, 0);
  CHECK_NEAR(r.total_j, 36000, 1e-6);
  CHECK_NEAR(r.lower_j, 36000, 1e-6);
  CHECK(r.components == DLE_EST_GPU);
  /* the TDP given wins over the trace's power limit */
  in.gpu_tdp_w = 250;
  r = run(&in, DLE_EST_MLCO2, 0);
  CHECK_NEAR(r.total_j, 30000, 1e-6);
  in.gpu_tdp_w = NAN;

  /* ga: (300 x 0.5 + 2 GB (peak RSS) x 0.3725) x 120 = 18089.4; GPU only 18000;
   * with host RAM 16 GB and a CPU of 8 cores / 80 W at 25 %: (150 + 5.96 + 20) x 120 */
  r = run(&in, DLE_EST_GA, 0);
  CHECK_NEAR(r.total_j, 18089.4, 1e-6);
  CHECK(r.components == (DLE_EST_GPU | DLE_EST_RAM));
  in.gpu_only = true;
  r = run(&in, DLE_EST_GA, 0);
  CHECK_NEAR(r.total_j, 18000, 1e-6);
  in.gpu_only = false;
  in.host_ram_gb = 16;
  in.cpu_cores = 8;
  in.cpu_tdp_w = 80;
  in.pue = 1.5;
  r = run(&in, DLE_EST_GA, 0);
  CHECK_NEAR(r.total_j, (150 + 16 * 0.3725 + 20) * 120 * 1.5, 1e-6);
  CHECK(r.components == (DLE_EST_GPU | DLE_EST_RAM | DLE_EST_CPU));
  in.host_ram_gb = NAN, in.cpu_cores = 0, in.cpu_tdp_w = NAN, in.pue = 1;

  /* carbontracker k=1: epoch 0 (1500 + 100 J RAM) x 12 = 19200; k=2: (1600+2100) x 12/2 */
  r = run(&in, DLE_EST_CARBONTRACKER, 0);
  CHECK_NEAR(r.total_j, 19200, 1e-6);
  in.carbontracker_k = 2;
  r = run(&in, DLE_EST_CARBONTRACKER, 0);
  CHECK_NEAR(r.total_j, 22200, 1e-6);
  CHECK_NEAR(r.lower_j, 1600 * 12, 1e-6);
  CHECK_NEAR(r.upper_j, 2100 * 12, 1e-6);
  in.carbontracker_k = 1;

  /* step-power: window epochs 2..4 at 210 W x 120 s = 25200; GPU only 24000 */
  r = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_NEAR(r.total_j, 25200, 1e-6);
  CHECK_NEAR(r.mean_power_w, 210, 1e-9);
  CHECK(r.stable_epoch == 2);
  CHECK_NEAR(r.window_start_s, 20, 0);
  CHECK_NEAR(r.window_end_s, 50, 0);
  in.gpu_only = true;
  r = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_NEAR(r.total_j, 24000, 1e-6);
  in.gpu_only = false;

  /* step-energy: before epoch 2: 1600 + 2100 = 3700; window 3 x 2100 = 6300;
   * 3700 + 6300 x (12 - 2) / 3 = 24700 = the measured GPU+RAM total */
  r = run(&in, DLE_EST_STEP_ENERGY, 0);
  CHECK_NEAR(r.total_j, 24700, 1e-6);
  CHECK_NEAR(r.total_j, mgr, 1e-6);

  /* flops: 3 x 1 GFLOP x 1000 samples x 12 epochs = 3.6e13 FLOP at 1 TFLOP/s x 0.3
   * = 120 s x 300 W = 36000; bounds at utilization 0.45 and 0.15 */
  r = run(&in, DLE_EST_FLOPS, DLE_EINVAL); /* no FLOPs given */
  in.gflops_forward = 1;
  in.samples_per_epoch = 1000;
  in.gpu_peak_flops = 1e12;
  r = run(&in, DLE_EST_FLOPS, 0);
  CHECK_NEAR(r.total_j, 36000, 1e-6);
  CHECK_NEAR(r.lower_j, 24000, 1e-6);
  CHECK_NEAR(r.upper_j, 72000, 1e-6);
  dle_trace_free(&tr);
}

/* Projections at epoch k of a run still going (N = 12 planned). */
static void test_projection_at_epoch(void) {
  dle_trace tr = {0};
  dle_epoch ep[12];
  dle_estimate_input in;
  input_trace_a(&in, &tr, ep);
  in.epochs_total = 12;
  in.at_epoch = 5; /* 50 s elapsed, 7 epochs of 10 s to go: 120 s */
  dle_estimate_result r = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_NEAR(r.duration_s, 120, 1e-9);
  CHECK_NEAR(r.total_j, 25200, 1e-6);
  r = run(&in, DLE_EST_STEP_ENERGY, 0);
  CHECK_NEAR(r.total_j, 24700, 1e-6);
  r = run(&in, DLE_EST_MLCO2, 0);
  CHECK_NEAR(r.total_j, 36000, 1e-6);
  /* at epoch 4 the window (epochs 2..4) is not complete */
  in.at_epoch = 4;
  run(&in, DLE_EST_STEP_POWER, DLE_ERANGE);
  /* carbontracker from epoch 1 on: 1600 x 12 */
  in.at_epoch = 1;
  r = run(&in, DLE_EST_CARBONTRACKER, 0);
  CHECK_NEAR(r.total_j, 19200, 1e-6);
  /* a time window on a run with epochs that is still going: projected duration too;
   * GPU+RAM over [20, 50] = 210 W x (50 s + 7 x 10 s) */
  in.at_epoch = 5;
  in.window_s = 30;
  in.start_s = 20;
  r = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_NEAR(r.total_j, 25200, 1e-6);
  r = run(&in, DLE_EST_MLCO2, 0);
  CHECK_NEAR(r.total_j, 36000, 1e-6);
  in.window_s = 0;
  in.start_s = NAN;
  /* unknown N: no projection */
  in.epochs_total = 0;
  in.at_epoch = 6;
  run(&in, DLE_EST_STEP_ENERGY, DLE_EINVAL);
  in.at_epoch = 13;
  run(&in, DLE_EST_MLCO2, DLE_ERANGE);
  dle_trace_free(&tr);
}

/* No epochs: the time-window variant. */
static void test_time_window(void) {
  dle_trace tr = {0};
  dle_epoch ep[1];
  make_trace_a(&tr, ep, 0);
  dle_estimate_input in;
  dle_estimate_input_init(&in);
  in.trace = &tr;
  in.run_complete = true;
  in.window_s = 30;
  in.start_s = 20;
  /* mean GPU+RAM power over [20, 50] = 210 W x 120 s */
  dle_estimate_result r = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_NEAR(r.total_j, 25200, 1e-6);
  CHECK_NEAR(r.lower_j, 25200, 1e-6);
  /* window over the ramp [0, 10]: mean GPU 150 W, sub-windows of 2 s from 110 to 190 W */
  in.gpu_only = true;
  in.start_s = 0;
  in.window_s = 10;
  r = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_NEAR(r.total_j, 150 * 120, 1e-6);
  CHECK_NEAR(r.lower_j, 110 * 120, 1e-6);
  CHECK_NEAR(r.upper_j, 190 * 120, 1e-6);
  /* a window running past the end is cut short, not extrapolated */
  in.start_s = 100;
  in.window_s = 300;
  r = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_NEAR(r.window_end_s, 120, 0);
  CHECK_NEAR(r.total_j, 24000, 1e-6);
  run(&in, DLE_EST_STEP_ENERGY, DLE_EINVAL);
  run(&in, DLE_EST_CARBONTRACKER, DLE_EINVAL);
  r = run(&in, DLE_EST_MLCO2, 0);
  CHECK_NEAR(r.total_j, 36000, 1e-6);
  /* not finished: the total duration is unknown */
  in.run_complete = false;
  run(&in, DLE_EST_STEP_POWER, DLE_ERANGE);
  dle_trace_free(&tr);
}

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static double urand(void) {
  rs ^= rs >> 12, rs ^= rs << 25, rs ^= rs >> 27;
  return (double)((rs * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* step-auto: 30 epochs of 60 s at 1 Hz; the first 3 epochs (180 s) are a noisy
 * warm-up near 80 W, then a periodic pattern around 250 W (mean of the sine = 250). */
static void test_step_auto(void) {
  dle_trace tr = {0};
  dle_error e;
  for (int i = 0; i <= 1800; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = i;
    s.n_gpus = 1;
    s.gpu[0].power_w = i < 180 ? 80 + 10 * urand() + 5 * sin(i / 4.0)
                               : 250 + 40 * sin(2 * M_PI * (i - 180) / 20.0) + urand();
    dle_trace_append(&tr, &s, &e);
  }
  dle_epoch ep[30];
  fill_epochs(ep, 30, 60.0, 0);
  dle_estimate_input in;
  dle_estimate_input_init(&in);
  in.trace = &tr;
  in.epochs = ep;
  in.n_epochs = 30;
  in.epochs_total = 30;
  in.at_epoch = 16; /* s = 10, w = 5 for step-power needs 15 */
  dle_estimate_result r = run(&in, DLE_EST_STEP_AUTO, 0);
  /* the change at 180 s is the end of epoch position 2: s = 3 (or 4 if found just after) */
  CHECK_MSG(r.stable_epoch == 3 || r.stable_epoch == 4, "s = %d", r.stable_epoch);
  CHECK_REL(r.mean_power_w, 250.5, 0.01);
  CHECK_REL(r.total_j, 250.5 * 1800, 0.01);
  /* the fixed s = 10 sees the same stable power */
  dle_estimate_result r2 = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_REL(r2.total_j, r.total_j, 0.01);
  /* mlco2 without any TDP: a clear error */
  run(&in, DLE_EST_MLCO2, DLE_EINVAL);
  /* time mode with automatic start on the finished run */
  in.n_epochs = 0;
  in.epochs = NULL;
  in.at_epoch = 0;
  in.run_complete = true;
  r = run(&in, DLE_EST_STEP_POWER, 0);
  /* 3 regimes, latest change: the one real change (180 s) or a weaker second CAC minimum
   * inside the stable part; either way the window must not reach into the warm-up */
  CHECK_MSG(r.window_start_s >= 170 && r.window_start_s <= 1500, "window start %g",
            r.window_start_s);
  CHECK_REL(r.total_j, 250.5 * 1800, 0.01);
  dle_trace_free(&tr);
}

static void test_errors_and_names(void) {
  dle_estimate_errors m;
  dle_error e;
  double p1[] = {110, 190}, m1[] = {100, 200};
  CHECK_OK(dle_estimate_errors_compute(p1, m1, 2, &m, &e), &e);
  CHECK_NEAR(m.rmse_j, 10, 1e-12);
  CHECK_NEAR(m.mae_j, 10, 1e-12);
  CHECK_NEAR(m.mape, (0.1 + 0.05) / 2, 1e-12);
  CHECK_NEAR(m.r2, 1 - 200.0 / 5000.0, 1e-12);
  CHECK(dle_estimate_errors_compute(p1, m1, 0, &m, &e) == DLE_ERANGE);
  double bad[] = {NAN, 1};
  CHECK(dle_estimate_errors_compute(bad, m1, 2, &m, &e) == DLE_EINVAL);
  for (int i = 0; i < DLE_EST_COUNT; i++) {
    dle_estimate_method x;
    CHECK_OK(dle_estimate_method_parse(dle_estimate_method_name((dle_estimate_method)i), &x, &e),
             &e);
    CHECK(x == (dle_estimate_method)i);
  }
  dle_estimate_method x;
  CHECK(dle_estimate_method_parse("stepp", &x, &e) == DLE_EINVAL);
  CHECK(strstr(e.msg, "stepp") != NULL);
  dle_estimate_input in;
  dle_estimate_input_init(&in);
  dle_estimate_result r;
  CHECK(dle_estimate_project(&in, DLE_EST_MLCO2, &r, &e) == DLE_ERANGE); /* no trace */
}

/* A CPU-only run (no GPU power anywhere): the STEP methods use CPU (+RAM) power. */
static void test_cpu_only(void) {
  dle_trace tr = {0};
  dle_error e;
  for (int i = 0; i <= 60; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = i;
    s.cpu_power_w = i < 10 ? 20 + 2.0 * i : 40; /* ramp to 40 W over the first epoch */
    s.ram_power_w = 1;
    dle_trace_append(&tr, &s, &e);
  }
  dle_epoch ep[6];
  fill_epochs(ep, 6, 10.0, 0);
  dle_estimate_input in;
  dle_estimate_input_init(&in);
  in.trace = &tr;
  in.epochs = ep;
  in.n_epochs = 6;
  in.run_complete = true;
  in.stable_epoch = 1;
  in.window_epochs = 2;
  /* 41 W (CPU 40 + RAM 1) x 60 s; measured CPU+RAM: epoch 0 = 300 + 10, then 5 x 410 */
  dle_estimate_result r = run(&in, DLE_EST_STEP_POWER, 0);
  CHECK_NEAR(r.total_j, 41 * 60, 1e-9);
  CHECK(r.components == (DLE_EST_CPU | DLE_EST_RAM));
  double mj;
  CHECK_OK(dle_estimate_measured_j(&tr, r.components, &mj, &e), &e);
  CHECK_NEAR(mj, 310 + 5 * 410, 1e-9);
  r = run(&in, DLE_EST_STEP_ENERGY, 0);
  CHECK_NEAR(r.total_j, 310 + 5 * 410, 1e-9);
  CHECK(dle_estimate_measured_j(&tr, DLE_EST_GPU, &mj, &e) == DLE_ERANGE);
  run(&in, DLE_EST_MLCO2, DLE_EINVAL); /* no GPU, no TDP */
  dle_trace_free(&tr);
}

static void test_input_set(void) {
  dle_estimate_input in;
  dle_estimate_input_init(&in);
  dle_error e;
  CHECK_OK(dle_estimate_input_set(&in, "at-epoch", "7", &e), &e);
  CHECK(in.at_epoch == 7);
  CHECK_OK(dle_estimate_input_set(&in, "peak-tflops", "35.5", &e), &e);
  CHECK_NEAR(in.gpu_peak_flops, 35.5e12, 1);
  CHECK_OK(dle_estimate_input_set(&in, "start-seconds", "120", &e), &e);
  CHECK_NEAR(in.start_s, 120, 0);
  CHECK_OK(dle_estimate_input_set(&in, "start-seconds", "auto", &e), &e);
  CHECK(isnan(in.start_s));
  CHECK_OK(dle_estimate_input_set(&in, "gpu-only", NULL, &e), &e);
  CHECK(in.gpu_only);
  CHECK_OK(dle_estimate_input_set(&in, "regimes", "2", &e), &e);
  CHECK(in.stab.n_regimes == 2);
  CHECK(dle_estimate_input_set(&in, "at-epoch", "1.5", &e) == DLE_EINVAL);
  CHECK(dle_estimate_input_set(&in, "window-epochs", "0", &e) == DLE_EINVAL);
  CHECK(dle_estimate_input_set(&in, "utilization", "2", &e) == DLE_EINVAL);
  CHECK(dle_estimate_input_set(&in, "tdp", "nan", &e) == DLE_EINVAL);
  CHECK(dle_estimate_input_set(&in, "colour", "red", &e) == DLE_EINVAL);
  CHECK(strstr(e.msg, "colour") != NULL);
  CHECK(in.at_epoch == 7); /* failed sets leave the input unchanged */
}

/* Times that go backwards give a clear error, not a silent number. */
static void test_bad_trace(void) {
  dle_trace tr = {0};
  dle_epoch ep[12];
  dle_estimate_input in;
  input_trace_a(&in, &tr, ep);
  in.run_complete = true;
  tr.t_s[30] = 5; /* backwards */
  dle_estimate_result r;
  dle_error e;
  CHECK(dle_estimate_project(&in, DLE_EST_STEP_POWER, &r, &e) == DLE_EINVAL);
  CHECK(strstr(e.msg, "backwards") != NULL);
  CHECK(isnan(r.total_j));
  double mj;
  CHECK(dle_estimate_measured_j(&tr, DLE_EST_GPU, &mj, &e) == DLE_EINVAL);
  dle_trace_free(&tr);
}

/* step-remain on a run without markers: 100 s warm-up at 80 W, then epochs of 60 s
 * (50 s training at 250 W, 10 s validation at 100 W: mean 225 W) up to 3600 s. At 25 %
 * (900 s) the level over whole periods is exactly 225 W, so the projection is the
 * measured total; the 60 s period must be found without markers. */
static double remain_w(double t) {
  if (t < 100) return 80;
  return fmod(t - 100, 60) < 50 ? 250 : 100;
}

static void test_step_remain(void) {
  dle_trace tr = {0};
  dle_error e;
  for (int i = 0; i <= 3600; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = i;
    s.n_gpus = 1;
    s.gpu[0].power_w = remain_w(i) + 0.5 * (urand() - 0.5);
    dle_trace_append(&tr, &s, &e);
  }
  double meas;
  CHECK_OK(dle_estimate_measured_j(&tr, DLE_EST_GPU, &meas, &e), &e);
  dle_estimate_input in;
  dle_estimate_input_init(&in);
  in.trace = &tr;
  in.run_complete = true;
  in.gpu_only = true;
  dle_estimate_result r = run(&in, DLE_EST_STEP_REMAIN, 0);
  CHECK_NEAR(r.fraction_seen, DLE_EST_REMAIN_FRACTION, 1e-9);
  CHECK_NEAR(r.seen_s, 900, 1e-9);
  CHECK_MSG(fabs(r.period_s - 60) <= 1, "period %g s", r.period_s);
  /* tail 0.25 x 900 s = 225 s = 3.75 periods, stretched to 4 whole periods */
  CHECK_NEAR(r.window_start_s, 900 - 240, 5);
  CHECK_REL(r.mean_power_w, 225, 0.005);
  CHECK_REL(r.total_j, meas, 0.002);
  CHECK(r.lower_j <= meas && meas <= r.upper_j);
  /* the same tail without whole periods would be biased: 3.75 periods of which the
   * last is only training (900 s ends 20 s into a period) */
  in.at_fraction = 0.5;
  r = run(&in, DLE_EST_STEP_REMAIN, 0);
  CHECK_NEAR(r.fraction_seen, 0.5, 1e-9);
  CHECK_REL(r.total_j, meas, 0.002);
  /* every method reports what it saw: ga at 50 %, the study's auto start all but 300 s */
  r = run(&in, DLE_EST_GA, DLE_EINVAL); /* no utilization in this trace */
  in.gpu_tdp_w = 300;
  r = run(&in, DLE_EST_MLCO2, 0);
  CHECK_NEAR(r.fraction_seen, 0.5, 1e-9);
  CHECK_NEAR(r.total_j, 300 * 3600, 1e-6); /* the duration stays the measured one */
  in.at_fraction = NAN;
  r = run(&in, DLE_EST_STEP_AUTO, 0);
  CHECK_MSG(r.fraction_seen >= (3600 - 300) / 3600.0 - 1e-9, "step-auto saw %g",
            r.fraction_seen);
  /* a run still going without epochs: its remaining time is unknown */
  in.run_complete = false;
  in.cutoff_s = 1000;
  run(&in, DLE_EST_STEP_REMAIN, DLE_ERANGE);
  /* with epochs (live): remaining epochs x their mean duration */
  dle_epoch ep[58];
  for (int k = 0; k < 58; k++) {
    ep[k].index = k;
    ep[k].t_begin_s = 100 + 60.0 * k;
    ep[k].t_end_s = 160 + 60.0 * k;
    ep[k].metrics[0] = 0;
  }
  in.epochs = ep;
  in.n_epochs = 58;
  in.at_epoch = 20; /* 1300 s */
  in.epochs_total = 58;
  in.cutoff_s = NAN;
  r = run(&in, DLE_EST_STEP_REMAIN, 0);
  CHECK(isnan(r.fraction_seen)); /* the duration is projected, not known */
  CHECK_NEAR(r.duration_s, 3580, 1);
  double meas_to_3580;
  CHECK(dle_energy_between_j(tr.t_s, tr.gpu_power_w, tr.n, 0, 3580, &meas_to_3580) == 0);
  CHECK_REL(r.total_j, meas_to_3580, 0.003);
  CHECK_OK(dle_estimate_input_set(&in, "tail-fraction", "0.5", &e), &e);
  CHECK_NEAR(in.tail_fraction, 0.5, 0);
  CHECK(dle_estimate_input_set(&in, "at-fraction", "1.5", &e) == DLE_EINVAL);
  CHECK(dle_estimate_input_set(&in, "bound-k", "-1", &e) == DLE_EINVAL);
  dle_trace_free(&tr);
}

/* step-auto live: the detection made incrementally (dle_stabilize_stream fed with the
 * samples up to the end of epoch k - w - 1, as `dlenergy run` does) gives the same
 * projection as the batch detection, at every epoch where the batch can project. */
static void test_step_auto_stream(void) {
  dle_trace tr = {0};
  dle_error e;
  for (int i = 0; i <= 2400; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = i;
    s.n_gpus = 1;
    s.gpu[0].power_w = i < 180 ? 80 + 10 * urand() + 5 * sin(i / 4.0)
                               : 250 + 40 * sin(2 * M_PI * (i - 180) / 20.0) + urand();
    dle_trace_append(&tr, &s, &e);
  }
  dle_epoch ep[40];
  fill_epochs(ep, 40, 60.0, 0);
  dle_estimate_input in;
  dle_estimate_input_init(&in);
  in.trace = &tr;
  in.epochs = ep;
  in.n_epochs = 40;
  in.epochs_total = 40;
  dle_stabilize_stream *st = NULL;
  CHECK_OK(dle_stabilize_stream_new(&in.stab, &st, &e), &e);
  size_t fed = 0;
  int compared = 0;
  for (int k = in.window_epochs + 1; st && k < 40; k++) {
    in.at_epoch = k;
    double cut = ep[k - in.window_epochs - 1].t_end_s;
    while (fed < tr.n && tr.t_s[fed] <= cut) {
      CHECK_OK(dle_stabilize_stream_push(st, tr.t_s[fed], tr.gpu_power_w[fed], &e), &e);
      fed++;
    }
    in.detected = NULL;
    dle_estimate_result batch, live;
    int rb = dle_estimate_project(&in, DLE_EST_STEP_AUTO, &batch, &e);
    dle_stabilize_result sr;
    int rstream = dle_stabilize_stream_result(st, &sr, &e);
    CHECK_MSG((rb == 0) == (rstream == 0), "epoch %d: batch rc %d, stream rc %d", k, rb,
              rstream);
    if (rb || rstream) continue;
    in.detected = &sr;
    in.detected_until_s = cut;
    CHECK_OK(dle_estimate_project(&in, DLE_EST_STEP_AUTO, &live, &e), &e);
    CHECK_MSG(live.stable_epoch == batch.stable_epoch && live.total_j == batch.total_j,
              "epoch %d: live s=%d %g J, batch s=%d %g J", k, live.stable_epoch, live.total_j,
              batch.stable_epoch, batch.total_j);
    compared++;
  }
  CHECK_MSG(compared >= 20, "only %d epochs compared", compared);
  /* a detection for another cut-off is not used */
  in.detected_until_s = 1;
  dle_estimate_result r;
  CHECK_OK(dle_estimate_project(&in, DLE_EST_STEP_AUTO, &r, &e), &e);
  dle_stabilize_stream_free(st);
  dle_trace_free(&tr);
}

/* Issue 9 point 10: gpu_tdp_w is the all-GPU total. Runs recorded before issue
 * 9 (no gpus_headline) stored GPU 0's TDP: it is scaled by gpu_count; newer
 * runs and imports are taken as stored. */
static void test_multi_gpu_tdp(void) {
  dle_estimate_run r;
  memset(&r, 0, sizeof r);
  dle_run_info_init(&r.info);
  dle_kv kv[3] = {{"gpu_count", "4"}, {"gpu_tdp_w", "300"}, {"gpus_headline", "0,1,2,3"}};
  r.meta = kv;
  r.n_meta = 2;
  dle_estimate_input in;
  dle_estimate_input_from_run(&in, &r);
  CHECK_NEAR(in.gpu_tdp_w, 1200, 1e-9); /* old recorded run: 4 x GPU 0's 300 W */
  kv[1].value = "1200";
  r.n_meta = 3;
  dle_estimate_input_from_run(&in, &r);
  CHECK_NEAR(in.gpu_tdp_w, 1200, 1e-9); /* new run: already the total */
  kv[1].value = "300";
  r.n_meta = 2;
  snprintf(r.info.source, sizeof r.info.source, "import");
  dle_estimate_input_from_run(&in, &r);
  CHECK_NEAR(in.gpu_tdp_w, 300, 1e-9); /* imports: as stored */
}

int main(void) {
  test_multi_gpu_tdp();
  test_cpu_only();
  test_input_set();
  test_bad_trace();
  test_complete_run();
  test_projection_at_epoch();
  test_time_window();
  test_step_auto();
  test_step_remain();
  test_step_auto_stream();
  test_errors_and_names();
  return check_finish();
}
