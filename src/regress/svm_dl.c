/* svm_dl.c — the libsvm functions SVR calls, resolved with dlopen on first use (see
 * svm_dl.h). The functions below keep libsvm's names and types (<libsvm/svm.h>), so fit.c
 * calls libsvm as if linked; each forwards through a table filled once (pthread_once) and
 * read-only afterwards. Without the library svm_check_parameter() returns the message
 * naming it and svm_train() returns NULL; cv_core and dle_regress_fit call dle_svm_load()
 * first, so the user sees that message. Another libsvm call = one more table entry (the
 * link fails until then). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svm_dl.h"
#include "core/dl.h"

#pragma GCC visibility push(hidden)
#include <libsvm/svm.h>

typedef struct svm_table {
  int ok;
  char why[400];
  struct svm_model *(*train)(const struct svm_problem *, const struct svm_parameter *);
  const char *(*check_parameter)(const struct svm_problem *, const struct svm_parameter *);
  void (*set_print_string_function)(void (*)(const char *));
  void (*free_and_destroy_model)(struct svm_model **);
} svm_table;

/* Written once inside pthread_once, read-only afterwards. */
static svm_table g_svm;
static pthread_once_t g_svm_once = PTHREAD_ONCE_INIT;

static void svm_init(void) {
  const char *path, *why;
  /* Kept open for the process's life. */
  void *lib = dle_dl_open("DLENERGY_LIBSVM", DLE_LIBSVM_SONAME, &path, &why);
  if (!lib) {
    snprintf(g_svm.why, sizeof g_svm.why, "SVR needs %s (%s): apt-get install libsvm3", path, why);
    return;
  }
  const char *missing = NULL;
  dle_dl_resolve(lib, "svm_train", &g_svm.train, &missing);
  dle_dl_resolve(lib, "svm_check_parameter", &g_svm.check_parameter, &missing);
  dle_dl_resolve(lib, "svm_set_print_string_function", &g_svm.set_print_string_function, &missing);
  dle_dl_resolve(lib, "svm_free_and_destroy_model", &g_svm.free_and_destroy_model, &missing);
  if (missing) {
    snprintf(g_svm.why, sizeof g_svm.why, "%s lacks %s: not libsvm", path, missing);
    dlclose(lib);
    return;
  }
  g_svm.ok = 1;
}

static const svm_table *svm(void) {
  pthread_once(&g_svm_once, svm_init);
  return g_svm.ok ? &g_svm : NULL;
}

struct svm_model *svm_train(const struct svm_problem *prob, const struct svm_parameter *param) {
  const svm_table *t = svm();
  return t ? t->train(prob, param) : NULL;
}

const char *svm_check_parameter(const struct svm_problem *prob,
                                const struct svm_parameter *param) {
  const svm_table *t = svm();
  return t ? t->check_parameter(prob, param) : g_svm.why;
}

void svm_set_print_string_function(void (*print_func)(const char *)) {
  const svm_table *t = svm();
  if (t) t->set_print_string_function(print_func);
}

void svm_free_and_destroy_model(struct svm_model **model_ptr_ptr) {
  const svm_table *t = svm();
  if (t) t->free_and_destroy_model(model_ptr_ptr);
}
#pragma GCC visibility pop

int dle_svm_load(dle_error *err) {
  if (svm()) return DLE_OK;
  return dle_error_set(err, DLE_EUNSUPPORTED, "%s", g_svm.why);
}
