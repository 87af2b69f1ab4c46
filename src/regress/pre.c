/* pre.c — the study's PRE features (from runs.csv or predict inputs) and the
 * pre-training baselines shown beside a PRE prediction. */
#include <errno.h>
#include <stdarg.h>
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

/* ---- transferable features ---- */

static bool cell_num(const char *s, double *out) {
  if (!s) return false;
  while (*s == ' ' || *s == '\t') s++;
  return num_field(s, out);
}

static int req_col(const dle_pre_table *t, const char *name, long *c, dle_error *err) {
  *c = dle_pre_table_col(t, name);
  if (*c < 0) return dle_error_set(err, DLE_EPARSE, "no column '%s'", name);
  return DLE_OK;
}

/* The columns dle_pre_input_from_row reads, found once per table instead of per row. */
typedef struct input_cols {
  long gpu, need[4], opt[4];
} input_cols;

static const char *const k_need_cols[] = {"batch_size", "training_size", "validation_size",
                                          "forward_pass_gflop"};
static const char *const k_opt_cols[] = {"image_h", "image_w", "host_ram_gb", "power_limit_w"};

static int find_input_cols(const dle_pre_table *t, input_cols *c, dle_error *err) {
  int rc = req_col(t, "gpu_model", &c->gpu, err);
  for (int k = 0; !rc && k < 4; k++) rc = req_col(t, k_need_cols[k], &c->need[k], err);
  for (int k = 0; k < 4; k++) c->opt[k] = dle_pre_table_col(t, k_opt_cols[k]);
  return rc;
}

/* The last GPU name looked up and its spec: rows of one board follow each other, and a
 * catalogue lookup compares the name with every board's spellings. */
typedef struct gpu_memo {
  const char *name;
  const dle_gpu_spec *spec;
} gpu_memo;

static int input_from_cols(const dle_pre_table *t, size_t row, const input_cols *c,
                           const dle_gpu_catalog *cat, gpu_memo *memo, dle_pre_input *in,
                           dle_error *err) {
  size_t line = dle_pre_table_line(t, row);
  double v[4];
  for (int k = 0; k < 4; k++) {
    const char *s = dle_pre_table_cell(t, row, (size_t)c->need[k]);
    if (!cell_num(s, &v[k]) || !(k == 2 ? v[k] >= 0 : v[k] > 0))
      return dle_error_set(err, DLE_EPARSE, "row %zu (line %zu): %s '%.40s' is not a %s number",
                           row + 1, line, k_need_cols[k], s ? s : "",
                           k == 2 ? "non-negative" : "positive");
  }
  double o[4] = {NAN, NAN, NAN, NAN};
  for (int k = 0; k < 4; k++) {
    if (c->opt[k] < 0) continue;
    const char *s = dle_pre_table_cell(t, row, (size_t)c->opt[k]);
    if (!s || !s[0]) continue;
    if (!cell_num(s, &o[k]) || !(k == 2 ? o[k] >= 0 : o[k] > 0))
      return dle_error_set(err, DLE_EPARSE, "row %zu (line %zu): %s '%.40s' is not a %s number",
                           row + 1, line, k_opt_cols[k], s, k == 2 ? "non-negative" : "positive");
  }
  const char *g = dle_pre_table_cell(t, row, (size_t)c->gpu);
  if (!g || !g[0])
    return dle_error_set(err, DLE_EPARSE, "row %zu (line %zu): gpu_model is empty", row + 1, line);
  const dle_gpu_spec *spec = NULL;
  if (memo && memo->name && strcmp(memo->name, g) == 0) {
    spec = memo->spec;
  } else {
    int rc = dle_gpu_catalog_find(cat, g, &spec, err);
    if (rc) {
      dle_error_prefix(err, "row %zu (line %zu): ", row + 1, line);
      return rc;
    }
    if (memo) *memo = (gpu_memo){g, spec};
  }
  *in = (dle_pre_input){spec, v[0], v[1], v[2], v[3], o[0], o[1], o[2], o[3]};
  return DLE_OK;
}

int dle_pre_input_from_row(const dle_pre_table *t, size_t row, const dle_gpu_catalog *cat,
                           dle_pre_input *in, dle_error *err) {
  input_cols c;
  int rc = find_input_cols(t, &c, err);
  if (rc) return rc;
  return input_from_cols(t, row, &c, cat, NULL, in, err);
}

