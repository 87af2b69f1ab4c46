/* The CPU power table and the CPU/RAM model where nothing measures:
 * - every family row of data/cpu_tdp.csv is the median W/thread of the part
 *   rows of its group(s), as its source says (recomputed here from the rows);
 * - generic VM model strings ("AMD EPYC", "Intel Xeon Processor (Skylake,
 *   IBRS)", "Common KVM processor", an unknown string) get a family row, named
 *   parts their own row, an arm64 cpuinfo without a model name its Neoverse row;
 * - a 2-vCPU guest of a generic EPYC is charged 2 threads' share, not a package;
 * - scope machine scales by the host's /proc/stat utilization and charges the
 *   host's MemTotal, scope process the tree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/fsutil.h"
#include "dlenergy/sensors.h"
#include "sensors/sensor.h"

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static bool in_groups(const char *group, const char *groups) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", groups);
  for (char *save = NULL, *t = strtok_r(buf, "+", &save); t; t = strtok_r(NULL, "+", &save))
    if (strcmp(t, group) == 0) return true;
  return false;
}

typedef struct { char pattern[64], kind[16], group[64]; double tdp_w; int threads; } trow;

static void test_family_medians(void) {
  char path[1024];
  dle_error e;
  CHECK_OK(dle_data_path("cpu_tdp.csv", path, sizeof path, &e), &e);
  FILE *f = fopen(path, "r");
  if (!f) SKIP("cannot open %s", path);
  static trow rows[256];
  int n = 0, nfam = 0;
  char line[1024];
  bool header = false;
  while (fgets(line, sizeof line, f) && n < 256) {
    if (line[0] == '#' || line[0] == '\n') continue;
    if (!header) {
      header = true;
      CHECK(strncmp(line, "pattern,tdp_w,threads,kind,group,source", 39) == 0);
      continue;
    }
    trow *r = &rows[n];
    int got = sscanf(line, "%63[^,],%lf,%d,%15[^,],%63[^,],", r->pattern, &r->tdp_w,
                     &r->threads, r->kind, r->group);
    CHECK_MSG(got == 5, "row %d: %s", n, line);
    if (got == 5) n++;
  }
  fclose(f);
  CHECK(n > 40);
  for (int i = 0; i < n; i++) {
    if (strcmp(rows[i].kind, "family") != 0) continue;
    nfam++;
    double v[256];
    int k = 0;
    for (int j = 0; j < n; j++)
      if (strcmp(rows[j].kind, "part") == 0 && in_groups(rows[j].group, rows[i].group))
        v[k++] = rows[j].tdp_w / rows[j].threads;
    CHECK_MSG(k >= 2, "family %s has %d part rows", rows[i].pattern, k);
    if (k < 2) continue;
    qsort(v, (size_t)k, sizeof v[0], cmp_d);
    double med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
    CHECK_MSG(fabs(rows[i].tdp_w - med) <= 0.0006, "family %s: %g W/thread, median %g",
              rows[i].pattern, rows[i].tdp_w, med);
  }
  CHECK(nfam >= 5);
  /* The table covers what people run on. */
  const char *need[] = {"EPYC 7763", "EPYC 9654", "Xeon(R) Platinum 8380", "Ampere Altra",
                        "Ryzen 9 5950X", "Core(TM) i9-13900K", "Neoverse", "*"};
  for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
    bool found = false;
    for (int j = 0; j < n; j++) found |= strncmp(rows[j].pattern, need[i], strlen(need[i])) == 0;
    CHECK_MSG(found, "no row for %s", need[i]);
  }
}

static void test_lookup(void) {
  dle_error e;
  dle_cpu_power_row r;
  CHECK_OK(dle_cpu_power_lookup(NULL, "AMD EPYC", &r, &e), &e);
  CHECK(r.family && strcmp(r.pattern, "EPYC") == 0 && r.threads == 1);
  CHECK(r.w_per_thread > 1 && r.w_per_thread < 6);
  double epyc = r.w_per_thread;
  CHECK_OK(dle_cpu_power_lookup(NULL, "AMD EPYC 7763 64-Core Processor", &r, &e), &e);
  CHECK(!r.family && r.threads == 128);
  CHECK_NEAR(r.w_per_thread, 280.0 / 128, 1e-12);
  CHECK(strstr(r.source, "AMD") != NULL);
  CHECK_OK(dle_cpu_power_lookup(NULL, "AMD EPYC 7R13 Processor", &r, &e), &e); /* custom part */
  CHECK(r.family && r.w_per_thread == epyc);
  CHECK_OK(dle_cpu_power_lookup(NULL, "Intel Xeon Processor (Skylake, IBRS)", &r, &e), &e);
  CHECK(r.family && strcmp(r.pattern, "Xeon") == 0);
  CHECK_OK(dle_cpu_power_lookup(NULL, "Common KVM processor", &r, &e), &e);
  CHECK(r.family && strcmp(r.pattern, "Common KVM processor") == 0);
  CHECK_OK(dle_cpu_power_lookup(NULL, "Totally Unknown CPU 3000", &r, &e), &e);
  CHECK(r.family && strcmp(r.pattern, "*") == 0);
  CHECK_OK(dle_cpu_power_lookup(NULL, "", &r, &e), &e);
  CHECK(strcmp(r.pattern, "*") == 0);
  /* A broken table is an error naming the line. */
  FILE *f = fopen("bad_cpu_table.csv", "w");
  if (!f) SKIP("cannot write");
  fputs("pattern,tdp_w,threads,kind,group,source\nEPYC,abc,1,family,EPYC,x\n", f);
  fclose(f);
  CHECK(dle_cpu_power_lookup("bad_cpu_table.csv", "AMD EPYC", &r, &e) == DLE_EPARSE);
  CHECK(strstr(e.msg, ":2:") != NULL);
  f = fopen("bad_cpu_table.csv", "w");
  fputs("pattern,tdp_w,threads,kind,group,source\nEPYC,2.5,4,family,EPYC,x\n", f);
  fclose(f);
  CHECK(dle_cpu_power_lookup("bad_cpu_table.csv", "AMD EPYC", &r, &e) == DLE_EPARSE);
  unlink("bad_cpu_table.csv");
}

