/* fuzz_model.c — libFuzzer target for the PRE model-file reader
 * (dle_regress_model_parse): any byte string must give a model or a clean error,
 * and an accepted model must predict and write itself back without a fault. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/regress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dle_error err;
  dle_regress_model *m = NULL;
  if (dle_regress_model_parse((const char *)data, size, &m, &err) != 0) {
    if (m) abort(); /* a failed parse must not hand out a model */
    return 0;
  }
  size_t nn = dle_regress_model_num_count(m);
  double *num = calloc(nn ? nn : 1, sizeof *num);
  const char *cat[256] = {0};
  size_t nc = dle_regress_model_cat_count(m);
  for (size_t i = 0; i < nc && i < 256; i++)
    cat[i] = dle_regress_model_cat_level_count(m, i) ? dle_regress_model_cat_level(m, i, 0) : NULL;
  double y;
  if (num) (void)dle_regress_model_predict(m, num, nc <= 256 ? cat : NULL, &y, &err);
  free(num);
  char *json = NULL;
  if (dle_regress_model_to_json(m, &json, &err) == 0) {
    dle_regress_model *m2 = NULL;
    /* What we write we must read back. */
    if (dle_regress_model_parse(json, strlen(json), &m2, &err) != 0) abort();
    dle_regress_model_free(m2);
    free(json);
  }
  dle_regress_model_free(m);
  return 0;
}
