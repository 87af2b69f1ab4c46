/* The recorder's in-process mode: the drain thread moves samples into the store and
 * the trace without the caller draining; marks and windows from two threads at once
 * while it runs; named windows (nested, overlapping, a name reused once closed, the
 * errors), read back from the store's metadata with the same energies as epochs over
 * the same span; stop joins the thread. The drain thread's default period (a second)
 * commits while the run goes on, and a period longer than the sampler's ring can hold
 * is shortened instead of dropping samples. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/energy.h"
#include "dlenergy/recorder.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

typedef struct marker_arg {
  dle_recorder *r;
  int first; /* epochs first, first + 2, ... */
  int fails;
} marker_arg;

static void *marker_thread(void *p) {
  marker_arg *a = p;
  char name[32];
  snprintf(name, sizeof name, "thread-%d", a->first);
  dle_error e;
  if (dle_recorder_window_begin(a->r, name, dle_recorder_now_s(a->r), &e) != DLE_OK) a->fails++;
  for (int k = 0; k < 20; k++) {
    int idx = a->first + 2 * k;
    dle_recorder_epoch_begin(a->r, idx, dle_recorder_now_s(a->r));
    sleep_ms(2);
    if (!dle_recorder_epoch_end(a->r, idx, dle_recorder_now_s(a->r), "loss=1")) a->fails++;
  }
  double ej = NAN;
  if (dle_recorder_window_end(a->r, name, dle_recorder_now_s(a->r), &ej, &e) != DLE_OK) a->fails++;
  return NULL;
}

