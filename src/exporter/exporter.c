/* exporter.c — Prometheus text exposition of a live run (see include/dlenergy/exporter.h). */
#include "dlenergy/exporter.h"

#include <arpa/inet.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/energy.h"
#include "mhd_dl.h"

enum { N_COMP = 4, MAX_PROJ = 16 };
static const char *const COMP_NAMES[N_COMP] = {"gpu", "cpu", "dram", "ram"};

typedef struct projection {
  char method[32];
  double total_j;
} projection;

struct dle_exporter {
  pthread_mutex_t mu;
  struct MHD_Daemon *daemon;
  int port;
  int64_t run_id;
  char host[256];
  char source[N_COMP][16];
  /* running state */
  int have_prev;
  dle_sample prev;
  uint64_t samples;
  double t_s;
  double comp_w[N_COMP], comp_j[N_COMP];
  uint32_t n_gpus;
  double gpu_w[DLE_MAX_GPUS], gpu_j[DLE_MAX_GPUS], gpu_util[DLE_MAX_GPUS];
  int epoch, epochs_planned;
  size_t n_proj;
  projection proj[MAX_PROJ];
};

static void copy_str(char *dst, size_t n, const char *src) {
  snprintf(dst, n, "%s", src ? src : "");
}

int dle_exporter_create(int64_t run_id, const char *host, const char *const sources[4],
                        dle_exporter **out, dle_error *err) {
  dle_exporter *ex = calloc(1, sizeof *ex);
  if (!ex) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  pthread_mutex_init(&ex->mu, NULL);
  ex->run_id = run_id;
  copy_str(ex->host, sizeof ex->host, host);
  for (int c = 0; c < N_COMP; c++) {
    copy_str(ex->source[c], sizeof ex->source[c], sources && sources[c] ? sources[c] : "none");
    ex->comp_w[c] = NAN;
  }
  for (int g = 0; g < DLE_MAX_GPUS; g++) ex->gpu_w[g] = ex->gpu_util[g] = NAN;
  ex->epoch = -1;
  *out = ex;
  return DLE_OK;
}

/* One trapezoid step with energy.h's NaN rules. */
static double step_j(double t0, double p0, double t1, double p1) {
  double t[2] = {t0, t1}, p[2] = {p0, p1}, e = NAN;
  if (dle_energy_trapezoid_j(t, p, 2, &e) != DLE_OK || isnan(e)) return 0;
  return e;
}

static double comp_power(const dle_sample *s, int c) {
  switch (c) {
    case 0: return dle_sample_gpu_power_w(s);
    case 1: return s->cpu_power_w;
    case 2: return s->dram_power_w;
    default: return s->ram_power_w;
  }
}

void dle_exporter_add_sample(dle_exporter *ex, const dle_sample *s) {
  if (!ex || !s) return;
  pthread_mutex_lock(&ex->mu);
  uint32_t ng = s->n_gpus > DLE_MAX_GPUS ? DLE_MAX_GPUS : s->n_gpus;
  for (int c = 0; c < N_COMP; c++) {
    double p = comp_power(s, c);
    if (ex->have_prev) ex->comp_j[c] += step_j(ex->prev.t_s, comp_power(&ex->prev, c), s->t_s, p);
    ex->comp_w[c] = p;
  }
  for (uint32_t g = 0; g < ng; g++) {
    if (ex->have_prev && g < ex->prev.n_gpus)
      ex->gpu_j[g] += step_j(ex->prev.t_s, ex->prev.gpu[g].power_w, s->t_s, s->gpu[g].power_w);
    ex->gpu_w[g] = s->gpu[g].power_w;
    ex->gpu_util[g] = s->gpu[g].util_gpu_pct;
  }
  if (ng > ex->n_gpus) ex->n_gpus = ng;
  ex->prev = *s;
  ex->have_prev = 1;
  ex->samples++;
  ex->t_s = s->t_s;
  pthread_mutex_unlock(&ex->mu);
}

void dle_exporter_set_epoch(dle_exporter *ex, int epoch, int epochs_planned) {
  if (!ex) return;
  pthread_mutex_lock(&ex->mu);
  ex->epoch = epoch;
  ex->epochs_planned = epochs_planned;
  pthread_mutex_unlock(&ex->mu);
}

