/* cmd_predict.c — `dlenergy predict`: the energy of a training run before it
 * starts: the PRE regression (with a fitted model) beside the ga, mlco2 and flops
 * baselines, in kJ/kWh with emissions. Every figure here is modelled. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/run_view.h"
#include "dlenergy/energy.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/gpus.h"
#include "dlenergy/onnx.h"
#include "dlenergy/regress.h"

#define VERB "predict"
enum { MAX_META = 32 };

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy predict (--onnx MODEL.onnx | --gflops G) --gpu NAME --epochs N\n"
          "                        --batch-size B --train-size T --val-size V [OPTIONS]\n"
          "       dlenergy predict --csv IN.csv [-o OUT.csv] [--json] [--models DIR]\n"
          "Estimate a training run's GPU energy before it starts (all figures modelled).\n\n"
          "Estimates:\n"
          "  pre    the PRE regressor: --model FILE, else the shipped epoch-energy model\n"
          "         (data/models/epoch-energy.json, fitted on data/pre/training.csv; no\n"
          "         'fit' needed). An epoch-energy model gives prediction x epochs. A power\n"
          "         model gives prediction x duration and needs --duration-h. Range: from\n"
          "         the model's CV record (leave-one-GPU-out for the shipped models),\n"
          "         doubled when an input lies outside the training data.\n"
          "  flops  duration = epochs x (3 x train + val) x GFLOPs / (peak FP32 x util);\n"
          "         energy = TDP x duration. Range: util x 1.5 .. util / 2.\n"
          "  mlco2  TDP x duration (--duration-h, else the flops duration)\n"
          "  ga     (TDP x usage + RAM GB x 0.3725 W/GB) x duration x PUE\n"
          "Facility energy = energy x PUE; emissions = facility kWh x carbon intensity.\n\n"
          "Options:\n"
          "  --onnx FILE            forward GFLOPs per sample counted from the ONNX graph\n"
          "  --gflops G             forward GFLOPs per sample (2 x MACs)\n"
          "  --gpu NAME             GPU as NVML names it (TDP, cores, memory, peak FLOP/s\n"
          "                         from the catalogue; see 'dlenergy gpus')\n"
          "  --epochs N, --batch-size B, --train-size T, --val-size V\n"
          "  --image HxW            input image (default: the ONNX input, else 224x224)\n"
          "  --ram-gb G             host RAM (ga's memory term and the PRE feature; default 0)\n"
          "  --model FILE           a model written by 'dlenergy fit'\n"
          "  --meta KEY=VALUE       categorical input of the model (e.g. architecture=vgg16,\n"
          "                         environment_id=cloud); repeatable; a missing one counts\n"
          "                         as an unseen level\n"
          "  --duration-h H         planned training time (power model, mlco2, ga)\n"
          "  --gpu-usage U          ga's GPU usage factor, 0..1 (default 1)\n"
          "  --flops-utilization U  fraction of peak FP32 reached (default 0.3)\n"
          "  --pue P                power usage effectiveness (default 1)\n"
          "  --carbon-intensity G   g CO2e per kWh\n"
          "  --country CC           carbon intensity of a country (data/carbon_intensity.csv)\n"
          "  --power-limit-w W      the GPU's power limit (default: the board's TDP)\n"
          "  --catalog FILE         GPU catalogue instead of the shipped data/gpus.csv\n"
          "  --csv IN.csv           one prediction per row: columns gpu_model, batch_size,\n"
          "                         training_size, validation_size, forward_pass_gflop,\n"
          "                         optional image_h, image_w, power_limit_w, and the\n"
          "                         categoricals architecture, dataset, optimizer. OUT is IN\n"
          "                         plus pred_avg_gpu_power_w, pred_epoch_energy_j and their\n"
          "                         _low/_high columns\n"
          "  -o, --output FILE      with --csv: where to write OUT (default: standard output)\n"
          "  --models DIR           with --csv: power.json and epoch-energy.json from DIR\n"
          "                         (default: the shipped data/models)\n"
          "  --json                 one JSON object (with --csv: one entry per row)\n"
          "  -h, --help             this help\n");
}

typedef struct estimate {
  const char *name;
  double energy_j, lower_j, upper_j; /* device energy (before PUE) */
  char inputs[512];
  char uncertainty[160];
} estimate;

