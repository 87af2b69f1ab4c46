/* recorder.c — one run's record: sampler, store, epoch table, trace (see recorder.h).
 * Moved out of the CLI's monitor loop (src/cli/cmd_run.c) unchanged in behaviour. */
#define _GNU_SOURCE
#include "dlenergy/recorder.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlenergy/energy.h"

enum { DRAIN_BATCH = 128 };

struct dle_recorder {
  dle_recorder_config cfg;
  dle_store *st;
  int64_t run_id;
  dle_run_info info;
  char host[256];
  dle_sampler *sampler;
  bool sampling;
  dle_sensors_info sinfo;
  dle_trace trace;
  dle_sample *buf;
  dle_epoch *ep;
  size_t n_ep, cap_ep;
  int epochs_total;
  bool store_failed;
  char store_msg[DLE_ERRMSG_MAX];
  /* In-process mode: every writing call holds mu (recursive: they call each other);
   * the drain thread waits on cv under tmu between drains. */
  pthread_mutex_t mu;
  pthread_mutex_t tmu;
  pthread_cond_t cv;
  bool sync_init;
  pthread_t drain_th;
  bool drain_running, drain_stop;
  int64_t drain_period_ns;
  dle_window *win;
  size_t n_win, cap_win;
};

#define LOCK(r) pthread_mutex_lock(&((dle_recorder *)(r))->mu)
#define UNLOCK(r) pthread_mutex_unlock(&((dle_recorder *)(r))->mu)

void dle_recorder_config_init(dle_recorder_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  dle_sampler_config_init(&cfg->sampler);
  cfg->source = "run";
  cfg->pue = 1.0;
  cfg->carbon_g_per_kwh = NAN;
}

static double wall_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A failing store never stops the command: we say so once and stop recording. */
static void store_check(dle_recorder *r, int rc, const dle_error *e) {
  if (rc == DLE_OK || r->store_failed) return;
  r->store_failed = true;
  snprintf(r->store_msg, sizeof r->store_msg, "%s", e->msg);
  if (r->cfg.on_store_failed) r->cfg.on_store_failed(e->msg, r->cfg.user);
}

void dle_recorder_set_meta(dle_recorder *r, const char *key, const char *value) {
  LOCK(r);
  if (!r->store_failed && value) {
    dle_error e;
    store_check(r, dle_store_set_meta(r->st, r->run_id, key, value, &e), &e);
  }
  UNLOCK(r);
}

void dle_recorder_set_meta_num(dle_recorder *r, const char *key, double v) {
  if (!isfinite(v)) return;
  char buf[64];
  snprintf(buf, sizeof buf, "%.6g", v);
  dle_recorder_set_meta(r, key, buf);
}

/* gpu_count, gpu_tdp_w (sum), gpu_power_limit_w (sum), gpu_default_power_limit_w
 * (sum) and gpu_name over the GPUs in sel (NULL: all monitored). */
