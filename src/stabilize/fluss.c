/* fluss.c — FLUSS corrected arc curve and regime extraction (see stabilize.h). */
#include <math.h>
#include <stdlib.h>

#include "dlenergy/stabilize.h"

static size_t mask_len(size_t L, double excl_factor) {
  double v = floor((double)L * excl_factor + 0.5);
  return v > 0 ? (size_t)v : 0;
}

int dle_fluss_cac(const int64_t *mpi, size_t l, size_t L, double excl_factor, double *cac,
                  dle_error *err) {
  if (!mpi || !cac || l == 0) return dle_error_set(err, DLE_EINVAL, "fluss: empty profile");
  if (L == 0 || !(excl_factor >= 0))
    return dle_error_set(err, DLE_EINVAL, "fluss: L must be > 0 and the exclusion factor >= 0");
  /* Arc curve by difference marks: an arc i <-> mpi[i] covers positions lo..hi-1. */
  double *mark = calloc(l + 1, sizeof *mark);
  if (!mark) return dle_error_set(err, DLE_ENOMEM, "fluss: out of memory");
  for (size_t i = 0; i < l; i++) {
    int64_t j = mpi[i];
    if (j < 0) continue;
    if ((size_t)j >= l) {
      free(mark);
      return dle_error_set(err, DLE_EINVAL, "fluss: index %zu points outside the profile", i);
    }
    size_t lo = (size_t)j < i ? (size_t)j : i, hi = (size_t)j < i ? i : (size_t)j;
    mark[lo] += 1;
    mark[hi] -= 1;
  }
  double ac = 0;
  for (size_t i = 0; i < l; i++) {
    ac += mark[i];
    /* Idealized arc curve of random bidirectional neighbours: 2 i (l - i) / l. */
    double iac = 2.0 * (double)i * (double)(l - i) / (double)l;
    if (iac <= 0) iac = 1e-10;
    double v = ac / iac;
    cac[i] = v < 1 ? v : 1;
  }
  free(mark);
  size_t ml = mask_len(L, excl_factor);
  for (size_t i = 0; i < ml && i < l; i++) {
    cac[i] = 1;
    cac[l - 1 - i] = 1;
  }
  return DLE_OK;
}

int dle_fluss_regimes(const double *cac, size_t l, int n_regimes, size_t L, double excl_factor,
                      size_t *locs, size_t *n_found, dle_error *err) {
  *n_found = 0;
  if (n_regimes < 2)
    return dle_error_set(err, DLE_EINVAL, "fluss: need at least 2 regimes, got %d", n_regimes);
  double *tmp = malloc(l * sizeof *tmp);
  if (!tmp) return dle_error_set(err, DLE_ENOMEM, "fluss: out of memory");
  for (size_t i = 0; i < l; i++) tmp[i] = cac[i];
  size_t ml = mask_len(L, excl_factor);
  for (int r = 0; r < n_regimes - 1; r++) {
    size_t best = l;
    double bv = 1;
    for (size_t i = 0; i < l; i++)
      if (tmp[i] < bv) bv = tmp[i], best = i;
    if (best == l) break; /* everything is 1: no further change */
    locs[(*n_found)++] = best;
    size_t a = best > ml ? best - ml : 0, b = best + ml < l ? best + ml : l;
    for (size_t i = a; i < b; i++) tmp[i] = 1;
  }
  free(tmp);
  return DLE_OK;
}
