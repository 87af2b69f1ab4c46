/* fake_nvml.c — a stand-in libnvidia-ml.so.1 serving scripted readings, so the
 * real dlopen path of dlenergy's NVML sensor runs on machines without a GPU.
 *
 * The script is the file named by $FAKE_NVML_SCRIPT (no variable: one device
 * at a constant 100 W). One directive per line; '#' starts a comment; I is the
 * device index; time t is seconds since nvmlInit (CLOCK_MONOTONIC).
 *
 *   devices N                  number of GPUs (default 1, at most 16)
 *   name I TEXT...             default "Fake NVIDIA GPU I"
 *   uuid I TEXT                default "GPU-fake-000I"
 *   power I T_S MW             one point of the power curve (milliwatts);
 *                              linear between points, constant before the first
 *                              and after the last; default 100000 mW
 *   energy_supported I 0|1     nvmlDeviceGetTotalEnergyConsumption works (default
 *                              1) or returns NOT_SUPPORTED (pre-Volta)
 *   energy_offset I MJ         counter value at nvmlInit in mJ (default 1000000);
 *                              the counter is this plus the exact integral of
 *                              the power curve
 *   util I GPU_PCT MEM_PCT     utilization (default 50 20)
 *   mem I USED_MIB TOTAL_MIB   memory (default 1024 24576)
 *   temp I C                   temperature (default 60)
 *   limit I ENFORCED_MW MAX_MW enforced limit and max limit = TDP (default 350000 350000)
 *   process I PID              a compute process running on device I
 *   process I cmdline TEXT     every process whose command line (arguments joined
 *                              by spaces) contains TEXT runs on device I (for
 *                              torchrun-style trees: "process 1 cmdline --rank=1")
 *   process I children         every direct child of the process that loaded
 *                              the library runs on device I (for launch tests)
 *   processes I COUNT FIRST    COUNT foreign processes FIRST, FIRST+1, ... on device I
 *                              (up to 512 per device: more than any fixed buffer)
 *   mps_process I PID          an MPS client on device I: listed only by the
 *                              nvmlDeviceGetMPSComputeRunningProcesses* calls
 *   v3_error I CODE            only nvmlDeviceGetComputeRunningProcesses_v3 fails with
 *                              CODE (e.g. 3 NOT_SUPPORTED): callers must fall back to _v2
 *   procs_error I CODE         the process-list calls of device I fail with CODE
 *                              (4 = NO_PERMISSION, as for a non-root user under MIG)
 *   handle_error I CODE        nvmlDeviceGetHandleByIndex(I) fails with CODE
 *                              (4 NO_PERMISSION, 8 INSUFFICIENT_POWER, 15 GPU_IS_LOST)
 *   lost I T_S                 from T_S on every call on device I returns 15 (GPU_IS_LOST)
 *   power_fail I T0_S T1_S     power reads of device I fail (999 UNKNOWN) in [T0, T1)
 *   power_avg I S              nvmlDeviceGetPowerUsage returns the mean of the last S
 *                              seconds (Ampere+ boards average over 1 s); default 0 =
 *                              the instantaneous value
 *   instant I 0|1              NVML_FI_DEV_POWER_INSTANT through nvmlDeviceGetFieldValues
 *                              works (default 1) or answers NOT_SUPPORTED
 *   energy_reset I T_S         the energy counter restarts from 0 at T_S (a driver reload)
 *   mig I 0|1                  nvmlDeviceGetMigMode reports MIG on (default 0)
 *   default_limit I MW         nvmlDeviceGetPowerManagementDefaultLimit (default = max)
 *   driver TEXT                driver version string (default "999.99-fake")
 *   init_fail CODE             nvmlInit returns CODE (e.g. 9 = driver not loaded)
 *
 * Build variants (same source): FAKE_NVML_R535_54 behaves like drivers 535.43 to
 * 535.86: nvmlDeviceGetComputeRunningProcesses_v3 writes 32-byte records (with
 * usedGpuCcProtectedMemory) and nvmlDeviceGetConfComputeMemSizeInfo is exported,
 * nvmlDeviceGetRunningProcessDetailList is not. FAKE_NVML_R535_104 behaves like
 * 535.104 and later: _v3 back to 24-byte records, plus
 * nvmlDeviceGetRunningProcessDetailList (versioned struct, 32-byte details).
 * FAKE_NVML_OLD leaves out the optional symbols
 * nvmlDeviceGetTotalEnergyConsumption, nvmlDeviceGetPowerManagementLimitConstraints
 * and nvmlDeviceGetComputeRunningProcesses_v2/_v3 (an old driver: v1 process
 * list only); FAKE_NVML_BROKEN leaves out the mandatory nvmlDeviceGetPowerUsage.
 *
 * An unreadable or malformed script makes nvmlInit fail with NVML_ERROR_UNKNOWN
 * (999) and a message on stderr, so a typo never silently serves defaults. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FAKE_EXPORT __attribute__((visibility("default")))

enum { FK_MAX_DEV = 16, FK_MAX_PTS = 256, FK_MAX_PROC = 512 };
enum {
  NVML_SUCCESS = 0,
  NVML_ERROR_UNINITIALIZED = 1,
  NVML_ERROR_INVALID_ARGUMENT = 2,
  NVML_ERROR_NOT_SUPPORTED = 3,
  NVML_ERROR_NO_PERMISSION = 4,
  NVML_ERROR_INSUFFICIENT_SIZE = 7,
  NVML_ERROR_INSUFFICIENT_POWER = 8,
  NVML_ERROR_GPU_IS_LOST = 15,
  NVML_ERROR_UNKNOWN = 999
};

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int pid; unsigned long long usedGpuMemory; } nvmlProcessInfo_v1_t;
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;
/* 535.43-535.86 _v3 records and the DetailList entries (32 bytes). */
typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
  unsigned long long usedGpuCcProtectedMemory;
} nvmlProcessDetail_v1_t;
typedef struct {
  unsigned int version;
  unsigned int mode; /* 0 compute, 1 graphics, 2 MPS compute */
  unsigned int numProcArrayEntries;
  nvmlProcessDetail_v1_t *procArray;
} nvmlProcessDetailList_v1_t;
#define FK_DETAIL_LIST_V1 ((unsigned)(sizeof(nvmlProcessDetailList_v1_t) | (1u << 24)))
typedef union {
  double dVal;
  unsigned int uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  signed long long sllVal;
  signed int siVal;
} nvmlValue_t;
typedef struct {
  unsigned int fieldId, scopeId;
  long long timestamp, latencyUsec;
  int valueType;
  int nvmlReturn;
  nvmlValue_t value;
} nvmlFieldValue_t;
enum { FK_FI_POWER_INSTANT = 186, FK_FI_POWER_AVERAGE = 185 };