static void record_gpu_totals(dle_recorder *r, const dle_sensors_info *s, const bool *sel) {
  double tdp = 0, lim = 0, def = 0;
  int n = 0, n_tdp = 0, n_lim = 0, n_def = 0;
  const char *name = NULL;
  for (uint32_t i = 0; i < s->n_gpus && i < DLE_MAX_GPUS; i++) {
    if (sel && !sel[i]) continue;
    const dle_gpu_info *g = &s->gpu[i];
    if (!name) name = g->name;
    n++;
    if (isfinite(g->tdp_w)) tdp += g->tdp_w, n_tdp++;
    if (isfinite(g->power_limit_w)) lim += g->power_limit_w, n_lim++;
    if (isfinite(g->default_limit_w)) def += g->default_limit_w, n_def++;
  }
  if (!n) return;
  if (name) dle_recorder_set_meta(r, "gpu_name", name);
  dle_recorder_set_meta_num(r, "gpu_count", n);
  dle_recorder_set_meta_num(r, "gpu_tdp_w", n_tdp == n ? tdp : NAN);
  dle_recorder_set_meta_num(r, "gpu_power_limit_w", n_lim == n ? lim : NAN);
  dle_recorder_set_meta_num(r, "gpu_default_power_limit_w", n_def == n ? def : NAN);
}
static void record_static_meta(dle_recorder *r) {
  const dle_sensors_info *s = &r->sinfo;
  if (s->n_gpus > 0) {
    char uuids[1024] = "";
    size_t len = 0;
    for (uint32_t i = 0; i < s->n_gpus; i++) {
      int n = snprintf(uuids + len, sizeof uuids - len, "%s%s", i ? "," : "", s->gpu[i].uuid);
      if (n < 0 || (size_t)n >= sizeof uuids - len) break;
      len += (size_t)n;
    }
    dle_recorder_set_meta(r, "gpu_name", s->gpu[0].name);
    dle_recorder_set_meta(r, "gpu_uuid", uuids);
    /* Totals over the monitored GPUs (readers take gpu_tdp_w as the all-GPU
     * total); record_end_meta narrows them to the run's GPUs. Per-device
     * facts sit beside them as gpuN_*. */
    record_gpu_totals(r, s, NULL);
    for (uint32_t i = 0; i < s->n_gpus; i++) {
      const dle_gpu_info *g = &s->gpu[i];
      char key[64];
      snprintf(key, sizeof key, "gpu%u_name", g->index);
      dle_recorder_set_meta(r, key, g->name);
      snprintf(key, sizeof key, "gpu%u_uuid", g->index);
      dle_recorder_set_meta(r, key, g->uuid);
      snprintf(key, sizeof key, "gpu%u_tdp_w", g->index);
      dle_recorder_set_meta_num(r, key, g->tdp_w);
      snprintf(key, sizeof key, "gpu%u_default_power_limit_w", g->index);
      dle_recorder_set_meta_num(r, key, g->default_limit_w);
      snprintf(key, sizeof key, "gpu%u_power_limit_w", g->index);
      dle_recorder_set_meta_num(r, key, g->power_limit_w);
      snprintf(key, sizeof key, "gpu%u_power_field", g->index);
      dle_recorder_set_meta(r, key, g->power_field);
      if (g->mig) {
        snprintf(key, sizeof key, "gpu%u_mig", g->index);
        dle_recorder_set_meta(r, key, "on (figures cover the whole physical GPU)");
      }
    }
    if (s->nvml_driver[0]) dle_recorder_set_meta(r, "nvml_driver", s->nvml_driver);
  }
  dle_recorder_set_meta_num(r, "host_ram_gb", s->host_ram_gb);
  if (s->cpu_model[0]) dle_recorder_set_meta(r, "cpu_model", s->cpu_model);
  if (s->cpu_logical > 0) dle_recorder_set_meta_num(r, "cpu_cores", s->cpu_logical);
  dle_recorder_set_meta_num(r, "cpu_tdp_w", s->cpu_tdp_w);
  if (isfinite(s->cpu_tdp_w) || isfinite(s->cpu_model_w))
    dle_recorder_set_meta(r, "cpu_tdp_source", s->cpu_tdp_source);
  if (isfinite(s->cpu_model_w)) {
    /* The modelled CPU: full-load power of the visible CPUs and the assumption. */
    dle_recorder_set_meta_num(r, "cpu_model_w", s->cpu_model_w);
    dle_recorder_set_meta(r, "cpu_power_model", s->cpu_model_how);
    if (s->cpu_model_generic) dle_recorder_set_meta(r, "cpu_model_generic", "1");
  }
  dle_recorder_set_meta_num(r, "ram_w_per_gb", s->ram_w_per_gb);
  dle_recorder_set_meta(r, "scope", dle_scope_str(s->scope));
  if (r->cfg.carbon_how && r->cfg.carbon_how[0]) dle_recorder_set_meta(r, "carbon_source", r->cfg.carbon_how);
  if (s->notes[0]) dle_recorder_set_meta(r, "sensor_notes", s->notes);
  if (r->cfg.country) dle_recorder_set_meta(r, "country", r->cfg.country);
  /* The job key: the runs that several hosts record for one distributed training. */
  static const char *const job_env[] = {"SLURM_JOB_ID", "TORCHELASTIC_RUN_ID"};
  const char *job = r->cfg.job, *job_source = "--job";
  for (size_t i = 0; !job && i < sizeof job_env / sizeof *job_env; i++) {
    const char *v = getenv(job_env[i]);
    if (v && *v && !strchr(v, ',') && !strchr(v, '=')) {
      job = v;
      job_source = job_env[i];
    }
  }
  if (job) {
    dle_recorder_set_meta(r, "job", job);
    dle_recorder_set_meta(r, "job_source", job_source);
  }
  if (r->cfg.epochs_planned > 0) dle_recorder_set_meta_num(r, "epochs_total", r->cfg.epochs_planned);
  for (char *const *kv = r->cfg.meta; kv && *kv; kv++) {
    char key[128];
    const char *eq = strchr(*kv, '=');
    size_t kl = (size_t)(eq - *kv) < sizeof key - 1 ? (size_t)(eq - *kv) : sizeof key - 1;
    memcpy(key, *kv, kl);
    key[kl] = '\0';
    dle_recorder_set_meta(r, key, eq + 1);
  }
}

