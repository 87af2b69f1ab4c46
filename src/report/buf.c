/* buf.c — growable text buffer with HTML escaping; the Okabe–Ito palette. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

const char *const rp_palette[8] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                   "#56B4E9", "#D55E00", "#F0E442", "#000000"};

static bool grow(sbuf *b, size_t extra) {
  if (b->oom) return false;
  if (b->len + extra + 1 <= b->cap) return true;
  size_t nc = b->cap ? b->cap : 4096;
  while (nc < b->len + extra + 1) nc *= 2;
  char *p = realloc(b->p, nc);
  if (!p) {
    b->oom = true;
    return false;
  }
  b->p = p;
  b->cap = nc;
  return true;
}

void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[512];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  if (!grow(b, (size_t)n)) return;
  if ((size_t)n < sizeof small) {
    memcpy(b->p + b->len, small, (size_t)n + 1);
  } else {
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  b->len += (size_t)n;
}

void sb_puts(sbuf *b, const char *s) {
  size_t n = strlen(s);
  if (!grow(b, n)) return;
  memcpy(b->p + b->len, s, n + 1);
  b->len += n;
}

void sb_esc(sbuf *b, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': sb_puts(b, "&amp;"); break;
    case '<': sb_puts(b, "&lt;"); break;
    case '>': sb_puts(b, "&gt;"); break;
    case '"': sb_puts(b, "&quot;"); break;
    case '\'': sb_puts(b, "&#39;"); break;
    default:
      if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') {
        sb_puts(b, "\xEF\xBF\xBD"); /* control characters are not valid HTML text */
      } else if (grow(b, 1)) {
        b->p[b->len++] = *s;
        b->p[b->len] = '\0';
      }
    }
  }
}

void sb_free(sbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

char *dle_report_escape(const char *s) {
  sbuf b = {0};
  sb_puts(&b, "");
  sb_esc(&b, s ? s : "");
  if (b.oom) {
    sb_free(&b);
    return NULL;
  }
  return b.p;
}
