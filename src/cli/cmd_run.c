/* cmd_run.c — `dlenergy run [OPTIONS] -- CMD ARGS...`: run a training command and
 * record its energy; and the recording loop it shares with `dlenergy attach`
 * (see monitor.h); the record itself is the recorder's (dlenergy/recorder.h). */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "dlenergy/energy.h"
#include "dlenergy/exporter.h"
#include "dlenergy/report.h"
#include "dlenergy/launch.h"
#include "dlenergy/markers.h"
#include "dlenergy/recorder.h"
#include "dlenergy/sampler.h"
#include "dlenergy/sensors.h"
#include "dlenergy/store.h"
#include "monitor.h"

/* ------------------------------------------------------------------ options */

void monitor_opts_init(monitor_opts *o, const char *verb) {
  memset(o, 0, sizeof *o);
  o->verb = verb;
  dle_sampler_config_init(&o->sampler);
  o->pue = 1.0;
  o->carbon_g_per_kwh = NAN;
}

bool monitor_valid_meta(const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) return false;
  for (const char *p = kv; *p; p++)
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') return false;
  return true;
}

/* ------------------------------------------------------------------ signals */

/* The handler only writes the signal number into a non-blocking self-pipe that the
 * loop polls: everything else happens outside signal context. */
static int g_sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  ssize_t r = write(g_sig_pipe[1], &b, 1);
  (void)r;
  errno = saved;
}

/* The first four are passed on to the command; SIGTSTP/SIGCONT (run only) make Ctrl-Z
 * and `fg` stop and resume the command with us, since it is not in our process group. */
static const int k_watched_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGCONT};
enum { N_FORWARDED = 4 };
enum { N_WATCHED = sizeof k_watched_signals / sizeof k_watched_signals[0] };

typedef struct sig_state {
  struct sigaction old[N_WATCHED];
  bool installed[N_WATCHED];
  struct sigaction old_pipe, old_xfsz;
  bool ignoring;
  sigset_t child_default; /* what the child must find at SIG_DFL */
} sig_state;

/* First thing: signals that must not kill the recorder. SIGPIPE (a closed stdout:
 * EPIPE instead) and SIGXFSZ (a file-size limit: EFBIG, reported as a store error). */
static void signals_ignore_early(sig_state *ss) {
  memset(ss, 0, sizeof *ss);
  sigemptyset(&ss->child_default);
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPIPE, &ign, &ss->old_pipe);
  sigaction(SIGXFSZ, &ign, &ss->old_xfsz);
  if (ss->old_pipe.sa_handler != SIG_IGN) sigaddset(&ss->child_default, SIGPIPE);
  if (ss->old_xfsz.sa_handler != SIG_IGN) sigaddset(&ss->child_default, SIGXFSZ);
  ss->ignoring = true;
}

static int signals_install(sig_state *ss, bool job_control, dle_error *err) {
  if (pipe2(g_sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    return dle_error_set(err, DLE_EIO, "cannot create the signal pipe: %s", strerror(errno));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < N_WATCHED; i++) {
    int sig = k_watched_signals[i];
    ss->installed[i] = false;
    if (i >= N_FORWARDED && !job_control) continue;
    if (sigaction(sig, NULL, &ss->old[i]) != 0) continue;
    /* A signal ignored by whoever started us (nohup) stays ignored, for the child too. */
    if (ss->old[i].sa_handler == SIG_IGN) continue;
    if (sigaction(sig, &sa, NULL) == 0) {
      ss->installed[i] = true;
      sigaddset(&ss->child_default, sig);
    }
  }
  return DLE_OK;
}

static void signals_restore(sig_state *ss) {
  for (int i = 0; i < N_WATCHED; i++)
    if (ss->installed[i]) sigaction(k_watched_signals[i], &ss->old[i], NULL);
  if (ss->ignoring) {
    sigaction(SIGPIPE, &ss->old_pipe, NULL);
    sigaction(SIGXFSZ, &ss->old_xfsz, NULL);
  }
  for (int i = 0; i < 2; i++) {
    if (g_sig_pipe[i] >= 0) close(g_sig_pipe[i]);
    g_sig_pipe[i] = -1;
  }
}

/* ------------------------------------------------------------------ helpers */

static double mono_s(int64_t t0_ns) { return (double)(dle_monotonic_ns() - t0_ns) / 1e9; }

/* Writes all of buf to fd, waiting (poll) when fd is non-blocking and full. */
static int write_all_fd(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, 100);
        continue;
      }
      return -1;
    }
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

/* argv joined for display, arguments with special characters single-quoted. */
static void join_command(char *const *argv, char *out, size_t size) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; argv && argv[i]; i++) {
    const char *a = argv[i];
    bool quote = !*a || strpbrk(a, " \t\n'\"\\$`*?[]{}()<>|&;!#~") != NULL;
    int n = snprintf(out + len, size - len, "%s%s%s%s", i ? " " : "", quote ? "'" : "", a,
                     quote ? "'" : "");
    if (n < 0 || (size_t)n >= size - len) {
      out[size - 1] = '\0';
      return;
    }
    len += (size_t)n;
  }
}


/* ------------------------------------------------------------------ the monitor */

enum { READ_CHUNK = 65536, MAX_PENDING = 64 };

typedef struct mon {
  const monitor_opts *o;
  bool attach;
  dle_recorder *rec; /* the run's record: sampler, store, epochs, trace */
  int64_t t0_ns;
  int32_t pending[MAX_PENDING]; /* epochs whose live line waits for samples past their end */
  size_t n_pending;
  dle_marker_reader *mr;
  int marker_fd, fifo_keep_fd;
  char fifo_dir[PATH_MAX], fifo_path[PATH_MAX];
  bool fifo_existed; /* --marker-fifo named an existing FIFO: leave it there */
  dle_epoch_regex *rx[2]; /* stdout, stderr */
  dle_child *child;
  dle_proc_watch *watch;
  dle_exporter *exporter;
  bool started; /* the command runs (or the attached process is being recorded) */
  bool warned_marker;
  char *relay_buf;
} mon;

