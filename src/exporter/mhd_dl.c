/* mhd_dl.c — the libmicrohttpd functions the exporter uses, resolved with dlopen on first
 * use. See mhd_dl.h for why. The table is filled once (pthread_once), read-only after. */
#include "mhd_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/dl.h"

/* Hidden: libdlenergy.so does not export these names (see pq_dl.c). */
#pragma GCC visibility push(hidden)
#include <microhttpd.h>

typedef struct mhd_table {
  int ok;
  void *lib; /* kept open for the life of the process */
  char why[400];
  struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                        MHD_AccessHandlerCallback, void *, va_list);
  void (*stop_daemon)(struct MHD_Daemon *);
  const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...);
  struct MHD_Response *(*create_response_from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
  enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
  enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
  void (*destroy_response)(struct MHD_Response *);
} mhd_table;

/* Written once inside pthread_once, read-only afterwards. */
static mhd_table g_mhd;
static pthread_once_t g_mhd_once = PTHREAD_ONCE_INIT;

static void mhd_init(void) {
  const char *path, *why;
  /* Kept open for the process's life. */
  void *lib = dle_dl_open("DLENERGY_LIBMICROHTTPD", DLE_LIBMHD_SONAME, &path, &why);
  if (!lib) {
    snprintf(g_mhd.why, sizeof g_mhd.why,
             "the Prometheus exporter needs %s (%s): apt-get install libmicrohttpd12", path, why);
    return;
  }
  const char *missing = NULL;
  dle_dl_resolve(lib, "MHD_start_daemon_va", &g_mhd.start_daemon_va, &missing);
  dle_dl_resolve(lib, "MHD_stop_daemon", &g_mhd.stop_daemon, &missing);
  dle_dl_resolve(lib, "MHD_get_daemon_info", &g_mhd.get_daemon_info, &missing);
  dle_dl_resolve(lib, "MHD_create_response_from_buffer", &g_mhd.create_response_from_buffer,
                 &missing);
  dle_dl_resolve(lib, "MHD_add_response_header", &g_mhd.add_response_header, &missing);
  dle_dl_resolve(lib, "MHD_queue_response", &g_mhd.queue_response, &missing);
  dle_dl_resolve(lib, "MHD_destroy_response", &g_mhd.destroy_response, &missing);
  if (missing) {
    snprintf(g_mhd.why, sizeof g_mhd.why,
             "the Prometheus exporter: %s lacks %s (too old?): apt-get install libmicrohttpd12",
             path, missing);
    dlclose(lib);
    return;
  }
  g_mhd.lib = lib;
  g_mhd.ok = 1;
}

static const mhd_table *mhd(void) {
  pthread_once(&g_mhd_once, mhd_init);
  return g_mhd.ok ? &g_mhd : NULL;
}

struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls,
                                    ...) {
  const mhd_table *t = mhd();
  if (!t) return NULL;
  va_list ap;
  va_start(ap, dh_cls);
  struct MHD_Daemon *d = t->start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
  va_end(ap);
  return d;
}

void MHD_stop_daemon(struct MHD_Daemon *daemon) {
  const mhd_table *t = mhd();
  if (t) t->stop_daemon(daemon);
}

/* Variadic without a va_list twin; the info types the exporter asks for
 * (MHD_DAEMON_INFO_BIND_PORT) take no extra argument, so none is forwarded. */
const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
                                                enum MHD_DaemonInfoType info_type, ...) {
  const mhd_table *t = mhd();
  return t ? t->get_daemon_info(daemon, info_type) : NULL;
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode) {
  const mhd_table *t = mhd();
  return t ? t->create_response_from_buffer(size, buffer, mode) : NULL;
}

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content) {
  const mhd_table *t = mhd();
  return t ? t->add_response_header(response, header, content) : MHD_NO;
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response) {
  const mhd_table *t = mhd();
  return t ? t->queue_response(connection, status_code, response) : MHD_NO;
}

void MHD_destroy_response(struct MHD_Response *response) {
  const mhd_table *t = mhd();
  if (t) t->destroy_response(response);
}
#pragma GCC visibility pop

int dle_mhd_load(dle_error *err) {
  if (mhd()) return DLE_OK;
  return dle_error_set(err, DLE_EUNSUPPORTED, "%s", g_mhd.why);
}