typedef struct fk_dev {
  char name[96];
  char uuid[96];
  int npts;
  double pt_t[FK_MAX_PTS], pt_mw[FK_MAX_PTS];
  int energy_supported;
  double energy_offset_mj;
  unsigned util_gpu, util_mem;
  double mem_used_mib, mem_total_mib;
  unsigned temp_c;
  unsigned limit_mw, max_mw;
  int nproc;
  unsigned proc[FK_MAX_PROC];
  int proc_children;
  char proc_cmdline[128];
  int nmps;
  unsigned mps[8];
  int procs_error, handle_error, v3_error;
  double lost_t, fail_t0, fail_t1, power_avg_s, reset_t;
  int instant, mig;
  unsigned default_mw;
} fk_dev;

typedef fk_dev *nvmlDevice_t;

static struct {
  int initialized;
  int ndev;
  fk_dev dev[FK_MAX_DEV];
  char driver[64];
  int init_fail;
  struct timespec t0;
} fk;

/* Prototypes of the exported API (NVML's names and signatures). */
FAKE_EXPORT int nvmlInit_v2(void);
FAKE_EXPORT int nvmlInit(void);
FAKE_EXPORT int nvmlShutdown(void);
FAKE_EXPORT const char *nvmlErrorString(int r);
FAKE_EXPORT int nvmlSystemGetDriverVersion(char *buf, unsigned int len);
FAKE_EXPORT int nvmlDeviceGetCount_v2(unsigned int *n);
FAKE_EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d);
FAKE_EXPORT int nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned int len);
FAKE_EXPORT int nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned int len);
FAKE_EXPORT int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw);
FAKE_EXPORT int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj);
FAKE_EXPORT int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u);
FAKE_EXPORT int nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m);
FAKE_EXPORT int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *c);
FAKE_EXPORT int nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *mw);
FAKE_EXPORT int nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t d, unsigned int *mn,
                                                             unsigned int *mx);
