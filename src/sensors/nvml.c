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
#include <unistd.h>

#include "sensor.h"

/* ---- the slice of the NVML API we use ---- */
typedef int nvml_ret;
typedef void *nvml_dev;
enum {
  NVML_OK = 0,
  NVML_ERR_NOT_SUPPORTED = 3,
  NVML_ERR_NO_PERMISSION = 4,
  NVML_ERR_INSUFFICIENT_SIZE = 7,
  NVML_ERR_GPU_IS_LOST = 15
};
enum { NVML_FI_DEV_POWER_INSTANT = 186 };
enum { NVML_TEMPERATURE_GPU = 0 };
typedef struct { unsigned int gpu, memory; } nvml_utilization;
typedef struct { unsigned long long total, free, used; } nvml_memory;
typedef struct { unsigned int pid; unsigned long long used_gpu_memory; } nvml_process_v1;
typedef struct {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id, compute_instance_id;
} nvml_process_v2;
/* nvmlProcessDetail_v1_t, and the _v3 record of drivers 535.43 to 535.86 (both
 * 32 bytes: usedGpuCcProtectedMemory at the end). The largest record: every
 * process-list buffer is sized for it. */
typedef struct {
  unsigned int pid;
  unsigned long long used_gpu_memory;
  unsigned int gpu_instance_id, compute_instance_id;
  unsigned long long used_cc_protected_memory;
} nvml_process_detail;
typedef struct {
  unsigned int version;
  unsigned int mode; /* 0 compute, 2 MPS compute */
  unsigned int num_entries;
  nvml_process_detail *procs;
} nvml_process_detail_list;
#define NVML_DETAIL_LIST_V1 ((unsigned)(sizeof(nvml_process_detail_list) | (1u << 24)))
typedef union {
  double d;
  unsigned int ui;
  unsigned long ul;
  unsigned long long ull;
  signed long long sll;
  signed int si;
} nvml_value;
typedef struct {
  unsigned int field_id, scope_id;
  long long timestamp, latency_us;
  int value_type; /* 0 double, 1 uint, 2 ulong, 3 ulonglong, 4 slonglong, 5 sint */
  nvml_ret ret;
  nvml_value value;
} nvml_field_value;
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
  nvml_ret (*get_default_limit)(nvml_dev, unsigned int *);
  nvml_ret (*get_field_values)(nvml_dev, int, nvml_field_value *);
  nvml_ret (*get_mig_mode)(nvml_dev, unsigned int *, unsigned int *);
  nvml_ret (*get_detail_list)(nvml_dev, nvml_process_detail_list *);
  nvml_ret (*get_procs[3])(nvml_dev, unsigned int *, void *);     /* v1, v2, v3 */
  nvml_ret (*get_mps_procs[3])(nvml_dev, unsigned int *, void *); /* v1, v2, v3 */
  void *conf_compute_mem; /* only its presence: marks the 32-byte _v3 drivers */
  size_t rec_size[3];     /* bytes per record of v1, v2, v3 */
} nvml_api;

typedef struct nvml_gpu {
  uint32_t index;
  nvml_dev dev;
  bool energy_ok, util_ok, mem_ok, temp_ok, limit_ok; /* stop asking after NOT_SUPPORTED */
  bool instant_ok; /* NVML_FI_DEV_POWER_INSTANT answered at open */
  bool used_by_tree, foreign, lost, mig;
  dle_gpu_use use;
  int procs_level; /* newest process-list call that still works: 3, 2, 1; 0 none */
  uint64_t read_failures;
  char use_note[96];
} nvml_gpu;

