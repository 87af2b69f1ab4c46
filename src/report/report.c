/* report.c — the HTML report: sections, charts and tables (see report.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/energy.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/report.h"
#ifdef DLE_HAVE_STABILIZE
#include "dlenergy/stabilize.h"
#endif
#ifdef DLE_HAVE_ESTIMATE
#include "dlenergy/estimate.h"
#endif
#include "report_internal.h"

void dle_report_options_init(dle_report_options *o) {
  memset(o, 0, sizeof *o);
  o->max_profiles = 12;
  o->estimates = true;
}

static const char CSS[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0;background:#f6f7f9;color:#1d2330;line-height:1.45}"
    "main{max-width:1180px;margin:0 auto;padding:20px 28px 60px}"
    "header{background:#1d2330;color:#fff;padding:22px 28px}"
    "header h1{margin:0 0 4px;font-size:1.55rem;font-weight:650}"
    "header p{margin:0;color:#c9d1e0;font-size:.92rem}"
    "section{background:#fff;border:1px solid #e2e5ea;border-radius:10px;padding:16px 22px;"
    "margin:18px 0;box-shadow:0 1px 2px rgba(0,0,0,.04)}"
    "h2{font-size:1.2rem;margin:2px 0 6px}h3{font-size:1rem;margin:14px 0 4px}"
    "p.note{color:#566074;font-size:.88rem;margin:4px 0 10px}"
    "ul.verdicts{margin:6px 0;padding-left:1.2em}ul.verdicts li{margin:3px 0}"
    ".grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:14px}"
    ".narrow{max-width:760px}"
    ".grid3{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}"
    "figure{margin:0}figcaption{font-size:.85rem;color:#3b4456;margin:2px 0 0 4px}"
    "svg.plot{width:100%;height:auto;display:block}"
    "svg .area{fill:#fbfbfc;stroke:#c3c8d0}svg .grid{stroke:#e4e7ec;stroke-width:1}"
    "svg text{font-family:inherit;fill:#2b3140}svg .tick{font-size:11px;fill:#566074}"
    "svg .axis{font-size:12.5px;font-weight:600}svg .lbl{font-size:11.5px}"
    "svg .title{font-size:13px;font-weight:650}"
    "table{border-collapse:collapse;width:100%;font-size:.86rem;margin:6px 0 10px}"
    "th,td{padding:4px 8px;border-bottom:1px solid #e6e8ec;text-align:right;vertical-align:top}"
    "th{background:#f0f2f5;font-weight:600}td.l,th.l{text-align:left}td{white-space:nowrap}"
    "td.v,td.l{white-space:normal}"
    "tr.sig td{background:#fff8e6}td.v{text-align:left;color:#2b3140}"
    ".tag{display:inline-block;padding:0 6px;border-radius:8px;font-size:.78rem;"
    "background:#e8f1f8;color:#0b4f7c;margin-left:4px}"
    ".legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:.85rem;margin:4px 0}"
    ".sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;"
    "vertical-align:-1px}"
    "footer{color:#6b7383;font-size:.8rem;text-align:center;margin-top:24px}";

/* ---------------------------------------------------------------- helpers */

static void fmt_g(char *buf, size_t n, double v, int sig) {
  if (!isfinite(v))
    snprintf(buf, n, "n/a");
  else
    snprintf(buf, n, "%.*g", sig, v);
}

static void fmt_p(char *buf, size_t n, double p) {
  if (!isfinite(p))
    snprintf(buf, n, "n/a");
  else if (p < 1e-4)
    snprintf(buf, n, "%.1e", p);
  else
    snprintf(buf, n, "%.4f", p);
}

/* Colour of a group: by the level of its first grouping column. */
typedef struct colour_map {
  char *levels[8];
  size_t n;
} colour_map;

static void first_level(const char *name, char *buf, size_t n) {
  const char *sep = strstr(name, " / ");
  size_t len = sep ? (size_t)(sep - name) : strlen(name);
  if (len >= n) len = n - 1;
  memcpy(buf, name, len);
  buf[len] = '\0';
}

static const char *colour_of(colour_map *cm, const char *group) {
  char lev[256];
  first_level(group, lev, sizeof lev);
  for (size_t i = 0; i < cm->n; i++)
    if (strcmp(cm->levels[i], lev) == 0) return rp_palette[i];
  if (cm->n < 7) {
    cm->levels[cm->n] = strdup(lev);
    if (cm->levels[cm->n]) return rp_palette[cm->n++];
  }
  return rp_palette[7];
}

static void colour_map_free(colour_map *cm) {
  for (size_t i = 0; i < cm->n; i++) free(cm->levels[i]);
  cm->n = 0;
}

static void legend(sbuf *b, colour_map *cm, const char *title) {
  if (cm->n == 0) return;
  sb_puts(b, "<div class=\"legend\">");
  if (title) {
    sb_puts(b, "<span><b>");
    sb_esc(b, title);
    sb_puts(b, ":</b></span>");
  }
  for (size_t i = 0; i < cm->n; i++) {
    sb_printf(b, "<span><span class=\"sw\" style=\"background:%s\"></span>", rp_palette[i]);
    sb_esc(b, cm->levels[i]);
    sb_puts(b, "</span>");
  }
  sb_puts(b, "</div>\n");
}

/* ---------------------------------------------------------------- power profiles */

typedef struct profile_run {
  int64_t id;
  char key[400];     /* group key (colour) */
  char caption[512];
} profile_run;

/* The run's power series for a profile: bounded (a long run downsampled into buckets,
 * dle_estimate_series_load) when the estimate module is in the tree. */
static int profile_series(dle_store *st, int64_t id, const dle_epoch *ep, size_t nep,
                          dle_trace *tr, size_t *nb, dle_error *err) {
#ifdef DLE_HAVE_ESTIMATE
  return dle_estimate_series_load(st, id, ep, nep, 0, 0, tr, nb, err);
#else
  (void)ep, (void)nep;
  *nb = 0;
  return dle_energy_load_series(st, id, tr, err);
#endif
}

#ifdef DLE_HAVE_STABILIZE
static int profile_stabilize(const dle_trace *tr, size_t nb, const dle_epoch *ep, size_t nep,
                             const dle_stabilize_opts *so, dle_stabilize_result *sr,
                             dle_error *err) {
#ifdef DLE_HAVE_ESTIMATE
  return dle_estimate_stabilize(tr, nb, NAN, ep, nep, so, sr, err);
#else
  (void)nb;
  return dle_stabilize_trace(tr, NAN, ep, nep, so, sr, err);
#endif
}
#endif

