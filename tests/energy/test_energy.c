/* Tests of the energy module: trapezoid, NaN gaps, window energy with interpolated
 * edges (adjacent windows sum to the whole), per-epoch split, run summary, carbon. */
#include <stdint.h>

#include "check.h"
#include "dlenergy/energy.h"

static uint64_t rng = 88172645463325252ULL;
static double urand(void) { /* xorshift64, deterministic */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}

static void test_trapezoid(void) {
  double t[] = {0, 1, 2, 4};
  double p[] = {0, 10, 10, 20};
  double e = -1;
  CHECK_OK(dle_energy_trapezoid_j(t, p, 4, &e), NULL);
  CHECK_NEAR(e, 5 + 10 + 30, 1e-12);
  /* NaN sample: both intervals touching it are skipped (not zero-filled, not bridged). */
  double pn[] = {10, NAN, 10, 10};
  CHECK_OK(dle_energy_trapezoid_j(t, pn, 4, &e), NULL);
  CHECK_NEAR(e, 20, 1e-12);
  double tn[] = {0, 1, NAN, 3};
  double pc[] = {10, 10, 10, 10};
  CHECK_OK(dle_energy_trapezoid_j(tn, pc, 4, &e), NULL);
  CHECK_NEAR(e, 10, 1e-12);
  double pall[] = {NAN, NAN};
  CHECK_OK(dle_energy_trapezoid_j(t, pall, 2, &e), NULL);
  CHECK(isnan(e));
  CHECK_OK(dle_energy_trapezoid_j(t, p + 1, 1, &e), NULL);
  CHECK(e == 0);
  CHECK_OK(dle_energy_trapezoid_j(NULL, NULL, 0, &e), NULL);
  CHECK(isnan(e));
  double tb[] = {0, 2, 1};
  CHECK(dle_energy_trapezoid_j(tb, pc, 3, &e) == DLE_EINVAL);
  CHECK(dle_energy_trapezoid_j(t, p, 4, NULL) == DLE_EINVAL);
}

static void test_between(void) {
  /* Power rising linearly 0 -> 20 W over 2 s: energy over [0.5, 1.5] = 10 J. */
  double t[] = {0, 2};
  double p[] = {0, 20};
  double e;
  CHECK_OK(dle_energy_between_j(t, p, 2, 0.5, 1.5, &e), NULL);
  CHECK_NEAR(e, 10, 1e-12);
  CHECK_OK(dle_energy_between_j(t, p, 2, -5, 0.5, &e), NULL); /* no extrapolation */
  CHECK_NEAR(e, 1.25, 1e-12);
  CHECK_OK(dle_energy_between_j(t, p, 2, 3, 4, &e), NULL);
  CHECK(e == 0);
  CHECK_OK(dle_energy_between_j(t, p, 2, 1, 1, &e), NULL);
  CHECK(e == 0);
  CHECK(dle_energy_between_j(t, p, 2, 1.5, 0.5, &e) == DLE_EINVAL);
  CHECK(dle_energy_between_j(t, p, 2, NAN, 0.5, &e) == DLE_EINVAL);

  /* Irregular trace; windows cut inside intervals sum to the whole. */
  enum { N = 5000 };
  static double tt[N], pp[N];
  double acc = 0;
  for (int i = 0; i < N; i++) {
    acc += 0.05 + urand();
    tt[i] = acc;
    pp[i] = 50 + 250 * urand();
  }
  double whole, w2;
  CHECK_OK(dle_energy_trapezoid_j(tt, pp, N, &whole), NULL);
  CHECK_OK(dle_energy_between_j(tt, pp, N, tt[0], tt[N - 1], &w2), NULL);
  CHECK_REL(w2, whole, 1e-13);
  /* 37 boundaries at random places (inside intervals, never on a sample). */
  double cuts[39];
  cuts[0] = tt[0];
  for (int k = 1; k < 38; k++) cuts[k] = tt[0] + (tt[N - 1] - tt[0]) * k / 38.0 + 0.123 * urand();
  cuts[38] = tt[N - 1];
  double sum = 0;
  for (int k = 0; k < 38; k++) {
    double part;
    CHECK_OK(dle_energy_between_j(tt, pp, N, cuts[k], cuts[k + 1], &part), NULL);
    CHECK(part > 0);
    sum += part;
  }
  CHECK_REL(sum, whole, 1e-12);
  /* A window inside one interval equals the analytic area under the segment. */
  int i = 1234;
  double a = tt[i] + 0.25 * (tt[i + 1] - tt[i]), b = tt[i] + 0.75 * (tt[i + 1] - tt[i]);
  double pa = pp[i] + 0.25 * (pp[i + 1] - pp[i]), pb = pp[i] + 0.75 * (pp[i + 1] - pp[i]);
  CHECK_OK(dle_energy_between_j(tt, pp, N, a, b, &e), NULL);
  CHECK_REL(e, (b - a) * (pa + pb) / 2, 1e-12);
  /* NaN rule holds in windows too. */
  double tn[] = {0, 1, 2, 3};
  double pn[] = {10, 10, NAN, 10};
  CHECK_OK(dle_energy_between_j(tn, pn, 4, 0.5, 3, &e), NULL);
  CHECK_NEAR(e, 5, 1e-12);
}