/* Appends a ","-separated item to buf. */
static void list_add(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void list_add(char *buf, size_t cap, const char *fmt, ...) {
  size_t len = strlen(buf);
  if (len + 2 >= cap) return;
  if (len) buf[len++] = ',', buf[len] = '\0';
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + len, cap - len, fmt, ap);
  va_end(ap);
}

static void record_end_meta(dle_recorder *r) {
  dle_sensors_info s;
  dle_sampler_get_info(r->sampler, &s);
  char used[128] = "", shared[128] = "", head[128] = "", lost[128] = "", fails[256] = "";
  char unknown[512] = "";
  bool sel[DLE_MAX_GPUS];
  const char *basis = dle_sensors_headline_gpus(&s, sel);
  bool any_unknown = false;
  for (uint32_t i = 0; i < s.n_gpus; i++) {
    const dle_gpu_info *g = &s.gpu[i];
    if (g->used_by_tree) list_add(used, sizeof used, "%u", g->index);
    if (g->shared) list_add(shared, sizeof shared, "%u", g->index);
    if (sel[i]) list_add(head, sizeof head, "%u", g->index);
    if (g->lost) list_add(lost, sizeof lost, "%u", g->index);
    if (g->read_failures)
      list_add(fails, sizeof fails, "%u:%llu", g->index, (unsigned long long)g->read_failures);
    if (g->use == DLE_GPU_USE_UNKNOWN && !g->used_by_tree) {
      any_unknown = true;
      list_add(unknown, sizeof unknown, "GPU %u: %s", g->index, g->use_note);
    }
  }
  if (s.n_gpus) {
    /* "none": GPUs were watched but the process tree ran on none of them;
     * "unknown": the process lists could not say (container, no permission). */
    dle_recorder_set_meta(r, "gpus_used", used[0] ? used : any_unknown ? "unknown" : "none");
    if (unknown[0]) dle_recorder_set_meta(r, "gpu_attribution_unknown", unknown);
    dle_recorder_set_meta(r, "gpus_headline", head);
    char why[160];
    snprintf(why, sizeof why, "%s", basis);
    if (strcmp(basis, "visible devices") == 0)
      snprintf(why, sizeof why, "visible devices (%s=%s)", s.visible_var, s.visible_devices);
    else if (strcmp(basis, "all") == 0)
      snprintf(why, sizeof why, "all (no process of the run was seen on a GPU)");
    dle_recorder_set_meta(r, "gpus_headline_basis", why);
    if (s.visible_var[0]) dle_recorder_set_meta(r, s.visible_var, s.visible_devices);
    if (s.pid_ns_foreign) dle_recorder_set_meta(r, "gpu_pid_namespace", "foreign (container): NVML pids are the host's");
    if (shared[0]) dle_recorder_set_meta(r, "gpus_shared", shared);
    if (lost[0]) dle_recorder_set_meta(r, "gpus_lost", lost);
    if (fails[0]) dle_recorder_set_meta(r, "gpu_read_failures", fails);
    if (s.gpus_skipped) dle_recorder_set_meta_num(r, "gpus_skipped", s.gpus_skipped);
    record_gpu_totals(r, &s, sel);
    for (uint32_t i = 0; i < s.n_gpus; i++) {
      char key[64];
      snprintf(key, sizeof key, "gpu%u_read_failures", s.gpu[i].index);
      dle_recorder_set_meta_num(r, key, (double)s.gpu[i].read_failures);
    }
    if (s.notes[0]) dle_recorder_set_meta(r, "sensor_notes", s.notes);
  }
  dle_sampler_stats ss;
  dle_sampler_get_stats(r->sampler, &ss);
  if (ss.dropped) dle_recorder_set_meta_num(r, "samples_dropped", (double)ss.dropped);
  if (ss.skipped_deadlines) dle_recorder_set_meta_num(r, "sampler_skipped_deadlines", (double)ss.skipped_deadlines);
  dle_recorder_set_meta_num(r, "sampler_cpu_s", ss.cpu_time_s);
}

/* ---- summary ---- */

/* ------------------------------------------------------------------ life cycle */

