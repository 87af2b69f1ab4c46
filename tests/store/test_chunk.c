/* test_chunk.c — the sample chunk codec (src/store/chunk.c) is lossless: every
 * double, NaN payloads and -0 included, decodes to the same bits, for decimal
 * columns (the delta path), for arbitrary bits (the XOR path), for mixtures with
 * exceptions, for changing GPU counts, and at the chunk size limits; corrupt and
 * truncated blobs are refused with an error, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/chunk.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next_u64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static double bits_double(uint64_t u) {
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}
static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* A value of kind k for sample i: decimal, counter-like, random bits, special. */
static double value(int kind, size_t i) {
  switch (kind) {
    case 0: return (double)(int64_t)(next_u64() % 40000) / 100.0;      /* 123.45 W */
    case 1: return 1.7e9 + (double)i * 0.1;                            /* wall clock */
    case 2: return bits_double(next_u64());                            /* anything */
    case 3: {
      uint64_t r = next_u64() % 6;
      return r == 0 ? -0.0 : r == 1 ? bits_double(0x7ff8000000000123ull) /* NaN payload */
             : r == 2 ? 1.0 / 0.0 : r == 3 ? NAN : (double)i / 3.0;
    }
    case 4: return NAN;
    default: return 42.0;
  }
}

static void fill(dle_sample *s, size_t n, int kind_host, int kind_gpu, int vary_gpus) {
  for (size_t i = 0; i < n; i++) {
    dle_sample_clear(&s[i]);
    double *h = &s[i].t_s;
    for (int c = 0; c < DLE_CHUNK_HOST_COLS; c++) h[c] = value((kind_host + c) % 6, i);
    s[i].n_gpus = vary_gpus ? (uint32_t)(next_u64() % 4) : 2;
    if (vary_gpus && i % 97 == 5) s[i].n_gpus = DLE_MAX_GPUS;
    for (uint32_t g = 0; g < s[i].n_gpus; g++) {
      dle_gpu_sample *x = &s[i].gpu[g];
      x->device_index = g * 2 + (uint32_t)(i % 3 == 0);
      double *v = &x->power_w;
      for (int c = 0; c < DLE_CHUNK_GPU_COLS; c++) v[c] = value((kind_gpu + c) % 6, i);
    }
  }
}

static int round_trip(const dle_sample *s, size_t n, size_t *blob_len) {
  uint8_t *blob = NULL;
  dle_error e = {0};
  if (dle_chunk_encode(s, n, &blob, blob_len, &e)) {
    fprintf(stderr, "encode: %s\n", e.msg);
    return 0;
  }
  dle_chunk *c = dle_chunk_new();
  int ok = dle_chunk_decode(c, blob, *blob_len, n, &e) == DLE_OK && c->n == n;
  dle_sample *out = malloc(sizeof *out);
  dle_sample_clear(out);
  for (size_t i = 0; ok && i < n; i++) {
    dle_chunk_next_sample(c, out);
    const double *a = &s[i].t_s, *b = &out->t_s;
    for (int k = 0; k < DLE_CHUNK_HOST_COLS; k++) ok = ok && same_bits(a[k], b[k]);
    ok = ok && out->n_gpus == s[i].n_gpus;
    for (uint32_t g = 0; ok && g < s[i].n_gpus; g++) {
      const dle_gpu_sample *x = &s[i].gpu[g], *y = &out->gpu[g];
      ok = x->device_index == y->device_index;
      for (int k = 0; k < DLE_CHUNK_GPU_COLS; k++) ok = ok && same_bits((&x->power_w)[k], (&y->power_w)[k]);
    }
    for (uint32_t g = s[i].n_gpus; ok && g < DLE_MAX_GPUS; g++) ok = isnan(out->gpu[g].power_w);
    if (!ok) fprintf(stderr, "sample %zu differs\n", i);
  }
  /* every truncation of the blob is refused, never read past its end */
  for (size_t cut = 0; ok && cut < *blob_len; cut += 1 + *blob_len / 50)
    ok = dle_chunk_decode(c, blob, cut, n, &e) == DLE_EDB;
  /* the wrong expected count is refused */
  if (ok) ok = dle_chunk_decode(c, blob, *blob_len, n + 1, &e) == DLE_EDB;
  free(out);
  dle_chunk_free(c);
  free(blob);
  return ok;
}

