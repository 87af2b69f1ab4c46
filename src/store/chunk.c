/* chunk.c — see chunk.h. */
#include "chunk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

_Static_assert(sizeof(dle_sample) % sizeof(double) == 0, "dle_sample is read as a double array");

enum { FORMAT = 1, MODE_NAN = 0, MODE_DEC = 1, MODE_XOR = 2, MODE_IDELTA = 3, MAX_K = 15 };
enum { ZSTD_LEVEL = 1 };

static const double P10[MAX_K + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static uint64_t bits_of(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static double double_of(uint64_t u) {
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

/* ---- a growing byte buffer ---- */

typedef struct buf {
  uint8_t *p;
  size_t len, cap;
  int oom;
} buf;

static uint8_t *buf_room(buf *b, size_t more) {
  if (b->oom) return NULL;
  if (b->len + more > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    uint8_t *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return NULL;
    }
    b->p = np;
    b->cap = cap;
  }
  return b->p + b->len;
}

static void put_u8(buf *b, uint8_t v) {
  uint8_t *d = buf_room(b, 1);
  if (d) d[0] = v, b->len++;
}

static void put_varint(buf *b, uint64_t v) {
  uint8_t *d = buf_room(b, 10);
  if (!d) return;
  size_t k = 0;
  while (v >= 0x80) {
    d[k++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  d[k++] = (uint8_t)v;
  b->len += k;
}

static void put_u64(buf *b, uint64_t v) {
  uint8_t *d = buf_room(b, 8);
  if (!d) return;
  for (int i = 0; i < 8; i++) d[i] = (uint8_t)(v >> (8 * i));
  b->len += 8;
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

/* ---- encoding one double column ---- */

/* m with m / 10^k == v bit for bit, or 0 when there is none. */
static int dec_fits(double v, int k, int64_t *m) {
  double x = v * P10[k];
  if (!(fabs(x) < 9.0e15)) return 0; /* NaN, inf, or beyond exact integers */
  /* any nearby integer will do: the bit comparison below decides */
  int64_t r = (int64_t)(x + (x >= 0 ? 0.5 : -0.5));
  /* Without the division: if m / 10^k == v for an integer m, then x = v * 10^k lies
   * within |x| * 2.3e-16 of m, and r is m; so x farther than that from r means no
   * m exists (arbitrary bits fail here for every k, cheaply). */
  if (fabs(x - (double)r) > fabs(x) * 1e-15) return 0;
  if (bits_of((double)r / P10[k]) != bits_of(v)) return 0;
  *m = r;
  return 1;
}

/* Fills scratch[i] with m_i such that m_i / 10^k reads back as v[i] bit for bit
 * (INT64_MIN where no such m exists), for the smallest k (0..MAX_K) that serves
 * the values; restarts when a value needs a larger k (at most MAX_K times).
 * Returns k, or -1 when more than a quarter of the values fit no k. */
static int decimal_scale(const double *v, size_t n, int64_t *scratch,
                         size_t *n_exc) {
  int k = 0;
restart:
  *n_exc = 0;
  for (size_t i = 0; i < n; i++) {
    double x = v[i];
    int64_t m;
    if (dec_fits(x, k, &m)) {
      scratch[i] = m;
      continue;
    }
    if (!isnan(x)) {
      int kk = k + 1;
      while (kk <= MAX_K && !dec_fits(x, kk, &m)) kk++;
      if (kk <= MAX_K) {
        k = kk;
        goto restart;
      }
    }
    scratch[i] = INT64_MIN;
    if (++*n_exc * 4 > n) return -1;
  }
  return k;
}

/* decimal_scale, giving up early when over a quarter of the first 256 values are
 * exceptions (a column of arbitrary bits, or a clock a quarter of whose values do
 * not read back from milliseconds, would otherwise be tried almost to its end). */
static int decimal_scale_bail(const double *v, size_t n, int64_t *scratch, size_t *n_exc) {
  enum { PROBE = 256 };
  if (n > 2 * PROBE) {
    int k = decimal_scale(v, PROBE, scratch, n_exc);
    if (k < 0) return -1;
  }
  return decimal_scale(v, n, scratch, n_exc);
}

static void encode_column(buf *b, const double *v, size_t n, int64_t *scratch) {
  static const double canon_nan = NAN;
  const uint64_t nan_bits = bits_of(canon_nan);
  size_t n_nan = 0;
  for (size_t i = 0; i < n; i++) n_nan += bits_of(v[i]) == nan_bits;
  if (n_nan == n) {
    put_u8(b, MODE_NAN);
    return;
  }
  size_t n_exc = 0;
  int k = n_nan * 4 > n ? -1 : decimal_scale_bail(v, n, scratch, &n_exc);
  if (k >= 0) {
    put_u8(b, MODE_DEC);
    put_u8(b, (uint8_t)k);
    put_varint(b, n_exc);
    size_t last = 0;
    for (size_t i = 0; n_exc && i < n; i++)
      if (scratch[i] == INT64_MIN) {
        put_varint(b, i - last);
        put_u64(b, bits_of(v[i]));
        last = i;
      }
    uint8_t *d = buf_room(b, 10 * n);
    if (!d) return;
    size_t len = 0;
    int64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
      int64_t cur = scratch[i] == INT64_MIN ? prev : scratch[i];
      uint64_t u = zigzag((int64_t)((uint64_t)cur - (uint64_t)prev));
      prev = cur;
      while (u >= 0x80) {
        d[len++] = (uint8_t)(u | 0x80);
        u >>= 7;
      }
      d[len++] = (uint8_t)u;
    }
    b->len += len;
    return;
  }
  /* No decimal scale: the bits themselves. Integer deltas of consecutive bit patterns
   * are short varints when neighbours share sign, exponent and high mantissa (a wall
   * clock, a slowly moving reading); XOR byte planes otherwise. */
  size_t idelta_len = 0;
  uint64_t prev_bits = 0;
  for (size_t i = 0; i < n && idelta_len < 8 * n; i++) {
    uint64_t u = bits_of(v[i]);
    uint64_t z = zigzag((int64_t)(u - prev_bits));
    prev_bits = u;
    idelta_len += z < (1ull << 7) ? 1 : z < (1ull << 14) ? 2 : z < (1ull << 21) ? 3
                : z < (1ull << 28) ? 4 : z < (1ull << 35) ? 5 : z < (1ull << 42) ? 6
                : z < (1ull << 49) ? 7 : z < (1ull << 56) ? 8 : z < (1ull << 63) ? 9 : 10;
  }
  if (idelta_len < 8 * n) {
    put_u8(b, MODE_IDELTA);
    uint8_t *d = buf_room(b, idelta_len);
    if (!d) return;
    size_t len = 0;
    prev_bits = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t u = bits_of(v[i]);
      uint64_t z = zigzag((int64_t)(u - prev_bits));
      prev_bits = u;
      while (z >= 0x80) {
        d[len++] = (uint8_t)(z | 0x80);
        z >>= 7;
      }
      d[len++] = (uint8_t)z;
    }
    b->len += len;
    return;
  }
  put_u8(b, MODE_XOR);
  uint8_t *d = buf_room(b, 8 * n);
  if (!d) return;
  uint64_t prev = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t u = bits_of(v[i]);
    uint64_t x = u ^ prev;
    prev = u;
    for (int p = 0; p < 8; p++) d[(size_t)p * n + i] = (uint8_t)(x >> (8 * (7 - p)));
  }
  b->len += 8 * n;
}

/* ---- the open chunk: samples kept as columns ---- */

struct dle_chunk_buf {
  size_t n;
  uint32_t max_gpus;                       /* over samples [0, n) */
  uint8_t n_gpus[DLE_CHUNK_MAX];
  double host[DLE_CHUNK_HOST_COLS][DLE_CHUNK_MAX];
  size_t slot_n[DLE_MAX_GPUS];             /* samples in [0, n) that have slot g */
  uint32_t *dev[DLE_MAX_GPUS];             /* [DLE_CHUNK_MAX], allocated on first use */
  double *gpu[DLE_MAX_GPUS][DLE_CHUNK_GPU_COLS];
  int64_t scratch[DLE_CHUNK_MAX];
  buf raw, out;                            /* reused across encodes */
  ZSTD_CCtx *cctx;                         /* reused: a fresh context per chunk costs its tables */
};

dle_chunk_buf *dle_chunk_buf_new(void) { return calloc(1, sizeof(dle_chunk_buf)); }

void dle_chunk_buf_free(dle_chunk_buf *b) {
  if (!b) return;
  for (int g = 0; g < DLE_MAX_GPUS; g++) {
    free(b->dev[g]);
    for (int k = 0; k < DLE_CHUNK_GPU_COLS; k++) free(b->gpu[g][k]);
  }
  free(b->raw.p);
  free(b->out.p);
  ZSTD_freeCCtx(b->cctx);
  free(b);
}

size_t dle_chunk_buf_len(const dle_chunk_buf *b) { return b ? b->n : 0; }

void dle_chunk_buf_truncate(dle_chunk_buf *b, size_t n) {
  if (!b || n >= b->n) return;
  b->n = n;
  memset(b->slot_n, 0, sizeof b->slot_n);
  b->max_gpus = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t g = b->n_gpus[i];
    if (g > b->max_gpus) b->max_gpus = g;
    for (uint32_t j = 0; j < g; j++) b->slot_n[j]++;
  }
}

static int slot_alloc(dle_chunk_buf *b, uint32_t g) {
  if (b->dev[g]) return 1;
  uint32_t *d = malloc(DLE_CHUNK_MAX * sizeof *d);
  double *c[DLE_CHUNK_GPU_COLS];
  int ok = d != NULL;
  for (int k = 0; k < DLE_CHUNK_GPU_COLS; k++) ok &= (c[k] = malloc(DLE_CHUNK_MAX * sizeof(double))) != NULL;
  if (!ok) {
    free(d);
    for (int k = 0; k < DLE_CHUNK_GPU_COLS; k++) free(c[k]);
    return 0;
  }
  b->dev[g] = d;
  for (int k = 0; k < DLE_CHUNK_GPU_COLS; k++) b->gpu[g][k] = c[k];
  return 1;
}

int dle_chunk_buf_push(dle_chunk_buf *b, const dle_sample *x, dle_error *err) {
  if (b->n >= DLE_CHUNK_MAX)
    return dle_error_set(err, DLE_EINVAL, "a sample chunk holds at most %d samples", DLE_CHUNK_MAX);
  uint32_t ng = x->n_gpus > DLE_MAX_GPUS ? DLE_MAX_GPUS : x->n_gpus;
  for (uint32_t g = 0; g < ng; g++)
    if (!slot_alloc(b, g)) return dle_error_set(err, DLE_ENOMEM, "out of memory buffering samples");
  size_t i = b->n++;
  b->n_gpus[i] = (uint8_t)ng;
  if (ng > b->max_gpus) b->max_gpus = ng;
  b->host[0][i] = x->t_s;
  b->host[1][i] = x->wall_s;
  b->host[2][i] = x->cpu_util_pct;
  b->host[3][i] = x->rss_mib;
  b->host[4][i] = x->cpu_power_w;
  b->host[5][i] = x->dram_power_w;
  b->host[6][i] = x->ram_power_w;
  b->host[7][i] = x->cpu_energy_counter_j;
  b->host[8][i] = x->dram_energy_counter_j;
  for (uint32_t g = 0; g < ng; g++) {
    const dle_gpu_sample *y = &x->gpu[g];
    size_t j = b->slot_n[g]++;
    b->dev[g][j] = y->device_index;
    b->gpu[g][0][j] = y->power_w;
    b->gpu[g][1][j] = y->energy_counter_j;
    b->gpu[g][2][j] = y->util_gpu_pct;
    b->gpu[g][3][j] = y->util_mem_pct;
    b->gpu[g][4][j] = y->mem_used_mib;
    b->gpu[g][5][j] = y->mem_total_mib;
    b->gpu[g][6][j] = y->temp_c;
    b->gpu[g][7][j] = y->power_limit_w;
  }
  return DLE_OK;
}

int dle_chunk_buf_encode(dle_chunk_buf *b, size_t from, size_t to, const uint8_t **blob,
                         size_t *blob_len, dle_error *err) {
  *blob = NULL;
  *blob_len = 0;
  if (from >= to || to > b->n)
    return dle_error_set(err, DLE_EINVAL, "a sample chunk holds 1..%d samples (got %zu)",
                         DLE_CHUNK_MAX, to > from ? to - from : (size_t)0);
  const size_t n = to - from;
  buf *raw = &b->raw;
  raw->len = 0;
  raw->oom = 0;
  put_varint(raw, n);
  /* where each GPU slot's samples of [from, to) start in its compact columns */
  size_t first[DLE_MAX_GPUS] = {0}, cnt[DLE_MAX_GPUS] = {0};
  uint32_t max_gpus = 0;
  for (size_t i = 0; i < to; i++) {
    uint32_t g = b->n_gpus[i];
    if (i < from) {
      for (uint32_t j = 0; j < g; j++) first[j]++;
      continue;
    }
    for (uint32_t j = 0; j < g; j++) cnt[j]++;
    if (g > max_gpus) max_gpus = g;
  }
  uint8_t *d = buf_room(raw, n);
  if (d) {
    memcpy(d, b->n_gpus + from, n);
    raw->len += n;
  }
  for (int c = 0; c < DLE_CHUNK_HOST_COLS; c++) encode_column(raw, b->host[c] + from, n, b->scratch);
  for (uint32_t g = 0; g < max_gpus; g++) {
    const uint32_t *dev = b->dev[g] + first[g];
    int64_t prev = 0;
    for (size_t i = 0; i < cnt[g]; i++) {
      put_varint(raw, zigzag((int64_t)dev[i] - prev));
      prev = dev[i];
    }
    for (int c = 0; c < DLE_CHUNK_GPU_COLS; c++)
      encode_column(raw, b->gpu[g][c] + first[g], cnt[g], b->scratch);
  }
  if (raw->oom) return dle_error_set(err, DLE_ENOMEM, "out of memory encoding samples");
  if (!b->cctx && !(b->cctx = ZSTD_createCCtx()))
    return dle_error_set(err, DLE_ENOMEM, "out of memory compressing samples");
  buf *out = &b->out;
  out->len = 0;
  out->oom = 0;
  put_u8(out, FORMAT);
  put_varint(out, raw->len);
  size_t bound = ZSTD_compressBound(raw->len);
  uint8_t *z0 = buf_room(out, bound);
  if (!z0) return dle_error_set(err, DLE_ENOMEM, "out of memory compressing samples");
  size_t z = ZSTD_compressCCtx(b->cctx, z0, bound, raw->p, raw->len, ZSTD_LEVEL);
  if (ZSTD_isError(z)) return dle_error_set(err, DLE_EDB, "compressing samples: %s", ZSTD_getErrorName(z));
  out->len += z;
  *blob = out->p;
  *blob_len = out->len;
  return DLE_OK;
}

int dle_chunk_encode(const dle_sample *s, size_t n, uint8_t **blob, size_t *blob_len,
                     dle_error *err) {
  *blob = NULL;
  *blob_len = 0;
  if (n == 0 || n > DLE_CHUNK_MAX)
    return dle_error_set(err, DLE_EINVAL, "a sample chunk holds 1..%d samples (got %zu)",
                         DLE_CHUNK_MAX, n);
  dle_chunk_buf *b = dle_chunk_buf_new();
  if (!b) return dle_error_set(err, DLE_ENOMEM, "out of memory encoding samples");
  int rc = DLE_OK;
  for (size_t i = 0; rc == DLE_OK && i < n; i++) rc = dle_chunk_buf_push(b, &s[i], err);
  const uint8_t *p = NULL;
  size_t len = 0;
  if (rc == DLE_OK) rc = dle_chunk_buf_encode(b, 0, n, &p, &len, err);
  if (rc == DLE_OK) {
    if ((*blob = malloc(len)) != NULL) {
      memcpy(*blob, p, len);
      *blob_len = len;
    } else {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory encoding samples");
    }
  }
  dle_chunk_buf_free(b);
  return rc;
}

/* ---- decoding ---- */

typedef struct rd {
  const uint8_t *p, *end;
  int bad;
} rd;

static uint8_t get_u8(rd *r) {
  if (r->p >= r->end) {
    r->bad = 1;
    return 0;
  }
  return *r->p++;
}

static uint64_t get_varint(rd *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) break;
    uint8_t c = *r->p++;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) return v;
  }
  r->bad = 1;
  return 0;
}

