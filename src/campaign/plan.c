/* plan.c — parsing, expansion and scheduling of `dlenergy bench` plans
 * (see include/dlenergy/campaign.h). JSON through cJSON. */
#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/campaign.h"
#include "dlenergy/fsutil.h"

enum { MAX_FACTORS = 32, MAX_LEVELS = 1024, MAX_ARGS = 4096 };
static const size_t MAX_CONFIGS = 1000000;
static const size_t MAX_PLAN_BYTES = 16u << 20;

typedef struct factor {
  char *name;
  size_t n_levels;
  char **levels;
} factor;

struct dle_plan {
  char *name;
  size_t n_factors;
  factor factors[MAX_FACTORS];
  size_t n_configs;
  size_t n_cmd;
  char **cmd;
  size_t n_warm;
  char **warm_cmd;
  double warmup_s, cooldown_s, timeout_s;
  int repetitions;
  uint64_t seed;
  int randomize;
  size_t n_meta;
  char **meta_keys, **meta_values;
  size_t n_opts;
  char **opts;
};

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void free_strv(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

void dle_plan_free(dle_plan *p) {
  if (!p) return;
  free(p->name);
  for (size_t f = 0; f < p->n_factors; f++) {
    free(p->factors[f].name);
    free_strv(p->factors[f].levels, p->factors[f].n_levels);
  }
  free_strv(p->cmd, p->n_cmd);
  free_strv(p->warm_cmd, p->n_warm);
  free_strv(p->meta_keys, p->n_meta);
  free_strv(p->meta_values, p->n_meta);
  free_strv(p->opts, p->n_opts);
  free(p);
}

/* A level or meta value as text: strings as they are, numbers in shortest form. */
static char *value_text(const cJSON *v) {
  if (cJSON_IsString(v)) return xstrdup(v->valuestring);
  if (cJSON_IsNumber(v)) {
    char buf[64];
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 1e15)
      snprintf(buf, sizeof buf, "%.0f", d);
    else
      snprintf(buf, sizeof buf, "%.17g", d);
    return xstrdup(buf);
  }
  if (cJSON_IsBool(v)) return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
  return NULL;
}

static int string_array(const cJSON *arr, const char *what, char ***out, size_t *n,
                        dle_error *err) {
  if (!cJSON_IsArray(arr))
    return dle_error_set(err, DLE_EPARSE, "plan: \"%s\" must be an array of strings", what);
  int count = cJSON_GetArraySize(arr);
  if (count > MAX_ARGS) return dle_error_set(err, DLE_EPARSE, "plan: \"%s\" is too long", what);
  char **v = calloc((size_t)count + 1, sizeof *v);
  if (!v) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  size_t i = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, arr) {
    v[i] = value_text(e);
    if (!v[i]) {
      free_strv(v, i);
      return dle_error_set(err, DLE_EPARSE, "plan: element %zu of \"%s\" is not a string or number",
                           i, what);
    }
    i++;
  }
  *out = v;
  *n = i;
  return DLE_OK;
}

static int get_number(const cJSON *root, const char *key, double def, double min, double *out,
                      dle_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!v) {
    *out = def;
    return DLE_OK;
  }
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min)
    return dle_error_set(err, DLE_EPARSE, "plan: \"%s\" must be a number >= %g", key, min);
  *out = v->valuedouble;
  return DLE_OK;
}

/* Level of the factor named by s[0..len), or NULL. */
static const char *level_of(const dle_plan *p, size_t config, const char *s, size_t len) {
  for (size_t f = 0; f < p->n_factors; f++)
    if (strlen(p->factors[f].name) == len && strncmp(p->factors[f].name, s, len) == 0)
      return dle_plan_level(p, config, f);
  return NULL;
}

/* Checks that every {placeholder} in argv names a factor; returns the first bad one. */
static int check_placeholders(const dle_plan *p, char **argv, size_t n, dle_error *err) {
  for (size_t i = 0; i < n; i++) {
    const char *s = argv[i];
    while (*s) {
      if (s[0] == '{' && s[1] == '{') {
        s += 2;
        continue;
      }
      if (s[0] == '}' && s[1] == '}') {
        s += 2;
        continue;
      }
      if (*s == '}')
        return dle_error_set(err, DLE_EPARSE, "plan: unmatched '}' in command argument \"%s\"",
                             argv[i]);
      if (*s == '{') {
        const char *end = strchr(s, '}');
        if (!end)
          return dle_error_set(err, DLE_EPARSE, "plan: unclosed '{' in command argument \"%s\"",
                               argv[i]);
        size_t len = (size_t)(end - s - 1);
        if (!level_of(p, 0, s + 1, len))
          return dle_error_set(err, DLE_EPARSE,
                               "plan: command uses {%.*s}, which is not a factor", (int)len, s + 1);
        s = end + 1;
        continue;
      }
      s++;
    }
  }
  return DLE_OK;
}

