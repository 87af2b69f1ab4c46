/* Tests of bench plans: parsing, expansion, stable ids, seeded schedules, bad input. */
#include "check.h"
#include "dlenergy/campaign.h"

static dle_plan *parse(const char *json, dle_error *e) {
  dle_plan *p = NULL;
  int rc = dle_plan_parse(json, strlen(json), &p, e);
  return rc == 0 ? p : NULL;
}

static const char *GOOD =
    "{\"name\":\"t\",\"factors\":{\"arch\":[\"a\",\"b\"],\"bs\":[16,32],\"img\":[\"64x64\","
    "\"128x128\"]},\"command\":[\"/bin/prog\",\"--arch\",\"{arch}\",\"--bs={bs}\",\"{{x}}\","
    "\"{img}/{arch}\"],\"repetitions\":3,\"seed\":7,\"cooldown_s\":0.5,\"timeout_s\":60,"
    "\"meta\":{\"dataset\":\"synthetic\",\"n\":5},\"run_options\":[\"--interval\",\"0.5\"]}";

static void test_good(void) {
  dle_error e;
  dle_plan *p = parse(GOOD, &e);
  CHECK_MSG(p != NULL, "%s", e.msg);
  if (!p) return;
  CHECK(strcmp(dle_plan_name(p), "t") == 0);
  CHECK(dle_plan_n_factors(p) == 3);
  CHECK(dle_plan_n_configs(p) == 8);
  CHECK(dle_plan_repetitions(p) == 3);
  CHECK(dle_plan_cooldown_s(p) == 0.5);
  CHECK(dle_plan_timeout_s(p) == 60);
  CHECK(dle_plan_warmup_s(p) == 0);
  /* Every configuration is a distinct combination; the last factor varies fastest. */
  CHECK(strcmp(dle_plan_level(p, 0, 0), "a") == 0 && strcmp(dle_plan_level(p, 0, 2), "64x64") == 0);
  CHECK(strcmp(dle_plan_level(p, 1, 2), "128x128") == 0 && strcmp(dle_plan_level(p, 1, 1), "16") == 0);
  CHECK(strcmp(dle_plan_level(p, 7, 0), "b") == 0 && strcmp(dle_plan_level(p, 7, 1), "32") == 0);
  char ids[8][17];
  for (size_t c = 0; c < 8; c++) {
    dle_plan_config_id(p, c, ids[c]);
    CHECK(strlen(ids[c]) == 16);
    for (size_t d = 0; d < c; d++) CHECK(strcmp(ids[c], ids[d]) != 0);
  }
  char **argv = NULL;
  CHECK_OK(dle_plan_command(p, 6, &argv, &e), &e); /* b, 32, 64x64 */
  if (argv) {
    CHECK(strcmp(argv[0], "/bin/prog") == 0);
    CHECK(strcmp(argv[2], "b") == 0);
    CHECK(strcmp(argv[3], "--bs=32") == 0);
    CHECK(strcmp(argv[4], "{x}") == 0);
    CHECK(strcmp(argv[5], "64x64/b") == 0);
    CHECK(argv[6] == NULL);
    dle_plan_argv_free(argv);
  }
  CHECK(dle_plan_command(p, 8, &argv, &e) == DLE_EINVAL);
  CHECK(dle_plan_n_meta(p) == 2);
  const char *k, *v;
  dle_plan_meta(p, 1, &k, &v);
  CHECK(strcmp(k, "n") == 0 && strcmp(v, "5") == 0);
  CHECK(dle_plan_n_run_options(p) == 2 && strcmp(dle_plan_run_option(p, 1), "0.5") == 0);

  /* The schedule is a permutation of all pairs, the same for the same seed. */
  dle_plan_item *s1 = NULL, *s2 = NULL;
  size_t n1 = 0, n2 = 0;
  CHECK_OK(dle_plan_schedule(p, &s1, &n1, &e), &e);
  CHECK_OK(dle_plan_schedule(p, &s2, &n2, &e), &e);
  CHECK(n1 == 24 && n2 == 24);
  int seen[8][3] = {{0}};
  int same = 1, moved = 0;
  for (size_t i = 0; i < n1; i++) {
    seen[s1[i].config][s1[i].repetition]++;
    if (s1[i].config != s2[i].config || s1[i].repetition != s2[i].repetition) same = 0;
    if (s1[i].config != i % 8 || s1[i].repetition != (int)(i / 8)) moved = 1;
  }
  int all_once = 1;
  for (int c = 0; c < 8; c++)
    for (int r = 0; r < 3; r++) all_once &= seen[c][r] == 1;
  CHECK(all_once);
  CHECK(same);
  CHECK(moved); /* randomized by default */
  free(s1);
  free(s2);
  dle_plan_free(p);
}

