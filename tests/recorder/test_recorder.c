/* The recorder on its own (no CLI): a run recorded in-process with procfs sensors
 * (modelled CPU and RAM of this process), read back from the SQLite store: the row's
 * end status, the epochs with their metrics, every drained sample in the store and in
 * the trace, metadata, the planned-epochs rule, and errors that name their cause. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/recorder.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void cpu_config(dle_recorder_config *c, const char *db) {
  dle_recorder_config_init(c);
  c->db = db;
  c->sampler.sensors.enable_nvml = false;
  c->sampler.sensors.enable_rapl = false;
  c->sampler.sensors.enable_procfs = true;
  c->sampler.sensors.root_pid = getpid();
  c->sampler.interval_s = 0.02;
}

typedef struct counts {
  size_t samples;
  int store_failures;
} counts;

static void count_sample(const dle_sample *s, void *user) {
  (void)s;
  ((counts *)user)->samples++;
}

static void count_failure(const char *msg, void *user) {
  (void)msg;
  ((counts *)user)->store_failures++;
}

static void test_record(const char *dir) {
  char db[512];
  snprintf(db, sizeof db, "%s/rec.db", dir);
  char *meta[] = {"model=resnet18", "batch=64", NULL};
  dle_recorder_config c;
  cpu_config(&c, db);
  c.source = "python";
  c.host = "node-a";
  c.command = "train.py --fast";
  c.country = "FRA";
  c.epochs_planned = 3;
  c.meta = meta;
  counts k = {0, 0};
  c.on_sample = count_sample;
  c.on_store_failed = count_failure;
  c.user = &k;
  dle_recorder *r = NULL;
  dle_error e;
  CHECK_OK(dle_recorder_begin(&c, &r, &e), &e);
  if (!r) return;
  int64_t id = dle_recorder_run_id(r);
  CHECK(id > 0);
  CHECK(strcmp(dle_recorder_host(r), "node-a") == 0);
  CHECK(dle_recorder_info(r)->status == DLE_RUN_RUNNING);
  CHECK_OK(dle_recorder_start(r, &e), &e);
  dle_recorder_epoch_begin(r, 1, 0.0);
  sleep_ms(150);
  dle_recorder_drain(r);
  CHECK(dle_recorder_epoch_end(r, 1, 0.15, "loss=0.5 acc=0.8"));
  CHECK(!dle_recorder_epoch_end(r, 1, 0.2, "loss=0.1")); /* already ended */
  dle_recorder_epoch_begin(r, 2, 0.15);
  dle_recorder_set_epochs_total(r, 9); /* cfg said 3: ignored */
  CHECK(dle_recorder_epochs_total(r) == 3);
  sleep_ms(150);
  CHECK(dle_recorder_epoch_end(r, 2, 0.3, NULL));
  dle_recorder_set_meta(r, "note", "in-process");
  dle_recorder_stop(r);
  dle_recorder_drain(r);
  CHECK_OK(dle_recorder_finish(r, DLE_RUN_COMPLETE, 0, 0), &e);
  CHECK(dle_recorder_store_failed(r) == NULL);
  CHECK(k.store_failures == 0);

  const dle_trace *t = dle_recorder_trace(r);
  CHECK_MSG(t->n >= 5, "only %zu samples", t->n);
  CHECK(k.samples == t->n);
  double j = dle_recorder_energy_between_j(r, t->t_s[0], t->t_s[t->n - 1]);
  CHECK_MSG(isfinite(j) && j > 0, "energy %g J", j); /* modelled CPU + RAM */
  size_t n_ep = 0;
  const dle_epoch *ep = dle_recorder_epochs(r, &n_ep);
  CHECK(n_ep == 2);
  CHECK(dle_recorder_epoch_pos(r, 2) == 1);
  CHECK(dle_recorder_epoch_pos(r, 7) == SIZE_MAX);
  if (n_ep == 2) CHECK(strcmp(ep[0].metrics, "loss=0.5 acc=0.8") == 0);

  /* What the store holds is what the recorder saw. */
  dle_store *st = dle_recorder_store(r);
  int64_t n_stored = -1;
  CHECK_OK(dle_store_count_samples(st, id, &n_stored, &e), &e);
  CHECK_MSG(n_stored == (int64_t)t->n, "%lld stored, %zu in the trace", (long long)n_stored, t->n);
  dle_recorder_free(r);

  CHECK_OK(dle_store_open(db, &st, &e), &e);
  dle_run_info info;
  CHECK_OK(dle_store_get_run(st, id, &info, &e), &e);
  CHECK(info.status == DLE_RUN_COMPLETE);
  CHECK(info.exit_code == 0);
  CHECK(strcmp(info.source, "python") == 0);
  CHECK(strcmp(info.command, "train.py --fast") == 0);
  CHECK(info.epochs_planned == 3);
  CHECK(isfinite(info.end_wall_s) && info.end_wall_s >= info.start_wall_s);
  dle_epoch *sep = NULL;
  size_t n_sep = 0;
  CHECK_OK(dle_store_load_epochs(st, id, &sep, &n_sep, &e), &e);
  CHECK(n_sep == 2);
  if (n_sep == 2) {
    CHECK_NEAR(sep[0].t_end_s, 0.15, 1e-9);
    CHECK_NEAR(sep[1].t_begin_s, 0.15, 1e-9);
    CHECK(strcmp(sep[0].metrics, "loss=0.5 acc=0.8") == 0);
  }
  free(sep);
  dle_kv *kv = NULL;
  size_t n_kv = 0;
  CHECK_OK(dle_store_get_meta(st, id, &kv, &n_kv, &e), &e);
  const char *v = dle_kv_get(kv, n_kv, "model");
  CHECK(v && strcmp(v, "resnet18") == 0);
  v = dle_kv_get(kv, n_kv, "country");
  CHECK(v && strcmp(v, "FRA") == 0);
  v = dle_kv_get(kv, n_kv, "note");
  CHECK(v && strcmp(v, "in-process") == 0);
  v = dle_kv_get(kv, n_kv, "epochs_total");
  CHECK(v && strcmp(v, "3") == 0);
  CHECK(dle_kv_get(kv, n_kv, "sampler_cpu_s") != NULL); /* end-of-run metadata */
  dle_kv_free(kv, n_kv);
  dle_store_close(st);
}

