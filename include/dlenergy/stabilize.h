/* stabilize.h — where a run's power settles: exact matrix profile + FLUSS.
 *
 * Matrix profile (self-join): for every subsequence x[i..i+m) of the series, the
 * z-normalized Euclidean distance to its nearest neighbour x[j..j+m) with
 * |i - j| > excl (neighbours with |i - j| <= excl are trivial matches: STUMPY's
 * exclusion zone, the study's tool), and that neighbour's index.
 * Exact, O(n^2) time and O(n) memory per thread, computed diagonal by diagonal with
 * incremental covariances (the SCRIMP/SCAMP update), optionally on several threads.
 *
 * Constant subsequences (standard deviation below DLE_MP_CONST_STD relative to
 * max(1, |mean|)) have no z-normalized shape; we follow the STUMPY convention:
 * two constant subsequences are at distance 0, a constant and a non-constant one
 * at distance sqrt(m) (correlation 1/2). The default exclusion zone is ceil(m/4)
 * (STUMPY's config.STUMPY_EXCL_ZONE_DENOM = 4): for m = 10, |i - j| <= 3 is excluded.
 *
 * FLUSS (Gharghabi et al. 2017): the arc curve counts, for every position, the
 * nearest-neighbour arcs i <-> mpi[i] that pass over it; dividing by the idealized
 * arc curve of a random neighbour structure, the parabola 2 i (l - i) / l, gives
 * the corrected arc curve (CAC, clipped to [0, 1]); the first and last
 * L * excl_factor positions are set to 1. Regime changes are the CAC minima, each
 * masking L * excl_factor positions around it. The stabilizing point is the first
 * (earliest) regime change; a flat CAC (no value below 1) gives index 0, as STUMPY's
 * fluss does (result.flat says so). The exclusion factor defaults to 3 (STUMPY: 5;
 * see docs/estimate.md). */
#ifndef DLENERGY_STABILIZE_H
#define DLENERGY_STABILIZE_H

#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"
#include "dlenergy/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLE_MP_CONST_STD 1e-8

/* Matrix profile of x[0..n) with window m (2 <= m <= n/2) and exclusion zone excl
 * (0 = ceil(m/4)). mp and mpi must hold n - m + 1 values. mpi[i] = -1 and
 * mp[i] = INFINITY when no non-trivial neighbour exists. n_threads <= 0 means 1.
 * x must be finite. */
int dle_matrix_profile(const double *x, size_t n, size_t m, size_t excl, int n_threads,
                       double *mp, int64_t *mpi, dle_error *err);

/* Number of pairwise distances dle_matrix_profile evaluates (for benchmarks). */
uint64_t dle_matrix_profile_pairs(size_t n, size_t m, size_t excl);

/* The same profile grown one point at a time (STUMPI's idea): each push costs O(n) and
 * after n pushes the profile equals dle_matrix_profile of those n points (the same
 * floating-point operations; ties go to the smaller index in both). excl as above. */
typedef struct dle_mp_stream dle_mp_stream;
int dle_mp_stream_new(size_t m, size_t excl, dle_mp_stream **out, dle_error *err);
int dle_mp_stream_push(dle_mp_stream *s, double x, dle_error *err); /* x finite */
size_t dle_mp_stream_points(const dle_mp_stream *s);
size_t dle_mp_stream_length(const dle_mp_stream *s); /* subsequences: n - m + 1 (or 0) */
/* mp (may be NULL) and mpi hold dle_mp_stream_length values. */
int dle_mp_stream_profile(const dle_mp_stream *s, double *mp, int64_t *mpi, dle_error *err);
void dle_mp_stream_free(dle_mp_stream *s);

/* Corrected arc curve over a matrix profile index of length l. cac holds l values. */
int dle_fluss_cac(const int64_t *mpi, size_t l, size_t L, double excl_factor, double *cac,
                  dle_error *err);

/* The n_regimes - 1 regime change locations (CAC minima), in the order found
 * (deepest first); *n_found may be smaller when the CAC is all masked. */
int dle_fluss_regimes(const double *cac, size_t l, int n_regimes, size_t L,
                      double excl_factor, size_t *locs, size_t *n_found, dle_error *err);

typedef struct dle_stabilize_opts {
  size_t m;              /* matrix profile window, samples (default 10) */
  size_t L;              /* FLUSS subsequence length (default 0 = m) */
  int n_regimes;         /* default 2 */
  double excl_factor;    /* FLUSS exclusion factor (default 3) */
  double resample_s;     /* average consecutive samples into bins of about this
                            length before the profile (default 1 s; 0 = raw) */
  int n_threads;         /* default 2 */
} dle_stabilize_opts;

void dle_stabilize_opts_init(dle_stabilize_opts *o);

enum { DLE_STABILIZE_MAX_REGIMES = 16 };

typedef struct dle_stabilize_result {
  size_t n_points;       /* length of the series analysed (after resampling) */
  double step_s;         /* seconds per analysed point (mean spacing) */
  size_t index;          /* stabilizing point: earliest regime change, in analysed points */
  double t_s;            /* its run-relative time */
  double cac_min;        /* CAC value there (lower = clearer change) */
  int epoch;             /* position (0-based, in the epochs array) of the epoch that
                            contains t_s; -1 when no epochs were given or none contains it */
  size_t n_changes;
  double change_t_s[DLE_STABILIZE_MAX_REGIMES]; /* every change found, ascending time */
  int flat;              /* 1: the CAC had no value below 1 outside the masked ends, so
                            no change stands out; like STUMPY's fluss (argmin = 0) the
                            point is the series' first (index 0, n_changes 1) */
} dle_stabilize_result;

/* Stabilizing point of the GPU power series of trace over samples with
 * t_s <= cutoff_s (NaN = all). NaN power samples are skipped. epochs (may be NULL)
 * maps the point to its epoch. Fails with DLE_ERANGE when the series is too short
 * (fewer than 2 * m + 2 * L * excl_factor points). */
int dle_stabilize_trace(const dle_trace *trace, double cutoff_s, const dle_epoch *epochs,
                        size_t n_epochs, const dle_stabilize_opts *opts,
                        dle_stabilize_result *out, dle_error *err);

/* The same on a plain series x[0..n) sampled at t[0..n) (t may be NULL: t = index). */
int dle_stabilize_series(const double *x, const double *t, size_t n,
                         const dle_stabilize_opts *opts, dle_stabilize_result *out,
                         dle_error *err);

/* Live detection: samples pushed one at a time (NaN skipped) are averaged into bins of
 * r samples, r fixed from the median spacing of the first 21 (at most 21), and each bin
 * grows the matrix profile in O(n) (dle_mp_stream); _result runs FLUSS (O(n)) on the
 * profile so far. The result equals dle_stabilize_series over the same bins. */
typedef struct dle_stabilize_stream dle_stabilize_stream;
int dle_stabilize_stream_new(const dle_stabilize_opts *opts, dle_stabilize_stream **out,
                             dle_error *err);
int dle_stabilize_stream_push(dle_stabilize_stream *s, double t_s, double x, dle_error *err);
size_t dle_stabilize_stream_points(const dle_stabilize_stream *s); /* bins so far */
int dle_stabilize_stream_result(const dle_stabilize_stream *s, dle_stabilize_result *out,
                                dle_error *err);
void dle_stabilize_stream_free(dle_stabilize_stream *s);

#ifdef __cplusplus
}
#endif
#endif
