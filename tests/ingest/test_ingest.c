/* Tests of the importers on small hand-made logs: both nvidia-smi header styles,
 * unit strings and N/A values, timestamps, a cut final line, several GPUs, the psutil
 * join, gzip (whole and truncated), each bad case, and a mutation fuzzer that must
 * never crash (run under ASan+UBSan in CI). */
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "dlenergy/energy.h"
#include "dlenergy/ingest.h"

static const char *FMT_A =
    "timestamp,gpu_name,gpu_usage,gpu_memory_usage,gpu_total_memory,gpu_memory_used,"
    "gpu_power_draw,gpu_max_power,gpu_temperature\n"
    "2022-12-05 09:55:42.535,NVIDIA GeForce RTX 3090,0 %,0 %,24268 MiB,23573 MiB,119.17 W,350.00 W,55\n"
    "2022-12-05 09:55:43.536,NVIDIA GeForce RTX 3090,10 %,5 %,24268 MiB,23573 MiB,120.50 W,350.00 W,56\n"
    "2022-12-05 09:55:44.540,NVIDIA GeForce RTX 3090,99 %,40 %,24268 MiB,23600 MiB,300.99 W,350.00 W,60\n"
    "2022-12-05 09:55:45.541,NVIDIA GeForce RTX 3090,100 %,41 %,24268 MiB,23600 MiB,310.01 W,350.00 W,61\n";

static const char *FMT_B =
    "timestamp, name, utilization.gpu [%], utilization.memory [%], memory.total [MiB], "
    "memory.used [MiB], power.draw [W], power.max_limit [W], temperature.gpu\n"
    "2022/12/05 09:55:42.535, NVIDIA GeForce RTX 3090, 0 %, 0 %, 24268 MiB, 23573 MiB, 119.17 W, 350.00 W, 55\n"
    "2022/12/05 09:55:43.536, NVIDIA GeForce RTX 3090, 10 %, 5 %, 24268 MiB, 23573 MiB, 120.50 W, 350.00 W, 56\n"
    "2022/12/05 09:55:44.540, NVIDIA GeForce RTX 3090, 99 %, 40 %, 24268 MiB, 23600 MiB, 300.99 W, 350.00 W, 60\n"
    "2022/12/05 09:55:45.541, NVIDIA GeForce RTX 3090, 100 %, 41 %, 24268 MiB, 23600 MiB, 310.01 W, 350.00 W, 61\n";

/* Sample i of an import (a fresh copy each call, in one of a few rotating slots). */
static const dle_sample *S(const dle_import *imp, size_t i) {
  static dle_sample slot[4];
  static int k;
  dle_sample *s = &slot[k++ & 3];
  if (dle_import_sample(imp, i, s) != 0) dle_sample_clear(s);
  return s;
}

static int import_str(const char *gpu, const char *cpu, const dle_ingest_options *o,
                      dle_import *imp, dle_error *e) {
  return dle_import_nvidia_smi_buf(gpu, strlen(gpu), cpu, cpu ? strlen(cpu) : 0, o, imp, e);
}

