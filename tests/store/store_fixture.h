/* store_fixture.h — sample data and comparisons shared by the store tests. */
#ifndef DLE_TESTS_STORE_FIXTURE_H
#define DLE_TESTS_STORE_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "dlenergy/sample.h"

/* Equal as stored values: both NaN, or the same double. */
static inline int same_double(double a, double b) {
  return (isnan(a) && isnan(b)) || a == b;
}

/* A deterministic but irregular sample k: 0, 1 or 2 GPUs, NaNs sprinkled in,
 * values that do not round-trip through short decimal forms. */
static inline void fixture_sample(dle_sample *s, uint32_t k) {
  dle_sample_clear(s);
  s->t_s = 0.1 * k + 1e-9 * (k % 7);
  s->wall_s = 1.7e9 + s->t_s;
  s->cpu_util_pct = (k % 5 == 0) ? NAN : 12.5 + k / 3.0;
  s->rss_mib = 1024.0 + k * 0.001;
  s->cpu_power_w = 35.0 + sin(k) * 10.0;
  s->dram_power_w = (k % 3 == 0) ? NAN : 4.2 + 1.0 / (k + 1);
  s->ram_power_w = 0.375 * 16;
  s->cpu_energy_counter_j = k % 11 == 0 ? NAN : 3.5 * k;
  s->dram_energy_counter_j = NAN;
  s->n_gpus = (k % 13 == 12) ? 0 : (k % 4 == 3 ? 1 : 2);
  for (uint32_t g = 0; g < s->n_gpus; g++) {
    dle_gpu_sample *x = &s->gpu[g];
    x->device_index = g * 2; /* like --gpus 0,2 */
    x->power_w = (k % 17 == 5 && g == 1) ? NAN : 100.0 + g * 50 + cos(k * 0.37) * 20.0;
    x->energy_counter_j = g == 1 ? NAN : 1e6 + 1.000000001 * k * 100;
    x->util_gpu_pct = (double)(k % 101);
    x->util_mem_pct = (double)((k * 7) % 101);
    x->mem_used_mib = 2000.0 + k;
    x->mem_total_mib = 24576.0;
    x->temp_c = 40.0 + (k % 30);
    x->power_limit_w = 300.0;
  }
}

static inline int same_sample(const dle_sample *a, const dle_sample *b) {
  if (a->n_gpus != b->n_gpus) return 0;
  if (!same_double(a->t_s, b->t_s) || !same_double(a->wall_s, b->wall_s) ||
      !same_double(a->cpu_util_pct, b->cpu_util_pct) || !same_double(a->rss_mib, b->rss_mib) ||
      !same_double(a->cpu_power_w, b->cpu_power_w) ||
      !same_double(a->dram_power_w, b->dram_power_w) ||
      !same_double(a->ram_power_w, b->ram_power_w) ||
      !same_double(a->cpu_energy_counter_j, b->cpu_energy_counter_j) ||
      !same_double(a->dram_energy_counter_j, b->dram_energy_counter_j))
    return 0;
  for (uint32_t g = 0; g < a->n_gpus; g++) {
    const dle_gpu_sample *x = &a->gpu[g], *y = &b->gpu[g];
    if (x->device_index != y->device_index || !same_double(x->power_w, y->power_w) ||
        !same_double(x->energy_counter_j, y->energy_counter_j) ||
        !same_double(x->util_gpu_pct, y->util_gpu_pct) ||
        !same_double(x->util_mem_pct, y->util_mem_pct) ||
        !same_double(x->mem_used_mib, y->mem_used_mib) ||
        !same_double(x->mem_total_mib, y->mem_total_mib) ||
        !same_double(x->temp_c, y->temp_c) || !same_double(x->power_limit_w, y->power_limit_w))
      return 0;
  }
  return 1;
}

#endif
