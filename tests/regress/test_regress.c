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
  /* An unseen level encodes as all zeros: halfway between the two levels here, because
   * the one-hot pair is rank-deficient beside the intercept and the minimum-norm
   * solution splits the level effect +2.5 / -2.5 (any other split moves this point). */
  CHECK_OK(dle_regress_model_predict(m, v, cz, &y, &e), &e);
  CHECK_NEAR(y, 3 + 2.5 - 0.5 + 2.5, 1e-9);
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

/* Leave-one-group-out folds: one fold per distinct label, in sorted label order. */
static void test_group_folds(void) {
  dle_error e;
  const char *lab[6] = {"v100", "a40", "v100", "p100", "a40", "a40"};
  int f[6], k = 0;
  CHECK_OK(dle_regress_group_folds(lab, 6, f, &k, &e), &e);
  CHECK(k == 3);
  int want[6] = {2, 0, 2, 1, 0, 0};
  CHECK(memcmp(f, want, sizeof f) == 0);
  const char *one[3] = {"x", "x", "x"};
  CHECK(dle_regress_group_folds(one, 3, f, &k, &e) == DLE_ERANGE);
}

/* A log target with a scale: y = s * exp(0.5 x) is fitted exactly by every model in
 * logs, predictions stay positive far outside the data, and a raw-target kernel ridge
 * (centred now) does not fall to 0 there. */
static void test_log_target(void) {
  dle_error e;
  const char *names[2] = {"x", "s"};
  dle_dataset *d = NULL;
  CHECK_OK(dle_dataset_new(2, names, 0, NULL, "power", "W", &d, &e), &e);
  double expo[2] = {0, 1};
  unsigned char off[2] = {0, 1};
  CHECK_OK(dle_dataset_set_transform(d, true, expo, off, &e), &e);
  for (int i = 0; i < 40; i++) {
    double x = (i % 10) / 3.0, sc = 100.0 + 50.0 * (i % 4);
    double num[2] = {x, sc};
    CHECK_OK(dle_dataset_add(d, num, NULL, sc * exp(0.5 * x), &e), &e);
  }
  double bad[2] = {1, -5};
  CHECK(dle_dataset_add(d, bad, NULL, 10, &e) == DLE_EINVAL); /* log of a negative scale */
  dle_regress_hyper h = {1e-6, 0.5, NAN, NAN};
  for (int kind = 0; kind < 3; kind++) {
    dle_regress_model *m = NULL;
    CHECK_OK(dle_regress_fit(d, (dle_regress_kind)kind, &h, &m, &e), &e);
    CHECK(dle_regress_model_log_target(m));
    double num[2] = {1.5, 300}, y;
    CHECK_OK(dle_regress_model_predict(m, num, NULL, &y, &e), &e);
    CHECK_REL(y, 300 * exp(0.75), kind == 2 ? 1e-3 : 1e-9);
    double far[2] = {50, 300};
    CHECK_OK(dle_regress_model_predict(m, far, NULL, &y, &e), &e);
    CHECK(y > 0);
    double neg[2] = {1, 0};
    CHECK(dle_regress_model_predict(m, neg, NULL, &y, &e) == DLE_EINVAL);
    /* The file keeps the transform: reloaded, it predicts the same. */
    char *json = NULL;
    CHECK_OK(dle_regress_model_to_json(m, &json, &e), &e);
    dle_regress_model *m2 = NULL;
    CHECK_OK(dle_regress_model_parse(json, strlen(json), &m2, &e), &e);
    double y2;
    CHECK_OK(dle_regress_model_predict(m2, num, NULL, &y2, &e), &e);
    CHECK_OK(dle_regress_model_predict(m, num, NULL, &y, &e), &e);
    CHECK(y == y2);
    free(json);
    dle_regress_model_free(m2);
    dle_regress_model_free(m);
  }
  /* Out-of-fold predictions on 4 folds: close to the truth, one per row. */
  int fold[40];
  for (int i = 0; i < 40; i++) fold[i] = i % 4;
  double pred[40];
  dle_cv_scores cv;
  CHECK_OK(dle_regress_cv_predict(d, DLE_REG_RIDGE, &(dle_regress_hyper){1e-6, NAN, NAN, NAN},
                                  fold, 4, pred, &cv, &e),
           &e);
  CHECK(cv.mape < 1e-6 && cv.rmsle < 1e-6 && cv.mape_rows < 1e-6);
  CHECK_REL(pred[7], dle_dataset_target(d, 7), 1e-6);
  /* Nested: the search redone without each group, inner leave-one-group-out. */
  dle_regress_search_opts so;
  dle_regress_search_opts_init(&so);
  so.draws = 4;
  double npred[40];
  dle_cv_scores ncv;
  CHECK_OK(dle_regress_nested_cv(d, DLE_REG_KRR, &so, fold, 4, npred, &ncv, &e), &e);
  CHECK(ncv.mape < 0.05 && npred[3] > 0);
  CHECK(dle_regress_nested_cv(d, DLE_REG_KRR, &so, fold, 2, NULL, &ncv, &e) == DLE_ERANGE);
  dle_dataset_free(d);

  /* Raw target, kernel ridge far from the data: the training mean, not 0. */
  const char *n1[1] = {"x"};
  CHECK_OK(dle_dataset_new(1, n1, 0, NULL, "power", "W", &d, &e), &e);
  for (int i = 0; i < 20; i++) {
    double x = i / 10.0;
    CHECK_OK(dle_dataset_add(d, &x, NULL, 200 + x, &e), &e);
  }
  dle_regress_model *m = NULL;
  CHECK_OK(dle_regress_fit(d, DLE_REG_KRR, &(dle_regress_hyper){0.01, 1, NAN, NAN}, &m, &e), &e);
  double x = 1000, y;
  CHECK_OK(dle_regress_model_predict(m, &x, NULL, &y, &e), &e);
  CHECK(fabs(y - 200.95) < 1e-6);
  dle_regress_model_free(m);
  dle_dataset_free(d);
}

