/* trace.c — see include/dlenergy/trace.h */
#include "dlenergy/trace.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#define TRACE_COLUMNS(X)                                                               \
  X(t_s) X(wall_s) X(gpu_power_w) X(gpu_util_pct) X(gpu_mem_util_pct) X(gpu_mem_used_mib) \
  X(gpu_temp_c) X(gpu_energy_counter_j) X(gpu_power_limit_w) X(cpu_util_pct) X(rss_mib) \
  X(cpu_power_w) X(dram_power_w) X(ram_power_w) X(cpu_energy_counter_j) X(dram_energy_counter_j)

static int grow(double **col, size_t old_cap, size_t cap, int fill_nan) {
  double *p = realloc(*col, cap * sizeof **col);
  if (!p) return -1;
  if (fill_nan)
    for (size_t i = old_cap; i < cap; i++) p[i] = NAN;
  *col = p;
  return 0;
}

int dle_trace_reserve(dle_trace *t, size_t rows, dle_error *err) {
  if (rows <= t->cap) return DLE_OK;
  size_t cap = t->cap ? t->cap : 256;
  while (cap < rows) cap *= 2;
#define GROW(c) \
  if (grow(&t->c, t->cap, cap, 0)) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  TRACE_COLUMNS(GROW)
#undef GROW
  for (int d = 0; d < DLE_MAX_GPUS; d++)
    if ((t->dev_power_w[d] && grow(&t->dev_power_w[d], t->cap, cap, 1)) ||
        (t->dev_counter_j[d] && grow(&t->dev_counter_j[d], t->cap, cap, 1)))
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
  t->cap = cap;
  return DLE_OK;
}

static double mean_or_nan(double sum, int n) { return n ? sum / n : NAN; }

int dle_trace_append(dle_trace *t, const dle_sample *s, dle_error *err) {
  int rc = dle_trace_reserve(t, t->n + 1, err);
  if (rc) return rc;
  size_t i = t->n;
  double util = 0, mutil = 0, mem = 0, limit = 0, temp = NAN, counter = 0, power = 0;
  int n_util = 0, n_mutil = 0, n_mem = 0, n_limit = 0, n_power = 0, counter_ok = s->n_gpus > 0;
  bool alive = false; /* some GPU has a reading: held values may stand in for the others */
  uint32_t ng = s->n_gpus > DLE_MAX_GPUS ? DLE_MAX_GPUS : s->n_gpus;
  for (uint32_t g = 0; g < ng; g++) {
    const dle_gpu_sample *gs = &s->gpu[g];
    if (!isnan(gs->util_gpu_pct)) util += gs->util_gpu_pct, n_util++;
    if (!isnan(gs->util_mem_pct)) mutil += gs->util_mem_pct, n_mutil++;
    if (!isnan(gs->mem_used_mib)) mem += gs->mem_used_mib, n_mem++;
    if (!isnan(gs->power_limit_w)) limit += gs->power_limit_w, n_limit++;
    if (!isnan(gs->temp_c) && (isnan(temp) || gs->temp_c > temp)) temp = gs->temp_c;
    if (isnan(gs->energy_counter_j))
      counter_ok = 0;
    else
      counter += gs->energy_counter_j;
    if (!t->dev_power_w[g]) {
      double *col = NULL, *cc = NULL;
      if (grow(&col, 0, t->cap, 1) || grow(&cc, 0, t->cap, 1)) {
        free(col);
        return dle_error_set(err, DLE_ENOMEM, "out of memory");
      }
      t->dev_power_w[g] = col;
      t->dev_counter_j[g] = cc;
      t->dev_headline[g] = !t->gpus_selected;
    }
    t->dev_power_w[g][i] = gs->power_w;
    t->dev_counter_j[g][i] = gs->energy_counter_j;
    t->dev_index[g] = gs->device_index;
    /* The live sum: a device without a reading this tick counts with its last
     * value (a gap, not a dip); dle_trace_select_gpus interpolates properly. */
    if (!isnan(gs->power_w)) {
      t->dev_last_w[g] = gs->power_w;
      t->dev_seen[g] = true;
    }
    if (t->dev_headline[g] && t->dev_seen[g]) power += t->dev_last_w[g], n_power++;
    if (!isnan(gs->power_w)) alive = true;
  }
  if (ng > t->n_gpus) t->n_gpus = ng;
  /* The counter column of this row is a raw sum, not the selection's cumulative
   * energy: until dle_trace_select_gpus runs again, per-epoch energy uses power. */
  t->gpus_selected = false;
  t->t_s[i] = s->t_s;
  t->wall_s[i] = s->wall_s;
  t->gpu_power_w[i] = n_power && alive ? power : NAN;
  t->gpu_util_pct[i] = mean_or_nan(util, n_util);
  t->gpu_mem_util_pct[i] = mean_or_nan(mutil, n_mutil);
  t->gpu_mem_used_mib[i] = n_mem ? mem : NAN;
  t->gpu_temp_c[i] = temp;
  t->gpu_energy_counter_j[i] = counter_ok ? counter : NAN;
  t->gpu_power_limit_w[i] = n_limit ? limit : NAN;
  t->cpu_util_pct[i] = s->cpu_util_pct;
  t->rss_mib[i] = s->rss_mib;
  t->cpu_power_w[i] = s->cpu_power_w;
  t->dram_power_w[i] = s->dram_power_w;
  t->ram_power_w[i] = s->ram_power_w;
  t->cpu_energy_counter_j[i] = s->cpu_energy_counter_j;
  t->dram_energy_counter_j[i] = s->dram_energy_counter_j;
  t->n++;
  return DLE_OK;
}