/* Built-in feature names, resolved to a code once instead of compared per row. */
static const char *const k_direct_features[] = {"log_batch_size",   "log_forward_gflop",
                                                "log_steps_per_epoch", "power_limit_frac",
                                                "power_limit_w",    "peak_compute_s"};
enum { N_DIRECT_FEATURES = 6 };

/* 0..5: k_direct_features; 6 + i: k_pre_names[i]; -1: not built in. */
static int feature_code(const char *name) {
  for (int i = 0; i < N_DIRECT_FEATURES; i++)
    if (strcmp(name, k_direct_features[i]) == 0) return i;
  for (int i = 0; i < DLE_PRE_N_NUM; i++)
    if (strcmp(name, k_pre_names[i]) == 0) return N_DIRECT_FEATURES + i;
  return -1;
}

static double feature_by_code(int code, const dle_pre_input *in) {
  double pl = isnan(in->power_limit_w) && in->gpu ? in->gpu->tdp_w : in->power_limit_w;
  double flop = (3.0 * in->training_size + in->validation_size) * in->gflop * 1e9;
  switch (code) {
    case 0:
      return log(in->batch_size);
    case 1:
      return log(in->gflop);
    case 2:
      return log((in->training_size + in->validation_size) / in->batch_size);
    case 3:
      return in->gpu ? pl / in->gpu->tdp_w : NAN;
    case 4:
      return pl;
    case 5:
      return in->gpu ? flop / (in->gpu->fp32_tflops * 1e12) : NAN;
    default: {
      double num[DLE_PRE_N_NUM];
      dle_pre_features(in->batch_size, in->image_h, in->image_w, in->training_size,
                       in->validation_size, in->gflop, in->host_ram_gb, in->gpu, num);
      return num[code - N_DIRECT_FEATURES];
    }
  }
}

int dle_pre_feature_value(const char *name, const dle_pre_input *in, double *out, dle_error *err) {
  *out = NAN;
  if (!name || !in) return dle_error_set(err, DLE_EINVAL, "missing argument");
  int code = feature_code(name);
  if (code < 0) return dle_error_set(err, DLE_ENOTFOUND, "'%s' is not a built-in feature", name);
  *out = feature_by_code(code, in);
  return DLE_OK;
}

static const char *const k_phys_base[] = {"log_batch_size", "log_forward_gflop",
                                          "log_steps_per_epoch", "power_limit_frac"};
static const char *const k_phys_scale[] = {"power_limit_w", "peak_compute_s"};
enum { N_PHYS_BASE = 4, N_PHYS_SCALE = 2, N_PHYS_EXTRA_MAX = 32 };

