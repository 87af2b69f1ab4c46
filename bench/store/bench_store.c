/* bench_store sqlite|pg N — bulk insert and read-back throughput of the run store
 * against its anchor in the same run: the same rows written straight through the
 * database's own C API in one transaction (SQLite: prepared INSERTs; PostgreSQL:
 * one COPY), i.e. the ceiling with no store layer at all. N samples of one GPU each
 * are 2N rows (samples + gpu_samples). Prints rows/s and the ratio store/anchor. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlenergy/store.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void make_sample(dle_sample *s, size_t k) {
  dle_sample_clear(s);
  s->t_s = 0.1 * (double)k;
  s->wall_s = 1.7e9 + s->t_s;
  s->cpu_util_pct = 50.0 + sin((double)k) * 10;
  s->rss_mib = 2048.0 + (double)(k % 100);
  s->cpu_power_w = 65.0 + cos((double)k);
  s->ram_power_w = 6.0;
  s->n_gpus = 1;
  s->gpu[0].device_index = 0;
  s->gpu[0].power_w = 250.0 + sin(k * 0.1) * 30.0;
  s->gpu[0].energy_counter_j = 1e6 + 25.0 * (double)k;
  s->gpu[0].util_gpu_pct = (double)(k % 100);
  s->gpu[0].util_mem_pct = (double)(k % 50);
  s->gpu[0].mem_used_mib = 10000.0;
  s->gpu[0].mem_total_mib = 24576.0;
  s->gpu[0].temp_c = 70.0;
  s->gpu[0].power_limit_w = 300.0;
}

static int die(const char *what, const char *msg) {
  fprintf(stderr, "bench_store: %s: %s\n", what, msg);
  exit(1);
}

/* ---- the store ---- */

static double bench_store_write(const char *loc, size_t n, int64_t *id_out) {
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(loc, &st, &e)) die("open", e.msg);
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.source, sizeof info.source, "import");
  int64_t id = 0;
  if (dle_store_create_run(st, &info, &id, &e)) die("create", e.msg);
  enum { BATCH = 1000 };
  dle_sample *v = malloc(BATCH * sizeof *v);
  double t0 = now_s();
  for (size_t done = 0; done < n;) {
    size_t m = n - done < BATCH ? n - done : BATCH;
    for (size_t i = 0; i < m; i++) make_sample(&v[i], done + i);
    if (dle_store_append_samples(st, id, v, m, &e)) die("append", e.msg);
    done += m;
  }
  if (dle_store_commit(st, &e)) die("commit", e.msg);
  double dt = now_s() - t0;
  dle_store_close(st);
  free(v);
  *id_out = id;
  return dt;
}

static double bench_store_read(const char *loc, int64_t id, size_t n) {
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(loc, &st, &e)) die("open", e.msg);
  dle_trace t = {0};
  double t0 = now_s();
  if (dle_store_load_trace(st, id, &t, &e)) die("load", e.msg);
  double dt = now_s() - t0;
  if (t.n != n) die("load", "wrong number of samples read back");
  dle_trace_free(&t);
  dle_store_close(st);
  return dt;
}

/* ---- anchors ---- */

