/* energy_stream.c — a run's summary and per-epoch energies in bounded memory (see
 * energy.h). The figures must equal those of dle_energy_summarize and
 * dle_energy_per_epoch on the whole trace bit for bit, so every sum here is taken
 * in the same order as there (row order; GPUs in slot order) with the same
 * expressions:
 *
 *  - the headline GPU column (dle_trace_select_gpus): a GPU missing a reading is
 *    interpolated between its neighbours, so a row waits in the pending buffer
 *    until every GPU in a gap at that row has its next reading (or the run ends);
 *    rows leave the buffer in order once resolved ("finalized") and feed the
 *    column reductions and the epoch windows;
 *  - each GPU's bridged trapezoid (energy.c) is integrated when its gap closes,
 *    over the buffered rows of the gap;
 *  - each GPU's reset-safe counter (trace.c) accumulates at its readings; the
 *    summed headline counter column fills gaps the same way the power does.
 *
 * The pending rows live in a ring of at most mem_rows rows (default
 * DLE_ENERGY_STREAM_MAX_GAP). A longer gap moves the oldest of them, in order, to an
 * unlinked temporary file (the spill); rows are read back from it (and the gap's
 * interpolated values written into it) one block at a time through a one-block
 * cache, so memory stays bounded whatever the gap's length. Pending rows
 * base .. base+nf-1 are in the file, base+nf .. base+len-1 in the ring. */
#define _GNU_SOURCE /* pread, pwrite, mkstemp, ftruncate */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "dlenergy/energy.h"

#define NONE SIZE_MAX

typedef struct row {
  double t;
  double w[DLE_COMP_COUNT];   /* GPU set when finalized; CPU, DRAM, RAM from the sample */
  double util, limit;         /* mean GPU utilization, summed power limit (as the trace) */
  double cpu_util, rss;
  bool alive;                 /* some GPU has a power reading */
  double v[DLE_MAX_GPUS];     /* each slot's power, interpolated in gaps (NaN until resolved) */
  double cum[DLE_MAX_GPUS];   /* each slot's cumulative counter energy, filled in gaps */
} row;

typedef struct slot {
  bool exists, headline;
  uint32_t index;
  bool has_p;                 /* a power reading so far */
  size_t lp_row;              /* last row with one */
  double lp_t, lp_p;
  bool lp_alive;
  double integral_j;          /* bridged trapezoid */
  double sum_w;               /* mean of the valid readings */
  size_t n_w;
  bool has_c;                 /* a counter reading so far */
  size_t lc_row;
  double lc_t, lc_c, lc_p, acc_j;
} slot;

typedef struct epoch_win {
  double b, e;                /* window; -inf: from the first sample, +inf: open */
  bool started, frozen;
  size_t frozen_row;          /* rows from here on only decide `any` */
  bool any[DLE_COMP_COUNT];
  double e_j[DLE_COMP_COUNT];
} epoch_win;

typedef struct edge {
  double x;                   /* -inf: the first sample; +inf: the last sample's time */
  size_t k;                   /* epoch */
  int end;                    /* 0 begin, 1 end */
} edge;

struct dle_energy_stream {
  uint32_t headline[DLE_MAX_GPUS];
  size_t n_headline;
  slot sl[DLE_MAX_GPUS];
  uint32_t n_slots;           /* largest n_gpus seen */
  /* pending rows: global indices base .. base+len-1; the first nf of them in the
   * spill file (row g at offset (g - f_origin) rows), the rest in a ring of cap rows */
  row *ring;
  size_t cap, base, len;
  size_t mem_rows;            /* the ring's largest size */
  int fd;                     /* the spill file, -1 until a gap needs it */
  size_t nf, f_origin;
  size_t f_freed;             /* file rows before this (from f_origin) given back */
  size_t spilled_rows;        /* rows ever moved to the file (dle_energy_stream_spilled) */
  row *blk;                   /* the cache: file rows blk_lo .. blk_lo+blk_n-1 */
  size_t blk_lo, blk_n;
  bool blk_dirty;
  int io_failed;              /* a spill read or write failed (errno in io_errno) */
  int io_errno;
  size_t n;                   /* rows added */
  double t_first, t_last;
  /* column reductions over finalized rows */
  bool prev_valid[DLE_COMP_COUNT];
  double prev_w[DLE_COMP_COUNT], prev_t, prev_cum;
  bool have_prev;
  int has[DLE_COMP_COUNT];
  double trap_j[DLE_COMP_COUNT], sum_w[DLE_COMP_COUNT];
  size_t n_w[DLE_COMP_COUNT], last_valid_row[DLE_COMP_COUNT];
  double cum_first, cum_last, cum_first_at_t, cum_last_t;
  double rapl_first[2], rapl_last[2];
  double util_sum, temp_sum;
  size_t util_n, temp_n;
  /* epochs */
  epoch_win *ew;
  size_t n_ep, next_act, lo_active;
  edge *edges;
  size_t n_edges, next_edge;
  double *edge_c;             /* counter_at of each edge */
  dle_energy_row_fn row_fn;   /* optional sink of finalized rows */
  void *row_ctx;
  int failed;                 /* DLE_EUNSUPPORTED or an allocation failure seen */
};

