/* cli_util.c — helpers shared by the verbs (see cli.h) */
#include <cjson/cJSON.h>
#include <errno.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dlenergy/report.h"
#include "dlenergy/stats.h"
#include "dlenergy/store.h"

int cli_fail(const char *verb, const dle_error *err) {
  const char *msg = err && err->msg[0] ? err->msg : dle_status_str(err ? err->code : -10);
  /* Library messages may already name the module ("stabilize: ..."): say it once. */
  size_t vl = strlen(verb);
  while (strncmp(msg, verb, vl) == 0 && msg[vl] == ':' && msg[vl + 1] == ' ') msg += vl + 2;
  fprintf(stderr, "dlenergy %s: %s\n", verb, msg);
  return DLE_EXIT_FAIL;
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "dlenergy %s: ", verb);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'dlenergy %s --help'.\n", verb);
  va_end(ap);
  return DLE_EXIT_USAGE;
}

const char *cli_db_path(const char *opt_db) {
  if (opt_db && *opt_db) return opt_db;
  const char *env = getenv("DLENERGY_DB");
  if (env && *env) return env;
  return "dlenergy.db";
}

/* True when column col of t holds at least one finite number. */
static bool col_has_number(const dle_table *t, const char *col) {
  long c = dle_table_find_col(t, col);
  if (c < 0) return false;
  for (size_t r = 0; r < dle_table_rows(t); r++)
    if (isfinite(dle_table_get_double(t, r, (size_t)c))) return true;
  return false;
}

const char *cli_default_metric(const dle_table *t, const char *metric, bool metric_set) {
  if (metric_set) return metric;
  const char *gpu = dle_report_resolve_column(t, metric);
  if (!col_has_number(t, gpu) && col_has_number(t, "total_energy_mj")) return "total";
  return metric;
}

int cli_open_store_existing(const char *location, dle_store **out, dle_error *err) {
  *out = NULL;
  /* PostgreSQL URIs name a server's database: opening one creates no file. */
  bool uri = strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0;
  if (!uri && strcmp(location, ":memory:") != 0) {
    struct stat sb;
    if (stat(location, &sb) != 0)
      return dle_error_set(err, DLE_ENOTFOUND,
                           "no run store at %s (%s); record one with 'dlenergy run' or "
                           "'dlenergy import', or give --db / $DLENERGY_DB",
                           location, strerror(errno));
    if (S_ISDIR(sb.st_mode))
      return dle_error_set(err, DLE_EINVAL, "run store %s is a folder, not a database file",
                           location);
  }
  return dle_store_open(location, out, err);
}

bool cli_parse_double(const char *s, double *out) {
  if (!s || !*s) return false;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || *end != '\0' || !isfinite(v)) return false;
  *out = v;
  return true;
}

bool cli_parse_int64(const char *s, int64_t *out) {
  if (!s || !*s) return false;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = (int64_t)v;
  return true;
}

bool cli_parse_int(const char *s, int *out) {
  int64_t v;
  if (!cli_parse_int64(s, &v) || v < INT_MIN || v > INT_MAX) return false;
  *out = (int)v;
  return true;
}

bool cli_parse_size(const char *s, size_t lo, size_t hi, size_t *out) {
  int64_t v;
  if (!cli_parse_int64(s, &v) || v < (int64_t)lo || v > (int64_t)hi) return false;
  *out = (size_t)v;
  return true;
}

void cli_format_energy(double j, char *buf, size_t n) {
  if (!isfinite(j)) {
    snprintf(buf, n, "n/a");
    return;
  }
  double a = fabs(j);
  double kwh = j / 3.6e6;
  if (a > 0 && a < 0.05)
    snprintf(buf, n, "%.2g J", j); /* not "0.0 J" for a small non-zero figure */
  else if (a < 1e3)
    snprintf(buf, n, "%.1f J", j);
  else if (a < 1e6)
    snprintf(buf, n, "%.2f kJ (%.4g kWh)", j / 1e3, kwh);
  else
    snprintf(buf, n, "%.3f MJ (%.4g kWh)", j / 1e6, kwh);
}

void cli_format_energy_short(double j, char *buf, size_t n) {
  dle_format_energy(j, "-", buf, n);
}

void cli_format_duration(double s, char *buf, size_t n) {
  if (!isfinite(s)) {
    snprintf(buf, n, "n/a");
    return;
  }
  if (s < 60) {
    snprintf(buf, n, "%.1f s", s);
    return;
  }
  long t = lround(s);
  long h = t / 3600, m = (t % 3600) / 60, sec = t % 60;
  if (h > 0)
    snprintf(buf, n, "%ldh %02ldm %02lds", h, m, sec);
  else
    snprintf(buf, n, "%ldm %02lds", m, sec);
}

bool cli_parse_image_hw(const char *s, long *h, long *w) {
  char *end = NULL;
  long a = strtol(s, &end, 10);
  if (end == s || (*end != 'x' && *end != 'X')) return false;
  const char *p = end + 1;
  long b = strtol(p, &end, 10);
  if (end == p || *end || a <= 0 || b <= 0 || a > 100000 || b > 100000) return false;
  *h = a;
  *w = b;
  return true;
}

char *cli_split_columns(const char *list, const char **out, size_t max, size_t *n) {
  char *copy = strdup(list);
  *n = 0;
  if (!copy) return NULL;
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok && *n < max; tok = strtok_r(NULL, ",", &save))
    if (*tok) out[(*n)++] = tok;
  return copy;
}

const char *cli_components_str(int mask) {
  static const char *const names[8] = {"none", "GPU", "RAM", "GPU+RAM",
                                       "CPU",  "GPU+CPU", "RAM+CPU", "GPU+RAM+CPU"};
  return names[mask & 7];
}

int cli_parse_estimate_methods(const char *list, bool *use, size_t *n_named, dle_error *err) {
  memset(use, 0, sizeof(bool) * DLE_EST_COUNT);
  *n_named = 0;
  if (strcmp(list, "all") == 0) {
    for (int i = 0; i < DLE_EST_COUNT; i++) use[i] = true;
    *n_named = DLE_EST_COUNT;
    return DLE_OK;
  }
  char buf[512];
  snprintf(buf, sizeof buf, "%s", list);
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    dle_estimate_method m;
    int rc = dle_estimate_method_parse(t, &m, err);
    if (rc) return rc;
    use[m] = true;
    (*n_named)++;
  }
  return DLE_OK;
}

int cli_estimate_params_apply(dle_estimate_input *in, const char *const *names,
                              const char *const *values, size_t n, dle_error *err) {
  for (size_t i = 0; i < n; i++)
    if (values[i]) {
      int rc = dle_estimate_input_set(in, names[i], values[i], err);
      if (rc) return rc;
    }
  return DLE_OK;
}

int cli_load_estimate_run(const char *db_path, const char *ref, int64_t *id,
                          dle_estimate_run *run, dle_error *err) {
  memset(run, 0, sizeof *run);
  dle_store *st = NULL;
  int rc = cli_open_store_existing(db_path, &st, err);
  if (rc) return rc;
  rc = dle_store_resolve_run(st, ref, id, err);
  if (!rc) rc = dle_estimate_run_load(st, *id, run, err);
  dle_store_close(st);
  if (rc) dle_estimate_run_free(run);
  return rc;
}

bool cli_print_json(const struct cJSON *o) {
  char *s = o ? cJSON_Print(o) : NULL;
  if (!s) return false;
  puts(s);
  cJSON_free(s);
  return true;
}

bool cli_stderr_is_tty(void) { return isatty(STDERR_FILENO) == 1; }
