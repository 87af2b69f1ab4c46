/* run_view.h — one run's figures as `dlenergy show` reports them, and the JSON object
 * of `show --json` (also `list --json`, `import --json`, and the Python package's run
 * summary): one builder for all of them.
 *
 * A view is filled either from the store, streamed (memory does not grow with the
 * run's samples: dle_energy_summarize_run), or from a trace in memory (an in-process
 * run whose store failed). Named windows (metadata window.N) get their energies by
 * dle_energy_per_epoch's rule, like epochs. */
#ifndef DLENERGY_RUN_VIEW_H
#define DLENERGY_RUN_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlenergy/energy.h"
#include "dlenergy/error.h"
#include "dlenergy/recorder.h"
#include "dlenergy/store.h"
#include "dlenergy/trace.h"

struct cJSON;

typedef struct dle_run_view {
  dle_run_info info; /* info.id is the run's id */
  dle_energy_summary sum;
  double t_first_s, t_last_s; /* first and last sample time; NaN without samples */
  dle_epoch *ep;              /* the run's epochs, ordered */
  size_t ne;
  double *epoch_j[DLE_COMP_COUNT]; /* ne each, per component; NULL when not computed */
  dle_window *w;                   /* named windows */
  size_t nw;
  double *window_j[DLE_COMP_COUNT]; /* nw each */
  dle_kv *kv;                       /* metadata */
  size_t nkv;
} dle_run_view;

/* From the store. with_epochs: the per-epoch energies too (otherwise epoch_j stays
 * NULL and only the epochs' count is read). Windows always. */
int dle_run_view_load(dle_store *st, int64_t id, bool with_epochs, dle_run_view *v, dle_error *err);
/* From a trace in memory (epochs, windows and metadata copied; kv may be NULL). */
int dle_run_view_from_trace(const dle_run_info *info, const dle_trace *tr, const dle_epoch *ep,
                            size_t ne, const dle_window *w, size_t nw, const dle_kv *kv, size_t nkv,
                            dle_run_view *v, dle_error *err);
void dle_run_view_free(dle_run_view *v);

/* key: v, or key: null when v is not finite (NaN means "absent" in every figure). */
void dle_json_number_or_null(struct cJSON *o, const char *key, double v);
/* "measured", "modelled" or "absent": how component c's figure of s came about. */
const char *dle_energy_figure_kind(const dle_energy_summary *s, int c);

/* The JSON object of `show --json`; epoch_list only when with_epochs (and computed).
 * NULL with err set on failure. */
struct cJSON *dle_run_view_json(const dle_run_view *v, bool with_epochs, dle_error *err);

#endif