static void draw_profile(sbuf *b, dle_store *st, const profile_run *pr, const char *colour,
                         dle_error *err_out) {
  dle_error err = {0};
  dle_trace tr = {0};
  dle_epoch *ep = NULL;
  size_t nep = 0, nb = 0;
  /* bounded: a long run downsampled into buckets (dle_estimate_series_load) */
  if (dle_store_load_epochs(st, pr->id, &ep, &nep, &err) != 0 ||
      profile_series(st, pr->id, ep, nep, &tr, &nb, &err) != 0) {
    sb_puts(b, "<figure><p class=\"note\">run ");
    sb_printf(b, "%lld: ", (long long)pr->id);
    sb_esc(b, err.msg);
    sb_puts(b, "</p></figure>\n");
    dle_trace_free(&tr);
    free(ep);
    if (err_out) *err_out = err;
    return;
  }
  /* The GPU power when the run has one; else (CPU-only machines) the host's CPU +
   * memory power, measured (RAPL) or modelled as the run recorded it. */
  double *host = NULL;
  const double *ser = tr.gpu_power_w;
  char ylabel[48] = "GPU power (W)", kind[64] = "measured GPU power";
  bool any_gpu = false;
  for (size_t i = 0; i < tr.n && !any_gpu; i++) any_gpu = isfinite(tr.gpu_power_w[i]);
  if (!any_gpu && tr.n > 0) {
    dle_run_info info;
    bool meas = dle_store_get_run(st, pr->id, &info, NULL) == 0 &&
                dle_source_is_measured(info.cpu_source);
    const double *cpu = dle_trace_component_w(&tr, DLE_COMP_CPU);
    const double *dram = dle_trace_component_w(&tr, DLE_COMP_DRAM);
    const double *ram = dle_trace_component_w(&tr, DLE_COMP_RAM);
    bool have_dram = false;
    for (size_t i = 0; dram && i < tr.n && !have_dram; i++) have_dram = isfinite(dram[i]);
    const double *mem = have_dram ? dram : ram;
    host = malloc(tr.n * sizeof *host);
    if (host) {
      for (size_t i = 0; i < tr.n; i++) {
        double c = cpu ? cpu[i] : NAN, m = mem ? mem[i] : NAN;
        host[i] = isfinite(c) ? c + (isfinite(m) ? m : 0) : m;
      }
      ser = host;
      snprintf(ylabel, sizeof ylabel, "CPU + %s power (W)", have_dram ? "DRAM" : "RAM");
      snprintf(kind, sizeof kind, "%s CPU + %s power, no GPU", meas ? "measured" : "modelled",
               have_dram ? "DRAM" : "RAM");
    }
  }
  double tmax = 0, pmax = 0;
  size_t valid = 0;
  for (size_t i = 0; i < tr.n; i++)
    if (isfinite(tr.t_s[i]) && isfinite(ser[i])) {
      if (tr.t_s[i] > tmax) tmax = tr.t_s[i];
      if (ser[i] > pmax) pmax = ser[i];
      valid++;
    }
  if (valid < 2) { /* no empty plot */
    sb_printf(b, "<figure><p class=\"note\">run %lld: no power samples to draw</p></figure>\n",
              (long long)pr->id);
    free(host);
    dle_trace_free(&tr);
    free(ep);
    return;
  }
  bool minutes = tmax > 300;
  double tdiv = minutes ? 60 : 1;
  rp_plot p = {.w = 520, .h = 240, .left = 60, .right = 505, .top = 14, .bottom = 190};
  rp_axis_fit(&p.x, 0, tmax / tdiv, p.left, p.right, true);
  rp_axis_fit(&p.y, 0, pmax * 1.05, p.bottom, p.top, true);
  char id[64], aria[600];
  snprintf(id, sizeof id, "profile-%lld", (long long)pr->id);
  snprintf(aria, sizeof aria, "%s over time, %s", kind, pr->caption);
  sb_puts(b, "<figure>");
  rp_svg_open(b, id, p.w, p.h, aria);
  rp_frame(b, &p, minutes ? "time since start (min)" : "time since start (s)",
           ylabel, false, true);
  /* Epoch boundaries. */
  size_t drawn_ep = 0;
  for (size_t k = 0; k < nep; k++) {
    double te = ep[k].t_end_s;
    if (!isfinite(te) || te > tmax) continue;
    double x = rp_axis_px(&p.x, te / tdiv);
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9aa3b2\" "
                 "stroke-width=\"0.7\" stroke-dasharray=\"2 3\"/>\n",
              x, p.top, x, p.bottom);
    drawn_ep++;
  }
  /* The series, averaged into at most ~900 buckets. */
  if (valid > 0) {
    size_t buckets = valid > 900 ? 900 : valid;
    double per = (double)valid / (double)buckets;
    sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1\" "
                 "stroke-linejoin=\"round\" points=\"", colour);
    size_t vi = 0, bi = 0, cnt = 0;
    double st_sum = 0, sp_sum = 0;
    for (size_t i = 0; i < tr.n; i++) {
      if (!isfinite(tr.t_s[i]) || !isfinite(ser[i])) continue;
      st_sum += tr.t_s[i];
      sp_sum += ser[i];
      cnt++;
      vi++;
      if ((double)vi >= per * (double)(bi + 1) || vi == valid) {
        sb_printf(b, "%.1f,%.1f ", rp_axis_px(&p.x, st_sum / (double)cnt / tdiv),
                  rp_axis_px(&p.y, sp_sum / (double)cnt));
        st_sum = sp_sum = 0;
        cnt = 0;
        bi++;
      }
    }
    sb_puts(b, "\"/>\n");
  }
  char stab[160] = "";
#ifdef DLE_HAVE_STABILIZE
  {
    dle_stabilize_opts so;
    dle_stabilize_opts_init(&so);
    dle_stabilize_result sr;
    dle_error e2 = {0};
    if (profile_stabilize(&tr, nb, ep, nep, &so, &sr, &e2) == 0 && isfinite(sr.t_s)) {
      double x = rp_axis_px(&p.x, sr.t_s / tdiv);
      sb_printf(b, "<line class=\"stab\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                   "stroke=\"#D55E00\" stroke-width=\"2\"/>\n",
                x, p.top, x, p.bottom);
      char when[64];
      if (minutes)
        snprintf(when, sizeof when, "%.1f min", sr.t_s / 60);
      else
        snprintf(when, sizeof when, "%.0f s", sr.t_s);
      bool right = x < (p.left + p.right) / 2;
      sb_printf(b, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
                   "fill=\"#D55E00\" style=\"fill:#B34700\">stabilizes at %s</text>\n",
                right ? x + 5 : x - 5, p.top + 14, right ? "start" : "end", when);
      if (sr.epoch >= 0)
        snprintf(stab, sizeof stab, "stabilizing point (matrix profile + FLUSS) at %s, in epoch %d",
                 when, sr.epoch + 1);
      else
        snprintf(stab, sizeof stab, "stabilizing point (matrix profile + FLUSS) at %s", when);
    } else {
      snprintf(stab, sizeof stab, "no stabilizing point: %s", e2.msg[0] ? e2.msg : "not found");
    }
  }
#else
  snprintf(stab, sizeof stab, "stabilization detection not built");
#endif
  rp_svg_close(b);
  sb_puts(b, "<figcaption>");
  sb_esc(b, pr->caption);
  if (drawn_ep)
    sb_printf(b, " — %zu samples, %zu epoch boundaries (dashed); ", tr.n, drawn_ep);
  else
    sb_printf(b, " — %zu samples, no epoch markers; ", tr.n);
  sb_esc(b, stab);
  sb_printf(b, " (%s)</figcaption></figure>\n", kind);
  free(host);
  dle_trace_free(&tr);
  free(ep);
}

static int cmp_profile(const void *a, const void *b) {
  return strcmp(((const profile_run *)a)->caption, ((const profile_run *)b)->caption);
}

/* Picks the runs to draw: all when few, else per group the run nearest its median. */
static int pick_profiles(const dle_report_options *o, const char *const *by, size_t n_by,
                         const char *metric, profile_run **out, size_t *n_out, bool *sampled,
                         dle_error *err) {
  *out = NULL;
  *n_out = 0;
  *sampled = false;
  dle_table *t = NULL;
  int rc = dle_report_runs_table(o->store, NULL, o->runs, o->n_runs, &t, err);
  if (rc) return rc;
  size_t nr = dle_table_rows(t);
  profile_run *pr = calloc(nr ? nr : 1, sizeof *pr);
  char **keys = calloc(nr ? nr : 1, sizeof *keys);
  double *val = calloc(nr ? nr : 1, sizeof *val);
  if (!pr || !keys || !val) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  long idc = dle_table_find_col(t, "run_id"), mc = dle_table_find_col(t, metric);
  if (mc < 0) mc = dle_table_find_col(t, "gpu_energy_mj");
  for (size_t r = 0; r < nr; r++) {
    char key[400] = "";
    size_t off = 0;
    for (size_t i = 0; i < n_by; i++) {
      long c = dle_table_find_col(t, by[i]);
      const char *v = c >= 0 ? dle_table_get(t, r, (size_t)c) : "";
      int w = snprintf(key + off, sizeof key - off, "%s%s", i ? " / " : "", *v ? v : "(none)");
      if (w > 0 && (size_t)w < sizeof key - off) off += (size_t)w;
    }
    keys[r] = strdup(key);
    if (!keys[r]) {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto done;
    }
    val[r] = mc >= 0 ? dle_table_get_double(t, r, (size_t)mc) : NAN;
    pr[r].id = (int64_t)dle_table_get_double(t, r, (size_t)idc);
    snprintf(pr[r].key, sizeof pr[r].key, "%s", key);
    snprintf(pr[r].caption, sizeof pr[r].caption, "%s%srun %lld", key, *key ? ", " : "",
             (long long)pr[r].id);
  }
  size_t maxp = o->max_profiles ? o->max_profiles : 12;
  if (nr <= maxp) {
    *n_out = nr;
  } else {
    *sampled = true;
    size_t m = 0;
    bool *done = calloc(nr, sizeof *done);
    double *buf = malloc(nr * sizeof *buf);
    if (!done || !buf) {
      free(done);
      free(buf);
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto done;
    }
    for (size_t r = 0; r < nr; r++) {
      if (done[r]) continue;
      size_t k = 0;
      for (size_t q = r; q < nr; q++)
        if (!done[q] && strcmp(keys[q], keys[r]) == 0 && isfinite(val[q])) buf[k++] = val[q];
      double med;
      dle_stats_describe(buf, k, &med, NULL, NULL, NULL);
      size_t best = r;
      double bd = INFINITY;
      for (size_t q = r; q < nr; q++)
        if (!done[q] && strcmp(keys[q], keys[r]) == 0) {
          double d = isfinite(val[q]) && isfinite(med) ? fabs(val[q] - med) : 1e300;
          if (d < bd) {
            bd = d;
            best = q;
          }
        }
      for (size_t q = r; q < nr; q++)
        if (strcmp(keys[q], keys[r]) == 0) done[q] = true;
      if (m < maxp * 2) {
        profile_run tmp = pr[best];
        snprintf(tmp.caption, sizeof tmp.caption, "%s, run %lld (nearest the group median)",
                 keys[r], (long long)pr[best].id);
        pr[m++] = tmp;
      }
    }
    free(done);
    free(buf);
    *n_out = m;
  }
  qsort(pr, *n_out, sizeof *pr, cmp_profile);
  *out = pr;
  pr = NULL;
done:
  if (keys)
    for (size_t r = 0; r < nr; r++) free(keys[r]);
  free(keys);
  free(val);
  free(pr);
  dle_table_free(t);
  return rc;
}

