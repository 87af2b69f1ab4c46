/* Unit tests of the statistics: hand-computed values, exactness, and the bad-input
 * rules (NaN results with a reason, never a made-up number). The agreement with
 * scipy on the study's data is test_analyze_scipy.py. */
#include <math.h>

#include "check.h"
#include "dlenergy/stats.h"

static void test_rank(void) {
  double x[] = {3, 1, 3, 2, 3}, r[5], ts;
  dle_error e;
  CHECK_OK(dle_stats_rank(x, 5, r, &ts, &e), &e);
  CHECK(r[1] == 1 && r[3] == 2 && r[0] == 4 && r[2] == 4 && r[4] == 4);
  CHECK(ts == 24); /* one tie of 3: 27 - 3 */
  double bad[] = {1, NAN};
  CHECK(dle_stats_rank(bad, 2, r, NULL, &e) == DLE_EINVAL);
}

static void test_describe(void) {
  double x[] = {4, 1, 3, 2};
  double med, mean, q1, q3;
  dle_stats_describe(x, 4, &med, &mean, &q1, &q3);
  CHECK_NEAR(med, 2.5, 1e-15);
  CHECK_NEAR(mean, 2.5, 1e-15);
  CHECK_NEAR(q1, 1.75, 1e-15); /* numpy's linear interpolation */
  CHECK_NEAR(q3, 3.25, 1e-15);
  dle_stats_describe(x, 0, &med, &mean, &q1, &q3);
  CHECK(isnan(med) && isnan(mean));
}

static void test_shapiro(void) {
  dle_error e;
  double w, p;
  double two[] = {1, 2};
  CHECK(dle_stats_shapiro_wilk(two, 2, &w, &p, &e) == DLE_ERANGE);
  CHECK(isnan(w) && isnan(p) && strstr(e.msg, "at least 3"));
  double same[] = {5, 5, 5, 5, 5};
  CHECK(dle_stats_shapiro_wilk(same, 5, &w, &p, &e) == DLE_ERANGE);
  CHECK(isnan(p) && strstr(e.msg, "equal"));
  double nan[] = {1, 2, NAN, 4};
  CHECK(dle_stats_shapiro_wilk(nan, 4, &w, &p, &e) == DLE_EINVAL);
  /* n = 3 exact: W for an evenly spaced sample is 1, p = 1. */
  double three[] = {1, 2, 3};
  CHECK_OK(dle_stats_shapiro_wilk(three, 3, &w, &p, &e), &e);
  CHECK_NEAR(w, 1, 1e-12);
  CHECK_NEAR(p, 1, 1e-9);
  /* Invariance: shift and scale do not change W or p. */
  double x[12] = {2.1, 3.3, 1.7, 5.2, 4.4, 3.9, 2.8, 7.5, 3.1, 0.9, 4.0, 2.2}, y[12];
  for (int i = 0; i < 12; i++) y[i] = 1000 + 3 * x[i];
  double w2, p2;
  CHECK_OK(dle_stats_shapiro_wilk(x, 12, &w, &p, &e), &e);
  CHECK_OK(dle_stats_shapiro_wilk(y, 12, &w2, &p2, &e), &e);
  CHECK_REL(w, w2, 1e-12);
  CHECK_REL(p, p2, 1e-9);
  CHECK(w > 0 && w <= 1 && p > 0 && p <= 1);
  /* A clearly skewed sample is rejected. */
  double sk[20];
  for (int i = 0; i < 20; i++) sk[i] = exp(0.5 * i);
  CHECK_OK(dle_stats_shapiro_wilk(sk, 20, &w, &p, &e), &e);
  CHECK(p < 0.001);
}