static int parse_root(dle_plan *p, const cJSON *root, dle_error *err) {
  if (!cJSON_IsObject(root)) return dle_error_set(err, DLE_EPARSE, "plan: not a JSON object");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
  if (!cJSON_IsString(name) || !name->valuestring[0])
    return dle_error_set(err, DLE_EPARSE, "plan: \"name\" (a non-empty string) is required");
  if (strpbrk(name->valuestring, ",="))
    return dle_error_set(err, DLE_EPARSE, "plan: \"name\" must not contain ',' or '='");
  if (!(p->name = xstrdup(name->valuestring))) return dle_error_set(err, DLE_ENOMEM, "out of memory");

  const cJSON *factors = cJSON_GetObjectItemCaseSensitive(root, "factors");
  p->n_configs = 1;
  if (factors) {
    if (!cJSON_IsObject(factors))
      return dle_error_set(err, DLE_EPARSE, "plan: \"factors\" must be an object of arrays");
    const cJSON *f;
    cJSON_ArrayForEach(f, factors) {
      if (p->n_factors == MAX_FACTORS)
        return dle_error_set(err, DLE_EPARSE, "plan: more than %d factors", MAX_FACTORS);
      if (!f->string[0] || strpbrk(f->string, ",={}"))
        return dle_error_set(err, DLE_EPARSE, "plan: bad factor name \"%s\"", f->string);
      for (size_t k = 0; k < p->n_factors; k++)
        if (strcmp(p->factors[k].name, f->string) == 0)
          return dle_error_set(err, DLE_EPARSE, "plan: factor \"%s\" given twice", f->string);
      factor *fa = &p->factors[p->n_factors];
      if (!(fa->name = xstrdup(f->string))) return dle_error_set(err, DLE_ENOMEM, "out of memory");
      p->n_factors++;
      int rc = string_array(f, f->string, &fa->levels, &fa->n_levels, err);
      if (rc) return rc;
      if (fa->n_levels == 0 || fa->n_levels > MAX_LEVELS)
        return dle_error_set(err, DLE_EPARSE, "plan: factor \"%s\" needs 1..%d levels", fa->name,
                             MAX_LEVELS);
      for (size_t a = 0; a < fa->n_levels; a++) {
        if (strchr(fa->levels[a], ','))
          return dle_error_set(err, DLE_EPARSE, "plan: level \"%s\" of \"%s\" contains ','",
                               fa->levels[a], fa->name);
        for (size_t b = a + 1; b < fa->n_levels; b++)
          if (strcmp(fa->levels[a], fa->levels[b]) == 0)
            return dle_error_set(err, DLE_EPARSE, "plan: level \"%s\" of \"%s\" repeats",
                                 fa->levels[a], fa->name);
      }
      if (p->n_configs > MAX_CONFIGS / fa->n_levels)
        return dle_error_set(err, DLE_EPARSE, "plan: more than %zu configurations", MAX_CONFIGS);
      p->n_configs *= fa->n_levels;
    }
  }

  int rc = string_array(cJSON_GetObjectItemCaseSensitive(root, "command"), "command", &p->cmd,
                        &p->n_cmd, err);
  if (rc) return rc;
  if (p->n_cmd == 0 || !p->cmd[0][0])
    return dle_error_set(err, DLE_EPARSE, "plan: \"command\" must not be empty");
  if ((rc = check_placeholders(p, p->cmd, p->n_cmd, err))) return rc;

  double reps = 1, seed = 0;
  if ((rc = get_number(root, "repetitions", 1, 1, &reps, err))) return rc;
  if (reps != floor(reps) || reps > 100000)
    return dle_error_set(err, DLE_EPARSE, "plan: \"repetitions\" must be an integer 1..100000");
  p->repetitions = (int)reps;
  if ((size_t)p->repetitions > MAX_CONFIGS / p->n_configs)
    return dle_error_set(err, DLE_EPARSE, "plan: more than %zu runs", MAX_CONFIGS);
  if ((rc = get_number(root, "seed", 0, 0, &seed, err))) return rc;
  p->seed = (uint64_t)seed;
  const cJSON *rnd = cJSON_GetObjectItemCaseSensitive(root, "randomize");
  if (rnd && !cJSON_IsBool(rnd))
    return dle_error_set(err, DLE_EPARSE, "plan: \"randomize\" must be true or false");
  p->randomize = rnd ? cJSON_IsTrue(rnd) : 1;
  if ((rc = get_number(root, "cooldown_s", 0, 0, &p->cooldown_s, err))) return rc;
  if ((rc = get_number(root, "timeout_s", 0, 0, &p->timeout_s, err))) return rc;

  const cJSON *warm = cJSON_GetObjectItemCaseSensitive(root, "warmup");
  if (warm) {
    if (!cJSON_IsObject(warm))
      return dle_error_set(err, DLE_EPARSE, "plan: \"warmup\" must be an object");
    if ((rc = string_array(cJSON_GetObjectItemCaseSensitive(warm, "command"), "warmup.command",
                           &p->warm_cmd, &p->n_warm, err)))
      return rc;
    if (p->n_warm == 0) return dle_error_set(err, DLE_EPARSE, "plan: empty warmup.command");
    if ((rc = get_number(warm, "duration_s", 0, 0, &p->warmup_s, err))) return rc;
    if (p->warmup_s <= 0)
      return dle_error_set(err, DLE_EPARSE, "plan: warmup.duration_s must be > 0");
  }

  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "meta");
  if (meta) {
    if (!cJSON_IsObject(meta))
      return dle_error_set(err, DLE_EPARSE, "plan: \"meta\" must be an object");
    size_t n = (size_t)cJSON_GetArraySize(meta);
    p->meta_keys = calloc(n + 1, sizeof(char *));
    p->meta_values = calloc(n + 1, sizeof(char *));
    if (!p->meta_keys || !p->meta_values) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    const cJSON *m;
    cJSON_ArrayForEach(m, meta) {
      char *v = value_text(m);
      if (!v) return dle_error_set(err, DLE_EPARSE, "plan: meta \"%s\" is not a value", m->string);
      p->meta_values[p->n_meta] = v;
      if (!(p->meta_keys[p->n_meta] = xstrdup(m->string)))
        return dle_error_set(err, DLE_ENOMEM, "out of memory");
      p->n_meta++;
    }
  }
  const cJSON *opts = cJSON_GetObjectItemCaseSensitive(root, "run_options");
  if (opts && (rc = string_array(opts, "run_options", &p->opts, &p->n_opts, err))) return rc;

  /* Reject keys we do not know: a typo ("repetitons") must not silently run once. */
  static const char *const known[] = {"name",       "factors",   "command", "repetitions",
                                      "seed",       "randomize", "warmup",  "cooldown_s",
                                      "timeout_s",  "meta",      "run_options", "description"};
  const cJSON *it;
  cJSON_ArrayForEach(it, root) {
    int ok = 0;
    for (size_t k = 0; k < sizeof known / sizeof *known; k++)
      if (strcmp(it->string, known[k]) == 0) ok = 1;
    if (!ok) return dle_error_set(err, DLE_EPARSE, "plan: unknown key \"%s\"", it->string);
  }
  return DLE_OK;
}

