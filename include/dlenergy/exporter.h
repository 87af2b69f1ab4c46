/* exporter.h — Prometheus / OpenMetrics text exposition of a live run over HTTP
 * (libmicrohttpd). `dlenergy run --metrics-listen 127.0.0.1:9464` starts one.
 *
 * The run loop feeds it every sample and epoch; the exporter keeps running energy
 * integrals (trapezoid, same NaN rules as energy.h) and serves, on GET /metrics:
 *   dlenergy_power_watts{component}            gauge    last power per component
 *   dlenergy_gpu_power_watts{device}           gauge    last power per GPU
 *   dlenergy_energy_joules_total{component}    counter  energy since run start
 *   dlenergy_gpu_energy_joules_total{device}   counter  energy per GPU since run start
 *   dlenergy_gpu_utilization_ratio{device}     gauge
 *   dlenergy_epoch / dlenergy_epochs_planned   gauge
 *   dlenergy_projected_energy_joules{method}   gauge    latest projection of the total
 *   dlenergy_elapsed_seconds, dlenergy_samples_total
 * every series labelled run_id and host; component series also carry source
 * (measured sensor name, or "model"). Thread-safe: the HTTP thread reads under a
 * mutex what the run loop writes. */
#ifndef DLENERGY_EXPORTER_H
#define DLENERGY_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_exporter dle_exporter;

/* Creates the metric state (no listener yet). Sources are the run's sensor source
 * names per component (gpu, cpu, dram, ram), e.g. "nvml", "rapl", "model", "none". */
int dle_exporter_create(int64_t run_id, const char *host, const char *const sources[4],
                        dle_exporter **out, dle_error *err);

/* Starts serving on listen = "HOST:PORT" ("[::1]:PORT" for IPv6, ":PORT" or "PORT" for
 * loopback 127.0.0.1). Port 0 picks a free port (see dle_exporter_port). */
int dle_exporter_listen(dle_exporter *ex, const char *listen, dle_error *err);
int dle_exporter_port(const dle_exporter *ex); /* the bound port, or 0 */

void dle_exporter_add_sample(dle_exporter *ex, const dle_sample *s);
void dle_exporter_set_epoch(dle_exporter *ex, int epoch, int epochs_planned);
void dle_exporter_set_projection(dle_exporter *ex, const char *method, double total_j);

/* The exposition text, as served (malloc'd, NUL-terminated). */
int dle_exporter_render(dle_exporter *ex, char **out, size_t *len, dle_error *err);

void dle_exporter_destroy(dle_exporter *ex); /* stops the listener; NULL is fine */

#ifdef __cplusplus
}
#endif
#endif