FAKE_EXPORT int nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned int *n,
                                                     nvmlProcessInfo_v1_t *p);
FAKE_EXPORT int nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *n,
                                                        nvmlProcessInfo_t *p);
FAKE_EXPORT int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *n,
                                                        nvmlProcessInfo_t *p);

static void defaults(void) {
  memset(&fk, 0, sizeof fk);
  fk.ndev = 1;
  snprintf(fk.driver, sizeof fk.driver, "999.99-fake");
  for (int i = 0; i < FK_MAX_DEV; i++) {
    fk_dev *d = &fk.dev[i];
    snprintf(d->name, sizeof d->name, "Fake NVIDIA GPU %d", i);
    snprintf(d->uuid, sizeof d->uuid, "GPU-fake-%04d", i);
    d->energy_supported = 1;
    d->energy_offset_mj = 1e6;
    d->util_gpu = 50;
    d->util_mem = 20;
    d->mem_used_mib = 1024;
    d->mem_total_mib = 24576;
    d->temp_c = 60;
    d->limit_mw = d->max_mw = 350000;
    d->lost_t = d->fail_t0 = d->fail_t1 = d->reset_t = -1;
    d->instant = 1;
  }
}

static int bad(const char *path, int lineno, const char *why) {
  fprintf(stderr, "fake NVML: %s:%d: %s\n", path, lineno, why);
  return -1;
}