static void test_kruskal_levene(void) {
  dle_error e;
  double x[] = {1, 2, 3, 4, 5, 6};
  size_t g[] = {0, 0, 0, 1, 1, 1};
  dle_stats_groups sg = {x, g, 6, 2};
  double h, p, eta2;
  CHECK_OK(dle_stats_kruskal(&sg, &h, &p, &eta2, &e), &e);
  CHECK_REL(h, 12.0 / 42 * (36.0 / 3 + 225.0 / 3) - 21, 1e-12); /* 3.857142... */
  CHECK_REL(p, 0.049534613435626706, 1e-9);                     /* chi2(1) upper tail */
  CHECK_REL(eta2, (h - 1) / 4, 1e-12);
  double same[] = {2, 2, 2, 2, 2, 2};
  dle_stats_groups s2 = {same, g, 6, 2};
  CHECK(dle_stats_kruskal(&s2, &h, &p, &eta2, &e) == DLE_ERANGE);
  CHECK(isnan(h) && isnan(p) && strstr(e.msg, "equal"));
  double w;
  CHECK(dle_stats_levene_median(&s2, &w, &p, &e) == DLE_ERANGE);
  CHECK(isnan(w) && isnan(p));
  /* Levene: identical spread gives W = 0, p = 1. */
  CHECK_OK(dle_stats_levene_median(&sg, &w, &p, &e), &e);
  CHECK_NEAR(w, 0, 1e-12);
  CHECK_NEAR(p, 1, 1e-12);
  size_t one[] = {0, 0, 0, 0, 0, 0};
  dle_stats_groups s3 = {x, one, 6, 1};
  CHECK(dle_stats_kruskal(&s3, &h, &p, &eta2, &e) == DLE_ERANGE);
  size_t gap[] = {0, 0, 0, 2, 2, 2};
  dle_stats_groups s4 = {x, gap, 6, 3};
  CHECK(dle_stats_kruskal(&s4, &h, &p, &eta2, &e) == DLE_EINVAL); /* group 1 empty */
  /* Groups of two floats: |x - median| equal up to rounding. Without a relative
   * tolerance W came out near 1e30 (p near 1e-46); it is n/a with the reason. */
  double pairs[] = {0.1, 0.3, 0.7, 0.9, 1.3, 1.7};
  size_t g3[] = {0, 0, 1, 1, 2, 2};
  dle_stats_groups s5 = {pairs, g3, 6, 3};
  CHECK(dle_stats_levene_median(&s5, &w, &p, &e) == DLE_ERANGE);
  CHECK(isnan(w) && isnan(p) && strstr(e.msg, "rounding") != NULL);
  /* Shapiro-Wilk on values equal but for rounding: n/a too. */
  double flat[] = {0.3, 0.1 + 0.2, 0.3, 0.1 + 0.2, 0.3};
  double sw, sp;
  CHECK(dle_stats_shapiro_wilk(flat, 5, &sw, &sp, &e) == DLE_ERANGE);
}

static void test_cliff_holm(void) {
  dle_error e;
  double d;
  double x[] = {3, 4}, y[] = {1, 2, 3};
  CHECK_OK(dle_stats_cliffs_delta(x, 2, y, 3, &d, &e), &e);
  CHECK(d == 5.0 / 6.0);
  double a[] = {1, 2, 3}, b[] = {2, 2};
  CHECK_OK(dle_stats_cliffs_delta(a, 3, b, 2, &d, &e), &e);
  CHECK(d == 0);
  CHECK_OK(dle_stats_cliffs_delta(y, 3, x, 2, &d, &e), &e);
  CHECK(d == -5.0 / 6.0);
  CHECK(dle_stats_cliffs_delta(x, 0, y, 3, &d, &e) == DLE_ERANGE && isnan(d));
  CHECK(strcmp(dle_stats_cliffs_magnitude(0.1469), "negligible") == 0);
  CHECK(strcmp(dle_stats_cliffs_magnitude(-0.147), "small") == 0);
  CHECK(strcmp(dle_stats_cliffs_magnitude(0.33), "medium") == 0);
  CHECK(strcmp(dle_stats_cliffs_magnitude(0.4739), "medium") == 0);
  CHECK(strcmp(dle_stats_cliffs_magnitude(-0.474), "large") == 0);
  double p[] = {0.01, 0.04, 0.03}, adj[3];
  CHECK_OK(dle_stats_holm(p, 3, adj, &e), &e);
  CHECK_NEAR(adj[0], 0.03, 1e-15);
  CHECK_NEAR(adj[1], 0.06, 1e-15);
  CHECK_NEAR(adj[2], 0.06, 1e-15);
  double big[] = {0.5, 0.6};
  CHECK_OK(dle_stats_holm(big, 2, adj, &e), &e);
  CHECK(adj[0] == 1 && adj[1] == 1);
}

