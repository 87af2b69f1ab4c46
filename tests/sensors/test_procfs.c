/* procfs sensor on a real process tree: a child and a grandchild burn 1.5 s of
 * CPU each (their own CPU time, so a starved test does the same work) and the
 * child holds 64 MiB; both pids are found, the CPU time integrated from the
 * samples matches what the kernel charged them (getrusage of the children),
 * RSS is seen, and the RAM and CPU models follow the readings. Also parses a
 * fake /proc whose command names hold spaces and parentheses. */
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/sensors.h"
#include "sensors/sensor.h"

/* Burns this process's own CPU time (not wall time), so a starved test on a
 * loaded machine still runs the same amount of work. */
static void burn_cpu(double cpu_s) {
  struct timespec ts;
  volatile double x = 0;
  for (;;) {
    for (int i = 0; i < 100000; i++) x += i * 1e-9;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    if (ts.tv_sec + ts.tv_nsec / 1e9 >= cpu_s) break;
  }
  (void)x;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* utime + stime of one process from /proc/PID/stat, in seconds (0 if gone). */
static double proc_cpu_s(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *r = strrchr(buf, ')');
  unsigned long ut = 0, st = 0;
  if (!r || sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return 0;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void test_tree(void) {
  dle_error e;
  dle_procfs *p = NULL;
  CHECK_OK(dle_procfs_open(NULL, 0, 0, &p, &e), &e); /* rescan every read */
  if (!p) return;
  int pipefd[2];
  if (pipe(pipefd) != 0) SKIP("pipe");
  pid_t child = fork();
  if (child == 0) {
    close(pipefd[0]);
    pid_t gc = fork();
    if (gc == 0) {
      burn_cpu(1.5);
      _exit(0);
    }
    size_t n = 64u << 20;
    volatile char *mem = malloc(n); /* volatile: the stores must really happen */
    for (size_t i = 0; mem && i < n; i += 4096) mem[i] = 1;
    if (write(pipefd[1], &gc, sizeof gc) != (ssize_t)sizeof gc) _exit(3);
    burn_cpu(1.5);
    waitpid(gc, NULL, 0);
    free((void *)mem);
    _exit(0);
  }
  close(pipefd[1]);
  pid_t gc = 0;
  if (read(pipefd[0], &gc, sizeof gc) != (ssize_t)sizeof gc) SKIP("no grandchild pid");
  close(pipefd[0]);
  dle_procfs_set_pid(p, child);
  /* The sensor integrates from its first read; CPU the tree used before it
   * (fork, touching 64 MiB) is not the sensor's to count. Read it here. */
  {
    dle_sample s0;
    dle_sample_clear(&s0);
    dle_tick t0 = {.now_ns = dle_monotonic_ns()};
    dle_procfs_read(p, &t0, &s0);
  }
  double before_s = proc_cpu_s(child) + proc_cpu_s(gc);

  double integral_cpu_s = 0, max_rss = 0, max_util = 0;
  bool saw_child = false, saw_gc = false;
  int64_t prev = dle_monotonic_ns();
  double max_gap_s = 0.1; /* longest time between two reads (longer on a loaded machine) */
  int ncpu = dle_procfs_logical_cpus(p);
  for (int iter = 0; iter < 600; iter++) {
    sleep_ms(100);
    dle_sample smp;
    dle_sample_clear(&smp);
    dle_tick tick = {.now_ns = dle_monotonic_ns()};
    dle_procfs_read(p, &tick, &smp);
    for (size_t i = 0; i < tick.n_tree_pids; i++) {
      saw_child |= tick.tree_pids[i] == child;
      saw_gc |= tick.tree_pids[i] == gc;
    }
    if (!isnan(smp.cpu_util_pct)) {
      integral_cpu_s += smp.cpu_util_pct / 100.0 * ncpu * (tick.now_ns - prev) / 1e9;
      if (smp.cpu_util_pct > max_util) max_util = smp.cpu_util_pct;
    }
    if (smp.rss_mib > max_rss) max_rss = smp.rss_mib;
    if ((tick.now_ns - prev) / 1e9 > max_gap_s) max_gap_s = (tick.now_ns - prev) / 1e9;
    prev = tick.now_ns;
    int st;
    if (waitpid(child, &st, WNOHANG) == child) {
      /* Tree gone: the next read shows an idle, empty tree. */
      tick.now_ns = dle_monotonic_ns() + 1000000;
      dle_procfs_read(p, &tick, &smp);
      CHECK(tick.n_tree_pids == 0);
      CHECK_NEAR(smp.rss_mib, 0, 1e-12);
      CHECK_NEAR(smp.cpu_util_pct, 0, 1e-12);
      break;
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  double charged = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                   ru.ru_stime.tv_usec / 1e6 - before_s;
  printf("tree CPU: integrated from samples %.3f CPU-s, charged by the kernel %.3f CPU-s "
         "since the first read\n",
         integral_cpu_s, charged);
  CHECK(saw_child);
  CHECK(saw_gc);
  CHECK_MSG(max_rss > 60, "max RSS %.1f MiB", max_rss);
  CHECK(max_util > 0);
  /* At most one interval of each process is lost at exit (2 x the longest gap
   * between reads: 0.1 s on an idle machine, more when the test is starved),
   * plus clock-tick rounding (0.01 s per process per read). */
  CHECK_MSG(charged > 0.2, "children charged only %.3f CPU-s", charged);
  CHECK_MSG(integral_cpu_s <= charged + 0.05 && integral_cpu_s >= charged - 2 * max_gap_s - 0.1,
            "integrated %.3f CPU-s vs charged %.3f (longest gap between reads %.3f s)",
            integral_cpu_s, charged, max_gap_s);
  dle_procfs_close(p);
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) SKIP("cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* A fake /proc: pid 100 "(my (odd) name)" with children 101, 102 and grandchild
 * 103; 104 is unrelated. cpuinfo/meminfo give the host facts. */
static void test_fake_proc(void) {
  char root[128], path[256];
  snprintf(root, sizeof root, "proc_fake_%ld", (long)getpid());
  mkdir(root, 0755);
  const struct { int pid, ppid; const char *comm; int rss_pages; } procs[] = {
      {100, 1, "my (odd) name", 256}, {101, 100, "worker 1", 256}, {102, 100, "x)", 256},
      {103, 101, "gc", 256}, {104, 1, "other", 100000}};
  for (size_t i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%d", root, procs[i].pid);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%d/stat", root, procs[i].pid);
    char text[512];
    /* fields 3.. : state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime priority nice threads itreal starttime
     * vsize rss */
    snprintf(text, sizeof text,
             "%d (%s) S %d 1 1 0 -1 0 0 0 0 0 10 5 0 0 20 0 1 0 1 1000 %d 0 0\n",
             procs[i].pid, procs[i].comm, procs[i].ppid, procs[i].rss_pages);
    put(path, text);
  }
  snprintf(path, sizeof path, "%s/cpuinfo", root);
  put(path,
      "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nphysical id\t: 0\n"
      "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nphysical id\t: 1\n");
  snprintf(path, sizeof path, "%s/meminfo", root);
  put(path, "MemTotal:       16000000 kB\nMemFree:         1000 kB\n");

  dle_sensors_config c;
  dle_sensors_config_init(&c);
  c.enable_nvml = false;
  c.enable_rapl = false;
  c.proc_root = root;
  c.root_pid = 100;
  dle_sensors *s = NULL;
  dle_error e;
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(strcmp(info.cpu_model, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz") == 0);
    CHECK(info.cpu_packages == 2);
    CHECK_NEAR(info.host_ram_gb, 16000000 * 1024.0 / 1e9, 1e-9);
    CHECK_NEAR(info.cpu_tdp_w, 150, 1e-9); /* from data/cpu_tdp.csv */
    CHECK(strncmp(info.cpu_tdp_source, "table: Intel ARK", 16) == 0);
    /* 150 W / 40 threads per visible CPU, at most the two packages' 300 W. */
    double full_w = 150.0 / 40 * info.cpu_logical;
    if (full_w > 300) full_w = 300;
    CHECK_NEAR(info.cpu_model_w, full_w, 1e-9);
    CHECK(!info.cpu_model_generic);
    CHECK(strcmp(info.cpu_source, "model") == 0);
    CHECK(strcmp(info.ram_source, "model") == 0);
    dle_sample smp;
    int64_t t0 = dle_monotonic_ns();
    CHECK_OK(dle_sensors_read(s, t0, &smp, &e), &e);
    double page = (double)sysconf(_SC_PAGESIZE);
    CHECK_NEAR(smp.rss_mib, 4 * 256 * page / 1048576.0, 1e-9); /* 104 is not in the tree */
    /* The pids started "at boot tick 1", long before the sensors opened: their
     * past CPU time is not counted, so the tree is idle. */
    CHECK_NEAR(smp.cpu_util_pct, 0, 1e-12);
    CHECK_NEAR(smp.cpu_power_w, 0, 1e-12);
    CHECK_NEAR(smp.ram_power_w, 0.375 * smp.rss_mib * 1048576.0 / 1e9, 1e-12);
    /* 103 burns 2 s of CPU (200 ticks at 100 Hz) within 1 s: 100% of 2 CPUs
     * would be 2 CPU-s, so with 2 packages x 150 W ... the model scales TDP. */
    snprintf(path, sizeof path, "%s/103/stat", root);
    put(path, "103 (gc) R 101 1 1 0 -1 0 0 0 0 0 110 5 0 0 20 0 1 0 1 1000 256 0 0\n");
    int64_t t1 = t0 + 1000000000LL; /* exactly 1 s after the first read, however loaded */
    CHECK_OK(dle_sensors_read(s, t1, &smp, &e), &e);
    long hz = sysconf(_SC_CLK_TCK);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double expect_pct = 100.0 / hz / ncpu * 100.0; /* 100 ticks over 1 s */
    CHECK_REL(smp.cpu_util_pct, expect_pct, 0.01);
    CHECK_REL(smp.cpu_power_w, full_w * smp.cpu_util_pct / 100.0, 1e-12);
    dle_sensors_close(s);
  }
  /* Explicit TDP wins over the table. */
  c.cpu_tdp_w = 65;
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK_NEAR(info.cpu_tdp_w, 65, 1e-12);
    CHECK_NEAR(info.cpu_model_w, 130, 1e-12); /* x 2 packages */
    CHECK(strcmp(info.cpu_tdp_source, "config") == 0);
    dle_sensors_close(s);
  }
  /* Bad configuration values are refused. */
  c.cpu_tdp_w = -1;
  CHECK(dle_sensors_open(&c, &s, &e) == DLE_EINVAL);
  c.cpu_tdp_w = NAN;
  c.ram_w_per_gb = 1e6;
  CHECK(dle_sensors_open(&c, &s, &e) == DLE_EINVAL);
  c.ram_w_per_gb = 0; /* RAM model off */
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(strcmp(info.ram_source, "none") == 0);
    dle_sample smp;
    dle_sensors_read(s, dle_monotonic_ns(), &smp, &e);
    CHECK(isnan(smp.ram_power_w) && smp.rss_mib > 0);
    dle_sensors_close(s);
  }
  /* Unknown CPU: the table's last-resort row ("*"), labelled generic; a
   * table that lacks one leaves the CPU unmodelled, with a note on --cpu-tdp. */
  snprintf(path, sizeof path, "%s/cpuinfo", root);
  put(path, "processor\t: 0\nmodel name\t: Imaginary CPU 9000\n");
  c.ram_w_per_gb = 0.375;
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(strcmp(info.cpu_source, "model") == 0);
    CHECK(info.cpu_model_generic);
    CHECK(strstr(info.cpu_model_how, "Imaginary CPU 9000") != NULL);
    dle_sensors_close(s);
  }
  snprintf(path, sizeof path, "%s/table.csv", root);
  put(path, "pattern,tdp_w,threads,kind,group,source\nEPYC,2.5,1,family,EPYC,test\n");
  c.cpu_tdp_table = path;
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(strcmp(info.cpu_source, "none") == 0);
    CHECK(strstr(info.notes, "--cpu-tdp") != NULL);
    dle_sample smp;
    dle_sensors_read(s, dle_monotonic_ns(), &smp, &e);
    CHECK(isnan(smp.cpu_power_w));
    dle_sensors_close(s);
  }
  unlink(path);
  for (size_t i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%d/stat", root, procs[i].pid);
    unlink(path);
    snprintf(path, sizeof path, "%s/%d", root, procs[i].pid);
    rmdir(path);
  }
  snprintf(path, sizeof path, "%s/cpuinfo", root);
  unlink(path);
  snprintf(path, sizeof path, "%s/meminfo", root);
  unlink(path);
  rmdir(root);
}

int main(void) {
  test_tree();
  test_fake_proc();
  return check_finish();
}
