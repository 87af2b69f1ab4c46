/* sampler.h — a thread that reads the sensors at a fixed rate and hands the
 * samples to a consumer through a bounded ring buffer.
 *
 * Timing: tick k is due at start + k x interval on CLOCK_MONOTONIC (absolute
 * deadlines, so there is no drift). A tick that wakes after its successor's
 * deadline skips the missed deadlines instead of bursting to catch up (counted
 * in late_ticks / skipped_deadlines). Each sample's t_s is relative to the
 * caller's t0 instant; wall_s is the Unix time of the same reading.
 *
 * The sampler only reads /proc (and NVML, powercap): it never signals, stops
 * or ptraces the monitored process. Its thread blocks every signal, so
 * process-directed signals always reach the caller's threads. The consumer drains the ring without
 * blocking the sampler for longer than a copy; when the ring is full the oldest
 * sample is dropped and counted.
 *
 * Thread-safety: create/start/stop/destroy from one (the owner's) thread;
 * drain/latest/stats/set_pid/get_info may be called from the owner while the
 * sampler runs. */
#ifndef DLENERGY_SAMPLER_H
#define DLENERGY_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"
#include "dlenergy/sensors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_sampler_config {
  dle_sensors_config sensors; /* which sensors, root pid, GPU selection, models */
  double interval_s;          /* default 0.1 (10 Hz); 0.001 .. 3600 */
  int64_t t0_ns;              /* CLOCK_MONOTONIC instant of t_s = 0; 0 = at start */
  size_t ring_capacity;       /* samples held for the consumer; default 4096 */
} dle_sampler_config;

/* Fills the defaults (and dle_sensors_config_init on cfg->sensors). */
void dle_sampler_config_init(dle_sampler_config *cfg);

typedef struct dle_sampler_stats {
  uint64_t ticks;             /* samples taken (including sample_once and stop's last) */
  uint64_t late_ticks;        /* ticks that woke after the next deadline */
  uint64_t skipped_deadlines; /* deadlines skipped because of late ticks */
  uint64_t dropped;           /* samples dropped because the ring was full */
  double cpu_time_s;          /* the sampler thread's own CPU time (user + system) */
  double max_read_s;          /* longest single sensor read (monotonic seconds) */
} dle_sampler_stats;

typedef struct dle_sampler dle_sampler;

/* Opens the sensors (errors as dle_sensors_open) and allocates the ring.
 * Does not start the thread. */
int dle_sampler_create(const dle_sampler_config *cfg, dle_sampler **out, dle_error *err);

/* Static facts and measured/modelled sources of every component. */
void dle_sampler_get_info(dle_sampler *s, dle_sensors_info *out);

/* Starts the thread; the first sample is taken at once (tick 0). DLE_ESTATE if
 * already started. */
int dle_sampler_start(dle_sampler *s, dle_error *err);

/* Sets the monitored root pid (for launch: known only after fork). */
void dle_sampler_set_pid(dle_sampler *s, pid_t pid);

/* Moves up to max queued samples, oldest first, into out; *n gets the count. */
void dle_sampler_drain(dle_sampler *s, dle_sample *out, size_t max, size_t *n);

/* Copies the most recent sample; returns false when none was taken yet. */
bool dle_sampler_latest(dle_sampler *s, dle_sample *out);

/* Stops the thread (waking it at once), then takes one last sample so that the
 * trace reaches the stop instant. Idempotent; fine if never started. */
void dle_sampler_stop(dle_sampler *s);

/* Takes one sample synchronously on the calling thread and queues it like a
 * tick (for tests and for callers that drive the timing themselves). Must not
 * be used while the thread runs (DLE_ESTATE). */
int dle_sampler_sample_once(dle_sampler *s, dle_sample *out, dle_error *err);

void dle_sampler_get_stats(dle_sampler *s, dle_sampler_stats *out);

/* CLOCK_MONOTONIC instant of t_s = 0 (cfg t0_ns, else set by start/sample_once);
 * 0 before that. */
int64_t dle_sampler_t0_ns(const dle_sampler *s);

/* Stops if needed and frees everything. NULL is fine. */
void dle_sampler_destroy(dle_sampler *s);

#ifdef __cplusplus
}
#endif
#endif