int main(void) {
  dle_sample *s = malloc(DLE_CHUNK_MAX * sizeof *s);
  size_t len = 0;
  for (int kh = 0; kh < 6; kh++)
    for (int kg = 0; kg < 6; kg++) {
      fill(s, 300, kh, kg, (kh + kg) % 2);
      CHECK_MSG(round_trip(s, 300, &len), "host kind %d, GPU kind %d", kh, kg);
    }
  fill(s, 1, 0, 2, 1);
  CHECK(round_trip(s, 1, &len));
  fill(s, DLE_CHUNK_MAX, 3, 1, 1);
  CHECK(round_trip(s, DLE_CHUNK_MAX, &len));
  /* decimal readings compress: 4096 samples of a 10 Hz one-GPU trace */
  for (size_t i = 0; i < DLE_CHUNK_MAX; i++) {
    dle_sample_clear(&s[i]);
    s[i].t_s = (double)i / 10.0;
    s[i].wall_s = (1700000000000.0 + 100.0 * (double)i) / 1000.0;
    s[i].cpu_util_pct = (double)(next_u64() % 1000) / 10.0;
    s[i].n_gpus = 1;
    s[i].gpu[0].power_w = 200.0 + (double)(next_u64() % 2000) / 100.0;
    s[i].gpu[0].util_gpu_pct = 99;
    s[i].gpu[0].temp_c = 60 + (double)(i / 500);
  }
  CHECK(round_trip(s, DLE_CHUNK_MAX, &len));
  printf("decimal trace: %zu bytes for %d samples (%.2f bytes/sample)\n", len, DLE_CHUNK_MAX,
         (double)len / DLE_CHUNK_MAX);
  CHECK_MSG(len < 6 * DLE_CHUNK_MAX, "%zu bytes", len);
  /* bit patterns that no decimal scale serves but that move slowly (the integer-delta
   * mode): a wall clock made as the importer makes it (ns / 1e9 beyond 2^53 ns) and a
   * modelled RAM power (W per GB x RSS) */
  for (size_t i = 0; i < DLE_CHUNK_MAX; i++) {
    dle_sample_clear(&s[i]);
    int64_t ns = INT64_C(1667000000123000000) + (int64_t)i * 100000000 +
                 (int64_t)(next_u64() % 5000) * 1000000;
    s[i].t_s = (double)i / 10.0;
    s[i].wall_s = (double)ns / 1e9;
    s[i].rss_mib = 12000.0 + (double)(i / 50) * 0.125;
    s[i].ram_power_w = s[i].rss_mib / 1024.0 * 0.375;
    s[i].n_gpus = 0;
  }
  CHECK(round_trip(s, DLE_CHUNK_MAX, &len));
  printf("wall clock + modelled RAM power: %zu bytes for %d samples (%.2f bytes/sample)\n", len,
         DLE_CHUNK_MAX, (double)len / DLE_CHUNK_MAX);
  CHECK_MSG(len < 5 * DLE_CHUNK_MAX, "%zu bytes", len);
  {
    /* before zstd (the length after the format byte): both columns as short deltas,
     * not 8-byte XOR planes (16 bytes a sample for the two) */
    uint8_t *blob = NULL;
    size_t blen = 0;
    dle_error e0 = {0};
    CHECK(dle_chunk_encode(s, DLE_CHUNK_MAX, &blob, &blen, &e0) == DLE_OK);
    uint64_t raw_len = 0;
    for (size_t i = 1, shift = 0; blob && i < blen && shift < 64; i++, shift += 7) {
      raw_len |= (uint64_t)(blob[i] & 0x7f) << shift;
      if (!(blob[i] & 0x80)) break;
    }
    printf("  before zstd: %.2f bytes/sample\n", (double)raw_len / DLE_CHUNK_MAX);
    CHECK_MSG(raw_len < 12 * DLE_CHUNK_MAX, "%llu raw bytes", (unsigned long long)raw_len);
    free(blob);
  }
  /* the writer's open chunk: any range [from, to) of its columns encodes to the same
   * bytes as the samples of that range; truncating and pushing again reuses the slots */
  dle_error e = {0};
  fill(s, 1000, 3, 2, 1);
  dle_chunk_buf *cb = dle_chunk_buf_new();
  for (size_t i = 0; i < 1000; i++) CHECK(dle_chunk_buf_push(cb, &s[i], &e) == DLE_OK);
  CHECK(dle_chunk_buf_len(cb) == 1000);
  static const size_t ranges[][2] = {{0, 1000}, {0, 1}, {999, 1000}, {5, 6}, {17, 640}, {100, 1000}};
  for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
    size_t from = ranges[r][0], to = ranges[r][1];
    const uint8_t *b1 = NULL;
    size_t l1 = 0, l2 = 0;
    uint8_t *b2 = NULL;
    CHECK(dle_chunk_buf_encode(cb, from, to, &b1, &l1, &e) == DLE_OK);
    CHECK(dle_chunk_encode(s + from, to - from, &b2, &l2, &e) == DLE_OK);
    CHECK_MSG(l1 == l2 && b1 && b2 && memcmp(b1, b2, l1) == 0, "range [%zu, %zu)", from, to);
    free(b2);
  }
  const uint8_t *bp = NULL;
  size_t bl = 0;
  CHECK(dle_chunk_buf_encode(cb, 10, 10, &bp, &bl, &e) == DLE_EINVAL);
  CHECK(dle_chunk_buf_encode(cb, 0, 1001, &bp, &bl, &e) == DLE_EINVAL);
  dle_chunk_buf_truncate(cb, 300);
  CHECK(dle_chunk_buf_len(cb) == 300);
  fill(s + 300, 200, 1, 4, 1); /* other GPU counts after the cut */
  for (size_t i = 300; i < 500; i++) CHECK(dle_chunk_buf_push(cb, &s[i], &e) == DLE_OK);
  {
    const uint8_t *b1 = NULL;
    size_t l1 = 0, l2 = 0;
    uint8_t *b2 = NULL;
    CHECK(dle_chunk_buf_encode(cb, 0, 500, &b1, &l1, &e) == DLE_OK);
    CHECK(dle_chunk_encode(s, 500, &b2, &l2, &e) == DLE_OK);
    CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0);
    free(b2);
  }
  dle_chunk_buf_truncate(cb, 0);
  for (size_t i = 0; i < DLE_CHUNK_MAX; i++) CHECK(dle_chunk_buf_push(cb, &s[0], &e) == DLE_OK);
  CHECK(dle_chunk_buf_push(cb, &s[0], &e) == DLE_EINVAL); /* full */
  dle_chunk_buf_free(cb);
  /* limits and junk */
  uint8_t *blob = NULL;
  CHECK(dle_chunk_encode(s, 0, &blob, &len, &e) == DLE_EINVAL);
  CHECK(dle_chunk_encode(s, DLE_CHUNK_MAX + 1, &blob, &len, &e) == DLE_EINVAL);
  dle_chunk *c = dle_chunk_new();
  uint8_t junk[256];
  for (int t = 0; t < 200; t++) {
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)next_u64();
    junk[0] = 1;
    CHECK(dle_chunk_decode(c, junk, sizeof junk, 0, &e) == DLE_EDB);
  }
  dle_chunk_free(c);
  free(s);
  return check_finish();
}
