/* sample.c — see include/dlenergy/sample.h */
#include "dlenergy/sample.h"

#include <math.h>
#include <string.h>

/* The cleared sample as a constant: copying it is several times cheaper than setting
 * the ~150 fields one by one (a 1.2 kB struct is cleared per imported or read sample). */
#define GPU_CLEARED(i) {(i), NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN}
static const dle_sample CLEARED = {
    NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0,
    {GPU_CLEARED(0), GPU_CLEARED(1), GPU_CLEARED(2), GPU_CLEARED(3), GPU_CLEARED(4),
     GPU_CLEARED(5), GPU_CLEARED(6), GPU_CLEARED(7), GPU_CLEARED(8), GPU_CLEARED(9),
     GPU_CLEARED(10), GPU_CLEARED(11), GPU_CLEARED(12), GPU_CLEARED(13), GPU_CLEARED(14),
     GPU_CLEARED(15)}};
_Static_assert(DLE_MAX_GPUS == 16, "CLEARED lists DLE_MAX_GPUS GPU slots");

void dle_sample_clear(dle_sample *s) { memcpy(s, &CLEARED, sizeof *s); }

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