static int load_script(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "fake NVML: cannot open script %s\n", path);
    return -1;
  }
  char line[512];
  int lineno = 0, rc = 0;
  int npower[FK_MAX_DEV] = {0};
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    char key[32];
    int off = 0;
    if (sscanf(line, " %31s %n", key, &off) != 1) continue;
    const char *rest = line + off;
    if (strcmp(key, "devices") == 0) {
      if (sscanf(rest, "%d", &fk.ndev) != 1 || fk.ndev < 0 || fk.ndev > FK_MAX_DEV)
        rc = bad(path, lineno, "devices N (0..16)");
      continue;
    }
    if (strcmp(key, "driver") == 0) {
      snprintf(fk.driver, sizeof fk.driver, "%s", rest);
      continue;
    }
    if (strcmp(key, "init_fail") == 0) {
      if (sscanf(rest, "%d", &fk.init_fail) != 1) rc = bad(path, lineno, "init_fail CODE");
      continue;
    }
    int idx, n2 = 0;
    if (sscanf(rest, "%d %n", &idx, &n2) != 1 || idx < 0 || idx >= FK_MAX_DEV) {
      rc = bad(path, lineno, "expected a device index 0..15 after the directive");
      continue;
    }
    fk_dev *d = &fk.dev[idx];
    const char *arg = rest + n2;
    if (strcmp(key, "name") == 0) {
      snprintf(d->name, sizeof d->name, "%s", arg);
    } else if (strcmp(key, "uuid") == 0) {
      snprintf(d->uuid, sizeof d->uuid, "%s", arg);
    } else if (strcmp(key, "power") == 0) {
      double t, mw;
      if (sscanf(arg, "%lf %lf", &t, &mw) != 2 || mw < 0 || t < 0) {
        rc = bad(path, lineno, "power I T_S MW");
      } else if (npower[idx] >= FK_MAX_PTS) {
        rc = bad(path, lineno, "too many power points");
      } else {
        int k = npower[idx]++;
        if (k > 0 && t <= d->pt_t[k - 1]) rc = bad(path, lineno, "power times must increase");
        d->pt_t[k] = t;
        d->pt_mw[k] = mw;
        d->npts = npower[idx];
      }
    } else if (strcmp(key, "energy_supported") == 0) {
      if (sscanf(arg, "%d", &d->energy_supported) != 1) rc = bad(path, lineno, "energy_supported I 0|1");
    } else if (strcmp(key, "energy_offset") == 0) {
      if (sscanf(arg, "%lf", &d->energy_offset_mj) != 1) rc = bad(path, lineno, "energy_offset I MJ");
    } else if (strcmp(key, "util") == 0) {
      if (sscanf(arg, "%u %u", &d->util_gpu, &d->util_mem) != 2) rc = bad(path, lineno, "util I GPU MEM");
    } else if (strcmp(key, "mem") == 0) {
      if (sscanf(arg, "%lf %lf", &d->mem_used_mib, &d->mem_total_mib) != 2)
        rc = bad(path, lineno, "mem I USED_MIB TOTAL_MIB");
    } else if (strcmp(key, "temp") == 0) {
      if (sscanf(arg, "%u", &d->temp_c) != 1) rc = bad(path, lineno, "temp I C");
    } else if (strcmp(key, "limit") == 0) {
      if (sscanf(arg, "%u %u", &d->limit_mw, &d->max_mw) != 2) rc = bad(path, lineno, "limit I ENFORCED_MW MAX_MW");
    } else if (strcmp(key, "processes") == 0) {
      unsigned cnt, first;
      if (sscanf(arg, "%u %u", &cnt, &first) != 2 || d->nproc + (int)cnt > FK_MAX_PROC)
        rc = bad(path, lineno, "processes I COUNT FIRST_PID (at most 512 per device)");
      else
        for (unsigned k = 0; k < cnt; k++) d->proc[d->nproc++] = first + k;
    } else if (strcmp(key, "mps_process") == 0) {
      unsigned pid;
      if (sscanf(arg, "%u", &pid) != 1 || d->nmps >= 8) rc = bad(path, lineno, "mps_process I PID");
      else d->mps[d->nmps++] = pid;
    } else if (strcmp(key, "procs_error") == 0) {
      if (sscanf(arg, "%d", &d->procs_error) != 1) rc = bad(path, lineno, "procs_error I CODE");
    } else if (strcmp(key, "v3_error") == 0) {
      if (sscanf(arg, "%d", &d->v3_error) != 1) rc = bad(path, lineno, "v3_error I CODE");
    } else if (strcmp(key, "handle_error") == 0) {
      if (sscanf(arg, "%d", &d->handle_error) != 1) rc = bad(path, lineno, "handle_error I CODE");
    } else if (strcmp(key, "lost") == 0) {
      if (sscanf(arg, "%lf", &d->lost_t) != 1) rc = bad(path, lineno, "lost I T_S");
    } else if (strcmp(key, "power_fail") == 0) {
      if (sscanf(arg, "%lf %lf", &d->fail_t0, &d->fail_t1) != 2) rc = bad(path, lineno, "power_fail I T0 T1");
    } else if (strcmp(key, "power_avg") == 0) {
      if (sscanf(arg, "%lf", &d->power_avg_s) != 1 || d->power_avg_s < 0) rc = bad(path, lineno, "power_avg I S");
    } else if (strcmp(key, "instant") == 0) {
      if (sscanf(arg, "%d", &d->instant) != 1) rc = bad(path, lineno, "instant I 0|1");
    } else if (strcmp(key, "energy_reset") == 0) {
      if (sscanf(arg, "%lf", &d->reset_t) != 1) rc = bad(path, lineno, "energy_reset I T_S");
    } else if (strcmp(key, "mig") == 0) {
      if (sscanf(arg, "%d", &d->mig) != 1) rc = bad(path, lineno, "mig I 0|1");
    } else if (strcmp(key, "default_limit") == 0) {
      if (sscanf(arg, "%u", &d->default_mw) != 1) rc = bad(path, lineno, "default_limit I MW");
    } else if (strcmp(key, "process") == 0) {
      unsigned pid;
      if (strncmp(arg, "children", 8) == 0) d->proc_children = 1;
      else if (strncmp(arg, "cmdline ", 8) == 0 && arg[8])
        snprintf(d->proc_cmdline, sizeof d->proc_cmdline, "%s", arg + 8);
      else if (sscanf(arg, "%u", &pid) == 1 && d->nproc < FK_MAX_PROC) d->proc[d->nproc++] = pid;
      else rc = bad(path, lineno, "process I PID|children|cmdline TEXT");
    } else {
      rc = bad(path, lineno, "unknown directive");
    }
  }
  fclose(f);
  return rc;
}

