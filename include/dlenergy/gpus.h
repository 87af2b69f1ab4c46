/* gpus.h — the GPU catalogue: vendor figures (CUDA cores, memory, bandwidth, TDP,
 * peak FP32 and tensor FLOP/s) of NVIDIA boards, looked up by the name NVML reports.
 *
 * The catalogue is the data file gpus.csv shipped with dlenergy (see fsutil.h's
 * dle_data_path). Lookup order: exact NVML name, then exact alias, then a
 * normalized match (case, spaces, '-', '_' and the words "NVIDIA", "GeForce",
 * "Tesla" ignored) first on equality, then on containment; when several boards
 * still match, the lookup fails with DLE_EINVAL and lists the candidates. */
#ifndef DLENERGY_GPUS_H
#define DLENERGY_GPUS_H

#include <stddef.h>

#include "dlenergy/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dle_gpu_spec {
  char name[96];         /* as NVML reports it ("NVIDIA GeForce RTX 3090") */
  char aliases[256];     /* '|'-separated other spellings; may be empty */
  char architecture[32]; /* "Ampere", "Hopper", ... */
  int cuda_cores;
  double memory_gb;
  double memory_bandwidth_gbs;
  double tdp_w;              /* board power (TDP / TGP) from the vendor */
  double fp32_tflops;        /* peak FP32 at boost clock */
  double tensor_fp16_tflops; /* peak dense FP16/BF16 tensor, FP32 accumulate; NaN if none */
  char source[192];          /* vendor document the row comes from */
} dle_gpu_spec;

typedef struct dle_gpu_catalog dle_gpu_catalog;

/* Loads a catalogue CSV; path NULL means the shipped gpus.csv. */
int dle_gpu_catalog_load(const char *path, dle_gpu_catalog **out, dle_error *err);
/* Parses catalogue CSV text (the same format) held in memory. */
int dle_gpu_catalog_parse(const char *text, size_t len, dle_gpu_catalog **out, dle_error *err);
void dle_gpu_catalog_free(dle_gpu_catalog *cat); /* NULL is fine */

size_t dle_gpu_catalog_count(const dle_gpu_catalog *cat);
/* Row i (0 <= i < count), in file order; the pointer lives as long as cat. */
const dle_gpu_spec *dle_gpu_catalog_at(const dle_gpu_catalog *cat, size_t i);

/* Finds a board by name (see the header comment for the matching rules).
 * DLE_ENOTFOUND when nothing matches, DLE_EINVAL when ambiguous (message lists
 * the candidates). *out points into cat. */
int dle_gpu_catalog_find(const dle_gpu_catalog *cat, const char *name, const dle_gpu_spec **out,
                         dle_error *err);

/* One-shot convenience: loads the shipped catalogue, finds name, copies the row. */
int dle_gpu_lookup(const char *name, dle_gpu_spec *out, dle_error *err);

#ifdef __cplusplus
}
#endif
#endif
