/* ingest.c — nvidia-smi and psutil CSV importers (see ingest.h).
 *
 * One pass over the decompressed bytes: lines are found with memchr, fields are
 * (start, length) pairs into the buffer, values are parsed in place (parse.c); the
 * only allocations are the row arrays, grown geometrically. Rows are then grouped
 * into samples, trimmed, checked for order, joined with the CPU log and written
 * out as dle_sample records. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libdeflate.h>
#include <sys/stat.h>
#include <zlib.h>

#include "dlenergy/energy.h"
#include "dlenergy/ingest.h"
#include "ingest_internal.h"

enum { MAX_COLS = 64, MAX_FILE_BYTES = 1 << 30 };

void dle_ingest_options_init(dle_ingest_options *o) {
  memset(o, 0, sizeof *o);
  o->join_tolerance_s = 1.0;
  o->ram_w_per_gb = DLE_RAM_W_PER_GB;
  o->cpu_tdp_w = NAN;
  o->max_gap_s = 60;
  o->max_power_w = 5000;
}

/* ---------------------------------------------------------------- file reading */

/* The uncompressed size a gzip file declares in its last four bytes; 0 when the
 * file is not gzip or cannot be read. */
static size_t gzip_size_hint(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char head[2], tail[4];
  size_t hint = 0;
  if (fread(head, 1, 2, f) == 2 && head[0] == 0x1f && head[1] == 0x8b &&
      fseek(f, -4, SEEK_END) == 0 && fread(tail, 1, 4, f) == 4)
    hint = (size_t)tail[0] | (size_t)tail[1] << 8 | (size_t)tail[2] << 16 | (size_t)tail[3] << 24;
  long size = ftell(f);
  fclose(f);
  /* deflate expands at most ~1032:1; a larger claim is not believed */
  return size > 0 && hint / 1032 <= (size_t)size ? hint : 0;
}

/* Appends n bytes to *buf (growing it up to max_bytes). */
static int buf_put(char **buf, size_t *len, size_t *cap, const void *src, size_t n,
                   size_t max_bytes, const char *path, dle_error *err) {
  if (n > max_bytes - *len)
    return dle_error_set(err, DLE_ERANGE, "%s is larger than %zu bytes", path, max_bytes);
  if (*len + n > *cap) {
    size_t ncap = *cap ? *cap : 1 << 16;
    while (ncap < *len + n) ncap = ncap > max_bytes / 2 ? max_bytes : ncap * 2;
    char *nb = realloc(*buf, ncap + 1);
    if (!nb) return dle_error_set(err, DLE_ENOMEM, "out of memory reading %s", path);
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, src, n);
  *len += n;
  return DLE_OK;
}

/* The fast path for a whole, single-member gzip file (every study trace): read the
 * compressed bytes at once and inflate them with libdeflate into a buffer sized from
 * the trailer, about twice as fast as zlib's streaming inflate and CRC. Returns 1 with
 * *out set, or 0 for anything else (not gzip, several members, a cut or corrupt stream,
 * a trailer that lies, a read error): the streaming path then reads the file and
 * reports what it finds exactly as before. */
static int read_whole_gzip(const char *path, size_t max_bytes, char **out, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  struct stat sb;
  unsigned char *in = NULL;
  char *buf = NULL;
  struct libdeflate_decompressor *d = NULL;
  int ok = 0;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 18 ||
      (uint64_t)sb.st_size > max_bytes)
    goto done;
  size_t n = (size_t)sb.st_size;
  if (!(in = malloc(n)) || fread(in, 1, n, f) != n || in[0] != 0x1f || in[1] != 0x8b)
    goto done;
  size_t isize = (size_t)in[n - 4] | (size_t)in[n - 3] << 8 | (size_t)in[n - 2] << 16 |
                 (size_t)in[n - 1] << 24;
  if (isize >= max_bytes || isize / 1032 > n) goto done; /* deflate expands <= ~1032:1 */
  if (!(buf = malloc(isize + 1)) || !(d = libdeflate_alloc_decompressor())) goto done;
  size_t used_in = 0, used_out = 0;
  if (libdeflate_gzip_decompress_ex(d, in, n, buf, isize, &used_in, &used_out) ==
          LIBDEFLATE_SUCCESS &&
      used_in == n && used_out == isize) {
    buf[isize] = '\0';
    *out = buf;
    *out_len = isize;
    buf = NULL;
    ok = 1;
  }
done:
  libdeflate_free_decompressor(d);
  free(buf);
  free(in);
  fclose(f);
  return ok;
}

