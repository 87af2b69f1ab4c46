/* epoch_regex.c — epoch events from a program's printed progress (--epoch-regex).
 * See include/dlenergy/markers.h. */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/markers.h"

struct dle_epoch_regex {
  regex_t re;
  size_t ngroups;
  char line[DLE_MARKER_LINE_MAX + 1];
  size_t len;
  int64_t open_epoch; /* -1 when none */
  int64_t total;      /* last epochs_total emitted, -1 when none */
};

int dle_epoch_regex_new(const char *pattern, dle_epoch_regex **out, dle_error *err) {
  *out = NULL;
  if (!pattern || !*pattern || strcmp(pattern, "keras") == 0) pattern = DLE_EPOCH_REGEX_KERAS;
  dle_epoch_regex *rx = calloc(1, sizeof *rx);
  if (!rx) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  int rc = regcomp(&rx->re, pattern, REG_EXTENDED);
  if (rc != 0) {
    char msg[200];
    regerror(rc, &rx->re, msg, sizeof msg);
    free(rx);
    return dle_error_set(err, DLE_EINVAL, "epoch regex '%s': %s", pattern, msg);
  }
  rx->ngroups = rx->re.re_nsub;
  if (rx->ngroups < 1) {
    regfree(&rx->re);
    free(rx);
    return dle_error_set(err, DLE_EINVAL,
                         "epoch regex '%s' has no group: group 1 must capture the epoch number",
                         pattern);
  }
  rx->open_epoch = -1;
  rx->total = -1;
  *out = rx;
  return DLE_OK;
}

void dle_epoch_regex_free(dle_epoch_regex *rx) {
  if (!rx) return;
  regfree(&rx->re);
  free(rx);
}

/* Decimal digits of a group, 0..INT32_MAX, or -1. */
static int64_t group_number(const char *s, const regmatch_t *m) {
  if (m->rm_so < 0 || m->rm_eo <= m->rm_so || m->rm_eo - m->rm_so > 10) return -1;
  int64_t v = 0;
  for (regoff_t i = m->rm_so; i < m->rm_eo; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v > INT32_MAX ? -1 : v;
}

static void emit(dle_marker_kind kind, int64_t value, double t_s, dle_marker_cb cb, void *user) {
  dle_marker_event ev;
  memset(&ev, 0, sizeof ev);
  ev.kind = kind;
  ev.value = value;
  ev.t_s = t_s;
  if (cb) cb(&ev, user);
}

static void match_line(dle_epoch_regex *rx, double t_s, dle_marker_cb cb, void *user) {
  rx->line[rx->len] = '\0';
  rx->len = 0;
  regmatch_t m[3];
  if (regexec(&rx->re, rx->line, 3, m, 0) != 0) return;
  int64_t epoch = group_number(rx->line, &m[1]);
  if (epoch < 0 || epoch == rx->open_epoch) return;
  if (rx->ngroups >= 2) {
    int64_t total = group_number(rx->line, &m[2]);
    if (total >= 0 && total != rx->total) {
      rx->total = total;
      emit(DLE_MARKER_EPOCHS_TOTAL, total, t_s, cb, user);
    }
  }
  if (rx->open_epoch >= 0) emit(DLE_MARKER_EPOCH_END, rx->open_epoch, t_s, cb, user);
  rx->open_epoch = epoch;
  emit(DLE_MARKER_EPOCH_BEGIN, epoch, t_s, cb, user);
}

void dle_epoch_regex_feed(dle_epoch_regex *rx, const char *buf, size_t n, double t_s,
                          dle_marker_cb cb, void *user) {
  for (size_t i = 0; i < n; i++) {
    char c = buf[i];
    if (c == '\n' || c == '\r') {
      if (rx->len) match_line(rx, t_s, cb, user);
      continue;
    }
    /* Past the bound the rest of the line is not looked at. */
    if (rx->len < DLE_MARKER_LINE_MAX) rx->line[rx->len++] = c == '\0' ? ' ' : c;
  }
}

void dle_epoch_regex_close(dle_epoch_regex *rx, double t_s, dle_marker_cb cb, void *user) {
  if (rx->len) match_line(rx, t_s, cb, user);
  if (rx->open_epoch >= 0) emit(DLE_MARKER_EPOCH_END, rx->open_epoch, t_s, cb, user);
  rx->open_epoch = -1;
}

int64_t dle_epoch_regex_open_epoch(const dle_epoch_regex *rx) { return rx->open_epoch; }
