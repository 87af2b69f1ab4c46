/* trace.h — a run's samples as columns (struct of arrays), the form every
 * analysis (energy, estimate, stabilize, report) reads. Absent values are NaN. */
#ifndef DLENERGY_TRACE_H
#define DLENERGY_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_trace {
  size_t n;                     /* number of samples */
  size_t cap;                   /* allocated rows (internal) */
  uint32_t n_gpus;              /* largest n_gpus seen */
  double *t_s;                  /* run-relative seconds, non-decreasing */
  double *wall_s;               /* Unix seconds */
  double *gpu_power_w;          /* sum over GPUs */
  double *gpu_util_pct;         /* mean over GPUs */
  double *gpu_mem_util_pct;     /* mean over GPUs */
  double *gpu_mem_used_mib;     /* sum over GPUs */
  double *gpu_temp_c;           /* max over GPUs */
  double *gpu_energy_counter_j; /* sum of NVML counters; NaN if any GPU lacks one */
  double *gpu_power_limit_w;    /* sum of enforced limits */
  double *cpu_util_pct;
  double *rss_mib;
  double *cpu_power_w;
  double *dram_power_w;
  double *ram_power_w;
  double *dev_power_w[DLE_MAX_GPUS]; /* per device slot; NULL for slots never seen */
  uint32_t dev_index[DLE_MAX_GPUS];  /* NVML index of the device in each slot */
} dle_trace;

/* Zero-initialize with `dle_trace t = {0};` then append. */
int dle_trace_append(dle_trace *t, const dle_sample *s, dle_error *err);
int dle_trace_reserve(dle_trace *t, size_t rows, dle_error *err);
void dle_trace_free(dle_trace *t);

#ifdef __cplusplus
}
#endif
#endif