static void test_dunn(void) {
  dle_error e;
  double x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  size_t g[] = {0, 0, 0, 1, 1, 1, 2, 2, 2};
  dle_stats_groups sg = {x, g, 9, 3};
  dle_stats_pair pr[3];
  CHECK_OK(dle_stats_dunn(&sg, pr, &e), &e);
  /* mean ranks 2, 5, 8; var = 9*10/12 = 7.5; se = sqrt(7.5 * 2/3) = sqrt(5). */
  CHECK(pr[0].a == 0 && pr[0].b == 1 && pr[2].a == 1 && pr[2].b == 2);
  CHECK_REL(pr[0].z, -3 / sqrt(5), 1e-12);
  CHECK_REL(pr[1].z, -6 / sqrt(5), 1e-12);
  CHECK(pr[1].p_holm <= pr[0].p_holm);
  CHECK(pr[0].delta == -1 && strcmp(pr[0].magnitude, "large") == 0);
  double same[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  dle_stats_groups s2 = {same, g, 9, 3};
  CHECK(dle_stats_dunn(&s2, pr, &e) == DLE_ERANGE);
  CHECK(isnan(pr[0].z) && isnan(pr[0].p_holm) && pr[0].delta == 0);
}

static void test_spearman_pareto(void) {
  dle_error e;
  double x[] = {1, 2, 3, 4, 5}, y[] = {2, 4, 6, 8, 11}, c[] = {3, 3, 3, 3, 3};
  double rho, p;
  CHECK_OK(dle_stats_spearman(x, y, 5, &rho, &p, &e), &e);
  CHECK_NEAR(rho, 1, 1e-12);
  CHECK(p < 1e-9);
  CHECK(dle_stats_spearman(x, c, 5, &rho, &p, &e) == DLE_ERANGE && isnan(rho) && isnan(p));
  CHECK(dle_stats_spearman(x, y, 2, &rho, &p, &e) == DLE_ERANGE);
  double cost[] = {1, 2, 3, 2, NAN}, ben[] = {0.5, 0.9, 0.8, 0.9, 1};
  bool eff[5];
  CHECK_OK(dle_stats_pareto(cost, ben, 5, eff, &e), &e);
  CHECK(eff[0] && eff[1] && !eff[2] && eff[3] && !eff[4]); /* ties both stay efficient */
}

static void test_interaction(void) {
  dle_error e;
  dle_stats_interaction in;
  /* Crossed effect: A raises y at B=0 and lowers it at B=1. */
  double y[16];
  size_t a[16], b[16];
  for (int i = 0; i < 16; i++) {
    a[i] = (size_t)(i / 8);
    b[i] = (size_t)((i / 4) % 2);
    double eff = (a[i] == b[i]) ? 10 : 0;
    y[i] = eff + (double)(i % 4) * 0.5;
  }
  CHECK_OK(dle_stats_art_interaction(y, a, 2, b, 2, 16, &in, &e), &e);
  CHECK(in.df1 == 1 && in.df2 == 12);
  CHECK_MSG(in.p < 1e-3 && in.f > 10, "F %g p %g", in.f, in.p);
  /* Additive data: no interaction. */
  for (int i = 0; i < 16; i++) y[i] = 5.0 * (double)a[i] + 3.0 * (double)b[i] + (double)((i * 7) % 4);
  CHECK_OK(dle_stats_art_interaction(y, a, 2, b, 2, 16, &in, &e), &e);
  CHECK(in.p > 0.05);
  CHECK(dle_stats_art_interaction(y, a, 1, b, 2, 16, &in, &e) == DLE_ERANGE);
  CHECK(isnan(in.f));
}

static dle_table *make_table(void) {
  dle_table *t = NULL;
  dle_error e;
  CHECK_OK(dle_table_new(&t, &e), &e);
  static const struct {
    const char *arch, *env, *energy, *f1;
  } rows[] = {
      {"a", "x", "1.0", "0.9"}, {"a", "x", "1.2", "0.91"}, {"a", "x", "0.9", "0.92"},
      {"a", "x", "1.1", "0.9"}, {"b", "x", "2.0", "0.95"}, {"b", "x", "2.5", "0.96"},
      {"b", "x", "2.2", "0.94"}, {"b", "x", "2.1", "0.95"}, {"c", "y", "3.0", "0.5"},
      {"c", "y", "3.1", "0.5"}, /* a group of 2 */
      {"c", "y", "", "0.5"},    /* no metric: dropped */
      {"c", "y", "abc", "0.5"}, /* not a number: dropped */
      {"c", "y", "nan", "0.5"}, /* NaN: dropped */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    size_t r;
    CHECK_OK(dle_table_add_row(t, &r, &e), &e);
    CHECK_OK(dle_table_set(t, r, "architecture", rows[i].arch, &e), &e);
    CHECK_OK(dle_table_set(t, r, "environment", rows[i].env, &e), &e);
    CHECK_OK(dle_table_set(t, r, "energy", rows[i].energy, &e), &e);
    CHECK_OK(dle_table_set(t, r, "f1", rows[i].f1, &e), &e);
  }
  return t;
}

static void test_analyze(void) {
  dle_error e;
  dle_table *t = make_table();
  const char *by[] = {"architecture"};
  dle_analysis_options o = {.by = by, .n_by = 1, .metric = "energy", .quality = "f1"};
  dle_analysis *a = NULL;
  CHECK_OK(dle_analyze(t, &o, &a, &e), &e);
  if (a) {
    CHECK(a->n_groups == 3 && a->n_rows == 10 && a->n_dropped == 3);
    CHECK(strcmp(a->groups[2].name, "c") == 0 && a->groups[2].n == 2);
    CHECK(isnan(a->groups[2].shapiro_w) && strstr(a->groups[2].shapiro_note, "at least 3"));
    CHECK(!isnan(a->groups[0].shapiro_p));
    CHECK(!isnan(a->kruskal_h) && a->n_pairs == 3);
    CHECK(a->saving_from == 2 && a->saving_to == 0);
    CHECK_REL(a->saving_fraction, 1 - 1.05 / 3.05, 1e-12);
    CHECK(a->groups[0].pareto && a->groups[1].pareto && !a->groups[2].pareto);
    CHECK(!a->parametric_ok); /* a group has no normality test */
    CHECK(isnan(a->interaction.f) && strstr(a->interaction_note, "two grouping"));
    char *js = NULL;
    CHECK_OK(dle_analysis_to_json(a, "unit", &js, &e), &e);
    CHECK(js && strstr(js, "\"kruskal\"") && strstr(js, "\"largest_saving\""));
    CHECK(js && strstr(js, "null")); /* the undefined Shapiro of group c */
    free(js);
  }
  dle_analysis_free(a);
  /* All-equal metric: tests undefined, no crash, notes say why. */
  dle_table *eq = NULL;
  CHECK_OK(dle_table_new(&eq, &e), &e);
  for (int i = 0; i < 6; i++) {
    size_t r;
    dle_table_add_row(eq, &r, &e);
    dle_table_set(eq, r, "architecture", i < 3 ? "a" : "b", &e);
    dle_table_set(eq, r, "energy", "7", &e);
  }
  CHECK_OK(dle_analyze(eq, &(dle_analysis_options){.by = by, .n_by = 1, .metric = "energy"}, &a, &e), &e);
  if (a) {
    CHECK(isnan(a->kruskal_h) && isnan(a->kruskal_p) && strstr(a->kruskal_note, "equal"));
    CHECK(isnan(a->levene_w) && a->levene_note[0]);
    CHECK(isnan(a->pairs[0].p_holm) && a->dunn_note[0]);
    CHECK(isnan(a->groups[0].shapiro_p));
    CHECK(a->saving_fraction == 0);
  }
  dle_analysis_free(a);
  dle_table_free(eq);
  /* Missing columns, empty selection. */
  const char *bad[] = {"nope"};
  CHECK(dle_analyze(t, &(dle_analysis_options){.by = bad, .n_by = 1, .metric = "energy"}, &a, &e) ==
        DLE_ENOTFOUND);
  CHECK(dle_analyze(t, &(dle_analysis_options){.by = by, .n_by = 1, .metric = "nope"}, &a, &e) ==
        DLE_ENOTFOUND);
  dle_table *none = NULL;
  CHECK(dle_table_filter(t, "architecture=zzz", &none, &e) == 0 && dle_table_rows(none) == 0);
  CHECK(dle_analyze(none, &o, &a, &e) == DLE_ERANGE && a == NULL);
  dle_table_free(none);
  dle_table *fa = NULL;
  CHECK_OK(dle_table_filter(t, "architecture=a,environment=x", &fa, &e), &e);
  CHECK(dle_table_rows(fa) == 4);
  dle_table_free(fa);
  CHECK(dle_table_filter(t, "nocol=1", &fa, &e) == DLE_ENOTFOUND);
  CHECK(dle_table_filter(t, "architecture", &fa, &e) == DLE_EINVAL);
  dle_table_free(t);
}

static void test_csv(void) {
  dle_error e;
  const char *path = "stats_test.csv";
  const char *text = "name,value,\"quoted, col\"\r\nx,1.5,\"a \"\"b\"\"\"\ny,2,\n";
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
  dle_table *t = NULL;
  CHECK_OK(dle_table_read_csv(path, &t, &e), &e);
  if (t) {
    CHECK(dle_table_rows(t) == 2 && dle_table_cols(t) == 3);
    CHECK(strcmp(dle_table_col_name(t, 2), "quoted, col") == 0);
    CHECK(strcmp(dle_table_get(t, 0, 2), "a \"b\"") == 0);
    CHECK(dle_table_get_double(t, 0, 1) == 1.5);
    CHECK(isnan(dle_table_get_double(t, 1, 2)));
    CHECK(isnan(dle_table_get_double(t, 0, 0)));
  }
  dle_table_free(t);
  f = fopen(path, "w");
  fputs("a,b\n1,2,3\n", f);
  fclose(f);
  CHECK(dle_table_read_csv(path, &t, &e) == DLE_EPARSE && strstr(e.msg, ":2:"));
  f = fopen(path, "w");
  fputs("a,a\n1,2\n", f);
  fclose(f);
  CHECK(dle_table_read_csv(path, &t, &e) == DLE_EPARSE && strstr(e.msg, "duplicate"));
  f = fopen(path, "w");
  fclose(f);
  CHECK(dle_table_read_csv(path, &t, &e) == DLE_EPARSE);
  CHECK(dle_table_read_csv("/nonexistent/x.csv", &t, &e) != 0);
  remove(path);
}

int main(void) {
  test_rank();
  test_describe();
  test_shapiro();
  test_kruskal_levene();
  test_cliff_holm();
  test_dunn();
  test_spearman_pareto();
  test_interaction();
  test_analyze();
  test_csv();
  return check_finish();
}