int dle_plan_parse(const char *json, size_t len, dle_plan **out, dle_error *err) {
  *out = NULL;
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    size_t off = at && at >= json && at <= json + len ? (size_t)(at - json) : 0;
    return dle_error_set(err, DLE_EPARSE, "plan: invalid JSON near byte %zu", off);
  }
  dle_plan *p = calloc(1, sizeof *p);
  if (!p) {
    cJSON_Delete(root);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int rc = parse_root(p, root, err);
  cJSON_Delete(root);
  if (rc) {
    dle_plan_free(p);
    return rc;
  }
  *out = p;
  return DLE_OK;
}

int dle_plan_load(const char *path, dle_plan **out, dle_error *err) {
  char *buf = NULL;
  size_t len = 0;
  int rc = dle_read_file(path, MAX_PLAN_BYTES, &buf, &len, err);
  if (rc) return rc;
  rc = dle_plan_parse(buf, len, out, err);
  free(buf);
  if (rc) dle_error_prefix(err, "%s: ", path);
  return rc;
}

const char *dle_plan_name(const dle_plan *p) { return p->name; }
size_t dle_plan_n_factors(const dle_plan *p) { return p->n_factors; }
const char *dle_plan_factor_name(const dle_plan *p, size_t f) {
  return f < p->n_factors ? p->factors[f].name : NULL;
}
size_t dle_plan_n_configs(const dle_plan *p) { return p->n_configs; }
int dle_plan_repetitions(const dle_plan *p) { return p->repetitions; }
double dle_plan_cooldown_s(const dle_plan *p) { return p->cooldown_s; }
double dle_plan_timeout_s(const dle_plan *p) { return p->timeout_s; }
double dle_plan_warmup_s(const dle_plan *p) { return p->warmup_s; }
size_t dle_plan_n_meta(const dle_plan *p) { return p->n_meta; }
void dle_plan_meta(const dle_plan *p, size_t i, const char **key, const char **value) {
  *key = i < p->n_meta ? p->meta_keys[i] : NULL;
  *value = i < p->n_meta ? p->meta_values[i] : NULL;
}
size_t dle_plan_n_run_options(const dle_plan *p) { return p->n_opts; }
const char *dle_plan_run_option(const dle_plan *p, size_t i) {
  return i < p->n_opts ? p->opts[i] : NULL;
}

