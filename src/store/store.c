/* store.c — the backend-independent half of the run store (see dlenergy/store.h):
 * picks the backend from the location, applies the one-second commit rule after
 * every write, evaluates run filters and builds traces from streamed samples. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"

/* ---- small shared helpers ---- */

double dle_store_mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void dle_store_copy_str(char *dst, size_t n, const char *src) {
  if (!n) return;
  if (!src) src = "";
  size_t l = strlen(src);
  if (l >= n) l = n - 1;
  memcpy(dst, src, l);
  dst[l] = '\0';
}

void dle_store_mark_committed(dle_store *st) {
  st->pending = 0;
  st->last_commit_s = dle_store_mono_s();
}

int dle_store_no_run(const dle_store *st, int64_t run_id, dle_error *err) {
  return dle_error_set(err, DLE_ENOTFOUND, "no run %" PRId64 " in %s", run_id, st->location);
}

int dle_store_check_schema_version(const dle_store *st, int version, dle_error *err) {
  if (version <= DLE_STORE_SCHEMA_VERSION) return DLE_OK;
  return dle_error_set(err, DLE_EDB,
                       "%s has schema version %d, newer than this dlenergy supports (%d); "
                       "use a newer dlenergy",
                       st->location, version, DLE_STORE_SCHEMA_VERSION);
}

void dle_store_copy_sample(dle_sample *dst, const dle_sample *src) {
  uint32_t g = src->n_gpus > DLE_MAX_GPUS ? DLE_MAX_GPUS : src->n_gpus;
  memcpy(dst, src, offsetof(dle_sample, gpu) + g * sizeof src->gpu[0]);
}

uint32_t dle_store_clamp_n_gpus(int64_t n_gpus) {
  return (uint32_t)(n_gpus < 0 ? 0 : n_gpus > DLE_MAX_GPUS ? DLE_MAX_GPUS : n_gpus);
}

void dle_store_set_fault_hook(dle_store *st, dle_store_fault_hook hook, void *ctx) {
  if (!st) return;
  st->fault_hook = hook;
  st->fault_ctx = ctx;
}

static const char *const status_names[] = {"running", "complete", "failed", "killed"};

const char *dle_run_status_str(dle_run_status s) {
  if ((int)s < 0 || (int)s > 3) return "unknown";
  return status_names[s];
}

int dle_run_status_parse(const char *s, dle_run_status *out) {
  for (int i = 0; s && i < 4; i++)
    if (strcmp(s, status_names[i]) == 0) {
      *out = (dle_run_status)i;
      return DLE_OK;
    }
  return DLE_EINVAL;
}

void dle_run_info_init(dle_run_info *info) {
  memset(info, 0, sizeof *info);
  info->status = DLE_RUN_RUNNING;
  dle_store_copy_str(info->source, sizeof info->source, "run");
  info->end_wall_s = NAN;
  info->exit_code = -1;
  info->pue = 1.0;
  info->carbon_g_per_kwh = NAN;
  dle_store_copy_str(info->gpu_source, sizeof info->gpu_source, "none");
  dle_store_copy_str(info->cpu_source, sizeof info->cpu_source, "none");
  dle_store_copy_str(info->dram_source, sizeof info->dram_source, "none");
  dle_store_copy_str(info->ram_source, sizeof info->ram_source, "none");
}

void dle_kv_free(dle_kv *kv, size_t n) {
  if (!kv) return;
  for (size_t i = 0; i < n; i++) {
    free(kv[i].key);
    free(kv[i].value);
  }
  free(kv);
}

const char *dle_kv_get(const dle_kv *kv, size_t n, const char *key) {
  for (size_t i = 0; kv && key && i < n; i++)
    if (strcmp(kv[i].key, key) == 0) return kv[i].value;
  return NULL;
}

/* ---- open / close ---- */

static int is_pg_uri(const char *loc) {
  return strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0;
}

int dle_store_open(const char *location, dle_store **out, dle_error *err) {
  if (!out) return dle_error_set(err, DLE_EINVAL, "no output handle");
  *out = NULL;
  if (!location || !*location)
    return dle_error_set(err, DLE_EINVAL, "empty run store location");
  int rc = is_pg_uri(location) ? dle_store_open_pg(location, out, err)
                               : dle_store_open_sqlite(location, out, err);
  if (rc) return rc;
  (*out)->commit_interval_s = 1.0;
  dle_store_mark_committed(*out);
  return DLE_OK;
}

void dle_store_close(dle_store *st) {
  if (!st) return;
  st->ops->close(st);
}

/* ---- writing ---- */