static int unsupported(dle_energy_stream *s, dle_error *err, const char *why) {
  s->failed = DLE_EUNSUPPORTED;
  return dle_error_set(err, DLE_EUNSUPPORTED, "streamed energy: %s", why);
}

static int cmp_edge(const void *a, const void *b) {
  const edge *x = a, *y = b;
  if (x->x < y->x) return -1;
  if (x->x > y->x) return 1;
  return x->k < y->k ? -1 : x->k > y->k ? 1 : x->end - y->end;
}

int dle_energy_stream_new(const uint32_t *headline, size_t n_headline, const dle_epoch *ep,
                          size_t n_ep, dle_energy_stream **out, dle_error *err) {
  if (!out || (n_ep && !ep) || (n_headline && !headline))
    return dle_error_set(err, DLE_EINVAL, "streamed energy: missing argument");
  *out = NULL;
  dle_energy_stream *s = calloc(1, sizeof *s);
  if (!s) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  s->fd = -1;
  s->mem_rows = DLE_ENERGY_STREAM_MAX_GAP;
  s->n_headline = n_headline > DLE_MAX_GPUS ? DLE_MAX_GPUS : n_headline;
  if (s->n_headline) memcpy(s->headline, headline, s->n_headline * sizeof *headline);
  s->t_first = s->t_last = NAN;
  s->cum_first = s->cum_last = s->cum_first_at_t = s->cum_last_t = NAN;
  for (int k = 0; k < 2; k++) s->rapl_first[k] = s->rapl_last[k] = NAN;
  s->n_ep = n_ep;
  s->ew = calloc(n_ep ? n_ep : 1, sizeof *s->ew);
  s->edges = calloc(n_ep ? 2 * n_ep : 1, sizeof *s->edges);
  s->edge_c = calloc(n_ep ? 2 * n_ep : 1, sizeof *s->edge_c);
  if (!s->ew || !s->edges || !s->edge_c) {
    dle_energy_stream_free(s);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  /* The windows of dle_energy_per_epoch: begin is the epoch's own, else the previous
   * end, else the first sample; end is its own, else the last sample. */
  double prev_end = -INFINITY;
  for (size_t k = 0; k < n_ep; k++) {
    epoch_win *w = &s->ew[k];
    w->b = !isnan(ep[k].t_begin_s) ? ep[k].t_begin_s : prev_end;
    w->e = !isnan(ep[k].t_end_s) ? ep[k].t_end_s : INFINITY;
    if (w->b == INFINITY || (k && w->b < s->ew[k - 1].b) || (w->e < w->b)) {
      /* after an open epoch, out of order, or ending before it begins (the whole
       * trace path says why) */
      s->failed = DLE_EUNSUPPORTED;
    }
    for (int c = 0; c < DLE_COMP_COUNT; c++) w->e_j[c] = 0;
    prev_end = w->e;
    s->edges[2 * k] = (edge){w->b, k, 0};
    s->edges[2 * k + 1] = (edge){w->e, k, 1};
  }
  s->n_edges = 2 * n_ep;
  qsort(s->edges, s->n_edges, sizeof *s->edges, cmp_edge);
  for (size_t k = 0; k < s->n_edges; k++) s->edge_c[k] = NAN;
  *out = s;
  return DLE_OK;
}

void dle_energy_stream_free(dle_energy_stream *s) {
  if (!s) return;
  if (s->fd >= 0) close(s->fd);
  free(s->blk);
  free(s->ring);
  free(s->ew);
  free(s->edges);
  free(s->edge_c);
  free(s);
}

/* ---- the spill file ---- */

enum { BLK_ROWS = 1024 };

static int io_rows(int fd, bool wr, row *buf, size_t n, size_t at) {
  char *p = (char *)buf;
  size_t left = n * sizeof *buf;
  off_t off = (off_t)(at * sizeof *buf);
  while (left) {
    ssize_t k = wr ? pwrite(fd, p, left, off) : pread(fd, p, left, off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return k < 0 ? errno : EIO;
    p += k;
    off += k;
    left -= (size_t)k;
  }
  return 0;
}

static void io_fail(dle_energy_stream *s, int e) {
  if (!s->io_failed) s->io_errno = e;
  s->io_failed = 1;
}

static void blk_flush(dle_energy_stream *s) {
  if (s->blk_dirty && s->blk_n) {
    int e = io_rows(s->fd, true, s->blk, s->blk_n, s->blk_lo - s->f_origin);
    if (e) io_fail(s, e);
  }
  s->blk_dirty = false;
}

/* File row g (base <= g < base+nf) in the cache; never NULL (after an I/O error the
 * cache holds garbage and io_failed ends the stream at the next add or finish). */
static row *file_row(dle_energy_stream *s, size_t g) {
  if (g < s->blk_lo || g >= s->blk_lo + s->blk_n) {
    blk_flush(s);
    size_t lo = g - (g - s->f_origin) % BLK_ROWS, end = s->base + s->nf;
    if (lo < s->base) lo = s->base;
    s->blk_lo = lo;
    s->blk_n = end - lo < BLK_ROWS ? end - lo : BLK_ROWS;
    int e = io_rows(s->fd, false, s->blk, s->blk_n, lo - s->f_origin);
    if (e) io_fail(s, e);
  }
  return &s->blk[g - s->blk_lo];
}

static row *row_at(dle_energy_stream *s, size_t g) {
  return g < s->base + s->nf ? file_row(s, g) : &s->ring[g % s->cap];
}

/* A file row about to be changed (ring rows are changed in place). */
static row *row_wr(dle_energy_stream *s, size_t g) {
  row *r = row_at(s, g);
  if (g < s->base + s->nf) s->blk_dirty = true;
  return r;
}

static int open_spill(dle_energy_stream *s, dle_error *err) {
  const char *dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  char path[4096];
  if (snprintf(path, sizeof path, "%s/dlenergy-gap-XXXXXX", dir) >= (int)sizeof path)
    return unsupported(s, err, "TMPDIR too long for a spill file");
  int fd = mkstemp(path);
  if (fd < 0) {
    s->failed = DLE_EUNSUPPORTED;
    return dle_error_set(err, DLE_EUNSUPPORTED,
                         "streamed energy: cannot create a spill file for a long GPU gap in %s: %s",
                         dir, strerror(errno));
  }
  unlink(path); /* gone when closed, or when the process dies */
  s->blk = malloc(BLK_ROWS * sizeof *s->blk);
  if (!s->blk) {
    close(fd);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  s->fd = fd;
  return DLE_OK;
}

/* The ring is full: moves its older half to the end of the file. */
static int spill(dle_energy_stream *s, dle_error *err) {
  if (s->fd < 0) {
    int rc = open_spill(s, err);
    if (rc) return rc;
  }
  if (s->nf == 0) {
    s->f_origin = s->base;
    s->f_freed = 0;
    s->blk_n = 0;
  }
  size_t k = s->cap / 2 ? s->cap / 2 : 1, g = s->base + s->nf;
  while (k) { /* at most two contiguous pieces of the ring */
    size_t at = g % s->cap, m = s->cap - at < k ? s->cap - at : k;
    int e = io_rows(s->fd, true, &s->ring[at], m, g - s->f_origin);
    if (e) {
      io_fail(s, e);
      break;
    }
    g += m;
    k -= m;
    s->nf += m;
    s->spilled_rows += m;
  }
  if (s->io_failed) {
    s->failed = DLE_EUNSUPPORTED;
    return dle_error_set(err, DLE_EUNSUPPORTED,
                         "streamed energy: writing the spill file of a long GPU gap: %s",
                         strerror(s->io_errno));
  }
  return DLE_OK;
}

static int io_error(dle_energy_stream *s, dle_error *err) {
  s->failed = DLE_EUNSUPPORTED;
  return dle_error_set(err, DLE_EUNSUPPORTED,
                       "streamed energy: the spill file of a long GPU gap: %s",
                       strerror(s->io_errno));
}

/* Drain consumed file rows: the file restarts when none are left; while some are
 * (gaps that overlap keep it from emptying), the space of finalized rows is given
 * back to the file system in steps of 8,192 rows (where it can punch holes). */
static void spill_consumed(dle_energy_stream *s) {
  if (s->fd < 0) return;
  if (s->nf == 0) {
    s->blk_n = 0;
    s->blk_dirty = false;
    s->f_freed = 0;
    if (ftruncate(s->fd, 0) != 0) io_fail(s, errno);
    return;
  }
  size_t done = s->base + 1 - s->f_origin; /* rows before base+1 are finalized */
  if (done - s->f_freed < 8192) return;
#ifdef FALLOC_FL_PUNCH_HOLE
  (void)fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)(s->f_freed * sizeof(row)), (off_t)((done - s->f_freed) * sizeof(row)));
#endif
  s->f_freed = done;
}

static int push_row(dle_energy_stream *s, dle_error *err) {
  if (s->len - s->nf == s->cap) {
    if (s->cap >= s->mem_rows) {
      int rc = spill(s, err);
      if (rc) return rc;
    } else {
      size_t cap = s->cap ? s->cap * 2 : 64;
      if (cap > s->mem_rows) cap = s->mem_rows;
      row *r = malloc(cap * sizeof *r);
      if (!r) return dle_error_set(err, DLE_ENOMEM, "out of memory");
      for (size_t g = s->base + s->nf; g < s->base + s->len; g++) r[g % cap] = s->ring[g % s->cap];
      free(s->ring);
      s->ring = r;
      s->cap = cap;
    }
  }
  s->len++;
  return DLE_OK;
}

void dle_energy_stream_set_memory_rows(dle_energy_stream *s, size_t rows) {
  if (s && !s->n) s->mem_rows = rows < 2 ? 2 : rows;
}

size_t dle_energy_stream_spilled(const dle_energy_stream *s) { return s ? s->spilled_rows : 0; }

static double lerp_at(double ta, double pa, double tb, double pb, double x) {
  if (x <= ta) return pa;
  if (x >= tb) return pb;
  return pa + (pb - pa) * ((x - ta) / (tb - ta));
}

/* One finalized row through the epoch windows (dle_energy_between_j's steps). */
static void epoch_step(dle_energy_stream *s, epoch_win *w, size_t i, const row *r) {
  if (w->frozen) return;
  if (i > 0 && s->prev_t >= w->e) {
    /* ta >= t1: no interval can add any more; later rows only decide `any` */
    w->frozen = true;
    w->frozen_row = i;
    return;
  }
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    bool v = !isnan(r->w[c]);
    if (v) w->any[c] = true;
    if (i == 0 || !v || !s->prev_valid[c]) continue;
    double ta = s->prev_t, tb = r->t;
    double a = ta > w->b ? ta : w->b;
    double b = tb < w->e ? tb : w->e;
    if (b <= a) continue;
    double pa = lerp_at(ta, s->prev_w[c], tb, r->w[c], a);
    double pb = lerp_at(ta, s->prev_w[c], tb, r->w[c], b);
    w->e_j[c] += (b - a) * (pa + pb) / 2;
  }
}

