/* cmd_import.c — `dlenergy import`: nvidia-smi/psutil logs into the run store.
 *
 *   dlenergy import nvidia-smi GPU.csv[.gz] [--cpu PSUTIL.csv[.gz]] [options]
 *   dlenergy import seaa2023 DIR [options]     (every trace pair of the study, with
 *                                               runs.csv's columns as metadata) */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dlenergy/run_view.h"
#include "dlenergy/energy.h"
#include "dlenergy/ingest.h"
#include "dlenergy/sensors.h"
#include "dlenergy/store.h"

enum { MAX_META = 256, SAMPLE_CHUNK = 512 };
/* seaa2023: runs are committed in batches of this much wall time (see import_seaa). */
static const int64_t IMPORT_BATCH_NS = 500000000;

typedef struct import_opts {
  dle_ingest_options ing;
  const char *db;
  const char *cpu_path;
  bool json, verbose, again;
  double pue;
  double carbon_g_per_kwh; /* NaN: none */
  char carbon_source[256];  /* where it comes from, "default: ..." without an option */
  const char *meta[MAX_META];
  size_t n_meta;
} import_opts;

typedef struct import_result {
  int64_t run_id;
  dle_energy_summary sum;
  dle_ingest_stats stats;
  char gpu_name[128];
  bool skipped_existing;
  bool store_failed;
} import_result;

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy import nvidia-smi GPU.csv[.gz] [--cpu PSUTIL.csv[.gz]] [OPTIONS]\n"
          "       dlenergy import seaa2023 DIR [OPTIONS]\n"
          "Import GPU power logs into the run store as completed runs.\n\n"
          "nvidia-smi: a `nvidia-smi --query-gpu=timestamp,power.draw,... --format=csv` log\n"
          "  (nvidia-smi's own header or the SEAA 2023 study's renamed one), plain or gzip;\n"
          "  with --cpu, the study's psutil log (timestamp, cpu usage (%%), memory usage (MB))\n"
          "  joined to the nearest GPU sample within 1 s; its RSS gives a modelled RAM power\n"
          "  (0.375 W/GB). GPU power is measured (by nvidia-smi). Impossible readings\n"
          "  (negative, not finite, far above the board's limit) and samples missing a\n"
          "  GPU become gaps, duplicates and clock jumps are dropped, all with counted\n"
          "  warnings (in --json and the run's metadata); fewer than two usable samples\n"
          "  is an error and nothing is stored.\n"
          "seaa2023: every run with a trace pair listed in DIR/runs.csv (the shared dataset),\n"
          "  with all of runs.csv's columns as metadata (architecture, environment, gflops,\n"
          "  batch_size, trained_epochs, f1_score, ...). Defaults to --skip-first 3\n"
          "  --skip-last 3 (the study's 3 s idle padding) and --country ES (232 g/kWh).\n"
          "  Runs already imported from the same files are skipped unless --again.\n\n"
          "Options:\n"
          "  --cpu FILE             psutil CPU/memory log (nvidia-smi form)\n"
          "  --skip-first N         drop N samples at the start (a cut line counts)\n"
          "  --skip-last N          drop N samples at the end\n"
          "  --integer-watts        keep only the integer part of every GPU value (the\n"
          "                         study authors' procedure; reproduces runs.csv exactly)\n"
          "  --join-tolerance S     CPU-to-GPU join window in seconds (default 1)\n"
          "  --max-gap S            a jump of more than S seconds between samples is a gap,\n"
          "                         warned about and not integrated across (default 60)\n"
          "  --cpu-tdp W            model CPU power as W x CPU utilization (default: none)\n"
          "  --ram-w-per-gb X       modelled RAM power per GB of RSS (default 0.375)\n"
          "  --pue X                power usage effectiveness of the facility (default 1)\n"
          "  --carbon-intensity G   g CO2e per kWh for emissions\n"
          "  --country CC           carbon intensity from the shipped table (e.g. ES, FR);\n"
          "                         nvidia-smi without either: the world average, labelled\n"
          "                         default\n"
          "  --meta KEY=VALUE       extra metadata (repeatable)\n"
          "  --again                import even if the same files are already in the store\n"
          "  --json                 print a JSON object (nvidia-smi: the fields of 'show\n"
          "                         --json' plus warnings; seaa2023: counts and one entry\n"
          "                         per run)\n"
          "  -v, --verbose          seaa2023: one line per imported run\n"
          "  --db PATH              run store (default $DLENERGY_DB or ./dlenergy.db)\n"
          "  -h, --help             this help\n");
}

static int set_meta_num(dle_store *st, int64_t id, const char *key, double v, dle_error *err) {
  if (!isfinite(v)) return DLE_OK;
  char buf[64];
  if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    /* Shortest %g form that reads back the same value. */
    for (int prec = 1; prec <= 17; prec++) {
      snprintf(buf, sizeof buf, "%.*g", prec, v);
      if (strtod(buf, NULL) == v) break;
    }
  }
  return dle_store_set_meta(st, id, key, buf, err);
}

