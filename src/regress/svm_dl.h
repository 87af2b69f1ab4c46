/* svm_dl.h — libsvm loaded with dlopen on first use (src/regress/svm_dl.c).
 *
 * Only SVR needs libsvm; linking it pulled libstdc++ and libgcc_s into every dlenergy
 * process start. svm_dl.c defines the libsvm functions fit.c calls, under libsvm's names
 * and types (hidden from libdlenergy.so's exports), forwarding to libsvm.so.3 (or
 * $DLENERGY_LIBSVM) loaded on the first call. */
#ifndef DLE_REGRESS_SVM_DL_H
#define DLE_REGRESS_SVM_DL_H

#include "dlenergy/error.h"

/* The library file dlopen'ed unless $DLENERGY_LIBSVM names another. */
#define DLE_LIBSVM_SONAME "libsvm.so.3"

/* Loads libsvm (once per process; thread-safe). DLE_OK, or DLE_EUNSUPPORTED with a message
 * naming the library and the Debian package. */
int dle_svm_load(dle_error *err);

#endif
