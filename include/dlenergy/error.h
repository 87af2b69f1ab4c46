/* error.h — status codes and the caller-provided error message every module fills.
 *
 * Convention: a function returns 0 (DLE_OK) on success or a negative DLE_E* code,
 * and when it fails and `err` is not NULL it writes a one-line, human-readable
 * message into err->msg. Nothing in the library prints or exits. */
#ifndef DLENERGY_ERROR_H
#define DLENERGY_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum dle_status {
  DLE_OK = 0,
  DLE_EINVAL = -1,       /* bad argument or option value */
  DLE_EIO = -2,          /* file or device I/O failed */
  DLE_ENOMEM = -3,       /* allocation failed */
  DLE_EPARSE = -4,       /* malformed input data */
  DLE_ENOTFOUND = -5,    /* run, file, device or key does not exist */
  DLE_EUNSUPPORTED = -6, /* feature not available here (no NVML, no RAPL, ...) */
  DLE_EDB = -7,          /* run store error */
  DLE_ESTATE = -8,       /* call not valid in the current state */
  DLE_ERANGE = -9,       /* value out of the valid range / not enough data */
  DLE_EINTERNAL = -10    /* a bug: an invariant failed */
};

enum { DLE_ERRMSG_MAX = 512 };

typedef struct dle_error {
  int code;
  char msg[DLE_ERRMSG_MAX];
} dle_error;

/* Sets err (when not NULL) to code and a printf-style message; returns code so
 * that `return dle_error_set(err, DLE_EINVAL, "...")` reads naturally. */
int dle_error_set(dle_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with context ("reading x.csv: " + old msg). */
int dle_error_prefix(dle_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void dle_error_clear(dle_error *err);

/* Short name of a status code ("invalid argument", ...). */
const char *dle_status_str(int code);

#ifdef __cplusplus
}
#endif
#endif