/* The last directory resolved by abs_path (seaa2023 lists hundreds of files from a
 * few directories: realpath(3) costs a readlink per path component, 5,000 for the
 * study's 618 files). */
typedef struct dir_cache {
  char dir[PATH_MAX], real[PATH_MAX];
  bool valid;
} dir_cache;

/* p made absolute with every symbolic link resolved (realpath), or p itself when that
 * fails. With a cache: a file that is not itself a link is its resolved directory
 * plus its name, and the directory is resolved once while files come from it. */
static void abs_path(const char *p, char *buf, size_t n, dir_cache *dc) {
  const char *slash = strrchr(p, '/');
  struct stat sb;
  if (dc && slash && slash != p && slash[1] && strcmp(slash + 1, ".") != 0 &&
      strcmp(slash + 1, "..") != 0 && (size_t)(slash - p) < sizeof dc->dir &&
      lstat(p, &sb) == 0 && !S_ISLNK(sb.st_mode)) {
    size_t dl = (size_t)(slash - p);
    if (!dc->valid || strncmp(dc->dir, p, dl) != 0 || dc->dir[dl] != '\0') {
      memcpy(dc->dir, p, dl);
      dc->dir[dl] = '\0';
      dc->valid = realpath(dc->dir, dc->real) != NULL;
    }
    if (dc->valid) {
      snprintf(buf, n, "%s/%s", strcmp(dc->real, "/") != 0 ? dc->real : "", slash + 1);
      return;
    }
  }
  char tmp[PATH_MAX];
  if (realpath(p, tmp))
    snprintf(buf, n, "%s", tmp);
  else
    snprintf(buf, n, "%s", p);
}

/* Id of a run with this status already imported from this GPU file, or 0. */
static int64_t find_existing(dle_store *st, const char *gpu_abs, const char *status) {
  if (strchr(gpu_abs, ',') || strchr(gpu_abs, '=')) return 0;
  char filter[PATH_MAX + 64];
  snprintf(filter, sizeof filter, "source=import,status=%s,source_gpu_file=%s", status, gpu_abs);
  int64_t *ids = NULL;
  size_t n = 0;
  int64_t id = 0;
  if (dle_store_select_runs(st, filter, &ids, &n, NULL) == DLE_OK && n > 0) id = ids[0];
  free(ids);
  return id;
}

/* The runs an import already holds, by absolute GPU file (seaa2023 reads them once,
 * before its batch opens: a store read inside a batch would commit it). */
typedef struct known_run {
  char *gpu_abs;
  int64_t id;
  bool complete; /* else "running": an import that was interrupted */
} known_run;

typedef struct known_set {
  known_run *v;
  size_t n;
} known_set;

static int known_cmp(const void *a, const void *b) {
  const known_run *x = a, *y = b;
  int c = strcmp(x->gpu_abs, y->gpu_abs);
  if (c) return c;
  return (x->id > y->id) - (x->id < y->id);
}

static void known_free(known_set *k) {
  for (size_t i = 0; i < k->n; i++) free(k->v[i].gpu_abs);
  free(k->v);
  k->v = NULL;
  k->n = 0;
}

static int known_load(dle_store *st, known_set *k, dle_error *err) {
  memset(k, 0, sizeof *k);
  static const char *const filters[2] = {"source=import,status=complete",
                                         "source=import,status=running"};
  for (int f = 0; f < 2; f++) {
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = dle_store_select_runs(st, filters[f], &ids, &n, err);
    known_run *nv = rc ? NULL : realloc(k->v, (k->n + n + 1) * sizeof *nv);
    if (!rc && !nv) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    if (nv) k->v = nv;
    for (size_t i = 0; rc == DLE_OK && i < n; i++) {
      dle_kv *kv = NULL;
      size_t nkv = 0;
      rc = dle_store_get_meta(st, ids[i], &kv, &nkv, err);
      const char *file = rc ? NULL : dle_kv_get(kv, nkv, "source_gpu_file");
      if (file) {
        char *copy = strdup(file);
        if (!copy) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
        else k->v[k->n++] = (known_run){copy, ids[i], f == 0};
      }
      dle_kv_free(kv, nkv);
    }
    free(ids);
    if (rc) {
      known_free(k);
      return rc;
    }
  }
  if (k->n) qsort(k->v, k->n, sizeof *k->v, known_cmp);
  return DLE_OK;
}

/* The first (lowest id) known run from this file with this state, or 0. */
static int64_t known_find(const known_set *k, const char *gpu_abs, bool complete) {
  size_t lo = 0, hi = k->n;
  while (lo < hi) { /* first entry >= gpu_abs */
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(k->v[mid].gpu_abs, gpu_abs) < 0) lo = mid + 1;
    else hi = mid;
  }
  for (size_t i = lo; i < k->n && strcmp(k->v[i].gpu_abs, gpu_abs) == 0; i++)
    if (k->v[i].complete == complete && k->v[i].id) return k->v[i].id;
  return 0;
}

