/* store_mkfixture DB N — writes one run of N fixture samples (NaNs, GPUs 0 and 2,
 * some samples without GPUs) and three epochs into the store DB; prints the run id.
 * Used by the export test, which reads the store back independently. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlenergy/store.h"
#include "store_fixture.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: store_mkfixture DB N\n");
    return 2;
  }
  long n = strtol(argv[2], NULL, 10);
  dle_error e = {0};
  dle_store *st = NULL;
  if (dle_store_open(argv[1], &st, &e)) goto fail;
  dle_run_info info;
  dle_run_info_init(&info);
  snprintf(info.host, sizeof info.host, "fixture");
  int64_t id = 0;
  if (dle_store_create_run(st, &info, &id, &e)) goto fail;
  for (long k = 0; k < n; k++) {
    dle_sample s;
    fixture_sample(&s, (uint32_t)k);
    if (dle_store_append_samples(st, id, &s, 1, &e)) goto fail;
  }
  dle_epoch ep[3] = {{.index = 1, .t_begin_s = 0.0, .t_end_s = 3.25},
                     {.index = 2, .t_begin_s = 3.25, .t_end_s = 7.1},
                     {.index = 3, .t_begin_s = 7.1, .t_end_s = NAN}};
  snprintf(ep[0].metrics, sizeof ep[0].metrics, "loss=0.5 val_accuracy=0.81");
  snprintf(ep[1].metrics, sizeof ep[1].metrics, "note=\"a, b\" loss=0.4");
  for (int i = 0; i < 3; i++)
    if (dle_store_put_epoch(st, id, &ep[i], &e)) goto fail;
  info.id = id;
  info.status = DLE_RUN_COMPLETE;
  if (dle_store_update_run(st, &info, &e)) goto fail;
  dle_store_close(st);
  printf("%" PRId64 "\n", id);
  return 0;
fail:
  fprintf(stderr, "store_mkfixture: %s\n", e.msg);
  dle_store_close(st);
  return 1;
}
