/* chunk.h — the compressed sample chunk codec shared by the SQLite and PostgreSQL
 * backends (internal to src/store; tests include it for the round-trip checks).
 *
 * A chunk holds up to DLE_CHUNK_MAX consecutive samples of one run as columns:
 * the GPU count of every sample, the nine host columns, and per GPU slot the
 * device index and the eight GPU columns of the samples that have that slot.
 * Each double column is encoded on its own, the cheapest of:
 *   - "all NaN" (no payload),
 *   - decimal: v = m / 10^k for one k (0..15) per column, the integers m stored
 *     as zig-zag varint deltas; values that do not read back bit for bit that way
 *     (NaN, -0, more digits) are kept as raw 64-bit exceptions,
 *   - integer delta of the value's bits from the previous value's, zig-zag
 *     varints (schema 3; neighbours sharing sign, exponent and high mantissa: a
 *     wall clock, a slowly moving modelled power),
 *   - XOR with the previous value's bits, stored byte plane by byte plane,
 * and the whole chunk is then compressed with zstd. Lossless: every double,
 * NaN payloads and -0 included, decodes to the same bits (the encoder checks
 * each decimal value by decoding it). Format byte 1; see docs/store.md. */
#ifndef DLE_STORE_CHUNK_H
#define DLE_STORE_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"

enum { DLE_CHUNK_MAX = 4096, DLE_CHUNK_HOST_COLS = 9, DLE_CHUNK_GPU_COLS = 8 };

/* Encodes samples[0..n) (1 <= n <= DLE_CHUNK_MAX) into a malloc'd blob. */
int dle_chunk_encode(const dle_sample *samples, size_t n, uint8_t **blob, size_t *blob_len,
                     dle_error *err);

/* A writer's open chunk: up to DLE_CHUNK_MAX samples kept as the columns the chunk
 * stores (a sample is scattered once when pushed, not gathered again on every
 * encode), with the encoder's buffers and zstd context reused across encodes. */
typedef struct dle_chunk_buf dle_chunk_buf;
dle_chunk_buf *dle_chunk_buf_new(void);
void dle_chunk_buf_free(dle_chunk_buf *b);
size_t dle_chunk_buf_len(const dle_chunk_buf *b);
/* Keeps the first n samples (0: empty). */
void dle_chunk_buf_truncate(dle_chunk_buf *b, size_t n);
/* Appends one sample (DLE_EINVAL when the chunk is full). */
int dle_chunk_buf_push(dle_chunk_buf *b, const dle_sample *s, dle_error *err);
/* Encodes samples [from, to) into a blob owned by b (valid until the next encode or
 * free); the bytes equal dle_chunk_encode's of the same samples. */
int dle_chunk_buf_encode(dle_chunk_buf *b, size_t from, size_t to, const uint8_t **blob,
                         size_t *blob_len, dle_error *err);

/* A decoded chunk, as columns. */
typedef struct dle_chunk {
  size_t n;
  uint8_t n_gpus[DLE_CHUNK_MAX];
  double host[DLE_CHUNK_HOST_COLS][DLE_CHUNK_MAX];
  uint32_t max_gpus;
  size_t slot_n[DLE_MAX_GPUS];           /* samples that have slot g */
  uint32_t *dev[DLE_MAX_GPUS];           /* [slot_n[g]] */
  double *gpu[DLE_MAX_GPUS][DLE_CHUNK_GPU_COLS]; /* [slot_n[g]] */
  uint8_t *raw;                          /* decompression buffer */
  size_t raw_cap;
  void *dctx;                            /* ZSTD_DCtx, reused across decodes */
  size_t cursor[DLE_MAX_GPUS];           /* for dle_chunk_sample's sequential walk */
  size_t next;
} dle_chunk;

/* A reader keeps one and decodes every chunk into it: its columns, buffers and zstd
 * context are reused (a fresh ~0.3 MB chunk per run cost page faults). */
dle_chunk *dle_chunk_new(void);
void dle_chunk_free(dle_chunk *c);
/* Decodes a blob into c (reusing its buffers); expect_n is the row's count
 * (0: not checked). A corrupt blob is DLE_EDB with a message, never a crash. */
int dle_chunk_decode(dle_chunk *c, const uint8_t *blob, size_t blob_len, size_t expect_n,
                     dle_error *err);
/* Fills s with the chunk's next sample (call n times, in order, after decode). */
void dle_chunk_next_sample(dle_chunk *c, dle_sample *s);

#endif
