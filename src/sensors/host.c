/* host.c — static host facts (CPU model, packages, RAM), the CPU TDP table and
 * small parsing helpers shared by the sensors. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dlenergy/fsutil.h"
#include "sensor.h"

void dle_info_note(dle_sensors_info *info, const char *fmt, ...) {
  size_t len = strlen(info->notes);
  if (len + 3 >= sizeof info->notes) return;
  if (len) {
    memcpy(info->notes + len, "; ", 3);
    len += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(info->notes + len, sizeof info->notes - len, fmt, ap);
  va_end(ap);
}

int dle_parse_gpu_list(const char *s, uint64_t *mask, bool *all, dle_error *err) {
  *mask = 0;
  *all = true;
  if (!s || !*s || strcmp(s, "all") == 0) return DLE_OK;
  *all = false;
  const char *p = s;
  for (;;) {
    if (!isdigit((unsigned char)*p))
      return dle_error_set(err, DLE_EINVAL,
                           "bad GPU list '%s': expected 'all' or indices like 0,2", s);
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (errno || v < 0 || v > 63)
      return dle_error_set(err, DLE_EINVAL, "bad GPU index in '%s' (0..63)", s);
    *mask |= (uint64_t)1 << v;
    p = end;
    if (*p == '\0') break;
    if (*p != ',')
      return dle_error_set(err, DLE_EINVAL,
                           "bad GPU list '%s': expected 'all' or indices like 0,2", s);
    p++;
  }
  return DLE_OK;
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  size_t i = 0;
  while (s[i] && isspace((unsigned char)s[i])) i++;
  if (i) memmove(s, s + i, n - i + 1);
}

void dle_host_facts(const char *proc_root, dle_sensors_info *info) {
  const char *root = proc_root && *proc_root ? proc_root : "/proc";
  char path[1100];
  long nc = sysconf(_SC_NPROCESSORS_ONLN);
  info->cpu_logical = nc > 0 ? (int)nc : 1;
  info->cpu_packages = 1;
  info->host_ram_gb = NAN;
  snprintf(path, sizeof path, "%s/cpuinfo", root);
  FILE *f = fopen(path, "r");
  if (f) {
    char line[1024];
    long ids[256];
    int nids = 0;
    while (fgets(line, sizeof line, f)) {
      char *colon = strchr(line, ':');
      if (!colon) continue;
      *colon = '\0';
      char *key = line, *val = colon + 1;
      trim(key);
      trim(val);
      if (strcmp(key, "model name") == 0 && !info->cpu_model[0])
        snprintf(info->cpu_model, sizeof info->cpu_model, "%s", val);
      else if (strcmp(key, "physical id") == 0) {
        long id = strtol(val, NULL, 10);
        bool seen = false;
        for (int i = 0; i < nids; i++) seen |= ids[i] == id;
        if (!seen && nids < 256) ids[nids++] = id;
      }
    }
    fclose(f);
    if (nids > 0) info->cpu_packages = nids;
  }
  snprintf(path, sizeof path, "%s/meminfo", root);
  f = fopen(path, "r");
  if (f) {
    char line[256];
    while (fgets(line, sizeof line, f)) {
      double kb;
      if (sscanf(line, "MemTotal: %lf kB", &kb) == 1) {
        info->host_ram_gb = kb * 1024.0 / 1e9;
        break;
      }
    }
    fclose(f);
  }
}

static bool icontains(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  if (n == 0) return false;
  for (; *hay; hay++)
    if (strncasecmp(hay, needle, n) == 0) return true;
  return false;
}

int dle_cpu_tdp_lookup(const char *table_path, const char *model, double *tdp_w,
                       char *source, size_t source_len, dle_error *err) {
  char buf[1024];
  if (!table_path) {
    int rc = dle_data_path("cpu_tdp.csv", buf, sizeof buf, err);
    if (rc) return rc;
    table_path = buf;
  }
  if (!model || !*model)
    return dle_error_set(err, DLE_ENOTFOUND, "CPU model unknown: no TDP to look up");
  FILE *f = fopen(table_path, "r");
  if (!f)
    return dle_error_set(err, errno == ENOENT ? DLE_ENOTFOUND : DLE_EIO, "cannot open %s: %s",
                         table_path, strerror(errno));
  char line[1024];
  size_t best_len = 0;
  int lineno = 0;
  int rc = DLE_OK;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    if (lineno == 1 || line[0] == '#' || line[0] == '\0') continue; /* header, comments */
    char *c1 = strchr(line, ',');
    char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    if (!c1 || !c2) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: expected pattern,tdp_w,source", table_path,
                         lineno);
      break;
    }
    *c1 = *c2 = '\0';
    char *end;
    double w = strtod(c1 + 1, &end);
    if (end == c1 + 1 || *end || !(w > 0) || !isfinite(w)) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: bad tdp_w '%s'", table_path, lineno, c1 + 1);
      break;
    }
    size_t len = strlen(line);
    if (len > best_len && icontains(model, line)) {
      best_len = len;
      *tdp_w = w;
      if (source) snprintf(source, source_len, "%s", c2 + 1);
    }
  }
  fclose(f);
  if (rc) return rc;
  if (!best_len)
    return dle_error_set(err, DLE_ENOTFOUND, "CPU '%s' is not in %s (give its TDP with --cpu-tdp)",
                         model, table_path);
  return DLE_OK;
}