void dle_energy_stream_on_row(dle_energy_stream *s, dle_energy_row_fn fn, void *ctx) {
  if (!s) return;
  s->row_fn = fn;
  s->row_ctx = ctx;
}

static void finalize_row(dle_energy_stream *s, size_t i, row *r) {
  double gpu = NAN, cum = 0;
  for (uint32_t d = 0; d < s->n_slots; d++) {
    const slot *q = &s->sl[d];
    if (!q->exists || !q->headline) continue;
    if (!isnan(r->v[d])) gpu = isnan(gpu) ? r->v[d] : gpu + r->v[d];
    if (q->has_c) cum += r->cum[d];
  }
  r->w[DLE_COMP_GPU] = r->alive ? gpu : NAN;
  /* epochs: activate those whose window begins by this row (lo: first t >= b; the
   * scan starts one row earlier, which only counts that row's validity) */
  while (s->next_act < s->n_ep && r->t >= s->ew[s->next_act].b) {
    epoch_win *w = &s->ew[s->next_act++];
    w->started = true;
    if (i > 0)
      for (int c = 0; c < DLE_COMP_COUNT; c++)
        if (s->prev_valid[c]) w->any[c] = true;
  }
  for (size_t k = s->lo_active; k < s->next_act; k++) epoch_step(s, &s->ew[k], i, r);
  while (s->lo_active < s->next_act && s->ew[s->lo_active].frozen) s->lo_active++;
  /* counter edges: counter_at(x) on the summed cumulative counter */
  if (s->cum_last_t != r->t) s->cum_first_at_t = cum;
  while (s->next_edge < s->n_edges && s->edges[s->next_edge].x <= r->t) {
    s->edge_c[s->next_edge] =
        i == 0 ? cum : lerp_at(s->prev_t, s->prev_cum, r->t, cum, s->edges[s->next_edge].x);
    s->next_edge++;
  }
  if (isnan(s->cum_first)) s->cum_first = cum;
  s->cum_last = cum;
  s->cum_last_t = r->t;
  /* column reductions */
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    bool v = !isnan(r->w[c]);
    if (v) {
      s->has[c] = 1;
      s->sum_w[c] += r->w[c];
      s->n_w[c]++;
      s->last_valid_row[c] = i;
      if (i > 0 && s->prev_valid[c]) s->trap_j[c] += (r->t - s->prev_t) * (r->w[c] + s->prev_w[c]) / 2;
    }
    s->prev_valid[c] = v;
    s->prev_w[c] = r->w[c];
  }
  s->prev_t = r->t;
  s->prev_cum = cum;
}

