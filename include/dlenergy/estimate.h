/* estimate.h — project a run's total energy from what is known at a cut-off.
 *
 * One interface, one function per call: dle_estimate_project(input, method, result).
 * The input is a run's samples (dle_trace) and completed epochs up to a cut-off,
 * the planned number of epochs N and facts about the GPU/host; the result is the
 * predicted total in joules with a lower/upper bound, the method's name and its
 * assumptions in words. All figures are "modelled"; the measured total each
 * method is compared with is dle_estimate_measured_j() over the components that
 * dle_estimate_method_components() names.
 *
 * Methods (formulas in the method's own words; defaults s = 10, w = 5):
 *   mlco2          TDP x duration                                  (ML CO2 Impact)
 *   ga             (TDP x mean GPU usage + RAM GB x 0.3725 W/GB
 *                   [+ CPU cores x CPU W per core x CPU usage]) x duration x PUE
 *                  (Green Algorithms; gpu_only drops the RAM and CPU terms, the
 *                   study's GPU-only comparison)
 *   carbontracker  energy of the first k epochs x N / k (default k = 1), GPU + RAM
 *   flops          3 x forward FLOPs x samples per epoch x N / (GPU peak FLOP/s x
 *                  assumed utilization) x TDP
 *   step-power     mean GPU (+ RAM) power over the window of w epochs starting at
 *                  epoch s (s epochs before it) x total duration
 *   step-energy    energy from the start to epoch s + window energy x (N - s) / w
 *                  (the window spans the begin of epoch s to the end of epoch s+w-1,
 *                  time between epoch markers included)
 *   step-auto      step-power with s = the first epoch after the detected
 *                  stabilizing point (matrix profile + FLUSS, stabilize.h)
 *   step-remain    energy measured up to the cut-off + level x remaining time, the
 *                  level being the mean power over the most recent tail_fraction of
 *                  what was seen, stretched to a whole number of power periods (one
 *                  training + validation cycle per epoch, found by autocorrelation
 *                  even without epoch markers). Bound: level -/+ bound_k x the spread
 *                  (population s.d.) of 5 equal sub-window means of that tail, x the
 *                  remaining time; bound_k was calibrated for nominal 90 % coverage on
 *                  the SEAA 2023 traces, environment by environment (docs/estimate.md).
 *                  On a finished run it projects from at_fraction of the run (default
 *                  DLE_EST_REMAIN_FRACTION), with the measured duration.
 *
 * Detected start (step-auto, and the time-window variant without start_s): FLUSS over
 * the GPU (+RAM) power up to the last point where a whole window still fits before
 * the cut-off, with stab.n_regimes regimes (default 3 here: warm-up, a first phase
 * such as training a classifier head, the final regime); the window starts at the
 * LATEST change found. (On the SEAA 2023 traces the first change of 2 regimes often
 * lands in the warm-up or the head phase: docs/estimate.md has both figures.)
 *
 * Duration: a finished run (run_complete) uses its measured duration (first to last
 * sample). Otherwise the duration is projected as elapsed time at the cut-off plus
 * the remaining N - k epochs x the mean duration of the stable window's epochs
 * (mlco2/ga: of all completed epochs).
 *
 * Time-window variant (runs without epoch markers, e.g. imported nvidia-smi logs):
 * step-power and step-auto use the window [start_s, start_s + window_s] when
 * window_s > 0 or when there are no epochs; start_s NaN = the detected
 * stabilization point. A finished run is required (no epochs to project with).
 *
 * Bounds: the spread of the window. Per-unit values are taken for each epoch of the
 * window (epoch mode) or each of w equal sub-windows (time mode): step-power uses
 * the min/max unit mean power, step-energy and carbontracker the min/max unit
 * energy, over the remaining part. Duration projections use the min/max epoch
 * duration for the remaining epochs. mlco2/ga on a finished run have no spread
 * (lower = upper = total); flops uses utilization x 1.5 (lower) and / 2 (upper). */