static void warnf(const mon *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(const mon *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "dlenergy %s: ", m->o->verb);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* A failing store never stops the command: the recorder stops writing, we say so once. */
static void on_store_failed(const char *msg, void *user) {
  const mon *m = user;
  if (m->started)
    warnf(m, "recording stopped: %s (the command keeps running; this run's record is incomplete)",
          msg);
}

static void set_meta(mon *m, const char *key, const char *value) {
  dle_recorder_set_meta(m->rec, key, value);
}

static void set_meta_num(mon *m, const char *key, double v) {
  dle_recorder_set_meta_num(m->rec, key, v);
}

/* "measured", "modelled" or "measured + modelled" for the parts of the total. */
static const char *total_kind(const mon *m) {
  const dle_sensors_info *si = dle_recorder_sensors(m->rec);
  const char *src[3] = {si->gpu_source, si->cpu_source,
                        strcmp(si->dram_source, "rapl") == 0 ? si->dram_source : si->ram_source};
  bool meas = false, model = false;
  for (int i = 0; i < 3; i++) {
    if (strcmp(src[i], "none") == 0 || !src[i][0]) continue;
    if (dle_source_is_measured(src[i]))
      meas = true;
    else
      model = true;
  }
  return meas && model ? "measured + modelled" : meas ? "measured" : model ? "modelled" : "no sensor";
}

static monitor_view make_view(const mon *m, double elapsed) {
  monitor_view v;
  memset(&v, 0, sizeof v);
  const dle_trace *t = dle_recorder_trace(m->rec);
  v.run_id = dle_recorder_run_id(m->rec);
  v.host = dle_recorder_host(m->rec);
  v.info = dle_recorder_info(m->rec);
  v.sensors = dle_recorder_sensors(m->rec);
  v.trace = t;
  v.epochs = dle_recorder_epochs(m->rec, &v.n_epochs);
  v.epochs_total = dle_recorder_epochs_total(m->rec);
  v.elapsed_s = elapsed;
  v.energy_so_far_j = t->n ? dle_recorder_energy_between_j(m->rec, t->t_s[0], elapsed) : NAN;
  v.exporter = m->exporter;
  return v;
}

/* ---- epochs ---- */

/* "812.3 J", "45.61 kJ", "1.234 MJ" (the live line stays short). */
static void short_energy(double j, char *buf, size_t n) {
  if (!isfinite(j))
    snprintf(buf, n, "n/a");
  else if (fabs(j) < 1e3)
    snprintf(buf, n, "%.1f J", j);
  else if (fabs(j) < 1e6)
    snprintf(buf, n, "%.2f kJ", j / 1e3);
  else
    snprintf(buf, n, "%.3f MJ", j / 1e6);
}

static void print_epoch_line(mon *m, int32_t index) {
  size_t pos = dle_recorder_epoch_pos(m->rec, index);
  if (pos == SIZE_MAX) return;
  {
    dle_sensors_info si;
    bool sel[DLE_MAX_GPUS];
    dle_recorder_select_headline(m->rec, &si, sel);
  }
  size_t n_ep;
  const dle_epoch *ep = dle_recorder_epochs(m->rec, &n_ep);
  const dle_trace *t = dle_recorder_trace(m->rec);
  int epochs_total = dle_recorder_epochs_total(m->rec);
  const dle_epoch *e = &ep[pos];
  double begin = e->t_begin_s;
  if (!isfinite(begin)) begin = pos > 0 && isfinite(ep[pos - 1].t_end_s) ? ep[pos - 1].t_end_s
                                : (t->n ? t->t_s[0] : 0);
  double ej = dle_recorder_energy_between_j(m->rec, begin, e->t_end_s);
  monitor_view v = make_view(m, e->t_end_s);
  v.epoch_pos = pos;
  char extra[512] = "";
  for (size_t h = 0; h < m->o->n_hooks; h++) {
    size_t len = strlen(extra);
    if (m->o->hooks[h].on_epoch)
      m->o->hooks[h].on_epoch(&v, m->o->hooks[h].user, extra + len, sizeof extra - len);
  }
  if (m->exporter) dle_exporter_set_epoch(m->exporter, e->index, epochs_total);
  if (m->o->quiet) return;
  char total[32] = "", ebuf[64], sobuf[64], dur[32];
  if (epochs_total > 0) snprintf(total, sizeof total, "/%d", epochs_total);
  short_energy(ej, ebuf, sizeof ebuf);
  short_energy(v.energy_so_far_j, sobuf, sizeof sobuf);
  cli_format_duration(e->t_end_s, dur, sizeof dur);
  double mean_w = e->t_end_s > 0 ? v.energy_so_far_j / e->t_end_s : NAN;
  char mbuf[32] = "n/a";
  if (isfinite(mean_w)) snprintf(mbuf, sizeof mbuf, "%.1f W", mean_w);
  fprintf(stderr, "dlenergy: epoch %" PRId32 "%s  %s this epoch  %s so far  mean %s  "
                  "elapsed %s  (%s)%s%s\n",
          e->index, total, ebuf, sobuf, mbuf, dur, total_kind(m), extra[0] ? "  " : "", extra);
}

/* Prints the live lines whose epoch end the samples have reached (all when force). */
static void flush_pending(mon *m, bool force) {
  const dle_trace *t = dle_recorder_trace(m->rec);
  double last_t = t->n ? t->t_s[t->n - 1] : -INFINITY;
  size_t n_ep;
  const dle_epoch *ep = dle_recorder_epochs(m->rec, &n_ep);
  size_t k = 0;
  for (size_t i = 0; i < m->n_pending; i++) {
    size_t pos = dle_recorder_epoch_pos(m->rec, m->pending[i]);
    if (pos == SIZE_MAX) continue;
    if (force || last_t >= ep[pos].t_end_s)
      print_epoch_line(m, m->pending[i]);
    else
      m->pending[k++] = m->pending[i];
  }
  m->n_pending = k;
}

static void on_marker(const dle_marker_event *ev, void *user) {
  mon *m = user;
  switch (ev->kind) {
    case DLE_MARKER_EPOCHS_TOTAL:
      dle_recorder_set_epochs_total(m->rec, (int)ev->value);
      break;
    case DLE_MARKER_EPOCH_BEGIN:
      dle_recorder_epoch_begin(m->rec, (int32_t)ev->value, ev->t_s);
      break;
    case DLE_MARKER_EPOCH_END:
      if (!dle_recorder_epoch_end(m->rec, (int32_t)ev->value, ev->t_s, ev->text)) break;
      if (m->n_pending < MAX_PENDING)
        m->pending[m->n_pending++] = (int32_t)ev->value;
      else
        print_epoch_line(m, (int32_t)ev->value);
      break;
    case DLE_MARKER_META: {
      size_t pos = 0;
      char key[128], value[DLE_MARKER_TEXT_MAX];
      while (dle_marker_next_pair(ev->text, &pos, key, sizeof key, value, sizeof value))
        set_meta(m, key, value);
      break;
    }
  }
}

static void marker_warn_once(mon *m) {
  if (m->warned_marker || m->o->quiet || !m->mr) return;
  dle_marker_stats s;
  dle_marker_reader_stats(m->mr, &s);
  if (s.unknown + s.malformed + s.oversized == 0) return;
  m->warned_marker = true;
  warnf(m, "ignoring a marker line: %s (further ones are counted in the summary)", s.last_error);
}

/* Reads what the marker channel has now (bounded per call); false at end-of-file. */
static bool read_markers(mon *m) {
  char buf[8192];
  for (int round = 0; round < 8; round++) {
    ssize_t n = read(m->marker_fd, buf, sizeof buf);
    if (n > 0) {
      dle_marker_reader_feed(m->mr, buf, (size_t)n, mono_s(m->t0_ns), on_marker, m);
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN;
  }
  marker_warn_once(m);
  return true;
}

/* Relays the child's output (which = 1 or 2) to ours and feeds the epoch regex.
 * False at end-of-file. */
static bool relay_output(mon *m, int which) {
  int fd = which == 1 ? dle_child_stdout_fd(m->child) : dle_child_stderr_fd(m->child);
  if (fd < 0) return false;
  ssize_t n = read(fd, m->relay_buf, READ_CHUNK);
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  if (n == 0) {
    dle_child_close_output(m->child, which);
    return false;
  }
  if (write_all_fd(which == 1 && !m->o->json ? STDOUT_FILENO : STDERR_FILENO, m->relay_buf,
                   (size_t)n) != 0 &&
      errno == EPIPE) {
    /* Our own output is gone: the child gets EPIPE/SIGPIPE as it would have without us. */
    dle_child_close_output(m->child, which);
    return false;
  }
  dle_epoch_regex_feed(m->rx[which - 1], m->relay_buf, (size_t)n, mono_s(m->t0_ns), on_marker, m);
  return true;
}

/* Each sample the recorder appends: to the exporter and the hooks. */
static void on_sample(const dle_sample *s, void *user) {
  mon *m = user;
  if (m->exporter) dle_exporter_add_sample(m->exporter, s);
  for (size_t h = 0; h < m->o->n_hooks; h++)
    if (m->o->hooks[h].on_sample) m->o->hooks[h].on_sample(s, m->o->hooks[h].user);
}

static void drain_samples(mon *m) {
  dle_recorder_drain(m->rec);
  flush_pending(m, false);
}

/* Returns the signals received since the last call (bit per signal number < 64). */
static uint64_t take_signals(void) {
  uint64_t got = 0;
  unsigned char b[32];
  ssize_t n;
  while ((n = read(g_sig_pipe[0], b, sizeof b)) > 0)
    for (ssize_t i = 0; i < n; i++)
      if (b[i] < 64) got |= (uint64_t)1 << b[i];
  return got;
}

/* The marker channel's counts, first of the end-of-run metadata. */
static void record_marker_meta(mon *m) {
  if (!m->mr) return;
  dle_marker_stats s;
  dle_marker_reader_stats(m->mr, &s);
  set_meta_num(m, "marker_events", (double)s.events);
  if (s.unknown + s.malformed + s.oversized) {
    set_meta_num(m, "marker_lines_ignored", (double)(s.unknown + s.malformed + s.oversized));
    set_meta(m, "marker_last_error", s.last_error);
  }
}

/* ---- summary ---- */

static void summary_row(const char *name, double j, double w, const char *how) {
  char e[64] = "-", p[32] = "";
  if (isfinite(j)) cli_format_energy(j, e, sizeof e);
  if (isfinite(w)) snprintf(p, sizeof p, "%.2f W", w);
  fprintf(stderr, "  %-12s %-24s %-11s %s\n", name, e, p, how);
}

static void print_summary(mon *m, const dle_exit_info *x, bool exited) {
  dle_energy_summary sum;
  dle_error e;
  /* The GPU figure is that of the GPUs the run used (record_end_meta's rule). */
  dle_sensors_info si;
  bool sel[DLE_MAX_GPUS];
  const char *basis = dle_recorder_select_headline(m->rec, &si, sel);
  const dle_run_info *info = dle_recorder_info(m->rec);
  const dle_sensors_info *sinfo = dle_recorder_sensors(m->rec);
  int epochs_total = dle_recorder_epochs_total(m->rec);
  size_t n_ep;
  const dle_epoch *ep = dle_recorder_epochs(m->rec, &n_ep);
  if (dle_energy_summarize(dle_recorder_trace(m->rec), info, &sum, &e) != DLE_OK) {
    warnf(m, "no energy summary: %s", e.msg);
    return;
  }
  char dur[32], how[160], end[96];
  cli_format_duration(sum.duration_s, dur, sizeof dur);
  if (m->attach)
    snprintf(end, sizeof end, "%s", exited ? "process exited" : "detached");
  else if (x->term_signal)
    snprintf(end, sizeof end, "killed by signal %d (%s)", x->term_signal, strsignal(x->term_signal));
  else
    snprintf(end, sizeof end, "exit %d", x->exit_code);
  size_t done = 0;
  for (size_t i = 0; i < n_ep; i++) done += isfinite(ep[i].t_end_s);
  char eps[48];
  if (epochs_total > 0)
    snprintf(eps, sizeof eps, "%zu of %d epochs", done, epochs_total);
  else
    snprintf(eps, sizeof eps, "%zu epoch%s", done, done == 1 ? "" : "s");
  fprintf(stderr, "\ndlenergy: run %" PRId64 " %s (%s): %s, %s, %zu samples every %.3g s\n",
          dle_recorder_run_id(m->rec), dle_run_status_str(info->status), end, dur, eps,
          sum.samples, info->interval_s);
  fprintf(stderr, "  %-12s %-24s %-11s %s\n", "component", "energy", "mean power", "how");
  static const char *names[DLE_COMP_COUNT] = {"GPU", "CPU", "DRAM", "RAM"};
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    const char *src = sum.source[c];
    if (!isfinite(sum.energy_j[c]) && (strcmp(src, "none") == 0 || !src[0])) {
      summary_row(names[c], NAN, NAN, "not available");
      continue;
    }
    bool machine = sinfo->scope == DLE_SCOPE_MACHINE;
    if (c == DLE_COMP_CPU && !sum.measured[c])
      snprintf(how, sizeof how, "modelled (%s x %s CPU utilization)", sinfo->cpu_model_how,
               machine ? "host" : "process-tree");
    else if (c == DLE_COMP_RAM)
      snprintf(how, sizeof how, "modelled (%.3g W/GB x %s)", sinfo->ram_w_per_gb,
               machine ? "host memory (MemTotal)" : "process-tree resident memory");
    else if (c == DLE_COMP_GPU && sum.n_devices > 1)
      snprintf(how, sizeof how, "%s (%s%s, GPUs %s)", sum.measured[c] ? "measured" : "modelled",
               src, isfinite(sum.gpu_counter_j) ? " energy counter" : "",
               strcmp(basis, "process") == 0 ? "the run used" : strcmp(basis, "all") == 0
                   ? "all: no process of the run seen on one" : "visible to the run");
    else if (c == DLE_COMP_GPU && isfinite(sum.gpu_counter_j))
      snprintf(how, sizeof how, "%s (%s energy counter)", sum.measured[c] ? "measured" : "modelled",
               src);
    else if (strcmp(src, "rapl") == 0)
      snprintf(how, sizeof how, "measured (rapl counter, host-wide: every process)");
    else
      snprintf(how, sizeof how, "%s (%s)", sum.measured[c] ? "measured" : "modelled", src);
    summary_row(names[c], sum.energy_j[c], sum.avg_power_w[c], how);
    if (c == DLE_COMP_GPU && sum.n_devices > 1) {
      /* Multi-GPU attribution: each device, and whether the process tree used it. */
      for (uint32_t d = 0; d < sum.n_devices; d++) {
        char label[32];
        const char *use = "";
        for (uint32_t k = 0; k < si.n_gpus; k++)
          if (si.gpu[k].index == sum.device_index[d])
            use = si.gpu[k].used_by_tree ? (si.gpu[k].shared ? ", used by the run, shared"
                                                             : ", used by the run")
                  : si.gpu[k].use == DLE_GPU_USE_UNKNOWN ? ", use by the run unknown"
                                                         : ", not used by the run";
        snprintf(label, sizeof label, " GPU %u", sum.device_index[d]);
        snprintf(how, sizeof how, "measured (%s%s)", src, use);
        summary_row(label, sum.device_energy_j[d], sum.device_avg_power_w[d], how);
      }
      if (isfinite(sum.gpu_all_j) && fabs(sum.gpu_all_j - sum.energy_j[c]) > 1e-9)
        summary_row("GPU all", sum.gpu_all_j, NAN, "measured (every monitored GPU)");
    }
    if (c == DLE_COMP_GPU && isfinite(sum.gpu_integral_j) && isfinite(sum.gpu_counter_j))
      summary_row("GPU integral", sum.gpu_integral_j, NAN,
                  sum.gpu_counter_disagrees ? "measured (power integral): differs from the "
                                              "counter by more than 5%"
                                            : "measured (power integral, cross-check)");
  }
  /* Name only the components that are in the total. */
  bool dram = isfinite(sum.energy_j[DLE_COMP_DRAM]);
  char parts[48] = "";
  const int in_total[3] = {DLE_COMP_GPU, DLE_COMP_CPU, dram ? DLE_COMP_DRAM : DLE_COMP_RAM};
  for (int k = 0; k < 3; k++)
    if (isfinite(sum.energy_j[in_total[k]])) {
      size_t pl = strlen(parts);
      snprintf(parts + pl, sizeof parts - pl, "%s%s", pl ? " + " : "", names[in_total[k]]);
    }
  snprintf(how, sizeof how, "%s: %s", total_kind(m), parts[0] ? parts : "no component");
  summary_row("total", sum.total_j, sum.duration_s > 0 ? sum.total_j / sum.duration_s : NAN, how);
  snprintf(how, sizeof how, "total x PUE %.2f", sum.pue);
  summary_row("facility", sum.facility_j, NAN, how);
  if (isfinite(sum.emissions_g)) {
    char em[64];
    snprintf(em, sizeof em, "%.4g g CO2e", sum.emissions_g);
    snprintf(how, sizeof how, "modelled: %s%s", m->o->carbon_how,
             m->o->carbon_default ? "; set --country or --carbon-intensity" : "");
    fprintf(stderr, "  %-12s %-24s %-11s %s\n", "emissions", em, "", how);
  } else {
    fprintf(stderr, "  %-12s %-24s %-11s %s\n", "emissions", "-", "", "no energy to convert");
  }
  fprintf(stderr, "  scope: %s (%s)\n", dle_scope_str(sinfo->scope),
          sinfo->scope == DLE_SCOPE_MACHINE
              ? "modelled CPU and RAM cover the whole host"
              : "modelled CPU and RAM are the process tree's share; --scope machine for the host");
  if (sinfo->notes[0]) fprintf(stderr, "  sensors: %s\n", sinfo->notes);
  if (m->mr) {
    dle_marker_stats s;
    dle_marker_reader_stats(m->mr, &s);
    uint64_t bad = s.unknown + s.malformed + s.oversized;
    if (bad)
      fprintf(stderr,
              "  markers: %" PRIu64 " events, %" PRIu64 " lines ignored (%" PRIu64
              " unknown verb, %" PRIu64 " malformed, %" PRIu64 " too long); last: %s\n",
              s.events, bad, s.unknown, s.malformed, s.oversized, s.last_error);
  }
  dle_sampler_stats ss;
  dle_recorder_sampler_stats(m->rec, &ss);
  if (ss.dropped)
    fprintf(stderr, "  warning: %" PRIu64 " samples dropped (the recorder fell behind)\n",
            ss.dropped);
  if (dle_recorder_store_failed(m->rec))
    fprintf(stderr, "  warning: the run store failed during the run; the record is incomplete\n");
  else
    fprintf(stderr, "  recorded in %s as run %" PRId64 "\n", m->o->db,
            dle_recorder_run_id(m->rec));
  monitor_view v = make_view(m, sum.duration_s);
  v.finished = true;
  for (size_t h = 0; h < m->o->n_hooks; h++)
    if (m->o->hooks[h].on_summary) m->o->hooks[h].on_summary(&v, m->o->hooks[h].user, stderr);
}
/* ---- setup ---- */

static int open_attach_fifo(mon *m, dle_error *err) {
  const char *path = m->o->fifo_path;
  if (!path) {
    const char *tmp = getenv("TMPDIR");
    snprintf(m->fifo_dir, sizeof m->fifo_dir, "%s/dlenergy-attach-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(m->fifo_dir)) {
      int rc = dle_error_set(err, DLE_EIO, "cannot create a folder for the marker FIFO: %s",
                             strerror(errno));
      m->fifo_dir[0] = '\0';
      return rc;
    }
    snprintf(m->fifo_path, sizeof m->fifo_path, "%s/markers", m->fifo_dir);
  } else {
    snprintf(m->fifo_path, sizeof m->fifo_path, "%s", path);
    struct stat st;
    m->fifo_existed = lstat(path, &st) == 0;
  }
  return dle_marker_fifo_open(m->fifo_path, &m->marker_fd, &m->fifo_keep_fd, err);
}

static void attach_command(pid_t pid, char *out, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
  out[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, out, size - 1);
  close(fd);
  if (n <= 0) return;
  for (ssize_t i = 0; i < n; i++)
    if (out[i] == '\0') out[i] = ' ';
  while (n > 0 && out[n - 1] == ' ') n--;
  out[n] = '\0';
}

static void mon_free(mon *m) {
  dle_recorder_free(m->rec); /* stops the sampler first */
  m->rec = NULL;
  if (m->child) dle_child_free(m->child);
  if (m->watch) dle_proc_watch_free(m->watch);
  if (m->marker_fd >= 0 && m->attach && !m->fifo_existed) unlink(m->fifo_path);
  if (m->marker_fd >= 0) close(m->marker_fd);
  if (m->fifo_keep_fd >= 0) close(m->fifo_keep_fd);
  if (m->fifo_dir[0]) rmdir(m->fifo_dir);
  dle_marker_reader_free(m->mr);
  for (int i = 0; i < 2; i++) dle_epoch_regex_free(m->rx[i]);
  free(m->relay_buf);
}

int monitor_main(const monitor_opts *o) {
  mon M;
  mon *m = &M;
  memset(m, 0, sizeof *m);
  m->o = o;
  m->attach = o->argv == NULL;
  m->marker_fd = m->fifo_keep_fd = -1;
  dle_error e;
  dle_error_clear(&e);
  int status = DLE_EXIT_FAIL;
  sig_state sigs;
  signals_ignore_early(&sigs);
  bool started_hooks = false;
  char env_ino[64], env_run[64];

  m->relay_buf = malloc(READ_CHUNK);
  if (!m->relay_buf) {
    dle_error_set(&e, DLE_ENOMEM, "out of memory");
    goto fail;
  }
  if (dle_marker_reader_new(&m->mr, &e) != DLE_OK) goto fail;
  if (o->epoch_regex && !m->attach) {
    for (int i = 0; i < 2; i++)
      if (dle_epoch_regex_new(o->epoch_regex, &m->rx[i], &e) != DLE_OK) goto fail;
  }
  if (m->attach && dle_proc_watch_open(o->attach_pid, &m->watch, &e) != DLE_OK) goto fail;

  /* Sensors, store, the run's row and static metadata: the recorder's. */
  char command[sizeof ((dle_run_info *)0)->command];
  if (m->attach)
    attach_command(o->attach_pid, command, sizeof command);
  else
    join_command(o->argv, command, sizeof command);
  dle_recorder_config rcfg;
  dle_recorder_config_init(&rcfg);
  rcfg.db = o->db;
  rcfg.sampler = o->sampler;
  rcfg.sampler.sensors.root_pid = m->attach ? o->attach_pid : 0;
  rcfg.source = m->attach ? "attach" : "run";
  rcfg.host = o->host;
  rcfg.command = command;
  rcfg.pue = o->pue;
  rcfg.carbon_g_per_kwh = o->carbon_g_per_kwh;
  rcfg.carbon_how = o->carbon_how;
  rcfg.country = o->country;
  rcfg.job = o->job;
  rcfg.epochs_planned = o->epochs_planned;
  rcfg.meta = o->meta;
  rcfg.on_sample = on_sample;
  rcfg.on_store_failed = on_store_failed;
  rcfg.user = m;
  if (dle_recorder_begin(&rcfg, &m->rec, &e) != DLE_OK) goto fail;
  const dle_sensors_info *sinfo = dle_recorder_sensors(m->rec);
  const int64_t run_id = dle_recorder_run_id(m->rec);

  if (o->metrics_listen) {
    const char *src[4] = {sinfo->gpu_source, sinfo->cpu_source, sinfo->dram_source,
                          sinfo->ram_source};
    if (dle_exporter_create(run_id, dle_recorder_host(m->rec), src, &m->exporter, &e) !=
            DLE_OK ||
        dle_exporter_listen(m->exporter, o->metrics_listen, &e) != DLE_OK)
      goto fail_recorded;
    if (dle_recorder_epochs_total(m->rec) > 0)
      dle_exporter_set_epoch(m->exporter, 0, dle_recorder_epochs_total(m->rec));
    set_meta(m, "metrics_listen", o->metrics_listen);
    if (!o->quiet)
      warnf(m, "Prometheus metrics on port %d (--metrics-listen %s), path /metrics",
            dle_exporter_port(m->exporter), o->metrics_listen);
  }
  started_hooks = true;
  for (size_t h = 0; h < o->n_hooks; h++) {
    monitor_view v = make_view(m, 0);
    if (o->hooks[h].on_start && o->hooks[h].on_start(&v, o->hooks[h].user, &e) != 0)
      goto fail_recorded;
  }
  if (signals_install(&sigs, !m->attach, &e) != DLE_OK) goto fail_recorded;

  int marker_w = -1;
  if (m->attach) {
    if (open_attach_fifo(m, &e) != DLE_OK) goto fail_recorded;
    set_meta(m, "marker_fifo", m->fifo_path);
    if (!o->quiet)
      fprintf(stderr,
              "dlenergy attach: recording process %ld as run %" PRId64 " in %s; Ctrl-C stops.\n"
              "dlenergy attach: epoch markers: start the script with DLENERGY_MARKER=%s or "
              "write lines to that FIFO\n",
              (long)o->attach_pid, run_id, o->db, m->fifo_path);
  } else {
    if (dle_marker_pipe(&m->marker_fd, &marker_w, &e) != DLE_OK) goto fail_recorded;
    struct stat pst;
    fstat(marker_w, &pst);
    snprintf(env_ino, sizeof env_ino, "DLENERGY_MARKER_INO=%lu", (unsigned long)pst.st_ino);
    snprintf(env_run, sizeof env_run, "DLENERGY_RUN_ID=%" PRId64, run_id);
  }

  /* t = 0: the sampler starts (its t0 is taken inside dle_sampler_start, a few
   * microseconds after ours), then the command starts. */
  m->t0_ns = dle_monotonic_ns();
  if (dle_recorder_start(m->rec, &e) != DLE_OK) {
    if (!m->attach) close(marker_w);
    goto fail_recorded;
  }
  if (!m->attach) {
    /* With --epoch-regex the output goes through a pipe: Python would then buffer it
     * in 8 KB blocks and deliver "Epoch N/M" late, so it is made unbuffered. */
    bool unbuf = m->rx[0] && !getenv("PYTHONUNBUFFERED");
    const char *set[] = {env_ino, env_run, unbuf ? "PYTHONUNBUFFERED=1" : NULL, NULL};
    const char *unset[] = {"DLENERGY_MARKER", NULL};
    dle_launch_opts lo = {.argv = o->argv,
                          .marker_fd = marker_w,
                          .marker_env = "DLENERGY_MARKER_FD",
                          .capture_output = m->rx[0] != NULL,
                          .stdout_to_stderr = o->json, /* stdout carries the JSON */
                          .env_set = set,
                          .env_unset = unset,
                          .sig_default = &sigs.child_default};
    int rc = dle_child_spawn(&lo, &m->child, &e);
    close(marker_w);
    if (rc != DLE_OK) {
      dle_recorder_stop(m->rec);
      status = rc == DLE_ENOTFOUND ? 127 : 126;
      fprintf(stderr, "dlenergy %s: %s\n", o->verb, e.msg);
      dle_recorder_abort(m->rec, status, e.msg);
      goto done;
    }
    dle_recorder_set_pid(m->rec, dle_child_pid(m->child));
  }
  m->started = true;

  dle_exit_info x = {.exit_code = -1, .term_signal = 0, .core_dumped = false};
  bool exited = false, detached = false;
  int64_t next_drain = dle_monotonic_ns();
  const int64_t drain_ns = 100000000;
  for (;;) {
    struct pollfd p[5];
    int np = 0, i_sig, i_mark = -1, i_out = -1, i_err = -1, i_wait = -1;
    p[np] = (struct pollfd){.fd = g_sig_pipe[0], .events = POLLIN};
    i_sig = np++;
    if (m->marker_fd >= 0) {
      p[np] = (struct pollfd){.fd = m->marker_fd, .events = POLLIN};
      i_mark = np++;
    }
    if (m->child && dle_child_stdout_fd(m->child) >= 0) {
      p[np] = (struct pollfd){.fd = dle_child_stdout_fd(m->child), .events = POLLIN};
      i_out = np++;
    }
    if (m->child && dle_child_stderr_fd(m->child) >= 0) {
      p[np] = (struct pollfd){.fd = dle_child_stderr_fd(m->child), .events = POLLIN};
      i_err = np++;
    }
    int wfd = m->child ? dle_child_wait_fd(m->child) : dle_proc_watch_fd(m->watch);
    if (wfd >= 0) {
      p[np] = (struct pollfd){.fd = wfd, .events = POLLIN};
      i_wait = np++;
    }
    int64_t now = dle_monotonic_ns();
    int timeout_ms = next_drain > now ? (int)((next_drain - now) / 1000000) + 1 : 0;
    int r = poll(p, (nfds_t)np, timeout_ms);
    if (r < 0 && errno != EINTR) {
      warnf(m, "poll failed: %s", strerror(errno));
      usleep(100000);
    }
    if (r > 0 && (p[i_sig].revents & POLLIN)) {
      uint64_t got = take_signals();
      for (int k = 0; k < N_FORWARDED; k++) {
        int sig = k_watched_signals[k];
        if (!(got & ((uint64_t)1 << sig))) continue;
        if (m->attach) {
          detached = true; /* attach never signals the process it watches */
        } else if (dle_child_signal(m->child, sig, &e) == DLE_OK) {
          if (!o->quiet) warnf(m, "passed %s on to the command", strsignal(sig));
        }
      }
      if (!m->attach && (got & ((uint64_t)1 << SIGTSTP))) {
        /* Ctrl-Z: stop the command, then ourselves. SIGSTOP, since the kernel discards
         * SIGTSTP sent to the command's group: a new session is an orphaned group. */
        dle_child_signal(m->child, SIGSTOP, &e);
        raise(SIGSTOP);
        got |= (uint64_t)1 << SIGCONT;
      }
      if (!m->attach && (got & ((uint64_t)1 << SIGCONT))) dle_child_signal(m->child, SIGCONT, &e);
    }
    if (r > 0 && i_mark >= 0 && p[i_mark].revents) {
      if (!read_markers(m) && !m->attach) {
        close(m->marker_fd); /* every writer is gone */
        m->marker_fd = -1;
      }
      marker_warn_once(m);
    }
    if (r > 0 && i_out >= 0 && p[i_out].revents) relay_output(m, 1);
    if (r > 0 && i_err >= 0 && p[i_err].revents) relay_output(m, 2);
    if (dle_monotonic_ns() >= next_drain) {
      drain_samples(m);
      next_drain = dle_monotonic_ns() + drain_ns;
    }
    if (detached) break;
    if (m->attach) {
      if ((i_wait >= 0 && p[i_wait].revents) || (i_wait < 0 && !dle_proc_watch_alive(m->watch)) ||
          (i_wait >= 0 && !dle_proc_watch_alive(m->watch))) {
        exited = true;
        break;
      }
    } else if (i_wait < 0 || (r > 0 && p[i_wait].revents)) {
      if (dle_child_try_wait(m->child, &exited, &x, &e) != DLE_OK) {
        warnf(m, "%s", e.msg);
        break;
      }
      if (exited) break;
    }
  }
  double t_end = mono_s(m->t0_ns);

  /* What the command said just before it ended. */
  if (m->marker_fd >= 0) {
    read_markers(m);
    dle_marker_reader_finish(m->mr, t_end, on_marker, m);
  }
  dle_recorder_stop(m->rec); /* takes the last sample at this instant */
  drain_samples(m);
  if (m->child) {
    /* Relay the rest of its output: until end-of-file, or 1 s without any when a
     * descendant still holds the pipe. */
    int64_t quiet_since = dle_monotonic_ns();
    while (dle_child_stdout_fd(m->child) >= 0 || dle_child_stderr_fd(m->child) >= 0) {
      struct pollfd p[2];
      int np = 0;
      int fds[2] = {dle_child_stdout_fd(m->child), dle_child_stderr_fd(m->child)};
      int which[2];
      for (int k = 0; k < 2; k++)
        if (fds[k] >= 0) {
          p[np] = (struct pollfd){.fd = fds[k], .events = POLLIN};
          which[np++] = k + 1;
        }
      int r = poll(p, (nfds_t)np, 100);
      if (r > 0) {
        for (int k = 0; k < np; k++)
          if (p[k].revents) relay_output(m, which[k]);
        quiet_since = dle_monotonic_ns();
      } else if (dle_monotonic_ns() - quiet_since > 1000000000) {
        break;
      }
    }
    if (x.exit_code == 0 && x.term_signal == 0)
      for (int k = 0; k < 2; k++)
        if (m->rx[k]) dle_epoch_regex_close(m->rx[k], t_end, on_marker, m);
  }
  flush_pending(m, true);

  dle_run_status run_status;
  if (m->attach) {
    run_status = DLE_RUN_COMPLETE;
    set_meta(m, "attach_end", exited ? "process exited" : "detached");
    status = DLE_EXIT_OK;
  } else {
    run_status = x.term_signal ? DLE_RUN_KILLED
                 : x.exit_code == 0 ? DLE_RUN_COMPLETE
                                    : DLE_RUN_FAILED;
    status = dle_exit_info_status(&x);
  }
  record_marker_meta(m);
  bool store_ok = dle_recorder_finish(m->rec, run_status, m->attach ? -1 : x.exit_code,
                                      m->attach ? 0 : x.term_signal) == DLE_OK;
  if (!o->quiet) print_summary(m, &x, exited);
  if (!store_ok && status == 0) status = DLE_EXIT_FAIL;
  if (o->quiet && !o->json && store_ok) printf("%" PRId64 "\n", run_id);
  if (o->json && store_ok) {
    /* The recorded run exactly as `show --json` gives it. */
    cJSON *js = show_run_json(dle_recorder_store(m->rec), run_id, true, &e);
    if (!js || !cli_print_json(js)) {
      fprintf(stderr, "dlenergy %s: no JSON summary: %s\n", o->verb, js ? "write failed" : e.msg);
      if (status == 0) status = DLE_EXIT_FAIL;
    }
    cJSON_Delete(js);
  }
  fflush(stdout);
  if (o->report_path && store_ok) {
    /* The single-run report, from what the store now holds (same as `dlenergy report`). */
    if (dle_report_write_run(dle_recorder_store(m->rec), run_id, o->report_path, &e) == DLE_OK) {
      if (!o->quiet) fprintf(stderr, "  report written to %s\n", o->report_path);
    } else {
      fprintf(stderr, "dlenergy %s: report not written: %s\n", o->verb, e.msg);
      if (status == 0) status = DLE_EXIT_FAIL;
    }
  }

done:
  if (started_hooks)
    for (size_t h = 0; h < o->n_hooks; h++)
      if (o->hooks[h].on_finish) o->hooks[h].on_finish(o->hooks[h].user);
  dle_exporter_destroy(m->exporter);
  mon_free(m); /* closes the store: still under our SIGXFSZ/SIGPIPE dispositions */
  signals_restore(&sigs);
  return status;

fail_recorded:
  /* The run is in the store but the command never started. */
  dle_recorder_abort(m->rec, -1, e.msg);
fail:
  status = cli_fail(o->verb, &e);
  goto done;
}

/* ------------------------------------------------------------------ options */

enum {
  OPT_DB = 256, OPT_INTERVAL, OPT_GPUS, OPT_NO_GPU, OPT_NO_RAPL, OPT_NO_CPU, OPT_CPU_TDP,
  OPT_RAM_W, OPT_PUE, OPT_CARBON, OPT_COUNTRY, OPT_META, OPT_EPOCHS, OPT_QUIET,
  OPT_EPOCH_REGEX, OPT_FIFO, OPT_METRICS, OPT_REPORT, OPT_JOB, OPT_HOST, OPT_SCOPE, OPT_JSON,
  OPT_HELP
};

bool monitor_sensor_option(const char *verb, int opt, const char *arg, monitor_opts *o,
                           int *usage_rc) {
  double v;
  dle_sensors_config *sc = &o->sampler.sensors;
  *usage_rc = 0;
  switch (opt) {
    case OPT_DB: o->db = arg; return true;
    case OPT_INTERVAL:
      if (!cli_parse_double(arg, &v) || v < 0.001 || v > 3600)
        *usage_rc = cli_usage_error(verb, "--interval wants seconds in 0.001..3600, not '%s'", arg);
      o->sampler.interval_s = v;
      return true;
    case OPT_GPUS:
      if (strcmp(arg, "none") == 0) {
        sc->enable_nvml = false;
      } else {
        for (const char *p = arg; *p; p++)
          if (!((*p >= '0' && *p <= '9') || *p == ',') && strcmp(arg, "all") != 0) {
            *usage_rc = cli_usage_error(verb, "--gpus wants all, none or indices like 0,2; not '%s'", arg);
            return true;
          }
        sc->gpus = arg;
        sc->enable_nvml = true;
      }
      return true;
    case OPT_NO_GPU: sc->enable_nvml = false; return true;
    case OPT_NO_RAPL: sc->enable_rapl = false; return true;
    case OPT_NO_CPU: sc->enable_procfs = false; return true;
    case OPT_CPU_TDP:
      if (!cli_parse_double(arg, &v) || v <= 0 || v > 10000)
        *usage_rc = cli_usage_error(verb, "--cpu-tdp wants watts in (0, 10000], not '%s'", arg);
      sc->cpu_tdp_w = v;
      return true;
    case OPT_RAM_W:
      if (!cli_parse_double(arg, &v) || v < 0 || v > 100)
        *usage_rc = cli_usage_error(verb, "--ram-w-per-gb wants W/GB in [0, 100], not '%s'", arg);
      sc->ram_w_per_gb = v;
      return true;
    case OPT_PUE:
      if (!cli_parse_double(arg, &v) || v < 1 || v > 10)
        *usage_rc = cli_usage_error(verb, "--pue wants a number in [1, 10], not '%s'", arg);
      o->pue = v;
      return true;
    case OPT_CARBON:
      if (!cli_parse_double(arg, &v) || v < 0 || v > 5000)
        *usage_rc = cli_usage_error(verb, "--carbon-intensity wants g/kWh in [0, 5000], not '%s'", arg);
      o->carbon_g_per_kwh = v;
      return true;
    case OPT_COUNTRY: o->country = arg; return true;
    case OPT_EPOCHS:
      if (!cli_parse_int(arg, &o->epochs_planned) || o->epochs_planned < 1)
        *usage_rc = cli_usage_error(verb, "--epochs wants a positive integer, not '%s'", arg);
      return true;
    case OPT_QUIET: o->quiet = true; return true;
    case OPT_JSON: o->json = true; return true;
    case OPT_SCOPE: {
      int sc_v = dle_scope_parse(arg);
      if (sc_v < 0)
        *usage_rc = cli_usage_error(verb, "--scope wants process or machine, not '%s'", arg);
      sc->scope = sc_v < 0 ? DLE_SCOPE_PROCESS : sc_v;
      return true;
    }
    case OPT_METRICS: o->metrics_listen = arg; return true;
    case OPT_REPORT: o->report_path = arg; return true;
    case OPT_JOB:
      if (!*arg || strchr(arg, ',') || strchr(arg, '='))
        *usage_rc = cli_usage_error(verb, "--job wants a non-empty name without ',' or '=', not '%s'", arg);
      o->job = arg;
      return true;
    case OPT_HOST:
      if (!*arg || strlen(arg) > 255)
        *usage_rc = cli_usage_error(verb, "--host wants a name of 1..255 characters");
      o->host = arg;
      return true;
    default: return false;
  }
}

#define MONITOR_LONG_OPTIONS                                              \
  {"db", required_argument, NULL, OPT_DB},                                \
  {"interval", required_argument, NULL, OPT_INTERVAL},                    \
  {"gpus", required_argument, NULL, OPT_GPUS},                            \
  {"no-gpu", no_argument, NULL, OPT_NO_GPU},                              \
  {"no-rapl", no_argument, NULL, OPT_NO_RAPL},                            \
  {"no-cpu", no_argument, NULL, OPT_NO_CPU},                              \
  {"cpu-tdp", required_argument, NULL, OPT_CPU_TDP},                      \
  {"ram-w-per-gb", required_argument, NULL, OPT_RAM_W},                   \
  {"pue", required_argument, NULL, OPT_PUE},                              \
  {"carbon-intensity", required_argument, NULL, OPT_CARBON},              \
  {"country", required_argument, NULL, OPT_COUNTRY},                      \
  {"meta", required_argument, NULL, OPT_META},                            \
  {"epochs", required_argument, NULL, OPT_EPOCHS},                        \
  {"quiet", no_argument, NULL, OPT_QUIET},                                \
  {"json", no_argument, NULL, OPT_JSON},                                  \
  {"scope", required_argument, NULL, OPT_SCOPE},                          \
  {"metrics-listen", required_argument, NULL, OPT_METRICS},               \
  {"report", required_argument, NULL, OPT_REPORT},                        \
  {"job", required_argument, NULL, OPT_JOB},                              \
  {"host", required_argument, NULL, OPT_HOST},                            \
  {"help", no_argument, NULL, OPT_HELP}

static const char k_common_help[] =
    "  --db PATH|URI         run store (default $DLENERGY_DB or ./dlenergy.db)\n"
    "  --interval S          sampling interval in seconds (default 0.1)\n"
    "  --gpus all|none|0,2   NVIDIA GPUs to read through NVML (default all; under all a\n"
    "                        GPU that cannot be opened is skipped with a note). The GPU\n"
    "                        energy is that of the GPUs the run used (by process, else\n"
    "                        CUDA_VISIBLE_DEVICES, else all); every GPU is listed\n"
    "  --no-gpu, --no-rapl, --no-cpu\n"
    "                        disable the NVML, RAPL or process-tree (CPU %, RSS) sensor\n"
    "  --cpu-tdp W           CPU TDP per package for the modelled CPU power when RAPL\n"
    "                        is absent (default: data/cpu_tdp.csv by CPU model: W per\n"
    "                        thread x the CPUs this machine sees; generic VM names such\n"
    "                        as 'AMD EPYC' get the family's median W per thread)\n"
    "  --scope process|machine\n"
    "                        what modelled CPU and RAM power covers: the process tree's\n"
    "                        CPU share and resident memory (default, the study's rule)\n"
    "                        or the whole host (host CPU utilization, MemTotal)\n"
    "  --ram-w-per-gb W      modelled RAM power per GB (default 0.375)\n"
    "  --pue X               power usage effectiveness of the facility (default 1.0)\n"
    "  --carbon-intensity G  grid carbon intensity in g CO2e/kWh\n"
    "  --country CC          carbon intensity from the shipped table (e.g. ES); without\n"
    "                        either, emissions use the table's world average, labelled\n"
    "                        default. Giving both is a usage error.\n"
    "  --meta KEY=VALUE      metadata for the run (repeatable)\n"
    "  --epochs N            planned number of epochs\n"
    "  --quiet               no live line and no summary; prints the run id on stdout\n"
    "  --json                the final summary as one JSON object on stdout (as\n"
    "                        'show --json'); the live lines stay on stderr\n"
    "  --metrics-listen ADDR serve Prometheus metrics of the live run on HOST:PORT\n"
    "                        (\":PORT\" = loopback; port 0 picks a free one)\n"
    "  --report FILE         write the run's self-contained HTML report at the end\n"
    "  --job NAME            the distributed job this run is part of (metadata 'job');\n"
    "                        default $SLURM_JOB_ID, else $TORCHELASTIC_RUN_ID; the runs\n"
    "                        of one job, on any hosts, add up in 'list --jobs', 'show\n"
    "                        --job NAME' and 'analyze --by job'\n"
    "  --host NAME           host name recorded for the run (default: gethostname)\n";

/* Shared by run and attach: collects --meta values, resolves --country. Returns -1
 * to go on, else an exit status. */
typedef struct meta_list {
  char **v;
  size_t n;
} meta_list;

static int meta_add(meta_list *ml, const char *verb, char *kv) {
  if (!monitor_valid_meta(kv))
    return cli_usage_error(verb, "--meta wants KEY=VALUE without spaces, not '%s'", kv);
  char **p = realloc(ml->v, (ml->n + 2) * sizeof *p);
  if (!p) {
    dle_error e;
    dle_error_set(&e, DLE_ENOMEM, "out of memory");
    return cli_fail(verb, &e);
  }
  ml->v = p;
  ml->v[ml->n++] = kv;
  ml->v[ml->n] = NULL;
  return -1;
}

/* The carbon intensity and its label: --carbon-intensity, --country (table),
 * or the table's world average, labelled default. */
static int resolve_country(monitor_opts *o) {
  if (o->country && !isnan(o->carbon_g_per_kwh))
    return cli_usage_error(o->verb, "--country and --carbon-intensity both give the carbon "
                                    "intensity: use one");
  if (!isnan(o->carbon_g_per_kwh)) {
    snprintf(o->carbon_how, sizeof o->carbon_how, "%.4g g/kWh (--carbon-intensity)",
             o->carbon_g_per_kwh);
    return -1;
  }
  dle_carbon_info ci;
  dle_error e;
  if (dle_carbon_find(o->country ? o->country : "WORLD", &ci, &e) != DLE_OK)
    return cli_fail(o->verb, &e);
  o->carbon_g_per_kwh = ci.g_per_kwh;
  o->carbon_default = !o->country;
  snprintf(o->carbon_how, sizeof o->carbon_how, "%s%.4g g/kWh (%s, %d; %s)",
           o->country ? "" : "default: ", ci.g_per_kwh, ci.name, ci.year, ci.source);
  return -1;
}

/* The option loop of run and attach: shared options, --meta, and the one
 * verb-specific string option each has (--epoch-regex, --marker-fifo). Returns -1
 * to go on, else an exit status (--help, usage error). */
static int parse_monitor_args(int argc, char **argv, const char *shortopts,
                              const struct option *longopts, monitor_opts *o, meta_list *ml,
                              void (*help)(FILE *out, const char *common_help)) {
  int rc = -1;
  optind = 1;
  opterr = 0;
  int c;
  while (rc < 0 && (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
    int urc = 0;
    if (c == 'h' || c == OPT_HELP) {
      help(stdout, k_common_help);
      rc = DLE_EXIT_OK;
    } else if (c == OPT_META) {
      rc = meta_add(ml, o->verb, optarg);
    } else if (c == OPT_EPOCH_REGEX) {
      o->epoch_regex = optarg;
    } else if (c == OPT_FIFO) {
      o->fifo_path = optarg;
    } else if (monitor_sensor_option(o->verb, c, optarg, o, &urc)) {
      if (urc) rc = urc;
    } else if (c == '?' && optopt) {
      rc = cli_usage_error(o->verb, "option '-%c' is not known", optopt);
    } else {
      rc = cli_usage_error(o->verb, "unknown option '%s'", argv[optind - 1]);
    }
  }
  return rc;
}

/* What both verbs do once their arguments are valid: --country, the live
 * projection hooks, the store location and metadata, then the recording loop. */
static int start_monitor(monitor_opts *o, meta_list *ml) {
  int rc = resolve_country(o);
  if (rc < 0 && monitor_projection_hooks) {
    int prc = monitor_projection_hooks(o);
    if (prc != 0) rc = prc;
  }
  if (rc < 0) {
    o->db = cli_db_path(o->db);
    o->meta = ml->v;
    rc = monitor_main(o);
  }
  return rc;
}

static void run_usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy run [OPTIONS] -- COMMAND [ARGS...]\n"
          "Runs COMMAND (no shell) and records the energy of its process tree: GPU (NVML),\n"
          "CPU and DRAM (RAPL, or modelled), RAM (modelled), with epochs from markers.\n"
          "Exits with the command's status (128 + N when killed by signal N; 127 when it\n"
          "does not exist). SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to it.\n\n"
          "Options:\n%s"
          "  --epoch-regex RE      take epochs from the command's printed output (POSIX ERE;\n"
          "                        group 1 = epoch, group 2 = total); 'keras' means\n"
          "                        '" DLE_EPOCH_REGEX_KERAS "'. The output is then relayed\n"
          "                        through dlenergy.\n\n"
          "Epoch markers: the command gets DLENERGY_MARKER_FD, a pipe taking lines such as\n"
          "'epoch_begin 3', 'epoch_end 3 loss=0.4', 'epochs_total 10', 'meta k=v'; see\n"
          "clients/python/dlenergy_markers.py, or from a shell:\n"
          "  echo 'epoch_end 3 loss=0.4' >&$DLENERGY_MARKER_FD\n"
          "The command's environment also has DLENERGY_RUN_ID.\n",
          k_common_help);
}