/* Finalizes the pending rows no gap holds any more (all of them when done); a row
 * sink's error stops it and is returned. */
static int drain(dle_energy_stream *s, bool done, dle_error *err) {
  size_t limit = s->base + s->len; /* exclusive */
  if (!done)
    for (uint32_t d = 0; d < s->n_slots; d++) {
      const slot *q = &s->sl[d];
      if (q->has_p && q->lp_row + 1 < limit) limit = q->lp_row + 1;
      if (q->has_c && q->lc_row + 1 < limit) limit = q->lc_row + 1;
    }
  while (s->len && s->base < limit) {
    row *r = row_at(s, s->base);
    finalize_row(s, s->base, r);
    dle_energy_row out = {r->t,      r->w[DLE_COMP_GPU], r->w[DLE_COMP_CPU],
                          r->w[DLE_COMP_DRAM], r->w[DLE_COMP_RAM], r->util,
                          r->limit,  r->cpu_util,        r->rss};
    if (s->nf) {
      s->nf--;
      spill_consumed(s);
    }
    s->base++;
    s->len--;
    if (s->row_fn) {
      int rc = s->row_fn(s->row_ctx, &out, err);
      if (rc) {
        s->failed = rc;
        return rc;
      }
    }
  }
  return DLE_OK;
}

