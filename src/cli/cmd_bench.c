/* cmd_bench.c — `dlenergy bench PLAN.json`: run an experiment campaign.
 *
 * Each (configuration, repetition) pair runs as a child `dlenergy run` (this same
 * executable) with the factor levels and bench_plan / bench_config / bench_rep as
 * metadata, so every run is an ordinary run in the store. Resuming is reading the
 * store: pairs with a complete run are skipped; runs left "running" by a recorder
 * that died are marked killed (meta bench_interrupted=1) and redone. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dlenergy/campaign.h"
#include "dlenergy/store.h"

static volatile sig_atomic_t g_stop_signal; /* CLI-only state: the signal that asked us to stop */

static void on_signal(int sig) { g_stop_signal = sig; }

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy bench PLAN.json [--db PATH] [--dry-run]\n"
          "Run an experiment campaign: every combination of the plan's factor levels,\n"
          "repeated, in a seeded random order, each as a `dlenergy run` recorded in the store.\n"
          "Re-running the same plan resumes it: complete runs are skipped, interrupted ones redone.\n\n"
          "Options:\n"
          "  --db PATH     run store (default $DLENERGY_DB or ./dlenergy.db; postgresql:// URIs too)\n"
          "  --dry-run     print the schedule (and what is already done) without running anything\n"
          "  -h, --help    this help\n\n"
          "Plan (JSON):\n"
          "  {\"name\": \"sweep\", \"factors\": {\"arch\": [\"a\",\"b\"], \"bs\": [16,32]},\n"
          "   \"command\": [\"python3\", \"train.py\", \"--arch\", \"{arch}\", \"--batch-size={bs}\"],\n"
          "   \"repetitions\": 30, \"seed\": 1, \"randomize\": true,\n"
          "   \"warmup\": {\"command\": [\"python3\", \"burn.py\"], \"duration_s\": 600},\n"
          "   \"cooldown_s\": 300, \"timeout_s\": 7200, \"meta\": {\"dataset\": \"x\"},\n"
          "   \"run_options\": [\"--interval\", \"0.5\"]}\n"
          "Placeholders {factor} are replaced inside each argument; no shell is involved.\n");
}

/* Sleeps up to s seconds; returns early when a stop signal arrived. */
static void sleep_interruptible(double s) {
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += (time_t)s;
  end.tv_nsec += (long)((s - floor(s)) * 1e9);
  if (end.tv_nsec >= 1000000000L) end.tv_sec++, end.tv_nsec -= 1000000000L;
  while (!g_stop_signal &&
         clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR) {
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* fork + exec argv (never a shell). The child dies with us (PR_SET_PDEATHSIG) so a
 * killed campaign does not leave orphan runs that would be duplicated on resume. */
static pid_t spawn(char *const argv[], const char *exe) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  if (exe)
    execv(exe, argv);
  else
    execvp(argv[0], argv);
  fprintf(stderr, "dlenergy bench: cannot run %s: %s\n", exe ? exe : argv[0], strerror(errno));
  _exit(127);
}

/* Waits for pid; after timeout_s (0 = none) or a stop signal, sends SIGTERM, then
 * SIGKILL 10 s later. Returns the wait status; *timed_out tells why it ended. */
static int wait_child(pid_t pid, double timeout_s, int *timed_out) {
  double start = now_s(), term_at = -1;
  int status = 0, forwarded = 0;
  *timed_out = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    double t = now_s();
    if (g_stop_signal && !forwarded) {
      /* Ctrl-C from a terminal reaches the child's group too; a SIGTERM to us does not. */
      kill(pid, g_stop_signal == SIGINT ? SIGINT : SIGTERM);
      forwarded = 1;
      term_at = t;
    }
    if (timeout_s > 0 && term_at < 0 && t - start > timeout_s) {
      *timed_out = 1;
      kill(pid, SIGTERM);
      term_at = t;
    }
    if (term_at >= 0 && t - term_at > 10) kill(pid, SIGKILL);
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
}

typedef struct done_set {
  size_t n_configs;
  int reps;
  unsigned char *done; /* [config * reps + rep] */
} done_set;

/* Reads the store: marks interrupted runs, fills which pairs are complete. */
static int scan_store(dle_store *st, const dle_plan *p, done_set *ds, int mark, size_t *n_marked,
                      dle_error *err) {
  char filter[512];
  int64_t *ids = NULL;
  size_t n = 0;
  *n_marked = 0;
  snprintf(filter, sizeof filter, "bench_plan=%s", dle_plan_name(p));
  int rc = dle_store_select_runs(st, filter, &ids, &n, err);
  if (rc) return rc;
  char cid[17];
  for (size_t i = 0; i < n && rc == 0; i++) {
    dle_run_info info;
    dle_kv *kv = NULL;
    size_t nkv = 0;
    if ((rc = dle_store_get_run(st, ids[i], &info, err))) break;
    if ((rc = dle_store_get_meta(st, ids[i], &kv, &nkv, err))) break;
    const char *cfg = dle_kv_get(kv, nkv, "bench_config");
    const char *rep = dle_kv_get(kv, nkv, "bench_rep");
    if (info.status == DLE_RUN_RUNNING && mark) {
      info.status = DLE_RUN_KILLED;
      if (isnan(info.end_wall_s)) info.end_wall_s = info.start_wall_s;
      rc = dle_store_update_run(st, &info, err);
      if (rc == 0) rc = dle_store_set_meta(st, ids[i], "bench_interrupted", "1", err);
      if (rc == 0) rc = dle_store_commit(st, err);
      (*n_marked)++;
    } else if (info.status == DLE_RUN_COMPLETE && cfg && rep) {
      int r = atoi(rep);
      for (size_t c = 0; c < ds->n_configs; c++) {
        dle_plan_config_id(p, c, cid);
        if (strcmp(cid, cfg) == 0 && r >= 0 && r < ds->reps) ds->done[c * (size_t)ds->reps + (size_t)r] = 1;
      }
    }
    dle_kv_free(kv, nkv);
  }
  free(ids);
  return rc;
}

typedef struct argv_builder {
  char **v;
  size_t n, cap;
} argv_builder;

static int push(argv_builder *b, const char *s) {
  if (b->n + 2 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 32;
    char **nv = realloc(b->v, cap * sizeof *nv);
    if (!nv) return -1;
    b->v = nv;
    b->cap = cap;
  }
  char *d = strdup(s);
  if (!d) return -1;
  b->v[b->n++] = d;
  b->v[b->n] = NULL;
  return 0;
}

static int push_meta(argv_builder *b, const char *k, const char *v) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s=%s", k, v);
  return push(b, "--meta") || push(b, buf);
}

