/* cmd_fit.c — `dlenergy fit`: train the PRE regressors (the study's offline
 * method) on runs.csv or the run store, cross-validate them and write a model file. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dlenergy/energy.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/gpus.h"
#include "dlenergy/regress.h"
#include "dlenergy/store.h"

#define VERB "fit"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy fit --target power|epoch-energy (--table T.csv | --csv runs.csv |\n"
          "                    --db PATH) [--model linear|ridge|krr|svr|all] [-o model.json]\n"
          "                    [--group-by COLUMN] [OPTIONS]\n"
          "Fit the PRE regressors: average GPU power (W) or average GPU energy per epoch (J)\n"
          "from batch size, image size, training/validation size, GFLOPs, host RAM, GPU CUDA\n"
          "cores, GPU memory and GPU TDP (GPU facts from the catalogue by GPU name), plus\n"
          "architecture and environment one-hot. Numeric features are standardized; one\n"
          "that is constant in the data is unused. Randomized search over the study's\n"
          "hyperparameter distributions, k-fold CV scored by R2, MAPE, RMSE and MAE; the\n"
          "best draw (highest mean R2) is refitted on all rows and written to -o.\n"
          "With --table (data/pre/training.csv's columns) the features are the ones that\n"
          "carry over between GPUs and workloads: log batch size, log forward GFLOPs, log\n"
          "steps per epoch, power limit / TDP, and the target is fitted in logs relative to\n"
          "the power limit (power) or to power limit x the epoch's FLOPs at peak FP32 rate\n"
          "(epoch energy), so predictions are never <= 0. --group-by scores every draw by\n"
          "leave-one-group-out CV (e.g. gpu_model: GPUs the model never saw) and prints the\n"
          "shuffled k-fold scores of the chosen draw beside it, and the score per group.\n\n"
          "Options:\n"
          "  --target T        power | epoch-energy (required)\n"
          "  --model M         linear, ridge, krr (kernel ridge, default), svr, or all\n"
          "                    (all: fit each, print the table, write the best by R2)\n"
          "  --table FILE      PRE table: gpu_model, batch_size, training_size,\n"
          "                    validation_size, forward_pass_gflop, [power_limit_w],\n"
          "                    [architecture], [dataset], avg_gpu_power_w / epoch_energy_j\n"
          "  --features LIST   with --table: extra numeric columns as features (a,b,...)\n"
          "  --csv FILE        runs.csv-style table, the study's features (reproduction)\n"
          "  --group-by COL    leave-one-group-out CV on that column of --table / --csv,\n"
          "                    or with --db on that run metadata key (gpu_model = the\n"
          "                    gpu_name metadata; host, source: the run's own fields)\n"
          "  --catalog FILE    GPU catalogue to use instead of the shipped data/gpus.csv\n"
          "  --no-merge        kernel ridge solves every row as its own (benchmarks; the\n"
          "                    default collapses identical rows exactly)\n"
          "  --exact           CV by the reference paths: kernel ridge by dense Cholesky\n"
          "                    (not preconditioned CG: scores equal to ~1e-12), SVR by\n"
          "                    libsvm (not dlenergy's SMO+Newton solver: both stop at\n"
          "                    gap 1e-3, scores agree to ~1e-4); slower\n"
          "  --nested          with --group-by: also nested CV (the search redone without\n"
          "                    each held-out group, inner leave-one-group-out): the\n"
          "                    unbiased grouped score of the whole procedure\n"
          "  --select S        rank draws by r2 (highest mean R2; default) or mape (lowest\n"
          "                    mean MAPE; the default with --group-by); -o gets the best\n"
          "  --db PATH         the run store (complete runs with gpu_name, gflops, ... meta)\n"
          "  --filter F        with --db: runs matching key=value[,key=value] (--runs is the\n"
          "                    same option)\n"
          "  -o, --output FILE model file to write (required unless --params is given)\n"
          "  --seed S          seed of the folds and the draws (default 42)\n"
          "  --draws N         hyperparameter draws (default 100)\n"
          "  --folds K         CV folds (default 5)\n"
          "  --no-shuffle      consecutive folds in row order (scikit-learn KFold default)\n"
          "  --params P        no search: CV of fixed hyperparameters, e.g.\n"
          "                    alpha=0.01,gamma=0.005 (krr) or c=300,epsilon=1,gamma=0.01 (svr)\n"
          "  --fold-file FILE  write the test fold of each row, one per line\n"
          "  --image HxW       image size when the table has none (default 128x128)\n"
          "  --ram-gb G        host RAM when the table has none (default 0 = unknown)\n"
          "  --json            print the results as JSON\n"
          "  -h, --help        this help\n");
}

/* "alpha=0.01,gamma=0.005" */
static int parse_params(const char *s, dle_regress_hyper *h) {
  *h = (dle_regress_hyper){NAN, NAN, NAN, NAN};
  char buf[512];
  if (strlen(s) >= sizeof buf) return -1;
  snprintf(buf, sizeof buf, "%s", s);
  char *save = NULL;
  for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) return -1;
    *eq = '\0';
    double v;
    if (!cli_parse_double(eq + 1, &v) || v < 0) return -1;
    if (strcmp(kv, "alpha") == 0)
      h->alpha = v;
    else if (strcmp(kv, "gamma") == 0)
      h->gamma = v;
    else if (strcmp(kv, "c") == 0 || strcmp(kv, "C") == 0)
      h->c = v;
    else if (strcmp(kv, "epsilon") == 0)
      h->epsilon = v;
    else
      return -1;
  }
  return 0;
}