/* Mixed-radix decoding: the last factor varies fastest. */
const char *dle_plan_level(const dle_plan *p, size_t config, size_t f) {
  if (config >= p->n_configs || f >= p->n_factors) return NULL;
  size_t stride = 1;
  for (size_t k = p->n_factors; k-- > f + 1;) stride *= p->factors[k].n_levels;
  return p->factors[f].levels[(config / stride) % p->factors[f].n_levels];
}

void dle_plan_config_id(const dle_plan *p, size_t config, char out[17]) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
  for (size_t f = 0; f < p->n_factors; f++) {
    const char *parts[2] = {p->factors[f].name, dle_plan_level(p, config, f)};
    for (int k = 0; k < 2; k++) {
      for (const char *s = parts[k]; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
      h = (h ^ (unsigned char)(k ? ';' : '=')) * 1099511628211ull;
    }
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* splitmix64: small, seedable, the same on every platform. */
static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

int dle_plan_schedule(const dle_plan *p, dle_plan_item **items, size_t *n, dle_error *err) {
  size_t total = p->n_configs * (size_t)p->repetitions;
  dle_plan_item *v = malloc(total * sizeof *v);
  if (!v) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  size_t k = 0;
  /* Repetition-major before shuffling, so an unrandomized plan runs one full
   * replicate of the design before the next. */
  for (int r = 0; r < p->repetitions; r++)
    for (size_t c = 0; c < p->n_configs; c++) v[k++] = (dle_plan_item){c, r};
  if (p->randomize) {
    uint64_t st = p->seed;
    for (size_t i = total; i > 1; i--) { /* Fisher-Yates */
      size_t j = (size_t)(splitmix64(&st) % i);
      dle_plan_item t = v[i - 1];
      v[i - 1] = v[j];
      v[j] = t;
    }
  }
  *items = v;
  *n = total;
  return DLE_OK;
}

/* Two passes over a template already checked by check_placeholders(): the first
 * (out == NULL) measures, the second writes. Returns the length. */
static size_t render(const dle_plan *p, size_t config, const char *s, char *out) {
  size_t len = 0;
  while (*s) {
    if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
      if (out) out[len] = s[0];
      len++;
      s += 2;
    } else if (*s == '{') {
      const char *end = strchr(s, '}');
      const char *lv = level_of(p, config, s + 1, (size_t)(end - s - 1));
      size_t l = lv ? strlen(lv) : 0;
      if (out && l) memcpy(out + len, lv, l);
      len += l;
      s = end + 1;
    } else {
      if (out) out[len] = *s;
      len++;
      s++;
    }
  }
  if (out) out[len] = '\0';
  return len;
}

static char *substitute(const dle_plan *p, size_t config, const char *s) {
  char *out = malloc(render(p, config, s, NULL) + 1);
  if (out) render(p, config, s, out);
  return out;
}

static int expand(const dle_plan *p, size_t config, char **src, size_t n, char ***argv,
                  dle_error *err) {
  char **v = calloc(n + 1, sizeof *v);
  if (!v) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    if (!(v[i] = substitute(p, config, src[i]))) {
      dle_plan_argv_free(v);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
  }
  *argv = v;
  return DLE_OK;
}

int dle_plan_command(const dle_plan *p, size_t config, char ***argv, dle_error *err) {
  if (config >= p->n_configs)
    return dle_error_set(err, DLE_EINVAL, "configuration %zu out of range", config);
  return expand(p, config, p->cmd, p->n_cmd, argv, err);
}

int dle_plan_warmup_command(const dle_plan *p, char ***argv, dle_error *err) {
  *argv = NULL;
  if (!p->warm_cmd) return DLE_OK;
  /* Placeholders in the warm-up are not substituted (it runs once, for no config). */
  char **v = calloc(p->n_warm + 1, sizeof *v);
  if (!v) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < p->n_warm; i++)
    if (!(v[i] = xstrdup(p->warm_cmd[i]))) {
      dle_plan_argv_free(v);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
  *argv = v;
  return DLE_OK;
}

void dle_plan_argv_free(char **argv) {
  if (!argv) return;
  for (char **a = argv; *a; a++) free(*a);
  free(argv);
}
