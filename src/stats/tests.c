/* tests.c — the hypothesis tests and effect sizes on plain arrays (see stats.h).
 * Distribution functions (normal, chi-square, F, Student's t) are GSL's. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "core/gsl_dl.h"
#include "dlenergy/stats.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int has_nan(const double *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isfinite(x[i])) return 1;
  return 0;
}

int dle_stats_rank(const double *x, size_t n, double *ranks, double *tie_sum, dle_error *err) {
  int grc = dle_gsl_load(err);
  if (grc) return grc;
  if (n == 0) {
    if (tie_sum) *tie_sum = 0;
    return 0;
  }
  if (has_nan(x, n)) return dle_error_set(err, DLE_EINVAL, "cannot rank NaN or infinite values");
  size_t *idx = malloc(n * sizeof *idx);
  if (!idx) return dle_error_set(err, DLE_ENOMEM, "out of memory ranking %zu values", n);
  gsl_sort_index(idx, x, 1, n);
  double ts = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && x[idx[j]] == x[idx[i]]) j++;
    double r = 0.5 * (double)(i + 1 + j); /* mean of positions i+1 .. j */
    for (size_t k = i; k < j; k++) ranks[idx[k]] = r;
    double t = (double)(j - i);
    ts += t * t * t - t;
    i = j;
  }
  free(idx);
  if (tie_sum) *tie_sum = ts;
  return 0;
}

void dle_stats_describe(const double *x, size_t n, double *median, double *mean, double *q1,
                        double *q3) {
  double nan = NAN;
  if (n == 0 || dle_gsl_load(NULL) != DLE_OK) { /* no data, or no GSL: no figures */
    if (median) *median = nan;
    if (mean) *mean = nan;
    if (q1) *q1 = nan;
    if (q3) *q3 = nan;
    return;
  }
  double *s = malloc(n * sizeof *s);
  if (!s) {
    if (median) *median = nan;
    if (mean) *mean = nan;
    if (q1) *q1 = nan;
    if (q3) *q3 = nan;
    return;
  }
  memcpy(s, x, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_double);
  if (median) *median = gsl_stats_quantile_from_sorted_data(s, 1, n, 0.5);
  if (mean) *mean = gsl_stats_mean(s, 1, n);
  if (q1) *q1 = gsl_stats_quantile_from_sorted_data(s, 1, n, 0.25);
  if (q3) *q3 = gsl_stats_quantile_from_sorted_data(s, 1, n, 0.75);
  free(s);
}

/* ---- Shapiro–Wilk, Royston (1995), Applied Statistics algorithm AS R94 ---- */

/* c[0] + c[1] x + ... + c[nord-1] x^(nord-1) */
static double poly(const double *c, int nord, double x) {
  double r = 0;
  for (int i = nord - 1; i >= 0; i--) r = r * x + c[i];
  return r;
}