void dle_exporter_set_projection(dle_exporter *ex, const char *method, double total_j) {
  if (!ex || !method) return;
  pthread_mutex_lock(&ex->mu);
  size_t i = 0;
  while (i < ex->n_proj && strcmp(ex->proj[i].method, method) != 0) i++;
  if (i == ex->n_proj && ex->n_proj < MAX_PROJ) ex->n_proj++;
  if (i < ex->n_proj) {
    copy_str(ex->proj[i].method, sizeof ex->proj[i].method, method);
    ex->proj[i].total_j = total_j;
  }
  pthread_mutex_unlock(&ex->mu);
}

/* ---- text rendering ---- */

typedef struct buf {
  char *p;
  size_t len, cap;
  int oom;
} buf;

static void bprintf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap * 2 + (size_t)n;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
}

/* Label value escaping per the exposition format: backslash, quote, newline. */
static void escape_label(const char *in, char *out, size_t n) {
  size_t o = 0;
  for (; *in && o + 3 < n; in++) {
    if (*in == '\\' || *in == '"') {
      out[o++] = '\\';
      out[o++] = *in;
    } else if (*in == '\n') {
      out[o++] = '\\';
      out[o++] = 'n';
    } else {
      out[o++] = *in;
    }
  }
  out[o] = '\0';
}

static void header(buf *b, const char *name, const char *type, const char *help) {
  bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int dle_exporter_render(dle_exporter *ex, char **out, size_t *len, dle_error *err) {
  buf b = {malloc(4096), 0, 4096, 0};
  if (!b.p) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  b.p[0] = '\0';
  char host[600], base[700];
  pthread_mutex_lock(&ex->mu);
  escape_label(ex->host, host, sizeof host);
  snprintf(base, sizeof base, "run_id=\"%lld\",host=\"%s\"", (long long)ex->run_id, host);

  header(&b, "dlenergy_power_watts", "gauge",
         "Last power reading per component; source says which sensor measured it or 'model'.");
  for (int c = 0; c < N_COMP; c++)
    if (!isnan(ex->comp_w[c]))
      bprintf(&b, "dlenergy_power_watts{%s,component=\"%s\",source=\"%s\"} %.6g\n", base,
              COMP_NAMES[c], ex->source[c], ex->comp_w[c]);
  header(&b, "dlenergy_energy_joules_total", "counter",
         "Energy per component since the run started (trapezoid of the sampled power).");
  for (int c = 0; c < N_COMP; c++)
    if (strcmp(ex->source[c], "none") != 0)
      bprintf(&b, "dlenergy_energy_joules_total{%s,component=\"%s\",source=\"%s\"} %.9g\n", base,
              COMP_NAMES[c], ex->source[c], ex->comp_j[c]);
  header(&b, "dlenergy_gpu_power_watts", "gauge", "Last power reading of one GPU.");
  for (uint32_t g = 0; g < ex->n_gpus; g++)
    if (!isnan(ex->gpu_w[g]))
      bprintf(&b, "dlenergy_gpu_power_watts{%s,device=\"%u\"} %.6g\n", base,
              ex->prev.gpu[g].device_index, ex->gpu_w[g]);
  header(&b, "dlenergy_gpu_energy_joules_total", "counter", "Energy of one GPU since the run started.");
  for (uint32_t g = 0; g < ex->n_gpus; g++)
    bprintf(&b, "dlenergy_gpu_energy_joules_total{%s,device=\"%u\"} %.9g\n", base,
            ex->prev.gpu[g].device_index, ex->gpu_j[g]);
  header(&b, "dlenergy_gpu_utilization_ratio", "gauge", "GPU utilization, 0 to 1.");
  for (uint32_t g = 0; g < ex->n_gpus; g++)
    if (!isnan(ex->gpu_util[g]))
      bprintf(&b, "dlenergy_gpu_utilization_ratio{%s,device=\"%u\"} %.4g\n", base,
              ex->prev.gpu[g].device_index, ex->gpu_util[g] / 100.0);
  header(&b, "dlenergy_epoch", "gauge", "Last epoch reported by the training script (-1 before any).");
  bprintf(&b, "dlenergy_epoch{%s} %d\n", base, ex->epoch);
  header(&b, "dlenergy_epochs_planned", "gauge", "Epochs the script said it will run (0 unknown).");
  bprintf(&b, "dlenergy_epochs_planned{%s} %d\n", base, ex->epochs_planned);
  header(&b, "dlenergy_projected_energy_joules", "gauge",
         "Latest projection of the run's total energy, per estimation method (modelled).");
  for (size_t i = 0; i < ex->n_proj; i++)
    if (isfinite(ex->proj[i].total_j))
      bprintf(&b, "dlenergy_projected_energy_joules{%s,method=\"%s\"} %.9g\n", base,
              ex->proj[i].method, ex->proj[i].total_j);
  header(&b, "dlenergy_elapsed_seconds", "gauge", "Seconds since the run started.");
  bprintf(&b, "dlenergy_elapsed_seconds{%s} %.3f\n", base, ex->have_prev ? ex->t_s : 0.0);
  header(&b, "dlenergy_samples_total", "counter", "Samples taken by the sampler.");
  bprintf(&b, "dlenergy_samples_total{%s} %llu\n", base, (unsigned long long)ex->samples);
  pthread_mutex_unlock(&ex->mu);
  if (b.oom) {
    free(b.p);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  *out = b.p;
  if (len) *len = b.len;
  return DLE_OK;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mode, const char *type) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result ret = MHD_queue_response(c, code, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
  (void)version;
  (void)upload;
  (void)con_cls;
  dle_exporter *ex = cls;
  static char not_found[] = "not found: try /metrics\n";
  static char bad_method[] = "only GET\n";
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    *upload_size = 0;
    return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, bad_method, sizeof bad_method - 1,
                 MHD_RESPMEM_PERSISTENT, "text/plain");
  }
  if (strcmp(url, "/metrics") != 0 && strcmp(url, "/") != 0)
    return reply(conn, MHD_HTTP_NOT_FOUND, not_found, sizeof not_found - 1, MHD_RESPMEM_PERSISTENT,
                 "text/plain");
  char *text = NULL;
  size_t len = 0;
  if (dle_exporter_render(ex, &text, &len, NULL) != DLE_OK) return MHD_NO;
  return reply(conn, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE,
               "text/plain; version=0.0.4; charset=utf-8");
}

