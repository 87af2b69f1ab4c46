/* NVML sensor through the real dlopen path, against the fake libnvidia-ml.so.1
 * (tests/fake_nvml): several GPUs, device selection, the energy counter, an old
 * library without optional symbols, one without a mandatory symbol, a missing
 * library, a failing nvmlInit, and the running-process flag. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/sensors.h"

static const char *lib_cur, *lib_old, *lib_broken;

static void write_script(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) SKIP("cannot write %s", path);
  fputs(text, f);
  fclose(f);
  setenv("FAKE_NVML_SCRIPT", path, 1);
}

static void gpu_only(dle_sensors_config *c, const char *lib) {
  dle_sensors_config_init(c);
  c->enable_rapl = false;
  c->enable_procfs = false;
  c->nvml_lib = lib;
}

/* Sensors reading the GPUs only, through the NVML library at lib; NULL when it fails. */
static dle_sensors *open_gpu_only(const char *lib, dle_error *e) {
  dle_sensors_config c;
  gpu_only(&c, lib);
  dle_sensors *s = NULL;
  CHECK_OK(dle_sensors_open(&c, &s, e), e);
  return s;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void test_multi_gpu(void) {
  write_script("nvml_multi.txt",
               "# three boards\n"
               "devices 3\n"
               "name 0 NVIDIA GeForce RTX 3090\n"
               "uuid 0 GPU-aaaa\n"
               "power 0 0 150000\n"
               "limit 0 300000 350000\n"
               "util 0 97 41\n"
               "mem 0 20000 24576\n"
               "temp 0 71\n"
               "name 1 Tesla K80\n"
               "energy_supported 1 0\n"
               "power 1 0 50000\n"
               "power 1 1000 1050000\n" /* +1 W per second */
               "driver 535.54.03\n");
  dle_error e;
  int64_t t_open0 = dle_monotonic_ns();
  dle_sensors *s = open_gpu_only(lib_cur, &e);
  int64_t t_open1 = dle_monotonic_ns();
  if (!s) return;
  dle_sensors_info info;
  dle_sensors_get_info(s, &info);
  CHECK(strcmp(info.gpu_source, "nvml") == 0);
  CHECK(info.n_gpus == 3);
  CHECK(strcmp(info.gpu[0].name, "NVIDIA GeForce RTX 3090") == 0);
  CHECK(strcmp(info.gpu[0].uuid, "GPU-aaaa") == 0);
  CHECK(strcmp(info.gpu[1].name, "Tesla K80") == 0);
  CHECK(strcmp(info.gpu[2].name, "Fake NVIDIA GPU 2") == 0);
  CHECK(strcmp(info.nvml_driver, "535.54.03") == 0);
  CHECK_NEAR(info.gpu[0].tdp_w, 350, 1e-9);
  CHECK_NEAR(info.gpu[0].power_limit_w, 300, 1e-9);
  CHECK_NEAR(info.gpu[0].mem_total_mib, 24576, 1e-9);
  CHECK(info.gpu[0].has_energy_counter);
  CHECK(!info.gpu[1].has_energy_counter);
  CHECK(!info.gpu[0].used_by_tree);

  dle_sample smp;
  int64_t before = dle_monotonic_ns();
  CHECK_OK(dle_sensors_read(s, dle_monotonic_ns(), &smp, &e), &e);
  int64_t after = dle_monotonic_ns();
  CHECK(smp.n_gpus == 3);
  CHECK(smp.gpu[2].device_index == 2);
  CHECK_NEAR(smp.gpu[0].power_w, 150.0, 1e-9);
  CHECK_NEAR(smp.gpu[0].util_gpu_pct, 97, 1e-9);
  CHECK_NEAR(smp.gpu[0].util_mem_pct, 41, 1e-9);
  CHECK_NEAR(smp.gpu[0].mem_used_mib, 20000, 1e-9);
  CHECK_NEAR(smp.gpu[0].temp_c, 71, 1e-9);
  CHECK_NEAR(smp.gpu[0].power_limit_w, 300, 1e-9);
  CHECK(!isnan(smp.gpu[0].energy_counter_j));
  CHECK(isnan(smp.gpu[1].energy_counter_j)); /* NOT_SUPPORTED -> NaN, never 0 */
  /* The ramp: 50 W at nvmlInit (inside the open call), +1 W/s. */
  CHECK(smp.gpu[1].power_w >= 50.0 + (before - t_open1) / 1e9 - 0.001);
  CHECK(smp.gpu[1].power_w <= 50.0 + (after - t_open0) / 1e9 + 0.001);
  CHECK(isnan(smp.cpu_util_pct) && isnan(smp.rss_mib) && isnan(smp.cpu_power_w));
  /* Sum over GPUs from the core helper. */
  CHECK_NEAR(dle_sample_gpu_power_w(&smp), smp.gpu[0].power_w + smp.gpu[1].power_w + 100.0, 1e-9);
  dle_sensors_close(s);
}

/* The counter: with a constant 200 W the counter grows by 200 J per second.
 * The two reads are bracketed by clock readings, so the bound holds however
 * loaded the machine is. */
static void test_energy_counter(void) {
  write_script("nvml_counter.txt", "devices 1\npower 0 0 200000\nenergy_offset 0 5000000\n");
  dle_error e;
  int64_t t_open0 = dle_monotonic_ns();
  dle_sensors *s = open_gpu_only(lib_cur, &e);
  int64_t t_open1 = dle_monotonic_ns();
  if (!s) return;
  dle_sample a, b;
  int64_t a0 = dle_monotonic_ns();
  dle_sensors_read(s, a0, &a, &e);
  int64_t a1 = dle_monotonic_ns();
  sleep_ms(150);
  int64_t b0 = dle_monotonic_ns();
  dle_sensors_read(s, b0, &b, &e);
  int64_t b1 = dle_monotonic_ns();
  double d_j = b.gpu[0].energy_counter_j - a.gpu[0].energy_counter_j;
  double dmin = (b0 - a1) / 1e9, dmax = (b1 - a0) / 1e9;
  CHECK_MSG(d_j >= 200 * dmin - 0.002 && d_j <= 200 * dmax + 0.002, "dJ %.6f not in [%.6f, %.6f]",
            d_j, 200 * dmin, 200 * dmax);
  /* Offset: 5000 J at init, then 200 W since. */
  double since_min = (a0 - t_open1) / 1e9, since_max = (a1 - t_open0) / 1e9;
  CHECK(a.gpu[0].energy_counter_j >= 5000 + 200 * since_min - 0.002);
  CHECK(a.gpu[0].energy_counter_j <= 5000 + 200 * since_max + 0.002);
  dle_sensors_close(s);
}

static void test_selection(void) {
  write_script("nvml_sel.txt",
               "devices 3\nname 0 A\nname 1 B\nname 2 C\npower 0 0 10000\npower 2 0 30000\n");
  dle_sensors_config c;
  gpu_only(&c, lib_cur);
  c.gpus = "0,2";
  dle_sensors *s = NULL;
  dle_error e;
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(info.n_gpus == 2);
    CHECK(info.gpu[0].index == 0 && strcmp(info.gpu[0].name, "A") == 0);
    CHECK(info.gpu[1].index == 2 && strcmp(info.gpu[1].name, "C") == 0);
    dle_sample smp;
    dle_sensors_read(s, dle_monotonic_ns(), &smp, &e);
    CHECK(smp.n_gpus == 2);
    CHECK(smp.gpu[1].device_index == 2);
    CHECK_NEAR(smp.gpu[1].power_w, 30.0, 1e-9);
    dle_sensors_close(s);
  }
  c.gpus = "1";
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(info.n_gpus == 1 && info.gpu[0].index == 1);
    dle_sensors_close(s);
  }
  c.gpus = "0,5";
  s = NULL;
  CHECK(dle_sensors_open(&c, &s, &e) == DLE_ENOTFOUND);
  CHECK(s == NULL);
  CHECK(strstr(e.msg, "GPU 5") != NULL);
  const char *bad[] = {"x", "0,", ",1", "1;2", "-1", "99", "0,,1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    c.gpus = bad[i];
    CHECK_MSG(dle_sensors_open(&c, &s, &e) == DLE_EINVAL, "gpus '%s' accepted", bad[i]);
  }
  c.gpus = "all";
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(info.n_gpus == 3);
    dle_sensors_close(s);
  }
}