static void builder_free(argv_builder *b) {
  for (size_t i = 0; i < b->n; i++) free(b->v[i]);
  free(b->v);
  b->v = NULL;
  b->n = b->cap = 0;
}

/* The `dlenergy run` argv of one pair. */
static int build_run_argv(const dle_plan *p, const char *db, const dle_plan_item *it,
                          argv_builder *b) {
  char cid[17], rep[16];
  dle_plan_config_id(p, it->config, cid);
  snprintf(rep, sizeof rep, "%d", it->repetition);
  if (push(b, "dlenergy") || push(b, "run") || push(b, "--db") || push(b, db) ||
      push_meta(b, "bench_plan", dle_plan_name(p)) || push_meta(b, "bench_config", cid) ||
      push_meta(b, "bench_rep", rep))
    return -1;
  for (size_t f = 0; f < dle_plan_n_factors(p); f++)
    if (push_meta(b, dle_plan_factor_name(p, f), dle_plan_level(p, it->config, f))) return -1;
  for (size_t i = 0; i < dle_plan_n_meta(p); i++) {
    const char *k, *v;
    dle_plan_meta(p, i, &k, &v);
    if (push_meta(b, k, v)) return -1;
  }
  for (size_t i = 0; i < dle_plan_n_run_options(p); i++)
    if (push(b, dle_plan_run_option(p, i))) return -1;
  if (push(b, "--")) return -1;
  char **cmd = NULL;
  if (dle_plan_command(p, it->config, &cmd, NULL)) return -1;
  int rc = 0;
  for (char **a = cmd; *a && rc == 0; a++) rc = push(b, *a);
  dle_plan_argv_free(cmd);
  return rc;
}

static void describe(const dle_plan *p, size_t config, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = '\0';
  for (size_t f = 0; f < dle_plan_n_factors(p) && o < n; f++)
    o += (size_t)snprintf(buf + o, n - o, "%s%s=%s", f ? " " : "", dle_plan_factor_name(p, f),
                          dle_plan_level(p, config, f));
  if (dle_plan_n_factors(p) == 0) snprintf(buf, n, "(single configuration)");
}

