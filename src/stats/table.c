/* table.c — a small string table: CSV files with a header row, or rows built from
 * run-store metadata. Cells are owned strings; missing cells read as "". */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/fsutil.h"
#include "dlenergy/stats.h"

enum { TABLE_MAX_CSV_BYTES = 512 << 20 };

struct dle_table {
  size_t ncols, cap_cols;
  char **cols;
  size_t nrows, cap_rows;
  char ***cells; /* cells[row] has cap_cols entries (NULL = unset) */
  size_t row_width; /* allocated width of every row */
};

int dle_table_new(dle_table **out, dle_error *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  return 0;
}

void dle_table_free(dle_table *t) {
  if (!t) return;
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->row_width; c++) free(t->cells[r][c]);
    free(t->cells[r]);
  }
  free(t->cells);
  for (size_t c = 0; c < t->ncols; c++) free(t->cols[c]);
  free(t->cols);
  free(t);
}

size_t dle_table_rows(const dle_table *t) { return t ? t->nrows : 0; }
size_t dle_table_cols(const dle_table *t) { return t ? t->ncols : 0; }
const char *dle_table_col_name(const dle_table *t, size_t col) {
  return t && col < t->ncols ? t->cols[col] : NULL;
}

long dle_table_find_col(const dle_table *t, const char *name) {
  if (!t || !name) return -1;
  for (size_t c = 0; c < t->ncols; c++)
    if (strcmp(t->cols[c], name) == 0) return (long)c;
  return -1;
}

const char *dle_table_get(const dle_table *t, size_t row, size_t col) {
  if (!t || row >= t->nrows || col >= t->row_width) return "";
  const char *v = t->cells[row][col];
  return v ? v : "";
}

double dle_table_get_double(const dle_table *t, size_t row, size_t col) {
  const char *s = dle_table_get(t, row, col);
  while (*s == ' ') s++;
  if (!*s) return NAN;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  while (end && *end == ' ') end++;
  if (errno == ERANGE || !end || *end != '\0' || !isfinite(v)) return NAN;
  return v;
}

static int widen_rows(dle_table *t, size_t width, dle_error *err) {
  if (width <= t->row_width) return 0;
  size_t nw = t->row_width ? t->row_width : 8;
  while (nw < width) nw *= 2;
  for (size_t r = 0; r < t->nrows; r++) {
    char **p = realloc(t->cells[r], nw * sizeof *p);
    if (!p) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    memset(p + t->row_width, 0, (nw - t->row_width) * sizeof *p);
    t->cells[r] = p;
  }
  t->row_width = nw;
  return 0;
}

static int add_col(dle_table *t, const char *name, size_t *col, dle_error *err) {
  if (t->ncols == t->cap_cols) {
    size_t nc = t->cap_cols ? t->cap_cols * 2 : 16;
    char **p = realloc(t->cols, nc * sizeof *p);
    if (!p) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    t->cols = p;
    t->cap_cols = nc;
  }
  char *copy = strdup(name);
  if (!copy) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  int rc = widen_rows(t, t->ncols + 1, err);
  if (rc) {
    free(copy);
    return rc;
  }
  t->cols[t->ncols] = copy;
  *col = t->ncols++;
  return 0;
}

int dle_table_add_row(dle_table *t, size_t *row, dle_error *err) {
  if (t->nrows == t->cap_rows) {
    size_t nc = t->cap_rows ? t->cap_rows * 2 : 64;
    char ***p = realloc(t->cells, nc * sizeof *p);
    if (!p) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    t->cells = p;
    t->cap_rows = nc;
  }
  size_t w = t->row_width ? t->row_width : 8;
  char **cells = calloc(w, sizeof *cells);
  if (!cells) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  t->row_width = w;
  t->cells[t->nrows] = cells;
  *row = t->nrows++;
  return 0;
}

static int set_cell(dle_table *t, size_t row, size_t col, const char *value, size_t len,
                    dle_error *err) {
  char *copy = malloc(len + 1);
  if (!copy) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  memcpy(copy, value, len);
  copy[len] = '\0';
  free(t->cells[row][col]);
  t->cells[row][col] = copy;
  return 0;
}

int dle_table_set(dle_table *t, size_t row, const char *col, const char *value,
                  dle_error *err) {
  if (!t || !col || row >= t->nrows) return dle_error_set(err, DLE_EINVAL, "bad table cell");
  long c = dle_table_find_col(t, col);
  if (c < 0) {
    size_t nc;
    int rc = add_col(t, col, &nc, err);
    if (rc) return rc;
    c = (long)nc;
  }
  const char *v = value ? value : "";
  return set_cell(t, row, (size_t)c, v, strlen(v), err);
}

/* One CSV field starting at *p; unquotes into buf (grown as needed). Leaves *p at
 * the delimiter, newline or end. Returns 0 or DLE_EPARSE for an unterminated quote. */
static int csv_field(const char **p, const char *end, char **buf, size_t *cap, size_t *len) {
  const char *s = *p;
  size_t n = 0;
  int quoted = s < end && *s == '"';
  if (quoted) s++;
  for (;;) {
    if (s >= end) {
      if (quoted) return DLE_EPARSE;
      break;
    }
    char ch = *s;
    if (quoted) {
      if (ch == '"') {
        if (s + 1 < end && s[1] == '"') {
          s += 2;
          ch = '"';
        } else {
          s++;
          quoted = 0;
          continue;
        }
      } else {
        s++;
      }
    } else {
      if (ch == ',' || ch == '\n' || ch == '\r') break;
      s++;
    }
    if (n + 2 > *cap) {
      size_t nc = *cap ? *cap * 2 : 64;
      char *nb = realloc(*buf, nc);
      if (!nb) return DLE_ENOMEM;
      *buf = nb;
      *cap = nc;
    }
    (*buf)[n++] = ch;
  }
  if (!*buf) {
    *buf = malloc(64);
    if (!*buf) return DLE_ENOMEM;
    *cap = 64;
  }
  (*buf)[n] = '\0';
  *len = n;
  *p = s;
  return 0;
}