static void test_timestamps(void) {
  int64_t ns;
  CHECK(dle_ingest_parse_timestamp("1970-01-01 00:00:00", 19, &ns) == 0 && ns == 0);
  CHECK(dle_ingest_parse_timestamp("8022-12-05 09:55:42", 19, &ns) == DLE_EPARSE); /* no overflow */
  CHECK(dle_ingest_parse_timestamp("1969-12-31 23:59:59", 19, &ns) == DLE_EPARSE);
  CHECK(dle_ingest_parse_timestamp("2000-03-01 00:00:00", 19, &ns) == 0 &&
        ns == INT64_C(951868800) * 1000000000);
  const char *a = "2022-12-05 09:55:42.535";
  CHECK(dle_ingest_parse_timestamp(a, strlen(a), &ns) == 0 &&
        ns == INT64_C(1670234142) * 1000000000 + 535000000);
  int64_t ns2;
  const char *b = "2022/12/05 09:55:42.535";
  CHECK(dle_ingest_parse_timestamp(b, strlen(b), &ns2) == 0 && ns2 == ns);
  const char *c = "2022-12-05T09:55:42.535000";
  CHECK(dle_ingest_parse_timestamp(c, strlen(c), &ns2) == 0 && ns2 == ns);
  const char *d = " 2023-02-24T11:51:45 ";
  CHECK(dle_ingest_parse_timestamp(d, strlen(d), &ns2) == 0 &&
        ns2 == INT64_C(1677239505) * 1000000000);
  const char *leap = "2024-02-29 23:59:59.999999999";
  CHECK(dle_ingest_parse_timestamp(leap, strlen(leap), &ns2) == 0 &&
        ns2 == INT64_C(1709251199) * 1000000000 + 999999999);
  const char *bad[] = {"2023-02-29 00:00:00", "2022-13-01 00:00:00", "2022-12-05 24:00:00",
                       "2022-12-05 09:55", "2022-12-05 09:55:42.", "2022-12-05 09:55:42x",
                       "2022.12.05 09:55:42", "2022-12/05 09:55:42", "garbage", "",
                       "2022-12-05 09:5a:42"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(dle_ingest_parse_timestamp(bad[i], strlen(bad[i]), &ns2) == DLE_EPARSE, "%s",
              bad[i]);
}

static void test_values(void) {
  double v;
  const char *ok[] = {"119.17 W", "7.58 W", "0 %", "24268 MiB", "55", " 350.00 W ", "1e3", "-3.5"};
  double want[] = {119.17, 7.58, 0, 24268, 55, 350, 1000, -3.5};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    CHECK_MSG(dle_ingest_parse_value(ok[i], strlen(ok[i]), 0, &v) == 0 && v == want[i],
              "%s -> %.17g", ok[i], v);
  }
  /* Exactly strtod's rounding on many two-decimal watts. */
  int same = 1;
  for (int w = 0; w < 40000; w++) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d.%02d W", w / 100, w % 100);
    double s = strtod(buf, NULL);
    if (dle_ingest_parse_value(buf, (size_t)n, 0, &v) != 0 || v != s) same = 0;
  }
  CHECK(same);
  CHECK(dle_ingest_parse_value("119.17 W", 8, 1, &v) == 0 && v == 119);
  CHECK(dle_ingest_parse_value("7.99 W", 6, 1, &v) == 0 && v == 7);
  const char *na[] = {"[N/A]", "[Not Supported]", "N/A", "", "  ", "[Unknown Error]"};
  for (size_t i = 0; i < sizeof na / sizeof na[0]; i++)
    CHECK_MSG(dle_ingest_parse_value(na[i], strlen(na[i]), 0, &v) == 0 && isnan(v), "%s", na[i]);
  const char *bad[] = {"W", "abc", "12 W x", "12W3", "1.2.3", "--1", ".", "12  W", "1e"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(dle_ingest_parse_value(bad[i], strlen(bad[i]), 0, &v) == DLE_EPARSE, "%s", bad[i]);
}

