/* Tests of the marker protocol parser, the bounded stream reader, the --epoch-regex
 * matcher and the channels. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/markers.h"

enum { MAXEV = 64 };
typedef struct {
  dle_marker_event ev[MAXEV];
  size_t n;
} events;

static void collect(const dle_marker_event *ev, void *user) {
  events *e = user;
  if (e->n < MAXEV) e->ev[e->n] = *ev;
  e->n++;
}

static int parse(const char *line, dle_marker_event *ev) {
  dle_error e;
  return dle_marker_parse_line(line, strlen(line), ev, &e);
}

static void test_parse(void) {
  dle_marker_event ev;
  CHECK(parse("epochs_total 150", &ev) == 0 && ev.kind == DLE_MARKER_EPOCHS_TOTAL &&
        ev.value == 150);
  CHECK(parse("epoch_begin 3\r", &ev) == 0 && ev.kind == DLE_MARKER_EPOCH_BEGIN && ev.value == 3);
  CHECK(parse("  epoch_end\t3  loss=0.41   val_accuracy=0.93 ", &ev) == 0);
  CHECK(ev.kind == DLE_MARKER_EPOCH_END && ev.value == 3);
  CHECK(strcmp(ev.text, "loss=0.41 val_accuracy=0.93") == 0);
  CHECK(parse("epoch_end 0", &ev) == 0 && ev.value == 0 && ev.text[0] == '\0');
  CHECK(parse("meta architecture=resnet50 dataset=caltech101 batch_size=32 image=128x128",
              &ev) == 0);
  CHECK(ev.kind == DLE_MARKER_META);
  size_t pos = 0;
  char k[32], v[32];
  int npairs = 0;
  while (dle_marker_next_pair(ev.text, &pos, k, sizeof k, v, sizeof v)) npairs++;
  CHECK(npairs == 4 && strcmp(k, "image") == 0 && strcmp(v, "128x128") == 0);
  CHECK(parse("meta note=naïve_ü", &ev) == 0); /* UTF-8 is fine */
  /* Values may hold '=' after the first one; empty value allowed. */
  CHECK(parse("meta a==b c=", &ev) == 0 && strcmp(ev.text, "a==b c=") == 0);

  /* Unknown verbs apart from malformed lines. */
  CHECK(parse("epoch_start 3", &ev) == DLE_ENOTFOUND);
  CHECK(parse("hello world", &ev) == DLE_ENOTFOUND);
  const char *bad[] = {"epoch_begin",        "epoch_begin x",      "epoch_begin -1",
                       "epoch_begin 3 4",    "epoch_begin 3.0",    "epochs_total 99999999999",
                       "epoch_end 2 loss",   "epoch_end 2 =1",     "meta",
                       "meta novalue",       "",                   "   ",
                       "epoch_end 1 a=\x01", "meta k=\xff\xfe",    "meta k=\xc0\xaf",
                       "meta k=\xed\xa0\x80"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    dle_error e;
    int rc = dle_marker_parse_line(bad[i], strlen(bad[i]), &ev, &e);
    CHECK_MSG(rc == DLE_EPARSE && e.msg[0], "line %zu '%s' gave %d", i, bad[i], rc);
  }
  /* Embedded NUL is not text. */
  CHECK(dle_marker_parse_line("epoch_begin 1\0x", 15, &ev, NULL) == DLE_EPARSE);
  /* Too many pairs for one event. */
  char big[DLE_MARKER_LINE_MAX];
  strcpy(big, "meta");
  while (strlen(big) < 2000) strcat(big, " key=value");
  CHECK(parse(big, &ev) == DLE_EPARSE);
}

