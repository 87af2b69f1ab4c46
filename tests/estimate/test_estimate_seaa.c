/* Acceptance on the study's real traces (issue 3): on every traced run of
 * shared/data/seaa2023, estimate the GPU energy with mlco2 (TDP = nvidia-smi
 * power.max_limit), ga (TDP x utilization.gpu, no RAM term) and step-power (time-window
 * variant: stabilizing point detected on the trace, 300 s window after it) and compare
 * with the measured GPU energy (trapezoid of the full-precision power, trimmed 3+3
 * samples as the authors did). Expected shape: the TDP-based estimators are off by a
 * large factor, step-power's RMSE is at least 10x lower than both.
 * Issue 14: step-remain with its defaults (projected from 25 % of each run) must be >= 20x
 * below both in RMSE, and its nominal 90 % bounds must hold >= 90 % of the measured totals.
 * Skips (77) when the data is absent. Prints the table that docs/estimate.md quotes. */
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "dlenergy/estimate.h"
#include "dlenergy/ingest.h"

enum { M_MLCO2, M_GA, M_STEP, M_REMAIN, M_N };

int main(void) {
  const char *shared = check_shared_dir();
  if (!shared) SKIP("DLE_SHARED_DIR not set");
  char dir[1024], path[2048];
  snprintf(dir, sizeof dir, "%s/data/seaa2023", shared);
  snprintf(path, sizeof path, "%s/runs.csv", dir);
  FILE *probe = fopen(path, "r");
  if (!probe) SKIP("%s absent", path);
  fclose(probe);

  dle_error e;
  dle_csv_table *tab = NULL;
  CHECK_OK(dle_csv_table_read(path, &tab, &e), &e);
  if (!tab) return check_finish();
  long c_gpu = dle_csv_table_col(tab, "gpu_trace");
  long c_env = dle_csv_table_col(tab, "environment_id");
  long c_arch = dle_csv_table_col(tab, "architecture");
  long c_run = dle_csv_table_col(tab, "run");
  CHECK(c_gpu >= 0 && c_env >= 0 && c_arch >= 0 && c_run >= 0);
  size_t rows = dle_csv_table_rows(tab);
  double *meas = calloc(rows, sizeof *meas);
  double *pred[M_N];
  for (int m = 0; m < M_N; m++) pred[m] = calloc(rows, sizeof(double));
  size_t n = 0, failures = 0;
  dle_estimate_method methods[M_N] = {DLE_EST_MLCO2, DLE_EST_GA, DLE_EST_STEP_POWER,
                                      DLE_EST_STEP_REMAIN};
  size_t covered = 0, seen_le_quarter = 0;
  const char *verbose = getenv("DLE_SEAA_VERBOSE");
  struct timespec t_a, t_b;
  clock_gettime(CLOCK_MONOTONIC, &t_a);
  for (size_t r = 0; r < rows; r++) {
    const char *g = dle_csv_table_cell(tab, r, (size_t)c_gpu);
    if (!g || !*g) continue;
    snprintf(path, sizeof path, "%s/%s", dir, g);
    dle_ingest_options o;
    dle_ingest_options_init(&o);
    o.skip_first = 3;
    o.skip_last = 3;
    dle_import imp;
    int rc = dle_import_nvidia_smi(path, NULL, &o, &imp, &e);
    CHECK_MSG(rc == 0, "%s: %s", path, e.msg);
    if (rc) {
      failures++;
      continue;
    }
    dle_trace tr = {0};
    CHECK_OK(dle_import_to_trace(&imp, &tr, &e), &e);
    double mj = NAN;
    CHECK_OK(dle_estimate_measured_j(&tr, DLE_EST_GPU, &mj, &e), &e);
    dle_estimate_input in;
    dle_estimate_input_init(&in);
    in.trace = &tr;
    in.run_complete = true;
    in.gpu_only = true;
    in.gpu_tdp_w = imp.gpu_max_power_limit_w;
    in.window_s = 300;
    int ok = 1;
    double p[M_N];
    for (int m = 0; m < M_N; m++) {
      dle_estimate_result res;
      rc = dle_estimate_project(&in, methods[m], &res, &e);
      CHECK_MSG(rc == 0, "%s: %s", g, e.msg);
      if (rc) ok = 0;
      p[m] = res.total_j;
      CHECK(res.components == DLE_EST_GPU);
      if (m == M_REMAIN && rc == 0) {
        if (res.lower_j <= mj && mj <= res.upper_j) covered++;
        if (res.fraction_seen <= 0.25 + 1e-12) seen_le_quarter++;
      }
    }
    if (ok && isfinite(mj)) {
      meas[n] = mj;
      for (int m = 0; m < M_N; m++) pred[m][n] = p[m];
      n++;
      if (verbose)
        printf("%s/%s/%s meas %.0f mlco2 %.0f ga %.0f step %.0f\n",
               dle_csv_table_cell(tab, r, (size_t)c_env), dle_csv_table_cell(tab, r, (size_t)c_arch),
               dle_csv_table_cell(tab, r, (size_t)c_run), mj, p[0], p[1], p[2]);
    } else {
      failures++;
    }
    dle_trace_free(&tr);
    dle_import_free(&imp);
  }
  clock_gettime(CLOCK_MONOTONIC, &t_b);
  CHECK_MSG(n == 309, "%zu runs estimated (want 309), %zu failed", n, failures);
  dle_estimate_errors err[M_N];
  printf("%zu runs, %.1f s\n", n, (double)(t_b.tv_sec - t_a.tv_sec) + (t_b.tv_nsec - t_a.tv_nsec) * 1e-9);
  printf("| method | n | RMSE (MJ) | MAE (MJ) | MAPE | R² | mean predicted/measured |\n");
  printf("|---|---|---|---|---|---|---|\n");
  for (int m = 0; m < M_N; m++) {
    CHECK_OK(dle_estimate_errors_compute(pred[m], meas, n, &err[m], &e), &e);
    double ratio = 0;
    for (size_t i = 0; i < n; i++) ratio += pred[m][i] / meas[i];
    ratio /= n ? (double)n : 1;
    printf("| %s | %zu | %.4f | %.4f | %.4f | %.4f | %.3f |\n",
           dle_estimate_method_name(methods[m]), err[m].n, err[m].rmse_j / 1e6, err[m].mae_j / 1e6,
           err[m].mape, err[m].r2, ratio);
    if (m == M_MLCO2) CHECK_MSG(ratio > 1.3, "mlco2 should overshoot by a large factor: %g", ratio);
  }
  /* The TDP-based estimators are far off; step-power is >= 10x better in RMSE. */
  CHECK_MSG(err[M_MLCO2].mape > 0.3, "mlco2 MAPE %g", err[M_MLCO2].mape);
  /* ga scales TDP by utilization: it errs either way, still far more than step-power */
  CHECK_MSG(err[M_GA].mape > 5 * err[M_STEP].mape, "ga MAPE %g vs step-power %g", err[M_GA].mape,
            err[M_STEP].mape);
  CHECK_MSG(err[M_STEP].rmse_j * 10 <= err[M_MLCO2].rmse_j, "step %g vs mlco2 %g",
            err[M_STEP].rmse_j, err[M_MLCO2].rmse_j);
  CHECK_MSG(err[M_STEP].rmse_j * 10 <= err[M_GA].rmse_j, "step %g vs ga %g", err[M_STEP].rmse_j,
            err[M_GA].rmse_j);
  CHECK_MSG(err[M_STEP].mape < 0.05, "step-power MAPE %g", err[M_STEP].mape);
  /* issue 14: early projection from a quarter of each run, calibrated bounds */
  CHECK_MSG(err[M_REMAIN].rmse_j * 20 <= err[M_GA].rmse_j &&
                err[M_REMAIN].rmse_j * 20 <= err[M_MLCO2].rmse_j,
            "step-remain %g vs ga %g, mlco2 %g", err[M_REMAIN].rmse_j, err[M_GA].rmse_j,
            err[M_MLCO2].rmse_j);
  CHECK_MSG(seen_le_quarter == n, "%zu of %zu projections saw more than 25 %%",
            n - seen_le_quarter, n);
  CHECK_MSG(covered >= (size_t)ceil(0.9 * (double)n), "90 %% bounds hold %zu of %zu runs",
            covered, n);
  printf("step-remain: %zu of %zu measured totals inside the 90 %% bounds\n", covered, n);
  free(meas);
  for (int m = 0; m < M_N; m++) free(pred[m]);
  dle_csv_table_free(tab);
  return check_finish();
}
