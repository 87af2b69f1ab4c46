/* sample.h — the records that flow from sensors through the sampler into the run store.
 *
 * Absent readings are NaN (the store keeps them as NULL): "not available" is never
 * confused with zero. Units are in the names; joules, watts and seconds throughout. */
#ifndef DLENERGY_SAMPLE_H
#define DLENERGY_SAMPLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { DLE_MAX_GPUS = 16 };

/* One GPU at one instant. */
typedef struct dle_gpu_sample {
  uint32_t device_index;     /* NVML index (or position in an imported log) */
  double power_w;            /* instantaneous board power draw */
  double energy_counter_j;   /* NVML cumulative energy since driver load; NaN if unsupported */
  double util_gpu_pct;       /* 0..100 */
  double util_mem_pct;       /* memory-controller activity, 0..100 */
  double mem_used_mib;
  double mem_total_mib;
  double temp_c;
  double power_limit_w;      /* enforced power limit */
} dle_gpu_sample;

/* One sampler tick (or one imported row). */
typedef struct dle_sample {
  double t_s;                /* seconds since the run started, monotonic clock */
  double wall_s;             /* Unix time in seconds (UTC) when the sample was taken */
  double cpu_util_pct;       /* monitored process tree CPU, 100 = every logical CPU busy */
  double rss_mib;            /* monitored process tree resident memory */
  double cpu_power_w;        /* CPU package power: RAPL (measured) or TDP x utilization (modelled) */
  double dram_power_w;       /* RAPL DRAM domain (measured); NaN when absent */
  double ram_power_w;        /* modelled: W per GB x RSS GB */
  double cpu_energy_counter_j;  /* RAPL package counter, wrap-corrected, since run start; NaN if none */
  double dram_energy_counter_j; /* RAPL DRAM counter, wrap-corrected, since run start; NaN if none */
  uint32_t n_gpus;
  dle_gpu_sample gpu[DLE_MAX_GPUS];
} dle_sample;

/* Initializes every reading to NaN and n_gpus to 0. */
void dle_sample_clear(dle_sample *s);

/* Sum of power_w over the GPUs that report it; NaN when none does. */
double dle_sample_gpu_power_w(const dle_sample *s);

/* One epoch as reported by the training script (marker protocol). */
typedef struct dle_epoch {
  int32_t index;             /* as the script numbers it (0- or 1-based, kept as given) */
  double t_begin_s;          /* run-relative; NaN when only the end was reported */
  double t_end_s;            /* run-relative; NaN while the epoch is open */
  char metrics[256];         /* "loss=0.41 val_accuracy=0.93" as reported; may be empty */
} dle_epoch;

#ifdef __cplusplus
}
#endif
#endif
