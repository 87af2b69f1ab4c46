/* bench_readback STORE OLD.db — reading every sample of every run back the way
 * `dlenergy evaluate` does (dle_store_load_trace per run), from STORE (the current
 * schema: compressed chunks) against the anchor in the same run: the same samples
 * in the schema-1 row layout (one row per sample and per GPU, written to OLD.db by
 * this program) read with schema 1's own query and row-to-sample code into the
 * same dle_trace. Best of 3 for each; CPU and wall time; the traces are checked
 * equal (sample count and bitwise sum of GPU power per run).
 *
 * bench_readback --rss N DIR — peak RSS of reading a run of N samples (one GPU)
 * back through dle_store_foreach_sample (a streaming reader: export, show) and
 * through dle_store_load_trace (which keeps the run's trace: evaluate), each in
 * a fresh child, against a child that opens the store and reads nothing. */
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlenergy/store.h"

static int die(const char *what, const char *msg) {
  fprintf(stderr, "bench_readback: %s: %s\n", what, msg);
  exit(1);
}

static double clock_s(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct result {
  size_t samples;
  double power_sum; /* over runs, of the sum of trace gpu power (checks equality) */
} result;

static void trace_sums(const dle_trace *t, result *r) {
  r->samples += t->n;
  for (size_t i = 0; i < t->n; i++)
    if (!isnan(t->gpu_power_w[i])) r->power_sum += t->gpu_power_w[i];
}

/* ---- the current store ---- */

static result read_store(dle_store *st, const dle_run_info *runs, size_t n) {
  result r = {0, 0};
  dle_error e = {0};
  for (size_t i = 0; i < n; i++) {
    dle_trace t = {0};
    if (dle_store_load_trace(st, runs[i].id, &t, &e)) die("load_trace", e.msg);
    trace_sums(&t, &r);
    dle_trace_free(&t);
  }
  return r;
}

/* ---- schema 1 (the anchor) ---- */

static const char *const V1_DDL =
    "CREATE TABLE samples (run_id INTEGER NOT NULL, seq INTEGER NOT NULL, t_s REAL, wall_s REAL,"
    " cpu_util_pct REAL, rss_mib REAL, cpu_power_w REAL, dram_power_w REAL, ram_power_w REAL,"
    " cpu_energy_counter_j REAL, dram_energy_counter_j REAL, n_gpus INTEGER NOT NULL,"
    " PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE gpu_samples (run_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " slot INTEGER NOT NULL, device_index INTEGER NOT NULL, power_w REAL, energy_counter_j REAL,"
    " util_gpu_pct REAL, util_mem_pct REAL, mem_used_mib REAL, mem_total_mib REAL, temp_c REAL,"
    " power_limit_w REAL, PRIMARY KEY (run_id, seq, slot)) WITHOUT ROWID;";

static void bind_real(sqlite3_stmt *q, int i, double v) {
  if (isnan(v))
    sqlite3_bind_null(q, i);
  else
    sqlite3_bind_double(q, i, v);
}

typedef struct v1_writer {
  sqlite3_stmt *a, *b;
  int64_t run, seq;
} v1_writer;

static int v1_write(void *ctx, const dle_sample *s, dle_error *err) {
  (void)err;
  v1_writer *w = ctx;
  sqlite3_bind_int64(w->a, 1, w->run);
  sqlite3_bind_int64(w->a, 2, w->seq);
  const double *h = &s->t_s;
  for (int c = 0; c < 9; c++) bind_real(w->a, 3 + c, h[c]);
  sqlite3_bind_int(w->a, 12, (int)s->n_gpus);
  if (sqlite3_step(w->a) != SQLITE_DONE) die("v1 insert", "samples");
  sqlite3_reset(w->a);
  for (uint32_t g = 0; g < s->n_gpus; g++) {
    sqlite3_bind_int64(w->b, 1, w->run);
    sqlite3_bind_int64(w->b, 2, w->seq);
    sqlite3_bind_int(w->b, 3, (int)g);
    sqlite3_bind_int64(w->b, 4, s->gpu[g].device_index);
    const double *v = &s->gpu[g].power_w;
    for (int c = 0; c < 8; c++) bind_real(w->b, 5 + c, v[c]);
    if (sqlite3_step(w->b) != SQLITE_DONE) die("v1 insert", "gpu_samples");
    sqlite3_reset(w->b);
  }
  w->seq++;
  return 0;
}

static void write_v1(dle_store *st, const dle_run_info *runs, size_t n, const char *path) {
  unlink(path);
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) die("open", path);
  if (sqlite3_exec(db, V1_DDL, NULL, NULL, NULL) != SQLITE_OK) die("v1 schema", sqlite3_errmsg(db));
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  v1_writer w = {NULL, NULL, 0, 0};
  sqlite3_prepare_v2(db, "INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &w.a, NULL);
  sqlite3_prepare_v2(db, "INSERT INTO gpu_samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &w.b, NULL);
  dle_error e = {0};
  for (size_t i = 0; i < n; i++) {
    w.run = runs[i].id;
    w.seq = 0;
    if (dle_store_foreach_sample(st, runs[i].id, v1_write, &w, &e)) die("copy", e.msg);
  }
  sqlite3_finalize(w.a);
  sqlite3_finalize(w.b);
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) die("commit", sqlite3_errmsg(db));
  sqlite3_close(db);
}

static double col_real(sqlite3_stmt *q, int i) {
  return sqlite3_column_type(q, i) == SQLITE_NULL ? NAN : sqlite3_column_double(q, i);
}

/* Schema 1's load_trace: count, reserve, then the LEFT JOIN walk of its sq_foreach. */
static result read_v1(sqlite3 *db, const dle_run_info *runs, size_t n) {
  result r = {0, 0};
  dle_error e = {0};
  dle_sample *cur = malloc(sizeof *cur);
  for (size_t k = 0; k < n; k++) {
    dle_trace t = {0};
    sqlite3_stmt *c = NULL, *q = NULL;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM samples WHERE run_id=?", -1, &c, NULL);
    sqlite3_bind_int64(c, 1, runs[k].id);
    if (sqlite3_step(c) == SQLITE_ROW && sqlite3_column_int64(c, 0) > 0)
      dle_trace_reserve(&t, (size_t)sqlite3_column_int64(c, 0), &e);
    sqlite3_finalize(c);
    sqlite3_prepare_v2(db,
                       "SELECT s.seq, s.t_s, s.wall_s, s.cpu_util_pct, s.rss_mib, s.cpu_power_w,"
                       " s.dram_power_w, s.ram_power_w, s.cpu_energy_counter_j,"
                       " s.dram_energy_counter_j, s.n_gpus, g.slot, g.device_index, g.power_w,"
                       " g.energy_counter_j, g.util_gpu_pct, g.util_mem_pct, g.mem_used_mib,"
                       " g.mem_total_mib, g.temp_c, g.power_limit_w"
                       " FROM samples s LEFT JOIN gpu_samples g ON g.run_id = s.run_id AND"
                       " g.seq = s.seq WHERE s.run_id = ? ORDER BY s.seq, g.slot",
                       -1, &q, NULL);
    sqlite3_bind_int64(q, 1, runs[k].id);
    int64_t cur_seq = -1;
    int have = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
      int64_t seq = sqlite3_column_int64(q, 0);
      if (!have || seq != cur_seq) {
        if (have && dle_trace_append(&t, cur, &e)) die("append", e.msg);
        dle_sample_clear(cur);
        have = 1;
        cur_seq = seq;
        double *h = &cur->t_s;
        for (int i = 0; i < 9; i++) h[i] = col_real(q, 1 + i);
        cur->n_gpus = (uint32_t)sqlite3_column_int(q, 10);
      }
      if (sqlite3_column_type(q, 11) != SQLITE_NULL) {
        int slot = sqlite3_column_int(q, 11);
        if (slot < 0 || slot >= DLE_MAX_GPUS) continue;
        dle_gpu_sample *g = &cur->gpu[slot];
        g->device_index = (uint32_t)sqlite3_column_int64(q, 12);
        double *v = &g->power_w;
        for (int i = 0; i < 8; i++) v[i] = col_real(q, 13 + i);
      }
    }
    if (have && dle_trace_append(&t, cur, &e)) die("append", e.msg);
    sqlite3_finalize(q);
    trace_sums(&t, &r);
    dle_trace_free(&t);
  }
  free(cur);
  return r;
}

