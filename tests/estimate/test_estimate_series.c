/* The estimators' bounded series (dle_estimate_series_load, issue 12):
 *
 *   test_estimate_series            unit: a trace with gaps and epoch times between
 *                                   samples, downsampled by hand-checked rules; a
 *                                   200,000-sample run in a SQLite store read whole and
 *                                   downsampled: measured energies and epoch-based
 *                                   projections equal to 1e-12, the stabilizing point
 *                                   within the documented tolerance, step-auto picking
 *                                   the same epoch.
 *   test_estimate_series seaa       real data: the study's 309 traced runs written into
 *                                   a store; dle_estimate_run_load gives every estimator
 *                                   the same figures bit for bit as the whole series
 *                                   (dle_energy_load_series) did, and a forced
 *                                   downsampling keeps the measured energy to 1e-12.
 *                                   Skips (77) without the data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/energy.h"
#include "dlenergy/estimate.h"
#include "dlenergy/ingest.h"

static double rel(double a, double b) {
  return fabs(a - b) / fmax(fabs(b), 1e-300);
}

/* A deterministic pseudo-random value in [0, 1). */
static double urand(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(*s >> 11) / 9007199254740992.0;
}

/* ---- downsampling rules on a hand-made trace ---- */

/* The estimators' combined power (estimate.c's rule) of a trace, as a column. */
static double *combined(const dle_trace *t, int comps) {
  double *p = malloc(t->n * sizeof *p);
  for (size_t i = 0; p && i < t->n; i++) {
    double v = (comps & DLE_EST_GPU) ? t->gpu_power_w[i] : t->cpu_power_w[i];
    if ((comps & DLE_EST_GPU) && (comps & DLE_EST_CPU) && isfinite(t->cpu_power_w[i]))
      v += t->cpu_power_w[i];
    if ((comps & DLE_EST_RAM) && isfinite(t->ram_power_w[i])) v += t->ram_power_w[i];
    p[i] = v;
  }
  return p;
}

/* A run without GPU power: the CPU is the primary column, RAM counted with it. */
static void test_reduce_cpu_only(void) {
  dle_trace t = {0};
  dle_error e = {0};
  uint64_t seed = 9;
  for (int i = 0; i < 500; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = i * 1.0;
    s.cpu_power_w = (i >= 100 && i < 104) ? NAN : 40 + 10 * urand(&seed);
    s.ram_power_w = (i >= 300 && i < 302) ? NAN : 2 + urand(&seed);
    CHECK_OK(dle_trace_append(&t, &s, &e), &e);
  }
  dle_trace r = {0};
  size_t nb = 0;
  CHECK_OK(dle_estimate_series_reduce(&t, NULL, 0, 20, &r, &nb, &e), &e);
  CHECK(nb >= 19 && nb <= 21 && r.n == 2 * nb);
  const int comps[] = {DLE_EST_CPU, DLE_EST_CPU | DLE_EST_RAM};
  for (size_t k = 0; k < 2; k++) {
    double a = NAN, b = NAN;
    CHECK_OK(dle_estimate_measured_j(&t, comps[k], &a, &e), &e);
    CHECK_OK(dle_estimate_measured_j(&r, comps[k], &b, &e), &e);
    CHECK_MSG(rel(b, a) < 1e-12, "cpu-only components %d: %.17g vs %.17g", comps[k], b, a);
  }
  for (size_t i = 0; i < r.n; i++) CHECK(isnan(r.gpu_power_w[i]));
  dle_trace_free(&r);
  dle_trace_free(&t);
}