/* Marks a known run deleted. */
static void known_forget(known_set *k, int64_t id) {
  for (size_t i = 0; i < k->n; i++)
    if (k->v[i].id == id) k->v[i].id = 0;
}

/* Imports one trace pair as a run. extra: (key, value) pairs, n_extra of them.
 * known (seaa2023): the runs already imported, and the caller holds a dle_store_begin
 * batch open and commits it (several runs per transaction); NULL: the store is asked,
 * and the run is its own transaction. res->store_failed tells a failed
 * store write (which, batched, rolled the whole batch back) from a file that did not parse. */
static int import_one(dle_store *st, const char *gpu_path, const char *cpu_path,
                      const import_opts *o, const char *const *extra_kv, size_t n_extra,
                      int epochs_planned, known_set *known, dir_cache *dc, import_result *res,
                      dle_error *err) {
  const bool batched = known != NULL;
  memset(res, 0, sizeof *res);
  char gpu_abs[PATH_MAX], cpu_abs[PATH_MAX];
  abs_path(gpu_path, gpu_abs, sizeof gpu_abs, dc);
  if (cpu_path) abs_path(cpu_path, cpu_abs, sizeof cpu_abs, dc);
  if (!o->again) {
    int64_t existing = known ? known_find(known, gpu_abs, true) : find_existing(st, gpu_abs, "complete");
    if (existing) {
      res->run_id = existing;
      res->skipped_existing = true;
      return DLE_OK;
    }
  }
  /* An import interrupted before it finished stays "running": replace it. */
  for (int64_t stale; (stale = known ? known_find(known, gpu_abs, false)
                                      : find_existing(st, gpu_abs, "running")) != 0;) {
    if (known) known_forget(known, stale);
    if (dle_store_delete_run(st, stale, err)) {
      res->store_failed = true;
      return dle_error_prefix(err, "removing the unfinished import run %" PRId64 ": ", stale);
    }
  }
  dle_import imp;
  int rc = dle_import_nvidia_smi(gpu_path, cpu_path, &o->ing, &imp, err);
  if (rc) return rc;
  res->stats = imp.stats;
  snprintf(res->gpu_name, sizeof res->gpu_name, "%s", imp.gpu_name);

  dle_run_info info;
  dle_run_info_init(&info);
  info.status = DLE_RUN_RUNNING; /* complete once every sample is stored */
  snprintf(info.source, sizeof info.source, "import");
  snprintf(info.command, sizeof info.command, "import nvidia-smi %s%s%s", gpu_path,
           cpu_path ? " --cpu " : "", cpu_path ? cpu_path : "");
  info.start_wall_s = imp.start_wall_s;
  info.end_wall_s = imp.start_wall_s + imp.duration_s;
  info.interval_s = imp.interval_s;
  info.epochs_planned = epochs_planned;
  info.pue = o->pue;
  info.carbon_g_per_kwh = o->carbon_g_per_kwh;
  snprintf(info.gpu_source, sizeof info.gpu_source, "nvidia-smi");
  if (cpu_path) {
    snprintf(info.cpu_source, sizeof info.cpu_source, o->ing.cpu_tdp_w > 0 ? "model" : "psutil");
    snprintf(info.ram_source, sizeof info.ram_source, "model");
  }
  /* The summary first: it needs no store, so a failure here leaves the store alone. */
  {
    dle_trace t = {0};
    rc = dle_import_to_trace(&imp, &t, err);
    if (rc == DLE_OK) rc = dle_energy_summarize(&t, &info, &res->sum, err);
    dle_trace_free(&t);
    if (rc) goto out;
  }
  int64_t id = 0;
  /* One transaction per run (or per batch of runs): readers see a run whole or not at
   * all, and the store pays one commit per run instead of one per metadata value. */
  rc = batched ? DLE_OK : dle_store_begin(st, err);
  if (rc == DLE_OK) rc = dle_store_create_run(st, &info, &id, err);
  if (rc) {
    res->store_failed = true;
    goto out;
  }
  info.id = id;
  rc = dle_store_set_meta(st, id, "source_gpu_file", gpu_abs, err);
  dle_sample *chunk = malloc(SAMPLE_CHUNK * sizeof *chunk);
  if (!chunk) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; rc == DLE_OK && i < imp.n; i += SAMPLE_CHUNK) {
    size_t k = imp.n - i < SAMPLE_CHUNK ? imp.n - i : SAMPLE_CHUNK;
    rc = dle_import_samples(&imp, i, k, chunk);
    if (rc == DLE_OK) rc = dle_store_append_samples(st, id, chunk, k, err);
  }
  free(chunk);
  char num[32];
  if (rc == DLE_OK && imp.gpu_name[0]) rc = dle_store_set_meta(st, id, "gpu_name", imp.gpu_name, err);
  if (rc == DLE_OK) {
    snprintf(num, sizeof num, "%u", imp.n_gpus);
    rc = dle_store_set_meta(st, id, "gpu_count", num, err);
  }
  if (rc == DLE_OK) rc = set_meta_num(st, id, "gpu_tdp_w", imp.gpu_max_power_limit_w, err);
  if (rc == DLE_OK && cpu_path) rc = dle_store_set_meta(st, id, "source_cpu_file", cpu_abs, err);
  if (rc == DLE_OK && cpu_path) rc = set_meta_num(st, id, "ram_w_per_gb", o->ing.ram_w_per_gb, err);
  if (rc == DLE_OK && o->ing.cpu_tdp_w > 0) rc = set_meta_num(st, id, "cpu_tdp_w", o->ing.cpu_tdp_w, err);
  if (rc == DLE_OK) rc = set_meta_num(st, id, "import_skip_first", (double)o->ing.skip_first, err);
  if (rc == DLE_OK) rc = set_meta_num(st, id, "import_skip_last", (double)o->ing.skip_last, err);
  if (rc == DLE_OK && o->ing.integer_values)
    rc = dle_store_set_meta(st, id, "import_integer_watts", "1", err);
  if (rc == DLE_OK && o->carbon_source[0])
    rc = dle_store_set_meta(st, id, "carbon_source", o->carbon_source, err);
  if (rc == DLE_OK) rc = set_meta_num(st, id, "import_warnings", (double)imp.stats.warnings, err);
  if (rc == DLE_OK && imp.stats.first_warning[0])
    rc = dle_store_set_meta(st, id, "import_first_warning", imp.stats.first_warning, err);
  if (rc == DLE_OK && imp.stats.warnings) {
    /* Every non-zero warning count, "name=N ..." */
    const dle_ingest_stats *w = &imp.stats;
    const struct { const char *k; size_t v; } cnt[] = {
        {"gpu_bad_lines", w->gpu_bad_lines},   {"gpu_cut_lines", w->gpu_cut_lines},
        {"gpu_out_of_order", w->gpu_out_of_order}, {"gpu_duplicates", w->gpu_duplicates},
        {"gpu_impossible", w->gpu_impossible}, {"gpu_incomplete", w->gpu_incomplete},
        {"gpu_gaps", w->gpu_gaps},             {"gpu_time_outliers", w->gpu_time_outliers},
        {"cpu_bad_lines", w->cpu_bad_lines},   {"cpu_out_of_order", w->cpu_out_of_order},
        {"gzip_truncated", (size_t)w->gzip_truncated},
        {"gzip_trailing", (size_t)w->gzip_trailing}};
    char text[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < sizeof cnt / sizeof cnt[0]; i++) {
      if (!cnt[i].v) continue;
      int n = snprintf(text + len, sizeof text - len, "%s%s=%zu", len ? " " : "", cnt[i].k,
                       cnt[i].v);
      if (n < 0 || (size_t)n >= sizeof text - len) break;
      len += (size_t)n;
    }
    rc = dle_store_set_meta(st, id, "import_warning_counts", text, err);
  }
  for (size_t i = 0; rc == DLE_OK && i < n_extra; i++)
    if (extra_kv[2 * i + 1][0]) rc = dle_store_set_meta(st, id, extra_kv[2 * i], extra_kv[2 * i + 1], err);
  for (size_t i = 0; rc == DLE_OK && i < o->n_meta; i++) {
    const char *eq = strchr(o->meta[i], '=');
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq - o->meta[i]), o->meta[i]);
    rc = dle_store_set_meta(st, id, key, eq + 1, err);
  }
  info.status = DLE_RUN_COMPLETE;
  if (rc == DLE_OK) rc = dle_store_update_run(st, &info, err);
  if (rc == DLE_OK && !batched) rc = dle_store_commit(st, err);
  if (rc != DLE_OK) {
    res->store_failed = true;
    dle_error keep = err ? *err : (dle_error){rc, ""};
    dle_store_delete_run(st, id, NULL); /* no half-imported run left behind */
    if (err) *err = keep;
  } else {
    res->run_id = id;
  }