static void test_old_library(void) {
  write_script("nvml_old.txt", "devices 2\npower 0 0 120000\n");
  dle_error e;
  dle_sensors *s = open_gpu_only(lib_old, &e);
  if (!s) return;
  dle_sensors_info info;
  dle_sensors_get_info(s, &info);
  CHECK(info.n_gpus == 2);
  CHECK(!info.gpu[0].has_energy_counter);
  CHECK(isnan(info.gpu[0].tdp_w)); /* limit constraints absent */
  CHECK_NEAR(info.gpu[0].power_limit_w, 350, 1e-9);
  CHECK(strstr(info.notes, "TotalEnergyConsumption") != NULL);
  dle_sample smp;
  dle_sensors_read(s, dle_monotonic_ns(), &smp, &e);
  CHECK_NEAR(smp.gpu[0].power_w, 120, 1e-9);
  CHECK(isnan(smp.gpu[0].energy_counter_j));
  CHECK_NEAR(smp.gpu[1].util_gpu_pct, 50, 1e-9);
  dle_sensors_close(s);
}

static void test_broken_and_missing(void) {
  write_script("nvml_plain.txt", "devices 1\n");
  dle_sensors_config c;
  gpu_only(&c, lib_broken);
  dle_sensors *s = NULL;
  dle_error e;
  dle_error_clear(&e);
  CHECK(dle_sensors_open(&c, &s, &e) == DLE_EUNSUPPORTED);
  CHECK(s == NULL);
  CHECK_MSG(strstr(e.msg, "nvmlDeviceGetPowerUsage") != NULL, "msg: %s", e.msg);

  /* No driver: the sensor is absent with a note, the others still work. */
  gpu_only(&c, "/nonexistent/dir/libnvidia-ml.so.1");
  c.enable_procfs = true;
  c.root_pid = getpid();
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(strcmp(info.gpu_source, "none") == 0);
    CHECK(info.n_gpus == 0);
    CHECK_MSG(strstr(info.notes, "not loadable") != NULL, "notes: %s", info.notes);
    dle_sample smp;
    dle_sensors_read(s, dle_monotonic_ns(), &smp, &e);
    CHECK(smp.n_gpus == 0);
    CHECK(isnan(dle_sample_gpu_power_w(&smp)));
    CHECK(smp.rss_mib > 0);
    dle_sensors_close(s);
  }
  /* ... unless the caller requires NVML. */
  c.require_nvml = true;
  s = NULL;
  CHECK(dle_sensors_open(&c, &s, &e) == DLE_EUNSUPPORTED);
  CHECK(strstr(e.msg, "/nonexistent/dir/libnvidia-ml.so.1") != NULL);
  CHECK(s == NULL);

  /* $DLENERGY_NVML_LIB is used when the config names no library. */
  gpu_only(&c, NULL);
  setenv("DLENERGY_NVML_LIB", lib_cur, 1);
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(info.n_gpus == 1 && strcmp(info.gpu_source, "nvml") == 0);
    dle_sensors_close(s);
  }
  unsetenv("DLENERGY_NVML_LIB");

  /* Driver present but not loaded: nvmlInit fails -> absent with its reason. */
  write_script("nvml_initfail.txt", "init_fail 9\n");
  gpu_only(&c, lib_cur);
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(info.n_gpus == 0);
    CHECK_MSG(strstr(info.notes, "Driver Not Loaded") != NULL, "notes: %s", info.notes);
    dle_sensors_close(s);
  }
  /* Disabled: not even loaded. */
  gpu_only(&c, "/nonexistent/x.so");
  c.enable_nvml = false;
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(info.notes[0] == '\0');
    dle_sensors_close(s);
  }
}

