/* error.c — see include/dlenergy/error.h */
#include "dlenergy/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int dle_error_set(dle_error *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

int dle_error_prefix(dle_error *err, const char *fmt, ...) {
  if (!err) return DLE_OK;
  char prefix[DLE_ERRMSG_MAX];
  char old[DLE_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  old[sizeof old - 1] = '\0';
  snprintf(err->msg, sizeof err->msg, "%s%s", prefix, old);
  return err->code;
}

void dle_error_clear(dle_error *err) {
  if (err) {
    err->code = DLE_OK;
    err->msg[0] = '\0';
  }
}

const char *dle_status_str(int code) {
  switch (code) {
    case DLE_OK: return "ok";
    case DLE_EINVAL: return "invalid argument";
    case DLE_EIO: return "I/O error";
    case DLE_ENOMEM: return "out of memory";
    case DLE_EPARSE: return "parse error";
    case DLE_ENOTFOUND: return "not found";
    case DLE_EUNSUPPORTED: return "not supported";
    case DLE_EDB: return "run store error";
    case DLE_ESTATE: return "invalid state";
    case DLE_ERANGE: return "out of range";
    case DLE_EINTERNAL: return "internal error";
    default: return "unknown error";
  }
}