out:
  dle_import_free(&imp);
  return rc;
}

static void print_summary(const char *gpu_path, const import_result *r) {
  char e[96], d[48];
  const dle_energy_summary *s = &r->sum;
  printf("Imported run %" PRId64 " from %s (%s)\n", r->run_id, gpu_path,
         r->gpu_name[0] ? r->gpu_name : "GPU name not logged");
  cli_format_duration(s->duration_s, d, sizeof d);
  printf("  duration       %s, %zu samples\n", d, s->samples);
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    if (isnan(s->energy_j[c])) continue;
    cli_format_energy(s->energy_j[c], e, sizeof e);
    printf("  %-4s energy    %-28s avg %.1f W, %s (%s)\n", dle_component_name((dle_component)c), e,
           s->avg_power_w[c], s->measured[c] ? "measured" : "modelled", s->source[c]);
  }
  if (!isnan(s->emissions_g))
    printf("  emissions      %.1f g CO2e at %.4g g/kWh, PUE %.2f (modelled)\n", s->emissions_g,
           s->carbon_g_per_kwh, s->pue);
  printf("  warnings       %zu%s%s\n", r->stats.warnings, r->stats.first_warning[0] ? ": " : "",
         r->stats.first_warning);
}

static int import_nvidia_smi(const char *gpu_path, const import_opts *o) {
  dle_error err;
  dle_error_clear(&err);
  dle_store *st = NULL;
  if (dle_store_open(cli_db_path(o->db), &st, &err)) return cli_fail("import", &err);
  import_result r;
  int rc = import_one(st, gpu_path, o->cpu_path, o, NULL, 0, 0, NULL, NULL, &r, &err);
  int status = DLE_EXIT_OK;
  if (rc) {
    status = cli_fail("import", &err);
  } else if (r.skipped_existing) {
    fprintf(stderr, "dlenergy import: %s is already run %" PRId64 " (use --again to import it "
            "anew)\n", gpu_path, r.run_id);
    if (o->json) {
      cJSON *obj = show_run_json(st, r.run_id, false, &err);
      if (obj) {
        cJSON_AddBoolToObject(obj, "already_imported", true);
        cli_print_json(obj);
        cJSON_Delete(obj);
      }
    }
  } else if (o->json) {
    cJSON *obj = show_run_json(st, r.run_id, false, &err);
    if (!obj) {
      status = cli_fail("import", &err);
    } else {
      cJSON_AddNumberToObject(obj, "warnings", (double)r.stats.warnings);
      cJSON_AddStringToObject(obj, "first_warning", r.stats.first_warning);
      cJSON *w = cJSON_AddObjectToObject(obj, "warning_counts");
      cJSON_AddNumberToObject(w, "gpu_bad_lines", (double)r.stats.gpu_bad_lines);
      cJSON_AddNumberToObject(w, "gpu_cut_lines", (double)r.stats.gpu_cut_lines);
      cJSON_AddNumberToObject(w, "gpu_out_of_order", (double)r.stats.gpu_out_of_order);
      cJSON_AddNumberToObject(w, "gpu_duplicates", (double)r.stats.gpu_duplicates);
      cJSON_AddNumberToObject(w, "cpu_bad_lines", (double)r.stats.cpu_bad_lines);
      cJSON_AddNumberToObject(w, "cpu_out_of_order", (double)r.stats.cpu_out_of_order);
      cJSON_AddNumberToObject(w, "gpu_impossible", (double)r.stats.gpu_impossible);
      cJSON_AddNumberToObject(w, "gpu_incomplete", (double)r.stats.gpu_incomplete);
      cJSON_AddNumberToObject(w, "gpu_gaps", (double)r.stats.gpu_gaps);
      cJSON_AddNumberToObject(w, "gpu_time_outliers", (double)r.stats.gpu_time_outliers);
      cJSON_AddBoolToObject(w, "gzip_truncated", r.stats.gzip_truncated != 0);
      cJSON_AddBoolToObject(w, "gzip_trailing", r.stats.gzip_trailing != 0);
      cJSON_AddNumberToObject(obj, "gpu_lines", (double)r.stats.gpu_lines);
      cJSON_AddNumberToObject(obj, "cpu_lines", (double)r.stats.cpu_lines);
      cJSON_AddNumberToObject(obj, "cpu_matched", (double)r.stats.cpu_matched);
      cJSON_AddNumberToObject(obj, "trimmed", (double)r.stats.trimmed);
      cli_print_json(obj);
      cJSON_Delete(obj);
    }
  } else {
    print_summary(gpu_path, &r);
  }
  dle_store_close(st);
  return status;
}

