/* dl.h — the open-and-resolve step of the optional-library shims (src/core/gsl_dl.c,
 * src/regress/lapack_dl.c and svm_dl.c, src/store/pq_dl.c, src/exporter/mhd_dl.c): each
 * keeps its own function table, forwarders and messages; this is what they share. */
#ifndef DLE_CORE_DL_H
#define DLE_CORE_DL_H

/* Opens the file $env_var names (when set and not empty), else soname, with
 * RTLD_NOW | RTLD_LOCAL; the handle is meant to stay open for the process's life.
 * *path gets the file tried. NULL when it cannot be loaded, with *why set to dlerror()'s
 * text ("not loadable" when there is none). */
void *dle_dl_open(const char *env_var, const char *soname, const char **path, const char **why);

/* Stores dlsym(lib, name) in the function-pointer variable at slot; a name that is not
 * there leaves NULL and, when *missing is still NULL, becomes *missing. */
void dle_dl_resolve(void *lib, const char *name, void *slot, const char **missing);

#endif
