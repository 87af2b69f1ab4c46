/* Tests of the matrix profile (against a brute-force O(n^2 m) reference), FLUSS and
 * the stabilizing point on synthetic series with a known change. */
#include <stdint.h>

#include "check.h"
#include "dlenergy/stabilize.h"

/* Deterministic generator (xorshift64*), uniform in [0,1) and normal by Box-Muller. */
static uint64_t rng_state = 88172645463325252ull;
static double urand(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static double nrand(void) {
  double u = urand(), v = urand();
  if (u < 1e-300) u = 1e-300;
  return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Reference distance by the definition, with the documented constant convention. */
static double ref_dist(const double *x, size_t i, size_t j, size_t m) {
  double mi = 0, mj = 0, si = 0, sj = 0;
  for (size_t q = 0; q < m; q++) mi += x[i + q], mj += x[j + q];
  mi /= (double)m, mj /= (double)m;
  for (size_t q = 0; q < m; q++)
    si += (x[i + q] - mi) * (x[i + q] - mi), sj += (x[j + q] - mj) * (x[j + q] - mj);
  si = sqrt(si / (double)m), sj = sqrt(sj / (double)m);
  int ci = si <= DLE_MP_CONST_STD * fmax(1, fabs(mi));
  int cj = sj <= DLE_MP_CONST_STD * fmax(1, fabs(mj));
  if (ci && cj) return 0;
  if (ci || cj) return sqrt((double)m);
  double d2 = 0;
  for (size_t q = 0; q < m; q++) {
    double a = (x[i + q] - mi) / si - (x[j + q] - mj) / sj;
    d2 += a * a;
  }
  return sqrt(d2);
}

static void brute_profile(const double *x, size_t n, size_t m, size_t excl, double *mp) {
  size_t l = n - m + 1;
  for (size_t i = 0; i < l; i++) {
    double best = INFINITY;
    for (size_t j = 0; j < l; j++) {
      size_t d = i > j ? i - j : j - i;
      if (d <= excl) continue; /* STUMPY: |i - j| <= excl is a trivial match */
      double v = ref_dist(x, i, j, m);
      if (v < best) best = v;
    }
    mp[i] = best;
  }
}

static void compare_with_brute(const double *x, size_t n, size_t m, int threads,
                               const char *what) {
  size_t l = n - m + 1, excl = (m + 3) / 4;
  double *mp = malloc(l * sizeof *mp), *ref = malloc(l * sizeof *ref);
  int64_t *mpi = malloc(l * sizeof *mpi);
  dle_error e;
  CHECK_OK(dle_matrix_profile(x, n, m, 0, threads, mp, mpi, &e), &e);
  brute_profile(x, n, m, excl, ref);
  double worst = 0, worst_idx = 0;
  int bad_index = 0;
  for (size_t i = 0; i < l; i++) {
    double d = fabs(mp[i] - ref[i]);
    if (d > worst) worst = d;
    /* The reported neighbour is at the reported distance and outside the zone. */
    if (mpi[i] < 0) {
      bad_index++;
      continue;
    }
    size_t j = (size_t)mpi[i];
    size_t dd = i > j ? i - j : j - i;
    if (dd <= excl) bad_index++;
    double dj = fabs(ref_dist(x, i, j, m) - ref[i]);
    if (dj > worst_idx) worst_idx = dj;
  }
  CHECK_MSG(worst <= 1e-6, "%s (n=%zu m=%zu threads=%d): max |mp - brute| = %g", what, n, m,
            threads, worst);
  CHECK_MSG(worst_idx <= 1e-6, "%s: neighbour distance off by %g", what, worst_idx);
  CHECK_MSG(bad_index == 0, "%s: %d neighbours missing or inside the exclusion zone", what,
            bad_index);
  free(mp), free(ref), free(mpi);
}

static void test_against_brute_force(void) {
  size_t sizes[][2] = {{64, 4}, {300, 10}, {517, 7}, {1000, 10}, {800, 32}};
  for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
    size_t n = sizes[c][0], m = sizes[c][1];
    double *x = malloc(n * sizeof *x);
    /* random walk with an offset, as power traces are: large mean, small steps */
    double v = 150;
    for (size_t i = 0; i < n; i++) x[i] = (v += nrand());
    compare_with_brute(x, n, m, 1, "random walk");
    compare_with_brute(x, n, m, 2, "random walk");
    compare_with_brute(x, n, m, 3, "random walk");
    for (size_t i = 0; i < n; i++) x[i] = 1000 * urand();
    compare_with_brute(x, n, m, 2, "uniform noise");
    free(x);
  }
}

static void test_constant_segments(void) {
  /* integer watts with long flat stretches (idle), a noisy part and a flat high part */
  size_t n = 600, m = 10;
  double x[600];
  for (size_t i = 0; i < n; i++) {
    if (i < 150)
      x[i] = 7;
    else if (i < 350)
      x[i] = floor(200 + 30 * urand());
    else if (i < 450)
      x[i] = 250;
    else
      x[i] = floor(100 + 80 * urand());
  }
  compare_with_brute(x, n, m, 2, "constant segments");
  size_t l = n - m + 1;
  double mp[600];
  int64_t mpi[600];
  dle_error e;
  CHECK_OK(dle_matrix_profile(x, n, m, 0, 2, mp, mpi, &e), &e);
  /* inside a flat stretch the nearest neighbour is another flat window: distance 0 */
  CHECK_NEAR(mp[50], 0, 1e-12);
  CHECK_NEAR(mp[400], 0, 1e-12);
  int finite = 1;
  for (size_t i = 0; i < l; i++)
    if (!isfinite(mp[i])) finite = 0;
  CHECK(finite);
  /* an all-constant series: every distance 0, no NaN */
  double flat[100];
  for (int i = 0; i < 100; i++) flat[i] = 42;
  CHECK_OK(dle_matrix_profile(flat, 100, 10, 0, 1, mp, mpi, &e), &e);
  int zero = 1;
  for (size_t i = 0; i < 91; i++)
    if (mp[i] != 0 || mpi[i] < 0) zero = 0;
  CHECK(zero);
}

static void test_bad_input(void) {
  double x[50] = {0}, mp[50];
  int64_t mpi[50];
  dle_error e;
  CHECK(dle_matrix_profile(x, 15, 10, 0, 1, mp, mpi, &e) == DLE_ERANGE);
  CHECK(dle_matrix_profile(x, 50, 1, 0, 1, mp, mpi, &e) == DLE_EINVAL);
  x[7] = NAN;
  CHECK(dle_matrix_profile(x, 50, 10, 0, 1, mp, mpi, &e) == DLE_EINVAL);
  CHECK(strstr(e.msg, "not finite") != NULL);
  CHECK(dle_matrix_profile_pairs(100, 10, 3) == (uint64_t)(91 - 4) * (91 - 3) / 2);
}

/* Warm-up then a different regime: a ramp with noise and oscillation, then a steady
 * periodic pattern (epochs of training); the change point must be within +-m. */
static void test_two_regimes(void) {
  size_t m = 10;
  int found_ok = 0, trials = 0;
  for (int trial = 0; trial < 6; trial++) {
    size_t n = 1500 + (size_t)trial * 400;
    size_t cp = n / 5 + (size_t)trial * 37;
    double *x = malloc(n * sizeof *x), *t = malloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
      t[i] = (double)i;
      if (i < cp)
        x[i] = 60 + 3 * sin((double)i / 3.1) + 2 * nrand();
      else
        x[i] = 250 + 40 * sin(2 * M_PI * (double)(i - cp) / 23.0) + 2 * nrand();
    }
    dle_stabilize_opts o;
    dle_stabilize_opts_init(&o);
    o.m = m;
    dle_stabilize_result r;
    dle_error e;
    CHECK_OK(dle_stabilize_series(x, t, n, &o, &r, &e), &e);
    trials++;
    long diff = (long)r.index - (long)cp;
    CHECK_MSG(labs(diff) <= (long)m, "trial %d: change at %zu, found %zu", trial, cp, r.index);
    if (labs(diff) <= (long)m) found_ok++;
    CHECK_NEAR(r.t_s, t[r.index], 0);
    CHECK(r.cac_min < 0.5);
    free(x), free(t);
  }
  CHECK(found_ok == trials);
}

