/* sensors.c — opens the enabled sensors, reads them in order each tick and
 * applies the models for what nothing measures. See include/dlenergy/sensors.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "sensor.h"

struct dle_sensors {
  dle_sensors_info info;
  void *nvml;
  void *rapl;
  dle_procfs *procfs;
  double cpu_tdp_total_w;  /* modelled power at 100 % of the visible CPUs; NaN when not modelled */
  double ram_w_per_gb;     /* NaN when not modelled */
  int host_stat_fd;        /* <proc>/stat for the host's CPU utilization (scope machine) */
  unsigned long long host_busy, host_total; /* previous /proc/stat jiffies */
  int64_t last_proc_check_ns;
  bool proc_checked;
};

int64_t dle_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void dle_sensors_config_init(dle_sensors_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->enable_nvml = cfg->enable_rapl = cfg->enable_procfs = true;
  cfg->ram_w_per_gb = 0.375;
  cfg->cpu_tdp_w = NAN;
  cfg->tree_rescan_s = 1.0;
}

static void set_src(char *dst, const char *v) { snprintf(dst, 16, "%s", v); }

const char *dle_scope_str(int scope) { return scope == DLE_SCOPE_MACHINE ? "machine" : "process"; }

int dle_scope_parse(const char *s) {
  if (s && strcmp(s, "process") == 0) return DLE_SCOPE_PROCESS;
  if (s && strcmp(s, "machine") == 0) return DLE_SCOPE_MACHINE;
  return -1;
}

/* The host's CPU utilization (100 = every CPU busy) since the previous call,
 * from the first line of /proc/stat; NaN on the first call or a failed read. */
static double host_cpu_pct(dle_sensors *s) {
  char buf[512];
  if (s->host_stat_fd < 0) return NAN;
  ssize_t n = pread(s->host_stat_fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return NAN;
  buf[n] = '\0';
  unsigned long long v[10] = {0};
  int k = sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                 &v[4], &v[5], &v[6], &v[7]);
  if (k < 4) return NAN;
  unsigned long long total = 0, idle = v[3] + v[4]; /* idle + iowait */
  for (int i = 0; i < 8; i++) total += v[i];
  unsigned long long busy = total - idle;
  double pct = NAN;
  if (s->host_total && total > s->host_total && busy >= s->host_busy)
    pct = 100.0 * (double)(busy - s->host_busy) / (double)(total - s->host_total);
  s->host_busy = busy;
  s->host_total = total;
  return pct;
}

void dle_sensors_close(dle_sensors *s) {
  if (!s) return;
  if (s->host_stat_fd >= 0) close(s->host_stat_fd);
  if (s->nvml) dle_sensor_nvml.close(s->nvml);
  if (s->rapl) dle_sensor_rapl.close(s->rapl);
  dle_procfs_close(s->procfs);
  free(s);
}

/* Opens one optional sensor: "not available here" (positive return) becomes a
 * note, a real error is returned. */
static int open_optional(const dle_sensor_ops *ops, const char *label,
                         const dle_sensors_config *cfg, void **state, dle_sensors_info *info,
                         dle_error *err) {
  dle_error e;
  dle_error_clear(&e);
  int rc = ops->open(cfg, state, info, &e);
  if (rc == DLE_SENSOR_ABSENT) {
    dle_info_note(info, "%s: %s", label, e.msg);
    return DLE_OK;
  }
  if (rc) {
    if (err) *err = e;
    return rc;
  }
  return DLE_OK;
}