static dle_trace make_trace(size_t n, int with_dram) {
  dle_trace t = {0};
  dle_sample s;
  for (size_t i = 0; i < n; i++) {
    dle_sample_clear(&s);
    s.t_s = (double)i * 0.5;
    s.n_gpus = 2;
    s.gpu[0].power_w = 100 + (double)(i % 7);
    s.gpu[1].power_w = 50;
    s.gpu[0].energy_counter_j = 1000 + (double)i * 60;
    s.gpu[1].energy_counter_j = 500 + (double)i * 25;
    s.cpu_power_w = 30;
    s.ram_power_w = 3;
    if (with_dram) s.dram_power_w = 5;
    dle_trace_append(&t, &s, NULL);
  }
  return t;
}

static void test_per_epoch(void) {
  dle_trace t = make_trace(101, 0); /* 0 .. 50 s */
  dle_epoch ep[4];
  memset(ep, 0, sizeof ep);
  for (int k = 0; k < 4; k++) ep[k].index = k + 1, ep[k].t_begin_s = NAN;
  ep[0].t_end_s = 10.3; /* first epoch starts at the trace start */
  ep[1].t_end_s = 22.77;
  ep[2].t_begin_s = 22.77;
  ep[2].t_end_s = 40.01;
  ep[3].t_end_s = NAN; /* open: to the trace end */
  double out[4], whole;
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    dle_error e;
    CHECK_OK(dle_energy_per_epoch(&t, ep, 4, (dle_component)c, out, &e), &e);
    const double *col = dle_trace_component_w(&t, (dle_component)c);
    CHECK_OK(dle_energy_trapezoid_j(t.t_s, col, t.n, &whole), NULL);
    if (c == DLE_COMP_DRAM) {
      CHECK(isnan(out[0]) && isnan(whole));
      continue;
    }
    CHECK_REL(out[0] + out[1] + out[2] + out[3], whole, 1e-12);
    for (int k = 0; k < 4; k++) CHECK(out[k] > 0);
  }
  /* GPU epochs: 2nd epoch between 10.3 and 22.77 s. */
  CHECK_OK(dle_energy_per_epoch(&t, ep, 4, DLE_COMP_CPU, out, NULL), NULL);
  CHECK_NEAR(out[1], 30 * (22.77 - 10.3), 1e-9);
  ep[2].t_end_s = 1.0; /* ends before it begins */
  dle_error e;
  CHECK(dle_energy_per_epoch(&t, ep, 4, DLE_COMP_GPU, out, &e) == DLE_EINVAL);
  CHECK(strstr(e.msg, "epoch 3") != NULL);
  dle_trace_free(&t);
}