typedef struct nvml_state {
  nvml_api api;
  bool initialized;
  uint32_t n;
  nvml_gpu gpu[DLE_MAX_GPUS];
  unsigned int proc_cap;        /* records of the largest size the scratch holds */
  nvml_process_detail *procs;   /* scratch for running-process queries */
  pid_t *listed;                /* pids of one device's last list */
  char proc_root[256];
  bool ns_initial;              /* our pid namespace is the initial one */
  bool ns_foreign;              /* NVML's pids are not ours */
  bool any_used;                /* some GPU was used by the tree */
  pid_t missing[32];            /* listed pids not in our /proc (0 = empty slot) */
  unsigned n_missing;
  bool visible_found;
  pid_t env_checked[16];        /* tree pids whose environment was read */
  int n_env_checked;
  char visible_var[32], visible[128];
  uint32_t skipped;
  char notes[256];              /* notes raised while reading (lost GPUs) */
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
  free(st->listed);
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
  load_sym(a->lib, "nvmlDeviceGetPowerManagementDefaultLimit", &a->get_default_limit);
  load_sym(a->lib, "nvmlDeviceGetFieldValues", &a->get_field_values);
  load_sym(a->lib, "nvmlDeviceGetMigMode", &a->get_mig_mode);
  load_sym(a->lib, "nvmlDeviceGetRunningProcessDetailList", &a->get_detail_list);
  load_sym(a->lib, "nvmlDeviceGetComputeRunningProcesses", &a->get_procs[0]);
  load_sym(a->lib, "nvmlDeviceGetComputeRunningProcesses_v2", &a->get_procs[1]);
  load_sym(a->lib, "nvmlDeviceGetComputeRunningProcesses_v3", &a->get_procs[2]);
  load_sym(a->lib, "nvmlDeviceGetMPSComputeRunningProcesses", &a->get_mps_procs[0]);
  load_sym(a->lib, "nvmlDeviceGetMPSComputeRunningProcesses_v2", &a->get_mps_procs[1]);
  load_sym(a->lib, "nvmlDeviceGetMPSComputeRunningProcesses_v3", &a->get_mps_procs[2]);
  a->conf_compute_mem = dlsym(a->lib, "nvmlDeviceGetConfComputeMemSizeInfo");
  /* Record sizes (nvml.h of each release; nvitop's rule): v1 16 bytes, v2 24;
   * _v3 is 32 bytes on the drivers that export ConfComputeMemSizeInfo but not
   * yet RunningProcessDetailList (535.43 to 535.86), 24 everywhere else. */
  a->rec_size[0] = sizeof(nvml_process_v1);
  a->rec_size[1] = sizeof(nvml_process_v2);
  a->rec_size[2] = a->conf_compute_mem && !a->get_detail_list ? sizeof(nvml_process_detail)
                                                              : sizeof(nvml_process_v2);
  return DLE_OK;
}

static void copy_str(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src);
}

/* Our pid namespace is the initial one (inode 0xEFFFFFFC, PROC_PID_INIT_INO). */
static bool pid_ns_initial(const char *proc_root) {
  char path[300], link[64];
  snprintf(path, sizeof path, "%s/self/ns/pid", proc_root);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n <= 0) return true; /* cannot tell: assume a plain host */
  link[n] = '\0';
  return strcmp(link, "pid:[4026531836]") == 0;
}

/* Reads one power value: NVML_FI_DEV_POWER_INSTANT where it works, else
 * nvmlDeviceGetPowerUsage. Returns the NVML status. */
static nvml_ret read_power_mw(const nvml_api *a, nvml_gpu *g, double *mw) {
  if (g->instant_ok) {
    nvml_field_value fv;
    memset(&fv, 0, sizeof fv);
    fv.field_id = NVML_FI_DEV_POWER_INSTANT;
    nvml_ret r = a->get_field_values(g->dev, 1, &fv);
    if (r == NVML_OK && fv.ret == NVML_OK) {
      switch (fv.value_type) {
        case 0: *mw = fv.value.d; break;
        case 2: *mw = (double)fv.value.ul; break;
        case 3: *mw = (double)fv.value.ull; break;
        case 4: *mw = (double)fv.value.sll; break;
        case 5: *mw = fv.value.si; break;
        default: *mw = fv.value.ui; break;
      }
      return NVML_OK;
    }
    if (r == NVML_ERR_GPU_IS_LOST) return r;
    return r != NVML_OK ? r : fv.ret;
  }
  unsigned int v = 0;
  nvml_ret r = a->get_power(g->dev, &v);
  if (r == NVML_OK) *mw = v;
  return r;
}

