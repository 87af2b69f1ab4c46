/* mhd_dl.h — libmicrohttpd loaded with dlopen on first use (src/exporter/mhd_dl.c).
 *
 * Only the Prometheus exporter serves HTTP, and linking libmicrohttpd pulls gnutls,
 * nettle, gmp, p11-kit, idn2, ... into every dlenergy process start. mhd_dl.c defines
 * the MHD_* functions the exporter uses (same names and types as microhttpd.h, hidden
 * from libdlenergy.so's exports) and forwards each through a table that the first call
 * fills from libmicrohttpd.so.12 (or $DLENERGY_LIBMICROHTTPD). */
#ifndef DLE_EXPORTER_MHD_DL_H
#define DLE_EXPORTER_MHD_DL_H

#include "dlenergy/error.h"

#define DLE_LIBMHD_SONAME "libmicrohttpd.so.12"

/* Loads libmicrohttpd (once per process; thread-safe). DLE_OK, or DLE_EUNSUPPORTED with a
 * message that names the library and the Debian package to install. */
int dle_mhd_load(dle_error *err);

#endif
