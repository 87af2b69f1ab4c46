/* nvml.c — NVIDIA GPUs through NVML, loaded with dlopen at run time.
 *
 * No CUDA or NVML headers: the handful of functions and structs used are
 * declared here from NVML's documented C API. Mandatory symbols (init,
 * shutdown, device count and handles, power usage, name) must be present;
 * every other reading is optional, and a library too old to export it (or a
 * device answering NOT_SUPPORTED) leaves that reading NaN. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensor.h"

/* ---- the slice of the NVML API we use ---- */
typedef int nvml_ret;
typedef void *nvml_dev;
enum { NVML_OK = 0, NVML_ERR_NOT_SUPPORTED = 3, NVML_ERR_INSUFFICIENT_SIZE = 7 };
enum { NVML_TEMPERATURE_GPU = 0 };
typedef struct { unsigned int gpu, memory; } nvml_utilization;
typedef struct { unsigned long long total, free, used; } nvml_memory;
typedef struct { unsigned int pid; unsigned long long used_gpu_memory; } nvml_process_v1;
typedef struct {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id, compute_instance_id;
} nvml_process_v2;

typedef struct nvml_api {
  void *lib;
  /* mandatory */
  nvml_ret (*init)(void);
  nvml_ret (*shutdown)(void);
  nvml_ret (*get_count)(unsigned int *);
  nvml_ret (*get_handle)(unsigned int, nvml_dev *);
  nvml_ret (*get_power)(nvml_dev, unsigned int *);
  nvml_ret (*get_name)(nvml_dev, char *, unsigned int);
  /* optional */
  const char *(*error_string)(nvml_ret);
  nvml_ret (*driver_version)(char *, unsigned int);
  nvml_ret (*get_uuid)(nvml_dev, char *, unsigned int);
  nvml_ret (*get_energy)(nvml_dev, unsigned long long *);
  nvml_ret (*get_util)(nvml_dev, nvml_utilization *);
  nvml_ret (*get_mem)(nvml_dev, nvml_memory *);
  nvml_ret (*get_temp)(nvml_dev, int, unsigned int *);
  nvml_ret (*get_enforced_limit)(nvml_dev, unsigned int *);
  nvml_ret (*get_limit_constraints)(nvml_dev, unsigned int *, unsigned int *);
  nvml_ret (*get_procs_v3)(nvml_dev, unsigned int *, nvml_process_v2 *);
  nvml_ret (*get_procs_v2)(nvml_dev, unsigned int *, nvml_process_v2 *);
  nvml_ret (*get_procs_v1)(nvml_dev, unsigned int *, nvml_process_v1 *);
} nvml_api;

typedef struct nvml_gpu {
  uint32_t index;
  nvml_dev dev;
  bool energy_ok, util_ok, mem_ok, temp_ok, limit_ok; /* stop asking after NOT_SUPPORTED */
  bool used_by_tree;
} nvml_gpu;

typedef struct nvml_state {
  nvml_api api;
  bool initialized;
  uint32_t n;
  nvml_gpu gpu[DLE_MAX_GPUS];
  unsigned int proc_cap;
  nvml_process_v2 *procs;    /* scratch for running-process queries */
} nvml_state;

static const char *nvml_errstr(const nvml_api *a, nvml_ret r) {
  if (a->error_string) {
    const char *s = a->error_string(r);
    if (s) return s;
  }
  return "NVML error";
}

/* dlsym returns void*; converting it to a function pointer is what POSIX
 * guarantees works. The memcpy keeps ISO C's pedantic warning quiet. */
static void load_sym(void *lib, const char *name, void *fnptr_out) {
  void *p = dlsym(lib, name);
  memcpy(fnptr_out, &p, sizeof p);
}

static void nvml_close(void *state) {
  nvml_state *st = state;
  if (!st) return;
  if (st->initialized && st->api.shutdown) st->api.shutdown();
  if (st->api.lib) dlclose(st->api.lib);
  free(st->procs);
  free(st);
}

