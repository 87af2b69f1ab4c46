/* table.c — the CSV tables PRE reads (training tables, predict --csv inputs):
 * RFC 4180 (fields may be double-quoted, "" inside quotes is a quote, quoted fields
 * may hold commas and newlines), a header row of distinct non-empty names, LF or CRLF
 * line ends, blank lines skipped. Every row must have the header's field count. The
 * parser unquotes the cells in place (a cell never outgrows its source bytes): on the
 * buffer a file was read into, or on a copy of caller's bytes (so it can be fuzzed from
 * memory). */
#include <stdlib.h>
#include <string.h>

#include "dlenergy/fsutil.h"
#include "regress_internal.h"

enum { TABLE_MAX_COLS = 4096, TABLE_MAX_BYTES = 64 << 20 };

struct dle_pre_table {
  char *buf;     /* unquoted cells, each NUL-terminated */
  char **cells;  /* (rows + 1) x cols; row 0 is the header */
  size_t *line;  /* rows + 1: the source line each row starts on */
  size_t rows, cols, cap;
  size_t lines; /* line breaks in the text: the first allocation's row capacity */
};

void dle_pre_table_free(dle_pre_table *t) {
  if (!t) return;
  free(t->buf);
  free(t->cells);
  free(t->line);
  free(t);
}

/* Appends a row of n cells (pointers into t->buf). */
static int push_row(dle_pre_table *t, char **row, size_t n, size_t line, dle_error *err) {
  size_t nrows = t->cells ? t->rows + 1 : 0; /* rows stored so far, header included */
  if (nrows == 0) {
    t->cols = n;
  } else if (n != t->cols) {
    return dle_error_set(err, DLE_EPARSE, "line %zu: %zu fields, the header has %zu", line, n,
                         t->cols);
  }
  if (nrows + 1 > t->cap) {
    size_t nc = t->cap ? t->cap * 2 : (t->lines + 2 > 64 ? t->lines + 2 : 64);
    char **c = realloc(t->cells, nc * t->cols * sizeof *c);
    if (!c) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    t->cells = c;
    size_t *l = realloc(t->line, nc * sizeof *l);
    if (!l) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    t->line = l;
    t->cap = nc;
  }
  memcpy(t->cells + nrows * t->cols, row, n * sizeof *row);
  t->line[nrows] = line;
  t->rows = nrows; /* data rows = stored rows - header */
  return DLE_OK;
}