static int nvml_open(const dle_sensors_config *cfg, void **state, dle_sensors_info *info,
                     dle_error *err) {
  uint64_t mask = 0;
  bool all = true;
  int rc = dle_parse_gpu_list(cfg->gpus, &mask, &all, err);
  if (rc) return rc;
  nvml_state *st = calloc(1, sizeof *st);
  if (!st) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  copy_str(st->proc_root, sizeof st->proc_root,
           cfg->proc_root && *cfg->proc_root ? cfg->proc_root : "/proc");
  st->ns_initial = pid_ns_initial(st->proc_root);
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
  int n_instant = 0, n_average = 0;
  for (unsigned int i = 0; i < count; i++) {
    if (!all && !(i < 64 && (mask >> i & 1u))) continue;
    if (st->n == DLE_MAX_GPUS) {
      dle_info_note(info, "NVML: only the first %d selected GPUs are monitored", DLE_MAX_GPUS);
      break;
    }
    nvml_gpu *g = &st->gpu[st->n];
    memset(g, 0, sizeof *g);
    g->index = i;
    r = st->api.get_handle(i, &g->dev);
    if (r != NVML_OK) {
      /* A GPU the user named must work; under "all" one bad board (no
       * permission, lost, insufficient power) is skipped, not fatal. */
      if (!all) {
        rc = dle_error_set(err, DLE_EIO, "NVML handle of GPU %u: %s (code %d)", i,
                           nvml_errstr(&st->api, r), r);
        goto fail;
      }
      dle_info_note(info, "NVML: GPU %u skipped: %s (code %d)", i, nvml_errstr(&st->api, r), r);
      st->skipped++;
      continue;
    }
    dle_gpu_info *gi = &info->gpu[st->n];
    memset(gi, 0, sizeof *gi);
    gi->index = i;
    gi->tdp_w = gi->power_limit_w = gi->mem_total_mib = gi->default_limit_w = NAN;
    char buf[256];
    if (st->api.get_name(g->dev, buf, sizeof buf) == NVML_OK) copy_str(gi->name, sizeof gi->name, buf);
    if (st->api.get_uuid && st->api.get_uuid(g->dev, buf, sizeof buf) == NVML_OK)
      copy_str(gi->uuid, sizeof gi->uuid, buf);
    unsigned int mn = 0, mx = 0, lim = 0;
    if (st->api.get_limit_constraints &&
        st->api.get_limit_constraints(g->dev, &mn, &mx) == NVML_OK)
      gi->tdp_w = mx / 1000.0;
    if (st->api.get_default_limit && st->api.get_default_limit(g->dev, &lim) == NVML_OK)
      gi->default_limit_w = lim / 1000.0;
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
    /* Instantaneous power where the driver has the field (Zeus does the same):
     * nvmlDeviceGetPowerUsage is a 1-second mean on Ampere (but GA100) and later. */
    if (st->api.get_field_values) {
      g->instant_ok = true;
      double mw;
      g->instant_ok = read_power_mw(&st->api, g, &mw) == NVML_OK;
    }
    copy_str(gi->power_field, sizeof gi->power_field, g->instant_ok ? "instant" : "average");
    if (g->instant_ok) n_instant++;
    else n_average++;
    unsigned int cur = 0, pend = 0;
    if (st->api.get_mig_mode && st->api.get_mig_mode(g->dev, &cur, &pend) == NVML_OK && cur == 1) {
      g->mig = gi->mig = true;
      dle_info_note(info,
                    "NVML: GPU %u is in MIG mode: its power and energy cover the whole "
                    "physical GPU, every MIG instance on it included",
                    i);
    }
    if (strstr(gi->name, "GH200") || strstr(gi->name, "GB200"))
      dle_info_note(info,
                    "NVML: GPU %u (%s) is a superchip module whose power reading may "
                    "include the Grace CPU: a modelled CPU on top would count it twice",
                    i, gi->name);
    g->procs_level = st->api.get_procs[2] ? 3 : st->api.get_procs[1] ? 2 : st->api.get_procs[0] ? 1 : 0;
    st->n++;
  }
  if (st->n == 0 && (!all || st->skipped)) {
    rc = all ? DLE_SENSOR_ABSENT : DLE_ENOTFOUND;
    dle_error_set(err, all ? DLE_EUNSUPPORTED : DLE_ENOTFOUND,
                  all ? "every GPU failed to open (%u skipped)" : "no GPU selected", st->skipped);
    goto fail;
  }
  info->n_gpus = st->n;
  info->gpus_skipped = st->skipped;
  copy_str(info->gpu_source, sizeof info->gpu_source, "nvml");
  if (!st->api.get_energy)
    dle_info_note(info, "NVML: no nvmlDeviceGetTotalEnergyConsumption (old driver)");
  if (n_average && st->n)
    dle_info_note(info,
                  "NVML: %d GPU%s read with nvmlDeviceGetPowerUsage (a 1 s average on Ampere "
                  "and newer), the instantaneous field is not available",
                  n_average, n_average == 1 ? "" : "s");
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

/* Whether pid exists in our /proc. Pids found missing are remembered (32 of
 * them), so a steady list of foreign pids costs no system call per check. */
static bool pid_exists(nvml_state *st, pid_t pid) {
  if (pid_in(pid, st->missing, sizeof st->missing / sizeof st->missing[0])) return false;
  char path[300];
  snprintf(path, sizeof path, "%s/%ld", st->proc_root, (long)pid);
  if (access(path, F_OK) == 0) return true;
  st->missing[st->n_missing++ % (sizeof st->missing / sizeof st->missing[0])] = pid;
  return false;
}

/* Grows the scratch buffers to hold cap records of the largest size. */
static bool reserve_procs(nvml_state *st, unsigned int cap) {
  if (st->procs && cap <= st->proc_cap) return true;
  nvml_process_detail *np = realloc(st->procs, (size_t)cap * sizeof *np);
  if (!np) return false;
  st->procs = np;
  pid_t *nl = realloc(st->listed, (size_t)cap * sizeof *nl);
  if (!nl) return false;
  st->listed = nl;
  st->proc_cap = cap;
  return true;
}

/* One list query (DetailList with mode, or the versioned call fn whose
 * records are rec bytes) into st->listed; *n = pids listed. */
static nvml_ret list_once(nvml_state *st, nvml_gpu *g, int level, bool mps, unsigned int *n) {
  for (int attempt = 0; attempt < 3; attempt++) {
    unsigned int cnt = st->proc_cap;
    nvml_ret r;
    size_t rec;
    if (level == 4) {
      nvml_process_detail_list l = {NVML_DETAIL_LIST_V1, mps ? 2u : 0u, cnt, st->procs};
      r = st->api.get_detail_list(g->dev, &l);
      cnt = l.num_entries;
      rec = sizeof(nvml_process_detail);
    } else {
      nvml_ret (*fn)(nvml_dev, unsigned int *, void *) =
          mps ? st->api.get_mps_procs[level - 1] : st->api.get_procs[level - 1];
      if (!fn) return NVML_ERR_NOT_SUPPORTED;
      r = fn(g->dev, &cnt, st->procs);
      rec = st->api.rec_size[level - 1];
    }
    if (r == NVML_OK) {
      if (cnt > st->proc_cap) cnt = st->proc_cap;
      const unsigned char *base = (const unsigned char *)st->procs;
      for (unsigned int k = 0; k < cnt; k++) {
        unsigned int pid;
        memcpy(&pid, base + k * rec, sizeof pid); /* pid is the first member of every record */
        st->listed[k] = (pid_t)pid;
      }
      *n = cnt;
      return NVML_OK;
    }
    if (r != NVML_ERR_INSUFFICIENT_SIZE || cnt <= st->proc_cap) return r;
    if (!reserve_procs(st, cnt + 16)) return r;
  }
  return NVML_ERR_INSUFFICIENT_SIZE;
}

/* Which processes run on g: DetailList where exported, else _v3, _v2, v1 (a
 * newer call that fails falls back to the older one, as nvtop does), plus the
 * MPS clients where the driver lists them. Updates g->use. */
static void check_procs(nvml_state *st, nvml_gpu *g, const dle_tick *tick, bool *saw_pid,
                        bool *listed_foreign) {
  if (!reserve_procs(st, 64)) return;
  nvml_ret r = NVML_ERR_NOT_SUPPORTED;
  unsigned int n = 0;
  if (st->api.get_detail_list) r = list_once(st, g, 4, false, &n);
  if (r != NVML_OK) {
    while (g->procs_level > 0) {
      r = list_once(st, g, g->procs_level, false, &n);
      if (r == NVML_OK || r == NVML_ERR_NO_PERMISSION || r == NVML_ERR_GPU_IS_LOST) break;
      g->procs_level--;
    }
  }
  if (r != NVML_OK) {
    if (g->use != DLE_GPU_USE_USED) {
      g->use = DLE_GPU_USE_UNKNOWN;
      snprintf(g->use_note, sizeof g->use_note, "process list failed: %s (code %d)%s",
               nvml_errstr(&st->api, r), r, g->mig ? " under MIG" : "");
    }
    return;
  }
  bool ours = false, foreign = false;
  for (int pass = 0; pass < 2; pass++) {
    for (unsigned int k = 0; k < n; k++) {
      pid_t pid = st->listed[k];
      if (pid_in(pid, tick->tree_pids, tick->n_tree_pids)) {
        ours = true;
      } else {
        foreign = true;
        /* Only the container rule needs it, and one existing pid settles it. */
        if (!*saw_pid && st->ns_initial && !st->any_used && pid_exists(st, pid)) *saw_pid = true;
      }
    }
    if (pass == 1) break;
    /* Under MPS the plain list shows the server; the clients are listed apart. */
    n = 0;
    bool mps = false;
    if (st->api.get_detail_list)
      mps = list_once(st, g, 4, true, &n) == NVML_OK;
    for (int lv = 3; !mps && lv >= 1; lv--)
      if (st->api.get_mps_procs[lv - 1]) mps = list_once(st, g, lv, true, &n) == NVML_OK;
    if (!mps) break;
  }
  if (ours) {
    g->used_by_tree = true;
    g->use = DLE_GPU_USE_USED;
    g->use_note[0] = '\0';
  } else if (g->use != DLE_GPU_USE_USED) {
    g->use = DLE_GPU_USE_NONE;
    g->use_note[0] = '\0';
  }
  if (foreign) g->foreign = *listed_foreign = true;
}

/* "0,GPU-abcd,2" -> the monitored slots it names (by index or UUID prefix). */
static void apply_visible(const nvml_state *st, const char *list, dle_sensors_info *info) {
  bool any_all = strcmp(list, "all") == 0;
  for (uint32_t k = 0; k < st->n && k < info->n_gpus; k++) info->gpu[k].visible_to_tree = any_all;
  if (any_all) return;
  char buf[128];
  copy_str(buf, sizeof buf, list);
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    char *end = NULL;
    unsigned long v = strtoul(tok, &end, 10);
    for (uint32_t k = 0; k < st->n && k < info->n_gpus; k++) {
      const char *u = info->gpu[k].uuid;
      bool hit = (end != tok && *end == '\0' && v == info->gpu[k].index) ||
                 (strncmp(tok, "GPU-", 4) == 0 && u[0] && strncmp(u, tok, strlen(tok)) == 0);
      if (hit) info->gpu[k].visible_to_tree = true;
    }
  }
}