static void test_summary(void) {
  dle_trace t = make_trace(11, 1); /* 0 .. 5 s */
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.gpu_source, sizeof info.gpu_source, "nvml");
  snprintf(info.cpu_source, sizeof info.cpu_source, "model");
  snprintf(info.dram_source, sizeof info.dram_source, "rapl");
  snprintf(info.ram_source, sizeof info.ram_source, "model");
  info.pue = 1.5;
  info.carbon_g_per_kwh = 232;
  dle_energy_summary s;
  dle_error e;
  CHECK_OK(dle_energy_summarize(&t, &info, &s, &e), &e);
  CHECK_NEAR(s.duration_s, 5, 1e-12);
  CHECK(s.samples == 11);
  double g;
  dle_energy_trapezoid_j(t.t_s, t.gpu_power_w, t.n, &g);
  /* Both GPUs have counters: their energy comes from them (10 steps of 60 + 25 J),
   * the power integral stays beside it, and the two differ by more than 5%. */
  CHECK_NEAR(s.energy_j[DLE_COMP_GPU], 10 * (60 + 25), 1e-9);
  CHECK_NEAR(s.gpu_counter_j, 850, 1e-9);
  CHECK_NEAR(s.gpu_integral_j, g, 1e-9);
  CHECK_NEAR(s.device_energy_j[0] + s.device_energy_j[1], s.energy_j[DLE_COMP_GPU], 1e-9);
  CHECK_NEAR(s.gpu_all_j, 850, 1e-9);
  CHECK(s.gpu_counter_disagrees);
  g = 850;
  CHECK_NEAR(s.energy_j[DLE_COMP_CPU], 150, 1e-9);
  CHECK_NEAR(s.energy_j[DLE_COMP_DRAM], 25, 1e-9);
  CHECK_NEAR(s.energy_j[DLE_COMP_RAM], 15, 1e-9);
  CHECK_NEAR(s.total_j, g + 150 + 25, 1e-9); /* DRAM measured: modelled RAM not added */
  CHECK(s.measured[DLE_COMP_GPU] && !s.measured[DLE_COMP_CPU] && s.measured[DLE_COMP_DRAM]);
  CHECK(strcmp(s.source[DLE_COMP_RAM], "model") == 0);
  CHECK_NEAR(s.gpu_counter_j, 10 * 85.0, 1e-9);
  CHECK_NEAR(s.facility_j, s.total_j * 1.5, 1e-9);
  CHECK_NEAR(s.emissions_g, s.total_j * 1.5 / 3.6e6 * 232, 1e-12);
  CHECK_NEAR(s.avg_power_w[DLE_COMP_CPU], 30, 1e-12);
  /* Mean power is time-weighted: energy / duration, so the parts' mean powers
   * add up to the total's (no column where the total is below a part). */
  for (int c = 0; c < DLE_COMP_COUNT; c++)
    if (isfinite(s.energy_j[c]))
      CHECK_NEAR(s.avg_power_w[c], s.energy_j[c] / s.duration_s, 1e-12);
  CHECK_NEAR(s.avg_power_w[DLE_COMP_GPU] + s.avg_power_w[DLE_COMP_CPU] +
                 s.avg_power_w[DLE_COMP_DRAM],
             s.total_j / s.duration_s, 1e-9);
  CHECK(isfinite(s.sample_mean_w[DLE_COMP_GPU]));
  dle_trace_free(&t);

  t = make_trace(5, 0);
  CHECK_OK(dle_energy_summarize(&t, NULL, &s, &e), &e);
  CHECK(isnan(s.energy_j[DLE_COMP_DRAM]) && strcmp(s.source[DLE_COMP_DRAM], "none") == 0);
  CHECK_NEAR(s.total_j, s.energy_j[DLE_COMP_GPU] + s.energy_j[DLE_COMP_CPU] + s.energy_j[DLE_COMP_RAM], 1e-9);
  CHECK(isnan(s.emissions_g) && s.pue == 1);
  dle_trace_free(&t);

  dle_trace empty = {0};
  CHECK_OK(dle_energy_summarize(&empty, NULL, &s, &e), &e);
  CHECK(s.samples == 0 && isnan(s.total_j));
}