static void test_reduce_rules(void) {
  enum { N = 1000 };
  dle_trace t = {0};
  dle_error e = {0};
  uint64_t seed = 42;
  for (int i = 0; i < N; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = i * 0.5 + (i % 7 == 3 ? 0.2 : 0);
    if (i == 500) s.t_s = 499 * 0.5; /* a repeated time: a zero-length interval */
    s.n_gpus = 1;
    s.gpu[0].device_index = 0;
    s.gpu[0].power_w = (i >= 200 && i < 210) ? NAN : 100 + 50 * urand(&seed);
    s.gpu[0].util_gpu_pct = 90 * urand(&seed);
    s.gpu[0].power_limit_w = i == 777 ? 400 : 300;
    s.cpu_power_w = 20 + 5 * urand(&seed);
    s.ram_power_w = (i >= 600 && i < 603) ? NAN : 3 + urand(&seed);
    s.rss_mib = i == 321 ? 9000 : 4000 + urand(&seed);
    s.cpu_util_pct = 50;
    CHECK_OK(dle_trace_append(&t, &s, &e), &e);
  }
  dle_trace_select_gpus(&t, NULL, 0);
  /* epochs whose times fall between samples (and one on a sample, one past the end) */
  dle_epoch ep[4] = {{.index = 0, .t_begin_s = 0, .t_end_s = 101.3},
                     {.index = 1, .t_begin_s = NAN, .t_end_s = 250.0},
                     {.index = 2, .t_begin_s = 250.7, .t_end_s = 377.77},
                     {.index = 3, .t_begin_s = 377.77, .t_end_s = 9999}};
  dle_trace r = {0};
  size_t nb = 0;
  CHECK_OK(dle_estimate_series_reduce(&t, ep, 4, 16, &r, &nb, &e), &e);
  CHECK(nb >= 16 && nb <= 16 + 8 + 2);
  CHECK(r.n == 2 * nb);
  CHECK(r.t_s[0] == t.t_s[0] && r.t_s[r.n - 1] == t.t_s[N - 1]);
  for (size_t i = 1; i < r.n; i++) CHECK(r.t_s[i] >= r.t_s[i - 1]);
  for (size_t b = 0; b + 1 < nb; b++) CHECK(r.t_s[2 * b + 1] == r.t_s[2 * b + 2]);
  /* every epoch time inside the trace is a bucket edge */
  const double edges[] = {101.3, 250.0, 250.7, 377.77};
  for (size_t k = 0; k < 4; k++) {
    int found = 0;
    for (size_t i = 0; i < r.n; i++) found |= r.t_s[i] == edges[k];
    CHECK_MSG(found, "epoch time %g is no bucket edge", edges[k]);
  }
  /* energies: whole trace and between epoch edges, as the estimators combine the
   * columns (GPU primary; a missing CPU/RAM reading counts 0 W) */
  const int comps[] = {DLE_EST_GPU, DLE_EST_GPU | DLE_EST_RAM, DLE_EST_GPU | DLE_EST_CPU,
                       DLE_EST_GPU | DLE_EST_CPU | DLE_EST_RAM};
  for (size_t k = 0; k < 4; k++) {
    double a = NAN, b = NAN;
    CHECK_OK(dle_estimate_measured_j(&t, comps[k], &a, &e), &e);
    CHECK_OK(dle_estimate_measured_j(&r, comps[k], &b, &e), &e);
    CHECK_MSG(rel(b, a) < 1e-12, "components %d: %.17g vs %.17g", comps[k], b, a);
    double *ca = combined(&t, comps[k]), *cb = combined(&r, comps[k]);
    for (size_t q = 0; ca && cb && q + 1 < 4; q++) {
      CHECK(dle_energy_between_j(t.t_s, ca, t.n, edges[q], edges[q + 1], &a) == 0);
      CHECK(dle_energy_between_j(r.t_s, cb, r.n, edges[q], edges[q + 1], &b) == 0);
      CHECK_MSG(rel(b, a) < 1e-12, "components %d [%g, %g]: %.17g vs %.17g", comps[k], edges[q],
                edges[q + 1], b, a);
    }
    free(ca), free(cb);
  }
  double d1, d2;
  CHECK(dle_energy_trapezoid_j(t.t_s, t.dram_power_w, t.n, &d1) == 0 && isnan(d1));
  CHECK(dle_energy_trapezoid_j(r.t_s, r.dram_power_w, r.n, &d2) == 0 && isnan(d2));
  /* maxima exact, utilization a mean */
  double mx = 0, lim = 0;
  for (size_t i = 0; i < r.n; i++)
    mx = fmax(mx, r.rss_mib[i]), lim = fmax(lim, r.gpu_power_limit_w[i]);
  CHECK(mx == 9000 && lim == 400);
  for (size_t i = 0; i < r.n; i++) CHECK(r.cpu_util_pct[i] == 50);
  dle_trace_free(&r);
  /* more buckets than samples: one bucket per interval, still exact */
  CHECK_OK(dle_estimate_series_reduce(&t, NULL, 0, 5000, &r, &nb, &e), &e);
  double a, b;
  CHECK(dle_energy_trapezoid_j(t.t_s, t.gpu_power_w, t.n, &a) == 0);
  CHECK(dle_energy_trapezoid_j(r.t_s, r.gpu_power_w, r.n, &b) == 0);
  CHECK(rel(b, a) < 1e-12);
  CHECK(nb <= N);
  dle_trace_free(&r);
  dle_trace_free(&t);
}