static void test_reader(void) {
  dle_marker_reader *r = NULL;
  dle_error e;
  CHECK_OK(dle_marker_reader_new(&r, &e), &e);
  events got = {0};
  /* A line split across feeds carries the time of the chunk that completed it. */
  dle_marker_reader_feed(r, "epochs_total 2\nepoch_be", 23, 1.0, collect, &got);
  CHECK(got.n == 1 && got.ev[0].t_s == 1.0);
  dle_marker_reader_feed(r, "gin 1\n\njunk line\nepoch_end 1 x\nepoch_end 1 loss=2\n", 50, 2.5,
                         collect, &got);
  CHECK(got.n == 3);
  CHECK(got.ev[1].kind == DLE_MARKER_EPOCH_BEGIN && got.ev[1].t_s == 2.5);
  CHECK(got.ev[2].kind == DLE_MARKER_EPOCH_END && strcmp(got.ev[2].text, "loss=2") == 0);
  dle_marker_stats st;
  dle_marker_reader_stats(r, &st);
  CHECK(st.lines == 6 && st.events == 3 && st.unknown == 1 && st.malformed == 1);
  CHECK(strstr(st.last_error, "key=value") != NULL);

  /* 10 MB without a newline: dropped as one oversized line, memory stays bounded
   * (the reader has a fixed buffer), and the next line is read normally. */
  char *junk = malloc(1 << 20);
  memset(junk, 'A', 1 << 20);
  for (int i = 0; i < 10; i++) dle_marker_reader_feed(r, junk, 1 << 20, 3.0, collect, &got);
  dle_marker_reader_feed(r, "\nepoch_begin 2\n", 15, 4.0, collect, &got);
  dle_marker_reader_stats(r, &st);
  CHECK(st.oversized == 1);
  CHECK(got.n == 4 && got.ev[3].kind == DLE_MARKER_EPOCH_BEGIN && got.ev[3].value == 2 &&
        got.ev[3].t_s == 4.0);
  /* A flood of short junk lines: each counted, none is an event. */
  for (int i = 0; i < (1 << 20); i += 16) memcpy(junk + i, "garbage \xff\xfe line\n", 16);
  dle_marker_reader_feed(r, junk, 1 << 20, 5.0, collect, &got);
  dle_marker_reader_stats(r, &st);
  CHECK(st.malformed == 1 + (1 << 16));
  CHECK(got.n == 4);
  /* A line of exactly the maximum length is kept; one byte more is dropped. */
  memset(junk, ' ', DLE_MARKER_LINE_MAX + 2);
  memcpy(junk, "epoch_begin 9", 13);
  junk[DLE_MARKER_LINE_MAX] = '\n';
  dle_marker_reader_feed(r, junk, DLE_MARKER_LINE_MAX + 1, 6.0, collect, &got);
  CHECK(got.n == 5 && got.ev[4].value == 9);
  junk[DLE_MARKER_LINE_MAX] = ' ';
  junk[DLE_MARKER_LINE_MAX + 1] = '\n';
  uint64_t before = st.oversized;
  dle_marker_reader_feed(r, junk, DLE_MARKER_LINE_MAX + 2, 6.0, collect, &got);
  dle_marker_reader_stats(r, &st);
  CHECK(got.n == 5 && st.oversized == before + 1);
  free(junk);
  /* finish() parses an unterminated last line. */
  dle_marker_reader_feed(r, "epoch_end 9", 11, 7.0, collect, &got);
  CHECK(got.n == 5);
  dle_marker_reader_finish(r, 7.5, collect, &got);
  CHECK(got.n == 6 && got.ev[5].kind == DLE_MARKER_EPOCH_END && got.ev[5].t_s == 7.5);
  dle_marker_reader_free(r);
}