int dle_pre_phys_dataset(const dle_pre_table *t, dle_pre_target target,
                         const dle_gpu_catalog *cat, const char *const *features,
                         size_t n_features, dle_dataset **out, dle_error *err) {
  *out = NULL;
  if (!t || !cat) return dle_error_set(err, DLE_EINVAL, "missing argument");
  if (n_features > N_PHYS_EXTRA_MAX)
    return dle_error_set(err, DLE_ERANGE, "at most %d extra features", N_PHYS_EXTRA_MAX);
  const char *names[N_PHYS_BASE + N_PHYS_EXTRA_MAX + N_PHYS_SCALE];
  long extra_col[N_PHYS_EXTRA_MAX];
  size_t nn = 0;
  for (size_t i = 0; i < N_PHYS_BASE; i++) names[nn++] = k_phys_base[i];
  for (size_t i = 0; i < n_features; i++) {
    for (size_t k = 0; k < nn; k++)
      if (strcmp(names[k], features[i]) == 0 || strcmp(features[i], "power_limit_w") == 0 ||
          strcmp(features[i], "peak_compute_s") == 0)
        return dle_error_set(err, DLE_EINVAL, "feature '%s' is already in the model",
                             features[i]);
    extra_col[i] = dle_pre_table_col(t, features[i]);
    double dummy;
    dle_pre_input probe = {0};
    bool builtin = dle_pre_feature_value(features[i], &probe, &dummy, NULL) == DLE_OK;
    if (extra_col[i] < 0 && !builtin)
      return dle_error_set(err, DLE_EPARSE, "--features: no column '%s'", features[i]);
    if (builtin) extra_col[i] = -1;
    names[nn++] = features[i];
  }
  size_t i_pl = nn;
  for (size_t i = 0; i < N_PHYS_SCALE; i++) names[nn++] = k_phys_scale[i];
  double expo[N_PHYS_BASE + N_PHYS_EXTRA_MAX + N_PHYS_SCALE] = {0};
  unsigned char off[N_PHYS_BASE + N_PHYS_EXTRA_MAX + N_PHYS_SCALE] = {0};
  bool power = target == DLE_PRE_TARGET_POWER;
  expo[i_pl] = 1;
  expo[i_pl + 1] = power ? 0 : 1;
  off[i_pl] = off[i_pl + 1] = 1;
  static const char *const cat_names[] = {"architecture", "dataset"};
  long cc[2] = {dle_pre_table_col(t, "architecture"), dle_pre_table_col(t, "dataset")};
  long cy = -1, cy2 = -1;
  const char *ty = NULL;
  if (power) {
    ty = "avg_gpu_power_w";
    cy = dle_pre_table_col(t, ty);
  } else if ((cy = dle_pre_table_col(t, "epoch_energy_j")) >= 0) {
    ty = "epoch_energy_j";
  } else {
    ty = "gpu_energy_mj";
    cy = dle_pre_table_col(t, ty);
    cy2 = dle_pre_table_col(t, "trained_epochs");
    if (cy >= 0 && cy2 < 0) return dle_error_set(err, DLE_EPARSE, "no column 'trained_epochs'");
  }
  if (cy < 0)
    return dle_error_set(err, DLE_EPARSE, "no column '%s'%s", ty,
                         power ? "" : " (nor epoch_energy_j)");
  dle_dataset *d = NULL;
  int rc = dle_dataset_new(nn, names, 2, cat_names, power ? "power" : "epoch_energy",
                           power ? "W" : "J", &d, err);
  if (!rc) rc = dle_dataset_set_transform(d, true, expo, off, err);
  int code[N_PHYS_BASE + N_PHYS_EXTRA_MAX + N_PHYS_SCALE];
  for (size_t j = 0; j < nn; j++) code[j] = feature_code(names[j]);
  input_cols ic;
  gpu_memo memo = {0};
  for (size_t r = 0; !rc && r < dle_pre_table_rows(t); r++) {
    size_t line = dle_pre_table_line(t, r);
    dle_pre_input in;
    if (r == 0 && (rc = find_input_cols(t, &ic, err)) != DLE_OK) break;
    rc = input_from_cols(t, r, &ic, cat, &memo, &in, err);
    if (rc) break;
    double num[N_PHYS_BASE + N_PHYS_EXTRA_MAX + N_PHYS_SCALE];
    for (size_t j = 0; !rc && j < nn; j++) {
      size_t xi = j - N_PHYS_BASE;
      if (j >= N_PHYS_BASE && j < i_pl && extra_col[xi] >= 0) {
        const char *s = dle_pre_table_cell(t, r, (size_t)extra_col[xi]);
        if (!cell_num(s, &num[j]))
          rc = dle_error_set(err, DLE_EPARSE, "row %zu (line %zu): %s '%.40s' is not a number",
                             r + 1, line, names[j], s ? s : "");
      } else {
        if (code[j] < 0)
          rc = dle_error_set(err, DLE_ENOTFOUND, "'%s' is not a built-in feature", names[j]);
        else
          num[j] = feature_by_code(code[j], &in);
        if (!rc && !isfinite(num[j]))
          rc = dle_error_set(err, DLE_EPARSE, "row %zu (line %zu): feature %s is not given",
                             r + 1, line, names[j]);
      }
    }
    if (rc) break;
    double y, e = 1;
    const char *s = dle_pre_table_cell(t, r, (size_t)cy);
    if (!cell_num(s, &y) || !(y > 0) ||
        (cy2 >= 0 && (!cell_num(dle_pre_table_cell(t, r, (size_t)cy2), &e) || !(e >= 1)))) {
      rc = dle_error_set(err, DLE_EPARSE, "row %zu (line %zu): target %s must be > 0%s", r + 1,
                         line, ty, cy2 >= 0 ? " and trained_epochs >= 1" : "");
      break;
    }
    if (cy2 >= 0) y = y * 1e6 / e;
    const char *cv[2];
    for (int k = 0; k < 2; k++) {
      cv[k] = cc[k] >= 0 ? dle_pre_table_cell(t, r, (size_t)cc[k]) : "unknown";
      if (!cv[k] || !cv[k][0]) cv[k] = "unknown";
    }
    rc = dle_dataset_add(d, num, cv, y, err);
    if (rc) dle_error_prefix(err, "row %zu (line %zu): ", r + 1, line);
  }
  if (!rc && dle_dataset_rows(d) < 2) rc = dle_error_set(err, DLE_ERANGE, "fewer than 2 data rows");
  if (rc) {
    dle_dataset_free(d);
    return rc;
  }
  *out = d;
  return DLE_OK;
}