static double since_init_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)(ts.tv_sec - fk.t0.tv_sec) + (ts.tv_nsec - fk.t0.tv_nsec) / 1e9;
}

static double power_at(const fk_dev *d, double t) {
  if (d->npts == 0) return 100000.0;
  if (t <= d->pt_t[0]) return d->pt_mw[0];
  for (int k = 1; k < d->npts; k++)
    if (t <= d->pt_t[k]) {
      double a = (t - d->pt_t[k - 1]) / (d->pt_t[k] - d->pt_t[k - 1]);
      return d->pt_mw[k - 1] + a * (d->pt_mw[k] - d->pt_mw[k - 1]);
    }
  return d->pt_mw[d->npts - 1];
}

/* Exact integral of the power curve over [0, t], in mJ. */
static double energy_to(const fk_dev *d, double t) {
  if (d->npts == 0) return 100000.0 * t;
  double e = 0, prev_t = 0, prev_p = power_at(d, 0);
  for (int k = 0; k < d->npts && d->pt_t[k] < t; k++) {
    if (d->pt_t[k] > prev_t) {
      e += (d->pt_t[k] - prev_t) * (prev_p + d->pt_mw[k]) / 2;
      prev_t = d->pt_t[k];
    }
    prev_p = d->pt_mw[k];
  }
  e += (t - prev_t) * (prev_p + power_at(d, t)) / 2;
  return e;
}

static int dev_ok(nvmlDevice_t d) {
  return fk.initialized && d >= &fk.dev[0] && d < &fk.dev[fk.ndev];
}

/* GPU_IS_LOST once the script's "lost" time has passed. */
static int lost(const fk_dev *d) { return d->lost_t >= 0 && since_init_s() >= d->lost_t; }

int nvmlInit_v2(void) {
  defaults();
  const char *path = getenv("FAKE_NVML_SCRIPT");
  if (path && *path && load_script(path) != 0) return NVML_ERROR_UNKNOWN;
  if (fk.init_fail) return fk.init_fail;
  clock_gettime(CLOCK_MONOTONIC, &fk.t0);
  fk.initialized = 1;
  return NVML_SUCCESS;
}

int nvmlInit(void) { return nvmlInit_v2(); }

int nvmlShutdown(void) {
  if (!fk.initialized) return NVML_ERROR_UNINITIALIZED;
  fk.initialized = 0;
  return NVML_SUCCESS;
}

const char *nvmlErrorString(int r) {
  switch (r) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case 9: return "Driver Not Loaded";
    default: return "Unknown Error";
  }
}