int dle_energy_stream_add(dle_energy_stream *s, const dle_sample *smp, dle_error *err) {
  if (!s || !smp) return dle_error_set(err, DLE_EINVAL, "streamed energy: missing argument");
  if (s->failed) return dle_error_set(err, s->failed, "streamed energy: not this run");
  if (isnan(smp->t_s) || (s->n && smp->t_s < s->t_last))
    return unsupported(s, err, "sample times NaN or going backwards");
  int rc = push_row(s, err);
  if (rc) return rc;
  size_t i = s->n++;
  if (i == 0) s->t_first = smp->t_s;
  s->t_last = smp->t_s;
  row *r = row_at(s, i);
  r->t = smp->t_s;
  r->w[DLE_COMP_GPU] = NAN;
  r->w[DLE_COMP_CPU] = smp->cpu_power_w;
  r->w[DLE_COMP_DRAM] = smp->dram_power_w;
  r->w[DLE_COMP_RAM] = smp->ram_power_w;
  /* the row's GPU aggregates as dle_trace_append makes them */
  uint32_t ng = smp->n_gpus > DLE_MAX_GPUS ? DLE_MAX_GPUS : smp->n_gpus;
  double util = 0, temp = NAN, limit = 0;
  int n_util = 0, n_limit = 0;
  bool alive = false;
  for (uint32_t g = 0; g < ng; g++) {
    const dle_gpu_sample *gs = &smp->gpu[g];
    if (!isnan(gs->util_gpu_pct)) util += gs->util_gpu_pct, n_util++;
    if (!isnan(gs->power_limit_w)) limit += gs->power_limit_w, n_limit++;
    if (!isnan(gs->temp_c) && (isnan(temp) || gs->temp_c > temp)) temp = gs->temp_c;
    if (!isnan(gs->power_w)) alive = true;
  }
  r->alive = alive;
  double um = n_util ? util / n_util : NAN;
  r->util = um;
  r->limit = n_limit ? limit : NAN;
  r->cpu_util = smp->cpu_util_pct;
  r->rss = smp->rss_mib;
  if (isfinite(um)) s->util_sum += um, s->util_n++;
  if (isfinite(temp)) s->temp_sum += temp, s->temp_n++;
  const double rapl[2] = {smp->cpu_energy_counter_j, smp->dram_energy_counter_j};
  for (int k = 0; k < 2; k++)
    if (!isnan(rapl[k])) {
      if (isnan(s->rapl_first[k])) s->rapl_first[k] = rapl[k];
      s->rapl_last[k] = rapl[k];
    }
  if (ng > s->n_slots) s->n_slots = ng;
  for (uint32_t d = 0; d < DLE_MAX_GPUS; d++) {
    slot *q = &s->sl[d];
    double p = d < ng ? smp->gpu[d].power_w : NAN;
    double c = d < ng ? smp->gpu[d].energy_counter_j : NAN;
    if (d < ng) {
      uint32_t idx = smp->gpu[d].device_index;
      if (!q->exists) {
        q->exists = true;
        q->index = idx;
        q->headline = s->n_headline == 0;
        for (size_t k = 0; k < s->n_headline; k++) q->headline |= s->headline[k] == idx;
      } else if (q->index != idx) {
        return unsupported(s, err, "a GPU slot changes its NVML index");
      }
    }
    r->v[d] = p;
    r->cum[d] = q->has_c ? NAN : 0;
    if (!isnan(p)) {
      q->sum_w += p, q->n_w++;
      if (q->has_p) {
        /* the gap lp_row..i closes: interpolate its rows, integrate its steps */
        double dt = r->t - q->lp_t;
        for (size_t k = q->lp_row + 1; k < i; k++) {
          row *m = row_wr(s, k);
          m->v[d] = !(dt > 0) ? q->lp_p : q->lp_p + (p - q->lp_p) * ((m->t - q->lp_t) / dt);
        }
        /* steps k -> k+1; row k's time and liveness carried from the step before (one
         * pass over the rows, however many of them are in the spill file) */
        bool a0 = q->lp_alive;
        double tk = q->lp_t;
        for (size_t k = q->lp_row; k < i; k++) {
          const row *nx = k + 1 == i ? r : row_at(s, k + 1);
          bool a1 = k + 1 == i ? alive : nx->alive;
          double tk1 = nx->t;
          if (a0 && a1) {
            double fa = dt > 0 ? (tk - q->lp_t) / dt : 0;
            double fb = dt > 0 ? (tk1 - q->lp_t) / dt : 0;
            double va = k == q->lp_row ? q->lp_p : q->lp_p + (p - q->lp_p) * fa;
            double vb = k + 1 == i ? p : q->lp_p + (p - q->lp_p) * fb;
            q->integral_j += (tk1 - tk) * (va + vb) / 2;
          }
          a0 = a1;
          tk = tk1;
        }
      }
      q->has_p = true;
      q->lp_row = i;
      q->lp_t = r->t;
      q->lp_p = p;
      q->lp_alive = alive;
    }
    if (!isnan(c)) {
      if (q->has_c) {
        double prev_acc = q->acc_j;
        double delta = c - q->lc_c;
        if (delta < 0) { /* driver reload: the interval by the power integral */
          delta = 0;
          if (!isnan(p) && !isnan(q->lc_p)) delta = (r->t - q->lc_t) * (p + q->lc_p) / 2;
        }
        q->acc_j += delta;
        double dt = r->t - q->lc_t;
        for (size_t k = q->lc_row + 1; k < i; k++) {
          row *m = row_wr(s, k);
          m->cum[d] = dt > 0 ? prev_acc + (q->acc_j - prev_acc) * ((m->t - q->lc_t) / dt)
                             : prev_acc;
        }
      }
      q->has_c = true;
      r->cum[d] = q->acc_j;
      q->lc_row = i;
      q->lc_t = r->t;
      q->lc_c = c;
      q->lc_p = p;
    }
  }
  int rc2 = drain(s, false, err);
  if (!rc2 && s->io_failed) rc2 = io_error(s, err);
  return rc2;
}

