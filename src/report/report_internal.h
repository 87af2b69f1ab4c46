/* report_internal.h — the report module's private helpers: a growable text buffer
 * and SVG plotting primitives. */
#ifndef DLE_REPORT_INTERNAL_H
#define DLE_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "dlenergy/report.h"

typedef struct sbuf {
  char *p;
  size_t len, cap;
  bool oom; /* sticky: an allocation failed; the text is incomplete */
} sbuf;

void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_puts(sbuf *b, const char *s);
void sb_esc(sbuf *b, const char *s); /* HTML-escaped */
void sb_free(sbuf *b);

/* Okabe–Ito palette, colour-blind safe (black last). */
extern const char *const rp_palette[8];

/* A linear axis with "nice" ticks. */
typedef struct rp_axis {
  double lo, hi;       /* data range shown */
  double step;         /* tick spacing */
  double px0, px1;     /* pixel positions of lo and hi */
} rp_axis;

void rp_axis_fit(rp_axis *ax, double lo, double hi, double px0, double px1, bool zero);
double rp_axis_px(const rp_axis *ax, double v);
/* Tick label with just enough decimals for the step. */
void rp_tick_label(const rp_axis *ax, double v, char *buf, size_t n);

/* Frame: plot area rectangle, grid lines, tick labels and axis titles (escaped). */
typedef struct rp_plot {
  double w, h;          /* SVG viewBox size */
  double left, right, top, bottom; /* plot area edges in px */
  rp_axis x, y;
} rp_plot;

void rp_svg_open(sbuf *b, const char *id, double w, double h, const char *aria);
void rp_svg_close(sbuf *b);
void rp_frame(sbuf *b, const rp_plot *p, const char *xlabel, const char *ylabel, bool xgrid,
              bool ygrid);

#endif
