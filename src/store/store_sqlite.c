/* store_sqlite.c — the SQLite backend of the run store.
 *
 * WAL journal, synchronous=NORMAL (a committed transaction survives a crash of the
 * writer; a power cut may lose the last commits but never corrupts the file), a
 * busy timeout so several writers on one file wait instead of failing.
 *
 * Samples are kept as compressed column chunks (chunk.h), one row of sample_chunks
 * per DLE_CHUNK_MAX samples. The open chunk is buffered in memory and its row is
 * rewritten in one short IMMEDIATE transaction when the common layer's one-second
 * rule or an explicit commit asks, and when it is full. (Keeping a write transaction open
 * between appends, the first design, made 8 concurrent writers on one file starve
 * each other into "database is locked"; holding the lock for milliseconds does not.)
 * Runs, metadata and epochs are written at once, each in its own transaction. A
 * failed flush is rolled back and reported with the number of rows lost; what was
 * committed before stays. */
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunk.h"
#include "store_internal.h"

typedef struct sq_store {
  dle_store base;
  sqlite3 *db;
  int in_tx;
  int batch; /* dle_store_begin: writes join the open transaction until a commit */
  sqlite3_stmt *put_chunk, *put_epoch, *put_meta, *has_run;
  sqlite3_stmt *ins_run, *upd_run, *next_seq_q; /* prepared on first use, kept */
  int64_t seq_run;  /* run whose next sample number is cached, -1 none */
  int64_t next_seq;
  int64_t known_run; /* last run found to exist, -1 none */
  int64_t batch_run; /* a run known to exist inside the open batch's transaction, -1 none
                      * (no other writer can delete it before the batch commits) */
  /* The open chunk: the samples of run buf_run from sequence number buf_seq on;
   * the first ncommitted of them are in the file already (the chunk's row is
   * rewritten whole on each commit until it holds DLE_CHUNK_MAX samples). */
  dle_chunk_buf *buf; /* the open chunk's samples, as columns */
  size_t nbuf, ncommitted; /* nbuf == dle_chunk_buf_len(buf) */
  int64_t buf_run, buf_seq;
  dle_chunk *rd_chunk; /* the readers' decoded chunk, kept across runs */
  int rd_busy;         /* rd_chunk in use (a callback that reads again gets its own) */
} sq_store;

static const char *const SCHEMA_V1[] = {
    "CREATE TABLE runs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, status INTEGER NOT NULL, source TEXT NOT NULL,"
    " host TEXT NOT NULL, command TEXT NOT NULL, start_wall_s REAL, end_wall_s REAL,"
    " interval_s REAL, exit_code INTEGER NOT NULL, term_signal INTEGER NOT NULL,"
    " epochs_planned INTEGER NOT NULL, pue REAL NOT NULL, carbon_g_per_kwh REAL,"
    " gpu_source TEXT NOT NULL, cpu_source TEXT NOT NULL, dram_source TEXT NOT NULL,"
    " ram_source TEXT NOT NULL)",
    "CREATE TABLE samples ("
    " run_id INTEGER NOT NULL, seq INTEGER NOT NULL, t_s REAL, wall_s REAL,"
    " cpu_util_pct REAL, rss_mib REAL, cpu_power_w REAL, dram_power_w REAL, ram_power_w REAL,"
    " cpu_energy_counter_j REAL, dram_energy_counter_j REAL, n_gpus INTEGER NOT NULL,"
    " PRIMARY KEY (run_id, seq)) WITHOUT ROWID",
    "CREATE TABLE gpu_samples ("
    " run_id INTEGER NOT NULL, seq INTEGER NOT NULL, slot INTEGER NOT NULL,"
    " device_index INTEGER NOT NULL, power_w REAL, energy_counter_j REAL, util_gpu_pct REAL,"
    " util_mem_pct REAL, mem_used_mib REAL, mem_total_mib REAL, temp_c REAL, power_limit_w REAL,"
    " PRIMARY KEY (run_id, seq, slot)) WITHOUT ROWID",
    "CREATE TABLE epochs ("
    " run_id INTEGER NOT NULL, idx INTEGER NOT NULL, t_begin_s REAL, t_end_s REAL,"
    " metrics TEXT NOT NULL, PRIMARY KEY (run_id, idx)) WITHOUT ROWID",
    "CREATE TABLE meta ("
    " run_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (run_id, key)) WITHOUT ROWID",
    "CREATE INDEX meta_key_value ON meta (key, value)",
    NULL};

static int migrate_v1_v2(sq_store *s, dle_error *err);

/* MIGRATIONS[v] takes a version-v schema to v+1 inside the open transaction (index 0
 * unused: v1 is created whole, so a new store runs every step; NULL at 2: version 3
 * only marks stores whose chunks may use the integer-delta mode, no row changes). */
typedef int (*sq_migration)(sq_store *s, dle_error *err);
static const sq_migration MIGRATIONS[DLE_STORE_SCHEMA_VERSION] = {NULL, migrate_v1_v2, NULL};

static int sq_fail(sq_store *s, int rc, const char *what, dle_error *err) {
  int prim = rc & 0xff;
  int code = (prim == SQLITE_FULL || prim == SQLITE_IOERR || prim == SQLITE_READONLY ||
              prim == SQLITE_CANTOPEN || prim == SQLITE_PERM)
                 ? DLE_EIO
                 : DLE_EDB;
  const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
  if (prim == SQLITE_FULL) msg = "database or disk is full";
  return dle_error_set(err, code, "%s: %s: %s", s->base.location, what, msg);
}