int dle_recorder_begin(const dle_recorder_config *cfg, dle_recorder **out, dle_error *err) {
  *out = NULL;
  dle_recorder *r = calloc(1, sizeof *r);
  if (!r) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  r->cfg = *cfg;
  r->epochs_total = cfg->epochs_planned;
  {
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool ok = pthread_mutex_init(&r->mu, &ma) == 0;
    if (ok && pthread_mutex_init(&r->tmu, NULL) != 0) {
      pthread_mutex_destroy(&r->mu);
      ok = false;
    }
    if (ok && pthread_cond_init(&r->cv, &ca) != 0) {
      pthread_mutex_destroy(&r->mu);
      pthread_mutex_destroy(&r->tmu);
      ok = false;
    }
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_destroy(&ca);
    if (!ok) {
      free(r);
      return dle_error_set(err, DLE_ENOMEM, "cannot create the recorder's lock");
    }
    r->sync_init = true;
  }
  r->buf = malloc(DRAIN_BATCH * sizeof *r->buf);
  if (!r->buf) {
    dle_recorder_free(r);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  /* Sensors first: a bad --gpus fails before anything is recorded or started. */
  dle_sampler_config scfg = cfg->sampler;
  scfg.t0_ns = 0; /* = when dle_sampler_start runs */
  int rc = dle_sampler_create(&scfg, &r->sampler, err);
  if (rc != DLE_OK) goto fail;
  dle_sampler_get_info(r->sampler, &r->sinfo);

  rc = dle_store_open(cfg->db, &r->st, err);
  if (rc != DLE_OK) goto fail;
  dle_run_info_init(&r->info);
  snprintf(r->info.source, sizeof r->info.source, "%s", cfg->source ? cfg->source : "run");
  if (cfg->host)
    snprintf(r->host, sizeof r->host, "%s", cfg->host);
  else if (gethostname(r->host, sizeof r->host) != 0)
    snprintf(r->host, sizeof r->host, "unknown");
  r->host[sizeof r->host - 1] = '\0';
  snprintf(r->info.host, sizeof r->info.host, "%s", r->host);
  snprintf(r->info.command, sizeof r->info.command, "%s", cfg->command ? cfg->command : "");
  r->info.start_wall_s = wall_now_s();
  r->info.interval_s = scfg.interval_s;
  r->info.epochs_planned = cfg->epochs_planned;
  r->info.pue = cfg->pue;
  r->info.carbon_g_per_kwh = cfg->carbon_g_per_kwh;
  snprintf(r->info.gpu_source, sizeof r->info.gpu_source, "%s", r->sinfo.gpu_source);
  snprintf(r->info.cpu_source, sizeof r->info.cpu_source, "%s", r->sinfo.cpu_source);
  snprintf(r->info.dram_source, sizeof r->info.dram_source, "%s", r->sinfo.dram_source);
  snprintf(r->info.ram_source, sizeof r->info.ram_source, "%s", r->sinfo.ram_source);
  rc = dle_store_create_run(r->st, &r->info, &r->run_id, err);
  if (rc != DLE_OK) goto fail;
  r->info.id = r->run_id;
  record_static_meta(r);
  if (!r->store_failed) {
    rc = dle_store_commit(r->st, err);
    if (rc != DLE_OK) goto fail;
  }
  if (r->store_failed) {
    rc = dle_error_set(err, DLE_EDB, "cannot record the run: %s", r->store_msg);
    goto fail;
  }
  /* Strings the caller owns are not kept past this call. */
  r->cfg.db = r->cfg.host = r->cfg.command = r->cfg.carbon_how = NULL;
  r->cfg.country = r->cfg.job = NULL;
  r->cfg.meta = NULL;
  *out = r;
  return DLE_OK;
fail:
  dle_recorder_free(r);
  return rc;
}

int dle_recorder_start(dle_recorder *r, dle_error *err) {
  int rc = dle_sampler_start(r->sampler, err);
  if (rc == DLE_OK) r->sampling = true;
  return rc;
}

void dle_recorder_set_pid(dle_recorder *r, pid_t pid) { dle_sampler_set_pid(r->sampler, pid); }

static void drain_thread_join(dle_recorder *r) {
  if (!r->drain_running) return;
  pthread_mutex_lock(&r->tmu);
  r->drain_stop = true;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->tmu);
  pthread_join(r->drain_th, NULL);
  r->drain_running = false;
}

void dle_recorder_stop(dle_recorder *r) {
  drain_thread_join(r);
  LOCK(r);
  dle_sampler_stop(r->sampler);
  r->sampling = false;
  UNLOCK(r);
}

/* The drain thread's default period: the store's commit interval (its one-second rule).
 * On this cadence each drain is one wakeup, one append and one commit, where a 100 ms
 * cadence woke the thread ten times per commit for nothing the store needed: on a VM a
 * thread wakeup costs about as much CPU as a sample (bench/python; docs/python.md). */
enum { DRAIN_DEFAULT_NS = 1000000000 };

