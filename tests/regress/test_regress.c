/* Unit tests of the regress module: folds, draws, the four regressors, the model
 * file (round trip and rejection of bad files) and the PRE dataset from runs.csv. */
#include <float.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/gpus.h"
#include "dlenergy/regress.h"

static void test_folds(void) {
  dle_error e;
  int f[23];
  CHECK_OK(dle_regress_folds(23, 5, false, 1, f, &e), &e);
  /* KFold without shuffle: consecutive folds, the first 23 % 5 = 3 of size 5. */
  int want[23] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4};
  CHECK(memcmp(f, want, sizeof f) == 0);
  int g[23], h2[23];
  CHECK_OK(dle_regress_folds(23, 5, true, 7, g, &e), &e);
  CHECK_OK(dle_regress_folds(23, 5, true, 7, h2, &e), &e);
  CHECK(memcmp(g, h2, sizeof g) == 0); /* seeded: reproducible */
  int cnt[5] = {0};
  for (int i = 0; i < 23; i++) cnt[g[i]]++;
  CHECK(cnt[0] == 5 && cnt[1] == 5 && cnt[2] == 5 && cnt[3] == 4 && cnt[4] == 4);
  CHECK(memcmp(g, want, sizeof g) != 0); /* actually shuffled */
  CHECK_OK(dle_regress_folds(23, 5, true, 8, h2, &e), &e);
  CHECK(memcmp(g, h2, sizeof g) != 0);
  CHECK(dle_regress_folds(3, 5, false, 1, f, &e) == DLE_ERANGE);
  CHECK(dle_regress_folds(10, 1, false, 1, f, &e) == DLE_EINVAL);
}

static void test_draws(void) {
  dle_error e;
  enum { N = 20000 };
  static dle_regress_hyper h[N], h2[N];
  CHECK_OK(dle_regress_draws(DLE_REG_SVR, 3, N, h, &e), &e);
  CHECK_OK(dle_regress_draws(DLE_REG_SVR, 3, N, h2, &e), &e);
  CHECK(memcmp(h, h2, sizeof h) == 0);
  double mc = 0, me = 0, mg = 0;
  bool pos = true;
  for (int i = 0; i < N; i++) {
    mc += h[i].c;
    me += h[i].epsilon;
    mg += h[i].gamma;
    pos = pos && h[i].c > 0 && h[i].epsilon > 0 && h[i].gamma > 0;
  }
  CHECK(pos);
  /* Exponential means: 300, 1, 0.01 (standard error 0.7% at N = 20000). */
  CHECK_REL(mc / N, 300.0, 0.03);
  CHECK_REL(me / N, 0.1, 0.03); /* epsilon in target-std units */
  CHECK_REL(mg / N, 0.01, 0.03);
  CHECK_OK(dle_regress_draws(DLE_REG_RIDGE, 3, 100, h, &e), &e);
  CHECK(h[0].alpha > 0 && isnan(h[0].gamma));
}

/* y = 3 + 2 a - b + 5 [c == "x"] with a, b on a grid. */
static dle_dataset *toy(bool noise) {
  const char *num[] = {"a", "b"}, *cat[] = {"c"};
  dle_dataset *d = NULL;
  dle_error e;
  if (dle_dataset_new(2, num, 1, cat, "y", "W", &d, &e)) return NULL;
  int k = 0;
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 6; j++) {
      double v[2] = {i * 0.5, j * 1.5 - 2};
      const char *c[1] = {(i + j) % 2 ? "x" : "y"};
      double y = 3 + 2 * v[0] - v[1] + ((i + j) % 2 ? 5 : 0);
      if (noise) y += 0.01 * ((k++ * 37) % 11 - 5);
      dle_dataset_add(d, v, c, y, &e);
    }
  return d;
}