static int load_api(const char *path, nvml_api *a, dle_error *err) {
  a->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!a->lib) {
    const char *why = dlerror();
    dle_error_set(err, DLE_EUNSUPPORTED, "NVIDIA driver library %s not loadable (%s)", path,
                  why ? why : "unknown reason");
    return DLE_SENSOR_ABSENT;
  }
  load_sym(a->lib, "nvmlInit_v2", &a->init);
  load_sym(a->lib, "nvmlShutdown", &a->shutdown);
  load_sym(a->lib, "nvmlDeviceGetCount_v2", &a->get_count);
  load_sym(a->lib, "nvmlDeviceGetHandleByIndex_v2", &a->get_handle);
  load_sym(a->lib, "nvmlDeviceGetPowerUsage", &a->get_power);
  load_sym(a->lib, "nvmlDeviceGetName", &a->get_name);
  const char *missing = !a->init         ? "nvmlInit_v2"
                        : !a->shutdown   ? "nvmlShutdown"
                        : !a->get_count  ? "nvmlDeviceGetCount_v2"
                        : !a->get_handle ? "nvmlDeviceGetHandleByIndex_v2"
                        : !a->get_power  ? "nvmlDeviceGetPowerUsage"
                        : !a->get_name   ? "nvmlDeviceGetName"
                                         : NULL;
  if (missing)
    return dle_error_set(err, DLE_EUNSUPPORTED,
                         "%s lacks the mandatory function %s (NVIDIA driver too old or "
                         "not an NVML library)",
                         path, missing);
  load_sym(a->lib, "nvmlErrorString", &a->error_string);
  load_sym(a->lib, "nvmlSystemGetDriverVersion", &a->driver_version);
  load_sym(a->lib, "nvmlDeviceGetUUID", &a->get_uuid);
  load_sym(a->lib, "nvmlDeviceGetTotalEnergyConsumption", &a->get_energy);
  load_sym(a->lib, "nvmlDeviceGetUtilizationRates", &a->get_util);
  load_sym(a->lib, "nvmlDeviceGetMemoryInfo", &a->get_mem);
  load_sym(a->lib, "nvmlDeviceGetTemperature", &a->get_temp);
  load_sym(a->lib, "nvmlDeviceGetEnforcedPowerLimit", &a->get_enforced_limit);
  load_sym(a->lib, "nvmlDeviceGetPowerManagementLimitConstraints", &a->get_limit_constraints);
  load_sym(a->lib, "nvmlDeviceGetComputeRunningProcesses_v3", &a->get_procs_v3);
  load_sym(a->lib, "nvmlDeviceGetComputeRunningProcesses_v2", &a->get_procs_v2);
  load_sym(a->lib, "nvmlDeviceGetComputeRunningProcesses", &a->get_procs_v1);
  return DLE_OK;
}

static void copy_str(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src);
}

