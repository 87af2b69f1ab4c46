/* bench_fleet URI [RECORDERS [GPUS [SECONDS [HZ]]]] — a fleet on one PostgreSQL
 * server (defaults 64 recorders x 8 GPUs, 60 s at 10 Hz), in two layouts in the
 * same run, one after the other:
 *   chunks: each recorder is a process writing through the run store (dle_store:
 *           append every tick, the store's one-second commit rule), as `dlenergy
 *           run` does; samples land as compressed chunks (schema 2 and later);
 *   rows:   the anchor, schema 1's layout and protocol: each recorder buffers its
 *           ticks as COPY text and sends BEGIN; COPY samples; COPY gpu_samples;
 *           COMMIT once a second (what the store did before issue 12), into the
 *           row tables in schema "rows_v1" of the same database.
 * For each: every sample present (count per run against the recorder's own
 * counter), and the server's CPU time (utime + stime of the postmaster and its
 * children, from /proc) per stored sample. The recorders' own CPU is reported
 * apart. Samples are synthetic (fake GPUs: power, utilization, memory, temperature
 * as a driver reports them, two decimals). */
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlenergy/store.h"

static int die(const char *what, const char *msg) {
  fprintf(stderr, "bench_fleet: %s: %s\n", what, msg);
  exit(1);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_until(double t) {
  double d = t - mono_s();
  if (d <= 0) return;
  struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
  nanosleep(&ts, NULL);
}

static void make_sample(dle_sample *s, int rec, uint32_t gpus, size_t k, double t) {
  dle_sample_clear(s);
  s->t_s = t;
  s->wall_s = 1.7e9 + t;
  s->cpu_util_pct = (double)((k * 37 + (size_t)rec) % 1000) / 10.0;
  s->rss_mib = 8000.0 + (double)(k % 50);
  s->cpu_power_w = 60.0 + (double)((k * 13) % 400) / 10.0;
  s->ram_power_w = s->rss_mib * 0.375 / 1024.0;
  s->n_gpus = gpus;
  for (uint32_t g = 0; g < gpus; g++) {
    dle_gpu_sample *x = &s->gpu[g];
    x->device_index = g;
    x->power_w = 250.0 + (double)((k * 7919 + g * 104729 + (size_t)rec) % 10000) / 100.0;
    x->energy_counter_j = 1e6 + 300.0 * t + g;
    x->util_gpu_pct = (double)(90 + (k + g) % 10);
    x->util_mem_pct = (double)(40 + (k + g) % 20);
    x->mem_used_mib = 30000.0 + (double)g;
    x->mem_total_mib = 81920.0;
    x->temp_c = 60.0 + (double)((k / 100 + g) % 10);
    x->power_limit_w = 400.0;
  }
}

/* ---- server CPU ---- */

static pid_t g_postmaster;

static double proc_cpu_s(pid_t pid, pid_t *ppid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  int pp = 0;
  unsigned long ut = 0, stt = 0;
  /* fields after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt
   * cmajflt utime stime */
  if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &pp, &ut, &stt) != 3)
    return -1;
  *ppid = pp;
  return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds of the postmaster and its live children (backends, walwriter, ...). Backends
 * that exit between two readings take their time with them, so recorders keep their
 * connections until both readings are done. */
static double server_cpu_s(void) {
  double sum = 0;
  pid_t pp;
  FILE *ls = popen("ls /proc", "r");
  char name[64];
  while (ls && fscanf(ls, "%63s", name) == 1) {
    char *end;
    long pid = strtol(name, &end, 10);
    if (*end || pid <= 0) continue;
    double c = proc_cpu_s((pid_t)pid, &pp);
    if (c >= 0 && (pid == g_postmaster || pp == g_postmaster)) sum += c;
  }
  if (ls) pclose(ls);
  return sum;
}

static void find_postmaster(PGconn *c) {
  PGresult *r = PQexec(c, "SHOW data_directory");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) die("data_directory", PQerrorMessage(c));
  char path[1024];
  snprintf(path, sizeof path, "%s/postmaster.pid", PQgetvalue(r, 0, 0));
  PQclear(r);
  FILE *f = fopen(path, "r");
  if (!f || fscanf(f, "%d", &g_postmaster) != 1) die("postmaster.pid", path);
  fclose(f);
}

