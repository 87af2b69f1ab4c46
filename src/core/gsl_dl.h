/* gsl_dl.h — GSL loaded with dlopen on first use (src/core/gsl_dl.c).
 *
 * Only the statistics (analyze, report, evaluate's tests) and linear regression's least
 * squares use GSL; linking it (libgsl + libgslcblas, ~3300 relocations) cost every start
 * of every dlenergy process, and of every Python process that loads libdlenergy.so,
 * about 1 ms of CPU on the development VM. gsl_dl.c defines the GSL functions the
 * modules call, under GSL's names and types (hidden from libdlenergy.so's exports), each
 * forwarding to libgsl.so.27 (or $DLENERGY_LIBGSL) loaded on the first call. Code that
 * uses GSL calls dle_gsl_load() first, so a missing library is an error that names it;
 * a function called anyway without the library returns NaN / NULL / GSL_EFAILED. */
#ifndef DLE_CORE_GSL_DL_H
#define DLE_CORE_GSL_DL_H

#include "dlenergy/error.h"

/* The library file dlopen'ed unless $DLENERGY_LIBGSL names another. */
#define DLE_LIBGSL_SONAME "libgsl.so.27"

/* Loads GSL (once per process; thread-safe). DLE_OK, or DLE_EUNSUPPORTED with a message
 * naming the library and the Debian package (err may be NULL). */
int dle_gsl_load(dle_error *err);

#endif
