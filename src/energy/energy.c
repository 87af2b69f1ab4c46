/* energy.c — trapezoid integrals, window energy and run summaries (see energy.h).
 *
 * The window integral clips each trapezoid to the window and interpolates power
 * linearly at the clip points. Because the interpolated power lies on the same line
 * as the trapezoid's top edge, the two pieces of a split interval add up to the
 * whole interval's area: adjacent windows sum to the whole without double counting. */
#include "dlenergy/energy.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

double dle_ram_power_w(double rss_mib, double ram_w_per_gb) {
  if (isnan(rss_mib) || isnan(ram_w_per_gb)) return NAN;
  return ram_w_per_gb * rss_mib / 1024.0;
}

static const char *const comp_names[DLE_COMP_COUNT] = {"gpu", "cpu", "dram", "ram"};

const char *dle_component_name(dle_component c) {
  if ((int)c < 0 || c >= DLE_COMP_COUNT) return "?";
  return comp_names[c];
}

int dle_component_parse(const char *s, dle_component *out) {
  if (!s || !out) return DLE_EINVAL;
  for (int i = 0; i < DLE_COMP_COUNT; i++)
    if (strcasecmp(s, comp_names[i]) == 0) {
      *out = (dle_component)i;
      return DLE_OK;
    }
  return DLE_EINVAL;
}

const double *dle_trace_component_w(const dle_trace *t, dle_component c) {
  if (!t) return NULL;
  switch (c) {
    case DLE_COMP_GPU: return t->gpu_power_w;
    case DLE_COMP_CPU: return t->cpu_power_w;
    case DLE_COMP_DRAM: return t->dram_power_w;
    case DLE_COMP_RAM: return t->ram_power_w;
    default: return NULL;
  }
}

static int valid(const double *t_s, const double *p_w, size_t i) {
  return !isnan(t_s[i]) && !isnan(p_w[i]);
}

int dle_energy_trapezoid_j(const double *t_s, const double *p_w, size_t n, double *out_j) {
  if (!out_j || (n && (!t_s || !p_w))) return DLE_EINVAL;
  double e = 0;
  int any = 0;
  for (size_t i = 0; i < n; i++) {
    if (!valid(t_s, p_w, i)) continue;
    any = 1;
    if (i == 0 || !valid(t_s, p_w, i - 1)) continue;
    double dt = t_s[i] - t_s[i - 1];
    if (dt < 0) return DLE_EINVAL;
    e += dt * (p_w[i] + p_w[i - 1]) / 2;
  }
  *out_j = any ? e : NAN;
  return DLE_OK;
}

/* Power on the segment (ta,pa)-(tb,pb) at time x, ta <= x <= tb. */
static double lerp_at(double ta, double pa, double tb, double pb, double x) {
  if (x <= ta) return pa;
  if (x >= tb) return pb;
  return pa + (pb - pa) * ((x - ta) / (tb - ta));
}

int dle_energy_between_j(const double *t_s, const double *p_w, size_t n, double t0_s,
                         double t1_s, double *out_j) {
  if (!out_j || (n && (!t_s || !p_w)) || isnan(t0_s) || isnan(t1_s) || t1_s < t0_s)
    return DLE_EINVAL;
  /* First sample index with t >= t0 (binary search over the non-decreasing times;
   * NaN times are treated as not-less so the search stays defined). */
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t_s[mid] < t0_s)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t start = lo > 0 ? lo - 1 : 0; /* the interval that straddles t0 */
  double e = 0;
  int any = 0;
  for (size_t i = start; i < n; i++) {
    if (valid(t_s, p_w, i)) any = 1;
    if (i == 0) continue;
    if (!valid(t_s, p_w, i) || !valid(t_s, p_w, i - 1)) continue;
    double ta = t_s[i - 1], tb = t_s[i];
    if (tb < ta) return DLE_EINVAL;
    if (ta >= t1_s) break;
    double a = ta > t0_s ? ta : t0_s;
    double b = tb < t1_s ? tb : t1_s;
    if (b <= a) continue;
    double pa = lerp_at(ta, p_w[i - 1], tb, p_w[i], a);
    double pb = lerp_at(ta, p_w[i - 1], tb, p_w[i], b);
    e += (b - a) * (pa + pb) / 2;
  }
  *out_j = any ? e : NAN;
  return DLE_OK;
}

static int column_has_data(const double *col, size_t n) {
  if (!col) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isnan(col[i])) return 1;
  return 0;
}

/* Cumulative headline counter energy at time x (interpolated; clamped to the trace). */
static double counter_at(const dle_trace *t, double x) {
  const double *c = t->gpu_energy_counter_j;
  size_t prev = SIZE_MAX;
  for (size_t i = 0; i < t->n; i++) {
    if (isnan(c[i]) || isnan(t->t_s[i])) continue;
    if (t->t_s[i] >= x) {
      if (prev == SIZE_MAX) return c[i];
      return lerp_at(t->t_s[prev], c[prev], t->t_s[i], c[i], x);
    }
    prev = i;
  }
  return prev == SIZE_MAX ? NAN : c[prev];
}

