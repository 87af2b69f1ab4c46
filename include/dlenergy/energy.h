/* energy.h — energy from power traces: trapezoid integrals per component, energy over
 * a time window with the power interpolated at the window's edges (so per-epoch
 * energies of adjacent epochs add up exactly to the whole), a run summary with the
 * NVML counter beside the integral, PUE, carbon intensity and emissions.
 *
 * NaN rule (everywhere here): a NaN power or time sample makes both intervals that
 * touch it contribute nothing. Gaps are skipped, never zero-filled and never bridged;
 * an all-NaN series integrates to NaN (not 0), a series of one valid sample to 0.
 *
 * Times must be non-decreasing; an interval with t[i] < t[i-1] is an error
 * (DLE_EINVAL), an interval of zero length contributes 0. */
#ifndef DLENERGY_ENERGY_H
#define DLENERGY_ENERGY_H

#include <stddef.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"
#include "dlenergy/store.h"
#include "dlenergy/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Modelled RAM power: W per GB of resident memory (the study's 0.375; Green
 * Algorithms uses 0.3725). GB here is GiB (1024 MiB), as psutil and procfs count. */
#define DLE_RAM_W_PER_GB 0.375

/* ram_w_per_gb x rss_mib / 1024; NaN when rss_mib is NaN. */
double dle_ram_power_w(double rss_mib, double ram_w_per_gb);

typedef enum dle_component {
  DLE_COMP_GPU = 0,  /* sum over the GPUs */
  DLE_COMP_CPU = 1,  /* CPU package (RAPL measured, or TDP x utilization modelled) */
  DLE_COMP_DRAM = 2, /* RAPL DRAM domain (measured) */
  DLE_COMP_RAM = 3,  /* modelled RAM power (W/GB x RSS) */
  DLE_COMP_COUNT = 4
} dle_component;

/* "gpu", "cpu", "dram", "ram"; "?" for an invalid value. */
const char *dle_component_name(dle_component c);
/* Parses "gpu"/"cpu"/"dram"/"ram" (case-insensitive). */
int dle_component_parse(const char *s, dle_component *out);
/* The trace column of a component (t->gpu_power_w, ...); NULL when c is invalid. */
const double *dle_trace_component_w(const dle_trace *t, dle_component c);

/* Trapezoid integral of p_w over t_s: sum of (t[i]-t[i-1]) x (p[i]+p[i-1]) / 2 over
 * the intervals whose both ends are valid. *out_j is NaN when no interval is valid
 * and there is no valid sample at all; 0 for n <= 1 valid sample. */
int dle_energy_trapezoid_j(const double *t_s, const double *p_w, size_t n, double *out_j);

/* Energy over [t0_s, t1_s]: the part of the trapezoid integral inside the window,
 * with power linearly interpolated at t0 and t1 inside the interval that straddles
 * each edge. So for t0 < tm < t1, between(t0,tm) + between(tm,t1) == between(t0,t1)
 * up to rounding, and between(t[0], t[n-1]) == trapezoid. Parts of the window outside
 * [t[0], t[n-1]] contribute nothing (no extrapolation). t1 < t0 is DLE_EINVAL;
 * t0 == t1 gives 0. */
int dle_energy_between_j(const double *t_s, const double *p_w, size_t n, double t0_s,
                         double t1_s, double *out_j);

/* Energy of each epoch for component c: epoch k spans [begin, end] where begin is
 * ep[k].t_begin_s, or when NaN the previous epoch's end, or for the first epoch the
 * trace start t[0]; end is ep[k].t_end_s (an open epoch, NaN end, runs to the trace
 * end). Epochs must be given in order. out_j has n_ep entries (NaN for a component
 * the trace lacks). */
int dle_energy_per_epoch(const dle_trace *t, const dle_epoch *ep, size_t n_ep,
                         dle_component c, double *out_j, dle_error *err);