/* get_varint without a bounds check per byte while 10 bytes remain (the longest
 * varint); the checked loop near the end. Sets r->bad the same way. */
static inline uint64_t get_varint_fast(rd *r) {
  const uint8_t *p = r->p;
  if (r->end - p >= 10) {
    uint64_t c = *p++;
    if (c < 0x80) {
      r->p = p;
      return c;
    }
    uint64_t v = c & 0x7f;
    for (int shift = 7; shift < 70; shift += 7) {
      c = *p++;
      v |= (c & 0x7f) << shift;
      if (c < 0x80) {
        r->p = p;
        return v;
      }
    }
    r->p = p;
    r->bad = 1;
    return 0;
  }
  return get_varint(r);
}

static uint64_t get_u64(rd *r) {
  if (r->end - r->p < 8) {
    r->bad = 1;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)r->p[i] << (8 * i);
  r->p += 8;
  return v;
}

static void decode_column(rd *r, double *out, size_t n) {
  uint8_t mode = get_u8(r);
  if (mode == MODE_NAN) {
    for (size_t i = 0; i < n; i++) out[i] = NAN;
  } else if (mode == MODE_DEC) {
    uint8_t k = get_u8(r);
    if (k > MAX_K) {
      r->bad = 1;
      return;
    }
    uint64_t n_exc = get_varint(r);
    if (n_exc > n) {
      r->bad = 1;
      return;
    }
    const uint8_t *exc = r->p;
    for (uint64_t e = 0; e < n_exc && !r->bad; e++) {
      get_varint(r);
      get_u64(r);
    }
    int64_t m = 0;
    const double p = P10[k];
    if (k == 0) { /* integers (utilization, MiB, degrees): m / 1 is m, no division */
      for (size_t i = 0; i < n; i++) {
        m = (int64_t)((uint64_t)m + (uint64_t)unzigzag(get_varint_fast(r)));
        out[i] = (double)m;
      }
    } else {
      for (size_t i = 0; i < n; i++) {
        m = (int64_t)((uint64_t)m + (uint64_t)unzigzag(get_varint_fast(r)));
        out[i] = (double)m / p;
      }
    }
    if (r->bad) return;
    rd er = {exc, r->end, 0};
    size_t idx = 0;
    for (uint64_t e = 0; e < n_exc; e++) {
      idx += get_varint(&er);
      uint64_t bits = get_u64(&er);
      if (idx >= n) {
        r->bad = 1;
        return;
      }
      out[idx] = double_of(bits);
    }
  } else if (mode == MODE_IDELTA) {
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
      prev += (uint64_t)unzigzag(get_varint_fast(r));
      out[i] = double_of(prev);
    }
  } else if (mode == MODE_XOR) {
    if ((size_t)(r->end - r->p) < 8 * n) {
      r->bad = 1;
      return;
    }
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
      uint64_t x = 0;
      for (int pl = 0; pl < 8; pl++) x |= (uint64_t)r->p[(size_t)pl * n + i] << (8 * (7 - pl));
      prev ^= x;
      out[i] = double_of(prev);
    }
    r->p += 8 * n;
  } else {
    r->bad = 1;
  }
}

