/* analyze.c — dle_analyze(): group a table's rows and run every test of stats.h on
 * one numeric column, with plain-language verdicts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gsl_dl.h"
#include "dlenergy/stats.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static char *xstrdup(const char *s) { return strdup(s ? s : ""); }

void dle_analysis_free(dle_analysis *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n_groups; i++) {
    dle_analysis_group *g = &a->groups[i];
    free(g->name);
    free(g->values);
    free(g->quality);
    free(g->metric_by_row);
    free(g->rows);
  }
  free(a->groups);
  for (size_t i = 0; i < a->n_by; i++) free(a->by[i]);
  free(a->by);
  for (size_t i = 0; i < a->n_corr; i++) free(a->corr[i].column);
  free(a->corr);
  free(a->pairs);
  free(a->metric);
  free(a->metric_label);
  free(a->quality);
  free(a);
}

/* Group key of a row: the `by` values joined by " / ". */
static int row_key(const dle_table *t, size_t row, const long *cols, size_t n_by, char *buf,
                   size_t n) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n_by; i++) {
    const char *v = dle_table_get(t, row, (size_t)cols[i]);
    int w = snprintf(buf + off, n - off, "%s%s", i ? " / " : "", *v ? v : "(none)");
    if (w < 0 || (size_t)w >= n - off) return -1;
    off += (size_t)w;
  }
  return 0;
}

static int cmp_group_name(const void *a, const void *b) {
  return strcmp(((const dle_analysis_group *)a)->name, ((const dle_analysis_group *)b)->name);
}

static void note_from(char *note, size_t n, const dle_error *e) {
  snprintf(note, n, "%s", e->msg[0] ? e->msg : "undefined");
}

static const char *eta2_size(double e) {
  if (e >= 0.14) return "large";
  if (e >= 0.06) return "medium";
  if (e >= 0.01) return "small";
  return "negligible";
}

void dle_analysis_pair_verdict(const dle_analysis *a, const dle_stats_pair *pr, char *buf,
                               size_t n) {
  const char *ga = a->groups[pr->a].name, *gb = a->groups[pr->b].name;
  if (isnan(pr->p_holm)) {
    snprintf(buf, n, "no test (%s)", a->dunn_note[0] ? a->dunn_note : "undefined");
    return;
  }
  if (pr->p_holm >= a->alpha) {
    snprintf(buf, n, "no significant difference in %s (%s effect)", a->metric_label,
             pr->magnitude);
    return;
  }
  /* delta > 0: values of a tend to be larger than those of b. */
  const char *lo = pr->delta > 0 ? gb : ga, *hi = pr->delta > 0 ? ga : gb;
  snprintf(buf, n, "%s has lower %s than %s (%s effect)", lo, a->metric_label, hi,
           pr->magnitude);
}