int dle_stats_shapiro_wilk(const double *x, size_t n, double *w_out, double *p_out,
                           dle_error *err) {
  int grc = dle_gsl_load(err);
  if (grc) return grc;
  *w_out = NAN;
  *p_out = NAN;
  if (n < 3) return dle_error_set(err, DLE_ERANGE, "Shapiro-Wilk needs at least 3 values (got %zu)", n);
  if (n > 5000)
    return dle_error_set(err, DLE_ERANGE, "Shapiro-Wilk is defined here for n <= 5000 (got %zu)", n);
  if (has_nan(x, n)) return dle_error_set(err, DLE_EINVAL, "Shapiro-Wilk: NaN or infinite value");
  static const double c1[6] = {0.0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056};
  static const double c2[6] = {0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633};
  static const double c3[4] = {0.544, -0.39978, 0.025054, -6.714e-4};
  static const double c4[4] = {1.3822, -0.77857, 0.062767, -0.0020322};
  static const double c5[4] = {-1.5861, -0.31082, -0.083751, 0.0038915};
  static const double c6[3] = {-0.4803, -0.082676, 0.0030302};
  static const double g[2] = {-2.273, 0.459};

  size_t nn2 = n / 2;
  double *s = malloc(n * sizeof *s);
  double *a = malloc((nn2 + 1) * sizeof *a); /* a[0..nn2), positive, for the i-th pair */
  if (!s || !a) {
    free(s);
    free(a);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  memcpy(s, x, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_double);
  double range = s[n - 1] - s[0];
  /* Relative tolerance: values equal but for rounding have no spread to test. */
  if (!(range > 0) || range <= 1e-12 * fmax(fabs(s[0]), fabs(s[n - 1]))) {
    free(s);
    free(a);
    return dle_error_set(err, DLE_ERANGE, "Shapiro-Wilk: all %zu values are equal", n);
  }
  double an = (double)n;
  if (n == 3) {
    a[0] = sqrt(0.5);
  } else {
    double an25 = an + 0.25, summ2 = 0;
    double *m = malloc(nn2 * sizeof *m);
    if (!m) {
      free(s);
      free(a);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nn2; i++) {
      m[i] = gsl_cdf_ugaussian_Pinv(((double)(i + 1) - 0.375) / an25);
      summ2 += m[i] * m[i];
    }
    summ2 *= 2;
    double ssumm2 = sqrt(summ2), rsn = 1 / sqrt(an);
    double a1 = poly(c1, 6, rsn) - m[0] / ssumm2, fac;
    size_t i1;
    if (n > 5) {
      i1 = 2;
      double a2 = -m[1] / ssumm2 + poly(c2, 6, rsn);
      fac = sqrt((summ2 - 2 * m[0] * m[0] - 2 * m[1] * m[1]) / (1 - 2 * a1 * a1 - 2 * a2 * a2));
      a[1] = a2;
    } else {
      i1 = 1;
      fac = sqrt((summ2 - 2 * m[0] * m[0]) / (1 - 2 * a1 * a1));
    }
    a[0] = a1;
    for (size_t i = i1; i < nn2; i++) a[i] = -m[i] / fac;
    free(m);
  }
  /* W is the squared correlation between the order statistics and the
   * antisymmetric coefficient vector; computed as 1 - w1 for accuracy near 1. */
  double mean = 0;
  for (size_t i = 0; i < n; i++) mean += s[i] / range;
  mean /= an;
  double ssa = 0, ssx = 0, sax = 0;
  for (size_t i = 0; i < n; i++) {
    size_t j = n - 1 - i;
    double ai = 0;
    if (i < nn2)
      ai = -a[i];
    else if (j < nn2)
      ai = a[j];
    double xi = s[i] / range - mean;
    ssa += ai * ai;
    ssx += xi * xi;
    sax += ai * xi;
  }
  free(s);
  free(a);
  double ssassx = sqrt(ssa * ssx);
  double w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx);
  double w = 1 - w1;
  *w_out = w;
  if (n == 3) {
    const double pi6 = 6 / M_PI, stqr = M_PI / 3;
    double pw = pi6 * (asin(sqrt(w)) - stqr);
    *p_out = pw < 0 ? 0 : (pw > 1 ? 1 : pw);
    return 0;
  }
  double y = log(w1), lxx = log(an), mu, sd;
  if (n <= 11) {
    double gamma = poly(g, 2, an);
    if (y >= gamma) {
      *p_out = 1e-99; /* as AS R94: W is extreme for this n */
      return 0;
    }
    y = -log(gamma - y);
    mu = poly(c3, 4, an);
    sd = exp(poly(c4, 4, an));
  } else {
    mu = poly(c5, 4, lxx);
    sd = exp(poly(c6, 3, lxx));
  }
  *p_out = gsl_cdf_gaussian_Q(y - mu, sd);
  return 0;
}

/* ---- k-group tests ---- */

static int check_groups(const dle_stats_groups *g, size_t **counts, dle_error *err) {
  if (!g || !g->x || !g->group) return dle_error_set(err, DLE_EINVAL, "no data");
  if (g->k < 2) return dle_error_set(err, DLE_ERANGE, "need at least 2 groups (got %zu)", g->k);
  if (has_nan(g->x, g->n)) return dle_error_set(err, DLE_EINVAL, "NaN or infinite value in the data");
  size_t *c = calloc(g->k, sizeof *c);
  if (!c) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < g->n; i++) {
    if (g->group[i] >= g->k) {
      free(c);
      return dle_error_set(err, DLE_EINVAL, "group index %zu out of range", g->group[i]);
    }
    c[g->group[i]]++;
  }
  for (size_t j = 0; j < g->k; j++)
    if (c[j] == 0) {
      free(c);
      return dle_error_set(err, DLE_EINVAL, "group %zu is empty", j);
    }
  if (g->n <= g->k) {
    free(c);
    return dle_error_set(err, DLE_ERANGE, "need more values (%zu) than groups (%zu)", g->n, g->k);
  }
  *counts = c;
  return 0;
}