int dle_ingest_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len,
                         int *gzip_flags, dle_error *err) {
  *out = NULL;
  if (out_len) *out_len = 0;
  if (gzip_flags) *gzip_flags = 0;
  if (!path) return dle_error_set(err, DLE_EINVAL, "no file given");
  if (max_bytes == 0) max_bytes = MAX_FILE_BYTES;
  size_t fast_len = 0;
  if (read_whole_gzip(path, max_bytes, out, &fast_len)) {
    if (out_len) *out_len = fast_len;
    return DLE_OK;
  }
  errno = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return dle_error_set(err, e == ENOENT ? DLE_ENOTFOUND : DLE_EIO, "cannot open %s: %s",
                         path, strerror(e));
  }
  enum { CHUNK = 1 << 17 };
  unsigned char *in = malloc(CHUNK);
  unsigned char *tmp = malloc(CHUNK);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  /* Size the buffer once from the gzip trailer (ISIZE: the uncompressed size mod
   * 2^32) instead of doubling it: the copies and page faults of growing it cost
   * about a tenth of an import. Only a hint: buf_put still grows. */
  size_t hint = gzip_size_hint(path);
  if (hint > 0 && hint < max_bytes && (buf = malloc(hint + 1)) != NULL) cap = hint;
  int rc = in && tmp ? DLE_OK : dle_error_set(err, DLE_ENOMEM, "out of memory reading %s", path);
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  bool gz = false, z_open = false, in_member = false;
  size_t trailing = 0;
  bool first = true;
  while (rc == DLE_OK) {
    size_t got = fread(in, 1, CHUNK, f);
    if (got == 0) {
      if (ferror(f)) rc = dle_error_set(err, DLE_EIO, "reading %s: %s", path, strerror(errno));
      break;
    }
    if (first) { /* gzip or plain, from the content */
      first = false;
      gz = got >= 2 && in[0] == 0x1f && in[1] == 0x8b;
      if (gz) {
        if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
          rc = dle_error_set(err, DLE_ENOMEM, "out of memory reading %s", path);
          break;
        }
        z_open = in_member = true;
      }
    }
    if (!gz) {
      rc = buf_put(&buf, &len, &cap, in, got, max_bytes, path, err);
      continue;
    }
    if (trailing) { /* already past the last member */
      trailing += got;
      continue;
    }
    zs.next_in = in;
    zs.avail_in = (uInt)got;
    while (rc == DLE_OK && zs.avail_in > 0) {
      if (!in_member) {
        /* After a member: another one (concatenated gzip), or trailing bytes. */
        if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
          inflateReset(&zs);
          in_member = true;
        } else {
          trailing += zs.avail_in;
          zs.avail_in = 0;
          break;
        }
      }
      zs.next_out = tmp;
      zs.avail_out = CHUNK;
      int zr = inflate(&zs, Z_NO_FLUSH);
      size_t produced = CHUNK - zs.avail_out;
      if (produced) rc = buf_put(&buf, &len, &cap, tmp, produced, max_bytes, path, err);
      if (zr == Z_STREAM_END) {
        in_member = false;
      } else if (zr == Z_BUF_ERROR) {
        break; /* needs more input */
      } else if (zr != Z_OK) {
        rc = dle_error_set(err, DLE_EPARSE, "reading %s: corrupt gzip data (%s)", path,
                           zs.msg ? zs.msg : "inflate failed");
      }
    }
  }
  if (z_open) inflateEnd(&zs);
  fclose(f);
  free(in);
  free(tmp);
  if (rc == DLE_OK && !buf) { /* empty file: a zero-length buffer */
    buf = malloc(1);
    if (!buf) rc = dle_error_set(err, DLE_ENOMEM, "out of memory reading %s", path);
  }
  if (rc) {
    free(buf);
    return rc;
  }
  if (gzip_flags) {
    if (gz && in_member) *gzip_flags |= DLE_GZIP_TRUNCATED;
    if (trailing) *gzip_flags |= DLE_GZIP_TRAILING;
  }
  buf[len] = '\0';
  *out = buf;
  if (out_len) *out_len = len;
  return DLE_OK;
}

/* ---------------------------------------------------------------- helpers */

typedef struct span {
  const char *s;
  size_t n;
} span;

static span trim_span(const char *s, size_t n) {
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
  return (span){s, n};
}

/* Splits [s, s+n) on ',' into at most max fields; returns the field count, or
 * max + 1 when there are more. */
static size_t split_fields(const char *s, size_t n, span *f, size_t max) {
  size_t k = 0;
  const char *end = s + n;
  for (;;) {
    const char *c = memchr(s, ',', (size_t)(end - s));
    const char *fe = c ? c : end;
    if (k == max) return max + 1;
    f[k++] = trim_span(s, (size_t)(fe - s));
    if (!c) break;
    s = c + 1;
  }
  return k;
}

static void warn(dle_ingest_stats *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(dle_ingest_stats *st, const char *fmt, ...) {
  st->warnings++;
  if (st->first_warning[0]) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->first_warning, sizeof st->first_warning, fmt, ap);
  va_end(ap);
}

/* Next line of [*p, end): sets line and len (without LF or CR) and has_lf; advances p.
 * Returns 0 at the end of the buffer. */
static int next_line(const char **p, const char *end, const char **line, size_t *len,
                     int *has_lf) {
  if (*p >= end) return 0;
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  const char *le = nl ? nl : end;
  *line = *p;
  *len = (size_t)(le - *p);
  if (*len && (*p)[*len - 1] == '\r') (*len)--;
  *has_lf = nl != NULL;
  *p = nl ? nl + 1 : end;
  return 1;
}