static int build_groups(const dle_table *t, const dle_analysis_options *opt, dle_analysis *a,
                        const long *bycols, long mcol, long qcol, size_t **row_group,
                        dle_error *err) {
  size_t nr = dle_table_rows(t);
  size_t *rg = malloc((nr ? nr : 1) * sizeof *rg);
  char **names = calloc(nr ? nr : 1, sizeof *names);
  size_t ng = 0;
  int rc = 0;
  if (!rg || !names) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  char key[1024];
  for (size_t r = 0; r < nr; r++) {
    rg[r] = (size_t)-1;
    double v = dle_table_get_double(t, r, (size_t)mcol);
    if (!isfinite(v)) {
      a->n_dropped++;
      continue;
    }
    if (row_key(t, r, bycols, opt->n_by, key, sizeof key)) {
      rc = dle_error_set(err, DLE_ERANGE, "row %zu: group name too long", r + 1);
      goto done;
    }
    size_t g = 0;
    while (g < ng && strcmp(names[g], key) != 0) g++;
    if (g == ng) {
      names[ng] = strdup(key);
      if (!names[ng]) {
        rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
        goto done;
      }
      ng++;
    }
    rg[r] = g;
    a->n_rows++;
  }
  if (a->n_rows == 0) {
    rc = dle_error_set(err, DLE_ERANGE,
                       "no row has a numeric value in column '%s' (%zu rows, all empty or "
                       "not numbers)",
                       opt->metric, nr);
    goto done;
  }
  a->groups = calloc(ng, sizeof *a->groups);
  if (!a->groups) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  a->n_groups = ng;
  for (size_t g = 0; g < ng; g++) {
    a->groups[g].name = names[g];
    names[g] = NULL;
  }
  for (size_t r = 0; r < nr; r++)
    if (rg[r] != (size_t)-1) a->groups[rg[r]].n++;
  for (size_t g = 0; g < ng; g++) {
    dle_analysis_group *gr = &a->groups[g];
    gr->values = malloc(gr->n * sizeof *gr->values);
    gr->quality = malloc(gr->n * sizeof *gr->quality);
    gr->metric_by_row = malloc(gr->n * sizeof *gr->metric_by_row);
    gr->rows = malloc(gr->n * sizeof *gr->rows);
    if (!gr->values || !gr->quality || !gr->metric_by_row || !gr->rows) {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto done;
    }
    gr->n = 0;
  }
  for (size_t r = 0; r < nr; r++) {
    if (rg[r] == (size_t)-1) continue;
    dle_analysis_group *gr = &a->groups[rg[r]];
    double v = dle_table_get_double(t, r, (size_t)mcol);
    gr->values[gr->n] = v;
    gr->metric_by_row[gr->n] = v;
    gr->quality[gr->n] = qcol >= 0 ? dle_table_get_double(t, r, (size_t)qcol) : NAN;
    gr->rows[gr->n] = r;
    gr->n++;
  }
  /* Sort groups by name, then remap the row -> group index. */
  char **old_names = malloc(ng * sizeof *old_names);
  if (!old_names) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t g = 0; g < ng; g++) old_names[g] = a->groups[g].name;
  qsort(a->groups, ng, sizeof *a->groups, cmp_group_name);
  size_t *remap = malloc(ng * sizeof *remap);
  if (!remap) {
    free(old_names);
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t g = 0; g < ng; g++)
    for (size_t h = 0; h < ng; h++)
      if (a->groups[h].name == old_names[g]) remap[g] = h;
  for (size_t r = 0; r < nr; r++)
    if (rg[r] != (size_t)-1) rg[r] = remap[rg[r]];
  free(remap);
  free(old_names);
  *row_group = rg;
  rg = NULL;
done:
  if (names)
    for (size_t g = 0; g < nr; g++) free(names[g]);
  free(names);
  free(rg);
  return rc;
}

static void describe_groups(dle_analysis *a) {
  for (size_t g = 0; g < a->n_groups; g++) {
    dle_analysis_group *gr = &a->groups[g];
    qsort(gr->values, gr->n, sizeof *gr->values, cmp_double);
    dle_stats_describe(gr->values, gr->n, &gr->median, &gr->mean, &gr->q1, &gr->q3);
    gr->iqr = gr->q3 - gr->q1;
    gr->min = gr->values[0];
    gr->max = gr->values[gr->n - 1];
    size_t nq = 0;
    double *q = malloc(gr->n * sizeof *q);
    if (q) {
      for (size_t i = 0; i < gr->n; i++)
        if (isfinite(gr->quality[i])) q[nq++] = gr->quality[i];
      dle_stats_describe(q, nq, &gr->quality_median, NULL, NULL, NULL);
      free(q);
    } else {
      gr->quality_median = NAN;
    }
    dle_error e = {0};
    if (dle_stats_shapiro_wilk(gr->values, gr->n, &gr->shapiro_w, &gr->shapiro_p, &e) != 0)
      note_from(gr->shapiro_note, sizeof gr->shapiro_note, &e);
  }
}