static void run_warmup(const dle_plan *p) {
  char **w = NULL;
  if (dle_plan_warmup_command(p, &w, NULL) || !w) return;
  char dur[64];
  cli_format_duration(dle_plan_warmup_s(p), dur, sizeof dur);
  fprintf(stderr, "[bench] warm-up for %s: %s\n", dur, w[0]);
  pid_t pid = spawn(w, NULL);
  if (pid > 0) {
    int timed_out = 0;
    int st = wait_child(pid, dle_plan_warmup_s(p), &timed_out);
    if (!timed_out && st >= 0 && !g_stop_signal)
      fprintf(stderr, "[bench] warm-up command ended early (status %d); going on\n",
              WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  }
  dle_plan_argv_free(w);
}

static int bench_main(int argc, char **argv) {
  static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                       {"dry-run", no_argument, NULL, 'n'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *db_opt = NULL;
  int dry = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'd': db_opt = optarg; break;
      case 'n': dry = 1; break;
      case 'h': usage(stdout); return DLE_EXIT_OK;
      default: return cli_usage_error("bench", "bad option");
    }
  }
  if (optind != argc - 1) return cli_usage_error("bench", "expected one PLAN.json");
  const char *db = cli_db_path(db_opt);
  dle_error err = {0};
  dle_plan *plan = NULL;
  if (dle_plan_load(argv[optind], &plan, &err)) return cli_fail("bench", &err);

  int exit_code = DLE_EXIT_FAIL;
  dle_store *st = NULL;
  dle_plan_item *items = NULL;
  size_t n_items = 0, n_marked = 0;
  done_set ds = {dle_plan_n_configs(plan), dle_plan_repetitions(plan), NULL};
  char self[4096];
  ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
  if (sl <= 0) {
    fprintf(stderr, "dlenergy bench: cannot find own executable: %s\n", strerror(errno));
    goto out;
  }
  self[sl] = '\0';
  if (dle_plan_schedule(plan, &items, &n_items, &err)) goto fail;
  ds.done = calloc(ds.n_configs * (size_t)ds.reps, 1);
  if (!ds.done) goto out;
  if (dle_store_open(db, &st, &err)) goto fail;
  if (scan_store(st, plan, &ds, !dry, &n_marked, &err)) goto fail;

  size_t n_done = 0;
  for (size_t i = 0; i < n_items; i++)
    n_done += ds.done[items[i].config * (size_t)ds.reps + (size_t)items[i].repetition];
  size_t n_todo = n_items - n_done;

  if (dry) {
    printf("plan %s: %zu configurations x %d repetitions = %zu runs; %zu complete in %s, %zu to run\n",
           dle_plan_name(plan), ds.n_configs, ds.reps, n_items, n_done, db, n_todo);
    for (size_t i = 0; i < n_items; i++) {
      char desc[1024], cid[17];
      describe(plan, items[i].config, desc, sizeof desc);
      dle_plan_config_id(plan, items[i].config, cid);
      int done = ds.done[items[i].config * (size_t)ds.reps + (size_t)items[i].repetition];
      argv_builder b = {0};
      build_run_argv(plan, db, &items[i], &b);
      printf("%4zu  %-8s rep %-3d %s  %s\n      ", i + 1, done ? "done" : "todo",
             items[i].repetition, cid, desc);
      for (size_t k = 0; k < b.n; k++) printf(" %s", b.v[k]);
      printf("\n");
      builder_free(&b);
    }
    exit_code = DLE_EXIT_OK;
    goto out;
  }
  /* The children write to the store themselves; we only read it at start. */
  dle_store_close(st);
  st = NULL;
  if (n_marked)
    fprintf(stderr, "[bench] %zu interrupted run(s) of an earlier attempt marked killed; redoing\n",
            n_marked);
  fprintf(stderr, "[bench] plan %s: %zu runs, %zu already complete, %zu to run\n",
          dle_plan_name(plan), n_items, n_done, n_todo);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);

  if (n_todo > 0) run_warmup(plan);
  size_t ran = 0, failed = 0;
  double spent_s = 0;
  for (size_t i = 0; i < n_items && !g_stop_signal; i++) {
    const dle_plan_item *it = &items[i];
    if (ds.done[it->config * (size_t)ds.reps + (size_t)it->repetition]) continue;
    if (ran > 0 && dle_plan_cooldown_s(plan) > 0) sleep_interruptible(dle_plan_cooldown_s(plan));
    if (g_stop_signal) break;
    argv_builder b = {0};
    if (build_run_argv(plan, db, it, &b)) {
      builder_free(&b);
      fprintf(stderr, "dlenergy bench: out of memory\n");
      goto out;
    }
    char desc[1024];
    describe(plan, it->config, desc, sizeof desc);
    double t0 = now_s();
    pid_t pid = spawn(b.v, self);
    builder_free(&b);
    int timed_out = 0;
    int status = pid > 0 ? wait_child(pid, dle_plan_timeout_s(plan), &timed_out) : -1;
    double dt = now_s() - t0;
    ran++;
    spent_s += dt + (ran > 1 ? dle_plan_cooldown_s(plan) : 0);
    int code = status < 0 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0) failed++;
    size_t left = n_todo - ran;
    char eta[64], took[64];
    cli_format_duration(spent_s / (double)ran * (double)left, eta, sizeof eta);
    cli_format_duration(dt, took, sizeof took);
    fprintf(stderr, "[bench] %zu/%zu complete (%zu this session) | %s rep %d: %s in %s | ETA %s\n",
            n_done + ran - failed, n_items, ran, desc, it->repetition,
            timed_out ? "timed out" : code == 0 ? "ok" : "FAILED", took, left ? eta : "0 s");
  }
  if (g_stop_signal) {
    fprintf(stderr, "[bench] stopped by signal %d; run the same command again to resume\n",
            (int)g_stop_signal);
    exit_code = 128 + (int)g_stop_signal;
  } else {
    exit_code = failed ? DLE_EXIT_FAIL : DLE_EXIT_OK;
    if (failed)
      fprintf(stderr, "[bench] %zu run(s) failed; run the plan again to redo them\n", failed);
  }
  goto out;
fail:
  cli_fail("bench", &err);
out:
  dle_store_close(st);
  free(ds.done);
  free(items);
  dle_plan_free(plan);
  return exit_code;
}

const dle_cli_verb dle_verb_bench = {"bench", "run an experiment campaign from a JSON plan (resumable)",
                                     bench_main};
