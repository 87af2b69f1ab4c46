/* cmd_show.c — `dlenergy show RUN`: one run's summary (energy per component with
 * measured/modelled, emissions, metadata, per-epoch energy), as a table or JSON.
 *
 * show_run_json() and show_run_summary() are also used by cmd_list.c and
 * cmd_import.c (the CLI links every cmd_*.c into one program), so that `list --json`
 * elements, `show --json` and `import --json` carry the same fields. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dlenergy/energy.h"
#include "dlenergy/recorder.h"
#include "dlenergy/run_view.h"
#include "dlenergy/store.h"

void show_format_wall(double wall_s, const char *source, char *buf, size_t n) {
  if (!isfinite(wall_s)) {
    snprintf(buf, n, "-");
    return;
  }
  time_t t = (time_t)floor(wall_s);
  struct tm tm;
  gmtime_r(&t, &tm);
  char d[32];
  strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm);
  /* Imported logs carry local time with no zone (read as UTC): say so. */
  snprintf(buf, n, "%s%s", d, source && strcmp(source, "import") == 0 ? " (log time)" : " UTC");
}

typedef dle_run_view show_data;

int show_run_summary(dle_store *st, int64_t id, dle_run_info *info, dle_energy_summary *sum,
                     size_t *n_epochs, dle_error *err) {
  dle_run_view v;
  int rc = dle_run_view_load(st, id, false, &v, err);
  if (rc) return rc;
  *info = v.info;
  *sum = v.sum;
  if (n_epochs) *n_epochs = v.ne;
  dle_run_view_free(&v);
  return DLE_OK;
}

cJSON *show_run_json(dle_store *st, int64_t id, bool with_epochs, dle_error *err) {
  dle_run_view v;
  if (dle_run_view_load(st, id, with_epochs, &v, err)) return NULL;
  cJSON *o = dle_run_view_json(&v, with_epochs, err);
  dle_run_view_free(&v);
  return o;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy show [--json] [--db PATH] RUN\n"
          "       dlenergy show [--json] [--db PATH] --job NAME\n"
          "Show one recorded or imported run: status, duration, energy per component\n"
          "(measured by a sensor or modelled by a formula), PUE, emissions, metadata and\n"
          "the energy of each epoch (split at the exact epoch boundaries).\n\n"
          "RUN is a run id or 'last'.\n\n"
          "Options:\n"
          "  --json      one JSON object (the fields of 'import --json' plus status, epochs,\n"
          "              energy_j per component, components{figure,source}, emissions_g,\n"
          "              meta and epoch_list; gpu_energy_j is the GPUs the run used,\n"
          "              gpu_energy_all_j every GPU, gpus[] each with used_by_run\n"
          "              (true/false/null = unknown), shared, headline, counter and\n"
          "              integral energies)\n"
          "  --job NAME  the runs of a distributed job (metadata 'job', from 'run --job',\n"
          "              $SLURM_JOB_ID or $TORCHELASTIC_RUN_ID) added up: total, per host,\n"
          "              per GPU; each run's figures as 'show RUN' gives them, summed\n"
          "  --db PATH   run store (default $DLENERGY_DB or ./dlenergy.db)\n"
          "  -h, --help  this help\n");
}

/* One line per GPU under the gpu component when there are several. */
static void print_devices(const cJSON *o, const dle_energy_summary *s) {
  const cJSON *gpus = cJSON_GetObjectItemCaseSensitive(o, "gpus");
  if (s->n_devices < 2 || !gpus) return;
  char e[96];
  for (const cJSON *g = gpus->child; g; g = g->next) {
    double gj = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "energy_j"));
    double gw = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "avg_power_w"));
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(g, "used_by_run");
    char label[32];
    snprintf(label, sizeof label, " GPU %d",
             (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(g, "index")));
    cli_format_energy(gj, e, sizeof e);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(g, "shared");
    const cJSON *hl = cJSON_GetObjectItemCaseSensitive(g, "headline");
    printf("  %-9s %-28s %8.1f W  %-9s %s%s%s\n", label, e, gw, "measured",
           cJSON_IsTrue(u) ? "used by the run" : cJSON_IsFalse(u) ? "not used by the run"
                                                                : "use by the run unknown",
           cJSON_IsTrue(sh) ? ", shared with other processes" : "",
           cJSON_IsFalse(hl) ? " (not in the GPU total)" : "");
  }
}

