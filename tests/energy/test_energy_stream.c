/* Streamed run figures (dle_energy_stream, dle_energy_summarize_run) against the
 * whole-trace ones (dle_energy_summarize, dle_energy_per_epoch on the trace
 * dle_store_load_trace builds), bit for bit, on random runs with what the merge
 * rules are about (docs/energy.md): GPUs missing readings while others read
 * (bridged), rows where no GPU reads (holes), GPUs appearing late and lost early,
 * counters with resets and gaps, GPUs without counters, headline subsets, NaN CPU and
 * RAM samples, repeated times, epochs with missing begins, open ends and windows
 * outside the run; then the same through a SQLite store. */
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/energy.h"
#include "dlenergy/store.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double urand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0;
}
static int irand(int n) { return (int)(urand() * n); }

typedef struct scenario {
  dle_sample *s;
  size_t n;
  dle_epoch ep[8];
  size_t n_ep;
  uint32_t head[4];
  size_t n_head;
} scenario;

/* A random run; kind picks the shape (see the switch). */
static void make(scenario *sc, int kind) {
  memset(sc, 0, sizeof *sc);
  size_t n = 1 + (size_t)irand(kind == 0 ? 40 : 2500);
  sc->s = calloc(n, sizeof *sc->s);
  sc->n = n;
  int ngpu = irand(5);
  uint32_t idx[4] = {0, 2, 3, 7};
  int has_counter[4], late[4], lost[4];
  double counter[4] = {0}, cpu_c = 0;
  for (int g = 0; g < 4; g++) {
    has_counter[g] = urand() < 0.7;
    late[g] = urand() < 0.2 ? irand((int)n) : 0;
    lost[g] = urand() < 0.15 ? irand((int)n) : (int)n;
  }
  double gap_p = urand() < 0.5 ? 0.05 : 0.0, hole_p = urand() < 0.5 ? 0.02 : 0.0;
  int rapl = urand() < 0.3;
  double t = urand() * 5;
  for (size_t i = 0; i < n; i++) {
    dle_sample *s = &sc->s[i];
    dle_sample_clear(s);
    if (i && urand() > 0.05) t += urand() < 0.1 ? 0.5 + urand() * 3 : 0.1; /* some repeats */
    s->t_s = t;
    s->wall_s = 1.7e9 + t;
    s->cpu_util_pct = urand() < 0.05 ? NAN : 50 * urand();
    s->rss_mib = 1000 + irand(100);
    s->cpu_power_w = urand() < 0.05 ? NAN : 20 + irand(3000) / 100.0;
    s->ram_power_w = urand() < 0.03 ? NAN : 0.375 * s->rss_mib / 1024.0;
    s->dram_power_w = rapl ? (urand() < 0.05 ? NAN : 5 + urand()) : NAN;
    if (rapl) {
      cpu_c += 3 * urand();
      s->cpu_energy_counter_j = urand() < 0.05 ? NAN : cpu_c;
      s->dram_energy_counter_j = urand() < 0.05 ? NAN : cpu_c / 4;
    }
    bool hole = urand() < hole_p;
    uint32_t ng = (uint32_t)ngpu;
    if (ngpu > 1 && urand() < 0.02) ng = (uint32_t)ngpu - 1; /* a GPU absent from the row */
    s->n_gpus = ng;
    for (uint32_t g = 0; g < ng; g++) {
      dle_gpu_sample *gs = &s->gpu[g];
      gs->device_index = idx[g];
      double w = 100 + irand(20000) / 100.0;
      counter[g] += 0.1 * w;
      if (urand() < 0.01) counter[g] = irand(100); /* driver reload */
      bool on = (int)i >= late[g] && (int)i < lost[g] && !hole && urand() >= gap_p;
      gs->power_w = on ? w : NAN;
      gs->energy_counter_j = has_counter[g] && (on || urand() < 0.3) ? counter[g] : NAN;
      gs->util_gpu_pct = on ? irand(100) : NAN;
      gs->temp_c = on ? 40 + irand(40) : NAN;
      gs->mem_used_mib = 1000;
      gs->power_limit_w = 300;
    }
  }
  /* headline: all, or a subset */
  if (ngpu > 1 && urand() < 0.4) {
    sc->head[sc->n_head++] = idx[irand(ngpu)];
    if (urand() < 0.5) sc->head[sc->n_head++] = 7; /* maybe a device not in the trace */
  }
  /* epochs over the run, some boundaries missing, maybe an open last one */
  sc->n_ep = (size_t)irand(7);
  double t0 = sc->s[0].t_s, t1 = sc->s[n - 1].t_s, span = t1 - t0 + 1;
  double b = t0 - (urand() < 0.2 ? 1 : 0);
  for (size_t k = 0; k < sc->n_ep; k++) {
    dle_epoch *e = &sc->ep[k];
    e->index = (int32_t)k;
    double len = span / (double)sc->n_ep * (0.5 + urand());
    e->t_begin_s = urand() < 0.3 ? NAN : b;
    e->t_end_s = b + len;
    if (k + 1 == sc->n_ep && urand() < 0.3) e->t_end_s = NAN;
    b += len;
  }
  if (kind == 2 && sc->n_ep) sc->ep[0].t_begin_s = t1 + 5; /* windows after the run */
}

