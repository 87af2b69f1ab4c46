/* cmd_gpus.c — `dlenergy gpus`: list the GPU catalogue or show one board. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/run_view.h"
#include "dlenergy/gpus.h"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy gpus [--json] [--catalog FILE] [NAME]\n"
          "List the GPU catalogue (vendor figures), or show the board NAME matches.\n\n"
          "NAME is matched as NVML reports it, then by alias, then ignoring case, spaces,\n"
          "'-' and the words NVIDIA/GeForce/Tesla; an ambiguous NAME lists the candidates.\n\n"
          "Options:\n"
          "  --json          one JSON array (list) or object (NAME)\n"
          "  --catalog FILE  use FILE instead of the shipped gpus.csv\n"
          "  -h, --help      this help\n");
}

static cJSON *spec_json(const dle_gpu_spec *g) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "name", g->name);
  cJSON *al = cJSON_AddArrayToObject(o, "aliases");
  char buf[sizeof g->aliases];
  memcpy(buf, g->aliases, sizeof buf);
  char *save = NULL;
  for (char *a = strtok_r(buf, "|", &save); a && al; a = strtok_r(NULL, "|", &save))
    cJSON_AddItemToArray(al, cJSON_CreateString(a));
  cJSON_AddStringToObject(o, "architecture", g->architecture);
  cJSON_AddNumberToObject(o, "cuda_cores", g->cuda_cores);
  cJSON_AddNumberToObject(o, "memory_gb", g->memory_gb);
  cJSON_AddNumberToObject(o, "memory_bandwidth_gbs", g->memory_bandwidth_gbs);
  cJSON_AddNumberToObject(o, "tdp_w", g->tdp_w);
  cJSON_AddNumberToObject(o, "fp32_tflops", g->fp32_tflops);
  dle_json_number_or_null(o, "tensor_fp16_tflops", g->tensor_fp16_tflops);
  cJSON_AddStringToObject(o, "source", g->source);
  return o;
}

static int print_json(cJSON *root) {
  bool printed = cli_print_json(root);
  cJSON_Delete(root);
  if (!printed) {
    dle_error e = {DLE_ENOMEM, "out of memory building JSON"};
    return cli_fail("gpus", &e);
  }
  return DLE_EXIT_OK;
}

static void print_row(const dle_gpu_spec *g) {
  char tensor[32];
  if (isfinite(g->tensor_fp16_tflops))
    snprintf(tensor, sizeof tensor, "%.1f", g->tensor_fp16_tflops);
  else
    snprintf(tensor, sizeof tensor, "-");
  printf("%-28s %-12s %6d %6.0f %7.0f %5.0f %7.2f %8s\n", g->name, g->architecture, g->cuda_cores,
         g->memory_gb, g->memory_bandwidth_gbs, g->tdp_w, g->fp32_tflops, tensor);
}

static int cmd_gpus(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"catalog", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  bool json = false;
  const char *catalog = NULL;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
      case 'j':
        json = true;
        break;
      case 'c':
        catalog = optarg;
        break;
      case 'h':
        usage(stdout);
        return DLE_EXIT_OK;
      default:
        return cli_usage_error("gpus", "unknown option");
    }
  }
  if (argc - optind > 1) return cli_usage_error("gpus", "at most one NAME");
  const char *name = optind < argc ? argv[optind] : NULL;
  dle_error err = {0};
  dle_gpu_catalog *cat = NULL;
  if (dle_gpu_catalog_load(catalog, &cat, &err)) return cli_fail("gpus", &err);
  int rc = DLE_EXIT_OK;
  if (name) {
    const dle_gpu_spec *g = NULL;
    if (dle_gpu_catalog_find(cat, name, &g, &err)) {
      rc = cli_fail("gpus", &err);
    } else if (json) {
      rc = print_json(spec_json(g));
    } else {
      printf("name                  %s\n", g->name);
      printf("aliases               %s\n", g->aliases[0] ? g->aliases : "-");
      printf("architecture          %s\n", g->architecture);
      printf("CUDA cores            %d\n", g->cuda_cores);
      printf("memory                %g GB, %g GB/s\n", g->memory_gb, g->memory_bandwidth_gbs);
      printf("TDP                   %g W\n", g->tdp_w);
      printf("peak FP32             %g TFLOP/s\n", g->fp32_tflops);
      if (isfinite(g->tensor_fp16_tflops))
        printf("peak FP16/BF16 tensor %g TFLOP/s (dense, FP32 accumulate)\n",
               g->tensor_fp16_tflops);
      else
        printf("peak FP16/BF16 tensor - (no tensor cores)\n");
      printf("source                %s (vendor figures, not measured)\n", g->source);
    }
  } else if (json) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < dle_gpu_catalog_count(cat); i++)
      cJSON_AddItemToArray(arr, spec_json(dle_gpu_catalog_at(cat, i)));
    rc = print_json(arr);
  } else {
    printf("%-28s %-12s %6s %6s %7s %5s %7s %8s\n", "name", "arch", "cores", "mem_GB", "BW_GB/s",
           "TDP_W", "FP32_TF", "tensor_TF");
    for (size_t i = 0; i < dle_gpu_catalog_count(cat); i++) print_row(dle_gpu_catalog_at(cat, i));
    printf("%zu boards; vendor figures (not measured); tensor = dense FP16/BF16, FP32 accumulate\n",
           dle_gpu_catalog_count(cat));
  }
  dle_gpu_catalog_free(cat);
  return rc;
}

const dle_cli_verb dle_verb_gpus = {"gpus", "list the GPU catalogue or look a board up", cmd_gpus};
