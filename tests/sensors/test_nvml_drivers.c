/* NVML sensor against fake libraries that behave like real drivers (issue 9):
 * 32-byte _v3 process records (535.43-535.86), the DetailList of 535.104+,
 * the run's process at positions 1-3 and behind more than 64 others, handles
 * that fail on one of four GPUs, a GPU lost mid-run, failed readings, pids of
 * another pid namespace (container) with CUDA_VISIBLE_DEVICES, MIG with a
 * process list that answers NO_PERMISSION, and averaged vs instant power. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/sensors.h"

static const char *lib_cur, *lib_535_54, *lib_535_104;

static void write_script(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) SKIP("cannot write %s", path);
  fputs(text, f);
  fclose(f);
  setenv("FAKE_NVML_SCRIPT", path, 1);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A child that sleeps (exec'd, so /proc/PID/environ is envp). */
static pid_t spawn_sleeper(char *const envp[]) {
  pid_t child = fork();
  if (child == 0) {
    char *argv[] = {"sleep", "60", NULL};
    execve("/bin/sleep", argv, envp);
    _exit(127);
  }
  sleep_ms(50); /* let the exec happen: environ is the new image's */
  return child;
}

static void end_child(pid_t child) {
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
}

/* GPU + procfs sensors on the tree at root; reads `reads` samples `gap_ms`
 * apart; the last sample in *last (may be NULL). */
static bool read_tree(const char *lib, pid_t root, const char *gpus, int reads, int gap_ms,
                      dle_sensors_info *info, dle_sample *last) {
  dle_sensors_config c;
  dle_sensors_config_init(&c);
  c.enable_rapl = false;
  c.nvml_lib = lib;
  c.root_pid = root;
  c.gpus = gpus;
  dle_sensors *s = NULL;
  dle_error e;
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (!s) return false;
  dle_sample smp;
  for (int k = 0; k < reads; k++) {
    if (k) sleep_ms(gap_ms);
    dle_sensors_read(s, dle_monotonic_ns(), &smp, &e);
  }
  if (last) *last = smp;
  dle_sensors_get_info(s, info);
  dle_sensors_close(s);
  return true;
}

/* Point 1: the run's process listed at position pos (after pos foreign ones) on
 * GPU 1, with the record size of each driver family. */
static void test_record_sizes(const char *lib, const char *what) {
  char *envp[] = {NULL};
  for (int pos = 1; pos <= 3; pos++) {
    pid_t child = spawn_sleeper(envp);
    char script[256];
    snprintf(script, sizeof script,
             "devices 2\nprocess 0 1\nprocess 0 %ld\nprocesses 1 %d 1\nprocess 1 %ld\n",
             (long)getpid(), pos, (long)child);
    write_script("nvml_drv_pos.txt", script);
    dle_sensors_info info;
    if (read_tree(lib, child, NULL, 1, 0, &info, NULL)) {
      CHECK_MSG(info.gpu[1].used_by_tree, "%s: run's pid at position %d not found", what, pos);
      CHECK_MSG(!info.gpu[0].used_by_tree, "%s: GPU 0 flagged", what);
      CHECK_MSG(info.gpu[0].use == DLE_GPU_USE_NONE, "%s: GPU 0 use %d", what, info.gpu[0].use);
      CHECK_MSG(info.gpu[1].shared, "%s: GPU 1 also runs foreign pids", what);
      bool sel[DLE_MAX_GPUS];
      CHECK(strcmp(dle_sensors_headline_gpus(&info, sel), "process") == 0);
      CHECK(!sel[0] && sel[1]);
    }
    end_child(child);
  }
}

/* Point 1: more than 64 processes per GPU; the run's is the 101st. Under ASan
 * a buffer sized for 24-byte records would overflow with 32-byte ones. */
static void test_many_processes(const char *lib, const char *what) {
  char *envp[] = {NULL};
  pid_t child = spawn_sleeper(envp);
  char script[256];
  snprintf(script, sizeof script, "devices 1\nprocesses 0 100 1\nprocess 0 %ld\n", (long)child);
  write_script("nvml_drv_many.txt", script);
  dle_sensors_info info;
  if (read_tree(lib, child, NULL, 1, 0, &info, NULL))
    CHECK_MSG(info.gpu[0].used_by_tree, "%s: run's pid behind 100 others not found", what);
  end_child(child);
}

/* Point 1: a _v3 call that fails falls back to _v2 (nvtop tries 3, 2, 1). */
static void test_fallback(void) {
  char *envp[] = {NULL};
  pid_t child = spawn_sleeper(envp);
  char script[160];
  snprintf(script, sizeof script, "devices 1\nv3_error 0 3\nprocess 0 1\nprocess 0 %ld\n",
           (long)child);
  write_script("nvml_drv_fb.txt", script);
  dle_sensors_info info;
  if (read_tree(lib_535_54, child, NULL, 1, 0, &info, NULL))
    CHECK_MSG(info.gpu[0].used_by_tree, "no fallback from a failing _v3 to _v2");
  end_child(child);
}

