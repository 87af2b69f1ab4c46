/* store_mkfixture DB N [EXPECT] — writes one run of N fixture samples (NaNs, GPUs 0
 * and 2, some samples without GPUs) and three epochs into the store DB; prints the run
 * id. With EXPECT, also writes what it appended, as exact hex floats, one line per
 * sample ("h,seq,9 host values") and per GPU ("g,seq,device,8 values"), so that the
 * export test compares the CSV with what was written, not with the store's own view. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlenergy/store.h"
#include "store_fixture.h"

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: store_mkfixture DB N [EXPECT]\n");
    return 2;
  }
  long n = strtol(argv[2], NULL, 10);
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(argv[1], &st, &e)) goto fail;
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.host, sizeof info.host, "fixture");
  int64_t id = 0;
  if (dle_store_create_run(st, &info, &id, &e)) goto fail;
  FILE *ex = argc == 4 ? fopen(argv[3], "w") : NULL;
  if (argc == 4 && !ex) {
    perror(argv[3]);
    return 1;
  }
  for (long k = 0; k < n; k++) {
    dle_sample s;
    fixture_sample(&s, (uint32_t)k);
    if (dle_store_append_samples(st, id, &s, 1, &e)) goto fail;
    if (!ex) continue;
    fprintf(ex, "h,%ld,%a,%a,%a,%a,%a,%a,%a,%a,%a\n", k, s.t_s, s.wall_s, s.cpu_util_pct,
            s.rss_mib, s.cpu_power_w, s.dram_power_w, s.ram_power_w, s.cpu_energy_counter_j,
            s.dram_energy_counter_j);
    for (uint32_t g = 0; g < s.n_gpus; g++) {
      const dle_gpu_sample *x = &s.gpu[g];
      fprintf(ex, "g,%ld,%u,%a,%a,%a,%a,%a,%a,%a,%a\n", k, x->device_index, x->power_w,
              x->energy_counter_j, x->util_gpu_pct, x->util_mem_pct, x->mem_used_mib,
              x->mem_total_mib, x->temp_c, x->power_limit_w);
    }
  }
  if (ex && fclose(ex)) {
    perror(argv[3]);
    return 1;
  }
  dle_epoch ep[3] = {{.index = 1, .t_begin_s = 0.0, .t_end_s = 3.25},
                     {.index = 2, .t_begin_s = 3.25, .t_end_s = 7.1},
                     {.index = 3, .t_begin_s = 7.1, .t_end_s = NAN}};
  snprintf(ep[0].metrics, sizeof ep[0].metrics, "loss=0.5 val_accuracy=0.81");
  snprintf(ep[1].metrics, sizeof ep[1].metrics, "note=\"a, b\" loss=0.4");
  for (int i = 0; i < 3; i++)
    if (dle_store_put_epoch(st, id, &ep[i], &e)) goto fail;
  info.id = id;
  info.status = DLE_RUN_COMPLETE;
  if (dle_store_update_run(st, &info, &e)) goto fail;
  dle_store_close(st);
  printf("%" PRId64 "\n", id);
  return 0;
fail:
  fprintf(stderr, "store_mkfixture: %s\n", e.msg);
  dle_store_close(st);
  return 1;
}
