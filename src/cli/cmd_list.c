/* cmd_list.c — `dlenergy list`: the runs in the store, one line each, or a JSON array
 * whose elements are what `show --json` prints (without the per-epoch list). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dlenergy/energy.h"
#include "dlenergy/store.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy list [--json|--csv] [--jobs] [--filter COND] [--db PATH]\n"
          "List the runs in the store with their duration and energy (J, kJ or MJ, the\n"
          "unit printed), whether the figures are measured or modelled, and emissions.\n"
          "EPOCHS counts completed epochs (as the run summary and 'show').\n\n"
          "Options:\n"
          "  --json         a JSON array of the objects 'show --json' prints (no epoch_list)\n"
          "  --csv          one row per run: CodeCarbon's emissions.csv columns (timestamp,\n"
          "                 duration s, emissions kg, cpu/gpu/ram power W and energy kWh,\n"
          "                 energy_consumed kWh, country_iso_code, pue, tracking_mode) then\n"
          "                 dlenergy's (status, source, epochs, samples, total/facility J,\n"
          "                 carbon g/kWh and its source, how each component was obtained)\n"
          "  --filter COND  only runs matching COND: comma-separated key=value on metadata\n"
          "                 or on status/source/host, e.g. architecture=vgg16,status=complete\n"
          "                 (--runs is the same option)\n"
          "  --jobs         one line per distributed job (metadata 'job') instead of per run:\n"
          "                 runs, hosts, GPU and total energy, emissions; 'show --job NAME'\n"
          "                 breaks one down per host and GPU\n"
          "  --db PATH      run store (default $DLENERGY_DB or ./dlenergy.db)\n"
          "  -h, --help     this help\n");
}

/* A short label for a run: its command, else architecture/environment/run from the
 * metadata, else the imported file. */
static void run_label(dle_store *st, const dle_run_info *info, char *buf, size_t n) {
  buf[0] = '\0';
  if (strcmp(info->source, "import") != 0 && info->command[0]) {
    snprintf(buf, n, "%s", info->command);
    return;
  }
  dle_kv *kv = NULL;
  size_t nkv = 0;
  if (dle_store_get_meta(st, info->id, &kv, &nkv, NULL)) return;
  const char *arch = dle_kv_get(kv, nkv, "architecture");
  const char *env = dle_kv_get(kv, nkv, "environment_id");
  const char *run = dle_kv_get(kv, nkv, "run");
  const char *file = dle_kv_get(kv, nkv, "source_gpu_file");
  if (arch) {
    snprintf(buf, n, "%s%s%s%s%s", arch, env ? " " : "", env ? env : "", run ? " #" : "",
             run ? run : "");
  } else if (file) {
    const char *slash = strrchr(file, '/');
    snprintf(buf, n, "%s", slash ? slash + 1 : file);
  } else {
    snprintf(buf, n, "%s", info->command);
  }
  dle_kv_free(kv, nkv);
}

/* "measured", "modelled" or "measured + modelled" for the components in the total. */
static const char *total_kind(const dle_energy_summary *s) {
  bool meas = false, model = false;
  int parts[3] = {DLE_COMP_GPU, DLE_COMP_CPU,
                  isfinite(s->energy_j[DLE_COMP_DRAM]) ? DLE_COMP_DRAM : DLE_COMP_RAM};
  for (int i = 0; i < 3; i++) {
    if (!isfinite(s->energy_j[parts[i]])) continue;
    if (s->measured[parts[i]])
      meas = true;
    else
      model = true;
  }
  return meas && model ? "meas+model" : meas ? "measured" : model ? "modelled" : "-";
}

/* Completed epochs (an epoch still open when the run stopped is not counted). */
static size_t epochs_done(dle_store *st, int64_t id) {
  dle_epoch *ep = NULL;
  size_t n = 0, done = 0;
  if (dle_store_load_epochs(st, id, &ep, &n, NULL) != DLE_OK) return 0;
  for (size_t i = 0; i < n; i++) done += isfinite(ep[i].t_end_s);
  free(ep);
  return done;
}

