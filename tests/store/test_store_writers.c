/* Concurrent writers on one store: test_store_writers sqlite|pg [N [fresh]]
 * N processes (default 8) each open the store, create a run, append samples in
 * uneven batches at ~100 Hz for ~2 s with a few epochs and metadata, mark the run
 * complete and report over a pipe how many samples they appended. Checks: every
 * run id distinct, every run complete, each run's sample count equal to its
 * writer's own counter, and the stored samples equal what that writer wrote. */
#include <inttypes.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/store.h"
#include "store/store_internal.h"
#include "store_fixture.h"

enum { MAX_WRITERS = 32 };

struct report {
  int64_t run_id;
  int64_t appended;
  int status; /* 0 ok, else the failing step */
  char msg[200];
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void writer(const char *loc, int w, const char *tag, int fd) {
  struct report rep = {.run_id = -1};
  dle_error e = {0};
  dle_store *st = NULL;
  int rc = dle_store_open(loc, &st, &e);
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.host, sizeof info.host, "host-%d", w);
  snprintf(info.command, sizeof info.command, "writer %d", w);
  if (!rc) rc = dle_store_create_run(st, &info, &rep.run_id, &e);
  char wv[16];
  snprintf(wv, sizeof wv, "%d", w);
  if (!rc) rc = dle_store_set_meta(st, rep.run_id, "writer", wv, &e);
  if (!rc) rc = dle_store_set_meta(st, rep.run_id, "tag", tag, &e);
  double t0 = now_s();
  uint32_t k = 0;
  int batch = 1 + w % 5;
  int epoch = 0;
  while (!rc && now_s() - t0 < 2.0) {
    dle_sample v[8];
    for (int i = 0; i < batch; i++) fixture_sample(&v[i], k + (uint32_t)i);
    rc = dle_store_append_samples(st, rep.run_id, v, (size_t)batch, &e);
    if (rc) break;
    k += (uint32_t)batch;
    rep.appended = k;
    if (k / 50 > (uint32_t)epoch) {
      dle_epoch ep = {.index = epoch, .t_begin_s = epoch * 0.5, .t_end_s = epoch * 0.5 + 0.5};
      rc = dle_store_put_epoch(st, rep.run_id, &ep, &e);
      epoch++;
    }
    batch = batch % 7 + 1;
    usleep(10000);
  }
  if (!rc) {
    info.id = rep.run_id;
    info.status = DLE_RUN_COMPLETE;
    info.exit_code = 0;
    info.end_wall_s = 1.8e9;
    rc = dle_store_update_run(st, &info, &e);
  }
  if (rc) {
    rep.status = rc;
    snprintf(rep.msg, sizeof rep.msg, "%s", e.msg);
  }
  dle_store_close(st);
  if (write(fd, &rep, sizeof rep) != (ssize_t)sizeof rep) _exit(2);
  _exit(0);
}

struct walk {
  uint32_t k;
  int bad;
};
static int check_walk(void *ctx, const dle_sample *s, dle_error *err) {
  (void)err;
  struct walk *w = ctx;
  dle_sample want;
  fixture_sample(&want, w->k++);
  if (!same_sample(&want, s)) w->bad++;
  return 0;
}

int main(int argc, char **argv) {
  const char *which = argc > 1 ? argv[1] : "sqlite";
  int nw = argc > 2 ? atoi(argv[2]) : 8;
  if (nw < 1 || nw > MAX_WRITERS) nw = 8;
  char loc[1024];
  if (strcmp(which, "pg") == 0) {
    const char *uri = getenv("DLE_PG_URI");
    if (!uri || !*uri) SKIP("DLE_PG_URI not set (run through with_pg.sh)");
    snprintf(loc, sizeof loc, "%s", uri);
  } else {
    snprintf(loc, sizeof loc, "writers.db");
    unlink("writers.db");
    unlink("writers.db-wal");
    unlink("writers.db-shm");
  }
  char tag[64];
  snprintf(tag, sizeof tag, "writers-%ld", (long)getpid());
  /* "fresh": the writers race to create the schema of a new store themselves;
   * otherwise it is created once first, as the first `dlenergy run` would. */
  int fresh = argc > 3 && strcmp(argv[3], "fresh") == 0;
  dle_error e = {0};
  dle_store *st = NULL;
  if (!fresh) {
    CHECK_OK(dle_store_open(loc, &st, &e), &e);
    if (!st) return check_finish();
    dle_store_close(st);
  }

  int fds[MAX_WRITERS];
  pid_t pids[MAX_WRITERS];
  fflush(NULL);
  for (int w = 0; w < nw; w++) {
    int p[2];
    if (pipe(p) != 0) return 1;
    pids[w] = fork();
    if (pids[w] == 0) {
      close(p[0]);
      writer(loc, w, tag, p[1]);
    }
    close(p[1]);
    fds[w] = p[0];
  }
  struct report reps[MAX_WRITERS];
  for (int w = 0; w < nw; w++) {
    memset(&reps[w], 0, sizeof reps[w]);
    ssize_t r = read(fds[w], &reps[w], sizeof reps[w]);
    close(fds[w]);
    int status = 0;
    waitpid(pids[w], &status, 0);
    CHECK_MSG(r == (ssize_t)sizeof reps[w] && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "writer %d did not report", w);
    CHECK_MSG(reps[w].status == 0, "writer %d failed: %s", w, reps[w].msg);
  }

  st = NULL;
  CHECK_OK(dle_store_open(loc, &st, &e), &e);
  if (!st) return check_finish();
  int64_t total = 0;
  for (int w = 0; w < nw; w++) {
    for (int o = 0; o < w; o++)
      CHECK_MSG(reps[w].run_id != reps[o].run_id, "writers %d and %d share run id %" PRId64, w,
                o, reps[w].run_id);
    dle_run_info r;
    CHECK_OK(dle_store_get_run(st, reps[w].run_id, &r, &e), &e);
    CHECK(r.status == DLE_RUN_COMPLETE);
    int64_t n = -1;
    CHECK_OK(dle_store_count_samples(st, reps[w].run_id, &n, &e), &e);
    CHECK_MSG(n == reps[w].appended && n > 0, "writer %d: %" PRId64 " stored, %" PRId64
              " appended", w, n, reps[w].appended);
    struct walk wk = {0};
    CHECK_OK(dle_store_foreach_sample(st, reps[w].run_id, check_walk, &wk, &e), &e);
    CHECK(wk.bad == 0 && (int64_t)wk.k == reps[w].appended);
    total += n;
  }
  char filt[128];
  snprintf(filt, sizeof filt, "tag=%s,status=complete", tag);
  int64_t *ids = NULL;
  size_t nids = 0;
  CHECK_OK(dle_store_select_runs(st, filt, &ids, &nids, &e), &e);
  CHECK((int)nids == nw);
  free(ids);
  dle_store_close(st);
  printf("%d writers on %s: %" PRId64 " samples, all present\n", nw, which, total);
  return check_finish();
}
