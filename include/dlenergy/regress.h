/* regress.h — the study's PRE method: regress a training run's average GPU power
 * or average epoch energy on its architecture and environment, and predict new runs.
 *
 * Pieces:
 *   dataset   rows of numeric features, categorical features (text) and a target.
 *   encoder   part of every model: numeric features standardized with the training
 *             rows' mean and population std (scikit-learn StandardScaler; a feature
 *             that is constant in the training rows is encoded as 0 and reported as
 *             unused), categoricals one-hot over the levels seen in training (levels
 *             sorted; an unseen level encodes as all zeros, like OneHotEncoder with
 *             handle_unknown="ignore"). Columns: numeric first, then each one-hot block.
 *   models    linear (least squares, LAPACK dgelsd, intercept), ridge (intercept,
 *             Cholesky of X'X + alpha I), kernel ridge with RBF kernel
 *             K = exp(-gamma |x - y|^2) and alpha added to K's diagonal (no intercept,
 *             as scikit-learn's KernelRidge; LAPACK dpotrf/dpotrs, least squares when
 *             K + alpha I is not positive definite), epsilon-SVR with RBF kernel (libsvm).
 *   search    randomized hyperparameter search: draws from the study's distributions
 *             (ridge alpha ~ Exp(0.1); kernel ridge alpha, gamma ~ Exp(0.01); SVR
 *             C ~ Exp(300), epsilon ~ Exp(1), gamma ~ Exp(0.01); linear has none) with
 *             k-fold CV, scored by R^2, MAPE, RMSE and MAE (means over folds); the best
 *             draw is the one with the highest mean R^2; it is refitted on all rows.
 *   folds     scikit-learn KFold semantics: rows in order (or a seeded permutation
 *             when shuffling), cut into k consecutive folds, the first n % k of size
 *             n / k + 1. The permutation is our own (xoshiro256**), not numpy's, so a
 *             cross-check passes the fold of each row to scikit-learn (PredefinedSplit).
 *   model     file: portable, versioned JSON (see dle_regress_model_parse).
 *   PRE       the study's features from runs.csv or predict inputs, and the baseline
 *             estimates shown beside a PRE prediction.
 * Everything is seeded and reproducible; all predictions are modelled figures. */
#ifndef DLENERGY_REGRESS_H
#define DLENERGY_REGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/gpus.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dle_regress_kind {
  DLE_REG_LINEAR = 0,
  DLE_REG_RIDGE,
  DLE_REG_KRR,
  DLE_REG_SVR,
  DLE_REG_COUNT
} dle_regress_kind;

/* "linear", "ridge", "krr", "svr" */
const char *dle_regress_kind_name(dle_regress_kind k);
int dle_regress_kind_parse(const char *s, dle_regress_kind *out, dle_error *err);

/* Hyperparameters; the ones a kind does not use are ignored (NaN in output). */
typedef struct dle_regress_hyper {
  double alpha;   /* ridge, krr */
  double gamma;   /* krr, svr */
  double c;       /* svr */
  double epsilon; /* svr */
} dle_regress_hyper;

/* ---- dataset ---- */
typedef struct dle_dataset dle_dataset;

/* Column names are copied. Names: 1..63 bytes of [A-Za-z0-9_.-]. */
int dle_dataset_new(size_t n_num, const char *const *num_names, size_t n_cat,
                    const char *const *cat_names, const char *target, const char *target_unit,
                    dle_dataset **out, dle_error *err);
void dle_dataset_free(dle_dataset *d);
/* Appends a row: n_num finite numbers, n_cat non-empty strings, a finite target. */
int dle_dataset_add(dle_dataset *d, const double *num, const char *const *cat, double y,
                    dle_error *err);
size_t dle_dataset_rows(const dle_dataset *d);
/* Target transform (before any row is added): with log_target the regressors fit
 *   t = log(y) - sum_j scale_exp[j] log(num[j])
 * (y and every num[j] with a nonzero exponent must then be > 0), and a prediction is
 * exp(t^) x prod num[j]^scale_exp[j], never <= 0. scale_exp may be NULL (no scale).
 * feature_off (may be NULL) marks numeric columns that only scale the target and are
 * not regression features (encoded as unused). Every kind fits the transformed target
 * centred and scaled by its training mean and std (kernel ridge never drifts to 0). */