int dle_table_read_csv(const char *path, dle_table **out, dle_error *err) {
  *out = NULL;
  char *data = NULL;
  size_t len = 0;
  int rc = dle_read_file(path, TABLE_MAX_CSV_BYTES, &data, &len, err);
  if (rc) return dle_error_prefix(err, "reading %s: ", path);
  dle_table *t = NULL;
  rc = dle_table_new(&t, err);
  if (rc) {
    free(data);
    return rc;
  }
  const char *p = data, *end = data + len;
  if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
      (unsigned char)p[2] == 0xBF)
    p += 3; /* UTF-8 byte-order mark */
  char *buf = NULL;
  size_t cap = 0, flen = 0, line = 1;
  int header = 1;
  size_t row = 0, col = 0;
  while (p < end) {
    if (*p == '\n' || *p == '\r') { /* blank line */
      if (*p == '\n') line++;
      p++;
      continue;
    }
    col = 0;
    if (!header) {
      rc = dle_table_add_row(t, &row, err);
      if (rc) goto fail;
    }
    for (;;) {
      int frc = csv_field(&p, end, &buf, &cap, &flen);
      if (frc == DLE_ENOMEM) {
        rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
        goto fail;
      }
      if (frc) {
        rc = dle_error_set(err, DLE_EPARSE, "%s:%zu: unterminated quoted field", path, line);
        goto fail;
      }
      if (header) {
        if (flen == 0) {
          rc = dle_error_set(err, DLE_EPARSE, "%s:1: empty column name (column %zu)", path, col + 1);
          goto fail;
        }
        if (dle_table_find_col(t, buf) >= 0) {
          rc = dle_error_set(err, DLE_EPARSE, "%s:1: duplicate column '%s'", path, buf);
          goto fail;
        }
        size_t nc;
        rc = add_col(t, buf, &nc, err);
        if (rc) goto fail;
      } else {
        if (col >= t->ncols) {
          rc = dle_error_set(err, DLE_EPARSE, "%s:%zu: more fields than the %zu columns of the header",
                             path, line, t->ncols);
          goto fail;
        }
        rc = set_cell(t, row, col, buf, flen, err);
        if (rc) goto fail;
      }
      col++;
      if (p < end && *p == ',') {
        p++;
        continue;
      }
      break;
    }
    if (!header && col < t->ncols) {
      rc = dle_error_set(err, DLE_EPARSE, "%s:%zu: %zu fields, the header has %zu", path, line,
                         col, t->ncols);
      goto fail;
    }
    header = 0;
    if (p < end && *p == '\r') p++;
    if (p < end && *p == '\n') p++;
    line++;
  }
  if (header) {
    rc = dle_error_set(err, DLE_EPARSE, "%s: empty file (no header row)", path);
    goto fail;
  }
  free(buf);
  free(data);
  *out = t;
  return 0;
fail:
  free(buf);
  free(data);
  dle_table_free(t);
  return rc;
}

int dle_table_filter(const dle_table *t, const char *filter, dle_table **out, dle_error *err) {
  *out = NULL;
  size_t nc = 0;
  long cols[32];
  char *vals[32];
  char *copy = strdup(filter ? filter : "");
  if (!copy) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  int rc = 0;
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ') tok++;
    if (!*tok) continue;
    char *eq = strchr(tok, '=');
    if (!eq || eq == tok) {
      rc = dle_error_set(err, DLE_EINVAL, "filter condition '%s' is not column=value", tok);
      goto done;
    }
    *eq = '\0';
    if (nc == 32) {
      rc = dle_error_set(err, DLE_EINVAL, "too many filter conditions (max 32)");
      goto done;
    }
    cols[nc] = dle_table_find_col(t, tok);
    if (cols[nc] < 0) {
      rc = dle_error_set(err, DLE_ENOTFOUND, "filter: no column '%s'", tok);
      goto done;
    }
    vals[nc++] = eq + 1;
  }
  dle_table *o = NULL;
  rc = dle_table_new(&o, err);
  if (rc) goto done;
  for (size_t c = 0; c < t->ncols && !rc; c++) {
    size_t dummy;
    rc = add_col(o, t->cols[c], &dummy, err);
  }
  for (size_t r = 0; r < t->nrows && !rc; r++) {
    int keep = 1;
    for (size_t i = 0; i < nc && keep; i++)
      if (strcmp(dle_table_get(t, r, (size_t)cols[i]), vals[i]) != 0) keep = 0;
    if (!keep) continue;
    size_t nr;
    rc = dle_table_add_row(o, &nr, err);
    for (size_t c = 0; c < t->ncols && !rc; c++) {
      const char *v = dle_table_get(t, r, c);
      rc = set_cell(o, nr, c, v, strlen(v), err);
    }
  }
  if (rc) {
    dle_table_free(o);
    goto done;
  }
  *out = o;
done:
  free(copy);
  return rc;
}