static void test_formats(void) {
  dle_import a, b;
  dle_error e;
  CHECK_OK(import_str(FMT_A, NULL, NULL, &a, &e), &e);
  CHECK_OK(import_str(FMT_B, NULL, NULL, &b, &e), &e);
  CHECK(a.n == 4 && b.n == 4);
  for (size_t i = 0; i < a.n && i < b.n; i++) {
    CHECK(S(&a, i)->t_s == S(&b, i)->t_s);
    CHECK(S(&a, i)->gpu[0].power_w == S(&b, i)->gpu[0].power_w);
    CHECK(S(&a, i)->gpu[0].util_gpu_pct == S(&b, i)->gpu[0].util_gpu_pct);
    CHECK(S(&a, i)->gpu[0].mem_used_mib == S(&b, i)->gpu[0].mem_used_mib);
    CHECK(S(&a, i)->gpu[0].temp_c == S(&b, i)->gpu[0].temp_c);
  }
  CHECK(S(&a, 0)->t_s == 0);
  CHECK_NEAR(S(&a, 3)->t_s, 3.006, 1e-12);
  CHECK(S(&a, 2)->gpu[0].power_w == 300.99 && S(&a, 2)->gpu[0].util_mem_pct == 40);
  CHECK(S(&a, 0)->gpu[0].mem_total_mib == 24268);
  CHECK(strcmp(a.gpu_name, "NVIDIA GeForce RTX 3090") == 0);
  CHECK(a.gpu_max_power_limit_w == 350 && a.n_gpus == 1);
  CHECK_NEAR(a.start_wall_s, 1670234142.535, 1e-6);
  CHECK_NEAR(a.interval_s, 1.001, 1e-9); /* median of 1.001, 1.004, 1.001 */
  CHECK(a.stats.warnings == 0 && a.stats.gpu_lines == 4);
  CHECK(isnan(S(&a, 0)->cpu_util_pct) && isnan(S(&a, 0)->ram_power_w));
  dle_trace t = {0};
  CHECK_OK(dle_import_to_trace(&a, &t, &e), &e);
  double ej;
  dle_energy_trapezoid_j(t.t_s, t.gpu_power_w, t.n, &ej);
  double want = 1.001 * (119.17 + 120.50) / 2 + 1.004 * (120.50 + 300.99) / 2 +
                1.001 * (300.99 + 310.01) / 2;
  CHECK_REL(ej, want, 1e-12);
  dle_trace_free(&t);
  dle_import_free(&a);
  dle_import_free(&b);

  /* Integer mode and trimming. */
  dle_ingest_options o;
  dle_ingest_options_init(&o);
  o.integer_values = 1;
  o.skip_first = 1;
  o.skip_last = 1;
  CHECK_OK(import_str(FMT_B, NULL, &o, &a, &e), &e);
  CHECK(a.n == 2 && a.stats.trimmed == 2);
  CHECK(S(&a, 0)->gpu[0].power_w == 120 && S(&a, 1)->gpu[0].power_w == 300);
  CHECK(S(&a, 0)->t_s == 0);
  dle_import_free(&a);
  o.skip_first = 2;
  o.skip_last = 2;
  CHECK(import_str(FMT_B, NULL, &o, &a, &e) == DLE_ERANGE);
  CHECK(strstr(e.msg, "nothing is left") != NULL);

  /* Newer drivers' power.draw.instant, --format=csv,nounits values. */
  const char *inst =
      "timestamp, power.draw.instant [W], utilization.gpu [%]\n"
      "2023/01/01 00:00:00.000, 100.5, 7\n"
      "2023/01/01 00:00:01.000, 101.5, 8\n";
  CHECK_OK(import_str(inst, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 2 && S(&a, 1)->gpu[0].power_w == 101.5 && S(&a, 1)->gpu[0].util_gpu_pct == 8);
  dle_import_free(&a);

  /* N/A power and extra / reordered columns, CRLF line ends. */
  const char *na =
      "temperature.gpu, power.draw [W], timestamp, clocks.sm [MHz]\r\n"
      "40, [N/A], 2023/01/01 00:00:00.000, 1200 MHz\r\n"
      "41, 100.00 W, 2023/01/01 00:00:01.000, [Not Supported]\r\n"
      "42, 100.00 W, 2023/01/01 00:00:02.000, 1200 MHz\r\n";
  CHECK_OK(import_str(na, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 3 && isnan(S(&a, 0)->gpu[0].power_w) && S(&a, 2)->gpu[0].temp_c == 42);
  CHECK(a.stats.warnings == 0);
  t = (dle_trace){0};
  dle_import_to_trace(&a, &t, &e);
  dle_trace_free(&t);
  dle_import_free(&a);
}

static void test_cut_and_bad_lines(void) {
  char buf[4096];
  dle_import a;
  dle_error e;
  /* A final line with no LF is cut off: skipped with a counted warning... */
  snprintf(buf, sizeof buf, "%s2022/12/05 09:55:46.541, NVIDIA GeForce RTX 3090, 100 %%, 4", FMT_B);
  CHECK_OK(import_str(buf, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 4 && a.stats.gpu_cut_lines == 1 && a.stats.warnings == 1 && a.stats.gpu_lines == 5);
  CHECK(strstr(a.stats.first_warning, "line 6") && strstr(a.stats.first_warning, "cut off"));
  dle_import_free(&a);
  /* ... even when all its fields parse (a cut "61" reads "6"). */
  snprintf(buf, sizeof buf, "%s2022/12/05 09:55:46.541, NVIDIA GeForce RTX 3090, 100 %%, 41 %%, 24268 MiB, 23600 MiB, 310.01 W, 350.00 W, 6", FMT_B);
  CHECK_OK(import_str(buf, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 4 && a.stats.gpu_cut_lines == 1);
  dle_import_free(&a);
  /* ... and it counts as a sample for --skip-last (the study's rule), silently. */
  dle_ingest_options o;
  dle_ingest_options_init(&o);
  o.skip_last = 1;
  CHECK_OK(import_str(buf, NULL, &o, &a, &e), &e);
  CHECK(a.n == 4 && a.stats.warnings == 0 && a.stats.gpu_cut_lines == 0);
  dle_import_free(&a);

  /* Garbage, short lines, bad values, out-of-order and duplicate timestamps. */
  const char *bad =
      "timestamp, power.draw [W], index\n"
      "2023/01/01 00:00:00.000, 100.00 W, 0\n"
      "this is not a csv line\n"
      "2023/01/01 00:00:01.000, 100.00 W\n"
      "2023/01/01 00:00:01.500, abc W, 0\n"
      "2023/01/01 00:00:02.000, 100.00 W, 0\n"
      "2023/01/01 00:00:01.000, 100.00 W, 0\n"
      "2023/01/01 00:00:02.000, 100.00 W, 0\n"
      "\n"
      "2023/13/01 00:00:03.000, 100.00 W, 0\n"
      "2023/01/01 00:00:03.000, 100.00 W, 0\n";
  CHECK_OK(import_str(bad, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 3);
  CHECK(a.stats.gpu_bad_lines == 4 && a.stats.gpu_out_of_order == 1 && a.stats.gpu_duplicates == 1);
  CHECK(a.stats.warnings == 6);
  CHECK(strstr(a.stats.first_warning, "line 3") != NULL);
  CHECK(S(&a, 2)->t_s == 3.0);
  dle_import_free(&a);

  /* Failures with clear messages. */
  CHECK(import_str("", NULL, NULL, &a, &e) == DLE_EPARSE && strstr(e.msg, "empty"));
  CHECK(import_str("timestamp, power.draw [W]\n", NULL, NULL, &a, &e) == DLE_EPARSE &&
        strstr(e.msg, "no data lines"));
  CHECK(import_str("2023/01/01 00:00:00.000, 100.00 W\n", NULL, NULL, &a, &e) == DLE_EPARSE &&
        strstr(e.msg, "timestamp"));
  CHECK(import_str("timestamp, name\n2023/01/01 00:00:00.000, x\n", NULL, NULL, &a, &e) ==
            DLE_EPARSE && strstr(e.msg, "power.draw"));
  CHECK(import_str("timestamp, power.draw\nfoo, bar\n", NULL, NULL, &a, &e) == DLE_EPARSE &&
        strstr(e.msg, "no usable"));
  CHECK(a.data == NULL && a.n == 0);
  CHECK(dle_import_nvidia_smi("/nonexistent/x.csv", NULL, NULL, &a, &e) == DLE_ENOTFOUND);
}

static void test_multi_gpu(void) {
  dle_import a;
  dle_error e;
  /* Index column: a sample is a run of rows without a repeated device. */
  const char *idx =
      "timestamp, index, name, power.draw [W], power.max_limit [W]\n"
      "2023/01/01 00:00:00.000, 0, A100, 100.00 W, 400.00 W\n"
      "2023/01/01 00:00:00.002, 1, A100, 50.00 W, 400.00 W\n"
      "2023/01/01 00:00:01.000, 0, A100, 110.00 W, 400.00 W\n"
      "2023/01/01 00:00:01.003, 1, A100, 60.00 W, 400.00 W\n"
      "2023/01/01 00:00:02.000, 1, A100, 70.00 W, 400.00 W\n"
      "2023/01/01 00:00:02.001, 0, A100, 120.00 W, 400.00 W\n";
  CHECK_OK(import_str(idx, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 3 && a.n_gpus == 2);
  CHECK(S(&a, 1)->gpu[0].power_w == 110 && S(&a, 1)->gpu[1].power_w == 60);
  CHECK(S(&a, 2)->gpu[0].power_w == 120 && S(&a, 2)->gpu[1].power_w == 70);
  CHECK(S(&a, 0)->gpu[1].device_index == 1);
  CHECK(a.gpu_max_power_limit_w == 800);
  dle_trace t = {0};
  CHECK_OK(dle_import_to_trace(&a, &t, &e), &e);
  CHECK(t.gpu_power_w[1] == 170 && t.dev_power_w[1] && t.dev_power_w[1][2] == 70);
  dle_trace_free(&t);
  dle_import_free(&a);
  /* No device column: rows sharing a timestamp are the GPUs of one sample. */
  const char *ts =
      "timestamp, power.draw [W]\n"
      "2023/01/01 00:00:00.000, 100.00 W\n"
      "2023/01/01 00:00:00.000, 50.00 W\n"
      "2023/01/01 00:00:01.000, 110.00 W\n"
      "2023/01/01 00:00:01.000, 60.00 W\n"
      "2023/01/01 00:00:01.000, 61.00 W\n"
      "2023/01/01 00:00:02.000, 120.00 W\n";
  CHECK_OK(import_str(ts, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 3 && a.n_gpus == 2);
  CHECK(S(&a, 1)->gpu[1].power_w == 60 && a.stats.gpu_duplicates == 1);
  /* The last sample lacks GPU 1: a gap for GPU 1 (NaN, never 0 W); GPU 0 keeps its
   * reading, and the trace bridges GPU 1 (never GPU 0 alone as the total). */
  CHECK(S(&a, 2)->n_gpus == 2 && isnan(S(&a, 2)->gpu[1].power_w) &&
        S(&a, 2)->gpu[0].power_w == 120);
  CHECK(a.stats.gpu_incomplete == 1);
  dle_import_free(&a);
}

static void test_cpu_join(void) {
  const char *cpu =
      "timestamp,cpu usage (%),memory usage (MB),temperature (Celsius)\n"
      "2022-12-05T09:55:42.000000,0.0,1024.0,40.0\n"
      "2022-12-05T09:55:43.900000,12.5,2048.0,41.0\n"
      "2022-12-05T09:55:43.900000,12.5,2048.0,41.0\n"
      "garbage\n"
      "2022-12-05T09:55:47.000,50.0,4096.0,45.0";
  dle_ingest_options o;
  dle_ingest_options_init(&o);
  o.cpu_tdp_w = 100;
  dle_import a;
  dle_error e;
  CHECK_OK(import_str(FMT_A, cpu, &o, &a, &e), &e);
  CHECK(a.n == 4);
  /* 42.535 -> nearest 42.000 (0.535 s); 43.536 -> 43.900; 44.540 -> 43.900 (0.64 s);
   * 45.541 -> none within 1 s (43.900 is 1.641 s away, 47.000 is 1.459 s): kept, NaN. */
  CHECK(S(&a, 0)->rss_mib == 1024 && S(&a, 1)->cpu_util_pct == 12.5);
  CHECK(S(&a, 2)->rss_mib == 2048);
  CHECK(isnan(S(&a, 3)->cpu_util_pct) && isnan(S(&a, 3)->ram_power_w));
  CHECK(a.stats.cpu_matched == 3 && a.stats.cpu_lines == 5);
  CHECK(a.stats.cpu_out_of_order == 1 && a.stats.cpu_bad_lines == 1);
  CHECK_NEAR(S(&a, 1)->ram_power_w, 0.375 * 2, 1e-15);
  CHECK_NEAR(S(&a, 1)->cpu_power_w, 12.5, 1e-12);
  dle_import_free(&a);
  o.join_tolerance_s = 0.1;
  CHECK_OK(import_str(FMT_A, cpu, &o, &a, &e), &e);
  CHECK(a.stats.cpu_matched == 0 && a.n == 4);
  dle_import_free(&a);
  CHECK(import_str(FMT_A, "", NULL, &a, &e) == DLE_EPARSE && strstr(e.msg, "CPU log"));
  CHECK(import_str(FMT_A, "cpu,mem\n1,2\n", NULL, &a, &e) == DLE_EPARSE &&
        strstr(e.msg, "timestamp"));
}

static int write_gz(const char *path, const char *data, size_t n) {
  gzFile f = gzopen(path, "wb9");
  if (!f) return -1;
  int w = gzwrite(f, data, (unsigned)n);
  gzclose(f);
  return w == (int)n ? 0 : -1;
}

static void test_gzip(void) {
  char gz[] = "ingest_test.gpu.csv.gz", plain[] = "ingest_test.gpu.csv";
  /* A longer log so that the compressed stream can be cut in the middle. */
  size_t cap = 1 << 20, n = 0;
  char *big = malloc(cap);
  n += (size_t)snprintf(big, cap, "timestamp, power.draw [W]\n");
  for (int i = 0; i < 5000; i++)
    n += (size_t)snprintf(big + n, cap - n, "2023/01/01 %02d:%02d:%02d.%03d, %d.%02d W\n",
                          i / 3600, (i / 60) % 60, i % 60, i % 1000, 50 + (i * 7919) % 250,
                          (i * 31) % 100);
  CHECK(write_gz(gz, big, n) == 0);
  FILE *f = fopen(plain, "wb");
  fwrite(big, 1, n, f);
  fclose(f);
  dle_import a, b;
  dle_error e;
  CHECK_OK(dle_import_nvidia_smi(gz, NULL, NULL, &a, &e), &e);
  CHECK_OK(dle_import_nvidia_smi(plain, NULL, NULL, &b, &e), &e);
  CHECK(a.n == 5000 && b.n == 5000 && a.stats.warnings == 0);
  int same = a.n == b.n;
  for (size_t i = 0; same && i < a.n; i++) {
    dle_sample x, y;
    dle_import_sample(&a, i, &x);
    dle_import_sample(&b, i, &y);
    same = x.t_s == y.t_s && x.gpu[0].power_w == y.gpu[0].power_w;
  }
  CHECK(same);
  dle_import_free(&b);
  /* The whole-file (libdeflate) path and the streaming (zlib) path give the same bytes:
   * one member; two members concatenated (the fast path declines, zlib reads both). */
  {
    char *raw1 = NULL;
    size_t raw1n = 0;
    int tr1 = -1;
    CHECK_OK(dle_ingest_read_file(gz, 0, &raw1, &raw1n, &tr1, &e), &e);
    CHECK(tr1 == 0 && raw1n == n && memcmp(raw1, big, n) == 0 && raw1[n] == '\0');
    free(raw1);
    char two[] = "ingest_test.two.csv.gz", half[] = "ingest_test.half.gz";
    CHECK(write_gz(two, big, n / 2) == 0 && write_gz(half, big + n / 2, n - n / 2) == 0);
    FILE *t = fopen(two, "ab"), *h = fopen(half, "rb");
    char chunk[4096];
    for (size_t k; h && t && (k = fread(chunk, 1, sizeof chunk, h)) > 0;) fwrite(chunk, 1, k, t);
    if (h) fclose(h);
    if (t) fclose(t);
    CHECK_OK(dle_ingest_read_file(two, 0, &raw1, &raw1n, &tr1, &e), &e);
    CHECK(tr1 == 0 && raw1n == n && memcmp(raw1, big, n) == 0);
    free(raw1);
    /* a limit below the size is refused on either path */
    CHECK(dle_ingest_read_file(gz, n / 2, &raw1, &raw1n, &tr1, &e) == DLE_ERANGE);
    unlink(two);
    unlink(half);
  }
  /* Truncated gzip: the data so far is used, with a counted warning. */
  char *gzb = NULL;
  size_t gzn = 0;
  int tr = 0;
  f = fopen(gz, "rb");
  fseek(f, 0, SEEK_END);
  gzn = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  gzb = malloc(gzn);
  CHECK(fread(gzb, 1, gzn, f) == gzn);
  fclose(f);
  f = fopen(gz, "wb");
  fwrite(gzb, 1, gzn / 2, f);
  fclose(f);
  char *raw = NULL;
  size_t rawn = 0;
  CHECK_OK(dle_ingest_read_file(gz, 0, &raw, &rawn, &tr, &e), &e);
  CHECK(tr == 1 && rawn > 0 && rawn < n && memcmp(raw, big, rawn) == 0);
  free(raw);
  CHECK_OK(dle_import_nvidia_smi(gz, NULL, NULL, &b, &e), &e);
  CHECK(b.stats.gzip_truncated == 1 && b.n > 100 && b.n < 5000);
  CHECK(strstr(b.stats.first_warning, "gzip") != NULL);
  CHECK(b.stats.warnings >= 1);
  dle_import_free(&b);
  /* Corrupted deflate data: a clear failure, never a crash. */
  for (size_t i = gzn / 3; i < gzn / 3 + 64 && i < gzn; i++) gzb[i] ^= 0x5a;
  f = fopen(gz, "wb");
  fwrite(gzb, 1, gzn, f);
  fclose(f);
  int rc = dle_import_nvidia_smi(gz, NULL, NULL, &b, &e);
  CHECK_MSG(rc == DLE_EPARSE || (rc == 0 && b.stats.warnings > 0), "rc %d", rc);
  if (rc == 0) dle_import_free(&b);
  else CHECK(strstr(e.msg, gz) != NULL);
  dle_import_free(&a);
  free(gzb);
  free(big);
  unlink(gz);
  unlink(plain);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Mutation fuzzing: flips, deletions, insertions of separators, cuts. Every outcome
 * must be a clean status; a success must hold sane, ordered samples. */
static void test_fuzz(void) {
  const char *seeds[] = {FMT_A, FMT_B};
  const char alphabet[] = ",\n\r .:%W[]/-T0123456789";
  char buf[2048];
  int ok = 0, fail = 0, insane = 0;
  for (int it = 0; it < 20000; it++) {
    const char *seed = seeds[it & 1];
    size_t n = strlen(seed);
    memcpy(buf, seed, n);
    int muts = 1 + (int)(next_rand() % 8);
    for (int m = 0; m < muts && n > 1; m++) {
      size_t pos = next_rand() % n;
      switch (next_rand() % 4) {
        case 0: buf[pos] = alphabet[next_rand() % (sizeof alphabet - 1)]; break;
        case 1: buf[pos] = (char)(next_rand() & 0xff); break;
        case 2: memmove(buf + pos, buf + pos + 1, n - pos - 1), n--; break;
        case 3:
          if (n + 1 < sizeof buf) {
            memmove(buf + pos + 1, buf + pos, n - pos);
            buf[pos] = alphabet[next_rand() % (sizeof alphabet - 1)];
            n++;
          }
          break;
      }
    }
    if (next_rand() % 5 == 0) n = next_rand() % (n + 1);
    dle_ingest_options o;
    dle_ingest_options_init(&o);
    o.skip_first = next_rand() % 2;
    o.skip_last = next_rand() % 2;
    o.integer_values = (int)(next_rand() % 2);
    dle_import a;
    dle_error e;
    e.msg[0] = '\0';
    /* Exact-length buffer copy so that ASan sees any read past the end. */
    char *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    int rc = dle_import_nvidia_smi_buf(exact, n, (it % 3) ? NULL : exact, n, &o, &a, &e);
    if (rc == 0) {
      ok++;
      for (size_t i = 0; i < a.n; i++)
        if (isnan(S(&a, i)->t_s) || S(&a, i)->t_s < 0 ||
            (i && S(&a, i)->t_s < S(&a, i - 1)->t_s) || S(&a, i)->n_gpus > DLE_MAX_GPUS) {
          insane++;
          fprintf(stderr, "fuzz %d: sample %zu t_s %g\n", it, i, S(&a, i)->t_s);
        }
      dle_trace t = {0};
      if (dle_import_to_trace(&a, &t, NULL) == 0) {
        double ej;
        if (dle_energy_trapezoid_j(t.t_s, t.gpu_power_w, t.n, &ej) != 0) {
          insane++;
          fprintf(stderr, "fuzz %d: trapezoid failed\n", it);
        }
      }
      dle_trace_free(&t);
      dle_import_free(&a);
    } else {
      fail++;
      if (rc > 0 || e.msg[0] == '\0') {
        insane++;
        fprintf(stderr, "fuzz %d: rc %d without a message\n", it, rc);
      }
    }
    free(exact);
  }
  printf("fuzz: %d imported, %d refused with a message\n", ok, fail);
  CHECK(insane == 0);
  CHECK(ok > 1000 && fail > 100);
}

static void test_table(void) {
  char path[] = "ingest_table.csv";
  FILE *f = fopen(path, "w");
  fputs("a,b, c\n1,2,3\n\n4,5\n", f);
  fclose(f);
  dle_csv_table *t = NULL;
  dle_error e;
  CHECK_OK(dle_csv_table_read(path, &t, &e), &e);
  CHECK(dle_csv_table_rows(t) == 2 && dle_csv_table_cols(t) == 3);
  CHECK(dle_csv_table_col(t, "c") == 2 && dle_csv_table_col(t, "z") == -1);
  CHECK(strcmp(dle_csv_table_cell(t, 1, 1), "5") == 0 && strcmp(dle_csv_table_cell(t, 1, 2), "") == 0);
  CHECK(dle_csv_table_cell(t, 2, 0) == NULL);
  dle_csv_table_free(t);
  f = fopen(path, "w");
  fputs("a,b\n1,2,3\n", f);
  fclose(f);
  CHECK(dle_csv_table_read(path, &t, &e) == DLE_EPARSE && strstr(e.msg, "3 fields"));
  f = fopen(path, "w");
  fclose(f);
  CHECK(dle_csv_table_read(path, &t, &e) == DLE_EPARSE);
  unlink(path);
}


/* Bad input never becomes a silent wrong number (issue 10). */
static void test_impossible_input(void) {
  dle_import a;
  dle_error e;
  dle_trace t;
  double j;
#define H "timestamp, power.draw [W], power.max_limit [W]\n"
  /* Negative, non-finite and far-above-the-limit watts: gaps, counted. */
  const char *bad_w = H "2023/01/01 00:00:00.000, 100.00 W, 300.00 W\n"
                        "2023/01/01 00:00:01.000, -50.00 W, 300.00 W\n"
                        "2023/01/01 00:00:02.000, 1e308 W, 300.00 W\n"
                        "2023/01/01 00:00:03.000, 1e999 W, 300.00 W\n"
                        "2023/01/01 00:00:04.000, 100.00 W, 300.00 W\n"
                        "2023/01/01 00:00:05.000, 100.00 W, 300.00 W\n";
  CHECK_OK(import_str(bad_w, NULL, NULL, &a, &e), &e);
  /* 1e999 does not parse as a number: a skipped line (counted) */
  CHECK(a.n == 5 && a.stats.gpu_impossible == 2 && a.stats.gpu_bad_lines == 1 &&
        a.stats.warnings == 3);
  CHECK(isnan(S(&a, 1)->gpu[0].power_w) && isnan(S(&a, 2)->gpu[0].power_w));
  CHECK(strstr(a.stats.first_warning, "negative") != NULL);
  memset(&t, 0, sizeof t);
  CHECK_OK(dle_import_to_trace(&a, &t, &e), &e);
  CHECK_OK(dle_energy_trapezoid_j(t.t_s, t.gpu_power_w, t.n, &j), &e);
  CHECK_NEAR(j, 100, 1e-9); /* only 4 s..5 s: never negative, never 1e308 */
  dle_trace_free(&t);
  dle_import_free(&a);
  /* Without power.max_limit the ceiling is max_power_w. */
  dle_ingest_options o;
  dle_ingest_options_init(&o);
  o.max_power_w = 500;
  CHECK_OK(import_str("timestamp, power.draw [W]\n2023/01/01 00:00:00, 100 W\n"
                      "2023/01/01 00:00:01, 600 W\n2023/01/01 00:00:02, 100 W\n"
                      "2023/01/01 00:00:03, 100 W\n", NULL, &o, &a, &e), &e);
  CHECK(a.stats.gpu_impossible == 1 && isnan(S(&a, 1)->gpu[0].power_w));
  dle_import_free(&a);

  /* A timestamp 100 years ahead, then back: that row is dropped. */
  const char *jump = H "2023/01/01 00:00:00.000, 100.00 W, 300.00 W\n"
                       "2023/01/01 00:00:01.000, 100.00 W, 300.00 W\n"
                       "2123/01/01 00:00:02.000, 100.00 W, 300.00 W\n"
                       "2023/01/01 00:00:03.000, 100.00 W, 300.00 W\n";
  CHECK_OK(import_str(jump, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 3 && a.stats.gpu_time_outliers == 1 && a.stats.gpu_out_of_order == 0);
  CHECK_NEAR(a.duration_s, 3, 1e-9);
  dle_import_free(&a);
  /* A real pause longer than max_gap_s: a gap sample, not integrated across. */
  o.max_gap_s = 10;
  const char *pause = H "2023/01/01 00:00:00.000, 100.00 W, 300.00 W\n"
                        "2023/01/01 00:00:01.000, 100.00 W, 300.00 W\n"
                        "2023/01/01 00:01:01.000, 100.00 W, 300.00 W\n"
                        "2023/01/01 00:01:02.000, 100.00 W, 300.00 W\n";
  CHECK_OK(import_str(pause, NULL, &o, &a, &e), &e);
  CHECK(a.n == 5 && a.stats.gpu_gaps == 1);
  CHECK(isnan(S(&a, 2)->gpu[0].power_w));
  memset(&t, 0, sizeof t);
  CHECK_OK(dle_import_to_trace(&a, &t, &e), &e);
  CHECK_OK(dle_energy_trapezoid_j(t.t_s, t.gpu_power_w, t.n, &j), &e);
  CHECK_NEAR(j, 200, 1e-9); /* 2 x 1 s at 100 W, not the 60 s pause */
  dle_trace_free(&t);
  dle_import_free(&a);
  /* Backwards: dropped, counted (as before). */
  CHECK_OK(import_str(H "2023/01/01 00:00:05, 100 W, 300 W\n2023/01/01 00:00:06, 100 W, 300 W\n"
                        "2023/01/01 00:00:02, 100 W, 300 W\n2023/01/01 00:00:07, 100 W, 300 W\n",
                      NULL, NULL, &a, &e), &e);
  CHECK(a.n == 3 && a.stats.gpu_out_of_order == 1);
  dle_import_free(&a);

  /* A duplicated first row is not a phantom second GPU. */
  const char *dup = H "2023/01/01 00:00:00.000, 100.00 W, 300.00 W\n"
                      "2023/01/01 00:00:00.000, 100.00 W, 300.00 W\n"
                      "2023/01/01 00:00:01.000, 100.00 W, 300.00 W\n"
                      "2023/01/01 00:00:02.000, 100.00 W, 300.00 W\n"
                      "2023/01/01 00:00:03.000, 100.00 W, 300.00 W\n";
  CHECK_OK(import_str(dup, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 4 && a.n_gpus == 1 && a.stats.gpu_duplicates == 1);
  dle_import_free(&a);

  /* One GPU's reading missing (device column): a gap, not 0 W for it. */
  const char *miss = "timestamp, index, power.draw [W]\n"
                     "2023/01/01 00:00:00, 0, 100 W\n2023/01/01 00:00:00, 1, 50 W\n"
                     "2023/01/01 00:00:01, 0, 100 W\n2023/01/01 00:00:01, 1, [N/A]\n"
                     "2023/01/01 00:00:02, 0, 100 W\n2023/01/01 00:00:02, 1, 50 W\n"
                     "2023/01/01 00:00:03, 0, 100 W\n"
                     "2023/01/01 00:00:04, 0, 100 W\n2023/01/01 00:00:04, 1, 50 W\n";
  CHECK_OK(import_str(miss, NULL, NULL, &a, &e), &e);
  CHECK(a.n == 5 && a.n_gpus == 2 && a.stats.gpu_incomplete == 2);
  memset(&t, 0, sizeof t);
  CHECK_OK(dle_import_to_trace(&a, &t, &e), &e);
  for (size_t i = 0; i < t.n; i++)
    CHECK(isnan(t.gpu_power_w[i]) || t.gpu_power_w[i] == 150); /* never 100 W alone */
  /* GPU 1's gap is bridged while GPU 0 reads (issue 9: a gap, not a dip) */
  CHECK_MSG(t.gpu_power_w[1] == 150 && t.gpu_power_w[3] == 150, "rows 1, 3: %g %g W", t.gpu_power_w[1], t.gpu_power_w[3]);
  dle_trace_free(&t);
  dle_import_free(&a);

  /* Fewer than two usable samples: an error, whatever else the file holds. */
  CHECK(import_str(H "2023/01/01 00:00:00, 100 W, 300 W\n", NULL, NULL, &a, &e) == DLE_EPARSE);
  CHECK(strstr(e.msg, "1 usable") != NULL);
  CHECK(import_str(H "2023/01/01 00:00:00, 100 W, 300 W\n2023/01/01 00:00:01, -1 W, 300 W\n",
                   NULL, NULL, &a, &e) == DLE_EPARSE);
#undef H
}

int main(void) {
  test_impossible_input();
  test_timestamps();
  test_values();
  test_formats();
  test_cut_and_bad_lines();
  test_multi_gpu();
  test_cpu_join();
  test_gzip();
  test_fuzz();
  test_table();
  return check_finish();
}