/* ---- recorders ---- */

typedef struct plan {
  const char *uri;
  int recorders;
  uint32_t gpus;
  double seconds, hz;
  int fd_ready[2], fd_go[2], fd_done[2], fd_exit[2];
} plan;

static void fmt(char *b, size_t *len, double v, char sep) {
  if (isnan(v))
    *len += (size_t)sprintf(b + *len, "\\N%c", sep);
  else
    *len += (size_t)sprintf(b + *len, "%.17g%c", v, sep);
}

static void copy_send(PGconn *c, const char *sql, const char *data, size_t len) {
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COPY_IN) die("copy", PQerrorMessage(c));
  PQclear(r);
  if (PQputCopyData(c, data, (int)len) != 1 || PQputCopyEnd(c, NULL) != 1) die("copy", PQerrorMessage(c));
  while ((r = PQgetResult(c))) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK) die("copy", PQresultErrorMessage(r));
    PQclear(r);
  }
}

/* One recorder: waits for "go", records for p->seconds, reports its count, waits
 * for "exit" (after the parent read the server's CPU), closes. */
static void recorder(const plan *p, int rec, int rows) {
  char b;
  dle_error e = {0};
  dle_store *st = NULL;
  PGconn *c = NULL;
  int64_t id = 0;
  if (!rows) {
    if (dle_store_open(p->uri, &st, &e)) die("open", e.msg);
    dle_run_info info;
    dle_run_info_init(&info);
    snprintf(info.host, sizeof info.host, "node-%02d", rec);
    info.interval_s = 1.0 / p->hz;
    if (dle_store_create_run(st, &info, &id, &e)) die("create", e.msg);
  } else {
    c = PQconnectdb(p->uri);
    if (PQstatus(c) != CONNECTION_OK) die("connect", PQerrorMessage(c));
    id = rec + 1;
  }
  size_t cap = 1 << 22, ls = 0, lg = 0;
  char *bs = rows ? malloc(cap) : NULL, *bg = rows ? malloc(cap) : NULL;
  if (write(p->fd_ready[1], "r", 1) != 1 || read(p->fd_go[0], &b, 1) != 1) _exit(3);
  dle_sample s;
  size_t k = 0;
  double t0 = mono_s(), last_commit = t0;
  for (double t = t0; t < t0 + p->seconds; t = t0 + (double)k / p->hz) {
    sleep_until(t);
    make_sample(&s, rec, p->gpus, k, t - t0);
    if (!rows) {
      if (dle_store_append_samples(st, id, &s, 1, &e)) die("append", e.msg);
    } else { /* schema 1: COPY text, one batch a second */
      ls += (size_t)sprintf(bs + ls, "%" PRId64 "\t%zu\t", id, k);
      const double *h = &s.t_s;
      for (int i = 0; i < 9; i++) fmt(bs, &ls, h[i], '\t');
      ls += (size_t)sprintf(bs + ls, "%u\n", s.n_gpus);
      for (uint32_t g = 0; g < s.n_gpus; g++) {
        lg += (size_t)sprintf(bg + lg, "%" PRId64 "\t%zu\t%u\t%u\t", id, k, g, g);
        const double *v = &s.gpu[g].power_w;
        for (int i = 0; i < 8; i++) fmt(bg, &lg, v[i], i == 7 ? '\n' : '\t');
      }
      if (mono_s() - last_commit >= 1.0) {
        PQclear(PQexec(c, "BEGIN"));
        copy_send(c, "COPY rows_v1.samples FROM STDIN", bs, ls);
        copy_send(c, "COPY rows_v1.gpu_samples FROM STDIN", bg, lg);
        PGresult *r = PQexec(c, "COMMIT");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) die("commit", PQerrorMessage(c));
        PQclear(r);
        ls = lg = 0;
        last_commit = mono_s();
      }
    }
    k++;
  }
  if (!rows && dle_store_commit(st, &e)) die("commit", e.msg);
  if (rows && ls) {
    PQclear(PQexec(c, "BEGIN"));
    copy_send(c, "COPY rows_v1.samples FROM STDIN", bs, ls);
    copy_send(c, "COPY rows_v1.gpu_samples FROM STDIN", bg, lg);
    PQclear(PQexec(c, "COMMIT"));
  }
  char msg[64];
  int l = snprintf(msg, sizeof msg, "%d %" PRId64 " %zu\n", rec, id, k);
  if (write(p->fd_done[1], msg, (size_t)l) != l || read(p->fd_exit[0], &b, 1) != 1) _exit(3);
  dle_store_close(st);
  PQfinish(c);
  free(bs);
  free(bg);
  _exit(0);
}