static int sq_exec(sq_store *s, const char *sql, const char *what, dle_error *err) {
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? DLE_OK : sq_fail(s, rc, what, err);
}

static int sq_prepare(sq_store *s, const char *sql, sqlite3_stmt **st, dle_error *err) {
  int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
  return rc == SQLITE_OK ? DLE_OK : sq_fail(s, rc, "preparing a statement", err);
}

/* Prepares a statement whose ?1 is a run id and binds it. */
static int sq_prepare_run(sq_store *s, const char *sql, int64_t run_id, sqlite3_stmt **st,
                          dle_error *err) {
  int rc = sq_prepare(s, sql, st, err);
  if (rc == DLE_OK) sqlite3_bind_int64(*st, 1, run_id);
  return rc;
}

static void bind_real(sqlite3_stmt *st, int i, double v) {
  if (isnan(v))
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_double(st, i, v);
}

static double col_real(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t n) {
  dle_store_copy_str(dst, n, (const char *)sqlite3_column_text(st, i));
}

/* Steps a statement that returns no rows and resets it. */
static int sq_step_done(sq_store *s, sqlite3_stmt *st, const char *what, dle_error *err) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? DLE_OK : sq_fail(s, rc, what, err);
}

static int sq_begin(sq_store *s, dle_error *err) {
  if (s->in_tx) return DLE_OK;
  int rc = sq_exec(s, "BEGIN IMMEDIATE", "starting a transaction", err);
  if (rc == DLE_OK) s->in_tx = 1;
  return rc;
}

/* Rolls back after a failed write; the file keeps what was committed. */
static int sq_abort(sq_store *s, int rc, dle_error *err) {
  (void)err;
  if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  s->in_tx = 0;
  s->seq_run = -1;
  s->known_run = -1;
  s->batch_run = -1;
  if (s->batch) { /* the batch's rows are gone: the open chunk starts again */
    s->batch = 0;
    s->nbuf = s->ncommitted = 0;
    dle_chunk_buf_truncate(s->buf, 0);
    s->buf_run = -1;
  }
  return rc;
}

/* Ends a write transaction (inside a batch: leaves it open for the next write). */
static int sq_end(sq_store *s, dle_error *err) {
  if (s->batch) return DLE_OK;
  int rc = sq_exec(s, "COMMIT", "committing", err);
  if (rc) return sq_abort(s, rc, err);
  s->in_tx = 0;
  return DLE_OK;
}

/* Ends a write transaction: rolls back when rc reports a failed step, else commits. */
static int sq_finish(sq_store *s, int rc, dle_error *err) {
  return rc ? sq_abort(s, rc, err) : sq_end(s, err);
}

static int sq_seq_for(sq_store *s, int64_t run_id, dle_error *err);

/* Writes the open chunk's row (all its samples, committed ones included) inside the
 * open transaction. */
static int sq_write_chunk(sq_store *s, dle_error *err) {
  if (s->nbuf == 0) return DLE_OK;
  s->seq_run = -1; /* read the next number inside the transaction */
  int rc = DLE_OK;
  if (s->ncommitted == 0 && !(rc = sq_seq_for(s, s->buf_run, err))) s->buf_seq = s->next_seq;
  const uint8_t *blob = NULL;
  size_t blob_len = 0;
  if (!rc) rc = dle_chunk_buf_encode(s->buf, 0, s->nbuf, &blob, &blob_len, err);
  if (!rc) {
    sqlite3_stmt *q = s->put_chunk;
    sqlite3_bind_int64(q, 1, s->buf_run);
    sqlite3_bind_int64(q, 2, s->buf_seq);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)s->nbuf);
    sqlite3_bind_blob(q, 4, blob, (int)blob_len, SQLITE_STATIC);
    rc = sq_step_done(s, q, "storing samples", err);
  }
  return rc;
}

/* Writes the open chunk and commits (the batch too, when one is open). */
static int sq_commit(dle_store *st, dle_error *err) {
  sq_store *s = (sq_store *)st;
  if (s->nbuf == s->ncommitted && !s->batch) {
    dle_store_mark_committed(st);
    return DLE_OK;
  }
  size_t lost = s->nbuf - s->ncommitted;
  int rc = sq_begin(s, err);
  if (!rc && s->nbuf > s->ncommitted) rc = sq_write_chunk(s, err);
  if (!rc && st->fault_hook && st->fault_hook(st->fault_ctx, "commit"))
    rc = sq_exec(s, "INSERT INTO dle_injected_fault VALUES (1)", "injected fault", err);
  if (!rc) {
    s->batch = 0;
    s->batch_run = -1;
    rc = sq_end(s, err);
  }
  dle_store_mark_committed(st);
  if (rc) {
    s->nbuf = s->ncommitted;
    dle_chunk_buf_truncate(s->buf, s->nbuf);
    sq_abort(s, rc, err); /* a failed batch also forgets the open chunk */
    dle_error_prefix(err, "%zu uncommitted rows discarded: ", lost);
    return rc;
  }
  s->ncommitted = s->nbuf;
  if (s->nbuf == DLE_CHUNK_MAX) { /* full: the next sample starts a new chunk */
    s->buf_seq += (int64_t)s->nbuf;
    s->nbuf = s->ncommitted = 0;
    dle_chunk_buf_truncate(s->buf, 0);
  }
  return DLE_OK;
}