static void test_regex(void) {
  dle_epoch_regex *rx = NULL;
  dle_error e;
  CHECK_OK(dle_epoch_regex_new("keras", &rx, &e), &e);
  events got = {0};
  const char *out1 = "Model: cnn\nEpoch 1/3\n 1/10 [==>...] - ETA: 3s\r 2/10 [====>..]";
  dle_epoch_regex_feed(rx, out1, strlen(out1), 1.0, collect, &got);
  CHECK(got.n == 2);
  CHECK(got.ev[0].kind == DLE_MARKER_EPOCHS_TOTAL && got.ev[0].value == 3);
  CHECK(got.ev[1].kind == DLE_MARKER_EPOCH_BEGIN && got.ev[1].value == 1 && got.ev[1].t_s == 1.0);
  CHECK(dle_epoch_regex_open_epoch(rx) == 1);
  /* "Epoch 2/3" split over two reads: matched when its line ends. */
  dle_epoch_regex_feed(rx, "\r10/10 [======] loss: 0.5\nEpo", 29, 2.0, collect, &got);
  CHECK(got.n == 2);
  dle_epoch_regex_feed(rx, "ch 2/3\n", 7, 3.0, collect, &got);
  CHECK(got.n == 4);
  CHECK(got.ev[2].kind == DLE_MARKER_EPOCH_END && got.ev[2].value == 1 && got.ev[2].t_s == 3.0);
  CHECK(got.ev[3].kind == DLE_MARKER_EPOCH_BEGIN && got.ev[3].value == 2);
  /* The same epoch printed again is not a new epoch. */
  dle_epoch_regex_feed(rx, "Epoch 2/3\n", 10, 3.5, collect, &got);
  CHECK(got.n == 4);
  dle_epoch_regex_close(rx, 9.0, collect, &got);
  CHECK(got.n == 5 && got.ev[4].kind == DLE_MARKER_EPOCH_END && got.ev[4].value == 2 &&
        got.ev[4].t_s == 9.0);
  CHECK(dle_epoch_regex_open_epoch(rx) == -1);
  dle_epoch_regex_free(rx);

  /* A custom pattern without a total. */
  CHECK_OK(dle_epoch_regex_new("^\\[ep ([0-9]+)\\]", &rx, &e), &e);
  got.n = 0;
  dle_epoch_regex_feed(rx, "[ep 0] start\n[ep x]\n[ep 1]\n", 27, 1.0, collect, &got);
  CHECK(got.n == 3 && got.ev[0].kind == DLE_MARKER_EPOCH_BEGIN && got.ev[0].value == 0);
  CHECK(got.ev[1].kind == DLE_MARKER_EPOCH_END && got.ev[2].value == 1);
  /* Very long output lines do not grow memory and do not break matching after them. */
  char *longl = malloc(1 << 20);
  memset(longl, 'x', 1 << 20);
  dle_epoch_regex_feed(rx, longl, 1 << 20, 2.0, collect, &got);
  dle_epoch_regex_feed(rx, "\n[ep 2]\n", 8, 3.0, collect, &got);
  CHECK(got.n == 5 && got.ev[4].value == 2);
  free(longl);
  dle_epoch_regex_free(rx);

  CHECK(dle_epoch_regex_new("Epoch [0-9]+", &rx, &e) == DLE_EINVAL && rx == NULL);
  CHECK(strstr(e.msg, "group") != NULL);
  CHECK(dle_epoch_regex_new("Epoch ([0-9]+", &rx, &e) == DLE_EINVAL && rx == NULL);
}

static void test_channels(void) {
  dle_error e;
  int r = -1, w = -1;
  CHECK_OK(dle_marker_pipe(&r, &w, &e), &e);
  CHECK((fcntl(r, F_GETFD) & FD_CLOEXEC) && (fcntl(w, F_GETFD) & FD_CLOEXEC));
  CHECK((fcntl(r, F_GETFL) & O_NONBLOCK) && (fcntl(w, F_GETFL) & O_NONBLOCK));
  char buf[8];
  CHECK(read(r, buf, sizeof buf) < 0 && errno == EAGAIN); /* never blocks the reader */
  close(r);
  close(w);

  char dir[] = "/tmp/dle_markers_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/fifo", dir);
  int keep = -1;
  CHECK_OK(dle_marker_fifo_open(path, &r, &keep, &e), &e);
  /* A writer that comes and goes leaves no end-of-file behind (keep holds a writer). */
  int wf = open(path, O_WRONLY | O_NONBLOCK);
  CHECK(wf >= 0 && write(wf, "epoch_begin 1\n", 14) == 14);
  close(wf);
  CHECK(read(r, buf, sizeof buf) == 8);
  char rest[16];
  CHECK(read(r, rest, sizeof rest) == 6);
  CHECK(read(r, rest, sizeof rest) < 0 && errno == EAGAIN);
  close(r);
  close(keep);
  /* Reopening an existing FIFO is fine; a regular file there is refused. */
  CHECK_OK(dle_marker_fifo_open(path, &r, &keep, &e), &e);
  close(r);
  close(keep);
  unlink(path);
  int fd = open(path, O_CREAT | O_WRONLY, 0600);
  close(fd);
  CHECK(dle_marker_fifo_open(path, &r, &keep, &e) == DLE_EINVAL && r == -1);
  CHECK(strstr(e.msg, "not a FIFO") != NULL);
  unlink(path);
  rmdir(dir);
}