dle_chunk *dle_chunk_new(void) {
  /* only the bookkeeping is cleared: decode writes the columns before anything reads them */
  dle_chunk *c = malloc(sizeof *c);
  if (!c) return NULL;
  c->n = 0;
  c->max_gpus = 0;
  memset(c->slot_n, 0, sizeof c->slot_n);
  memset(c->dev, 0, sizeof c->dev);
  memset(c->gpu, 0, sizeof c->gpu);
  c->raw = NULL;
  c->raw_cap = 0;
  c->dctx = NULL;
  memset(c->cursor, 0, sizeof c->cursor);
  c->next = 0;
  return c;
}

void dle_chunk_free(dle_chunk *c) {
  if (!c) return;
  for (int g = 0; g < DLE_MAX_GPUS; g++) {
    free(c->dev[g]);
    for (int k = 0; k < DLE_CHUNK_GPU_COLS; k++) free(c->gpu[g][k]);
  }
  free(c->raw);
  ZSTD_freeDCtx(c->dctx);
  free(c);
}

static int corrupt(dle_error *err, const char *why) {
  return dle_error_set(err, DLE_EDB, "corrupt sample chunk: %s", why);
}

int dle_chunk_decode(dle_chunk *c, const uint8_t *blob, size_t blob_len, size_t expect_n,
                     dle_error *err) {
  rd h = {blob, blob + blob_len, 0};
  if (get_u8(&h) != FORMAT || h.bad) return corrupt(err, "unknown format");
  uint64_t raw_len = get_varint(&h);
  if (h.bad || raw_len > (uint64_t)64 << 20) return corrupt(err, "bad length");
  unsigned long long fsz = ZSTD_getFrameContentSize(h.p, (size_t)(h.end - h.p));
  if (fsz != raw_len) return corrupt(err, "length mismatch");
  if (c->raw_cap < raw_len) {
    uint8_t *np = realloc(c->raw, raw_len ? raw_len : 1);
    if (!np) return dle_error_set(err, DLE_ENOMEM, "out of memory reading samples");
    c->raw = np;
    c->raw_cap = raw_len;
  }
  if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
    return dle_error_set(err, DLE_ENOMEM, "out of memory reading samples");
  size_t z = ZSTD_decompressDCtx(c->dctx, c->raw, raw_len, h.p, (size_t)(h.end - h.p));
  if (ZSTD_isError(z) || z != raw_len) return corrupt(err, "zstd frame");
  rd r = {c->raw, c->raw + raw_len, 0};
  uint64_t n = get_varint(&r);
  if (r.bad || n == 0 || n > DLE_CHUNK_MAX || (expect_n && n != expect_n))
    return corrupt(err, "sample count");
  c->n = (size_t)n;
  c->max_gpus = 0;
  memset(c->slot_n, 0, sizeof c->slot_n);
  for (size_t i = 0; i < c->n; i++) {
    uint8_t g = get_u8(&r);
    if (g > DLE_MAX_GPUS) return corrupt(err, "GPU count");
    c->n_gpus[i] = g;
    if (g > c->max_gpus) c->max_gpus = g;
    for (uint8_t j = 0; j < g; j++) c->slot_n[j]++;
  }
  for (int k = 0; k < DLE_CHUNK_HOST_COLS && !r.bad; k++) decode_column(&r, c->host[k], c->n);
  for (uint32_t g = 0; g < c->max_gpus && !r.bad; g++) {
    size_t m = c->slot_n[g];
    if (!c->dev[g]) {
      c->dev[g] = malloc(DLE_CHUNK_MAX * sizeof *c->dev[g]);
      for (int k = 0; k < DLE_CHUNK_GPU_COLS; k++)
        c->gpu[g][k] = malloc(DLE_CHUNK_MAX * sizeof(double));
      int ok = c->dev[g] != NULL;
      for (int k = 0; k < DLE_CHUNK_GPU_COLS; k++) ok = ok && c->gpu[g][k];
      if (!ok) return dle_error_set(err, DLE_ENOMEM, "out of memory reading samples");
    }
    int64_t prev = 0;
    for (size_t i = 0; i < m; i++) {
      prev = (int64_t)((uint64_t)prev + (uint64_t)unzigzag(get_varint(&r)));
      c->dev[g][i] = (uint32_t)prev;
    }
    for (int k = 0; k < DLE_CHUNK_GPU_COLS && !r.bad; k++) decode_column(&r, c->gpu[g][k], m);
  }
  if (r.bad || r.p != r.end) return corrupt(err, "truncated or trailing data");
  memset(c->cursor, 0, sizeof c->cursor);
  c->next = 0;
  return DLE_OK;
}