/* ---- a long run in a store: full against downsampled ---- */

enum { LONG_N = 200000, LONG_EPOCHS = 20 };
#define LONG_CHANGE_S 3500.0 /* warm-up ends mid epoch 3 (epochs of 1000 s) */

static int64_t write_long_run(dle_store *st, dle_error *e) {
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.source, sizeof info.source, "import");
  snprintf(info.gpu_source, sizeof info.gpu_source, "nvml");
  snprintf(info.cpu_source, sizeof info.cpu_source, "model");
  snprintf(info.ram_source, sizeof info.ram_source, "model");
  info.start_wall_s = 1.7e9;
  info.interval_s = 0.1;
  info.epochs_planned = LONG_EPOCHS;
  int64_t id = 0;
  if (dle_store_begin(st, e) || dle_store_create_run(st, &info, &id, e)) return -1;
  static const char *meta[][2] = {
      {"gpu_tdp_w", "350"}, {"epochs_total", "20"}, {"host_ram_gb", "64"}};
  for (size_t k = 0; k < 3; k++)
    if (dle_store_set_meta(st, id, meta[k][0], meta[k][1], e)) return -1;
  enum { B = 4096 };
  dle_sample *v = malloc(B * sizeof *v);
  if (!v) return -1;
  uint64_t seed = 7;
  for (size_t k = 0; k < LONG_N;) {
    size_t m = LONG_N - k < B ? LONG_N - k : B;
    for (size_t i = 0; i < m; i++, k++) {
      dle_sample *s = &v[i];
      dle_sample_clear(s);
      s->t_s = (double)k / 10.0;
      s->wall_s = 1.7e9 + s->t_s;
      s->rss_mib = 4096 + 100 * urand(&seed);
      s->ram_power_w = 0.375 * s->rss_mib / 1024.0;
      s->cpu_power_w = 30 + 5 * urand(&seed);
      s->cpu_util_pct = 40;
      s->n_gpus = 1;
      /* warm-up: a smooth slow swing; then training: noisy, with a 60-s validation dip
       * every 300 s */
      double w = s->t_s < LONG_CHANGE_S ? 100 + 20 * sin(s->t_s / 40)
                                        : (fmod(s->t_s, 300) < 60 ? 150 : 240) + 10 * urand(&seed);
      /* a GPU gap of 30 s (NaN readings) inside epoch 7 */
      if (k >= 72000 && k < 72300) w = NAN;
      s->gpu[0].device_index = 0;
      s->gpu[0].power_w = round(w * 100) / 100;
      s->gpu[0].util_gpu_pct = s->t_s < LONG_CHANGE_S ? 30 : 95;
      s->gpu[0].power_limit_w = 350;
    }
    if (dle_store_append_samples(st, id, v, m, e)) {
      free(v);
      return -1;
    }
  }
  free(v);
  double dur = (double)(LONG_N - 1) / 10.0;
  for (int k = 0; k < LONG_EPOCHS; k++) {
    /* epoch ends between samples (x.05 s), begins 0.5 s after the previous end */
    dle_epoch ep = {.index = k,
                    .t_begin_s = k ? 1000.0 * k + 0.55 : 0,
                    .t_end_s = k + 1 < LONG_EPOCHS ? 1000.0 * (k + 1) + 0.05 : dur};
    if (dle_store_put_epoch(st, id, &ep, e)) return -1;
  }
  info.id = id;
  info.status = DLE_RUN_COMPLETE;
  info.end_wall_s = info.start_wall_s + dur;
  if (dle_store_update_run(st, &info, e) || dle_store_commit(st, e)) return -1;
  return id;
}

static void same_projection(const dle_estimate_input *a, const dle_estimate_input *b,
                            dle_estimate_method m, double tol, const char *what) {
  dle_estimate_result ra, rb;
  dle_error e = {0};
  int rca = dle_estimate_project(a, m, &ra, &e);
  CHECK_MSG(rca == 0, "%s %s full: %s", what, dle_estimate_method_name(m), e.msg);
  int rcb = dle_estimate_project(b, m, &rb, &e);
  CHECK_MSG(rcb == 0, "%s %s downsampled: %s", what, dle_estimate_method_name(m), e.msg);
  if (rca || rcb) return;
  CHECK_MSG(rel(rb.total_j, ra.total_j) <= tol, "%s %s: %.17g vs %.17g", what,
            dle_estimate_method_name(m), rb.total_j, ra.total_j);
  CHECK(rel(rb.duration_s, ra.duration_s) <= tol);
  CHECK(ra.stable_epoch == rb.stable_epoch);
  CHECK(ra.components == rb.components);
}

