/* lapack_dl.h — LAPACK loaded with dlopen on first use (src/regress/lapack_dl.c).
 *
 * Only ridge and kernel ridge (their Cholesky solves) need LAPACK, and linking it (with
 * LAPACKE, BLAS, gfortran, quadmath, tmglib) made the dynamic loader map and bind-now
 * relocate six libraries at every start of every dlenergy process and of every Python
 * process that loads libdlenergy.so. lapack_dl.c defines the
 * Fortran routines fit.c calls (dpotrf_, dpotrs_: the names and types of
 * Debian's <lapack.h>, hidden from libdlenergy.so's exports) and forwards each through a
 * table that dle_lapack_load() fills once from liblapack.so.3 (or $DLENERGY_LIBLAPACK).
 * Callers use the column-major Fortran interface directly (no LAPACKE). Least squares
 * (linear regression) is GSL's, which the statistics link anyway. */
#ifndef DLE_REGRESS_LAPACK_DL_H
#define DLE_REGRESS_LAPACK_DL_H

#include <lapack.h>

#include "dlenergy/error.h"

/* The library file dlopen'ed unless $DLENERGY_LIBLAPACK names another. */
#define DLE_LIBLAPACK_SONAME "liblapack.so.3"

/* Loads LAPACK (once per process; thread-safe). DLE_OK, or DLE_EUNSUPPORTED with a message
 * naming the library and the Debian package. Call before the first routine. */
int dle_lapack_load(dle_error *err);

#endif
