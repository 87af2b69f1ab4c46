/* rapl.c — CPU package and DRAM energy from Linux powercap (intel-rapl zones,
 * which the kernel also uses for AMD Zen).
 *
 * Zones "intel-rapl:N" named "package-N" are CPU packages; their subzones
 * "intel-rapl:N:M" named "dram" are the DRAM domains. ("psys", "core",
 * "uncore" are skipped: psys overlaps the packages, core/uncore are inside them.)
 * energy_uj wraps at max_energy_range_uj; each read adds the wrap-corrected
 * increment to a 64-bit-safe running total. Files stay open and are re-read
 * with pread at offset 0 (sysfs regenerates the value), which keeps a tick cheap. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor.h"

enum { RAPL_MAX_DOMAINS = 32 };

typedef struct rapl_domain {
  int fd;
  bool dram;
  double max_range_uj;  /* 0 when unknown: a decrease then means "reset", not wrap */
  double last_uj;
  double total_uj;      /* since open, wrap-corrected */
} rapl_domain;

typedef struct rapl_state {
  int n;
  rapl_domain d[RAPL_MAX_DOMAINS];
  int64_t last_ns;
  double last_pkg_j, last_dram_j; /* totals at the previous read, for power */
  bool have_last;
} rapl_state;

static int read_text(int dirfd, const char *name, char *buf, size_t cap) {
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t r = read(fd, buf, cap - 1);
  int e = errno;
  close(fd);
  if (r < 0) {
    errno = e;
    return -1;
  }
  buf[r] = '\0';
  char *nl = strchr(buf, '\n');
  if (nl) *nl = '\0';
  return 0;
}

/* Reads an unsigned decimal counter from fd at offset 0. */
static int pread_counter(int fd, double *out) {
  char buf[64];
  ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
  if (r <= 0) return -1;
  buf[r] = '\0';
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno || end == buf) return -1;
  *out = (double)v;
  return 0;
}

static void rapl_close(void *state) {
  rapl_state *st = state;
  if (!st) return;
  for (int i = 0; i < st->n; i++)
    if (st->d[i].fd >= 0) close(st->d[i].fd);
  free(st);
}

