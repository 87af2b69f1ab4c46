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
    long arm_impl = 0, arm_part = 0;
    while (fgets(line, sizeof line, f)) {
      char *colon = strchr(line, ':');
      if (!colon) continue;
      *colon = '\0';
      char *key = line, *val = colon + 1;
      trim(key);
      trim(val);
      if (strcmp(key, "model name") == 0 && !info->cpu_model[0])
        snprintf(info->cpu_model, sizeof info->cpu_model, "%s", val);
      else if (strcmp(key, "CPU implementer") == 0 && !arm_impl)
        arm_impl = strtol(val, NULL, 0);
      else if (strcmp(key, "CPU part") == 0 && !arm_part)
        arm_part = strtol(val, NULL, 0);
      else if (strcmp(key, "physical id") == 0) {
        long id = strtol(val, NULL, 10);
        bool seen = false;
        for (int i = 0; i < nids; i++) seen |= ids[i] == id;
        if (!seen && nids < 256) ids[nids++] = id;
      }
    }
    fclose(f);
    if (nids > 0) info->cpu_packages = nids;
    /* arm64 kernels print no "model name": name Arm's server cores from their
     * part number (Graviton2 and Ampere Altra are Neoverse-N1, Graviton3 V1). */
    if (!info->cpu_model[0] && arm_impl == 0x41) {
      const char *core = arm_part == 0xd0c   ? "Neoverse-N1"
                         : arm_part == 0xd40 ? "Neoverse-V1"
                         : arm_part == 0xd49 ? "Neoverse-N2"
                         : arm_part == 0xd4f ? "Neoverse-V2"
                                             : NULL;
      if (core) snprintf(info->cpu_model, sizeof info->cpu_model, "ARM %s", core);
    }
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

/* Splits a CSV line in place at the first n-1 commas (the last field keeps its
 * commas). Returns the number of fields found. */
static int split_fields(char *line, char **f, int n) {
  int k = 0;
  f[k++] = line;
  while (k < n) {
    char *c = strchr(f[k - 1], ',');
    if (!c) break;
    *c = '\0';
    f[k++] = c + 1;
  }
  return k;
}

int dle_cpu_power_lookup(const char *table_path, const char *model, dle_cpu_power_row *row,
                         dle_error *err) {
  char buf[1024];
  memset(row, 0, sizeof *row);
  if (!table_path) {
    int rc = dle_data_path("cpu_tdp.csv", buf, sizeof buf, err);
    if (rc) return rc;
    table_path = buf;
  }
  if (!model) model = "";
  FILE *f = fopen(table_path, "r");
  if (!f)
    return dle_error_set(err, errno == ENOENT ? DLE_ENOTFOUND : DLE_EIO, "cannot open %s: %s",
                         table_path, strerror(errno));
  char line[1024];
  long best_len = -1; /* '*' matches with length 0 */
  int lineno = 0;
  bool header = false;
  int rc = DLE_OK;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0') continue;
    if (!header) { /* the first other line names the columns */
      header = true;
      continue;
    }
    char *fl[6];
    if (split_fields(line, fl, 6) != 6) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: expected pattern,tdp_w,threads,kind,group,source",
                         table_path, lineno);
      break;
    }
    char *end;
    double w = strtod(fl[1], &end);
    if (end == fl[1] || *end || !(w > 0) || !isfinite(w)) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: bad tdp_w '%s'", table_path, lineno, fl[1]);
      break;
    }
    long th = strtol(fl[2], &end, 10);
    if (end == fl[2] || *end || th < 1 || th > 4096) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: bad threads '%s'", table_path, lineno, fl[2]);
      break;
    }
    bool family = strcmp(fl[3], "family") == 0;
    if (!family && strcmp(fl[3], "part") != 0) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: kind '%s' is neither part nor family",
                         table_path, lineno, fl[3]);
      break;
    }
    if (family && th != 1) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%d: a family row gives W per thread (threads 1)",
                         table_path, lineno);
      break;
    }
    long len = strcmp(fl[0], "*") == 0 ? 0 : (long)strlen(fl[0]);
    if (len > best_len && (len == 0 || icontains(model, fl[0]))) {
      best_len = len;
      row->tdp_w = w;
      row->threads = (int)th;
      row->w_per_thread = w / (double)th;
      row->family = family;
      snprintf(row->pattern, sizeof row->pattern, "%s", fl[0]);
      snprintf(row->source, sizeof row->source, "%s", fl[5]);
    }
  }
  fclose(f);
  if (rc) return rc;
  if (best_len < 0)
    return dle_error_set(err, DLE_ENOTFOUND, "CPU '%s' is not in %s (give its TDP with --cpu-tdp)",
                         model, table_path);
  return DLE_OK;
}