/* The command never ran: the run is recorded as failed with the error. */
static void test_abort(const char *dir) {
  char db[512];
  snprintf(db, sizeof db, "%s/abort.db", dir);
  dle_recorder_config c;
  cpu_config(&c, db);
  dle_recorder *r = NULL;
  dle_error e;
  CHECK_OK(dle_recorder_begin(&c, &r, &e), &e);
  if (!r) return;
  int64_t id = dle_recorder_run_id(r);
  dle_recorder_abort(r, 127, "no such command");
  dle_recorder_free(r);
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(db, &st, &e), &e);
  dle_run_info info;
  CHECK_OK(dle_store_get_run(st, id, &info, &e), &e);
  CHECK(info.status == DLE_RUN_FAILED);
  CHECK(info.exit_code == 127);
  dle_kv *kv = NULL;
  size_t n_kv = 0;
  CHECK_OK(dle_store_get_meta(st, id, &kv, &n_kv, &e), &e);
  const char *v = dle_kv_get(kv, n_kv, "error");
  CHECK(v && strcmp(v, "no such command") == 0);
  dle_kv_free(kv, n_kv);
  dle_store_close(st);
}

/* A store that cannot be opened fails begin with the store's message, nothing leaks. */
static void test_bad_store(const char *dir) {
  char db[512];
  snprintf(db, sizeof db, "%s/missing-dir/x.db", dir);
  dle_recorder_config c;
  cpu_config(&c, db);
  dle_recorder *r = (dle_recorder *)&c; /* must be reset to NULL */
  dle_error e;
  CHECK(dle_recorder_begin(&c, &r, &e) != DLE_OK);
  CHECK(r == NULL);
  CHECK_MSG(e.msg[0] != '\0', "no message");
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[512];
  snprintf(dir, sizeof dir, "%s/dle-recorder-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) SKIP("no temporary folder");
  test_record(dir);
  test_abort(dir);
  test_bad_store(dir);
  char cmd_path[600];
  const char *files[] = {"rec.db", "rec.db-wal", "rec.db-shm", "abort.db", "abort.db-wal",
                         "abort.db-shm"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(cmd_path, sizeof cmd_path, "%s/%s", dir, files[i]);
    unlink(cmd_path);
  }
  rmdir(dir);
  return check_finish();
}