int dle_energy_per_epoch(const dle_trace *t, const dle_epoch *ep, size_t n_ep,
                         dle_component c, double *out_j, dle_error *err) {
  if (!t || (n_ep && (!ep || !out_j)))
    return dle_error_set(err, DLE_EINVAL, "per-epoch energy: missing argument");
  const double *p = dle_trace_component_w(t, c);
  if (!p && t->n) return dle_error_set(err, DLE_EINVAL, "per-epoch energy: bad component");
  int present = t->n > 0 && column_has_data(p, t->n);
  /* GPU energy from the counters of the headline devices where every one has
   * them: the epoch edges interpolated on the cumulative counter. */
  int counter = c == DLE_COMP_GPU && t->gpus_selected && t->gpu_energy_counter_j &&
                column_has_data(t->gpu_energy_counter_j, t->n);
  double trace_begin = t->n ? t->t_s[0] : NAN, trace_end = t->n ? t->t_s[t->n - 1] : NAN;
  double prev_end = trace_begin;
  for (size_t k = 0; k < n_ep; k++) {
    double b = !isnan(ep[k].t_begin_s) ? ep[k].t_begin_s : prev_end;
    double e = !isnan(ep[k].t_end_s) ? ep[k].t_end_s : trace_end;
    if (isnan(b) || isnan(e)) {
      out_j[k] = NAN;
      continue;
    }
    if (e < b)
      return dle_error_set(err, DLE_EINVAL,
                           "epoch %d ends (%.3f s) before it begins (%.3f s)", (int)ep[k].index,
                           e, b);
    if (!present) {
      out_j[k] = NAN;
    } else if (counter) {
      out_j[k] = counter_at(t, e) - counter_at(t, b);
    } else {
      int rc = dle_energy_between_j(t->t_s, p, t->n, b, e, &out_j[k]);
      if (rc)
        return dle_error_set(err, rc, "epoch %d: trace times go backwards", (int)ep[k].index);
    }
    prev_end = e;
  }
  return DLE_OK;
}

int dle_source_is_measured(const char *source) {
  if (!source) return 0;
  return strcmp(source, "nvml") == 0 || strcmp(source, "nvidia-smi") == 0 ||
         strcmp(source, "rapl") == 0;
}

double dle_emissions_g(double energy_j, double g_per_kwh) {
  return energy_j / 3.6e6 * g_per_kwh;
}

/* Mean of the non-NaN values; NaN when there are none. */
static double mean_valid(const double *p, size_t n) {
  double sum = 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!isnan(p[i])) sum += p[i], k++;
  return k ? sum / (double)k : NAN;
}

/* Trapezoid of one GPU's column: a missing reading is bridged linearly between
 * its neighbours (a gap for this device, not a hole) while another GPU still has a
 * reading at that row; across rows where no GPU has one (an import's pause, a
 * stalled sampler) nothing is integrated, for every device alike. */
static int trapezoid_bridged(const dle_trace *t, const double *p_w, double *out_j) {
  double e = 0;
  size_t prev = SIZE_MAX;
  for (size_t i = 0; i < t->n; i++) {
    if (!valid(t->t_s, p_w, i)) continue;
    if (prev != SIZE_MAX) {
      double dt = t->t_s[i] - t->t_s[prev];
      if (dt < 0) return DLE_EINVAL;
      /* rows prev..i: integrate the alive steps of the linear bridge */
      for (size_t k = prev; k < i; k++) {
        if (!dle_trace_gpu_row_alive(t, k) || !dle_trace_gpu_row_alive(t, k + 1)) continue;
        if (isnan(t->t_s[k]) || isnan(t->t_s[k + 1])) continue;
        double fa = dt > 0 ? (t->t_s[k] - t->t_s[prev]) / dt : 0;
        double fb = dt > 0 ? (t->t_s[k + 1] - t->t_s[prev]) / dt : 0;
        double va = k == prev ? p_w[prev] : p_w[prev] + (p_w[i] - p_w[prev]) * fa;
        double vb = k + 1 == i ? p_w[i] : p_w[prev] + (p_w[i] - p_w[prev]) * fb;
        e += (t->t_s[k + 1] - t->t_s[k]) * (va + vb) / 2;
      }
    }
    prev = i;
  }
  *out_j = prev == SIZE_MAX ? NAN : e;
  return DLE_OK;
}

/* The column reductions a summary is made of, from the whole trace; the streaming
 * summary (energy_stream.c) computes the same reductions chunk by chunk. */