static double meta_num(const dle_kv *kv, size_t n, const char *key) {
  const char *v = dle_kv_get(kv, n, key);
  double d;
  return v && cli_parse_double(v, &d) ? d : NAN;
}

/* The --group-by label of a stored run: its metadata value of that key; gpu_model
 * (the --table column) is the gpu_name metadata, host and source the run's own
 * fields. NULL when the run has none. */
static const char *store_group_label(const dle_kv *kv, size_t nkv, const dle_run_info *info,
                                     const char *key) {
  const char *v = dle_kv_get(kv, nkv, key);
  if (v && *v) return v;
  if (strcmp(key, "gpu_model") == 0) v = dle_kv_get(kv, nkv, "gpu_name");
  else if (strcmp(key, "host") == 0) v = info->host;
  else if (strcmp(key, "source") == 0) v = info->source;
  return v && *v ? v : NULL;
}

/* The PRE dataset from the run store: complete runs whose metadata names the GPU,
 * the forward GFLOPs, batch size and set sizes; targets from the measured GPU
 * energy (trapezoid) of the trace. Runs lacking something are skipped and counted.
 * With group_by, labels gets the group of each row (a run that would be used but has
 * no such label is an error naming it). */
static int dataset_from_store(const char *db, const char *filter, dle_pre_target target,
                              double img_h, double img_w, double ram_gb, const dle_gpu_catalog *cat,
                              const char *group_by, char ***labels, dle_dataset **out,
                              size_t *skipped, dle_error *err) {
  *out = NULL;
  *skipped = 0;
  if (labels) *labels = NULL;
  dle_store *st = NULL;
  int rc = cli_open_store_existing(db, &st, err);
  if (rc) return rc;
  int64_t *ids = NULL;
  size_t n = 0;
  rc = dle_store_select_runs(st, filter, &ids, &n, err);
  static const char *const cat_names[] = {"architecture", "environment"};
  const char *num_names[DLE_PRE_N_NUM];
  for (size_t i = 0; i < DLE_PRE_N_NUM; i++) num_names[i] = dle_pre_feature_name(i);
  bool power = target == DLE_PRE_TARGET_POWER;
  dle_dataset *d = NULL;
  char **lab = NULL;
  size_t n_lab = 0;
  if (!rc && group_by && !(lab = calloc(n ? n : 1, sizeof *lab)))
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
  if (!rc)
    rc = dle_dataset_new(DLE_PRE_N_NUM, num_names, 2, cat_names, power ? "power" : "epoch_energy",
                         power ? "W" : "J", &d, err);
  for (size_t i = 0; !rc && i < n; i++) {
    dle_run_info info;
    dle_kv *kv = NULL;
    size_t nkv = 0;
    dle_epoch *ep = NULL;
    size_t nep = 0;
    bool use = false;
    double num[DLE_PRE_N_NUM], y = NAN;
    const char *cv[2] = {NULL, NULL};
    if (dle_store_get_run(st, ids[i], &info, err) == DLE_OK && info.status == DLE_RUN_COMPLETE &&
        dle_store_get_meta(st, ids[i], &kv, &nkv, err) == DLE_OK) {
      const char *gpu = dle_kv_get(kv, nkv, "gpu_name");
      const dle_gpu_spec *spec = NULL;
      double ih = img_h, iw = img_w;
      const char *img = dle_kv_get(kv, nkv, "image");
      long img_hl, img_wl;
      if (img && cli_parse_image_hw(img, &img_hl, &img_wl)) {
        ih = (double)img_hl;
        iw = (double)img_wl;
      }
      double ram = meta_num(kv, nkv, "host_ram_gb");
      if (isnan(ram)) ram = ram_gb;
      if (gpu && dle_gpu_catalog_find(cat, gpu, &spec, err) == DLE_OK) {
        dle_pre_features(meta_num(kv, nkv, "batch_size"), ih, iw,
                         meta_num(kv, nkv, "training_size"), meta_num(kv, nkv, "validation_size"),
                         meta_num(kv, nkv, "gflops"), ram, spec, num);
        dle_run_energy re; /* streamed: memory does not grow with the run's samples */
        const dle_energy_summary *es = &re.sum;
        if (dle_energy_summarize_run(st, ids[i], &info, NULL, 0, NULL, &re, err) == DLE_OK &&
            dle_store_load_epochs(st, ids[i], &ep, &nep, err) == DLE_OK) {
          double epochs = nep ? (double)nep : meta_num(kv, nkv, "epochs_total");
          y = power ? es->sample_mean_w[DLE_COMP_GPU] : es->energy_j[DLE_COMP_GPU] / epochs;
          cv[0] = dle_kv_get(kv, nkv, "architecture");
          cv[1] = dle_kv_get(kv, nkv, "environment");
          if (!cv[0]) cv[0] = "unknown";
          if (!cv[1]) cv[1] = info.host[0] ? info.host : "unknown";
          use = isfinite(y) && y > 0;
          for (size_t k = 0; k < DLE_PRE_N_NUM; k++) use = use && isfinite(num[k]);
        }
      }
    }
    if (use && group_by) {
      const char *g = store_group_label(kv, nkv, &info, group_by);
      if (!g)
        rc = dle_error_set(err, DLE_ENOTFOUND,
                           "--group-by %s: run %" PRId64 " has no '%s' metadata (set it with "
                           "import/run --meta %s=VALUE; gpu_model reads gpu_name, host and "
                           "source the run's own fields)",
                           group_by, ids[i], group_by, group_by);
      else if (!(lab[n_lab] = strdup(g)))
        rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      else
        n_lab++;
    }
    if (use) {
      if (!rc) rc = dle_dataset_add(d, num, cv, y, err);
    } else {
      (*skipped)++;
    }
    dle_kv_free(kv, nkv);
    free(ep);
  }
  free(ids);
  dle_store_close(st);
  if (!rc && dle_dataset_rows(d) < 2)
    rc = dle_error_set(err, DLE_ERANGE,
                       "%s: fewer than 2 usable runs (complete, with gpu_name, gflops, "
                       "batch_size, training_size and validation_size metadata); %zu skipped",
                       db, *skipped);
  if (rc) {
    for (size_t i = 0; i < n_lab; i++) free(lab[i]);
    free(lab);
    dle_dataset_free(d);
    return rc;
  }
  *out = d;
  if (labels) *labels = lab;
  return DLE_OK;
}