/* Looks for CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES in the environment
 * of the tree's processes (root first); each pid is read once, 16 at most. */
static void find_visible(nvml_state *st, const dle_tick *tick) {
  for (size_t i = 0; i < tick->n_tree_pids && !st->visible_found; i++) {
    if (st->n_env_checked >= 16) return;
    if (pid_in(tick->tree_pids[i], st->env_checked, (size_t)st->n_env_checked)) continue;
    st->env_checked[st->n_env_checked++] = tick->tree_pids[i];
    char path[300];
    snprintf(path, sizeof path, "%s/%ld/environ", st->proc_root, (long)tick->tree_pids[i]);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    static const char *const vars[] = {"CUDA_VISIBLE_DEVICES=", "NVIDIA_VISIBLE_DEVICES="};
    char cuda[128] = "", nvidia[128] = "";
    char buf[32768];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
      for (int v = 0; v < 2; v++) {
        size_t vl = strlen(vars[v]);
        if (strncmp(buf + off, vars[v], vl) == 0)
          copy_str(v == 0 ? cuda : nvidia, sizeof cuda, buf + off + vl);
      }
    const char *val = cuda[0] ? cuda : nvidia[0] ? nvidia : NULL;
    if (val) {
      st->visible_found = true;
      copy_str(st->visible_var, sizeof st->visible_var,
               cuda[0] ? "CUDA_VISIBLE_DEVICES" : "NVIDIA_VISIBLE_DEVICES");
      copy_str(st->visible, sizeof st->visible, val);
    }
  }
}