static void put(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) SKIP("cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* A fake /proc with one process (pid 100, 2560 pages), cpuinfo, meminfo, stat. */
static void fake_root(char *root, size_t n, const char *cpuinfo) {
  char path[512];
  snprintf(root, n, "proc_cpu_%ld", (long)getpid());
  mkdir(root, 0755);
  snprintf(path, sizeof path, "%s/100", root);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/100/stat", root);
  put(path, "100 (train) S 1 1 1 0 -1 0 0 0 0 0 10 5 0 0 20 0 1 0 1 1000 2560 0 0\n");
  snprintf(path, sizeof path, "%s/cpuinfo", root);
  put(path, cpuinfo);
  snprintf(path, sizeof path, "%s/meminfo", root);
  put(path, "MemTotal:       8000000 kB\nMemFree:         1000 kB\n");
  snprintf(path, sizeof path, "%s/stat", root);
  put(path, "cpu  1000 0 1000 8000 0 0 0 0 0 0\ncpu0 500 0 500 4000 0 0 0 0 0 0\n");
}

static void open_fake(const char *root, int scope, dle_sensors **s, dle_sensors_info *info) {
  dle_sensors_config c;
  dle_sensors_config_init(&c);
  c.enable_nvml = c.enable_rapl = false;
  c.proc_root = root;
  c.root_pid = 100;
  c.scope = scope;
  dle_error e;
  *s = NULL;
  CHECK_OK(dle_sensors_open(&c, s, &e), &e);
  if (*s) dle_sensors_get_info(*s, info);
}

static void test_vm_model(void) {
  char root[128], path[512];
  fake_root(root, sizeof root, "processor\t: 0\nmodel name\t: AMD EPYC\n"
                               "processor\t: 1\nmodel name\t: AMD EPYC\n");
  dle_sensors *s;
  dle_sensors_info info;
  open_fake(root, DLE_SCOPE_PROCESS, &s, &info);
  if (!s) return;
  dle_error e;
  dle_cpu_power_row r;
  CHECK_OK(dle_cpu_power_lookup(NULL, "AMD EPYC", &r, &e), &e);
  CHECK(strcmp(info.cpu_source, "model") == 0);
  CHECK(info.cpu_model_generic);
  CHECK(isnan(info.cpu_tdp_w)); /* no package TDP is claimed */
  CHECK_NEAR(info.cpu_model_w, r.w_per_thread * info.cpu_logical, 1e-12);
  CHECK(info.cpu_model_w < 225); /* never a whole package for a few vCPUs */
  CHECK(strstr(info.cpu_model_how, "generic CPU 'AMD EPYC'") != NULL);
  CHECK(strstr(info.cpu_model_how, "W/thread") != NULL);
  CHECK(info.scope == DLE_SCOPE_PROCESS);
  dle_sample smp;
  CHECK_OK(dle_sensors_read(s, dle_monotonic_ns(), &smp, &e), &e);
  double page = (double)sysconf(_SC_PAGESIZE);
  CHECK_NEAR(smp.ram_power_w, 0.375 * 2560 * page / 1e9, 1e-12); /* the tree's RSS */
  dle_sensors_close(s);

  /* Scope machine: the host's /proc/stat utilization and MemTotal. */
  open_fake(root, DLE_SCOPE_MACHINE, &s, &info);
  if (!s) return;
  CHECK(info.scope == DLE_SCOPE_MACHINE);
  snprintf(path, sizeof path, "%s/stat", root);
  /* +300 busy (user 200, system 100), +100 idle: 75 % busy. */
  put(path, "cpu  1200 0 1100 8100 0 0 0 0 0 0\n");
  CHECK_OK(dle_sensors_read(s, dle_monotonic_ns(), &smp, &e), &e);
  CHECK_NEAR(smp.cpu_power_w, info.cpu_model_w * 0.75, 1e-9);
  CHECK_NEAR(smp.ram_power_w, 0.375 * 8000000 * 1024.0 / 1e9, 1e-9);
  dle_sensors_close(s);

  /* arm64: no model name, the core from the CPU part id. */
  fake_root(root, sizeof root, "processor\t: 0\nBogoMIPS\t: 243.75\nCPU implementer\t: 0x41\n"
                               "CPU architecture: 8\nCPU part\t: 0xd0c\n");
  open_fake(root, DLE_SCOPE_PROCESS, &s, &info);
  if (!s) return;
  CHECK(strcmp(info.cpu_model, "ARM Neoverse-N1") == 0);
  CHECK(info.cpu_model_generic && strstr(info.cpu_tdp_source, "Neoverse") != NULL);
  dle_sensors_close(s);

  /* A named part on a VM that sees 2 of its 128 threads: 2 threads' share. */
  fake_root(root, sizeof root, "processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n");
  open_fake(root, DLE_SCOPE_PROCESS, &s, &info);
  if (!s) return;
  CHECK(!info.cpu_model_generic);
  CHECK_NEAR(info.cpu_tdp_w, 280, 1e-12);
  CHECK_NEAR(info.cpu_model_w, 280.0 / 128 * info.cpu_logical, 1e-12);
  dle_sensors_close(s);
}

int main(void) {
  test_family_medians();
  test_lookup();
  test_vm_model();
  return check_finish();
}
