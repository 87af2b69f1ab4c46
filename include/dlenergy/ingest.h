/* ingest.h — reading the logs of other tools into dlenergy samples: nvidia-smi
 * `--query-gpu=... --format=csv` files (both header styles of the SEAA 2023 study),
 * the study's psutil CPU/memory CSV, plain or gzip; and the small comma-separated
 * tables (runs.csv) that describe a batch of runs.
 *
 * Timestamps in these logs are local wall-clock time with no zone. They are converted
 * with fixed calendar arithmetic as if they were UTC (no mktime, no TZ), kept to the
 * nanosecond as integers, so sample times (t_s, relative to the first kept sample) are
 * exact differences. wall_s therefore holds "local time read as UTC".
 *
 * Outcomes for bad input (all counted in dle_ingest_stats, the first one described in
 * first_warning):
 *   - garbage line, wrong field count, unparsable timestamp or power: line skipped;
 *   - a final GPU line with no line end (nvidia-smi killed mid-write): skipped as cut
 *     off, even when its fields parse (a cut value such as temperature "5" of "53"
 *     cannot be told apart);
 *   - a row whose timestamp is earlier than the previous row's (non-monotonic): dropped;
 *   - a row whose timestamp jumps more than max_gap_s ahead while the next row comes
 *     back (e.g. a year typo): dropped; a real jump > max_gap_s: a gap sample (all NaN)
 *     is inserted so no energy is integrated across it, warned;
 *   - a second row for the same device at the same timestamp (duplicate): dropped;
 *     without a device column the number of GPUs is the most common number of rows per
 *     timestamp, so a duplicated first row is no phantom second GPU;
 *   - impossible readings (negative, non-finite or far above the board's limit power,
 *     utilization outside 0..100): NaN (a gap), counted;
 *   - a sample missing a GPU's power (a GPU's row absent or impossible): every GPU
 *     power of that sample is NaN (a gap), counted: a missing reading is never 0 W;
 *   - fewer than two samples with a GPU power: the call fails (no energy to integrate);
 *   - `[N/A]`, `[Not Supported]`, `N/A`, empty → NaN (not a warning);
 *   - truncated gzip stream: the data decompressed so far is used, gzip_truncated is
 *     set and a warning is counted (a cut log is still a log; the cut line is skipped);
 *   - bytes after the gzip stream that are not gzip: ignored, gzip_trailing, warned;
 *   - a GPU file with no usable row, a missing timestamp or power.draw column, an
 *     unreadable file: the call fails (DLE_EPARSE / DLE_EIO / DLE_ENOTFOUND).
 *
 * Trimming (skip_first / skip_last) counts samples as the file holds them, before any
 * row is dropped: a bad or cut line still counts as one. With one GPU a sample is one
 * line, which is the study authors' rule ("drop the first 3 and last 3 data lines").
 *
 * Several GPUs: with an `index`, `uuid` or `pci.bus_id` column, each distinct value is
 * a device and a sample is a run of rows that does not repeat a device; without one,
 * the rows that share a timestamp form one sample, one device per row in file order. */
#ifndef DLENERGY_INGEST_H
#define DLENERGY_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/sample.h"
#include "dlenergy/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_ingest_options {
  size_t skip_first;        /* samples dropped at the start */
  size_t skip_last;         /* samples dropped at the end */
  int integer_values;       /* the study's procedure: every numeric GPU field is replaced
                               by its integer part ("119.17 W" -> 119) */
  double join_tolerance_s;  /* CPU sample joined to a GPU sample when within this (1 s) */
  double ram_w_per_gb;      /* modelled RAM power from the CPU log's RSS (0.375) */
  double cpu_tdp_w;         /* when > 0: modelled CPU power = TDP x utilization; NaN: none */
  double max_gap_s;         /* a forward jump between samples longer than this (60 s) is a
                               gap: warned about and not integrated across */
  double max_power_w;       /* a GPU power above this is impossible when the log has no
                               power.max_limit (5000 W; with it: 2 x power.max_limit) */
} dle_ingest_options;

void dle_ingest_options_init(dle_ingest_options *o);

typedef struct dle_ingest_stats {
  size_t gpu_lines;         /* GPU data lines (header excluded, cut final line included) */
  size_t gpu_bad_lines;     /* skipped: garbage, short, unparsable */
  size_t gpu_cut_lines;     /* skipped: final line with no line end */
  size_t gpu_out_of_order;  /* dropped: timestamp before the previous sample's */
  size_t gpu_duplicates;    /* dropped: same device twice at one timestamp */
  size_t cpu_lines;
  size_t cpu_bad_lines;
  size_t cpu_out_of_order;  /* includes duplicate timestamps */
  size_t cpu_matched;       /* GPU samples that got a CPU sample */
  size_t trimmed;           /* samples removed by skip_first/skip_last */
  size_t gpu_impossible;    /* readings made gaps: negative, non-finite or far above the
                               board's limit power; utilization outside 0..100 */
  size_t gpu_incomplete;    /* samples missing a GPU's power: a gap for the whole sample
                               (a missing reading is never 0 W) */
  size_t gpu_gaps;          /* forward timestamp jumps > max_gap_s (not integrated across) */
  size_t gpu_time_outliers; /* rows whose timestamp jumps ahead and the next row comes back
                               (dropped) */
  int gzip_truncated;       /* 1 when a gzip stream ended early (GPU or CPU file) */
  int gzip_trailing;        /* 1 when bytes that are not gzip follow a gzip stream */
  size_t warnings;          /* total of the skipped/dropped counts + truncations */
  char first_warning[256];  /* "" when none */
} dle_ingest_stats;

