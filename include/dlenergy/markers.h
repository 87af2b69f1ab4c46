/* markers.h — epoch markers: the line protocol a training script speaks to dlenergy,
 * the channels that carry it (an inherited pipe, a FIFO) and the --epoch-regex matcher
 * for scripts that only print their progress.
 *
 * Protocol (one event per line, UTF-8, tokens separated by spaces or tabs):
 *   epochs_total N                 planned number of epochs
 *   epoch_begin K                  epoch K starts now
 *   epoch_end K [key=value ...]    epoch K ends now, with its metrics (loss=0.41 ...)
 *   meta key=value [key=value ...] run metadata (architecture=resnet50 ...)
 * Epoch numbers are kept as the script gives them (0- or 1-based). A line is at most
 * DLE_MARKER_LINE_MAX bytes; longer lines are dropped whole and counted. Unknown verbs,
 * malformed lines, invalid UTF-8 and oversized lines are counted, never fatal: a reader
 * holds at most DLE_MARKER_LINE_MAX bytes whatever it is fed.
 *
 * Time: the caller stamps each chunk of bytes with the run-relative time (seconds on
 * the sampler's monotonic clock) at which it was received; every event completed by
 * that chunk carries that time. */
#ifndef DLENERGY_MARKERS_H
#define DLENERGY_MARKERS_H

#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  DLE_MARKER_LINE_MAX = 4096, /* bytes, newline excluded; also the pipe's atomic write size */
  DLE_MARKER_TEXT_MAX = 1024  /* metrics or meta pairs kept per event */
};

typedef enum dle_marker_kind {
  DLE_MARKER_EPOCHS_TOTAL = 1,
  DLE_MARKER_EPOCH_BEGIN = 2,
  DLE_MARKER_EPOCH_END = 3,
  DLE_MARKER_META = 4
} dle_marker_kind;

typedef struct dle_marker_event {
  dle_marker_kind kind;
  double t_s;     /* run-relative receipt time */
  int64_t value;  /* N of epochs_total, K of epoch_begin/epoch_end; 0 for meta */
  /* epoch_end: its key=value metrics, single-space separated ("" when none);
   * meta: its key=value pairs, single-space separated (at least one). */
  char text[DLE_MARKER_TEXT_MAX];
} dle_marker_event;

/* Parses one line (without its newline; a trailing '\r' is ignored). Returns 0 and
 * fills ev (t_s left NaN) or DLE_EPARSE with the reason in err. An unknown verb is
 * DLE_ENOTFOUND so that callers can count it apart from malformed lines. */
int dle_marker_parse_line(const char *line, size_t len, dle_marker_event *ev, dle_error *err);

/* Iterates over the key=value pairs of an event's text: call with *pos = 0, then
 * repeatedly; returns 1 with key/value copied into the buffers (NUL-terminated,
 * truncated to their sizes) or 0 at the end. */
int dle_marker_next_pair(const char *text, size_t *pos, char *key, size_t key_size, char *value,
                         size_t value_size);

/* What a reader has seen so far. */
typedef struct dle_marker_stats {
  uint64_t lines;     /* complete lines, blank ones included */
  uint64_t events;    /* lines that gave an event */
  uint64_t unknown;   /* well-formed lines whose verb is not in the protocol */
  uint64_t malformed; /* bad numbers, missing fields, bad key=value, invalid UTF-8 */
  uint64_t oversized; /* lines longer than DLE_MARKER_LINE_MAX, dropped */
  uint64_t bytes;     /* bytes fed */
  char last_error[160]; /* reason for the last rejected line ("" when none) */
} dle_marker_stats;

typedef void (*dle_marker_cb)(const dle_marker_event *ev, void *user);

/* A stream reader: splits bytes into lines (bounded), parses them and calls back. */
typedef struct dle_marker_reader dle_marker_reader;

int dle_marker_reader_new(dle_marker_reader **out, dle_error *err);
void dle_marker_reader_free(dle_marker_reader *r);
/* Feeds n bytes received at t_s; cb is called once per event, in order. */
void dle_marker_reader_feed(dle_marker_reader *r, const char *buf, size_t n, double t_s,
                            dle_marker_cb cb, void *user);
/* End of stream: a final line without newline is parsed as if terminated. */
void dle_marker_reader_finish(dle_marker_reader *r, double t_s, dle_marker_cb cb, void *user);
void dle_marker_reader_stats(const dle_marker_reader *r, dle_marker_stats *out);

/* ---- --epoch-regex on a program's output ----
 * POSIX extended regex; group 1 is the epoch number, optional group 2 the total.
 * A matching line for epoch N ends the open epoch (if any) and begins N; the first
 * match with a group 2 also gives epochs_total. Both '\n' and '\r' end a line (progress
 * bars); lines are matched on their first DLE_MARKER_LINE_MAX bytes. */
#define DLE_EPOCH_REGEX_KERAS "Epoch ([0-9]+)/([0-9]+)"

typedef struct dle_epoch_regex dle_epoch_regex;

/* pattern "keras" (or NULL) selects DLE_EPOCH_REGEX_KERAS. DLE_EINVAL when the pattern
 * does not compile or has no group. */
int dle_epoch_regex_new(const char *pattern, dle_epoch_regex **out, dle_error *err);
void dle_epoch_regex_free(dle_epoch_regex *rx);
void dle_epoch_regex_feed(dle_epoch_regex *rx, const char *buf, size_t n, double t_s,
                          dle_marker_cb cb, void *user);
/* Closes the open epoch (if any) at t_s with an epoch_end event; used when the program
 * finished normally, since no "next epoch" line will end the last one. */
void dle_epoch_regex_close(dle_epoch_regex *rx, double t_s, dle_marker_cb cb, void *user);
/* Number of the epoch the regex has open, or -1. */
int64_t dle_epoch_regex_open_epoch(const dle_epoch_regex *rx);

/* ---- channels ----
 * A pipe for `dlenergy run`: both ends O_CLOEXEC (the launcher clears it on the write
 * end in the child only) and O_NONBLOCK (a stalled reader never blocks the training:
 * a full pipe makes the client drop the marker instead). */
int dle_marker_pipe(int *read_fd, int *write_fd, dle_error *err);

/* A FIFO for `dlenergy attach`: creates it at path (mode 0600; an existing FIFO is
 * reused, anything else there is an error) and opens it for reading, non-blocking.
 * *keep_fd is a write end held by the reader so that writers coming and going never
 * make the read end report end-of-file; close both when done (and unlink the path). */
int dle_marker_fifo_open(const char *path, int *read_fd, int *keep_fd, dle_error *err);

#ifdef __cplusplus
}
#endif
#endif