/* Kernel ridge collapses identical training rows (exact, see docs/predict.md) unless
 * this is set to false (benchmarks: every row solved as its own). Default true. */
void dle_dataset_set_merge_rows(dle_dataset *d, bool merge);
/* Cross-validation fast paths (docs/predict.md): kernel ridge solves (G + alpha I)
 * x = b by conjugate gradients preconditioned with a pivoted partial Cholesky factor
 * of G, accepted only at a Cholesky-grade backward error, else densely; SVR hands
 * libsvm a precomputed kernel, bit for bit the values its RBF code computes. exact =
 * true takes the reference paths (dense Cholesky; libsvm's RBF kernel) that the fast
 * ones are tested against. The refit of the chosen draw always takes them. Default
 * false. */
void dle_dataset_set_exact_solve(dle_dataset *d, bool exact);
int dle_dataset_set_transform(dle_dataset *d, bool log_target, const double *scale_exp,
                              const unsigned char *feature_off, dle_error *err);
double dle_dataset_target(const dle_dataset *d, size_t row);

/* ---- cross-validation ---- */
typedef struct dle_cv_scores {
  double r2, mape, rmse, mae; /* means over folds; mape as a fraction; rmse/mae in target unit */
  double rmsle; /* RMS of log(prediction / truth) over folds (NaN when a prediction is <= 0) */
  double mape_rows; /* MAPE pooled over every held-out row (folds weighted by size) */
} dle_cv_scores;

/* Test fold (0..k-1) of each of n rows, KFold semantics (see above). */
int dle_regress_folds(size_t n, int k, bool shuffle, uint64_t seed, int *fold_of_row,
                      dle_error *err);

/* Leave-one-group-out folds: fold of row i = index of labels[i] among the sorted
 * distinct labels; *k = their count (at least 2). */
int dle_regress_group_folds(const char *const *labels, size_t n, int *fold_of_row, int *k,
                            dle_error *err);

/* n hyperparameter draws of the kind, seeded; the targets are standardized, so the
 * study's distributions apply to every target unit (ridge alpha ~ Exp(0.1); kernel
 * ridge alpha, gamma ~ Exp(0.01); SVR C ~ Exp(300), gamma ~ Exp(0.01) and epsilon ~
 * Exp(0.1) in units of the target's std). */
int dle_regress_draws(dle_regress_kind kind, uint64_t seed, size_t n, dle_regress_hyper *out,
                      dle_error *err);

/* Out-of-fold predictions (pred[i] for row i, fitted without row i's fold) of one
 * setting; scores as dle_regress_cv. */
int dle_regress_cv_predict(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                           const int *fold_of_row, int k, double *pred, dle_cv_scores *out,
                           dle_error *err);

/* CV scores of one setting on the given folds (k folds, fold_of_row[i] in 0..k-1). */
int dle_regress_cv(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                   const int *fold_of_row, int k, dle_cv_scores *out, dle_error *err);

/* CV scores of n_h settings at once (shares the per-fold work); out[i] for h[i].
 * A setting that cannot be fitted gets NaN scores (counted in *n_failed). */
int dle_regress_cv_many(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                        size_t n_h, const int *fold_of_row, int k, dle_cv_scores *out,
                        size_t *n_failed, dle_error *err);

/* ---- models ---- */
typedef struct dle_regress_model dle_regress_model;

/* Fits one setting on every row of d (no CV; the model's CV record is empty). */
int dle_regress_fit(const dle_dataset *d, dle_regress_kind kind, const dle_regress_hyper *h,
                    dle_regress_model **out, dle_error *err);

typedef struct dle_regress_search_opts {
  int folds;     /* default 5 */
  bool shuffle;  /* default true */
  uint64_t seed; /* default 42: folds and draws */
  size_t draws;  /* default 100 (linear: always 1) */
  bool by_mape;  /* rank draws by lowest pooled MAPE (mape_rows) instead of highest mean
                    R^2 (grouped CV: R^2 of a group whose target hardly varies says little,
                    and a small group should not outweigh a large one) */
} dle_regress_search_opts;
void dle_regress_search_opts_init(dle_regress_search_opts *o);