static void *drain_main(void *arg) {
  dle_recorder *r = arg;
  pthread_setname_np(pthread_self(), "dle-drain"); /* see sampler_main */
  /* Absolute deadlines start + k x period (no drift); a late drain skips the missed ones.
   * At a period of a second or more each drain commits, so a crash loses at most one
   * period of samples, as with the store's own one-second rule at shorter periods. */
  const bool commit = r->drain_period_ns >= DRAIN_DEFAULT_NS;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const int64_t start = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
  int64_t k = 1;
  pthread_mutex_lock(&r->tmu);
  while (!r->drain_stop) {
    int64_t deadline = start + k * r->drain_period_ns;
    ts.tv_sec = (time_t)(deadline / 1000000000);
    ts.tv_nsec = (long)(deadline % 1000000000);
    int rc = 0;
    while (!r->drain_stop && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&r->cv, &r->tmu, &ts);
    if (r->drain_stop) break;
    pthread_mutex_unlock(&r->tmu);
    dle_recorder_drain(r);
    if (commit) {
      LOCK(r);
      dle_error e;
      if (!r->store_failed) store_check(r, dle_store_commit(r->st, &e), &e);
      UNLOCK(r);
    }
    int64_t now = dle_monotonic_ns();
    k = (now - start) / r->drain_period_ns + 1;
    pthread_mutex_lock(&r->tmu);
  }
  pthread_mutex_unlock(&r->tmu);
  return NULL;
}

int dle_recorder_start_drain_thread(dle_recorder *r, double period_s, dle_error *err) {
  if (r->drain_running) return dle_error_set(err, DLE_ESTATE, "the drain thread already runs");
  if (!r->sampling) return dle_error_set(err, DLE_ESTATE, "the recorder is not started");
  if (!(period_s >= 0) || period_s > 3600)
    return dle_error_set(err, DLE_EINVAL, "drain period %g s is not in [0, 3600]", period_s);
  r->drain_period_ns = period_s > 0 ? (int64_t)(period_s * 1e9) : DRAIN_DEFAULT_NS;
  /* Never so long that the sampler's ring fills between two drains (it drops the
   * oldest): at most half the ring's span. */
  double span_s = (double)r->cfg.sampler.ring_capacity * r->cfg.sampler.interval_s / 2;
  if (span_s < 0.001) span_s = 0.001;
  if ((double)r->drain_period_ns > span_s * 1e9) r->drain_period_ns = (int64_t)(span_s * 1e9);
  r->drain_stop = false;
  /* Signals stay with the host's threads (Python handles them on its main thread). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&r->drain_th, NULL, drain_main, r);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return dle_error_set(err, DLE_EIO, "cannot start the drain thread: %s", strerror(rc));
  r->drain_running = true;
  return DLE_OK;
}

double dle_recorder_now_s(const dle_recorder *r) {
  int64_t t0 = dle_sampler_t0_ns(r->sampler);
  if (t0 == 0) return NAN;
  return (double)(dle_monotonic_ns() - t0) / 1e9;
}

void dle_recorder_drain(dle_recorder *r) {
  LOCK(r);
  for (;;) {
    size_t n = 0;
    dle_sampler_drain(r->sampler, r->buf, DRAIN_BATCH, &n);
    if (n == 0) break;
    dle_error e;
    if (!r->store_failed)
      store_check(r, dle_store_append_samples(r->st, r->run_id, r->buf, n, &e), &e);
    for (size_t i = 0; i < n; i++) {
      if (r->trace.n && r->buf[i].t_s < r->trace.t_s[r->trace.n - 1]) continue;
      if (dle_trace_append(&r->trace, &r->buf[i], &e) != DLE_OK) break;
      if (r->cfg.on_sample) r->cfg.on_sample(&r->buf[i], r->cfg.user);
    }
    if (n < DRAIN_BATCH) break;
  }
  UNLOCK(r);
}

/* ------------------------------------------------------------------ epochs */

static size_t epoch_find(dle_recorder *r, int32_t index, bool create) {
  size_t lo = 0, hi = r->n_ep;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r->ep[mid].index < index)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < r->n_ep && r->ep[lo].index == index) return lo;
  if (!create) return SIZE_MAX;
  if (r->n_ep == r->cap_ep) {
    size_t cap = r->cap_ep ? r->cap_ep * 2 : 64;
    dle_epoch *p = realloc(r->ep, cap * sizeof *p);
    if (!p) return SIZE_MAX;
    r->ep = p;
    r->cap_ep = cap;
  }
  memmove(r->ep + lo + 1, r->ep + lo, (r->n_ep - lo) * sizeof *r->ep);
  r->n_ep++;
  dle_epoch *e = &r->ep[lo];
  memset(e, 0, sizeof *e);
  e->index = index;
  e->t_begin_s = e->t_end_s = NAN;
  return lo;
}

