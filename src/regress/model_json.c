/* model_json.c — the model file: versioned JSON written and read with cJSON.
 * The reader trusts nothing: every field is checked for presence, type, range
 * and size consistency before the model is used. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/fsutil.h"
#include "regress_internal.h"

#define MODEL_FORMAT "dlenergy-regress-model"
enum {
  MODEL_VERSION = 1,
  MAX_NUM = 1024,
  MAX_CAT = 256,
  MAX_LEVELS = 4096,
  MAX_DIM = 16384,
  MAX_FILE = 256 << 20
};
#define MAX_SV_CELLS 50000000.0

/* cJSON prints 15 significant digits when they read back within an epsilon, which
 * loses the last bit; numbers are written with 17 digits so a model file reloads
 * bit for bit. */
static cJSON *num17(double v) {
  char buf[40];
  snprintf(buf, sizeof buf, "%.17g", v);
  return cJSON_CreateRaw(buf);
}

static cJSON *num_or_null(double v) {
  return isfinite(v) ? num17(v) : cJSON_CreateNull();
}

static cJSON *array_of(const double *v, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < n; i++)
    if (!cJSON_AddItemToArray(a, num17(v[i]))) {
      cJSON_Delete(a);
      return NULL;
    }
  return a;
}

static bool all_finite(const double *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(v[i])) return false;
  return true;
}