/* 10 Hz samples are averaged to 1 s before the profile; epochs map the point. */
static void test_trace_and_epochs(void) {
  dle_trace tr = {0};
  dle_error e;
  size_t n = 20000; /* 2000 s at 10 Hz */
  double cp_s = 400;
  for (size_t i = 0; i < n; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = (double)i * 0.1;
    s.n_gpus = 1;
    double ts = s.t_s;
    s.gpu[0].power_w = ts < cp_s ? 50 + 5 * sin(ts / 2.7) + nrand()
                                 : 220 + 30 * sin(2 * M_PI * (ts - cp_s) / 17) + nrand();
    CHECK_OK(dle_trace_append(&tr, &s, &e), &e);
  }
  dle_epoch ep[20];
  for (int k = 0; k < 20; k++) {
    ep[k].index = k + 1;
    ep[k].t_begin_s = k * 100.0;
    ep[k].t_end_s = (k + 1) * 100.0;
    ep[k].metrics[0] = 0;
  }
  dle_stabilize_opts o;
  dle_stabilize_opts_init(&o);
  dle_stabilize_result r;
  CHECK_OK(dle_stabilize_trace(&tr, NAN, ep, 20, &o, &r, &e), &e);
  CHECK(r.n_points == 2000);
  CHECK_MSG(fabs(r.t_s - cp_s) <= 10, "found %g s", r.t_s);
  CHECK(r.epoch == 3 || r.epoch == 4); /* 400 s is the end of epoch 4 (position 3) */
  /* the cut-off limits the series: before the change there is none to find */
  CHECK(dle_stabilize_trace(&tr, 5.0, ep, 20, &o, &r, &e) == DLE_ERANGE);
  dle_trace_free(&tr);
}

