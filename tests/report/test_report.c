/* Unit tests of the HTML report: every section and plot is there, user strings are
 * escaped (no HTML injection from metadata), no scripts or external assets, the
 * store path (power profile with epochs, energy table) works, files are atomic. */
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/report.h"
#include "dlenergy/stats.h"
#include "dlenergy/store.h"

static const char *EVIL = "<script>alert('x')</script>&\"";

static dle_table *make_table(void) {
  dle_table *t = NULL;
  dle_error e;
  CHECK_OK(dle_table_new(&t, &e), &e);
  const char *arch[] = {"small", "large", EVIL};
  for (int g = 0; g < 3; g++)
    for (int i = 0; i < 6; i++) {
      size_t r;
      char v[32];
      dle_table_add_row(t, &r, &e);
      dle_table_set(t, r, "architecture", arch[g], &e);
      dle_table_set(t, r, "environment", i % 2 ? "cloud" : "local", &e);
      snprintf(v, sizeof v, "%g", 1.0 + g + 0.1 * i);
      dle_table_set(t, r, "gpu_energy_mj", v, &e);
      snprintf(v, sizeof v, "%g", 0.9 + 0.01 * g - 0.003 * i);
      dle_table_set(t, r, "f1_score", v, &e);
    }
  return t;
}