static void test_models(void) {
  dle_error e;
  dle_dataset *d = toy(false);
  CHECK(d && dle_dataset_rows(d) == 48);
  if (!d) return;
  dle_regress_hyper h = {NAN, NAN, NAN, NAN};
  dle_regress_model *m = NULL;
  CHECK_OK(dle_regress_fit(d, DLE_REG_LINEAR, &h, &m, &e), &e);
  double y = 0, v[2] = {1.25, 0.5};
  const char *cx[1] = {"x"}, *cy[1] = {"y"}, *cz[1] = {"unseen"};
  CHECK_OK(dle_regress_model_predict(m, v, cx, &y, &e), &e);
  CHECK_NEAR(y, 3 + 2.5 - 0.5 + 5, 1e-9); /* exact recovery, off-grid point */
  CHECK_OK(dle_regress_model_predict(m, v, cy, &y, &e), &e);
  CHECK_NEAR(y, 3 + 2.5 - 0.5, 1e-9);
  /* An unseen level encodes as all zeros: halfway between the two levels here. */
  CHECK_OK(dle_regress_model_predict(m, v, cz, &y, &e), &e);
  CHECK(isfinite(y));
  dle_regress_model_free(m);

  int fold[48];
  dle_cv_scores s;
  CHECK_OK(dle_regress_folds(48, 5, true, 1, fold, &e), &e);
  CHECK_OK(dle_regress_cv(d, DLE_REG_LINEAR, &h, fold, 5, &s, &e), &e);
  CHECK_NEAR(s.r2, 1.0, 1e-12);
  CHECK(s.rmse < 1e-9 && s.mae < 1e-9 && s.mape < 1e-9);

  /* Ridge shrinks: larger alpha, larger training error; tiny alpha = linear. */
  h.alpha = 1e-8;
  CHECK_OK(dle_regress_fit(d, DLE_REG_RIDGE, &h, &m, &e), &e);
  CHECK_OK(dle_regress_model_predict(m, v, cx, &y, &e), &e);
  CHECK_NEAR(y, 10.0, 1e-6);
  dle_regress_model_free(m);
  h.alpha = 100;
  CHECK_OK(dle_regress_fit(d, DLE_REG_RIDGE, &h, &m, &e), &e);
  CHECK_OK(dle_regress_model_predict(m, v, cx, &y, &e), &e);
  CHECK(fabs(y - 10.0) > 0.1);
  dle_regress_model_free(m);

  /* Kernel ridge with a tiny alpha interpolates its training points. */
  h.alpha = 1e-9;
  h.gamma = 0.5;
  CHECK_OK(dle_regress_fit(d, DLE_REG_KRR, &h, &m, &e), &e);
  double tp[2] = {1.5, 1.0}; /* i = 3, j = 2: c = "x", y = 3 + 3 - 1 + 5 */
  CHECK_OK(dle_regress_model_predict(m, tp, cx, &y, &e), &e);
  CHECK_NEAR(y, 10.0, 1e-4);
  dle_regress_model_free(m);
  h.alpha = 0.01;
  h.gamma = 0.2;
  CHECK_OK(dle_regress_cv(d, DLE_REG_KRR, &h, fold, 5, &s, &e), &e);
  CHECK(s.r2 > 0.95);
  /* A huge gamma makes every test point look like nothing seen: no intercept in
   * kernel ridge, so it predicts ~0 and R^2 goes negative. */
  h.gamma = 1e4;
  CHECK_OK(dle_regress_cv(d, DLE_REG_KRR, &h, fold, 5, &s, &e), &e);
  CHECK(s.r2 < 0);

  /* SVR learns the function within its epsilon tube. */
  h = (dle_regress_hyper){NAN, 0.1, 1000, 0.05};
  CHECK_OK(dle_regress_cv(d, DLE_REG_SVR, &h, fold, 5, &s, &e), &e);
  CHECK_MSG(s.r2 > 0.95, "svr r2 %g", s.r2);
  CHECK_OK(dle_regress_fit(d, DLE_REG_SVR, &h, &m, &e), &e);
  CHECK_OK(dle_regress_model_predict(m, tp, cx, &y, &e), &e);
  CHECK_NEAR(y, 10.0, 0.3);
  dle_regress_model_free(m);

  /* Bad hyperparameters are refused, not silently used. */
  h = (dle_regress_hyper){-1, 0.1, NAN, NAN};
  CHECK(dle_regress_fit(d, DLE_REG_KRR, &h, &m, &e) == DLE_EINVAL && m == NULL);
  dle_dataset_free(d);
}