int dle_sensors_open(const dle_sensors_config *cfg, dle_sensors **out, dle_error *err) {
  *out = NULL;
  if (!cfg) return dle_error_set(err, DLE_EINVAL, "no sensor configuration");
  if (cfg->root_pid < 0)
    return dle_error_set(err, DLE_EINVAL, "bad process id %ld", (long)cfg->root_pid);
  if (!isnan(cfg->ram_w_per_gb) && !(cfg->ram_w_per_gb <= 100))
    return dle_error_set(err, DLE_EINVAL, "RAM power %g W/GB out of range (<= 100)",
                         cfg->ram_w_per_gb);
  if (!isnan(cfg->cpu_tdp_w) && !(cfg->cpu_tdp_w > 0 && cfg->cpu_tdp_w <= 5000))
    return dle_error_set(err, DLE_EINVAL, "CPU TDP %g W out of range (0 < TDP <= 5000)",
                         cfg->cpu_tdp_w);
  if (cfg->scope != DLE_SCOPE_PROCESS && cfg->scope != DLE_SCOPE_MACHINE)
    return dle_error_set(err, DLE_EINVAL, "bad scope %d", cfg->scope);
  dle_sensors *s = calloc(1, sizeof *s);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  s->host_stat_fd = -1;
  dle_sensors_info *info = &s->info;
  set_src(info->gpu_source, "none");
  set_src(info->cpu_source, "none");
  set_src(info->dram_source, "none");
  set_src(info->ram_source, "none");
  snprintf(info->cpu_tdp_source, sizeof info->cpu_tdp_source, "none");
  info->cpu_tdp_w = info->cpu_model_w = info->cpu_w_per_thread = NAN;
  info->ram_w_per_gb = NAN;
  info->scope = cfg->scope;
  s->cpu_tdp_total_w = s->ram_w_per_gb = NAN;
  dle_host_facts(cfg->proc_root, info);

  int rc = DLE_OK;
  if (cfg->enable_nvml) {
    if (cfg->require_nvml) {
      rc = dle_sensor_nvml.open(cfg, &s->nvml, info, err);
      if (rc == DLE_SENSOR_ABSENT) rc = DLE_EUNSUPPORTED;
    } else {
      rc = open_optional(&dle_sensor_nvml, "NVML", cfg, &s->nvml, info, err);
    }
    if (rc) goto fail;
  }
  if (cfg->enable_rapl) {
    rc = open_optional(&dle_sensor_rapl, "RAPL", cfg, &s->rapl, info, err);
    if (rc) goto fail;
  }
  if (cfg->enable_procfs) {
    dle_error e;
    dle_error_clear(&e);
    rc = dle_procfs_open(cfg->proc_root, cfg->root_pid, cfg->tree_rescan_s, &s->procfs, &e);
    if (rc == DLE_EUNSUPPORTED) {
      dle_info_note(info, "procfs: %s", e.msg);
      rc = DLE_OK;
    } else if (rc) {
      if (err) *err = e;
      goto fail;
    }
  }
  /* CPU power model: only where RAPL does not measure, and only with a CPU
   * utilization to scale. */
  if (!s->rapl && s->procfs) {
    int logical = info->cpu_logical > 0 ? info->cpu_logical : 1;
    if (!isnan(cfg->cpu_tdp_w)) {
      snprintf(info->cpu_tdp_source, sizeof info->cpu_tdp_source, "config");
      info->cpu_tdp_w = cfg->cpu_tdp_w;
      info->cpu_model_w = cfg->cpu_tdp_w * info->cpu_packages;
      snprintf(info->cpu_model_how, sizeof info->cpu_model_how,
               "TDP %.4g W x %d package%s (--cpu-tdp)", cfg->cpu_tdp_w, info->cpu_packages,
               info->cpu_packages == 1 ? "" : "s");
    } else {
      dle_error e;
      dle_error_clear(&e);
      dle_cpu_power_row row;
      if (dle_cpu_power_lookup(cfg->cpu_tdp_table, info->cpu_model, &row, &e) == DLE_OK) {
        snprintf(info->cpu_tdp_source, sizeof info->cpu_tdp_source, "table: %s", row.source);
        info->cpu_w_per_thread = row.w_per_thread;
        info->cpu_model_generic = row.family;
        double full = row.w_per_thread * logical;
        if (!row.family) {
          info->cpu_tdp_w = row.tdp_w;
          double cap = row.tdp_w * info->cpu_packages;
          if (full > cap) full = cap;
          snprintf(info->cpu_model_how, sizeof info->cpu_model_how,
                   "%s: TDP %.4g W / %d threads = %.3g W/thread x %d visible CPU%s",
                   row.pattern, row.tdp_w, row.threads, row.w_per_thread, logical,
                   logical == 1 ? "" : "s");
        } else {
          snprintf(info->cpu_model_how, sizeof info->cpu_model_how,
                   "generic CPU '%s' (row %s): %.3g W/thread, a family median, x %d visible CPU%s",
                   info->cpu_model[0] ? info->cpu_model : "unknown", row.pattern,
                   row.w_per_thread, logical, logical == 1 ? "" : "s");
        }
        info->cpu_model_w = full;
      } else {
        dle_info_note(info, "CPU power not modelled: %s", e.msg);
      }
    }
    if (!isnan(info->cpu_model_w)) {
      s->cpu_tdp_total_w = info->cpu_model_w;
      set_src(info->cpu_source, "model");
    }
  } else if (!isnan(cfg->cpu_tdp_w)) {
    info->cpu_tdp_w = cfg->cpu_tdp_w;
    snprintf(info->cpu_tdp_source, sizeof info->cpu_tdp_source, "config");
  }
  if (cfg->scope == DLE_SCOPE_MACHINE && !isnan(s->cpu_tdp_total_w)) {
    char path[1100];
    snprintf(path, sizeof path, "%s/stat",
             cfg->proc_root && *cfg->proc_root ? cfg->proc_root : "/proc");
    s->host_stat_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->host_stat_fd < 0) {
      int rc2 = dle_error_set(err, DLE_EUNSUPPORTED, "scope machine: cannot read %s: %s", path,
                              strerror(errno));
      dle_sensors_close(s);
      return rc2;
    }
    host_cpu_pct(s); /* the baseline */
  }
  if (s->procfs && cfg->ram_w_per_gb > 0 &&
      (cfg->scope == DLE_SCOPE_PROCESS || isfinite(info->host_ram_gb))) {
    s->ram_w_per_gb = info->ram_w_per_gb = cfg->ram_w_per_gb;
    set_src(info->ram_source, "model");
  }
  *out = s;
  return DLE_OK;
