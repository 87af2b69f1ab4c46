/* SQLite-specific faults, the way SQLite tests itself: a VFS shim between SQLite
 * and the file system that fails writes on demand (disk full, I/O error), files
 * that are not databases, a schema newer than this build, a read-only file, and a
 * writer killed with SIGKILL mid-run. In every case: a clear error, never a crash,
 * and nothing that was committed is lost. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/store.h"
#include "store/store_internal.h"
#include "store_fixture.h"

/* ---- the fault-injecting VFS ---- */

static int g_fault_rc;        /* SQLITE_OK: pass writes through; else fail them with it */
static int g_fault_writes;    /* writes failed so far */
static int g_force_readonly;  /* open files read-only, as the OS does for a 0444 file */
static sqlite3_vfs *g_real_vfs;

typedef struct ff_file {
  sqlite3_file base;
  sqlite3_file *real;
} ff_file;

#define REAL(f) (((ff_file *)(f))->real)
static int ff_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int ff_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) {
  return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int ff_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) {
  if (g_fault_rc != SQLITE_OK) {
    g_fault_writes++;
    return g_fault_rc;
  }
  return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int ff_truncate(sqlite3_file *f, sqlite3_int64 s) {
  return REAL(f)->pMethods->xTruncate(REAL(f), s);
}
static int ff_sync(sqlite3_file *f, int fl) { return REAL(f)->pMethods->xSync(REAL(f), fl); }
static int ff_size(sqlite3_file *f, sqlite3_int64 *s) {
  return REAL(f)->pMethods->xFileSize(REAL(f), s);
}
static int ff_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int ff_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int ff_check(sqlite3_file *f, int *r) {
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r);
}
static int ff_fcntl(sqlite3_file *f, int op, void *a) {
  return REAL(f)->pMethods->xFileControl(REAL(f), op, a);
}
static int ff_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int ff_dev(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int ff_shmmap(sqlite3_file *f, int i, int sz, int ext, void volatile **p) {
  return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p);
}
static int ff_shmlock(sqlite3_file *f, int o, int n, int fl) {
  return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl);
}
static void ff_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int ff_shmunmap(sqlite3_file *f, int del) {
  return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int ff_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) {
  return REAL(f)->pMethods->xFetch(REAL(f), o, n, p);
}
static int ff_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) {
  return REAL(f)->pMethods->xUnfetch(REAL(f), o, p);
}

static const sqlite3_io_methods FF_METHODS = {
    3,        ff_close,  ff_read,     ff_write,   ff_truncate, ff_sync,    ff_size,
    ff_lock,  ff_unlock, ff_check,    ff_fcntl,   ff_sector,   ff_dev,     ff_shmmap,
    ff_shmlock, ff_shmbarrier, ff_shmunmap, ff_fetch, ff_unfetch};

static int ff_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out) {
  (void)vfs;
  ff_file *p = (ff_file *)f;
  p->real = (sqlite3_file *)&p[1];
  if (g_force_readonly)
    flags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
  int rc = g_real_vfs->xOpen(g_real_vfs, name, p->real, flags, out);
  p->base.pMethods = p->real->pMethods ? &FF_METHODS : NULL;
  return rc;
}

static sqlite3_vfs g_ff_vfs;

static void register_faulty_vfs(void) {
  g_real_vfs = sqlite3_vfs_find(NULL);
  g_ff_vfs = *g_real_vfs;
  g_ff_vfs.zName = "dle_faulty";
  g_ff_vfs.szOsFile = (int)sizeof(ff_file) + g_real_vfs->szOsFile;
  g_ff_vfs.xOpen = ff_open;
  g_ff_vfs.pNext = NULL;
  sqlite3_vfs_register(&g_ff_vfs, 0);
}

