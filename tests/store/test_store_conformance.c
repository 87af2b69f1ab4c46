/* The run store's behaviour, the same on every backend: run with
 *   test_store_conformance sqlite     (a fresh file in the working directory)
 *   test_store_conformance pg         (the server in $DLE_PG_URI, see with_pg.sh)
 * Writes runs, samples with NaNs, epochs and metadata, reads them back through a
 * fresh handle and compares value for value; updates, filters, resolve, delete,
 * and the fault seam (a failed commit loses only the uncommitted rows). */
#include <inttypes.h>
#include <stdint.h>
#include <libpq-fe.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/store.h"
#include "store/store_internal.h"
#include "store_fixture.h"

static char g_loc[1024];
static char g_tag[64]; /* unique per test process, so a shared server is fine */

enum { NS = 1000 };

struct walk {
  uint32_t k;
  int mismatches;
  uint32_t first_bad;
};

static int check_walk(void *ctx, const dle_sample *s, dle_error *err) {
  (void)err;
  struct walk *w = ctx;
  dle_sample want;
  fixture_sample(&want, w->k);
  if (!same_sample(&want, s)) {
    if (!w->mismatches) w->first_bad = w->k;
    w->mismatches++;
  }
  w->k++;
  return 0;
}

static int stop_early(void *ctx, const dle_sample *s, dle_error *err) {
  (void)s;
  int *n = ctx;
  if (++*n == 3) return dle_error_set(err, DLE_ERANGE, "stop");
  return 0;
}

static int same_col(const double *a, const double *b, size_t n) {
  if (!a || !b) return a == b;
  for (size_t i = 0; i < n; i++)
    if (!same_double(a[i], b[i])) return 0;
  return 1;
}

static int64_t write_run(dle_store *st, const char *arch, dle_error *e) {
  dle_run_info info;
  dle_run_info_init(&info);
  dle_store_copy_str(info.host, sizeof info.host, "node-1");
  dle_store_copy_str(info.command, sizeof info.command, "python3 train.py --epochs 3");
  info.start_wall_s = 1.7e9 + 0.123456789;
  info.interval_s = 0.1;
  info.epochs_planned = 3;
  info.pue = 1.58;
  dle_store_copy_str(info.gpu_source, sizeof info.gpu_source, "nvml");
  dle_store_copy_str(info.cpu_source, sizeof info.cpu_source, "rapl");
  int64_t id = -1;
  CHECK_OK(dle_store_create_run(st, &info, &id, e), e);
  CHECK(id > 0);
  CHECK_OK(dle_store_set_meta(st, id, "architecture", arch, e), e);
  CHECK_OK(dle_store_set_meta(st, id, "tag", g_tag, e), e);
  CHECK_OK(dle_store_set_meta(st, id, "batch_size", "16", e), e);
  CHECK_OK(dle_store_set_meta(st, id, "batch_size", "32", e), e); /* replaces */
  return id;
}

