/* sensors.h — everything dlenergy can read about the machine and the monitored
 * process tree, behind one handle.
 *
 * Sensors (each can be disabled):
 *   nvml    NVIDIA GPUs through libnvidia-ml.so.1 opened with dlopen at run time
 *           (no CUDA at build time): power, energy counter (Volta+), utilization,
 *           memory, temperature, enforced limit; static name, UUID, TDP (max limit).
 *   rapl    CPU package and DRAM energy from Linux powercap (intel-rapl, also used
 *           by AMD), counter wrap-around corrected via max_energy_range_uj.
 *   procfs  the monitored process tree (a root pid and all its descendants) from
 *           /proc: CPU % (100 = every logical CPU busy) and RSS; host RAM total.
 * Modelled parts, used where nothing measures:
 *   RAM power  = ram_w_per_gb x RSS in GB (GB = 1e9 bytes; the study's 0.375 W/GB);
 *                scope machine: x the host's MemTotal instead
 *   CPU power  = full-load power of the visible CPUs x tree CPU utilization
 *                (100 % = every logical CPU busy), when RAPL is absent; scope
 *                machine: x the host's CPU utilization (/proc/stat).
 *                Full-load power: cpu_tdp_w x packages when configured, else
 *                from data/cpu_tdp.csv matched on the /proc/cpuinfo "model name":
 *                W per thread (a part's TDP / its threads, or a family's median
 *                for generic strings such as "AMD EPYC") x the logical CPUs
 *                this machine sees, at most the part's TDP x packages. A 2-vCPU
 *                guest is charged two threads' share, not a whole package.
 * Every reading a sensor does not have is NaN in the dle_sample, never zero.
 *
 * Not thread-safe: one thread (the sampler) uses a handle. */
#ifndef DLENERGY_SENSORS_H
#define DLENERGY_SENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_sensors_config {
  pid_t root_pid;            /* monitored process tree root; 0 = none yet (set later) */
  bool enable_nvml;          /* default true */
  bool enable_rapl;          /* default true */
  bool enable_procfs;        /* default true */
  bool require_nvml;         /* default false: when true, a missing NVML is an error,
                                otherwise the GPU readings are simply absent */
  const char *gpus;          /* NULL, "" or "all" = every device; else "0,2" (NVML indices) */
  double ram_w_per_gb;       /* default 0.375; NaN or <= 0 disables the RAM model */
  double cpu_tdp_w;          /* per CPU package (socket); NaN = look up data/cpu_tdp.csv */
  const char *nvml_lib;      /* NULL = $DLENERGY_NVML_LIB, else "libnvidia-ml.so.1" */
  const char *proc_root;     /* NULL = "/proc" (tests point it at a fake tree) */
  const char *powercap_root; /* NULL = "/sys/class/powercap" */
  const char *cpu_tdp_table; /* NULL = data/cpu_tdp.csv found with dle_data_path() */
  int scope;                 /* DLE_SCOPE_PROCESS (default) or DLE_SCOPE_MACHINE */
  double tree_rescan_s;      /* how often descendants are re-discovered; default 1.0;
                                0 = every read; < 0 = only at the first read (the
                                root and the descendants it has then) */
} dle_sensors_config;

/* What the modelled CPU and RAM power covers (CodeCarbon's "tracking mode"):
 * the monitored process tree's share (the study's rule) or the whole host. */
enum { DLE_SCOPE_PROCESS = 0, DLE_SCOPE_MACHINE = 1 };
const char *dle_scope_str(int scope);
/* "process" or "machine" -> scope; -1 when neither. */
int dle_scope_parse(const char *s);

/* Fills the defaults listed above. */
void dle_sensors_config_init(dle_sensors_config *cfg);

enum { DLE_NAME_MAX = 128 };

/* What the process lists say about one GPU and the monitored tree. */
typedef enum dle_gpu_use {
  DLE_GPU_USE_UNCHECKED = 0, /* no process list read yet */
  DLE_GPU_USE_UNKNOWN,       /* could not check: the list failed (NO_PERMISSION, MIG,
                                NOT_SUPPORTED) or its pids are not ours (container) */
  DLE_GPU_USE_NONE,          /* listed, and no process of the tree was on it */
  DLE_GPU_USE_USED           /* a process of the tree ran compute on it */
} dle_gpu_use;

/* Static facts about one selected GPU, read once at open. */
typedef struct dle_gpu_info {
  uint32_t index;            /* NVML index */
  char name[DLE_NAME_MAX];
  char uuid[DLE_NAME_MAX];
  double tdp_w;              /* max power-management limit; NaN if unknown */
  double power_limit_w;      /* enforced power limit at open; NaN if unknown */
  double mem_total_mib;      /* NaN if unknown */
  bool has_energy_counter;   /* nvmlDeviceGetTotalEnergyConsumption works */
  bool used_by_tree;         /* a process of the monitored tree ran compute on it
                                (any time so far) */
  /* Dynamic facts (refreshed by dle_sensors_get_info). */
  double default_limit_w;    /* default power-management limit; NaN if unknown */
  char power_field[16];      /* "instant" (NVML_FI_DEV_POWER_INSTANT) or "average"
                                (nvmlDeviceGetPowerUsage: a 1 s mean on Ampere+) */
  bool mig;                  /* MIG mode on: the figures cover the whole physical GPU */
  dle_gpu_use use;           /* what the process lists say (used_by_tree == USED) */
  bool shared;               /* used by the tree and by processes outside it */
  bool visible_to_tree;      /* named by the tree's CUDA_/NVIDIA_VISIBLE_DEVICES */
  bool lost;                 /* answered GPU_IS_LOST: no longer polled */
  uint64_t read_failures;    /* power readings that failed (gaps for this device) */
  char use_note[96];         /* why use is UNKNOWN, "" otherwise */
} dle_gpu_info;

