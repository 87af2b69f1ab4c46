/* sample.c — see include/dlenergy/sample.h */
#include "dlenergy/sample.h"

#include <math.h>
#include <string.h>

void dle_sample_clear(dle_sample *s) {
  memset(s, 0, sizeof *s);
  s->t_s = s->wall_s = NAN;
  s->cpu_util_pct = s->rss_mib = NAN;
  s->cpu_power_w = s->dram_power_w = s->ram_power_w = NAN;
  s->cpu_energy_counter_j = s->dram_energy_counter_j = NAN;
  for (int i = 0; i < DLE_MAX_GPUS; i++) {
    dle_gpu_sample *g = &s->gpu[i];
    g->device_index = (uint32_t)i;
    g->power_w = g->energy_counter_j = g->util_gpu_pct = g->util_mem_pct = NAN;
    g->mem_used_mib = g->mem_total_mib = g->temp_c = g->power_limit_w = NAN;
  }
}

double dle_sample_gpu_power_w(const dle_sample *s) {
  double sum = 0;
  int any = 0;
  for (uint32_t i = 0; i < s->n_gpus && i < DLE_MAX_GPUS; i++) {
    if (!isnan(s->gpu[i].power_w)) {
      sum += s->gpu[i].power_w;
      any = 1;
    }
  }
  return any ? sum : NAN;
}
