/* onnx.h — counts the multiply-accumulates (MACs), FLOPs and parameters of an
 * ONNX model from its graph alone.
 *
 * The file is parsed with protobuf-c code generated at build time from the
 * system's onnx.proto. External weight data is never loaded (initializers with
 * data_location = EXTERNAL only contribute their dims), and large raw weight
 * bytes embedded in the file are skipped before decoding, so memory stays close
 * to the size of the graph itself. Files larger than DLE_ONNX_MAX_FILE_BYTES
 * (2 GiB, protobuf's own message limit) are refused.
 *
 * Shapes are inferred node by node from the graph inputs (optionally overridden),
 * with constant folding of the small shape subgraphs that exporters emit
 * (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, ...).
 *
 * Counting conventions (chosen to reproduce torchvision's documented GFLOPS,
 * which are MACs of conv/linear layers and of attention matmuls):
 *   macs        = MACs of Conv, ConvTranspose, Gemm and MatMul nodes only
 *                 (Conv: out_elems * (C_in/group) * prod(kernel); Gemm: M*N*K;
 *                  MatMul: batch * M * N * K).
 *   flops       = 2 * macs.
 *   other_flops = elementwise, normalization, pooling and softmax work, counted
 *                 separately (roughly one FLOP per output element per basic op;
 *                 pooling: one per window element). Not included in macs/flops.
 *   params      = sum of element counts of FLOAT/FLOAT16/DOUBLE/BFLOAT16
 *                 initializers (the graph's learnable weights as exported).
 *   training_flops_per_sample = 3 * flops / batch (forward + backward ≈ 3 ×
 *                 forward), batch = leading dim of the first graph input.
 * All counts are modelled from the graph, not measured. */
#ifndef DLENERGY_ONNX_H
#define DLENERGY_ONNX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  DLE_ONNX_MAX_RANK = 8,       /* tensors of higher rank are reported as unsupported */
  DLE_ONNX_MAX_NAME = 256      /* longest input name accepted by an override */
};
#define DLE_ONNX_MAX_FILE_BYTES ((uint64_t)2 << 30)

/* Replaces the shape of a graph input (e.g. batch or image size). An empty name
 * means "the first graph input that is not an initializer". */
typedef struct dle_onnx_input_override {
  char name[DLE_ONNX_MAX_NAME];
  int64_t dims[DLE_ONNX_MAX_RANK];
  size_t rank;
} dle_onnx_input_override;

/* Parses "NAME=1x3x224x224" or "1x3x224x224" (dims > 0, rank 1..8). */
int dle_onnx_parse_input_spec(const char *spec, dle_onnx_input_override *out, dle_error *err);

typedef struct dle_onnx_report dle_onnx_report;

/* Analyzes the ONNX file at path. On success *out is a new report (free it with
 * dle_onnx_report_free). Errors: DLE_EIO (cannot read), DLE_ERANGE (file too
 * large, absurd dims, counts overflow), DLE_EPARSE (not a valid ONNX model, graph
 * cycle, missing node input), DLE_ENOTFOUND (override names an unknown input),
 * DLE_EINVAL (bad override). Unknown operators are NOT an error: they are
 * listed with their counts in the report. */
int dle_onnx_analyze(const char *path, const dle_onnx_input_override *inputs, size_t n_inputs,
                     dle_onnx_report **out, dle_error *err);

/* Same on a serialized ModelProto held in memory (the fuzz target's entry). */
int dle_onnx_analyze_buffer(const void *data, size_t len, const dle_onnx_input_override *inputs,
                            size_t n_inputs, dle_onnx_report **out, dle_error *err);

void dle_onnx_report_free(dle_onnx_report *r);

/* Totals (see the conventions above). */
uint64_t dle_onnx_report_macs(const dle_onnx_report *r);
uint64_t dle_onnx_report_flops(const dle_onnx_report *r);       /* 2 * macs */
uint64_t dle_onnx_report_other_flops(const dle_onnx_report *r); /* not in flops */
uint64_t dle_onnx_report_params(const dle_onnx_report *r);
double dle_onnx_report_training_flops_per_sample(const dle_onnx_report *r);
int64_t dle_onnx_report_batch(const dle_onnx_report *r); /* leading dim of first input */
size_t dle_onnx_report_node_count(const dle_onnx_report *r);
/* Nodes whose output shape could not be inferred (after an unknown op, dynamic
 * dims without override, ...): their MACs are missing from the totals. */
size_t dle_onnx_report_unshaped_node_count(const dle_onnx_report *r);

/* Model facts. Strings live as long as the report; never NULL ("" if absent). */
int64_t dle_onnx_report_ir_version(const dle_onnx_report *r);
int64_t dle_onnx_report_opset(const dle_onnx_report *r); /* default domain */
const char *dle_onnx_report_producer(const dle_onnx_report *r);
/* First graph input (not an initializer): name and shape as used. */
const char *dle_onnx_report_input_name(const dle_onnx_report *r);
size_t dle_onnx_report_input_shape(const dle_onnx_report *r, int64_t dims[DLE_ONNX_MAX_RANK]);

/* Per operator type, sorted by MACs then other FLOPs (descending), then name. */
typedef struct dle_onnx_op_stats {
  const char *op_type; /* "Conv"; custom domains as "domain:Op" */
  uint64_t nodes;
  uint64_t macs;
  uint64_t other_flops;
  uint64_t params; /* initializer elements used by these nodes (first use) */
  bool known;      /* false: no shape rule; counted in unknown_ops */
} dle_onnx_op_stats;

size_t dle_onnx_report_op_type_count(const dle_onnx_report *r);
int dle_onnx_report_op_type(const dle_onnx_report *r, size_t i, dle_onnx_op_stats *out);

/* Unknown operator types with their node counts, sorted by name. */
size_t dle_onnx_report_unknown_op_count(const dle_onnx_report *r);
int dle_onnx_report_unknown_op(const dle_onnx_report *r, size_t i, const char **op_type,
                               uint64_t *nodes);

/* Per node, in topological (execution) order. */
typedef struct dle_onnx_node_info {
  const char *name;    /* node name, or "" */
  const char *op_type;
  uint64_t macs;
  uint64_t other_flops;
  uint64_t params;
  bool shaped;         /* output shape inferred */
  size_t out_rank;     /* shape of the first output when shaped */
  int64_t out_dims[DLE_ONNX_MAX_RANK];
} dle_onnx_node_info;

int dle_onnx_report_node(const dle_onnx_report *r, size_t i, dle_onnx_node_info *out);

#ifdef __cplusplus
}
#endif
#endif
