/* bench_nvml_cost — CPU time of one sensor read (dle_sensors_read: NVML with 4
 * fake GPUs + the procfs tree) against its anchor, measured in the same run: the
 * bare NVML calls a reader of 4 GPUs cannot avoid (power, energy counter,
 * utilization, memory, temperature, enforced limit per device, and the
 * compute-process list of every device once a second), made straight through
 * dlsym on the same library.
 *
 * Time is simulated at 10 Hz (now_ns advances 100 ms per read), so the
 * once-a-second process check happens on every 10th read, as in a real run.
 *
 * Usage: bench_nvml_cost NVML_LIB SCRIPT [READS]
 * Prints CPU microseconds per sample for both and their ratio. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dlenergy/sensors.h"

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

typedef int (*fn_void)(void);
typedef int (*fn_u)(void *, unsigned int *);
typedef int (*fn_ull)(void *, unsigned long long *);
typedef int (*fn_buf)(void *, void *);
typedef int (*fn_temp)(void *, int, unsigned int *);
typedef int (*fn_procs)(void *, unsigned int *, void *);
typedef int (*fn_handle)(unsigned int, void **);

static void *sym(void *lib, const char *name) {
  void *p = dlsym(lib, name);
  if (!p) {
    fprintf(stderr, "bench_nvml_cost: %s lacks %s\n", "library", name);
    exit(2);
  }
  return p;
}

static void load(void *lib, const char *name, void *fnptr_out) {
  void *p = sym(lib, name);
  memcpy(fnptr_out, &p, sizeof p);
}

/* The anchor: the bare calls, READS times. Returns CPU seconds. */
static double anchor(const char *libpath, long reads) {
  void *lib = dlopen(libpath, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "bench_nvml_cost: %s\n", dlerror());
    exit(2);
  }
  fn_void init, shut;
  fn_u power, limit;
  int (*count)(unsigned int *);
  fn_ull energy;
  fn_buf util, mem;
  fn_temp temp;
  fn_procs procs;
  fn_handle handle;
  load(lib, "nvmlInit_v2", &init);
  load(lib, "nvmlShutdown", &shut);
  load(lib, "nvmlDeviceGetCount_v2", &count);
  load(lib, "nvmlDeviceGetHandleByIndex_v2", &handle);
  load(lib, "nvmlDeviceGetPowerUsage", &power);
  load(lib, "nvmlDeviceGetEnforcedPowerLimit", &limit);
  load(lib, "nvmlDeviceGetTotalEnergyConsumption", &energy);
  load(lib, "nvmlDeviceGetUtilizationRates", &util);
  load(lib, "nvmlDeviceGetMemoryInfo", &mem);
  load(lib, "nvmlDeviceGetTemperature", &temp);
  load(lib, "nvmlDeviceGetComputeRunningProcesses", &procs);
  if (init() != 0) exit(2);
  unsigned int n = 0;
  count(&n);
  void *dev[16];
  if (n > 16) n = 16;
  for (unsigned i = 0; i < n; i++) handle(i, &dev[i]);
  unsigned char scratch[64 * 64];
  volatile unsigned long long sink = 0;
  double c0 = self_cpu_s();
  for (long r = 0; r < reads; r++)
    for (unsigned i = 0; i < n; i++) {
      unsigned int u = 0;
      unsigned long long e = 0, m[3];
      unsigned int ut[2];
      power(dev[i], &u), sink += u;
      energy(dev[i], &e), sink += e;
      util(dev[i], ut), sink += ut[0];
      mem(dev[i], m), sink += m[2];
      temp(dev[i], 0, &u), sink += u;
      limit(dev[i], &u), sink += u;
      if (r % 10 == 0) {
        unsigned int cnt = 64;
        procs(dev[i], &cnt, scratch), sink += cnt;
      }
    }
  double c = self_cpu_s() - c0;
  shut();
  dlclose(lib);
  return c;
}

static double dlenergy(const char *libpath, long reads) {
  dle_sensors_config cfg;
  dle_sensors_config_init(&cfg);
  cfg.root_pid = getpid();
  cfg.nvml_lib = libpath;
  cfg.require_nvml = true;
  cfg.enable_rapl = false;
  dle_sensors *s = NULL;
  dle_error e;
  if (dle_sensors_open(&cfg, &s, &e) != 0) {
    fprintf(stderr, "bench_nvml_cost: %s\n", e.msg);
    exit(2);
  }
  dle_sample out;
  int64_t t0 = dle_monotonic_ns();
  double c0 = self_cpu_s();
  for (long r = 0; r < reads; r++) dle_sensors_read(s, t0 + r * 100000000LL, &out, &e);
  double c = self_cpu_s() - c0;
  dle_sensors_close(s);
  return c;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_nvml_cost NVML_LIB SCRIPT [READS]\n");
    return 2;
  }
  setenv("FAKE_NVML_SCRIPT", argv[2], 1);
  long reads = argc > 3 ? atol(argv[3]) : 20000;
  if (reads < 100) reads = 100;
  /* Interleave three rounds of each so drift hits both alike. */
  double a = 0, d = 0;
  for (int round = 0; round < 3; round++) {
    a += anchor(argv[1], reads);
    d += dlenergy(argv[1], reads);
  }
  double au = a / (3.0 * reads) * 1e6, du = d / (3.0 * reads) * 1e6;
  printf("sensor read with 4 fake GPUs + procfs tree, %ld reads x 3 rounds\n", reads);
  printf("  anchor (bare NVML calls)   %9.2f us CPU per sample\n", au);
  printf("  dlenergy dle_sensors_read  %9.2f us CPU per sample\n", du);
  printf("  ratio dlenergy / anchor    %9.2f\n", au > 0 ? du / au : 0.0);
  return 0;
}
