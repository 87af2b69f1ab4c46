/* bench_search_lib — the randomized search of `dlenergy fit` timed inside the library,
 * without the process around it: the library-level counterpart of timing scikit-learn's
 * RandomizedSearchCV.fit inside an already-started Python (fit_vs_sklearn.py prints both
 * comparisons: the whole `dlenergy fit` process, and this).
 *
 * The rows, folds and draws are those of `dlenergy fit --table TABLE --target TARGET
 * --model KIND --draws N --no-merge` (seed 42, 5 shuffled folds); the timed call is
 * dle_regress_search_folds (every draw on every fold, then the refit of the best), run
 * REPS times after one untimed call (which loads the numerical libraries with dlopen, as
 * the first search of a process does). Prints one JSON object: the chosen
 * hyperparameters and CV R^2 (fit_vs_sklearn.py checks they equal the CLI's), and each
 * timed call's wall and CPU seconds.
 * Usage: bench_search_lib TABLE KIND [draws] [power|epoch-energy] [reps] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlenergy/gpus.h"
#include "dlenergy/regress.h"

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void print_num(const char *key, double v, const char *sep) {
  if (isfinite(v))
    printf("\"%s\": %.17g%s", key, v, sep);
  else
    printf("\"%s\": null%s", key, sep);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s TABLE KIND [draws] [power|epoch-energy] [reps]\n", argv[0]);
    return 2;
  }
  dle_error err = {0};
  dle_regress_kind kind;
  if (dle_regress_kind_parse(argv[2], &kind, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 2;
  }
  size_t draws = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 100;
  dle_pre_target target = argc > 4 && strcmp(argv[4], "epoch-energy") == 0
                              ? DLE_PRE_TARGET_EPOCH_ENERGY
                              : DLE_PRE_TARGET_POWER;
  int reps = argc > 5 ? atoi(argv[5]) : 3;
  if (draws < 1 || draws > 100000 || reps < 1 || reps > 1000) {
    fprintf(stderr, "draws must be 1..100000 and reps 1..1000\n");
    return 2;
  }
  dle_gpu_catalog *cat = NULL;
  dle_pre_table *t = NULL;
  dle_dataset *d = NULL;
  if (dle_gpu_catalog_load(NULL, &cat, &err) || dle_pre_table_read(argv[1], &t, &err) ||
      dle_pre_phys_dataset(t, target, cat, NULL, 0, &d, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    dle_pre_table_free(t);
    dle_gpu_catalog_free(cat);
    return 1;
  }
  dle_dataset_set_merge_rows(d, false); /* --no-merge */
  dle_regress_search_opts so;
  dle_regress_search_opts_init(&so);
  so.draws = draws;
  double *wall = calloc((size_t)reps, sizeof *wall), *cpu = calloc((size_t)reps, sizeof *cpu);
  dle_regress_search_result res = {0};
  int rc = wall && cpu ? 0 : 1;
  for (int r = -1; !rc && r < reps; r++) {
    dle_regress_model *m = NULL;
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    rc = dle_regress_search_folds(d, kind, &so, NULL, 0, NULL, 0, NULL, &m, &res, &err);
    double w1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    dle_regress_model_free(m);
    if (r >= 0) {
      wall[r] = w1 - w0;
      cpu[r] = c1 - c0;
    }
  }
  if (rc) {
    fprintf(stderr, "search: %s\n", err.msg);
  } else {
    printf("{\"kind\": \"%s\", \"draws\": %zu, \"rows\": %zu, \"hyper\": {", argv[2], draws,
           dle_dataset_rows(d));
    print_num("alpha", res.best.alpha, ", ");
    print_num("gamma", res.best.gamma, ", ");
    print_num("c", res.best.c, ", ");
    print_num("epsilon", res.best.epsilon, "}, ");
    print_num("cv_r2", res.cv.r2, ", ");
    printf("\"wall_s\": [");
    for (int r = 0; r < reps; r++) printf("%s%.9f", r ? ", " : "", wall[r]);
    printf("], \"cpu_s\": [");
    for (int r = 0; r < reps; r++) printf("%s%.9f", r ? ", " : "", cpu[r]);
    printf("]}\n");
  }
  free(wall);
  free(cpu);
  dle_dataset_free(d);
  dle_pre_table_free(t);
  dle_gpu_catalog_free(cat);
  return rc ? 1 : 0;
}
