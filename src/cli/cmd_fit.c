/* cmd_fit.c — `dlenergy fit`: train the PRE regressors (the study's offline
 * method) on runs.csv or the run store, cross-validate them and write a model file. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/energy.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/gpus.h"
#include "dlenergy/regress.h"
#include "dlenergy/store.h"

#define VERB "fit"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy fit --target power|epoch-energy (--csv runs.csv | --db PATH)\n"
          "                    [--model linear|ridge|krr|svr|all] [-o model.json] [OPTIONS]\n"
          "Fit the PRE regressors: average GPU power (W) or average GPU energy per epoch (J)\n"
          "from batch size, image size, training/validation size, GFLOPs, host RAM, GPU CUDA\n"
          "cores, GPU memory and GPU TDP (GPU facts from the catalogue by GPU name), plus\n"
          "architecture and environment one-hot. Numeric features are standardized; one\n"
          "that is constant in the data is unused. Randomized search over the study's\n"
          "hyperparameter distributions, k-fold CV scored by R2, MAPE, RMSE and MAE; the\n"
          "best draw (highest mean R2) is refitted on all rows and written to -o.\n\n"
          "Options:\n"
          "  --target T        power | epoch-energy (required)\n"
          "  --model M         linear, ridge, krr (kernel ridge, default), svr, or all\n"
          "                    (all: fit each, print the table, write the best by R2)\n"
          "  --csv FILE        runs.csv-style table (see docs/predict.md for the columns)\n"
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

/* The PRE dataset from the run store: complete runs whose metadata names the GPU,
 * the forward GFLOPs, batch size and set sizes; targets from the measured GPU
 * energy (trapezoid) of the trace. Runs lacking something are skipped and counted. */