/* Forgets the open chunk (after it was committed, or when its run is deleted). */
static void sq_reset_chunk(sq_store *s) {
  s->nbuf = s->ncommitted = 0;
  dle_chunk_buf_truncate(s->buf, 0);
  s->buf_run = -1;
}

static void sq_close(dle_store *st) {
  sq_store *s = (sq_store *)st;
  if (s->nbuf > s->ncommitted && s->put_chunk) sq_commit(st, NULL);
  dle_chunk_buf_free(s->buf);
  dle_chunk_free(s->rd_chunk);
  sqlite3_finalize(s->put_chunk);
  sqlite3_finalize(s->ins_run);
  sqlite3_finalize(s->upd_run);
  sqlite3_finalize(s->next_seq_q);
  sqlite3_finalize(s->has_run);
  sqlite3_finalize(s->put_epoch);
  sqlite3_finalize(s->put_meta);
  sqlite3_close_v2(s->db);
  free(s);
}

static int schema_version(sq_store *s, int *version, dle_error *err) {
  sqlite3_stmt *q = NULL;
  int rc = sq_prepare(s, "SELECT max(version) FROM schema_version", &q, err);
  if (rc) return rc;
  int r = sqlite3_step(q);
  if (r != SQLITE_ROW) {
    rc = sq_fail(s, r, "reading the schema version", err);
  } else {
    *version = sqlite3_column_type(q, 0) == SQLITE_NULL ? 0 : sqlite3_column_int(q, 0);
  }
  sqlite3_finalize(q);
  return rc;
}

static int set_schema_version(sq_store *s, int v, dle_error *err) {
  char sql[128];
  snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)",
           v);
  return sq_exec(s, sql, "recording the schema version", err);
}

static int sq_schema(sq_store *s, dle_error *err) {
  int rc = sq_begin(s, err);
  if (rc) return rc;
  rc = sq_exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
               "creating the schema", err);
  int v = 0;
  if (!rc) rc = schema_version(s, &v, err);
  if (!rc) rc = dle_store_check_schema_version(&s->base, v, err);
  if (!rc && v == 0) {
    for (int i = 0; !rc && SCHEMA_V1[i]; i++)
      rc = sq_exec(s, SCHEMA_V1[i], "creating the schema", err);
    if (!rc) rc = set_schema_version(s, 1, err);
    v = 1;
  }
  for (; !rc && v < DLE_STORE_SCHEMA_VERSION; v++) {
    if (MIGRATIONS[v]) rc = MIGRATIONS[v](s, err);
    if (!rc) rc = set_schema_version(s, v + 1, err);
  }
  return sq_finish(s, rc, err);
}

/* Writes one chunk row (migration). */
static int put_chunk_row(sq_store *s, sqlite3_stmt *ins, int64_t run_id, int64_t first_seq,
                         const dle_sample *v, size_t n, dle_error *err) {
  uint8_t *blob = NULL;
  size_t len = 0;
  int rc = dle_chunk_encode(v, n, &blob, &len, err);
  if (rc) return rc;
  sqlite3_bind_int64(ins, 1, run_id);
  sqlite3_bind_int64(ins, 2, first_seq);
  sqlite3_bind_int64(ins, 3, (sqlite3_int64)n);
  sqlite3_bind_blob(ins, 4, blob, (int)len, SQLITE_STATIC);
  rc = sq_step_done(s, ins, "migrating samples", err);
  free(blob);
  return rc;
}

/* Version 2: samples move from one row per sample (and per GPU) into compressed
 * column chunks; the two row tables are dropped. Every sample is rewritten, in
 * order, with its GPUs in their slots. */