static int readback_main(const char *store, const char *old) {
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(store, &st, &e)) die("open", e.msg);
  dle_run_info *runs = NULL;
  size_t n = 0;
  if (dle_store_list_runs(st, &runs, &n, &e)) die("list", e.msg);
  write_v1(st, runs, n, old);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(old, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) die("open", old);
  double best[2][2] = {{1e30, 1e30}, {1e30, 1e30}}; /* [store, v1][cpu, wall] */
  result res[2];
  for (int rep = 0; rep < 3; rep++)
    for (int which = 0; which < 2; which++) {
      double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC);
      res[which] = which == 0 ? read_store(st, runs, n) : read_v1(db, runs, n);
      double c = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, w = clock_s(CLOCK_MONOTONIC) - w0;
      if (c < best[which][0]) best[which][0] = c;
      if (w < best[which][1]) best[which][1] = w;
    }
  sqlite3_close(db);
  dle_store_close(st);
  free(runs);
  int same = res[0].samples == res[1].samples &&
             memcmp(&res[0].power_sum, &res[1].power_sum, sizeof(double)) == 0;
  printf("read back %zu runs, %zu samples (as evaluate: load_trace per run), best of 3\n", n,
         res[0].samples);
  printf("  %-34s %8s %8s %12s\n", "", "CPU s", "wall s", "samples/s");
  printf("  %-34s %8.3f %8.3f %12.0f\n", "current schema (chunks)", best[0][0], best[0][1],
         (double)res[0].samples / best[0][0]);
  printf("  %-34s %8.3f %8.3f %12.0f\n", "schema 1 rows (anchor)", best[1][0], best[1][1],
         (double)res[1].samples / best[1][0]);
  printf("  speed ratio chunks vs rows: %.1fx CPU, %.1fx wall; traces equal: %s\n",
         best[1][0] / best[0][0], best[1][1] / best[0][1], same ? "yes" : "NO");
  return same ? 0 : 1;
}

