/* svg.c — axes with nice ticks and the plot frame shared by every chart. */
#include <math.h>
#include <stdio.h>

#include "report_internal.h"

static double nice_step(double range, int target) {
  if (!(range > 0)) return 1;
  double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
  double nf = f < 1.5 ? 1 : (f < 3 ? 2 : (f < 7 ? 5 : 10));
  return nf * mag;
}

void rp_axis_fit(rp_axis *ax, double lo, double hi, double px0, double px1, bool zero) {
  if (!isfinite(lo) || !isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (zero && lo > 0) lo = 0;
  if (zero && hi < 0) hi = 0;
  if (hi - lo <= 0) {
    double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  double step = nice_step(hi - lo, 5);
  ax->lo = floor(lo / step) * step;
  ax->hi = ceil(hi / step) * step;
  if (ax->hi - ax->lo < 1e-12) ax->hi = ax->lo + step;
  ax->step = step;
  ax->px0 = px0;
  ax->px1 = px1;
}

double rp_axis_px(const rp_axis *ax, double v) {
  return ax->px0 + (v - ax->lo) / (ax->hi - ax->lo) * (ax->px1 - ax->px0);
}

void rp_tick_label(const rp_axis *ax, double v, char *buf, size_t n) {
  int dec = 0;
  if (ax->step < 1) dec = (int)ceil(-log10(ax->step) - 1e-9);
  if (dec > 6) dec = 6;
  if (fabs(v) < ax->step * 1e-6) v = 0;
  if (fabs(v) >= 1e6 || (fabs(v) > 0 && fabs(v) < 1e-4))
    snprintf(buf, n, "%.3g", v);
  else
    snprintf(buf, n, "%.*f", dec, v);
}

void rp_svg_open(sbuf *b, const char *id, double w, double h, const char *aria) {
  sb_printf(b, "<svg id=\"");
  sb_esc(b, id);
  sb_printf(b, "\" class=\"plot\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", w, h);
  sb_esc(b, aria);
  sb_puts(b, "\" xmlns=\"http://www.w3.org/2000/svg\">\n");
}

void rp_svg_close(sbuf *b) { sb_puts(b, "</svg>\n"); }

void rp_frame(sbuf *b, const rp_plot *p, const char *xlabel, const char *ylabel, bool xgrid,
              bool ygrid) {
  char lab[64];
  sb_printf(b, "<rect class=\"area\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
            p->left, p->top, p->right - p->left, p->bottom - p->top);
  if (xgrid || xlabel) {
    int guard = 0;
    for (double v = p->x.lo; v <= p->x.hi + p->x.step * 1e-6 && guard < 200; v += p->x.step, guard++) {
      double x = rp_axis_px(&p->x, v);
      if (xgrid)
        sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x,
                  p->top, x, p->bottom);
      rp_tick_label(&p->x, v, lab, sizeof lab);
      sb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x,
                p->bottom + 16, lab);
    }
  }
  if (ygrid) {
    int guard = 0;
    for (double v = p->y.lo; v <= p->y.hi + p->y.step * 1e-6 && guard < 200; v += p->y.step, guard++) {
      double y = rp_axis_px(&p->y, v);
      sb_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->left,
                y, p->right, y);
      rp_tick_label(&p->y, v, lab, sizeof lab);
      sb_printf(b, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                p->left - 6, y + 4, lab);
    }
  }
  if (xlabel) {
    sb_printf(b, "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
              (p->left + p->right) / 2, p->bottom + 36);
    sb_esc(b, xlabel);
    sb_puts(b, "</text>\n");
  }
  if (ylabel) {
    double cy = (p->top + p->bottom) / 2;
    sb_printf(b, "<text class=\"axis\" transform=\"translate(%.1f %.1f) rotate(-90)\" "
                 "text-anchor=\"middle\">", p->left - 46, cy);
    sb_esc(b, ylabel);
    sb_puts(b, "</text>\n");
  }
}