static void test_long_run(void) {
  char path[] = "/tmp/dle_series_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  unlink(path);
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(path, &st, &e), &e);
  if (!st) return;
  int64_t id = write_long_run(st, &e);
  CHECK_MSG(id > 0, "writing the run: %s", e.msg);
  dle_estimate_run full, down;
  CHECK_OK(dle_estimate_run_load_opts(st, id, LONG_N, 0, &full, &e), &e);
  const size_t buckets = 4096;
  CHECK_OK(dle_estimate_run_load_opts(st, id, 0, buckets, &down, &e), &e);
  CHECK(full.trace_buckets == 0 && full.trace.n == LONG_N);
  CHECK(down.trace_buckets >= buckets && down.trace_buckets <= buckets + 2 * LONG_EPOCHS + 1);
  CHECK(down.trace.n == 2 * down.trace_buckets);
  CHECK(full.n_epochs == LONG_EPOCHS && down.n_epochs == LONG_EPOCHS);
  /* the default: a run over DLE_SERIES_FULL_MAX samples is downsampled */
  dle_estimate_run dflt;
  CHECK_OK(dle_estimate_run_load(st, id, &dflt, &e), &e);
  CHECK(dflt.trace_buckets >= DLE_SERIES_BUCKETS / 2 && dflt.trace.n == 2 * dflt.trace_buckets);
  dle_estimate_run_free(&dflt);

  /* measured energies from every sample, both ways */
  const int comps[] = {DLE_EST_GPU, DLE_EST_GPU | DLE_EST_RAM, DLE_EST_GPU | DLE_EST_CPU};
  for (size_t k = 0; k < 3; k++) {
    double a = NAN, b = NAN;
    CHECK_OK(dle_estimate_measured_j(&full.trace, comps[k], &a, &e), &e);
    CHECK_OK(dle_estimate_measured_j(&down.trace, comps[k], &b, &e), &e);
    CHECK_MSG(rel(b, a) < 1e-12, "measured (components %d): %.17g vs %.17g", comps[k], b, a);
  }
  /* and the whole-run figures of the energy stream agree with both */
  dle_run_energy re;
  CHECK_OK(dle_energy_summarize_run(st, id, &full.info, NULL, 0, NULL, &re, &e), &e);
  double g = NAN;
  CHECK_OK(dle_estimate_measured_j(&down.trace, DLE_EST_GPU, &g, &e), &e);
  CHECK(rel(g, re.sum.energy_j[DLE_COMP_GPU]) < 1e-12);

  /* projections that read energies between epoch edges: equal up to rounding, at the
   * end of the run and at cut-offs after k epochs */
  dle_estimate_input a, b;
  dle_estimate_input_from_run(&a, &full);
  dle_estimate_input_from_run(&b, &down);
  CHECK(a.trace_buckets == 0 && b.trace_buckets == down.trace_buckets);
  const dle_estimate_method exact[] = {DLE_EST_MLCO2, DLE_EST_CARBONTRACKER, DLE_EST_STEP_POWER,
                                       DLE_EST_STEP_ENERGY};
  const int cut[] = {0, 16, 18};
  for (size_t c = 0; c < 3; c++)
    for (size_t m = 0; m < 4; m++) {
      a.at_epoch = b.at_epoch = cut[c];
      char what[32];
      snprintf(what, sizeof what, "at epoch %d", cut[c]);
      same_projection(&a, &b, exact[m], 1e-12, what);
    }
  a.at_epoch = b.at_epoch = 0;

  /* the stabilizing point: within 2 x m buckets of the full series' answer */
  dle_stabilize_opts so;
  dle_stabilize_opts_init(&so);
  dle_stabilize_result sa, sb;
  CHECK_OK(dle_estimate_stabilize(&full.trace, 0, NAN, full.epochs, full.n_epochs, &so, &sa, &e),
           &e);
  CHECK_OK(dle_estimate_stabilize(&down.trace, down.trace_buckets, NAN, down.epochs, down.n_epochs,
                                  &so, &sb, &e),
           &e);
  double width = (full.trace.t_s[LONG_N - 1] - full.trace.t_s[0]) / (double)down.trace_buckets;
  double tol = 2.0 * (double)so.m * width;
  printf(
      "stabilizing point: full %.1f s (%zu points), downsampled %.1f s (%zu points); "
      "bucket %.2f s, tolerance %.1f s\n",
      sa.t_s, sa.n_points, sb.t_s, sb.n_points, width, tol);
  CHECK_MSG(fabs(sa.t_s - LONG_CHANGE_S) <= tol, "full series: %.1f s", sa.t_s);
  CHECK_MSG(fabs(sb.t_s - sa.t_s) <= tol, "downsampled %.1f s vs full %.1f s", sb.t_s, sa.t_s);
  CHECK(sa.epoch == sb.epoch);
  /* step-auto: the same epoch s, so the same energies */
  same_projection(&a, &b, DLE_EST_STEP_AUTO, 1e-12, "step-auto");

  dle_estimate_run_free(&full);
  dle_estimate_run_free(&down);
  dle_store_close(st);
  unlink(path);
}