static void test_roundtrip(void) {
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  if (!st) return;
  int64_t id = write_run(st, "vgg16", &e);
  /* Samples in uneven batches, as the sampler and import deliver them. */
  dle_sample *v = malloc(NS * sizeof *v);
  for (uint32_t k = 0; k < NS; k++) fixture_sample(&v[k], k);
  size_t done = 0, step = 1;
  while (done < NS) {
    size_t m = step < NS - done ? step : NS - done;
    CHECK_OK(dle_store_append_samples(st, id, v + done, m, &e), &e);
    done += m;
    step = step * 3 % 97 + 1;
  }
  dle_epoch ep = {.index = 1, .t_begin_s = NAN, .t_end_s = 10.5};
  snprintf(ep.metrics, sizeof ep.metrics, "loss=0.41 val_accuracy=0.93");
  CHECK_OK(dle_store_put_epoch(st, id, &ep, &e), &e);
  dle_epoch ep0 = {.index = 0, .t_begin_s = 0.0, .t_end_s = NAN};
  CHECK_OK(dle_store_put_epoch(st, id, &ep0, &e), &e);
  ep0.t_end_s = 5.25; /* closes epoch 0: replaces the row */
  CHECK_OK(dle_store_put_epoch(st, id, &ep0, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  /* Unknown run: clear errors, nothing written. */
  CHECK(dle_store_append_samples(st, 987654321, v, 1, &e) == DLE_ENOTFOUND);
  CHECK(dle_store_set_meta(st, 987654321, "k", "v", &e) == DLE_ENOTFOUND);
  CHECK(dle_store_put_epoch(st, 987654321, &ep, &e) == DLE_ENOTFOUND);
  CHECK(dle_store_set_meta(st, id, "a=b", "v", &e) == DLE_EINVAL);
  dle_store_close(st);

  /* Fresh handle: everything reads back exactly. */
  st = NULL;
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  if (!st) {
    free(v);
    return;
  }
  dle_run_info r;
  CHECK_OK(dle_store_get_run(st, id, &r, &e), &e);
  CHECK(r.id == id && r.status == DLE_RUN_RUNNING);
  CHECK(strcmp(r.source, "run") == 0 && strcmp(r.host, "node-1") == 0);
  CHECK(strcmp(r.command, "python3 train.py --epochs 3") == 0);
  CHECK(r.start_wall_s == 1.7e9 + 0.123456789 && isnan(r.end_wall_s));
  CHECK(r.interval_s == 0.1 && r.exit_code == -1 && r.term_signal == 0);
  CHECK(r.epochs_planned == 3 && r.pue == 1.58 && isnan(r.carbon_g_per_kwh));
  CHECK(strcmp(r.gpu_source, "nvml") == 0 && strcmp(r.cpu_source, "rapl") == 0);
  CHECK(strcmp(r.dram_source, "none") == 0 && strcmp(r.ram_source, "none") == 0);

  int64_t count = -1;
  CHECK_OK(dle_store_count_samples(st, id, &count, &e), &e);
  CHECK_MSG(count == NS, "count %" PRId64, count);
  struct walk w = {0};
  CHECK_OK(dle_store_foreach_sample(st, id, check_walk, &w, &e), &e);
  CHECK_MSG(w.k == NS && w.mismatches == 0, "walked %u, %d mismatches (first %u)", w.k,
            w.mismatches, w.first_bad);
  int stopped = 0;
  CHECK(dle_store_foreach_sample(st, id, stop_early, &stopped, &e) == DLE_ERANGE);
  CHECK(stopped == 3);

  dle_trace got = {0}, want = {0};
  CHECK_OK(dle_store_load_trace(st, id, &got, &e), &e);
  for (uint32_t k = 0; k < NS; k++) dle_trace_append(&want, &v[k], &e);
  dle_trace_select_gpus(&want, NULL, 0); /* the loader's headline rule: no meta = all */
  CHECK(got.n == want.n && got.n_gpus == want.n_gpus);
  if (got.n == want.n) {
    size_t n = got.n;
    CHECK(same_col(got.t_s, want.t_s, n) && same_col(got.wall_s, want.wall_s, n));
    CHECK(same_col(got.gpu_power_w, want.gpu_power_w, n));
    CHECK(same_col(got.gpu_util_pct, want.gpu_util_pct, n));
    CHECK(same_col(got.gpu_mem_util_pct, want.gpu_mem_util_pct, n));
    CHECK(same_col(got.gpu_mem_used_mib, want.gpu_mem_used_mib, n));
    CHECK(same_col(got.gpu_temp_c, want.gpu_temp_c, n));
    CHECK(same_col(got.gpu_energy_counter_j, want.gpu_energy_counter_j, n));
    CHECK(same_col(got.gpu_power_limit_w, want.gpu_power_limit_w, n));
    CHECK(same_col(got.cpu_util_pct, want.cpu_util_pct, n));
    CHECK(same_col(got.rss_mib, want.rss_mib, n));
    CHECK(same_col(got.cpu_power_w, want.cpu_power_w, n));
    CHECK(same_col(got.dram_power_w, want.dram_power_w, n));
    CHECK(same_col(got.ram_power_w, want.ram_power_w, n));
    for (int d = 0; d < DLE_MAX_GPUS; d++) CHECK(same_col(got.dev_power_w[d], want.dev_power_w[d], n));
  }
  dle_trace_free(&got);
  dle_trace_free(&want);

  dle_epoch *eps = NULL;
  size_t neps = 0;
  CHECK_OK(dle_store_load_epochs(st, id, &eps, &neps, &e), &e);
  CHECK(neps == 2);
  if (neps == 2) {
    CHECK(eps[0].index == 0 && eps[0].t_begin_s == 0.0 && eps[0].t_end_s == 5.25);
    CHECK(eps[1].index == 1 && isnan(eps[1].t_begin_s) && eps[1].t_end_s == 10.5);
    CHECK(strcmp(eps[1].metrics, "loss=0.41 val_accuracy=0.93") == 0);
    CHECK(eps[0].metrics[0] == '\0');
  }
  free(eps);

  dle_kv *kv = NULL;
  size_t nkv = 0;
  CHECK_OK(dle_store_get_meta(st, id, &kv, &nkv, &e), &e);
  CHECK(nkv == 3);
  CHECK(dle_kv_get(kv, nkv, "batch_size") && strcmp(dle_kv_get(kv, nkv, "batch_size"), "32") == 0);
  CHECK(dle_kv_get(kv, nkv, "architecture") &&
        strcmp(dle_kv_get(kv, nkv, "architecture"), "vgg16") == 0);
  CHECK(dle_kv_get(kv, nkv, "nope") == NULL);
  dle_kv_free(kv, nkv);

  /* Update: finish the run. */
  r.status = DLE_RUN_COMPLETE;
  r.end_wall_s = 1.7e9 + 100.5;
  r.exit_code = 0;
  r.carbon_g_per_kwh = 190.0;
  dle_store_copy_str(r.dram_source, sizeof r.dram_source, "rapl");
  CHECK_OK(dle_store_update_run(st, &r, &e), &e);
  dle_run_info r2;
  CHECK_OK(dle_store_get_run(st, id, &r2, &e), &e);
  CHECK(r2.status == DLE_RUN_COMPLETE && r2.end_wall_s == 1.7e9 + 100.5 && r2.exit_code == 0);
  CHECK(r2.carbon_g_per_kwh == 190.0 && strcmp(r2.dram_source, "rapl") == 0);
  dle_run_info ghost = r;
  ghost.id = 987654321;
  CHECK(dle_store_update_run(st, &ghost, &e) == DLE_ENOTFOUND);
  ghost.pue = 0.5;
  CHECK(dle_store_update_run(st, &ghost, &e) == DLE_EINVAL);

  /* A second and third run for filters, list, resolve. */
  int64_t id2 = write_run(st, "resnet50", &e);
  int64_t id3 = write_run(st, "vgg16", &e);
  CHECK(id2 > id && id3 > id2);
  CHECK_OK(dle_store_append_samples(st, id2, v, 10, &e), &e);
  dle_run_info *runs = NULL;
  size_t nruns = 0;
  CHECK_OK(dle_store_list_runs(st, &runs, &nruns, &e), &e);
  CHECK(nruns >= 3);
  int seen = 0;
  for (size_t i = 0; i < nruns; i++) {
    if (i) CHECK(runs[i].id > runs[i - 1].id);
    if (runs[i].id == id || runs[i].id == id2 || runs[i].id == id3) seen++;
  }
  CHECK(seen == 3);
  free(runs);

  char filt[256];
  int64_t *ids = NULL;
  size_t nids = 0;
  snprintf(filt, sizeof filt, "tag=%s,architecture=vgg16", g_tag);
  CHECK_OK(dle_store_select_runs(st, filt, &ids, &nids, &e), &e);
  CHECK(nids == 2 && ids && ids[0] == id && ids[1] == id3);
  free(ids);
  snprintf(filt, sizeof filt, "tag=%s, architecture=vgg16,status=complete", g_tag);
  CHECK_OK(dle_store_select_runs(st, filt, &ids, &nids, &e), &e);
  CHECK(nids == 1 && ids && ids[0] == id);
  free(ids);
  snprintf(filt, sizeof filt, "tag=%s,status=running,host=node-1,source=run", g_tag);
  CHECK_OK(dle_store_select_runs(st, filt, &ids, &nids, &e), &e);
  CHECK(nids == 2 && ids && ids[0] == id2 && ids[1] == id3);
  free(ids);
  snprintf(filt, sizeof filt, "tag=%s,host=node-2", g_tag);
  CHECK_OK(dle_store_select_runs(st, filt, &ids, &nids, &e), &e);
  CHECK(nids == 0);
  free(ids);
  CHECK_OK(dle_store_select_runs(st, NULL, &ids, &nids, &e), &e);
  CHECK(nids >= 3);
  free(ids);
  CHECK(dle_store_select_runs(st, "status=sleeping", &ids, &nids, &e) == DLE_EINVAL);
  CHECK(dle_store_select_runs(st, "architecture", &ids, &nids, &e) == DLE_EINVAL);
  CHECK(strstr(e.msg, "key=value") != NULL);

  int64_t rid = 0;
  CHECK_OK(dle_store_resolve_run(st, "last", &rid, &e), &e);
  CHECK(rid >= id3);
  char arg[32];
  snprintf(arg, sizeof arg, "%" PRId64, id2);
  CHECK_OK(dle_store_resolve_run(st, arg, &rid, &e), &e);
  CHECK(rid == id2);
  CHECK(dle_store_resolve_run(st, "12abc", &rid, &e) == DLE_EINVAL);
  CHECK(dle_store_resolve_run(st, "-3", &rid, &e) == DLE_EINVAL);
  CHECK(dle_store_resolve_run(st, "987654321", &rid, &e) == DLE_ENOTFOUND);

  /* Delete: the run and its rows go, the others stay. */
  CHECK_OK(dle_store_delete_run(st, id2, &e), &e);
  CHECK(dle_store_get_run(st, id2, &r, &e) == DLE_ENOTFOUND);
  CHECK(dle_store_count_samples(st, id2, &count, &e) == DLE_ENOTFOUND);
  CHECK(dle_store_delete_run(st, id2, &e) == DLE_ENOTFOUND);
  CHECK_OK(dle_store_count_samples(st, id, &count, &e), &e);
  CHECK(count == NS);
  dle_store_close(st);
  free(v);
}

/* The fault seam: a commit that fails on the database side surfaces as an error,
 * loses only the rows of that commit, and the handle keeps working. */
static int g_fail;
static int fault(void *ctx, const char *op) {
  (void)ctx;
  return g_fail && strcmp(op, "commit") == 0;
}

static void test_fault(void) {
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  if (!st) return;
  int64_t id = write_run(st, "fault", &e);
  dle_sample v[50];
  for (uint32_t k = 0; k < 50; k++) fixture_sample(&v[k], k);
  CHECK_OK(dle_store_append_samples(st, id, v, 20, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  dle_store_set_fault_hook(st, fault, NULL);
  g_fail = 1;
  CHECK_OK(dle_store_append_samples(st, id, v + 20, 10, &e), &e);
  dle_error_clear(&e);
  int rc = dle_store_commit(st, &e);
  CHECK_MSG(rc == DLE_EDB || rc == DLE_EIO, "commit with fault returned %d", rc);
  CHECK_MSG(strstr(e.msg, "10 uncommitted rows discarded") != NULL, "message: %s", e.msg);
  g_fail = 0;
  int64_t count = -1;
  CHECK_OK(dle_store_count_samples(st, id, &count, &e), &e);
  CHECK_MSG(count == 20, "after the failed commit %" PRId64 " samples", count);
  /* The handle goes on: the next rows get the next sequence numbers. */
  CHECK_OK(dle_store_append_samples(st, id, v + 20, 30, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  dle_store_close(st);
  st = NULL;
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  if (!st) return;
  CHECK_OK(dle_store_count_samples(st, id, &count, &e), &e);
  CHECK(count == 50);
  struct walk w = {0};
  CHECK_OK(dle_store_foreach_sample(st, id, check_walk, &w, &e), &e);
  CHECK(w.k == 50 && w.mismatches == 0);
  dle_store_close(st);
}

/* The one-second rule: rows appended more than a second after the last commit
 * are visible to another connection without an explicit commit. */
static void test_autocommit(void) {
  dle_error e = {0};
  dle_store *w = NULL, *r = NULL;
  CHECK_OK(dle_store_open(g_loc, &w, &e), &e);
  CHECK_OK(dle_store_open(g_loc, &r, &e), &e);
  if (!w || !r) {
    dle_store_close(w);
    dle_store_close(r);
    return;
  }
  int64_t id = write_run(w, "autocommit", &e);
  dle_store_commit(w, &e);
  dle_sample s;
  fixture_sample(&s, 1);
  CHECK_OK(dle_store_append_samples(w, id, &s, 1, &e), &e);
  usleep(1100 * 1000);
  CHECK_OK(dle_store_append_samples(w, id, &s, 1, &e), &e); /* > 1 s: commits both */
  int64_t count = -1;
  CHECK_OK(dle_store_count_samples(r, id, &count, &e), &e);
  CHECK_MSG(count == 2, "reader sees %" PRId64 " of 2 samples", count);
  dle_store_close(w);
  dle_store_close(r);
}

/* PostgreSQL only: an unreachable server and a newer schema are clear errors. */
static void test_pg_errors(void) {
  dle_error e = {0};
  dle_store *st = NULL;
  int rc = dle_store_open("postgresql://dle:secret@127.0.0.1:1/postgres?connect_timeout=5", &st,
                          &e);
  CHECK_MSG(rc == DLE_EIO && st == NULL, "rc %d: %s", rc, e.msg);
  CHECK_MSG(strstr(e.msg, "cannot connect") && !strstr(e.msg, "secret"), "%s", e.msg);
  PGconn *c = PQconnectdb(g_loc);
  CHECK(PQstatus(c) == CONNECTION_OK);
  PQclear(PQexec(c, "UPDATE schema_version SET version = 99"));
  rc = dle_store_open(g_loc, &st, &e);
  CHECK_MSG(rc == DLE_EDB && st == NULL, "rc %d", rc);
  CHECK_MSG(strstr(e.msg, "schema version 99") && strstr(e.msg, "newer"), "%s", e.msg);
  char restore[96];
  snprintf(restore, sizeof restore, "UPDATE schema_version SET version = %d",
           DLE_STORE_SCHEMA_VERSION);
  PQclear(PQexec(c, restore));
  PQfinish(c);
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  dle_store_close(st);
}

/* PostgreSQL only (issue 12): a database written by schema version 1 (one row per
 * sample and per GPU) migrates in place on first open and every sample survives,
 * bit for bit as the v1 store held it (text with extra_float_digits = 3). */
static void pg_exec_ok(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  CHECK_MSG(ok, "%s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
}

static void put_num(char *sql, size_t cap, double v) {
  size_t l = strlen(sql);
  if (isnan(v))
    snprintf(sql + l, cap - l, ",NULL");
  else
    snprintf(sql + l, cap - l, ",%.17g", v);
}

typedef struct pg_mig {
  uint32_t i, bad;
} pg_mig;

static int pg_mig_check(void *ctx, const dle_sample *got, dle_error *err) {
  (void)err;
  pg_mig *w = ctx;
  dle_sample want;
  fixture_sample(&want, w->i++);
  if (!same_sample(&want, got)) w->bad++;
  return 0;
}

static void test_pg_migrate_v1(void) {
  enum { N = 4500 };
  PGconn *c = PQconnectdb(g_loc);
  pg_exec_ok(c, "DROP DATABASE IF EXISTS dle_mig_v1");
  pg_exec_ok(c, "CREATE DATABASE dle_mig_v1");
  PQfinish(c);
  char uri[600];
  const char *slash = strrchr(g_loc, '/');
  snprintf(uri, sizeof uri, "%.*s/dle_mig_v1", (int)(slash - g_loc), g_loc);
  c = PQconnectdb(uri);
  CHECK_MSG(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
  pg_exec_ok(c,
             "CREATE TABLE schema_version (version INTEGER NOT NULL);"
             "INSERT INTO schema_version VALUES (1);"
             "CREATE TABLE runs (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
             " status INTEGER NOT NULL, source TEXT NOT NULL, host TEXT NOT NULL,"
             " command TEXT NOT NULL, start_wall_s DOUBLE PRECISION, end_wall_s DOUBLE PRECISION,"
             " interval_s DOUBLE PRECISION, exit_code INTEGER NOT NULL, term_signal INTEGER NOT NULL,"
             " epochs_planned INTEGER NOT NULL, pue DOUBLE PRECISION NOT NULL,"
             " carbon_g_per_kwh DOUBLE PRECISION, gpu_source TEXT NOT NULL,"
             " cpu_source TEXT NOT NULL, dram_source TEXT NOT NULL, ram_source TEXT NOT NULL);"
             "CREATE TABLE samples (run_id BIGINT NOT NULL, seq BIGINT NOT NULL,"
             " t_s DOUBLE PRECISION, wall_s DOUBLE PRECISION, cpu_util_pct DOUBLE PRECISION,"
             " rss_mib DOUBLE PRECISION, cpu_power_w DOUBLE PRECISION,"
             " dram_power_w DOUBLE PRECISION, ram_power_w DOUBLE PRECISION,"
             " cpu_energy_counter_j DOUBLE PRECISION, dram_energy_counter_j DOUBLE PRECISION,"
             " n_gpus INTEGER NOT NULL, PRIMARY KEY (run_id, seq));"
             "CREATE TABLE gpu_samples (run_id BIGINT NOT NULL, seq BIGINT NOT NULL,"
             " slot INTEGER NOT NULL, device_index BIGINT NOT NULL, power_w DOUBLE PRECISION,"
             " energy_counter_j DOUBLE PRECISION, util_gpu_pct DOUBLE PRECISION,"
             " util_mem_pct DOUBLE PRECISION, mem_used_mib DOUBLE PRECISION,"
             " mem_total_mib DOUBLE PRECISION, temp_c DOUBLE PRECISION,"
             " power_limit_w DOUBLE PRECISION, PRIMARY KEY (run_id, seq, slot));"
             "CREATE TABLE epochs (run_id BIGINT NOT NULL, idx INTEGER NOT NULL,"
             " t_begin_s DOUBLE PRECISION, t_end_s DOUBLE PRECISION, metrics TEXT NOT NULL,"
             " PRIMARY KEY (run_id, idx));"
             "CREATE TABLE meta (run_id BIGINT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
             " PRIMARY KEY (run_id, key));"
             "INSERT INTO runs (status, source, host, command, exit_code, term_signal,"
             " epochs_planned, pue, gpu_source, cpu_source, dram_source, ram_source)"
             " VALUES (1, 'run', 'h', 'c', 0, 0, 0, 1, 'nvml', 'rapl', 'none', 'model');"
             "BEGIN");
  for (uint32_t k = 0; k < N; k++) {
    dle_sample s;
    fixture_sample(&s, k);
    char sql[2048];
    snprintf(sql, sizeof sql, "INSERT INTO samples VALUES (1,%u", k);
    const double *h = &s.t_s;
    for (int j = 0; j < 9; j++) put_num(sql, sizeof sql, h[j]);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql), ",%u);", s.n_gpus);
    for (uint32_t g = 0; g < s.n_gpus; g++) {
      snprintf(sql + strlen(sql), sizeof sql - strlen(sql),
               "INSERT INTO gpu_samples VALUES (1,%u,%u,%u", k, g, s.gpu[g].device_index);
      const double *v = &s.gpu[g].power_w;
      for (int j = 0; j < 8; j++) put_num(sql, sizeof sql, v[j]);
      snprintf(sql + strlen(sql), sizeof sql - strlen(sql), ");");
    }
    PQclear(PQexec(c, sql));
  }
  pg_exec_ok(c, "COMMIT");
  PQfinish(c);
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(uri, &st, &e), &e);
  if (!st) return;
  int64_t n = 0;
  CHECK_OK(dle_store_count_samples(st, 1, &n, &e), &e);
  CHECK_MSG(n == N, "%" PRId64 " samples after migration", n);
  pg_mig w = {0, 0};
  CHECK_OK(dle_store_foreach_sample(st, 1, pg_mig_check, &w, &e), &e);
  CHECK_MSG(w.i == N && w.bad == 0, "%u read, %u differ", w.i, w.bad);
  dle_store_close(st);
  c = PQconnectdb(uri);
  PGresult *r = PQexec(c, "SELECT (SELECT max(version) FROM schema_version),"
                          " to_regclass('samples') IS NULL AND to_regclass('gpu_samples') IS NULL");
  CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) == DLE_STORE_SCHEMA_VERSION &&
        strcmp(PQgetvalue(r, 0, 1), "t") == 0);
  PQclear(r);
  PQfinish(c);
}

/* PostgreSQL only: the server drops the store's connection (as a restart or a
 * network cut would); the next batch and the next statement reconnect and land. */
static int drop_other_connections(void) {
  PGconn *c = PQconnectdb(g_loc);
  PGresult *r = PQexec(c,
                       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                       " AND backend_type = 'client backend'");
  int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  PQfinish(c);
  usleep(200 * 1000);
  return n;
}

static void test_pg_reconnect(void) {
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  if (!st) return;
  int64_t id = write_run(st, "reconnect", &e);
  dle_sample v[20];
  for (uint32_t k = 0; k < 20; k++) fixture_sample(&v[k], k);
  CHECK_OK(dle_store_append_samples(st, id, v, 5, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  CHECK(drop_other_connections() >= 1);
  CHECK_OK(dle_store_append_samples(st, id, v + 5, 5, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e); /* a batch after the drop */
  CHECK(drop_other_connections() >= 1);
  CHECK_OK(dle_store_set_meta(st, id, "after", "drop", &e), &e); /* a statement after it */
  CHECK_OK(dle_store_append_samples(st, id, v + 10, 10, &e), &e);
  CHECK(drop_other_connections() >= 1);
  dle_store_close(st); /* close's final batch after a drop */
  st = NULL;
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  if (!st) return;
  int64_t n = -1;
  CHECK_OK(dle_store_count_samples(st, id, &n, &e), &e);
  CHECK_MSG(n == 20, "%" PRId64 " of 20 samples after three dropped connections", n);
  struct walk w = {0};
  CHECK_OK(dle_store_foreach_sample(st, id, check_walk, &w, &e), &e);
  CHECK(w.k == 20 && w.mismatches == 0);
  dle_kv *kv = NULL;
  size_t nkv = 0;
  CHECK_OK(dle_store_get_meta(st, id, &kv, &nkv, &e), &e);
  CHECK(dle_kv_get(kv, nkv, "after") != NULL);
  dle_kv_free(kv, nkv);
  dle_store_close(st);
}

/* A callback that reads another run through the same handle while a walk is in
 * progress (the handle keeps one decoded chunk for its readers: the nested walk
 * must get its own, and neither walk may see the other's samples). */
struct nested {
  dle_store *st;
  int64_t other;
  struct walk outer, inner;
  int rc;
};

static int nested_walk(void *ctx, const dle_sample *s, dle_error *err) {
  struct nested *n = ctx;
  check_walk(&n->outer, s, err);
  if (n->outer.k == 2) { /* mid-walk: read the whole other run */
    n->rc = dle_store_foreach_sample(n->st, n->other, check_walk, &n->inner, err);
  }
  return 0;
}

static void test_nested_read(void) {
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  if (!st) return;
  enum { NA = 5000, NB = 4100 }; /* two chunks each */
  dle_sample *v = malloc(NA * sizeof *v);
  for (uint32_t k = 0; k < NA; k++) fixture_sample(&v[k], k);
  int64_t a = write_run(st, "nested-a", &e), b = write_run(st, "nested-b", &e);
  CHECK_OK(dle_store_append_samples(st, a, v, NA, &e), &e);
  CHECK_OK(dle_store_append_samples(st, b, v, NB, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  struct nested n = {st, b, {0}, {0}, -1};
  CHECK_OK(dle_store_foreach_sample(st, a, nested_walk, &n, &e), &e);
  CHECK_MSG(n.rc == DLE_OK && n.inner.k == NB && n.inner.mismatches == 0,
            "inner walk: rc %d, %u samples, %d differ", n.rc, n.inner.k, n.inner.mismatches);
  CHECK_MSG(n.outer.k == NA && n.outer.mismatches == 0, "outer walk: %u samples, %d differ",
            n.outer.k, n.outer.mismatches);
  /* and the handle's chunk serves a plain walk again afterwards */
  struct walk w = {0};
  CHECK_OK(dle_store_foreach_sample(st, b, check_walk, &w, &e), &e);
  CHECK(w.k == NB && w.mismatches == 0);
  free(v);
  dle_store_close(st);
}

/* PostgreSQL only (issue 12): each commit appends the samples since the last one as a
 * small chunk row (the server never rewrites the growing chunk); a full chunk and a
 * run that ends are compacted into one row each, and every sample reads back. */
static void chunk_rows(PGconn *c, int64_t id, int64_t *rows, int64_t *samples, int64_t *max_n) {
  char sql[160];
  snprintf(sql, sizeof sql,
           "SELECT count(*), coalesce(sum(n), 0), coalesce(max(n), 0) FROM sample_chunks"
           " WHERE run_id = %" PRId64, id);
  PGresult *r = PQexec(c, sql);
  CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
  *rows = atoll(PQgetvalue(r, 0, 0));
  *samples = atoll(PQgetvalue(r, 0, 1));
  *max_n = atoll(PQgetvalue(r, 0, 2));
  PQclear(r);
}

static void test_pg_append_compact(void) {
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(g_loc, &st, &e), &e);
  PGconn *c = PQconnectdb(g_loc);
  CHECK(PQstatus(c) == CONNECTION_OK);
  if (!st || PQstatus(c) != CONNECTION_OK) {
    dle_store_close(st);
    PQfinish(c);
    return;
  }
  int64_t id = write_run(st, "append", &e);
  enum { N = 4096 + 7 };
  dle_sample *v = malloc(N * sizeof *v);
  for (uint32_t k = 0; k < N; k++) fixture_sample(&v[k], k);
  int64_t rows, n, max_n;
  for (int b = 0; b < 3; b++) { /* three commits: three small rows */
    CHECK_OK(dle_store_append_samples(st, id, v + 10 * b, 10, &e), &e);
    CHECK_OK(dle_store_commit(st, &e), &e);
  }
  chunk_rows(c, id, &rows, &n, &max_n);
  CHECK_MSG(rows == 3 && n == 30 && max_n == 10, "%" PRId64 " rows, %" PRId64 " samples", rows, n);
  CHECK_OK(dle_store_append_samples(st, id, v + 30, 3000, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  chunk_rows(c, id, &rows, &n, &max_n);
  CHECK_MSG(rows == 4 && n == 3030, "%" PRId64 " rows, %" PRId64 " samples", rows, n);
  /* filling the chunk seals it: the four rows become one of 4096 samples */
  CHECK_OK(dle_store_append_samples(st, id, v + 3030, N - 3030, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  chunk_rows(c, id, &rows, &n, &max_n);
  CHECK_MSG(rows == 2 && n == N && max_n == 4096, "%" PRId64 " rows, %" PRId64 " samples", rows, n);
  /* a run that ends: its open chunk's rows become one */
  dle_sample extra[3];
  for (uint32_t k = 0; k < 3; k++) fixture_sample(&extra[k], N + k);
  for (int b = 0; b < 3; b++) {
    CHECK_OK(dle_store_append_samples(st, id, &extra[b], 1, &e), &e);
    CHECK_OK(dle_store_commit(st, &e), &e);
  }
  chunk_rows(c, id, &rows, &n, &max_n);
  CHECK_MSG(rows == 5 && n == N + 3, "%" PRId64 " rows before the end", rows);
  dle_run_info info;
  CHECK_OK(dle_store_get_run(st, id, &info, &e), &e);
  info.status = DLE_RUN_COMPLETE;
  CHECK_OK(dle_store_update_run(st, &info, &e), &e);
  chunk_rows(c, id, &rows, &n, &max_n);
  CHECK_MSG(rows == 2 && n == N + 3, "%" PRId64 " rows after the end", rows);
  struct walk w = {0};
  CHECK_OK(dle_store_foreach_sample(st, id, check_walk, &w, &e), &e);
  CHECK_MSG(w.k == N + 3 && w.mismatches == 0, "%u samples, %d differ", w.k, w.mismatches);
  free(v);
  PQfinish(c);
  dle_store_close(st);
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "sqlite";
  snprintf(g_tag, sizeof g_tag, "conformance-%ld", (long)getpid());
  if (strcmp(which, "pg") == 0) {
    const char *uri = getenv("DLE_PG_URI");
    if (!uri || !*uri) SKIP("DLE_PG_URI not set (run through with_pg.sh)");
    snprintf(g_loc, sizeof g_loc, "%s", uri);
  } else {
    snprintf(g_loc, sizeof g_loc, "conformance.db");
    unlink("conformance.db");
    unlink("conformance.db-wal");
    unlink("conformance.db-shm");
  }
  test_roundtrip();
  test_fault();
  test_autocommit();
  /* SQLite only: a PostgreSQL connection streams one query's rows at a time
   * (single-row mode), so a callback cannot start another read on the same handle */
  if (strcmp(which, "pg") != 0) test_nested_read();
  if (strcmp(which, "pg") == 0) {
    test_pg_errors();
    test_pg_migrate_v1();
    test_pg_reconnect();
    test_pg_append_compact();
  }
  return check_finish();
}