static void section_profiles(sbuf *b, const dle_report_options *o, const char *const *by,
                             size_t n_by, const char *metric, colour_map *cm) {
  sb_puts(b, "<section id=\"profiles\"><h2>Power profile of each run</h2>\n");
  profile_run *pr = NULL;
  size_t n = 0;
  bool sampled = false;
  dle_error err = {0};
  if (pick_profiles(o, by, n_by, metric, &pr, &n, &sampled, &err) != 0) {
    sb_puts(b, "<p class=\"note\">");
    sb_esc(b, err.msg);
    sb_puts(b, "</p></section>\n");
    return;
  }
  sb_printf(b, "<p class=\"note\">GPU board power as sampled (measured; runs without a GPU: "
               "their CPU + memory power, measured or modelled as each caption says), over "
               "time since the run started. Dashed lines: epoch ends. Vermillion line: the stabilizing point "
               "found by the matrix profile and FLUSS (m = 10, 2 regimes). %s</p>\n",
            sampled ? "Many runs are selected: one run per group is drawn, the one whose "
                      "metric is nearest the group median."
                    : "");
  sb_puts(b, "<div class=\"grid2\">\n");
  for (size_t i = 0; i < n; i++) {
    draw_profile(b, o->store, &pr[i], colour_of(cm, pr[i].key), NULL);
  }
  sb_puts(b, "</div></section>\n");
  free(pr);
}

/* Energy per component of a few runs, each figure marked measured or modelled, with
 * the assumptions of the modelled ones. */
static void section_energy(sbuf *b, const dle_report_options *o) {
  sb_puts(b, "<section id=\"energy\"><h2>Energy of each run</h2>\n<table id=\"table-energy\">"
             "<tr><th class=\"l\">run</th><th>duration</th><th>samples</th>");
  static const char *names[DLE_COMP_COUNT] = {"GPU", "CPU", "DRAM", "RAM"};
  for (int c = 0; c < DLE_COMP_COUNT; c++) sb_printf(b, "<th>%s energy</th>", names[c]);
  sb_puts(b, "<th>total</th><th>emissions (g CO2e)</th></tr>\n");
  for (size_t i = 0; i < o->n_runs; i++) {
    dle_run_info info;
    dle_run_energy re; /* streamed from the store */
    const dle_energy_summary *sum = &re.sum;
    dle_error e = {0};
    char eb[48];
    sb_printf(b, "<tr><td class=\"l\">%lld</td>", (long long)o->runs[i]);
    if (dle_store_get_run(o->store, o->runs[i], &info, &e) != 0 ||
        dle_energy_summarize_run(o->store, o->runs[i], &info, NULL, 0, NULL, &re, &e) != 0) {
      sb_puts(b, "<td class=\"v\" colspan=\"8\">");
      sb_esc(b, e.msg);
      sb_puts(b, "</td></tr>\n");
      continue;
    }
    const dle_energy_summary es = *sum;
    sb_printf(b, "<td>%.1f min</td><td>%zu</td>", es.duration_s / 60, es.samples);
    for (int c = 0; c < DLE_COMP_COUNT; c++) {
      if (isfinite(es.energy_j[c])) {
        dle_format_energy(es.energy_j[c], "n/a", eb, sizeof eb);
        sb_printf(b, "<td>%s <span class=\"tag\">%s</span></td>", eb,
                  es.measured[c] ? "measured" : "modelled");
      } else {
        sb_puts(b, "<td>n/a</td>");
      }
    }
    dle_format_energy(es.total_j, "n/a", eb, sizeof eb);
    sb_printf(b, "<td>%s</td>", eb);
    if (isfinite(es.emissions_g))
      sb_printf(b, "<td>%.4g <span class=\"tag\">modelled</span></td>", es.emissions_g);
    else
      sb_puts(b, "<td>n/a</td>");
    sb_puts(b, "</tr>\n");
    /* The assumptions behind the modelled figures, as the run recorded them. */
    dle_kv *kv = NULL;
    size_t nkv = 0;
    if (dle_store_get_meta(o->store, o->runs[i], &kv, &nkv, NULL) == 0) {
      const char *cpm = dle_kv_get(kv, nkv, "cpu_power_model");
      const char *scope = dle_kv_get(kv, nkv, "scope");
      const char *cs = dle_kv_get(kv, nkv, "carbon_source");
      bool cpu_model = cpm && isfinite(es.energy_j[DLE_COMP_CPU]) && !es.measured[DLE_COMP_CPU];
      if (cpu_model || scope || cs) {
        sb_puts(b, "<tr><td></td><td class=\"l note\" colspan=\"8\">");
        if (cpu_model) {
          sb_puts(b, "CPU modelled: ");
          sb_esc(b, cpm);
          sb_puts(b, ". ");
        }
        if (scope) {
          sb_puts(b, "Scope: ");
          sb_esc(b, scope);
          sb_puts(b, ". ");
        }
        if (cs && isfinite(es.emissions_g)) {
          sb_puts(b, "Carbon intensity: ");
          sb_esc(b, cs);
          sb_puts(b, ".");
        }
        sb_puts(b, "</td></tr>\n");
      }
      dle_kv_free(kv, nkv);
    }
  }
  sb_puts(b, "</table><p class=\"note\">Trapezoid integrals of the sampled power. Measured: "
             "read from a sensor (NVML, nvidia-smi, RAPL); modelled: from a formula (RAM: "
             "W per GB of resident memory; CPU without RAPL: W per thread of the CPU table "
             "× visible CPUs × utilization, or --cpu-tdp).</p></section>\n");
}

/* ---------------------------------------------------------------- box plots */

static void section_boxplots(sbuf *b, const dle_analysis *a, colour_map *cm) {
  size_t k = a->n_groups;
  size_t maxlen = 0;
  for (size_t g = 0; g < k; g++) {
    size_t l = strlen(a->groups[g].name) + 8; /* + " (n=NN)" */
    if (l > maxlen) maxlen = l;
  }
  /* Room for the longest label at ~6.6 px per character (11.5 px font). */
  double row = 30, top = 12, left = fmin(fmax(120, 6.6 * (double)maxlen + 16), 560), right = 1080;
  rp_plot p = {.w = 1100, .h = top + row * (double)k + 56, .left = left, .right = right,
               .top = top};
  p.bottom = top + row * (double)k;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t g = 0; g < k; g++) {
    if (a->groups[g].min < lo) lo = a->groups[g].min;
    if (a->groups[g].max > hi) hi = a->groups[g].max;
  }
  rp_axis_fit(&p.x, lo, hi, left, right, true);
  sb_puts(b, "<section id=\"boxplots\"><h2>");
  sb_esc(b, a->metric_label);
  sb_puts(b, " by group</h2>\n<p class=\"note\">Box: quartiles; bar: median; diamond: mean; "
             "whiskers: the furthest run within 1.5 IQR; dots: runs beyond. Figures are "
             "measured.</p>\n");
  legend(b, cm, a->by[0]);
  rp_svg_open(b, "boxplot", p.w, p.h, "box plots by group");
  rp_frame(b, &p, dle_report_metric_label(a->metric), NULL, true, false);
  for (size_t g = 0; g < k; g++) {
    const dle_analysis_group *gr = &a->groups[g];
    const char *col = colour_of(cm, gr->name);
    double cy = top + row * ((double)g + 0.5);
    sb_printf(b, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", left - 8, cy + 4);
    sb_esc(b, gr->name);
    sb_printf(b, " (n=%zu)</text>\n", gr->n);
    double lw = gr->q1 - 1.5 * gr->iqr, hw = gr->q3 + 1.5 * gr->iqr, wl = gr->q1, wh = gr->q3;
    for (size_t i = 0; i < gr->n; i++) {
      if (gr->values[i] >= lw && gr->values[i] < wl) wl = gr->values[i];
      if (gr->values[i] <= hw && gr->values[i] > wh) wh = gr->values[i];
    }
    double x1 = rp_axis_px(&p.x, gr->q1), x3 = rp_axis_px(&p.x, gr->q3);
    sb_printf(b, "<g><title>");
    sb_esc(b, gr->name);
    sb_printf(b, ": median %.4g, IQR %.4g, n %zu</title>", gr->median, gr->iqr, gr->n);
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>",
              rp_axis_px(&p.x, wl), cy, rp_axis_px(&p.x, wh), cy);
    sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                 "fill-opacity=\"0.55\" stroke=\"%s\" stroke-width=\"1.2\"/>",
              x1, cy - 9, fmax(x3 - x1, 1), 18.0, col, col);
    double xm = rp_axis_px(&p.x, gr->median);
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#111\" "
                 "stroke-width=\"2.2\"/>", xm, cy - 9, xm, cy + 9);
    double xa = rp_axis_px(&p.x, gr->mean);
    sb_printf(b, "<path d=\"M%.1f %.1fl4 4l-4 4l-4 -4z\" fill=\"#fff\" stroke=\"#111\"/>", xa,
              cy - 4);
    for (size_t i = 0; i < gr->n; i++)
      if (gr->values[i] < wl || gr->values[i] > wh)
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"none\" stroke=\"%s\"/>",
                  rp_axis_px(&p.x, gr->values[i]), cy, col);
    sb_puts(b, "</g>\n");
  }
  rp_svg_close(b);
  sb_puts(b, "</section>\n");
}