static void epoch_store(dle_recorder *r, const dle_epoch *e) {
  if (r->store_failed) return;
  dle_error err;
  store_check(r, dle_store_put_epoch(r->st, r->run_id, e, &err), &err);
}

/* Metrics into the epoch's fixed field, whole pairs only. */
static void copy_metrics(char *dst, size_t size, const char *text) {
  size_t len = 0;
  dst[0] = '\0';
  const char *p = text ? text : "";
  while (*p) {
    const char *sp = strchr(p, ' ');
    size_t n = sp ? (size_t)(sp - p) : strlen(p);
    if (len + (len ? 1 : 0) + n >= size) break;
    if (len) dst[len++] = ' ';
    memcpy(dst + len, p, n);
    len += n;
    dst[len] = '\0';
    p += n;
    while (*p == ' ') p++;
  }
}

static void epoch_begin_locked(dle_recorder *r, int32_t index, double t_s) {
  size_t pos = epoch_find(r, index, true);
  if (pos == SIZE_MAX) return;
  dle_epoch *e = &r->ep[pos];
  if (isfinite(e->t_begin_s) && !isfinite(e->t_end_s)) return; /* already open */
  e->t_begin_s = t_s;
  e->t_end_s = NAN;
  e->metrics[0] = '\0';
  epoch_store(r, e);
}

void dle_recorder_epoch_begin(dle_recorder *r, int32_t index, double t_s) {
  LOCK(r);
  epoch_begin_locked(r, index, t_s);
  UNLOCK(r);
}

static bool epoch_end_locked(dle_recorder *r, int32_t index, double t_s, const char *metrics) {
  size_t pos = epoch_find(r, index, true);
  if (pos == SIZE_MAX) return false;
  dle_epoch *e = &r->ep[pos];
  if (isfinite(e->t_end_s)) return false; /* already ended (e.g. seen on both streams) */
  e->t_end_s = t_s;
  copy_metrics(e->metrics, sizeof e->metrics, metrics);
  epoch_store(r, e);
  return true;
}

bool dle_recorder_epoch_end(dle_recorder *r, int32_t index, double t_s, const char *metrics) {
  LOCK(r);
  bool done = epoch_end_locked(r, index, t_s, metrics);
  UNLOCK(r);
  return done;
}

void dle_recorder_set_epochs_total(dle_recorder *r, int n) {
  if (r->cfg.epochs_planned > 0) return; /* --epochs wins */
  LOCK(r);
  r->epochs_total = n;
  r->info.epochs_planned = n;
  dle_recorder_set_meta_num(r, "epochs_total", (double)n);
  UNLOCK(r);
}

/* ------------------------------------------------------------------ windows */

static int window_name_check(const char *name, dle_error *err) {
  if (!name || !*name) return dle_error_set(err, DLE_EINVAL, "a window needs a non-empty name");
  size_t len = strlen(name);
  if (len >= DLE_WINDOW_NAME_MAX)
    return dle_error_set(err, DLE_EINVAL, "window name of %zu bytes: at most %d", len,
                         DLE_WINDOW_NAME_MAX - 1);
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return dle_error_set(err, DLE_EINVAL, "window name '%s' has a control character", name);
  return DLE_OK;
}

static dle_window *window_open_find(dle_recorder *r, const char *name) {
  for (size_t i = r->n_win; i-- > 0;)
    if (isnan(r->win[i].t_end_s) && strcmp(r->win[i].name, name) == 0) return &r->win[i];
  return NULL;
}

static void window_store(dle_recorder *r, const dle_window *w) {
  char key[32], value[DLE_WINDOW_NAME_MAX + 64], end[32];
  snprintf(key, sizeof key, "window.%d", w->seq);
  if (isnan(w->t_end_s))
    snprintf(end, sizeof end, "open");
  else
    snprintf(end, sizeof end, "%.17g", w->t_end_s);
  snprintf(value, sizeof value, "%.17g %s %s", w->t_begin_s, end, w->name);
  dle_recorder_set_meta(r, key, value);
}