static int check_run_info(const dle_run_info *info, dle_error *err) {
  if (!info) return dle_error_set(err, DLE_EINVAL, "no run info");
  if ((int)info->status < 0 || (int)info->status > 3)
    return dle_error_set(err, DLE_EINVAL, "invalid run status %d", (int)info->status);
  if (!(info->pue >= 1.0) || !isfinite(info->pue))
    return dle_error_set(err, DLE_EINVAL, "PUE must be a finite number >= 1 (got %g)", info->pue);
  return DLE_OK;
}

/* The durability rule: after each write, commit when the last commit is older
 * than the interval. */
static int maybe_commit(dle_store *st, dle_error *err) {
  if (st->pending && dle_store_mono_s() - st->last_commit_s >= st->commit_interval_s)
    return st->ops->commit(st, err);
  return DLE_OK;
}

/* Reads see everything written through this handle. */
static int flush_for_read(dle_store *st, dle_error *err) {
  return st->pending ? st->ops->commit(st, err) : DLE_OK;
}

int dle_store_create_run(dle_store *st, const dle_run_info *info, int64_t *run_id,
                         dle_error *err) {
  if (!st || !run_id) return dle_error_set(err, DLE_EINVAL, "no store or run id output");
  int rc = check_run_info(info, err);
  if (rc) return rc;
  return st->ops->create_run(st, info, run_id, err);
}

int dle_store_update_run(dle_store *st, const dle_run_info *info, dle_error *err) {
  if (!st) return dle_error_set(err, DLE_EINVAL, "no store");
  int rc = check_run_info(info, err);
  if (rc) return rc;
  return st->ops->update_run(st, info, err);
}

int dle_store_set_meta(dle_store *st, int64_t run_id, const char *key, const char *value,
                       dle_error *err) {
  if (!st || !key || !*key || !value)
    return dle_error_set(err, DLE_EINVAL, "metadata needs a non-empty key and a value");
  if (strchr(key, '=') || strchr(key, ','))
    return dle_error_set(err, DLE_EINVAL, "metadata key '%s' must not contain '=' or ','", key);
  int rc = st->ops->set_meta(st, run_id, key, value, err);
  return rc ? rc : maybe_commit(st, err);
}

int dle_store_append_samples(dle_store *st, int64_t run_id, const dle_sample *samples,
                             size_t n, dle_error *err) {
  if (!st || (!samples && n)) return dle_error_set(err, DLE_EINVAL, "no store or samples");
  for (size_t i = 0; i < n; i++)
    if (samples[i].n_gpus > DLE_MAX_GPUS)
      return dle_error_set(err, DLE_EINVAL, "sample %zu has %u GPUs (at most %d)", i,
                           samples[i].n_gpus, DLE_MAX_GPUS);
  if (n == 0) return maybe_commit(st, err);
  int rc = st->ops->append_samples(st, run_id, samples, n, err);
  return rc ? rc : maybe_commit(st, err);
}

int dle_store_put_epoch(dle_store *st, int64_t run_id, const dle_epoch *e, dle_error *err) {
  if (!st || !e) return dle_error_set(err, DLE_EINVAL, "no store or epoch");
  int rc = st->ops->put_epoch(st, run_id, e, err);
  return rc ? rc : maybe_commit(st, err);
}

int dle_store_commit(dle_store *st, dle_error *err) {
  if (!st) return dle_error_set(err, DLE_EINVAL, "no store");
  return st->ops->commit(st, err);
}

int dle_store_begin(dle_store *st, dle_error *err) {
  if (!st) return dle_error_set(err, DLE_EINVAL, "no store");
  return st->ops->begin ? st->ops->begin(st, err) : DLE_OK;
}

int dle_store_delete_run(dle_store *st, int64_t run_id, dle_error *err) {
  if (!st) return dle_error_set(err, DLE_EINVAL, "no store");
  int rc = flush_for_read(st, err);
  return rc ? rc : st->ops->delete_run(st, run_id, err);
}

/* ---- reading ---- */

int dle_store_list_runs(dle_store *st, dle_run_info **out, size_t *n, dle_error *err) {
  if (!st || !out || !n) return dle_error_set(err, DLE_EINVAL, "no store or output");
  *out = NULL;
  *n = 0;
  int rc = flush_for_read(st, err);
  return rc ? rc : st->ops->list_runs(st, -1, out, n, err);
}

int dle_store_get_run(dle_store *st, int64_t run_id, dle_run_info *out, dle_error *err) {
  if (!st || !out) return dle_error_set(err, DLE_EINVAL, "no store or output");
  int rc = flush_for_read(st, err);
  if (rc) return rc;
  dle_run_info *runs = NULL;
  size_t n = 0;
  if (run_id < 0) return dle_error_set(err, DLE_ENOTFOUND, "no run %" PRId64, run_id);
  rc = st->ops->list_runs(st, run_id, &runs, &n, err);
  if (rc) return rc;
  if (n == 0) {
    free(runs);
    return dle_store_no_run(st, run_id, err);
  }
  *out = runs[0];
  free(runs);
  return DLE_OK;
}