static void test_unrandomized_and_warmup(void) {
  dle_error e;
  dle_plan *p = parse(
      "{\"name\":\"u\",\"command\":[\"x\"],\"repetitions\":2,\"randomize\":false,"
      "\"warmup\":{\"command\":[\"burn\",\"{y}\"],\"duration_s\":5}}",
      &e);
  CHECK_MSG(p != NULL, "%s", e.msg);
  if (!p) return;
  CHECK(dle_plan_n_configs(p) == 1);
  CHECK(dle_plan_warmup_s(p) == 5);
  dle_plan_item *s = NULL;
  size_t n = 0;
  CHECK_OK(dle_plan_schedule(p, &s, &n, &e), &e);
  CHECK(n == 2 && s[0].repetition == 0 && s[1].repetition == 1);
  free(s);
  char **w = NULL;
  CHECK_OK(dle_plan_warmup_command(p, &w, &e), &e);
  CHECK(w && strcmp(w[1], "{y}") == 0);
  dle_plan_argv_free(w);
  dle_plan_free(p);
}

static void expect_error(const char *json, const char *needle) {
  dle_error e = {0};
  dle_plan *p = parse(json, &e);
  CHECK_MSG(p == NULL, "accepted: %s", json);
  CHECK_MSG(strstr(e.msg, needle) != NULL, "message '%s' lacks '%s'", e.msg, needle);
  dle_plan_free(p);
}

static void test_bad(void) {
  expect_error("", "invalid JSON");
  expect_error("{\"name\":\"x\",", "invalid JSON");
  expect_error("[1,2]", "not a JSON object");
  expect_error("{\"command\":[\"x\"]}", "\"name\"");
  expect_error("{\"name\":\"a,b\",\"command\":[\"x\"]}", "must not contain");
  expect_error("{\"name\":\"x\"}", "\"command\"");
  expect_error("{\"name\":\"x\",\"command\":[]}", "must not be empty");
  expect_error("{\"name\":\"x\",\"command\":[\"{nope}\"]}", "not a factor");
  expect_error("{\"name\":\"x\",\"command\":[\"{open\"]}", "unclosed");
  expect_error("{\"name\":\"x\",\"command\":[\"a}b\"]}", "unmatched");
  expect_error("{\"name\":\"x\",\"command\":[\"x\"],\"repetitons\":3}", "unknown key");
  expect_error("{\"name\":\"x\",\"command\":[\"x\"],\"repetitions\":0}", "repetitions");
  expect_error("{\"name\":\"x\",\"command\":[\"x\"],\"repetitions\":2.5}", "repetitions");
  expect_error("{\"name\":\"x\",\"command\":[\"x\"],\"cooldown_s\":-1}", "cooldown_s");
  expect_error("{\"name\":\"x\",\"factors\":{\"a\":[]},\"command\":[\"x\"]}", "levels");
  expect_error("{\"name\":\"x\",\"factors\":{\"a\":[1,1]},\"command\":[\"x\"]}", "repeats");
  expect_error("{\"name\":\"x\",\"factors\":{\"a\":[{}]},\"command\":[\"x\"]}", "not a string");
  expect_error("{\"name\":\"x\",\"factors\":{\"a\":\"b\"},\"command\":[\"x\"]}", "array");
  expect_error("{\"name\":\"x\",\"command\":[\"x\"],\"warmup\":{\"command\":[\"w\"]}}",
               "duration_s");
  /* Design too large: 1000^3 configurations. */
  char big[20000];
  size_t o = (size_t)snprintf(big, sizeof big, "{\"name\":\"x\",\"command\":[\"x\"],\"factors\":{");
  for (int f = 0; f < 3; f++) {
    o += (size_t)snprintf(big + o, sizeof big - o, "%s\"f%d\":[", f ? "," : "", f);
    for (int l = 0; l < 1000; l++) o += (size_t)snprintf(big + o, sizeof big - o, "%s%d", l ? "," : "", l);
    o += (size_t)snprintf(big + o, sizeof big - o, "]");
  }
  snprintf(big + o, sizeof big - o, "}}");
  expect_error(big, "configurations");
  dle_error e;
  dle_plan *p = NULL;
  CHECK(dle_plan_load("/nonexistent/plan.json", &p, &e) == DLE_ENOTFOUND);
}

int main(void) {
  test_good();
  test_unrandomized_and_warmup();
  test_bad();
  return check_finish();
}