int dle_stats_levene_median(const dle_stats_groups *g, double *w, double *p, dle_error *err) {
  int grc = dle_gsl_load(err);
  if (grc) return grc;
  *w = *p = NAN;
  size_t *cnt = NULL;
  int rc = check_groups(g, &cnt, err);
  if (rc) return rc;
  size_t k = g->k, n = g->n;
  double *med = calloc(k, sizeof *med), *zbar = calloc(k, sizeof *zbar);
  double *buf = malloc(n * sizeof *buf), *z = malloc(n * sizeof *z);
  if (!med || !zbar || !buf || !z) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t j = 0; j < k; j++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (g->group[i] == j) buf[m++] = g->x[i];
    dle_stats_describe(buf, m, &med[j], NULL, NULL, NULL);
  }
  double zall = 0;
  for (size_t i = 0; i < n; i++) {
    z[i] = fabs(g->x[i] - med[g->group[i]]);
    zbar[g->group[i]] += z[i];
    zall += z[i];
  }
  zall /= (double)n;
  for (size_t j = 0; j < k; j++) zbar[j] /= (double)cnt[j];
  double num = 0, den = 0;
  for (size_t j = 0; j < k; j++) num += (double)cnt[j] * (zbar[j] - zall) * (zbar[j] - zall);
  for (size_t i = 0; i < n; i++) den += (z[i] - zbar[g->group[i]]) * (z[i] - zbar[g->group[i]]);
  /* Relative tolerance: groups of two values have |x - median| equal up to rounding,
   * and W = num / 1e-30 would be a meaningless 1e30 (p = 1e-46). */
  double scale = 0;
  for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(g->x[i]));
  if (!(den > 0) || den <= 1e-20 * (num + den) ||
      den <= (double)n * (1e-12 * scale) * (1e-12 * scale)) {
    rc = dle_error_set(err, DLE_ERANGE,
                       "Levene: no spread around the group medians within rounding (W "
                       "undefined; e.g. groups of two values)");
    goto done;
  }
  double df1 = (double)(k - 1), df2 = (double)(n - k);
  *w = df2 / df1 * num / den;
  *p = gsl_cdf_fdist_Q(*w, df1, df2);
done:
  free(cnt);
  free(med);
  free(zbar);
  free(buf);
  free(z);
  return rc;
}