static void test_search_and_file(void) {
  dle_error e;
  dle_dataset *d = toy(true);
  if (!d) return;
  dle_regress_search_opts o;
  dle_regress_search_opts_init(&o);
  o.draws = 20;
  o.seed = 11;
  dle_regress_model *m = NULL, *m2 = NULL;
  dle_regress_search_result r, r2;
  CHECK_OK(dle_regress_search(d, DLE_REG_KRR, &o, NULL, 0, &m, &r, &e), &e);
  CHECK(r.evaluated == 20 && r.cv.r2 > 0.5);
  CHECK_OK(dle_regress_search(d, DLE_REG_KRR, &o, NULL, 0, &m2, &r2, &e), &e);
  CHECK(r.best.alpha == r2.best.alpha && r.best.gamma == r2.best.gamma && r.cv.r2 == r2.cv.r2);
  /* The best draw is the best of all draws. */
  dle_regress_hyper hs[20];
  dle_cv_scores sc[20];
  int fold[48];
  size_t failed = 0;
  CHECK_OK(dle_regress_draws(DLE_REG_KRR, 11, 20, hs, &e), &e);
  CHECK_OK(dle_regress_folds(48, 5, true, 11, fold, &e), &e);
  CHECK_OK(dle_regress_cv_many(d, DLE_REG_KRR, hs, 20, fold, 5, sc, &failed, &e), &e);
  for (int i = 0; i < 20; i++) CHECK(sc[i].r2 <= r.cv.r2);
  dle_regress_model_free(m2);

  /* Round trip through the model file keeps predictions bit-for-bit. */
  char *json = NULL;
  CHECK_OK(dle_regress_model_to_json(m, &json, &e), &e);
  CHECK_OK(dle_regress_model_parse(json, strlen(json), &m2, &e), &e);
  double v[2] = {0.7, -0.3}, y1 = 0, y2 = 1;
  const char *cx[1] = {"x"};
  if (m2) {
    CHECK_OK(dle_regress_model_predict(m, v, cx, &y1, &e), &e);
    CHECK_OK(dle_regress_model_predict(m2, v, cx, &y2, &e), &e);
    CHECK(y1 == y2);
    dle_cv_scores s2;
    CHECK(dle_regress_model_cv(m2, NULL, &s2) && s2.r2 == r.cv.r2);
    double lo = 0, hi = 0; /* the toy grid: a in 0..3.5, b in -2..5.5 */
    CHECK(dle_regress_model_num_range(m2, 0, &lo, &hi) && lo == 0 && hi == 3.5);
    CHECK(dle_regress_model_num_range(m2, 1, &lo, &hi) && lo == -2 && hi == 5.5);
    dle_regress_model_free(m2);
    m2 = NULL;
  }
  /* Damaged files are refused with a message naming the problem. */
  /* (cJSON_Print separates with a tab after ':' and ", " in short arrays) */
  struct {
    const char *from, *to, *msg;
  } bad[] = {{"\"version\":\t1", "\"version\":2", "version 2"},
             {"\"kind\":\t\"krr\"", "\"kind\":\"tree\"", "unknown kind"},
             {"\"rho\":", "\"rhx\":", "rho"},
             {"\"dual\":\t[", "\"dual\":[1e999, ", "dual"},
             {"\"dual\":\t[", "\"dual\":[1, ", "dual"},
             {"\"scale\":\t", "\"scale\":-", "scale"},
             {"\"target\":\t\"y\"", "\"target\":3", "target"},
             {"[\"x\", \"y\"]", "[\"y\", \"x\"]", "sorted"},
             {"\"min\":\t0,", "\"min\":\t9,", "above its max"}};
  for (size_t i = 0; json && i < sizeof bad / sizeof bad[0]; i++) {
    const char *p = strstr(json, bad[i].from);
    CHECK_MSG(p != NULL, "pattern %s", bad[i].from);
    if (!p) continue;
    size_t n = strlen(json) + strlen(bad[i].to) + 1;
    char *t = malloc(n);
    snprintf(t, n, "%.*s%s%s", (int)(p - json), json, bad[i].to, p + strlen(bad[i].from));
    int rc = dle_regress_model_parse(t, strlen(t), &m2, &e);
    CHECK_MSG(rc == DLE_EPARSE && m2 == NULL && strstr(e.msg, bad[i].msg), "case %zu: rc %d: %s", i,
              rc, e.msg);
    free(t);
  }
  CHECK(dle_regress_model_parse("{", 1, &m2, &e) == DLE_EPARSE);
  CHECK(dle_regress_model_parse("[]", 2, &m2, &e) == DLE_EPARSE);
  free(json);
  dle_regress_model_free(m);
  dle_dataset_free(d);
}

