/* Writes a run store with synthetic runs whose estimates are computed by hand (see
 * test_estimate.c for the arithmetic) for test_estimate_cli.py:
 *   run 1  trace A, 12 epochs of 10 s, complete, gpu_tdp_w 300, epochs_total 12
 *   run 2  trace A without epochs, complete
 *   run 3  trace A up to 60 s with 6 epochs, still running, 12 planned
 *   run 4  1800 s at 1 Hz, warm-up to 180 s then a periodic regime, 30 epochs of 60 s
 * Usage: test_estimate_fixture DB (a new file). */
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/store.h"

static void sample_a(int i, dle_sample *s) {
  dle_sample_clear(s);
  s->t_s = i;
  s->wall_s = 1.7e9 + i;
  s->n_gpus = 1;
  s->gpu[0].power_w = i < 10 ? 100 + 10.0 * i : 200;
  s->gpu[0].util_gpu_pct = 50;
  s->gpu[0].power_limit_w = 300;
  s->ram_power_w = 10;
  s->rss_mib = 2048;
  s->cpu_util_pct = 25;
}

static int64_t add_run(dle_store *st, dle_run_status status, int planned, const char *arch) {
  dle_run_info info;
  dle_run_info_init(&info);
  info.status = status;
  info.start_wall_s = 1.7e9;
  info.end_wall_s = status == DLE_RUN_RUNNING ? NAN : 1.7e9 + 120;
  info.interval_s = 1;
  info.epochs_planned = planned;
  snprintf(info.gpu_source, sizeof info.gpu_source, "nvml");
  snprintf(info.ram_source, sizeof info.ram_source, "model");
  int64_t id = -1;
  dle_error e;
  CHECK_OK(dle_store_create_run(st, &info, &id, &e), &e);
  info.id = id;
  CHECK_OK(dle_store_update_run(st, &info, &e), &e);
  CHECK_OK(dle_store_set_meta(st, id, "architecture", arch, &e), &e);
  return id;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DB\n", argv[0]);
    return 2;
  }
  unlink(argv[1]);
  dle_store *st = NULL;
  dle_error e;
  CHECK_OK(dle_store_open(argv[1], &st, &e), &e);
  if (!st) return check_finish();
  dle_sample s;
  for (int r = 1; r <= 3; r++) {
    int64_t id = add_run(st, r == 3 ? DLE_RUN_RUNNING : DLE_RUN_COMPLETE, r == 3 ? 12 : 0,
                         r == 2 ? "synthetic-b" : "synthetic-a");
    CHECK(id == r);
    int last = r == 3 ? 60 : 120;
    for (int i = 0; i <= last; i++) {
      sample_a(i, &s);
      CHECK_OK(dle_store_append_samples(st, id, &s, 1, &e), &e);
    }
    int n_ep = r == 1 ? 12 : r == 3 ? 6 : 0;
    for (int k = 0; k < n_ep; k++) {
      dle_epoch ep = {.index = k + 1, .t_begin_s = 10.0 * k, .t_end_s = 10.0 * (k + 1)};
      CHECK_OK(dle_store_put_epoch(st, id, &ep, &e), &e);
    }
    if (r == 1) {
      CHECK_OK(dle_store_set_meta(st, id, "gpu_tdp_w", "300", &e), &e);
      CHECK_OK(dle_store_set_meta(st, id, "epochs_total", "12", &e), &e);
    }
  }
  int64_t id = add_run(st, DLE_RUN_COMPLETE, 30, "synthetic-d");
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (int i = 0; i <= 1800; i++) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    double u = (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
    dle_sample_clear(&s);
    s.t_s = i;
    s.wall_s = 1.7e9 + i;
    s.n_gpus = 1;
    s.gpu[0].power_w = i < 180 ? 80 + 10 * u + 5 * sin(i / 4.0)
                               : 250 + 40 * sin(2 * M_PI * (i - 180) / 20.0) + u;
    CHECK_OK(dle_store_append_samples(st, id, &s, 1, &e), &e);
  }
  for (int k = 0; k < 30; k++) {
    dle_epoch ep = {.index = k, .t_begin_s = 60.0 * k, .t_end_s = 60.0 * (k + 1)};
    CHECK_OK(dle_store_put_epoch(st, id, &ep, &e), &e);
  }
  CHECK_OK(dle_store_commit(st, &e), &e);
  dle_store_close(st);
  return check_finish();
}