/* Ranks of all values plus the per-group rank sums; tie_sum = sum(t^3 - t). */
static int rank_groups(const dle_stats_groups *g, double **ranks, double **rsum,
                       double *tie_sum, dle_error *err) {
  double *r = malloc(g->n * sizeof *r), *s = calloc(g->k, sizeof *s);
  if (!r || !s) {
    free(r);
    free(s);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int rc = dle_stats_rank(g->x, g->n, r, tie_sum, err);
  if (rc) {
    free(r);
    free(s);
    return rc;
  }
  for (size_t i = 0; i < g->n; i++) s[g->group[i]] += r[i];
  *ranks = r;
  *rsum = s;
  return 0;
}

int dle_stats_kruskal(const dle_stats_groups *g, double *h, double *p, double *eta2,
                      dle_error *err) {
  int grc = dle_gsl_load(err);
  if (grc) return grc;
  *h = *p = *eta2 = NAN;
  size_t *cnt = NULL;
  int rc = check_groups(g, &cnt, err);
  if (rc) return rc;
  double *r = NULL, *rs = NULL, ts = 0;
  rc = rank_groups(g, &r, &rs, &ts, err);
  if (rc) {
    free(cnt);
    return rc;
  }
  double n = (double)g->n, k = (double)g->k;
  double corr = 1 - ts / (n * n * n - n);
  if (!(corr > 0)) {
    rc = dle_error_set(err, DLE_ERANGE, "Kruskal-Wallis: all %zu values are equal", g->n);
  } else {
    double s = 0;
    for (size_t j = 0; j < g->k; j++) s += rs[j] * rs[j] / (double)cnt[j];
    double hh = (12.0 / (n * (n + 1)) * s - 3 * (n + 1)) / corr;
    *h = hh;
    *p = gsl_cdf_chisq_Q(hh, k - 1);
    *eta2 = (hh - k + 1) / (n - k);
  }
  free(cnt);
  free(r);
  free(rs);
  return rc;
}

int dle_stats_holm(const double *p, size_t m, double *adj, dle_error *err) {
  int grc = dle_gsl_load(err);
  if (grc) return grc;
  if (m == 0) return 0;
  size_t *idx = malloc(m * sizeof *idx);
  double *tmp = malloc(m * sizeof *tmp);
  if (!idx || !tmp) {
    free(idx);
    free(tmp);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  memcpy(tmp, p, m * sizeof *tmp);
  gsl_sort_index(idx, tmp, 1, m);
  double run = 0;
  for (size_t i = 0; i < m; i++) {
    double v = (double)(m - i) * tmp[idx[i]];
    if (v > 1) v = 1;
    if (v > run || isnan(v)) run = isnan(v) ? run : v;
    adj[idx[i]] = isnan(tmp[idx[i]]) ? NAN : run;
  }
  free(idx);
  free(tmp);
  return 0;
}

int dle_stats_cliffs_delta(const double *x, size_t nx, const double *y, size_t ny,
                           double *delta, dle_error *err) {
  *delta = NAN;
  if (nx == 0 || ny == 0) return dle_error_set(err, DLE_ERANGE, "Cliff's delta of an empty group");
  if (has_nan(x, nx) || has_nan(y, ny))
    return dle_error_set(err, DLE_EINVAL, "Cliff's delta: NaN or infinite value");
  double *sy = malloc(ny * sizeof *sy);
  if (!sy) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  memcpy(sy, y, ny * sizeof *sy);
  qsort(sy, ny, sizeof *sy, cmp_double);
  /* For each x: #y < x and #y > x by binary search; counts are exact integers. */
  long long greater = 0, less = 0;
  for (size_t i = 0; i < nx; i++) {
    size_t lo = 0, hi = ny; /* first index with sy >= x */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (sy[mid] < x[i]) lo = mid + 1; else hi = mid;
    }
    size_t below = lo;
    lo = below;
    hi = ny; /* first index with sy > x */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (sy[mid] <= x[i]) lo = mid + 1; else hi = mid;
    }
    greater += (long long)below;
    less += (long long)(ny - lo);
  }
  free(sy);
  *delta = (double)(greater - less) / ((double)nx * (double)ny);
  return 0;
}

const char *dle_stats_cliffs_magnitude(double d) {
  if (isnan(d)) return "undefined";
  d = fabs(d);
  if (d < 0.147) return "negligible";
  if (d < 0.33) return "small";
  if (d < 0.474) return "medium";
  return "large";
}

int dle_stats_dunn(const dle_stats_groups *g, dle_stats_pair *pairs, dle_error *err) {
  int grc = dle_gsl_load(err);
  if (grc) return grc;
  size_t *cnt = NULL;
  int rc = check_groups(g, &cnt, err);
  if (rc) return rc;
  size_t k = g->k, m = k * (k - 1) / 2;
  for (size_t i = 0; i < m; i++) pairs[i].z = pairs[i].p = pairs[i].p_holm = pairs[i].delta = NAN;
  double *r = NULL, *rs = NULL, ts = 0;
  rc = rank_groups(g, &r, &rs, &ts, err);
  double **vals = calloc(k, sizeof *vals);
  double *pv = malloc(m * sizeof *pv);
  if (rc || !vals || !pv) {
    if (!rc) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t j = 0; j < k; j++) {
    vals[j] = malloc(cnt[j] * sizeof **vals);
    if (!vals[j]) {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto done;
    }
  }
  size_t *fill = calloc(k, sizeof *fill);
  if (!fill) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < g->n; i++) vals[g->group[i]][fill[g->group[i]]++] = g->x[i];
  free(fill);
  double n = (double)g->n;
  double var = n * (n + 1) / 12.0 - ts / (12.0 * (n - 1));
  size_t q = 0;
  for (size_t a = 0; a < k; a++)
    for (size_t b = a + 1; b < k; b++, q++) {
      dle_stats_pair *pr = &pairs[q];
      pr->a = a;
      pr->b = b;
      dle_error e2;
      dle_stats_cliffs_delta(vals[a], cnt[a], vals[b], cnt[b], &pr->delta, &e2);
      pr->magnitude = dle_stats_cliffs_magnitude(pr->delta);
      if (var > 0) {
        double se = sqrt(var * (1.0 / (double)cnt[a] + 1.0 / (double)cnt[b]));
        pr->z = (rs[a] / (double)cnt[a] - rs[b] / (double)cnt[b]) / se;
        pr->p = 2 * gsl_cdf_ugaussian_Q(fabs(pr->z));
      }
      pv[q] = pr->p;
    }
  if (!(var > 0)) {
    rc = dle_error_set(err, DLE_ERANGE, "Dunn: all %zu values are equal", g->n);
    goto done;
  }
  rc = dle_stats_holm(pv, m, pv, err);
  if (!rc)
    for (size_t i = 0; i < m; i++) pairs[i].p_holm = pv[i];