static int migrate_v1_v2(sq_store *s, dle_error *err) {
  int rc = sq_exec(s,
                   "CREATE TABLE sample_chunks (run_id INTEGER NOT NULL,"
                   " first_seq INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,"
                   " PRIMARY KEY (run_id, first_seq))",
                   "migrating the schema", err);
  sqlite3_stmt *q = NULL, *ins = NULL;
  if (!rc)
    rc = sq_prepare(s,
                    "SELECT s.run_id, s.seq, s.t_s, s.wall_s, s.cpu_util_pct, s.rss_mib,"
                    " s.cpu_power_w, s.dram_power_w, s.ram_power_w, s.cpu_energy_counter_j,"
                    " s.dram_energy_counter_j, s.n_gpus, g.slot, g.device_index, g.power_w,"
                    " g.energy_counter_j, g.util_gpu_pct, g.util_mem_pct, g.mem_used_mib,"
                    " g.mem_total_mib, g.temp_c, g.power_limit_w"
                    " FROM samples s LEFT JOIN gpu_samples g ON g.run_id = s.run_id AND"
                    " g.seq = s.seq ORDER BY s.run_id, s.seq, g.slot",
                    &q, err);
  if (!rc)
    rc = sq_prepare(s,
                    "INSERT INTO sample_chunks (run_id, first_seq, n, data) VALUES (?,?,?,?)",
                    &ins, err);
  dle_sample *v = rc ? NULL : malloc(DLE_CHUNK_MAX * sizeof *v);
  if (!rc && !v) rc = dle_error_set(err, DLE_ENOMEM, "out of memory migrating samples");
  size_t n = 0;
  int64_t run = -1, seq = -1, first = 0;
  int r = SQLITE_DONE;
  while (!rc && (r = sqlite3_step(q)) == SQLITE_ROW) {
    int64_t rid = sqlite3_column_int64(q, 0), sq = sqlite3_column_int64(q, 1);
    if (rid != run || sq != seq) {
      if (n && (rid != run || n == DLE_CHUNK_MAX)) {
        if ((rc = put_chunk_row(s, ins, run, first, v, n, err))) break;
        n = 0;
      }
      if (n == 0) first = sq;
      run = rid;
      seq = sq;
      dle_sample *x = &v[n++];
      dle_sample_clear(x);
      x->t_s = col_real(q, 2);
      x->wall_s = col_real(q, 3);
      x->cpu_util_pct = col_real(q, 4);
      x->rss_mib = col_real(q, 5);
      x->cpu_power_w = col_real(q, 6);
      x->dram_power_w = col_real(q, 7);
      x->ram_power_w = col_real(q, 8);
      x->cpu_energy_counter_j = col_real(q, 9);
      x->dram_energy_counter_j = col_real(q, 10);
      x->n_gpus = dle_store_clamp_n_gpus(sqlite3_column_int(q, 11));
    }
    if (sqlite3_column_type(q, 12) == SQLITE_NULL) continue;
    int slot = sqlite3_column_int(q, 12);
    if (slot < 0 || slot >= DLE_MAX_GPUS) continue;
    dle_gpu_sample *g = &v[n - 1].gpu[slot];
    g->device_index = (uint32_t)sqlite3_column_int64(q, 13);
    g->power_w = col_real(q, 14);
    g->energy_counter_j = col_real(q, 15);
    g->util_gpu_pct = col_real(q, 16);
    g->util_mem_pct = col_real(q, 17);
    g->mem_used_mib = col_real(q, 18);
    g->mem_total_mib = col_real(q, 19);
    g->temp_c = col_real(q, 20);
    g->power_limit_w = col_real(q, 21);
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(s, r, "migrating samples", err);
  if (!rc && n) rc = put_chunk_row(s, ins, run, first, v, n, err);
  free(v);
  sqlite3_finalize(q);
  sqlite3_finalize(ins);
  if (!rc) rc = sq_exec(s, "DROP TABLE gpu_samples", "migrating the schema", err);
  if (!rc) rc = sq_exec(s, "DROP TABLE samples", "migrating the schema", err);
  return rc;
}

static int sq_create_run(dle_store *st, const dle_run_info *r, int64_t *id, dle_error *err) {
  sq_store *s = (sq_store *)st;
  int rc = sq_begin(s, err);
  if (!rc && !s->ins_run)
    rc = sq_prepare(s,
                    "INSERT INTO runs (status, source, host, command, start_wall_s, end_wall_s,"
                    " interval_s, exit_code, term_signal, epochs_planned, pue, carbon_g_per_kwh,"
                    " gpu_source, cpu_source, dram_source, ram_source)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    &s->ins_run, err);
  if (rc) return s->in_tx ? sq_abort(s, rc, err) : rc;
  sqlite3_stmt *q = s->ins_run;
  sqlite3_bind_int(q, 1, (int)r->status);
  sqlite3_bind_text(q, 2, r->source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 3, r->host, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 4, r->command, -1, SQLITE_TRANSIENT);
  bind_real(q, 5, r->start_wall_s);
  bind_real(q, 6, r->end_wall_s);
  bind_real(q, 7, r->interval_s);
  sqlite3_bind_int(q, 8, r->exit_code);
  sqlite3_bind_int(q, 9, r->term_signal);
  sqlite3_bind_int(q, 10, r->epochs_planned);
  bind_real(q, 11, r->pue);
  bind_real(q, 12, r->carbon_g_per_kwh);
  sqlite3_bind_text(q, 13, r->gpu_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 14, r->cpu_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 15, r->dram_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 16, r->ram_source, -1, SQLITE_TRANSIENT);
  rc = sq_step_done(s, q, "creating a run", err);
  if (rc) return sq_abort(s, rc, err);
  *id = (int64_t)sqlite3_last_insert_rowid(s->db);
  if (s->batch) s->batch_run = *id;
  return sq_end(s, err);
}

static int sq_update_run(dle_store *st, const dle_run_info *r, dle_error *err) {
  sq_store *s = (sq_store *)st;
  /* the samples land before the final status (in a batch, in the same transaction) */
  int rc = s->batch ? DLE_OK : sq_commit(st, err);
  if (!rc) rc = sq_begin(s, err);
  if (!rc && !s->upd_run)
    rc = sq_prepare(s,
                    "UPDATE runs SET status=?, end_wall_s=?, exit_code=?, term_signal=?,"
                    " epochs_planned=?, pue=?, carbon_g_per_kwh=?, gpu_source=?, cpu_source=?,"
                    " dram_source=?, ram_source=? WHERE id=?",
                    &s->upd_run, err);
  if (rc) return s->in_tx ? sq_abort(s, rc, err) : rc;
  sqlite3_stmt *q = s->upd_run;
  sqlite3_bind_int(q, 1, (int)r->status);
  bind_real(q, 2, r->end_wall_s);
  sqlite3_bind_int(q, 3, r->exit_code);
  sqlite3_bind_int(q, 4, r->term_signal);
  sqlite3_bind_int(q, 5, r->epochs_planned);
  bind_real(q, 6, r->pue);
  bind_real(q, 7, r->carbon_g_per_kwh);
  sqlite3_bind_text(q, 8, r->gpu_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 9, r->cpu_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 10, r->dram_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 11, r->ram_source, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(q, 12, r->id);
  rc = sq_step_done(s, q, "updating a run", err);
  if (rc) return sq_abort(s, rc, err);
  int changed = sqlite3_changes(s->db);
  rc = sq_end(s, err);
  if (!rc && changed != 1) rc = dle_store_no_run(st, r->id, err);
  return rc;
}

/* Checks that the run exists and caches its next sample number. */
static int sq_seq_for(sq_store *s, int64_t run_id, dle_error *err) {
  if (s->seq_run == run_id) return DLE_OK;
  int rc = s->next_seq_q ? DLE_OK
                         : sq_prepare(s,
                                      "SELECT (SELECT count(*) FROM runs WHERE id=?1),"
                                      " coalesce((SELECT first_seq + n FROM sample_chunks"
                                      " WHERE run_id=?1 ORDER BY first_seq DESC LIMIT 1), 0)",
                                      &s->next_seq_q, err);
  if (rc) return rc;
  sqlite3_stmt *q = s->next_seq_q;
  sqlite3_bind_int64(q, 1, run_id);
  int r = sqlite3_step(q);
  if (r != SQLITE_ROW) {
    rc = sq_fail(s, r, "finding the run", err);
  } else if (sqlite3_column_int(q, 0) == 0) {
    rc = dle_store_no_run(&s->base, run_id, err);
  } else {
    s->seq_run = run_id;
    s->next_seq = sqlite3_column_int64(q, 1);
  }
  sqlite3_reset(q);
  return rc;
}

static int run_exists(sq_store *s, int64_t run_id, dle_error *err);

static int sq_append(dle_store *st, int64_t run_id, const dle_sample *v, size_t n,
                     dle_error *err) {
  sq_store *s = (sq_store *)st;
  int rc;
  if (s->known_run != run_id) {
    if ((rc = run_exists(s, run_id, err))) return rc;
    s->known_run = run_id;
  }
  if (s->buf_run != run_id) {
    if (s->batch ? (rc = sq_write_chunk(s, err)) : (rc = sq_commit(st, err)))
      return s->batch ? sq_abort(s, rc, err) : rc;
    sq_reset_chunk(s);
  }
  if (!s->buf && !(s->buf = dle_chunk_buf_new()))
    return dle_error_set(err, DLE_ENOMEM, "out of memory buffering samples");
  s->buf_run = run_id;
  for (size_t i = 0; i < n; i++) {
    if ((rc = dle_chunk_buf_push(s->buf, &v[i], err))) return rc;
    s->nbuf++;
    st->pending++;
    if (s->nbuf < DLE_CHUNK_MAX) continue;
    if (!s->batch) {
      if ((rc = sq_commit(st, err))) return rc;
    } else if ((rc = sq_write_chunk(s, err))) {
      return sq_abort(s, rc, err);
    } else { /* sealed inside the batch */
      s->buf_seq += (int64_t)s->nbuf;
      s->nbuf = s->ncommitted = 0;
      dle_chunk_buf_truncate(s->buf, 0);
    }
  }
  return DLE_OK;
}

static int run_exists(sq_store *s, int64_t run_id, dle_error *err) {
  sqlite3_stmt *q = s->has_run;
  sqlite3_bind_int64(q, 1, run_id);
  int rc = DLE_OK, r = sqlite3_step(q);
  if (r == SQLITE_DONE)
    rc = dle_store_no_run(&s->base, run_id, err);
  else if (r != SQLITE_ROW)
    rc = sq_fail(s, r, "finding the run", err);
  sqlite3_reset(q);
  return rc;
}

/* Starts a write that needs the run: checks that it exists, then opens the transaction.
 * Inside a batch a run checked (or created) earlier in the same transaction is not
 * looked up again: an import writes dozens of metadata rows per run. */
static int sq_begin_run_write(sq_store *s, int64_t run_id, dle_error *err) {
  if (s->batch && s->in_tx && s->batch_run == run_id) return DLE_OK;
  int rc = run_exists(s, run_id, err);
  if (!rc) rc = sq_begin(s, err);
  if (!rc && s->batch) s->batch_run = run_id;
  return rc;
}

static int sq_set_meta(dle_store *st, int64_t run_id, const char *key, const char *value,
                       dle_error *err) {
  sq_store *s = (sq_store *)st;
  int rc = sq_begin_run_write(s, run_id, err);
  if (rc) return rc;
  sqlite3_bind_int64(s->put_meta, 1, run_id);
  sqlite3_bind_text(s->put_meta, 2, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s->put_meta, 3, value, -1, SQLITE_TRANSIENT);
  rc = sq_step_done(s, s->put_meta, "storing metadata", err);
  return sq_finish(s, rc, err);
}

static int sq_put_epoch(dle_store *st, int64_t run_id, const dle_epoch *e, dle_error *err) {
  sq_store *s = (sq_store *)st;
  int rc = sq_begin_run_write(s, run_id, err);
  if (rc) return rc;
  sqlite3_stmt *q = s->put_epoch;
  sqlite3_bind_int64(q, 1, run_id);
  sqlite3_bind_int(q, 2, e->index);
  bind_real(q, 3, e->t_begin_s);
  bind_real(q, 4, e->t_end_s);
  char metrics[sizeof e->metrics];
  dle_store_copy_str(metrics, sizeof metrics, e->metrics);
  sqlite3_bind_text(q, 5, metrics, -1, SQLITE_TRANSIENT);
  rc = sq_step_done(s, q, "storing an epoch", err);
  return sq_finish(s, rc, err);
}

static int sq_delete_run(dle_store *st, int64_t run_id, dle_error *err) {
  sq_store *s = (sq_store *)st;
  int rc = sq_begin_run_write(s, run_id, err);
  if (rc) return rc;
  static const char *const sql[] = {
      "DELETE FROM sample_chunks WHERE run_id=?",
      "DELETE FROM epochs WHERE run_id=?", "DELETE FROM meta WHERE run_id=?",
      "DELETE FROM runs WHERE id=?"};
  for (size_t i = 0; !rc && i < sizeof sql / sizeof *sql; i++) {
    sqlite3_stmt *q = NULL;
    rc = sq_prepare_run(s, sql[i], run_id, &q, err);
    if (rc) break;
    rc = sq_step_done(s, q, "deleting a run", err);
    sqlite3_finalize(q);
  }
  s->seq_run = -1; /* as sq_abort does on failure */
  s->known_run = -1;
  s->batch_run = -1;
  if (s->buf_run == run_id) sq_reset_chunk(s);
  return sq_finish(s, rc, err);
}

/* ---- reading ---- */

/* For reading one run's rows: checks that the run exists (a missing run is
 * DLE_ENOTFOUND, not an empty result), then prepares sql with ?1 = run_id. */
static int sq_prepare_run_rows(sq_store *s, const char *sql, int64_t run_id, sqlite3_stmt **q,
                               dle_error *err) {
  int rc = run_exists(s, run_id, err);
  return rc ? rc : sq_prepare_run(s, sql, run_id, q, err);
}

/* Fills elem, the next element of the caller's array, from the statement's current row. */
typedef int (*sq_row_reader)(sqlite3_stmt *q, void *elem, dle_error *err);

/* Steps q to its end, appending one elem_size element per row, filled by read_row, to a
 * growing array, then finalizes q. *rows and *n_rows get the array and the number of
 * elements it holds, on failure too (a row whose read_row failed included) so that the
 * caller can free them. */
static int sq_collect_rows(sq_store *s, sqlite3_stmt *q, size_t elem_size, sq_row_reader read_row,
                           const char *what, void **rows, size_t *n_rows, dle_error *err) {
  size_t cap = 0, len = 0;
  char *v = NULL;
  int rc = DLE_OK, r;
  while ((r = sqlite3_step(q)) == SQLITE_ROW) {
    if (len == cap) {
      cap = cap ? cap * 2 : 16;
      char *nv = realloc(v, cap * elem_size);
      if (!nv) {
        rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
        break;
      }
      v = nv;
    }
    if ((rc = read_row(q, v + elem_size * len++, err))) break;
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(s, r, what, err);
  sqlite3_finalize(q);
  *rows = v;
  *n_rows = len;
  return rc;
}

static int read_run_row(sqlite3_stmt *q, void *elem, dle_error *err) {
  (void)err;
  dle_run_info *x = elem;
  dle_run_info_init(x);
  x->id = sqlite3_column_int64(q, 0);
  x->status = (dle_run_status)sqlite3_column_int(q, 1);
  col_text(q, 2, x->source, sizeof x->source);
  col_text(q, 3, x->host, sizeof x->host);
  col_text(q, 4, x->command, sizeof x->command);
  x->start_wall_s = col_real(q, 5);
  x->end_wall_s = col_real(q, 6);
  x->interval_s = col_real(q, 7);
  x->exit_code = sqlite3_column_int(q, 8);
  x->term_signal = sqlite3_column_int(q, 9);
  x->epochs_planned = sqlite3_column_int(q, 10);
  x->pue = col_real(q, 11);
  x->carbon_g_per_kwh = col_real(q, 12);
  col_text(q, 13, x->gpu_source, sizeof x->gpu_source);
  col_text(q, 14, x->cpu_source, sizeof x->cpu_source);
  col_text(q, 15, x->dram_source, sizeof x->dram_source);
  col_text(q, 16, x->ram_source, sizeof x->ram_source);
  return DLE_OK;
}

static int sq_list_runs(dle_store *st, int64_t only_id, dle_run_info **out, size_t *n,
                        dle_error *err) {
  sq_store *s = (sq_store *)st;
  sqlite3_stmt *q = NULL;
  int rc = sq_prepare_run(s,
                          "SELECT id, status, source, host, command, start_wall_s, end_wall_s,"
                          " interval_s, exit_code, term_signal, epochs_planned, pue,"
                          " carbon_g_per_kwh, gpu_source, cpu_source, dram_source, ram_source"
                          " FROM runs WHERE ?1 < 0 OR id = ?1 ORDER BY id",
                          only_id, &q, err);
  if (rc) return rc;
  void *rows = NULL;
  size_t len = 0;
  rc = sq_collect_rows(s, q, sizeof **out, read_run_row, "listing runs", &rows, &len, err);
  if (rc) {
    free(rows);
    return rc;
  }
  *out = rows;
  *n = len;
  return DLE_OK;
}

static int sq_last_run(dle_store *st, int64_t *id, dle_error *err) {
  sq_store *s = (sq_store *)st;
  sqlite3_stmt *q = NULL;
  int rc = sq_prepare(s, "SELECT max(id) FROM runs", &q, err);
  if (rc) return rc;
  int r = sqlite3_step(q);
  if (r != SQLITE_ROW)
    rc = sq_fail(s, r, "finding the last run", err);
  else if (sqlite3_column_type(q, 0) == SQLITE_NULL)
    rc = dle_error_set(err, DLE_ENOTFOUND, "no runs");
  else
    *id = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return rc;
}

static int read_kv_row(sqlite3_stmt *q, void *elem, dle_error *err) {
  dle_kv *kv = elem;
  kv->key = strdup((const char *)sqlite3_column_text(q, 0));
  kv->value = strdup((const char *)sqlite3_column_text(q, 1));
  if (!kv->key || !kv->value) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  return DLE_OK;
}

static int sq_get_meta(dle_store *st, int64_t run_id, dle_kv **out, size_t *n,
                       dle_error *err) {
  sq_store *s = (sq_store *)st;
  sqlite3_stmt *q = NULL;
  int rc = sq_prepare_run_rows(s, "SELECT key, value FROM meta WHERE run_id=? ORDER BY key", run_id,
                               &q, err);
  if (rc) return rc;
  void *rows = NULL;
  size_t len = 0;
  rc = sq_collect_rows(s, q, sizeof **out, read_kv_row, "reading metadata", &rows, &len, err);
  if (rc) {
    dle_kv_free(rows, len);
    return rc;
  }
  *out = rows;
  *n = len;
  return DLE_OK;
}

static int read_run_id_row(sqlite3_stmt *q, void *elem, dle_error *err) {
  (void)err;
  *(int64_t *)elem = sqlite3_column_int64(q, 0);
  return DLE_OK;
}

static int sq_meta_match(dle_store *st, const char *key, const char *value, int64_t **ids,
                         size_t *n, dle_error *err) {
  sq_store *s = (sq_store *)st;
  sqlite3_stmt *q = NULL;
  int rc = sq_prepare(s, "SELECT run_id FROM meta WHERE key=? AND value=? ORDER BY run_id", &q,
                      err);
  if (rc) return rc;
  sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(q, 2, value, -1, SQLITE_TRANSIENT);
  void *rows = NULL;
  size_t len = 0;
  rc = sq_collect_rows(s, q, sizeof **ids, read_run_id_row, "filtering runs", &rows, &len, err);
  if (rc) {
    free(rows);
    return rc;
  }
  *ids = rows;
  *n = len;
  return DLE_OK;
}

/* The handle's decoded chunk, or a fresh one while it is in use. */
static dle_chunk *sq_take_chunk(sq_store *s) {
  if (!s->rd_chunk) s->rd_chunk = dle_chunk_new();
  if (s->rd_chunk && !s->rd_busy) {
    s->rd_busy = 1;
    return s->rd_chunk;
  }
  return dle_chunk_new();
}

static void sq_give_chunk(sq_store *s, dle_chunk *c) {
  if (c && c == s->rd_chunk)
    s->rd_busy = 0;
  else
    dle_chunk_free(c);
}

/* Streams one run's chunks, one decoded chunk in memory at a time. */
static int sq_foreach(dle_store *st, int64_t run_id, dle_store_sample_fn fn, void *ctx,
                      dle_error *err) {
  sq_store *s = (sq_store *)st;
  sqlite3_stmt *q = NULL;
  int rc = sq_prepare_run_rows(
      s, "SELECT n, data FROM sample_chunks WHERE run_id = ? ORDER BY first_seq", run_id, &q, err);
  if (rc) return rc;
  dle_sample *cur = malloc(sizeof *cur);
  dle_chunk *c = sq_take_chunk(s);
  if (!cur || !c) {
    free(cur);
    sq_give_chunk(s, c);
    sqlite3_finalize(q);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  dle_sample_clear(cur);
  int r = SQLITE_DONE;
  while (!rc && (r = sqlite3_step(q)) == SQLITE_ROW) {
    const uint8_t *blob = sqlite3_column_blob(q, 1);
    size_t len = (size_t)sqlite3_column_bytes(q, 1);
    int64_t n = sqlite3_column_int64(q, 0);
    rc = dle_chunk_decode(c, blob, len, n > 0 ? (size_t)n : 1, err);
    if (rc) {
      dle_error_prefix(err, "%s: run %" PRId64 ": ", st->location, run_id);
      break;
    }
    for (size_t i = 0; !rc && i < c->n; i++) {
      dle_chunk_next_sample(c, cur);
      rc = fn(ctx, cur, err);
    }
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(s, r, "reading samples", err);
  free(cur);
  sq_give_chunk(s, c);
  sqlite3_finalize(q);
  return rc;
}

static int read_epoch_row(sqlite3_stmt *q, void *elem, dle_error *err) {
  (void)err;
  dle_epoch *e = elem;
  e->index = sqlite3_column_int(q, 0);
  e->t_begin_s = col_real(q, 1);
  e->t_end_s = col_real(q, 2);
  col_text(q, 3, e->metrics, sizeof e->metrics);
  return DLE_OK;
}

static int sq_load_epochs(dle_store *st, int64_t run_id, dle_epoch **out, size_t *n,
                          dle_error *err) {
  sq_store *s = (sq_store *)st;
  sqlite3_stmt *q = NULL;
  int rc = sq_prepare_run_rows(s,
                               "SELECT idx, t_begin_s, t_end_s, metrics FROM epochs WHERE run_id=?"
                               " ORDER BY idx",
                               run_id, &q, err);
  if (rc) return rc;
  void *rows = NULL;
  size_t len = 0;
  rc = sq_collect_rows(s, q, sizeof **out, read_epoch_row, "reading epochs", &rows, &len, err);
  if (rc) {
    free(rows);
    return rc;
  }
  *out = rows;
  *n = len;
  return DLE_OK;
}

static int sq_count(dle_store *st, int64_t run_id, int64_t *n, dle_error *err) {
  sq_store *s = (sq_store *)st;
  sqlite3_stmt *q = NULL;
  int rc = sq_prepare_run_rows(s, "SELECT coalesce(sum(n), 0) FROM sample_chunks WHERE run_id=?", run_id, &q, err);
  if (rc) return rc;
  int r = sqlite3_step(q);
  if (r == SQLITE_ROW)
    *n = sqlite3_column_int64(q, 0);
  else
    rc = sq_fail(s, r, "counting samples", err);
  sqlite3_finalize(q);
  return rc;
}

static int sq_begin_batch(dle_store *st, dle_error *err) {
  sq_store *s = (sq_store *)st;
  int rc = s->nbuf > s->ncommitted ? sq_commit(st, err) : DLE_OK;
  if (!rc) rc = sq_begin(s, err);
  if (!rc) s->batch = 1;
  return rc;
}

static const dle_store_ops SQLITE_OPS = {
    .begin = sq_begin_batch,
    .name = "sqlite",
    .close = sq_close,
    .create_run = sq_create_run,
    .update_run = sq_update_run,
    .set_meta = sq_set_meta,
    .append_samples = sq_append,
    .put_epoch = sq_put_epoch,
    .commit = sq_commit,
    .delete_run = sq_delete_run,
    .list_runs = sq_list_runs,
    .last_run = sq_last_run,
    .get_meta = sq_get_meta,
    .meta_match = sq_meta_match,
    .foreach_sample = sq_foreach,
    .load_epochs = sq_load_epochs,
    .count_samples = sq_count,
};

static int sq_pragmas(sq_store *s, dle_error *err) {
  sqlite3_busy_timeout(s->db, 10000);
  /* journal_mode returns the mode now in force; a file system without shared
   * memory falls back to a rollback journal, which is still correct.
   * Switching a new file to WAL needs an exclusive lock, and when several
   * processes create the same store at once SQLite can answer SQLITE_BUSY here
   * without calling the busy handler; so retry for as long as the busy timeout
   * (10 s), 10 ms apart. */
  /* A new file gets 8 KiB pages (an existing one keeps its own): a chunk blob spans
   * half as many pages, and an import writes half as many WAL frames (one pwrite
   * each); 16 KiB saves little more CPU and wastes more of each blob's last page. */
  sqlite3_exec(s->db, "PRAGMA page_size=8192", NULL, NULL, NULL);
  int rc = SQLITE_BUSY;
  for (int tries = 0; tries < 1000 && (rc & 0xff) == SQLITE_BUSY; tries++) {
    rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    if ((rc & 0xff) == SQLITE_BUSY) sqlite3_sleep(10);
  }
  if (rc != SQLITE_OK) return sq_fail(s, rc, "opening", err);
  return sq_exec(s, "PRAGMA synchronous=NORMAL", "opening", err);
}

int dle_store_open_sqlite(const char *path, dle_store **out, dle_error *err) {
  sq_store *s = calloc(1, sizeof *s);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  s->base.ops = &SQLITE_OPS;
  s->seq_run = -1;
  s->known_run = -1;
  s->batch_run = -1;
  s->buf_run = -1;
  dle_store_copy_str(s->base.location, sizeof s->base.location, path);
  /* URI filenames let tests pick a fault-injecting VFS ("file:x.db?vfs=...");
   * a plain path is unaffected. */
  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI |
                               SQLITE_OPEN_NOMUTEX,
                           NULL);
  if (rc != SQLITE_OK) {
    rc = sq_fail(s, rc, "cannot open", err);
    sq_close(&s->base);
    return rc;
  }
  sqlite3_extended_result_codes(s->db, 1);
  if (sqlite3_db_readonly(s->db, "main") == 1) {
    /* SQLite falls back to read-only silently when the file is not writable. */
    rc = dle_error_set(err, DLE_EIO, "%s: the file is read-only (the run store must be writable)",
                       path);
    sq_close(&s->base);
    return rc;
  }
  rc = sq_pragmas(s, err);
  if (!rc) rc = sq_schema(s, err);
  if (!rc)
    rc = sq_prepare(s,
                    "INSERT OR REPLACE INTO sample_chunks (run_id, first_seq, n, data)"
                    " VALUES (?,?,?,?)",
                    &s->put_chunk, err);
  if (!rc) rc = sq_prepare(s, "SELECT 1 FROM runs WHERE id=?", &s->has_run, err);
  if (!rc)
    rc = sq_prepare(s,
                    "INSERT INTO epochs (run_id, idx, t_begin_s, t_end_s, metrics)"
                    " VALUES (?,?,?,?,?) ON CONFLICT (run_id, idx) DO UPDATE SET"
                    " t_begin_s=excluded.t_begin_s, t_end_s=excluded.t_end_s,"
                    " metrics=excluded.metrics",
                    &s->put_epoch, err);
  if (!rc)
    rc = sq_prepare(s,
                    "INSERT INTO meta (run_id, key, value) VALUES (?,?,?)"
                    " ON CONFLICT (run_id, key) DO UPDATE SET value=excluded.value",
                    &s->put_meta, err);
  if (rc) {
    sq_close(&s->base);
    return rc;
  }
  *out = &s->base;
  return DLE_OK;
}