int dle_energy_stream_finish(dle_energy_stream *s, dle_energy_stream_result *out,
                             double *const epoch_j[DLE_COMP_COUNT], dle_error *err) {
  if (!s || !out) return dle_error_set(err, DLE_EINVAL, "streamed energy: missing argument");
  if (s->failed) return dle_error_set(err, s->failed, "streamed energy: not this run");
  if (!s->n) return unsupported(s, err, "no samples");
  /* gaps still open at the end: power absent after a GPU's last reading, its
   * counter held */
  for (uint32_t d = 0; d < s->n_slots; d++) {
    slot *q = &s->sl[d];
    if (!q->has_c) continue;
    for (size_t k = q->lc_row + 1; k < s->base + s->len; k++) row_wr(s, k)->cum[d] = q->acc_j;
  }
  int rc = drain(s, true, err);
  if (!rc && s->io_failed) rc = io_error(s, err);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  dle_energy_parts *pt = &out->parts;
  pt->samples = s->n;
  pt->duration_s = s->t_last - s->t_first;
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    pt->has[c] = s->has[c];
    pt->trapezoid_j[c] = s->has[c] ? s->trap_j[c] : NAN;
    pt->mean_w[c] = s->n_w[c] ? s->sum_w[c] / (double)s->n_w[c] : NAN;
  }
  pt->n_devices = s->n_slots;
  bool counters = true, any = false;
  for (uint32_t d = 0; d < s->n_slots; d++) {
    const slot *q = &s->sl[d];
    pt->device_index[d] = q->index;
    pt->device_headline[d] = q->headline;
    pt->device_has[d] = q->has_p;
    pt->device_integral_j[d] = q->has_p ? q->integral_j : NAN;
    pt->device_counter_j[d] = q->has_c ? q->acc_j : NAN;
    pt->device_mean_w[d] = q->n_w ? q->sum_w / (double)q->n_w : NAN;
    if (!q->headline) continue;
    if (q->has_c && !q->has_p)
      return unsupported(s, err, "a headline GPU with counter readings but no power reading");
    if (q->has_p) {
      any = true;
      if (!q->has_c) counters = false;
    }
  }
  bool counter_col = counters && any;
  pt->gpu_counter_first_j = counter_col ? s->cum_first : NAN;
  pt->gpu_counter_last_j = counter_col ? s->cum_last : NAN;
  for (int k = 0; k < 2; k++) {
    pt->rapl_first_j[k] = s->rapl_first[k];
    pt->rapl_last_j[k] = s->rapl_last[k];
  }
  out->t_first_s = s->t_first;
  out->t_last_s = s->t_last;
  out->gpu_util_mean_pct = s->util_n ? s->util_sum / (double)s->util_n : NAN;
  out->gpu_temp_mean_c = s->temp_n ? s->temp_sum / (double)s->temp_n : NAN;
  /* epochs */
  double *at_b = NULL, *at_e = NULL;
  if (s->n_ep) {
    at_b = malloc(s->n_ep * sizeof *at_b);
    at_e = malloc(s->n_ep * sizeof *at_e);
    if (!at_b || !at_e) {
      free(at_b);
      free(at_e);
      return dle_error_set(err, DLE_ENOMEM, "out of memory");
    }
  }
  for (size_t j = 0; j < s->n_edges; j++) {
    const edge *g = &s->edges[j];
    double v = s->edge_c[j];
    if (g->x == INFINITY) /* the last sample's time: the first row at that time */
      v = s->cum_first_at_t;
    else if (j >= s->next_edge) /* after the last row: held */
      v = s->cum_last;
    (g->end ? at_e : at_b)[g->k] = v;
  }
  for (size_t k = 0; k < s->n_ep; k++) {
    epoch_win *w = &s->ew[k];
    double b = w->b == -INFINITY ? s->t_first : w->b;
    double e = w->e == INFINITY ? s->t_last : w->e;
    if (e < b) {
      free(at_b);
      free(at_e);
      return unsupported(s, err, "an epoch ends before it begins");
    }
    for (int c = 0; c < DLE_COMP_COUNT; c++) {
      if (!epoch_j || !epoch_j[c]) continue;
      bool anyc = w->any[c] || (w->frozen && s->has[c] && s->last_valid_row[c] >= w->frozen_row);
      if (!s->has[c])
        epoch_j[c][k] = NAN;
      else if (c == DLE_COMP_GPU && counter_col)
        epoch_j[c][k] = at_e[k] - at_b[k];
      else
        /* a window after the last sample: dle_energy_between_j looks at the last row */
        epoch_j[c][k] = !w->started ? (s->prev_valid[c] ? 0 : NAN) : anyc ? w->e_j[c] : NAN;
    }
  }
  free(at_b);
  free(at_e);
  return DLE_OK;
}