static void note_add(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note_add(char *buf, size_t size, const char *fmt, ...) {
  size_t l = strlen(buf);
  if (l + 1 >= size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + l, size - l, fmt, ap);
  va_end(ap);
}

int dle_pre_predict(const dle_regress_model *m, const dle_pre_input *in, const dle_pre_table *t,
                    size_t row, const char *const *cat_keys, const char *const *cat_values,
                    size_t n_cat, dle_pre_prediction *out, dle_error *err) {
  memset(out, 0, sizeof *out);
  out->y = out->low = out->high = NAN;
  if (!m || !in) return dle_error_set(err, DLE_EINVAL, "missing argument");
  size_t nn = dle_regress_model_num_count(m), nc = dle_regress_model_cat_count(m);
  double *num = calloc(nn ? nn : 1, sizeof *num);
  const char **cat = calloc(nc ? nc : 1, sizeof *cat);
  int rc = !num || !cat ? dle_error_set(err, DLE_ENOMEM, "out of memory") : DLE_OK;
  for (size_t j = 0; !rc && j < nn; j++) {
    const char *name = dle_regress_model_num_name(m, j);
    rc = dle_pre_feature_value(name, in, &num[j], err);
    if (rc == DLE_ENOTFOUND) {
      long c = dle_pre_table_col(t, name);
      const char *s = c >= 0 ? dle_pre_table_cell(t, row, (size_t)c) : NULL;
      rc = DLE_OK;
      if (!cell_num(s, &num[j]))
        rc = dle_error_set(err, DLE_EINVAL, "the model needs numeric column '%s'%s", name,
                           c >= 0 ? " (not a number here)" : "");
    }
    if (!rc && !isfinite(num[j]) && dle_regress_model_num_used(m, j))
      rc = dle_error_set(err, DLE_EINVAL, "the model needs %s (not given)", name);
    double lo, hi;
    if (!rc && dle_regress_model_num_used(m, j) && dle_regress_model_num_range(m, j, &lo, &hi)) {
      double tol = 1e-9 * (fabs(lo) + fabs(hi) + 1);
      if (num[j] < lo - tol || num[j] > hi + tol) {
        out->extrapolating = true;
        note_add(out->note, sizeof out->note, "%s%s %.4g outside the training range %.4g..%.4g",
                 out->note[0] ? "; " : "", name, num[j], lo, hi);
      }
    }
  }
  for (size_t j = 0; !rc && j < nc; j++) {
    const char *name = dle_regress_model_cat_name(m, j);
    for (size_t k = 0; k < n_cat; k++)
      if (cat_keys[k] && strcmp(cat_keys[k], name) == 0 && cat_values[k] && cat_values[k][0])
        cat[j] = cat_values[k];
    bool seen = false;
    for (size_t l = 0; cat[j] && l < dle_regress_model_cat_level_count(m, j); l++)
      seen = seen || strcmp(dle_regress_model_cat_level(m, j, l), cat[j]) == 0;
    if (!seen) {
      out->extrapolating = true;
      note_add(out->note, sizeof out->note, "%sno training row with %s=%.40s",
               out->note[0] ? "; " : "", name, cat[j] ? cat[j] : "(not given)");
    }
  }
  if (!rc) rc = dle_regress_model_predict(m, num, cat, &out->y, err);
  if (!rc && !(out->y > 0))
    rc = dle_error_set(err, DLE_ERANGE,
                       "the %s model predicts %.4g %s, not a positive figure: the input is "
                       "too far from its training data",
                       dle_regress_kind_name(dle_regress_model_kind(m)), out->y,
                       dle_regress_model_target_unit(m));
  dle_cv_scores cv;
  if (!rc && dle_regress_model_cv(m, NULL, &cv)) {
    double widen = out->extrapolating ? 2.0 : 1.0;
    if (dle_regress_model_log_target(m) && isfinite(cv.rmsle)) {
      out->low = out->y * exp(-widen * cv.rmsle);
      out->high = out->y * exp(widen * cv.rmsle);
      out->have_range = true;
    } else if (isfinite(cv.rmse)) {
      out->low = fmax(0, out->y - widen * cv.rmse);
      out->high = out->y + widen * cv.rmse;
      out->have_range = true;
    }
  }
  free(num);
  free(cat);
  return rc;
}
