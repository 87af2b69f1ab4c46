/* fuzz_predict_csv.c — libFuzzer target for what `dlenergy predict --csv` does with
 * its input: the table parser (dle_pre_table_parse), each row read as a PRE input
 * against a small fixed GPU catalogue, and a prediction by a small fixed model.
 * Any byte string must give predictions or clean errors, never a fault; every
 * prediction must be positive and finite, with low <= y <= high. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/gpus.h"
#include "dlenergy/regress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char k_catalog[] =
    "name,aliases,architecture,cuda_cores,memory_gb,memory_bandwidth_gbs,tdp_w,fp32_tflops,"
    "tensor_fp16_tflops,source\n"
    "NVIDIA GeForce RTX 3090,RTX 3090,Ampere,10496,24,936,350,35.58,71.2,fuzz\n"
    "Tesla V100-PCIE-16GB,V100,Volta,5120,16,900,250,14,112,fuzz\n";

static const char k_train[] =
    "gpu_model,batch_size,training_size,validation_size,forward_pass_gflop,power_limit_w,"
    "architecture,dataset,avg_gpu_power_w\n"
    "RTX 3090,32,1000,100,1,,a,d,300\n"
    "RTX 3090,64,1000,100,2,300,a,d,280\n"
    "V100,32,5000,100,1,,b,d,200\n"
    "V100,16,5000,100,4,150,b,e,140\n"
    "V100,128,2000,0,0.5,250,a,e,230\n";

static dle_gpu_catalog *g_cat;
static dle_regress_model *g_model;

static void setup(void) {
  dle_error err;
  dle_pre_table *t = NULL;
  dle_dataset *d = NULL;
  dle_regress_hyper h = {0.1, 0.1, NAN, NAN};
  if (dle_gpu_catalog_parse(k_catalog, sizeof k_catalog - 1, &g_cat, &err) ||
      dle_pre_table_parse(k_train, sizeof k_train - 1, &t, &err) ||
      dle_pre_phys_dataset(t, DLE_PRE_TARGET_POWER, g_cat, NULL, 0, &d, &err) ||
      dle_regress_fit(d, DLE_REG_KRR, &h, &g_model, &err))
    abort();
  dle_regress_search_opts o;
  dle_regress_search_opts_init(&o);
  dle_cv_scores s = {0.5, 0.1, 10, 8, 0.2, 0.1};
  dle_regress_model_set_cv(g_model, &o, &s);
  dle_dataset_free(d);
  dle_pre_table_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_model) setup();
  dle_error err;
  dle_pre_table *t = NULL;
  if (dle_pre_table_parse((const char *)data, size, &t, &err) != 0) {
    if (t || !err.msg[0]) abort(); /* a failed parse hands out nothing and says why */
    return 0;
  }
  static const char *const keys[] = {"architecture", "dataset", "optimizer"};
  for (size_t r = 0; r < dle_pre_table_rows(t); r++) {
    for (size_t c = 0; c < dle_pre_table_cols(t); c++)
      if (!dle_pre_table_cell(t, r, c)) abort();
    const char *vals[3];
    for (int k = 0; k < 3; k++) {
      long c = dle_pre_table_col(t, keys[k]);
      vals[k] = c >= 0 ? dle_pre_table_cell(t, r, (size_t)c) : NULL;
    }
    dle_pre_input in;
    if (dle_pre_input_from_row(t, r, g_cat, &in, &err) != 0) continue;
    dle_pre_prediction p;
    if (dle_pre_predict(g_model, &in, t, r, keys, vals, 3, &p, &err) != 0) continue;
    if (!(p.y > 0) || !isfinite(p.y)) abort();
    if (p.have_range && !(p.low <= p.y && p.y <= p.high)) abort();
  }
  dle_pre_table_free(t);
  return 0;
}