typedef struct dle_regress_search_result {
  dle_regress_hyper best;
  dle_cv_scores cv; /* of the best draw */
  size_t evaluated; /* draws scored */
  size_t failed;    /* draws that could not be fitted */
} dle_regress_search_result;

/* Randomized search (draws NULL: generated from opts->seed; else the n_draws given),
 * then the best setting refitted on all rows; the model records its CV scores. */
int dle_regress_search(const dle_dataset *d, dle_regress_kind kind,
                       const dle_regress_search_opts *opts, const dle_regress_hyper *draws,
                       size_t n_draws, dle_regress_model **out, dle_regress_search_result *res,
                       dle_error *err);

/* The same search on given folds (k of them, e.g. dle_regress_group_folds); group_by
 * names the grouping column in the model's CV record (NULL: KFold as in opts). */
int dle_regress_search_folds(const dle_dataset *d, dle_regress_kind kind,
                             const dle_regress_search_opts *opts, const dle_regress_hyper *draws,
                             size_t n_draws, const int *fold_of_row, int k, const char *group_by,
                             dle_regress_model **out, dle_regress_search_result *res,
                             dle_error *err);

/* Nested CV: for each outer fold g (fold_of_row, k folds), the randomized search runs
 * on the other rows only, with leave-one-group-out inner folds over their own outer
 * groups (so k >= 3), and the chosen setting, refitted on those rows, predicts fold g.
 * pred (may be NULL) gets every row's outer prediction; out the outer scores (means
 * over folds; mape_rows pooled). Unbiased by the choice of hyperparameters. */
int dle_regress_nested_cv(const dle_dataset *d, dle_regress_kind kind,
                          const dle_regress_search_opts *opts, const int *fold_of_row, int k,
                          double *pred, dle_cv_scores *out, dle_error *err);

/* Records CV settings and scores in a model (written to the model file). */
void dle_regress_model_set_cv(dle_regress_model *m, const dle_regress_search_opts *o,
                              const dle_cv_scores *s);
/* Column the model's CV grouped by ("" when KFold). */
const char *dle_regress_model_cv_group(const dle_regress_model *m);
/* True when the model predicts exp(...) x scale (never <= 0). */
bool dle_regress_model_log_target(const dle_regress_model *m);

void dle_regress_model_free(dle_regress_model *m);

/* Predicts from raw features: num in the model's numeric order, cat (may be NULL,
 * or hold NULL entries = unknown level) in its categorical order. */
int dle_regress_model_predict(const dle_regress_model *m, const double *num, const char *const *cat,
                              double *y, dle_error *err);

dle_regress_kind dle_regress_model_kind(const dle_regress_model *m);
const char *dle_regress_model_target(const dle_regress_model *m);      /* "power", ... */
const char *dle_regress_model_target_unit(const dle_regress_model *m); /* "W", "J" */
dle_regress_hyper dle_regress_model_hyper(const dle_regress_model *m);
size_t dle_regress_model_rows(const dle_regress_model *m); /* training rows */
/* CV record; false when the model has none. */
bool dle_regress_model_cv(const dle_regress_model *m, dle_regress_search_opts *o, dle_cv_scores *s);
size_t dle_regress_model_num_count(const dle_regress_model *m);
const char *dle_regress_model_num_name(const dle_regress_model *m, size_t i);
bool dle_regress_model_num_used(const dle_regress_model *m, size_t i); /* not constant */
/* Range of numeric feature i in the training rows; false when the file has none. */
bool dle_regress_model_num_range(const dle_regress_model *m, size_t i, double *min, double *max);
size_t dle_regress_model_cat_count(const dle_regress_model *m);
const char *dle_regress_model_cat_name(const dle_regress_model *m, size_t i);
size_t dle_regress_model_cat_level_count(const dle_regress_model *m, size_t i);
const char *dle_regress_model_cat_level(const dle_regress_model *m, size_t i, size_t j);

/* Model file. JSON object:
 *   format "dlenergy-regress-model", version 1, kind, target, target_unit, rows,
 *   numeric [{name, mean, scale, used, min, max (optional: training range)}],
 *   categorical [{name, levels[]}],
 *   hyper {alpha, gamma, c, epsilon} (the kind's own, finite and > 0),
 *   linear/ridge: coef[d], intercept; krr/svr: support[n][d], dual[n], rho,
 *   cv (optional) {folds, shuffle, seed, draws, r2, mape, rmse, mae}.
 * The reader checks everything (version, kinds, sizes, finite numbers, limits) and
 * fails with DLE_EPARSE and a message naming the field. */