static void remove_db(const char *path) {
  char p[512];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

static int64_t new_run(dle_store *st, dle_error *e) {
  dle_run_info info;
  dle_run_info_init(&info);
  dle_store_copy_str(info.host, sizeof info.host, "test");
  int64_t id = -1;
  CHECK_OK(dle_store_create_run(st, &info, &id, e), e);
  return id;
}

static int64_t count_of(const char *path, int64_t id) {
  dle_error e = {0};
  dle_store *st = NULL;
  int64_t n = -1;
  if (dle_store_open(path, &st, &e) == 0) {
    if (dle_store_count_samples(st, id, &n, &e) != 0) n = -1;
    dle_store_close(st);
  }
  return n;
}

/* Disk full and I/O error at commit time, through the real SQLite error path. */
static void test_write_faults(int fault_rc, int want_code) {
  const char *path = "faults.db";
  remove_db(path);
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open("file:faults.db?vfs=dle_faulty", &st, &e), &e);
  if (!st) return;
  int64_t id = new_run(st, &e);
  dle_sample v[400];
  for (uint32_t k = 0; k < 400; k++) fixture_sample(&v[k], k);
  CHECK_OK(dle_store_append_samples(st, id, v, 100, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);

  g_fault_rc = fault_rc;
  g_fault_writes = 0;
  /* Enough rows that SQLite must write pages, during the inserts or the commit. */
  int rc = dle_store_append_samples(st, id, v + 100, 300, &e);
  if (rc == 0) rc = dle_store_commit(st, &e);
  g_fault_rc = SQLITE_OK;
  CHECK_MSG(rc == want_code, "got %d (%s), want %d", rc, e.msg, want_code);
  CHECK(g_fault_writes > 0);
  CHECK_MSG(strstr(e.msg, "faults.db") != NULL, "message names the file: %s", e.msg);
  if (fault_rc == SQLITE_FULL) CHECK_MSG(strstr(e.msg, "full") != NULL, "%s", e.msg);

  /* The same handle recovers once writes work again. */
  int64_t n = -1;
  CHECK_OK(dle_store_count_samples(st, id, &n, &e), &e);
  CHECK_MSG(n == 100, "after the fault %" PRId64 " samples", n);
  CHECK_OK(dle_store_append_samples(st, id, v + 100, 300, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  dle_store_close(st);

  /* Reopened through the plain path: intact and complete. */
  CHECK(count_of(path, id) == 400);
  sqlite3 *db = NULL;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  sqlite3_stmt *q = NULL;
  CHECK(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(q) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0);
  sqlite3_finalize(q);
  sqlite3_close(db);
}

/* Close with buffered rows while the disk is full: no crash, no damage; the
 * committed rows are all there on reopen. */
static void test_close_fault(void) {
  remove_db("closefault.db");
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open("file:closefault.db?vfs=dle_faulty", &st, &e), &e);
  if (!st) return;
  int64_t id = new_run(st, &e);
  dle_sample v[300];
  for (uint32_t k = 0; k < 300; k++) fixture_sample(&v[k], k);
  CHECK_OK(dle_store_append_samples(st, id, v, 100, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  CHECK_OK(dle_store_append_samples(st, id, v + 100, 200, &e), &e);
  g_fault_rc = SQLITE_FULL;
  dle_store_close(st);
  g_fault_rc = SQLITE_OK;
  CHECK(count_of("closefault.db", id) == 100);
}

/* A fault while opening (creating the schema) is an error, not a crash. */
static void test_open_fault(void) {
  remove_db("openfault.db");
  dle_error e = {0};
  dle_store *st = NULL;
  g_fault_rc = SQLITE_IOERR_WRITE;
  int rc = dle_store_open("file:openfault.db?vfs=dle_faulty", &st, &e);
  g_fault_rc = SQLITE_OK;
  CHECK_MSG(rc == DLE_EIO && st == NULL, "rc %d: %s", rc, e.msg);
  CHECK(strstr(e.msg, "openfault.db") != NULL);
}

static void test_not_a_database(void) {
  const char *path = "garbage.db";
  remove_db(path);
  FILE *f = fopen(path, "wb");
  for (int i = 0; i < 200; i++) fputs("this is not an SQLite database, just text\n", f);
  fclose(f);
  dle_error e = {0};
  dle_store *st = NULL;
  int rc = dle_store_open(path, &st, &e);
  CHECK_MSG(rc == DLE_EDB && st == NULL, "rc %d: %s", rc, e.msg);
  CHECK_MSG(strstr(e.msg, "not a database") != NULL, "%s", e.msg);
  /* A truncated real database is refused too (or opens and reads what is there). */
  remove_db("trunc.db");
  CHECK_OK(dle_store_open("trunc.db", &st, &e), &e);
  if (st) {
    int64_t id = new_run(st, &e);
    dle_sample v[200];
    for (uint32_t k = 0; k < 200; k++) fixture_sample(&v[k], k);
    CHECK_OK(dle_store_append_samples(st, id, v, 200, &e), &e);
    dle_store_close(st);
    st = NULL;
    /* Checkpoint the WAL into the main file, then cut the file in half. */
    sqlite3 *db = NULL;
    sqlite3_open("trunc.db", &db);
    sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    sqlite3_close(db);
    struct stat sb;
    stat("trunc.db", &sb);
    CHECK(truncate("trunc.db", sb.st_size / 2) == 0);
    rc = dle_store_open("trunc.db", &st, &e);
    if (rc == 0) {
      dle_trace t = {0};
      rc = dle_store_load_trace(st, id, &t, &e);
      dle_trace_free(&t);
      dle_store_close(st);
    }
    CHECK_MSG(rc == DLE_EDB || rc == DLE_EIO, "truncated file: rc %d (%s)", rc, e.msg);
  }
}

static void test_newer_schema(void) {
  const char *path = "newer.db";
  remove_db(path);
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(path, &st, &e), &e);
  dle_store_close(st);
  sqlite3 *db = NULL;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  st = NULL;
  int rc = dle_store_open(path, &st, &e);
  CHECK_MSG(rc == DLE_EDB && st == NULL, "rc %d", rc);
  CHECK_MSG(strstr(e.msg, "schema version 99") && strstr(e.msg, "newer"), "%s", e.msg);
}

/* A store written by schema version 1 (one row per sample and per GPU, the layout
 * before compressed chunks), built here with the version-1 DDL and statements. */
static const char *const V1_DDL =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "INSERT INTO schema_version VALUES (1);"
    "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, status INTEGER NOT NULL,"
    " source TEXT NOT NULL, host TEXT NOT NULL, command TEXT NOT NULL, start_wall_s REAL,"
    " end_wall_s REAL, interval_s REAL, exit_code INTEGER NOT NULL, term_signal INTEGER NOT NULL,"
    " epochs_planned INTEGER NOT NULL, pue REAL NOT NULL, carbon_g_per_kwh REAL,"
    " gpu_source TEXT NOT NULL, cpu_source TEXT NOT NULL, dram_source TEXT NOT NULL,"
    " ram_source TEXT NOT NULL);"
    "CREATE TABLE samples (run_id INTEGER NOT NULL, seq INTEGER NOT NULL, t_s REAL, wall_s REAL,"
    " cpu_util_pct REAL, rss_mib REAL, cpu_power_w REAL, dram_power_w REAL, ram_power_w REAL,"
    " cpu_energy_counter_j REAL, dram_energy_counter_j REAL, n_gpus INTEGER NOT NULL,"
    " PRIMARY KEY (run_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE gpu_samples (run_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " slot INTEGER NOT NULL, device_index INTEGER NOT NULL, power_w REAL, energy_counter_j REAL,"
    " util_gpu_pct REAL, util_mem_pct REAL, mem_used_mib REAL, mem_total_mib REAL, temp_c REAL,"
    " power_limit_w REAL, PRIMARY KEY (run_id, seq, slot)) WITHOUT ROWID;"
    "CREATE TABLE epochs (run_id INTEGER NOT NULL, idx INTEGER NOT NULL, t_begin_s REAL,"
    " t_end_s REAL, metrics TEXT NOT NULL, PRIMARY KEY (run_id, idx)) WITHOUT ROWID;"
    "CREATE TABLE meta (run_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
    "CREATE INDEX meta_key_value ON meta (key, value);";

static void bind_v(sqlite3_stmt *q, int i, double v) {
  if (isnan(v))
    sqlite3_bind_null(q, i);
  else
    sqlite3_bind_double(q, i, v);
}

enum { MIG_RUNS = 3 };
static const uint32_t MIG_N[MIG_RUNS] = {9000, 0, 37}; /* > 2 chunks, none, a few */

static uint32_t mig_k(int run, uint32_t i) { return (uint32_t)run * 100000u + i; }

static void write_v1_store(const char *path) {
  sqlite3 *db = NULL;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, V1_DDL, NULL, NULL, NULL) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_stmt *a = NULL, *b = NULL;
  sqlite3_prepare_v2(db, "INSERT INTO samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &a, NULL);
  sqlite3_prepare_v2(db, "INSERT INTO gpu_samples VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", -1, &b, NULL);
  for (int r = 0; r < MIG_RUNS; r++) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO runs VALUES (%d, 1, 'run', 'h%d', 'cmd', 1.7e9, 1.7e9 + 10, 0.1, 0, 0,"
             " 3, 1.2, 250, 'nvml', 'rapl', 'rapl', 'model');"
             "INSERT INTO meta VALUES (%d, 'architecture', 'vgg16');"
             "INSERT INTO epochs VALUES (%d, 1, 0.5, 2.25, 'loss=1');",
             r + 1, r, r + 1, r + 1);
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    for (uint32_t i = 0; i < MIG_N[r]; i++) {
      dle_sample s;
      fixture_sample(&s, mig_k(r, i));
      sqlite3_bind_int(a, 1, r + 1);
      sqlite3_bind_int(a, 2, (int)i);
      const double *h = &s.t_s;
      for (int c = 0; c < 9; c++) bind_v(a, 3 + c, h[c]);
      sqlite3_bind_int(a, 12, (int)s.n_gpus);
      CHECK(sqlite3_step(a) == SQLITE_DONE);
      sqlite3_reset(a);
      for (uint32_t g = 0; g < s.n_gpus; g++) {
        const dle_gpu_sample *x = &s.gpu[g];
        sqlite3_bind_int(b, 1, r + 1);
        sqlite3_bind_int(b, 2, (int)i);
        sqlite3_bind_int(b, 3, (int)g);
        sqlite3_bind_int(b, 4, (int)x->device_index);
        const double *v = &x->power_w;
        for (int c = 0; c < 8; c++) bind_v(b, 5 + c, v[c]);
        CHECK(sqlite3_step(b) == SQLITE_DONE);
        sqlite3_reset(b);
      }
    }
  }
  sqlite3_finalize(a);
  sqlite3_finalize(b);
  CHECK(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
}

typedef struct mig_walk {
  int run;
  uint32_t i, bad;
} mig_walk;

static int mig_check(void *ctx, const dle_sample *got, dle_error *err) {
  (void)err;
  mig_walk *w = ctx;
  dle_sample want;
  fixture_sample(&want, mig_k(w->run, w->i));
  if (!same_sample(&want, got)) {
    if (w->bad++ < 3) fprintf(stderr, "run %d sample %u differs after migration\n", w->run + 1, w->i);
  }
  w->i++;
  return 0;
}

/* Issue 12: a version-1 store migrates in place on first open; every sample, run,
 * epoch and metadata value survives; the row tables are gone; a second open is a
 * no-op; new samples append after the migrated ones. */
static void test_migrate_v1(void) {
  const char *path = "migrate_v1.db";
  remove_db(path);
  write_v1_store(path);
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(path, &st, &e), &e);
  if (!st) return;
  for (int r = 0; r < MIG_RUNS; r++) {
    int64_t n = -1;
    CHECK_OK(dle_store_count_samples(st, r + 1, &n, &e), &e);
    CHECK_MSG(n == MIG_N[r], "run %d: %" PRId64 " samples after migration, want %u", r + 1, n,
              MIG_N[r]);
    mig_walk w = {r, 0, 0};
    CHECK_OK(dle_store_foreach_sample(st, r + 1, mig_check, &w, &e), &e);
    CHECK_MSG(w.i == MIG_N[r] && w.bad == 0, "run %d: %u samples read, %u differ", r + 1, w.i, w.bad);
    dle_run_info info;
    CHECK_OK(dle_store_get_run(st, r + 1, &info, &e), &e);
    CHECK(info.pue == 1.2 && info.carbon_g_per_kwh == 250 && strcmp(info.cpu_source, "rapl") == 0);
    dle_epoch *ep = NULL;
    size_t ne = 0;
    CHECK_OK(dle_store_load_epochs(st, r + 1, &ep, &ne, &e), &e);
    CHECK(ne == 1 && ep && ep[0].t_end_s == 2.25);
    free(ep);
  }
  /* appending to a migrated run continues its numbering */
  dle_sample s;
  fixture_sample(&s, mig_k(2, MIG_N[2]));
  CHECK_OK(dle_store_append_samples(st, 3, &s, 1, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  mig_walk w = {2, 0, 0};
  CHECK_OK(dle_store_foreach_sample(st, 3, mig_check, &w, &e), &e);
  CHECK_MSG(w.i == MIG_N[2] + 1 && w.bad == 0, "%u read, %u differ", w.i, w.bad);
  int64_t *ids = NULL;
  size_t nids = 0;
  CHECK_OK(dle_store_select_runs(st, "architecture=vgg16", &ids, &nids, &e), &e);
  CHECK(nids == MIG_RUNS);
  free(ids);
  dle_store_close(st);
  sqlite3 *db = NULL;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  sqlite3_stmt *q = NULL;
  CHECK(sqlite3_prepare_v2(db,
                           "SELECT (SELECT max(version) FROM schema_version),"
                           " (SELECT count(*) FROM sqlite_master WHERE name IN"
                           " ('samples', 'gpu_samples')), (SELECT sum(n) FROM sample_chunks)",
                           -1, &q, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(q) == SQLITE_ROW);
  CHECK_MSG(sqlite3_column_int(q, 0) == DLE_STORE_SCHEMA_VERSION, "version %d",
            sqlite3_column_int(q, 0));
  CHECK(sqlite3_column_int(q, 1) == 0);
  CHECK(sqlite3_column_int64(q, 2) == MIG_N[0] + MIG_N[2] + 1);
  sqlite3_finalize(q);
  sqlite3_close(db);
  /* a second open finds nothing to migrate */
  st = NULL;
  CHECK_OK(dle_store_open(path, &st, &e), &e);
  int64_t n = 0;
  if (st) CHECK_OK(dle_store_count_samples(st, 1, &n, &e), &e);
  CHECK(n == MIG_N[0]);
  dle_store_close(st);
}

static void test_read_only(void) {
  const char *path = "readonly.db";
  remove_db(path);
  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(path, &st, &e), &e);
  dle_store_close(st);
  /* Through the VFS: the file opens read-only whoever we are (root included). */
  st = NULL;
  g_force_readonly = 1;
  int ro = dle_store_open("file:readonly.db?vfs=dle_faulty", &st, &e);
  g_force_readonly = 0;
  CHECK_MSG((ro == DLE_EIO || ro == DLE_EDB) && st == NULL, "rc %d: %s", ro, e.msg);
  printf("read-only store: %s\n", e.msg);
  CHECK_MSG(ro == DLE_EIO && strstr(e.msg, "read-only"), "%s", e.msg);
  if (geteuid() == 0) {
    fprintf(stderr, "note: running as root, the chmod 0444 case is skipped (root writes anyway)\n");
    CHECK(dle_store_open("/nonexistent-dir/x/y.db", &st, &e) == DLE_EIO);
    return;
  }
  chmod(path, 0444);
  st = NULL;
  int rc = dle_store_open(path, &st, &e);
  CHECK_MSG((rc == DLE_EIO || rc == DLE_EDB) && st == NULL, "rc %d: %s", rc, e.msg);
  chmod(path, 0644);
  CHECK(dle_store_open("/nonexistent-dir/x/y.db", &st, &e) == DLE_EIO);
}

/* ---- crash test: SIGKILL a writer, reopen, count ---- */

struct progress {
  volatile int64_t run_id;
  volatile int64_t appended;    /* samples whose append returned */
  volatile double last_t_s;     /* t_s of the last of them */
  volatile double max_gap_s;    /* longest time between two appends (commits included) */
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void crash_child(const char *path, struct progress *pr) {
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(path, &st, &e)) _exit(3);
  int64_t id = new_run(st, &e);
  dle_store_set_meta(st, id, "architecture", "crash", &e);
  pr->run_id = id;
  double t0 = now_s();
  for (uint32_t k = 0;; k++) {
    dle_sample s;
    fixture_sample(&s, k);
    s.t_s = now_s() - t0; /* the sample's own time: what "the last second" means */
    if (dle_store_append_samples(st, id, &s, 1, &e)) _exit(4);
    if (k > 0 && s.t_s - pr->last_t_s > pr->max_gap_s) pr->max_gap_s = s.t_s - pr->last_t_s;
    pr->last_t_s = s.t_s;
    pr->appended = (int64_t)k + 1;
    usleep(10000); /* 100 Hz */
  }
}

struct last_t {
  double t;
  int64_t n;
};
static int note_last(void *ctx, const dle_sample *s, dle_error *err) {
  (void)err;
  struct last_t *l = ctx;
  l->t = s->t_s;
  l->n++;
  return 0;
}

static void test_crash(void) {
  const char *path = "crash.db";
  remove_db(path);
  struct progress *pr = mmap(NULL, sizeof *pr, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(pr != MAP_FAILED);
  if (pr == MAP_FAILED) return;
  pr->run_id = -1;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) crash_child(path, pr);
  /* Let it write for 2 to 3 s (random, so the kill lands anywhere in the commit
   * cycle) after its first sample; then kill -9 it. */
  for (int i = 0; i < 1000 && pr->appended == 0; i++) usleep(10000);
  srand((unsigned)time(NULL) ^ (unsigned)getpid());
  usleep((useconds_t)(2000 * 1000 + rand() % (1000 * 1000)));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  int64_t produced = pr->appended;
  double last_t = pr->last_t_s;
  CHECK_MSG(produced > 20, "the child wrote only %" PRId64 " samples", produced);

  dle_error e = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(path, &st, &e), &e);
  if (!st) return;
  dle_run_info r;
  CHECK_OK(dle_store_get_run(st, pr->run_id, &r, &e), &e);
  CHECK(r.status == DLE_RUN_RUNNING && isnan(r.end_wall_s));
  struct last_t l = {NAN, 0};
  CHECK_OK(dle_store_foreach_sample(st, pr->run_id, note_last, &l, &e), &e);
  /* Lost: what the child appended after the last commit. The rule commits on the
   * first append a second after the previous commit, so the lost span is under
   * 1 s plus one gap between appends (a commit runs inside an append) plus, when
   * the kill lands mid-commit, one more. The child measured its own longest gap,
   * so a stalled machine widens the bound by exactly its stall, no guessed slack. */
  double lost_s = last_t - l.t;
  double bound_s = 1.0 + 2.0 * pr->max_gap_s + 0.02;
  printf("crash: child appended %" PRId64 " samples (last t=%.3f s); %" PRId64
         " committed (last t=%.3f s); lost %.3f s (bound %.3f s: 1 s + 2 x longest gap"
         " %.3f s)\n",
         produced, last_t, l.n, l.t, lost_s, bound_s, pr->max_gap_s);
  CHECK_MSG(l.n >= 1 && l.n <= produced + 1, "%" PRId64 " rows stored of %" PRId64, l.n,
            produced);
  CHECK_MSG(lost_s <= bound_s, "lost %.3f s of samples, bound %.3f s", lost_s, bound_s);
  /* The stored prefix is exactly what was written, in order, no gaps. */
  int64_t n = -1;
  CHECK_OK(dle_store_count_samples(st, pr->run_id, &n, &e), &e);
  CHECK(n == l.n);
  dle_kv *kv = NULL;
  size_t nkv = 0;
  CHECK_OK(dle_store_get_meta(st, pr->run_id, &kv, &nkv, &e), &e);
  CHECK(dle_kv_get(kv, nkv, "architecture") != NULL);
  dle_kv_free(kv, nkv);
  /* The recovered file can be written again. */
  dle_sample s;
  fixture_sample(&s, 0);
  CHECK_OK(dle_store_append_samples(st, pr->run_id, &s, 1, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);
  dle_store_close(st);
  munmap(pr, sizeof *pr);
}

int main(void) {
  register_faulty_vfs();
  test_write_faults(SQLITE_FULL, DLE_EIO);
  test_write_faults(SQLITE_IOERR_WRITE, DLE_EIO);
  test_close_fault();
  test_open_fault();
  test_not_a_database();
  test_newer_schema();
  test_migrate_v1();
  test_read_only();
  test_crash();
  return check_finish();
}