static void print_human(const show_data *d, const cJSON *o) {
  int64_t id = d->info.id;
  const dle_run_info info = d->info;
  const dle_energy_summary s = d->sum;
  size_t ne = d->ne;
  char when[64], dur[64], e[96];
  show_format_wall(info.start_wall_s, info.source, when, sizeof when);
  cli_format_duration(s.duration_s, dur, sizeof dur);
  printf("Run %" PRId64 ": %s (%s)\n", id, dle_run_status_str(info.status), info.source);
  if (info.command[0]) {
    char cmd[sizeof info.command];
    snprintf(cmd, sizeof cmd, "%s", info.command);
    for (char *q = cmd; *q; q++)
      if ((unsigned char)*q < 0x20) *q = ' ';
    printf("  command    %s\n", cmd);
  }
  if (info.host[0]) printf("  host       %s\n", info.host);
  printf("  started    %s\n", when);
  printf("  duration   %s (%zu samples", dur, s.samples);
  if (isfinite(info.interval_s) && info.interval_s > 0) printf(", every %.3g s", info.interval_s);
  printf(")\n");
  if (info.status == DLE_RUN_FAILED || info.status == DLE_RUN_KILLED)
    printf("  exit       code %d, signal %d\n", info.exit_code, info.term_signal);
  size_t done = 0;
  for (size_t i = 0; i < ne; i++) done += isfinite(d->ep[i].t_end_s);
  printf("  epochs     %zu", done);
  if (info.epochs_planned > 0) printf(" of %d planned", info.epochs_planned);
  if (ne > done) printf(" (+%zu not completed)", ne - done);
  printf("\n\n  %-9s %-28s %10s  %-9s %s\n", "component", "energy", "mean power", "figure",
         "source");
  static const char *names[DLE_COMP_COUNT] = {"GPU", "CPU", "DRAM", "RAM"}; /* as the summary */
  for (int c = 0; c < DLE_COMP_COUNT; c++) {
    if (isnan(s.energy_j[c])) continue;
    cli_format_energy(s.energy_j[c], e, sizeof e);
    printf("  %-9s %-28s %8.2f W  %-9s %s\n", names[c], e, s.avg_power_w[c],
           dle_energy_figure_kind(&s, c), s.source[c]);
    if (c == DLE_COMP_GPU) print_devices(o, &s);
  }
  cli_format_energy(s.total_j, e, sizeof e);
  printf("  %-9s %-28s %8.2f W\n", "total", e, s.duration_s > 0 ? s.total_j / s.duration_s : NAN);
  if (!isnan(s.gpu_counter_j)) {
    cli_format_energy(s.gpu_counter_j, e, sizeof e);
    printf("  GPU energy counter (measured, NVML): %s\n", e);
  }
  if (s.pue != 1) {
    cli_format_energy(s.facility_j, e, sizeof e);
    printf("  facility (PUE %.2f, modelled): %s\n", s.pue, e);
  }
  const cJSON *cpm = cJSON_GetObjectItemCaseSensitive(o, "cpu_power_model");
  if (cJSON_IsString(cpm)) printf("  CPU model  %s\n", cpm->valuestring);
  const cJSON *scope = cJSON_GetObjectItemCaseSensitive(o, "scope");
  if (cJSON_IsString(scope))
    printf("  scope      %s (modelled CPU and RAM: %s)\n", scope->valuestring,
           strcmp(scope->valuestring, "machine") == 0 ? "the whole host"
                                                       : "the process tree's share");
  const cJSON *cs = cJSON_GetObjectItemCaseSensitive(o, "carbon_source");
  if (!isnan(s.emissions_g))
    printf("  emissions  %.4g g CO2e at %.4g g/kWh (modelled%s%s)\n", s.emissions_g,
           s.carbon_g_per_kwh, cJSON_IsString(cs) ? ": " : "",
           cJSON_IsString(cs) ? cs->valuestring : "");
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "meta");
  if (meta && meta->child) {
    printf("\n  metadata\n");
    for (const cJSON *m = meta->child; m; m = m->next)
      if (strncmp(m->string, "window.", 7) != 0) /* listed as windows below */
        printf("    %-24s %s\n", m->string, cJSON_IsString(m) ? m->valuestring : "");
  }
  const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "epoch_list");
  if (eps && eps->child) {
    printf("\n  %6s %10s %10s %10s %14s %14s\n", "epoch", "begin s", "end s", "length s",
           "GPU energy J", "total J");
    for (const cJSON *ep = eps->child; ep; ep = ep->next) {
      double b = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ep, "t_begin_s"));
      double en = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ep, "t_end_s"));
      const cJSON *ej = cJSON_GetObjectItemCaseSensitive(ep, "energy_j");
      double g = NAN, tot = 0;
      int any = 0;
      for (int c = 0; c < DLE_COMP_COUNT; c++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ej, dle_component_name((dle_component)c));
        if (!cJSON_IsNumber(v)) continue;
        if (c == DLE_COMP_GPU) g = v->valuedouble;
        /* Same rule as the run total: modelled RAM only when no DRAM measurement. */
        if (c == DLE_COMP_RAM && !isnan(s.energy_j[DLE_COMP_DRAM])) continue;
        tot += v->valuedouble, any = 1;
      }
      char gs[32], ts[32];
      if (isnan(g))
        snprintf(gs, sizeof gs, "-");
      else
        snprintf(gs, sizeof gs, "%.1f", g);
      if (!any)
        snprintf(ts, sizeof ts, "-");
      else
        snprintf(ts, sizeof ts, "%.1f", tot);
      printf("  %6d %10.2f %10.2f %10.2f %14s %14s%s\n",
             (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ep, "index")), b, en,
             en - b, gs, ts,
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ep, "open")) ? "  (open)" : "");
    }
  }
  const cJSON *wins = cJSON_GetObjectItemCaseSensitive(o, "windows");
  if (wins && wins->child) {
    printf("\n  %-24s %10s %10s %10s %14s %14s\n", "window", "begin s", "end s", "length s",
           "GPU energy J", "total J");
    for (const cJSON *w = wins->child; w; w = w->next) {
      double b = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(w, "t_begin_s"));
      const cJSON *ev = cJSON_GetObjectItemCaseSensitive(w, "t_end_s");
      const cJSON *gv = cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(w, "energy_j"), "gpu");
      const cJSON *tv = cJSON_GetObjectItemCaseSensitive(w, "total_energy_j");
      char es[32] = "open", ls[32] = "-", gs[32] = "-", ts[32] = "-";
      if (cJSON_IsNumber(ev)) {
        snprintf(es, sizeof es, "%.2f", ev->valuedouble);
        snprintf(ls, sizeof ls, "%.2f", ev->valuedouble - b);
      }
      if (cJSON_IsNumber(gv)) snprintf(gs, sizeof gs, "%.1f", gv->valuedouble);
      if (cJSON_IsNumber(tv)) snprintf(ts, sizeof ts, "%.1f", tv->valuedouble);
      printf("  %-24.24s %10.2f %10s %10s %14s %14s\n",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "name")), b, es, ls, gs, ts);
    }
  }
}