static int pos_double(const char *s, double *out) {
  return cli_parse_double(s, out) && *out > 0 ? 0 : -1;
}

typedef struct cli_buf {
  char *data;
  size_t len, cap;
} cli_buf;

static bool cli_buf_add(cli_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + n + 1) nc *= 2;
    char *d = realloc(b->data, nc);
    if (!d) return false;
    b->data = d;
    b->cap = nc;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return true;
}

/* Appends s to buf as a CSV field (quoted when it holds a comma, quote or line end). */
static bool csv_field(cli_buf *b, const char *s, bool first) {
  bool q = strpbrk(s, ",\"\r\n") != NULL;
  if (!first && !cli_buf_add(b, ",", 1)) return false;
  if (!q) return cli_buf_add(b, s, strlen(s));
  if (!cli_buf_add(b, "\"", 1)) return false;
  for (const char *p = s; *p; p++)
    if (!cli_buf_add(b, p, 1) || (*p == '"' && !cli_buf_add(b, "\"", 1))) return false;
  return cli_buf_add(b, "\"", 1);
}

static int load_model(const char *dir, const char *name, const char *want, dle_regress_model **m,
                      dle_error *err) {
  char path[4096];
  if (dir) {
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
      return dle_error_set(err, DLE_EINVAL, "--models path too long");
  } else {
    char rel[64];
    snprintf(rel, sizeof rel, "models/%s", name);
    int rc = dle_data_path(rel, path, sizeof path, err);
    if (rc) return rc;
  }
  int rc = dle_regress_model_load(path, m, err);
  if (!rc && strcmp(dle_regress_model_target(*m), want) != 0) {
    rc = dle_error_set(err, DLE_EINVAL, "%s: target is '%s', not '%s'", path,
                       dle_regress_model_target(*m), want);
    dle_regress_model_free(*m);
    *m = NULL;
  }
  return rc;
}

/* predict --csv: one power and one epoch-energy prediction per row. Nothing is written
 * unless every row could be predicted. */
