/* Sampler thread: absolute deadlines (tick timestamps sit on the k x interval
 * grid with no accumulated drift), drop-oldest ring accounting, the ring reused
 * from its first slot once emptied, stop's final sample, set_pid, sample_once,
 * stats, bad configuration, and a run against the fake NVML. Assertions are on
 * the samples' relative timestamps and on counters, never on how fast the
 * machine is. */
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/sampler.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void no_sensors(dle_sampler_config *c) {
  dle_sampler_config_init(c);
  c->sensors.enable_nvml = false;
  c->sensors.enable_rapl = false;
  c->sensors.enable_procfs = false;
}

/* With deadlines start + k x I, the offset of tick k from its grid point is
 * only that tick's wake-up latency: it does not grow with k. A sampler that
 * slept I after each read would drift by (read + latency) per tick. */
static void test_no_drift(void) {
  dle_sampler_config c;
  no_sensors(&c);
  c.interval_s = 0.01;
  c.sensors.enable_procfs = true; /* some work per tick */
  c.sensors.root_pid = getpid();
  c.t0_ns = dle_monotonic_ns();
  dle_sampler *s = NULL;
  dle_error e;
  CHECK_OK(dle_sampler_create(&c, &s, &e), &e);
  if (!s) return;
  CHECK_OK(dle_sampler_start(s, &e), &e);
  CHECK(dle_sampler_start(s, &e) == DLE_ESTATE);
  dle_sample probe;
  CHECK(dle_sampler_sample_once(s, &probe, &e) == DLE_ESTATE);
  sleep_ms(1500);
  dle_sampler_stop(s);
  enum { MAX = 400 };
  static dle_sample buf[MAX];
  size_t n = 0;
  dle_sampler_drain(s, buf, MAX, &n);
  dle_sampler_stats st;
  dle_sampler_get_stats(s, &st);
  CHECK(st.ticks == n);
  CHECK(st.dropped == 0);
  CHECK_MSG(n >= 40, "only %zu samples in 1.5 s at 100 Hz", n);
  if (n < 40) {
    dle_sampler_destroy(s);
    return;
  }
  size_t nt = n - 1; /* the last sample is stop's, off the grid */
  const double I = c.interval_s;
  /* Tick 0 is taken as the thread starts (its deadline), so sample i sits at
   * grid point k_i plus its wake-up latency, which is >= 0. */
  double *off = malloc(nt * sizeof *off);
  for (size_t i = 0; i < nt; i++) {
    double rel = buf[i].t_s - buf[0].t_s;
    long k = (long)floor((rel + 0.05 * I) / I);
    off[i] = rel - k * I;
    CHECK(!isnan(buf[i].wall_s) && buf[i].wall_s > 1.6e9);
    if (i) CHECK(buf[i].wall_s >= buf[i - 1].wall_s - 0.01);
    if (i) CHECK(buf[i].t_s > buf[i - 1].t_s);
    /* No bursts: after any tick the next deadline is in the future, so two
     * ticks later at least one full interval has passed. */
    if (i >= 2) CHECK_MSG(buf[i].t_s - buf[i - 2].t_s > I - 1e-6, "burst at sample %zu", i);
  }
  /* Grid points covered = samples + skipped deadlines (+-1 for the last
   * tick's latency). */
  long k_last = lround((buf[nt - 1].t_s - buf[0].t_s) / I);
  CHECK_MSG(labs(k_last - (long)(nt - 1 + st.skipped_deadlines)) <= 1,
            "last grid index %ld, samples %zu, skipped %llu", k_last, nt,
            (unsigned long long)st.skipped_deadlines);
  /* No drift: the promptest ticks sit on the grid at the end as at the start
   * (a sampler sleeping I after each read would slide by read time + latency
   * per tick). */
  size_t w = nt / 4;
  double m_first = INFINITY, m_last = INFINITY;
  for (size_t i = 0; i < w; i++) {
    m_first = fmin(m_first, off[i]);
    m_last = fmin(m_last, off[nt - w + i]);
  }
  CHECK_MSG(fabs(m_last - m_first) < 0.2 * I, "grid offset drifted from %.6f to %.6f s",
            m_first, m_last);
  /* t_s is relative to the caller's t0, taken before start. */
  CHECK(buf[0].t_s >= 0 && buf[0].t_s < 1.0);
  /* stop's final sample comes after the last tick. */
  CHECK(buf[n - 1].t_s >= buf[n - 2].t_s);
  CHECK(st.cpu_time_s > 0);
  CHECK(st.max_read_s > 0);
  printf("no-drift: %zu ticks, %llu late, %llu skipped, min grid offset first/last quarter "
         "%.3f/%.3f ms, sampler CPU %.4f s\n",
         nt, (unsigned long long)st.late_ticks, (unsigned long long)st.skipped_deadlines,
         m_first * 1e3, m_last * 1e3, st.cpu_time_s);
  free(off);
  dle_sampler_stop(s); /* idempotent */
  dle_sampler_destroy(s);
}

