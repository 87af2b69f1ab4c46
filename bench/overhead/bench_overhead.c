/* bench_overhead — dlenergy's sampler CPU cost per monitored second against a
 * Python psutil sampler (the study's method, psutil_sampler.py) in the same run.
 *
 * A busy child process is monitored at 1, 10 and 100 Hz, first by the dlenergy
 * sampler (fake NVML + procfs, RAPL if readable), then by the Python sampler,
 * each for the same wall time. Cost = the sampler process's CPU time (user +
 * system, getrusage) while sampling, divided by the monitored seconds.
 *
 * Usage: bench_overhead NVML_LIB PSUTIL_SAMPLER_PY [SECONDS_SCALE]
 * (SECONDS_SCALE multiplies the per-rate durations 10/5/5 s; default 1). */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlenergy/sampler.h"

extern char **environ;

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* dlenergy sampler on pid for seconds at hz: CPU seconds of this process. */
/* mode: 0 = no sensors (the floor), 1 = NVML + procfs tree (+ RAPL when readable),
 * 2 = the same with the tree discovered once (root only, like psutil.Process). */
static int run_dlenergy(pid_t pid, double hz, double seconds, const char *lib, int mode,
                        double *cpu, unsigned long long *ticks) {
  bool sensors = mode != 0;
  dle_sampler_config c;
  dle_sampler_config_init(&c);
  c.interval_s = 1.0 / hz;
  c.sensors.root_pid = pid;
  c.sensors.nvml_lib = lib;
  c.sensors.require_nvml = sensors;
  c.sensors.enable_nvml = c.sensors.enable_procfs = c.sensors.enable_rapl = sensors;
  if (mode == 2) c.sensors.tree_rescan_s = -1;
  dle_sampler *s = NULL;
  dle_error e;
  if (dle_sampler_create(&c, &s, &e) != 0) {
    fprintf(stderr, "bench_overhead: %s\n", e.msg);
    return -1;
  }
  static dle_sample buf[256];
  if (dle_sampler_start(s, &e) != 0) {
    fprintf(stderr, "bench_overhead: %s\n", e.msg);
    dle_sampler_destroy(s);
    return -1;
  }
  /* Steady state, like the Python side (which starts its clock after NVML
   * init and psutil's first call): wait for tick 0, which lists every
   * process once, then measure. */
  dle_sample first;
  while (!dle_sampler_latest(s, &first)) sleep_s(0.001);
  size_t n0;
  dle_sampler_drain(s, buf, 256, &n0);
  dle_sampler_stats st0;
  dle_sampler_get_stats(s, &st0);
  double c0 = self_cpu_s();
  /* The consumer drains once a second, as dlenergy run's store writer does. */
  for (double t = 0; t < seconds; t += 1.0) {
    sleep_s(seconds - t < 1.0 ? seconds - t : 1.0);
    size_t n;
    dle_sampler_drain(s, buf, 256, &n);
  }
  dle_sampler_stop(s);
  *cpu = self_cpu_s() - c0;
  dle_sampler_stats st;
  dle_sampler_get_stats(s, &st);
  *ticks = st.ticks - st0.ticks;
  dle_sampler_destroy(s);
  return 0;
}

static int run_python(const char *script, pid_t pid, double hz, double seconds, const char *lib,
                      double *cpu, unsigned long long *samples) {
  char spid[32], shz[32], ssec[32];
  snprintf(spid, sizeof spid, "%ld", (long)pid);
  snprintf(shz, sizeof shz, "%g", hz);
  snprintf(ssec, sizeof ssec, "%g", seconds);
  char *argv[] = {"/usr/bin/python3", (char *)script, spid, shz, ssec, (char *)lib, NULL};
  int pfd[2];
  if (pipe(pfd) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
  posix_spawn_file_actions_addclose(&fa, pfd[0]);
  pid_t py;
  int rc = posix_spawn(&py, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (rc != 0) {
    close(pfd[0]);
    fprintf(stderr, "bench_overhead: cannot start /usr/bin/python3: %s\n", strerror(rc));
    return -1;
  }
  char out[512] = "";
  size_t len = 0;
  ssize_t r;
  while ((r = read(pfd[0], out + len, sizeof out - 1 - len)) > 0) len += (size_t)r;
  out[len] = '\0';
  close(pfd[0]);
  int st;
  waitpid(py, &st, 0);
  double wall;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
      sscanf(out, "cpu_s=%lf samples=%llu wall_s=%lf", cpu, samples, &wall) != 3) {
    fprintf(stderr, "bench_overhead: python sampler failed: %s\n", out);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_overhead NVML_LIB PSUTIL_SAMPLER_PY [SECONDS_SCALE]\n");
    return 2;
  }
  const char *lib = argv[1], *script = argv[2];
  double scale = argc > 3 ? atof(argv[3]) : 1.0;
  if (!(scale > 0)) scale = 1.0;
  unsetenv("FAKE_NVML_SCRIPT"); /* the fake's default: one GPU at 100 W */
  pid_t busy = fork();
  if (busy == 0) {
    volatile double x = 0;
    for (;;) {
      x += 1e-9;
      (void)x;
    }
  }
  const double rates[] = {1, 10, 100};
  const double secs[] = {10, 5, 5};
  printf("Sampler CPU time per monitored second (busy child, fake NVML 1 GPU + procfs), CPU-s/s\n");
  printf("%6s  %6s  %12s  %12s  %12s  %7s  %7s  %10s  %10s\n", "rate", "secs", "dlenergy",
         "dle rootonly", "python", "ratio", "ratio-r", "dle %core", "floor");
  int fail = 0;
  for (int i = 0; i < 3; i++) {
    double sec = secs[i] * scale, c_cpu = 0, r_cpu = 0, p_cpu = 0, f_cpu = 0;
    unsigned long long c_n = 0, r_n = 0, p_n = 0, f_n = 0;
    if (run_dlenergy(busy, rates[i], sec, lib, 1, &c_cpu, &c_n) != 0 ||
        run_python(script, busy, rates[i], sec, lib, &p_cpu, &p_n) != 0 ||
        run_dlenergy(busy, rates[i], sec, lib, 2, &r_cpu, &r_n) != 0 ||
        run_dlenergy(busy, rates[i], sec, lib, 0, &f_cpu, &f_n) != 0) {
      fail = 1;
      break;
    }
    double c = c_cpu / sec, r = r_cpu / sec, py = p_cpu / sec;
    printf("%4.0f Hz  %6.1f  %12.6f  %12.6f  %12.6f  %6.1fx  %6.1fx  %9.4f%%  %10.6f  "
           "(%llu/%llu/%llu/%llu samples)\n",
           rates[i], sec, c, r, py, c > 0 ? py / c : INFINITY, r > 0 ? py / r : INFINITY,
           c * 100, f_cpu / sec, c_n, r_n, p_n, f_n);
    fflush(stdout);
  }
  kill(busy, SIGKILL);
  waitpid(busy, NULL, 0);
  printf("ratio = python / dlenergy (target >= 20), ratio-r = python / dlenergy root-only "
         "(the tree found once, as psutil watches one pid);\ndle %%core = dlenergy CPU-s/s x 100 "
         "(target < 0.1%% at 10 Hz); floor = the sampler thread with every sensor off "
         "(the cost of waking up on time here)\n");
  return fail;
}