static void free_labels(char **lab, size_t n) {
  for (size_t i = 0; lab && i < n; i++) free(lab[i]);
  free(lab);
}

static cJSON *hyper_json(dle_regress_kind k, const dle_regress_hyper *h) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (k == DLE_REG_RIDGE || k == DLE_REG_KRR) cJSON_AddNumberToObject(o, "alpha", h->alpha);
  if (k == DLE_REG_KRR || k == DLE_REG_SVR) cJSON_AddNumberToObject(o, "gamma", h->gamma);
  if (k == DLE_REG_SVR) {
    cJSON_AddNumberToObject(o, "c", h->c);
    cJSON_AddNumberToObject(o, "epsilon", h->epsilon);
  }
  return o;
}

static void hyper_text(dle_regress_kind k, const dle_regress_hyper *h, char *buf, size_t n) {
  switch (k) {
    case DLE_REG_RIDGE:
      snprintf(buf, n, "alpha=%.4g", h->alpha);
      break;
    case DLE_REG_KRR:
      snprintf(buf, n, "alpha=%.4g gamma=%.4g", h->alpha, h->gamma);
      break;
    case DLE_REG_SVR:
      snprintf(buf, n, "C=%.4g epsilon=%.4g gamma=%.4g", h->c, h->epsilon, h->gamma);
      break;
    default:
      snprintf(buf, n, "-");
      break;
  }
}

typedef struct group_score {
  size_t n;
  double r2, mape, rmse;
} group_score;

/* Scores of the out-of-fold predictions of group g. */
static void group_scores(const dle_dataset *d, const int *fold, const double *pred, size_t n,
                         int g, group_score *out) {
  double ym = 0, ss_res = 0, ss_tot = 0, ape = 0;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (fold[i] == g) {
      ym += dle_dataset_target(d, i);
      m++;
    }
  ym = m ? ym / (double)m : NAN;
  for (size_t i = 0; i < n; i++)
    if (fold[i] == g) {
      double y = dle_dataset_target(d, i), r = y - pred[i];
      ss_res += r * r;
      ss_tot += (y - ym) * (y - ym);
      ape += fabs(r) / fabs(y);
    }
  out->n = m;
  out->r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : NAN;
  out->mape = m ? ape / (double)m : NAN;
  out->rmse = m ? sqrt(ss_res / (double)m) : NAN;
}

