/* gpus.c — the GPU catalogue (see include/dlenergy/gpus.h).
 * The CSV is small (tens of rows), so it is parsed whole; fields may be
 * double-quoted ("" inside quotes is a quote). */
#include "dlenergy/gpus.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dlenergy/fsutil.h"

enum { N_FIELDS = 10, MAX_ROWS = 4096, MAX_FILE = 4 << 20, NORM_MAX = 256 };

static const char *const k_header[N_FIELDS] = {
    "name",  "aliases",     "architecture",       "cuda_cores", "memory_gb", "memory_bandwidth_gbs",
    "tdp_w", "fp32_tflops", "tensor_fp16_tflops", "source"};

struct dle_gpu_catalog {
  size_t n;
  dle_gpu_spec *rows;
};

/* Splits one line into fields, copying them NUL-separated into buf (len+1 bytes
 * suffice). Returns the field count, max+1 when there are too many, -1 on a bad quote. */
static int split_fields(const char *line, size_t len, char *buf, char *fields[], int max) {
  int nf = 0;
  size_t i = 0, o = 0;
  for (;;) {
    if (nf == max) return max + 1;
    fields[nf++] = buf + o;
    if (i < len && line[i] == '"') {
      i++;
      for (;;) {
        if (i >= len) return -1;
        if (line[i] == '"') {
          if (i + 1 < len && line[i + 1] == '"') {
            buf[o++] = '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        buf[o++] = line[i++];
      }
      if (i < len && line[i] != ',') return -1;
    } else {
      while (i < len && line[i] != ',') buf[o++] = line[i++];
    }
    buf[o++] = '\0';
    if (i >= len) break;
    i++; /* the comma */
  }
  return nf;
}

static void trim(char *s) {
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  size_t k = 0;
  while (s[k] && isspace((unsigned char)s[k])) k++;
  if (k) memmove(s, s + k, n - k + 1);
}

/* Strict non-negative finite number; empty gives NaN when allow_empty. */
static bool parse_num(const char *s, bool allow_empty, double *out) {
  if (!*s) {
    *out = NAN;
    return allow_empty;
  }
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v < 0) return false;
  *out = v;
  return true;
}

static bool copy_field(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) return false;
  memcpy(dst, src, n + 1);
  return true;
}

static int parse_row(char *f[], dle_gpu_spec *r, size_t lineno, dle_error *err) {
  memset(r, 0, sizeof *r);
  static const char *const what[] = {"name", "aliases", "architecture"};
  char *dst[] = {r->name, r->aliases, r->architecture};
  size_t cap[] = {sizeof r->name, sizeof r->aliases, sizeof r->architecture};
  for (int k = 0; k < 3; k++)
    if (!copy_field(dst[k], cap[k], f[k]))
      return dle_error_set(err, DLE_EPARSE, "line %zu: %s longer than %zu bytes", lineno, what[k],
                           cap[k] - 1);
  if (!r->name[0]) return dle_error_set(err, DLE_EPARSE, "line %zu: empty name", lineno);
  if (!copy_field(r->source, sizeof r->source, f[9]))
    return dle_error_set(err, DLE_EPARSE, "line %zu: source too long", lineno);
  double cores;
  double *nums[] = {&cores,    &r->memory_gb,   &r->memory_bandwidth_gbs,
                    &r->tdp_w, &r->fp32_tflops, &r->tensor_fp16_tflops};
  for (int k = 0; k < 6; k++) {
    bool optional = (k == 5);
    if (!parse_num(f[3 + k], optional, nums[k]) || (!optional && *nums[k] <= 0))
      return dle_error_set(err, DLE_EPARSE, "line %zu (%s): bad %s '%s'", lineno, r->name,
                           k_header[3 + k], f[3 + k]);
  }
  if (cores != floor(cores) || cores > 1e7)
    return dle_error_set(err, DLE_EPARSE, "line %zu (%s): bad cuda_cores '%s'", lineno, r->name,
                         f[3]);
  r->cuda_cores = (int)cores;
  return DLE_OK;
}

