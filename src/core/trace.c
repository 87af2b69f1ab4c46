/* trace.c — see include/dlenergy/trace.h */
#include "dlenergy/trace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_COLUMNS(X)                                                               \
  X(t_s) X(wall_s) X(gpu_power_w) X(gpu_util_pct) X(gpu_mem_util_pct) X(gpu_mem_used_mib) \
  X(gpu_temp_c) X(gpu_energy_counter_j) X(gpu_power_limit_w) X(cpu_util_pct) X(rss_mib) \
  X(cpu_power_w) X(dram_power_w) X(ram_power_w)

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
    if (t->dev_power_w[d] && grow(&t->dev_power_w[d], t->cap, cap, 1))
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
  t->cap = cap;
  return DLE_OK;
}

static double mean_or_nan(double sum, int n) { return n ? sum / n : NAN; }

int dle_trace_append(dle_trace *t, const dle_sample *s, dle_error *err) {
  int rc = dle_trace_reserve(t, t->n + 1, err);
  if (rc) return rc;
  size_t i = t->n;
  double util = 0, mutil = 0, mem = 0, limit = 0, temp = NAN, counter = 0;
  int n_util = 0, n_mutil = 0, n_mem = 0, n_limit = 0, counter_ok = s->n_gpus > 0;
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
      double *col = NULL;
      if (grow(&col, 0, t->cap, 1)) return dle_error_set(err, DLE_ENOMEM, "out of memory");
      t->dev_power_w[g] = col;
    }
    t->dev_power_w[g][i] = gs->power_w;
    t->dev_index[g] = gs->device_index;
  }
  if (ng > t->n_gpus) t->n_gpus = ng;
  t->t_s[i] = s->t_s;
  t->wall_s[i] = s->wall_s;
  t->gpu_power_w[i] = dle_sample_gpu_power_w(s);
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
  t->n++;
  return DLE_OK;
}

void dle_trace_free(dle_trace *t) {
#define FREE(c) free(t->c);
  TRACE_COLUMNS(FREE)
#undef FREE
  for (int d = 0; d < DLE_MAX_GPUS; d++) free(t->dev_power_w[d]);
  memset(t, 0, sizeof *t);
}