/* ---- jobs: the runs that several hosts recorded for one distributed training ---- */

typedef struct job_gpu {
  uint32_t index;
  double energy_j;
} job_gpu;

typedef struct job_host {
  char host[256];
  size_t runs;
  double total_j, gpu_j, facility_j, emissions_g;
  size_t n_gpus;
  job_gpu gpu[4 * DLE_MAX_GPUS]; /* several runs on one host may use the same index */
} job_host;

typedef struct job_agg {
  char job[256];
  size_t runs, n_hosts;
  job_host *hosts;
  double total_j, gpu_j, facility_j, emissions_g, duration_s;
  size_t emissions_unknown; /* runs without a carbon intensity */
  int64_t *ids;
} job_agg;

static void job_agg_free(job_agg *a) {
  free(a->hosts);
  free(a->ids);
  memset(a, 0, sizeof *a);
}

static double add_known(double acc, double v) { return isnan(v) ? acc : acc + v; }

/* Sums the runs whose metadata 'job' is job (restricted to filter when given). */
static int job_collect(dle_store *st, const char *job, const char *filter, job_agg *a,
                       dle_error *err) {
  memset(a, 0, sizeof *a);
  snprintf(a->job, sizeof a->job, "%s", job);
  char cond[400];
  snprintf(cond, sizeof cond, "job=%s%s%s", job, filter && *filter ? "," : "",
           filter ? filter : "");
  size_t n = 0;
  int rc = dle_store_select_runs(st, cond, &a->ids, &n, err);
  if (rc) return rc;
  a->runs = n;
  a->hosts = calloc(n ? n : 1, sizeof *a->hosts);
  if (!a->hosts) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    dle_run_info info;
    dle_energy_summary sum;
    if ((rc = show_run_summary(st, a->ids[i], &info, &sum, NULL, err))) return rc;
    job_host *h = NULL;
    for (size_t k = 0; k < a->n_hosts && !h; k++)
      if (strcmp(a->hosts[k].host, info.host) == 0) h = &a->hosts[k];
    if (!h) {
      h = &a->hosts[a->n_hosts++];
      snprintf(h->host, sizeof h->host, "%s", info.host);
    }
    h->runs++;
    h->total_j = add_known(h->total_j, sum.total_j);
    h->gpu_j = add_known(h->gpu_j, sum.energy_j[DLE_COMP_GPU]);
    h->facility_j = add_known(h->facility_j, sum.facility_j);
    h->emissions_g = add_known(h->emissions_g, sum.emissions_g);
    for (uint32_t g = 0; g < sum.n_devices && h->n_gpus < sizeof h->gpu / sizeof *h->gpu; g++) {
      job_gpu *x = NULL;
      for (size_t k = 0; k < h->n_gpus && !x; k++)
        if (h->gpu[k].index == sum.device_index[g]) x = &h->gpu[k];
      if (!x) {
        x = &h->gpu[h->n_gpus++];
        x->index = sum.device_index[g];
      }
      x->energy_j = add_known(x->energy_j, sum.device_energy_j[g]);
    }
    a->total_j = add_known(a->total_j, sum.total_j);
    a->gpu_j = add_known(a->gpu_j, sum.energy_j[DLE_COMP_GPU]);
    a->facility_j = add_known(a->facility_j, sum.facility_j);
    a->emissions_g = add_known(a->emissions_g, sum.emissions_g);
    if (isnan(sum.emissions_g)) a->emissions_unknown++;
    if (sum.duration_s > a->duration_s) a->duration_s = sum.duration_s;
  }
  return DLE_OK;
}