/* Point 8: under MPS the plain list shows the MPS server (foreign); the run's
 * process is an MPS client, listed by the MPS call / the DetailList MPS mode. */
static void test_mps(const char *lib, const char *what) {
  char *envp[] = {NULL};
  pid_t child = spawn_sleeper(envp);
  char script[160];
  snprintf(script, sizeof script, "devices 2\nprocess 1 1\nmps_process 1 %ld\n", (long)child);
  write_script("nvml_drv_mps.txt", script);
  dle_sensors_info info;
  if (read_tree(lib, child, NULL, 1, 0, &info, NULL)) {
    CHECK_MSG(info.gpu[1].used_by_tree, "%s: MPS client not attributed", what);
    CHECK(!info.gpu[0].used_by_tree);
  }
  end_child(child);
}

/* Point 2: the driver's pids do not exist here (another pid namespace); the
 * tree's CUDA_VISIBLE_DEVICES names GPU 1 by UUID. */
static void test_container(void) {
  char *envp[] = {"CUDA_VISIBLE_DEVICES=GPU-fake-0001", NULL};
  pid_t child = spawn_sleeper(envp);
  write_script("nvml_drv_ns.txt",
               "devices 2\nprocess 0 4190001\nprocess 1 4190002\nprocess 1 4190003\n");
  dle_sensors_info info;
  if (read_tree(lib_cur, child, NULL, 1, 0, &info, NULL)) {
    CHECK(info.pid_ns_foreign);
    CHECK(info.gpu[0].use == DLE_GPU_USE_UNKNOWN && info.gpu[1].use == DLE_GPU_USE_UNKNOWN);
    CHECK(strstr(info.gpu[0].use_note, "namespace") != NULL);
    CHECK(strcmp(info.visible_var, "CUDA_VISIBLE_DEVICES") == 0);
    CHECK(!info.gpu[0].visible_to_tree && info.gpu[1].visible_to_tree);
    bool sel[DLE_MAX_GPUS];
    CHECK(strcmp(dle_sensors_headline_gpus(&info, sel), "visible devices") == 0);
    CHECK(!sel[0] && sel[1]);
  }
  end_child(child);
  /* Indices work too; no variable and no process: "none", headline = all. */
  char *envp2[] = {"NVIDIA_VISIBLE_DEVICES=0", NULL};
  child = spawn_sleeper(envp2);
  write_script("nvml_drv_ns2.txt", "devices 2\n");
  if (read_tree(lib_cur, child, NULL, 1, 0, &info, NULL)) {
    CHECK(!info.pid_ns_foreign);
    CHECK(info.gpu[0].use == DLE_GPU_USE_NONE);
    CHECK(info.gpu[0].visible_to_tree && !info.gpu[1].visible_to_tree);
  }
  end_child(child);
}

/* Point 2/8: a process list that fails (NO_PERMISSION under MIG) is "could
 * not check", never "not used"; MIG is noted. */
static void test_mig_no_permission(void) {
  char *envp[] = {NULL};
  pid_t child = spawn_sleeper(envp);
  write_script("nvml_drv_mig.txt", "devices 2\nmig 0 1\nprocs_error 0 4\n");
  dle_sensors_info info;
  if (read_tree(lib_cur, child, NULL, 1, 0, &info, NULL)) {
    CHECK(info.gpu[0].mig && !info.gpu[1].mig);
    CHECK(info.gpu[0].use == DLE_GPU_USE_UNKNOWN);
    CHECK(strstr(info.gpu[0].use_note, "MIG") != NULL);
    CHECK(info.gpu[1].use == DLE_GPU_USE_NONE);
    CHECK(strstr(info.notes, "MIG mode") != NULL);
  }
  end_child(child);
}

/* Point 4: one of four GPUs fails its handle: skipped under "all", an error
 * when named. */
static void test_bad_handle(void) {
  static const int codes[] = {4, 15, 8};
  for (int k = 0; k < 3; k++) {
    char script[128];
    snprintf(script, sizeof script, "devices 4\nhandle_error 2 %d\n", codes[k]);
    write_script("nvml_drv_handle.txt", script);
    dle_sensors_info info;
    if (read_tree(lib_cur, getpid(), "all", 1, 0, &info, NULL)) {
      CHECK(info.n_gpus == 3);
      CHECK(info.gpu[0].index == 0 && info.gpu[1].index == 1 && info.gpu[2].index == 3);
      CHECK(info.gpus_skipped == 1);
      CHECK(strstr(info.notes, "GPU 2 skipped") != NULL);
    }
    dle_sensors_config c;
    dle_sensors_config_init(&c);
    c.enable_rapl = c.enable_procfs = false;
    c.nvml_lib = lib_cur;
    c.gpus = "1,2";
    dle_sensors *s = NULL;
    dle_error e;
    CHECK(dle_sensors_open(&c, &s, &e) == DLE_EIO);
    CHECK(strstr(e.msg, "GPU 2") != NULL);
    dle_sensors_close(s);
  }
}