int nvmlSystemGetDriverVersion(char *buf, unsigned int len) {
  if (!fk.initialized) return NVML_ERROR_UNINITIALIZED;
  if (!buf || len == 0) return NVML_ERROR_INVALID_ARGUMENT;
  snprintf(buf, len, "%s", fk.driver);
  return NVML_SUCCESS;
}

int nvmlDeviceGetCount_v2(unsigned int *n) {
  if (!fk.initialized) return NVML_ERROR_UNINITIALIZED;
  if (!n) return NVML_ERROR_INVALID_ARGUMENT;
  *n = (unsigned)fk.ndev;
  return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) {
  if (!fk.initialized) return NVML_ERROR_UNINITIALIZED;
  if (!d || i >= (unsigned)fk.ndev) return NVML_ERROR_INVALID_ARGUMENT;
  if (fk.dev[i].handle_error) return fk.dev[i].handle_error;
  *d = &fk.dev[i];
  return NVML_SUCCESS;
}

int nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned int len) {
  if (!dev_ok(d) || !buf || !len) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  snprintf(buf, len, "%s", d->name);
  return NVML_SUCCESS;
}

int nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned int len) {
  if (!dev_ok(d) || !buf || !len) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  snprintf(buf, len, "%s", d->uuid);
  return NVML_SUCCESS;
}

/* Counter reading in mJ at t: offset + integral, or the integral since the
 * reset once a scripted driver reload has happened. */
__attribute__((unused)) static double counter_mj(const fk_dev *d, double t) {
  if (d->reset_t >= 0 && t >= d->reset_t) return energy_to(d, t) - energy_to(d, d->reset_t);
  return d->energy_offset_mj + energy_to(d, t);
}

/* Power read by nvmlDeviceGetPowerUsage: instantaneous, or the mean of the
 * last power_avg_s seconds (what Ampere and newer boards report). */
static double usage_mw(const fk_dev *d, double t) {
  if (d->power_avg_s <= 0) return power_at(d, t);
  double t0 = t - d->power_avg_s;
  if (t0 < 0) t0 = 0;
  if (t - t0 < 1e-9) return power_at(d, t);
  return (energy_to(d, t) - energy_to(d, t0)) / (t - t0);
}

static int power_failing(const fk_dev *d, double t) {
  return d->fail_t0 >= 0 && t >= d->fail_t0 && t < d->fail_t1;
}

#ifndef FAKE_NVML_BROKEN
int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw) {
  if (!dev_ok(d) || !mw) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  double t = since_init_s();
  if (power_failing(d, t)) return NVML_ERROR_UNKNOWN;
  *mw = (unsigned)lround(usage_mw(d, t));
  return NVML_SUCCESS;
}
#endif

#ifndef FAKE_NVML_OLD
FAKE_EXPORT int nvmlDeviceGetFieldValues(nvmlDevice_t d, int count, nvmlFieldValue_t *v);
int nvmlDeviceGetFieldValues(nvmlDevice_t d, int count, nvmlFieldValue_t *v) {
  if (!dev_ok(d) || count < 0 || (count && !v)) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  double t = since_init_s();
  for (int k = 0; k < count; k++) {
    v[k].timestamp = (long long)(t * 1e6);
    v[k].latencyUsec = 0;
    if (v[k].fieldId == FK_FI_POWER_INSTANT && d->instant) {
      v[k].nvmlReturn = power_failing(d, t) ? NVML_ERROR_UNKNOWN : NVML_SUCCESS;
      v[k].valueType = 1; /* NVML_VALUE_TYPE_UNSIGNED_INT */
      v[k].value.uiVal = (unsigned)lround(power_at(d, t));
    } else if (v[k].fieldId == FK_FI_POWER_AVERAGE && d->instant) {
      v[k].nvmlReturn = power_failing(d, t) ? NVML_ERROR_UNKNOWN : NVML_SUCCESS;
      v[k].valueType = 1;
      v[k].value.uiVal = (unsigned)lround(usage_mw(d, t));
    } else {
      v[k].nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
    }
  }
  return NVML_SUCCESS;
}