typedef struct dle_energy_summary {
  double duration_s;                       /* last minus first sample time */
  size_t samples;
  double energy_j[DLE_COMP_COUNT];         /* trapezoid integral; NaN when absent */
  double avg_power_w[DLE_COMP_COUNT];      /* energy / duration (time-weighted); NaN when absent */
  double sample_mean_w[DLE_COMP_COUNT];    /* arithmetic mean of the valid samples (the
                                              SEAA 2023 study's "average power"); NaN when absent */
  char source[DLE_COMP_COUNT][16];         /* "nvml", "nvidia-smi", "rapl", "model", "none" */
  int measured[DLE_COMP_COUNT];            /* 1 measured by a sensor, 0 modelled/absent */
  double total_j;                          /* gpu + cpu + memory, where memory is DRAM when
                                              measured, else modelled RAM (never both) */
  double gpu_counter_j;                    /* NVML counter delta (last - first); NaN if none */
  double pue;                              /* from the run (1 when unset/invalid) */
  double facility_j;                       /* total_j x pue */
  double carbon_g_per_kwh;                 /* NaN when unknown */
  double emissions_g;                      /* facility kWh x carbon; NaN when unknown */
  uint32_t n_devices;                      /* GPUs in the trace (multi-GPU attribution) */
  uint32_t device_index[DLE_MAX_GPUS];     /* NVML index of each */
  double device_energy_j[DLE_MAX_GPUS];    /* each GPU's energy: its NVML counter where it
                                              has one (reset-safe), else the trapezoid of
                                              its power; NaN if none. energy_j[GPU] is the
                                              sum over the headline devices (those the run
                                              used, dle_trace_select_gpus) */
  double device_avg_power_w[DLE_MAX_GPUS];
  double device_counter_j[DLE_MAX_GPUS];   /* from the NVML counter (reset-safe); NaN if none */
  double device_integral_j[DLE_MAX_GPUS];  /* trapezoid of the device's power; NaN if none */
  int device_headline[DLE_MAX_GPUS];       /* 1 when the device counts in energy_j[GPU] */
  double gpu_all_j;                        /* every device of the trace; NaN if none */
  double gpu_integral_j;                   /* headline devices by the power integral */
  int gpu_counter_disagrees;               /* counter and integral differ by more than 5% */
} dle_energy_summary;

/* Summarizes a run's trace. info may be NULL (sources then "unknown", pue 1, carbon
 * NaN). A component whose column has no valid sample is absent (NaN, source "none"). */
int dle_energy_summarize(const dle_trace *t, const dle_run_info *info,
                         dle_energy_summary *out, dle_error *err);

/* The column reductions a summary is composed of (what dle_energy_summarize reads
 * from a trace). dle_energy_parts_from_trace computes them from a whole trace,
 * dle_energy_stream chunk by chunk; dle_energy_compose turns either into the
 * summary, so the two paths give the same figures bit for bit. */
typedef struct dle_energy_parts {
  size_t samples;
  double duration_s;
  int has[DLE_COMP_COUNT];                /* the component's column has a valid sample */
  double trapezoid_j[DLE_COMP_COUNT];     /* dle_energy_trapezoid_j of the column */
  double mean_w[DLE_COMP_COUNT];          /* mean of its valid samples */
  uint32_t n_devices;
  uint32_t device_index[DLE_MAX_GPUS];
  int device_headline[DLE_MAX_GPUS];
  int device_has[DLE_MAX_GPUS];           /* the device has a power reading */
  double device_integral_j[DLE_MAX_GPUS]; /* bridged trapezoid of its power */
  double device_counter_j[DLE_MAX_GPUS];  /* reset-safe counter energy; NaN if none */
  double device_mean_w[DLE_MAX_GPUS];
  double gpu_counter_first_j, gpu_counter_last_j; /* headline counter column */
  double rapl_first_j[2], rapl_last_j[2];         /* CPU, DRAM counter columns */
} dle_energy_parts;

int dle_energy_parts_from_trace(const dle_trace *t, dle_energy_parts *out, dle_error *err);
void dle_energy_compose(const dle_energy_parts *parts, const dle_run_info *info,
                        dle_energy_summary *out);

/* ---- streaming: a run's figures in bounded memory ----
 *
 * Fed a run's samples in order, dle_energy_stream computes what
 * dle_energy_summarize and dle_energy_per_epoch give on the trace that
 * dle_store_load_trace builds from them (GPUs selected by the run's headline list),
 * bit for bit, holding only the rows a GPU's gap keeps open (a GPU missing a reading
 * while another reads is bridged between its neighbours, so the rows of the gap wait
 * for its next reading). At most DLE_ENERGY_STREAM_MAX_GAP of them (about 340 bytes
 * each) stay in memory; a longer gap (or a GPU lost until the end of the run) moves
 * the older ones to an unlinked temporary file in $TMPDIR (else /tmp), read back one
 * block at a time, so memory stays bounded whatever the gap's length.
 * Runs it does not handle this way (sample times NaN or going backwards, a GPU slot
 * whose NVML index changes, epochs out of the simple order, a headline GPU with
 * counter readings but no power reading, a spill file that cannot be written) make
 * dle_energy_stream_add or _finish return DLE_EUNSUPPORTED: use the whole trace then
 * (dle_energy_summarize_run does). */
enum { DLE_ENERGY_STREAM_MAX_GAP = 8192 };

typedef struct dle_energy_stream dle_energy_stream;

/* headline[0..n_headline): NVML indices of the headline GPUs (n_headline 0: all).
 * ep[0..n_ep): the run's epochs in order (copied; may be NULL when n_ep is 0). */
int dle_energy_stream_new(const uint32_t *headline, size_t n_headline, const dle_epoch *ep,
                          size_t n_ep, dle_energy_stream **out, dle_error *err);
int dle_energy_stream_add(dle_energy_stream *s, const dle_sample *smp, dle_error *err);

