/* markers.c — the marker line protocol, the bounded stream reader and the channels.
 * See include/dlenergy/markers.h. */
#define _GNU_SOURCE /* pipe2 */
#include "dlenergy/markers.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- line parsing ---- */

/* True when s[0..len) is well-formed UTF-8 without C0 controls (tab allowed) or DEL. */
static bool valid_text(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i];
    if (c < 0x80) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
      i++;
      continue;
    }
    size_t need;
    unsigned min, cp;
    if ((c & 0xe0) == 0xc0) {
      need = 1, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      need = 2, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      need = 3, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (len - i <= need) return false;
    for (size_t k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += need + 1;
  }
  return true;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Next token of line[*pos..len): sets *tok and *tlen, returns false at the end. */
static bool next_token(const char *line, size_t len, size_t *pos, const char **tok,
                       size_t *tlen) {
  size_t i = *pos;
  while (i < len && is_space(line[i])) i++;
  if (i >= len) {
    *pos = i;
    return false;
  }
  size_t j = i;
  while (j < len && !is_space(line[j])) j++;
  *tok = line + i;
  *tlen = j - i;
  *pos = j;
  return true;
}

static bool tok_is(const char *tok, size_t tlen, const char *word) {
  return strlen(word) == tlen && memcmp(tok, word, tlen) == 0;
}

/* A non-negative decimal that fits in int32 (epoch numbers and counts). */
static bool parse_count(const char *tok, size_t tlen, int64_t *out) {
  if (tlen == 0 || tlen > 10) return false;
  int64_t v = 0;
  for (size_t i = 0; i < tlen; i++) {
    if (tok[i] < '0' || tok[i] > '9') return false;
    v = v * 10 + (tok[i] - '0');
  }
  if (v > INT32_MAX) return false;
  *out = v;
  return true;
}

/* Appends the remaining key=value tokens to ev->text; requires at least min_pairs. */
static int parse_pairs(const char *line, size_t len, size_t pos, size_t min_pairs,
                       dle_marker_event *ev, dle_error *err) {
  size_t out = 0, pairs = 0;
  const char *tok;
  size_t tlen;
  while (next_token(line, len, &pos, &tok, &tlen)) {
    const char *eq = memchr(tok, '=', tlen);
    if (!eq || eq == tok)
      return dle_error_set(err, DLE_EPARSE, "'%.*s' is not key=value", (int)(tlen > 40 ? 40 : tlen),
                           tok);
    if (out + tlen + 2 > sizeof ev->text)
      return dle_error_set(err, DLE_EPARSE, "key=value pairs longer than %d bytes",
                           DLE_MARKER_TEXT_MAX - 1);
    if (out) ev->text[out++] = ' ';
    memcpy(ev->text + out, tok, tlen);
    out += tlen;
    pairs++;
  }
  ev->text[out] = '\0';
  if (pairs < min_pairs) return dle_error_set(err, DLE_EPARSE, "expected key=value pairs");
  return DLE_OK;
}

int dle_marker_parse_line(const char *line, size_t len, dle_marker_event *ev, dle_error *err) {
  if (!line || !ev) return dle_error_set(err, DLE_EINVAL, "no line or event");
  if (len && line[len - 1] == '\r') len--;
  memset(ev, 0, sizeof *ev);
  ev->t_s = NAN;
  if (!valid_text((const unsigned char *)line, len))
    return dle_error_set(err, DLE_EPARSE, "not UTF-8 text (or control characters)");
  size_t pos = 0, tlen = 0;
  const char *verb = NULL;
  if (!next_token(line, len, &pos, &verb, &tlen))
    return dle_error_set(err, DLE_EPARSE, "empty line");
  const char *arg;
  size_t alen;
  if (tok_is(verb, tlen, "meta")) {
    ev->kind = DLE_MARKER_META;
    return parse_pairs(line, len, pos, 1, ev, err);
  }
  if (tok_is(verb, tlen, "epochs_total"))
    ev->kind = DLE_MARKER_EPOCHS_TOTAL;
  else if (tok_is(verb, tlen, "epoch_begin"))
    ev->kind = DLE_MARKER_EPOCH_BEGIN;
  else if (tok_is(verb, tlen, "epoch_end"))
    ev->kind = DLE_MARKER_EPOCH_END;
  else
    return dle_error_set(err, DLE_ENOTFOUND, "unknown verb '%.*s'", (int)(tlen > 40 ? 40 : tlen),
                         verb);
  if (!next_token(line, len, &pos, &arg, &alen))
    return dle_error_set(err, DLE_EPARSE, "%.*s needs a number", (int)tlen, verb);
  if (!parse_count(arg, alen, &ev->value))
    return dle_error_set(err, DLE_EPARSE, "%.*s: '%.*s' is not a number in 0..%d", (int)tlen, verb,
                         (int)(alen > 40 ? 40 : alen), arg, INT32_MAX);
  if (ev->kind == DLE_MARKER_EPOCH_END) return parse_pairs(line, len, pos, 0, ev, err);
  const char *extra;
  size_t elen;
  if (next_token(line, len, &pos, &extra, &elen))
    return dle_error_set(err, DLE_EPARSE, "%.*s takes one number", (int)tlen, verb);
  return DLE_OK;
}

int dle_marker_next_pair(const char *text, size_t *pos, char *key, size_t key_size, char *value,
                         size_t value_size) {
  size_t len = strlen(text);
  const char *tok;
  size_t tlen;
  if (*pos > len || !next_token(text, len, pos, &tok, &tlen)) return 0;
  const char *eq = memchr(tok, '=', tlen);
  size_t klen = eq ? (size_t)(eq - tok) : tlen;
  size_t vlen = eq ? tlen - klen - 1 : 0;
  if (key_size) {
    size_t k = klen < key_size - 1 ? klen : key_size - 1;
    memcpy(key, tok, k);
    key[k] = '\0';
  }
  if (value_size) {
    size_t v = vlen < value_size - 1 ? vlen : value_size - 1;
    if (v) memcpy(value, eq + 1, v);
    value[v] = '\0';
  }
  return 1;
}

/* ---- bounded stream reader ---- */

struct dle_marker_reader {
  char line[DLE_MARKER_LINE_MAX + 1];
  size_t len;
  bool discarding; /* inside an oversized line: drop bytes until the next newline */
  dle_marker_stats st;
};

int dle_marker_reader_new(dle_marker_reader **out, dle_error *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  return DLE_OK;
}

void dle_marker_reader_free(dle_marker_reader *r) { free(r); }

static void reader_line(dle_marker_reader *r, double t_s, dle_marker_cb cb, void *user) {
  r->st.lines++;
  size_t len = r->len;
  r->len = 0;
  size_t i = 0;
  while (i < len && (is_space(r->line[i]) || r->line[i] == '\r')) i++;
  if (i == len) return; /* blank line */
  dle_marker_event ev;
  dle_error e;
  dle_error_clear(&e);
  int rc = dle_marker_parse_line(r->line, len, &ev, &e);
  if (rc == DLE_OK) {
    ev.t_s = t_s;
    r->st.events++;
    if (cb) cb(&ev, user);
    return;
  }
  if (rc == DLE_ENOTFOUND)
    r->st.unknown++;
  else
    r->st.malformed++;
  snprintf(r->st.last_error, sizeof r->st.last_error, "%s", e.msg);
}

void dle_marker_reader_feed(dle_marker_reader *r, const char *buf, size_t n, double t_s,
                            dle_marker_cb cb, void *user) {
  r->st.bytes += n;
  while (n > 0) {
    const char *nl = memchr(buf, '\n', n);
    size_t seg = nl ? (size_t)(nl - buf) : n;
    if (!r->discarding) {
      if (r->len + seg > DLE_MARKER_LINE_MAX) {
        r->discarding = true;
        r->len = 0;
      } else {
        memcpy(r->line + r->len, buf, seg);
        r->len += seg;
      }
    }
    if (!nl) break;
    if (r->discarding) {
      r->discarding = false;
      r->st.lines++;
      r->st.oversized++;
      snprintf(r->st.last_error, sizeof r->st.last_error, "line longer than %d bytes dropped",
               DLE_MARKER_LINE_MAX);
    } else {
      reader_line(r, t_s, cb, user);
    }
    buf += seg + 1;
    n -= seg + 1;
  }
}

void dle_marker_reader_finish(dle_marker_reader *r, double t_s, dle_marker_cb cb, void *user) {
  if (r->discarding) {
    r->discarding = false;
    r->st.lines++;
    r->st.oversized++;
    snprintf(r->st.last_error, sizeof r->st.last_error, "line longer than %d bytes dropped",
             DLE_MARKER_LINE_MAX);
  } else if (r->len > 0) {
    reader_line(r, t_s, cb, user);
  }
}

void dle_marker_reader_stats(const dle_marker_reader *r, dle_marker_stats *out) { *out = r->st; }

/* ---- channels ---- */

int dle_marker_pipe(int *read_fd, int *write_fd, dle_error *err) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    return dle_error_set(err, DLE_EIO, "cannot create the marker pipe: %s", strerror(errno));
  *read_fd = fds[0];
  *write_fd = fds[1];
  return DLE_OK;
}

int dle_marker_fifo_open(const char *path, int *read_fd, int *keep_fd, dle_error *err) {
  *read_fd = *keep_fd = -1;
  if (!path || !*path) return dle_error_set(err, DLE_EINVAL, "no FIFO path");
  if (mkfifo(path, 0600) != 0) {
    int e = errno;
    struct stat st;
    if (e != EEXIST || lstat(path, &st) != 0)
      return dle_error_set(err, DLE_EIO, "cannot create FIFO %s: %s", path, strerror(e));
    if (!S_ISFIFO(st.st_mode))
      return dle_error_set(err, DLE_EINVAL, "%s exists and is not a FIFO", path);
    if (st.st_uid != geteuid())
      return dle_error_set(err, DLE_EINVAL, "FIFO %s belongs to another user", path);
  }
  int rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (rfd < 0)
    return dle_error_set(err, DLE_EIO, "cannot open FIFO %s: %s", path, strerror(errno));
  int wfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (wfd < 0) {
    int e = errno;
    close(rfd);
    return dle_error_set(err, DLE_EIO, "cannot open FIFO %s for writing: %s", path, strerror(e));
  }
  *read_fd = rfd;
  *keep_fd = wfd;
  return DLE_OK;
}