int dle_regress_model_to_json(const dle_regress_model *m, char **out, dle_error *err);
int dle_regress_model_parse(const char *text, size_t len, dle_regress_model **out, dle_error *err);
int dle_regress_model_save(const dle_regress_model *m, const char *path, dle_error *err);
int dle_regress_model_load(const char *path, dle_regress_model **out, dle_error *err);

/* ---- PRE: the study's features ---- */
enum {
  DLE_PRE_BATCH_SIZE = 0,
  DLE_PRE_IMAGE_H,
  DLE_PRE_IMAGE_W,
  DLE_PRE_TRAINING_SIZE,
  DLE_PRE_VALIDATION_SIZE,
  DLE_PRE_GFLOPS,
  DLE_PRE_HOST_RAM_GB,
  DLE_PRE_GPU_CUDA_CORES,
  DLE_PRE_GPU_MEMORY_GB,
  DLE_PRE_GPU_TDP_W,
  DLE_PRE_N_NUM
};
/* "batch_size", "image_h", "image_w", "training_size", "validation_size", "gflops",
 * "host_ram_gb", "gpu_cuda_cores", "gpu_memory_gb", "gpu_tdp_w" */
const char *dle_pre_feature_name(size_t i);

typedef enum dle_pre_target {
  DLE_PRE_TARGET_POWER = 0,       /* average GPU power, W ("power") */
  DLE_PRE_TARGET_EPOCH_ENERGY = 1 /* average GPU energy per epoch, J ("epoch-energy") */
} dle_pre_target;
const char *dle_pre_target_name(dle_pre_target t);
int dle_pre_target_parse(const char *s, dle_pre_target *out, dle_error *err);

/* Fills num[DLE_PRE_N_NUM]; the GPU facts come from spec. */
void dle_pre_features(double batch_size, double image_h, double image_w, double training_size,
                      double validation_size, double gflops, double host_ram_gb,
                      const dle_gpu_spec *spec, double num[DLE_PRE_N_NUM]);

typedef struct dle_pre_csv_opts {
  double image_h, image_w; /* used when the CSV has no image_h/image_w columns (128) */
  double host_ram_gb;      /* used when the CSV has no host_ram_gb column (0 = unknown) */
} dle_pre_csv_opts;
void dle_pre_csv_opts_init(dle_pre_csv_opts *o);

/* Builds the PRE dataset from a runs.csv-style table (comma-separated, header):
 * needs gpu_model, batch_size, training_size, validation_size, forward_pass_gflop,
 * architecture, environment_id (the categoricals), and avg_gpu_power_w (power) or
 * gpu_energy_mj and trained_epochs (epoch energy = gpu_energy_mj x 1e6 / trained_epochs).
 * GPU facts come from cat by gpu_model. */
int dle_pre_dataset_from_csv(const char *path, dle_pre_target target, const dle_pre_csv_opts *opts,
                             const dle_gpu_catalog *cat, dle_dataset **out, dle_error *err);

/* ---- PRE tables: CSV with a header (RFC 4180 quoting), as training tables and
 * `predict --csv` inputs. Cells are strings; rows are numbered from 0 (data rows). ---- */
typedef struct dle_pre_table dle_pre_table;
int dle_pre_table_parse(const char *text, size_t len, dle_pre_table **out, dle_error *err);
int dle_pre_table_read(const char *path, dle_pre_table **out, dle_error *err);
void dle_pre_table_free(dle_pre_table *t);
size_t dle_pre_table_rows(const dle_pre_table *t);
size_t dle_pre_table_cols(const dle_pre_table *t);
const char *dle_pre_table_header(const dle_pre_table *t, size_t col);
long dle_pre_table_col(const dle_pre_table *t, const char *name); /* -1 when absent */
const char *dle_pre_table_cell(const dle_pre_table *t, size_t row, size_t col);
size_t dle_pre_table_line(const dle_pre_table *t, size_t row); /* source line of a row */

/* ---- PRE inputs and features by name ----
 * One training or prediction row. NaN = not given (image for non-image inputs;
 * power_limit_w defaults to the board's TDP). */
