/* check.h — the tiny assertion kit of the C tests.
 * CHECK* record a failure and go on; main returns check_finish(), which prints
 * "N passed, N failed" and gives the exit status. SKIP(...) exits with 77. */
#ifndef DLE_TESTS_CHECK_H
#define DLE_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/error.h"

static int check_passed_;
static int check_failed_;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) {                                                              \
      check_passed_++;                                                       \
    } else {                                                                 \
      check_failed_++;                                                       \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

#define CHECK_MSG(cond, ...)                                      \
  do {                                                            \
    if (cond) {                                                   \
      check_passed_++;                                            \
    } else {                                                      \
      check_failed_++;                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                               \
      fputc('\n', stderr);                                        \
    }                                                             \
  } while (0)

/* |a-b| <= tol (absolute) */
#define CHECK_NEAR(a, b, tol)                                                        \
  do {                                                                               \
    double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                   \
    CHECK_MSG(fabs(a_ - b_) <= t_, "%s = %.17g, %s = %.17g, tol %.3g", #a, a_, #b, b_, t_); \
  } while (0)

/* |a-b| <= rel * max(|a|,|b|) */
#define CHECK_REL(a, b, rel)                                                          \
  do {                                                                                \
    double a_ = (double)(a), b_ = (double)(b), r_ = (double)(rel);                    \
    double m_ = fabs(a_) > fabs(b_) ? fabs(a_) : fabs(b_);                            \
    CHECK_MSG(fabs(a_ - b_) <= r_ * m_, "%s = %.17g, %s = %.17g, rel %.3g", #a, a_, #b, b_, r_); \
  } while (0)

#define CHECK_OK(expr, errp)                                                     \
  do {                                                                           \
    int rc_ = (expr);                                                            \
    const dle_error *e_ = (errp);                                                \
    CHECK_MSG(rc_ == 0, "%s returned %d: %s", #expr, rc_, e_ ? e_->msg : "");   \
  } while (0)

#define SKIP(...)                      \
  do {                                 \
    fprintf(stderr, "SKIP: ");         \
    fprintf(stderr, __VA_ARGS__);      \
    fputc('\n', stderr);               \
    exit(77);                          \
  } while (0)

static inline int check_finish(void) {
  printf("%d passed, %d failed\n", check_passed_, check_failed_);
  return check_failed_ ? 1 : 0;
}

/* Path of shared/ data (DLE_SHARED_DIR from CTest), or NULL. */
static inline const char *check_shared_dir(void) {
  const char *d = getenv("DLE_SHARED_DIR");
  return d && *d ? d : NULL;
}

#endif