/* "HOST:PORT", "[V6]:PORT", ":PORT", "PORT" -> sockaddr; host defaults to 127.0.0.1. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, dle_error *err) {
  char host[256] = "127.0.0.1";
  const char *port_s = listen;
  const char *colon = strrchr(listen, ':');
  if (listen[0] == '[') {
    const char *close = strchr(listen, ']');
    if (!close || close[1] != ':')
      return dle_error_set(err, DLE_EINVAL, "bad listen address '%s' (want [ADDR]:PORT)", listen);
    snprintf(host, sizeof host, "%.*s", (int)(close - listen - 1), listen + 1);
    port_s = close + 2;
  } else if (colon) {
    if (colon != listen) snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    port_s = colon + 1;
  }
  char *end = NULL;
  long port = strtol(port_s, &end, 10);
  if (!*port_s || *end || port < 0 || port > 65535)
    return dle_error_set(err, DLE_EINVAL, "bad port in listen address '%s'", listen);
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
  } else {
    return dle_error_set(err, DLE_EINVAL,
                         "listen address '%s': '%s' is not a numeric IPv4/IPv6 address", listen,
                         host);
  }
  return DLE_OK;
}

int dle_exporter_listen(dle_exporter *ex, const char *listen, dle_error *err) {
  if (ex->daemon) return dle_error_set(err, DLE_ESTATE, "exporter already listening");
  struct sockaddr_storage ss;
  int rc = parse_listen(listen, &ss, err);
  if (rc) return rc;
  rc = dle_mhd_load(err); /* libmicrohttpd is loaded on first use (mhd_dl.h) */
  if (rc) return rc;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
  if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  ex->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, ex, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
                                MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (!ex->daemon)
    return dle_error_set(err, DLE_EIO, "cannot listen on %s (address in use or not local?)",
                         listen);
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(ex->daemon, MHD_DAEMON_INFO_BIND_PORT);
  ex->port = info ? info->port : 0;
  return DLE_OK;
}

int dle_exporter_port(const dle_exporter *ex) { return ex ? ex->port : 0; }

void dle_exporter_destroy(dle_exporter *ex) {
  if (!ex) return;
  if (ex->daemon) MHD_stop_daemon(ex->daemon);
  pthread_mutex_destroy(&ex->mu);
  free(ex);
}
