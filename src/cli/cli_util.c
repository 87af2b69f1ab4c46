/* cli_util.c — helpers shared by the verbs (see cli.h) */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(const char *verb, const dle_error *err) {
  const char *msg = err && err->msg[0] ? err->msg : dle_status_str(err ? err->code : -10);
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

void cli_format_energy(double j, char *buf, size_t n) {
  if (!isfinite(j)) {
    snprintf(buf, n, "n/a");
    return;
  }
  double a = fabs(j);
  double kwh = j / 3.6e6;
  if (a < 1e3)
    snprintf(buf, n, "%.1f J", j);
  else if (a < 1e6)
    snprintf(buf, n, "%.2f kJ (%.4g kWh)", j / 1e3, kwh);
  else
    snprintf(buf, n, "%.3f MJ (%.4g kWh)", j / 1e6, kwh);
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

bool cli_stderr_is_tty(void) { return isatty(STDERR_FILENO) == 1; }