typedef struct dle_energy_stream_result {
  dle_energy_parts parts;
  double t_first_s, t_last_s;   /* first and last sample time (NaN without samples) */
  double gpu_util_mean_pct;     /* mean of the rows' GPU utilization (mean over GPUs); NaN if none */
  double gpu_temp_mean_c;       /* mean of the rows' hottest GPU temperature; NaN if none */
} dle_energy_stream_result;

/* Ends the stream. epoch_j[c] (each NULL or n_ep doubles) receives
 * dle_energy_per_epoch's figures for component c. */
int dle_energy_stream_finish(dle_energy_stream *s, dle_energy_stream_result *out,
                             double *const epoch_j[DLE_COMP_COUNT], dle_error *err);
void dle_energy_stream_free(dle_energy_stream *s);
/* The pending rows kept in memory before a gap spills (default
 * DLE_ENERGY_STREAM_MAX_GAP; at least 2); only before the first sample. The figures
 * do not depend on it (the tests use small values to spill often). */
void dle_energy_stream_set_memory_rows(dle_energy_stream *s, size_t rows);
/* Rows moved to the spill file so far (0: everything stayed in memory). */
size_t dle_energy_stream_spilled(const dle_energy_stream *s);

/* One row as it leaves the stream (in order, once every GPU gap at it is resolved):
 * the values of the trace dle_store_load_trace builds at that row, GPU power after
 * the headline selection. */
typedef struct dle_energy_row {
  double t_s, gpu_power_w, cpu_power_w, dram_power_w, ram_power_w;
  double gpu_util_pct, gpu_power_limit_w, cpu_util_pct, rss_mib;
} dle_energy_row;
typedef int (*dle_energy_row_fn)(void *ctx, const dle_energy_row *row, dle_error *err);
/* Sends every finalized row to fn (a non-zero return stops the stream with it). */
void dle_energy_stream_on_row(dle_energy_stream *s, dle_energy_row_fn fn, void *ctx);

/* A stored run as the series the estimators, stabilize and the report's plots read:
 * a dle_trace with only t_s, gpu_power_w, cpu_power_w, dram_power_w, ram_power_w,
 * gpu_util_pct, gpu_power_limit_w, cpu_util_pct and rss_mib (each equal bit for bit to
 * dle_store_load_trace's) and n_gpus; every other column, and the per-device ones,
 * NULL. 9 doubles a sample instead of 16 + 2 per GPU; still O(samples). Runs the
 * stream does not handle are loaded whole (every column). Do not append to it; free
 * with dle_trace_free. */
int dle_energy_load_series(dle_store *st, int64_t run_id, dle_trace *out, dle_error *err);

/* A stored run's summary, per-epoch energies (epoch_j as above, for the run's epochs
 * ep[0..n_ep) as dle_store_load_epochs gives them) and means, streamed from the store
 * one chunk at a time; runs the stream does not handle are read as a whole trace
 * (out->streamed says which). info: the run's record (sources, PUE, carbon). */
typedef struct dle_run_energy {
  dle_energy_summary sum;
  double t_first_s, t_last_s;
  double gpu_util_mean_pct, gpu_temp_mean_c;
  int streamed; /* 1 bounded memory; 0 read as a whole trace */
} dle_run_energy;
int dle_energy_summarize_run(dle_store *st, int64_t run_id, const dle_run_info *info,
                             const dle_epoch *ep, size_t n_ep,
                             double *const epoch_j[DLE_COMP_COUNT], dle_run_energy *out,
                             dle_error *err);

/* True when a sensor source name denotes a measurement ("nvml", "nvidia-smi",
 * "rapl"), false for "model", "none", "psutil" (psutil gives utilization, not power). */
int dle_source_is_measured(const char *source);

/* Writes an energy on the J/kJ/MJ scale with its unit into buf (n bytes): "%.2g J"
 * below 0.05 J (non-zero), "%.1f J" below 1 kJ, "%.2f kJ" below 1 MJ, "%.3f MJ" above.
 * A non-finite value is written as `missing` ("-", "n/a"). */
void dle_format_energy(double j, const char *missing, char *buf, size_t n);

/* ---- carbon intensity (data/carbon_intensity.csv) ---- */

typedef struct dle_carbon_info {
  char code[8];           /* ISO 3166-1 alpha-2, upper case ("ES") */
  char name[64];          /* "Spain" */
  double g_per_kwh;       /* g CO2e per kWh of electricity */
  int year;
  char source[160];       /* where the figure comes from */
} dle_carbon_info;

/* Looks a country up by alpha-2 code or English name (case-insensitive) in the
 * shipped table (found with dle_data_path). DLE_ENOTFOUND when not listed. */
int dle_carbon_find(const char *country, dle_carbon_info *out, dle_error *err);
int dle_carbon_lookup(const char *country, double *g_per_kwh, dle_error *err);

/* g CO2e for an energy: joules / 3.6e6 x g_per_kwh. */
double dle_emissions_g(double energy_j, double g_per_kwh);

#ifdef __cplusplus
}
#endif
#endif
