/* dataset.c — PRE datasets, KFold folds, hyperparameter draws and the PRNG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regress_internal.h"

bool dle_reg_valid_name(const char *s) {
  if (!s) return false;
  size_t n = strlen(s);
  if (n == 0 || n >= DLE_REG_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  }
  return true;
}

char **dle_reg_strv_dup(const char *const *v, size_t n) {
  char **o = calloc(n ? n : 1, sizeof *o);
  if (!o) return NULL;
  for (size_t i = 0; i < n; i++) {
    o[i] = strdup(v[i]);
    if (!o[i]) {
      dle_reg_strv_free(o, i);
      return NULL;
    }
  }
  return o;
}

void dle_reg_strv_free(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

int dle_dataset_new(size_t n_num, const char *const *num_names, size_t n_cat,
                    const char *const *cat_names, const char *target, const char *target_unit,
                    dle_dataset **out, dle_error *err) {
  *out = NULL;
  if (n_num + n_cat == 0) return dle_error_set(err, DLE_EINVAL, "a dataset needs features");
  if (n_num > 4096 || n_cat > 4096) return dle_error_set(err, DLE_ERANGE, "too many features");
  for (size_t i = 0; i < n_num; i++)
    if (!dle_reg_valid_name(num_names[i]))
      return dle_error_set(err, DLE_EINVAL, "bad feature name '%s'",
                           num_names[i] ? num_names[i] : "(null)");
  for (size_t i = 0; i < n_cat; i++)
    if (!dle_reg_valid_name(cat_names[i]))
      return dle_error_set(err, DLE_EINVAL, "bad feature name '%s'",
                           cat_names[i] ? cat_names[i] : "(null)");
  if (!dle_reg_valid_name(target)) return dle_error_set(err, DLE_EINVAL, "bad target name");
  if (!target_unit || strlen(target_unit) >= DLE_REG_UNIT_MAX)
    return dle_error_set(err, DLE_EINVAL, "bad target unit");
  dle_dataset *d = calloc(1, sizeof *d);
  if (!d) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  d->n_num = n_num;
  d->n_cat = n_cat;
  d->num_names = dle_reg_strv_dup(num_names, n_num);
  d->cat_names = dle_reg_strv_dup(cat_names, n_cat);
  if (!d->num_names || !d->cat_names) {
    dle_dataset_free(d);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  snprintf(d->target, sizeof d->target, "%s", target);
  snprintf(d->unit, sizeof d->unit, "%s", target_unit);
  *out = d;
  return DLE_OK;
}

void dle_dataset_free(dle_dataset *d) {
  if (!d) return;
  dle_reg_strv_free(d->num_names, d->n_num);
  dle_reg_strv_free(d->cat_names, d->n_cat);
  if (d->cat)
    for (size_t i = 0; i < d->n * d->n_cat; i++) free(d->cat[i]);
  free(d->cat);
  free(d->num);
  free(d->y);
  free(d->scale_exp);
  free(d->feat_off);
  free(d);
}

void dle_dataset_set_merge_rows(dle_dataset *d, bool merge) {
  if (d) d->no_merge = !merge;
}

void dle_dataset_set_exact_solve(dle_dataset *d, bool exact) {
  if (d) d->cv_exact = exact;
}

int dle_dataset_set_transform(dle_dataset *d, bool log_target, const double *scale_exp,
                              const unsigned char *feature_off, dle_error *err) {
  if (!d) return dle_error_set(err, DLE_EINVAL, "no dataset");
  if (d->n) return dle_error_set(err, DLE_EINVAL, "set the target transform before adding rows");
  if (scale_exp && !log_target)
    return dle_error_set(err, DLE_EINVAL, "a target scale needs the log target");
  free(d->scale_exp);
  free(d->feat_off);
  d->scale_exp = NULL;
  d->feat_off = NULL;
  d->log_target = log_target;
  size_t nn = d->n_num ? d->n_num : 1;
  if (scale_exp) {
    if (!(d->scale_exp = malloc(nn * sizeof *d->scale_exp)))
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    for (size_t j = 0; j < d->n_num; j++) {
      if (!isfinite(scale_exp[j]))
        return dle_error_set(err, DLE_EINVAL, "scale exponent of %s is not finite",
                             d->num_names[j]);
      d->scale_exp[j] = scale_exp[j];
    }
  }
  if (feature_off) {
    if (!(d->feat_off = calloc(nn, 1))) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    memcpy(d->feat_off, feature_off, d->n_num);
  }
  return DLE_OK;
}

int dle_dataset_add(dle_dataset *d, const double *num, const char *const *cat, double y,
                    dle_error *err) {
  if (!isfinite(y))
    return dle_error_set(err, DLE_EINVAL, "row %zu: target is not finite", d->n + 1);
  for (size_t j = 0; j < d->n_num; j++)
    if (!isfinite(num[j]))
      return dle_error_set(err, DLE_EINVAL, "row %zu: feature %s is not finite", d->n + 1,
                           d->num_names[j]);
  for (size_t j = 0; j < d->n_cat; j++)
    if (!cat[j] || !cat[j][0])
      return dle_error_set(err, DLE_EINVAL, "row %zu: categorical %s is empty", d->n + 1,
                           d->cat_names[j]);
  if (d->log_target && !isfinite(dle_reg_transform(true, d->scale_exp, d->n_num, num, y)))
    return dle_error_set(err, DLE_EINVAL,
                         "row %zu: a log target needs a target and scale features > 0", d->n + 1);
  if (d->n == d->cap) {
    size_t nc = d->cap ? d->cap * 2 : 256;
    double *nn = realloc(d->num, nc * (d->n_num ? d->n_num : 1) * sizeof *nn);
    if (nn) d->num = nn;
    char **ncat = realloc(d->cat, nc * (d->n_cat ? d->n_cat : 1) * sizeof *ncat);
    if (ncat) d->cat = ncat;
    double *ny = realloc(d->y, nc * sizeof *ny);
    if (ny) d->y = ny;
    if (!nn || !ncat || !ny) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    d->cap = nc;
  }
  for (size_t j = 0; j < d->n_cat; j++) {
    d->cat[d->n * d->n_cat + j] = strdup(cat[j]);
    if (!d->cat[d->n * d->n_cat + j]) {
      for (size_t k = 0; k < j; k++) free(d->cat[d->n * d->n_cat + k]);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
  }
  if (d->n_num) memcpy(d->num + d->n * d->n_num, num, d->n_num * sizeof *num);
  d->y[d->n] = y;
  d->n++;
  return DLE_OK;
}

size_t dle_dataset_rows(const dle_dataset *d) {
  return d ? d->n : 0;
}
double dle_dataset_target(const dle_dataset *d, size_t row) {
  return d && row < d->n ? d->y[row] : NAN;
}

/* ---- PRNG: splitmix64 seeding xoshiro256** (Blackman & Vigna) ---- */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void dle_rng_seed(dle_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t dle_rng_next(dle_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double dle_rng_uniform_open(dle_rng *r) {
  return ((double)(dle_rng_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

/* Uniform integer in [0, n) without modulo bias. */
static uint64_t rng_below(dle_rng *r, uint64_t n) {
  uint64_t lim = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = dle_rng_next(r);
  while (x >= lim);
  return x % n;
}

int dle_regress_folds(size_t n, int k, bool shuffle, uint64_t seed, int *fold_of_row,
                      dle_error *err) {
  if (k < 2) return dle_error_set(err, DLE_EINVAL, "at least 2 folds are needed (got %d)", k);
  if ((size_t)k > n)
    return dle_error_set(err, DLE_ERANGE, "%d folds need at least %d rows (have %zu)", k, k, n);
  size_t *perm = malloc(n * sizeof *perm);
  if (!perm) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) perm[i] = i;
  if (shuffle) {
    dle_rng r;
    dle_rng_seed(&r, seed);
    for (size_t i = n - 1; i > 0; i--) {
      size_t j = (size_t)rng_below(&r, (uint64_t)i + 1);
      size_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
  }
  size_t base = n / (size_t)k, extra = n % (size_t)k, pos = 0;
  for (int f = 0; f < k; f++) {
    size_t sz = base + ((size_t)f < extra ? 1 : 0);
    for (size_t i = 0; i < sz; i++) fold_of_row[perm[pos++]] = f;
  }
  free(perm);
  return DLE_OK;
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int dle_regress_group_folds(const char *const *labels, size_t n, int *fold_of_row, int *k,
                            dle_error *err) {
  if (!labels || !fold_of_row || !k) return dle_error_set(err, DLE_EINVAL, "missing argument");
  const char **s = malloc((n ? n : 1) * sizeof *s);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (!labels[i]) {
      free(s);
      return dle_error_set(err, DLE_EINVAL, "row %zu has no group", i + 1);
    }
    s[i] = labels[i];
  }
  qsort(s, n, sizeof *s, cmp_cstr);
  size_t u = 0;
  for (size_t i = 0; i < n; i++)
    if (u == 0 || strcmp(s[i], s[u - 1]) != 0) s[u++] = s[i];
  if (u < 2) {
    free(s);
    return dle_error_set(err, DLE_ERANGE, "leave-one-group-out needs at least 2 groups (have %zu)",
                         u);
  }
  for (size_t i = 0; i < n; i++) {
    const char **hit = bsearch(&labels[i], s, u, sizeof *s, cmp_cstr);
    fold_of_row[i] = (int)(hit - s);
  }
  *k = (int)u;
  free(s);
  return DLE_OK;
}

int dle_regress_draws(dle_regress_kind kind, uint64_t seed, size_t n, dle_regress_hyper *out,
                      dle_error *err) {
  if ((unsigned)kind >= DLE_REG_COUNT) return dle_error_set(err, DLE_EINVAL, "bad model kind");
  dle_rng r;
  /* A distinct stream from the fold shuffle's. */
  dle_rng_seed(&r, seed ^ 0x5eed5eed5eed5eedULL);
  for (size_t i = 0; i < n; i++) {
    dle_regress_hyper h = {NAN, NAN, NAN, NAN};
    switch (kind) {
      case DLE_REG_LINEAR:
        break;
      case DLE_REG_RIDGE:
        h.alpha = -0.1 * log(dle_rng_uniform_open(&r));
        break;
      case DLE_REG_KRR:
        h.alpha = -0.01 * log(dle_rng_uniform_open(&r));
        h.gamma = -0.01 * log(dle_rng_uniform_open(&r));
        break;
      case DLE_REG_SVR:
        h.c = -300.0 * log(dle_rng_uniform_open(&r));
        h.epsilon = -0.1 * log(dle_rng_uniform_open(&r)); /* target std units */
        h.gamma = -0.01 * log(dle_rng_uniform_open(&r));
        break;
      default:
        break;
    }
    out[i] = h;
  }
  return DLE_OK;
}

static const char *const k_kind_names[DLE_REG_COUNT] = {"linear", "ridge", "krr", "svr"};

const char *dle_regress_kind_name(dle_regress_kind k) {
  return (unsigned)k < DLE_REG_COUNT ? k_kind_names[k] : "?";
}

int dle_regress_kind_parse(const char *s, dle_regress_kind *out, dle_error *err) {
  for (int i = 0; i < DLE_REG_COUNT; i++)
    if (s && strcmp(s, k_kind_names[i]) == 0) {
      *out = (dle_regress_kind)i;
      return DLE_OK;
    }
  if (s && (strcmp(s, "kernel-ridge") == 0 || strcmp(s, "kernel_ridge") == 0)) {
    *out = DLE_REG_KRR;
    return DLE_OK;
  }
  return dle_error_set(err, DLE_EINVAL, "unknown model '%s' (linear, ridge, krr, svr)", s ? s : "");
}
