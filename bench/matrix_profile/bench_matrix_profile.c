/* bench_matrix_profile — times dle_matrix_profile on a random walk (the shape of a power
 * trace) and prints wall time and distance updates per second per core.
 * Usage: bench_matrix_profile [N] [M] [THREADS] [REPS] [SERIES_OUT] [PROFILE_OUT]
 * SERIES_OUT / PROFILE_OUT (raw little-endian doubles) let compare.py check NumPy's
 * answer against ours on the same series. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dlenergy/stabilize.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_doubles(const char *path, const double *x, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(x, sizeof *x, n, f);
  return fclose(f) == 0 && w == n ? 0 : -1;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 36000;
  size_t m = argc > 2 ? strtoul(argv[2], NULL, 10) : 10;
  int threads = argc > 3 ? atoi(argv[3]) : 2;
  int reps = argc > 4 ? atoi(argv[4]) : 3;
  if (n < 2 * m || m < 2 || threads < 1 || reps < 1) {
    fprintf(stderr, "usage: %s [N] [M] [THREADS] [REPS] [SERIES_OUT] [PROFILE_OUT]\n", argv[0]);
    return 2;
  }
  size_t l = n - m + 1;
  double *x = malloc(n * sizeof *x), *mp = malloc(l * sizeof *mp);
  int64_t *mpi = malloc(l * sizeof *mpi);
  if (!x || !mp || !mpi) return 1;
  uint64_t s = 0x9E3779B97F4A7C15ull;
  double v = 200; /* watts, random walk with 0.5 W steps */
  for (size_t i = 0; i < n; i++) {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    v += ((double)((s * 2685821657736338717ull) >> 11) / 9007199254740992.0 - 0.5);
    x[i] = v;
  }
  double best = 1e300;
  for (int r = 0; r < reps; r++) {
    dle_error e;
    double t0 = now_s();
    if (dle_matrix_profile(x, n, m, 0, threads, mp, mpi, &e)) {
      fprintf(stderr, "%s\n", e.msg);
      return 1;
    }
    double dt = now_s() - t0;
    if (dt < best) best = dt;
  }
  uint64_t pairs = dle_matrix_profile_pairs(n, m, 0);
  printf("n %zu m %zu threads %d best_of %d wall_s %.4f pairs %llu updates_per_s_per_core %.4g\n",
         n, m, threads, reps, best, (unsigned long long)pairs, (double)pairs / best / threads);
  if (argc > 5 && write_doubles(argv[5], x, n)) return 1;
  if (argc > 6 && write_doubles(argv[6], mp, l)) return 1;
  free(x), free(mp), free(mpi);
  return 0;
}