static double anchor_sqlite(const char *path, size_t n) {
  unlink(path);
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK) die("anchor open", sqlite3_errmsg(db));
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, NULL);
  const char *ddl =
      "CREATE TABLE samples (run_id INTEGER, seq INTEGER, t_s REAL, wall_s REAL,"
      " cpu_util_pct REAL, rss_mib REAL, cpu_power_w REAL, dram_power_w REAL, ram_power_w REAL,"
      " cpu_energy_counter_j REAL, dram_energy_counter_j REAL, n_gpus INTEGER,"
      " PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"
      "CREATE TABLE gpu_samples (run_id INTEGER, seq INTEGER, slot INTEGER,"
      " device_index INTEGER, power_w REAL, energy_counter_j REAL, util_gpu_pct REAL,"
      " util_mem_pct REAL, mem_used_mib REAL, mem_total_mib REAL, temp_c REAL,"
      " power_limit_w REAL, PRIMARY KEY (run_id, seq, slot)) WITHOUT ROWID;";
  if (sqlite3_exec(db, ddl, NULL, NULL, NULL) != SQLITE_OK) die("anchor ddl", sqlite3_errmsg(db));
  sqlite3_stmt *a = NULL, *b = NULL;
  sqlite3_prepare_v2(db, "INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &a, NULL);
  sqlite3_prepare_v2(db, "INSERT INTO gpu_samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &b,
                     NULL);
  double t0 = now_s();
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  dle_sample s;
  for (size_t k = 0; k < n; k++) {
    make_sample(&s, k);
    double hv[9] = {s.t_s, s.wall_s, s.cpu_util_pct, s.rss_mib, s.cpu_power_w,
                    s.dram_power_w, s.ram_power_w, s.cpu_energy_counter_j,
                    s.dram_energy_counter_j};
    sqlite3_bind_int64(a, 1, 1);
    sqlite3_bind_int64(a, 2, (sqlite3_int64)k);
    for (int i = 0; i < 9; i++)
      isnan(hv[i]) ? sqlite3_bind_null(a, 3 + i) : sqlite3_bind_double(a, 3 + i, hv[i]);
    sqlite3_bind_int(a, 12, 1);
    if (sqlite3_step(a) != SQLITE_DONE) die("anchor insert", sqlite3_errmsg(db));
    sqlite3_reset(a);
    const dle_gpu_sample *g = &s.gpu[0];
    double gv[8] = {g->power_w,      g->energy_counter_j, g->util_gpu_pct, g->util_mem_pct,
                    g->mem_used_mib, g->mem_total_mib,    g->temp_c,       g->power_limit_w};
    sqlite3_bind_int64(b, 1, 1);
    sqlite3_bind_int64(b, 2, (sqlite3_int64)k);
    sqlite3_bind_int(b, 3, 0);
    sqlite3_bind_int(b, 4, 0);
    for (int i = 0; i < 8; i++)
      isnan(gv[i]) ? sqlite3_bind_null(b, 5 + i) : sqlite3_bind_double(b, 5 + i, gv[i]);
    if (sqlite3_step(b) != SQLITE_DONE) die("anchor insert", sqlite3_errmsg(db));
    sqlite3_reset(b);
  }
  if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    die("anchor commit", sqlite3_errmsg(db));
  double dt = now_s() - t0;
  sqlite3_finalize(a);
  sqlite3_finalize(b);
  sqlite3_close(db);
  return dt;
}

static void pg_ok(PGconn *c, PGresult *r, const char *what) {
  ExecStatusType t = PQresultStatus(r);
  if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK && t != PGRES_COPY_IN)
    die(what, PQerrorMessage(c));
  PQclear(r);
}

static void appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  if (*len + 512 > *cap) {
    *cap = *cap ? *cap * 2 : 1 << 20;
    *buf = realloc(*buf, *cap);
  }
  va_list ap;
  va_start(ap, fmt);
  *len += (size_t)vsnprintf(*buf + *len, *cap - *len, fmt, ap);
  va_end(ap);
}