static void test_names_and_carbon(void) {
  dle_component c;
  CHECK(dle_component_parse("DRAM", &c) == 0 && c == DLE_COMP_DRAM);
  CHECK(dle_component_parse("disk", &c) == DLE_EINVAL);
  CHECK(strcmp(dle_component_name(DLE_COMP_RAM), "ram") == 0);
  CHECK(strcmp(dle_component_name((dle_component)9), "?") == 0);
  CHECK_NEAR(dle_ram_power_w(2048, DLE_RAM_W_PER_GB), 0.75, 1e-15);
  CHECK(dle_source_is_measured("nvidia-smi") && !dle_source_is_measured("model"));

  dle_error e;
  double g = 0;
  CHECK_OK(dle_carbon_lookup("ES", &g, &e), &e);
  CHECK(g == 232); /* the study's EEA 2021 figure for Spain */
  dle_carbon_info ci;
  CHECK_OK(dle_carbon_find("spain", &ci, &e), &e);
  CHECK(strcmp(ci.code, "ES") == 0 && ci.year == 2021 && ci.source[0]);
  CHECK_OK(dle_carbon_find("fr", &ci, &e), &e);
  CHECK(ci.g_per_kwh > 0 && ci.g_per_kwh < 232);
  CHECK(dle_carbon_lookup("XX", &g, &e) == DLE_ENOTFOUND);
  CHECK(strstr(e.msg, "XX") != NULL);
  CHECK(dle_carbon_lookup("", &g, &e) == DLE_EINVAL);
  /* runs.csv row 0: 0.4151704675 MJ at 232 g/kWh = 26.755430127777775 g. */
  CHECK_REL(dle_emissions_g(0.4151704675e6, 232), 26.755430127777775, 1e-14);
}

/* Issue 9 points 6, 7, 3: two GPUs at 100 W and 40 W, 0.5 s apart over 10 s.
 * GPU 0 misses its reading at rows 5-6 (a gap, not a dip), GPU 1's counter
 * restarts from 0 at row 12 (a driver reload), and only GPU 1 is the headline. */
static dle_trace gap_trace(void) {
  dle_trace t = {0};
  dle_sample s;
  double c1 = 5000;
  for (size_t i = 0; i <= 20; i++) {
    dle_sample_clear(&s);
    s.t_s = (double)i * 0.5;
    s.n_gpus = 2;
    s.gpu[0].device_index = 0;
    s.gpu[1].device_index = 1;
    s.gpu[0].power_w = (i == 5 || i == 6) ? NAN : 100;
    s.gpu[1].power_w = 40;
    s.gpu[0].energy_counter_j = (i == 5 || i == 6) ? NAN : 1e6 + 50.0 * (double)i;
    if (i == 12) c1 = 3; /* reload: the counter restarts (3 J since the reload) */
    else if (i) c1 += 20;
    s.gpu[1].energy_counter_j = c1;
    dle_trace_append(&t, &s, NULL);
  }
  return t;
}

