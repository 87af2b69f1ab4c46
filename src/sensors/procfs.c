/* procfs.c — the monitored process tree from /proc: the root pid and every
 * descendant, their CPU time and resident memory.
 *
 * Discovery: every tree_rescan_s the <proc>/ directory is listed. Only pids
 * not listed by the previous scan are new processes, and only their stat is
 * read: a new process joins the tree when its parent is a member, or when it
 * is in the root's session and the root leads that session (so workers whose
 * parent already exited are still found). A process that was not a member
 * cannot become one later (reparenting goes to init or a subreaper), so a
 * steady-state rescan costs one directory listing, not a read per process.
 * And the listing is skipped altogether while the last pid the kernel handed
 * out (last field of <proc>/loadavg) has not changed: no process was created.
 * A member stays a member until it exits, even if reparented. Between rescans
 * only the members are read: on the real /proc their CPU-time clock
 * (clock_getcpuclockid: ns resolution, where stat's utime+stime come in
 * 10 ms ticks) and statm for RSS, through files kept open (pread at 0).
 *
 * CPU time: per member, the increase of its CPU time since the previous read.
 * A member that started after the sensors were opened counts from zero (all its
 * CPU time belongs to the monitored period); one that already existed (attach)
 * counts from when it was first seen. A member's CPU time between the last read
 * and its exit is lost (at most one interval of it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sensor.h"

typedef struct member {
  pid_t pid;
  int fd;                /* <proc>/<pid>/stat, kept open */
  clockid_t clk;         /* the process's CPU-time clock (real /proc only) */
  double last_cpu_s;     /* CPU time (all threads) at the previous read */
  double start_ticks;    /* field 22: start time after boot, clock ticks */
} member;

struct dle_procfs {
  char root_dir[1024];
  pid_t root;
  int64_t rescan_ns;
  int64_t last_scan_ns;
  bool need_scan;
  int loadavg_fd;        /* <proc>/loadavg, whose last field is the last pid created */
  long last_pid_seen;    /* at the previous listing; -1 = unknown */
  double clk_tck;
  bool use_cpu_clock;    /* the real /proc: CPU time from the process CPU clock
                            (ns resolution, cheaper than formatting stat) and
                            RSS from statm; a fake root: both from stat */
  double page_bytes;
  int ncpu;
  double ref_boot_ticks; /* sensors open instant, in boot-clock ticks */
  int64_t last_ns;       /* previous read (or open) instant */
  member *m;
  size_t n, cap;
  pid_t *pids;           /* member pids, for the tick */
  size_t pids_cap;
  bool root_leads_session; /* root is its session's leader */
  /* pids listed by the previous scan (sorted) and by this one */
  pid_t *seen, *cur;
  size_t n_seen, seen_cap, cur_cap;
  /* new pids of this scan not yet placed */
  struct cand { pid_t pid, ppid, sid; double start; bool done; } *cand;
  size_t cand_cap;
};

typedef struct stat_fields {
  pid_t ppid;
  pid_t sid;             /* session id */
  double ticks;          /* utime + stime */
  double start_ticks;
  double rss_pages;
} stat_fields;

/* Parses the text of /proc/PID/stat. The command name (field 2) may hold
 * spaces and parentheses, so fields are counted after the last ')'. */
static int parse_stat(const char *buf, stat_fields *f) {
  const char *p = strrchr(buf, ')');
  if (!p) return -1;
  p++;
  /* tok index k is field k+3 */
  int k = 0;
  double vals[22];
  while (*p && k < 22) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (k == 0) {
      vals[0] = 0; /* state letter */
      while (*p && *p != ' ') p++;
    } else {
      char *end;
      vals[k] = strtod(p, &end);
      if (end == p) return -1;
      p = end;
    }
    k++;
  }
  if (k < 22) return -1;
  f->ppid = (pid_t)vals[1];
  f->sid = (pid_t)vals[3];
  f->ticks = vals[11] + vals[12];
  f->start_ticks = vals[19];
  f->rss_pages = vals[21];
  return 0;
}

static int read_stat_fd(int fd, stat_fields *f) {
  char buf[1024];
  ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
  if (r <= 0) return -1;
  buf[r] = '\0';
  return parse_stat(buf, f);
}

static int open_stat(const dle_procfs *p, pid_t pid) {
  char path[1100];
  snprintf(path, sizeof path, "%s/%ld/stat", p->root_dir, (long)pid);
  return open(path, O_RDONLY | O_CLOEXEC);
}

static void drop_members(dle_procfs *p) {
  for (size_t i = 0; i < p->n; i++)
    if (p->m[i].fd >= 0) close(p->m[i].fd);
  p->n = 0;
}

static double boot_ticks_now(double clk_tck) {
  struct timespec ts;
  if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0) return 0;
  return ((double)ts.tv_sec + ts.tv_nsec / 1e9) * clk_tck;
}