/* Linear regression on a rank-deficient design (two identical columns and one-hot
 * blocks summing to the intercept) stays finite and fits. */
static void test_linear_rank_deficient(void) {
  dle_error e;
  const char *names[2] = {"a", "b"}, *cats[1] = {"g"};
  dle_dataset *d = NULL;
  CHECK_OK(dle_dataset_new(2, names, 1, cats, "power", "W", &d, &e), &e);
  for (int i = 0; i < 30; i++) {
    double num[2] = {i * 0.1, i * 0.1};
    const char *g = i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z";
    CHECK_OK(dle_dataset_add(d, num, &g, 3 * i * 0.1 + (i % 3) * 10.0, &e), &e);
  }
  int fold[30];
  CHECK_OK(dle_regress_folds(30, 5, true, 1, fold, &e), &e);
  dle_cv_scores cv;
  CHECK_OK(dle_regress_cv(d, DLE_REG_LINEAR, &(dle_regress_hyper){NAN, NAN, NAN, NAN}, fold, 5,
                          &cv, &e),
           &e);
  CHECK(cv.r2 > 0.999);
  dle_dataset_free(d);
}

/* Fewer rows than encoded columns (the m < n least-squares path): the minimum-norm
 * solution interpolates the training rows, and an unseen level gets the mean level. */