int dle_gpu_catalog_parse(const char *text, size_t len, dle_gpu_catalog **out, dle_error *err) {
  *out = NULL;
  if (!text) return dle_error_set(err, DLE_EINVAL, "no catalogue text");
  dle_gpu_catalog *cat = calloc(1, sizeof *cat);
  char *buf = malloc(len + 1);
  if (!cat || !buf) {
    free(cat);
    free(buf);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int rc = DLE_OK;
  bool have_header = false;
  size_t cap = 0, lineno = 0, pos = 0;
  while (pos < len && rc == DLE_OK) {
    size_t end = pos;
    while (end < len && text[end] != '\n') end++;
    size_t llen = end - pos;
    const char *line = text + pos;
    pos = end + 1;
    lineno++;
    if (llen && line[llen - 1] == '\r') llen--;
    size_t k = 0;
    while (k < llen && isspace((unsigned char)line[k])) k++;
    if (k == llen || line[k] == '#') continue;
    if (memchr(line, '\0', llen)) {
      rc = dle_error_set(err, DLE_EPARSE, "line %zu: NUL byte", lineno);
      break;
    }
    char *f[N_FIELDS];
    int nf = split_fields(line, llen, buf, f, N_FIELDS);
    if (nf != N_FIELDS) {
      rc = dle_error_set(err, DLE_EPARSE, "line %zu: %s", lineno,
                         nf < 0 ? "unterminated or misplaced quote" : "expected 10 fields");
      break;
    }
    for (int i = 0; i < N_FIELDS; i++) trim(f[i]);
    if (!have_header) {
      for (int i = 0; i < N_FIELDS; i++)
        if (strcmp(f[i], k_header[i]) != 0) {
          rc = dle_error_set(err, DLE_EPARSE, "line %zu: header column %d is '%s', expected '%s'",
                             lineno, i + 1, f[i], k_header[i]);
          break;
        }
      have_header = true;
      continue;
    }
    if (cat->n == MAX_ROWS) {
      rc = dle_error_set(err, DLE_ERANGE, "more than %d rows", MAX_ROWS);
      break;
    }
    if (cat->n == cap) {
      size_t ncap = cap ? cap * 2 : 64;
      dle_gpu_spec *nr = realloc(cat->rows, ncap * sizeof *nr);
      if (!nr) {
        rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
        break;
      }
      cat->rows = nr;
      cap = ncap;
    }
    rc = parse_row(f, &cat->rows[cat->n], lineno, err);
    if (rc == DLE_OK) {
      for (size_t j = 0; j < cat->n; j++)
        if (strcmp(cat->rows[j].name, cat->rows[cat->n].name) == 0) {
          rc = dle_error_set(err, DLE_EPARSE, "line %zu: duplicate name '%s'", lineno,
                             cat->rows[j].name);
          break;
        }
      cat->n++;
    }
  }
  free(buf);
  if (rc == DLE_OK && !have_header) rc = dle_error_set(err, DLE_EPARSE, "no header line");
  if (rc == DLE_OK && cat->n == 0) rc = dle_error_set(err, DLE_EPARSE, "no GPU rows");
  if (rc != DLE_OK) {
    dle_gpu_catalog_free(cat);
    return rc;
  }
  *out = cat;
  return DLE_OK;
}

int dle_gpu_catalog_load(const char *path, dle_gpu_catalog **out, dle_error *err) {
  *out = NULL;
  char def[4096];
  if (!path) {
    int rc = dle_data_path("gpus.csv", def, sizeof def, err);
    if (rc) return rc;
    path = def;
  }
  char *text = NULL;
  size_t len = 0;
  int rc = dle_read_file(path, MAX_FILE, &text, &len, err);
  if (rc) return rc;
  rc = dle_gpu_catalog_parse(text, len, out, err);
  free(text);
  if (rc) dle_error_prefix(err, "GPU catalogue %s: ", path);
  return rc;
}

void dle_gpu_catalog_free(dle_gpu_catalog *cat) {
  if (!cat) return;
  free(cat->rows);
  free(cat);
}

size_t dle_gpu_catalog_count(const dle_gpu_catalog *cat) {
  return cat ? cat->n : 0;
}

const dle_gpu_spec *dle_gpu_catalog_at(const dle_gpu_catalog *cat, size_t i) {
  return cat && i < cat->n ? &cat->rows[i] : NULL;
}

/* Lower-case alphanumerics only, with the vendor words "nvidia", "geforce" and
 * "tesla" dropped when they stand alone as words. */
static void normalize(const char *s, char *out, size_t cap) {
  size_t o = 0;
  const char *p = s;
  while (*p && o + 1 < cap) {
    if (isalnum((unsigned char)*p)) {
      const char *w = p;
      while (isalnum((unsigned char)*p)) p++;
      size_t wl = (size_t)(p - w);
      static const char *const drop[] = {"nvidia", "geforce", "tesla"};
      bool skip = false;
      for (int k = 0; k < 3; k++)
        if (wl == strlen(drop[k]) && strncasecmp(w, drop[k], wl) == 0) skip = true;
      if (skip) continue;
      for (size_t k = 0; k < wl && o + 1 < cap; k++) out[o++] = (char)tolower((unsigned char)w[k]);
    } else {
      p++;
    }
  }
  out[o] = '\0';
}

/* Calls fn for the name and each alias of r; stops when fn returns true. */
static bool any_spelling(const dle_gpu_spec *r, bool (*fn)(const char *, const void *),
                         const void *ctx) {
  if (fn(r->name, ctx)) return true;
  char buf[sizeof r->aliases];
  memcpy(buf, r->aliases, sizeof buf);
  char *save = NULL;
  for (char *a = strtok_r(buf, "|", &save); a; a = strtok_r(NULL, "|", &save)) {
    trim(a);
    if (*a && fn(a, ctx)) return true;
  }
  return false;
}

static bool eq_alias(const char *s, const void *ctx) {
  return strcasecmp(s, ctx) == 0;
}
static bool eq_norm(const char *s, const void *ctx) {
  char n[NORM_MAX];
  normalize(s, n, sizeof n);
  return n[0] && strcmp(n, ctx) == 0;
}
static bool contains_norm(const char *s, const void *ctx) {
  char n[NORM_MAX];
  normalize(s, n, sizeof n);
  return n[0] && strstr(n, ctx) != NULL;
}

int dle_gpu_catalog_find(const dle_gpu_catalog *cat, const char *name, const dle_gpu_spec **out,
                         dle_error *err) {
  *out = NULL;
  if (!cat || !name) return dle_error_set(err, DLE_EINVAL, "no catalogue or GPU name");
  for (size_t i = 0; i < cat->n; i++)
    if (strcmp(cat->rows[i].name, name) == 0) {
      *out = &cat->rows[i];
      return DLE_OK;
    }
  char norm[NORM_MAX];
  normalize(name, norm, sizeof norm);
  bool (*const stages[])(const char *, const void *) = {eq_alias, eq_norm, contains_norm};
  const void *ctxs[] = {name, norm, norm};
  for (int s = 0; s < 3; s++) {
    if (s > 0 && !norm[0]) break;
    size_t hits = 0, first = 0;
    for (size_t i = 0; i < cat->n; i++)
      if (any_spelling(&cat->rows[i], stages[s], ctxs[s])) {
        if (!hits) first = i;
        hits++;
      }
    if (hits == 1) {
      *out = &cat->rows[first];
      return DLE_OK;
    }
    if (hits > 1) {
      char list[DLE_ERRMSG_MAX];
      size_t o = 0;
      list[0] = '\0';
      for (size_t i = 0; i < cat->n && o < sizeof list; i++)
        if (any_spelling(&cat->rows[i], stages[s], ctxs[s])) {
          int w = snprintf(list + o, sizeof list - o, "%s'%s'", o ? ", " : "", cat->rows[i].name);
          if (w < 0) break;
          o += (size_t)w;
        }
      return dle_error_set(err, DLE_EINVAL, "GPU name '%s' is ambiguous: %zu boards match (%s)",
                           name, hits, list);
    }
  }
  return dle_error_set(err, DLE_ENOTFOUND,
                       "GPU '%s' is not in the catalogue (see 'dlenergy gpus' for the list)", name);
}

int dle_gpu_lookup(const char *name, dle_gpu_spec *out, dle_error *err) {
  dle_gpu_catalog *cat = NULL;
  int rc = dle_gpu_catalog_load(NULL, &cat, err);
  if (rc) return rc;
  const dle_gpu_spec *r = NULL;
  rc = dle_gpu_catalog_find(cat, name, &r, err);
  if (rc == DLE_OK) *out = *r;
  dle_gpu_catalog_free(cat);
  return rc;
}