int dle_procfs_open(const char *proc_root, pid_t root, double rescan_s, dle_procfs **out,
                    dle_error *err) {
  *out = NULL;
  if (isnan(rescan_s) || rescan_s > 3600)
    return dle_error_set(err, DLE_EINVAL, "tree rescan interval %g s out of range (<= 3600)",
                         rescan_s);
  dle_procfs *p = calloc(1, sizeof *p);
  if (!p) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  snprintf(p->root_dir, sizeof p->root_dir, "%s", proc_root && *proc_root ? proc_root : "/proc");
  DIR *d = opendir(p->root_dir);
  if (!d) {
    int e = errno;
    free(p);
    return dle_error_set(err, DLE_EUNSUPPORTED, "cannot read %s: %s", proc_root ? proc_root : "/proc",
                         strerror(e));
  }
  closedir(d);
  p->root = root;
  p->use_cpu_clock = strcmp(p->root_dir, "/proc") == 0;
  char la[1100];
  snprintf(la, sizeof la, "%s/loadavg", p->root_dir);
  p->loadavg_fd = open(la, O_RDONLY | O_CLOEXEC);
  p->last_pid_seen = -1;
  p->rescan_ns = rescan_s < 0 ? -1 : (int64_t)(rescan_s * 1e9); /* -1: discover once */
  p->need_scan = true;
  long t = sysconf(_SC_CLK_TCK);
  p->clk_tck = t > 0 ? (double)t : 100.0;
  long pg = sysconf(_SC_PAGESIZE);
  p->page_bytes = pg > 0 ? (double)pg : 4096.0;
  long nc = sysconf(_SC_NPROCESSORS_ONLN);
  p->ncpu = nc > 0 ? (int)nc : 1;
  p->ref_boot_ticks = boot_ticks_now(p->clk_tck);
  p->last_ns = dle_monotonic_ns();
  *out = p;
  return DLE_OK;
}

void dle_procfs_close(dle_procfs *p) {
  if (!p) return;
  drop_members(p);
  if (p->loadavg_fd >= 0) close(p->loadavg_fd);
  free(p->m);
  free(p->pids);
  free(p->seen);
  free(p->cur);
  free(p->cand);
  free(p);
}

void dle_procfs_set_pid(dle_procfs *p, pid_t root) {
  if (p->root == root) return;
  drop_members(p);
  p->root = root;
  p->root_leads_session = false;
  p->n_seen = 0; /* read every process once again */
  p->last_pid_seen = -1;
  p->need_scan = true;
}

int dle_procfs_logical_cpus(const dle_procfs *p) { return p->ncpu; }

static member *find_member(dle_procfs *p, pid_t pid) {
  for (size_t i = 0; i < p->n; i++)
    if (p->m[i].pid == pid) return &p->m[i];
  return NULL;
}

/* CPU seconds and resident pages of a member; -1 once it is gone. */
static int member_read(const dle_procfs *p, const member *m, double *cpu_s, double *rss_pages) {
  if (p->use_cpu_clock) {
    char buf[256];
    ssize_t r = pread(m->fd, buf, sizeof buf - 1, 0); /* statm: size resident ... */
    if (r <= 0) return -1;
    buf[r] = '\0';
    char *end;
    strtod(buf, &end);
    double res = strtod(end, NULL);
    struct timespec ts;
    if (clock_gettime(m->clk, &ts) != 0) return -1;
    *cpu_s = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    *rss_pages = res;
    return 0;
  }
  stat_fields f;
  if (read_stat_fd(m->fd, &f) != 0) return -1;
  *cpu_s = f.ticks / p->clk_tck;
  *rss_pages = f.rss_pages;
  return 0;
}

static int add_member(dle_procfs *p, pid_t pid, double start_ticks) {
  if (p->n == p->cap) {
    size_t nc = p->cap ? p->cap * 2 : 16;
    member *a = realloc(p->m, nc * sizeof *a);
    if (!a) return -1;
    p->m = a;
    p->cap = nc;
  }
  int fd = open_stat(p, pid);
  if (fd < 0) return 0; /* gone meanwhile */
  stat_fields f;
  if (read_stat_fd(fd, &f) != 0) {
    close(fd);
    return 0;
  }
  member m = {.pid = pid, .fd = fd, .start_ticks = start_ticks};
  if (p->use_cpu_clock) {
    close(fd);
    char path[1100];
    snprintf(path, sizeof path, "%s/%ld/statm", p->root_dir, (long)pid);
    m.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (m.fd < 0) return 0;
    if (clock_getcpuclockid(pid, &m.clk) != 0) {
      close(m.fd);
      return 0;
    }
  }
  double cpu_s, rss;
  if (member_read(p, &m, &cpu_s, &rss) != 0) {
    close(m.fd);
    return 0;
  }
  /* Started after the sensors opened: all of its CPU time is ours to count.
   * starttime is truncated to whole clock ticks, so a process forked in the
   * same tick as the open (or the one before) reads as older than it is. */
  m.last_cpu_s = start_ticks >= floor(p->ref_boot_ticks) - 1 ? 0 : cpu_s;
  p->m[p->n++] = m;
  if (pid == p->root) p->root_leads_session = f.sid == pid;
  return 0;
}