int dle_regress_model_to_json(const dle_regress_model *m, char **out, dle_error *err) {
  *out = NULL;
  size_t d = m->e.d;
  bool lin = m->kind == DLE_REG_LINEAR || m->kind == DLE_REG_RIDGE;
  if ((lin && (!all_finite(m->coef, d) || !isfinite(m->intercept))) ||
      (!lin &&
       (!all_finite(m->sv, m->n_sv * d) || !all_finite(m->dual, m->n_sv) || !isfinite(m->rho))))
    return dle_error_set(err, DLE_ERANGE, "the fitted model has non-finite coefficients");
  cJSON *o = cJSON_CreateObject();
  if (!o) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  bool ok = true;
  ok &= cJSON_AddStringToObject(o, "format", MODEL_FORMAT) != NULL;
  ok &= cJSON_AddNumberToObject(o, "version", MODEL_VERSION) != NULL;
  ok &= cJSON_AddStringToObject(o, "kind", dle_regress_kind_name(m->kind)) != NULL;
  ok &= cJSON_AddStringToObject(o, "target", m->target) != NULL;
  ok &= cJSON_AddStringToObject(o, "target_unit", m->unit) != NULL;
  ok &= cJSON_AddNumberToObject(o, "rows", (double)m->rows) != NULL;
  cJSON *nums = cJSON_AddArrayToObject(o, "numeric");
  for (size_t j = 0; ok && nums && j < m->e.n_num; j++) {
    cJSON *f = cJSON_CreateObject();
    ok &= f && cJSON_AddItemToArray(nums, f);
    ok &= ok && cJSON_AddStringToObject(f, "name", m->num_names[j]) != NULL;
    ok &= ok && cJSON_AddItemToObject(f, "mean", num17(m->e.mean[j]));
    ok &= ok && cJSON_AddItemToObject(f, "scale", num17(m->e.scale[j]));
    if (isfinite(m->e.min[j]) && isfinite(m->e.max[j])) {
      ok &= ok && cJSON_AddItemToObject(f, "min", num17(m->e.min[j]));
      ok &= ok && cJSON_AddItemToObject(f, "max", num17(m->e.max[j]));
    }
    ok &= ok && cJSON_AddBoolToObject(f, "used", m->e.used[j]) != NULL;
  }
  cJSON *cats = cJSON_AddArrayToObject(o, "categorical");
  for (size_t c = 0; ok && cats && c < m->e.n_cat; c++) {
    cJSON *f = cJSON_CreateObject();
    ok &= f && cJSON_AddItemToArray(cats, f);
    ok &= ok && cJSON_AddStringToObject(f, "name", m->cat_names[c]) != NULL;
    cJSON *lv = ok ? cJSON_AddArrayToObject(f, "levels") : NULL;
    ok &= lv != NULL;
    for (size_t l = 0; ok && l < m->e.n_levels[c]; l++)
      ok &= cJSON_AddItemToArray(lv, cJSON_CreateString(m->e.levels[c][l]));
  }
  ok &= nums && cats;
  cJSON *h = cJSON_AddObjectToObject(o, "hyper");
  ok &= h && cJSON_AddItemToObject(h, "alpha", num_or_null(m->h.alpha));
  ok &= h && cJSON_AddItemToObject(h, "gamma", num_or_null(m->h.gamma));
  ok &= h && cJSON_AddItemToObject(h, "c", num_or_null(m->h.c));
  ok &= h && cJSON_AddItemToObject(h, "epsilon", num_or_null(m->h.epsilon));
  if (lin) {
    ok &= cJSON_AddItemToObject(o, "coef", array_of(m->coef, d));
    ok &= cJSON_AddItemToObject(o, "intercept", num17(m->intercept));
  } else {
    cJSON *sv = cJSON_AddArrayToObject(o, "support");
    ok &= sv != NULL;
    for (size_t i = 0; ok && i < m->n_sv; i++)
      ok &= cJSON_AddItemToArray(sv, array_of(m->sv + i * d, d));
    ok &= cJSON_AddItemToObject(o, "dual", array_of(m->dual, m->n_sv));
    ok &= cJSON_AddItemToObject(o, "rho", num17(m->rho));
  }
  cJSON *tt = cJSON_AddObjectToObject(o, "target_transform");
  ok &= tt && cJSON_AddBoolToObject(tt, "log", m->log_target) != NULL;
  ok &= tt && cJSON_AddItemToObject(tt, "center", num17(m->y_center));
  ok &= tt && cJSON_AddItemToObject(tt, "scale", num17(m->y_scale));
  if (tt && m->scale_exp) ok &= cJSON_AddItemToObject(tt, "scale_exp", array_of(m->scale_exp, m->e.n_num));
  if (m->have_cv) {
    cJSON *cv = cJSON_AddObjectToObject(o, "cv");
    ok &= cv != NULL;
    if (cv) {
      cJSON_AddNumberToObject(cv, "folds", m->cvo.folds);
      cJSON_AddBoolToObject(cv, "shuffle", m->cvo.shuffle);
      char seed[32];
      snprintf(seed, sizeof seed, "%llu", (unsigned long long)m->cvo.seed);
      cJSON_AddStringToObject(cv, "seed", seed); /* text: exact for all 64 bits */
      cJSON_AddNumberToObject(cv, "draws", (double)m->cvo.draws);
      cJSON_AddItemToObject(cv, "r2", num_or_null(m->cvs.r2));
      cJSON_AddItemToObject(cv, "mape", num_or_null(m->cvs.mape));
      cJSON_AddItemToObject(cv, "rmse", num_or_null(m->cvs.rmse));
      ok &= cJSON_AddItemToObject(cv, "mae", num_or_null(m->cvs.mae));
      if (isfinite(m->cvs.rmsle)) ok &= cJSON_AddItemToObject(cv, "rmsle", num17(m->cvs.rmsle));
      if (m->group_by[0]) ok &= cJSON_AddStringToObject(cv, "group_by", m->group_by) != NULL;
    }
  }
  char *s = ok ? cJSON_Print(o) : NULL;
  cJSON_Delete(o);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "out of memory writing the model");
  *out = s;
  return DLE_OK;
}

int dle_regress_model_save(const dle_regress_model *m, const char *path, dle_error *err) {
  char *s = NULL;
  int rc = dle_regress_model_to_json(m, &s, err);
  if (rc) return rc;
  size_t n = strlen(s);
  char *buf = malloc(n + 2);
  if (!buf) {
    cJSON_free(s);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  memcpy(buf, s, n);
  buf[n] = '\n';
  cJSON_free(s);
  rc = dle_write_file_atomic(path, buf, n + 1, err);
  free(buf);
  return rc;
}

/* ---- reader ---- */

#define perr(err, ...) dle_error_set((err), DLE_EPARSE, __VA_ARGS__)

static const cJSON *need(const cJSON *o, const char *key, dle_error *err, int *rc) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v) *rc = perr(err, "model file: missing field '%s'", key);
  return v;
}

