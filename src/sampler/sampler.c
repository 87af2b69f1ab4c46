/* sampler.c — the sampling thread. See include/dlenergy/sampler.h.
 *
 * The thread waits on a condition variable bound to CLOCK_MONOTONIC with an
 * absolute deadline (start + k x interval): equivalent to clock_nanosleep with
 * TIMER_ABSTIME, but dle_sampler_stop can wake it at once instead of waiting
 * out a long interval. Deadlines are computed from k, never from "now", so
 * lateness does not accumulate. */
#define _GNU_SOURCE /* pthread_setname_np */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlenergy/sampler.h"

struct dle_sampler {
  dle_sampler_config cfg;
  dle_sensors *sensors;
  int64_t interval_ns;
  int64_t t0_ns;

  pthread_t thread;
  bool started;      /* thread created */
  bool joined;
  clockid_t thread_clock;
  bool have_thread_clock;

  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t cv;
  bool stop;
  pid_t pending_pid;
  bool pid_pending;
  dle_sample *ring;
  size_t cap, head, count;
  dle_sample latest;
  bool have_latest;
  dle_sampler_stats stats;
  double thread_cpu_final_s; /* the thread's CPU time, recorded as it exits */
  bool thread_done;
  double sync_cpu_s;         /* CPU time of samples taken on callers' threads */

  pthread_mutex_t sensors_mu; /* the sensors handle is used by one thread at a time */
};

void dle_sampler_config_init(dle_sampler_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  dle_sensors_config_init(&cfg->sensors);
  cfg->interval_s = 0.1;
  cfg->ring_capacity = 4096;
}

static double clock_s(clockid_t c) {
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0) return NAN;
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_now_s(void) { return clock_s(CLOCK_REALTIME); }

int dle_sampler_create(const dle_sampler_config *cfg, dle_sampler **out, dle_error *err) {
  *out = NULL;
  if (!cfg) return dle_error_set(err, DLE_EINVAL, "no sampler configuration");
  if (!(cfg->interval_s >= 0.001 && cfg->interval_s <= 3600))
    return dle_error_set(err, DLE_EINVAL, "sampling interval %g s out of range 0.001..3600",
                         cfg->interval_s);
  if (cfg->ring_capacity < 1 || cfg->ring_capacity > 10000000)
    return dle_error_set(err, DLE_EINVAL, "ring capacity %zu out of range 1..10000000",
                         cfg->ring_capacity);
  if (cfg->t0_ns < 0) return dle_error_set(err, DLE_EINVAL, "negative t0");
  dle_sampler *s = calloc(1, sizeof *s);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  s->cfg = *cfg;
  s->interval_ns = (int64_t)llround(cfg->interval_s * 1e9);
  s->cap = cfg->ring_capacity;
  s->ring = calloc(s->cap, sizeof *s->ring);
  if (!s->ring) {
    free(s);
    return dle_error_set(err, DLE_ENOMEM, "out of memory for %zu samples", cfg->ring_capacity);
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->sensors_mu, NULL);
  dle_sample_clear(&s->latest);
  int rc = dle_sensors_open(&cfg->sensors, &s->sensors, err);
  if (rc) {
    dle_sampler_destroy(s);
    return rc;
  }
  s->t0_ns = cfg->t0_ns;
  *out = s;
  return DLE_OK;
}

void dle_sampler_get_info(dle_sampler *s, dle_sensors_info *out) {
  pthread_mutex_lock(&s->sensors_mu);
  dle_sensors_get_info(s->sensors, out);
  pthread_mutex_unlock(&s->sensors_mu);
}

void dle_sampler_set_pid(dle_sampler *s, pid_t pid) {
  pthread_mutex_lock(&s->mu);
  s->pending_pid = pid;
  s->pid_pending = true;
  pthread_mutex_unlock(&s->mu);
}

/* Queues a sample; drops the oldest when full. Called with mu held. */
static void push_locked(dle_sampler *s, const dle_sample *smp) {
  if (s->count == s->cap) {
    s->head = (s->head + 1) % s->cap;
    s->count--;
    s->stats.dropped++;
  }
  s->ring[(s->head + s->count) % s->cap] = *smp;
  s->count++;
  s->latest = *smp;
  s->have_latest = true;
  s->stats.ticks++;
}

/* Reads the sensors now and queues the sample. Any thread, one at a time. */
static void take_sample(dle_sampler *s, dle_sample *smp) {
  pthread_mutex_lock(&s->mu);
  bool pid_pending = s->pid_pending;
  pid_t pid = s->pending_pid;
  s->pid_pending = false;
  pthread_mutex_unlock(&s->mu);

  pthread_mutex_lock(&s->sensors_mu);
  if (pid_pending) dle_sensors_set_pid(s->sensors, pid);
  int64_t now = dle_monotonic_ns();
  double wall = wall_now_s();
  dle_sensors_read(s->sensors, now, smp, NULL);
  int64_t done = dle_monotonic_ns();
  pthread_mutex_unlock(&s->sensors_mu);
  smp->t_s = (double)(now - s->t0_ns) / 1e9;
  smp->wall_s = wall;

  pthread_mutex_lock(&s->mu);
  double read_s = (double)(done - now) / 1e9;
  if (read_s > s->stats.max_read_s) s->stats.max_read_s = read_s;
  push_locked(s, smp);
  pthread_mutex_unlock(&s->mu);
}