/* Random bytes and random mutations of valid lines, fed in random chunk sizes (a
 * deterministic fuzz pass): never a crash, every line accounted for exactly once, and
 * every event the reader gives re-parses to itself. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

static size_t fuzz_events;
static int fuzz_bad;
static void fuzz_cb(const dle_marker_event *ev, void *user) {
  (void)user;
  fuzz_events++;
  if (ev->kind < DLE_MARKER_EPOCHS_TOTAL || ev->kind > DLE_MARKER_META || ev->value < 0 ||
      ev->value > INT32_MAX || strlen(ev->text) >= sizeof ev->text)
    fuzz_bad++;
}

static void test_fuzz(void) {
  static const char *seeds[] = {"epochs_total 150", "epoch_begin 3", "epoch_end 3 loss=0.41 a=b",
                                "meta architecture=resnet50 image=128x128", "epoch_end 0"};
  enum { N = 1 << 20 };
  char *buf = malloc(N);
  size_t len = 0, newlines = 0;
  while (len < N - 64) {
    uint32_t r = rnd() % 4;
    if (r == 0) { /* random bytes */
      size_t n = 1 + rnd() % 40;
      for (size_t i = 0; i < n; i++) buf[len++] = (char)(rnd() & 0xff);
    } else { /* a valid line, perhaps mutated */
      const char *sd = seeds[rnd() % 5];
      size_t n = strlen(sd);
      memcpy(buf + len, sd, n);
      if (r == 1) buf[len + rnd() % n] = (char)(rnd() & 0xff);
      len += n;
      buf[len++] = '\n';
    }
  }
  for (size_t i = 0; i < len; i++) newlines += buf[i] == '\n';
  dle_marker_reader *rd = NULL;
  dle_error e;
  CHECK_OK(dle_marker_reader_new(&rd, &e), &e);
  size_t pos = 0;
  while (pos < len) {
    size_t n = 1 + rnd() % 700;
    if (n > len - pos) n = len - pos;
    dle_marker_reader_feed(rd, buf + pos, n, 1.0, fuzz_cb, NULL);
    pos += n;
  }
  dle_marker_stats st;
  dle_marker_reader_stats(rd, &st);
  CHECK(st.lines == newlines);
  CHECK(st.bytes == len);
  CHECK(st.events == fuzz_events);
  CHECK(fuzz_bad == 0);
  CHECK(st.events > 1000 && st.malformed + st.unknown > 1000);
  CHECK(st.events + st.unknown + st.malformed + st.oversized <= st.lines);
  dle_marker_reader_free(rd);
  /* The parser alone on random short strings with embedded NULs. */
  int odd = 0;
  for (int i = 0; i < 200000; i++) {
    char line[64];
    size_t n = rnd() % sizeof line;
    for (size_t k = 0; k < n; k++) line[k] = rnd() % 4 ? "epoch_ndbgi 0123=\t"[rnd() % 18] : (char)rnd();
    dle_marker_event ev;
    int rc = dle_marker_parse_line(line, n, &ev, NULL);
    odd += !(rc == 0 || rc == DLE_EPARSE || rc == DLE_ENOTFOUND);
  }
  CHECK(odd == 0);
  free(buf);
}

int main(void) {
  test_fuzz();
  test_parse();
  test_reader();
  test_regex();
  test_channels();
  return check_finish();
}
