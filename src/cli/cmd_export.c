/* cmd_export.c — `dlenergy export RUN --samples|--epochs [--db PATH] [-o FILE]`:
 * a run's samples or epochs as CSV that pandas.read_csv reads as is: one header
 * row, one sample per row, an empty field for an absent reading, numbers in the
 * shortest form that reads back to the same double. `--all-samples [RUN...]` writes
 * the samples of many runs in one long table (one row per sample and GPU), the
 * way SQL users load them into a table. Output is streamed (bounded memory) to
 * standard output or to FILE.tmp.<pid>, fsynced and renamed over FILE. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/store.h"

static const char USAGE[] =
    "Usage: dlenergy export RUN --samples|--epochs [--db PATH] [-o FILE]\n"
    "       dlenergy export --all-samples [--where FILTER] [RUN...] [--db PATH] [-o FILE]\n"
    "Writes a run's measured samples or its epochs as CSV (RUN: an id or 'last').\n\n"
    "  --samples      one row per sample: t_s (run-relative), wall_s (Unix time),\n"
    "                 host columns (cpu_power_w is measured by RAPL or modelled from\n"
    "                 TDP x utilization, ram_power_w is modelled; see `dlenergy show`),\n"
    "                 gpu_power_w (sum over GPUs) and per GPU N: gpuN_power_w,\n"
    "                 gpuN_energy_counter_j, gpuN_util_pct, gpuN_mem_util_pct,\n"
    "                 gpuN_mem_used_mib, gpuN_mem_total_mib, gpuN_temp_c,\n"
    "                 gpuN_power_limit_w (N = the device's NVML index)\n"
    "  --epochs       one row per epoch: epoch, t_begin_s, t_end_s, duration_s, metrics\n"
    "  --all-samples  the samples of the RUNs given, or of every run (matching --where),\n"
    "                 one row per sample and GPU: run_id, seq, the host columns, n_gpus,\n"
    "                 slot, device_index, power_w, energy_counter_j, util_gpu_pct,\n"
    "                 util_mem_pct, mem_used_mib, mem_total_mib, temp_c, power_limit_w\n"
    "                 (a sample without GPUs has one row with empty GPU fields); load it\n"
    "                 with sqlite3 '.import --csv' or PostgreSQL 'COPY ... CSV HEADER'\n"
    "  --where FILTER with --all-samples: key=value conditions as in `dlenergy list`\n"
    "  --db PATH      run store (file or postgresql:// URI; default $DLENERGY_DB or\n"
    "                 ./dlenergy.db)\n"
    "  -o, --output FILE  write FILE atomically instead of standard output\n"
    "  -h, --help     this help\n\n"
    "Absent readings are empty fields (pandas reads them as NaN).\n";

typedef struct outbuf {
  char *p;
  size_t len, cap;
  int oom;
  FILE *f;     /* streamed output; NULL: keep everything in p */
  int io_err;  /* errno of a failed write */
} outbuf;

enum { FLUSH_BYTES = 1 << 20 };

static void flush_out(outbuf *b) {
  if (!b->f || !b->len || b->io_err) return;
  if (fwrite(b->p, 1, b->len, b->f) != b->len) b->io_err = errno ? errno : EIO;
  b->len = 0;
}

static void put(outbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->f && b->len + n + 1 > FLUSH_BYTES) flush_out(b);
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void puts_(outbuf *b, const char *s) { put(b, s, strlen(s)); }

/* Shortest decimal that reads back to the same double; empty for NaN. */
static void put_num(outbuf *b, double v, int comma) {
  if (comma) put(b, ",", 1);
  if (isnan(v)) return;
  if (isinf(v)) {
    puts_(b, v > 0 ? "inf" : "-inf");
    return;
  }
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  puts_(b, tmp);
}

/* A CSV text field, quoted when it needs to be. */
static void put_text(outbuf *b, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    puts_(b, s);
    return;
  }
  put(b, "\"", 1);
  for (const char *c = s; *c; c++) {
    if (*c == '"') put(b, "\"", 1);
    put(b, c, 1);
  }
  put(b, "\"", 1);
}

enum { MAX_DEVICES = 64 };

typedef struct devices {
  uint32_t idx[MAX_DEVICES];
  size_t n;
  int too_many;
} devices;