#ifndef DLENERGY_ESTIMATE_H
#define DLENERGY_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"
#include "dlenergy/stabilize.h"
#include "dlenergy/store.h"
#include "dlenergy/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dle_estimate_method {
  DLE_EST_MLCO2 = 0,
  DLE_EST_GA,
  DLE_EST_CARBONTRACKER,
  DLE_EST_FLOPS,
  DLE_EST_STEP_POWER,
  DLE_EST_STEP_ENERGY,
  DLE_EST_STEP_AUTO,
  DLE_EST_STEP_REMAIN,
  DLE_EST_COUNT
} dle_estimate_method;

/* "mlco2", "ga", "carbontracker", "flops", "step-power", "step-energy", "step-auto",
 * "step-remain" */
const char *dle_estimate_method_name(dle_estimate_method m);
int dle_estimate_method_parse(const char *s, dle_estimate_method *out, dle_error *err);

/* Components a method models, i.e. what its measured reference integrates. */
enum { DLE_EST_GPU = 1, DLE_EST_RAM = 2, DLE_EST_CPU = 4 };
int dle_estimate_method_components(dle_estimate_method m, bool gpu_only, bool have_cpu_facts);

typedef struct dle_estimate_input {
  const dle_trace *trace;      /* required; samples after the cut-off are ignored except
                                  the first, which closes the interval straddling it */
  const dle_epoch *epochs;     /* completed epochs in order (may be NULL) */
  size_t n_epochs;
  int at_epoch;                /* cut-off after this many epochs (k); 0 = all given */
  double cutoff_s;             /* with no epochs: cut-off time; NaN = end of trace */
  bool run_complete;           /* the run is over: its measured duration is known */
  int epochs_total;            /* N planned; 0 = unknown (= n_epochs for a finished run) */

  /* facts (NaN/0 = unknown) */
  double gpu_tdp_w;            /* NaN: max of the trace's power limit */
  double host_ram_gb;          /* RAM for ga's memory term; NaN: max RSS of the trace */
  int cpu_cores;
  double cpu_tdp_w;            /* ga's CPU term when cores and TDP are known and !gpu_only */
  double pue;                  /* default 1 */
  double gflops_forward;       /* one sample's forward pass, GFLOP */
  double samples_per_epoch;
  double gpu_peak_flops;       /* FLOP/s */
  double flops_utilization;    /* assumed fraction of peak (default 0.3) */

  /* method parameters */
  bool gpu_only;               /* GPU power only: no RAM/CPU terms anywhere */
  int stable_epoch;            /* s: epochs before the window (default 10) */
  int window_epochs;           /* w (default 5); also the number of sub-windows in time mode */
  int carbontracker_k;         /* default 1 */
  double window_s;             /* time mode window length (0 = epoch mode when epochs exist;
                                  default 300 s when there are none) */
  double start_s;              /* time mode window start; NaN = detected (auto) */
  double at_fraction;          /* finished run: cut-off at this fraction (0, 1] of its
                                  measured duration, the duration staying known (NaN =
                                  the end; step-remain then uses DLE_EST_REMAIN_FRACTION) */
  double tail_fraction;        /* step-remain: level from this most recent part of what
                                  was seen (default DLE_EST_REMAIN_TAIL) */
  double bound_k;              /* step-remain: bound half-width in tail spreads
                                  (default DLE_EST_REMAIN_BOUND_K) */
  dle_stabilize_opts stab;     /* detection for step-auto / auto start (n_regimes 3) */
  const dle_stabilize_result *detected; /* a detection already made over the GPU power up
                                  to detected_until_s (e.g. by a dle_stabilize_stream fed
                                  live): used instead of the batch when the search
                                  cut-off is exactly detected_until_s; NULL = batch */
  double detected_until_s;
  size_t trace_buckets;        /* 0: trace is the run's full series; else the trace is a
                                  run downsampled into this many buckets (rows in pairs,
                                  see dle_estimate_series_load) and the detector reads
                                  one point per bucket */
} dle_estimate_input;

/* step-remain defaults, chosen on one of the study's traced environments and scored
 * on the other (docs/estimate.md, "Held-out choice"). */
#define DLE_EST_REMAIN_FRACTION 0.25
#define DLE_EST_REMAIN_TAIL 0.25
#define DLE_EST_REMAIN_BOUND_K 3.0