static bool same(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* The figures from the whole trace. */
static int by_trace(const scenario *sc, dle_energy_summary *sum, double *ej[DLE_COMP_COUNT],
                    double *util, double *temp, dle_error *err) {
  dle_trace tr = {0};
  int rc = 0;
  for (size_t i = 0; !rc && i < sc->n; i++) rc = dle_trace_append(&tr, &sc->s[i], err);
  if (!rc) dle_trace_select_gpus(&tr, sc->head, sc->n_head);
  if (!rc) rc = dle_energy_summarize(&tr, NULL, sum, err);
  for (int c = 0; !rc && c < DLE_COMP_COUNT; c++)
    rc = dle_energy_per_epoch(&tr, sc->ep, sc->n_ep, (dle_component)c, ej[c], err);
  double su = 0, st = 0;
  size_t nu = 0, nt = 0;
  for (size_t i = 0; i < tr.n; i++) {
    if (isfinite(tr.gpu_util_pct[i])) su += tr.gpu_util_pct[i], nu++;
    if (isfinite(tr.gpu_temp_c[i])) st += tr.gpu_temp_c[i], nt++;
  }
  *util = nu ? su / (double)nu : NAN;
  *temp = nt ? st / (double)nt : NAN;
  dle_trace_free(&tr);
  return rc;
}

static int streamed_runs, fallback_runs;

/* The rows the stream hands out, kept to compare with the trace's columns. */
typedef struct rows {
  dle_energy_row *r;
  size_t n, cap;
} rows;
static int keep_row(void *ctx, const dle_energy_row *row, dle_error *err) {
  rows *k = ctx;
  if (k->n == k->cap) {
    k->cap = k->cap ? 2 * k->cap : 256;
    dle_energy_row *p = realloc(k->r, k->cap * sizeof *p);
    if (!p) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    k->r = p;
  }
  k->r[k->n++] = *row;
  return 0;
}

/* Every row equals the trace's row, column by column, bit for bit. */
static void compare_rows(const scenario *sc, const rows *k, int id) {
  dle_error err = {0};
  dle_trace tr = {0};
  for (size_t i = 0; i < sc->n; i++) CHECK_OK(dle_trace_append(&tr, &sc->s[i], &err), &err);
  dle_trace_select_gpus(&tr, sc->head, sc->n_head);
  CHECK_MSG(k->n == tr.n, "run %d: %zu rows streamed, trace %zu", id, k->n, tr.n);
  size_t bad = 0;
  for (size_t i = 0; i < k->n && i < tr.n; i++) {
    const dle_energy_row *r = &k->r[i];
    bad += !same(r->t_s, tr.t_s[i]) || !same(r->gpu_power_w, tr.gpu_power_w[i]) ||
           !same(r->cpu_power_w, tr.cpu_power_w[i]) || !same(r->dram_power_w, tr.dram_power_w[i]) ||
           !same(r->ram_power_w, tr.ram_power_w[i]) || !same(r->gpu_util_pct, tr.gpu_util_pct[i]) ||
           !same(r->gpu_power_limit_w, tr.gpu_power_limit_w[i]) ||
           !same(r->cpu_util_pct, tr.cpu_util_pct[i]) || !same(r->rss_mib, tr.rss_mib[i]);
  }
  CHECK_MSG(bad == 0, "run %d: %zu streamed rows differ from the trace", id, bad);
  dle_trace_free(&tr);
}

static size_t spilled_runs;

/* mem_rows: the stream's in-memory row limit (0: the default); a small one makes
 * every gap longer than it go through the spill file. */
static void compare(const scenario *sc, int id, size_t mem_rows) {
  dle_error err = {0};
  double a[DLE_COMP_COUNT][8], b[DLE_COMP_COUNT][8];
  double *ea[DLE_COMP_COUNT], *eb[DLE_COMP_COUNT];
  for (int c = 0; c < DLE_COMP_COUNT; c++) ea[c] = a[c], eb[c] = b[c];
  dle_energy_summary sa, sb;
  double ua, ta;
  int rca = by_trace(sc, &sa, ea, &ua, &ta, &err);
  dle_energy_stream *s = NULL;
  CHECK_OK(dle_energy_stream_new(sc->head, sc->n_head, sc->ep, sc->n_ep, &s, &err), &err);
  if (mem_rows) dle_energy_stream_set_memory_rows(s, mem_rows);
  rows kept = {0};
  dle_energy_stream_on_row(s, keep_row, &kept);
  int rc = 0;
  for (size_t i = 0; !rc && i < sc->n; i++) rc = dle_energy_stream_add(s, &sc->s[i], &err);
  dle_energy_stream_result res;
  if (!rc) rc = dle_energy_stream_finish(s, &res, eb, &err);
  if (!rc && dle_energy_stream_spilled(s)) spilled_runs++;
  dle_energy_stream_free(s);
  if (rc == 0) compare_rows(sc, &kept, id);
  free(kept.r);
  if (rc == DLE_EUNSUPPORTED) {
    if (getenv("DLE_TEST_VERBOSE")) printf("run %d: %s\n", id, err.msg);
    if (!mem_rows) fallback_runs++;
    return;
  }
  if (!mem_rows) streamed_runs++;
  CHECK_MSG(rc == 0 && rca == 0, "run %d: stream %d, trace %d: %s", id, rc, rca, err.msg);
  if (rc || rca) return;
  dle_energy_compose(&res.parts, NULL, &sb);
  CHECK_MSG(memcmp(&sa, &sb, sizeof sa) == 0,
            "run %d (%zu samples, %u GPUs): summaries differ: gpu %.17g/%.17g cpu %.17g/%.17g "
            "ram %.17g/%.17g gpu mean %.17g/%.17g counter %.17g/%.17g", id, sc->n, sa.n_devices,
            sa.energy_j[0], sb.energy_j[0], sa.energy_j[1], sb.energy_j[1], sa.energy_j[3],
            sb.energy_j[3], sa.sample_mean_w[0], sb.sample_mean_w[0], sa.gpu_counter_j,
            sb.gpu_counter_j);
  for (size_t k = 0; k < sc->n_ep; k++)
    for (int c = 0; c < DLE_COMP_COUNT; c++)
      CHECK_MSG(same(a[c][k], b[c][k]), "run %d epoch %zu %s: trace %.17g stream %.17g", id, k,
                dle_component_name((dle_component)c), a[c][k], b[c][k]);
  CHECK_MSG(same(ua, res.gpu_util_mean_pct) && same(ta, res.gpu_temp_mean_c),
            "run %d: util %.17g/%.17g temp %.17g/%.17g", id, ua, res.gpu_util_mean_pct, ta,
            res.gpu_temp_mean_c);
  CHECK(same(res.t_first_s, sc->s[0].t_s) && same(res.t_last_s, sc->s[sc->n - 1].t_s));
}

static void test_random(void) {
  for (int i = 0; i < 600; i++) {
    scenario sc;
    make(&sc, i % 10 == 0 ? 0 : i % 10 == 1 ? 2 : 1);
    compare(&sc, i, 0);
    compare(&sc, i, 2 + (size_t)(i * 7) % 40); /* again, spilling after 2..41 rows */
    free(sc.s);
  }
  printf("random runs: %d streamed, %d left to the whole trace; %zu of those streamed again"
         " with 2-41 rows in memory went through the spill file\n",
         streamed_runs, fallback_runs, spilled_runs);
  CHECK(spilled_runs >= 100);
  /* the stream handles the common shapes; what it leaves (kind 2: windows after the
   * run, out of order; epochs ending before the first sample, an error either way;
   * a headline GPU with counters but no power) is read as a whole trace */
  CHECK(streamed_runs >= 500);
}

/* What the stream leaves to the whole trace is said, not guessed. */
static void test_unsupported(void) {
  dle_error err = {0};
  dle_sample s[3];
  for (int i = 0; i < 3; i++) {
    dle_sample_clear(&s[i]);
    s[i].t_s = i;
    s[i].n_gpus = 1;
    s[i].gpu[0].power_w = 100;
  }
  dle_energy_stream *st = NULL;
  CHECK_OK(dle_energy_stream_new(NULL, 0, NULL, 0, &st, &err), &err);
  s[1].t_s = -1; /* backwards */
  CHECK_OK(dle_energy_stream_add(st, &s[0], &err), &err);
  CHECK(dle_energy_stream_add(st, &s[1], &err) == DLE_EUNSUPPORTED);
  dle_energy_stream_free(st);
  s[1].t_s = 1;
  s[2].gpu[0].device_index = 5; /* the slot's device changes */
  CHECK_OK(dle_energy_stream_new(NULL, 0, NULL, 0, &st, &err), &err);
  CHECK_OK(dle_energy_stream_add(st, &s[0], &err), &err);
  CHECK_OK(dle_energy_stream_add(st, &s[1], &err), &err);
  CHECK(dle_energy_stream_add(st, &s[2], &err) == DLE_EUNSUPPORTED);
  dle_energy_stream_free(st);
  /* a spill file that cannot be created: said, and left to the whole trace */
  const char *old_tmp = getenv("TMPDIR");
  char saved[1024] = "";
  if (old_tmp) snprintf(saved, sizeof saved, "%s", old_tmp);
  setenv("TMPDIR", "/nonexistent-dir/dle", 1);
  CHECK_OK(dle_energy_stream_new(NULL, 0, NULL, 0, &st, &err), &err);
  dle_energy_stream_set_memory_rows(st, 4);
  int rc = 0;
  for (size_t i = 0; !rc && i < 100; i++) {
    dle_sample x;
    dle_sample_clear(&x);
    x.t_s = (double)i;
    x.n_gpus = 2;
    x.gpu[0].power_w = 100;
    x.gpu[1].device_index = 1;
    x.gpu[1].power_w = i < 2 ? 50 : NAN;
    rc = dle_energy_stream_add(st, &x, &err);
  }
  CHECK_MSG(rc == DLE_EUNSUPPORTED && strstr(err.msg, "/nonexistent-dir/dle"), "rc %d: %s", rc,
            err.msg);
  dle_energy_stream_free(st);
  if (old_tmp)
    setenv("TMPDIR", saved, 1);
  else
    unsetenv("TMPDIR");
}

/* Gaps far longer than the in-memory limit (issue 12): 200 000 rows of GPU 1 without
 * a power reading while GPU 0 reads, once closing mid-run and once open to the end,
 * with counters on both GPUs (the counter column is bridged too) and epochs across
 * the gap. Streamed (through the spill file) against the whole trace, bit for bit,
 * rows included; directly and through a SQLite store, where the callers
 * (dle_energy_summarize_run, dle_energy_load_series) must stream, not fall back. */
static void fill_gap_run(scenario *sc, size_t n, size_t gap_lo, size_t gap_hi, bool counters) {
  memset(sc, 0, sizeof *sc);
  sc->s = calloc(n, sizeof *sc->s);
  sc->n = n;
  double c[2] = {5e5, 7e5};
  for (size_t i = 0; i < n; i++) {
    dle_sample *x = &sc->s[i];
    dle_sample_clear(x);
    x->t_s = 0.1 * (double)i + (i % 3 ? 0 : 1e-7);
    x->wall_s = 1.7e9 + x->t_s;
    x->cpu_power_w = 30 + (double)(i % 11);
    x->ram_power_w = 0.75;
    x->cpu_util_pct = (double)(i % 100);
    x->rss_mib = 1000;
    x->n_gpus = 2;
    for (int g = 0; g < 2; g++) {
      dle_gpu_sample *q = &x->gpu[g];
      double w = 150 + 40 * g + 20 * sin(0.001 * (double)i + g);
      c[g] += 0.1 * w;
      bool on = g == 0 || i < gap_lo || i >= gap_hi;
      q->device_index = (uint32_t)g;
      q->power_w = on ? w : NAN;
      q->energy_counter_j = counters && on ? c[g] : NAN;
      q->util_gpu_pct = on ? (double)(i % 90) : NAN;
      q->temp_c = on ? 50 + (double)(i % 9) : NAN;
      q->power_limit_w = 300;
    }
  }
  sc->n_ep = 5;
  for (size_t k = 0; k < 5; k++) {
    sc->ep[k].index = (int32_t)k;
    sc->ep[k].t_begin_s = 0.1 * (double)n * (double)k / 5 + 0.05;
    sc->ep[k].t_end_s = k == 4 ? NAN : 0.1 * (double)n * (double)(k + 1) / 5;
  }
}

static void test_long_gaps(void) {
  enum { N = 260000, GAP = 200000 };
  const struct {
    size_t lo, hi;
    bool counters;
    const char *name;
  } cases[] = {{30000, 30000 + GAP, true, "closed, counters"},
               {30000, 30000 + GAP, false, "closed, no counters"},
               {N - GAP, N, true, "open to the end, counters"},
               {N - GAP, N, false, "open to the end, no counters"}};
  char path[] = "/tmp/dle_energy_gap_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  unlink(path);
  dle_error err = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(path, &st, &err), &err);
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    scenario sc;
    fill_gap_run(&sc, N, cases[c].lo, cases[c].hi, cases[c].counters);
    int before = streamed_runs;
    size_t spilled_before = spilled_runs;
    compare(&sc, 10000 + (int)c, 0); /* the default memory limit */
    CHECK_MSG(streamed_runs == before + 1 && spilled_runs == spilled_before + 1,
              "%s: not streamed through the spill file", cases[c].name);
    if (!st) {
      free(sc.s);
      continue;
    }
    /* through the store: the callers stream it */
    dle_run_info info;
    dle_run_info_init(&info);
    snprintf(info.gpu_source, sizeof info.gpu_source, "nvml");
    int64_t id = 0;
    CHECK_OK(dle_store_create_run(st, &info, &id, &err), &err);
    info.id = id;
    CHECK_OK(dle_store_append_samples(st, id, sc.s, sc.n, &err), &err);
    for (size_t k = 0; k < sc.n_ep; k++) CHECK_OK(dle_store_put_epoch(st, id, &sc.ep[k], &err), &err);
    CHECK_OK(dle_store_commit(st, &err), &err);
    dle_trace tr = {0};
    dle_energy_summary sa;
    double a[DLE_COMP_COUNT][8], b[DLE_COMP_COUNT][8];
    double *ea[DLE_COMP_COUNT], *eb[DLE_COMP_COUNT];
    for (int k = 0; k < DLE_COMP_COUNT; k++) ea[k] = a[k], eb[k] = b[k];
    CHECK_OK(dle_store_load_trace(st, id, &tr, &err), &err);
    CHECK_OK(dle_energy_summarize(&tr, &info, &sa, &err), &err);
    for (int k = 0; k < DLE_COMP_COUNT; k++)
      CHECK_OK(dle_energy_per_epoch(&tr, sc.ep, sc.n_ep, (dle_component)k, ea[k], &err), &err);
    dle_run_energy re;
    CHECK_OK(dle_energy_summarize_run(st, id, &info, sc.ep, sc.n_ep, eb, &re, &err), &err);
    CHECK_MSG(re.streamed == 1, "%s: the store's run fell back to the whole trace",
              cases[c].name);
    CHECK_MSG(memcmp(&sa, &re.sum, sizeof sa) == 0, "%s: store summaries differ: %.17g vs %.17g",
              cases[c].name, sa.energy_j[DLE_COMP_GPU], re.sum.energy_j[DLE_COMP_GPU]);
    for (size_t k = 0; k < sc.n_ep; k++)
      for (int q = 0; q < DLE_COMP_COUNT; q++)
        CHECK_MSG(same(a[q][k], b[q][k]), "%s: epoch %zu %s: %.17g vs %.17g", cases[c].name, k,
                  dle_component_name((dle_component)q), a[q][k], b[q][k]);
    dle_trace se;
    CHECK_OK(dle_energy_load_series(st, id, &se, &err), &err);
    CHECK_MSG(se.n == tr.n && se.wall_s == NULL && se.dev_power_w[0] == NULL,
              "%s: the series fell back to the whole trace", cases[c].name);
    if (se.n == tr.n)
      CHECK(memcmp(se.gpu_power_w, tr.gpu_power_w, tr.n * sizeof(double)) == 0);
    printf("gap %s: %zu rows, GPU %.17g J, GPU 1 %.17g J, streamed\n", cases[c].name, sc.n,
           re.sum.energy_j[DLE_COMP_GPU], re.sum.device_energy_j[1]);
    dle_trace_free(&se);
    dle_trace_free(&tr);
    free(sc.s);
  }
  dle_store_close(st);
  unlink(path);
  char aux[300];
  snprintf(aux, sizeof aux, "%s-wal", path);
  unlink(aux);
  snprintf(aux, sizeof aux, "%s-shm", path);
  unlink(aux);
}