/* Lower-cased header name without a trailing " [unit]". */
static void header_key(span f, char *out, size_t cap) {
  size_t n = f.n;
  const char *br = memchr(f.s, '[', f.n);
  if (br) n = (size_t)(br - f.s);
  while (n && f.s[n - 1] == ' ') n--;
  if (n >= cap) n = cap - 1;
  for (size_t i = 0; i < n; i++) {
    char c = f.s[i];
    out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  out[n] = '\0';
}

/* ---------------------------------------------------------------- GPU log */

enum gcol {
  GC_TS, GC_NAME, GC_INDEX, GC_UUID, GC_BUS,
  GC_UTIL, GC_MUTIL, GC_MEMTOT, GC_MEMUSED, GC_POWER, GC_LIMIT, GC_MAXLIMIT, GC_TEMP,
  GC_COUNT
};
#define GC_FIRST_NUM GC_UTIL

static const struct {
  const char *key;
  int col;
} gpu_header_names[] = {
    {"timestamp", GC_TS},
    {"name", GC_NAME}, {"gpu_name", GC_NAME},
    {"index", GC_INDEX}, {"gpu_index", GC_INDEX},
    {"uuid", GC_UUID}, {"gpu_uuid", GC_UUID},
    {"pci.bus_id", GC_BUS}, {"gpu_bus_id", GC_BUS},
    {"utilization.gpu", GC_UTIL}, {"gpu_usage", GC_UTIL},
    {"utilization.memory", GC_MUTIL}, {"gpu_memory_usage", GC_MUTIL},
    {"memory.total", GC_MEMTOT}, {"gpu_total_memory", GC_MEMTOT},
    {"memory.used", GC_MEMUSED}, {"gpu_memory_used", GC_MEMUSED},
    {"power.draw", GC_POWER}, {"gpu_power_draw", GC_POWER},
    /* Newer drivers split power.draw into an instantaneous and a 1 s average reading. */
    {"power.draw.instant", GC_POWER}, {"power.draw.average", GC_POWER},
    {"power.limit", GC_LIMIT}, {"enforced.power.limit", GC_LIMIT},
    {"power.max_limit", GC_MAXLIMIT}, {"gpu_max_power", GC_MAXLIMIT},
    {"temperature.gpu", GC_TEMP}, {"gpu_temperature", GC_TEMP},
};

enum { ROW_OK = 0, ROW_BAD = 1, ROW_CUT = 2 };

typedef struct gpu_row {
  int64_t ns;
  double v[GC_COUNT];     /* numeric columns (GC_FIRST_NUM..), NaN when absent */
  const char *name;       /* into the buffer */
  uint32_t name_len;
  const char *text;       /* the whole line, for messages */
  uint32_t text_len;
  int32_t slot;           /* device slot (device-column mode) */
  int32_t line;           /* 1-based line number in the file */
  uint8_t state;
  uint32_t dev_index;     /* the index column's value, or the slot */
} gpu_row;

typedef struct dev_key {
  char key[96];
  uint32_t index;
} dev_key;

typedef struct gpu_parse {
  gpu_row *rows;
  size_t n, cap;
  int col_of[GC_COUNT];   /* field index of each known column, -1 when absent */
  size_t n_cols;
  int dev_col;            /* GC_INDEX / GC_UUID / GC_BUS, or -1 (timestamp grouping) */
  dev_key devs[DLE_MAX_GPUS];
  uint32_t n_devs;
} gpu_parse;

static int gpu_header(gpu_parse *g, span line, dle_error *err) {
  span f[MAX_COLS];
  size_t n = split_fields(line.s, line.n, f, MAX_COLS);
  if (n > MAX_COLS) return dle_error_set(err, DLE_EPARSE, "header has more than %d columns", MAX_COLS);
  for (int c = 0; c < GC_COUNT; c++) g->col_of[c] = -1;
  for (size_t i = 0; i < n; i++) {
    char key[64];
    header_key(f[i], key, sizeof key);
    for (size_t k = 0; k < sizeof gpu_header_names / sizeof gpu_header_names[0]; k++)
      if (strcmp(key, gpu_header_names[k].key) == 0 && g->col_of[gpu_header_names[k].col] < 0)
        g->col_of[gpu_header_names[k].col] = (int)i;
  }
  g->n_cols = n;
  if (g->col_of[GC_TS] < 0)
    return dle_error_set(err, DLE_EPARSE,
                         "line 1: no 'timestamp' column: not an nvidia-smi --format=csv log "
                         "with a header (query timestamp and power.draw)");
  if (g->col_of[GC_POWER] < 0)
    return dle_error_set(err, DLE_EPARSE,
                         "line 1: no 'power.draw' (or 'gpu_power_draw') column in the header");
  g->dev_col = g->col_of[GC_INDEX] >= 0  ? GC_INDEX
               : g->col_of[GC_UUID] >= 0 ? GC_UUID
               : g->col_of[GC_BUS] >= 0  ? GC_BUS
                                         : -1;
  return DLE_OK;
}

static int gpu_push(gpu_parse *g, dle_error *err) {
  if (g->n == g->cap) {
    size_t ncap = g->cap ? g->cap * 2 : 4096;
    gpu_row *nr = realloc(g->rows, ncap * sizeof *nr);
    if (!nr) return dle_error_set(err, DLE_ENOMEM, "out of memory");
    g->rows = nr;
    g->cap = ncap;
  }
  g->n++;
  return DLE_OK;
}

/* Slot of a device key (index/uuid/bus id text); -1 when more than DLE_MAX_GPUS. */
static int device_slot(gpu_parse *g, span key, uint32_t index) {
  size_t n = key.n < sizeof g->devs[0].key - 1 ? key.n : sizeof g->devs[0].key - 1;
  for (uint32_t i = 0; i < g->n_devs; i++)
    if (strlen(g->devs[i].key) == n && memcmp(g->devs[i].key, key.s, n) == 0) return (int)i;
  if (g->n_devs >= DLE_MAX_GPUS) return -1;
  memcpy(g->devs[g->n_devs].key, key.s, n);
  g->devs[g->n_devs].key[n] = '\0';
  g->devs[g->n_devs].index = index;
  return (int)g->n_devs++;
}

/* Parses one data line into r; returns ROW_OK or ROW_BAD with a reason in why. */
static int gpu_row_parse(gpu_parse *g, span line, int integer_values, gpu_row *r,
                         char *why, size_t why_n) {
  span f[MAX_COLS];
  size_t n = split_fields(line.s, line.n, f, MAX_COLS);
  if (n != g->n_cols) {
    snprintf(why, why_n, "expected %zu fields, found %zu", g->n_cols, n > MAX_COLS ? (size_t)MAX_COLS : n);
    return ROW_BAD;
  }
  span ts = f[g->col_of[GC_TS]];
  if (dle_ingest_parse_timestamp(ts.s, ts.n, &r->ns) != DLE_OK) {
    snprintf(why, why_n, "bad timestamp '%.*s'", (int)(ts.n > 40 ? 40 : ts.n), ts.s);
    return ROW_BAD;
  }
  for (int c = GC_FIRST_NUM; c < GC_COUNT; c++) {
    r->v[c] = NAN;
    int fi = g->col_of[c];
    if (fi < 0) continue;
    if (dle_ingest_parse_value(f[fi].s, f[fi].n, integer_values, &r->v[c]) != DLE_OK) {
      snprintf(why, why_n, "bad value '%.*s'", (int)(f[fi].n > 40 ? 40 : f[fi].n), f[fi].s);
      return ROW_BAD;
    }
  }
  if (g->col_of[GC_NAME] >= 0) {
    span nm = f[g->col_of[GC_NAME]];
    r->name = nm.s;
    r->name_len = (uint32_t)(nm.n > 127 ? 127 : nm.n);
  }
  r->slot = -1;
  if (g->dev_col >= 0) {
    span key = f[g->col_of[g->dev_col]];
    uint32_t index = g->n_devs;
    if (g->dev_col == GC_INDEX) {
      double iv;
      if (dle_ingest_parse_value(key.s, key.n, 0, &iv) != DLE_OK || isnan(iv) || iv < 0 ||
          iv > 1e6 || iv != floor(iv)) {
        snprintf(why, why_n, "bad GPU index '%.*s'", (int)(key.n > 40 ? 40 : key.n), key.s);
        return ROW_BAD;
      }
      index = (uint32_t)iv;
    }
    int slot = device_slot(g, key, index);
    if (slot < 0) {
      snprintf(why, why_n, "more than %d GPUs", DLE_MAX_GPUS);
      return ROW_BAD;
    }
    r->slot = slot;
    r->dev_index = g->devs[slot].index;
  }
  return ROW_OK;
}

static int gpu_parse_buf(gpu_parse *g, const char *buf, size_t len, const dle_ingest_options *o,
                         dle_ingest_stats *st, dle_error *err) {
  const char *p = buf, *end = buf + len;
  const char *line;
  size_t ll;
  int has_lf, lineno = 0, have_header = 0;
  while (next_line(&p, end, &line, &ll, &has_lf)) {
    lineno++;
    span l = trim_span(line, ll);
    if (!have_header) {
      if (l.n == 0) continue;
      int rc = gpu_header(g, l, err);
      if (rc) return rc;
      have_header = 1;
      continue;
    }
    if (l.n == 0) continue;
    st->gpu_lines++;
    int rc = gpu_push(g, err);
    if (rc) return rc;
    gpu_row *r = &g->rows[g->n - 1];
    r->line = lineno;
    r->name = NULL;
    r->name_len = 0;
    r->text = l.s;
    r->text_len = (uint32_t)(l.n > UINT32_MAX ? UINT32_MAX : l.n);
    if (!has_lf) {
      r->state = ROW_CUT; /* nvidia-smi always ends its lines: this one was cut */
      continue;
    }
    char why[128];
    /* Bad rows are reported later, and only when trimming keeps them. */
    r->state = (uint8_t)gpu_row_parse(g, l, o->integer_values, r, why, sizeof why);
  }
  if (!have_header) return dle_error_set(err, DLE_EPARSE, "empty file (no header line)");
  if (g->n == 0) return dle_error_set(err, DLE_EPARSE, "no data lines after the header");
  return DLE_OK;
}

typedef struct group {
  size_t first, n; /* rows [first, first+n) */
} group;

/* ---------------------------------------------------------------- CPU log */

typedef struct cpu_log {
  int64_t *ns;
  double *util, *rss;
  size_t n, cap;
} cpu_log;

static void cpu_log_free(cpu_log *c) {
  free(c->ns);
  free(c->util);
  free(c->rss);
  memset(c, 0, sizeof *c);
}

static int cpu_push(cpu_log *c, dle_error *err) {
  if (c->n < c->cap) return DLE_OK;
  size_t ncap = c->cap ? c->cap * 2 : 4096;
  int64_t *a = realloc(c->ns, ncap * sizeof *a);
  if (a) c->ns = a;
  double *b = realloc(c->util, ncap * sizeof *b);
  if (b) c->util = b;
  double *d = realloc(c->rss, ncap * sizeof *d);
  if (d) c->rss = d;
  if (!a || !b || !d) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  c->cap = ncap;
  return DLE_OK;
}

static int cpu_parse_buf(cpu_log *c, const char *buf, size_t len, const char *label,
                         dle_ingest_stats *st, dle_error *err) {
  const char *p = buf, *end = buf + len, *line;
  size_t ll, n_cols = 0;
  int has_lf, lineno = 0, have_header = 0, c_ts = -1, c_util = -1, c_rss = -1;
  while (next_line(&p, end, &line, &ll, &has_lf)) {
    lineno++;
    span l = trim_span(line, ll);
    if (l.n == 0) continue;
    span f[MAX_COLS];
    size_t n = split_fields(l.s, l.n, f, MAX_COLS);
    if (!have_header) {
      if (n > MAX_COLS) return dle_error_set(err, DLE_EPARSE, "%s: too many columns", label);
      for (size_t i = 0; i < n; i++) {
        char key[64];
        header_key(f[i], key, sizeof key);
        if (c_ts < 0 && strcmp(key, "timestamp") == 0) c_ts = (int)i;
        else if (c_util < 0 && strstr(key, "cpu")) c_util = (int)i;
        else if (c_rss < 0 && strstr(key, "memory")) c_rss = (int)i;
      }
      if (c_ts < 0)
        return dle_error_set(err, DLE_EPARSE,
                             "%s line %d: no 'timestamp' column in the header", label, lineno);
      n_cols = n;
      have_header = 1;
      continue;
    }
    st->cpu_lines++;
    int64_t ns;
    double util = NAN, rss = NAN;
    int ok = n == n_cols && dle_ingest_parse_timestamp(f[c_ts].s, f[c_ts].n, &ns) == DLE_OK;
    if (ok && c_util >= 0)
      ok = dle_ingest_parse_value(f[c_util].s, f[c_util].n, 0, &util) == DLE_OK;
    if (ok && c_rss >= 0) ok = dle_ingest_parse_value(f[c_rss].s, f[c_rss].n, 0, &rss) == DLE_OK;
    if (!ok) {
      st->cpu_bad_lines++;
      warn(st, "%s line %d: %s (skipped)", label, lineno,
           !has_lf ? "cut off at the end of the file" : "malformed line");
      continue;
    }
    if (c->n && ns <= c->ns[c->n - 1]) {
      st->cpu_out_of_order++;
      warn(st, "%s line %d: timestamp %s the previous one (dropped)", label, lineno,
           ns == c->ns[c->n - 1] ? "repeats" : "goes back before");
      continue;
    }
    int rc = cpu_push(c, err);
    if (rc) return rc;
    c->ns[c->n] = ns;
    c->util[c->n] = util;
    c->rss[c->n] = rss;
    c->n++;
  }
  if (!have_header) return dle_error_set(err, DLE_EPARSE, "%s is empty (no header line)", label);
  return DLE_OK;
}

/* ---------------------------------------------------------------- assembling */

enum { IG_POWER, IG_UTIL, IG_MUTIL, IG_MEMUSED, IG_MEMTOT, IG_TEMP, IG_LIMIT, IG_COUNT };

/* One GPU's readings in one kept sample (the compact form of dle_gpu_sample). */
typedef struct imp_gpu {
  uint32_t slot, dev_index;
  double v[IG_COUNT];
} imp_gpu;

/* The kept samples, as columns (about 100 bytes a sample instead of a 1.4 kB
 * dle_sample: the import of a whole dataset stays in cache-friendly arrays). */
struct dle_import_data {
  int64_t *ns;                /* wall time, local read as UTC */
  double *cpu_util, *rss;     /* joined CPU sample; NaN when none within tolerance */
  uint32_t *first;            /* first imp_gpu of the sample */
  uint8_t *count;             /* imp_gpu entries of the sample */
  uint8_t *n_gpus;            /* dle_sample.n_gpus */
  imp_gpu *g;
  double ram_w_per_gb, cpu_tdp_w;
};

/* Median of x[0..n) by quickselect (reorders x). */
static double select_kth(double *x, size_t n, size_t k) {
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    double pivot = x[lo + (hi - lo) / 2];
    size_t i = lo, j = hi;
    while (i <= j) {
      while (x[i] < pivot) i++;
      while (x[j] > pivot) j--;
      if (i <= j) {
        double t = x[i];
        x[i] = x[j];
        x[j] = t;
        i++;
        if (j == 0) break;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return x[k];
  }
  return x[k];
}

static double median_inplace(double *x, size_t n) {
  if (n % 2) return select_kth(x, n, n / 2);
  double a = select_kth(x, n, n / 2 - 1);
  double b = select_kth(x, n, n / 2);
  return (a + b) / 2;
}

static void import_data_free(struct dle_import_data *D) {
  if (!D) return;
  free(D->ns);
  free(D->cpu_util);
  free(D->rss);
  free(D->first);
  free(D->count);
  free(D->n_gpus);
  free(D->g);
  free(D);
}

void dle_import_free(dle_import *imp) {
  if (!imp) return;
  import_data_free(imp->data);
  memset(imp, 0, sizeof *imp);
}

/* Writes sample i's host fields and gpu[0..n_gpus) only: clearing all of a 1.2 kB
 * sample per row was a tenth of an import's CPU, and readers stop at n_gpus. */
static void fill_sample(const dle_import *imp, size_t i, dle_sample *s) {
  const struct dle_import_data *D = imp->data;
  s->cpu_power_w = s->dram_power_w = NAN;
  s->cpu_energy_counter_j = s->dram_energy_counter_j = NAN;
  s->t_s = (double)(D->ns[i] - imp->start_wall_ns) / 1e9;
  s->wall_s = (double)D->ns[i] / 1e9;
  s->n_gpus = D->n_gpus[i] > DLE_MAX_GPUS ? DLE_MAX_GPUS : D->n_gpus[i];
  for (uint32_t g = 0; g < s->n_gpus; g++)
    s->gpu[g] = (dle_gpu_sample){g, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
  for (uint32_t j = 0; j < D->count[i]; j++) {
    const imp_gpu *gi = &D->g[D->first[i] + j];
    dle_gpu_sample *gs = &s->gpu[gi->slot];
    gs->device_index = gi->dev_index;
    gs->power_w = gi->v[IG_POWER];
    gs->util_gpu_pct = gi->v[IG_UTIL];
    gs->util_mem_pct = gi->v[IG_MUTIL];
    gs->mem_used_mib = gi->v[IG_MEMUSED];
    gs->mem_total_mib = gi->v[IG_MEMTOT];
    gs->temp_c = gi->v[IG_TEMP];
    gs->power_limit_w = gi->v[IG_LIMIT];
  }
  s->cpu_util_pct = D->cpu_util[i];
  s->rss_mib = D->rss[i];
  s->ram_power_w = dle_ram_power_w(s->rss_mib, D->ram_w_per_gb);
  if (D->cpu_tdp_w > 0 && !isnan(s->cpu_util_pct))
    s->cpu_power_w = D->cpu_tdp_w * s->cpu_util_pct / 100.0;
}

int dle_import_sample(const dle_import *imp, size_t i, dle_sample *s) {
  if (!imp || !s || !imp->data || i >= imp->n) return DLE_EINVAL;
  dle_sample_clear(s);
  fill_sample(imp, i, s);
  return DLE_OK;
}

/* Room for at least need samples in the per-sample arrays (gap samples are added
 * beyond the file's sample count). */
static int grow_samples(struct dle_import_data *D, size_t *cap, size_t need) {
  if (need <= *cap) return DLE_OK;
  size_t nc = *cap * 2 > need ? *cap * 2 : need;
  int64_t *a = realloc(D->ns, nc * sizeof *a);
  if (a) D->ns = a;
  double *b = realloc(D->cpu_util, nc * sizeof *b);
  if (b) D->cpu_util = b;
  double *c = realloc(D->rss, nc * sizeof *c);
  if (c) D->rss = c;
  uint32_t *d = realloc(D->first, nc * sizeof *d);
  if (d) D->first = d;
  uint8_t *e = realloc(D->count, nc);
  if (e) D->count = e;
  uint8_t *f = realloc(D->n_gpus, nc);
  if (f) D->n_gpus = f;
  if (!a || !b || !c || !d || !e || !f) return DLE_ENOMEM;
  *cap = nc;
  return DLE_OK;
}

/* The first later group whose head parsed (NULL when none). */
static const gpu_row *next_ok_head(const gpu_parse *g, const group *groups, size_t k,
                                   size_t g1) {
  for (size_t j = k + 1; j < g1; j++)
    if (g->rows[groups[j].first].state == ROW_OK) return &g->rows[groups[j].first];
  return NULL;
}

static int import_impl(const char *gpu, size_t gpu_len, const char *cpu, size_t cpu_len,
                       const dle_ingest_options *opt, dle_import *out, const char *glabel,
                       const char *clabel, dle_error *err) {
  if (!out) return dle_error_set(err, DLE_EINVAL, "no output given");
  dle_ingest_stats keep_stats = out->stats; /* read_file may have noted a truncation */
  memset(out, 0, sizeof *out);
  out->stats = keep_stats;
  dle_ingest_stats *st = &out->stats;
  if (!gpu) return dle_error_set(err, DLE_EINVAL, "no GPU log given");
  dle_ingest_options o;
  if (opt)
    o = *opt;
  else
    dle_ingest_options_init(&o);
  if (!(o.join_tolerance_s >= 0)) o.join_tolerance_s = 1.0;
  if (o.join_tolerance_s > 1e6) o.join_tolerance_s = 1e6; /* keeps the ns arithmetic in range */

  gpu_parse g;
  memset(&g, 0, sizeof g);
  cpu_log c;
  memset(&c, 0, sizeof c);
  group *groups = NULL;
  double *gaps = NULL;
  int rc = gpu_parse_buf(&g, gpu, gpu_len, &o, st, err);
  if (rc) {
    dle_error_prefix(err, "%s: ", glabel);
    goto done;
  }
  if (cpu) {
    rc = cpu_parse_buf(&c, cpu, cpu_len, clabel, st, err);
    if (rc) goto done;
  }

  /* Group rows into samples. */
  groups = malloc(g.n * sizeof *groups);
  if (!groups) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  size_t ng = 0;
  uint32_t cur_mask = 0;
  int open = 0;
  for (size_t i = 0; i < g.n; i++) {
    gpu_row *r = &g.rows[i];
    int join = 0;
    if (r->state == ROW_OK && open) {
      const gpu_row *head = &g.rows[groups[ng - 1].first];
      if (g.dev_col >= 0)
        join = !(cur_mask & (1u << r->slot));
      else
        join = head->ns == r->ns;
    }
    if (join) {
      groups[ng - 1].n++;
    } else {
      groups[ng++] = (group){i, 1};
      cur_mask = 0;
    }
    open = r->state == ROW_OK;
    if (r->state == ROW_OK && g.dev_col >= 0) cur_mask |= 1u << r->slot;
  }
  if (o.skip_first + o.skip_last >= ng || o.skip_first >= ng || o.skip_last >= ng) {
    rc = dle_error_set(err, DLE_ERANGE,
                       "%s has %zu samples: nothing is left after skipping %zu first and "
                       "%zu last",
                       glabel, ng, o.skip_first, o.skip_last);
    goto done;
  }
  st->trimmed = o.skip_first + o.skip_last;
  size_t g0 = o.skip_first, g1 = ng - o.skip_last;

  /* Devices per sample in timestamp-grouping mode: the size of the first good group. */
  /* The most common group size, so that a duplicated row is
   * not taken for a second GPU (ties: the first such group in the file). */
  uint32_t k_devs = 0;
  if (g.dev_col < 0) {
    size_t hist[DLE_MAX_GPUS + 1] = {0};
    for (size_t k = g0; k < g1; k++)
      if (g.rows[groups[k].first].state == ROW_OK)
        hist[groups[k].n > DLE_MAX_GPUS ? DLE_MAX_GPUS : groups[k].n]++;
    size_t best = 0;
    for (uint32_t d = 1; d <= DLE_MAX_GPUS; d++)
      if (hist[d] > best) best = hist[d];
    /* ties: the size of the first such group in the file */
    for (size_t k = g0; k < g1 && !k_devs; k++) {
      size_t n = groups[k].n > DLE_MAX_GPUS ? DLE_MAX_GPUS : groups[k].n;
      if (g.rows[groups[k].first].state == ROW_OK && hist[n] == best) k_devs = (uint32_t)n;
    }
  } else {
    k_devs = g.n_devs;
  }

  struct dle_import_data *D = calloc(1, sizeof *D);
  out->data = D;
  size_t cap_s = g1 - g0 + 1, cap_g = 0;
  for (size_t k = g0; k < g1; k++) cap_g += groups[k].n;
  if (D) {
    D->ns = malloc(cap_s * sizeof *D->ns);
    D->cpu_util = malloc(cap_s * sizeof *D->cpu_util);
    D->rss = malloc(cap_s * sizeof *D->rss);
    D->first = malloc(cap_s * sizeof *D->first);
    D->count = malloc(cap_s * sizeof *D->count);
    D->n_gpus = malloc(cap_s * sizeof *D->n_gpus);
    D->g = malloc(cap_g * sizeof *D->g);
    D->ram_w_per_gb = o.ram_w_per_gb;
    D->cpu_tdp_w = o.cpu_tdp_w;
  }
  if (!D || !D->ns || !D->cpu_util || !D->rss || !D->first || !D->count || !D->n_gpus || !D->g) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory for %zu samples", cap_s);
    goto done;
  }
  int64_t last_ns = INT64_MIN, ns0 = 0;
  int64_t tol_ns = (int64_t)llround(o.join_tolerance_s * 1e9);
  double gap_s = o.max_gap_s > 0 ? (o.max_gap_s < 1e6 ? o.max_gap_s : 1e6) : 60;
  int64_t gap_ns = (int64_t)llround(gap_s * 1e9);
  double max_power_w = o.max_power_w > 0 ? o.max_power_w : 5000;
  size_t cj = 0, ng_used = 0; /* CPU cursor, GPU entries written */
  size_t usable = 0;          /* samples with a GPU power */
  for (size_t k = g0; k < g1; k++) {
    const gpu_row *head = &g.rows[groups[k].first];
    if (head->state == ROW_CUT) {
      st->gpu_cut_lines++;
      warn(st, "%s line %d: cut off at the end of the file (no line end; skipped)", glabel,
           head->line);
      continue;
    }
    if (head->state == ROW_BAD) {
      /* Parse again to say why (rare path; keeps the rows small). */
      char why[128] = "";
      gpu_row tmp;
      gpu_row_parse(&g, (span){head->text, head->text_len}, o.integer_values, &tmp, why,
                    sizeof why);
      st->gpu_bad_lines++;
      warn(st, "%s line %d: %s (skipped)", glabel, head->line, why);
      continue;
    }
    if (head->ns < last_ns || (head->ns == last_ns && g.dev_col >= 0)) {
      if (head->ns < last_ns) {
        st->gpu_out_of_order += groups[k].n;
        warn(st, "%s line %d: timestamp goes back before the previous sample (dropped)",
             glabel, head->line);
      } else {
        st->gpu_duplicates += groups[k].n;
        warn(st, "%s line %d: repeats the previous timestamp for the same GPU (dropped)",
             glabel, head->line);
      }
      continue;
    }
    if (out->n && head->ns - last_ns > gap_ns) {
      const gpu_row *nx = next_ok_head(&g, groups, k, g1);
      if (nx && nx->ns < head->ns) {
        /* Ahead and back again: this row's clock is wrong, not the log's. */
        st->gpu_time_outliers += groups[k].n;
        warn(st, "%s line %d: timestamp jumps %.0f s ahead and the next row comes back "
             "(dropped)", glabel, head->line, (double)(head->ns - last_ns) / 1e9);
        continue;
      }
      st->gpu_gaps++;
      warn(st, "%s line %d: %.1f s without samples (more than %g s): a gap, not "
           "integrated across", glabel, head->line, (double)(head->ns - last_ns) / 1e9, gap_s);
      if (grow_samples(D, &cap_s, out->n + 2) != DLE_OK) {
        rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
        goto done;
      }
      size_t gi0 = out->n++;
      D->ns[gi0] = last_ns + 1; /* an all-NaN sample right after the last one */
      D->first[gi0] = (uint32_t)ng_used;
      D->count[gi0] = 0;
      D->n_gpus[gi0] = (uint8_t)k_devs;
      D->cpu_util[gi0] = D->rss[gi0] = NAN;
    }
    if (grow_samples(D, &cap_s, out->n + 1) != DLE_OK) {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto done;
    }
    size_t rows_here = groups[k].n;
    if (g.dev_col < 0 && rows_here > k_devs) {
      st->gpu_duplicates += rows_here - k_devs;
      warn(st, "%s line %d: %zu rows share one timestamp, expected %u GPUs (extra rows "
           "dropped)", glabel, head->line, rows_here, k_devs);
      rows_here = k_devs;
    }
    size_t i = out->n;
    if (i == 0) ns0 = head->ns;
    last_ns = head->ns;
    D->ns[i] = head->ns;
    D->first[i] = (uint32_t)ng_used;
    D->count[i] = (uint8_t)rows_here;
    uint32_t n_gpus = 0;
    double max_limit = 0;
    int any_limit = 0;
    for (size_t j = 0; j < rows_here; j++) {
      const gpu_row *r = &g.rows[groups[k].first + j];
      imp_gpu *gi = &D->g[ng_used++];
      gi->slot = g.dev_col >= 0 ? (uint32_t)r->slot : (uint32_t)j;
      gi->dev_index = g.dev_col >= 0 ? r->dev_index : gi->slot;
      gi->v[IG_POWER] = r->v[GC_POWER];
      gi->v[IG_UTIL] = r->v[GC_UTIL];
      gi->v[IG_MUTIL] = r->v[GC_MUTIL];
      gi->v[IG_MEMUSED] = r->v[GC_MEMUSED];
      gi->v[IG_MEMTOT] = r->v[GC_MEMTOT];
      gi->v[IG_TEMP] = r->v[GC_TEMP];
      gi->v[IG_LIMIT] = r->v[GC_LIMIT];
      /* Impossible readings become gaps. */
      double lim = r->v[GC_MAXLIMIT] > 0 && isfinite(r->v[GC_MAXLIMIT]) ? 2 * r->v[GC_MAXLIMIT]
                                                                       : max_power_w;
      double pw = gi->v[IG_POWER];
      if (!isnan(pw) && (!isfinite(pw) || pw < 0 || pw > lim)) {
        st->gpu_impossible++;
        warn(st, "%s line %d: impossible power %g W (%s; made a gap)", glabel, r->line, pw,
             pw < 0 ? "negative" : !isfinite(pw) ? "not finite" : "far above the board's limit");
        gi->v[IG_POWER] = NAN;
      }
      for (int u = IG_UTIL; u <= IG_MUTIL; u++)
        if (!isnan(gi->v[u]) && !(gi->v[u] >= 0 && gi->v[u] <= 100)) {
          st->gpu_impossible++;
          warn(st, "%s line %d: impossible utilization %g %% (made a gap)", glabel, r->line,
               gi->v[u]);
          gi->v[u] = NAN;
        }
      if (gi->slot + 1 > n_gpus) n_gpus = gi->slot + 1;
      if (!isnan(r->v[GC_MAXLIMIT])) max_limit += r->v[GC_MAXLIMIT], any_limit = 1;
      if (i == 0 && !out->gpu_name[0] && r->name_len)
        snprintf(out->gpu_name, sizeof out->gpu_name, "%.*s", (int)r->name_len, r->name);
    }
    D->n_gpus[i] = (uint8_t)(g.dev_col >= 0 ? k_devs : n_gpus);
    if (D->n_gpus[i] > out->n_gpus) out->n_gpus = D->n_gpus[i];
    /* A GPU without a reading here is a gap for that GPU (NaN, never 0 W): the
     * trace bridges it between its own neighbours while the others read. */
    size_t have = 0;
    for (size_t j = 0; j < rows_here; j++) have += !isnan(D->g[D->first[i] + j].v[IG_POWER]);
    if (have && have < k_devs) {
      st->gpu_incomplete++;
      warn(st, "%s line %d: %zu of %u GPUs have a power reading (a gap for the others)",
           glabel, head->line, have, k_devs);
    }
    if (k_devs > D->n_gpus[i]) D->n_gpus[i] = (uint8_t)k_devs;
    usable += have > 0;
    if (i == 0) out->gpu_max_power_limit_w = any_limit ? max_limit : NAN;
    /* Nearest CPU sample within the tolerance. */
    D->cpu_util[i] = D->rss[i] = NAN;
    if (c.n) {
      while (cj + 1 < c.n && c.ns[cj + 1] <= head->ns) cj++;
      size_t best = cj;
      int64_t d0 = c.ns[cj] > head->ns ? c.ns[cj] - head->ns : head->ns - c.ns[cj];
      if (cj + 1 < c.n) {
        int64_t d1 = c.ns[cj + 1] - head->ns;
        if (d1 >= 0 && d1 < d0) best = cj + 1, d0 = d1;
      }
      if (d0 <= tol_ns) {
        st->cpu_matched++;
        D->cpu_util[i] = c.util[best];
        D->rss[i] = c.rss[best];
      }
    }
    out->n++;
  }
  if (out->n == 0) {
    rc = dle_error_set(err, DLE_EPARSE, "%s: no usable GPU sample (%s)", glabel,
                       st->first_warning[0] ? st->first_warning : "every line was skipped");
    goto done;
  }
  if (usable < 2) {
    rc = dle_error_set(err, DLE_EPARSE,
                       "%s: %zu usable GPU power sample%s: at least two are needed to "
                       "integrate an energy%s%s", glabel, usable, usable == 1 ? "" : "s",
                       st->first_warning[0] ? "; first warning: " : "", st->first_warning);
    goto done;
  }
  out->start_wall_ns = ns0;
  out->start_wall_s = (double)ns0 / 1e9;
  out->duration_s = (double)(last_ns - ns0) / 1e9;
  out->interval_s = NAN;
  if (out->n >= 2) {
    gaps = malloc((out->n - 1) * sizeof *gaps);
    if (!gaps) {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto done;
    }
    for (size_t i = 1; i < out->n; i++) gaps[i - 1] = (double)(D->ns[i] - D->ns[i - 1]) / 1e9;
    out->interval_s = median_inplace(gaps, out->n - 1);
  }
done:
  free(g.rows);
  free(groups);
  free(gaps);
  cpu_log_free(&c);
  if (rc) {
    dle_ingest_stats keep = out->stats;
    dle_import_free(out);
    out->stats = keep;
  }
  return rc;
}

int dle_import_nvidia_smi(const char *gpu_path, const char *cpu_path,
                          const dle_ingest_options *opt, dle_import *out, dle_error *err) {
  if (!out) return dle_error_set(err, DLE_EINVAL, "no output given");
  memset(out, 0, sizeof *out);
  char *gbuf = NULL, *cbuf = NULL;
  size_t glen = 0, clen = 0;
  int gtrunc = 0, ctrunc = 0;
  int rc = dle_ingest_read_file(gpu_path, 0, &gbuf, &glen, &gtrunc, err);
  if (rc) return rc;
  if (cpu_path) {
    rc = dle_ingest_read_file(cpu_path, 0, &cbuf, &clen, &ctrunc, err);
    if (rc) {
      free(gbuf);
      return rc;
    }
  }
  dle_ingest_stats *st = &out->stats;
  const char *paths[2] = {gpu_path, cpu_path};
  const int flags[2] = {gtrunc, ctrunc};
  for (int k = 0; k < 2; k++) {
    if (flags[k] & DLE_GZIP_TRUNCATED) {
      st->gzip_truncated = 1;
      warn(st, "%s: truncated gzip: the stream ends early (using the data before the cut)",
           paths[k]);
    }
    if (flags[k] & DLE_GZIP_TRAILING) {
      st->gzip_trailing = 1;
      warn(st, "%s: trailing garbage after the gzip stream (ignored)", paths[k]);
    }
  }
  rc = import_impl(gbuf, glen, cbuf, clen, opt, out, gpu_path, cpu_path ? cpu_path : "", err);
  free(gbuf);
  free(cbuf);
  return rc;
}

int dle_import_to_trace(const dle_import *imp, dle_trace *t, dle_error *err) {
  if (!imp || !t) return dle_error_set(err, DLE_EINVAL, "missing argument");
  int rc = dle_trace_reserve(t, t->n + imp->n, err);
  dle_sample s; /* one reused sample: stays in cache */
  for (size_t i = 0; rc == DLE_OK && i < imp->n; i++) {
    fill_sample(imp, i, &s);
    rc = dle_trace_append(t, &s, err);
  }
  return rc;
}

int dle_import_samples(const dle_import *imp, size_t first, size_t n, dle_sample *out) {
  if (!imp || (n && !out) || first > imp->n || n > imp->n - first) return DLE_EINVAL;
  for (size_t i = 0; i < n; i++) fill_sample(imp, first + i, &out[i]);
  return DLE_OK;
}

int dle_import_nvidia_smi_buf(const char *gpu, size_t gpu_len, const char *cpu,
                              size_t cpu_len, const dle_ingest_options *opt, dle_import *out,
                              dle_error *err) {
  if (out) memset(out, 0, sizeof *out);
  return import_impl(gpu, gpu_len, cpu, cpu_len, opt, out, "GPU log", "CPU log", err);
}