static int dataset_from_store(const char *db, const char *filter, dle_pre_target target,
                              double img_h, double img_w, double ram_gb, const dle_gpu_catalog *cat,
                              dle_dataset **out, size_t *skipped, dle_error *err) {
  *out = NULL;
  *skipped = 0;
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
  if (!rc)
    rc = dle_dataset_new(DLE_PRE_N_NUM, num_names, 2, cat_names, power ? "power" : "epoch_energy",
                         power ? "W" : "J", &d, err);
  for (size_t i = 0; !rc && i < n; i++) {
    dle_run_info info;
    dle_kv *kv = NULL;
    size_t nkv = 0;
    dle_trace tr = {0};
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
        dle_energy_summary es;
        if (dle_store_load_trace(st, ids[i], &tr, err) == DLE_OK &&
            dle_energy_summarize(&tr, &info, &es, err) == DLE_OK &&
            dle_store_load_epochs(st, ids[i], &ep, &nep, err) == DLE_OK) {
          double epochs = nep ? (double)nep : meta_num(kv, nkv, "epochs_total");
          y = power ? es.sample_mean_w[DLE_COMP_GPU] : es.energy_j[DLE_COMP_GPU] / epochs;
          cv[0] = dle_kv_get(kv, nkv, "architecture");
          cv[1] = dle_kv_get(kv, nkv, "environment");
          if (!cv[0]) cv[0] = "unknown";
          if (!cv[1]) cv[1] = info.host[0] ? info.host : "unknown";
          use = isfinite(y) && y > 0;
          for (size_t k = 0; k < DLE_PRE_N_NUM; k++) use = use && isfinite(num[k]);
        }
      }
    }
    if (use) {
      rc = dle_dataset_add(d, num, cv, y, err);
    } else {
      (*skipped)++;
    }
    dle_kv_free(kv, nkv);
    dle_trace_free(&tr);
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
    dle_dataset_free(d);
    return rc;
  }
  *out = d;
  return DLE_OK;
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
    O_JSON
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
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *target_s = NULL, *model_s = "krr", *csv = NULL, *db = NULL, *filter = NULL,
             *output = NULL, *params = NULL, *fold_file = NULL;
  bool json = false;
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
  if (!!csv == !!db) return cli_usage_error(VERB, "give exactly one of --csv and --db");
  if (filter && !db) return cli_usage_error(VERB, "--filter needs --db");
  dle_regress_hyper fixed;
  if (params && (all || parse_params(params, &fixed)))
    return cli_usage_error(VERB,
                           "--params wants one model and k=v pairs of alpha, gamma, c, epsilon");
  if (!output && !params) return cli_usage_error(VERB, "-o FILE is required");

  dle_gpu_catalog *cat = NULL;
  if (dle_gpu_catalog_load(NULL, &cat, &err)) return cli_fail(VERB, &err);
  dle_dataset *d = NULL;
  size_t skipped = 0;
  int rc = csv ? dle_pre_dataset_from_csv(csv, target, &co, cat, &d, &err)
               : dataset_from_store(cli_db_path(db), filter, target, co.image_h, co.image_w,
                                    co.host_ram_gb, cat, &d, &skipped, &err);
  dle_gpu_catalog_free(cat);
  if (rc) return cli_fail(VERB, &err);
  size_t n = dle_dataset_rows(d);
  int *fold = malloc(n * sizeof *fold);
  if (!fold) {
    dle_dataset_free(d);
    err = (dle_error){DLE_ENOMEM, "out of memory"};
    return cli_fail(VERB, &err);
  }
  rc = dle_regress_folds(n, so.folds, so.shuffle, so.seed, fold, &err);
  if (!rc && fold_file) {
    size_t cap = n * 8 + 1, o = 0;
    char *buf = malloc(cap);
    if (!buf) {
      rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
    } else {
      for (size_t i = 0; i < n; i++) o += (size_t)snprintf(buf + o, cap - o, "%d\n", fold[i]);
      rc = dle_write_file_atomic(fold_file, buf, o, &err);
      free(buf);
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
           csv ? csv : cli_db_path(db), skip, so.folds, so.shuffle ? " (shuffled)" : " (in order)",
           so.seed);
    printf("%-7s %6s %-38s %8s %8s %11s %11s\n", "model", "draws", "best hyperparameters", "R2",
           "MAPE%", "RMSE", "MAE");
  }
  for (size_t i = 0; !rc && i < nk; i++) {
    dle_regress_model *m = NULL;
    dle_regress_search_result res = {0};
    if (params) {
      rc = dle_regress_cv(d, kinds[i], &fixed, fold, so.folds, &res.cv, &err);
      if (!rc) rc = dle_regress_fit(d, kinds[i], &fixed, &m, &err);
      if (!rc) {
        res.best = dle_regress_model_hyper(m);
        res.evaluated = 1;
        dle_regress_search_opts o1 = so;
        o1.draws = 1;
        dle_regress_model_set_cv(m, &o1, &res.cv);
      }
    } else {
      rc = dle_regress_search(d, kinds[i], &so, NULL, 0, &m, &res, &err);
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
    } else {
      char hb[128];
      hyper_text(kinds[i], &res.best, hb, sizeof hb);
      printf("%-7s %6zu %-38s %8.4f %8.2f %11.4g %11.4g\n", dle_regress_kind_name(kinds[i]),
             res.evaluated, hb, res.cv.r2, 100 * res.cv.mape, res.cv.rmse, res.cv.mae);
      if (res.failed) printf("        (%zu draws could not be fitted)\n", res.failed);
    }
    if (res.cv.r2 > best_r2 || !best) {
      dle_regress_model_free(best);
      best = m;
      best_r2 = res.cv.r2;
    } else {
      dle_regress_model_free(m);
    }
  }
  if (!rc && output) rc = dle_regress_model_save(best, output, &err);
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
      printf("Scores are %d-fold cross-validated means (modelled); RMSE/MAE in %s.\n", so.folds,
             target == DLE_PRE_TARGET_POWER ? "W" : "J");
      if (output)
        printf("Wrote %s (%s, the best by R2).\n", output,
               dle_regress_kind_name(dle_regress_model_kind(best)));
    }
  }
  cJSON_Delete(root);
  dle_regress_model_free(best);
  free(fold);
  dle_dataset_free(d);
  return rc ? cli_fail(VERB, &err) : DLE_EXIT_OK;
}

const dle_cli_verb dle_verb_fit = {
    "fit", "fit PRE regressors (power / epoch energy) and write a model", cmd_fit};
