/* The C API for foreign callers (dlenergy/api.h) from C, so that it also runs under
 * ASan+UBSan: options and their error messages, an in-process run with epochs,
 * windows and metadata, its summary JSON against the stored run read back through
 * dle_api_run_json, the list and sample readers, an estimate, and errors. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "dlenergy/api.h"
#include "dlenergy/error.h"

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void test_options(void) {
  dle_tracker *t = dle_tracker_new();
  CHECK(t != NULL);
  if (!t) return;
  CHECK(dle_tracker_set(t, "pue", "0.5") == DLE_EINVAL);
  CHECK(strstr(dle_tracker_error(t), "pue wants a number in [1, 10]") != NULL);
  CHECK(dle_tracker_set(t, "interval", "fast") == DLE_EINVAL);
  CHECK(dle_tracker_set(t, "gpus", "0,x") == DLE_EINVAL);
  CHECK(dle_tracker_set(t, "meta.bad key", "1") == DLE_EINVAL);
  CHECK(dle_tracker_set(t, "colour", "blue") == DLE_EINVAL);
  CHECK(strstr(dle_tracker_error(t), "colour") != NULL);
  CHECK(dle_tracker_set(t, "scope", "machine") == DLE_OK);
  CHECK(dle_tracker_epoch_begin(t, 1) == DLE_ESTATE); /* not started */
  CHECK(dle_tracker_stop(t, NULL, NULL) == DLE_ESTATE);
  CHECK(dle_tracker_summary_json(t) == NULL);
  CHECK(isnan(dle_tracker_now_s(t)) && dle_tracker_run_id(t) == 0);
  dle_tracker_free(t);
  /* country and carbon intensity together, and an unknown country: at start */
  t = dle_tracker_new();
  CHECK(dle_tracker_set(t, "country", "ES") == DLE_OK);
  CHECK(dle_tracker_set(t, "carbon_intensity", "100") == DLE_OK);
  CHECK(dle_tracker_start(t) == DLE_EINVAL);
  CHECK(strstr(dle_tracker_error(t), "use one") != NULL);
  dle_tracker_free(t);
  t = dle_tracker_new();
  CHECK(dle_tracker_set(t, "country", "Atlantis") == DLE_OK);
  CHECK(dle_tracker_set(t, "db", ":memory:") == DLE_OK);
  CHECK(dle_tracker_start(t) == DLE_ENOTFOUND);
  CHECK(strstr(dle_tracker_error(t), "Atlantis") != NULL);
  dle_tracker_free(t);
  dle_tracker_free(NULL);
}