/* Points 4 and 7: GPU 1 lost mid-run stops being polled; failed readings of
 * GPU 0 are NaN (gaps) and counted. */
static void test_lost_and_failures(void) {
  write_script("nvml_drv_lost.txt", "devices 2\nlost 1 0.15\npower_fail 0 0 0.15\n");
  dle_sensors_info info;
  dle_sample last;
  if (read_tree(lib_cur, getpid(), NULL, 4, 100, &info, &last)) {
    CHECK(info.gpu[1].lost);
    CHECK(strstr(info.notes, "GPU 1 lost") != NULL);
    CHECK(isnan(last.gpu[1].power_w));
    CHECK(!isnan(last.gpu[0].power_w));
    CHECK_MSG(info.gpu[0].read_failures >= 1 && info.gpu[0].read_failures <= 3,
              "GPU 0 failures %llu", (unsigned long long)info.gpu[0].read_failures);
    CHECK(info.gpu[1].read_failures == 1); /* the read that found it lost */
  }
}

/* Point 5: a 1-second averaged nvmlDeviceGetPowerUsage on a ramp (100 W + 200
 * W/s) against NVML_FI_DEV_POWER_INSTANT. */
static void test_instant_power(void) {
  for (int instant = 1; instant >= 0; instant--) {
    char script[160];
    snprintf(script, sizeof script,
             "devices 1\npower 0 0 100000\npower 0 10 2100000\npower_avg 0 1\ninstant 0 %d\n",
             instant);
    write_script("nvml_drv_avg.txt", script);
    dle_sensors_config c;
    dle_sensors_config_init(&c);
    c.enable_rapl = c.enable_procfs = false;
    c.nvml_lib = lib_cur;
    dle_sensors *s = NULL;
    dle_error e;
    int64_t t0 = dle_monotonic_ns();
    CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
    if (!s) return;
    int64_t t1 = dle_monotonic_ns();
    sleep_ms(500);
    dle_sample smp;
    int64_t r0 = dle_monotonic_ns();
    dle_sensors_read(s, r0, &smp, &e);
    int64_t r1 = dle_monotonic_ns();
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    dle_sensors_close(s);
    double lo = (double)(r0 - t1) / 1e9, hi = (double)(r1 - t0) / 1e9; /* since nvmlInit */
    double p = smp.gpu[0].power_w;
    if (instant) {
      CHECK(strcmp(info.gpu[0].power_field, "instant") == 0);
      CHECK_MSG(p >= 100 + 200 * lo - 1 && p <= 100 + 200 * hi + 1, "instant %g W, t %g..%g", p, lo,
                hi);
    } else {
      CHECK(strcmp(info.gpu[0].power_field, "average") == 0);
      CHECK(strstr(info.notes, "1 s average") != NULL);
      CHECK_MSG(p >= 100 + 100 * lo - 1 && p <= 100 + 100 * hi + 1, "average %g W, t %g..%g", p, lo,
                hi);
    }
  }
}

/* Point 10: the default power limit beside the maximum, per device. */
static void test_limits(void) {
  write_script("nvml_drv_lim.txt", "devices 2\nlimit 1 250000 400000\ndefault_limit 1 300000\n");
  dle_sensors_info info;
  if (read_tree(lib_cur, getpid(), NULL, 1, 0, &info, NULL)) {
    CHECK_NEAR(info.gpu[1].tdp_w, 400, 1e-9);
    CHECK_NEAR(info.gpu[1].default_limit_w, 300, 1e-9);
    CHECK_NEAR(info.gpu[1].power_limit_w, 250, 1e-9);
    CHECK_NEAR(info.gpu[0].default_limit_w, 350, 1e-9);
  }
}

int main(void) {
  lib_cur = getenv("FAKE_NVML_LIB");
  lib_535_54 = getenv("FAKE_NVML_R535_54_LIB");
  lib_535_104 = getenv("FAKE_NVML_R535_104_LIB");
  if (!lib_cur || !lib_535_54 || !lib_535_104) SKIP("FAKE_NVML_*LIB not set (run through ctest)");
  unsetenv("DLENERGY_NVML_LIB");
  test_record_sizes(lib_cur, "525-like (24-byte _v3)");
  test_record_sizes(lib_535_54, "535.54 (32-byte _v3)");
  test_record_sizes(lib_535_104, "535.104 (DetailList)");
  test_many_processes(lib_535_54, "535.54");
  test_many_processes(lib_535_104, "535.104");
  test_many_processes(lib_cur, "525-like");
  test_fallback();
  test_mps(lib_cur, "525-like");
  test_mps(lib_535_104, "535.104 DetailList");
  test_container();
  test_mig_no_permission();
  test_bad_handle();
  test_lost_and_failures();
  test_instant_power();
  test_limits();
  return check_finish();
}