typedef struct dle_pre_input {
  const dle_gpu_spec *gpu;
  double batch_size, training_size, validation_size, gflop; /* forward GFLOP per sample */
  double image_h, image_w, host_ram_gb, power_limit_w;
} dle_pre_input;

/* Reads row `row` of t: gpu_model (looked up in cat), batch_size, training_size,
 * validation_size, forward_pass_gflop (all > 0 but validation_size >= 0), optional
 * image_h, image_w, host_ram_gb, power_limit_w (empty = not given). Errors name the
 * row (its line) and the column. */
int dle_pre_input_from_row(const dle_pre_table *t, size_t row, const dle_gpu_catalog *cat,
                           dle_pre_input *in, dle_error *err);

/* Value of a built-in feature for an input; DLE_ENOTFOUND when name is not built in
 * (the caller then looks for a table column of that name). Built in: the study's
 * features (dle_pre_feature_name) and the transferable ones:
 *   log_batch_size, log_forward_gflop, log_steps_per_epoch ((training + validation) /
 *   batch), power_limit_frac (power limit / TDP), power_limit_w, peak_compute_s (one
 *   epoch's FLOPs, 3 x forward per training sample + forward per validation sample,
 *   at the board's peak FP32 rate). */
int dle_pre_feature_value(const char *name, const dle_pre_input *in, double *out, dle_error *err);

/* The transferable PRE dataset (the default models): numeric log_batch_size,
 * log_forward_gflop, log_steps_per_epoch, power_limit_frac, then extra numeric columns
 * of t (features, may be NULL), then the scale-only power_limit_w and peak_compute_s;
 * categoricals architecture and dataset (a missing column is "unknown"). The target is
 * fitted in logs relative to a physical scale: power / power limit, and epoch energy /
 * (power limit x peak_compute_s). Targets: avg_gpu_power_w; epoch_energy_j (or
 * gpu_energy_mj x 1e6 / trained_epochs). */
int dle_pre_phys_dataset(const dle_pre_table *t, dle_pre_target target,
                         const dle_gpu_catalog *cat, const char *const *features,
                         size_t n_features, dle_dataset **out, dle_error *err);

/* One PRE prediction for an input (modelled). Numeric features come from
 * dle_pre_feature_value, or, for a name that is not built in, from column `name` of
 * row `row` of t (t may be NULL); categoricals from cat_keys/cat_values (n_cat pairs;
 * a missing one is an unseen level). Range: from the model's CV record (grouped CV
 * when it was fitted with --group-by): y x exp(-/+ rmsle) for a log-target model,
 * y -/+ rmse otherwise; doubled when an input lies outside the training range or a
 * categorical level is unseen (extrapolating). y <= 0 is an error (DLE_ERANGE), and the
 * low end never goes below 0. note names what is extrapolated ("" when nothing). */
typedef struct dle_pre_prediction {
  double y, low, high;
  bool extrapolating;
  bool have_range;
  char note[384];
} dle_pre_prediction;
int dle_pre_predict(const dle_regress_model *m, const dle_pre_input *in, const dle_pre_table *t,
                    size_t row, const char *const *cat_keys, const char *const *cat_values,
                    size_t n_cat, dle_pre_prediction *out, dle_error *err);

/* Baselines beside PRE (before training; all modelled):
 *   flops   duration = epochs x (3 x training_size + validation_size) x GFLOPs x 1e9 /
 *           (peak FP32 FLOP/s x utilization); energy = TDP x that duration
 *   mlco2   TDP x duration
 *   ga      (TDP x usage + host RAM GB x 0.3725 W/GB) x duration  (PUE applied by caller)
 * duration_s NaN = use the flops duration. */
typedef struct dle_pre_baselines {
  double flops_duration_s;
  double duration_s; /* the one mlco2/ga used */
  double flops_j, mlco2_j, ga_j;
} dle_pre_baselines;
int dle_pre_baselines_compute(const dle_gpu_spec *gpu, double gflops, double training_size,
                              double validation_size, double epochs, double host_ram_gb,
                              double gpu_usage, double flops_utilization, double duration_s,
                              dle_pre_baselines *out, dle_error *err);

#ifdef __cplusplus
}
#endif
#endif