int dle_recorder_window_begin(dle_recorder *r, const char *name, double t_s, dle_error *err) {
  int rc = window_name_check(name, err);
  if (rc != DLE_OK) return rc;
  if (!isfinite(t_s)) return dle_error_set(err, DLE_EINVAL, "window '%s': time is not finite", name);
  LOCK(r);
  if (window_open_find(r, name)) {
    rc = dle_error_set(err, DLE_ESTATE, "window '%s' is already open", name);
  } else if (r->n_win >= DLE_WINDOWS_MAX) {
    rc = dle_error_set(err, DLE_ESTATE, "more than %d windows in one run", DLE_WINDOWS_MAX);
  } else if (r->n_win == r->cap_win) {
    size_t cap = r->cap_win ? r->cap_win * 2 : 16;
    dle_window *p = realloc(r->win, cap * sizeof *p);
    if (!p)
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    else
      r->win = p, r->cap_win = cap;
  }
  if (rc == DLE_OK) {
    dle_window *w = &r->win[r->n_win++];
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->seq = (int)r->n_win;
    w->t_begin_s = t_s;
    w->t_end_s = NAN;
    window_store(r, w);
  }
  UNLOCK(r);
  return rc;
}

int dle_recorder_window_end(dle_recorder *r, const char *name, double t_s, double *energy_j,
                            dle_error *err) {
  if (energy_j) *energy_j = NAN;
  int rc = window_name_check(name, err);
  if (rc != DLE_OK) return rc;
  LOCK(r);
  dle_window *w = window_open_find(r, name);
  if (!w) {
    rc = dle_error_set(err, DLE_ENOTFOUND, "no window '%s' is open", name);
  } else if (!(t_s >= w->t_begin_s)) {
    rc = dle_error_set(err, DLE_EINVAL, "window '%s' would end before it began", name);
  } else {
    w->t_end_s = t_s;
    window_store(r, w);
    if (energy_j) {
      dle_recorder_drain(r); /* the samples up to now */
      double parts[DLE_COMP_COUNT];
      dle_window_energy(&r->trace, w, parts, energy_j);
    }
  }
  UNLOCK(r);
  return rc;
}

const dle_window *dle_recorder_windows(const dle_recorder *r, size_t *n) {
  *n = r->n_win;
  return r->win;
}

static int window_cmp(const void *a, const void *b) {
  const dle_window *x = a, *y = b;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

int dle_windows_from_meta(const dle_kv *kv, size_t n, dle_window **out, size_t *n_out,
                          dle_error *err) {
  *out = NULL;
  *n_out = 0;
  size_t cnt = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(kv[i].key, "window.", 7) == 0) cnt++;
  if (!cnt) return DLE_OK;
  dle_window *w = calloc(cnt, sizeof *w);
  if (!w) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (strncmp(kv[i].key, "window.", 7) != 0) continue;
    char *end;
    long seq = strtol(kv[i].key + 7, &end, 10);
    if (*end || seq < 1 || seq > DLE_WINDOWS_MAX) continue;
    const char *v = kv[i].value;
    double t0 = strtod(v, &end);
    if (end == v || *end != ' ' || !isfinite(t0)) continue;
    const char *p = end + 1;
    double t1 = NAN;
    if (strncmp(p, "open ", 5) == 0) {
      p += 5;
    } else {
      t1 = strtod(p, &end);
      if (end == p || *end != ' ' || !isfinite(t1) || t1 < t0) continue;
      p = end + 1;
    }
    if (!*p || strlen(p) >= DLE_WINDOW_NAME_MAX) continue;
    w[k].seq = (int)seq;
    w[k].t_begin_s = t0;
    w[k].t_end_s = t1;
    snprintf(w[k].name, sizeof w[k].name, "%s", p);
    k++;
  }
  qsort(w, k, sizeof *w, window_cmp);
  if (!k) {
    free(w);
    w = NULL;
  }
  *out = w;
  *n_out = k;
  return DLE_OK;
}

void dle_window_energy(const dle_trace *t, const dle_window *w, double out_j[4], double *total_j) {
  dle_epoch ep;
  memset(&ep, 0, sizeof ep);
  ep.t_begin_s = w->t_begin_s;
  ep.t_end_s = w->t_end_s;
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    dle_error e;
    out_j[c] = NAN;
    if (t->n == 0 || dle_energy_per_epoch(t, &ep, 1, (dle_component)c, &out_j[c], &e) != DLE_OK)
      out_j[c] = NAN;
  }
  double mem = isfinite(out_j[DLE_COMP_DRAM]) ? out_j[DLE_COMP_DRAM] : out_j[DLE_COMP_RAM];
  const double parts[3] = {out_j[DLE_COMP_GPU], out_j[DLE_COMP_CPU], mem};
  double sum = 0;
  bool any = false;
  for (int k = 0; k < 3; k++)
    if (isfinite(parts[k])) sum += parts[k], any = true;
  if (total_j) *total_j = any ? sum : NAN;
}

/* ------------------------------------------------------------------ the end */