int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj) {
  if (!dev_ok(d) || !mj) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  if (!d->energy_supported) return NVML_ERROR_NOT_SUPPORTED;
  *mj = (unsigned long long)llround(counter_mj(d, since_init_s()));
  return NVML_SUCCESS;
}

FAKE_EXPORT int nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *cur, unsigned int *pending);
int nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *cur, unsigned int *pending) {
  if (!dev_ok(d) || !cur || !pending) return NVML_ERROR_INVALID_ARGUMENT;
  *cur = *pending = (unsigned)(d->mig != 0);
  return NVML_SUCCESS;
}

FAKE_EXPORT int nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t d, unsigned int *mw);
int nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t d, unsigned int *mw) {
  if (!dev_ok(d) || !mw) return NVML_ERROR_INVALID_ARGUMENT;
  *mw = d->default_mw ? d->default_mw : d->max_mw;
  return NVML_SUCCESS;
}
#endif

int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
  if (!dev_ok(d) || !u) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  u->gpu = d->util_gpu;
  u->memory = d->util_mem;
  return NVML_SUCCESS;
}

int nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m) {
  if (!dev_ok(d) || !m) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  m->total = (unsigned long long)(d->mem_total_mib * 1048576.0);
  m->used = (unsigned long long)(d->mem_used_mib * 1048576.0);
  m->free = m->total > m->used ? m->total - m->used : 0;
  return NVML_SUCCESS;
}

int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *c) {
  if (!dev_ok(d) || !c || sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  *c = d->temp_c;
  return NVML_SUCCESS;
}

int nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *mw) {
  if (!dev_ok(d) || !mw) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  *mw = d->limit_mw;
  return NVML_SUCCESS;
}

#ifndef FAKE_NVML_OLD
int nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t d, unsigned int *mn,
                                                 unsigned int *mx) {
  if (!dev_ok(d) || !mn || !mx) return NVML_ERROR_INVALID_ARGUMENT;
  *mn = d->max_mw / 3;
  *mx = d->max_mw;
  return NVML_SUCCESS;
}
#endif

/* The device's process list: scripted pids plus, with "children", the
 * direct children of this process (read from /proc); with mps, the MPS
 * clients instead. */
static int list_procs(const fk_dev *d, unsigned *out, int cap, int mps) {
  int n = 0;
  if (mps) {
    for (int i = 0; i < d->nmps && n < cap; i++) out[n++] = d->mps[i];
    return n;
  }
  for (int i = 0; i < d->nproc && n < cap; i++) out[n++] = d->proc[i];
  if (!d->proc_children && !d->proc_cmdline[0]) return n;
  DIR *dir = opendir("/proc");
  if (!dir) return n;
  struct dirent *de;
  long self = (long)getpid();
  while ((de = readdir(dir)) != NULL && n < cap) {
    if (de->d_name[0] < '1' || de->d_name[0] > '9') continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t r = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[r] = '\0';
    const char *p = strrchr(buf, ')');
    char state;
    long ppid;
    int match = d->proc_children && p && sscanf(p + 1, " %c %ld", &state, &ppid) == 2 &&
                ppid == self;
    if (!match && d->proc_cmdline[0]) {
      snprintf(path, sizeof path, "/proc/%s/cmdline", de->d_name);
      f = fopen(path, "r");
      if (f) {
        r = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t k = 0; k < r; k++)
          if (buf[k] == '\0') buf[k] = ' ';
        buf[r] = '\0';
        match = strstr(buf, d->proc_cmdline) != NULL;
      }
    }
    if (match) out[n++] = (unsigned)strtoul(de->d_name, NULL, 10);
  }
  closedir(dir);
  return n;
}

