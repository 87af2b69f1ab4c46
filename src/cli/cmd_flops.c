/* cmd_flops.c — `dlenergy flops MODEL.onnx`: MACs, FLOPs and parameters of an
 * ONNX model, per operator type (and per node), as a table or one JSON object. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dlenergy/onnx.h"

enum { MAX_INPUTS = 16 };

static void usage(FILE *out) {
  fprintf(out,
          "Usage: dlenergy flops MODEL.onnx [--input NAME=1x3x224x224] [--per-node] [--json]\n"
          "Counts the multiply-accumulates (MACs), FLOPs (= 2 x MACs) and parameters of an\n"
          "ONNX model from its graph (weights are never loaded). All figures are modelled.\n\n"
          "  -i, --input SPEC   shape of a graph input, NAME=1x3x224x224 or 1x3x224x224 for\n"
          "                     the first input (repeatable; needed for symbolic dims)\n"
          "  -n, --per-node     also list every node with its output shape and counts\n"
          "  -j, --json         print one JSON object (macs, flops, params,\n"
          "                     training_flops_per_sample, unknown_ops, per_op_type, ...)\n"
          "  -h, --help         this help\n\n"
          "MACs count Conv, ConvTranspose, Gemm and MatMul (torchvision's GFLOPS convention);\n"
          "elementwise, normalization and pooling work is reported apart as other FLOPs.\n"
          "Training FLOPs per sample = 3 x forward FLOPs / batch. Operators without a\n"
          "shape rule are listed as unknown with their count.\n");
}

static void fmt_shape(char *buf, size_t n, const int64_t *d, size_t rank) {
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < rank && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, "%s%" PRId64, i ? "x" : "", d[i]);
  if (rank == 0) snprintf(buf, n, "scalar");
}

static int print_json(const dle_onnx_report *r, const char *path, bool per_node) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return -1;
  cJSON_AddStringToObject(o, "model", path);
  cJSON_AddStringToObject(o, "kind", "modelled");
  cJSON_AddStringToObject(o, "input", dle_onnx_report_input_name(r));
  int64_t d[DLE_ONNX_MAX_RANK];
  size_t rank = dle_onnx_report_input_shape(r, d);
  cJSON *shape = cJSON_AddArrayToObject(o, "input_shape");
  for (size_t i = 0; i < rank; i++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)d[i]));
  cJSON_AddNumberToObject(o, "batch", (double)dle_onnx_report_batch(r));
  cJSON_AddNumberToObject(o, "macs", (double)dle_onnx_report_macs(r));
  cJSON_AddNumberToObject(o, "flops", (double)dle_onnx_report_flops(r));
  cJSON_AddNumberToObject(o, "gmacs", (double)dle_onnx_report_macs(r) / 1e9);
  cJSON_AddNumberToObject(o, "other_flops", (double)dle_onnx_report_other_flops(r));
  cJSON_AddNumberToObject(o, "params", (double)dle_onnx_report_params(r));
  cJSON_AddNumberToObject(o, "training_flops_per_sample",
                          dle_onnx_report_training_flops_per_sample(r));
  cJSON_AddNumberToObject(o, "nodes", (double)dle_onnx_report_node_count(r));
  cJSON_AddNumberToObject(o, "unshaped_nodes", (double)dle_onnx_report_unshaped_node_count(r));
  cJSON_AddNumberToObject(o, "opset", (double)dle_onnx_report_opset(r));
  cJSON_AddNumberToObject(o, "ir_version", (double)dle_onnx_report_ir_version(r));
  cJSON_AddStringToObject(o, "producer", dle_onnx_report_producer(r));
  cJSON *unk = cJSON_AddObjectToObject(o, "unknown_ops");
  for (size_t i = 0; i < dle_onnx_report_unknown_op_count(r); i++) {
    const char *op;
    uint64_t n;
    if (dle_onnx_report_unknown_op(r, i, &op, &n) == 0) cJSON_AddNumberToObject(unk, op, (double)n);
  }
  cJSON *per = cJSON_AddArrayToObject(o, "per_op_type");
  for (size_t i = 0; i < dle_onnx_report_op_type_count(r); i++) {
    dle_onnx_op_stats s;
    if (dle_onnx_report_op_type(r, i, &s) != 0) continue;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "op_type", s.op_type);
    cJSON_AddNumberToObject(e, "nodes", (double)s.nodes);
    cJSON_AddNumberToObject(e, "macs", (double)s.macs);
    cJSON_AddNumberToObject(e, "other_flops", (double)s.other_flops);
    cJSON_AddNumberToObject(e, "params", (double)s.params);
    cJSON_AddBoolToObject(e, "known", s.known);
    cJSON_AddItemToArray(per, e);
  }
  if (per_node) {
    cJSON *nodes = cJSON_AddArrayToObject(o, "per_node");
    for (size_t i = 0; i < dle_onnx_report_node_count(r); i++) {
      dle_onnx_node_info ni;
      if (dle_onnx_report_node(r, i, &ni) != 0) continue;
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "name", ni.name);
      cJSON_AddStringToObject(e, "op_type", ni.op_type);
      cJSON *os = ni.shaped ? cJSON_AddArrayToObject(e, "output_shape") : NULL;
      for (size_t k = 0; os && k < ni.out_rank; k++)
        cJSON_AddItemToArray(os, cJSON_CreateNumber((double)ni.out_dims[k]));
      if (!ni.shaped) cJSON_AddNullToObject(e, "output_shape");
      cJSON_AddNumberToObject(e, "macs", (double)ni.macs);
      cJSON_AddNumberToObject(e, "other_flops", (double)ni.other_flops);
      cJSON_AddNumberToObject(e, "params", (double)ni.params);
      cJSON_AddItemToArray(nodes, e);
    }
  }
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  if (!s) return -1;
  puts(s);
  free(s);
  return 0;
}

static void print_table(const dle_onnx_report *r, const char *path, bool per_node) {
  int64_t d[DLE_ONNX_MAX_RANK];
  char shape[160];
  fmt_shape(shape, sizeof shape, d, dle_onnx_report_input_shape(r, d));
  printf("Model   %s (opset %" PRId64 ", producer %s)\n", path, dle_onnx_report_opset(r),
         dle_onnx_report_producer(r)[0] ? dle_onnx_report_producer(r) : "?");
  printf("Input   %s %s\n\n", dle_onnx_report_input_name(r), shape);
  if (per_node) {
    printf("%-40s %-20s %-18s %14s %14s %12s\n", "node", "op_type", "output", "MACs",
           "other FLOPs", "params");
    for (size_t i = 0; i < dle_onnx_report_node_count(r); i++) {
      dle_onnx_node_info ni;
      if (dle_onnx_report_node(r, i, &ni) != 0) continue;
      if (ni.shaped) fmt_shape(shape, sizeof shape, ni.out_dims, ni.out_rank);
      else snprintf(shape, sizeof shape, "?");
      printf("%-40.40s %-20.20s %-18.18s %14" PRIu64 " %14" PRIu64 " %12" PRIu64 "\n",
             ni.name[0] ? ni.name : "-", ni.op_type, shape, ni.macs, ni.other_flops, ni.params);
    }
    printf("\n");
  }
  printf("%-24s %6s %16s %8s %16s %14s\n", "op_type", "nodes", "MACs", "share", "other FLOPs",
         "params");
  uint64_t macs = dle_onnx_report_macs(r);
  for (size_t i = 0; i < dle_onnx_report_op_type_count(r); i++) {
    dle_onnx_op_stats s;
    if (dle_onnx_report_op_type(r, i, &s) != 0) continue;
    printf("%-24.24s %6" PRIu64 " %16" PRIu64 " %7.2f%% %16" PRIu64 " %14" PRIu64 "%s\n",
           s.op_type, s.nodes, s.macs, macs ? 100.0 * (double)s.macs / (double)macs : 0.0,
           s.other_flops, s.params, s.known ? "" : "  (unknown op)");
  }
  printf("\nTotals (modelled from the graph)\n");
  printf("  MACs                       %" PRIu64 " (%.3f G)\n", macs, (double)macs / 1e9);
  printf("  FLOPs (2 x MACs)           %" PRIu64 " (%.3f G)\n", dle_onnx_report_flops(r),
         (double)dle_onnx_report_flops(r) / 1e9);
  printf("  other FLOPs (not in FLOPs) %" PRIu64 " (%.3f G)\n", dle_onnx_report_other_flops(r),
         (double)dle_onnx_report_other_flops(r) / 1e9);
  printf("  parameters                 %" PRIu64 " (%.2f M)\n", dle_onnx_report_params(r),
         (double)dle_onnx_report_params(r) / 1e6);
  printf("  training FLOPs per sample  %.4g (3 x forward / batch %" PRId64 ")\n",
         dle_onnx_report_training_flops_per_sample(r), dle_onnx_report_batch(r));
  size_t nu = dle_onnx_report_unknown_op_count(r);
  if (nu) {
    printf("  unknown ops                ");
    for (size_t i = 0; i < nu; i++) {
      const char *op;
      uint64_t n;
      dle_onnx_report_unknown_op(r, i, &op, &n);
      printf("%s%s x%" PRIu64, i ? ", " : "", op, n);
    }
    printf("\n");
  }
  size_t un = dle_onnx_report_unshaped_node_count(r);
  if (un)
    printf("  warning: %zu of %zu nodes have no inferred shape; their MACs are missing\n", un,
           dle_onnx_report_node_count(r));
}

static int cmd_flops(int argc, char **argv) {
  static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
                                       {"per-node", no_argument, NULL, 'n'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  dle_onnx_input_override inputs[MAX_INPUTS];
  size_t n_inputs = 0;
  bool per_node = false, json = false;
  dle_error err = {0};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "i:njh", opts, NULL)) != -1) {
    switch (c) {
    case 'i':
      if (n_inputs >= MAX_INPUTS) return cli_usage_error("flops", "at most %d --input", MAX_INPUTS);
      if (dle_onnx_parse_input_spec(optarg, &inputs[n_inputs], &err) != 0)
        return cli_usage_error("flops", "%s", err.msg);
      n_inputs++;
      break;
    case 'n': per_node = true; break;
    case 'j': json = true; break;
    case 'h': usage(stdout); return DLE_EXIT_OK;
    default: return cli_usage_error("flops", "unknown option");
    }
  }
  if (optind != argc - 1) return cli_usage_error("flops", "expected one MODEL.onnx");
  const char *path = argv[optind];
  dle_onnx_report *r = NULL;
  if (dle_onnx_analyze(path, inputs, n_inputs, &r, &err) != 0) return cli_fail("flops", &err);
  int rc = DLE_EXIT_OK;
  if (json) {
    if (print_json(r, path, per_node) != 0) {
      dle_error_set(&err, DLE_ENOMEM, "out of memory building JSON");
      rc = cli_fail("flops", &err);
    }
  } else {
    print_table(r, path, per_node);
  }
  dle_onnx_report_free(r);
  return rc;
}

const dle_cli_verb dle_verb_flops = {"flops", "MACs, FLOPs and parameters of an ONNX model",
                                     cmd_flops};