static int cmp_pid(const void *a, const void *b) {
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return (x > y) - (x < y);
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap : 256;
  while (nc < need) nc *= 2;
  void *a = realloc(*arr, nc * elem);
  if (!a) return false;
  *arr = a;
  *cap = nc;
  return true;
}

/* The last pid created in this pid namespace, or -1 when unknown. */
static long last_pid(const dle_procfs *p) {
  if (p->loadavg_fd < 0) return -1;
  char buf[128];
  ssize_t r = pread(p->loadavg_fd, buf, sizeof buf - 1, 0);
  if (r <= 0) return -1;
  buf[r] = '\0';
  const char *sp = strrchr(buf, ' ');
  if (!sp) return -1;
  char *end;
  long v = strtol(sp + 1, &end, 10);
  return end == sp + 1 ? -1 : v;
}

/* Lists <proc>/, reads the stat of pids the previous scan did not list, and
 * adds the new members. */
static void rescan(dle_procfs *p) {
  long lp = last_pid(p);
  if (lp >= 0 && lp == p->last_pid_seen) return; /* nothing was created */
  DIR *d = opendir(p->root_dir);
  if (!d) return;
  size_t ncur = 0, ncand = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *s = de->d_name;
    if (*s < '1' || *s > '9') continue;
    char *end;
    long pid = strtol(s, &end, 10);
    if (*end) continue;
    if (!grow((void **)&p->cur, &p->cur_cap, ncur + 1, sizeof *p->cur)) break;
    p->cur[ncur++] = (pid_t)pid;
  }
  qsort(p->cur, ncur, sizeof *p->cur, cmp_pid);
  char buf[1024];
  for (size_t i = 0; i < ncur; i++) {
    pid_t pid = p->cur[i];
    if (p->n_seen && bsearch(&pid, p->seen, p->n_seen, sizeof pid, cmp_pid)) continue;
    if (find_member(p, pid)) continue;
    char rel[64];
    snprintf(rel, sizeof rel, "%ld/stat", (long)pid);
    int fd = openat(dirfd(d), rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) continue;
    buf[r] = '\0';
    stat_fields f;
    if (parse_stat(buf, &f) != 0) continue;
    if (!grow((void **)&p->cand, &p->cand_cap, ncand + 1, sizeof *p->cand)) break;
    p->cand[ncand++] = (struct cand){pid, f.ppid, f.sid, f.start_ticks, false};
  }
  closedir(d);
  /* Place the new pids: a parent may be listed after its child, so repeat
   * until nothing changes. */
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < ncand; i++) {
      struct cand *c = &p->cand[i];
      if (c->done) continue;
      bool in = c->pid == p->root || find_member(p, c->ppid) ||
                (p->root_leads_session && c->sid == p->root);
      if (!in) continue;
      c->done = true;
      changed = true;
      if (add_member(p, c->pid, c->start) != 0) return;
    }
  }
  p->last_pid_seen = lp;
  pid_t *t = p->seen;
  size_t tc = p->seen_cap;
  p->seen = p->cur;
  p->seen_cap = p->cur_cap;
  p->n_seen = ncur;
  p->cur = t;
  p->cur_cap = tc;
}

void dle_procfs_read(dle_procfs *p, dle_tick *tick, dle_sample *out) {
  tick->tree_rescanned = false;
  if (p->root <= 0) {
    tick->tree_pids = NULL;
    tick->n_tree_pids = 0;
    p->last_ns = tick->now_ns;
    return;
  }
  if (p->need_scan || (p->rescan_ns >= 0 && tick->now_ns - p->last_scan_ns >= p->rescan_ns)) {
    rescan(p);
    p->last_scan_ns = tick->now_ns;
    p->need_scan = false;
    tick->tree_rescanned = true;
  }
  double dcpu_s = 0, rss_pages = 0;
  size_t w = 0;
  for (size_t i = 0; i < p->n; i++) {
    member *m = &p->m[i];
    double cpu_s, rss;
    if (member_read(p, m, &cpu_s, &rss) != 0) { /* exited (and reaped) */
      close(m->fd);
      continue;
    }
    if (cpu_s > m->last_cpu_s) dcpu_s += cpu_s - m->last_cpu_s;
    m->last_cpu_s = cpu_s;
    rss_pages += rss;
    p->m[w++] = *m;
  }
  p->n = w;
  if (p->pids_cap < p->n) {
    pid_t *np = realloc(p->pids, p->n * sizeof *np);
    if (np) {
      p->pids = np;
      p->pids_cap = p->n;
    }
  }
  size_t np_ = p->pids_cap < p->n ? p->pids_cap : p->n;
  for (size_t i = 0; i < np_; i++) p->pids[i] = p->m[i].pid;
  tick->tree_pids = p->pids;
  tick->n_tree_pids = np_;
  double dt = (double)(tick->now_ns - p->last_ns) / 1e9;
  if (dt > 0) out->cpu_util_pct = dcpu_s / dt / p->ncpu * 100.0;
  out->rss_mib = rss_pages * p->page_bytes / 1048576.0;
  p->last_ns = tick->now_ns;
}