/* Parses buf[0..len) (buf[len] writable) in place; takes buf, freed on failure. */
static int parse_owned(char *buf, size_t len, dle_pre_table **out, dle_error *err) {
  *out = NULL;
  if (len > TABLE_MAX_BYTES) {
    free(buf);
    return dle_error_set(err, DLE_ERANGE, "table larger than 64 MiB");
  }
  if (len && memchr(buf, '\0', len)) {
    free(buf);
    return dle_error_set(err, DLE_EPARSE, "NUL byte in a text table");
  }
  dle_pre_table *t = calloc(1, sizeof *t);
  char **row = malloc(TABLE_MAX_COLS * sizeof *row);
  if (!t || !row) {
    free(row);
    free(t);
    free(buf);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  t->buf = buf;
  /* Rows are lines unless quoted fields hold line breaks: sized once, not regrown. */
  for (const char *p = buf, *e = buf + len; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
    t->lines++;
  const char *text = buf; /* read at i, written at w <= i */
  char *w = t->buf;
  size_t i = 0, line = 1, n = 0, row_line = 1;
  int rc = DLE_OK;
  bool row_empty = true; /* only one empty unquoted field so far */
  while (rc == DLE_OK && i <= len) {
    /* One field starting at text[i]. */
    char *cell = w;
    bool quoted = false;
    if (i < len && text[i] == '"') {
      quoted = true;
      i++;
      for (;;) {
        if (i >= len) {
          rc = dle_error_set(err, DLE_EPARSE, "line %zu: a quoted field is not closed", row_line);
          break;
        }
        char c = text[i++];
        if (c == '"') {
          if (i < len && text[i] == '"') {
            *w++ = '"';
            i++;
            continue;
          }
          break;
        }
        if (c == '\n') line++;
        *w++ = c;
      }
      if (rc) break;
      if (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        rc = dle_error_set(err, DLE_EPARSE, "line %zu: text after a closing quote", line);
        break;
      }
    } else {
      while (i < len && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        if (text[i] == '"') {
          rc = dle_error_set(err, DLE_EPARSE, "line %zu: a quote inside an unquoted field", line);
          break;
        }
        *w++ = text[i++];
      }
      if (rc) break;
    }
    /* What ends the field, read before the terminating NUL may land on it. */
    char next = i < len ? text[i] : '\0';
    *w++ = '\0';
    if (n == TABLE_MAX_COLS) {
      rc = dle_error_set(err, DLE_ERANGE, "line %zu: more than %d fields", row_line,
                         TABLE_MAX_COLS);
      break;
    }
    row[n++] = cell;
    if (quoted || cell[0]) row_empty = false;
    /* What ends the field. */
    if (i < len && next == ',') {
      i++;
      row_empty = false;
      continue;
    }
    bool end = i >= len;
    if (!end) {
      if (next == '\r') i++;
      if (i < len && (next == '\n' || text[i] == '\n')) i++;
    }
    if (!(n == 1 && row_empty)) rc = push_row(t, row, n, row_line, err);
    line++;
    row_line = line;
    n = 0;
    row_empty = true;
    if (end || i >= len) break;
  }
  free(row);
  if (rc == DLE_OK && !t->cells) rc = dle_error_set(err, DLE_EPARSE, "no header line");
  for (size_t c = 0; rc == DLE_OK && c < t->cols; c++) {
    const char *h = t->cells[c];
    if (!h[0]) rc = dle_error_set(err, DLE_EPARSE, "header: column %zu has no name", c + 1);
    for (size_t k = 0; rc == DLE_OK && k < c; k++)
      if (strcmp(t->cells[k], h) == 0)
        rc = dle_error_set(err, DLE_EPARSE, "header: column '%.64s' appears twice", h);
  }
  if (rc) {
    dle_pre_table_free(t);
    return rc;
  }
  *out = t;
  return DLE_OK;
}

int dle_pre_table_parse(const char *text, size_t len, dle_pre_table **out, dle_error *err) {
  *out = NULL;
  if (!text && len) return dle_error_set(err, DLE_EINVAL, "no table text");
  if (len > TABLE_MAX_BYTES) return dle_error_set(err, DLE_ERANGE, "table larger than 64 MiB");
  char *buf = malloc(len + 1);
  if (!buf) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  if (len) memcpy(buf, text, len);
  buf[len] = '\0';
  return parse_owned(buf, len, out, err);
}

int dle_pre_table_read(const char *path, dle_pre_table **out, dle_error *err) {
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  int rc = dle_read_file(path, TABLE_MAX_BYTES, &text, &len, err);
  if (rc) return rc;
  rc = parse_owned(text, len, out, err); /* the file's bytes become the cells */
  if (rc) dle_error_prefix(err, "%s: ", path);
  return rc;
}

size_t dle_pre_table_rows(const dle_pre_table *t) {
  return t ? t->rows : 0;
}
size_t dle_pre_table_cols(const dle_pre_table *t) {
  return t ? t->cols : 0;
}
const char *dle_pre_table_header(const dle_pre_table *t, size_t col) {
  return t && col < t->cols ? t->cells[col] : NULL;
}
long dle_pre_table_col(const dle_pre_table *t, const char *name) {
  for (size_t c = 0; t && name && c < t->cols; c++)
    if (strcmp(t->cells[c], name) == 0) return (long)c;
  return -1;
}
const char *dle_pre_table_cell(const dle_pre_table *t, size_t row, size_t col) {
  return t && row < t->rows && col < t->cols ? t->cells[(row + 1) * t->cols + col] : NULL;
}
size_t dle_pre_table_line(const dle_pre_table *t, size_t row) {
  return t && row < t->rows ? t->line[row + 1] : 0;
}