static cJSON *job_json(const job_agg *a) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "job", a->job);
  cJSON_AddNumberToObject(o, "runs", (double)a->runs);
  cJSON_AddNumberToObject(o, "hosts", (double)a->n_hosts);
  cJSON_AddNumberToObject(o, "total_j", a->total_j);
  cJSON_AddNumberToObject(o, "gpu_j", a->gpu_j);
  cJSON_AddNumberToObject(o, "facility_j", a->facility_j);
  if (a->emissions_unknown == a->runs)
    cJSON_AddNullToObject(o, "emissions_g");
  else
    cJSON_AddNumberToObject(o, "emissions_g", a->emissions_g);
  cJSON_AddNumberToObject(o, "runs_without_carbon_intensity", (double)a->emissions_unknown);
  cJSON_AddNumberToObject(o, "longest_run_s", a->duration_s);
  cJSON *ids = cJSON_AddArrayToObject(o, "run_ids");
  for (size_t i = 0; i < a->runs; i++) cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)a->ids[i]));
  cJSON *hosts = cJSON_AddArrayToObject(o, "per_host");
  for (size_t k = 0; k < a->n_hosts; k++) {
    const job_host *h = &a->hosts[k];
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "host", h->host);
    cJSON_AddNumberToObject(x, "runs", (double)h->runs);
    cJSON_AddNumberToObject(x, "total_j", h->total_j);
    cJSON_AddNumberToObject(x, "gpu_j", h->gpu_j);
    cJSON_AddNumberToObject(x, "emissions_g", h->emissions_g);
    cJSON *gpus = cJSON_AddArrayToObject(x, "per_gpu");
    for (size_t g = 0; g < h->n_gpus; g++) {
      cJSON *y = cJSON_CreateObject();
      cJSON_AddNumberToObject(y, "index", h->gpu[g].index);
      cJSON_AddNumberToObject(y, "energy_j", h->gpu[g].energy_j);
      cJSON_AddItemToArray(gpus, y);
    }
    cJSON_AddItemToArray(hosts, x);
  }
  return o;
}