static void run_help(FILE *out, const char *common_help) {
  (void)common_help; /* run_usage() prints it itself */
  run_usage(out);
}

static int cmd_run(int argc, char **argv) {
  static const struct option longopts[] = {
      MONITOR_LONG_OPTIONS,
      {"epoch-regex", required_argument, NULL, OPT_EPOCH_REGEX},
      {NULL, 0, NULL, 0}};
  monitor_opts o;
  monitor_opts_init(&o, "run");
  meta_list ml = {0};
  /* '+': stop at the first non-option, so the command's own options are left alone. */
  int rc = parse_monitor_args(argc, argv, "+h", longopts, &o, &ml, run_help);
  if (rc < 0 && optind >= argc) rc = cli_usage_error("run", "no command given (dlenergy run [OPTIONS] -- COMMAND ...)");
  if (rc < 0 && o.epoch_regex) {
    dle_epoch_regex *rx = NULL;
    dle_error e;
    if (dle_epoch_regex_new(o.epoch_regex, &rx, &e) != DLE_OK)
      rc = cli_usage_error("run", "%s", e.msg);
    dle_epoch_regex_free(rx);
  }
  if (rc < 0) {
    o.argv = argv + optind;
    rc = start_monitor(&o, &ml);
  }
  free(ml.v);
  return rc;
}

/* ---- attach (its verb file holds only the descriptor and usage) ---- */

int monitor_attach_main(int argc, char **argv, void (*usage)(FILE *, const char *)) {
  static const struct option longopts[] = {
      MONITOR_LONG_OPTIONS,
      {"marker-fifo", required_argument, NULL, OPT_FIFO},
      {NULL, 0, NULL, 0}};
  monitor_opts o;
  monitor_opts_init(&o, "attach");
  meta_list ml = {0};
  int rc = parse_monitor_args(argc, argv, "h", longopts, &o, &ml, usage);
  int64_t pid = 0;
  if (rc < 0 && optind != argc - 1)
    rc = cli_usage_error("attach", "expected one process id");
  else if (rc < 0 && (!cli_parse_int64(argv[optind], &pid) || pid <= 0 || pid > INT_MAX))
    rc = cli_usage_error("attach", "'%s' is not a process id", argv[optind]);
  if (rc < 0) {
    o.attach_pid = (pid_t)pid;
    rc = start_monitor(&o, &ml);
  }
  free(ml.v);
  return rc;
}

const dle_cli_verb dle_verb_run = {"run", "run a training command and record its energy",
                                   cmd_run};