int dle_energy_parts_from_trace(const dle_trace *t, dle_energy_parts *pt, dle_error *err) {
  memset(pt, 0, sizeof *pt);
  pt->samples = t->n;
  pt->duration_s = t->n ? t->t_s[t->n - 1] - t->t_s[0] : 0;
  if (isnan(pt->duration_s)) pt->duration_s = NAN;
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    const double *p = dle_trace_component_w(t, (dle_component)c);
    pt->trapezoid_j[c] = pt->mean_w[c] = NAN;
    pt->has[c] = t->n && column_has_data(p, t->n);
    if (!pt->has[c]) continue;
    int rc = dle_energy_trapezoid_j(t->t_s, p, t->n, &pt->trapezoid_j[c]);
    if (rc)
      return dle_error_set(err, rc, "energy summary: sample times go backwards (%s)",
                           comp_names[c]);
    pt->mean_w[c] = mean_valid(p, t->n);
  }
  pt->n_devices = t->n_gpus;
  for (uint32_t d = 0; d < t->n_gpus && d < DLE_MAX_GPUS; d++) {
    const double *p = t->dev_power_w[d];
    pt->device_index[d] = t->dev_index[d];
    pt->device_headline[d] = t->dev_headline[d];
    pt->device_has[d] = p && column_has_data(p, t->n);
    pt->device_integral_j[d] = pt->device_counter_j[d] = pt->device_mean_w[d] = NAN;
    if (!pt->device_has[d]) continue;
    if (trapezoid_bridged(t, p, &pt->device_integral_j[d]))
      return dle_error_set(err, DLE_EINVAL, "energy summary: sample times go backwards (gpu %u)",
                           t->dev_index[d]);
    pt->device_counter_j[d] = dle_trace_device_counter_j(t, d);
    pt->device_mean_w[d] = mean_valid(p, t->n);
  }
  /* First and last valid values of the counter columns. */
  const double *cols[3] = {t->gpu_energy_counter_j, t->cpu_energy_counter_j,
                           t->dram_energy_counter_j};
  double *first[3] = {&pt->gpu_counter_first_j, &pt->rapl_first_j[0], &pt->rapl_first_j[1]};
  double *last[3] = {&pt->gpu_counter_last_j, &pt->rapl_last_j[0], &pt->rapl_last_j[1]};
  for (int k = 0; k < 3; k++) {
    *first[k] = *last[k] = NAN;
    for (size_t i = 0; cols[k] && i < t->n; i++)
      if (!isnan(cols[k][i])) {
        if (isnan(*first[k])) *first[k] = cols[k][i];
        *last[k] = cols[k][i];
      }
  }
  return DLE_OK;
}

/* Mean power = energy / duration, or the plain mean of the samples (mean_w) when no
 * time passed. */
static double weighted_or_mean(double energy_j, double duration_s, double mean_w) {
  if (isfinite(energy_j) && duration_s > 0) return energy_j / duration_s;
  return mean_w;
}