struct dle_import_data; /* internal */

/* The result of an import: n samples in time order, read with dle_import_sample(s)
 * (e.g. in chunks for dle_store_append_samples) or dle_import_to_trace. */
typedef struct dle_import {
  struct dle_import_data *data;
  size_t n;
  uint32_t n_gpus;
  char gpu_name[128];           /* first device's name, "" when the log has none */
  double gpu_max_power_limit_w; /* power.max_limit of the first device (sum when several
                                   devices); NaN when absent */
  double start_wall_s;          /* wall_s of samples[0] (local time read as UTC) */
  int64_t start_wall_ns;        /* the same, exact */
  double duration_s;            /* last minus first kept sample time */
  double interval_s;            /* median spacing of the kept samples; NaN when n < 2 */
  dle_ingest_stats stats;
} dle_import;

/* Reads an nvidia-smi CSV and optionally (cpu_path != NULL) a psutil CSV, gzip or plain
 * (detected from content, not the name). Samples: t_s relative to the first kept
 * sample; GPU fields per device; from the CPU log (nearest sample within the join
 * tolerance; GPU samples with none are kept with NaN there): cpu_util_pct, rss_mib,
 * ram_power_w (modelled) and cpu_power_w (modelled, only with cpu_tdp_w). */
int dle_import_nvidia_smi(const char *gpu_path, const char *cpu_path,
                          const dle_ingest_options *opt, dle_import *out, dle_error *err);
/* The same from memory (cpu may be NULL). Used by the tests and fuzzers. */
int dle_import_nvidia_smi_buf(const char *gpu, size_t gpu_len, const char *cpu,
                              size_t cpu_len, const dle_ingest_options *opt, dle_import *out,
                              dle_error *err);
void dle_import_free(dle_import *imp);
/* Sample i (0 <= i < n) as a dle_sample; out need not be initialized. */
int dle_import_sample(const dle_import *imp, size_t i, dle_sample *out);
/* Samples first .. first+n-1 into out[0..n), for bulk copies: writes each sample's host
 * fields and gpu[0..n_gpus) only (the slots from n_gpus on are left as they were). */
int dle_import_samples(const dle_import *imp, size_t first, size_t n, dle_sample *out);
/* Appends the import's samples to a trace (zero-initialized or holding rows). */
int dle_import_to_trace(const dle_import *imp, dle_trace *t, dle_error *err);

/* Reads a whole file, gunzipping when it starts with the gzip magic (concatenated
 * members too). *gzip_flags (may be NULL) gets DLE_GZIP_TRUNCATED when the stream is
 * cut short (the bytes so far are returned: not an error) and DLE_GZIP_TRAILING when
 * bytes that are not gzip follow the last member (ignored). Corrupt deflate data is
 * DLE_EPARSE. */
enum { DLE_GZIP_TRUNCATED = 1, DLE_GZIP_TRAILING = 2 };
int dle_ingest_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len,
                         int *gzip_flags, dle_error *err);

/* Parses "YYYY-MM-DD HH:MM:SS[.frac]", "YYYY/MM/DD ...", or with 'T' between date and
 * time, into nanoseconds since 1970-01-01 read as UTC. The whole [s, s+len) must be
 * the timestamp (surrounding spaces allowed). Up to 9 fraction digits (more are
 * ignored); years 1970..2200 (DLE_EPARSE outside). */
int dle_ingest_parse_timestamp(const char *s, size_t len, int64_t *out_ns);

/* Parses an nvidia-smi value ("119.17 W", "0 %", "24268 MiB", "55", "[N/A]") into
 * *out (NaN for N/A-like values). integer_part: keep only the digits before the
 * point. DLE_EPARSE when the field is not a number with an optional unit. */
int dle_ingest_parse_value(const char *s, size_t len, int integer_part, double *out);

/* ---- simple CSV tables (runs.csv): header row, no quoting, comma-separated ---- */
typedef struct dle_csv_table dle_csv_table;
int dle_csv_table_read(const char *path, dle_csv_table **out, dle_error *err);
void dle_csv_table_free(dle_csv_table *t);
size_t dle_csv_table_rows(const dle_csv_table *t);
size_t dle_csv_table_cols(const dle_csv_table *t);
const char *dle_csv_table_header(const dle_csv_table *t, size_t col);
/* Column index of a header name, or -1. */
long dle_csv_table_col(const dle_csv_table *t, const char *name);
/* Cell text ("" for a short row); NULL when row/col are out of range. */
const char *dle_csv_table_cell(const dle_csv_table *t, size_t row, size_t col);

#ifdef __cplusplus
}
#endif
#endif