/* ---------------------------------------------------------------- scatter + Pareto */


typedef struct { const dle_analysis *a; size_t g; } gref;

static int cmp_gref(const void *x, const void *y) {
  const gref *p = x, *q = y;
  double u = p->a->groups[p->g].median, v = q->a->groups[q->g].median;
  return (u > v) - (u < v);
}

/* Group medians as diamonds and the Pareto staircase through the efficient ones. */
static void draw_front(sbuf *b, const dle_analysis *a, const rp_plot *p, colour_map *cm,
                       bool label_all) {
  gref *fr = calloc(a->n_groups ? a->n_groups : 1, sizeof *fr);
  size_t nf = 0;
  for (size_t g = 0; fr && g < a->n_groups; g++)
    if (a->groups[g].pareto && isfinite(a->groups[g].quality_median)) fr[nf++] = (gref){a, g};
  if (fr && nf > 0) {
    qsort(fr, nf, sizeof *fr, cmp_gref);
    sb_puts(b, "<path class=\"front\" fill=\"none\" stroke=\"#1d2330\" stroke-width=\"1.8\" d=\"");
    for (size_t i = 0; i < nf; i++) {
      const dle_analysis_group *gr = &a->groups[fr[i].g];
      double x = rp_axis_px(&p->x, gr->median), y = rp_axis_px(&p->y, gr->quality_median);
      if (i == 0)
        sb_printf(b, "M%.1f %.1f", x, y);
      else
        sb_printf(b, "H%.1fV%.1f", x, y);
    }
    sb_puts(b, "\"/>\n");
  }
  free(fr);
  double lab[96][4]; /* occupied boxes (markers, then labels): x0, x1, y0, y1 */
  size_t nlab = 0;
  for (size_t g = 0; g < a->n_groups && nlab < 32; g++) {
    const dle_analysis_group *gr = &a->groups[g];
    if (!isfinite(gr->median) || !isfinite(gr->quality_median)) continue;
    double x = rp_axis_px(&p->x, gr->median), y = rp_axis_px(&p->y, gr->quality_median);
    lab[nlab][0] = x - 8;
    lab[nlab][1] = x + 8;
    lab[nlab][2] = y - 8;
    lab[nlab][3] = y + 8;
    nlab++;
  }
  for (size_t g = 0; g < a->n_groups; g++) {
    const dle_analysis_group *gr = &a->groups[g];
    if (!isfinite(gr->median) || !isfinite(gr->quality_median)) continue;
    double x = rp_axis_px(&p->x, gr->median), y = rp_axis_px(&p->y, gr->quality_median);
    sb_printf(b, "<g><title>");
    sb_esc(b, gr->name);
    sb_printf(b, ": median %.4g, median quality %.4f%s</title>", gr->median, gr->quality_median,
              gr->pareto ? " (Pareto-efficient)" : "");
    sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"11\" height=\"11\" fill=\"%s\" "
                 "stroke=\"#111\" stroke-width=\"%s\" transform=\"rotate(45 %.1f %.1f)\"/>",
              x - 5.5, y - 5.5, colour_of(cm, gr->name), gr->pareto ? "2" : "0.8", x, y);
    if (gr->pareto || label_all) {
      bool left = x > (p->left + p->right) * 0.7;
      /* Greedy placement: the first of a few offsets whose box overlaps no label yet. */
      double wlab = 6.4 * (double)strlen(gr->name), ly = y - 8;
      double x0 = left ? x - 10 - wlab : x + 10, x1 = x0 + wlab;
      static const double offs[] = {-8, 16, -22, 30, -36, 44, -50, 58};
      for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
        double cy = y + offs[o];
        bool clash = cy - 11 < p->top || cy > p->bottom;
        for (size_t q = 0; q < nlab && !clash; q++)
          if (x0 < lab[q][1] && x1 > lab[q][0] && cy - 11 < lab[q][3] && cy > lab[q][2])
            clash = true;
        if (!clash) {
          ly = cy;
          break;
        }
      }
      if (nlab < 96) {
        lab[nlab][0] = x0;
        lab[nlab][1] = x1;
        lab[nlab][2] = ly - 11;
        lab[nlab][3] = ly;
        nlab++;
      }
      sb_printf(b, "<text class=\"lbl\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>",
                left ? x - 10 : x + 10, ly, left ? "end" : "start",
                gr->pareto ? " style=\"font-weight:650\"" : "");
      sb_esc(b, gr->name);
      sb_puts(b, "</text>");
    }
    sb_puts(b, "</g>\n");
  }
}

static void section_pareto(sbuf *b, const dle_analysis *a, colour_map *cm) {
  const char *ql = dle_report_metric_label(a->quality);
  sb_puts(b, "<section id=\"pareto\"><h2>");
  sb_esc(b, a->metric_label);
  sb_puts(b, " vs ");
  sb_esc(b, ql);
  sb_puts(b, ", with the Pareto front</h2>\n");
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (size_t g = 0; g < a->n_groups; g++)
    for (size_t i = 0; i < a->groups[g].n; i++) {
      double x = a->groups[g].metric_by_row[i], y = a->groups[g].quality[i];
      if (!isfinite(x) || !isfinite(y)) continue;
      xlo = fmin(xlo, x);
      xhi = fmax(xhi, x);
      ylo = fmin(ylo, y);
      yhi = fmax(yhi, y);
    }
  if (!isfinite(xlo)) {
    sb_puts(b, "<p class=\"note\">No run has both values.</p></section>\n");
    return;
  }
  sb_puts(b, "<p class=\"note\">Left: every run (dots) and the group medians (diamonds). "
             "Right: the group medians alone with their interquartile ranges (bars). The dark "
             "line joins the Pareto-efficient groups (bold outline): no other group has both "
             "lower ");
  sb_esc(b, a->metric_label);
  sb_puts(b, " and higher ");
  sb_esc(b, ql);
  sb_puts(b, ". Measured values.</p>\n");
  legend(b, cm, a->by[0]);
  sb_puts(b, "<div class=\"grid2\"><figure>");
  rp_plot p = {.w = 540, .h = 400, .left = 62, .right = 525, .top = 14, .bottom = 345};
  rp_axis_fit(&p.x, xlo, xhi, p.left, p.right, true);
  rp_axis_fit(&p.y, ylo, yhi, p.bottom, p.top, false);
  rp_svg_open(b, "scatter-pareto", p.w, p.h, "metric versus quality, every run");
  rp_frame(b, &p, dle_report_metric_label(a->metric), ql, true, true);
  for (size_t g = 0; g < a->n_groups; g++) {
    const char *col = colour_of(cm, a->groups[g].name);
    for (size_t i = 0; i < a->groups[g].n; i++) {
      double x = a->groups[g].metric_by_row[i], y = a->groups[g].quality[i];
      if (!isfinite(x) || !isfinite(y)) continue;
      sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" fill-opacity=\"0.5\"/>",
                rp_axis_px(&p.x, x), rp_axis_px(&p.y, y), col);
    }
    sb_puts(b, "\n");
  }
  draw_front(b, a, &p, cm, false);
  rp_svg_close(b);
  sb_puts(b, "<figcaption>Every run.</figcaption></figure>\n<figure>");
  /* Zoom on the medians: axes span the medians (padded); IQR bars are clipped. */
  double mxlo = INFINITY, mxhi = -INFINITY, mylo = INFINITY, myhi = -INFINITY;
  for (size_t g = 0; g < a->n_groups; g++) {
    const dle_analysis_group *gr = &a->groups[g];
    if (!isfinite(gr->quality_median) || !isfinite(gr->median)) continue;
    mxlo = fmin(mxlo, gr->median);
    mxhi = fmax(mxhi, gr->median);
    mylo = fmin(mylo, gr->quality_median);
    myhi = fmax(myhi, gr->quality_median);
  }
  double padx = (mxhi - mxlo) * 0.15, pady = (myhi - mylo) * 0.25;
  if (!(padx > 0)) padx = fabs(mxhi) * 0.05 + 1e-9;
  if (!(pady > 0)) pady = fabs(myhi) * 0.01 + 1e-9;
  mxlo -= padx;
  mxhi += padx;
  mylo -= pady;
  myhi += pady;
  rp_plot z = p;
  rp_axis_fit(&z.x, mxlo, mxhi, z.left, z.right, false);
  rp_axis_fit(&z.y, mylo, myhi, z.bottom, z.top, false);
  rp_svg_open(b, "pareto-medians", z.w, z.h, "group medians with interquartile ranges");
  rp_frame(b, &z, dle_report_metric_label(a->metric), ql, true, true);
  sb_printf(b, "<clipPath id=\"clip-medians\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
               "height=\"%.1f\"/></clipPath><g clip-path=\"url(#clip-medians)\">\n",
            z.left, z.top, z.right - z.left, z.bottom - z.top);
  for (size_t g = 0; g < a->n_groups; g++) {
    const dle_analysis_group *gr = &a->groups[g];
    double *tmp = malloc(gr->n * sizeof *tmp);
    size_t k = 0;
    for (size_t i = 0; tmp && i < gr->n; i++)
      if (isfinite(gr->quality[i])) tmp[k++] = gr->quality[i];
    double yq1, yq3;
    dle_stats_describe(tmp, k, NULL, NULL, &yq1, &yq3);
    free(tmp);
    if (!isfinite(yq1) || !isfinite(gr->quality_median)) continue;
    const char *col = colour_of(cm, gr->name);
    double x = rp_axis_px(&z.x, gr->median), y = rp_axis_px(&z.y, gr->quality_median);
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                 "stroke-width=\"2\" stroke-opacity=\"0.7\"/>",
              rp_axis_px(&z.x, gr->q1), y, rp_axis_px(&z.x, gr->q3), y, col);
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                 "stroke-width=\"2\" stroke-opacity=\"0.7\"/>\n",
              x, rp_axis_px(&z.y, yq1), x, rp_axis_px(&z.y, yq3), col);
  }
  sb_puts(b, "</g>\n");
  draw_front(b, a, &z, cm, a->n_groups <= 12);
  rp_svg_close(b);
  sb_puts(b, "<figcaption>Group medians (zoomed), bars = interquartile ranges.</figcaption>"
             "</figure></div></section>\n");
}

