/* regress_internal.h — structures shared by the files of src/regress/. */
#ifndef DLE_REGRESS_INTERNAL_H
#define DLE_REGRESS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlenergy/regress.h"

enum { DLE_REG_NAME_MAX = 64, DLE_REG_UNIT_MAX = 16 };

struct dle_dataset {
  size_t n_num, n_cat;
  char **num_names, **cat_names;
  char target[DLE_REG_NAME_MAX], unit[DLE_REG_UNIT_MAX];
  size_t n, cap;
  double *num; /* n x n_num */
  char **cat;  /* n x n_cat */
  double *y;
  bool log_target;
  double *scale_exp;        /* n_num or NULL */
  unsigned char *feat_off;  /* n_num or NULL */
  bool no_merge;            /* kernel ridge: do not collapse identical rows */
  bool cv_exact;           /* CV: the reference paths (krr dense Cholesky, svr libsvm RBF) */
};

/* The feature encoder (standardize + one-hot). */
typedef struct dle_enc {
  size_t n_num, n_cat, d;
  double *mean, *scale;
  double *min, *max; /* training range (NaN when a model file has none) */
  unsigned char *used;
  size_t *n_levels;
  char ***levels; /* levels[c][j], sorted */
} dle_enc;

struct dle_regress_model {
  dle_regress_kind kind;
  char target[DLE_REG_NAME_MAX], unit[DLE_REG_UNIT_MAX];
  char **num_names, **cat_names;
  dle_enc e;
  dle_regress_hyper h;
  size_t rows;
  bool have_cv;
  dle_regress_search_opts cvo;
  dle_cv_scores cvs;
  double *coef; /* linear/ridge: d */
  double intercept;
  size_t n_sv;  /* krr/svr */
  double *sv;   /* n_sv x d */
  double *dual; /* n_sv */
  double rho;   /* f(x) = sum dual_i K(sv_i, x) - rho */
  /* Target transform: t = (log y - sum scale_exp_j log num_j) when log_target, else y;
   * the regressor fits (t - y_center) / y_scale. */
  bool log_target;
  double *scale_exp; /* n_num or NULL */
  double y_center, y_scale;
  char group_by[DLE_REG_NAME_MAX];
};

bool dle_reg_valid_name(const char *s);
char **dle_reg_strv_dup(const char *const *v, size_t n);
void dle_reg_strv_free(char **v, size_t n);
void dle_enc_free(dle_enc *e);
/* Encodes one raw row into out[e->d]; cat may be NULL or hold NULLs. */
void dle_enc_row(const dle_enc *e, const double *num, const char *const *cat, double *out);
/* Transformed target of row values (y, num); NaN when a log is undefined. */
double dle_reg_transform(bool log_target, const double *scale_exp, size_t n_num, const double *num,
                         double y);
/* Back-transform of t (already un-centred) for raw features num. */
double dle_reg_untransform(bool log_target, const double *scale_exp, size_t n_num,
                           const double *num, double t);
/* Model prediction on an encoded row (in the regressor's standardized units). */
double dle_reg_predict_encoded(const dle_regress_model *m, const double *x);
/* Allocates an empty model (names copied from d when not NULL). */
dle_regress_model *dle_reg_model_alloc(void);

/* xoshiro256** */
typedef struct dle_rng {
  uint64_t s[4];
} dle_rng;
void dle_rng_seed(dle_rng *r, uint64_t seed);
uint64_t dle_rng_next(dle_rng *r);
double dle_rng_uniform_open(dle_rng *r); /* (0, 1) */

#endif