static int nvml_open(const dle_sensors_config *cfg, void **state, dle_sensors_info *info,
                     dle_error *err) {
  uint64_t mask = 0;
  bool all = true;
  int rc = dle_parse_gpu_list(cfg->gpus, &mask, &all, err);
  if (rc) return rc;
  nvml_state *st = calloc(1, sizeof *st);
  if (!st) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  const char *path = cfg->nvml_lib;
  if (!path || !*path) path = getenv("DLENERGY_NVML_LIB");
  if (!path || !*path) path = "libnvidia-ml.so.1";
  rc = load_api(path, &st->api, err);
  if (rc) goto fail;
  nvml_ret r = st->api.init();
  if (r != NVML_OK) {
    dle_error_set(err, DLE_EUNSUPPORTED, "nvmlInit failed: %s (code %d)",
                  nvml_errstr(&st->api, r), r);
    rc = DLE_SENSOR_ABSENT;
    goto fail;
  }
  st->initialized = true;
  unsigned int count = 0;
  r = st->api.get_count(&count);
  if (r != NVML_OK) {
    dle_error_set(err, DLE_EUNSUPPORTED, "nvmlDeviceGetCount failed: %s",
                  nvml_errstr(&st->api, r));
    rc = DLE_SENSOR_ABSENT;
    goto fail;
  }
  if (!all) {
    for (unsigned int i = 0; i < 64; i++)
      if ((mask >> i & 1u) && i >= count) {
        rc = dle_error_set(err, DLE_ENOTFOUND,
                           "GPU %u does not exist (NVML sees %u device%s, indices 0..%d)", i,
                           count, count == 1 ? "" : "s", (int)count - 1);
        goto fail;
      }
  }
  if (st->api.driver_version) {
    char v[80] = "";
    if (st->api.driver_version(v, sizeof v) == NVML_OK) copy_str(info->nvml_driver, sizeof info->nvml_driver, v);
  }
  for (unsigned int i = 0; i < count; i++) {
    if (!all && !(i < 64 && (mask >> i & 1u))) continue;
    if (st->n == DLE_MAX_GPUS) {
      dle_info_note(info, "NVML: only the first %d selected GPUs are monitored", DLE_MAX_GPUS);
      break;
    }
    nvml_gpu *g = &st->gpu[st->n];
    g->index = i;
    r = st->api.get_handle(i, &g->dev);
    if (r != NVML_OK) {
      rc = dle_error_set(err, DLE_EIO, "NVML handle of GPU %u: %s", i, nvml_errstr(&st->api, r));
      goto fail;
    }
    dle_gpu_info *gi = &info->gpu[st->n];
    memset(gi, 0, sizeof *gi);
    gi->index = i;
    gi->tdp_w = gi->power_limit_w = gi->mem_total_mib = NAN;
    char buf[256];
    if (st->api.get_name(g->dev, buf, sizeof buf) == NVML_OK) copy_str(gi->name, sizeof gi->name, buf);
    if (st->api.get_uuid && st->api.get_uuid(g->dev, buf, sizeof buf) == NVML_OK)
      copy_str(gi->uuid, sizeof gi->uuid, buf);
    unsigned int mn = 0, mx = 0, lim = 0;
    if (st->api.get_limit_constraints &&
        st->api.get_limit_constraints(g->dev, &mn, &mx) == NVML_OK)
      gi->tdp_w = mx / 1000.0;
    g->limit_ok = st->api.get_enforced_limit != NULL;
    if (g->limit_ok && st->api.get_enforced_limit(g->dev, &lim) == NVML_OK)
      gi->power_limit_w = lim / 1000.0;
    nvml_memory m;
    g->mem_ok = st->api.get_mem != NULL;
    if (g->mem_ok && st->api.get_mem(g->dev, &m) == NVML_OK)
      gi->mem_total_mib = (double)m.total / 1048576.0;
    unsigned long long e = 0;
    g->energy_ok = st->api.get_energy != NULL && st->api.get_energy(g->dev, &e) == NVML_OK;
    gi->has_energy_counter = g->energy_ok;
    g->util_ok = st->api.get_util != NULL;
    g->temp_ok = st->api.get_temp != NULL;
    st->n++;
  }
  if (!all && st->n == 0) {
    rc = dle_error_set(err, DLE_ENOTFOUND, "no GPU selected");
    goto fail;
  }
  info->n_gpus = st->n;
  copy_str(info->gpu_source, sizeof info->gpu_source, "nvml");
  if (!st->api.get_energy)
    dle_info_note(info, "NVML: no nvmlDeviceGetTotalEnergyConsumption (old driver)");
  *state = st;
  return DLE_OK;
fail:
  nvml_close(st);
  return rc;
}

static bool pid_in(pid_t pid, const pid_t *pids, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (pids[i] == pid) return true;
  return false;
}