static bool get_num(const cJSON *o, const char *key, double *out, dle_error *err, int *rc) {
  const cJSON *v = need(o, key, err, rc);
  if (!v) return false;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
    *rc = perr(err, "model file: field '%s' must be a finite number", key);
    return false;
  }
  *out = v->valuedouble;
  return true;
}

static bool get_size(const cJSON *o, const char *key, double max, size_t *out, dle_error *err,
                     int *rc) {
  double v;
  if (!get_num(o, key, &v, err, rc)) return false;
  if (v < 0 || v > max || v != floor(v)) {
    *rc = perr(err, "model file: field '%s' must be a whole number in range", key);
    return false;
  }
  *out = (size_t)v;
  return true;
}

static const char *get_str(const cJSON *o, const char *key, dle_error *err, int *rc) {
  const cJSON *v = need(o, key, err, rc);
  if (!v) return NULL;
  if (!cJSON_IsString(v) || !v->valuestring) {
    *rc = perr(err, "model file: field '%s' must be a string", key);
    return NULL;
  }
  return v->valuestring;
}

/* A finite number array of exactly n entries into out. */
static bool get_vec(const cJSON *a, size_t n, double *out, const char *what, dle_error *err,
                    int *rc) {
  if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n) {
    *rc = perr(err, "model file: '%s' must be an array of the model's size", what);
    return false;
  }
  size_t i = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, a) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
      *rc = perr(err, "model file: '%s' holds a value that is not a finite number", what);
      return false;
    }
    out[i++] = v->valuedouble;
  }
  return true;
}

static bool get_hyper(const cJSON *h, const char *key, bool required, double *out, dle_error *err,
                      int *rc) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, key);
  if (!required) {
    *out = NAN;
    return true;
  }
  if (!v || !cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
      (v->valuedouble == 0 && strcmp(key, "epsilon") != 0)) {
    *rc = perr(err, "model file: hyper.%s must be a finite positive number", key);
    return false;
  }
  *out = v->valuedouble;
  return true;
}