/* Fills up to *n records of rec_size bytes (16 = v1, 24 = v2, 32 = 535.5x v3),
 * the way the driver does: INSUFFICIENT_SIZE with the count needed when the
 * caller's array is too small. */
static int fill_procs(nvmlDevice_t d, unsigned int *n, void *p, size_t rec_size, int mps) {
  if (!dev_ok(d) || !n) return NVML_ERROR_INVALID_ARGUMENT;
  if (lost(d)) return NVML_ERROR_GPU_IS_LOST;
  if (d->procs_error) return d->procs_error;
  static unsigned pids[FK_MAX_PROC + 256];
  int k = list_procs(d, pids, FK_MAX_PROC + 256, mps);
  if (*n < (unsigned)k || (!p && k)) {
    *n = (unsigned)k;
    return NVML_ERROR_INSUFFICIENT_SIZE;
  }
  for (int i = 0; i < k; i++) {
    nvmlProcessDetail_v1_t r = {pids[i], 512ull << 20, 0xFFFFFFFFu, 0xFFFFFFFFu, 0};
    if (rec_size == 16) {
      nvmlProcessInfo_v1_t r1 = {pids[i], 512ull << 20};
      memcpy((char *)p + i * rec_size, &r1, sizeof r1);
    } else {
      memcpy((char *)p + i * rec_size, &r, rec_size);
    }
  }
  *n = (unsigned)k;
  return NVML_SUCCESS;
}

int nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t d, unsigned int *n,
                                         nvmlProcessInfo_v1_t *p) {
  return fill_procs(d, n, p, sizeof(nvmlProcessInfo_v1_t), 0);
}

#ifndef FAKE_NVML_OLD
#ifdef FAKE_NVML_R535_54
enum { FK_V3_SIZE = sizeof(nvmlProcessDetail_v1_t) };
#else
enum { FK_V3_SIZE = sizeof(nvmlProcessInfo_t) };
#endif

int nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t d, unsigned int *n,
                                            nvmlProcessInfo_t *p) {
  return fill_procs(d, n, p, sizeof(nvmlProcessInfo_t), 0);
}

int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *n,
                                            nvmlProcessInfo_t *p) {
  if (dev_ok(d) && d->v3_error) return d->v3_error;
  return fill_procs(d, n, p, FK_V3_SIZE, 0);
}

FAKE_EXPORT int nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *n,
                                                           nvmlProcessInfo_t *p);
int nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *n,
                                               nvmlProcessInfo_t *p) {
  return fill_procs(d, n, p, FK_V3_SIZE, 1);
}

#if defined(FAKE_NVML_R535_54) || defined(FAKE_NVML_R535_104)
/* Only its presence matters (nvitop's rule for the 32-byte _v3 drivers). */
FAKE_EXPORT int nvmlDeviceGetConfComputeMemSizeInfo(nvmlDevice_t d, void *info);
int nvmlDeviceGetConfComputeMemSizeInfo(nvmlDevice_t d, void *info) {
  (void)info;
  return dev_ok(d) ? NVML_ERROR_NOT_SUPPORTED : NVML_ERROR_INVALID_ARGUMENT;
}
#endif

#ifdef FAKE_NVML_R535_104
FAKE_EXPORT int nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t d,
                                                      nvmlProcessDetailList_v1_t *l);
int nvmlDeviceGetRunningProcessDetailList(nvmlDevice_t d, nvmlProcessDetailList_v1_t *l) {
  if (!dev_ok(d) || !l) return NVML_ERROR_INVALID_ARGUMENT;
  if (l->version != FK_DETAIL_LIST_V1) return 25; /* NVML_ERROR_ARGUMENT_VERSION_MISMATCH */
  if (l->mode != 0 && l->mode != 2) return NVML_ERROR_NOT_SUPPORTED;
  return fill_procs(d, &l->numProcArrayEntries, l->procArray, sizeof(nvmlProcessDetail_v1_t),
                    l->mode == 2);
}
#endif
#endif
