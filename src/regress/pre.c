/* pre.c — the study's PRE features (from runs.csv or predict inputs) and the
 * pre-training baselines shown beside a PRE prediction. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/fsutil.h"
#include "regress_internal.h"

static const char *const k_pre_names[DLE_PRE_N_NUM] = {
    "batch_size", "image_h",     "image_w",        "training_size", "validation_size",
    "gflops",     "host_ram_gb", "gpu_cuda_cores", "gpu_memory_gb", "gpu_tdp_w"};

const char *dle_pre_feature_name(size_t i) {
  return i < DLE_PRE_N_NUM ? k_pre_names[i] : NULL;
}

const char *dle_pre_target_name(dle_pre_target t) {
  return t == DLE_PRE_TARGET_POWER ? "power" : "epoch-energy";
}

int dle_pre_target_parse(const char *s, dle_pre_target *out, dle_error *err) {
  if (s && strcmp(s, "power") == 0) {
    *out = DLE_PRE_TARGET_POWER;
    return DLE_OK;
  }
  if (s && (strcmp(s, "epoch-energy") == 0 || strcmp(s, "epoch_energy") == 0)) {
    *out = DLE_PRE_TARGET_EPOCH_ENERGY;
    return DLE_OK;
  }
  return dle_error_set(err, DLE_EINVAL, "unknown target '%s' (power, epoch-energy)", s ? s : "");
}

void dle_pre_features(double batch_size, double image_h, double image_w, double training_size,
                      double validation_size, double gflops, double host_ram_gb,
                      const dle_gpu_spec *spec, double num[DLE_PRE_N_NUM]) {
  num[DLE_PRE_BATCH_SIZE] = batch_size;
  num[DLE_PRE_IMAGE_H] = image_h;
  num[DLE_PRE_IMAGE_W] = image_w;
  num[DLE_PRE_TRAINING_SIZE] = training_size;
  num[DLE_PRE_VALIDATION_SIZE] = validation_size;
  num[DLE_PRE_GFLOPS] = gflops;
  num[DLE_PRE_HOST_RAM_GB] = host_ram_gb;
  num[DLE_PRE_GPU_CUDA_CORES] = spec ? (double)spec->cuda_cores : NAN;
  num[DLE_PRE_GPU_MEMORY_GB] = spec ? spec->memory_gb : NAN;
  num[DLE_PRE_GPU_TDP_W] = spec ? spec->tdp_w : NAN;
}

void dle_pre_csv_opts_init(dle_pre_csv_opts *o) {
  o->image_h = 128;
  o->image_w = 128;
  o->host_ram_gb = 0;
}

/* ---- a plain comma-separated table (runs.csv has no quoted fields) ---- */

enum { MAX_COLS = 256, MAX_CSV = 64 << 20 };

typedef struct csv_line {
  char *f[MAX_COLS];
  int n;
} csv_line;

/* Splits line (modified in place) on commas. */
static int split(char *line, csv_line *out) {
  out->n = 0;
  char *p = line;
  for (;;) {
    if (out->n == MAX_COLS) return -1;
    out->f[out->n++] = p;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  size_t l = strlen(out->f[out->n - 1]);
  if (l && out->f[out->n - 1][l - 1] == '\r') out->f[out->n - 1][l - 1] = '\0';
  return 0;
}

static int col(const csv_line *h, const char *name) {
  for (int i = 0; i < h->n; i++)
    if (strcmp(h->f[i], name) == 0) return i;
  return -1;
}

static bool num_field(const char *s, double *out) {
  if (!s || !*s) return false;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v)) return false;
  *out = v;
  return true;
}

