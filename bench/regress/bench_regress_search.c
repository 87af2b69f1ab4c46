/* bench_regress_search — times dle_regress_search (kernel ridge, N draws x K folds,
 * refit of the best) on a runs.csv and prints one JSON object with the draws, the
 * folds, the best scores and the best-of-R wall time, for compare.py to replay the
 * same search in scikit-learn. Usage: bench_regress_search RUNS.csv [draws] [repeats] [seed] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
    fprintf(stderr, "usage: %s RUNS.csv [draws] [repeats] [seed]\n", argv[0]);
    return 2;
  }
  size_t draws = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 100;
  int repeats = argc > 3 ? atoi(argv[3]) : 5;
  unsigned long long seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 42;
  if (draws < 1 || draws > 100000 || repeats < 1) return 2;
  dle_error err = {0};
  dle_gpu_catalog *cat = NULL;
  dle_dataset *d = NULL;
  if (dle_gpu_catalog_load(NULL, &cat, &err) ||
      dle_pre_dataset_from_csv(argv[1], DLE_PRE_TARGET_POWER, NULL, cat, &d, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  dle_regress_search_opts o;
  dle_regress_search_opts_init(&o);
  o.draws = draws;
  o.seed = seed;
  size_t n = dle_dataset_rows(d);
  dle_regress_hyper *h = malloc(draws * sizeof *h);
  int *fold = malloc(n * sizeof *fold);
  if (!h || !fold || dle_regress_draws(DLE_REG_KRR, seed, draws, h, &err) ||
      dle_regress_folds(n, o.folds, o.shuffle, seed, fold, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  double best_t = INFINITY;
  dle_regress_search_result r = {0};
  for (int i = 0; i < repeats; i++) {
    dle_regress_model *m = NULL;
    double t0 = now_s();
    int rc = dle_regress_search(d, DLE_REG_KRR, &o, h, draws, &m, &r, &err);
    double t = now_s() - t0;
    dle_regress_model_free(m);
    if (rc) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    if (t < best_t) best_t = t;
  }
  printf("{\"rows\": %zu, \"folds\": %d, \"draws\": %zu, \"repeats\": %d, \"seconds\": %.6f,\n", n,
         o.folds, draws, repeats, best_t);
  printf(" \"best\": {\"alpha\": %.17g, \"gamma\": %.17g, \"r2\": %.17g, \"rmse\": %.17g},\n",
         r.best.alpha, r.best.gamma, r.cv.r2, r.cv.rmse);
  printf(" \"alpha\": [");
  for (size_t i = 0; i < draws; i++) printf("%s%.17g", i ? ", " : "", h[i].alpha);
  printf("],\n \"gamma\": [");
  for (size_t i = 0; i < draws; i++) printf("%s%.17g", i ? ", " : "", h[i].gamma);
  printf("],\n \"fold\": [");
  for (size_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", fold[i]);
  printf("]}\n");
  free(h);
  free(fold);
  dle_dataset_free(d);
  dle_gpu_catalog_free(cat);
  return 0;
}