/* The fit's heap, faulted in by one madvise(MADV_POPULATE_WRITE) instead of page by page.
 * A fit touches a few hundred KiB to some MiB of fresh heap (the table, each fold's encoded
 * design, the solver's scratch), and every first touch of a page is a page-fault trap.
 * Measured in the development VM (perf stat -r 20, the training table, loaded machine):
 * 436 -> 180 faults and 21.6 -> 18.2 ms of CPU, about 13 us per fault avoided. The block
 * is freed at once; the CLI's malloc policy (main.c) keeps it in the heap for the
 * allocations that follow. Sized from the table file (6x its bytes, 256 KiB .. 16 MiB,
 * under the mmap threshold); a kernel without MADV_POPULATE_WRITE (before 5.14) ignores
 * the advice. */
static void prefault_heap(const char *table_path) {
#ifdef MADV_POPULATE_WRITE
  struct stat st;
  if (!table_path || stat(table_path, &st) != 0 || !S_ISREG(st.st_mode)) return;
  size_t want = (size_t)st.st_size * 6, lo = (size_t)256 << 10, hi = (size_t)16 << 20;
  want = want < lo ? lo : want > hi ? hi : want;
  char *p = malloc(want);
  long pg = sysconf(_SC_PAGESIZE);
  if (p && pg > 0) {
    uintptr_t m = (uintptr_t)pg - 1;
    uintptr_t a = ((uintptr_t)p + m) & ~m, e = ((uintptr_t)p + want) & ~m;
    if (e > a) (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
  }
  free(p);
#else
  (void)table_path;
#endif
}

/* The fold file is written on a thread while the search runs: its fsync waits on the disk
 * (2-3 ms per file on the development VM), which then overlaps the computation instead of
 * adding to it. Same atomic write (temporary file, fsync, rename) as before. */
typedef struct fold_writer {
  pthread_t thread;
  bool running;
  const char *path;
  char *buf;
  size_t len;
  int rc;
  dle_error err;
} fold_writer;

static void *fold_writer_main(void *arg) {
  fold_writer *w = arg;
  w->rc = dle_write_file_atomic(w->path, w->buf, w->len, &w->err);
  return NULL;
}

/* Takes buf. Writes on a thread, or here when no thread can be started or when the
 * write must not overlap the verb's own output (standard output, the model's path). */
static int fold_writer_start(fold_writer *w, const char *path, char *buf, size_t len,
                             bool here, dle_error *err) {
  *w = (fold_writer){.path = path, .buf = buf, .len = len};
  if (!here && pthread_create(&w->thread, NULL, fold_writer_main, w) == 0) {
    w->running = true;
    return DLE_OK;
  }
  int rc = dle_write_file_atomic(path, buf, len, err);
  free(buf);
  w->buf = NULL;
  return rc;
}

/* Waits for the write; its error goes to err unless rc already holds one. */
static int fold_writer_finish(fold_writer *w, int rc, dle_error *err) {
  if (!w->running) return rc;
  pthread_join(w->thread, NULL);
  w->running = false;
  free(w->buf);
  w->buf = NULL;
  if (w->rc != DLE_OK && rc == DLE_OK) {
    *err = w->err;
    rc = w->rc;
  }
  return rc;
}

static int cmd_fit(int argc, char **argv) {
  enum {
    O_TARGET = 256,
    O_MODEL,
    O_CSV,
    O_DB,
    O_FILTER,
    O_SEED,
    O_DRAWS,
    O_FOLDS,
    O_NOSHUF,
    O_PARAMS,
    O_FOLDFILE,
    O_IMAGE,
    O_RAM,
    O_JSON,
    O_TABLE,
    O_FEATURES,
    O_GROUP,
    O_CATALOG,
    O_SELECT,
    O_NOMERGE,
    O_NESTED,
    O_EXACT
  };
  static const struct option opts[] = {{"target", required_argument, NULL, O_TARGET},
                                       {"model", required_argument, NULL, O_MODEL},
                                       {"csv", required_argument, NULL, O_CSV},
                                       {"db", required_argument, NULL, O_DB},
                                       {"filter", required_argument, NULL, O_FILTER},
                                       {"runs", required_argument, NULL, O_FILTER}, /* as analyze */
                                       {"output", required_argument, NULL, 'o'},
                                       {"seed", required_argument, NULL, O_SEED},
                                       {"draws", required_argument, NULL, O_DRAWS},
                                       {"folds", required_argument, NULL, O_FOLDS},
                                       {"no-shuffle", no_argument, NULL, O_NOSHUF},
                                       {"params", required_argument, NULL, O_PARAMS},
                                       {"fold-file", required_argument, NULL, O_FOLDFILE},
                                       {"image", required_argument, NULL, O_IMAGE},
                                       {"ram-gb", required_argument, NULL, O_RAM},
                                       {"json", no_argument, NULL, O_JSON},
                                       {"table", required_argument, NULL, O_TABLE},
                                       {"features", required_argument, NULL, O_FEATURES},
                                       {"group-by", required_argument, NULL, O_GROUP},
                                       {"catalog", required_argument, NULL, O_CATALOG},
                                       {"select", required_argument, NULL, O_SELECT},
                                       {"no-merge", no_argument, NULL, O_NOMERGE},
                                       {"nested", no_argument, NULL, O_NESTED},
                                       {"exact", no_argument, NULL, O_EXACT},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *target_s = NULL, *model_s = "krr", *csv = NULL, *db = NULL, *filter = NULL,
             *output = NULL, *params = NULL, *fold_file = NULL, *table = NULL, *features = NULL,
             *group_by = NULL, *catalog = NULL, *select_s = NULL;
  bool json = false, no_merge = false, nested = false, exact = false;
  dle_regress_search_opts so;
  dle_regress_search_opts_init(&so);
  dle_pre_csv_opts co;
  dle_pre_csv_opts_init(&co);
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    int64_t v;
    switch (c) {
      case O_TARGET:
        target_s = optarg;
        break;
      case O_MODEL:
        model_s = optarg;
        break;
      case O_CSV:
        csv = optarg;
        break;
      case O_DB:
        db = optarg;
        break;
      case O_FILTER:
        filter = optarg;
        break;
      case 'o':
        output = optarg;
        break;
      case O_SEED:
        if (!cli_parse_int64(optarg, &v) || v < 0)
          return cli_usage_error(VERB, "bad --seed '%s'", optarg);
        so.seed = (uint64_t)v;
        break;
      case O_DRAWS:
        if (!cli_parse_int64(optarg, &v) || v < 1 || v > 100000)
          return cli_usage_error(VERB, "--draws must be 1..100000");
        so.draws = (size_t)v;
        break;
      case O_FOLDS:
        if (!cli_parse_int64(optarg, &v) || v < 2 || v > 1000)
          return cli_usage_error(VERB, "--folds must be 2..1000");
        so.folds = (int)v;
        break;
      case O_NOSHUF:
        so.shuffle = false;
        break;
      case O_PARAMS:
        params = optarg;
        break;
      case O_FOLDFILE:
        fold_file = optarg;
        break;
      case O_IMAGE: {
        long h, w;
        if (!cli_parse_image_hw(optarg, &h, &w))
          return cli_usage_error(VERB, "--image wants HxW, e.g. 128x128");
        co.image_h = (double)h;
        co.image_w = (double)w;
        break;
      }
      case O_RAM: {
        double g;
        if (!cli_parse_double(optarg, &g) || g < 0) return cli_usage_error(VERB, "bad --ram-gb");
        co.host_ram_gb = g;
        break;
      }
      case O_JSON:
        json = true;
        break;
      case O_TABLE:
        table = optarg;
        break;
      case O_FEATURES:
        features = optarg;
        break;
      case O_GROUP:
        group_by = optarg;
        break;
      case O_CATALOG:
        catalog = optarg;
        break;
      case O_SELECT:
        select_s = optarg;
        break;
      case O_NOMERGE:
        no_merge = true;
        break;
      case O_NESTED:
        nested = true;
        break;
      case O_EXACT:
        exact = true;
        break;
      case 'h':
        usage(stdout);
        return DLE_EXIT_OK;
      default:
        return cli_usage_error(VERB, "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
  dle_error err = {0};
  dle_pre_target target;
  if (!target_s) return cli_usage_error(VERB, "--target is required (power or epoch-energy)");
  if (dle_pre_target_parse(target_s, &target, &err)) return cli_usage_error(VERB, "%s", err.msg);
  bool all = strcmp(model_s, "all") == 0;
  dle_regress_kind kind = DLE_REG_KRR;
  if (!all && dle_regress_kind_parse(model_s, &kind, &err))
    return cli_usage_error(VERB, "%s", err.msg);
  if (!!csv + !!db + !!table != 1)
    return cli_usage_error(VERB, "give exactly one of --table, --csv and --db");
  if (features && !table) return cli_usage_error(VERB, "--features needs --table");
  if (nested && (!group_by || params))
    return cli_usage_error(VERB, "--nested needs --group-by (and a search, not --params)");
  if (select_s && strcmp(select_s, "r2") != 0 && strcmp(select_s, "mape") != 0)
    return cli_usage_error(VERB, "--select wants r2 or mape");
  so.by_mape = select_s ? strcmp(select_s, "mape") == 0 : group_by != NULL;
  if (filter && !db) return cli_usage_error(VERB, "--filter needs --db");
  dle_regress_hyper fixed;
  if (params && (all || parse_params(params, &fixed)))
    return cli_usage_error(VERB,
                           "--params wants one model and k=v pairs of alpha, gamma, c, epsilon");
  if (!output && !params) return cli_usage_error(VERB, "-o FILE is required");

  prefault_heap(table ? table : csv);
  dle_gpu_catalog *cat = NULL;
  if (dle_gpu_catalog_load(catalog, &cat, &err)) return cli_fail(VERB, &err);
  dle_dataset *d = NULL;
  size_t skipped = 0;
  dle_pre_table *tab = NULL;
  const char *feat[32];
  size_t n_feat = 0;
  char *feat_buf = NULL;
  int rc = DLE_OK;
  if (features && !(feat_buf = cli_split_columns(features, feat, 32, &n_feat)))
    rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
  char **store_lab = NULL; /* --db --group-by: the label of each row */
  if (!rc && (table || (group_by && csv)))
    rc = dle_pre_table_read(table ? table : csv, &tab, &err);
  if (!rc)
    rc = table ? dle_pre_phys_dataset(tab, target, cat, feat, n_feat, &d, &err)
         : csv ? dle_pre_dataset_from_csv(csv, target, &co, cat, &d, &err)
               : dataset_from_store(cli_db_path(db), filter, target, co.image_h, co.image_w,
                                    co.host_ram_gb, cat, group_by, &store_lab, &d, &skipped,
                                    &err);
  if (rc && table) dle_error_prefix(&err, "%s: ", table);
  if (!rc && no_merge) dle_dataset_set_merge_rows(d, false);
  if (!rc && exact) dle_dataset_set_exact_solve(d, true);
  free(feat_buf);
  dle_gpu_catalog_free(cat);
  size_t n = dle_dataset_rows(d);
  /* Groups: the --group-by column of each row (rows of the table map 1:1 to rows). */
  const char **glab = NULL;
  int *gfold = NULL, gk = 0;
  if (!rc && group_by && db) {
    if (!(glab = malloc((n ? n : 1) * sizeof *glab)) || !(gfold = malloc((n ? n : 1) * sizeof *gfold))) {
      rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
    } else {
      for (size_t i = 0; i < n; i++) glab[i] = store_lab[i];
      rc = dle_regress_group_folds(glab, n, gfold, &gk, &err);
      if (rc) dle_error_prefix(&err, "--group-by %s: ", group_by);
    }
  } else if (!rc && group_by) {
    long gc = dle_pre_table_col(tab, group_by);
    if (gc < 0) {
      rc = dle_error_set(&err, DLE_EPARSE, "--group-by: no column '%s'", group_by);
    } else if (dle_pre_table_rows(tab) != n) {
      rc = dle_error_set(&err, DLE_EINTERNAL, "--group-by: table rows do not match the data");
    } else if (!(glab = malloc(n * sizeof *glab)) || !(gfold = malloc(n * sizeof *gfold))) {
      rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
    } else {
      for (size_t i = 0; i < n; i++) glab[i] = dle_pre_table_cell(tab, i, (size_t)gc);
      rc = dle_regress_group_folds(glab, n, gfold, &gk, &err);
    }
  }
  int *fold = rc ? NULL : malloc((n ? n : 1) * sizeof *fold);
  if (!rc && !fold) rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
  if (rc) {
    free(glab);
    free(gfold);
    free_labels(store_lab, n);
    dle_pre_table_free(tab);
    dle_dataset_free(d);
    return cli_fail(VERB, &err);
  }
  rc = dle_regress_folds(n, so.folds, so.shuffle, so.seed, fold, &err);
  fold_writer fw = {0};
  if (!rc && fold_file) {
    size_t cap = n * 8 + 1, o = 0;
    char *buf = malloc(cap);
    if (!buf) {
      rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
    } else {
      for (size_t i = 0; i < n; i++) o += (size_t)snprintf(buf + o, cap - o, "%d\n", fold[i]);
      bool here = strcmp(fold_file, "-") == 0 || (output && strcmp(fold_file, output) == 0);
      rc = fold_writer_start(&fw, fold_file, buf, o, here, &err);
    }
  }
  dle_regress_kind kinds[DLE_REG_COUNT];
  size_t nk = 0;
  if (all)
    for (int k = 0; k < DLE_REG_COUNT; k++) kinds[nk++] = (dle_regress_kind)k;
  else
    kinds[nk++] = kind;
  dle_regress_model *best = NULL;
  double best_r2 = -INFINITY;
  cJSON *root = json ? cJSON_CreateObject() : NULL;
  cJSON *arr = root ? cJSON_AddArrayToObject(root, "models") : NULL;
  if (!rc && !json) {
    char skip[96] = "";
    if (skipped)
      snprintf(skip, sizeof skip, " (%zu runs skipped: incomplete or missing PRE metadata)",
               skipped);
    printf("PRE fit: target %s (%s), %zu rows from %s%s; %d-fold CV%s, seed %" PRIu64 "\n",
           dle_pre_target_name(target), target == DLE_PRE_TARGET_POWER ? "W" : "J", n,
           table ? table : csv ? csv : cli_db_path(db), skip, so.folds,
           so.shuffle ? " (shuffled)" : " (in order)", so.seed);
    if (group_by) {
      printf("Draws are chosen by leave-one-%s-out CV (%d groups); shuffled %d-fold CV of the\n"
             "chosen draw beside it.\n",
             group_by, gk, so.folds);
      printf("%-7s %6s %-38s %8s %8s %11s | %8s %8s\n", "model", "draws", "best hyperparameters",
             "LOGO R2", "MAPE%", "RMSE", "KFold R2", "MAPE%");
    } else {
      printf("%-7s %6s %-38s %8s %8s %11s %11s\n", "model", "draws", "best hyperparameters",
             "R2", "MAPE%", "RMSE", "MAE");
    }
  }
  for (size_t i = 0; !rc && i < nk; i++) {
    dle_regress_model *m = NULL;
    dle_regress_search_result res = {0};
    const int *sfold = group_by ? gfold : fold;
    int sk = group_by ? gk : so.folds;
    dle_cv_scores kcv = {NAN, NAN, NAN, NAN, NAN, NAN};
    if (params) {
      rc = dle_regress_cv(d, kinds[i], &fixed, sfold, sk, &res.cv, &err);
      if (!rc) rc = dle_regress_fit(d, kinds[i], &fixed, &m, &err);
      if (!rc) {
        res.best = dle_regress_model_hyper(m);
        res.evaluated = 1;
        dle_regress_search_opts o1 = so;
        o1.draws = 1;
        if (group_by) {
          o1.folds = gk;
          o1.shuffle = false;
        }
        dle_regress_model_set_cv(m, &o1, &res.cv);
      }
    } else {
      rc = dle_regress_search_folds(d, kinds[i], &so, NULL, 0, group_by ? gfold : NULL, gk,
                                    group_by, &m, &res, &err);
    }
    if (!rc && group_by) rc = dle_regress_cv(d, kinds[i], &res.best, fold, so.folds, &kcv, &err);
    dle_cv_scores ncv = {NAN, NAN, NAN, NAN, NAN, NAN};
    if (!rc && nested) {
      if (!json) fprintf(stderr, "dlenergy fit: nested CV of %s (%d searches)...\n",
                         dle_regress_kind_name(kinds[i]), gk);
      rc = dle_regress_nested_cv(d, kinds[i], &so, gfold, gk, NULL, &ncv, &err);
    }
    /* Per group: out-of-fold predictions of the chosen draw. */
    double *oof = NULL;
    if (!rc && group_by) {
      oof = malloc(n * sizeof *oof);
      dle_cv_scores tmp;
      if (!oof)
        rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
      else
        rc = dle_regress_cv_predict(d, kinds[i], &res.best, gfold, gk, oof, &tmp, &err);
    }
    if (rc) {
      dle_error_prefix(&err, "%s: ", dle_regress_kind_name(kinds[i]));
      break;
    }
    if (json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddItemToArray(arr, o);
      cJSON_AddStringToObject(o, "kind", dle_regress_kind_name(kinds[i]));
      cJSON_AddNumberToObject(o, "draws", (double)res.evaluated);
      cJSON_AddNumberToObject(o, "failed_draws", (double)res.failed);
      cJSON_AddItemToObject(o, "hyper", hyper_json(kinds[i], &res.best));
      cJSON *cv = cJSON_AddObjectToObject(o, "cv");
      cJSON_AddNumberToObject(cv, "r2", res.cv.r2);
      cJSON_AddNumberToObject(cv, "mape", res.cv.mape);
      cJSON_AddNumberToObject(cv, "rmse", res.cv.rmse);
      cJSON_AddNumberToObject(cv, "mae", res.cv.mae);
      if (group_by) {
        cJSON_AddStringToObject(cv, "group_by", group_by);
        cJSON *kc = cJSON_AddObjectToObject(o, "kfold_cv");
        cJSON_AddNumberToObject(kc, "r2", kcv.r2);
        cJSON_AddNumberToObject(kc, "mape", kcv.mape);
        cJSON_AddNumberToObject(kc, "rmse", kcv.rmse);
        if (nested) {
          cJSON *nc = cJSON_AddObjectToObject(o, "nested_cv");
          cJSON_AddNumberToObject(nc, "r2", ncv.r2);
          cJSON_AddNumberToObject(nc, "mape", ncv.mape);
          cJSON_AddNumberToObject(nc, "rmse", ncv.rmse);
          cJSON_AddNumberToObject(nc, "mape_rows", ncv.mape_rows);
        }
        cJSON *pg = cJSON_AddArrayToObject(o, "per_group");
        for (int g = 0; g < gk; g++) {
          group_score gs;
          group_scores(d, gfold, oof, n, g, &gs);
          cJSON *go = cJSON_CreateObject();
          cJSON_AddItemToArray(pg, go);
          for (size_t r = 0; r < n; r++)
            if (gfold[r] == g) {
              cJSON_AddStringToObject(go, "group", glab[r]);
              break;
            }
          cJSON_AddNumberToObject(go, "rows", (double)gs.n);
          cJSON_AddNumberToObject(go, "r2", gs.r2);
          cJSON_AddNumberToObject(go, "mape", gs.mape);
          cJSON_AddNumberToObject(go, "rmse", gs.rmse);
        }
      }
    } else if (group_by) {
      char hb[128];
      hyper_text(kinds[i], &res.best, hb, sizeof hb);
      printf("%-7s %6zu %-38s %8.4f %8.2f %11.4g | %8.4f %8.2f\n", dle_regress_kind_name(kinds[i]),
             res.evaluated, hb, res.cv.r2, 100 * res.cv.mape, res.cv.rmse, kcv.r2,
             100 * kcv.mape);
      if (nested)
        printf("          nested CV (search redone per held-out group): R2 %.4f  MAPE %.2f%%  "
               "RMSE %.4g\n",
               ncv.r2, 100 * ncv.mape, ncv.rmse);
      for (int g = 0; g < gk; g++) {
        group_score gs;
        group_scores(d, gfold, oof, n, g, &gs);
        const char *name = "";
        for (size_t r = 0; r < n; r++)
          if (gfold[r] == g) {
            name = glab[r];
            break;
          }
        printf("          held out %-36.36s %5zu rows  R2 %8.4f  MAPE %6.2f%%  RMSE %.4g\n",
               name, gs.n, gs.r2, 100 * gs.mape, gs.rmse);
      }
    } else {
      char hb[128];
      hyper_text(kinds[i], &res.best, hb, sizeof hb);
      printf("%-7s %6zu %-38s %8.4f %8.2f %11.4g %11.4g\n", dle_regress_kind_name(kinds[i]),
             res.evaluated, hb, res.cv.r2, 100 * res.cv.mape, res.cv.rmse, res.cv.mae);
      if (res.failed) printf("        (%zu draws could not be fitted)\n", res.failed);
    }
    free(oof);
    double key = so.by_mape ? -res.cv.mape_rows : res.cv.r2;
    if (key > best_r2 || !best) {
      dle_regress_model_free(best);
      best = m;
      best_r2 = key;
    } else {
      dle_regress_model_free(m);
    }
  }
  if (!rc && output) rc = dle_regress_model_save(best, output, &err);
  rc = fold_writer_finish(&fw, rc, &err);
  if (!rc) {
    if (json) {
      cJSON_AddStringToObject(root, "target", dle_pre_target_name(target));
      cJSON_AddStringToObject(root, "target_unit", target == DLE_PRE_TARGET_POWER ? "W" : "J");
      cJSON_AddNumberToObject(root, "rows", (double)n);
      cJSON_AddNumberToObject(root, "skipped_runs", (double)skipped);
      cJSON_AddNumberToObject(root, "folds", so.folds);
      cJSON_AddBoolToObject(root, "shuffle", so.shuffle);
      cJSON_AddNumberToObject(root, "seed", (double)so.seed);
      cJSON_AddStringToObject(root, "best", dle_regress_kind_name(dle_regress_model_kind(best)));
      cJSON_AddStringToObject(root, "scores",
                              "modelled: cross-validated means over folds; mape as a fraction");
      if (output) cJSON_AddStringToObject(root, "output", output);
      cli_print_json(root);
    } else {
      if (group_by)
        printf("Scores are means over the %d held-out groups (modelled); RMSE in %s.\n", gk,
               target == DLE_PRE_TARGET_POWER ? "W" : "J");
      else
        printf("Scores are %d-fold cross-validated means (modelled); RMSE/MAE in %s.\n",
               so.folds, target == DLE_PRE_TARGET_POWER ? "W" : "J");
      if (output)
        printf("Wrote %s (%s, the best by %s).\n", output,
               dle_regress_kind_name(dle_regress_model_kind(best)), so.by_mape ? "MAPE" : "R2");
    }
  }
  cJSON_Delete(root);
  dle_regress_model_free(best);
  free(fold);
  free(gfold);
  free(glab);
  free_labels(store_lab, n);
  dle_pre_table_free(tab);
  dle_dataset_free(d);
  return rc ? cli_fail(VERB, &err) : DLE_EXIT_OK;
}

const dle_cli_verb dle_verb_fit = {
    "fit", "fit PRE regressors (power / epoch energy) and write a model", cmd_fit};