void dle_trace_free(dle_trace *t) {
#define FREE(c) free(t->c);
  TRACE_COLUMNS(FREE)
#undef FREE
  for (int d = 0; d < DLE_MAX_GPUS; d++) free(t->dev_power_w[d]), free(t->dev_counter_j[d]);
  memset(t, 0, sizeof *t);
}

/* Value of column c of slot d at row i, linearly interpolated between the
 * slot's valid neighbours; NaN outside its first..last valid reading. prev/next
 * are the previous/next valid rows (SIZE_MAX when none). */
static double interp(const dle_trace *t, const double *c, size_t i, size_t prev, size_t next) {
  if (!isnan(c[i])) return c[i];
  if (prev == SIZE_MAX || next == SIZE_MAX) return NAN;
  double dt = t->t_s[next] - t->t_s[prev];
  if (!(dt > 0)) return c[prev];
  return c[prev] + (c[next] - c[prev]) * ((t->t_s[i] - t->t_s[prev]) / dt);
}

/* Reset-safe cumulative counter energy of slot d at every row into cum (0
 * before the first reading, held after the last). Returns false when the slot
 * has no counter reading. */
static bool cum_counter(const dle_trace *t, uint32_t d, double *cum) {
  const double *c = t->dev_counter_j[d], *p = t->dev_power_w[d];
  if (!c) return false;
  size_t first = SIZE_MAX, prev = SIZE_MAX;
  double acc = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (isnan(c[i]) || isnan(t->t_s[i])) {
      cum[i] = NAN;
      continue;
    }
    if (first == SIZE_MAX) {
      first = i;
    } else {
      double delta = c[i] - c[prev];
      if (delta < 0) { /* driver reload: count the interval by the power integral */
        delta = 0;
        if (p && !isnan(p[i]) && !isnan(p[prev]))
          delta = (t->t_s[i] - t->t_s[prev]) * (p[i] + p[prev]) / 2;
      }
      acc += delta;
    }
    cum[i] = acc;
    prev = i;
  }
  if (first == SIZE_MAX) return false;
  /* Fill: 0 before the first reading, interpolated in gaps, held after the last. */
  size_t last_valid = SIZE_MAX, next = 0; /* next: the gap's closing reading, found once
                                            per gap (a scan per row was quadratic) */
  for (size_t i = 0; i < t->n; i++) {
    if (!isnan(cum[i])) {
      last_valid = i;
      continue;
    }
    if (last_valid == SIZE_MAX) {
      cum[i] = 0;
      continue;
    }
    if (next <= i) {
      next = i + 1;
      while (next < t->n && isnan(cum[next])) next++;
    }
    if (next >= t->n) {
      cum[i] = cum[last_valid];
    } else {
      double dt = t->t_s[next] - t->t_s[last_valid];
      cum[i] = dt > 0 ? cum[last_valid] + (cum[next] - cum[last_valid]) *
                                               ((t->t_s[i] - t->t_s[last_valid]) / dt)
                      : cum[last_valid];
    }
  }
  return true;
}