static void test_run(const char *db) {
  dle_tracker *t = dle_tracker_new();
  if (!t) return;
  CHECK(dle_tracker_set(t, "db", db) == DLE_OK);
  CHECK(dle_tracker_set(t, "no_gpu", NULL) == DLE_OK);
  CHECK(dle_tracker_set(t, "interval", "0.02") == DLE_OK);
  CHECK(dle_tracker_set(t, "country", "FR") == DLE_OK);
  CHECK(dle_tracker_set(t, "meta.architecture", "mlp") == DLE_OK);
  CHECK(dle_tracker_set(t, "command", "test_api") == DLE_OK);
  CHECK(dle_tracker_start(t) == DLE_OK);
  CHECK(dle_tracker_set(t, "pue", "1.2") == DLE_ESTATE); /* options before start */
  CHECK(dle_tracker_start(t) == DLE_ESTATE);
  CHECK(dle_tracker_run_id(t) > 0);
  CHECK(dle_tracker_epochs_total(t, 2) == DLE_OK);
  for (int k = 1; k <= 2; k++) {
    CHECK(dle_tracker_epoch_begin(t, k) == DLE_OK);
    sleep_ms(120);
    CHECK(dle_tracker_window_begin(t, "val") == DLE_OK);
    CHECK(dle_tracker_window_begin(t, "val") == DLE_ESTATE);
    sleep_ms(60);
    double ej = NAN;
    CHECK(dle_tracker_window_end(t, "val", &ej) == DLE_OK);
    CHECK(isfinite(ej) && ej >= 0);
    CHECK(dle_tracker_epoch_end(t, k, "loss=0.5 acc=0.9") == DLE_OK);
  }
  CHECK(dle_tracker_window_end(t, "nope", NULL) == DLE_ENOTFOUND);
  CHECK(strstr(dle_tracker_error(t), "no window 'nope' is open") != NULL);
  CHECK(dle_tracker_epoch_end(t, 3, "a=1\nb=2") == DLE_EINVAL);
  CHECK(dle_tracker_meta(t, "note", "from C") == DLE_OK);
  CHECK(dle_tracker_meta(t, "window.9", "x") == DLE_EINVAL);
  CHECK(dle_tracker_now_s(t) > 0.3);
  CHECK(dle_tracker_stop(t, "running", NULL) == DLE_EINVAL);
  CHECK(dle_tracker_stop(t, "complete", NULL) == DLE_OK);
  CHECK(dle_tracker_stop(t, "complete", NULL) == DLE_ESTATE);
  const char *js = dle_tracker_summary_json(t);
  CHECK(js != NULL);
  cJSON *s = js ? cJSON_Parse(js) : NULL;
  CHECK(s != NULL);
  char *stored_txt = NULL, err[256] = "";
  char idbuf[32];
  snprintf(idbuf, sizeof idbuf, "%lld", (long long)dle_tracker_run_id(t));
  CHECK(dle_api_run_json(db, idbuf, &stored_txt, err, sizeof err) == DLE_OK);
  cJSON *st = stored_txt ? cJSON_Parse(stored_txt) : NULL;
  CHECK(st != NULL);
  if (s && st) {
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "recorded")));
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "status")),
                 "complete") == 0);
    CHECK(num(s, "epochs") == 2 && num(s, "epochs_planned") == 2);
    CHECK(num(s, "samples") > 10);
    const char *same[] = {"run_id", "samples", "duration_s", "total_energy_j", "emissions_g",
                          "energy_j", "epoch_list", "windows", "meta", "components"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
      CHECK(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(s, same[i]),
                          cJSON_GetObjectItemCaseSensitive(st, same[i]), true));
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(s, "windows");
    CHECK(cJSON_GetArraySize(w) == 2);
    const cJSON *w0 = cJSON_GetArrayItem(w, 0);
    CHECK(w0 && num(w0, "total_energy_j") > 0 && num(w0, "t_end_s") > num(w0, "t_begin_s"));
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(s, "meta");
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "architecture")),
                 "mlp") == 0);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "note")),
                 "from C") == 0);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "source")),
                 "inproc") == 0);
  }
  cJSON_Delete(s);
  cJSON_Delete(st);
  dle_api_free(stored_txt);
  dle_tracker_free(t);

  /* Readers. */
  char *txt = NULL;
  CHECK(dle_api_runs_json(db, "architecture=mlp", &txt, err, sizeof err) == DLE_OK);
  cJSON *arr = txt ? cJSON_Parse(txt) : NULL;
  CHECK(cJSON_GetArraySize(arr) == 1);
  CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "epoch_list") == NULL);
  cJSON_Delete(arr);
  dle_api_free(txt);
  CHECK(dle_api_runs_json(db, "architecture=none", &txt, err, sizeof err) == DLE_OK);
  CHECK(txt && strcmp(txt, "[]") == 0);
  dle_api_free(txt);
  CHECK(dle_api_samples_json(db, "last", &txt, err, sizeof err) == DLE_OK);
  cJSON *cols = txt ? cJSON_Parse(txt) : NULL;
  int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cols, "t_s"));
  CHECK(n > 10 && n == cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cols, "cpu_power_w")));
  CHECK(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cols, "gpu_power_w"), 0)));
  cJSON_Delete(cols);
  dle_api_free(txt);
  CHECK(dle_api_estimate_json(db, "last", "carbontracker", NULL, &txt, err, sizeof err) == DLE_OK);
  cJSON *est = txt ? cJSON_Parse(txt) : NULL;
  CHECK(est && num(est, "total_j") > 0);
  CHECK(est && strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(est, "figure")),
                      "modelled") == 0);
  cJSON_Delete(est);
  dle_api_free(txt);
  txt = NULL;
  CHECK(dle_api_estimate_json(db, "last", "crystal-ball", NULL, &txt, err, sizeof err) == DLE_EINVAL);
  CHECK(txt == NULL && strstr(err, "crystal-ball") != NULL);
  CHECK(dle_api_estimate_json(db, "last", "carbontracker", "colour=blue", &txt, err, sizeof err) ==
        DLE_EINVAL);
  CHECK(dle_api_run_json(db, "999", &txt, err, sizeof err) == DLE_ENOTFOUND);
  CHECK(txt == NULL && err[0]);
}

static void test_bad_store(const char *dir) {
  char db[600];
  snprintf(db, sizeof db, "%s/no/such/dir/x.db", dir);
  dle_tracker *t = dle_tracker_new();
  if (!t) return;
  dle_tracker_set(t, "db", db);
  dle_tracker_set(t, "no_gpu", "");
  int rc = dle_tracker_start(t);
  CHECK(rc == DLE_EDB || rc == DLE_EIO);
  CHECK(dle_tracker_error(t)[0] != '\0');
  dle_tracker_free(t);
  /* A tracker freed while running records the run as failed. */
  snprintf(db, sizeof db, "%s/freed.db", dir);
  t = dle_tracker_new();
  dle_tracker_set(t, "db", db);
  dle_tracker_set(t, "no_gpu", "");
  CHECK(dle_tracker_start(t) == DLE_OK);
  sleep_ms(50);
  dle_tracker_free(t);
  char *txt = NULL, err[256];
  CHECK(dle_api_run_json(db, "last", &txt, err, sizeof err) == DLE_OK);
  CHECK(txt && strstr(txt, "\"status\":\"failed\"") != NULL);
  dle_api_free(txt);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  char dir[512];
  snprintf(dir, sizeof dir, "%s/dle-api-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) SKIP("no temporary folder");
  char db[600];
  snprintf(db, sizeof db, "%s/api.db", dir);
  setenv("DLENERGY_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
  test_options();
  test_run(db);
  test_bad_store(dir);
  const char *files[] = {"api.db", "api.db-wal", "api.db-shm", "freed.db", "freed.db-wal",
                         "freed.db-shm"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(db, sizeof db, "%s/%s", dir, files[i]);
    unlink(db);
  }
  rmdir(dir);
  return check_finish();
}