int dle_recorder_finish(dle_recorder *r, dle_run_status status, int exit_code, int term_signal) {
  LOCK(r);
  r->info.exit_code = exit_code;
  r->info.term_signal = term_signal;
  r->info.status = status;
  r->info.end_wall_s = wall_now_s();
  r->info.epochs_planned = r->epochs_total;
  record_end_meta(r);
  dle_error e;
  if (!r->store_failed) store_check(r, dle_store_update_run(r->st, &r->info, &e), &e);
  if (!r->store_failed) store_check(r, dle_store_commit(r->st, &e), &e);
  int rc = r->store_failed ? DLE_EDB : DLE_OK;
  UNLOCK(r);
  return rc;
}

void dle_recorder_abort(dle_recorder *r, int exit_code, const char *error) {
  LOCK(r);
  r->info.status = DLE_RUN_FAILED;
  if (exit_code >= 0) r->info.exit_code = exit_code;
  r->info.end_wall_s = wall_now_s();
  dle_recorder_set_meta(r, "error", error);
  dle_error e;
  if (!r->store_failed) store_check(r, dle_store_update_run(r->st, &r->info, &e), &e);
  UNLOCK(r);
}

/* ------------------------------------------------------------------ reading back */

int64_t dle_recorder_run_id(const dle_recorder *r) { return r->run_id; }
const char *dle_recorder_host(const dle_recorder *r) { return r->host; }
const dle_run_info *dle_recorder_info(const dle_recorder *r) { return &r->info; }
const dle_sensors_info *dle_recorder_sensors(const dle_recorder *r) { return &r->sinfo; }
const dle_trace *dle_recorder_trace(const dle_recorder *r) { return &r->trace; }
int dle_recorder_epochs_total(const dle_recorder *r) { return r->epochs_total; }
dle_store *dle_recorder_store(dle_recorder *r) { return r->st; }
const char *dle_recorder_store_failed(const dle_recorder *r) {
  return r->store_failed ? r->store_msg : NULL;
}

const dle_epoch *dle_recorder_epochs(const dle_recorder *r, size_t *n) {
  *n = r->n_ep;
  return r->ep;
}

size_t dle_recorder_epoch_pos(const dle_recorder *r, int32_t index) {
  return epoch_find((dle_recorder *)r, index, false);
}

void dle_recorder_sampler_stats(const dle_recorder *r, dle_sampler_stats *out) {
  dle_sampler_get_stats(r->sampler, out);
}

/* Power column of the "memory" part of the total: measured DRAM when present, else
 * the RAM model (the summary's rule). */
static const double *mem_column(const dle_recorder *r) {
  return strcmp(r->sinfo.dram_source, "rapl") == 0 ? r->trace.dram_power_w : r->trace.ram_power_w;
}

double dle_recorder_energy_between_j(const dle_recorder *r, double t0, double t1) {
  LOCK(r);
  const dle_trace *t = &r->trace;
  if (t->n == 0 || !(t1 >= t0)) {
    UNLOCK(r);
    return NAN;
  }
  const double *cols[3] = {t->gpu_power_w, t->cpu_power_w, mem_column(r)};
  double sum = 0;
  bool any = false;
  for (int c = 0; c < 3; c++) {
    double j = NAN;
    if (dle_energy_between_j(t->t_s, cols[c], t->n, t0, t1, &j) == DLE_OK && isfinite(j)) {
      sum += j;
      any = true;
    }
  }
  UNLOCK(r);
  return any ? sum : NAN;
}

const char *dle_recorder_select_headline(dle_recorder *r, dle_sensors_info *si,
                                         bool sel[DLE_MAX_GPUS]) {
  LOCK(r);
  dle_sampler_get_info(r->sampler, si);
  const char *basis = si->n_gpus ? dle_sensors_headline_gpus(si, sel) : "all";
  uint32_t idx[DLE_MAX_GPUS];
  size_t n_idx = 0;
  for (uint32_t k = 0; k < si->n_gpus && k < DLE_MAX_GPUS; k++)
    if (sel[k]) idx[n_idx++] = si->gpu[k].index;
  if (si->n_gpus) dle_trace_select_gpus(&r->trace, idx, n_idx);
  UNLOCK(r);
  return basis;
}

void dle_recorder_free(dle_recorder *r) {
  if (!r) return;
  drain_thread_join(r);
  if (r->sampler) dle_sampler_destroy(r->sampler);
  free(r->win);
  if (r->sync_init) {
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->tmu);
    pthread_cond_destroy(&r->cv);
  }
  dle_trace_free(&r->trace);
  free(r->ep);
  free(r->buf);
  dle_store_close(r->st);
  free(r);
}