static int feed(void *ctx, const dle_sample *smp, dle_error *err) {
  return dle_energy_stream_add(ctx, smp, err);
}

static double col_mean(const double *x, size_t n) {
  double sum = 0;
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(x[i])) sum += x[i], m++;
  return m ? sum / (double)m : NAN;
}

/* The whole-trace path, for runs the stream does not handle. */
static int summarize_trace(dle_store *st, int64_t run_id, const dle_run_info *info,
                           const dle_epoch *ep, size_t n_ep, double *const epoch_j[DLE_COMP_COUNT],
                           dle_run_energy *out, dle_error *err) {
  dle_trace tr = {0};
  int rc = dle_store_load_trace(st, run_id, &tr, err);
  if (!rc) rc = dle_energy_summarize(&tr, info, &out->sum, err);
  for (int c = 0; !rc && c < DLE_COMP_COUNT; c++)
    if (epoch_j && epoch_j[c]) rc = dle_energy_per_epoch(&tr, ep, n_ep, (dle_component)c, epoch_j[c], err);
  if (!rc) {
    out->t_first_s = tr.n ? tr.t_s[0] : NAN;
    out->t_last_s = tr.n ? tr.t_s[tr.n - 1] : NAN;
    out->gpu_util_mean_pct = col_mean(tr.gpu_util_pct, tr.n);
    out->gpu_temp_mean_c = col_mean(tr.gpu_temp_c, tr.n);
  }
  dle_trace_free(&tr);
  return rc;
}