static void job_print(const job_agg *a) {
  printf("job %s: %zu run%s on %zu host%s (each run's figures as 'show' gives them, "
         "summed)\n",
         a->job, a->runs, a->runs == 1 ? "" : "s", a->n_hosts, a->n_hosts == 1 ? "" : "s");
  printf("  total %.2f kJ (%.4g kWh), GPU %.2f kJ, facility (x PUE) %.2f kJ", a->total_j / 1e3,
         a->total_j / 3.6e6, a->gpu_j / 1e3, a->facility_j / 1e3);
  if (a->emissions_unknown < a->runs)
    printf(", %.3g g CO2e%s", a->emissions_g,
           a->emissions_unknown ? " (some runs without a carbon intensity)" : "");
  printf("\n  %-24s %5s %12s %12s %10s\n", "HOST", "RUNS", "GPU kJ", "TOTAL kJ", "CO2e g");
  for (size_t k = 0; k < a->n_hosts; k++) {
    const job_host *h = &a->hosts[k];
    printf("  %-24.24s %5zu %12.2f %12.2f %10.3g\n", h->host, h->runs, h->gpu_j / 1e3,
           h->total_j / 1e3, h->emissions_g);
    for (size_t g = 0; g < h->n_gpus; g++)
      printf("    gpu %-3u %33.2f kJ\n", h->gpu[g].index, h->gpu[g].energy_j / 1e3);
  }
}

int show_job(dle_store *st, const char *job, bool json, dle_error *err) {
  job_agg a;
  int rc = job_collect(st, job, NULL, &a, err);
  if (!rc && a.runs == 0) rc = dle_error_set(err, DLE_ENOTFOUND, "no runs of job '%s'", job);
  if (!rc) {
    if (json) {
      cJSON *o = job_json(&a);
      if (!cli_print_json(o)) rc = dle_error_set(err, DLE_ENOMEM, "out of memory printing JSON");
      cJSON_Delete(o);
    } else {
      job_print(&a);
    }
  }
  job_agg_free(&a);
  return rc;
}