/* Defaults as documented above; trace/epochs NULL. */
void dle_estimate_input_init(dle_estimate_input *in);

typedef struct dle_estimate_result {
  char method[32];
  double total_j;              /* predicted total energy (modelled) */
  double lower_j, upper_j;
  double duration_s;           /* total duration used (measured or projected) */
  double mean_power_w;         /* power the method multiplies by duration (NaN if none) */
  int stable_epoch;            /* s used (step-*; -1 otherwise) */
  double window_start_s, window_end_s; /* window used (NaN when none) */
  int components;              /* DLE_EST_GPU|RAM|CPU modelled */
  double seen_s;               /* latest run time (from the first sample) whose data the
                                  method read, detection included */
  double fraction_seen;        /* seen_s / measured duration (NaN while the run goes on) */
  double period_s;             /* step-remain: power period found (NaN = none) */
  char assumptions[512];
} dle_estimate_result;

/* Fails with DLE_ERANGE when the method lacks data at this cut-off (too few epochs,
 * too short a trace), DLE_EINVAL when a needed fact is missing (TDP, FLOPs...). */
int dle_estimate_project(const dle_estimate_input *in, dle_estimate_method m,
                         dle_estimate_result *out, dle_error *err);

/* Trapezoid energy of the given components over the whole trace: RAM = ram_power_w,
 * CPU = cpu_power_w. The primary component (GPU when in components, else CPU) leaves a
 * gap where it is NaN; a missing RAM or secondary CPU reading counts as 0 W.
 * A trace with no GPU power at all (a CPU-only run) is modelled by the GPU-based
 * methods (carbontracker, step-*) with its CPU (+RAM) power instead; their result's
 * components then say DLE_EST_CPU. */
int dle_estimate_measured_j(const dle_trace *trace, int components, double *out_j,
                            dle_error *err);

/* Error metrics of predictions p against measured m over n runs. */
typedef struct dle_estimate_errors {
  size_t n;
  double rmse_j, mae_j, mape, r2; /* mape as a fraction */
} dle_estimate_errors;
int dle_estimate_errors_compute(const double *pred, const double *meas, size_t n,
                                dle_estimate_errors *out, dle_error *err);

/* Sets one input parameter from text, as the CLI options name them:
 *   at-epoch K, epochs N (planned), stable-epoch S, window-epochs W, ct-epochs K,
 *   window-seconds S, start-seconds S|auto, gpu-only (no value), tdp W, pue X,
 *   host-ram-gb G, cpu-cores N, cpu-tdp W, gflops G, samples-per-epoch N,
 *   peak-tflops T, utilization U (0..1], m M, regimes R, excl-factor F,
 *   at-fraction F (0..1], tail-fraction F (0..1], bound-k K.
 * DLE_EINVAL with a message for an unknown key or a bad value. */
int dle_estimate_input_set(dle_estimate_input *in, const char *key, const char *value,
                           dle_error *err);

/* ---- a stored run as estimator input ---- */

/* A stored run as the series the estimators, stabilize and the report read, in memory
 * bounded whatever the run's length (issue 12).
 *
 * A run of at most max_full samples (DLE_SERIES_FULL_MAX by default; the study's runs
 * have ~3,000) is its full series, dle_energy_load_series's trace, unchanged: every
 * figure computed on it is what it always was, bit for bit. *n_buckets is then 0.
 *
 * A longer run is downsampled in one streaming pass into buckets of consecutive
 * samples: about `buckets` of equal sample count (DLE_SERIES_BUCKETS by default), and
 * a bucket also ends at every finite epoch begin and end time in ep[0..n_ep) (the
 * interval that straddles such a time split there by linear interpolation, as
 * dle_energy_between_j does). Bucket b spanning [T_b, T_b+1] becomes two rows,
 * (T_b, v_b) and (T_b+1, v_b), where for each power column v_b = E_b / (T_b+1 - T_b),
 * E_b an energy over the bucket from every sample: for gpu_power_w and dram_power_w
 * the column's trapezoid (NaN rule of energy.h); for cpu_power_w and ram_power_w the
 * trapezoid over the intervals where the GPU power has both readings, a missing
 * reading counted as 0 W (the estimators' combination rule, dle_estimate_measured_j;
 * on a run without GPU power: the CPU's own trapezoid, and RAM over the CPU's
 * intervals). v_b is NaN when no interval contributed. So the trapezoid of the
 * downsampled series, and of any combination the estimators form, over any span
 * between bucket edges (the whole run, every epoch, every run of epochs) equals that
 * of the full series up to rounding: measured, from every sample. Consecutive buckets share their edge time
 * (a zero-length interval, which contributes nothing). gpu_util_pct and cpu_util_pct
 * are the bucket's sample means, gpu_power_limit_w and rss_mib its maxima (so the
 * run's maxima are exact, its utilization means are means of bucket means). What
 * falls inside a bucket (a cut-off or a window edge between bucket edges, the
 * stabilizing point, step-remain's period) is computed on the downsampled series:
 * modelled at the bucket's resolution. *n_buckets is the number of buckets; the trace
 * has 2 x that many rows. Runs the energy stream does not handle are read whole first
 * (memory then grows with the run) and downsampled the same way. Free with
 * dle_trace_free. max_full 0 / buckets 0 take the defaults. */
