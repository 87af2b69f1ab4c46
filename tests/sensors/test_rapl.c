/* RAPL sensor on a fake powercap tree in a temporary folder: package and DRAM
 * domains found (psys and core skipped), power from counter differences,
 * wrap-around at max_energy_range_uj, and an absent tree. */
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/sensors.h"

static char root[256];

static void put(const char *zone, const char *file, const char *value) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, zone);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/%s/%s", root, zone, file);
  /* Rewritten in place (same inode), as sysfs values change under an open fd. */
  FILE *f = fopen(path, "w");
  if (!f) SKIP("cannot write %s", path);
  fprintf(f, "%s\n", value);
  fclose(f);
}

static void rm_tree(void) {
  const char *zones[] = {"intel-rapl:0", "intel-rapl:0:0", "intel-rapl:0:1", "intel-rapl:1",
                         "intel-rapl:2"};
  const char *files[] = {"name", "energy_uj", "max_energy_range_uj"};
  char path[512];
  for (size_t z = 0; z < 5; z++) {
    for (size_t f = 0; f < 3; f++) {
      snprintf(path, sizeof path, "%s/%s/%s", root, zones[z], files[f]);
      unlink(path);
    }
    snprintf(path, sizeof path, "%s/%s", root, zones[z]);
    rmdir(path);
  }
  rmdir(root);
}

/* Sensors reading RAPL only, from the powercap tree at powercap_root. */
static dle_sensors *open_rapl(const char *powercap_root, dle_error *e) {
  dle_sensors_config c;
  dle_sensors_config_init(&c);
  c.enable_nvml = false;
  c.enable_procfs = false;
  c.powercap_root = powercap_root;
  dle_sensors *s = NULL;
  CHECK_OK(dle_sensors_open(&c, &s, e), e);
  return s;
}

static void test_counters_and_wrap(void) {
  put("intel-rapl:0", "name", "package-0");
  put("intel-rapl:0", "max_energy_range_uj", "1000000");
  put("intel-rapl:0", "energy_uj", "900000");
  put("intel-rapl:0:0", "name", "dram");
  put("intel-rapl:0:0", "max_energy_range_uj", "500000");
  put("intel-rapl:0:0", "energy_uj", "10");
  put("intel-rapl:0:1", "name", "core"); /* inside the package: skipped */
  put("intel-rapl:0:1", "energy_uj", "123");
  put("intel-rapl:1", "name", "psys"); /* overlaps packages: skipped */
  put("intel-rapl:1", "energy_uj", "999");
  put("intel-rapl:2", "name", "package-1");
  put("intel-rapl:2", "energy_uj", "5000000"); /* no max range file */
  dle_error e;
  dle_sensors *s = open_rapl(root, &e);
  if (!s) return;
  dle_sensors_info info;
  dle_sensors_get_info(s, &info);
  CHECK(strcmp(info.cpu_source, "rapl") == 0);
  CHECK(strcmp(info.dram_source, "rapl") == 0);
  CHECK(info.rapl_packages == 2);
  CHECK(info.rapl_dram == 1);

  dle_sample smp;
  /* Times are ours to choose: the reads take now_ns from the caller. */
  const int64_t base = dle_monotonic_ns() - 10000000000LL;
  /* Read 1 at base + 10 s (= now): nothing changed since open: 0 W over
   * the time since open. */
  CHECK_OK(dle_sensors_read(s, base + 10000000000LL, &smp, &e), &e);
  CHECK_NEAR(smp.cpu_energy_counter_j, 0, 1e-12);
  CHECK_NEAR(smp.dram_energy_counter_j, 0, 1e-12);
  CHECK_NEAR(smp.cpu_power_w, 0, 1e-12);
  CHECK_NEAR(smp.dram_power_w, 0, 1e-12);
  CHECK(isnan(smp.ram_power_w)); /* no procfs: no RAM model */

  /* Read 2 at base + 12 s: package-0 +50000 uJ, package-1 +2 J, dram +250000 uJ. */
  put("intel-rapl:0", "energy_uj", "950000");
  put("intel-rapl:2", "energy_uj", "7000000");
  put("intel-rapl:0:0", "energy_uj", "250010");
  CHECK_OK(dle_sensors_read(s, base + 12000000000LL, &smp, &e), &e);
  CHECK_NEAR(smp.cpu_energy_counter_j, 2.05, 1e-9);
  CHECK_NEAR(smp.cpu_power_w, 2.05 / 2, 1e-9);
  CHECK_NEAR(smp.dram_energy_counter_j, 0.25, 1e-9);
  CHECK_NEAR(smp.dram_power_w, 0.125, 1e-9);

  /* Read 3 at base + 12.5 s: package-0 wraps (950000 -> max 1000000 -> 100000:
   * +150000 uJ), dram wraps (250010 -> 500000 -> 10: +250000 uJ). */
  put("intel-rapl:0", "energy_uj", "100000");
  put("intel-rapl:0:0", "energy_uj", "10");
  CHECK_OK(dle_sensors_read(s, base + 12500000000LL, &smp, &e), &e);
  CHECK_NEAR(smp.cpu_energy_counter_j, 2.2, 1e-9);
  CHECK_NEAR(smp.cpu_power_w, 0.15 / 0.5, 1e-9);
  CHECK_NEAR(smp.dram_energy_counter_j, 0.5, 1e-9);
  CHECK_NEAR(smp.dram_power_w, 0.25 / 0.5, 1e-9);

  /* Read 4: package-1 decreases without a known range: a reset, counted as 0
   * (never a negative or huge jump). */
  put("intel-rapl:2", "energy_uj", "100");
  CHECK_OK(dle_sensors_read(s, base + 13500000000LL, &smp, &e), &e);
  CHECK_NEAR(smp.cpu_energy_counter_j, 2.2, 1e-9);
  CHECK_NEAR(smp.cpu_power_w, 0, 1e-9);
  /* ... and it counts again from its new value. */
  put("intel-rapl:2", "energy_uj", "1000100");
  CHECK_OK(dle_sensors_read(s, base + 14500000000LL, &smp, &e), &e);
  CHECK_NEAR(smp.cpu_energy_counter_j, 3.2, 1e-9);
  CHECK_NEAR(smp.cpu_power_w, 1.0, 1e-9);
  dle_sensors_close(s);
}