int dle_pre_dataset_from_csv(const char *path, dle_pre_target target, const dle_pre_csv_opts *opts,
                             const dle_gpu_catalog *cat, dle_dataset **out, dle_error *err) {
  *out = NULL;
  dle_pre_csv_opts o;
  dle_pre_csv_opts_init(&o);
  if (opts) o = *opts;
  if (!cat) return dle_error_set(err, DLE_EINVAL, "no GPU catalogue");
  char *text = NULL;
  size_t len = 0;
  int rc = dle_read_file(path, MAX_CSV, &text, &len, err);
  if (rc) return rc;
  if (memchr(text, '\0', len)) {
    free(text);
    return dle_error_set(err, DLE_EPARSE, "%s: NUL byte in a text table", path);
  }
  static const char *const cat_names[] = {"architecture", "environment_id"};
  dle_dataset *d = NULL;
  bool power = target == DLE_PRE_TARGET_POWER;
  rc = dle_dataset_new(DLE_PRE_N_NUM, k_pre_names, 2, cat_names, power ? "power" : "epoch_energy",
                       power ? "W" : "J", &d, err);
  csv_line h = {0}, r = {0};
  char *save = NULL;
  char *line = rc ? NULL : strtok_r(text, "\n", &save);
  if (!rc && (!line || split(line, &h) != 0))
    rc = dle_error_set(err, DLE_EPARSE, "no usable header line");
  enum { C_GPU, C_BATCH, C_TRAIN, C_VAL, C_GFLOP, C_ARCH, C_ENV, C_Y1, C_Y2, C_NEED };
  const char *need[C_NEED] = {"gpu_model",
                              "batch_size",
                              "training_size",
                              "validation_size",
                              "forward_pass_gflop",
                              "architecture",
                              "environment_id",
                              power ? "avg_gpu_power_w" : "gpu_energy_mj",
                              power ? "avg_gpu_power_w" : "trained_epochs"};
  int ci[C_NEED] = {0};
  for (int k = 0; !rc && k < C_NEED; k++)
    if ((ci[k] = col(&h, need[k])) < 0)
      rc = dle_error_set(err, DLE_EPARSE, "no column '%s'", need[k]);
  int c_ih = col(&h, "image_h"), c_iw = col(&h, "image_w"), c_ram = col(&h, "host_ram_gb");
  size_t lineno = 1;
  const dle_gpu_spec *last = NULL;
  char last_name[sizeof last->name + 1] = "";
  while (!rc && (line = strtok_r(NULL, "\n", &save)) != NULL) {
    lineno++;
    if (line[0] == '\r' || line[0] == '\0') continue;
    if (split(line, &r) != 0 || r.n != h.n) {
      rc = dle_error_set(err, DLE_EPARSE, "line %zu: %d fields, header has %d", lineno, r.n, h.n);
      break;
    }
    double v[C_NEED] = {0};
    for (int k = C_BATCH; k < C_NEED; k++) {
      if (k == C_ARCH || k == C_ENV) continue;
      if (!num_field(r.f[ci[k]], &v[k])) {
        rc = dle_error_set(err, DLE_EPARSE, "line %zu: %s '%s' is not a number", lineno, need[k],
                           r.f[ci[k]]);
        break;
      }
    }
    if (rc) break;
    double ih = o.image_h, iw = o.image_w, ram = o.host_ram_gb;
    if ((c_ih >= 0 && !num_field(r.f[c_ih], &ih)) || (c_iw >= 0 && !num_field(r.f[c_iw], &iw)) ||
        (c_ram >= 0 && !num_field(r.f[c_ram], &ram))) {
      rc = dle_error_set(err, DLE_EPARSE, "line %zu: bad image_h/image_w/host_ram_gb", lineno);
      break;
    }
    const char *gname = r.f[ci[C_GPU]];
    if (!last || strcmp(gname, last_name) != 0) {
      rc = dle_gpu_catalog_find(cat, gname, &last, err);
      if (rc) {
        dle_error_prefix(err, "line %zu: ", lineno);
        break;
      }
      snprintf(last_name, sizeof last_name, "%s", gname);
    }
    double y;
    if (power) {
      y = v[C_Y1];
    } else {
      if (!(v[C_Y2] >= 1)) {
        rc = dle_error_set(err, DLE_EPARSE, "line %zu: trained_epochs must be >= 1", lineno);
        break;
      }
      y = v[C_Y1] * 1e6 / v[C_Y2];
    }
    double num[DLE_PRE_N_NUM];
    dle_pre_features(v[C_BATCH], ih, iw, v[C_TRAIN], v[C_VAL], v[C_GFLOP], ram, last, num);
    const char *cv[2] = {r.f[ci[C_ARCH]], r.f[ci[C_ENV]]};
    rc = dle_dataset_add(d, num, cv, y, err);
    if (rc) dle_error_prefix(err, "line %zu: ", lineno);
  }
  free(text);
  if (!rc && d->n < 2) rc = dle_error_set(err, DLE_ERANGE, "fewer than 2 data rows");
  if (rc) {
    dle_error_prefix(err, "%s: ", path);
    dle_dataset_free(d);
    return rc;
  }
  *out = d;
  return DLE_OK;
}

int dle_pre_baselines_compute(const dle_gpu_spec *gpu, double gflops, double training_size,
                              double validation_size, double epochs, double host_ram_gb,
                              double gpu_usage, double flops_utilization, double duration_s,
                              dle_pre_baselines *out, dle_error *err) {
  if (!gpu || !out) return dle_error_set(err, DLE_EINVAL, "missing argument");
  if (!(gflops > 0) || !(training_size > 0) || !(validation_size >= 0) || !(epochs > 0) ||
      !(flops_utilization > 0 && flops_utilization <= 1) || !(gpu_usage >= 0 && gpu_usage <= 1) ||
      !(host_ram_gb >= 0) || !isfinite(gflops * training_size * epochs))
    return dle_error_set(err, DLE_EINVAL,
                         "baselines need positive GFLOPs, sizes and epochs, "
                         "utilization in (0, 1] and usage in [0, 1]");
  if (!isnan(duration_s) && !(duration_s > 0 && isfinite(duration_s)))
    return dle_error_set(err, DLE_EINVAL, "duration must be positive");
  /* Training FLOPs: forward + backward (about 3 x forward) per training image,
   * forward only per validation image. */
  double flop = epochs * (3.0 * training_size + validation_size) * gflops * 1e9;
  double rate = gpu->fp32_tflops * 1e12 * flops_utilization;
  out->flops_duration_s = flop / rate;
  out->flops_j = gpu->tdp_w * out->flops_duration_s;
  out->duration_s = isnan(duration_s) ? out->flops_duration_s : duration_s;
  out->mlco2_j = gpu->tdp_w * out->duration_s;
  out->ga_j = (gpu->tdp_w * gpu_usage + host_ram_gb * 0.3725) * out->duration_s;
  return DLE_OK;
}
