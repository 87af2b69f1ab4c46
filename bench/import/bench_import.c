/* bench_import — the dlenergy side of the import benchmark (bench/import/run.sh):
 * parse every trace pair listed in DIR/runs.csv (gzip nvidia-smi + psutil logs),
 * join CPU onto GPU samples within 1 s, drop 3 samples at each end, integrate GPU
 * power (trapezoid). Prints one CSV line per run on stdout and the elapsed time of
 * the whole pipeline (monotonic clock) on stderr as "elapsed_s <seconds>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlenergy/energy.h"
#include "dlenergy/ingest.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: bench_import SEAA2023_DIR\n");
    return 2;
  }
  const char *dir = argv[1];
  double t0 = now_s();
  char path[4096];
  snprintf(path, sizeof path, "%s/runs.csv", dir);
  dle_error e;
  dle_csv_table *tab = NULL;
  if (dle_csv_table_read(path, &tab, &e)) {
    fprintf(stderr, "%s\n", e.msg);
    return 1;
  }
  long cg = dle_csv_table_col(tab, "gpu_trace"), cc = dle_csv_table_col(tab, "cpu_trace");
  long ce = dle_csv_table_col(tab, "environment_id"), ca = dle_csv_table_col(tab, "architecture");
  long cr = dle_csv_table_col(tab, "run");
  if (cg < 0 || cc < 0 || ce < 0 || ca < 0 || cr < 0) {
    fprintf(stderr, "runs.csv lacks a column\n");
    return 1;
  }
  dle_ingest_options o;
  dle_ingest_options_init(&o);
  o.skip_first = 3;
  o.skip_last = 3;
  size_t rows = 0, samples = 0;
  printf("environment_id,architecture,run,samples,gpu_energy_j,duration_s,avg_gpu_power_w,ram_energy_j\n");
  for (size_t r = 0; r < dle_csv_table_rows(tab); r++) {
    const char *g = dle_csv_table_cell(tab, r, (size_t)cg);
    if (!*g) continue;
    char gp[4096], cp[4096];
    snprintf(gp, sizeof gp, "%s/%s", dir, g);
    snprintf(cp, sizeof cp, "%s/%s", dir, dle_csv_table_cell(tab, r, (size_t)cc));
    dle_import imp;
    if (dle_import_nvidia_smi(gp, cp, &o, &imp, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      return 1;
    }
    dle_trace t = {0};
    dle_energy_summary s;
    if (dle_import_to_trace(&imp, &t, &e) || dle_energy_summarize(&t, NULL, &s, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      return 1;
    }
    printf("%s,%s,%s,%zu,%.17g,%.17g,%.17g,%.17g\n", dle_csv_table_cell(tab, r, (size_t)ce),
           dle_csv_table_cell(tab, r, (size_t)ca), dle_csv_table_cell(tab, r, (size_t)cr), t.n,
           s.energy_j[DLE_COMP_GPU], s.duration_s, s.avg_power_w[DLE_COMP_GPU],
           s.energy_j[DLE_COMP_RAM]);
    rows++;
    samples += t.n;
    dle_trace_free(&t);
    dle_import_free(&imp);
  }
  dle_csv_table_free(tab);
  fprintf(stderr, "runs %zu samples %zu\nelapsed_s %.6f\n", rows, samples, now_s() - t0);
  return 0;
}
