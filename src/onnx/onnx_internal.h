/* onnx_internal.h — what the ONNX module's files share (not public). */
#ifndef DLE_ONNX_INTERNAL_H
#define DLE_ONNX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlenergy/error.h"
#include "dlenergy/onnx.h"
#include "onnx.pb-c.h"

/* Initializers whose data fields exceed this are decoded without their data. */
#define DLE_ONNX_KEEP_DATA_BYTES 65536u
/* Constant folding keeps values of at most this many elements. */
#define DLE_ONNX_MAX_CONST_ELEMS 65536u
/* A tensor with more elements than this is refused as absurd (2^48). */
#define DLE_ONNX_MAX_ELEMS ((uint64_t)1 << 48)

int dle_onnx_strip_weights(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                           size_t *stripped_bytes, dle_error *err);

/* One tensor value of the graph: its shape when known, and its contents when it
 * is a small constant (both as int64 and double; is_float says which is exact). */
typedef struct oval {
  const char *name;
  bool shaped;
  int rank;
  int64_t dims[DLE_ONNX_MAX_RANK];
  int32_t dtype;
  bool is_const;
  bool is_float;
  uint64_t nelem; /* of the constant */
  int64_t *ci;
  double *cf;
  uint64_t param_elems; /* learnable initializer elements not yet attributed */
} oval;

typedef struct onnx_ctx {
  int64_t opset;
  dle_error *err;
  const char *node_label; /* node being inferred, for messages */
  bool overflow;          /* a checked multiplication overflowed */
} onnx_ctx;

/* Infers outputs of node n. in[i] is NULL for an absent optional input.
 * Returns 0 (outputs shaped), 1 (cannot infer: unknown op, unshaped input or a
 * non-constant shape operand) or a negative DLE_E* status. */
int dle_onnx_infer_node(onnx_ctx *c, const Onnx__NodeProto *n, oval **in, size_t nin,
                        oval **out, size_t nout, uint64_t *macs, uint64_t *other);
bool dle_onnx_op_known(const char *op_type);
/* Fills v (shape, dtype and, when small and present, the constant) from t. */
int dle_onnx_tensor_to_val(onnx_ctx *c, const Onnx__TensorProto *t, oval *v);
void dle_onnx_val_clear_const(oval *v);

#endif