static void fleet(const plan *p0, int rows, PGconn *admin) {
  plan p = *p0;
  if (pipe(p.fd_ready) || pipe(p.fd_go) || pipe(p.fd_done) || pipe(p.fd_exit)) die("pipe", "");
  pid_t *pids = calloc((size_t)p.recorders, sizeof *pids);
  struct rusage before, after;
  getrusage(RUSAGE_CHILDREN, &before);
  for (int r = 0; r < p.recorders; r++)
    if ((pids[r] = fork()) == 0) recorder(&p, r, rows);
  char b;
  for (int r = 0; r < p.recorders; r++)
    if (read(p.fd_ready[0], &b, 1) != 1) die("ready", "");
  double cpu0 = server_cpu_s(), w0 = mono_s();
  for (int r = 0; r < p.recorders; r++)
    if (write(p.fd_go[1], "g", 1) != 1) die("go", "");
  FILE *done = fdopen(p.fd_done[0], "r");
  int64_t *ids = calloc((size_t)p.recorders, sizeof *ids);
  size_t *want = calloc((size_t)p.recorders, sizeof *want), total = 0;
  for (int r = 0; r < p.recorders; r++) {
    int rec;
    int64_t id;
    size_t k;
    if (fscanf(done, "%d %" SCNd64 " %zu", &rec, &id, &k) != 3) die("done", "");
    ids[rec] = id;
    want[rec] = k;
    total += k;
  }
  double cpu1 = server_cpu_s(), w1 = mono_s();
  for (int r = 0; r < p.recorders; r++)
    if (write(p.fd_exit[1], "x", 1) != 1) die("exit", "");
  for (int r = 0; r < p.recorders; r++) waitpid(pids[r], NULL, 0);
  getrusage(RUSAGE_CHILDREN, &after);
  /* every sample present */
  size_t present = 0, short_runs = 0;
  for (int r = 0; r < p.recorders; r++) {
    char sql[256];
    if (rows)
      snprintf(sql, sizeof sql,
               "SELECT (SELECT count(*) FROM rows_v1.samples WHERE run_id=%" PRId64 "),"
               " (SELECT count(*) FROM rows_v1.gpu_samples WHERE run_id=%" PRId64 ")",
               ids[r], ids[r]);
    else
      snprintf(sql, sizeof sql,
               "SELECT coalesce(sum(n), 0), 0 FROM sample_chunks WHERE run_id=%" PRId64, ids[r]);
    PGresult *q = PQexec(admin, sql);
    if (PQresultStatus(q) != PGRES_TUPLES_OK) die("count", PQerrorMessage(admin));
    size_t got = (size_t)atoll(PQgetvalue(q, 0, 0));
    size_t got_gpu = (size_t)atoll(PQgetvalue(q, 0, 1));
    PQclear(q);
    present += got;
    if (got != want[r] || (rows && got_gpu != want[r] * p.gpus)) short_runs++;
  }
  double rec_cpu = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) +
                   (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec) * 1e-6 +
                   (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                   (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec) * 1e-6;
  PGresult *q = PQexec(admin, rows ? "SELECT pg_total_relation_size('rows_v1.samples') +"
                                     " pg_total_relation_size('rows_v1.gpu_samples')"
                                   : "SELECT pg_total_relation_size('sample_chunks')");
  double bytes = PQresultStatus(q) == PGRES_TUPLES_OK ? atof(PQgetvalue(q, 0, 0)) : NAN;
  PQclear(q);
  printf("%-7s %d recorders x %u GPUs, %.0f s at %.0f Hz: %zu samples written, %zu present,"
         " %zu runs short; %.1f s wall\n",
         rows ? "rows" : "chunks", p.recorders, p.gpus, p.seconds, p.hz, total, present,
         short_runs, w1 - w0);
  printf("        server CPU %.2f s = %.1f us per sample (%.2f us per GPU reading); recorders'"
         " CPU %.2f s; table size %.0f bytes = %.1f bytes/sample\n",
         cpu1 - cpu0, (cpu1 - cpu0) / (double)total * 1e6,
         (cpu1 - cpu0) / (double)(total * p.gpus) * 1e6, rec_cpu, bytes, bytes / (double)total);
  fflush(stdout);
  free(pids);
  free(ids);
  free(want);
  fclose(done);
  close(p.fd_ready[0]);
  close(p.fd_ready[1]);
  close(p.fd_go[0]);
  close(p.fd_go[1]);
  close(p.fd_done[1]);
  close(p.fd_exit[0]);
  close(p.fd_exit[1]);
}