/* ---- the SEAA 2023 dataset ---- */

static int import_seaa(const char *dir, const import_opts *o) {
  dle_error err;
  dle_error_clear(&err);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/runs.csv", dir);
  dle_csv_table *tab = NULL;
  if (dle_csv_table_read(path, &tab, &err)) return cli_fail("import", &err);
  long c_gpu = dle_csv_table_col(tab, "gpu_trace"), c_cpu = dle_csv_table_col(tab, "cpu_trace");
  if (c_gpu < 0 || c_cpu < 0) {
    dle_csv_table_free(tab);
    dle_error_set(&err, DLE_EPARSE, "%s has no gpu_trace/cpu_trace columns", path);
    return cli_fail("import", &err);
  }
  size_t cols = dle_csv_table_cols(tab), rows = dle_csv_table_rows(tab);
  const char **kv = calloc(2 * (cols + 8), sizeof *kv);
  dle_store *st = NULL;
  if (!kv || dle_store_open(cli_db_path(o->db), &st, &err)) {
    free(kv);
    dle_csv_table_free(tab);
    if (!kv) dle_error_set(&err, DLE_ENOMEM, "out of memory");
    return cli_fail("import", &err);
  }
  known_set known;
  dir_cache dcache;
  dcache.valid = false;
  dir_cache *dc = &dcache;
  if (known_load(st, &known, &err)) {
    dle_store_close(st);
    free(kv);
    dle_csv_table_free(tab);
    return cli_fail("import", &err);
  }
  cJSON *root = o->json ? cJSON_CreateObject() : NULL;
  cJSON *runs = root ? cJSON_AddArrayToObject(root, "runs") : NULL;
  size_t imported = 0, untraced = 0, existing = 0, warnings = 0, total_traced = 0, failed = 0;
  int64_t first_id = 0, last_id = 0;
  int status = DLE_EXIT_OK;
  bool tty = cli_stderr_is_tty() && !o->verbose;
  bool in_batch = false;
  size_t batch_runs = 0; /* imported in the open batch (not committed yet) */
  int64_t batch_t0_ns = 0;
  for (size_t r = 0; r < rows; r++) {
    const char *g = dle_csv_table_cell(tab, r, (size_t)c_gpu);
    const char *c = dle_csv_table_cell(tab, r, (size_t)c_cpu);
    if (!g || !*g) {
      untraced++;
      continue;
    }
    total_traced++;
    size_t n = 0;
    for (size_t k = 0; k < cols; k++) {
      const char *h = dle_csv_table_header(tab, k);
      if ((long)k == c_gpu || (long)k == c_cpu) continue;
      kv[2 * n] = h;
      kv[2 * n + 1] = dle_csv_table_cell(tab, r, k);
      n++;
    }
    /* The store's well-known keys (store.h), from the study's columns. */
    static const char *const alias[][2] = {{"gpu_model", "gpu_name"},
                                           {"forward_pass_gflop", "gflops"},
                                           {"trained_epochs", "epochs_total"}};
    for (size_t a = 0; a < sizeof alias / sizeof alias[0]; a++) {
      long ci = dle_csv_table_col(tab, alias[a][0]);
      if (ci < 0) continue;
      kv[2 * n] = alias[a][1];
      kv[2 * n + 1] = dle_csv_table_cell(tab, r, (size_t)ci);
      n++;
    }
    kv[2 * n] = "image";
    kv[2 * n + 1] = "128x128";
    n++;
    kv[2 * n] = "dataset";
    kv[2 * n + 1] = "seaa2023";
    n++;
    int epochs = 0;
    long ce = dle_csv_table_col(tab, "trained_epochs");
    if (ce >= 0 && !cli_parse_int(dle_csv_table_cell(tab, r, (size_t)ce), &epochs)) epochs = 0;
    char gp[PATH_MAX], cp[PATH_MAX];
    snprintf(gp, sizeof gp, "%s/%s", dir, g);
    snprintf(cp, sizeof cp, "%s/%s", dir, c);
    import_result res;
    if (!in_batch) {
      if (dle_store_begin(st, &err)) {
        status = cli_fail("import", &err);
        break;
      }
      in_batch = true;
      batch_t0_ns = dle_monotonic_ns();
    }
    int rc = import_one(st, gp, c && *c ? cp : NULL, o, kv, n, epochs, &known, dc, &res, &err);
    if (rc && res.store_failed) { /* the batch was rolled back: stop */
      if (tty) fprintf(stderr, "\r%40s\r", "");
      cli_fail("import", &err);
      fprintf(stderr, "dlenergy import: the %zu runs imported since the last commit were rolled "
              "back; the store holds the %zu before them (run the import again to resume)\n",
              batch_runs, imported - batch_runs);
      imported -= batch_runs;
      in_batch = false;
      status = DLE_EXIT_FAIL;
      break;
    }
    if (rc) { /* a file that does not parse: report, go on, exit 1 at the end */
      if (tty) fprintf(stderr, "\r%40s\r", "");
      cli_fail("import", &err);
      failed++;
      continue;
    }
    if (res.skipped_existing) {
      existing++;
    } else {
      imported++;
      batch_runs++;
      warnings += res.stats.warnings;
      if (!first_id) first_id = res.run_id;
      last_id = res.run_id;
    }
    long ca = dle_csv_table_col(tab, "architecture"), cn = dle_csv_table_col(tab, "environment_id"),
         cr = dle_csv_table_col(tab, "run");
    const char *arch = ca >= 0 ? dle_csv_table_cell(tab, r, (size_t)ca) : "";
    const char *env = cn >= 0 ? dle_csv_table_cell(tab, r, (size_t)cn) : "";
    const char *run = cr >= 0 ? dle_csv_table_cell(tab, r, (size_t)cr) : "";
    if (runs && !res.skipped_existing) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddNumberToObject(e, "run_id", (double)res.run_id);
      cJSON_AddStringToObject(e, "environment_id", env);
      cJSON_AddStringToObject(e, "architecture", arch);
      cJSON_AddStringToObject(e, "run", run);
      cJSON_AddNumberToObject(e, "samples", (double)res.sum.samples);
      dle_json_number_or_null(e, "duration_s", res.sum.duration_s);
      dle_json_number_or_null(e, "gpu_energy_j", res.sum.energy_j[DLE_COMP_GPU]);
      dle_json_number_or_null(e, "avg_gpu_power_w", res.sum.avg_power_w[DLE_COMP_GPU]);
      dle_json_number_or_null(e, "ram_energy_j", res.sum.energy_j[DLE_COMP_RAM]);
      dle_json_number_or_null(e, "emissions_g", res.sum.emissions_g);
      cJSON_AddNumberToObject(e, "warnings", (double)res.stats.warnings);
      cJSON_AddItemToArray(runs, e);
    }
    if (o->verbose && !o->json) {
      char en[96];
      cli_format_energy(res.sum.energy_j[DLE_COMP_GPU], en, sizeof en);
      if (res.skipped_existing)
        printf("  %-8s %-14s run %-3s already run %" PRId64 "\n", env, arch, run, res.run_id);
      else
        printf("  %-8s %-14s run %-3s -> run %-5" PRId64 " %6zu samples  GPU %s%s\n", env, arch,
               run, res.run_id, res.sum.samples, en, res.stats.warnings ? "  (warnings)" : "");
    } else if (tty) {
      fprintf(stderr, "\rimporting %zu/%zu", imported + existing, rows - untraced);
    }
    /* Commit at a run boundary every half second: an interrupted import loses at most
     * that much work and never leaves part of a run; the store's one-second rule,
     * which could commit in the middle of a run, does not come into play. */
    if (dle_monotonic_ns() - batch_t0_ns >= IMPORT_BATCH_NS) {
      if (dle_store_commit(st, &err)) {
        status = cli_fail("import", &err);
        imported -= batch_runs;
        in_batch = false;
        break;
      }
      in_batch = false;
      batch_runs = 0;
    }
  }
  if (in_batch && dle_store_commit(st, &err)) {
    status = cli_fail("import", &err);
    imported -= batch_runs;
  }
  if (tty) fprintf(stderr, "\r%40s\r", "");
  if (status == DLE_EXIT_OK) {
    if (root) {
      cJSON_AddNumberToObject(root, "imported", (double)imported);
      cJSON_AddNumberToObject(root, "already_imported", (double)existing);
      cJSON_AddNumberToObject(root, "skipped_untraced", (double)untraced);
      cJSON_AddNumberToObject(root, "warnings", (double)warnings);
      cJSON_AddNumberToObject(root, "failed", (double)failed);
      cli_print_json(root);
    } else {
      printf("Imported %zu of %zu traced runs from %s", imported, total_traced, dir);
      if (imported) printf(" (run ids %" PRId64 "-%" PRId64 ")", first_id, last_id);
      printf("; %zu already in the store, %zu rows of runs.csv have no trace; %zu warnings",
             existing, untraced, warnings);
      if (failed) printf("; %zu FAILED (see above)", failed);
      printf(".\n");
      printf("GPU energy is measured (nvidia-smi power, trapezoid); RAM energy is modelled "
             "(%.4g W/GB of RSS).\n", o->ing.ram_w_per_gb);
    }
  }
  if (status == DLE_EXIT_OK && failed) status = DLE_EXIT_FAIL;
  cJSON_Delete(root);
  known_free(&known);
  dle_store_close(st);
  free(kv);
  dle_csv_table_free(tab);
  return status;
}