static int collect_devices(void *ctx, const dle_sample *s, dle_error *err) {
  (void)err;
  devices *d = ctx;
  for (uint32_t g = 0; g < s->n_gpus; g++) {
    uint32_t id = s->gpu[g].device_index;
    size_t i = 0;
    while (i < d->n && d->idx[i] != id) i++;
    if (i < d->n) continue;
    if (d->n == MAX_DEVICES) {
      d->too_many = 1;
      continue;
    }
    /* keep sorted */
    size_t j = d->n++;
    while (j > 0 && d->idx[j - 1] > id) {
      d->idx[j] = d->idx[j - 1];
      j--;
    }
    d->idx[j] = id;
  }
  return 0;
}

typedef struct sample_writer {
  outbuf *out;
  const devices *dev;
  int64_t rows;
} sample_writer;

/* The host columns t_s .. dram_energy_counter_j, shared by the wide and the long CSV;
 * lead_comma puts a comma before t_s. */
static void put_host_cols(outbuf *b, const dle_sample *s, int lead_comma) {
  put_num(b, s->t_s, lead_comma);
  put_num(b, s->wall_s, 1);
  put_num(b, s->cpu_util_pct, 1);
  put_num(b, s->rss_mib, 1);
  put_num(b, s->cpu_power_w, 1);
  put_num(b, s->dram_power_w, 1);
  put_num(b, s->ram_power_w, 1);
  put_num(b, s->cpu_energy_counter_j, 1);
  put_num(b, s->dram_energy_counter_j, 1);
}

static int write_sample(void *ctx, const dle_sample *s, dle_error *err) {
  (void)err;
  sample_writer *w = ctx;
  outbuf *b = w->out;
  put_host_cols(b, s, 0);
  put_num(b, dle_sample_gpu_power_w(s), 1);
  for (size_t d = 0; d < w->dev->n; d++) {
    const dle_gpu_sample *g = NULL;
    for (uint32_t k = 0; k < s->n_gpus && !g; k++)
      if (s->gpu[k].device_index == w->dev->idx[d]) g = &s->gpu[k];
    put_num(b, g ? g->power_w : NAN, 1);
    put_num(b, g ? g->energy_counter_j : NAN, 1);
    put_num(b, g ? g->util_gpu_pct : NAN, 1);
    put_num(b, g ? g->util_mem_pct : NAN, 1);
    put_num(b, g ? g->mem_used_mib : NAN, 1);
    put_num(b, g ? g->mem_total_mib : NAN, 1);
    put_num(b, g ? g->temp_c : NAN, 1);
    put_num(b, g ? g->power_limit_w : NAN, 1);
  }
  put(b, "\n", 1);
  w->rows++;
  return b->oom ? dle_error_set(err, DLE_ENOMEM, "out of memory building the CSV") : 0;
}

static int export_samples(dle_store *st, int64_t id, outbuf *b, dle_error *err) {
  devices dev = {0};
  int rc = dle_store_foreach_sample(st, id, collect_devices, &dev, err);
  if (rc) return rc;
  if (dev.too_many)
    return dle_error_set(err, DLE_ERANGE, "run %" PRId64 " has more than %d GPUs", id,
                         MAX_DEVICES);
  puts_(b, "t_s,wall_s,cpu_util_pct,rss_mib,cpu_power_w,dram_power_w,ram_power_w,"
           "cpu_energy_counter_j,dram_energy_counter_j,gpu_power_w");
  static const char *const fields[] = {"power_w",     "energy_counter_j", "util_pct",
                                       "mem_util_pct", "mem_used_mib",    "mem_total_mib",
                                       "temp_c",      "power_limit_w"};
  for (size_t d = 0; d < dev.n; d++)
    for (size_t f = 0; f < sizeof fields / sizeof *fields; f++) {
      char col[64];
      snprintf(col, sizeof col, ",gpu%u_%s", dev.idx[d], fields[f]);
      puts_(b, col);
    }
  put(b, "\n", 1);
  sample_writer w = {b, &dev, 0};
  return dle_store_foreach_sample(st, id, write_sample, &w, err);
}

typedef struct long_writer {
  outbuf *out;
  int64_t run_id, seq;
} long_writer;

