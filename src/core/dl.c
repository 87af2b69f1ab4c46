/* dl.c — see dl.h. */
#include "dl.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

void *dle_dl_open(const char *env_var, const char *soname, const char **path, const char **why) {
  const char *p = getenv(env_var);
  if (!p || !*p) p = soname;
  *path = p;
  void *lib = dlopen(p, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    *why = e ? e : "not loadable";
  }
  return lib;
}

void dle_dl_resolve(void *lib, const char *name, void *slot, const char **missing) {
  void *f = dlsym(lib, name);
  memcpy(slot, &f, sizeof f); /* object pointer -> function pointer without a cast warning */
  if (!f && !*missing) *missing = name;
}