/* Ring of 8, nobody draining: the oldest are dropped and counted, the 8 left
 * are the newest, oldest first, and the latest is the last of them. */
static void test_ring_drops(void) {
  dle_sampler_config c;
  no_sensors(&c);
  c.interval_s = 0.005;
  c.ring_capacity = 8;
  dle_sampler *s = NULL;
  dle_error e;
  CHECK_OK(dle_sampler_create(&c, &s, &e), &e);
  if (!s) return;
  dle_sample latest;
  CHECK(!dle_sampler_latest(s, &latest));
  CHECK_OK(dle_sampler_start(s, &e), &e);
  sleep_ms(300);
  dle_sampler_stop(s);
  dle_sampler_stats st;
  dle_sampler_get_stats(s, &st);
  CHECK_MSG(st.ticks > 8, "%llu ticks", (unsigned long long)st.ticks);
  CHECK(st.dropped == st.ticks - 8);
  dle_sample buf[20];
  size_t n = 0;
  dle_sampler_drain(s, buf, 3, &n);
  CHECK(n == 3);
  size_t n2 = 0;
  dle_sampler_drain(s, buf + 3, 20, &n2);
  CHECK(n2 == 5);
  for (size_t i = 1; i < n + n2; i++) CHECK(buf[i].t_s > buf[i - 1].t_s);
  CHECK(dle_sampler_latest(s, &latest));
  CHECK(latest.t_s == buf[7].t_s);
  dle_sampler_drain(s, buf, 20, &n);
  CHECK(n == 0);
  dle_sampler_destroy(s);
}

/* The ring starts again at its first slot whenever a drain empties it; partial drains,
 * wrap-around and drop-oldest keep the order across that (sample_once, no thread). */
static void test_ring_reuse(void) {
  dle_sampler_config c;
  no_sensors(&c);
  c.ring_capacity = 4;
  dle_sampler *s = NULL;
  dle_error e;
  CHECK_OK(dle_sampler_create(&c, &s, &e), &e);
  if (!s) return;
  dle_sample one, buf[8];
  size_t n = 0, total = 0;
  double last_t = -1;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 3; i++) CHECK_OK(dle_sampler_sample_once(s, &one, &e), &e);
    dle_sampler_drain(s, buf, 2, &n); /* partial: one left */
    CHECK(n == 2);
    for (size_t i = 0; i < n; i++, total++) {
      CHECK(buf[i].t_s > last_t);
      last_t = buf[i].t_s;
    }
    for (int i = 0; i < 3; i++) CHECK_OK(dle_sampler_sample_once(s, &one, &e), &e);
    dle_sampler_drain(s, buf, 8, &n); /* 1 + 3: full, nothing dropped, now empty */
    CHECK(n == 4);
    for (size_t i = 0; i < n; i++, total++) {
      CHECK(buf[i].t_s > last_t);
      last_t = buf[i].t_s;
    }
    CHECK(buf[n - 1].t_s == one.t_s);
  }
  for (int i = 0; i < 6; i++) CHECK_OK(dle_sampler_sample_once(s, &one, &e), &e);
  dle_sampler_drain(s, buf, 8, &n); /* the 4 newest of 6 */
  CHECK(n == 4);
  for (size_t i = 0; i < n; i++) {
    CHECK(buf[i].t_s > last_t);
    last_t = buf[i].t_s;
  }
  CHECK(buf[3].t_s == one.t_s);
  dle_sampler_stats st;
  dle_sampler_get_stats(s, &st);
  CHECK(st.ticks == total + 6);
  CHECK(st.dropped == 2);
  dle_sampler_destroy(s);
}

static void test_once_and_pid(void) {
  dle_sampler_config c;
  no_sensors(&c);
  c.sensors.enable_procfs = true;
  dle_sampler *s = NULL;
  dle_error e;
  CHECK_OK(dle_sampler_create(&c, &s, &e), &e);
  if (!s) return;
  dle_sample a;
  CHECK_OK(dle_sampler_sample_once(s, &a, &e), &e);
  CHECK(isnan(a.rss_mib)); /* no pid yet */
  CHECK(a.t_s >= 0 && a.t_s < 0.5);
  dle_sampler_set_pid(s, getpid());
  CHECK_OK(dle_sampler_sample_once(s, &a, &e), &e);
  CHECK(a.rss_mib > 0);
  CHECK_NEAR(a.ram_power_w, 0.375 * a.rss_mib * 1048576.0 / 1e9, 1e-12);
  dle_sensors_info info;
  dle_sampler_get_info(s, &info);
  CHECK(strcmp(info.ram_source, "model") == 0);
  dle_sampler_stats st;
  dle_sampler_get_stats(s, &st);
  CHECK(st.ticks == 2);
  dle_sampler_stop(s); /* never started: nothing to do */
  dle_sampler_get_stats(s, &st);
  CHECK(st.ticks == 2);
  dle_sampler_destroy(s);
  dle_sampler_destroy(NULL);
}

/* A long interval does not delay stop: the thread is woken, not waited out
 * (ctest's timeout catches the opposite). Only tick 0 and stop's sample exist. */