static void test_inproc(const char *dir) {
  char db[512];
  snprintf(db, sizeof db, "%s/inproc.db", dir);
  dle_recorder_config c;
  dle_recorder_config_init(&c);
  c.db = db;
  c.sampler.sensors.enable_nvml = false;
  c.sampler.sensors.enable_rapl = false;
  c.sampler.sensors.root_pid = getpid();
  c.sampler.interval_s = 0.01;
  c.source = "inproc";
  dle_recorder *r = NULL;
  dle_error e;
  CHECK_OK(dle_recorder_begin(&c, &r, &e), &e);
  if (!r) return;
  CHECK(isnan(dle_recorder_now_s(r)));
  CHECK(dle_recorder_start_drain_thread(r, 0.02, &e) == DLE_ESTATE); /* not started */
  CHECK_OK(dle_recorder_start(r, &e), &e);
  CHECK_OK(dle_recorder_start_drain_thread(r, 0.02, &e), &e);
  CHECK(dle_recorder_start_drain_thread(r, 0.02, &e) == DLE_ESTATE);

  /* Windows: outer contains inner; "b" overlaps "outer"'s end. */
  CHECK_OK(dle_recorder_window_begin(r, "outer", dle_recorder_now_s(r), &e), &e);
  CHECK(dle_recorder_window_begin(r, "outer", 0.1, &e) == DLE_ESTATE);
  CHECK(strstr(e.msg, "already open") != NULL);
  CHECK(dle_recorder_window_begin(r, "", 0.1, &e) == DLE_EINVAL);
  CHECK(dle_recorder_window_begin(r, "bad\nname", 0.1, &e) == DLE_EINVAL);
  CHECK(dle_recorder_window_end(r, "never", 0.1, NULL, &e) == DLE_ENOTFOUND);
  CHECK(strstr(e.msg, "never") != NULL);
  sleep_ms(60);
  CHECK_OK(dle_recorder_window_begin(r, "inner", dle_recorder_now_s(r), &e), &e);
  sleep_ms(60);
  double inner_j = NAN;
  CHECK_OK(dle_recorder_window_end(r, "inner", dle_recorder_now_s(r), &inner_j, &e), &e);
  CHECK(isfinite(inner_j) && inner_j >= 0); /* modelled CPU + RAM of this process */
  CHECK_OK(dle_recorder_window_begin(r, "b", dle_recorder_now_s(r), &e), &e);
  sleep_ms(40);
  CHECK_OK(dle_recorder_window_end(r, "outer", dle_recorder_now_s(r), NULL, &e), &e);
  sleep_ms(40);
  CHECK_OK(dle_recorder_window_end(r, "b", dle_recorder_now_s(r), NULL, &e), &e);
  /* a closed name may be opened again */
  CHECK_OK(dle_recorder_window_begin(r, "inner", dle_recorder_now_s(r), &e), &e);

  /* Marks from two threads while the drain thread runs. */
  pthread_t th[2];
  marker_arg a[2] = {{r, 1, 0}, {r, 2, 0}};
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, marker_thread, &a[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  CHECK(a[0].fails == 0 && a[1].fails == 0);
  sleep_ms(50);
  /* The drain thread moved samples into the trace with nobody calling drain. */
  size_t n_before_stop;
  {
    double t1 = dle_recorder_now_s(r);
    CHECK(t1 > 0.24); /* the sleeps above add up to 0.25 s */
    n_before_stop = dle_recorder_trace(r)->n; /* read races benignly: only a lower bound */
    CHECK(n_before_stop > 10);
  }
  dle_recorder_stop(r); /* joins the drain thread */
  dle_recorder_drain(r);
  CHECK_OK(dle_recorder_finish(r, DLE_RUN_COMPLETE, 0, 0), &e);
  size_t nw;
  const dle_window *w = dle_recorder_windows(r, &nw);
  CHECK(nw == 6); /* outer, inner, b, inner (open), thread-1, thread-2 */
  size_t ne;
  dle_recorder_epochs(r, &ne);
  CHECK(ne == 40);
  const dle_trace *tr = dle_recorder_trace(r);
  CHECK(tr->n >= n_before_stop);
  int64_t id = dle_recorder_run_id(r);

  /* Read back: the windows from the metadata, as begun (the open one stays open). */
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(db, &st, &e), &e);
  dle_kv *kv = NULL;
  size_t nkv = 0;
  CHECK_OK(dle_store_get_meta(st, id, &kv, &nkv, &e), &e);
  dle_window *rw = NULL;
  size_t nrw = 0;
  CHECK_OK(dle_windows_from_meta(kv, nkv, &rw, &nrw, &e), &e);
  CHECK(nrw == nw);
  for (size_t k = 0; k < nrw && k < nw; k++) {
    CHECK(strcmp(rw[k].name, w[k].name) == 0);
    CHECK(rw[k].seq == (int)k + 1);
    CHECK(rw[k].t_begin_s == w[k].t_begin_s); /* %.17g round-trips */
    CHECK((isnan(rw[k].t_end_s) && isnan(w[k].t_end_s)) || rw[k].t_end_s == w[k].t_end_s);
  }
  CHECK(nrw >= 4 && strcmp(rw[3].name, "inner") == 0 && isnan(rw[3].t_end_s));
  CHECK(nrw >= 3 && rw[2].t_begin_s < rw[0].t_end_s && rw[2].t_end_s > rw[0].t_end_s);
  /* A window's energy is an epoch's over the same span. */
  dle_trace stored;
  memset(&stored, 0, sizeof stored);
  CHECK_OK(dle_store_load_trace(st, id, &stored, &e), &e);
  CHECK(stored.n == tr->n);
  for (size_t k = 0; k < nrw; k++) {
    double parts[DLE_COMP_COUNT], tot;
    dle_window_energy(&stored, &rw[k], parts, &tot);
    dle_epoch ep;
    memset(&ep, 0, sizeof ep);
    ep.t_begin_s = rw[k].t_begin_s;
    ep.t_end_s = rw[k].t_end_s;
    double cpu = NAN, ram = NAN;
    CHECK_OK(dle_energy_per_epoch(&stored, &ep, 1, DLE_COMP_CPU, &cpu, &e), &e);
    CHECK_OK(dle_energy_per_epoch(&stored, &ep, 1, DLE_COMP_RAM, &ram, &e), &e);
    CHECK(parts[DLE_COMP_CPU] == cpu);
    CHECK(parts[DLE_COMP_RAM] == ram);
    CHECK(isnan(parts[DLE_COMP_GPU]));
    CHECK(fabs(tot - (cpu + ram)) <= 1e-12 * (1 + fabs(tot)));
  }
  /* Malformed window values are skipped, not fatal. */
  dle_kv bad[3] = {{"window.1", "1 2 ok"}, {"window.x", "1 2 no"}, {"window.3", "5 4 backwards"}};
  dle_window *bw = NULL;
  size_t nbw = 0;
  CHECK_OK(dle_windows_from_meta(bad, 3, &bw, &nbw, &e), &e);
  CHECK(nbw == 1 && bw && strcmp(bw[0].name, "ok") == 0);
  free(bw);
  free(rw);
  dle_kv_free(kv, nkv);
  dle_trace_free(&stored);
  dle_store_close(st);
  dle_recorder_free(r);
}