fail:
  dle_sensors_close(s);
  return rc;
}

void dle_sensors_get_info(const dle_sensors *s, dle_sensors_info *out) {
  *out = s->info;
  if (s->nvml && dle_sensor_nvml.update_info) dle_sensor_nvml.update_info(s->nvml, out);
}

const char *dle_sensors_headline_gpus(const dle_sensors_info *info, bool headline[DLE_MAX_GPUS]) {
  bool any = false;
  for (uint32_t k = 0; k < DLE_MAX_GPUS; k++) headline[k] = false;
  for (uint32_t k = 0; k < info->n_gpus && k < DLE_MAX_GPUS; k++)
    any |= headline[k] = info->gpu[k].used_by_tree;
  if (any) return "process";
  for (uint32_t k = 0; k < info->n_gpus && k < DLE_MAX_GPUS; k++)
    any |= headline[k] = info->visible_devices[0] && info->gpu[k].visible_to_tree;
  if (any) return "visible devices";
  for (uint32_t k = 0; k < info->n_gpus && k < DLE_MAX_GPUS; k++) headline[k] = true;
  return "all";
}

void dle_sensors_set_pid(dle_sensors *s, pid_t root_pid) {
  if (s->procfs) dle_procfs_set_pid(s->procfs, root_pid);
}

int dle_sensors_read(dle_sensors *s, int64_t now_ns, dle_sample *out, dle_error *err) {
  if (!s || !out) return dle_error_set(err, DLE_EINVAL, "no sensors or sample");
  dle_sample_clear(out);
  dle_tick tick = {.now_ns = now_ns};
  if (s->procfs) dle_procfs_read(s->procfs, &tick, out);
  if (tick.tree_rescanned || !s->proc_checked || now_ns - s->last_proc_check_ns >= 1000000000) {
    tick.check_gpu_procs = true;
    s->last_proc_check_ns = now_ns;
    s->proc_checked = true;
  }
  if (s->nvml) dle_sensor_nvml.read(s->nvml, &tick, out);
  if (s->rapl) dle_sensor_rapl.read(s->rapl, &tick, out);
  if (s->info.scope == DLE_SCOPE_MACHINE) {
    double host = host_cpu_pct(s);
    if (!isnan(s->cpu_tdp_total_w) && !isnan(host))
      out->cpu_power_w = s->cpu_tdp_total_w * host / 100.0;
    if (!isnan(s->ram_w_per_gb)) out->ram_power_w = s->ram_w_per_gb * s->info.host_ram_gb;
  } else {
    if (!isnan(s->cpu_tdp_total_w) && !isnan(out->cpu_util_pct))
      out->cpu_power_w = s->cpu_tdp_total_w * out->cpu_util_pct / 100.0;
    if (!isnan(s->ram_w_per_gb) && !isnan(out->rss_mib))
      out->ram_power_w = s->ram_w_per_gb * out->rss_mib * 1048576.0 / 1e9;
  }
  return DLE_OK;
}