/* Facts for the run's metadata and where every component comes from. */
typedef struct dle_sensors_info {
  /* Sources, as dle_run_info wants them. */
  char gpu_source[16];       /* "nvml" or "none" */
  char cpu_source[16];       /* "rapl", "model" or "none" */
  char dram_source[16];      /* "rapl" or "none" */
  char ram_source[16];       /* "model" or "none" */
  /* GPUs */
  char nvml_driver[64];      /* driver version if NVML reports it, else "" */
  uint32_t n_gpus;           /* selected devices; dle_sample.gpu[k] is gpu[k] */
  dle_gpu_info gpu[DLE_MAX_GPUS];
  uint32_t gpus_skipped;     /* devices left out at open (handle failed under "all") */
  bool pid_ns_foreign;       /* NVML's pids are not this pid namespace's (container):
                                attribution by process is impossible */
  char visible_var[32];      /* "CUDA_VISIBLE_DEVICES" / "NVIDIA_VISIBLE_DEVICES" found in
                                the tree's environment, "" if none */
  char visible_devices[128]; /* its value */
  /* Host */
  char cpu_model[256];       /* /proc/cpuinfo "model name", "" if unknown */
  int cpu_logical;           /* logical CPUs online */
  int cpu_packages;          /* physical packages (sockets), >= 1 */
  double cpu_tdp_w;          /* per package; NaN if unknown (or a family fallback) */
  char cpu_tdp_source[256];  /* "config", "table: <source>", or "none" */
  double cpu_model_w;        /* modelled CPU power at 100 % of the visible CPUs; NaN if
                                the CPU is not modelled (RAPL measures it, or no table) */
  double cpu_w_per_thread;   /* the table's W per thread; NaN for --cpu-tdp or none */
  bool cpu_model_generic;    /* a family fallback for a generic model string */
  char cpu_model_how[256];   /* the assumption in words, "" if not modelled */
  int scope;                 /* DLE_SCOPE_* in use */
  double host_ram_gb;        /* MemTotal, GB = 1e9 bytes; NaN if unknown */
  double ram_w_per_gb;       /* the RAM model coefficient in use; NaN if off */
  int rapl_packages;         /* package domains read; 0 = none */
  int rapl_dram;             /* DRAM domains read */
  /* Why a sensor is absent ("NVML: libnvidia-ml.so.1 not found: ...;
   * RAPL: permission denied ..."), "" when every enabled sensor works. */
  char notes[512];
} dle_sensors_info;

typedef struct dle_sensors dle_sensors;

/* Opens every enabled sensor. A sensor that is not available here (no NVIDIA
 * driver, unreadable powercap) is recorded as absent with a note in
 * dle_sensors_info.notes; it is an error only when:
 *   - require_nvml is set and NVML cannot be loaded (DLE_EUNSUPPORTED),
 *   - NVML loads but lacks a mandatory symbol (DLE_EUNSUPPORTED, names it),
 *   - cfg->gpus is malformed (DLE_EINVAL) or names a device that does not
 *     exist (DLE_ENOTFOUND),
 *   - other bad configuration values (DLE_EINVAL). */
int dle_sensors_open(const dle_sensors_config *cfg, dle_sensors **out, dle_error *err);

/* Frees everything and calls nvmlShutdown. NULL is fine. */
void dle_sensors_close(dle_sensors *s);

/* Copies the static facts (the used_by_tree flags are current). */
void dle_sensors_get_info(const dle_sensors *s, dle_sensors_info *out);

/* The GPUs whose energy is the run's headline figure: those the tree used by
 * process, else those its CUDA_/NVIDIA_VISIBLE_DEVICES names, else every
 * monitored GPU. Sets headline[k] for info->gpu[k]; returns the basis:
 * "process", "visible devices" or "all". */
const char *dle_sensors_headline_gpus(const dle_sensors_info *info, bool headline[DLE_MAX_GPUS]);

/* Changes the monitored root (e.g. once fork returned). The tree is rediscovered
 * at the next read, and its CPU time is counted from then on. */
void dle_sensors_set_pid(dle_sensors *s, pid_t root_pid);

/* Reads one sample at monotonic instant now_ns (CLOCK_MONOTONIC nanoseconds).
 * Fills out completely: sample fields the sensors do not provide are NaN; t_s
 * and wall_s are left for the caller (the sampler) to set. Rates (CPU %,
 * RAPL power) are over the time since the previous read, or since open for the
 * first read. Transient read failures give NaN readings, not errors; the
 * function fails only on invalid arguments. */
int dle_sensors_read(dle_sensors *s, int64_t now_ns, dle_sample *out, dle_error *err);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
int64_t dle_monotonic_ns(void);

#ifdef __cplusplus
}
#endif
#endif