/* A series that repeats itself exactly: every nearest neighbour is one half away, the
 * CAC is 1 everywhere, no change stands out. Like STUMPY's fluss (argmin of an all-1
 * CAC = 0), the point is the first one, flagged flat; not an error. */
static void test_flat_cac(void) {
  size_t half = 206, n = 2 * half - 1; /* 411 points, like the short real run */
  double x[411], t[411];
  for (size_t i = 0; i < half; i++) x[i] = 100 + 50 * urand();
  for (size_t i = half; i < n; i++) x[i] = x[i - half];
  for (size_t i = 0; i < n; i++) t[i] = 5.0 + (double)i;
  dle_stabilize_opts o;
  dle_stabilize_opts_init(&o);
  dle_stabilize_result r;
  dle_error e;
  CHECK_OK(dle_stabilize_series(x, t, n, &o, &r, &e), &e);
  CHECK(r.flat == 1);
  CHECK(r.index == 0);
  CHECK_NEAR(r.t_s, 5.0, 0);
  CHECK(r.n_changes == 1);
}

/* Live detection: 10 Hz samples (bins of 10) with flat idle stretches (ties), a warm-up
 * and a periodic regime; at several cut-offs the stream's result equals the batch over
 * the same bins (resample 0 on the binned points), profile indices included. */
static void test_stream_equals_batch(void) {
  size_t n = 6000;
  double *t = malloc(n * sizeof *t), *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    t[i] = 0.1 * (double)i;
    double s = t[i];
    x[i] = s < 60 ? 20 : s < 150 ? 90 + 10 * urand() : 200 + 30 * sin(s / 5) + urand();
    if (i % 997 == 0) x[i] = NAN; /* gaps are skipped */
  }
  dle_stabilize_opts o;
  dle_stabilize_opts_init(&o);
  o.n_regimes = 3;
  dle_stabilize_stream *st = NULL;
  dle_error e;
  CHECK_OK(dle_stabilize_stream_new(&o, &st, &e), &e);
  size_t cuts[] = {400, 1500, 3000, 6000}, c = 0;
  double *bx = malloc(n * sizeof *bx), *bt = malloc(n * sizeof *bt);
  for (size_t i = 0; i < n && st; i++) {
    CHECK_OK(dle_stabilize_stream_push(st, t[i], x[i], &e), &e);
    if (c < 4 && i + 1 == cuts[c]) {
      c++;
      /* the batch over the same bins: finite samples in groups of 10 */
      size_t nb = 0, k = 0;
      double sx = 0;
      for (size_t j = 0; j <= i; j++) {
        if (!isfinite(x[j])) continue;
        if (k == 0) bt[nb] = t[j];
        sx += x[j];
        if (++k == 10) bx[nb++] = sx / 10, sx = 0, k = 0;
      }
      CHECK(dle_stabilize_stream_points(st) == nb);
      dle_stabilize_result a, b;
      dle_stabilize_opts ob = o;
      ob.resample_s = 0;
      int ra = dle_stabilize_stream_result(st, &a, &e);
      int rb = dle_stabilize_series(bx, bt, nb, &ob, &b, &e);
      CHECK_MSG(ra == rb, "cut %zu: stream rc %d, batch rc %d", i + 1, ra, rb);
      if (ra == 0 && rb == 0) {
        CHECK_MSG(a.n_changes == b.n_changes && a.index == b.index && a.t_s == b.t_s &&
                      a.cac_min == b.cac_min && a.flat == b.flat,
                  "cut %zu: stream %zu/%g vs batch %zu/%g", i + 1, a.index, a.t_s, b.index,
                  b.t_s);
        for (size_t q = 0; q < a.n_changes && q < b.n_changes; q++)
          CHECK(a.change_t_s[q] == b.change_t_s[q]);
      }
    }
  }
  CHECK(c == 4);
  /* the final one finds the warm-up end near 150 s */
  dle_stabilize_result r;
  CHECK_OK(dle_stabilize_stream_result(st, &r, &e), &e);
  CHECK_MSG(fabs(r.change_t_s[r.n_changes - 1] - 150) <= 15 ||
                fabs(r.change_t_s[0] - 60) <= 15,
            "changes %g .. %g", r.change_t_s[0], r.change_t_s[r.n_changes - 1]);
  dle_stabilize_stream_free(st);
  free(t), free(x), free(bx), free(bt);
}

int main(void) {
  test_stream_equals_batch();
  test_flat_cac();
  test_bad_input();
  test_against_brute_force();
  test_constant_segments();
  test_two_regimes();
  test_trace_and_epochs();
  return check_finish();
}