/* Marks g as used when one of its compute processes is in the tree. */
static void check_procs(nvml_state *st, nvml_gpu *g, const dle_tick *tick) {
  if (!st->procs) {
    st->proc_cap = 64;
    st->procs = calloc(st->proc_cap, sizeof *st->procs);
    if (!st->procs) return;
  }
  for (int attempt = 0; attempt < 3; attempt++) {
    unsigned int cnt = st->proc_cap;
    nvml_ret r;
    if (st->api.get_procs_v3 || st->api.get_procs_v2) {
      r = st->api.get_procs_v3 ? st->api.get_procs_v3(g->dev, &cnt, st->procs)
                               : st->api.get_procs_v2(g->dev, &cnt, st->procs);
      if (r == NVML_OK) {
        for (unsigned int k = 0; k < cnt && k < st->proc_cap; k++)
          if (pid_in((pid_t)st->procs[k].pid, tick->tree_pids, tick->n_tree_pids))
            g->used_by_tree = true;
        return;
      }
    } else if (st->api.get_procs_v1) {
      /* v1 records are smaller: the scratch buffer holds at least as many. */
      nvml_process_v1 *p1 = (nvml_process_v1 *)(void *)st->procs;
      r = st->api.get_procs_v1(g->dev, &cnt, p1);
      if (r == NVML_OK) {
        for (unsigned int k = 0; k < cnt && k < st->proc_cap; k++)
          if (pid_in((pid_t)p1[k].pid, tick->tree_pids, tick->n_tree_pids))
            g->used_by_tree = true;
        return;
      }
    } else {
      return;
    }
    if (r != NVML_ERR_INSUFFICIENT_SIZE || cnt <= st->proc_cap) return;
    nvml_process_v2 *np = realloc(st->procs, (size_t)(cnt + 16) * sizeof *np);
    if (!np) return;
    st->procs = np;
    st->proc_cap = cnt + 16;
  }
}

static void nvml_read(void *state, const dle_tick *tick, dle_sample *out) {
  nvml_state *st = state;
  out->n_gpus = st->n;
  for (uint32_t k = 0; k < st->n; k++) {
    nvml_gpu *g = &st->gpu[k];
    dle_gpu_sample *o = &out->gpu[k];
    o->device_index = g->index;
    unsigned int mw = 0;
    if (st->api.get_power(g->dev, &mw) == NVML_OK) o->power_w = mw / 1000.0;
    nvml_ret r;
    if (g->energy_ok) {
      unsigned long long mj = 0;
      r = st->api.get_energy(g->dev, &mj);
      if (r == NVML_OK) o->energy_counter_j = (double)mj / 1000.0;
      else if (r == NVML_ERR_NOT_SUPPORTED) g->energy_ok = false;
    }
    if (g->util_ok) {
      nvml_utilization u;
      r = st->api.get_util(g->dev, &u);
      if (r == NVML_OK) {
        o->util_gpu_pct = u.gpu;
        o->util_mem_pct = u.memory;
      } else if (r == NVML_ERR_NOT_SUPPORTED) {
        g->util_ok = false;
      }
    }
    if (g->mem_ok) {
      nvml_memory m;
      r = st->api.get_mem(g->dev, &m);
      if (r == NVML_OK) {
        o->mem_used_mib = (double)m.used / 1048576.0;
        o->mem_total_mib = (double)m.total / 1048576.0;
      } else if (r == NVML_ERR_NOT_SUPPORTED) {
        g->mem_ok = false;
      }
    }
    if (g->temp_ok) {
      unsigned int c = 0;
      r = st->api.get_temp(g->dev, NVML_TEMPERATURE_GPU, &c);
      if (r == NVML_OK) o->temp_c = c;
      else if (r == NVML_ERR_NOT_SUPPORTED) g->temp_ok = false;
    }
    if (g->limit_ok) {
      unsigned int lim = 0;
      r = st->api.get_enforced_limit(g->dev, &lim);
      if (r == NVML_OK) o->power_limit_w = lim / 1000.0;
      else if (r == NVML_ERR_NOT_SUPPORTED) g->limit_ok = false;
    }
    if (tick->check_gpu_procs && tick->n_tree_pids && !g->used_by_tree) check_procs(st, g, tick);
  }
}

static void nvml_update_info(void *state, dle_sensors_info *info) {
  const nvml_state *st = state;
  for (uint32_t k = 0; k < st->n && k < info->n_gpus; k++)
    info->gpu[k].used_by_tree = st->gpu[k].used_by_tree;
}

const dle_sensor_ops dle_sensor_nvml = {"nvml", nvml_open, nvml_close, nvml_read,
                                        nvml_update_info};