static int predict_csv(const char *in_path, const char *out_path, const char *models_dir,
                       const char *catalog, bool json) {
  static const char *const cat_keys[] = {"architecture", "dataset", "optimizer"};
  static const char *const suffix[] = {"", "_low", "_high"};
  dle_error err = {0};
  dle_gpu_catalog *cat = NULL;
  dle_pre_table *t = NULL;
  dle_regress_model *mp = NULL, *me = NULL;
  int rc = dle_gpu_catalog_load(catalog, &cat, &err);
  if (!rc) rc = load_model(models_dir, "power.json", "power", &mp, &err);
  if (!rc) rc = load_model(models_dir, "epoch-energy.json", "epoch_energy", &me, &err);
  if (!rc) rc = dle_pre_table_read(in_path, &t, &err);
  size_t n = dle_pre_table_rows(t);
  dle_pre_prediction *pr = rc ? NULL : calloc(2 * (n ? n : 1), sizeof *pr);
  if (!rc && !pr) rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
  size_t n_extra = 0;
  for (size_t r = 0; !rc && r < n; r++) {
    dle_pre_input in;
    const char *cv[3];
    for (int k = 0; k < 3; k++) {
      long c = dle_pre_table_col(t, cat_keys[k]);
      cv[k] = c >= 0 ? dle_pre_table_cell(t, r, (size_t)c) : NULL;
    }
    rc = dle_pre_input_from_row(t, r, cat, &in, &err);
    if (!rc) rc = dle_pre_predict(mp, &in, t, r, cat_keys, cv, 3, &pr[2 * r], &err);
    if (!rc) rc = dle_pre_predict(me, &in, t, r, cat_keys, cv, 3, &pr[2 * r + 1], &err);
    if (rc && !strstr(err.msg, "row ")) dle_error_prefix(&err, "row %zu (line %zu): ", r + 1,
                                                         dle_pre_table_line(t, r));
    if (!rc && (pr[2 * r].extrapolating || pr[2 * r + 1].extrapolating)) {
      n_extra++;
      fprintf(stderr, "dlenergy predict: row %zu (line %zu): extrapolating: %s\n", r + 1,
              dle_pre_table_line(t, r),
              pr[2 * r + 1].note[0] ? pr[2 * r + 1].note : pr[2 * r].note);
    }
  }
  if (!rc && json) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "input", in_path);
    cJSON_AddStringToObject(root, "kind", "modelled");
    cJSON *arr = cJSON_AddArrayToObject(root, "rows");
    for (size_t r = 0; root && arr && r < n; r++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddItemToArray(arr, o);
      cJSON_AddNumberToObject(o, "row", (double)(r + 1));
      cJSON_AddNumberToObject(o, "line", (double)dle_pre_table_line(t, r));
      for (size_t c = 0; c < dle_pre_table_cols(t); c++)
        cJSON_AddStringToObject(o, dle_pre_table_header(t, c), dle_pre_table_cell(t, r, c));
      for (int w = 0; w < 2; w++) {
        const dle_pre_prediction *p = &pr[2 * r + (size_t)w];
        double v[3] = {p->y, p->have_range ? p->low : NAN, p->have_range ? p->high : NAN};
        for (int k = 0; k < 3; k++) {
          char key[64];
          snprintf(key, sizeof key, "%s%s", w ? "pred_epoch_energy_j" : "pred_avg_gpu_power_w",
                   suffix[k]);
          dle_json_number_or_null(o, key, v[k]);
        }
      }
      cJSON_AddBoolToObject(o, "extrapolating", pr[2 * r].extrapolating || pr[2 * r + 1].extrapolating);
      const char *note = pr[2 * r + 1].note[0] ? pr[2 * r + 1].note : pr[2 * r].note;
      if (note[0]) cJSON_AddStringToObject(o, "note", note);
    }
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
      rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
    } else {
      size_t l = strlen(text);
      text[l] = '\n'; /* cJSON_Print's buffer ends in a NUL we may overwrite for the file */
      rc = dle_write_file_atomic(out_path ? out_path : "-", text, l + 1, &err);
      cJSON_free(text);
    }
  } else if (!rc) {
    cli_buf b = {0};
    bool ok = true;
    for (size_t r = 0; ok && r <= n; r++) {
      for (size_t c = 0; ok && c < dle_pre_table_cols(t); c++)
        ok = csv_field(&b, r == 0 ? dle_pre_table_header(t, c) : dle_pre_table_cell(t, r - 1, c),
                       c == 0);
      for (int w = 0; ok && w < 2; w++)
        for (int k = 0; ok && k < 3; k++) {
          char f[64];
          if (r == 0) {
            snprintf(f, sizeof f, "%s%s", w ? "pred_epoch_energy_j" : "pred_avg_gpu_power_w",
                     suffix[k]);
          } else {
            const dle_pre_prediction *p = &pr[2 * (r - 1) + (size_t)w];
            double v = k == 0 ? p->y : !p->have_range ? NAN : k == 1 ? p->low : p->high;
            if (isfinite(v))
              snprintf(f, sizeof f, "%.6g", v);
            else
              f[0] = '\0';
          }
          ok = csv_field(&b, f, false);
        }
      ok = ok && cli_buf_add(&b, "\n", 1);
    }
    if (!ok)
      rc = dle_error_set(&err, DLE_ENOMEM, "out of memory");
    else
      rc = dle_write_file_atomic(out_path ? out_path : "-", b.data, b.len, &err);
    free(b.data);
  }
  if (!rc && out_path && strcmp(out_path, "-") != 0)
    fprintf(stderr, "dlenergy predict: %zu rows predicted (modelled) into %s%s\n", n, out_path,
            n_extra ? "; some extrapolate (see above)" : "");
  free(pr);
  dle_pre_table_free(t);
  dle_regress_model_free(mp);
  dle_regress_model_free(me);
  dle_gpu_catalog_free(cat);
  if (rc) {
    if (!strstr(err.msg, in_path)) dle_error_prefix(&err, "%s: ", in_path);
    return cli_fail(VERB, &err);
  }
  return DLE_EXIT_OK;
}