static void note_lost(nvml_state *st, nvml_gpu *g) {
  g->lost = true;
  size_t len = strlen(st->notes);
  snprintf(st->notes + len, sizeof st->notes - len, "%sNVML: GPU %u lost during the run "
           "(GPU_IS_LOST): no longer polled", len ? "; " : "", g->index);
}

static void nvml_read(void *state, const dle_tick *tick, dle_sample *out) {
  nvml_state *st = state;
  out->n_gpus = st->n;
  bool saw_pid = false, listed_any = false;
  for (uint32_t k = 0; k < st->n; k++) {
    nvml_gpu *g = &st->gpu[k];
    dle_gpu_sample *o = &out->gpu[k];
    o->device_index = g->index;
    if (g->lost) continue;
    double mw = 0;
    nvml_ret r = read_power_mw(&st->api, g, &mw);
    if (r == NVML_OK) {
      o->power_w = mw / 1000.0;
    } else {
      g->read_failures++;
      if (r == NVML_ERR_GPU_IS_LOST) {
        note_lost(st, g);
        continue;
      }
    }
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
    if (tick->check_gpu_procs && tick->n_tree_pids) check_procs(st, g, tick, &saw_pid, &listed_any);
  }
  if (tick->check_gpu_procs && tick->n_tree_pids) {
    if (!st->visible_found) find_visible(st, tick);
    /* Container rule: processes are listed, none is ours, and either none of
     * them exists in our /proc or we are not in the initial pid namespace. */
    bool any_used = false;
    for (uint32_t k = 0; k < st->n; k++) any_used |= st->gpu[k].used_by_tree;
    if (!any_used && listed_any && (!saw_pid || !st->ns_initial)) st->ns_foreign = true;
    if (any_used) st->ns_foreign = false;
    st->any_used = any_used;
  }
}