static void test_runs_csv(void) {
  const char *sh = check_shared_dir();
  char path[4096];
  snprintf(path, sizeof path, "%s/data/seaa2023/runs.csv", sh ? sh : "");
  if (!sh || access(path, R_OK) != 0) {
    fprintf(stderr, "note: %s absent, runs.csv checks skipped\n", path);
    return;
  }
  dle_error e;
  dle_gpu_catalog *cat = NULL;
  CHECK_OK(dle_gpu_catalog_load(NULL, &cat, &e), &e);
  if (!cat) return;
  dle_dataset *p = NULL, *q = NULL;
  CHECK_OK(dle_pre_dataset_from_csv(path, DLE_PRE_TARGET_POWER, NULL, cat, &p, &e), &e);
  CHECK_OK(dle_pre_dataset_from_csv(path, DLE_PRE_TARGET_EPOCH_ENERGY, NULL, cat, &q, &e), &e);
  if (p && q) {
    CHECK(dle_dataset_rows(p) == 369 && dle_dataset_rows(q) == 369);
    /* First row: cloud mobilenet_v2 run 0: 156.94... W; 0.4151704675 MJ over 98 epochs. */
    CHECK_NEAR(dle_dataset_target(p, 0), 156.9447597427166, 1e-9);
    CHECK_NEAR(dle_dataset_target(q, 0), 0.4151704675e6 / 98, 1e-6);
    dle_regress_search_opts o;
    dle_regress_search_opts_init(&o);
    o.draws = 10;
    dle_regress_model *m = NULL;
    dle_regress_search_result r;
    CHECK_OK(dle_regress_search(p, DLE_REG_KRR, &o, NULL, 0, &m, &r, &e), &e);
    CHECK(r.cv.r2 > 0.5);
    if (m) {
      /* Batch size, image, sizes and RAM are constant in runs.csv: unused. */
      CHECK(!dle_regress_model_num_used(m, DLE_PRE_BATCH_SIZE));
      CHECK(dle_regress_model_num_used(m, DLE_PRE_GFLOPS));
      CHECK(dle_regress_model_num_used(m, DLE_PRE_GPU_TDP_W));
    }
    dle_regress_model_free(m);
  }
  dle_dataset_free(p);
  dle_dataset_free(q);
  /* A GPU missing from the catalogue is a clear error naming the line. */
  char tmp[] = "runs_bad.csv";
  const char *t =
      "gpu_model,batch_size,training_size,validation_size,forward_pass_gflop,"
      "architecture,environment_id,avg_gpu_power_w\n"
      "NVIDIA GeForce RTX 3090,32,100,10,1.5,vgg16,cloud,200\n"
      "Imaginary GPU 9000,32,100,10,1.5,vgg16,cloud,200\n";
  CHECK_OK(dle_write_file_atomic(tmp, t, strlen(t), &e), &e);
  CHECK(dle_pre_dataset_from_csv(tmp, DLE_PRE_TARGET_POWER, NULL, cat, &p, &e) == DLE_ENOTFOUND);
  CHECK(strstr(e.msg, "line 3") && strstr(e.msg, "Imaginary GPU 9000"));
  CHECK(dle_pre_dataset_from_csv(tmp, DLE_PRE_TARGET_EPOCH_ENERGY, NULL, cat, &p, &e) ==
        DLE_EPARSE);
  CHECK(strstr(e.msg, "gpu_energy_mj") != NULL);
  unlink(tmp);
  dle_gpu_catalog_free(cat);
}

static void test_baselines(void) {
  dle_error e;
  dle_gpu_spec g = {0};
  g.tdp_w = 300;
  g.fp32_tflops = 10;
  dle_pre_baselines b;
  /* 1 GFLOP x (3 x 1000 + 1000) x 10 epochs = 4e13 FLOP at 10 TFLOP/s x 0.4 = 10 s. */
  CHECK_OK(dle_pre_baselines_compute(&g, 1, 1000, 1000, 10, 16, 1.0, 0.4, NAN, &b, &e), &e);
  CHECK_NEAR(b.flops_duration_s, 10, 1e-9);
  CHECK_NEAR(b.flops_j, 3000, 1e-6);
  CHECK_NEAR(b.mlco2_j, 3000, 1e-6);
  CHECK_NEAR(b.ga_j, (300 + 16 * 0.3725) * 10, 1e-6);
  CHECK_OK(dle_pre_baselines_compute(&g, 1, 1000, 1000, 10, 16, 0.5, 0.4, 100, &b, &e), &e);
  CHECK_NEAR(b.mlco2_j, 30000, 1e-6);
  CHECK_NEAR(b.ga_j, (150 + 16 * 0.3725) * 100, 1e-6);
  CHECK(dle_pre_baselines_compute(&g, -1, 1000, 1000, 10, 16, 1, 0.4, NAN, &b, &e) == DLE_EINVAL);
}

int main(void) {
  test_folds();
  test_draws();
  test_models();
  test_search_and_file();
  test_runs_csv();
  test_baselines();
  return check_finish();
}