static void test_linear_wide(void) {
  dle_error e;
  const char *names[1] = {"a"}, *cats[1] = {"g"};
  dle_dataset *d = NULL;
  CHECK_OK(dle_dataset_new(1, names, 1, cats, "power", "W", &d, &e), &e);
  const double a[3] = {0, 1, 2}, t[3] = {1, 5, 2};
  const char *lev[3] = {"x", "y", "z"};
  for (int i = 0; i < 3; i++) CHECK_OK(dle_dataset_add(d, &a[i], &lev[i], t[i], &e), &e);
  dle_regress_model *m = NULL;
  CHECK_OK(dle_regress_fit(d, DLE_REG_LINEAR, &(dle_regress_hyper){NAN, NAN, NAN, NAN}, &m, &e),
           &e);
  for (int i = 0; i < 3 && m; i++) {
    double y = 0;
    CHECK_OK(dle_regress_model_predict(m, &a[i], &lev[i], &y, &e), &e);
    CHECK_NEAR(y, t[i], 1e-9);
  }
  dle_regress_model_free(m);
  dle_dataset_free(d);
}

/* The CSV reader: quoting, CRLF, blank lines, and errors with line numbers. */
static void test_table(void) {
  dle_error e;
  dle_pre_table *t = NULL;
  const char ok[] = "a,b,c\r\n1,\"x, \"\"y\"\"\",\r\n\r\n\"multi\nline\",2,3";
  CHECK_OK(dle_pre_table_parse(ok, sizeof ok - 1, &t, &e), &e);
  CHECK(dle_pre_table_rows(t) == 2 && dle_pre_table_cols(t) == 3);
  CHECK(strcmp(dle_pre_table_cell(t, 0, 1), "x, \"y\"") == 0);
  CHECK(strcmp(dle_pre_table_cell(t, 0, 2), "") == 0);
  CHECK(strcmp(dle_pre_table_cell(t, 1, 0), "multi\nline") == 0);
  CHECK(dle_pre_table_line(t, 1) == 4);
  CHECK(dle_pre_table_col(t, "c") == 2 && dle_pre_table_col(t, "d") == -1);
  CHECK(dle_pre_table_cell(t, 2, 0) == NULL);
  dle_pre_table_free(t);
  const char *bad[] = {"a,b\n1\n", "a,a\n1,2\n", "a,\"b\n", "a,b\n1,x\"y\n", "", "a\n\"q\"z\n"};
  const char *want[] = {"line 2", "twice", "not closed", "quote", "no header", "closing quote"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    t = NULL;
    CHECK(dle_pre_table_parse(bad[i], strlen(bad[i]), &t, &e) == DLE_EPARSE && t == NULL);
    CHECK_MSG(strstr(e.msg, want[i]) != NULL, "%s", e.msg);
  }
}

/* The transferable dataset and one prediction: features computed from a row, the
 * default power limit (TDP), the range, and extrapolation flagged. */