/* ---------------------------------------------------------------- tables */

static void td_num(sbuf *b, double v, int sig) {
  char buf[48];
  fmt_g(buf, sizeof buf, v, sig);
  sb_printf(b, "<td>%s</td>", buf);
}

static void td_p(sbuf *b, double p) {
  char buf[48];
  fmt_p(buf, sizeof buf, p);
  sb_printf(b, "<td>%s</td>", buf);
}

static void section_tests(sbuf *b, const dle_analysis *a) {
  sb_puts(b, "<section id=\"tests\"><h2>Is the difference real? Statistical tests</h2>\n");
  sb_puts(b, "<ul class=\"verdicts\">");
  const char *v[] = {a->verdict_normality, a->verdict_kruskal, a->verdict_interaction,
                     a->verdict_saving};
  for (size_t i = 0; i < 4; i++)
    if (v[i][0]) {
      sb_puts(b, "<li>");
      sb_esc(b, v[i]);
      sb_puts(b, "</li>");
    }
  if (!a->verdict_interaction[0] && a->interaction_note[0]) {
    sb_puts(b, "<li>interaction not tested: ");
    sb_esc(b, a->interaction_note);
    sb_puts(b, "</li>");
  }
  sb_puts(b, "</ul>\n<h3>Groups</h3>\n<table id=\"table-groups\"><tr><th class=\"l\">group</th>"
             "<th>n</th><th>median</th><th>mean</th><th>IQR</th><th>Shapiro–Wilk W</th>"
             "<th>p</th>");
  if (a->quality) {
    sb_puts(b, "<th>median ");
    sb_esc(b, a->quality);
    sb_puts(b, "</th>");
  }
  sb_puts(b, "<th class=\"l\">verdict</th></tr>\n");
  for (size_t g = 0; g < a->n_groups; g++) {
    const dle_analysis_group *gr = &a->groups[g];
    sb_puts(b, "<tr><td class=\"l\">");
    sb_esc(b, gr->name);
    if (gr->pareto && a->quality) sb_puts(b, "<span class=\"tag\">Pareto</span>");
    sb_printf(b, "</td><td>%zu</td>", gr->n);
    td_num(b, gr->median, 4);
    td_num(b, gr->mean, 4);
    td_num(b, gr->iqr, 3);
    td_num(b, gr->shapiro_w, 4);
    td_p(b, gr->shapiro_p);
    if (a->quality) td_num(b, gr->quality_median, 4);
    sb_puts(b, "<td class=\"v\">");
    if (gr->shapiro_note[0])
      sb_esc(b, gr->shapiro_note);
    else
      sb_puts(b, gr->shapiro_p < a->alpha ? "not normal" : "no evidence against normality");
    sb_puts(b, "</td></tr>\n");
  }
  sb_puts(b, "</table>\n<h3>Across groups</h3>\n<table id=\"table-omnibus\"><tr><th class=\"l\">"
             "test</th><th>statistic</th><th>p</th><th>effect size</th><th class=\"l\">"
             "verdict</th></tr>\n");
  sb_puts(b, "<tr><td class=\"l\">Levene (median-centred, Brown–Forsythe)</td>");
  td_num(b, a->levene_w, 4);
  td_p(b, a->levene_p);
  sb_puts(b, "<td></td><td class=\"v\">");
  sb_esc(b, a->levene_note[0] ? a->levene_note
                              : (a->levene_p < a->alpha ? "variances differ" : "variances look equal"));
  sb_puts(b, "</td></tr>\n<tr><td class=\"l\">Kruskal–Wallis H (tie-corrected)</td>");
  td_num(b, a->kruskal_h, 5);
  td_p(b, a->kruskal_p);
  char e2[64];
  fmt_g(e2, sizeof e2, a->kruskal_eta2, 3);
  sb_printf(b, "<td>η² = %s</td><td class=\"v\">", e2);
  sb_esc(b, a->verdict_kruskal);
  sb_puts(b, "</td></tr>\n<tr><td class=\"l\">Interaction ");
  if (a->n_by == 2) {
    sb_esc(b, a->by[0]);
    sb_puts(b, " × ");
    sb_esc(b, a->by[1]);
  }
  sb_puts(b, " (aligned rank transform ANOVA)</td>");
  td_num(b, a->interaction.f, 4);
  td_p(b, a->interaction.p);
  fmt_g(e2, sizeof e2, a->interaction.partial_eta2, 3);
  sb_printf(b, "<td>partial η² = %s</td><td class=\"v\">", e2);
  sb_esc(b, a->verdict_interaction[0] ? a->verdict_interaction : a->interaction_note);
  sb_puts(b, "</td></tr>\n</table>\n");
  if (a->n_pairs) {
    sb_puts(b, "<h3>Pairs: Dunn's test (Holm-adjusted) and Cliff's delta</h3>\n"
               "<table id=\"table-dunn\"><tr><th class=\"l\">pair</th><th>z</th><th>p (Holm)</th>"
               "<th>Cliff's δ</th><th class=\"l\">magnitude</th><th class=\"l\">verdict</th></tr>\n");
    for (size_t i = 0; i < a->n_pairs; i++) {
      const dle_stats_pair *pr = &a->pairs[i];
      char verdict[512];
      dle_analysis_pair_verdict(a, pr, verdict, sizeof verdict);
      sb_printf(b, "<tr%s><td class=\"l\">",
                isfinite(pr->p_holm) && pr->p_holm < a->alpha ? " class=\"sig\"" : "");
      sb_esc(b, a->groups[pr->a].name);
      sb_puts(b, " vs ");
      sb_esc(b, a->groups[pr->b].name);
      sb_puts(b, "</td>");
      td_num(b, pr->z, 4);
      td_p(b, pr->p_holm);
      td_num(b, pr->delta, 3);
      sb_printf(b, "<td class=\"l\">%s</td><td class=\"v\">", pr->magnitude ? pr->magnitude : "");
      sb_esc(b, verdict);
      sb_puts(b, "</td></tr>\n");
    }
    sb_puts(b, "</table>\n");
  }
  if (a->n_corr) {
    sb_puts(b, "<h3>Spearman correlation with ");
    sb_esc(b, a->metric_label);
    sb_puts(b, " (all runs)</h3>\n<table id=\"table-spearman\"><tr><th class=\"l\">column</th>"
               "<th>n</th><th>ρ</th><th>p</th><th class=\"l\">verdict</th></tr>\n");
    for (size_t i = 0; i < a->n_corr; i++) {
      const dle_analysis_corr *c = &a->corr[i];
      sb_puts(b, "<tr><td class=\"l\">");
      sb_esc(b, dle_report_metric_label(c->column));
      sb_printf(b, "</td><td>%zu</td>", c->n);
      td_num(b, c->rho, 3);
      td_p(b, c->p);
      sb_puts(b, "<td class=\"v\">");
      if (c->note[0]) {
        sb_esc(b, c->note);
      } else {
        double r = fabs(c->rho);
        const char *str = r >= 0.7 ? "strong" : (r >= 0.4 ? "moderate" : (r >= 0.1 ? "weak" : "no"));
        sb_printf(b, "%s %s monotonic association%s", str,
                  r < 0.1 ? "" : (c->rho > 0 ? "positive" : "negative"),
                  c->p < a->alpha ? "" : " (not significant)");
      }
      sb_puts(b, "</td></tr>\n");
    }
    sb_puts(b, "</table>\n");
  }
  sb_puts(b, "</section>\n");
}

