/* trace.h — a run's samples as columns (struct of arrays), the form every
 * analysis (energy, estimate, stabilize, report) reads. Absent values are NaN. */
#ifndef DLENERGY_TRACE_H
#define DLENERGY_TRACE_H

#include <stdbool.h>
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
  double *gpu_power_w;          /* sum over the headline GPUs (all until
                                   dle_trace_select_gpus); a missing reading of one
                                   GPU is a gap for that GPU (interpolated, or its last
                                   value while appending), never a dip; a row where
                                   no GPU has a reading (an import's pause, a stalled
                                   sampler) is NaN, a hole nothing is bridged across */
  double *gpu_util_pct;         /* mean over GPUs */
  double *gpu_mem_util_pct;     /* mean over GPUs */
  double *gpu_mem_used_mib;     /* sum over GPUs */
  double *gpu_temp_c;           /* max over GPUs */
  double *gpu_energy_counter_j; /* sum of NVML counters; NaN if any GPU lacks one.
                                   After dle_trace_select_gpus: the headline GPUs'
                                   energy since the first sample from their counters,
                                   reset-safe and interpolated over gaps */
  double *gpu_power_limit_w;    /* sum of enforced limits */
  double *cpu_util_pct;
  double *rss_mib;
  double *cpu_power_w;
  double *dram_power_w;
  double *ram_power_w;
  double *cpu_energy_counter_j;  /* RAPL package counter, wrap-corrected; NaN if none */
  double *dram_energy_counter_j; /* RAPL DRAM counter, wrap-corrected; NaN if none */
  double *dev_power_w[DLE_MAX_GPUS]; /* per device slot; NULL for slots never seen */
  uint32_t dev_index[DLE_MAX_GPUS];  /* NVML index of the device in each slot */
  double *dev_counter_j[DLE_MAX_GPUS]; /* raw NVML counter per slot; NULL for slots never seen */
  double dev_last_w[DLE_MAX_GPUS];   /* last valid power per slot (internal) */
  bool dev_seen[DLE_MAX_GPUS];       /* slot had a valid power reading (internal) */
  bool dev_headline[DLE_MAX_GPUS];   /* slot counts in the headline GPU figures */
  bool gpus_selected;                /* dle_trace_select_gpus ran and no row came since */
} dle_trace;

/* Zero-initialize with `dle_trace t = {0};` then append. */
int dle_trace_append(dle_trace *t, const dle_sample *s, dle_error *err);
int dle_trace_reserve(dle_trace *t, size_t rows, dle_error *err);
void dle_trace_free(dle_trace *t);

/* Makes the headline GPU columns (gpu_power_w, gpu_energy_counter_j) those of
 * the devices whose NVML index is in indices[0..n) (n == 0: every device), and
 * recomputes them gap-aware: each device's missing readings are interpolated
 * between its neighbours; before its first and after its last reading (a GPU
 * lost mid-run) it adds nothing. The counter column is reset-safe: a counter
 * that goes down (driver reload) continues from the new value, the interval of
 * the reset counted by the power integral. An index not in the trace is ignored. */
void dle_trace_select_gpus(dle_trace *t, const uint32_t *indices, size_t n);

/* Energy of slot d from its NVML counter over the whole trace, reset-safe as
 * above; NaN when the slot has no counter reading. */
double dle_trace_device_counter_j(const dle_trace *t, uint32_t slot);

/* True when at least one GPU has a power reading at row i: a row where every GPU
 * is missing is a hole in every GPU integral; one where only some are missing is
 * bridged for those. */
bool dle_trace_gpu_row_alive(const dle_trace *t, size_t i);

#ifdef __cplusplus
}
#endif
#endif