/* ---- the study's runs through the store ---- */

static int same_result(const dle_estimate_result *x, const dle_estimate_result *y) {
  return memcmp(&x->total_j, &y->total_j, sizeof x->total_j) == 0 &&
         memcmp(&x->lower_j, &y->lower_j, sizeof x->lower_j) == 0 &&
         memcmp(&x->upper_j, &y->upper_j, sizeof x->upper_j) == 0 &&
         memcmp(&x->duration_s, &y->duration_s, sizeof x->duration_s) == 0 &&
         memcmp(&x->mean_power_w, &y->mean_power_w, sizeof x->mean_power_w) == 0 &&
         x->stable_epoch == y->stable_epoch && x->components == y->components &&
         strcmp(x->assumptions, y->assumptions) == 0;
}

static int test_seaa(void) {
  const char *shared = check_shared_dir();
  if (!shared) SKIP("DLE_SHARED_DIR not set");
  char dir[1024], path[2048];
  snprintf(dir, sizeof dir, "%s/data/seaa2023", shared);
  snprintf(path, sizeof path, "%s/runs.csv", dir);
  FILE *probe = fopen(path, "r");
  if (!probe) SKIP("%s absent", path);
  fclose(probe);
  dle_error e = {0};
  dle_csv_table *tab = NULL;
  CHECK_OK(dle_csv_table_read(path, &tab, &e), &e);
  if (!tab) return check_finish();
  long c_gpu = dle_csv_table_col(tab, "gpu_trace"), c_cpu = dle_csv_table_col(tab, "cpu_trace");
  CHECK(c_gpu >= 0 && c_cpu >= 0);
  char db[] = "/tmp/dle_series_seaa_XXXXXX";
  int fd = mkstemp(db);
  CHECK(fd >= 0);
  close(fd);
  unlink(db);
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(db, &st, &e), &e);
  if (!st) return check_finish();
  size_t rows = dle_csv_table_rows(tab), runs = 0, same = 0, compared = 0, max_n = 0;
  enum { B = 4096 };
  dle_sample *buf = malloc(B * sizeof *buf);
  for (size_t k = 0; buf && k < B; k++) dle_sample_clear(&buf[k]);
  for (size_t r = 0; r < rows && buf; r++) {
    const char *g = dle_csv_table_cell(tab, r, (size_t)c_gpu);
    const char *c = dle_csv_table_cell(tab, r, (size_t)c_cpu);
    if (!g || !*g) continue;
    char gp[2048], cp[2048];
    snprintf(gp, sizeof gp, "%s/%s", dir, g);
    snprintf(cp, sizeof cp, "%s/%s", dir, c && *c ? c : "");
    dle_ingest_options o;
    dle_ingest_options_init(&o);
    o.skip_first = 3;
    o.skip_last = 3;
    dle_import imp;
    if (dle_import_nvidia_smi(gp, c && *c ? cp : NULL, &o, &imp, &e) != 0) {
      CHECK_MSG(0, "%s: %s", gp, e.msg);
      continue;
    }
    dle_run_info info;
    dle_run_info_init(&info);
    snprintf(info.source, sizeof info.source, "import");
    snprintf(info.gpu_source, sizeof info.gpu_source, "nvidia-smi");
    snprintf(info.ram_source, sizeof info.ram_source, "model");
    info.status = DLE_RUN_COMPLETE;
    int64_t id = 0;
    int rc = dle_store_begin(st, &e);
    if (!rc) rc = dle_store_create_run(st, &info, &id, &e);
    char tdp[32];
    snprintf(tdp, sizeof tdp, "%.17g", imp.gpu_max_power_limit_w);
    if (!rc) rc = dle_store_set_meta(st, id, "gpu_tdp_w", tdp, &e);
    size_t n = imp.n;
    for (size_t k = 0; !rc && k < n; k += B) {
      size_t m = n - k < B ? n - k : B;
      rc = dle_import_samples(&imp, k, m, buf);
      if (rc) snprintf(e.msg, sizeof e.msg, "reading samples");
      if (!rc) rc = dle_store_append_samples(st, id, buf, m, &e);
    }
    if (!rc) rc = dle_store_commit(st, &e);
    dle_import_free(&imp);
    CHECK_MSG(rc == 0, "storing %s: %s", g, e.msg);
    if (rc) continue;
    runs++;
    if (n > max_n) max_n = n;
    /* the readers' series (bounded) against the whole series (as before issue 12) */
    dle_estimate_run now, before;
    CHECK_OK(dle_estimate_run_load(st, id, &now, &e), &e);
    memset(&before, 0, sizeof before);
    CHECK_OK(dle_store_get_run(st, id, &before.info, &e), &e);
    CHECK_OK(dle_energy_load_series(st, id, &before.trace, &e), &e);
    CHECK_OK(dle_store_get_meta(st, id, &before.meta, &before.n_meta, &e), &e);
    CHECK(now.trace_buckets == 0 && now.trace.n == before.trace.n);
    int all = 1;
    for (int variant = 0; variant < 3; variant++) {
      dle_estimate_input a, b;
      dle_estimate_input_from_run(&a, &before);
      dle_estimate_input_from_run(&b, &now);
      if (variant == 1) a.window_s = b.window_s = 300; /* start detected (auto) */
      if (variant == 2) a.at_fraction = b.at_fraction = 0.25;
      for (int m = 0; m < DLE_EST_COUNT; m++) {
        dle_estimate_result ra, rb;
        dle_error ea = {0}, eb = {0};
        int rca = dle_estimate_project(&a, (dle_estimate_method)m, &ra, &ea);
        int rcb = dle_estimate_project(&b, (dle_estimate_method)m, &rb, &eb);
        compared++;
        if (rca != rcb || (rca == 0 && !same_result(&ra, &rb)) ||
            (rca != 0 && strcmp(ea.msg, eb.msg) != 0))
          all = 0;
      }
    }
    double ma = NAN, mb = NAN;
    dle_estimate_measured_j(&before.trace, DLE_EST_GPU | DLE_EST_RAM, &ma, &e);
    dle_estimate_measured_j(&now.trace, DLE_EST_GPU | DLE_EST_RAM, &mb, &e);
    if (memcmp(&ma, &mb, sizeof ma) != 0) all = 0;
    CHECK_MSG(all, "%s: a figure differs from the whole series", g);
    same += (size_t)all;
    /* forced downsampling of a short run: the measured energy still from every sample */
    dle_estimate_run forced;
    CHECK_OK(dle_estimate_run_load_opts(st, id, 1, 256, &forced, &e), &e);
    CHECK(forced.trace_buckets > 0 && forced.trace_buckets <= 257);
    double mf = NAN;
    CHECK_OK(dle_estimate_measured_j(&forced.trace, DLE_EST_GPU, &mf, &e), &e);
    dle_estimate_measured_j(&before.trace, DLE_EST_GPU, &ma, &e);
    CHECK_MSG(rel(mf, ma) < 1e-12, "%s: downsampled %.17g vs %.17g", g, mf, ma);
    dle_estimate_run_free(&forced);
    dle_estimate_run_free(&now);
    dle_estimate_run_free(&before);
  }
  free(buf);
  printf("%zu runs (longest %zu samples), %zu projections compared, %zu runs identical\n", runs,
         max_n, compared, same);
  CHECK_MSG(runs == 309, "%zu runs stored (want 309)", runs);
  CHECK(same == runs);
  CHECK(max_n <= DLE_SERIES_FULL_MAX);
  dle_store_close(st);
  unlink(db);
  dle_csv_table_free(tab);
  return check_finish();
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "seaa") == 0) return test_seaa();
  test_reduce_rules();
  test_reduce_cpu_only();
  test_long_run();
  return check_finish();
}