/* ---------------------------------------------------------------- estimates */

#ifdef DLE_HAVE_ESTIMATE
typedef struct est_run {
  dle_trace tr;
  size_t nb; /* buckets of a downsampled long run (0: full series) */
  dle_epoch *ep;
  size_t nep;
  dle_run_info info;
  double tdp_w, gflops, spe, stab_t;
  int epochs_total;
} est_run;

static double meta_num(const dle_kv *kv, size_t n, const char *k1, const char *k2) {
  const char *v = dle_kv_get(kv, n, k1);
  if (!v && k2) v = dle_kv_get(kv, n, k2);
  if (!v || !*v) return NAN;
  char *end;
  double d = strtod(v, &end);
  return *end == '\0' && isfinite(d) ? d : NAN;
}

static void est_input(const est_run *r, dle_estimate_input *in) {
  dle_estimate_input_init(in);
  in->trace = &r->tr;
  in->trace_buckets = r->nb;
  in->epochs = r->ep;
  in->n_epochs = r->nep;
  in->run_complete = true;
  in->epochs_total = r->epochs_total;
  in->gpu_tdp_w = r->tdp_w;
  in->gflops_forward = r->gflops;
  in->samples_per_epoch = r->spe;
  in->gpu_only = true;
  in->start_s = r->stab_t;
  in->pue = 1;
}

/* Projects run r from in with method m and measures the components it projected: 0 with
 * both figures (joules) when the projection works and the measurement is positive. */
static int project_vs_measured(const est_run *r, const dle_estimate_input *in,
                               dle_estimate_method m, double *pred_j, double *meas_j) {
  dle_estimate_result res;
  dle_error e = {0};
  if (dle_estimate_project(in, m, &res, &e) != 0) return -1;
  double mj;
  if (dle_estimate_measured_j(&r->tr, res.components, &mj, &e) != 0 || !(mj > 0)) return -1;
  *pred_j = res.total_j;
  *meas_j = mj;
  return 0;
}

static void scatter_small(sbuf *b, const char *id, const char *title, const double *pred,
                          const double *meas, size_t n, double rmse) {
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    lo = fmin(lo, fmin(pred[i], meas[i]));
    hi = fmax(hi, fmax(pred[i], meas[i]));
  }
  rp_plot p = {.w = 360, .h = 300, .left = 58, .right = 345, .top = 26, .bottom = 248};
  rp_axis_fit(&p.x, lo / 1e6, hi / 1e6, p.left, p.right, true);
  rp_axis_fit(&p.y, lo / 1e6, hi / 1e6, p.bottom, p.top, true);
  p.y.lo = p.x.lo;
  p.y.hi = p.x.hi;
  p.y.step = p.x.step;
  sb_puts(b, "<figure>");
  rp_svg_open(b, id, p.w, p.h, title);
  rp_frame(b, &p, "measured energy (MJ)", "predicted (MJ)", true, true);
  sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
               "stroke-dasharray=\"4 3\"/>\n",
            p.left, p.bottom, p.right, p.top);
  for (size_t i = 0; i < n; i++)
    sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.2\" fill=\"#0072B2\" fill-opacity=\"0.6\"/>",
              rp_axis_px(&p.x, meas[i] / 1e6), rp_axis_px(&p.y, pred[i] / 1e6));
  sb_printf(b, "\n<text class=\"title\" x=\"%.1f\" y=\"16\">", p.left);
  sb_esc(b, title);
  sb_printf(b, " — RMSE %.3g MJ, n = %zu</text>\n", rmse / 1e6, n);
  rp_svg_close(b);
  sb_puts(b, "</figure>\n");
}

/* Every projection the estimates section draws, for one run at a time: the section
 * loads one trace, projects it every way, keeps the figures and frees the trace, so
 * its memory is that of the largest run, not of all of them. */
enum { EST_NW = 6, EST_NF = 6 };
static const double est_win_s[EST_NW] = {30, 60, 120, 300, 600, 900};
static const int est_win_e[EST_NW] = {1, 2, 3, 5, 8, 10};
static const double est_fr[EST_NF] = {0.05, 0.1, 0.15, 0.2, 0.3, 0.5};

typedef struct est_series {
  double *pred, *meas; /* nr each */
  size_t k;
} est_series;

typedef struct est_figures {
  est_series method[DLE_EST_COUNT];           /* each method, the run's own start */
  dle_estimate_result last[DLE_EST_COUNT];    /* the last run's result of each method */
  est_series window[EST_NW];                  /* step-power by window */
  est_series fraction[DLE_EST_COUNT][EST_NF]; /* each method from a fraction of each run */
} est_figures;

static bool est_series_alloc(est_series *s, size_t nr) {
  s->pred = malloc(nr * sizeof *s->pred);
  s->meas = malloc(nr * sizeof *s->meas);
  s->k = 0;
  return s->pred && s->meas;
}

static void est_series_free(est_series *s) {
  free(s->pred);
  free(s->meas);
}

static void est_push(est_series *s, const est_run *r, const dle_estimate_input *in,
                     dle_estimate_method m) {
  if (project_vs_measured(r, in, m, &s->pred[s->k], &s->meas[s->k]) == 0) s->k++;
}

static void est_project_run(est_figures *f, const est_run *r, bool all_epochs) {
  for (int m = 0; m < DLE_EST_COUNT; m++) {
    dle_estimate_input in;
    est_input(r, &in);
    dle_estimate_result res;
    dle_error e = {0};
    if (dle_estimate_project(&in, (dle_estimate_method)m, &res, &e) != 0) continue;
    double mj;
    if (dle_estimate_measured_j(&r->tr, res.components, &mj, &e) != 0) continue;
    if (!isfinite(res.total_j) || !isfinite(mj)) continue;
    est_series *s = &f->method[m];
    s->pred[s->k] = res.total_j;
    s->meas[s->k] = mj;
    s->k++;
    f->last[m] = res;
  }
  for (size_t w = 0; w < EST_NW; w++) {
    dle_estimate_input in;
    est_input(r, &in);
    if (all_epochs)
      in.window_epochs = est_win_e[w];
    else
      in.window_s = est_win_s[w];
    est_push(&f->window[w], r, &in, DLE_EST_STEP_POWER);
  }
  for (int m = 0; m < DLE_EST_COUNT; m++)
    for (size_t k = 0; k < EST_NF; k++) {
      dle_estimate_input in;
      est_input(r, &in);
      in.at_fraction = est_fr[k];
      in.start_s = NAN; /* detect before the cut-off, not from the whole run */
      est_push(&f->fraction[m][k], r, &in, (dle_estimate_method)m);
    }
}

/* Error vs the fraction of each run seen (evaluate --sweep fraction): every method
 * projected from 5 .. 50 % of each run, its measured duration known; one line per
 * method (MAPE, so methods with different references compare). */
