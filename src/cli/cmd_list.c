/* cmd_list.c — `dlenergy list`: the runs in the store, one line each, or a JSON array
 * whose elements are what `show --json` prints (without the per-epoch list). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/energy.h"
#include "dlenergy/store.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy list [--json] [--filter COND] [--db PATH]\n"
          "List the runs in the store with their duration and energy.\n\n"
          "Options:\n"
          "  --json         a JSON array of the objects 'show --json' prints (no epoch_list)\n"
          "  --filter COND  only runs matching COND: comma-separated key=value on metadata\n"
          "                 or on status/source/host, e.g. architecture=vgg16,status=complete\n"
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

static void kj(double j, char *buf, size_t n) {
  if (isnan(j))
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, "%.2f", j / 1e3);
}

static int cmd_list(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"filter", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool json = false;
  const char *db = NULL, *filter = NULL;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'j': json = true; break;
      case 'd': db = optarg; break;
      case 'f': filter = optarg; break;
      case 'h': usage(stdout); return DLE_EXIT_OK;
      default: return cli_usage_error("list", "unknown option");
    }
  }
  if (optind != argc) return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
  dle_error err;
  dle_error_clear(&err);
  dle_store *st = NULL;
  if (cli_open_store_existing(cli_db_path(db), &st, &err)) return cli_fail("list", &err);
  int64_t *ids = NULL;
  size_t n = 0;
  if (dle_store_select_runs(st, filter, &ids, &n, &err)) {
    dle_store_close(st);
    return cli_fail("list", &err);
  }
  int status = DLE_EXIT_OK;
  if (json) {
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
    printf("%6s  %-9s %-7s %-30s %12s %8s %6s %14s %14s  %s\n", "ID", "STATUS", "SOURCE",
           "STARTED", "DURATION", "SAMPLES", "EPOCHS", "GPU kJ", "TOTAL kJ", "RUN");
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
      char g[32], t[32];
      kj(s.energy_j[DLE_COMP_GPU], g, sizeof g);
      kj(s.total_j, t, sizeof t);
      printf("%6" PRId64 "  %-9s %-7s %-30s %12s %8zu %6zu %14s %14s  %s\n", ids[i],
             dle_run_status_str(info.status), info.source, when, dur, s.samples, ne, g, t,
             label);
    }
    if (status == DLE_EXIT_OK)
      printf("%zu run%s; energies are trapezoid integrals of the stored power samples "
             "(see 'dlenergy show RUN' for measured/modelled per component)\n",
             n, n == 1 ? "" : "s");
  }
  free(ids);
  dle_store_close(st);
  return status;
}

const dle_cli_verb dle_verb_list = {"list", "list the runs in the store with their energy",
                                    cmd_list};