static int cmd_predict(int argc, char **argv) {
  enum {
    O_ONNX = 256,
    O_GFLOPS,
    O_GPU,
    O_EPOCHS,
    O_BATCH,
    O_TRAIN,
    O_VAL,
    O_IMAGE,
    O_RAM,
    O_MODEL,
    O_META,
    O_DUR,
    O_USAGE,
    O_UTIL,
    O_PUE,
    O_CI,
    O_COUNTRY,
    O_JSON,
    O_PLIMIT,
    O_CATALOG,
    O_CSV,
    O_MODELS
  };
  static const struct option opts[] = {{"onnx", required_argument, NULL, O_ONNX},
                                       {"gflops", required_argument, NULL, O_GFLOPS},
                                       {"gpu", required_argument, NULL, O_GPU},
                                       {"epochs", required_argument, NULL, O_EPOCHS},
                                       {"batch-size", required_argument, NULL, O_BATCH},
                                       {"train-size", required_argument, NULL, O_TRAIN},
                                       {"val-size", required_argument, NULL, O_VAL},
                                       {"image", required_argument, NULL, O_IMAGE},
                                       {"ram-gb", required_argument, NULL, O_RAM},
                                       {"model", required_argument, NULL, O_MODEL},
                                       {"meta", required_argument, NULL, O_META},
                                       {"duration-h", required_argument, NULL, O_DUR},
                                       {"gpu-usage", required_argument, NULL, O_USAGE},
                                       {"flops-utilization", required_argument, NULL, O_UTIL},
                                       {"pue", required_argument, NULL, O_PUE},
                                       {"carbon-intensity", required_argument, NULL, O_CI},
                                       {"country", required_argument, NULL, O_COUNTRY},
                                       {"json", no_argument, NULL, O_JSON},
                                       {"power-limit-w", required_argument, NULL, O_PLIMIT},
                                       {"catalog", required_argument, NULL, O_CATALOG},
                                       {"csv", required_argument, NULL, O_CSV},
                                       {"models", required_argument, NULL, O_MODELS},
                                       {"output", required_argument, NULL, 'o'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *onnx = NULL, *gpu = NULL, *model_path = NULL, *country = NULL, *catalog = NULL,
             *csv_in = NULL, *csv_out = NULL, *models_dir = NULL;
  double plimit = NAN;
  double gflops = NAN, epochs = NAN, batch = NAN, train = NAN, val = NAN, ram = 0, dur_s = NAN,
         usage_f = 1.0, util = 0.3, pue = 1.0, ci = NAN;
  long img_h = 0, img_w = 0;
  const char *meta_k[MAX_META], *meta_v[MAX_META];
  char meta_buf[MAX_META][256];
  size_t n_meta = 0;
  bool json = false;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
    double v;
    switch (c) {
      case O_ONNX:
        onnx = optarg;
        break;
      case O_GFLOPS:
        if (pos_double(optarg, &gflops)) return cli_usage_error(VERB, "--gflops must be > 0");
        break;
      case O_GPU:
        gpu = optarg;
        break;
      case O_EPOCHS:
        if (pos_double(optarg, &epochs)) return cli_usage_error(VERB, "--epochs must be > 0");
        break;
      case O_BATCH:
        if (pos_double(optarg, &batch)) return cli_usage_error(VERB, "--batch-size must be > 0");
        break;
      case O_TRAIN:
        if (pos_double(optarg, &train)) return cli_usage_error(VERB, "--train-size must be > 0");
        break;
      case O_VAL:
        if (!cli_parse_double(optarg, &val) || val < 0)
          return cli_usage_error(VERB, "--val-size must be >= 0");
        break;
      case O_IMAGE:
        if (!cli_parse_image_hw(optarg, &img_h, &img_w))
          return cli_usage_error(VERB, "--image wants HxW");
        break;
      case O_RAM:
        if (!cli_parse_double(optarg, &ram) || ram < 0)
          return cli_usage_error(VERB, "bad --ram-gb");
        break;
      case O_MODEL:
        model_path = optarg;
        break;
      case O_META: {
        const char *eq = strchr(optarg, '=');
        if (!eq || eq == optarg || !eq[1] || strlen(optarg) >= sizeof meta_buf[0] ||
            n_meta == MAX_META)
          return cli_usage_error(VERB, "--meta wants KEY=VALUE (at most %d)", MAX_META);
        snprintf(meta_buf[n_meta], sizeof meta_buf[0], "%s", optarg);
        char *e = strchr(meta_buf[n_meta], '=');
        *e = '\0';
        meta_k[n_meta] = meta_buf[n_meta];
        meta_v[n_meta] = e + 1;
        n_meta++;
        break;
      }
      case O_DUR:
        if (pos_double(optarg, &v)) return cli_usage_error(VERB, "--duration-h must be > 0");
        dur_s = v * 3600;
        break;
      case O_USAGE:
        if (!cli_parse_double(optarg, &usage_f) || usage_f < 0 || usage_f > 1)
          return cli_usage_error(VERB, "--gpu-usage must be 0..1");
        break;
      case O_UTIL:
        if (!cli_parse_double(optarg, &util) || util <= 0 || util > 1)
          return cli_usage_error(VERB, "--flops-utilization must be in (0, 1]");
        break;
      case O_PUE:
        if (!cli_parse_double(optarg, &pue) || pue < 1)
          return cli_usage_error(VERB, "--pue must be >= 1");
        break;
      case O_CI:
        if (!cli_parse_double(optarg, &ci) || ci < 0)
          return cli_usage_error(VERB, "--carbon-intensity must be >= 0");
        break;
      case O_COUNTRY:
        country = optarg;
        break;
      case O_JSON:
        json = true;
        break;
      case O_PLIMIT:
        if (pos_double(optarg, &plimit)) return cli_usage_error(VERB, "--power-limit-w must be > 0");
        break;
      case O_CATALOG:
        catalog = optarg;
        break;
      case O_CSV:
        csv_in = optarg;
        break;
      case 'o':
        csv_out = optarg;
        break;
      case O_MODELS:
        models_dir = optarg;
        break;
      case 'h':
        usage(stdout);
        return DLE_EXIT_OK;
      default:
        return cli_usage_error(VERB, "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error(VERB, "unexpected argument '%s'", argv[optind]);
  if (csv_in) {
    if (onnx || gpu || !isnan(gflops) || !isnan(epochs) || !isnan(batch) || model_path ||
        n_meta || !isnan(plimit))
      return cli_usage_error(VERB, "--csv takes its inputs from the table's columns; give "
                                   "only -o, --json, --models and --catalog with it");
    return predict_csv(csv_in, csv_out, models_dir, catalog, json);
  }
  if (csv_out || models_dir) return cli_usage_error(VERB, "-o and --models go with --csv");
  if (!!onnx == !isnan(gflops))
    return cli_usage_error(VERB, "give exactly one of --onnx and --gflops");
  if (!gpu) return cli_usage_error(VERB, "--gpu is required");
  if (isnan(epochs) || isnan(batch) || isnan(train) || isnan(val))
    return cli_usage_error(VERB,
                           "--epochs, --batch-size, --train-size and --val-size are required");
  if (country && !isnan(ci))
    return cli_usage_error(VERB, "give --carbon-intensity or --country, not both");

  dle_error err = {0};
  char ci_src[128] = "not given";
  if (country) {
    if (dle_carbon_lookup(country, &ci, &err)) return cli_fail(VERB, &err);
    snprintf(ci_src, sizeof ci_src, "country %s (data/carbon_intensity.csv)", country);
  } else if (!isnan(ci)) {
    snprintf(ci_src, sizeof ci_src, "--carbon-intensity");
  }
  dle_gpu_spec spec;
  {
    dle_gpu_catalog *cat = NULL;
    const dle_gpu_spec *sp = NULL;
    int lrc = dle_gpu_catalog_load(catalog, &cat, &err);
    if (!lrc) lrc = dle_gpu_catalog_find(cat, gpu, &sp, &err);
    if (!lrc) spec = *sp;
    dle_gpu_catalog_free(cat);
    if (lrc) return cli_fail(VERB, &err);
  }

  char gflops_src[256];
  if (onnx) {
    dle_onnx_input_override ov;
    size_t n_ov = 0;
    memset(&ov, 0, sizeof ov);
    if (img_h) {
      ov.rank = 4;
      ov.dims[0] = 1;
      ov.dims[1] = 3;
      ov.dims[2] = img_h;
      ov.dims[3] = img_w;
      n_ov = 1;
    }
    dle_onnx_report *r = NULL;
    if (dle_onnx_analyze(onnx, n_ov ? &ov : NULL, n_ov, &r, &err)) return cli_fail(VERB, &err);
    int64_t b = dle_onnx_report_batch(r);
    int64_t dims[DLE_ONNX_MAX_RANK];
    size_t rank = dle_onnx_report_input_shape(r, dims);
    if (!img_h && rank == 4) {
      img_h = (long)dims[2];
      img_w = (long)dims[3];
    }
    gflops = (double)dle_onnx_report_flops(r) / 1e9 / (double)(b > 0 ? b : 1);
    size_t unknown = dle_onnx_report_unknown_op_count(r);
    snprintf(gflops_src, sizeof gflops_src, "counted from %s (2 x MACs per sample%s)", onnx,
             unknown ? "; graph has unknown ops, count is a lower bound" : "");
    dle_onnx_report_free(r);
    if (!(gflops > 0)) {
      err = (dle_error){DLE_ERANGE, ""};
      snprintf(err.msg, sizeof err.msg, "%s: no FLOPs counted (no conv/linear/matmul work found)",
               onnx);
      return cli_fail(VERB, &err);
    }
  } else {
    snprintf(gflops_src, sizeof gflops_src, "--gflops");
  }
  if (!img_h) img_h = img_w = 224;

  estimate est[4];
  size_t n_est = 0;
  char notes[2048] = "";

  /* PRE: --model, else the shipped epoch-energy model. */
  char default_model[4096];
  if (!model_path) {
    dle_error derr = {0};
    if (dle_data_path("models/epoch-energy.json", default_model, sizeof default_model, &derr) ==
        DLE_OK)
      model_path = default_model;
    else
      snprintf(notes, sizeof notes, "No PRE model: %s.\n", derr.msg);
  }
  if (model_path) {
    dle_regress_model *m = NULL;
    if (dle_regress_model_load(model_path, &m, &err)) return cli_fail(VERB, &err);
    const char *tgt = dle_regress_model_target(m);
    bool power = strcmp(tgt, "power") == 0;
    if (!power && strcmp(tgt, "epoch_energy") != 0) {
      dle_regress_model_free(m);
      err = (dle_error){DLE_EINVAL, ""};
      snprintf(err.msg, sizeof err.msg, "%s: target '%s' is neither power nor epoch_energy",
               model_path, tgt);
      return cli_fail(VERB, &err);
    }
    if (power && isnan(dur_s)) {
      dle_regress_model_free(m);
      return cli_usage_error(VERB,
                             "%s predicts average power: give --duration-h, or fit an "
                             "epoch-energy model",
                             model_path);
    }
    dle_pre_input in = {&spec, batch, train, val, gflops, (double)img_h, (double)img_w, ram, plimit};
    dle_pre_prediction pp;
    int rc = dle_pre_predict(m, &in, NULL, 0, meta_k, meta_v, n_meta, &pp, &err);
    char unused[256] = "";
    for (size_t j = 0; j < dle_regress_model_num_count(m); j++)
      if (!dle_regress_model_num_used(m, j) && !dle_regress_model_log_target(m))
        snprintf(unused + strlen(unused), sizeof unused - strlen(unused), "%s%s",
                 unused[0] ? ", " : "", dle_regress_model_num_name(m, j));
    dle_cv_scores cv;
    bool have_cv = dle_regress_model_cv(m, NULL, &cv);
    if (!rc) {
      estimate *e = &est[n_est++];
      e->name = "pre";
      double mult = power ? dur_s : epochs;
      e->energy_j = pp.y * mult;
      e->lower_j = pp.have_range ? pp.low * mult : NAN;
      e->upper_j = pp.have_range ? pp.high * mult : NAN;
      snprintf(e->inputs, sizeof e->inputs, "%s model %s: %s %.4g %s x %s%s",
               dle_regress_kind_name(dle_regress_model_kind(m)), model_path,
               power ? "average power" : "epoch energy", pp.y, dle_regress_model_target_unit(m),
               power ? "--duration-h" : "epochs",
               dle_regress_model_cat_count(m) ? "; categoricals from --meta" : "");
      snprintf(e->uncertainty, sizeof e->uncertainty, "unknown (model has no CV record)");
      dle_regress_search_opts o;
      const char *grp = dle_regress_model_cv_group(m);
      if (have_cv && dle_regress_model_cv(m, &o, NULL)) {
        char how[96];
        if (grp[0])
          snprintf(how, sizeof how, "leave-one-%s-out CV, %d groups", grp, o.folds);
        else
          snprintf(how, sizeof how, "%d-fold CV", o.folds);
        if (dle_regress_model_log_target(m) && isfinite(cv.rmsle))
          snprintf(e->uncertainty, sizeof e->uncertainty, "times or divided by %.3g (%s: RMS log error %.3g, MAPE %.1f%%)%s",
                   exp((pp.extrapolating ? 2 : 1) * cv.rmsle), how, cv.rmsle, 100 * cv.mape,
                   pp.extrapolating ? ", doubled: extrapolating" : "");
        else
          snprintf(e->uncertainty, sizeof e->uncertainty, "+/- CV RMSE %.4g %s x %s (%s, R2 %.3f)%s",
                   cv.rmse, dle_regress_model_target_unit(m), power ? "duration" : "epochs", how,
                   cv.r2, pp.extrapolating ? ", doubled: extrapolating" : "");
      }
      if (unused[0])
        snprintf(notes + strlen(notes), sizeof notes - strlen(notes),
                 "PRE ignores %s (constant in its training data).\n", unused);
      if (pp.extrapolating)
        snprintf(notes + strlen(notes), sizeof notes - strlen(notes),
                 "PRE is extrapolating: %s.\n", pp.note);
    }
    dle_regress_model_free(m);
    if (rc) return cli_fail(VERB, &err);
  }

  dle_pre_baselines b;
  if (dle_pre_baselines_compute(&spec, gflops, train, val, epochs, ram, usage_f, util, dur_s, &b,
                                &err))
    return cli_fail(VERB, &err);
  const char *dur_src = isnan(dur_s) ? "flops duration" : "--duration-h";
  estimate *e = &est[n_est++];
  e->name = "flops";
  e->energy_j = b.flops_j;
  e->lower_j = b.flops_j / 1.5;
  e->upper_j = b.flops_j * 2;
  snprintf(e->inputs, sizeof e->inputs,
           "GFLOPs, epochs, train/val size, peak FP32 %.4g TFLOP/s x utilization %.2f, TDP %g W",
           spec.fp32_tflops, util, spec.tdp_w);
  snprintf(e->uncertainty, sizeof e->uncertainty, "utilization x 1.5 .. / 2");
  e = &est[n_est++];
  e->name = "mlco2";
  e->energy_j = b.mlco2_j;
  e->lower_j = isnan(dur_s) ? b.mlco2_j / 1.5 : NAN;
  e->upper_j = isnan(dur_s) ? b.mlco2_j * 2 : NAN;
  snprintf(e->inputs, sizeof e->inputs, "TDP %g W x duration (%s)", spec.tdp_w, dur_src);
  snprintf(e->uncertainty, sizeof e->uncertainty, "%s",
           isnan(dur_s) ? "that of the flops duration" : "none stated (formula)");
  e = &est[n_est++];
  e->name = "ga";
  e->energy_j = b.ga_j;
  e->lower_j = isnan(dur_s) ? b.ga_j / 1.5 : NAN;
  e->upper_j = isnan(dur_s) ? b.ga_j * 2 : NAN;
  snprintf(e->inputs, sizeof e->inputs,
           "TDP %g W x usage %.2f + RAM %g GB x 0.3725 W/GB, duration (%s)", spec.tdp_w, usage_f,
           ram, dur_src);
  snprintf(e->uncertainty, sizeof e->uncertainty, "%s",
           isnan(dur_s) ? "that of the flops duration" : "none stated (formula)");

  if (json) {
    cJSON *root = cJSON_CreateObject();
    cJSON *in = cJSON_AddObjectToObject(root, "inputs");
    cJSON_AddStringToObject(in, "gpu", spec.name);
    cJSON_AddNumberToObject(in, "gpu_tdp_w", spec.tdp_w);
    cJSON_AddNumberToObject(in, "gpu_cuda_cores", spec.cuda_cores);
    cJSON_AddNumberToObject(in, "gpu_memory_gb", spec.memory_gb);
    cJSON_AddNumberToObject(in, "gpu_fp32_tflops", spec.fp32_tflops);
    cJSON_AddNumberToObject(in, "gflops", gflops);
    cJSON_AddStringToObject(in, "gflops_source", gflops_src);
    cJSON_AddNumberToObject(in, "epochs", epochs);
    cJSON_AddNumberToObject(in, "batch_size", batch);
    cJSON_AddNumberToObject(in, "training_size", train);
    cJSON_AddNumberToObject(in, "validation_size", val);
    cJSON_AddNumberToObject(in, "image_h", (double)img_h);
    cJSON_AddNumberToObject(in, "image_w", (double)img_w);
    cJSON_AddNumberToObject(in, "host_ram_gb", ram);
    cJSON_AddNumberToObject(in, "pue", pue);
    dle_json_number_or_null(in, "carbon_g_per_kwh", ci);
    cJSON_AddNumberToObject(root, "flops_duration_s", b.flops_duration_s);
    cJSON_AddNumberToObject(root, "duration_s", b.duration_s);
    cJSON *arr = cJSON_AddArrayToObject(root, "estimates");
    for (size_t i = 0; i < n_est; i++) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddItemToArray(arr, o);
      cJSON_AddStringToObject(o, "method", est[i].name);
      cJSON_AddStringToObject(o, "kind", "modelled");
      cJSON_AddNumberToObject(o, "energy_j", est[i].energy_j);
      cJSON_AddNumberToObject(o, "facility_kwh", est[i].energy_j * pue / 3.6e6);
      if (isfinite(est[i].lower_j)) {
        cJSON_AddNumberToObject(o, "lower_j", est[i].lower_j);
        cJSON_AddNumberToObject(o, "upper_j", est[i].upper_j);
      }
      dle_json_number_or_null(o, "emissions_g", est[i].energy_j * pue / 3.6e6 * ci);
      cJSON_AddStringToObject(o, "inputs", est[i].inputs);
      cJSON_AddStringToObject(o, "uncertainty", est[i].uncertainty);
    }
    if (notes[0]) cJSON_AddStringToObject(root, "notes", notes);
    bool printed = cli_print_json(root);
    cJSON_Delete(root);
    if (!printed) {
      err = (dle_error){DLE_ENOMEM, "out of memory"};
      return cli_fail(VERB, &err);
    }
    return DLE_EXIT_OK;
  }
  char dbuf[64];
  cli_format_duration(b.flops_duration_s, dbuf, sizeof dbuf);
  printf("Training plan: %g epochs, batch %g, %g train + %g validation images, image %ldx%ld\n",
         epochs, batch, train, val, img_h, img_w);
  printf("Model: %.4g GFLOP per sample forward (%s)\n", gflops, gflops_src);
  printf("GPU: %s (catalogue: TDP %g W, %d CUDA cores, %g GB, %.4g TFLOP/s FP32)\n", spec.name,
         spec.tdp_w, spec.cuda_cores, spec.memory_gb, spec.fp32_tflops);
  printf("flops duration: %s (at %.0f%% of peak FP32)", dbuf, util * 100);
  if (!isnan(dur_s)) {
    cli_format_duration(dur_s, dbuf, sizeof dbuf);
    printf("; planned duration: %s (--duration-h)", dbuf);
  }
  printf("\nPUE %g; ", pue);
  if (isnan(ci))
    printf("carbon intensity unknown (give --carbon-intensity or --country)\n\n");
  else
    printf("carbon intensity %g g CO2e/kWh (%s)\n\n", ci, ci_src);
  printf("%-6s %-26s %-32s %12s\n", "method", "energy (modelled)", "range", "CO2e");
  for (size_t i = 0; i < n_est; i++) {
    char eb[64], rb[160], cb[32];
    cli_format_energy(est[i].energy_j * pue, eb, sizeof eb);
    if (isfinite(est[i].lower_j)) {
      snprintf(rb, sizeof rb, "%.1f .. %.1f kJ", est[i].lower_j * pue / 1e3,
               est[i].upper_j * pue / 1e3);
    } else {
      snprintf(rb, sizeof rb, "-");
    }
    if (isnan(ci))
      snprintf(cb, sizeof cb, "n/a");
    else
      snprintf(cb, sizeof cb, "%.1f g", est[i].energy_j * pue / 3.6e6 * ci);
    printf("%-6s %-26s %-32s %12s\n", est[i].name, eb, rb, cb);
    printf("       uses: %s\n       uncertainty: %s\n", est[i].inputs, est[i].uncertainty);
  }
  if (pue != 1) printf("\nEnergies include PUE %g (facility energy).\n", pue);
  if (notes[0]) printf("\n%s", notes);
  return DLE_EXIT_OK;
}

const dle_cli_verb dle_verb_predict = {
    "predict", "estimate a training run's energy before it starts (PRE + baselines)", cmd_predict};