void dle_chunk_next_sample(dle_chunk *c, dle_sample *s) {
  size_t i = c->next++;
  s->t_s = c->host[0][i];
  s->wall_s = c->host[1][i];
  s->cpu_util_pct = c->host[2][i];
  s->rss_mib = c->host[3][i];
  s->cpu_power_w = c->host[4][i];
  s->dram_power_w = c->host[5][i];
  s->ram_power_w = c->host[6][i];
  s->cpu_energy_counter_j = c->host[7][i];
  s->dram_energy_counter_j = c->host[8][i];
  uint32_t ng = c->n_gpus[i];
  for (uint32_t g = 0; g < ng; g++) {
    size_t j = c->cursor[g]++;
    dle_gpu_sample *x = &s->gpu[g];
    x->device_index = c->dev[g][j];
    x->power_w = c->gpu[g][0][j];
    x->energy_counter_j = c->gpu[g][1][j];
    x->util_gpu_pct = c->gpu[g][2][j];
    x->util_mem_pct = c->gpu[g][3][j];
    x->mem_used_mib = c->gpu[g][4][j];
    x->mem_total_mib = c->gpu[g][5][j];
    x->temp_c = c->gpu[g][6][j];
    x->power_limit_w = c->gpu[g][7][j];
  }
  /* slots this sample lacks read as cleared (as dle_sample_clear leaves them) */
  for (uint32_t g = ng; g < s->n_gpus && g < DLE_MAX_GPUS; g++) {
    dle_gpu_sample *x = &s->gpu[g];
    x->device_index = g;
    x->power_w = x->energy_counter_j = x->util_gpu_pct = x->util_mem_pct = NAN;
    x->mem_used_mib = x->mem_total_mib = x->temp_c = x->power_limit_w = NAN;
  }
  s->n_gpus = ng;
}