/* ---- peak RSS on a long run ---- */

static int count_cb(void *ctx, const dle_sample *s, dle_error *err) {
  (void)err;
  double *sum = ctx;
  if (s->n_gpus && !isnan(s->gpu[0].power_w)) *sum += s->gpu[0].power_w;
  return 0;
}

/* mode 0: open only; 1: foreach; 2: load_trace. Returns the child's peak RSS (KiB). */
static long child_rss(const char *loc, int64_t id, int mode, double *secs) {
  double w0 = clock_s(CLOCK_MONOTONIC);
  pid_t pid = fork();
  if (pid == 0) {
    dle_error e = {0};
    dle_store *st = NULL;
    if (dle_store_open(loc, &st, &e)) die("open", e.msg);
    double sum = 0;
    if (mode == 1 && dle_store_foreach_sample(st, id, count_cb, &sum, &e)) die("foreach", e.msg);
    dle_trace t = {0};
    if (mode == 2 && dle_store_load_trace(st, id, &t, &e)) die("load", e.msg);
    dle_trace_free(&t);
    dle_store_close(st);
    _exit(sum < 0);
  }
  int status = 0;
  struct rusage ru;
  wait4(pid, &status, 0, &ru);
  *secs = clock_s(CLOCK_MONOTONIC) - w0;
  if (!WIFEXITED(status) || WEXITSTATUS(status)) die("child", "failed");
  return ru.ru_maxrss;
}

static int rss_main(size_t n, const char *dir) {
  char loc[4096];
  snprintf(loc, sizeof loc, "%s/rss.db", dir);
  unlink(loc);
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(loc, &st, &e)) die("open", e.msg);
  dle_run_info info;
  dle_run_info_init(&info);
  int64_t id = 0;
  if (dle_store_create_run(st, &info, &id, &e)) die("create", e.msg);
  enum { B = 4096 };
  dle_sample *v = malloc(B * sizeof *v);
  double w0 = clock_s(CLOCK_MONOTONIC);
  for (size_t k = 0; k < n;) {
    size_t m = n - k < B ? n - k : B;
    for (size_t i = 0; i < m; i++, k++) {
      dle_sample *s = &v[i];
      dle_sample_clear(s);
      s->t_s = (double)k / 10.0;
      s->wall_s = 1.7e9 + s->t_s;
      s->cpu_util_pct = (double)(k * 7919 % 1000) / 10.0;
      s->n_gpus = 1;
      s->gpu[0].device_index = 0;
      s->gpu[0].power_w = 200.0 + (double)(k * 104729 % 5000) / 100.0;
      s->gpu[0].temp_c = 60;
    }
    if (dle_store_append_samples(st, id, v, m, &e)) die("append", e.msg);
  }
  if (dle_store_commit(st, &e)) die("commit", e.msg);
  dle_store_close(st);
  free(v);
  double wr = clock_s(CLOCK_MONOTONIC) - w0;
  double t0, t1, t2;
  long base = child_rss(loc, id, 0, &t0);
  long each = child_rss(loc, id, 1, &t1);
  long trace = child_rss(loc, id, 2, &t2);
  printf("a run of %zu samples (1 GPU), written in %.1f s\n", n, wr);
  printf("  peak RSS: open only %ld KiB; foreach_sample (streaming) %ld KiB (+%ld KiB, %.1f s);"
         " load_trace %ld KiB (+%ld KiB, %.1f s)\n",
         base, each, each - base, t1, trace, trace - base, t2);
  unlink(loc);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--rss") == 0)
    return rss_main((size_t)strtoull(argv[2], NULL, 10), argv[3]);
  if (argc != 3) {
    fprintf(stderr, "usage: bench_readback STORE OLD.db | bench_readback --rss N DIR\n");
    return 2;
  }
  return readback_main(argv[1], argv[2]);
}