/* Through a store: dle_energy_summarize_run against load_trace + summarize. */
static void test_store(void) {
  char path[] = "/tmp/dle_energy_stream_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  unlink(path);
  dle_error err = {0};
  dle_store *st = NULL;
  CHECK_OK(dle_store_open(path, &st, &err), &err);
  if (!st) return;
  int streamed = 0;
  for (int r = 0; r < 40; r++) {
    scenario sc;
    make(&sc, 1);
    dle_run_info info;
    dle_run_info_init(&info);
    snprintf(info.gpu_source, sizeof info.gpu_source, "nvml");
    snprintf(info.cpu_source, sizeof info.cpu_source, r % 2 ? "rapl" : "model");
    snprintf(info.ram_source, sizeof info.ram_source, "model");
    info.carbon_g_per_kwh = 200;
    info.pue = 1.2;
    int64_t id = 0;
    CHECK_OK(dle_store_create_run(st, &info, &id, &err), &err);
    info.id = id;
    CHECK_OK(dle_store_append_samples(st, id, sc.s, sc.n, &err), &err);
    for (size_t k = 0; k < sc.n_ep; k++) CHECK_OK(dle_store_put_epoch(st, id, &sc.ep[k], &err), &err);
    if (sc.n_head) {
      char h[64] = "";
      for (size_t k = 0; k < sc.n_head; k++)
        snprintf(h + strlen(h), sizeof h - strlen(h), "%s%u", k ? "," : "", sc.head[k]);
      CHECK_OK(dle_store_set_meta(st, id, "gpus_headline", h, &err), &err);
    }
    CHECK_OK(dle_store_commit(st, &err), &err);
    dle_epoch *ep = NULL;
    size_t ne = 0;
    CHECK_OK(dle_store_load_epochs(st, id, &ep, &ne, &err), &err);
    double a[DLE_COMP_COUNT][8], b[DLE_COMP_COUNT][8];
    double *ea[DLE_COMP_COUNT], *eb[DLE_COMP_COUNT];
    for (int c = 0; c < DLE_COMP_COUNT; c++) ea[c] = a[c], eb[c] = b[c];
    dle_trace tr = {0};
    dle_energy_summary sa;
    CHECK_OK(dle_store_load_trace(st, id, &tr, &err), &err);
    CHECK_OK(dle_energy_summarize(&tr, &info, &sa, &err), &err);
    for (int c = 0; c < DLE_COMP_COUNT; c++)
      CHECK_OK(dle_energy_per_epoch(&tr, ep, ne, (dle_component)c, ea[c], &err), &err);
    dle_run_energy re;
    CHECK_OK(dle_energy_summarize_run(st, id, &info, ep, ne, eb, &re, &err), &err);
    streamed += re.streamed;
    CHECK_MSG(memcmp(&sa, &re.sum, sizeof sa) == 0, "store run %lld: summaries differ",
              (long long)id);
    for (size_t k = 0; k < ne; k++)
      for (int c = 0; c < DLE_COMP_COUNT; c++)
        CHECK_MSG(same(a[c][k], b[c][k]), "store run %lld epoch %zu %s: %.17g vs %.17g",
                  (long long)id, k, dle_component_name((dle_component)c), a[c][k], b[c][k]);
    CHECK(same(re.t_first_s, tr.t_s[0]) && same(re.t_last_s, tr.t_s[tr.n - 1]));
    /* the estimators' series: the same columns, bit for bit */
    dle_trace se;
    CHECK_OK(dle_energy_load_series(st, id, &se, &err), &err);
    CHECK(se.n == tr.n && se.n_gpus == tr.n_gpus);
    if (re.streamed) CHECK(se.wall_s == NULL && se.dev_power_w[0] == NULL); /* slim */
    const double *ca[] = {tr.t_s, tr.gpu_power_w, tr.cpu_power_w, tr.dram_power_w, tr.ram_power_w,
                          tr.gpu_util_pct, tr.gpu_power_limit_w, tr.cpu_util_pct, tr.rss_mib};
    const double *cb[] = {se.t_s, se.gpu_power_w, se.cpu_power_w, se.dram_power_w, se.ram_power_w,
                          se.gpu_util_pct, se.gpu_power_limit_w, se.cpu_util_pct, se.rss_mib};
    for (size_t c = 0; se.n == tr.n && c < sizeof ca / sizeof *ca; c++)
      CHECK_MSG(memcmp(ca[c], cb[c], tr.n * sizeof(double)) == 0, "store run %lld: column %zu",
                (long long)id, c);
    dle_trace_free(&se);
    dle_trace_free(&tr);
    free(ep);
    free(sc.s);
  }
  CHECK(streamed >= 35);
  dle_store_close(st);
  unlink(path);
  char aux[300];
  snprintf(aux, sizeof aux, "%s-wal", path);
  unlink(aux);
  snprintf(aux, sizeof aux, "%s-shm", path);
  unlink(aux);
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void) {
  double t0 = mono_s();
  test_random();
  double t1 = mono_s();
  test_unsupported();
  test_long_gaps();
  double t2 = mono_s();
  test_store();
  printf("random %.1f s, long gaps %.1f s, store %.1f s\n", t1 - t0, t2 - t1, mono_s() - t2);
  return check_finish();
}
