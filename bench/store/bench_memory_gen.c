/* bench_memory_gen STORE N [GPUS] — writes one complete run of N samples at 10 Hz
 * into a new run store through the store API, for bench/store/memory.sh: GPUS fake
 * GPUs (default 1) with two-decimal power readings (a warm-up ramp, then a level with
 * a periodic pattern, as a training looks), NVML-like energy counters, utilization,
 * memory and temperature; modelled CPU and RAM power; 20 epochs; and the metadata
 * fit --db and the estimators read (gpu_name, architecture, gflops, ...). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/store.h"

static void die(const char *what, const char *msg) {
  fprintf(stderr, "bench_memory_gen: %s: %s\n", what, msg);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: bench_memory_gen STORE N [GPUS]\n");
    return 2;
  }
  size_t n = (size_t)strtoull(argv[2], NULL, 10);
  unsigned gpus = argc == 4 ? (unsigned)atoi(argv[3]) : 1;
  if (n < 2 || gpus < 1 || gpus > 8) die("arguments", "N >= 2 and 1 <= GPUS <= 8");
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(argv[1], &st, &e)) die("open", e.msg);
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.source, sizeof info.source, "import");
  snprintf(info.host, sizeof info.host, "bench");
  snprintf(info.command, sizeof info.command, "bench_memory_gen %zu", n);
  snprintf(info.gpu_source, sizeof info.gpu_source, "nvml");
  snprintf(info.cpu_source, sizeof info.cpu_source, "model");
  snprintf(info.ram_source, sizeof info.ram_source, "model");
  info.start_wall_s = 1.7e9;
  info.interval_s = 0.1;
  info.epochs_planned = 20;
  info.carbon_g_per_kwh = 475;
  int64_t id = 0;
  if (dle_store_begin(st, &e) || dle_store_create_run(st, &info, &id, &e)) die("create", e.msg);
  static const char *meta[][2] = {
      {"gpu_name", "NVIDIA GeForce RTX 3090"}, {"architecture", "resnet18"},
      {"environment", "bench"}, {"dataset", "synthetic"}, {"batch_size", "64"},
      {"image", "224x224"}, {"training_size", "50000"}, {"validation_size", "10000"},
      {"gflops", "1.82"}, {"epochs_total", "20"}, {"gpu_tdp_w", "350"},
      {"host_ram_gb", "64"}, {"cpu_cores", "16"}, {"cpu_tdp_w", "105"}};
  for (size_t k = 0; k < sizeof meta / sizeof meta[0]; k++)
    if (dle_store_set_meta(st, id, meta[k][0], meta[k][1], &e)) die("meta", e.msg);
  enum { B = 4096 };
  dle_sample *v = malloc(B * sizeof *v);
  if (!v) die("malloc", "out of memory");
  double counter[8] = {0}, prev_w[8] = {0};
  for (size_t k = 0; k < n;) {
    size_t m = n - k < B ? n - k : B;
    for (size_t i = 0; i < m; i++, k++) {
      dle_sample *s = &v[i];
      dle_sample_clear(s);
      s->t_s = (double)k / 10.0;
      s->wall_s = 1.7e9 + s->t_s;
      s->cpu_util_pct = (double)(400 + k * 7919 % 200) / 10.0;
      s->rss_mib = (double)(4096000 + k % 977) / 1000.0;
      s->cpu_power_w = round(s->cpu_util_pct * 105.0) / 100.0;
      s->ram_power_w = 0.375 * s->rss_mib / 1024.0;
      s->n_gpus = gpus;
      double ramp = k < 3000 ? (double)k / 3000.0 : 1.0;
      for (unsigned g = 0; g < gpus; g++) {
        dle_gpu_sample *gs = &s->gpu[g];
        double w = 80.0 + ramp * (180.0 + 20.0 * sin((double)k / 50.0)) +
                   (double)((k * 104729 + g * 31) % 1000) / 100.0;
        w = round(w * 100.0) / 100.0;
        if (k) counter[g] += 0.1 * (w + prev_w[g]) / 2.0;
        prev_w[g] = w;
        gs->device_index = g;
        gs->power_w = w;
        gs->energy_counter_j = round(counter[g] * 1000.0) / 1000.0;
        gs->util_gpu_pct = ramp * 95.0;
        gs->util_mem_pct = ramp * 40.0;
        gs->mem_used_mib = 10240;
        gs->mem_total_mib = 24576;
        gs->temp_c = round(40.0 + ramp * 30.0);
        gs->power_limit_w = 350;
      }
    }
    if (dle_store_append_samples(st, id, v, m, &e)) die("append", e.msg);
  }
  double dur = (double)(n - 1) / 10.0;
  for (int k = 0; k < 20; k++) {
    dle_epoch ep = {.index = k, .t_begin_s = dur * k / 20.0, .t_end_s = dur * (k + 1) / 20.0};
    snprintf(ep.metrics, sizeof ep.metrics, "loss=%.3f", 1.0 / (k + 1));
    if (dle_store_put_epoch(st, id, &ep, &e)) die("epoch", e.msg);
  }
  info.id = id;
  info.status = DLE_RUN_COMPLETE;
  info.end_wall_s = info.start_wall_s + dur;
  info.exit_code = 0;
  if (dle_store_update_run(st, &info, &e) || dle_store_commit(st, &e)) die("finish", e.msg);
  dle_store_close(st);
  free(v);
  printf("%lld\n", (long long)id);
  return 0;
}