int dle_store_resolve_run(dle_store *st, const char *arg, int64_t *run_id, dle_error *err) {
  if (!st || !arg || !run_id) return dle_error_set(err, DLE_EINVAL, "no store or run argument");
  int rc = flush_for_read(st, err);
  if (rc) return rc;
  if (strcmp(arg, "last") == 0) {
    rc = st->ops->last_run(st, run_id, err);
    if (rc == DLE_ENOTFOUND)
      return dle_error_set(err, DLE_ENOTFOUND, "no runs in %s yet", st->location);
    return rc;
  }
  char *end = NULL;
  errno = 0;
  long long v = strtoll(arg, &end, 10);
  if (!*arg || errno || *end || v < 1 || !isdigit((unsigned char)arg[0]))
    return dle_error_set(err, DLE_EINVAL, "'%s' is not a run id (a positive number or 'last')",
                         arg);
  dle_run_info info;
  rc = dle_store_get_run(st, (int64_t)v, &info, err);
  if (rc) return rc;
  *run_id = (int64_t)v;
  return DLE_OK;
}

int dle_store_get_meta(dle_store *st, int64_t run_id, dle_kv **out, size_t *n, dle_error *err) {
  if (!st || !out || !n) return dle_error_set(err, DLE_EINVAL, "no store or output");
  *out = NULL;
  *n = 0;
  int rc = flush_for_read(st, err);
  return rc ? rc : st->ops->get_meta(st, run_id, out, n, err);
}

int dle_store_foreach_sample(dle_store *st, int64_t run_id, dle_store_sample_fn fn, void *ctx,
                             dle_error *err) {
  if (!st || !fn) return dle_error_set(err, DLE_EINVAL, "no store or callback");
  int rc = flush_for_read(st, err);
  return rc ? rc : st->ops->foreach_sample(st, run_id, fn, ctx, err);
}

static int append_to_trace(void *ctx, const dle_sample *s, dle_error *err) {
  return dle_trace_append(ctx, s, err);
}

int dle_store_headline_gpus(dle_store *st, int64_t run_id, uint32_t idx[DLE_MAX_GPUS],
                           size_t *n, dle_error *err) {
  if (!st || !n) return dle_error_set(err, DLE_EINVAL, "no store or output");
  *n = 0;
  /* The headline GPUs (meta gpus_headline, "1,3": those the run used), else all. */
  dle_kv *kv = NULL;
  size_t nkv = 0;
  int rc = dle_store_get_meta(st, run_id, &kv, &nkv, err);
  if (rc) return rc;
  size_t ni = 0;
  const char *h = dle_kv_get(kv, nkv, "gpus_headline");
  for (const char *p = h; p && *p && ni < DLE_MAX_GPUS;) {
    char *end = NULL;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p) break;
    idx[ni++] = (uint32_t)v;
    p = *end == ',' ? end + 1 : end;
  }
  dle_kv_free(kv, nkv);
  *n = ni;
  return DLE_OK;
}

int dle_store_load_trace(dle_store *st, int64_t run_id, dle_trace *out, dle_error *err) {
  if (!st || !out) return dle_error_set(err, DLE_EINVAL, "no store or trace");
  int64_t n = 0;
  int rc = dle_store_count_samples(st, run_id, &n, err);
  if (rc) return rc;
  if (n > 0 && (rc = dle_trace_reserve(out, out->n + (size_t)n, err))) return rc;
  rc = dle_store_foreach_sample(st, run_id, append_to_trace, out, err);
  if (rc) return rc;
  uint32_t idx[DLE_MAX_GPUS];
  size_t ni = 0;
  rc = dle_store_headline_gpus(st, run_id, idx, &ni, err);
  if (rc) return rc;
  dle_trace_select_gpus(out, idx, ni);
  return DLE_OK;
}

int dle_store_load_epochs(dle_store *st, int64_t run_id, dle_epoch **out, size_t *n,
                          dle_error *err) {
  if (!st || !out || !n) return dle_error_set(err, DLE_EINVAL, "no store or output");
  *out = NULL;
  *n = 0;
  int rc = flush_for_read(st, err);
  return rc ? rc : st->ops->load_epochs(st, run_id, out, n, err);
}

int dle_store_count_samples(dle_store *st, int64_t run_id, int64_t *n, dle_error *err) {
  if (!st || !n) return dle_error_set(err, DLE_EINVAL, "no store or output");
  int rc = flush_for_read(st, err);
  return rc ? rc : st->ops->count_samples(st, run_id, n, err);
}

/* ---- filters ---- */

static int contains(const int64_t *ids, size_t n, int64_t id) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == id) return 1;
  return 0;
}