static void quiet(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_fleet URI [RECORDERS [GPUS [SECONDS [HZ]]]]\n");
    return 2;
  }
  plan p = {argv[1], argc > 2 ? atoi(argv[2]) : 64, argc > 3 ? (uint32_t)atoi(argv[3]) : 8,
            argc > 4 ? atof(argv[4]) : 60, argc > 5 ? atof(argv[5]) : 10, {0}, {0}, {0}, {0}};
  if (p.recorders < 1 || p.gpus > DLE_MAX_GPUS || p.seconds <= 0 || p.hz <= 0)
    die("arguments", "recorders >= 1, GPUs <= 16, seconds > 0, Hz > 0");
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(p.uri, &st, &e)) die("open", e.msg); /* schema */
  dle_store_close(st);
  PGconn *admin = PQconnectdb(p.uri);
  if (PQstatus(admin) != CONNECTION_OK) die("connect", PQerrorMessage(admin));
  PQsetNoticeProcessor(admin, quiet, NULL);
  find_postmaster(admin);
  PGresult *r = PQexec(admin,
      "DROP SCHEMA IF EXISTS rows_v1 CASCADE; CREATE SCHEMA rows_v1;"
      "CREATE TABLE rows_v1.samples (run_id BIGINT NOT NULL, seq BIGINT NOT NULL,"
      " t_s DOUBLE PRECISION, wall_s DOUBLE PRECISION, cpu_util_pct DOUBLE PRECISION,"
      " rss_mib DOUBLE PRECISION, cpu_power_w DOUBLE PRECISION, dram_power_w DOUBLE PRECISION,"
      " ram_power_w DOUBLE PRECISION, cpu_energy_counter_j DOUBLE PRECISION,"
      " dram_energy_counter_j DOUBLE PRECISION, n_gpus INTEGER NOT NULL,"
      " PRIMARY KEY (run_id, seq));"
      "CREATE TABLE rows_v1.gpu_samples (run_id BIGINT NOT NULL, seq BIGINT NOT NULL,"
      " slot INTEGER NOT NULL, device_index BIGINT NOT NULL, power_w DOUBLE PRECISION,"
      " energy_counter_j DOUBLE PRECISION, util_gpu_pct DOUBLE PRECISION,"
      " util_mem_pct DOUBLE PRECISION, mem_used_mib DOUBLE PRECISION,"
      " mem_total_mib DOUBLE PRECISION, temp_c DOUBLE PRECISION, power_limit_w DOUBLE PRECISION,"
      " PRIMARY KEY (run_id, seq, slot));");
  if (PQresultStatus(r) != PGRES_COMMAND_OK) die("schema", PQerrorMessage(admin));
  PQclear(r);
  fleet(&p, 0, admin);
  fleet(&p, 1, admin);
  PQfinish(admin);
  return 0;
}