/* One CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
static void csv_text(const char *v, bool last) {
  if (!v) v = "";
  if (strpbrk(v, ",\"\r\n")) {
    putchar('"');
    for (const char *p = v; *p; p++) {
      if (*p == '"') putchar('"');
      putchar(*p);
    }
    putchar('"');
  } else {
    fputs(v, stdout);
  }
  putchar(last ? '\n' : ',');
}

static void csv_num(double v) {
  if (isfinite(v))
    printf("%.10g,", v);
  else
    putchar(',');
}

static int list_csv(dle_store *st, const int64_t *ids, size_t n, dle_error *err) {
  printf("timestamp,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,"
         "cpu_energy,gpu_energy,ram_energy,energy_consumed,country_iso_code,pue,tracking_mode,"
         "status,source,epochs,samples,total_energy_j,facility_energy_j,carbon_g_per_kwh,"
         "carbon_source,gpu_figure,cpu_figure,ram_figure,command\n");
  for (size_t i = 0; i < n; i++) {
    dle_run_info info;
    dle_energy_summary s;
    size_t ne = 0;
    int rc = show_run_summary(st, ids[i], &info, &s, &ne, err);
    if (rc) return rc;
    dle_kv *kv = NULL;
    size_t nkv = 0;
    rc = dle_store_get_meta(st, ids[i], &kv, &nkv, err);
    if (rc) return rc;
    char when[40] = "";
    if (isfinite(info.start_wall_s)) {
      time_t t = (time_t)floor(info.start_wall_s);
      struct tm tm;
      gmtime_r(&t, &tm);
      strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
      if (strcmp(info.source, "import") != 0) strcat(when, "Z"); /* imports: log time */
    }
    int mem = isfinite(s.energy_j[DLE_COMP_DRAM]) ? DLE_COMP_DRAM : DLE_COMP_RAM;
    double kg = s.emissions_g / 1e3;
    printf("%s,%" PRId64 ",", when, ids[i]);
    csv_num(s.duration_s);
    csv_num(kg);
    csv_num(s.duration_s > 0 ? kg / s.duration_s : NAN);
    csv_num(s.avg_power_w[DLE_COMP_CPU]);
    csv_num(s.avg_power_w[DLE_COMP_GPU]);
    csv_num(s.avg_power_w[mem]);
    csv_num(s.energy_j[DLE_COMP_CPU] / 3.6e6);
    csv_num(s.energy_j[DLE_COMP_GPU] / 3.6e6);
    csv_num(s.energy_j[mem] / 3.6e6);
    csv_num(s.total_j / 3.6e6);
    csv_text(dle_kv_get(kv, nkv, "country"), false);
    csv_num(s.pue);
    csv_text(dle_kv_get(kv, nkv, "scope"), false);
    csv_text(dle_run_status_str(info.status), false);
    csv_text(info.source, false);
    printf("%zu,%zu,", epochs_done(st, ids[i]), s.samples);
    csv_num(s.total_j);
    csv_num(s.facility_j);
    csv_num(s.carbon_g_per_kwh);
    csv_text(dle_kv_get(kv, nkv, "carbon_source"), false);
    const int comps[3] = {DLE_COMP_GPU, DLE_COMP_CPU, mem};
    for (int k = 0; k < 3; k++)
      csv_text(!isfinite(s.energy_j[comps[k]]) ? "" : s.measured[comps[k]] ? "measured"
                                                                            : "modelled",
               false);
    csv_text(info.command, true);
    dle_kv_free(kv, nkv);
  }
  return DLE_OK;
}

