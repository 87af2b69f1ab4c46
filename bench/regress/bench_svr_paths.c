/* bench_svr_paths — the SVR search's draws scored by both CV paths on the same rows and
 * folds: the fast path (src/regress/svr_smo.c) and --exact (libsvm's own RBF kernel);
 * prints one JSON object with every draw's CV R^2 by each, and each path's wall time.
 * The rows, folds and draws are those of `dlenergy fit --table TABLE --target TARGET
 * --model svr --draws N --no-merge` (seed 42). fit_vs_sklearn.py reads it (Check 1).
 * Usage: bench_svr_paths TABLE [draws] [power|epoch-energy] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlenergy/gpus.h"
#include "dlenergy/regress.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s TABLE [draws] [power|epoch-energy]\n", argv[0]);
    return 2;
  }
  size_t draws = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 100;
  dle_pre_target target = argc > 3 && strcmp(argv[3], "epoch-energy") == 0
                              ? DLE_PRE_TARGET_EPOCH_ENERGY
                              : DLE_PRE_TARGET_POWER;
  if (draws < 1 || draws > 100000) return 2;
  dle_error err = {0};
  dle_gpu_catalog *cat = NULL;
  dle_pre_table *t = NULL;
  dle_dataset *d = NULL;
  if (dle_gpu_catalog_load(NULL, &cat, &err) || dle_pre_table_read(argv[1], &t, &err) ||
      dle_pre_phys_dataset(t, target, cat, NULL, 0, &d, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  dle_dataset_set_merge_rows(d, false);
  size_t n = dle_dataset_rows(d), failed[2] = {0, 0};
  int *fold = malloc(n * sizeof *fold);
  dle_regress_hyper *h = malloc(draws * sizeof *h);
  dle_cv_scores *s[2] = {malloc(draws * sizeof **s), malloc(draws * sizeof **s)};
  double wall[2];
  if (!fold || !h || !s[0] || !s[1] || dle_regress_folds(n, 5, true, 42, fold, &err) ||
      dle_regress_draws(DLE_REG_SVR, 42, draws, h, &err)) {
    fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "out of memory");
    return 1;
  }
  for (int p = 0; p < 2; p++) {
    dle_dataset_set_exact_solve(d, p == 1);
    double t0 = now_s();
    if (dle_regress_cv_many(d, DLE_REG_SVR, h, draws, fold, 5, s[p], &failed[p], &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    wall[p] = now_s() - t0;
  }
  printf("{\"rows\": %zu, \"draws\": %zu, \"fast_s\": %.3f, \"exact_s\": %.3f, "
         "\"failed\": [%zu, %zu], \"r2\": [",
         n, draws, wall[0], wall[1], failed[0], failed[1]);
  for (size_t i = 0; i < draws; i++)
    printf("%s[%.17g, %.17g, %.17g, %.17g, %.17g]", i ? ", " : "", h[i].c, h[i].epsilon,
           h[i].gamma, s[0][i].r2, s[1][i].r2);
  printf("]}\n");
  free(fold);
  free(h);
  free(s[0]);
  free(s[1]);
  dle_dataset_free(d);
  dle_pre_table_free(t);
  dle_gpu_catalog_free(cat);
  return 0;
}