static void put_host(outbuf *b, const long_writer *w, const dle_sample *s) {
  char head[48];
  snprintf(head, sizeof head, "%" PRId64 ",%" PRId64, w->run_id, w->seq);
  puts_(b, head);
  put_host_cols(b, s, 1);
  snprintf(head, sizeof head, ",%u", s->n_gpus);
  puts_(b, head);
}

static int write_long_sample(void *ctx, const dle_sample *s, dle_error *err) {
  long_writer *w = ctx;
  outbuf *b = w->out;
  if (s->n_gpus == 0) {
    put_host(b, w, s);
    puts_(b, ",,,,,,,,,,\n");
  }
  for (uint32_t g = 0; g < s->n_gpus; g++) {
    const dle_gpu_sample *x = &s->gpu[g];
    put_host(b, w, s);
    char head[32];
    snprintf(head, sizeof head, ",%u,%u", g, x->device_index);
    puts_(b, head);
    put_num(b, x->power_w, 1);
    put_num(b, x->energy_counter_j, 1);
    put_num(b, x->util_gpu_pct, 1);
    put_num(b, x->util_mem_pct, 1);
    put_num(b, x->mem_used_mib, 1);
    put_num(b, x->mem_total_mib, 1);
    put_num(b, x->temp_c, 1);
    put_num(b, x->power_limit_w, 1);
    put(b, "\n", 1);
  }
  w->seq++;
  if (b->oom) return dle_error_set(err, DLE_ENOMEM, "out of memory building the CSV");
  if (b->io_err) return dle_error_set(err, DLE_EIO, "writing the CSV: %s", strerror(b->io_err));
  return 0;
}

static int export_all_samples(dle_store *st, const int64_t *ids, size_t n, outbuf *b,
                              dle_error *err) {
  puts_(b, "run_id,seq,t_s,wall_s,cpu_util_pct,rss_mib,cpu_power_w,dram_power_w,ram_power_w,"
           "cpu_energy_counter_j,dram_energy_counter_j,n_gpus,slot,device_index,power_w,"
           "energy_counter_j,util_gpu_pct,util_mem_pct,mem_used_mib,mem_total_mib,temp_c,"
           "power_limit_w\n");
  int rc = DLE_OK;
  for (size_t i = 0; !rc && i < n; i++) {
    long_writer w = {b, ids[i], 0};
    rc = dle_store_foreach_sample(st, ids[i], write_long_sample, &w, err);
  }
  return rc;
}

/* Opens the streamed output: standard output, or path.tmp.<pid> to be renamed. */
static int open_out(const char *path, outbuf *b, char *tmp, size_t tmp_size, dle_error *err) {
  if (strcmp(path, "-") == 0) {
    b->f = stdout;
    return DLE_OK;
  }
  snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
  b->f = fopen(tmp, "w");
  if (!b->f) return dle_error_set(err, DLE_EIO, "cannot create %s: %s", tmp, strerror(errno));
  return DLE_OK;
}

/* Flushes and closes the streamed output; on success renames it into place. */
static int close_out(const char *path, outbuf *b, const char *tmp, int rc, dle_error *err) {
  flush_out(b);
  if (b->f == stdout) {
    if (!rc && (fflush(stdout) || b->io_err))
      rc = dle_error_set(err, DLE_EIO, "writing standard output: %s",
                         strerror(b->io_err ? b->io_err : errno));
    return rc;
  }
  if (!rc && b->io_err) rc = dle_error_set(err, DLE_EIO, "writing %s: %s", tmp, strerror(b->io_err));
  if (!rc && (fflush(b->f) || fsync(fileno(b->f))))
    rc = dle_error_set(err, DLE_EIO, "writing %s: %s", tmp, strerror(errno));
  if (fclose(b->f) && !rc) rc = dle_error_set(err, DLE_EIO, "writing %s: %s", tmp, strerror(errno));
  if (!rc && rename(tmp, path))
    rc = dle_error_set(err, DLE_EIO, "renaming %s to %s: %s", tmp, path, strerror(errno));
  if (rc) unlink(tmp);
  return rc;
}

