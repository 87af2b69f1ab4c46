/* table.c — small comma-separated tables with a header row and no quoting, such as
 * the study's runs.csv (see ingest.h). Cells are NUL-terminated slices of one buffer. */
#include <stdlib.h>
#include <string.h>

#include "dlenergy/ingest.h"

struct dle_csv_table {
  char *buf;
  char **cells; /* (rows + 1) x cols, row 0 is the header */
  size_t rows, cols;
};

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

static size_t count_fields(const char *s) {
  size_t n = 1;
  for (; *s; s++) n += *s == ',';
  return n;
}

int dle_csv_table_read(const char *path, dle_csv_table **out, dle_error *err) {
  *out = NULL;
  dle_csv_table *t = calloc(1, sizeof *t);
  if (!t) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  size_t len = 0;
  int truncated = 0;
  int rc = dle_ingest_read_file(path, 0, &t->buf, &len, &truncated, err);
  if (rc) {
    free(t);
    return rc;
  }
  if (truncated) {
    dle_csv_table_free(t);
    return dle_error_set(err, DLE_EPARSE, "%s: %s", path,
                         truncated & DLE_GZIP_TRUNCATED
                             ? "truncated gzip: the stream ends early"
                             : "trailing garbage after the gzip stream");
  }
  if (memchr(t->buf, '\0', len)) {
    dle_csv_table_free(t);
    return dle_error_set(err, DLE_EPARSE, "%s: binary data (NUL byte) in a CSV table", path);
  }
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += t->buf[i] == '\n';
  char *save = NULL;
  size_t cap = 0, row = 0;
  for (char *line = strtok_r(t->buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *l = trim(line);
    if (!*l || *l == '#') continue;
    if (!t->cells) {
      t->cols = count_fields(l);
      cap = lines * t->cols;
      t->cells = calloc(cap, sizeof *t->cells);
      if (!t->cells) {
        dle_csv_table_free(t);
        return dle_error_set(err, DLE_ENOMEM, "out of memory");
      }
    }
    char **r = t->cells + row * t->cols;
    size_t k = 0;
    char *p = l;
    for (;;) {
      char *c = strchr(p, ',');
      if (c) *c = '\0';
      if (k < t->cols) r[k] = trim(p);
      k++;
      if (!c) break;
      p = c + 1;
    }
    if (k > t->cols) {
      size_t cols = t->cols;
      dle_csv_table_free(t);
      return dle_error_set(err, DLE_EPARSE, "%s: row %zu has %zu fields, the header %zu", path,
                           row, k, cols);
    }
    for (; k < t->cols; k++) r[k] = "";
    row++;
  }
  if (!t->cells) {
    dle_csv_table_free(t);
    return dle_error_set(err, DLE_EPARSE, "%s: empty table (no header)", path);
  }
  t->rows = row - 1;
  *out = t;
  return DLE_OK;
}

void dle_csv_table_free(dle_csv_table *t) {
  if (!t) return;
  free(t->cells);
  free(t->buf);
  free(t);
}

size_t dle_csv_table_rows(const dle_csv_table *t) { return t ? t->rows : 0; }
size_t dle_csv_table_cols(const dle_csv_table *t) { return t ? t->cols : 0; }

const char *dle_csv_table_header(const dle_csv_table *t, size_t col) {
  return t && col < t->cols ? t->cells[col] : NULL;
}

long dle_csv_table_col(const dle_csv_table *t, const char *name) {
  if (!t || !name) return -1;
  for (size_t i = 0; i < t->cols; i++)
    if (strcmp(t->cells[i], name) == 0) return (long)i;
  return -1;
}

const char *dle_csv_table_cell(const dle_csv_table *t, size_t row, size_t col) {
  if (!t || row >= t->rows || col >= t->cols) return NULL;
  return t->cells[(row + 1) * t->cols + col];
}