static int cmd_list(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"csv", no_argument, NULL, 'c'},
                                       {"runs", required_argument, NULL, 'f'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"filter", required_argument, NULL, 'f'},
                                       {"jobs", no_argument, NULL, 'J'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool json = false, csv = false, jobs = false;
  const char *db = NULL, *filter = NULL;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'j': json = true; break;
      case 'c': csv = true; break;
      case 'd': db = optarg; break;
      case 'f': filter = optarg; break;
      case 'J': jobs = true; break;
      case 'h': usage(stdout); return DLE_EXIT_OK;
      default: return cli_usage_error("list", "unknown option");
    }
  }
  if (optind != argc) return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
  if (json && csv) return cli_usage_error("list", "give --json or --csv, not both");
  if (jobs && csv) return cli_usage_error("list", "--jobs has no --csv form");
  dle_error err;
  dle_error_clear(&err);
  dle_store *st = NULL;
  if (cli_open_store_existing(cli_db_path(db), &st, &err)) return cli_fail("list", &err);
  if (jobs) {
    int rc = list_jobs(st, filter, json, &err);
    dle_store_close(st);
    return rc ? cli_fail("list", &err) : DLE_EXIT_OK;
  }
  int64_t *ids = NULL;
  size_t n = 0;
  if (dle_store_select_runs(st, filter, &ids, &n, &err)) {
    dle_store_close(st);
    return cli_fail("list", &err);
  }
  int status = DLE_EXIT_OK;
  if (csv) {
    if (list_csv(st, ids, n, &err) != DLE_OK) status = cli_fail("list", &err);
  } else if (json) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
      cJSON *o = show_run_json(st, ids[i], false, &err);
      if (!o) {
        status = cli_fail("list", &err);
        break;
      }
      cJSON_AddItemToArray(arr, o);
    }
    if (status == DLE_EXIT_OK) {
      if (!cli_print_json(arr)) {
        dle_error_set(&err, DLE_ENOMEM, "out of memory printing JSON");
        status = cli_fail("list", &err);
      }
    }
    cJSON_Delete(arr);
  } else {
    printf("%6s  %-9s %-7s %-30s %12s %8s %6s %11s %11s %-10s %11s  %s\n", "ID", "STATUS",
           "SOURCE", "STARTED", "DURATION", "SAMPLES", "EPOCHS", "GPU", "TOTAL", "HOW",
           "CO2e", "RUN");
    for (size_t i = 0; i < n; i++) {
      dle_run_info info;
      dle_energy_summary s;
      size_t ne = 0;
      if (show_run_summary(st, ids[i], &info, &s, &ne, &err)) {
        status = cli_fail("list", &err);
        break;
      }
      char when[64], dur[48], label[160];
      show_format_wall(info.start_wall_s, info.source, when, sizeof when);
      cli_format_duration(s.duration_s, dur, sizeof dur);
      run_label(st, &info, label, sizeof label);
      /* One line per run: control characters become spaces, long labels are cut. */
      for (char *q = label; *q; q++)
        if ((unsigned char)*q < 0x20) *q = ' ';
      if (strlen(label) > 60) memcpy(label + 57, "...", 4);
      char g[32], t[32], co2[32] = "-";
      cli_format_energy_short(s.energy_j[DLE_COMP_GPU], g, sizeof g);
      cli_format_energy_short(s.total_j, t, sizeof t);
      if (isfinite(s.emissions_g)) snprintf(co2, sizeof co2, "%.3g g", s.emissions_g);
      (void)ne;
      printf("%6" PRId64 "  %-9s %-7s %-30s %12s %8zu %6zu %11s %11s %-10s %11s  %s\n",
             ids[i], dle_run_status_str(info.status), info.source, when, dur, s.samples,
             epochs_done(st, ids[i]), g, t, total_kind(&s), co2, label);
    }
    if (status == DLE_EXIT_OK)
      printf("%zu run%s; energies are trapezoid integrals of the stored power samples; HOW "
             "says whether TOTAL is measured or modelled (per component: 'dlenergy show "
             "RUN')\n",
             n, n == 1 ? "" : "s");
  }
  free(ids);
  dle_store_close(st);
  return status;
}

const dle_cli_verb dle_verb_list = {"list", "list the runs in the store with their energy",
                                    cmd_list};