done:
  if (vals)
    for (size_t j = 0; j < k; j++) free(vals[j]);
  free(vals);
  free(pv);
  free(cnt);
  free(r);
  free(rs);
  return rc;
}

int dle_stats_spearman(const double *x, const double *y, size_t n, double *rho, double *p,
                       dle_error *err) {
  int grc = dle_gsl_load(err);
  if (grc) return grc;
  *rho = *p = NAN;
  if (n < 3) return dle_error_set(err, DLE_ERANGE, "Spearman needs at least 3 pairs (got %zu)", n);
  double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
  if (!rx || !ry) {
    free(rx);
    free(ry);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int rc = dle_stats_rank(x, n, rx, NULL, err);
  if (!rc) rc = dle_stats_rank(y, n, ry, NULL, err);
  if (!rc) {
    double sx = gsl_stats_sd(rx, 1, n), sy = gsl_stats_sd(ry, 1, n);
    if (!(sx > 0) || !(sy > 0)) {
      rc = dle_error_set(err, DLE_ERANGE, "Spearman: one side is constant (rho undefined)");
    } else {
      double r = gsl_stats_correlation(rx, 1, ry, 1, n);
      if (r > 1) r = 1;
      if (r < -1) r = -1;
      *rho = r;
      double dof = (double)n - 2;
      double d = (r + 1) * (1 - r);
      if (d <= 0) {
        *p = 0;
      } else {
        double t = r * sqrt(dof / d);
        *p = 2 * gsl_cdf_tdist_Q(fabs(t), dof);
      }
    }
  }
  free(rx);
  free(ry);
  return rc;
}

/* ---- aligned rank transform, interaction term ---- */

int dle_stats_art_interaction(const double *y, const size_t *fa, size_t ka, const size_t *fb,
                              size_t kb, size_t n, dle_stats_interaction *out, dle_error *err) {
  int grc = dle_gsl_load(err);
  if (grc) return grc;
  out->f = out->p = out->df1 = out->df2 = out->partial_eta2 = NAN;
  if (ka < 2 || kb < 2)
    return dle_error_set(err, DLE_ERANGE, "interaction needs two factors with >= 2 levels each");
  if (has_nan(y, n)) return dle_error_set(err, DLE_EINVAL, "NaN or infinite value in the data");
  size_t nc = ka * kb;
  double *cs = calloc(nc, sizeof *cs), *as = calloc(ka, sizeof *as), *bs = calloc(kb, sizeof *bs);
  size_t *cn = calloc(nc, sizeof *cn), *an = calloc(ka, sizeof *an), *bn = calloc(kb, sizeof *bn);
  double *al = malloc(n * sizeof *al), *r = malloc(n * sizeof *r);
  gsl_matrix *X = NULL, *cov = NULL;
  gsl_vector *yv = NULL, *c = NULL;
  gsl_multifit_linear_workspace *ws = NULL;
  int rc = 0;
  if (!cs || !as || !bs || !cn || !an || !bn || !al || !r) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  double gm = 0;
  for (size_t i = 0; i < n; i++) {
    if (fa[i] >= ka || fb[i] >= kb) {
      rc = dle_error_set(err, DLE_EINVAL, "factor level out of range");
      goto done;
    }
    cs[fa[i] * kb + fb[i]] += y[i];
    cn[fa[i] * kb + fb[i]]++;
    as[fa[i]] += y[i];
    an[fa[i]]++;
    bs[fb[i]] += y[i];
    bn[fb[i]]++;
    gm += y[i];
  }
  gm /= (double)n;
  size_t cells = 0;
  for (size_t j = 0; j < nc; j++)
    if (cn[j]) cells++;
  for (size_t j = 0; j < ka; j++)
    if (!an[j]) {
      rc = dle_error_set(err, DLE_EINVAL, "factor A level %zu is empty", j);
      goto done;
    }
  for (size_t j = 0; j < kb; j++)
    if (!bn[j]) {
      rc = dle_error_set(err, DLE_EINVAL, "factor B level %zu is empty", j);
      goto done;
    }
  if (n <= cells) {
    rc = dle_error_set(err, DLE_ERANGE, "interaction: need more values (%zu) than cells (%zu)", n, cells);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    size_t cj = fa[i] * kb + fb[i];
    double cm = cs[cj] / (double)cn[cj];
    double am = as[fa[i]] / (double)an[fa[i]], bm = bs[fb[i]] / (double)bn[fb[i]];
    al[i] = (y[i] - cm) + (cm - am - bm + gm);
  }
  rc = dle_stats_rank(al, n, r, NULL, err);
  if (rc) goto done;
  /* Full model: cell means of the ranks. */
  double *rcs = calloc(nc, sizeof *rcs);
  if (!rcs) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) rcs[fa[i] * kb + fb[i]] += r[i];
  double rss_full = 0;
  for (size_t i = 0; i < n; i++) {
    size_t cj = fa[i] * kb + fb[i];
    double d = r[i] - rcs[cj] / (double)cn[cj];
    rss_full += d * d;
  }
  free(rcs);
  /* Additive model: intercept + dummies for A levels 1.. and B levels 1.. */
  size_t pcols = 1 + (ka - 1) + (kb - 1);
  X = gsl_matrix_calloc(n, pcols);
  yv = gsl_vector_alloc(n);
  c = gsl_vector_alloc(pcols);
  cov = gsl_matrix_alloc(pcols, pcols);
  ws = gsl_multifit_linear_alloc(n, pcols);
  if (!X || !yv || !c || !cov || !ws) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    gsl_matrix_set(X, i, 0, 1.0);
    if (fa[i] > 0) gsl_matrix_set(X, i, fa[i], 1.0);
    if (fb[i] > 0) gsl_matrix_set(X, i, ka - 1 + fb[i], 1.0);
    gsl_vector_set(yv, i, r[i]);
  }
  double rss_add = 0;
  size_t rank = 0;
  if (gsl_multifit_linear_tsvd(X, yv, 1e-10, c, cov, &rss_add, &rank, ws) != 0) {
    rc = dle_error_set(err, DLE_EINTERNAL, "least-squares fit of the additive model failed");
    goto done;
  }
  double df1 = (double)cells - (double)rank, df2 = (double)(n - cells);
  if (df1 < 1) {
    rc = dle_error_set(err, DLE_ERANGE, "interaction has no degrees of freedom on these cells");
    goto done;
  }
  double ss_ab = rss_add - rss_full;
  if (ss_ab < 0) ss_ab = 0;
  if (!(rss_full > 0) || rss_full <= 1e-20 * (rss_add + rss_full)) {
    rc = dle_error_set(err, DLE_ERANGE, "interaction: no variation within cells (within rounding)");
    goto done;
  }
  out->df1 = df1;
  out->df2 = df2;
  out->f = (ss_ab / df1) / (rss_full / df2);
  out->p = gsl_cdf_fdist_Q(out->f, df1, df2);
  out->partial_eta2 = ss_ab / (ss_ab + rss_full);
done:
  free(cs);
  free(as);
  free(bs);
  free(cn);
  free(an);
  free(bn);
  free(al);
  free(r);
  gsl_matrix_free(X);
  gsl_matrix_free(cov);
  gsl_vector_free(yv);
  gsl_vector_free(c);
  if (ws) gsl_multifit_linear_free(ws);
  return rc;
}

int dle_stats_pareto(const double *cost, const double *benefit, size_t n, bool *efficient,
                     dle_error *err) {
  (void)err;
  for (size_t i = 0; i < n; i++) {
    bool ok = isfinite(cost[i]) && isfinite(benefit[i]);
    for (size_t j = 0; j < n && ok; j++) {
      if (j == i || !isfinite(cost[j]) || !isfinite(benefit[j])) continue;
      if (cost[j] <= cost[i] && benefit[j] >= benefit[i] &&
          (cost[j] < cost[i] || benefit[j] > benefit[i]))
        ok = false;
    }
    efficient[i] = ok;
  }
  return 0;
}