static void test_phys(void) {
  dle_error e;
  dle_gpu_catalog *cat = NULL;
  CHECK_OK(dle_gpu_catalog_load(NULL, &cat, &e), &e);
  const char tab[] =
      "gpu_model,batch_size,training_size,validation_size,forward_pass_gflop,power_limit_w,"
      "architecture,dataset,avg_gpu_power_w,epoch_energy_j\n"
      "NVIDIA GeForce RTX 3090,32,1000,100,1,,a,d,300,1000\n"
      "NVIDIA GeForce RTX 3090,64,1000,100,2,300,a,d,280,1500\n"
      "Tesla V100-PCIE-16GB,32,5000,100,1,,b,d,200,3000\n"
      "Tesla V100-PCIE-16GB,16,5000,100,4,150,b,e,140,9000\n";
  dle_pre_table *t = NULL;
  CHECK_OK(dle_pre_table_parse(tab, sizeof tab - 1, &t, &e), &e);
  dle_pre_input in;
  CHECK_OK(dle_pre_input_from_row(t, 1, cat, &in, &e), &e);
  double v;
  CHECK_OK(dle_pre_feature_value("log_steps_per_epoch", &in, &v, &e), &e);
  CHECK_REL(v, log(1100.0 / 64), 1e-12);
  CHECK_OK(dle_pre_feature_value("power_limit_frac", &in, &v, &e), &e);
  CHECK_REL(v, 300.0 / 350, 1e-12);
  CHECK_OK(dle_pre_feature_value("peak_compute_s", &in, &v, &e), &e);
  CHECK_REL(v, 3100 * 2e9 / 35.58e12, 1e-9);
  CHECK(dle_pre_feature_value("nope", &in, &v, &e) == DLE_ENOTFOUND);
  CHECK_OK(dle_pre_input_from_row(t, 0, cat, &in, &e), &e);
  CHECK_OK(dle_pre_feature_value("power_limit_w", &in, &v, &e), &e);
  CHECK(v == 350); /* empty: the board's TDP */
  dle_dataset *d = NULL;
  CHECK_OK(dle_pre_phys_dataset(t, DLE_PRE_TARGET_EPOCH_ENERGY, cat, NULL, 0, &d, &e), &e);
  CHECK(dle_dataset_rows(d) == 4);
  dle_regress_model *m = NULL;
  CHECK_OK(dle_regress_fit(d, DLE_REG_RIDGE, &(dle_regress_hyper){1e-3, NAN, NAN, NAN}, &m, &e),
           &e);
  dle_regress_search_opts o;
  dle_regress_search_opts_init(&o);
  dle_cv_scores s = {0.9, 0.1, 100, 80, 0.2, 0.1};
  dle_regress_model_set_cv(m, &o, &s);
  static const char *const keys[] = {"architecture", "dataset"};
  const char *vals[2] = {"a", "d"};
  dle_pre_prediction p;
  CHECK_OK(dle_pre_predict(m, &in, t, 0, keys, vals, 2, &p, &e), &e);
  CHECK(p.y > 0 && p.have_range && !p.extrapolating);
  CHECK_REL(p.low, p.y * exp(-0.2), 1e-12);
  CHECK_REL(p.high, p.y * exp(0.2), 1e-12);
  in.batch_size = 4096; /* far outside: flagged, the range doubled */
  vals[0] = "zzz";
  CHECK_OK(dle_pre_predict(m, &in, t, 0, keys, vals, 2, &p, &e), &e);
  CHECK(p.extrapolating && strstr(p.note, "log_batch_size") && strstr(p.note, "architecture=zzz"));
  CHECK_REL(p.high, p.y * exp(0.4), 1e-12);
  /* Errors name the row and the column. */
  const char badt[] = "gpu_model,batch_size,training_size,validation_size,forward_pass_gflop\n"
                      "Tesla V100-PCIE-16GB,32,5000,100,1\nNo Such GPU,1,1,1,1\n"
                      "Tesla V100-PCIE-16GB,-3,5000,100,1\n";
  dle_pre_table *t2 = NULL;
  CHECK_OK(dle_pre_table_parse(badt, sizeof badt - 1, &t2, &e), &e);
  CHECK(dle_pre_input_from_row(t2, 1, cat, &in, &e) == DLE_ENOTFOUND);
  CHECK_MSG(strstr(e.msg, "row 2 (line 3)") != NULL, "%s", e.msg);
  CHECK(dle_pre_input_from_row(t2, 2, cat, &in, &e) == DLE_EPARSE);
  CHECK_MSG(strstr(e.msg, "batch_size") && strstr(e.msg, "row 3"), "%s", e.msg);
  dle_dataset *d2 = NULL;
  CHECK(dle_pre_phys_dataset(t2, DLE_PRE_TARGET_POWER, cat, NULL, 0, &d2, &e) == DLE_EPARSE);
  CHECK_MSG(strstr(e.msg, "avg_gpu_power_w") != NULL, "%s", e.msg);
  dle_pre_table_free(t2);
  dle_regress_model_free(m);
  dle_dataset_free(d);
  dle_pre_table_free(t);
  dle_gpu_catalog_free(cat);
}

int main(void) {
  test_folds();
  test_draws();
  test_models();
  test_search_and_file();
  test_runs_csv();
  test_baselines();
  test_group_folds();
  test_log_target();
  test_linear_rank_deficient();
  test_linear_wide();
  test_table();
  test_phys();
  return check_finish();
}