int dle_energy_summarize_run(dle_store *st, int64_t run_id, const dle_run_info *info,
                             const dle_epoch *ep, size_t n_ep,
                             double *const epoch_j[DLE_COMP_COUNT], dle_run_energy *out,
                             dle_error *err) {
  if (!st || !out) return dle_error_set(err, DLE_EINVAL, "run energy: missing argument");
  memset(out, 0, sizeof *out);
  uint32_t idx[DLE_MAX_GPUS];
  size_t ni = 0;
  int rc = dle_store_headline_gpus(st, run_id, idx, &ni, err);
  if (rc) return rc;
  dle_energy_stream *s = NULL;
  rc = dle_energy_stream_new(idx, ni, ep, n_ep, &s, err);
  if (rc) return rc;
  dle_energy_stream_result res = {0}; /* gcc -O3 cannot see that finish fills it */
  rc = dle_store_foreach_sample(st, run_id, feed, s, err);
  if (!rc) rc = dle_energy_stream_finish(s, &res, epoch_j, err);
  dle_energy_stream_free(s);
  if (rc == DLE_EUNSUPPORTED) return summarize_trace(st, run_id, info, ep, n_ep, epoch_j, out, err);
  if (rc) return rc;
  dle_energy_compose(&res.parts, info, &out->sum);
  out->t_first_s = res.t_first_s;
  out->t_last_s = res.t_last_s;
  out->gpu_util_mean_pct = res.gpu_util_mean_pct;
  out->gpu_temp_mean_c = res.gpu_temp_mean_c;
  out->streamed = 1;
  return DLE_OK;
}

#define SERIES_COLUMNS(X)                                                                  \
  X(t_s) X(gpu_power_w) X(cpu_power_w) X(dram_power_w) X(ram_power_w) X(gpu_util_pct)     \
  X(gpu_power_limit_w) X(cpu_util_pct) X(rss_mib)

static int series_reserve(dle_trace *t, size_t rows, dle_error *err) {
  if (rows <= t->cap) return DLE_OK;
  size_t cap = t->cap ? t->cap : 256;
  while (cap < rows) cap *= 2;
#define GROW(c)                                           \
  {                                                       \
    double *p = realloc(t->c, cap * sizeof *p);           \
    if (!p) return dle_error_set(err, DLE_ENOMEM, "out of memory"); \
    t->c = p;                                             \
  }
  SERIES_COLUMNS(GROW)
#undef GROW
  t->cap = cap;
  return DLE_OK;
}

static int to_series(void *ctx, const dle_energy_row *r, dle_error *err) {
  dle_trace *t = ctx;
  int rc = series_reserve(t, t->n + 1, err);
  if (rc) return rc;
  size_t i = t->n++;
#define PUT(c) t->c[i] = r->c;
  SERIES_COLUMNS(PUT)
#undef PUT
  return DLE_OK;
}

int dle_energy_load_series(dle_store *st, int64_t run_id, dle_trace *out, dle_error *err) {
  if (!st || !out) return dle_error_set(err, DLE_EINVAL, "run series: missing argument");
  memset(out, 0, sizeof *out);
  uint32_t idx[DLE_MAX_GPUS];
  size_t ni = 0;
  int64_t n = 0;
  int rc = dle_store_headline_gpus(st, run_id, idx, &ni, err);
  if (!rc) rc = dle_store_count_samples(st, run_id, &n, err);
  if (!rc && n > 0) rc = series_reserve(out, (size_t)n, err);
  dle_energy_stream *s = NULL;
  if (!rc) rc = dle_energy_stream_new(idx, ni, NULL, 0, &s, err);
  if (!rc) {
    dle_energy_stream_on_row(s, to_series, out);
    rc = dle_store_foreach_sample(st, run_id, feed, s, err);
    dle_energy_stream_result res = {0}; /* gcc -O3 cannot see that finish fills it */
    if (!rc) rc = dle_energy_stream_finish(s, &res, NULL, err);
    if (!rc) out->n_gpus = res.parts.n_devices;
  }
  dle_energy_stream_free(s);
  if (rc) dle_trace_free(out);
  if (rc == DLE_EUNSUPPORTED) return dle_store_load_trace(st, run_id, out, err);
  if (!rc) out->gpus_selected = true;
  return rc;
}