static void test_escape(void) {
  char *s = dle_report_escape(EVIL);
  CHECK(s && strcmp(s, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;") == 0);
  free(s);
  s = dle_report_escape("a\x01" "b");
  CHECK(s && strstr(s, "a") && !strchr(s, '\x01'));
  free(s);
}

static void test_table_report(void) {
  dle_error e;
  dle_table *t = make_table();
  dle_report_options o;
  dle_report_options_init(&o);
  o.table = t;
  o.title = "title <b>bold</b>";
  char *html = NULL;
  size_t len = 0;
  CHECK_OK(dle_report_render(&o, &html, &len, &e), &e);
  if (html) {
    CHECK(strlen(html) == len);
    const char *ids[] = {"id=\"summary\"", "id=\"boxplots\"", "id=\"boxplot\"", "id=\"pareto\"",
                         "id=\"scatter-pareto\"", "id=\"pareto-medians\"", "id=\"tests\"",
                         "id=\"table-groups\"", "id=\"table-omnibus\"", "id=\"table-dunn\""};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
      CHECK_MSG(strstr(html, ids[i]) != NULL, "missing %s", ids[i]);
    CHECK(strstr(html, "<script") == NULL);       /* neither ours nor injected */
    CHECK(strstr(html, "&lt;script&gt;") != NULL); /* the metadata is shown, escaped */
    CHECK(strstr(html, "<b>bold") == NULL && strstr(html, "&lt;b&gt;bold") != NULL);
    CHECK(strstr(html, "src=") == NULL && strstr(html, "<link") == NULL); /* no assets */
    CHECK(strstr(html, "aligned rank transform") != NULL); /* two factors: interaction */
    CHECK(strstr(html, "GPU energy (MJ)") != NULL);        /* axis label with unit */
    CHECK(strstr(html, "#E69F00") != NULL);                /* Okabe-Ito */
    CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0 && strstr(html, "</html>"));
  }
  free(html);
  /* Atomic write and read back. */
  const char *path = "report_test.html";
  CHECK_OK(dle_report_write(&o, path, &e), &e);
  char *back = NULL;
  size_t blen = 0;
  CHECK_OK(dle_read_file(path, 1 << 24, &back, &blen, &e), &e);
  CHECK(back && strstr(back, "id=\"boxplot\""));
  free(back);
  unlink(path);
  /* A metric column that is not there: a clear error. */
  o.metric = "no_such_column";
  CHECK(dle_report_render(&o, &html, &len, &e) == DLE_ENOTFOUND && strstr(e.msg, "no_such_column"));
  /* Nothing to report. */
  dle_report_options empty;
  dle_report_options_init(&empty);
  CHECK(dle_report_render(&empty, &html, &len, &e) == DLE_EINVAL);
  dle_table_free(t);
}

/* A synthetic run in a temporary store: 20 epochs of 30 s, a warm-up at 80 W and a
 * steady 200 W phase with a per-epoch ripple. */
static void test_store_report(void) {
  dle_error e;
  char db[] = "report_test_store.db";
  unlink(db);
  dle_store *st = NULL;
  if (dle_store_open(db, &st, &e) != 0) {
    fprintf(stderr, "store unavailable: %s\n", e.msg);
    check_failed_++;
    return;
  }
  dle_run_info info;
  dle_run_info_init(&info);
  info.status = DLE_RUN_COMPLETE;
  info.interval_s = 1;
  snprintf(info.gpu_source, sizeof info.gpu_source, "nvml");
  snprintf(info.ram_source, sizeof info.ram_source, "model");
  int64_t id = 0;
  CHECK_OK(dle_store_create_run(st, &info, &id, &e), &e);
  dle_store_set_meta(st, id, "architecture", EVIL, &e);
  dle_store_set_meta(st, id, "environment", "lab", &e);
  dle_store_set_meta(st, id, "gpu_tdp_w", "250", &e);
  enum { N = 600 };
  for (int i = 0; i < N; i++) {
    dle_sample s;
    dle_sample_clear(&s);
    s.t_s = i;
    s.wall_s = 1.7e9 + i;
    s.n_gpus = 1;
    s.gpu[0].power_w = i < 90 ? 80 + (i % 7) : 200 + 15 * sin(2 * M_PI * (i % 30) / 30.0);
    s.gpu[0].util_gpu_pct = i < 90 ? 30 : 95;
    s.gpu[0].power_limit_w = 250;
    s.rss_mib = 2048;
    s.ram_power_w = 0.75;
    CHECK_OK(dle_store_append_samples(st, id, &s, 1, &e), &e);
  }
  for (int k = 0; k < 20; k++) {
    dle_epoch ep = {.index = k + 1, .t_begin_s = 30.0 * k, .t_end_s = 30.0 * (k + 1) - 1};
    CHECK_OK(dle_store_put_epoch(st, id, &ep, &e), &e);
  }
  info.id = id;
  info.epochs_planned = 20;
  CHECK_OK(dle_store_update_run(st, &info, &e), &e);
  CHECK_OK(dle_store_commit(st, &e), &e);

  const char *path = "report_test_run.html";
  CHECK_OK(dle_report_write_run(st, id, path, &e), &e);
  char *html = NULL;
  size_t len = 0;
  CHECK_OK(dle_read_file(path, 1 << 24, &html, &len, &e), &e);
  if (html) {
    char pid[64];
    snprintf(pid, sizeof pid, "id=\"profile-%lld\"", (long long)id);
    CHECK_MSG(strstr(html, pid) != NULL, "missing %s", pid);
    CHECK(strstr(html, "id=\"energy\"") && strstr(html, "id=\"table-energy\""));
    CHECK(strstr(html, "stroke-dasharray=\"2 3\"")); /* epoch boundaries drawn */
    CHECK(strstr(html, "measured") && strstr(html, "modelled"));
    CHECK(strstr(html, "<script") == NULL && strstr(html, "&lt;script&gt;"));
    CHECK(strstr(html, "id=\"estimates\"") && strstr(html, "id=\"table-estimates\""));
    CHECK(strstr(html, "step-energy") != NULL); /* epochs known: the epoch methods ran */
    /* error vs fraction seen: one line per method that could project (step-remain from
     * 5 % of 600 s = 30 s on) */
    CHECK(strstr(html, "id=\"error-fraction\"") != NULL);
    CHECK(strstr(html, "class=\"fraction-line\" data-method=\"step-remain\"") != NULL);
    CHECK(strstr(html, "class=\"fraction-line\" data-method=\"mlco2\"") != NULL);
    /* The table built from the store has the computed columns. */
  }
  free(html);
  dle_table *t = NULL;
  CHECK_OK(dle_report_runs_table(st, NULL, NULL, 0, &t, &e), &e);
  if (t) {
    CHECK(dle_table_rows(t) == 1);
    long c = dle_table_find_col(t, "gpu_energy_mj");
    CHECK(c >= 0);
    /* Trapezoid of the synthetic power, computed here independently. */
    double ej = 0;
    for (int i = 1; i < N; i++) {
      double p0 = i - 1 < 90 ? 80 + ((i - 1) % 7) : 200 + 15 * sin(2 * M_PI * ((i - 1) % 30) / 30.0);
      double p1 = i < 90 ? 80 + (i % 7) : 200 + 15 * sin(2 * M_PI * (i % 30) / 30.0);
      ej += (p0 + p1) / 2;
    }
    if (c >= 0) CHECK_REL(dle_table_get_double(t, 0, (size_t)c), ej / 1e6, 1e-9);
    long a = dle_table_find_col(t, "architecture");
    CHECK(a >= 0 && strcmp(dle_table_get(t, 0, (size_t)a), EVIL) == 0);
  }
  dle_table_free(t);
  /* Unknown run: a clear error, no file. */
  unlink(path);
  CHECK(dle_report_write_run(st, id + 100, path, &e) != 0);
  CHECK(access(path, F_OK) != 0);
  dle_store_close(st);
  unlink(db);
  char side[64];
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
}

int main(void) {
  test_escape();
  test_table_report();
  test_store_report();
  return check_finish();
}
