/* bench_flops.c — analyzes one ONNX model REPS times with the library and prints
 * one JSON line: median wall seconds per analysis, MACs, params and the
 * process's peak RSS (getrusage). Used by compare.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "dlenergy/onnx.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Peak resident set of this process image (VmHWM). Unlike ru_maxrss it does not
 * carry over the memory of the parent that forked us before exec. */
static long vm_hwm_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) v = strtol(line + 6, NULL, 10);
  fclose(f);
  return v;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_flops MODEL.onnx [REPS]\n");
    return 2;
  }
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  if (reps < 1 || reps > 1000) reps = 5;
  double *t = calloc((size_t)reps, sizeof *t);
  if (!t) return 1;
  unsigned long long macs = 0, params = 0;
  for (int i = 0; i < reps; i++) {
    dle_onnx_report *r = NULL;
    dle_error e;
    double t0 = now_s();
    if (dle_onnx_analyze(argv[1], NULL, 0, &r, &e) != 0) {
      fprintf(stderr, "%s\n", e.msg);
      return 1;
    }
    t[i] = now_s() - t0;
    macs = dle_onnx_report_macs(r);
    params = dle_onnx_report_params(r);
    dle_onnx_report_free(r);
  }
  qsort(t, (size_t)reps, sizeof *t, cmp_d);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"median_s\": %.7f, \"min_s\": %.7f, \"macs\": %llu, \"params\": %llu, "
         "\"peak_rss_kib\": %ld, \"ru_maxrss_kib\": %ld}\n",
         t[reps / 2], t[0], macs, params, vm_hwm_kib(), ru.ru_maxrss);
  free(t);
  return 0;
}