static int cmd_import(int argc, char **argv) {
  enum { O_CPU = 256, O_SKIP_FIRST, O_SKIP_LAST, O_INT, O_JOIN, O_TDP, O_RAM, O_PUE, O_CI,
         O_COUNTRY, O_META, O_AGAIN, O_JSON, O_MAX_GAP, O_DB };
  static const struct option opts[] = {{"cpu", required_argument, NULL, O_CPU},
                                       {"skip-first", required_argument, NULL, O_SKIP_FIRST},
                                       {"skip-last", required_argument, NULL, O_SKIP_LAST},
                                       {"integer-watts", no_argument, NULL, O_INT},
                                       {"join-tolerance", required_argument, NULL, O_JOIN},
                                       {"cpu-tdp", required_argument, NULL, O_TDP},
                                       {"ram-w-per-gb", required_argument, NULL, O_RAM},
                                       {"pue", required_argument, NULL, O_PUE},
                                       {"carbon-intensity", required_argument, NULL, O_CI},
                                       {"country", required_argument, NULL, O_COUNTRY},
                                       {"meta", required_argument, NULL, O_META},
                                       {"again", no_argument, NULL, O_AGAIN},
                                       {"json", no_argument, NULL, O_JSON},
                                       {"max-gap", required_argument, NULL, O_MAX_GAP},
                                       {"db", required_argument, NULL, O_DB},
                                       {"verbose", no_argument, NULL, 'v'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  import_opts o;
  memset(&o, 0, sizeof o);
  dle_ingest_options_init(&o.ing);
  o.pue = 1.0;
  o.carbon_g_per_kwh = NAN;
  const char *country = NULL;
  bool skip_first_set = false, skip_last_set = false, ci_set = false;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
    switch (c) {
      case O_CPU: o.cpu_path = optarg; break;
      case O_SKIP_FIRST:
        if (!cli_parse_size(optarg, 0, INT32_MAX, &o.ing.skip_first))
          return cli_usage_error("import", "--skip-first wants a count >= 0, not '%s'", optarg);
        skip_first_set = true;
        break;
      case O_SKIP_LAST:
        if (!cli_parse_size(optarg, 0, INT32_MAX, &o.ing.skip_last))
          return cli_usage_error("import", "--skip-last wants a count >= 0, not '%s'", optarg);
        skip_last_set = true;
        break;
      case O_INT: o.ing.integer_values = 1; break;
      case O_JOIN:
        if (!cli_parse_double(optarg, &o.ing.join_tolerance_s) || o.ing.join_tolerance_s < 0)
          return cli_usage_error("import", "--join-tolerance wants seconds >= 0, not '%s'", optarg);
        break;
      case O_TDP:
        if (!cli_parse_double(optarg, &o.ing.cpu_tdp_w) || o.ing.cpu_tdp_w <= 0)
          return cli_usage_error("import", "--cpu-tdp wants watts > 0, not '%s'", optarg);
        break;
      case O_RAM:
        if (!cli_parse_double(optarg, &o.ing.ram_w_per_gb) || o.ing.ram_w_per_gb < 0)
          return cli_usage_error("import", "--ram-w-per-gb wants a value >= 0, not '%s'", optarg);
        break;
      case O_PUE:
        if (!cli_parse_double(optarg, &o.pue) || o.pue < 1)
          return cli_usage_error("import", "--pue wants a value >= 1, not '%s'", optarg);
        break;
      case O_CI:
        if (!cli_parse_double(optarg, &o.carbon_g_per_kwh) || o.carbon_g_per_kwh < 0)
          return cli_usage_error("import", "--carbon-intensity wants g/kWh >= 0, not '%s'",
                                 optarg);
        ci_set = true;
        break;
      case O_COUNTRY: country = optarg; break;
      case O_META:
        if (!strchr(optarg, '=') || optarg[0] == '=')
          return cli_usage_error("import", "--meta wants KEY=VALUE, not '%s'", optarg);
        if (o.n_meta == MAX_META) return cli_usage_error("import", "too many --meta options");
        o.meta[o.n_meta++] = optarg;
        break;
      case O_AGAIN: o.again = true; break;
      case O_JSON: o.json = true; break;
      case O_MAX_GAP:
        if (!cli_parse_double(optarg, &o.ing.max_gap_s) || !(o.ing.max_gap_s > 0) ||
            o.ing.max_gap_s > 1e6)
          return cli_usage_error("import", "--max-gap wants seconds in (0, 1e6], not '%s'",
                                 optarg);
        break;
      case O_DB: o.db = optarg; break;
      case 'v': o.verbose = true; break;
      case 'h': usage(stdout); return DLE_EXIT_OK;
      default: return cli_usage_error("import", "unknown option");
    }
  }
  if (argc - optind != 2)
    return cli_usage_error("import", "expected a format (nvidia-smi or seaa2023) and a path");
  const char *format = argv[optind], *path = argv[optind + 1];
  bool seaa = strcmp(format, "seaa2023") == 0;
  if (!seaa && strcmp(format, "nvidia-smi") != 0)
    return cli_usage_error("import", "unknown format '%s' (nvidia-smi or seaa2023)", format);
  if (ci_set && country)
    return cli_usage_error("import", "give --carbon-intensity or --country, not both");
  if (seaa && o.cpu_path)
    return cli_usage_error("import", "--cpu is for the nvidia-smi form (seaa2023 pairs the files)");
  if (seaa) {
    if (!skip_first_set) o.ing.skip_first = 3;
    if (!skip_last_set) o.ing.skip_last = 3;
    if (!ci_set && !country) country = "ES";
  }
  bool carbon_default = !ci_set && !country;
  if (carbon_default) country = "WORLD"; /* the table's world average, labelled default */
  if (country) {
    dle_error err;
    dle_carbon_info ci;
    if (dle_carbon_find(country, &ci, &err)) return cli_fail("import", &err);
    o.carbon_g_per_kwh = ci.g_per_kwh;
    snprintf(o.carbon_source, sizeof o.carbon_source, "%s%.4g g/kWh (%s, %d; %s)",
             carbon_default ? "default: " : "", ci.g_per_kwh, ci.name, ci.year, ci.source);
  } else {
    snprintf(o.carbon_source, sizeof o.carbon_source, "%.4g g/kWh (--carbon-intensity)",
             o.carbon_g_per_kwh);
  }
  return seaa ? import_seaa(path, &o) : import_nvidia_smi(path, &o);
}

const dle_cli_verb dle_verb_import = {
    "import", "import nvidia-smi/psutil logs (or the SEAA 2023 dataset) as runs", cmd_import};