/* Keeps the entries of *cur that are also in other (both ascending). */
static void intersect(int64_t *cur, size_t *ncur, const int64_t *other, size_t nother) {
  size_t k = 0;
  for (size_t i = 0; i < *ncur; i++)
    if (contains(other, nother, cur[i])) cur[k++] = cur[i];
  *ncur = k;
}

static int filter_fields(const dle_run_info *runs, size_t nruns, const char *key,
                         const char *value, int64_t **ids, size_t *n, dle_error *err) {
  dle_run_status want = DLE_RUN_RUNNING;
  if (strcmp(key, "status") == 0 && dle_run_status_parse(value, &want) != DLE_OK)
    return dle_error_set(err, DLE_EINVAL,
                         "unknown status '%s' (running, complete, failed, killed)", value);
  *ids = malloc((nruns ? nruns : 1) * sizeof **ids);
  if (!*ids) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  *n = 0;
  for (size_t i = 0; i < nruns; i++) {
    const dle_run_info *r = &runs[i];
    int ok = strcmp(key, "status") == 0   ? r->status == want
             : strcmp(key, "source") == 0 ? strcmp(r->source, value) == 0
                                          : strcmp(r->host, value) == 0;
    if (ok) (*ids)[(*n)++] = r->id;
  }
  return DLE_OK;
}

static int is_field_key(const char *key) {
  return strcmp(key, "status") == 0 || strcmp(key, "source") == 0 || strcmp(key, "host") == 0;
}

/* Evaluates metadata conditions first (indexed lookups); only the runs they leave
 * are read for the field conditions, so a selective filter costs a few rows, not
 * a scan of every run (import asks once per trace). */
int dle_store_select_runs(dle_store *st, const char *filter, int64_t **ids, size_t *n,
                          dle_error *err) {
  if (!st || !ids || !n) return dle_error_set(err, DLE_EINVAL, "no store or output");
  *ids = NULL;
  *n = 0;
  int rc = flush_for_read(st, err);
  if (rc) return rc;
  char *copy = strdup(filter ? filter : "");
  if (!copy) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  /* split into conditions, checking their form */
  char *conds[64];
  size_t nc = 0;
  char *save = NULL;
  for (char *cond = strtok_r(copy, ",", &save); cond; cond = strtok_r(NULL, ",", &save)) {
    while (*cond == ' ') cond++;
    if (!*cond) continue;
    char *eq = strchr(cond, '=');
    if (!eq || eq == cond) {
      rc = dle_error_set(err, DLE_EINVAL, "filter condition '%s' is not key=value", cond);
      break;
    }
    if (nc == sizeof conds / sizeof *conds) {
      rc = dle_error_set(err, DLE_EINVAL, "more than %zu filter conditions", nc);
      break;
    }
    *eq = '\0';
    conds[nc++] = cond;
  }
  int64_t *cur = NULL;
  size_t ncur = 0;
  int have_set = 0;
  for (size_t i = 0; !rc && i < nc; i++) {
    const char *key = conds[i], *value = conds[i] + strlen(conds[i]) + 1;
    if (is_field_key(key)) continue;
    int64_t *m = NULL;
    size_t nm = 0;
    rc = st->ops->meta_match(st, key, value, &m, &nm, err);
    if (rc) break;
    if (!have_set) {
      cur = m;
      ncur = nm;
      have_set = 1;
    } else {
      intersect(cur, &ncur, m, nm);
      free(m);
    }
  }
  dle_run_info *runs = NULL;
  size_t nruns = 0;
  if (!rc && !have_set) { /* no metadata condition: every run is a candidate */
    rc = st->ops->list_runs(st, -1, &runs, &nruns, err);
    if (!rc) {
      cur = malloc((nruns ? nruns : 1) * sizeof *cur);
      if (!cur) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      for (size_t i = 0; !rc && i < nruns; i++) cur[ncur++] = runs[i].id;
    }
  } else if (!rc) { /* read only the candidates' fields */
    runs = malloc((ncur ? ncur : 1) * sizeof *runs);
    if (!runs) rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < ncur; i++) {
      dle_run_info *one = NULL;
      size_t k = 0;
      rc = st->ops->list_runs(st, cur[i], &one, &k, err);
      if (!rc && k == 1) runs[nruns++] = one[0];
      free(one);
    }
  }
  for (size_t i = 0; !rc && i < nc; i++) {
    const char *key = conds[i], *value = conds[i] + strlen(conds[i]) + 1;
    if (!is_field_key(key)) continue;
    int64_t *m = NULL;
    size_t nm = 0;
    rc = filter_fields(runs, nruns, key, value, &m, &nm, err);
    if (!rc) intersect(cur, &ncur, m, nm);
    free(m);
  }
  free(copy);
  free(runs);
  if (rc) {
    free(cur);
    return rc;
  }
  if (!cur) cur = malloc(1); /* an empty but valid array */
  if (!cur) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  *ids = cur;
  *n = ncur;
  return DLE_OK;
}