static double anchor_pg(const char *uri, size_t n) {
  PGconn *c = PQconnectdb(uri);
  if (PQstatus(c) != CONNECTION_OK) die("anchor connect", PQerrorMessage(c));
  pg_ok(c, PQexec(c, "SET client_min_messages = warning"), "anchor");
  pg_ok(c,
        PQexec(c,
               "DROP TABLE IF EXISTS anchor_samples, anchor_gpu;"
               "CREATE TABLE anchor_samples (run_id BIGINT, seq BIGINT, t_s float8, wall_s float8,"
               " cpu_util_pct float8, rss_mib float8, cpu_power_w float8, dram_power_w float8,"
               " ram_power_w float8, cpu_energy_counter_j float8, dram_energy_counter_j float8,"
               " n_gpus INTEGER, PRIMARY KEY (run_id, seq));"
               "CREATE TABLE anchor_gpu (run_id BIGINT, seq BIGINT, slot INTEGER,"
               " device_index BIGINT, power_w float8, energy_counter_j float8,"
               " util_gpu_pct float8, util_mem_pct float8, mem_used_mib float8,"
               " mem_total_mib float8, temp_c float8, power_limit_w float8,"
               " PRIMARY KEY (run_id, seq, slot))"),
        "anchor ddl");
  double t0 = now_s();
  char *a = NULL, *b = NULL;
  size_t alen = 0, acap = 0, blen = 0, bcap = 0;
  dle_sample s;
  for (size_t k = 0; k < n; k++) {
    make_sample(&s, k);
    appendf(&a, &alen, &acap, "1\t%zu\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\t\\N\t%.17g\t\\N\t\\N\t1\n",
            k, s.t_s, s.wall_s, s.cpu_util_pct, s.rss_mib, s.cpu_power_w, s.ram_power_w);
    const dle_gpu_sample *g = &s.gpu[0];
    appendf(&b, &blen, &bcap, "1\t%zu\t0\t0\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\n",
            k, g->power_w, g->energy_counter_j, g->util_gpu_pct, g->util_mem_pct,
            g->mem_used_mib, g->mem_total_mib, g->temp_c, g->power_limit_w);
  }
  pg_ok(c, PQexec(c, "BEGIN"), "anchor begin");
  pg_ok(c, PQexec(c, "COPY anchor_samples FROM STDIN"), "anchor copy");
  PQputCopyData(c, a, (int)alen);
  PQputCopyEnd(c, NULL);
  pg_ok(c, PQgetResult(c), "anchor copy end");
  pg_ok(c, PQexec(c, "COPY anchor_gpu FROM STDIN"), "anchor copy");
  PQputCopyData(c, b, (int)blen);
  PQputCopyEnd(c, NULL);
  pg_ok(c, PQgetResult(c), "anchor copy end");
  pg_ok(c, PQexec(c, "COMMIT"), "anchor commit");
  double dt = now_s() - t0;
  pg_ok(c, PQexec(c, "DROP TABLE anchor_samples, anchor_gpu"), "anchor drop");
  PQfinish(c);
  free(a);
  free(b);
  return dt;
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "sqlite";
  size_t n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 500000;
  char loc[1024];
  int pg = strcmp(which, "pg") == 0;
  if (pg) {
    const char *uri = getenv("DLE_PG_URI");
    if (!uri) die("pg", "DLE_PG_URI not set (run through tests/store/with_pg.sh)");
    snprintf(loc, sizeof loc, "%s", uri);
  } else {
    snprintf(loc, sizeof loc, "/tmp/bench_store_%ld.db", (long)getpid());
  }
  double rows = 2.0 * (double)n;
  int64_t id = 0;
  double t_store = bench_store_write(loc, n, &id);
  double t_read = bench_store_read(loc, id, n);
  char anchor_path[256];
  snprintf(anchor_path, sizeof anchor_path, "/tmp/bench_store_anchor_%ld.db", (long)getpid());
  double t_anchor = pg ? anchor_pg(loc, n) : anchor_sqlite(anchor_path, n);
  printf("%s, %zu samples x (1 host + 1 GPU row) = %.0f rows\n", pg ? "PostgreSQL" : "SQLite", n,
         rows);
  printf("  store insert : %8.3f s  %10.0f rows/s\n", t_store, rows / t_store);
  printf("  anchor insert: %8.3f s  %10.0f rows/s  (%s, one transaction)\n", t_anchor,
         rows / t_anchor, pg ? "raw libpq COPY" : "raw sqlite3 prepared INSERT");
  printf("  ratio store/anchor throughput: %.2f\n", t_anchor / t_store);
  printf("  store read-back (load_trace): %8.3f s  %10.0f samples/s\n", t_read,
         (double)n / t_read);
  if (!pg) {
    char p[300];
    for (int i = 0; i < 2; i++) {
      const char *base = i ? anchor_path : loc;
      unlink(base);
      snprintf(p, sizeof p, "%s-wal", base);
      unlink(p);
      snprintf(p, sizeof p, "%s-shm", base);
      unlink(p);
    }
  }
  return 0;
}
