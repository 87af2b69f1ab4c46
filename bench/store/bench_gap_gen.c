/* bench_gap_gen STORE N GAP — writes three complete runs of N samples at 10 Hz into
 * a new run store through the store API, for bench/store/gap_memory.sh and the
 * streamed-energy gap test: two fake GPUs (NVML indices 0 and 1, power with two
 * decimals, energy counters), modelled CPU and RAM power, 10 epochs.
 *   run 1: GPU 1 has no power reading for GAP rows in the middle (a gap that closes)
 *   run 2: GPU 1 has no power reading for the last GAP rows (a gap open to the end)
 *   run 3: no gap (the control)
 * GPU 0 reads throughout, so the rows of GPU 1's gap are bridged between its
 * neighbours (docs/energy.md). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/store.h"

static void die(const char *what, const char *msg) {
  fprintf(stderr, "bench_gap_gen: %s: %s\n", what, msg);
  exit(1);
}

static void write_run(dle_store *st, size_t n, size_t gap_lo, size_t gap_hi, const char *name) {
  dle_error e = {0};
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.source, sizeof info.source, "import");
  snprintf(info.host, sizeof info.host, "bench");
  snprintf(info.command, sizeof info.command, "bench_gap_gen %s", name);
  snprintf(info.gpu_source, sizeof info.gpu_source, "nvml");
  snprintf(info.cpu_source, sizeof info.cpu_source, "model");
  snprintf(info.ram_source, sizeof info.ram_source, "model");
  info.start_wall_s = 1.7e9;
  info.interval_s = 0.1;
  info.epochs_planned = 10;
  info.carbon_g_per_kwh = 300;
  int64_t id = 0;
  if (dle_store_create_run(st, &info, &id, &e)) die("create run", e.msg);
  if (dle_store_set_meta(st, id, "gap", name, &e)) die("meta", e.msg);
  enum { BATCH = 4096 };
  dle_sample *v = calloc(BATCH, sizeof *v);
  if (!v) die("memory", "out of memory");
  double counter[2] = {1e6, 2e6};
  for (size_t i = 0; i < n;) {
    size_t m = n - i < BATCH ? n - i : BATCH;
    for (size_t j = 0; j < m; j++, i++) {
      dle_sample *s = &v[j];
      dle_sample_clear(s);
      s->t_s = 0.1 * (double)i;
      s->wall_s = 1.7e9 + s->t_s;
      s->cpu_util_pct = 40 + (double)(i % 17);
      s->rss_mib = 2048;
      s->cpu_power_w = 65 * s->cpu_util_pct / 100;
      s->ram_power_w = 0.375 * 2;
      s->n_gpus = 2;
      for (unsigned g = 0; g < 2; g++) {
        dle_gpu_sample *x = &s->gpu[g];
        double w = round((180 + 60 * g + 25 * sin((double)i * 0.013 + g)) * 100) / 100;
        counter[g] += 0.1 * w;
        bool on = g == 0 || i < gap_lo || i >= gap_hi;
        x->device_index = g;
        x->power_w = on ? w : NAN;
        x->energy_counter_j = on ? round(counter[g] * 1000) / 1000 : NAN;
        x->util_gpu_pct = on ? (double)(50 + i % 50) : NAN;
        x->util_mem_pct = 20;
        x->mem_used_mib = 10000;
        x->mem_total_mib = 24576;
        x->temp_c = on ? 60 + (double)(i % 7) : NAN;
        x->power_limit_w = 300;
      }
    }
    if (dle_store_append_samples(st, id, v, m, &e)) die("append", e.msg);
  }
  free(v);
  for (int k = 0; k < 10; k++) {
    dle_epoch ep = {.index = k, .t_begin_s = 0.1 * (double)n * k / 10,
                    .t_end_s = 0.1 * (double)n * (k + 1) / 10};
    if (dle_store_put_epoch(st, id, &ep, &e)) die("epoch", e.msg);
  }
  info.id = id;
  info.status = DLE_RUN_COMPLETE;
  info.end_wall_s = 1.7e9 + 0.1 * (double)n;
  if (dle_store_update_run(st, &info, &e)) die("update run", e.msg);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench_gap_gen STORE N GAP\n");
    return 2;
  }
  size_t n = (size_t)strtoull(argv[2], NULL, 10);
  size_t gap = (size_t)strtoull(argv[3], NULL, 10);
  if (n < 4 || gap < 1 || gap + 2 > n) die("arguments", "N >= 4 and 1 <= GAP <= N - 2");
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(argv[1], &st, &e)) die("open", e.msg);
  size_t lo = (n - gap) / 2;
  write_run(st, n, lo, lo + gap, "closed");
  write_run(st, n, n - gap, n, "open");
  write_run(st, n, n, n, "none");
  if (dle_store_commit(st, &e)) die("commit", e.msg);
  dle_store_close(st);
  return 0;
}