static void error_vs_fraction(sbuf *b, const est_figures *fig) {
  const double *fr = est_fr;
  enum { NF = EST_NF };
  double ys[DLE_EST_COUNT][NF];
  bool any[DLE_EST_COUNT] = {0};
  double ymax = 0;
  for (int m = 0; m < DLE_EST_COUNT; m++)
    for (size_t f = 0; f < NF; f++) {
      ys[m][f] = NAN;
      const est_series *s = &fig->fraction[m][f];
      dle_estimate_errors er;
      dle_error e = {0};
      if (s->k > 0 && dle_estimate_errors_compute(s->pred, s->meas, s->k, &er, &e) == 0 &&
          isfinite(er.mape)) {
        ys[m][f] = 100 * er.mape;
        ymax = fmax(ymax, ys[m][f]);
        any[m] = true;
      }
    }
  int n_lines = 0;
  for (int m = 0; m < DLE_EST_COUNT; m++) n_lines += any[m];
  if (n_lines == 0) return;
  rp_plot p = {.w = 700, .h = 320, .left = 70, .right = 560, .top = 30, .bottom = 268};
  rp_axis_fit(&p.x, 0, 50, p.left, p.right, true);
  rp_axis_fit(&p.y, 0, ymax * 1.05, p.bottom, p.top, true);
  sb_puts(b, "<h3>Error vs fraction of the run seen</h3><figure class=\"narrow\">");
  rp_svg_open(b, "error-fraction", p.w, p.h,
              "mean absolute percentage error versus the fraction of each run seen");
  rp_frame(b, &p, "projection made at (% of the run)", "mean absolute error (%)", true, true);
  int li = 0;
  for (int m = 0; m < DLE_EST_COUNT; m++) {
    if (!any[m]) continue;
    const char *col = rp_palette[li % 8];
    const char *name = dle_estimate_method_name((dle_estimate_method)m);
    sb_printf(b, "<polyline class=\"fraction-line\" data-method=\"%s\" fill=\"none\" "
                 "stroke=\"%s\" stroke-width=\"2\" points=\"", name, col);
    for (size_t f = 0; f < NF; f++)
      if (isfinite(ys[m][f]))
        sb_printf(b, "%.1f,%.1f ", rp_axis_px(&p.x, 100 * fr[f]), rp_axis_px(&p.y, ys[m][f]));
    sb_puts(b, "\"/>\n");
    for (size_t f = 0; f < NF; f++)
      if (isfinite(ys[m][f]))
        sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%s at "
                     "%.0f %%: %.2f %%</title></circle>\n",
                  rp_axis_px(&p.x, 100 * fr[f]), rp_axis_px(&p.y, ys[m][f]), col, name,
                  100 * fr[f], ys[m][f]);
    double ly = p.top + 14 + 16 * li;
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                 "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\" style=\"fill:%s\">%s</text>\n",
              p.right + 10, ly - 4, p.right + 28, ly - 4, col, p.right + 32, ly, col, name);
    li++;
  }
  rp_svg_close(b);
  sb_puts(b, "<figcaption>Each method projects every run from the first 5, 10, 15, 20, 30 "
             "and 50 % of it (its measured duration known), as <code>dlenergy evaluate "
             "--sweep fraction</code>; modelled vs measured.</figcaption></figure>\n");
}

static void section_estimates(sbuf *b, const dle_report_options *o) {
  /* Which runs have a trace to project (60 samples or more), and whether all of them
   * have epochs (the window sweep is in epochs then, else in seconds). */
  size_t nr = 0;
  bool all_epochs = true;
  for (size_t i = 0; i < o->n_runs; i++) {
    dle_run_info info;
    int64_t ns = 0;
    dle_error e = {0};
    if (dle_store_get_run(o->store, o->runs[i], &info, &e) != 0 ||
        dle_store_count_samples(o->store, o->runs[i], &ns, &e) != 0 || ns < 60)
      continue;
    dle_epoch *ep = NULL;
    size_t nep = 0;
    if (dle_store_load_epochs(o->store, o->runs[i], &ep, &nep, &e) != 0) nep = 0;
    free(ep);
    if (nep == 0) all_epochs = false;
    nr++;
  }
  sb_puts(b, "<section id=\"estimates\"><h2>Estimates: predicted vs measured energy</h2>\n");
  if (nr == 0) {
    sb_puts(b, "<p class=\"note\">No selected run has a trace in the store.</p></section>\n");
    return;
  }
  est_figures *fig = calloc(1, sizeof *fig);
  bool ok = fig != NULL;
  for (int m = 0; ok && m < DLE_EST_COUNT; m++) {
    ok = est_series_alloc(&fig->method[m], nr);
    for (size_t k = 0; ok && k < EST_NF; k++) ok = est_series_alloc(&fig->fraction[m][k], nr);
  }
  for (size_t w = 0; ok && w < EST_NW; w++) ok = est_series_alloc(&fig->window[w], nr);
  size_t done = 0;
  for (size_t i = 0; ok && i < o->n_runs && done < nr; i++) {
    est_run r;
    memset(&r, 0, sizeof r);
    dle_error e = {0};
    if (dle_store_get_run(o->store, o->runs[i], &r.info, &e) != 0) continue;
    if (dle_store_load_epochs(o->store, o->runs[i], &r.ep, &r.nep, &e) != 0) r.nep = 0;
    if (dle_estimate_series_load(o->store, o->runs[i], r.ep, r.nep, 0, 0, &r.tr, &r.nb, &e) !=
            0 ||
        r.tr.n < 60) {
      dle_trace_free(&r.tr);
      free(r.ep);
      continue;
    }
    dle_kv *kv = NULL;
    size_t nkv = 0;
    r.tdp_w = r.gflops = r.spe = NAN;
    if (dle_store_get_meta(o->store, o->runs[i], &kv, &nkv, &e) == 0) {
      r.tdp_w = meta_num(kv, nkv, "gpu_tdp_w", "gpu_max_power_limit_w");
      r.gflops = meta_num(kv, nkv, "gflops", "forward_pass_gflop");
      r.spe = meta_num(kv, nkv, "training_size", NULL);
      double et = meta_num(kv, nkv, "epochs_total", "trained_epochs");
      r.epochs_total = isfinite(et) ? (int)et : r.info.epochs_planned;
      dle_kv_free(kv, nkv);
    }
    r.stab_t = NAN;
#ifdef DLE_HAVE_STABILIZE
    dle_stabilize_opts so;
    dle_stabilize_opts_init(&so);
    dle_stabilize_result sr;
    if (dle_estimate_stabilize(&r.tr, r.nb, NAN, r.ep, r.nep, &so, &sr, &e) == 0)
      r.stab_t = sr.t_s;
#endif
    est_project_run(fig, &r, all_epochs);
    done++;
    dle_trace_free(&r.tr);
    free(r.ep);
  }
  sb_printf(b, "<p class=\"note\">Each estimator predicts the run's total GPU energy "
               "(modelled) from what it would know at its cut-off; the reference is the "
               "measured trapezoid integral of the same trace%s. %zu run%s with traces.</p>\n"
               "<div class=\"grid3\">\n",
            nr > 1 ? " (dashed line: perfect prediction)" : "", nr, nr == 1 ? "" : "s");
  sbuf tab = {0}; /* per-method error table, after the scatters */
  bool single = nr == 1;
  sb_printf(&tab, "<table id=\"table-estimates\"><tr><th class=\"l\">method</th><th>runs</th>%s"
                  "<th>RMSE (MJ)</th><th>MAE (MJ)</th><th>mean abs. error</th>"
                  "<th class=\"l\">assumptions</th></tr>\n",
            single ? "<th>predicted (MJ)</th><th>bounds (MJ)</th><th>measured (MJ)</th>" : "");
  for (int m = 0; ok && m < DLE_EST_COUNT; m++) {
    const est_series *s = &fig->method[m];
    size_t k = s->k;
    const dle_estimate_result last = fig->last[m];
    const double *pred = s->pred, *meas = s->meas;
    if (k == 0) continue;
    dle_estimate_errors er;
    dle_error e = {0};
    if (dle_estimate_errors_compute(pred, meas, k, &er, &e) != 0) continue;
    const char *name = dle_estimate_method_name((dle_estimate_method)m);
    if (!single) {
      char id[64];
      snprintf(id, sizeof id, "estimate-%s", name);
      scatter_small(b, id, name, pred, meas, k, er.rmse_j);
    }
    sb_printf(&tab, "<tr><td class=\"l\">%s</td><td>%zu</td>", name, k);
    if (single)
      sb_printf(&tab, "<td>%.4g</td><td>%.4g – %.4g</td><td>%.4g</td>", pred[0] / 1e6,
                last.lower_j / 1e6, last.upper_j / 1e6, meas[0] / 1e6);
    sb_printf(&tab, "<td>%.3g</td><td>%.3g</td><td>%.1f %%</td><td class=\"v\">", er.rmse_j / 1e6,
              er.mae_j / 1e6, 100 * er.mape);
    sb_esc(&tab, single || k == 1 ? last.assumptions : "");
    sb_puts(&tab, "</td></tr>\n");
  }
  sb_puts(b, "</div>\n");
  sb_puts(&tab, "</table>\n");
  if (!tab.oom) sb_puts(b, tab.p);
  sb_free(&tab);
  /* Error vs window length for step-power. */
  size_t nw = EST_NW;
  double xs[EST_NW], ys[EST_NW];
  size_t np = 0;
  for (size_t w = 0; ok && w < nw; w++) {
    const est_series *s = &fig->window[w];
    dle_estimate_errors er;
    dle_error e = {0};
    if (s->k > 0 && dle_estimate_errors_compute(s->pred, s->meas, s->k, &er, &e) == 0 &&
        isfinite(er.mape)) {
      xs[np] = all_epochs ? est_win_e[w] : est_win_s[w] / 60;
      ys[np] = er.mape * 100;
      np++;
    }
  }
  if (np > 0) {
    rp_plot p = {.w = 700, .h = 300, .left = 70, .right = 680, .top = 30, .bottom = 248};
    double ymax = 0;
    for (size_t i = 0; i < np; i++) ymax = fmax(ymax, ys[i]);
    rp_axis_fit(&p.x, 0, xs[np - 1], p.left, p.right, true);
    rp_axis_fit(&p.y, 0, ymax * 1.1, p.bottom, p.top, true);
    sb_puts(b, "<h3>Error vs window length (step-power)</h3><figure class=\"narrow\">");
    rp_svg_open(b, "error-window", p.w, p.h, "mean absolute percentage error versus window");
    rp_frame(b, &p, all_epochs ? "window (epochs)" : "window after the stabilizing point (min)",
             "mean absolute error (%)", true, true);
    sb_puts(b, "<polyline fill=\"none\" stroke=\"#D55E00\" stroke-width=\"2\" points=\"");
    for (size_t i = 0; i < np; i++)
      sb_printf(b, "%.1f,%.1f ", rp_axis_px(&p.x, xs[i]), rp_axis_px(&p.y, ys[i]));
    sb_puts(b, "\"/>\n");
    for (size_t i = 0; i < np; i++)
      sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#D55E00\"><title>%.3g: "
                   "%.2f %%</title></circle>\n",
                rp_axis_px(&p.x, xs[i]), rp_axis_px(&p.y, ys[i]), xs[i], ys[i]);
    rp_svg_close(b);
    sb_puts(b, "<figcaption>Mean absolute percentage error of step-power over the runs "
               "(modelled vs measured) as the averaging window grows.</figcaption></figure>\n");
  }
  if (ok) error_vs_fraction(b, fig);
  sb_puts(b, "</section>\n");
  if (fig) {
    for (int m = 0; m < DLE_EST_COUNT; m++) {
      est_series_free(&fig->method[m]);
      for (size_t k = 0; k < EST_NF; k++) est_series_free(&fig->fraction[m][k]);
    }
    for (size_t w = 0; w < EST_NW; w++) est_series_free(&fig->window[w]);
  }
  free(fig);
}
#endif

