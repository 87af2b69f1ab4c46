/* analyze_json.c — dle_analysis as one JSON object (cJSON); undefined numbers are null. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "dlenergy/stats.h"

/* Numbers are written with 17 significant digits (cJSON's own printer may drop the
 * last bit), so values read back exactly. */
static cJSON *num(double v) {
  if (!isfinite(v)) return cJSON_CreateNull();
  char buf[40];
  snprintf(buf, sizeof buf, "%.15g", v);
  if (strtod(buf, NULL) != v) snprintf(buf, sizeof buf, "%.17g", v); /* shortest exact */
  return cJSON_CreateRaw(buf);
}

static void add_num(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, num(v)); }

static void add_note(cJSON *o, const char *note) {
  if (note && *note) cJSON_AddStringToObject(o, "note", note);
}

int dle_analysis_to_json(const dle_analysis *a, const char *source, char **out, dle_error *err) {
  *out = NULL;
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "source", source);
  cJSON_AddStringToObject(root, "metric", a->metric);
  cJSON_AddStringToObject(root, "metric_label", a->metric_label);
  cJSON_AddStringToObject(root, "figures", "measured");
  if (a->quality) cJSON_AddStringToObject(root, "quality", a->quality);
  cJSON *by = cJSON_AddArrayToObject(root, "by");
  for (size_t i = 0; i < a->n_by; i++) cJSON_AddItemToArray(by, cJSON_CreateString(a->by[i]));
  cJSON_AddNumberToObject(root, "n", (double)a->n_rows);
  cJSON_AddNumberToObject(root, "n_dropped", (double)a->n_dropped);
  cJSON_AddNumberToObject(root, "alpha", a->alpha);
  cJSON *groups = cJSON_AddArrayToObject(root, "groups");
  cJSON *shapiro = cJSON_AddArrayToObject(root, "shapiro");
  for (size_t g = 0; g < a->n_groups; g++) {
    const dle_analysis_group *gr = &a->groups[g];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", gr->name);
    cJSON_AddNumberToObject(o, "n", (double)gr->n);
    add_num(o, "median", gr->median);
    add_num(o, "mean", gr->mean);
    add_num(o, "q1", gr->q1);
    add_num(o, "q3", gr->q3);
    add_num(o, "iqr", gr->iqr);
    add_num(o, "min", gr->min);
    add_num(o, "max", gr->max);
    if (a->quality) add_num(o, "quality_median", gr->quality_median);
    cJSON_AddBoolToObject(o, "pareto", gr->pareto);
    cJSON_AddItemToArray(groups, o);
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "group", gr->name);
    cJSON_AddNumberToObject(s, "n", (double)gr->n);
    add_num(s, "w", gr->shapiro_w);
    add_num(s, "p", gr->shapiro_p);
    add_note(s, gr->shapiro_note);
    cJSON_AddItemToArray(shapiro, s);
  }
  cJSON *lev = cJSON_AddObjectToObject(root, "levene");
  cJSON_AddStringToObject(lev, "center", "median");
  add_num(lev, "w", a->levene_w);
  add_num(lev, "p", a->levene_p);
  add_note(lev, a->levene_note);
  cJSON_AddBoolToObject(root, "parametric_ok", a->parametric_ok);
  cJSON_AddStringToObject(root, "normality_verdict", a->verdict_normality);
  cJSON *kw = cJSON_AddObjectToObject(root, "kruskal");
  add_num(kw, "h", a->kruskal_h);
  add_num(kw, "p", a->kruskal_p);
  add_num(kw, "eta2", a->kruskal_eta2);
  cJSON_AddNumberToObject(kw, "df", a->n_groups ? (double)(a->n_groups - 1) : 0);
  add_note(kw, a->kruskal_note);
  cJSON_AddStringToObject(kw, "verdict", a->verdict_kruskal);
  cJSON *dunn = cJSON_AddArrayToObject(root, "dunn");
  cJSON *cd = cJSON_AddArrayToObject(root, "cliffs_delta");
  for (size_t i = 0; i < a->n_pairs; i++) {
    const dle_stats_pair *pr = &a->pairs[i];
    char verdict[512];
    dle_analysis_pair_verdict(a, pr, verdict, sizeof verdict);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "a", a->groups[pr->a].name);
    cJSON_AddStringToObject(o, "b", a->groups[pr->b].name);
    add_num(o, "z", pr->z);
    add_num(o, "p", pr->p);
    add_num(o, "p_holm", pr->p_holm);
    cJSON_AddStringToObject(o, "verdict", verdict);
    cJSON_AddItemToArray(dunn, o);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "a", a->groups[pr->a].name);
    cJSON_AddStringToObject(c, "b", a->groups[pr->b].name);
    add_num(c, "delta", pr->delta);
    cJSON_AddStringToObject(c, "magnitude", pr->magnitude ? pr->magnitude : "undefined");
    cJSON_AddItemToArray(cd, c);
  }
  if (a->dunn_note[0]) cJSON_AddStringToObject(root, "dunn_note", a->dunn_note);
  cJSON *sp = cJSON_AddArrayToObject(root, "spearman");
  for (size_t i = 0; i < a->n_corr; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "x", a->metric);
    cJSON_AddStringToObject(o, "y", a->corr[i].column);
    cJSON_AddNumberToObject(o, "n", (double)a->corr[i].n);
    add_num(o, "rho", a->corr[i].rho);
    add_num(o, "p", a->corr[i].p);
    add_note(o, a->corr[i].note);
    cJSON_AddItemToArray(sp, o);
  }
  cJSON *in = cJSON_AddObjectToObject(root, "interaction");
  cJSON_AddStringToObject(in, "method", "aligned rank transform ANOVA (interaction term)");
  add_num(in, "f", a->interaction.f);
  add_num(in, "df1", a->interaction.df1);
  add_num(in, "df2", a->interaction.df2);
  add_num(in, "p", a->interaction.p);
  add_num(in, "partial_eta2", a->interaction.partial_eta2);
  add_note(in, a->interaction_note);
  if (a->verdict_interaction[0]) cJSON_AddStringToObject(in, "verdict", a->verdict_interaction);
  cJSON *par = cJSON_AddArrayToObject(root, "pareto");
  for (size_t g = 0; g < a->n_groups; g++)
    if (a->groups[g].pareto) cJSON_AddItemToArray(par, cJSON_CreateString(a->groups[g].name));
  cJSON *ls = cJSON_AddObjectToObject(root, "largest_saving");
  if (a->saving_from >= 0) {
    cJSON_AddStringToObject(ls, "from", a->groups[a->saving_from].name);
    cJSON_AddStringToObject(ls, "to", a->groups[a->saving_to].name);
    add_num(ls, "median_from", a->groups[a->saving_from].median);
    add_num(ls, "median_to", a->groups[a->saving_to].median);
  } else {
    cJSON_AddNullToObject(ls, "from");
    cJSON_AddNullToObject(ls, "to");
  }
  add_num(ls, "fraction", a->saving_fraction);
  if (a->quality) add_num(ls, "quality_change", a->saving_quality_change);
  cJSON_AddStringToObject(ls, "verdict", a->verdict_saving);
  char *s = cJSON_Print(root);
  cJSON_Delete(root);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "out of memory writing JSON");
  *out = s;
  return 0;
}