static int export_epochs(dle_store *st, int64_t id, outbuf *b, dle_error *err) {
  dle_epoch *e = NULL;
  size_t n = 0;
  int rc = dle_store_load_epochs(st, id, &e, &n, err);
  if (rc) return rc;
  puts_(b, "epoch,t_begin_s,t_end_s,duration_s,metrics\n");
  for (size_t i = 0; i < n; i++) {
    char idx[16];
    snprintf(idx, sizeof idx, "%d", (int)e[i].index);
    puts_(b, idx);
    put_num(b, e[i].t_begin_s, 1);
    put_num(b, e[i].t_end_s, 1);
    put_num(b, e[i].t_end_s - e[i].t_begin_s, 1);
    put(b, ",", 1);
    put_text(b, e[i].metrics);
    put(b, "\n", 1);
  }
  free(e);
  return b->oom ? dle_error_set(err, DLE_ENOMEM, "out of memory building the CSV") : 0;
}

static int export_all_main(const char *db, const char *out, const char *where,
                           char **runs, int nruns) {
  dle_error err = {0};
  dle_store *st = NULL;
  if (dle_store_open(cli_db_path(db), &st, &err)) return cli_fail("export", &err);
  int64_t *ids = NULL;
  size_t n = 0;
  int rc = DLE_OK;
  if (nruns == 0) {
    rc = dle_store_select_runs(st, where, &ids, &n, &err);
  } else {
    int64_t *sel = NULL;
    size_t nsel = 0;
    ids = calloc((size_t)nruns, sizeof *ids);
    if (!ids) rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
    if (!rc && where) rc = dle_store_select_runs(st, where, &sel, &nsel, &err);
    for (int i = 0; !rc && i < nruns; i++) {
      int64_t id = 0;
      rc = dle_store_resolve_run(st, runs[i], &id, &err);
      int keep = !where;
      for (size_t k = 0; !keep && k < nsel; k++) keep = sel[k] == id;
      if (!rc && keep) ids[n++] = id;
    }
    free(sel);
  }
  outbuf b = {0};
  char tmp[4096 + 32];
  if (!rc) rc = open_out(out, &b, tmp, sizeof tmp, &err);
  if (!rc || b.f) {
    if (!rc) rc = export_all_samples(st, ids, n, &b, &err);
    rc = close_out(out, &b, tmp, rc, &err);
  }
  free(b.p);
  free(ids);
  dle_store_close(st);
  return rc ? cli_fail("export", &err) : DLE_EXIT_OK;
}

static int export_main(int argc, char **argv) {
  static const struct option opts[] = {{"samples", no_argument, NULL, 's'},
                                       {"epochs", no_argument, NULL, 'e'},
                                       {"all-samples", no_argument, NULL, 'a'},
                                       {"where", required_argument, NULL, 'w'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int samples = 0, epochs = 0, all = 0;
  const char *db = NULL, *out = "-", *where = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
      case 's': samples = 1; break;
      case 'e': epochs = 1; break;
      case 'a': all = 1; break;
      case 'w': where = optarg; break;
      case 'd': db = optarg; break;
      case 'o': out = optarg; break;
      case 'h': fputs(USAGE, stdout); return DLE_EXIT_OK;
      default:
        return cli_usage_error("export", "unknown or incomplete option '%s'",
                               argv[optind - 1]);
    }
  }
  if (samples + epochs + all != 1)
    return cli_usage_error("export", "give exactly one of --samples, --epochs and --all-samples");
  if (where && !all) return cli_usage_error("export", "--where goes with --all-samples");
  if (all) return export_all_main(db, out, where, argv + optind, argc - optind);
  if (optind != argc - 1)
    return cli_usage_error("export", optind >= argc ? "missing RUN (an id or 'last')"
                                                    : "expected one RUN argument");
  dle_error err = {0};
  dle_store *st = NULL;
  if (cli_open_store_existing(cli_db_path(db), &st, &err)) return cli_fail("export", &err);
  int64_t id = 0;
  outbuf b = {0};
  char tmp[4096 + 32];
  int rc = dle_store_resolve_run(st, argv[optind], &id, &err);
  if (!rc) rc = open_out(out, &b, tmp, sizeof tmp, &err);
  if (!rc) {
    rc = samples ? export_samples(st, id, &b, &err) : export_epochs(st, id, &b, &err);
    rc = close_out(out, &b, tmp, rc, &err);
  }
  dle_store_close(st);
  free(b.p);
  return rc ? cli_fail("export", &err) : DLE_EXIT_OK;
}

const dle_cli_verb dle_verb_export = {"export", "write a run's samples or epochs as CSV",
                                      export_main};