static int rapl_open(const dle_sensors_config *cfg, void **state, dle_sensors_info *info,
                     dle_error *err) {
  const char *root = cfg->powercap_root && *cfg->powercap_root ? cfg->powercap_root
                                                               : "/sys/class/powercap";
  DIR *dir = opendir(root);
  if (!dir) {
    dle_error_set(err, DLE_EUNSUPPORTED, "no powercap interface at %s (%s)", root,
                  strerror(errno));
    return DLE_SENSOR_ABSENT;
  }
  rapl_state *st = calloc(1, sizeof *st);
  if (!st) {
    closedir(dir);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int unreadable = 0, unreadable_errno = 0, wanted = 0;
  char first_bad[128] = "";
  struct dirent *de;
  while ((de = readdir(dir)) != NULL && st->n < RAPL_MAX_DOMAINS) {
    unsigned a, b;
    char tail;
    bool top = sscanf(de->d_name, "intel-rapl:%u%c", &a, &tail) == 1;
    bool sub = !top && sscanf(de->d_name, "intel-rapl:%u:%u%c", &a, &b, &tail) == 2;
    if (!top && !sub) continue;
    int zfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (zfd < 0) continue;
    char name[64] = "", range[64] = "";
    bool want = false, dram = false;
    if (read_text(zfd, "name", name, sizeof name) == 0) {
      if (top && strncmp(name, "package", 7) == 0) want = true;
      if (sub && strcmp(name, "dram") == 0) want = dram = true;
    }
    if (want) {
      wanted++;
      int fd = openat(zfd, "energy_uj", O_RDONLY | O_CLOEXEC);
      double v = 0;
      if (fd < 0 || pread_counter(fd, &v) != 0) {
        unreadable++;
        unreadable_errno = errno;
        if (!first_bad[0]) snprintf(first_bad, sizeof first_bad, "%s/energy_uj", de->d_name);
        if (fd >= 0) close(fd);
      } else {
        rapl_domain *d = &st->d[st->n++];
        d->fd = fd;
        d->dram = dram;
        d->last_uj = v;
        d->total_uj = 0;
        d->max_range_uj = 0;
        if (read_text(zfd, "max_energy_range_uj", range, sizeof range) == 0)
          d->max_range_uj = strtod(range, NULL);
        if (!(d->max_range_uj > 0)) d->max_range_uj = 0;
      }
    }
    close(zfd);
  }
  closedir(dir);
  int pk = 0, dr = 0;
  for (int i = 0; i < st->n; i++) {
    if (st->d[i].dram) dr++;
    else pk++;
  }
  if (pk == 0) {
    rapl_close(st);
    if (unreadable) {
      int en = unreadable_errno ? unreadable_errno : EACCES;
      dle_error_set(err, DLE_EUNSUPPORTED,
                    "%d of %d RAPL domains unreadable: %s/%s%s: %s%s", unreadable, wanted, root,
                    first_bad, unreadable > 1 ? " and others" : "", strerror(en),
                    en == EACCES || en == EPERM
                        ? " (since Linux 5.10 only root may read energy_uj; run as root or "
                          "'chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj "
                          "/sys/class/powercap/intel-rapl:*:*/energy_uj' after each boot)"
                        : "");
      return DLE_SENSOR_ABSENT;
    }
    dle_error_set(err, DLE_EUNSUPPORTED, "no RAPL package domain under %s", root);
    return DLE_SENSOR_ABSENT;
  }
  /* Rates of the first read are over the time since open. */
  st->last_ns = dle_monotonic_ns();
  st->have_last = true;
  info->rapl_packages = pk;
  info->rapl_dram = dr;
  if (unreadable)
    dle_info_note(info,
                  "RAPL: %d of %d domains unreadable (%s/%s%s: %s): the CPU/DRAM figures "
                  "lack them",
                  unreadable, wanted, root, first_bad, unreadable > 1 ? " and others" : "",
                  strerror(unreadable_errno ? unreadable_errno : EACCES));
  snprintf(info->cpu_source, sizeof info->cpu_source, "rapl");
  if (dr) snprintf(info->dram_source, sizeof info->dram_source, "rapl");
  *state = st;
  return DLE_OK;
}

static void rapl_read(void *state, const dle_tick *tick, dle_sample *out) {
  rapl_state *st = state;
  double pkg = 0, dram = 0;
  int pk = 0, dr = 0;
  bool ok = true;
  for (int i = 0; i < st->n; i++) {
    rapl_domain *d = &st->d[i];
    double v;
    if (pread_counter(d->fd, &v) != 0) {
      ok = false;
      continue;
    }
    double delta = v - d->last_uj;
    if (delta < 0) delta = d->max_range_uj > 0 ? d->max_range_uj - d->last_uj + v : 0;
    d->total_uj += delta;
    d->last_uj = v;
    if (d->dram) {
      dram += d->total_uj;
      dr++;
    } else {
      pkg += d->total_uj;
      pk++;
    }
  }
  double pkg_j = pkg / 1e6, dram_j = dram / 1e6;
  if (pk) out->cpu_energy_counter_j = pkg_j;
  if (dr) out->dram_energy_counter_j = dram_j;
  if (ok && st->have_last && tick->now_ns > st->last_ns) {
    double dt = (double)(tick->now_ns - st->last_ns) / 1e9;
    if (pk) out->cpu_power_w = (pkg_j - st->last_pkg_j) / dt;
    if (dr) out->dram_power_w = (dram_j - st->last_dram_j) / dt;
  }
  if (ok) {
    st->last_ns = tick->now_ns;
    st->last_pkg_j = pkg_j;
    st->last_dram_j = dram_j;
    st->have_last = true;
  }
}

const dle_sensor_ops dle_sensor_rapl = {"rapl", rapl_open, rapl_close, rapl_read, NULL};