static dle_recorder *start_quiet(const char *db, double interval_s, size_t ring, double period_s) {
  dle_recorder_config c;
  dle_recorder_config_init(&c);
  c.db = db;
  c.sampler.sensors.enable_nvml = false;
  c.sampler.sensors.enable_rapl = false;
  c.sampler.sensors.root_pid = getpid();
  c.sampler.interval_s = interval_s;
  c.sampler.ring_capacity = ring;
  c.source = "inproc";
  dle_recorder *r = NULL;
  dle_error e;
  CHECK_OK(dle_recorder_begin(&c, &r, &e), &e);
  if (!r) return NULL;
  CHECK_OK(dle_recorder_start(r, &e), &e);
  CHECK_OK(dle_recorder_start_drain_thread(r, period_s, &e), &e);
  return r;
}

/* The default period commits on its own: another handle sees samples while the run goes
 * on (polled for up to 20 s, so a loaded machine only makes it slower, never failing). */
static void test_default_period_commits(const char *dir) {
  char db[512];
  snprintf(db, sizeof db, "%s/commit.db", dir);
  dle_recorder *r = start_quiet(db, 0.05, 4096, 0);
  if (!r) return;
  dle_store *st = NULL;
  dle_error e;
  CHECK_OK(dle_store_open(db, &st, &e), &e);
  int64_t n = 0;
  for (int i = 0; i < 400 && n == 0 && st; i++) {
    sleep_ms(50);
    CHECK_OK(dle_store_count_samples(st, dle_recorder_run_id(r), &n, &e), &e);
  }
  CHECK(n > 0);
  dle_store_close(st);
  dle_recorder_stop(r);
  dle_recorder_drain(r);
  CHECK_OK(dle_recorder_finish(r, DLE_RUN_COMPLETE, 0, 0), &e);
  dle_recorder_free(r);
}

/* A 60 s period with a ring of 64 samples at 5 ms (0.32 s of them) would drop all but
 * the last 64 of 300 samples; the period is cut to half the ring's span instead. */
static void test_period_fits_ring(const char *dir) {
  char db[512];
  snprintf(db, sizeof db, "%s/ring.db", dir);
  dle_recorder *r = start_quiet(db, 0.005, 64, 60);
  if (!r) return;
  sleep_ms(1500);
  dle_recorder_stop(r);
  dle_recorder_drain(r);
  dle_sampler_stats ss;
  dle_recorder_sampler_stats(r, &ss);
  CHECK(ss.ticks >= 100);
  CHECK(ss.dropped < ss.ticks / 3); /* uncapped: ticks - 64, most of them */
  CHECK(dle_recorder_trace(r)->n + ss.dropped == ss.ticks);
  dle_error e;
  CHECK_OK(dle_recorder_finish(r, DLE_RUN_COMPLETE, 0, 0), &e);
  dle_recorder_free(r);
}

int main(void) {
  char dir[] = "/tmp/dle_rec_inproc_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  test_inproc(dir);
  test_default_period_commits(dir);
  test_period_fits_ring(dir);
  static const char *const dbs[] = {"inproc", "commit", "ring"};
  static const char *const ext[] = {"db", "db-wal", "db-shm"};
  char cmd[600];
  for (size_t i = 0; i < 3; i++)
    for (size_t j = 0; j < 3; j++) {
      snprintf(cmd, sizeof cmd, "%s/%s.%s", dir, dbs[i], ext[j]);
      unlink(cmd);
    }
  rmdir(dir);
  return check_finish();
}
