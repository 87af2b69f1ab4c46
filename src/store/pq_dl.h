/* pq_dl.h — libpq loaded with dlopen on first use (src/store/pq_dl.c).
 *
 * dlenergy does not link libpq: only a postgresql:// store needs it, and linking it pulls
 * ~20 libraries (ssl, crypto, krb5, gssapi, ldap, sasl, ...) into every process start.
 * pq_dl.c defines the PQ* functions the store uses (same names and types as libpq-fe.h,
 * hidden from libdlenergy.so's exports) and forwards each through a table that the first
 * call fills from libpq.so.5 (or $DLENERGY_LIBPQ). Code keeps calling PQexec() etc. as if
 * linked; it calls dle_pq_load() once before the first connection to get a clear error
 * when the library is missing. */
#ifndef DLE_STORE_PQ_DL_H
#define DLE_STORE_PQ_DL_H

#include "dlenergy/error.h"

/* The library file dlopen'ed unless $DLENERGY_LIBPQ names another. */
#define DLE_LIBPQ_SONAME "libpq.so.5"

/* Loads libpq (once per process; thread-safe). DLE_OK, or DLE_EUNSUPPORTED with a message
 * that names the library and the Debian package to install. */
int dle_pq_load(dle_error *err);

#endif