static void nvml_update_info(void *state, dle_sensors_info *info) {
  const nvml_state *st = state;
  for (uint32_t k = 0; k < st->n && k < info->n_gpus; k++) {
    const nvml_gpu *g = &st->gpu[k];
    dle_gpu_info *gi = &info->gpu[k];
    gi->used_by_tree = g->used_by_tree;
    gi->use = g->use;
    copy_str(gi->use_note, sizeof gi->use_note, g->use_note);
    if (st->ns_foreign && g->use != DLE_GPU_USE_USED) {
      gi->use = DLE_GPU_USE_UNKNOWN;
      copy_str(gi->use_note, sizeof gi->use_note,
               "the driver's process ids are not this pid namespace's (container)");
    }
    gi->shared = g->used_by_tree && g->foreign;
    gi->lost = g->lost;
    gi->read_failures = g->read_failures;
  }
  info->pid_ns_foreign = st->ns_foreign;
  copy_str(info->visible_var, sizeof info->visible_var, st->visible_found ? st->visible_var : "");
  copy_str(info->visible_devices, sizeof info->visible_devices, st->visible_found ? st->visible : "");
  if (st->visible_found) apply_visible(st, st->visible, info);
  if (st->notes[0]) dle_info_note(info, "%s", st->notes);
}

const dle_sensor_ops dle_sensor_nvml = {"nvml", nvml_open, nvml_close, nvml_read,
                                        nvml_update_info};