void dle_energy_compose(const dle_energy_parts *pt, const dle_run_info *info,
                        dle_energy_summary *out) {
  memset(out, 0, sizeof *out);
  out->samples = pt->samples;
  out->duration_s = pt->duration_s;
  const char *src[DLE_COMP_COUNT] = {"unknown", "unknown", "unknown", "unknown"};
  if (info) {
    src[DLE_COMP_GPU] = info->gpu_source;
    src[DLE_COMP_CPU] = info->cpu_source;
    src[DLE_COMP_DRAM] = info->dram_source;
    src[DLE_COMP_RAM] = info->ram_source;
  }
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    out->energy_j[c] = NAN;
    out->avg_power_w[c] = out->sample_mean_w[c] = NAN;
    if (pt->has[c]) {
      out->energy_j[c] = pt->trapezoid_j[c];
      out->avg_power_w[c] = weighted_or_mean(out->energy_j[c], out->duration_s, pt->mean_w[c]);
      out->sample_mean_w[c] = pt->mean_w[c];
      snprintf(out->source[c], sizeof out->source[c], "%s",
               src[c][0] && strcmp(src[c], "none") != 0 ? src[c] : "unknown");
      out->measured[c] = dle_source_is_measured(out->source[c]);
    } else {
      snprintf(out->source[c], sizeof out->source[c], "none");
      out->measured[c] = 0;
    }
  }
  /* Per device: the NVML counter where there is one (reset-safe), the power
   * integral beside it as the cross-check; the GPU figure is the sum over the
   * headline devices, so the devices always add up to it. */
  out->gpu_counter_j = out->gpu_integral_j = out->gpu_all_j = NAN;
  out->n_devices = pt->n_devices;
  double head_j = 0, head_int = 0, head_cnt = 0, all_j = 0;
  int n_head = 0, n_all = 0, head_cnt_ok = 1;
  for (uint32_t d = 0; d < pt->n_devices && d < DLE_MAX_GPUS; d++) {
    out->device_index[d] = pt->device_index[d];
    out->device_energy_j[d] = out->device_avg_power_w[d] = NAN;
    out->device_counter_j[d] = out->device_integral_j[d] = NAN;
    out->device_headline[d] = pt->device_headline[d];
    if (!pt->device_has[d]) continue;
    out->device_integral_j[d] = pt->device_integral_j[d];
    out->device_counter_j[d] = pt->device_counter_j[d];
    out->device_energy_j[d] =
        isnan(out->device_counter_j[d]) ? out->device_integral_j[d] : out->device_counter_j[d];
    out->device_avg_power_w[d] =
        weighted_or_mean(out->device_energy_j[d], out->duration_s, pt->device_mean_w[d]);
    all_j += out->device_energy_j[d], n_all++;
    if (!pt->device_headline[d]) continue;
    head_j += out->device_energy_j[d], n_head++;
    head_int += out->device_integral_j[d];
    if (isnan(out->device_counter_j[d])) head_cnt_ok = 0;
    else head_cnt += out->device_counter_j[d];
  }
  if (n_all) out->gpu_all_j = all_j;
  if (n_head) {
    out->energy_j[DLE_COMP_GPU] = head_j;
    out->gpu_integral_j = head_int;
    if (head_cnt_ok) out->gpu_counter_j = head_cnt;
    out->gpu_counter_disagrees = head_cnt_ok && head_int > 0 &&
                                 fabs(head_cnt - head_int) > 0.05 * head_int;
  } else if (!n_all) {
    if (!isnan(pt->gpu_counter_first_j))
      out->gpu_counter_j = pt->gpu_counter_last_j - pt->gpu_counter_first_j;
  }
  if (n_all && !n_head) {
    /* No headline device has readings: the GPU figure is absent, not zero. */
    out->energy_j[DLE_COMP_GPU] = NAN;
  }
  /* RAPL: the wrap-corrected counter, not the integral of powers derived from it. */
  const int rc_comp[2] = {DLE_COMP_CPU, DLE_COMP_DRAM};
  for (int k = 0; k < 2; k++) {
    if (strcmp(out->source[rc_comp[k]], "rapl") != 0) continue;
    double first = pt->rapl_first_j[k], last = pt->rapl_last_j[k];
    if (!isnan(first) && last >= first) out->energy_j[rc_comp[k]] = last - first;
  }
  /* The GPU figure may now come from the counters (and CPU/DRAM from RAPL's):
   * each mean power is its final energy over the duration. */
  for (int c = 0; c < DLE_COMP_COUNT; c++)
    if (!isnan(out->energy_j[c]))
      out->avg_power_w[c] = weighted_or_mean(out->energy_j[c], out->duration_s, pt->mean_w[c]);
    else
      out->avg_power_w[c] = NAN;
  double total = 0;
  int any = 0;
  const int parts[] = {DLE_COMP_GPU, DLE_COMP_CPU};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (!isnan(out->energy_j[parts[i]])) total += out->energy_j[parts[i]], any = 1;
  if (!isnan(out->energy_j[DLE_COMP_DRAM]))
    total += out->energy_j[DLE_COMP_DRAM], any = 1;
  else if (!isnan(out->energy_j[DLE_COMP_RAM]))
    total += out->energy_j[DLE_COMP_RAM], any = 1;
  out->total_j = any ? total : NAN;

  out->pue = info && isfinite(info->pue) && info->pue >= 1 ? info->pue : 1.0;
  out->facility_j = out->total_j * out->pue;
  out->carbon_g_per_kwh = info ? info->carbon_g_per_kwh : NAN;
  out->emissions_g = isnan(out->carbon_g_per_kwh) ? NAN
                                                  : dle_emissions_g(out->facility_j,
                                                                    out->carbon_g_per_kwh);
}

int dle_energy_summarize(const dle_trace *t, const dle_run_info *info,
                         dle_energy_summary *out, dle_error *err) {
  if (!t || !out) return dle_error_set(err, DLE_EINVAL, "energy summary: missing argument");
  dle_energy_parts pt;
  int rc = dle_energy_parts_from_trace(t, &pt, err);
  if (rc) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  dle_energy_compose(&pt, info, out);
  return DLE_OK;
}

void dle_format_energy(double j, const char *missing, char *buf, size_t n) {
  if (!isfinite(j)) {
    snprintf(buf, n, "%s", missing);
    return;
  }
  double a = fabs(j);
  if (a > 0 && a < 0.05)
    snprintf(buf, n, "%.2g J", j);
  else if (a < 1e3)
    snprintf(buf, n, "%.1f J", j);
  else if (a < 1e6)
    snprintf(buf, n, "%.2f kJ", j / 1e3);
  else
    snprintf(buf, n, "%.3f MJ", j / 1e6);
}