static void test_gaps_and_counters(void) {
  dle_trace t = gap_trace();
  /* While appending, the missing GPU 0 holds its last value: no dip to 40 W. */
  CHECK_NEAR(t.gpu_power_w[5], 140, 1e-12);
  dle_trace_select_gpus(&t, NULL, 0);
  CHECK_NEAR(t.gpu_power_w[5], 140, 1e-12); /* interpolated: still 100 + 40 */
  dle_energy_summary s;
  dle_error e;
  CHECK_OK(dle_energy_summarize(&t, NULL, &s, &e), &e);
  CHECK_NEAR(s.device_integral_j[0], 1000, 1e-9); /* the gap bridged at 100 W */
  CHECK_NEAR(s.device_counter_j[0], 1000, 1e-9);
  /* GPU 1: 19 steps of 20 J, the reset step counted by the integral (20 J). */
  CHECK_NEAR(s.device_counter_j[1], 400, 1e-9);
  CHECK_NEAR(s.energy_j[DLE_COMP_GPU], 1400, 1e-9);
  CHECK_NEAR(s.device_energy_j[0] + s.device_energy_j[1], s.energy_j[DLE_COMP_GPU], 1e-9);
  CHECK(!s.gpu_counter_disagrees);
  /* Headline GPU 1 only: the GPU figure is its energy; all devices beside it. */
  dle_trace_select_gpus(&t, (const uint32_t[]){1}, 1);
  CHECK_OK(dle_energy_summarize(&t, NULL, &s, &e), &e);
  CHECK_NEAR(s.energy_j[DLE_COMP_GPU], 400, 1e-9);
  CHECK_NEAR(s.gpu_all_j, 1400, 1e-9);
  CHECK(!s.device_headline[0] && s.device_headline[1]);
  CHECK_NEAR(s.avg_power_w[DLE_COMP_GPU], 40, 1e-12);
  /* Per epoch from the counter, interpolated at the edges: [0, 2.25], [2.25, 10]. */
  dle_epoch ep[2];
  memset(ep, 0, sizeof ep);
  ep[0].index = 1, ep[0].t_begin_s = NAN, ep[0].t_end_s = 2.25;
  ep[1].index = 2, ep[1].t_begin_s = NAN, ep[1].t_end_s = NAN;
  double out[2];
  CHECK_OK(dle_energy_per_epoch(&t, ep, 2, DLE_COMP_GPU, out, &e), &e);
  CHECK_NEAR(out[0], 90, 1e-9);
  CHECK_NEAR(out[1], 310, 1e-9);
  /* A counter far from the integral is flagged (> 5%). */
  for (size_t i = 0; i < t.n; i++) t.dev_counter_j[1][i] = 1000 + 30.0 * (double)i;
  dle_trace_select_gpus(&t, (const uint32_t[]){1}, 1);
  CHECK_OK(dle_energy_summarize(&t, NULL, &s, &e), &e);
  CHECK_NEAR(s.energy_j[DLE_COMP_GPU], 600, 1e-9);
  CHECK_NEAR(s.gpu_integral_j, 400, 1e-9);
  CHECK(s.gpu_counter_disagrees);
  dle_trace_free(&t);
}

/* RAPL energy is the wrap-corrected counter's difference, not the integral of
 * the powers derived from it (which averages adjacent intervals). */
static void test_rapl_counter(void) {
  dle_trace t = {0};
  dle_sample s;
  const double ctr[4] = {1.0, 8.0, 21.0, 22.0}, pw[4] = {NAN, 7.0, 13.0, 1.0};
  for (int i = 0; i < 4; i++) {
    dle_sample_clear(&s);
    s.t_s = i;
    s.cpu_power_w = pw[i];
    s.cpu_energy_counter_j = ctr[i];
    dle_trace_append(&t, &s, NULL);
  }
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.cpu_source, sizeof info.cpu_source, "rapl");
  dle_energy_summary sum;
  dle_error e;
  CHECK_OK(dle_energy_summarize(&t, &info, &sum, &e), &e);
  CHECK_NEAR(sum.energy_j[DLE_COMP_CPU], 21, 1e-12); /* the trapezoid would say 17 */
  snprintf(info.cpu_source, sizeof info.cpu_source, "model");
  CHECK_OK(dle_energy_summarize(&t, &info, &sum, &e), &e);
  CHECK_NEAR(sum.energy_j[DLE_COMP_CPU], 17, 1e-12);
  dle_trace_free(&t);
}

int main(void) {
  test_rapl_counter();
  test_gaps_and_counters();
  test_trapezoid();
  test_between();
  test_per_epoch();
  test_summary();
  test_names_and_carbon();
  return check_finish();
}