int list_jobs(dle_store *st, const char *filter, bool json, dle_error *err) {
  int64_t *ids = NULL;
  size_t n = 0;
  int rc = dle_store_select_runs(st, filter, &ids, &n, err);
  if (rc) return rc;
  char **jobs = calloc(n ? n : 1, sizeof *jobs);
  size_t nj = 0;
  if (!jobs) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    dle_kv *kv = NULL;
    size_t nkv = 0;
    if ((rc = dle_store_get_meta(st, ids[i], &kv, &nkv, err))) break;
    const char *j = dle_kv_get(kv, nkv, "job");
    int seen = !j;
    for (size_t k = 0; !seen && k < nj; k++) seen = strcmp(jobs[k], j) == 0;
    if (!seen && !(jobs[nj++] = strdup(j))) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    dle_kv_free(kv, nkv);
  }
  cJSON *arr = json ? cJSON_CreateArray() : NULL;
  if (!json && !rc)
    printf("%-24s %5s %6s %14s %14s %12s\n", "JOB", "RUNS", "HOSTS", "GPU kJ", "TOTAL kJ",
           "CO2e g");
  for (size_t k = 0; !rc && k < nj; k++) {
    job_agg a;
    rc = job_collect(st, jobs[k], filter, &a, err);
    if (!rc && json) {
      cJSON_AddItemToArray(arr, job_json(&a));
    } else if (!rc) {
      char em[32] = "-";
      if (a.emissions_unknown < a.runs) snprintf(em, sizeof em, "%.3g", a.emissions_g);
      printf("%-24.24s %5zu %6zu %14.2f %14.2f %12s\n", a.job, a.runs, a.n_hosts, a.gpu_j / 1e3,
             a.total_j / 1e3, em);
    }
    job_agg_free(&a);
  }
  if (!rc && json && !cli_print_json(arr))
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory printing JSON");
  if (!rc && !json)
    printf("%zu job%s; runs without a 'job' are not listed (see 'dlenergy run --job')\n", nj,
           nj == 1 ? "" : "s");
  cJSON_Delete(arr);
  for (size_t k = 0; k < nj; k++) free(jobs[k]);
  free(jobs);
  free(ids);
  return rc;
}

static int cmd_show(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"job", required_argument, NULL, 'J'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool json = false;
  const char *db = NULL, *job = NULL;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'j': json = true; break;
      case 'd': db = optarg; break;
      case 'J': job = optarg; break;
      case 'h': usage(stdout); return DLE_EXIT_OK;
      default: return cli_usage_error("show", "unknown option");
    }
  }
  if (job && optind != argc) return cli_usage_error("show", "give either RUN or --job NAME");
  if (!job && optind != argc - 1) return cli_usage_error("show", "expected one RUN (an id or 'last')");
  if (job && (!*job || strchr(job, ',') || strchr(job, '=')))
    return cli_usage_error("show", "--job wants a name without ',' or '='");
  dle_error err;
  dle_error_clear(&err);
  dle_store *st = NULL;
  if (cli_open_store_existing(cli_db_path(db), &st, &err)) return cli_fail("show", &err);
  if (job) {
    int rc = show_job(st, job, json, &err);
    dle_store_close(st);
    return rc ? cli_fail("show", &err) : DLE_EXIT_OK;
  }
  int64_t id;
  int status = DLE_EXIT_OK;
  cJSON *o = NULL;
  show_data d = {0};
  if (dle_store_resolve_run(st, argv[optind], &id, &err) || dle_run_view_load(st, id, true, &d, &err) ||
      !(o = dle_run_view_json(&d, true, &err))) {
    status = cli_fail("show", &err);
  } else if (json) {
    if (!cli_print_json(o)) {
      dle_error_set(&err, DLE_ENOMEM, "out of memory printing JSON");
      status = cli_fail("show", &err);
    }
  } else {
    print_human(&d, o);
  }
  dle_run_view_free(&d);
  cJSON_Delete(o);
  dle_store_close(st);
  return status;
}

const dle_cli_verb dle_verb_show = {"show", "show one run: energy per component, emissions, epochs",
                                    cmd_show};