static void test_stop_wakes(void) {
  dle_sampler_config c;
  no_sensors(&c);
  c.interval_s = 3600;
  dle_sampler *s = NULL;
  dle_error e;
  CHECK_OK(dle_sampler_create(&c, &s, &e), &e);
  if (!s) return;
  CHECK_OK(dle_sampler_start(s, &e), &e);
  dle_sample x;
  while (!dle_sampler_latest(s, &x)) sleep_ms(1);
  dle_sampler_stop(s); /* were it to wait out the hour, the test would time out */
  dle_sampler_stats st;
  dle_sampler_get_stats(s, &st);
  CHECK(st.ticks == 2);
  CHECK(st.late_ticks == 0);
  dle_sampler_destroy(s);
}

/* The sampler thread blocks every signal: a SIGUSR1 sent to the process while
 * the main thread blocks it stays pending for the main thread (a thread with
 * it unblocked would have taken it and died of the default action). */
static void test_signals_not_taken(void) {
  dle_sampler_config c;
  no_sensors(&c);
  c.interval_s = 0.005;
  dle_sampler *s = NULL;
  dle_error e;
  CHECK_OK(dle_sampler_create(&c, &s, &e), &e);
  if (!s) return;
  CHECK_OK(dle_sampler_start(s, &e), &e);
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, &old);
  kill(getpid(), SIGUSR1);
  sleep_ms(50);
  sigset_t pending;
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGUSR1));
  int sig = 0;
  sigwait(&usr1, &sig);
  CHECK(sig == SIGUSR1);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  dle_sampler_destroy(s);
}

static void test_bad_config(void) {
  dle_sampler_config c;
  no_sensors(&c);
  dle_sampler *s = NULL;
  dle_error e;
  double bad[] = {0, -1, 0.0001, 1e6, NAN};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    c.interval_s = bad[i];
    CHECK(dle_sampler_create(&c, &s, &e) == DLE_EINVAL);
    CHECK(s == NULL);
  }
  c.interval_s = 0.1;
  c.ring_capacity = 0;
  CHECK(dle_sampler_create(&c, &s, &e) == DLE_EINVAL);
  c.ring_capacity = 16;
  c.sensors.gpus = "zero";
  c.sensors.enable_nvml = true;
  c.sensors.nvml_lib = "/nonexistent/libnvidia-ml.so.1";
  CHECK(dle_sampler_create(&c, &s, &e) == DLE_EINVAL);
  CHECK(strstr(e.msg, "zero") != NULL);
}

/* The sampler with fake GPUs: every sample has both GPUs' power, and the NVML
 * counter advances by the scripted 250 W (bounded by the sample times). */
static void test_with_fake_nvml(void) {
  const char *lib = getenv("FAKE_NVML_LIB");
  if (!lib) return;
  FILE *f = fopen("sampler_nvml.txt", "w");
  if (!f) return;
  fputs("devices 2\npower 0 0 250000\npower 1 0 50000\nenergy_supported 1 0\n", f);
  fclose(f);
  setenv("FAKE_NVML_SCRIPT", "sampler_nvml.txt", 1);
  dle_sampler_config c;
  no_sensors(&c);
  c.sensors.enable_nvml = true;
  c.sensors.nvml_lib = lib;
  c.interval_s = 0.02;
  dle_sampler *s = NULL;
  dle_error e;
  CHECK_OK(dle_sampler_create(&c, &s, &e), &e);
  if (!s) return;
  dle_sensors_info info;
  dle_sampler_get_info(s, &info);
  CHECK(info.n_gpus == 2 && strcmp(info.gpu_source, "nvml") == 0);
  CHECK_OK(dle_sampler_start(s, &e), &e);
  sleep_ms(300);
  dle_sampler_stop(s);
  dle_sample buf[64];
  size_t n = 0;
  dle_sampler_drain(s, buf, 64, &n);
  CHECK(n >= 3);
  for (size_t i = 0; i < n; i++) {
    CHECK(buf[i].n_gpus == 2);
    CHECK_NEAR(dle_sample_gpu_power_w(&buf[i]), 300, 1e-9);
    CHECK(isnan(buf[i].gpu[1].energy_counter_j));
  }
  if (n >= 2) {
    double dj = buf[n - 1].gpu[0].energy_counter_j - buf[0].gpu[0].energy_counter_j;
    double dt = buf[n - 1].t_s - buf[0].t_s;
    /* A read happens within max_read_s after its timestamp. */
    dle_sampler_stats st;
    dle_sampler_get_stats(s, &st);
    CHECK_MSG(fabs(dj - 250 * dt) <= 250 * (st.max_read_s + 0.0005) + 0.002,
              "counter +%.4f J over %.4f s", dj, dt);
  }
  dle_sampler_destroy(s);
}

int main(void) {
  unsetenv("DLENERGY_NVML_LIB");
  test_no_drift();
  test_ring_drops();
  test_ring_reuse();
  test_once_and_pid();
  test_stop_wakes();
  test_signals_not_taken();
  test_bad_config();
  test_with_fake_nvml();
  return check_finish();
}