enum { DLE_SERIES_FULL_MAX = 65536, DLE_SERIES_BUCKETS = 32768 };
int dle_estimate_series_load(dle_store *st, int64_t run_id, const dle_epoch *ep, size_t n_ep,
                             size_t max_full, size_t buckets, dle_trace *out,
                             size_t *n_buckets, dle_error *err);

/* The same downsampling of a trace already in memory (rows in order): *out as above
 * (always bucketed; the caller decides when). For tests and the whole-trace path. */
int dle_estimate_series_reduce(const dle_trace *t, const dle_epoch *ep, size_t n_ep,
                               size_t buckets, dle_trace *out, size_t *n_buckets,
                               dle_error *err);

/* Stabilizing point of a series as dle_estimate_series_load gives it: dle_stabilize_trace
 * on a full series (n_buckets 0); on a downsampled one, dle_stabilize_series over one
 * point per bucket (its mean GPU power at its start time; bucket starts after cutoff_s
 * left out), mapped to its epoch the same way. */
int dle_estimate_stabilize(const dle_trace *t, size_t n_buckets, double cutoff_s,
                           const dle_epoch *epochs, size_t n_epochs,
                           const dle_stabilize_opts *opts, dle_stabilize_result *out,
                           dle_error *err);

typedef struct dle_estimate_run {
  dle_run_info info;
  dle_trace trace;             /* dle_estimate_series_load's series */
  size_t trace_buckets;        /* 0: full series; else buckets of the downsampled one */
  dle_epoch *epochs;           /* ended epochs in order (open ones are left out) */
  size_t n_epochs;
  dle_kv *meta;
  size_t n_meta;
} dle_estimate_run;

/* Loads a run's series (bounded, dle_estimate_series_load with the defaults), epochs
 * and metadata. Free with dle_estimate_run_free. */
int dle_estimate_run_load(dle_store *st, int64_t run_id, dle_estimate_run *out,
                          dle_error *err);
/* The same with dle_estimate_series_load's max_full and buckets (0: defaults). */
int dle_estimate_run_load_opts(dle_store *st, int64_t run_id, size_t max_full,
                               size_t buckets, dle_estimate_run *out, dle_error *err);
void dle_estimate_run_free(dle_estimate_run *r);

/* dle_estimate_input_init plus the run's facts: trace (and trace_buckets), epochs, run_complete (status
 * is not "running"), epochs_total (metadata epochs_total, else the run's planned
 * epochs), pue, and from metadata: gpu_tdp_w (else gpu_max_power_limit_w, else the
 * catalogue TDP of gpu_name x GPUs), host_ram_gb, cpu_cores, cpu_tdp_w, gflops,
 * samples_per_epoch (training_size), gpu_peak_flops (gpu_peak_tflops x 1e12, else the
 * catalogue FP32 peak of gpu_name x GPUs). Unknown facts stay NaN/0. */
void dle_estimate_input_from_run(dle_estimate_input *in, const dle_estimate_run *r);

#ifdef __cplusplus
}
#endif
#endif