static int parse_obj(const cJSON *o, dle_regress_model *m, dle_error *err) {
  int rc = DLE_OK;
  if (!cJSON_IsObject(o)) return perr(err, "model file: %s", "not a JSON object");
  const char *fmt = get_str(o, "format", err, &rc);
  if (!fmt) return rc;
  if (strcmp(fmt, MODEL_FORMAT) != 0)
    return perr(err, "model file: format is not '%s'", MODEL_FORMAT);
  double ver;
  if (!get_num(o, "version", &ver, err, &rc)) return rc;
  if (ver != MODEL_VERSION)
    return dle_error_set(err, DLE_EPARSE,
                         "model file: version %g is not supported (this build reads version %d)",
                         ver, MODEL_VERSION);
  const char *kind = get_str(o, "kind", err, &rc);
  if (!kind) return rc;
  if (dle_regress_kind_parse(kind, &m->kind, err))
    return perr(err, "model file: unknown kind '%s'", kind);
  const char *t = get_str(o, "target", err, &rc);
  if (!t) return rc;
  if (!dle_reg_valid_name(t)) return perr(err, "model file: %s", "bad target name");
  snprintf(m->target, sizeof m->target, "%s", t);
  const char *u = get_str(o, "target_unit", err, &rc);
  if (!u) return rc;
  if (strlen(u) >= sizeof m->unit) return perr(err, "model file: %s", "target_unit too long");
  snprintf(m->unit, sizeof m->unit, "%s", u);
  if (!get_size(o, "rows", 1e12, &m->rows, err, &rc)) return rc;

  const cJSON *nums = need(o, "numeric", err, &rc);
  if (!nums) return rc;
  if (!cJSON_IsArray(nums) || cJSON_GetArraySize(nums) > MAX_NUM)
    return perr(err, "model file: %s", "'numeric' must be an array of at most 1024 features");
  const cJSON *cats = need(o, "categorical", err, &rc);
  if (!cats) return rc;
  if (!cJSON_IsArray(cats) || cJSON_GetArraySize(cats) > MAX_CAT)
    return perr(err, "model file: %s", "'categorical' must be an array of at most 256 features");
  size_t nn = (size_t)cJSON_GetArraySize(nums), nc = (size_t)cJSON_GetArraySize(cats);
  m->num_names = calloc(nn ? nn : 1, sizeof *m->num_names);
  m->cat_names = calloc(nc ? nc : 1, sizeof *m->cat_names);
  m->e.mean = calloc(nn ? nn : 1, sizeof *m->e.mean);
  m->e.scale = calloc(nn ? nn : 1, sizeof *m->e.scale);
  m->e.min = calloc(nn ? nn : 1, sizeof *m->e.min);
  m->e.max = calloc(nn ? nn : 1, sizeof *m->e.max);
  m->e.used = calloc(nn ? nn : 1, 1);
  m->e.n_levels = calloc(nc ? nc : 1, sizeof *m->e.n_levels);
  m->e.levels = calloc(nc ? nc : 1, sizeof *m->e.levels);
  m->e.n_num = nn;
  m->e.n_cat = nc;
  if (!m->num_names || !m->cat_names || !m->e.mean || !m->e.scale || !m->e.min || !m->e.max ||
      !m->e.used || !m->e.n_levels || !m->e.levels)
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  size_t j = 0;
  const cJSON *f;
  cJSON_ArrayForEach(f, nums) {
    const char *name = get_str(f, "name", err, &rc);
    if (!name) return rc;
    if (!dle_reg_valid_name(name))
      return perr(err, "model file: bad numeric feature name '%.64s'", name);
    for (size_t k = 0; k < j; k++)
      if (strcmp(m->num_names[k], name) == 0)
        return perr(err, "model file: duplicate feature '%s'", name);
    if (!(m->num_names[j] = strdup(name))) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    if (!get_num(f, "mean", &m->e.mean[j], err, &rc) ||
        !get_num(f, "scale", &m->e.scale[j], err, &rc))
      return rc;
    if (!(m->e.scale[j] > 0)) return perr(err, "model file: scale of '%s' must be > 0", name);
    /* Optional (files may omit it): the training range, for extrapolation notes. */
    m->e.min[j] = m->e.max[j] = NAN;
    if (cJSON_GetObjectItemCaseSensitive(f, "min") || cJSON_GetObjectItemCaseSensitive(f, "max")) {
      if (!get_num(f, "min", &m->e.min[j], err, &rc) || !get_num(f, "max", &m->e.max[j], err, &rc))
        return rc;
      if (m->e.min[j] > m->e.max[j])
        return perr(err, "model file: min of '%s' is above its max", name);
    }
    const cJSON *used = need(f, "used", err, &rc);
    if (!used) return rc;
    if (!cJSON_IsBool(used))
      return perr(err, "model file: 'used' of '%s' must be true or false", name);
    m->e.used[j] = cJSON_IsTrue(used);
    j++;
  }
  size_t d = nn, c = 0;
  cJSON_ArrayForEach(f, cats) {
    const char *name = get_str(f, "name", err, &rc);
    if (!name) return rc;
    if (!dle_reg_valid_name(name))
      return perr(err, "model file: bad categorical feature name '%.64s'", name);
    for (size_t k = 0; k < nn; k++)
      if (strcmp(m->num_names[k], name) == 0)
        return perr(err, "model file: duplicate feature '%s'", name);
    for (size_t k = 0; k < c; k++)
      if (strcmp(m->cat_names[k], name) == 0)
        return perr(err, "model file: duplicate feature '%s'", name);
    if (!(m->cat_names[c] = strdup(name))) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    const cJSON *lv = need(f, "levels", err, &rc);
    if (!lv) return rc;
    if (!cJSON_IsArray(lv) || cJSON_GetArraySize(lv) < 1 || cJSON_GetArraySize(lv) > MAX_LEVELS)
      return perr(err, "model file: levels of '%s' must be an array of 1..4096 strings", name);
    size_t nl = (size_t)cJSON_GetArraySize(lv);
    m->e.levels[c] = calloc(nl, sizeof *m->e.levels[c]);
    if (!m->e.levels[c]) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    m->e.n_levels[c] = nl;
    size_t l = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, lv) {
      if (!cJSON_IsString(s) || !s->valuestring || !s->valuestring[0])
        return perr(err, "model file: levels of '%s' must be non-empty strings", name);
      if (l > 0 && strcmp(m->e.levels[c][l - 1], s->valuestring) >= 0)
        return perr(err, "model file: levels of '%s' must be sorted and distinct", name);
      if (!(m->e.levels[c][l] = strdup(s->valuestring)))
        return dle_error_set(err, DLE_ENOMEM, "out of memory");
      l++;
    }
    d += nl;
    c++;
  }
  if (d == 0 || d > MAX_DIM)
    return perr(err, "model file: %s", "encoded dimension must be 1..16384");
  m->e.d = d;

  const cJSON *h = need(o, "hyper", err, &rc);
  if (!h) return rc;
  if (!cJSON_IsObject(h)) return perr(err, "model file: %s", "'hyper' must be an object");
  bool ok = get_hyper(h, "alpha", m->kind == DLE_REG_RIDGE || m->kind == DLE_REG_KRR, &m->h.alpha,
                      err, &rc) &&
            get_hyper(h, "gamma", m->kind == DLE_REG_KRR || m->kind == DLE_REG_SVR, &m->h.gamma,
                      err, &rc) &&
            get_hyper(h, "c", m->kind == DLE_REG_SVR, &m->h.c, err, &rc) &&
            get_hyper(h, "epsilon", m->kind == DLE_REG_SVR, &m->h.epsilon, err, &rc);
  if (!ok) return rc;

  if (m->kind == DLE_REG_LINEAR || m->kind == DLE_REG_RIDGE) {
    const cJSON *coef = need(o, "coef", err, &rc);
    if (!coef) return rc;
    if (!(m->coef = malloc(d * sizeof *m->coef)))
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    if (!get_vec(coef, d, m->coef, "coef", err, &rc)) return rc;
    if (!get_num(o, "intercept", &m->intercept, err, &rc)) return rc;
  } else {
    const cJSON *sv = need(o, "support", err, &rc);
    if (!sv) return rc;
    if (!cJSON_IsArray(sv)) return perr(err, "model file: %s", "'support' must be an array");
    size_t n = (size_t)cJSON_GetArraySize(sv);
    if (n == 0 || (double)n * (double)d > MAX_SV_CELLS)
      return perr(err, "model file: %s", "'support' must hold 1..50e6 numbers in all");
    m->sv = malloc(n * d * sizeof *m->sv);
    m->dual = malloc(n * sizeof *m->dual);
    if (!m->sv || !m->dual) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    size_t i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, sv) {
      if (!get_vec(row, d, m->sv + i * d, "support row", err, &rc)) return rc;
      i++;
    }
    m->n_sv = n;
    const cJSON *dual = need(o, "dual", err, &rc);
    if (!dual) return rc;
    if (!get_vec(dual, n, m->dual, "dual", err, &rc)) return rc;
    if (!get_num(o, "rho", &m->rho, err, &rc)) return rc;
  }

  /* Optional (files before it fitted the raw target): the target transform. */
  const cJSON *tt = cJSON_GetObjectItemCaseSensitive(o, "target_transform");
  if (tt) {
    if (!cJSON_IsObject(tt)) return perr(err, "model file: %s", "'target_transform' must be an object");
    const cJSON *lg = need(tt, "log", err, &rc);
    if (!lg) return rc;
    if (!cJSON_IsBool(lg)) return perr(err, "model file: %s", "target_transform.log must be true or false");
    m->log_target = cJSON_IsTrue(lg);
    if (!get_num(tt, "center", &m->y_center, err, &rc) ||
        !get_num(tt, "scale", &m->y_scale, err, &rc))
      return rc;
    if (!(m->y_scale > 0)) return perr(err, "model file: %s", "target_transform.scale must be > 0");
    const cJSON *se = cJSON_GetObjectItemCaseSensitive(tt, "scale_exp");
    if (se) {
      if (!m->log_target)
        return perr(err, "model file: %s", "target_transform.scale_exp needs log");
      if (!(m->scale_exp = malloc((nn ? nn : 1) * sizeof *m->scale_exp)))
        return dle_error_set(err, DLE_ENOMEM, "out of memory");
      if (!get_vec(se, nn, m->scale_exp, "target_transform.scale_exp", err, &rc)) return rc;
      for (size_t k = 0; k < nn; k++)
        if (fabs(m->scale_exp[k]) > 16)
          return perr(err, "model file: %s", "target_transform.scale_exp must be within +/-16");
    }
  }
  const cJSON *cv = cJSON_GetObjectItemCaseSensitive(o, "cv");
  if (cv) {
    if (!cJSON_IsObject(cv)) return perr(err, "model file: %s", "'cv' must be an object");
    size_t folds = 0, draws = 0;
    if (!get_size(cv, "folds", 1e6, &folds, err, &rc) ||
        !get_size(cv, "draws", 1e6, &draws, err, &rc))
      return rc;
    if (folds < 2) return perr(err, "model file: %s", "cv.folds must be at least 2");
    const cJSON *sh = need(cv, "shuffle", err, &rc);
    if (!sh) return rc;
    if (!cJSON_IsBool(sh)) return perr(err, "model file: %s", "cv.shuffle must be true or false");
    const char *seed = get_str(cv, "seed", err, &rc);
    if (!seed) return rc;
    char *end = NULL;
    unsigned long long sv64 = strtoull(seed, &end, 10);
    if (!seed[0] || *end || seed[0] == '-')
      return perr(err, "model file: %s", "cv.seed must be a decimal integer");
    m->cvo = (dle_regress_search_opts){(int)folds, cJSON_IsTrue(sh), (uint64_t)sv64, draws, false};
    if (!get_num(cv, "r2", &m->cvs.r2, err, &rc) || !get_num(cv, "mape", &m->cvs.mape, err, &rc) ||
        !get_num(cv, "rmse", &m->cvs.rmse, err, &rc) || !get_num(cv, "mae", &m->cvs.mae, err, &rc))
      return rc;
    if (m->cvs.rmse < 0 || m->cvs.mae < 0 || m->cvs.mape < 0)
      return perr(err, "model file: %s", "cv errors must be >= 0");
    m->cvs.rmsle = NAN;
    if (cJSON_GetObjectItemCaseSensitive(cv, "rmsle")) {
      if (!get_num(cv, "rmsle", &m->cvs.rmsle, err, &rc)) return rc;
      if (m->cvs.rmsle < 0 || m->cvs.rmsle > 50)
        return perr(err, "model file: %s", "cv.rmsle must be in 0..50");
    }
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(cv, "group_by");
    if (gb) {
      if (!cJSON_IsString(gb) || !dle_reg_valid_name(gb->valuestring))
        return perr(err, "model file: %s", "cv.group_by must be a column name");
      snprintf(m->group_by, sizeof m->group_by, "%s", gb->valuestring);
    }
    m->have_cv = true;
  }
  return DLE_OK;
}

int dle_regress_model_parse(const char *text, size_t len, dle_regress_model **out, dle_error *err) {
  *out = NULL;
  if (!text) return dle_error_set(err, DLE_EINVAL, "no model text");
  cJSON *o = cJSON_ParseWithLength(text, len);
  if (!o) return dle_error_set(err, DLE_EPARSE, "model file: not valid JSON");
  dle_regress_model *m = dle_reg_model_alloc();
  if (!m) {
    cJSON_Delete(o);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int rc = parse_obj(o, m, err);
  cJSON_Delete(o);
  if (rc) {
    dle_regress_model_free(m);
    return rc;
  }
  *out = m;
  return DLE_OK;
}

int dle_regress_model_load(const char *path, dle_regress_model **out, dle_error *err) {
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc = dle_read_file(path, MAX_FILE, &text, &len, err);
  if (rc) return rc;
  rc = dle_regress_model_parse(text, len, out, err);
  free(text);
  if (rc) dle_error_prefix(err, "%s: ", path);
  return rc;
}