static void test_absent(void) {
  dle_error e;
  dle_sensors *s = open_rapl("/nonexistent/powercap", &e);
  if (!s) return;
  dle_sensors_info info;
  dle_sensors_get_info(s, &info);
  CHECK(strcmp(info.cpu_source, "none") == 0);
  CHECK(strcmp(info.dram_source, "none") == 0);
  CHECK(strstr(info.notes, "RAPL") != NULL);
  dle_sample smp;
  dle_sensors_read(s, 1, &smp, &e);
  CHECK(isnan(smp.cpu_energy_counter_j) && isnan(smp.cpu_power_w));
  dle_sensors_close(s);
}

/* A tree with only psys: no package domain, so RAPL is absent. */
static void test_no_package(void) {
  put("intel-rapl:1", "name", "psys");
  put("intel-rapl:1", "energy_uj", "999");
  dle_error e;
  dle_sensors *s = open_rapl(root, &e);
  if (!s) return;
  dle_sensors_info info;
  dle_sensors_get_info(s, &info);
  CHECK(strcmp(info.cpu_source, "none") == 0);
  CHECK(strstr(info.notes, "no RAPL package domain") != NULL);
  dle_sensors_close(s);
}

/* Two packages, one whose energy_uj cannot be read (a folder here: read fails
 * as for a permission error): RAPL works, and says which of how many failed. */
static void test_partly_unreadable(void) {
  put("intel-rapl:0", "name", "package-0");
  put("intel-rapl:0", "energy_uj", "1000");
  put("intel-rapl:1", "name", "package-1");
  char path[512];
  snprintf(path, sizeof path, "%s/intel-rapl:1/energy_uj", root);
  mkdir(path, 0755);
  dle_error e;
  dle_sensors *s = open_rapl(root, &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(strcmp(info.cpu_source, "rapl") == 0);
    CHECK(info.rapl_packages == 1);
    CHECK_MSG(strstr(info.notes, "1 of 2 domains unreadable") != NULL, "notes: %s", info.notes);
    CHECK(strstr(info.notes, "intel-rapl:1/energy_uj") != NULL);
    dle_sensors_close(s);
  }
  rmdir(path);
  /* Every package unreadable: absent, with the count and the file named. */
  snprintf(path, sizeof path, "%s/intel-rapl:0/energy_uj", root);
  unlink(path);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/intel-rapl:1/energy_uj", root);
  mkdir(path, 0755);
  s = open_rapl(root, &e);
  if (s) {
    dle_sensors_info info;
    dle_sensors_get_info(s, &info);
    CHECK(strcmp(info.cpu_source, "none") == 0);
    CHECK_MSG(strstr(info.notes, "2 of 2 RAPL domains unreadable") != NULL, "notes: %s", info.notes);
    dle_sensors_close(s);
  }
  rmdir(path);
  snprintf(path, sizeof path, "%s/intel-rapl:0/energy_uj", root);
  rmdir(path);
}

int main(void) {
  snprintf(root, sizeof root, "rapl_fake_%ld", (long)getpid());
  rm_tree();
  if (mkdir(root, 0755) != 0) SKIP("cannot create %s", root);
  test_counters_and_wrap();
  rm_tree();
  mkdir(root, 0755);
  test_no_package();
  rm_tree();
  mkdir(root, 0755);
  test_partly_unreadable();
  rm_tree();
  test_absent();
  return check_finish();
}