/* A child process that waits until it is killed, as the root of a monitored tree. */
static pid_t fork_idle_child(void) {
  pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  return child;
}

static void end_child(pid_t child) {
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
}

/* Opens GPU and procfs sensors on the process tree at root_pid, reads one sample (which
 * flags the GPUs the tree uses) and fills *info; false when the sensors did not open. */
static bool read_tree_info(const char *lib, pid_t root_pid, dle_sensors_info *info) {
  dle_sensors_config c;
  gpu_only(&c, lib);
  c.enable_procfs = true;
  c.root_pid = root_pid;
  dle_sensors *s = NULL;
  dle_error e;
  CHECK_OK(dle_sensors_open(&c, &s, &e), &e);
  if (!s) return false;
  dle_sample smp;
  dle_sensors_read(s, dle_monotonic_ns(), &smp, &e);
  dle_sensors_get_info(s, info);
  dle_sensors_close(s);
  return true;
}

/* A process of the monitored tree that runs on GPU 1 flags GPU 1 only; with the
 * old library the v1 process list is used. */
static void test_process_flag(const char *lib) {
  pid_t child = fork_idle_child();
  char script[128];
  snprintf(script, sizeof script, "devices 2\nprocess 1 %ld\nprocess 0 1\n", (long)child);
  write_script("nvml_proc.txt", script);
  dle_sensors_info info;
  if (read_tree_info(lib, child, &info)) {
    CHECK(info.n_gpus == 2);
    CHECK(!info.gpu[0].used_by_tree); /* pid 1 is not in the tree */
    CHECK(info.gpu[1].used_by_tree);
  }
  end_child(child);
}

/* "process I children": the fake reports the loading process's children, as
 * the run tests use it; the child is the monitored root here. */
static void test_process_children(void) {
  pid_t child = fork_idle_child();
  write_script("nvml_children.txt", "devices 2\nprocess 0 children\n");
  dle_sensors_info info;
  if (read_tree_info(lib_cur, child, &info)) {
    CHECK(info.gpu[0].used_by_tree);
    CHECK(!info.gpu[1].used_by_tree);
  }
  end_child(child);
}

static void test_bad_script(void) {
  write_script("nvml_bad.txt", "devices 2\npowr 0 0 1\n");
  dle_error e;
  dle_sensors *s = open_gpu_only(lib_cur, &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(info.n_gpus == 0);
    CHECK(strstr(info.notes, "nvmlInit failed") != NULL);
    dle_sensors_close(s);
  }
}

int main(void) {
  lib_cur = getenv("FAKE_NVML_LIB");
  lib_old = getenv("FAKE_NVML_OLD_LIB");
  lib_broken = getenv("FAKE_NVML_BROKEN_LIB");
  if (!lib_cur || !lib_old || !lib_broken) SKIP("FAKE_NVML_*LIB not set (run through ctest)");
  unsetenv("DLENERGY_NVML_LIB");
  test_multi_gpu();
  test_energy_counter();
  test_selection();
  test_old_library();
  test_broken_and_missing();
  test_process_flag(lib_cur);
  test_process_flag(lib_old);
  test_process_children();
  test_bad_script();
  return check_finish();
}
