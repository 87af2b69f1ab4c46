/* sensor.h — the small interface every sensor implements (internal to src/sensors/).
 *
 * Like nvtop's vendor struct: open once (reading static facts into the info
 * record), read dynamic values each tick, close. A sensor that is not available
 * here returns DLE_SENSOR_ABSENT (> 0) from open with the reason in err; the aggregator
 * (sensors.c) records the reason and goes on without it. Readings a sensor lacks
 * stay NaN. */
#ifndef DLE_SENSORS_SENSOR_H
#define DLE_SENSORS_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"
#include "dlenergy/sensors.h"

/* What one tick tells every sensor. */
typedef struct dle_tick {
  int64_t now_ns;           /* CLOCK_MONOTONIC instant of this read */
  const pid_t *tree_pids;   /* monitored tree as last discovered (procfs), may be NULL */
  size_t n_tree_pids;
  bool tree_rescanned;      /* the tree was re-discovered this tick */
  bool check_gpu_procs;     /* time to ask NVML which processes use the GPUs
                               (about once a second: it costs more than a reading) */
} dle_tick;

enum { DLE_SENSOR_ABSENT = 1 };

typedef struct dle_sensor_ops {
  const char *name;
  int (*open)(const dle_sensors_config *cfg, void **state, dle_sensors_info *info,
              dle_error *err);
  void (*close)(void *state);
  void (*read)(void *state, const dle_tick *tick, dle_sample *out);
  /* Optional: refresh info fields that change (NVML used_by_tree). */
  void (*update_info)(void *state, dle_sensors_info *info);
} dle_sensor_ops;

extern const dle_sensor_ops dle_sensor_nvml;
extern const dle_sensor_ops dle_sensor_rapl;

/* procfs is also the tree provider, so it has a richer interface. */
typedef struct dle_procfs dle_procfs;
int dle_procfs_open(const char *proc_root, pid_t root, double rescan_s, dle_procfs **out,
                    dle_error *err);
void dle_procfs_close(dle_procfs *p);
void dle_procfs_set_pid(dle_procfs *p, pid_t root);
/* Fills cpu_util_pct and rss_mib of out; tick->tree_* are set from the tree. */
void dle_procfs_read(dle_procfs *p, dle_tick *tick, dle_sample *out);
int dle_procfs_logical_cpus(const dle_procfs *p);

/* Host facts from <proc_root>/cpuinfo and meminfo (cpuinfo.c). */
void dle_host_facts(const char *proc_root, dle_sensors_info *info);
/* One row of the CPU power table (data/cpu_tdp.csv). */
typedef struct dle_cpu_power_row {
  double tdp_w;        /* part: one package's TDP; family: W per thread */
  int threads;         /* part: hardware threads per package; family: 1 */
  double w_per_thread; /* tdp_w / threads */
  bool family;         /* a fallback for a generic model string */
  char pattern[64];
  char source[224];
} dle_cpu_power_row;
/* Looks model up in the CPU power table (CSV
 * "pattern,tdp_w,threads,kind,group,source"): the longest pattern that is a
 * case-insensitive substring of model wins; "*" matches anything (last
 * resort). DLE_ENOTFOUND when none matches, DLE_EPARSE on a bad row. */
int dle_cpu_power_lookup(const char *table_path, const char *model, dle_cpu_power_row *row,
                         dle_error *err);

/* "0,2" -> mask; "" / NULL / "all" -> all_mask = true. */
int dle_parse_gpu_list(const char *s, uint64_t *mask, bool *all, dle_error *err);

/* Appends "; "-separated text to info->notes. */
void dle_info_note(dle_sensors_info *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