double dle_trace_device_counter_j(const dle_trace *t, uint32_t slot) {
  if (!t || slot >= DLE_MAX_GPUS || !t->n || !t->dev_counter_j[slot]) return NAN;
  double *cum = malloc(t->n * sizeof *cum);
  if (!cum) return NAN;
  double e = cum_counter(t, slot, cum) ? cum[t->n - 1] : NAN;
  free(cum);
  return e;
}

bool dle_trace_gpu_row_alive(const dle_trace *t, size_t i) {
  for (uint32_t d = 0; d < t->n_gpus && d < DLE_MAX_GPUS; d++)
    if (t->dev_power_w[d] && !isnan(t->dev_power_w[d][i])) return true;
  return false;
}

void dle_trace_select_gpus(dle_trace *t, const uint32_t *indices, size_t n) {
  if (!t) return;
  t->gpus_selected = true;
  for (uint32_t d = 0; d < DLE_MAX_GPUS; d++) {
    bool on = n == 0;
    for (size_t k = 0; k < n && !on; k++) on = indices[k] == t->dev_index[d];
    t->dev_headline[d] = on && d < t->n_gpus && t->dev_power_w[d];
  }
  if (!t->n || !t->n_gpus) return;
  double *cum = malloc(t->n * sizeof *cum);
  size_t *nextv = malloc(t->n * sizeof *nextv);
  if (!cum || !nextv) {
    free(cum);
    free(nextv);
    return;
  }
  bool counters = true, any = false;
  for (size_t i = 0; i < t->n; i++) t->gpu_power_w[i] = t->gpu_energy_counter_j[i] = NAN;
  for (uint32_t d = 0; d < t->n_gpus && d < DLE_MAX_GPUS; d++) {
    if (!t->dev_headline[d]) continue;
    const double *p = t->dev_power_w[d];
    size_t nx = SIZE_MAX;
    for (size_t i = t->n; i-- > 0;) {
      nextv[i] = nx;
      if (!isnan(p[i])) nx = i;
    }
    size_t prev = SIZE_MAX;
    bool has = false;
    for (size_t i = 0; i < t->n; i++) {
      double v = interp(t, p, i, prev, nextv[i]);
      if (!isnan(p[i])) prev = i, has = true;
      if (isnan(v)) continue;
      t->gpu_power_w[i] = isnan(t->gpu_power_w[i]) ? v : t->gpu_power_w[i] + v;
    }
    if (!has) continue;
    any = true;
    if (!cum_counter(t, d, cum)) {
      counters = false;
      continue;
    }
    for (size_t i = 0; i < t->n; i++)
      t->gpu_energy_counter_j[i] =
          isnan(t->gpu_energy_counter_j[i]) ? cum[i] : t->gpu_energy_counter_j[i] + cum[i];
  }
  if (!counters || !any)
    for (size_t i = 0; i < t->n; i++) t->gpu_energy_counter_j[i] = NAN;
  for (size_t i = 0; i < t->n; i++)
    if (!dle_trace_gpu_row_alive(t, i)) t->gpu_power_w[i] = NAN; /* a hole, not bridged */
  free(cum);
  free(nextv);
}