static int run_group_tests(dle_analysis *a, dle_error *err) {
  double *x = malloc(a->n_rows * sizeof *x);
  size_t *gi = malloc(a->n_rows * sizeof *gi);
  if (!x || !gi) {
    free(x);
    free(gi);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  /* Flatten in group order (values inside a group are the sorted ones; order
   * does not matter to any of these tests). */
  size_t m = 0;
  for (size_t g = 0; g < a->n_groups; g++)
    for (size_t i = 0; i < a->groups[g].n; i++) {
      x[m] = a->groups[g].values[i];
      gi[m++] = g;
    }
  dle_stats_groups sg = {x, gi, m, a->n_groups};
  dle_error e = {0};
  a->levene_w = a->levene_p = NAN;
  a->kruskal_h = a->kruskal_p = a->kruskal_eta2 = NAN;
  if (dle_stats_levene_median(&sg, &a->levene_w, &a->levene_p, &e) != 0)
    note_from(a->levene_note, sizeof a->levene_note, &e);
  e = (dle_error){0};
  if (dle_stats_kruskal(&sg, &a->kruskal_h, &a->kruskal_p, &a->kruskal_eta2, &e) != 0)
    note_from(a->kruskal_note, sizeof a->kruskal_note, &e);
  if (a->n_groups >= 2) {
    a->n_pairs = a->n_groups * (a->n_groups - 1) / 2;
    a->pairs = calloc(a->n_pairs, sizeof *a->pairs);
    if (!a->pairs) {
      free(x);
      free(gi);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
    e = (dle_error){0};
    if (dle_stats_dunn(&sg, a->pairs, &e) != 0) {
      note_from(a->dunn_note, sizeof a->dunn_note, &e);
      if (a->pairs[0].magnitude == NULL) { /* failed before filling: still name the pairs */
        size_t q = 0;
        for (size_t i = 0; i < a->n_groups; i++)
          for (size_t j = i + 1; j < a->n_groups; j++, q++) {
            a->pairs[q] = (dle_stats_pair){i, j, NAN, NAN, NAN, NAN, "undefined"};
            dle_error e2;
            if (dle_stats_cliffs_delta(a->groups[i].values, a->groups[i].n, a->groups[j].values,
                                       a->groups[j].n, &a->pairs[q].delta, &e2) == 0)
              a->pairs[q].magnitude = dle_stats_cliffs_magnitude(a->pairs[q].delta);
          }
      }
    }
  } else {
    snprintf(a->dunn_note, sizeof a->dunn_note, "need at least 2 groups (got %zu)", a->n_groups);
  }
  free(x);
  free(gi);
  return 0;
}

static int run_interaction(const dle_table *t, dle_analysis *a, const long *bycols,
                           const size_t *row_group, dle_error *err) {
  dle_stats_interaction *in = &a->interaction;
  in->f = in->p = in->df1 = in->df2 = in->partial_eta2 = NAN;
  if (a->n_by != 2) {
    snprintf(a->interaction_note, sizeof a->interaction_note,
             "needs exactly two grouping columns (got %zu)", a->n_by);
    return 0;
  }
  size_t nr = dle_table_rows(t), n = a->n_rows;
  double *y = malloc(n * sizeof *y);
  size_t *fa = malloc(n * sizeof *fa), *fb = malloc(n * sizeof *fb);
  const char **la = calloc(n, sizeof *la), **lb = calloc(n, sizeof *lb);
  size_t ka = 0, kb = 0, m = 0;
  int rc = 0;
  if (!y || !fa || !fb || !la || !lb) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t r = 0; r < nr; r++) {
    if (row_group[r] == (size_t)-1) continue;
    const char *va = dle_table_get(t, r, (size_t)bycols[0]);
    const char *vb = dle_table_get(t, r, (size_t)bycols[1]);
    size_t i = 0;
    while (i < ka && strcmp(la[i], va) != 0) i++;
    if (i == ka) la[ka++] = va;
    size_t j = 0;
    while (j < kb && strcmp(lb[j], vb) != 0) j++;
    if (j == kb) lb[kb++] = vb;
    fa[m] = i;
    fb[m] = j;
    y[m] = dle_table_get_double(t, r, (size_t)dle_table_find_col(t, a->metric));
    m++;
  }
  dle_error e = {0};
  if (dle_stats_art_interaction(y, fa, ka, fb, kb, m, in, &e) != 0) {
    note_from(a->interaction_note, sizeof a->interaction_note, &e);
  } else if (in->p < a->alpha) {
    snprintf(a->verdict_interaction, sizeof a->verdict_interaction,
             "%s and %s interact: the effect of one on %s depends on the other "
             "(ART ANOVA F(%.0f, %.0f) = %.3g, p = %.3g, partial eta2 = %.2f)",
             a->by[0], a->by[1], a->metric_label, in->df1, in->df2, in->f, in->p,
             in->partial_eta2);
  } else {
    snprintf(a->verdict_interaction, sizeof a->verdict_interaction,
             "no evidence that %s and %s interact on %s (ART ANOVA F(%.0f, %.0f) = %.3g, "
             "p = %.3g)",
             a->by[0], a->by[1], a->metric_label, in->df1, in->df2, in->f, in->p);
  }
done:
  free(y);
  free(fa);
  free(fb);
  free(la);
  free(lb);
  return rc;
}

static int run_corr(const dle_table *t, const dle_analysis_options *opt, dle_analysis *a,
                    long mcol, dle_error *err) {
  if (opt->n_corr == 0) return 0;
  a->corr = calloc(opt->n_corr, sizeof *a->corr);
  size_t nr = dle_table_rows(t);
  double *x = malloc((nr ? nr : 1) * sizeof *x), *y = malloc((nr ? nr : 1) * sizeof *y);
  if (!a->corr || !x || !y) {
    free(x);
    free(y);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  for (size_t c = 0; c < opt->n_corr; c++) {
    long cc = dle_table_find_col(t, opt->corr[c]);
    if (cc < 0 || cc == mcol) continue;
    dle_analysis_corr *co = &a->corr[a->n_corr];
    co->column = strdup(opt->corr[c]);
    if (!co->column) {
      free(x);
      free(y);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
    a->n_corr++;
    size_t n = 0;
    for (size_t r = 0; r < nr; r++) {
      double vm = dle_table_get_double(t, r, (size_t)mcol), vc = dle_table_get_double(t, r, (size_t)cc);
      if (isfinite(vm) && isfinite(vc)) {
        x[n] = vm;
        y[n] = vc;
        n++;
      }
    }
    co->n = n;
    dle_error e = {0};
    if (dle_stats_spearman(x, y, n, &co->rho, &co->p, &e) != 0)
      note_from(co->note, sizeof co->note, &e);
  }
  free(x);
  free(y);
  return 0;
}

static void verdicts(dle_analysis *a) {
  bool all_normal = true, any_shapiro = false;
  for (size_t g = 0; g < a->n_groups; g++) {
    if (isnan(a->groups[g].shapiro_p)) {
      all_normal = false;
      continue;
    }
    any_shapiro = true;
    if (a->groups[g].shapiro_p < a->alpha) all_normal = false;
  }
  bool eq_var = !isnan(a->levene_p) && a->levene_p >= a->alpha;
  a->parametric_ok = all_normal && any_shapiro && eq_var;
  size_t non_normal = 0;
  for (size_t g = 0; g < a->n_groups; g++)
    if (!isnan(a->groups[g].shapiro_p) && a->groups[g].shapiro_p < a->alpha) non_normal++;
  char lev[48];
  if (isnan(a->levene_p))
    snprintf(lev, sizeof lev, "untested");
  else
    snprintf(lev, sizeof lev, "%s (Levene p = %.3g)", eq_var ? "look equal" : "differ",
             a->levene_p);
  if (!any_shapiro)
    snprintf(a->verdict_normality, sizeof a->verdict_normality,
             "use non-parametric tests: normality untested (every group has fewer than 3 "
             "values or no spread); variances %s", lev);
  else
    snprintf(a->verdict_normality, sizeof a->verdict_normality,
             "%s: %zu of %zu groups depart from normality (Shapiro-Wilk p < %.2g); "
             "variances %s",
             a->parametric_ok ? "parametric tests are allowed" : "use non-parametric tests",
             non_normal, a->n_groups, a->alpha, lev);
  if (isnan(a->kruskal_p))
    snprintf(a->verdict_kruskal, sizeof a->verdict_kruskal, "not tested: %s", a->kruskal_note);
  else if (a->kruskal_p < a->alpha)
    snprintf(a->verdict_kruskal, sizeof a->verdict_kruskal,
             "the groups differ in %s (Kruskal-Wallis p = %.3g, %s effect, eta2 = %.2f)",
             a->metric_label, a->kruskal_p, eta2_size(a->kruskal_eta2), a->kruskal_eta2);
  else
    snprintf(a->verdict_kruskal, sizeof a->verdict_kruskal,
             "no evidence that the groups differ in %s (Kruskal-Wallis p = %.3g)",
             a->metric_label, a->kruskal_p);
  if (a->saving_from >= 0 && a->saving_from == a->saving_to) {
    snprintf(a->verdict_saving, sizeof a->verdict_saving,
             "no saving: every group has the same median %s", a->metric_label);
  } else if (a->saving_from >= 0) {
    const dle_analysis_group *f = &a->groups[a->saving_from], *to = &a->groups[a->saving_to];
    char qbuf[128] = "";
    if (a->quality && isfinite(a->saving_quality_change))
      snprintf(qbuf, sizeof qbuf, "; median %s changes by %+.4f (%.4f -> %.4f)", a->quality,
               a->saving_quality_change, f->quality_median, to->quality_median);
    snprintf(a->verdict_saving, sizeof a->verdict_saving,
             "choosing %s instead of %s lowers median %s by %.1f %%%s", to->name, f->name,
             a->metric_label, 100 * a->saving_fraction, qbuf);
  } else {
    snprintf(a->verdict_saving, sizeof a->verdict_saving, "needs at least 2 groups");
  }
}

int dle_analyze(const dle_table *t, const dle_analysis_options *opt, dle_analysis **out,
                dle_error *err) {
  *out = NULL;
  if (!t || !opt || !opt->metric || opt->n_by == 0 || !opt->by)
    return dle_error_set(err, DLE_EINVAL, "analysis needs a metric and at least one grouping column");
  if (dle_table_rows(t) == 0) return dle_error_set(err, DLE_ERANGE, "no rows to analyse (empty selection)");
  int grc = dle_gsl_load(err); /* every test below needs it: fail here, not test by test */
  if (grc) return grc;
  long *bycols = malloc(opt->n_by * sizeof *bycols);
  if (!bycols) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < opt->n_by; i++) {
    bycols[i] = dle_table_find_col(t, opt->by[i]);
    if (bycols[i] < 0) {
      free(bycols);
      return dle_error_set(err, DLE_ENOTFOUND, "no column '%s' to group by", opt->by[i]);
    }
  }
  long mcol = dle_table_find_col(t, opt->metric);
  if (mcol < 0) {
    free(bycols);
    return dle_error_set(err, DLE_ENOTFOUND, "no column '%s' for the metric", opt->metric);
  }
  long qcol = opt->quality ? dle_table_find_col(t, opt->quality) : -1;
  dle_analysis *a = calloc(1, sizeof *a);
  if (!a) {
    free(bycols);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  int rc = 0;
  size_t *row_group = NULL;
  a->alpha = opt->alpha > 0 && opt->alpha < 1 ? opt->alpha : 0.05;
  a->metric = xstrdup(opt->metric);
  /* Verdicts read "lower GPU energy", so the label's " (unit)" suffix is dropped. */
  a->metric_label = xstrdup(opt->metric_label ? opt->metric_label : opt->metric);
  if (a->metric_label) {
    char *paren = strstr(a->metric_label, " (");
    if (paren && paren != a->metric_label && strchr(paren, ')')) *paren = '\0';
  }
  a->quality = qcol >= 0 ? xstrdup(opt->quality) : NULL;
  a->by = calloc(opt->n_by, sizeof *a->by);
  a->saving_from = a->saving_to = -1;
  a->saving_fraction = a->saving_quality_change = NAN;
  if (!a->metric || !a->metric_label || (qcol >= 0 && !a->quality) || !a->by) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto fail;
  }
  a->n_by = opt->n_by;
  for (size_t i = 0; i < opt->n_by; i++)
    if (!(a->by[i] = xstrdup(opt->by[i]))) {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto fail;
    }
  rc = build_groups(t, opt, a, bycols, mcol, qcol, &row_group, err);
  if (rc) goto fail;
  describe_groups(a);
  rc = run_group_tests(a, err);
  if (rc) goto fail;
  rc = run_interaction(t, a, bycols, row_group, err);
  if (rc) goto fail;
  rc = run_corr(t, opt, a, mcol, err);
  if (rc) goto fail;
  /* Pareto front over group medians, and the largest saving. */
  if (a->n_groups >= 1) {
    double *cost = malloc(a->n_groups * sizeof *cost), *ben = malloc(a->n_groups * sizeof *ben);
    bool *eff = malloc(a->n_groups * sizeof *eff);
    if (!cost || !ben || !eff) {
      free(cost);
      free(ben);
      free(eff);
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto fail;
    }
    for (size_t g = 0; g < a->n_groups; g++) {
      cost[g] = a->groups[g].median;
      ben[g] = a->quality ? a->groups[g].quality_median : 0.0;
    }
    dle_stats_pareto(cost, ben, a->n_groups, eff, NULL);
    for (size_t g = 0; g < a->n_groups; g++) a->groups[g].pareto = eff[g];
    free(cost);
    free(ben);
    free(eff);
  }
  if (a->n_groups >= 2 && a->groups[0].n > 0) {
    size_t hi = 0, lo = 0;
    for (size_t g = 1; g < a->n_groups; g++) {
      if (a->groups[g].median > a->groups[hi].median) hi = g;
      if (a->groups[g].median < a->groups[lo].median) lo = g;
    }
    a->saving_from = (long)hi;
    a->saving_to = (long)lo;
    double mf = a->groups[hi].median;
    a->saving_fraction = mf != 0 ? 1 - a->groups[lo].median / mf : NAN;
    if (a->quality)
      a->saving_quality_change = a->groups[lo].quality_median - a->groups[hi].quality_median;
  }
  verdicts(a);
  free(row_group);
  free(bycols);
  *out = a;
  return 0;
fail:
  free(row_group);
  free(bycols);
  dle_analysis_free(a);
  return rc;
}
