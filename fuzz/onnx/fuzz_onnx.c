/* fuzz_onnx.c — libFuzzer target for the ONNX reader: wire-format filter,
 * protobuf-c decoding, graph ordering and shape inference. Any input must give
 * either a report whose invariants hold or an error with a message. The same
 * file is linked into tests/onnx's corpus replay (a plain main, no libFuzzer). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlenergy/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dle_onnx_report *r = NULL;
  dle_error e;
  dle_error_clear(&e);
  /* Half of the inputs also get a first-input override (batch 2, 3x16x16). */
  dle_onnx_input_override ov;
  size_t nov = 0;
  if (size > 0 && (data[size - 1] & 1) && dle_onnx_parse_input_spec("2x3x16x16", &ov, &e) == 0)
    nov = 1;
  int rc = dle_onnx_analyze_buffer(data, size, nov ? &ov : NULL, nov, &r, &e);
  if (rc != 0) {
    if (r != NULL || e.msg[0] == '\0' || rc != e.code) abort();
    return 0;
  }
  if (dle_onnx_report_flops(r) != 2 * dle_onnx_report_macs(r)) abort();
  uint64_t macs = 0, nodes = 0;
  for (size_t i = 0; i < dle_onnx_report_op_type_count(r); i++) {
    dle_onnx_op_stats s;
    if (dle_onnx_report_op_type(r, i, &s) != 0 || !s.op_type) abort();
    macs += s.macs;
    nodes += s.nodes;
  }
  if (macs != dle_onnx_report_macs(r) || nodes != dle_onnx_report_node_count(r)) abort();
  for (size_t i = 0; i < dle_onnx_report_node_count(r); i++) {
    dle_onnx_node_info ni;
    if (dle_onnx_report_node(r, i, &ni) != 0 || !ni.name || !ni.op_type) abort();
    if (ni.out_rank > DLE_ONNX_MAX_RANK) abort();
  }
  for (size_t i = 0; i < dle_onnx_report_unknown_op_count(r); i++) {
    const char *op;
    uint64_t n;
    if (dle_onnx_report_unknown_op(r, i, &op, &n) != 0 || n == 0 || strlen(op) == (size_t)-1)
      abort();
  }
  int64_t d[DLE_ONNX_MAX_RANK];
  if (dle_onnx_report_input_shape(r, d) > DLE_ONNX_MAX_RANK) abort();
  (void)dle_onnx_report_training_flops_per_sample(r);
  dle_onnx_report_free(r);
  return 0;
}