static struct timespec ns_to_ts(int64_t ns) {
  struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
  return ts;
}

static void *sampler_main(void *arg) {
  dle_sampler *s = arg;
  /* Named, so that per-thread tools (top -H, /proc/PID/task/TID/comm, the bench)
   * can tell the library's threads from the host's (a Python process's). */
  pthread_setname_np(pthread_self(), "dle-sampler");
  int64_t start = dle_monotonic_ns();
  int64_t k = 0; /* index of the next deadline */
  dle_sample smp;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    int64_t deadline = start + k * s->interval_ns;
    struct timespec ts = ns_to_ts(deadline);
    while (!s->stop && dle_monotonic_ns() < deadline) {
      int rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
      if (rc == ETIMEDOUT) break;
    }
    if (s->stop) break;
    pthread_mutex_unlock(&s->mu);
    take_sample(s, &smp);
    int64_t now = dle_monotonic_ns();
    k++;
    pthread_mutex_lock(&s->mu);
    if (now >= start + k * s->interval_ns) {
      /* Late: skip every deadline already past rather than bursting. */
      int64_t next = (now - start) / s->interval_ns + 1;
      s->stats.late_ticks++;
      s->stats.skipped_deadlines += (uint64_t)(next - k);
      k = next;
    }
  }
  s->thread_cpu_final_s = clock_s(CLOCK_THREAD_CPUTIME_ID);
  s->thread_done = true;
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

int dle_sampler_start(dle_sampler *s, dle_error *err) {
  if (s->started) return dle_error_set(err, DLE_ESTATE, "sampler already started");
  if (s->t0_ns == 0) s->t0_ns = dle_monotonic_ns();
  s->stop = false;
  /* The thread starts with every signal blocked, so that signals meant for the
   * process (SIGINT, SIGCHLD, ...) are always handled by the caller's threads,
   * whether they use handlers, sigwait or signalfd. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&s->thread, NULL, sampler_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return dle_error_set(err, DLE_EIO, "cannot start the sampler thread: %s", strerror(rc));
  s->started = true;
  s->have_thread_clock = pthread_getcpuclockid(s->thread, &s->thread_clock) == 0;
  return DLE_OK;
}

void dle_sampler_drain(dle_sampler *s, dle_sample *out, size_t max, size_t *n) {
  pthread_mutex_lock(&s->mu);
  size_t k = s->count < max ? s->count : max;
  for (size_t i = 0; i < k; i++) out[i] = s->ring[(s->head + i) % s->cap];
  s->head = (s->head + k) % s->cap;
  s->count -= k;
  /* Emptied: the next sample goes to slot 0 again. Otherwise each tick writes the
   * next slot round the whole ring (4096 x ~1.2 KB), a fresh page every few ticks for
   * the first 400 s of a run at 10 Hz, each a page fault on the sampler thread (costly
   * on a VM) and resident memory that is never needed again; now the few slots used
   * between two drains stay resident and in cache. */
  if (s->count == 0) s->head = 0;
  pthread_mutex_unlock(&s->mu);
  *n = k;
}

bool dle_sampler_latest(dle_sampler *s, dle_sample *out) {
  pthread_mutex_lock(&s->mu);
  bool have = s->have_latest;
  if (have) *out = s->latest;
  pthread_mutex_unlock(&s->mu);
  return have;
}

/* Takes a sample on the calling thread, accounting its CPU time. */
static void sample_sync(dle_sampler *s, dle_sample *out) {
  double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
  take_sample(s, out);
  double c1 = clock_s(CLOCK_THREAD_CPUTIME_ID);
  pthread_mutex_lock(&s->mu);
  if (c1 >= c0) s->sync_cpu_s += c1 - c0;
  pthread_mutex_unlock(&s->mu);
}

void dle_sampler_stop(dle_sampler *s) {
  if (!s || !s->started || s->joined) return;
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  s->joined = true;
  dle_sample last;
  sample_sync(s, &last);
}

int dle_sampler_sample_once(dle_sampler *s, dle_sample *out, dle_error *err) {
  if (s->started && !s->joined)
    return dle_error_set(err, DLE_ESTATE, "sample_once while the sampler thread runs");
  if (s->t0_ns == 0) s->t0_ns = dle_monotonic_ns();
  dle_sample tmp;
  sample_sync(s, out ? out : &tmp);
  return DLE_OK;
}

int64_t dle_sampler_t0_ns(const dle_sampler *s) { return s->t0_ns; }

void dle_sampler_get_stats(dle_sampler *s, dle_sampler_stats *out) {
  pthread_mutex_lock(&s->mu);
  *out = s->stats;
  double thread_cpu = 0;
  if (s->thread_done) thread_cpu = s->thread_cpu_final_s;
  else if (s->started && s->have_thread_clock) thread_cpu = clock_s(s->thread_clock);
  if (isnan(thread_cpu)) thread_cpu = 0;
  out->cpu_time_s = thread_cpu + s->sync_cpu_s;
  pthread_mutex_unlock(&s->mu);
}

void dle_sampler_destroy(dle_sampler *s) {
  if (!s) return;
  dle_sampler_stop(s);
  dle_sensors_close(s->sensors);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->sensors_mu);
  free(s->ring);
  free(s);
}