/* ---------------------------------------------------------------- document */

static void doc_open(sbuf *b, const char *title, const char *subtitle) {
  sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             "<title>");
  sb_esc(b, title);
  sb_printf(b, "</title><style>%s</style></head>\n<body>\n<header id=\"top\"><h1>", CSS);
  sb_esc(b, title);
  sb_puts(b, "</h1><p>");
  sb_esc(b, subtitle);
  sb_puts(b, "</p></header>\n<main>\n");
}

static void doc_close(sbuf *b) {
  sb_puts(b, "<footer>Generated by dlenergy. Measured figures come from sensors (or the "
             "imported logs); modelled figures from the estimators' formulas. Colours: "
             "Okabe–Ito palette.</footer>\n</main></body></html>\n");
}

int dle_report_render(const dle_report_options *o, char **html, size_t *len, dle_error *err) {
  *html = NULL;
  if (len) *len = 0;
  if (!o) return dle_error_set(err, DLE_EINVAL, "no report options");
  if (!o->table && !(o->store && o->n_runs))
    return dle_error_set(err, DLE_EINVAL, "nothing to report: no table and no runs");
  const char *metric = o->metric ? o->metric : "gpu_energy_mj";
  const char *quality = o->quality ? o->quality : "f1_score";
  static const char *const def_by[] = {"architecture", "environment"};
  const char *const *by = o->n_by ? o->by : def_by;
  size_t n_by_in = o->n_by ? o->n_by : 2;
  const char *use_by[8];
  size_t n_by = 0;
  for (size_t i = 0; i < n_by_in && n_by < 8; i++)
    if (!o->table || dle_table_find_col(o->table, by[i]) >= 0) use_by[n_by++] = by[i];
  dle_analysis *a = NULL;
  int rc = 0;
  if (o->table) {
    if (n_by == 0)
      return dle_error_set(err, DLE_ENOTFOUND, "none of the grouping columns is in the table");
    static const char *const corr[] = {"forward_pass_gflop", "gpu_usage_pct",
                                       "avg_gpu_temperature_c"};
    dle_analysis_options ao = {.by = use_by,
                               .n_by = n_by,
                               .metric = metric,
                               .metric_label = dle_report_metric_label(metric),
                               .quality = quality,
                               .corr = corr,
                               .n_corr = 3,
                               .alpha = o->alpha};
    rc = dle_analyze(o->table, &ao, &a, err);
    if (rc) return rc;
  }
  sbuf b = {0};
  char sub[512];
  if (a && a->n_groups >= 2)
    snprintf(sub, sizeof sub, "%zu runs in %zu groups, compared on %s: %s", a->n_rows,
             a->n_groups, a->metric_label, a->verdict_kruskal);
  else if (a)
    snprintf(sub, sizeof sub, "%zu run%s", a->n_rows, a->n_rows == 1 ? "" : "s");
  else
    snprintf(sub, sizeof sub, "%zu run%s from the run store", o->n_runs, o->n_runs == 1 ? "" : "s");
  doc_open(&b, o->title ? o->title : "dlenergy report", sub);
  colour_map cm = {0};
  if (a && a->n_groups < 2) {
    for (size_t g = 0; g < a->n_groups; g++) colour_of(&cm, a->groups[g].name);
  } else if (a) {
    /* Fix colours in group order so every chart agrees. */
    for (size_t g = 0; g < a->n_groups; g++) colour_of(&cm, a->groups[g].name);
    sb_puts(&b, "<section id=\"summary\"><h2>In short</h2><ul class=\"verdicts\">");
    const char *v[] = {a->verdict_saving, a->verdict_kruskal, a->verdict_interaction,
                       a->verdict_normality};
    for (size_t i = 0; i < 4; i++)
      if (v[i][0]) {
        sb_puts(&b, "<li>");
        sb_esc(&b, v[i]);
        sb_puts(&b, "</li>");
      }
    if (a->quality) {
      sb_puts(&b, "<li>Pareto-efficient configurations (lower ");
      sb_esc(&b, a->metric_label);
      sb_puts(&b, ", higher ");
      sb_esc(&b, a->quality);
      sb_puts(&b, "): ");
      bool first = true;
      for (size_t g = 0; g < a->n_groups; g++)
        if (a->groups[g].pareto) {
          if (!first) sb_puts(&b, "; ");
          sb_esc(&b, a->groups[g].name);
          first = false;
        }
      sb_puts(&b, "</li>");
    }
    if (a->n_dropped)
      sb_printf(&b, "<li>%zu rows skipped: no numeric value for the metric.</li>", a->n_dropped);
    sb_puts(&b, "</ul></section>\n");
  }
  if (o->store && o->n_runs) section_profiles(&b, o, use_by, n_by, metric, &cm);
  if (o->store && o->n_runs && o->n_runs <= (o->max_profiles ? o->max_profiles : 12))
    section_energy(&b, o);
  if (a) {
    section_boxplots(&b, a, &cm);
    if (a->quality) section_pareto(&b, a, &cm);
    if (a->n_groups >= 2) section_tests(&b, a);
  }
#ifdef DLE_HAVE_ESTIMATE
  if (o->store && o->n_runs && o->estimates) section_estimates(&b, o);
#endif
  doc_close(&b);
  colour_map_free(&cm);
  dle_analysis_free(a);
  if (b.oom) {
    sb_free(&b);
    return dle_error_set(err, DLE_ENOMEM, "out of memory rendering the report");
  }
  *html = b.p;
  if (len) *len = b.len;
  return 0;
}

int dle_report_write(const dle_report_options *o, const char *path, dle_error *err) {
  char *html = NULL;
  size_t len = 0;
  int rc = dle_report_render(o, &html, &len, err);
  if (rc) return rc;
  rc = dle_write_file_atomic(path, html, len, err);
  free(html);
  return rc;
}

int dle_report_write_run(dle_store *st, int64_t run_id, const char *path, dle_error *err) {
  dle_run_info info;
  int rc = dle_store_get_run(st, run_id, &info, err);
  if (rc) return rc;
  dle_report_options o;
  dle_report_options_init(&o);
  char title[128];
  snprintf(title, sizeof title, "dlenergy run %lld", (long long)run_id);
  o.title = title;
  o.store = st;
  o.runs = &run_id;
  o.n_runs = 1;
  return dle_report_write(&o, path, err);
}
