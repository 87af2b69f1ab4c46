/* carbon.c — carbon-intensity lookup in the shipped data/carbon_intensity.csv
 * (see energy.h). The table is small (tens of rows), so it is read per lookup;
 * nothing is cached (no global state in the library). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dlenergy/energy.h"
#include "dlenergy/fsutil.h"

enum { CARBON_FIELDS = 5 };

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

/* Splits line in place at the first CARBON_FIELDS-1 commas (the source may hold more). */
static int split(char *line, char *f[CARBON_FIELDS]) {
  int k = 0;
  f[k++] = line;
  for (char *p = line; *p && k < CARBON_FIELDS; p++)
    if (*p == ',') {
      *p = '\0';
      f[k++] = p + 1;
    }
  for (int i = 0; i < k; i++) f[i] = trim(f[i]);
  return k;
}

int dle_carbon_find(const char *country, dle_carbon_info *out, dle_error *err) {
  if (!country || !*country || !out)
    return dle_error_set(err, DLE_EINVAL, "no country given for the carbon intensity");
  char path[4096];
  int rc = dle_data_path("carbon_intensity.csv", path, sizeof path, err);
  if (rc) return rc;
  char *buf = NULL;
  size_t len = 0;
  rc = dle_read_file(path, 1 << 20, &buf, &len, err);
  if (rc) return rc;
  rc = dle_error_set(err, DLE_ENOTFOUND,
                     "country '%s' is not in %s (use an ISO code such as ES, or give "
                     "--carbon-intensity in g/kWh)",
                     country, path);
  int lineno = 0, header_seen = 0;
  char *save = NULL;
  for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    char *l = trim(line);
    if (!*l || *l == '#') continue;
    if (!header_seen) {
      header_seen = 1;
      continue;
    }
    char *f[CARBON_FIELDS];
    int nf = split(l, f);
    if (nf < 4) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: expected code,name,g_per_kwh,year,source",
                         path, lineno);
      break;
    }
    if (strcasecmp(f[0], country) != 0 && strcasecmp(f[1], country) != 0) continue;
    char *end = NULL;
    errno = 0;
    double g = strtod(f[2], &end);
    if (errno || end == f[2] || *end || !isfinite(g) || g < 0) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: bad g_per_kwh '%s'", path, lineno, f[2]);
      break;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->code, sizeof out->code, "%s", f[0]);
    snprintf(out->name, sizeof out->name, "%s", f[1]);
    out->g_per_kwh = g;
    out->year = atoi(f[3]);
    snprintf(out->source, sizeof out->source, "%s", nf > 4 ? f[4] : "");
    rc = DLE_OK;
    break;
  }
  free(buf);
  return rc;
}

int dle_carbon_lookup(const char *country, double *g_per_kwh, dle_error *err) {
  dle_carbon_info info;
  int rc = dle_carbon_find(country, &info, err);
  if (rc == DLE_OK && g_per_kwh) *g_per_kwh = info.g_per_kwh;
  return rc;
}
