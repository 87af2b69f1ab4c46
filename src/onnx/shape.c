/* shape.c — per-operator shape inference, MAC/FLOP cost and constant folding.
 *
 * Each rule reads its inputs' shapes (and, for shape-computing operands such as
 * Reshape's target shape, their constant values) and writes the outputs' shapes.
 * Small integer/float constants are folded through the shape subgraphs that
 * exporters emit (Shape, Gather, Unsqueeze, Concat, Slice, Equal, Where, ...).
 * Costs: macs only for Conv/ConvTranspose/Gemm/MatMul; everything else goes to
 * `other` at a rough number of basic operations per element (see onnx.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

enum { R_OK = 0, R_CANNOT = 1 };

/* ---------- checked arithmetic ---------- */

static uint64_t umul(onnx_ctx *c, uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    c->overflow = true;
    return 0;
  }
  return r;
}

static int bad(onnx_ctx *c, const char *fmt, const char *detail) {
  return dle_error_set(c->err, DLE_EPARSE, "node '%s': %s%s", c->node_label, fmt,
                       detail ? detail : "");
}

static int range_err(onnx_ctx *c, const char *what) {
  return dle_error_set(c->err, DLE_ERANGE, "node '%s': %s", c->node_label, what);
}

/* Element count of a shape, refusing absurd sizes. */
static int shape_elems(onnx_ctx *c, int rank, const int64_t *dims, uint64_t *out) {
  uint64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return bad(c, "negative dimension", NULL);
    if (__builtin_mul_overflow(n, (uint64_t)dims[i], &n) || n > DLE_ONNX_MAX_ELEMS)
      return range_err(c, "tensor has an absurd number of elements (dims overflow)");
  }
  *out = n;
  return 0;
}

static uint64_t elems(const oval *v) {
  uint64_t n = 1;
  for (int i = 0; i < v->rank; i++) n *= (uint64_t)v->dims[i]; /* validated on set */
  return n;
}

static int set_shape(onnx_ctx *c, oval *v, int rank, const int64_t *dims, int32_t dtype) {
  if (rank < 0 || rank > DLE_ONNX_MAX_RANK)
    return dle_error_set(c->err, DLE_EUNSUPPORTED, "node '%s': rank %d is above %d",
                         c->node_label, rank, DLE_ONNX_MAX_RANK);
  uint64_t n;
  int rc = shape_elems(c, rank, dims, &n);
  if (rc) return rc;
  dle_onnx_val_clear_const(v);
  v->rank = rank;
  if (rank) memmove(v->dims, dims, (size_t)rank * sizeof *dims);
  v->dtype = dtype;
  v->shaped = true;
  return 0;
}

void dle_onnx_val_clear_const(oval *v) {
  free(v->ci);
  free(v->cf);
  v->ci = NULL;
  v->cf = NULL;
  v->is_const = false;
  v->nelem = 0;
}

static bool dtype_is_float(int32_t t) {
  return t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || t == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
         t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ||
         t == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
}

/* Allocates constant storage for v (already shaped) when small enough. */
static bool const_alloc(oval *v, bool is_float) {
  uint64_t n = elems(v);
  if (n > DLE_ONNX_MAX_CONST_ELEMS) return false;
  v->ci = calloc(n ? n : 1, sizeof *v->ci);
  v->cf = calloc(n ? n : 1, sizeof *v->cf);
  if (!v->ci || !v->cf) {
    dle_onnx_val_clear_const(v);
    return false;
  }
  v->nelem = n;
  v->is_const = true;
  v->is_float = is_float;
  return true;
}

static int64_t d2i(double d) {
  if (!(d == d)) return 0;
  if (d >= 9.2e18) return INT64_MAX;
  if (d <= -9.2e18) return INT64_MIN;
  return (int64_t)d;
}

static void const_set(oval *v, uint64_t i, int64_t iv, double fv, bool from_float) {
  if (from_float) {
    v->cf[i] = fv;
    v->ci[i] = d2i(fv);
  } else {
    v->ci[i] = iv;
    v->cf[i] = (double)iv;
  }
}

/* ---------- tensors ---------- */

static size_t dtype_size(int32_t t) {
  switch (t) {
  case 1: case 6: case 12: return 4;   /* float, int32, uint32 */
  case 7: case 11: case 13: return 8;  /* int64, double, uint64 */
  case 2: case 3: case 9: return 1;    /* uint8, int8, bool */
  case 4: case 5: case 10: case 16: return 2;
  default: return 0;
  }
}

static void decode_raw(oval *v, const uint8_t *p, int32_t t) {
  size_t sz = dtype_size(t);
  for (uint64_t i = 0; i < v->nelem; i++) {
    const uint8_t *q = p + i * sz;
    switch (t) {
    case 1: { float f; memcpy(&f, q, 4); const_set(v, i, 0, f, true); break; }
    case 11: { double d; memcpy(&d, q, 8); const_set(v, i, 0, d, true); break; }
    case 6: { int32_t x; memcpy(&x, q, 4); const_set(v, i, x, 0, false); break; }
    case 12: { uint32_t x; memcpy(&x, q, 4); const_set(v, i, x, 0, false); break; }
    case 7: { int64_t x; memcpy(&x, q, 8); const_set(v, i, x, 0, false); break; }
    case 13: { uint64_t x; memcpy(&x, q, 8); const_set(v, i, x > INT64_MAX ? INT64_MAX : (int64_t)x, 0, false); break; }
    case 2: case 9: const_set(v, i, q[0], 0, false); break;
    case 3: const_set(v, i, (int8_t)q[0], 0, false); break;
    case 4: { uint16_t x; memcpy(&x, q, 2); const_set(v, i, x, 0, false); break; }
    case 5: { int16_t x; memcpy(&x, q, 2); const_set(v, i, x, 0, false); break; }
    default: break;
    }
  }
}

int dle_onnx_tensor_to_val(onnx_ctx *c, const Onnx__TensorProto *t, oval *v) {
  if (t->n_dims > DLE_ONNX_MAX_RANK)
    return dle_error_set(c->err, DLE_EUNSUPPORTED, "tensor '%s': rank %zu is above %d",
                         t->name ? t->name : "", t->n_dims, DLE_ONNX_MAX_RANK);
  for (size_t i = 0; i < t->n_dims; i++)
    if (t->dims[i] < 0)
      return dle_error_set(c->err, DLE_EPARSE, "tensor '%s': negative dimension %lld",
                           t->name ? t->name : "", (long long)t->dims[i]);
  int32_t dt = t->has_data_type ? t->data_type : 0;
  int rc = set_shape(c, v, (int)t->n_dims, t->dims, dt);
  if (rc) return rc;
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return 0;
  size_t sz = dtype_size(dt);
  if (!sz || dt == 10 || dt == 16) return 0; /* strings, halves: no folding */
  uint64_t n = elems(v);
  if (n > DLE_ONNX_MAX_CONST_ELEMS) return 0;
  bool fl = dtype_is_float(dt);
  if (t->has_raw_data && t->raw_data.len > 0) {
    if (t->raw_data.len != n * sz) return 0; /* inconsistent: not a usable constant */
    if (!const_alloc(v, fl)) return 0;
    decode_raw(v, t->raw_data.data, dt);
    return 0;
  }
  if (dt == 1 && t->n_float_data == n) {
    if (!const_alloc(v, true)) return 0;
    for (uint64_t i = 0; i < n; i++) const_set(v, i, 0, t->float_data[i], true);
  } else if (dt == 11 && t->n_double_data == n) {
    if (!const_alloc(v, true)) return 0;
    for (uint64_t i = 0; i < n; i++) const_set(v, i, 0, t->double_data[i], true);
  } else if (dt == 7 && t->n_int64_data == n) {
    if (!const_alloc(v, false)) return 0;
    for (uint64_t i = 0; i < n; i++) const_set(v, i, t->int64_data[i], 0, false);
  } else if ((dt == 6 || dt == 2 || dt == 3 || dt == 4 || dt == 5 || dt == 9) &&
             t->n_int32_data == n) {
    if (!const_alloc(v, false)) return 0;
    for (uint64_t i = 0; i < n; i++) const_set(v, i, t->int32_data[i], 0, false);
  } else if (n == 0) {
    const_alloc(v, fl);
  }
  return 0;
}

/* ---------- attributes ---------- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
  for (size_t i = 0; i < n->n_attribute; i++)
    if (n->attribute[i]->name && strcmp(n->attribute[i]->name, name) == 0)
      return n->attribute[i];
  return NULL;
}

static int64_t attr_i(const Onnx__NodeProto *n, const char *name, int64_t def) {
  const Onnx__AttributeProto *a = attr(n, name);
  return a && a->has_i ? a->i : def;
}

static size_t attr_ints(const Onnx__NodeProto *n, const char *name, const int64_t **v) {
  const Onnx__AttributeProto *a = attr(n, name);
  if (!a) {
    *v = NULL;
    return 0;
  }
  *v = a->ints;
  return a->n_ints;
}

static bool attr_s_is(const Onnx__NodeProto *n, const char *name, const char *val) {
  const Onnx__AttributeProto *a = attr(n, name);
  if (!a || !a->has_s) return false;
  size_t l = strlen(val);
  return a->s.len == l && memcmp(a->s.data, val, l) == 0;
}

/* ---------- helpers ---------- */

static bool norm_axis(int64_t *axis, int rank) {
  if (*axis < 0) *axis += rank;
  return *axis >= 0 && *axis < rank;
}

/* Numpy broadcast of n shapes into out. */
static int broadcast(onnx_ctx *c, oval **v, size_t n, int *rank, int64_t *dims) {
  *rank = 0; /* defined on every path, the error paths included */
  int r = 0;
  for (size_t i = 0; i < n; i++)
    if (v[i] && v[i]->rank > r) r = v[i]->rank;
  for (int k = 0; k < r; k++) dims[k] = 1;
  for (size_t i = 0; i < n; i++) {
    if (!v[i]) continue;
    int off = r - v[i]->rank;
    for (int k = 0; k < v[i]->rank; k++) {
      int64_t d = v[i]->dims[k], *o = &dims[off + k];
      if (d == *o || d == 1) continue;
      if (*o == 1) {
        *o = d;
        continue;
      }
      return bad(c, "shapes cannot be broadcast together", NULL);
    }
  }
  *rank = r;
  return 0;
}

/* Flat index in v of output multi-index idx under broadcasting (out rank r). */
static uint64_t bcast_index(const oval *v, int r, const int64_t *idx) {
  uint64_t off = 0;
  int sh = r - v->rank;
  for (int k = 0; k < v->rank; k++) {
    int64_t i = v->dims[k] == 1 ? 0 : idx[sh + k];
    off = off * (uint64_t)v->dims[k] + (uint64_t)i;
  }
  return off;
}

static void next_index(int r, const int64_t *dims, int64_t *idx) {
  for (int k = r - 1; k >= 0; k--) {
    if (++idx[k] < dims[k]) return;
    idx[k] = 0;
  }
}

/* Required constant operand as int64 list (rank <= 1). */
static bool const_ints(const oval *v, const int64_t **p, size_t *n) {
  if (!v || !v->is_const || v->rank > 1) return false;
  *p = v->ci;
  *n = (size_t)v->nelem;
  return true;
}

static bool all_const(oval **in, size_t nin) {
  for (size_t i = 0; i < nin; i++)
    if (in[i] && !in[i]->is_const) return false;
  return true;
}

/* ---------- rule families ---------- */

typedef struct rule_io {
  onnx_ctx *c;
  const Onnx__NodeProto *n;
  oval **in;
  size_t nin;
  oval **out;
  size_t nout;
  uint64_t macs, other;
} rule_io;

static oval *IN(rule_io *io, size_t i) { return i < io->nin ? io->in[i] : NULL; }

/* Elementwise with numpy broadcasting; cost ops per output element. */
static int elementwise(rule_io *io, unsigned cost, int fold_kind) {
  oval *o = io->out[0];
  /* arity: unary 1, binary/comparison 2, variadic >= 1 (Where is checked by the caller) */
  if (io->nin == 0 || !io->in[0]) return bad(io->c, "first input is missing", NULL);
  if ((fold_kind == 1 || fold_kind == 2) && io->nin == 1 && strcmp(io->n->op_type, "Max") &&
      strcmp(io->n->op_type, "Min") && strcmp(io->n->op_type, "Sum") &&
      strcmp(io->n->op_type, "Mean"))
    return bad(io->c, "expects two inputs", NULL);
  int r = 0;
  int64_t d[DLE_ONNX_MAX_RANK] = {0};
  int rc = broadcast(io->c, io->in, io->nin, &r, d);
  if (rc) return rc;
  int32_t dt = io->in[0]->dtype;
  if (fold_kind == 2) dt = ONNX__TENSOR_PROTO__DATA_TYPE__BOOL;         /* comparisons */
  if (fold_kind == 3 && io->nin > 1 && io->in[1]) dt = io->in[1]->dtype; /* Where */
  rc = set_shape(io->c, o, r, d, dt);
  if (rc) return rc;
  io->other = umul(io->c, elems(o), cost);
  /* Fold only the exact shapes of the formulas below: unary, binary, Where. */
  bool foldable = io->nin == 1 || (io->nin == 2 && io->in[1]) ||
                  (fold_kind == 3 && io->nin == 3 && io->in[1] && io->in[2]);
  if (!foldable || !all_const(io->in, io->nin) || !const_alloc(o, dtype_is_float(dt))) return 0;
  const char *op = io->n->op_type;
  int64_t idx[DLE_ONNX_MAX_RANK] = {0};
  for (uint64_t i = 0; i < o->nelem; i++, next_index(r, d, idx)) {
    oval *a = io->in[0];
    uint64_t ia = bcast_index(a, r, idx);
    bool fl = o->is_float;
    if (io->nin == 1) {
      int64_t x = a->ci[ia];
      double f = a->cf[ia];
      int64_t nx = (int64_t)(0 - (uint64_t)x); /* wraps for INT64_MIN instead of UB */
      if (!strcmp(op, "Neg")) const_set(o, i, nx, -f, fl);
      else if (!strcmp(op, "Abs")) const_set(o, i, x < 0 ? nx : x, fabs(f), fl);
      else if (!strcmp(op, "Sqrt")) const_set(o, i, d2i(sqrt(f)), sqrt(f), fl);
      else if (!strcmp(op, "Floor")) const_set(o, i, x, floor(f), fl);
      else if (!strcmp(op, "Ceil")) const_set(o, i, x, ceil(f), fl);
      else if (!strcmp(op, "Not")) const_set(o, i, !x, !x, false);
      else if (!strcmp(op, "Relu")) const_set(o, i, x < 0 ? 0 : x, f < 0 ? 0 : f, fl);
      else goto nofold;
      continue;
    }
    if (!strcmp(op, "Where")) {
      oval *x = io->in[1], *y = io->in[2];
      oval *src = a->ci[ia] ? x : y;
      uint64_t is = bcast_index(src, r, idx);
      const_set(o, i, src->ci[is], src->cf[is], fl);
      continue;
    }
    oval *b = io->in[1];
    uint64_t ib = bcast_index(b, r, idx);
    int64_t x = a->ci[ia], y = b->ci[ib];
    double fx = a->cf[ia], fy = b->cf[ib];
    bool af = a->is_float || b->is_float;
    if (!strcmp(op, "Add")) const_set(o, i, (int64_t)((uint64_t)x + (uint64_t)y), fx + fy, fl);
    else if (!strcmp(op, "Sub")) const_set(o, i, (int64_t)((uint64_t)x - (uint64_t)y), fx - fy, fl);
    else if (!strcmp(op, "Mul")) const_set(o, i, (int64_t)((uint64_t)x * (uint64_t)y), fx * fy, fl);
    else if (!strcmp(op, "Div")) {
      if (!fl && (y == 0 || (x == INT64_MIN && y == -1))) goto nofold;
      const_set(o, i, fl ? 0 : x / y, fx / fy, fl);
    } else if (!strcmp(op, "Pow")) const_set(o, i, d2i(pow(fx, fy)), pow(fx, fy), fl);
    else if (!strcmp(op, "Equal")) const_set(o, i, af ? fx == fy : x == y, 0, false);
    else if (!strcmp(op, "Less")) const_set(o, i, af ? fx < fy : x < y, 0, false);
    else if (!strcmp(op, "Greater")) const_set(o, i, af ? fx > fy : x > y, 0, false);
    else if (!strcmp(op, "And")) const_set(o, i, x && y, 0, false);
    else if (!strcmp(op, "Or")) const_set(o, i, x || y, 0, false);
    else if (!strcmp(op, "Max")) const_set(o, i, x > y ? x : y, fx > fy ? fx : fy, fl);
    else if (!strcmp(op, "Min")) const_set(o, i, x < y ? x : y, fx < fy ? fx : fy, fl);
    else goto nofold;
  }
  return 0;
nofold:
  dle_onnx_val_clear_const(o);
  return 0;
}

/* Output = input shape; cost per element; copies the constant when asked. */
static int same_shape(rule_io *io, unsigned cost, bool copy_const) {
  oval *x = IN(io, 0), *o = io->out[0];
  if (!x) return R_CANNOT;
  int rc = set_shape(io->c, o, x->rank, x->dims, x->dtype);
  if (rc) return rc;
  io->other = umul(io->c, elems(o), cost);
  if (copy_const && x->is_const && const_alloc(o, x->is_float))
    for (uint64_t i = 0; i < o->nelem; i++) const_set(o, i, x->ci[i], x->cf[i], x->is_float);
  return 0;
}

static int rule_cast(rule_io *io) {
  oval *x = IN(io, 0), *o = io->out[0];
  if (!x) return R_CANNOT;
  int32_t to = (int32_t)attr_i(io->n, "to", x->dtype);
  int rc = set_shape(io->c, o, x->rank, x->dims, to);
  if (rc) return rc;
  bool fl = dtype_is_float(to);
  if (x->is_const && const_alloc(o, fl))
    for (uint64_t i = 0; i < o->nelem; i++)
      const_set(o, i, x->is_float ? d2i(x->cf[i]) : x->ci[i], x->cf[i], fl);
  return 0;
}

/* Writes a constant 1-D int64 output. */
static int const_vector(rule_io *io, oval *o, const int64_t *v, size_t n) {
  int64_t d = (int64_t)n;
  int rc = set_shape(io->c, o, 1, &d, ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
  if (rc) return rc;
  if (const_alloc(o, false))
    for (size_t i = 0; i < n; i++) const_set(o, i, v[i], 0, false);
  return 0;
}

static int rule_shape(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  int64_t s = attr_i(io->n, "start", 0), e = attr_i(io->n, "end", x->rank);
  if (s < 0) s += x->rank;
  if (e < 0) e += x->rank;
  if (s < 0) s = 0;
  if (e > x->rank) e = x->rank;
  if (e < s) e = s;
  return const_vector(io, io->out[0], x->dims + s, (size_t)(e - s));
}

static int rule_size(rule_io *io) {
  oval *x = IN(io, 0), *o = io->out[0];
  if (!x) return R_CANNOT;
  int rc = set_shape(io->c, o, 0, NULL, ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
  if (rc) return rc;
  if (const_alloc(o, false)) const_set(o, 0, (int64_t)elems(x), 0, false);
  return 0;
}

static int rule_constant(rule_io *io) {
  const Onnx__NodeProto *n = io->n;
  oval *o = io->out[0];
  const Onnx__AttributeProto *a;
  if ((a = attr(n, "value")) && a->t) return dle_onnx_tensor_to_val(io->c, a->t, o);
  int rc;
  if ((a = attr(n, "value_int")) && a->has_i) {
    if ((rc = set_shape(io->c, o, 0, NULL, 7))) return rc;
    if (const_alloc(o, false)) const_set(o, 0, a->i, 0, false);
    return 0;
  }
  if ((a = attr(n, "value_float")) && a->has_f) {
    if ((rc = set_shape(io->c, o, 0, NULL, 1))) return rc;
    if (const_alloc(o, true)) const_set(o, 0, 0, a->f, true);
    return 0;
  }
  if ((a = attr(n, "value_ints"))) {
    int64_t d = (int64_t)a->n_ints;
    if ((rc = set_shape(io->c, o, 1, &d, 7))) return rc;
    if (const_alloc(o, false))
      for (size_t i = 0; i < a->n_ints; i++) const_set(o, i, a->ints[i], 0, false);
    return 0;
  }
  if ((a = attr(n, "value_floats"))) {
    int64_t d = (int64_t)a->n_floats;
    if ((rc = set_shape(io->c, o, 1, &d, 1))) return rc;
    if (const_alloc(o, true))
      for (size_t i = 0; i < a->n_floats; i++) const_set(o, i, 0, a->floats[i], true);
    return 0;
  }
  return R_CANNOT;
}

static int rule_constant_of_shape(rule_io *io) {
  const int64_t *s;
  size_t k;
  if (!const_ints(IN(io, 0), &s, &k)) return R_CANNOT;
  if (k > DLE_ONNX_MAX_RANK) return bad(io->c, "shape has too many dimensions", NULL);
  const Onnx__AttributeProto *a = attr(io->n, "value");
  oval val = {0};
  int32_t dt = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  if (a && a->t) {
    int rc = dle_onnx_tensor_to_val(io->c, a->t, &val);
    if (rc) {
      dle_onnx_val_clear_const(&val);
      return rc;
    }
    dt = val.dtype;
  }
  oval *o = io->out[0];
  int rc = set_shape(io->c, o, (int)k, s, dt);
  if (rc == 0 && const_alloc(o, dtype_is_float(dt)))
    for (uint64_t i = 0; i < o->nelem; i++)
      const_set(o, i, val.is_const && val.nelem ? val.ci[0] : 0,
                val.is_const && val.nelem ? val.cf[0] : 0, o->is_float);
  dle_onnx_val_clear_const(&val);
  return rc;
}

static int rule_concat(rule_io *io) {
  oval *f = NULL;
  for (size_t i = 0; i < io->nin; i++)
    if (io->in[i]) {
      f = io->in[i];
      break;
    }
  if (!f) return R_CANNOT;
  int64_t axis = attr_i(io->n, "axis", 0);
  if (!norm_axis(&axis, f->rank)) return bad(io->c, "axis out of range", NULL);
  int64_t d[DLE_ONNX_MAX_RANK];
  memcpy(d, f->dims, sizeof d);
  d[axis] = 0;
  for (size_t i = 0; i < io->nin; i++) {
    oval *v = io->in[i];
    if (!v) continue;
    if (v->rank != f->rank) return bad(io->c, "inputs of different rank", NULL);
    for (int k = 0; k < f->rank; k++)
      if (k != axis && v->dims[k] != f->dims[k]) return bad(io->c, "input shapes differ", NULL);
    d[axis] += v->dims[axis];
    if (d[axis] > (int64_t)DLE_ONNX_MAX_ELEMS) return range_err(io->c, "dims overflow");
  }
  oval *o = io->out[0];
  int rc = set_shape(io->c, o, f->rank, d, f->dtype);
  if (rc || !all_const(io->in, io->nin) || f->rank != 1) return rc;
  if (!const_alloc(o, f->is_float)) return 0;
  uint64_t j = 0;
  for (size_t i = 0; i < io->nin; i++)
    if (io->in[i])
      for (uint64_t k = 0; k < io->in[i]->nelem; k++, j++)
        const_set(o, j, io->in[i]->ci[k], io->in[i]->cf[k], o->is_float);
  return 0;
}

static int rule_unsqueeze(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  const int64_t *ax;
  size_t na;
  if (io->c->opset >= 13) {
    if (!const_ints(IN(io, 1), &ax, &na)) return R_CANNOT;
  } else {
    na = attr_ints(io->n, "axes", &ax);
  }
  int r = x->rank + (int)na;
  if (na > DLE_ONNX_MAX_RANK || r > DLE_ONNX_MAX_RANK)
    return bad(io->c, "too many axes", NULL);
  bool is_new[DLE_ONNX_MAX_RANK] = {false};
  for (size_t i = 0; i < na; i++) {
    int64_t a = ax[i];
    if (!norm_axis(&a, r) || is_new[a]) return bad(io->c, "bad axes", NULL);
    is_new[a] = true;
  }
  int64_t d[DLE_ONNX_MAX_RANK];
  for (int k = 0, j = 0; k < r; k++) d[k] = is_new[k] ? 1 : x->dims[j++];
  oval *o = io->out[0];
  int rc = set_shape(io->c, o, r, d, x->dtype);
  if (!rc && x->is_const && const_alloc(o, x->is_float))
    for (uint64_t i = 0; i < o->nelem; i++) const_set(o, i, x->ci[i], x->cf[i], x->is_float);
  return rc;
}

static int rule_squeeze(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  const int64_t *ax = NULL;
  size_t na = 0;
  if (io->c->opset >= 13) {
    if (IN(io, 1) && !const_ints(IN(io, 1), &ax, &na)) return R_CANNOT;
  } else {
    na = attr_ints(io->n, "axes", &ax);
  }
  bool drop[DLE_ONNX_MAX_RANK] = {false};
  for (size_t i = 0; i < na; i++) {
    int64_t a = ax[i];
    if (!norm_axis(&a, x->rank)) return bad(io->c, "axis out of range", NULL);
    if (x->dims[a] != 1) return bad(io->c, "squeezed dimension is not 1", NULL);
    drop[a] = true;
  }
  if (na == 0)
    for (int k = 0; k < x->rank; k++) drop[k] = x->dims[k] == 1;
  int64_t d[DLE_ONNX_MAX_RANK];
  int r = 0;
  for (int k = 0; k < x->rank; k++)
    if (!drop[k]) d[r++] = x->dims[k];
  oval *o = io->out[0];
  int rc = set_shape(io->c, o, r, d, x->dtype);
  if (!rc && x->is_const && const_alloc(o, x->is_float))
    for (uint64_t i = 0; i < o->nelem; i++) const_set(o, i, x->ci[i], x->cf[i], x->is_float);
  return rc;
}

static int rule_gather(rule_io *io) {
  oval *x = IN(io, 0), *ix = IN(io, 1);
  if (!x || !ix) return R_CANNOT;
  int64_t axis = attr_i(io->n, "axis", 0);
  if (!norm_axis(&axis, x->rank)) return bad(io->c, "axis out of range", NULL);
  int r = x->rank - 1 + ix->rank;
  if (r > DLE_ONNX_MAX_RANK) return bad(io->c, "result rank too high", NULL);
  int64_t d[DLE_ONNX_MAX_RANK];
  int j = 0;
  for (int k = 0; k < axis; k++) d[j++] = x->dims[k];
  for (int k = 0; k < ix->rank; k++) d[j++] = ix->dims[k];
  for (int k = (int)axis + 1; k < x->rank; k++) d[j++] = x->dims[k];
  oval *o = io->out[0];
  int rc = set_shape(io->c, o, r, d, x->dtype);
  if (rc || !x->is_const || !ix->is_const) return rc;
  /* Fold: out[outer, idx..., inner] = x[outer, ix[idx], inner] */
  uint64_t outer = 1, inner = 1, ax = (uint64_t)x->dims[axis];
  for (int k = 0; k < axis; k++) outer *= (uint64_t)x->dims[k];
  for (int k = (int)axis + 1; k < x->rank; k++) inner *= (uint64_t)x->dims[k];
  for (uint64_t i = 0; i < ix->nelem; i++) {
    int64_t v = ix->ci[i];
    if (v < 0) v += (int64_t)ax;
    if (v < 0 || (uint64_t)v >= ax) return bad(io->c, "gather index out of range", NULL);
  }
  if (!const_alloc(o, x->is_float)) return 0;
  uint64_t p = 0;
  for (uint64_t a = 0; a < outer; a++)
    for (uint64_t i = 0; i < ix->nelem; i++) {
      int64_t v = ix->ci[i] < 0 ? ix->ci[i] + (int64_t)ax : ix->ci[i];
      for (uint64_t b = 0; b < inner; b++, p++) {
        uint64_t s = (a * ax + (uint64_t)v) * inner + b;
        const_set(o, p, x->ci[s], x->cf[s], x->is_float);
      }
    }
  return 0;
}

static int rule_slice(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  const int64_t *st, *en, *ax = NULL, *sp = NULL;
  size_t ns, ne, na = 0, np = 0;
  if (io->c->opset >= 10) {
    if (!const_ints(IN(io, 1), &st, &ns) || !const_ints(IN(io, 2), &en, &ne)) return R_CANNOT;
    if (IN(io, 3) && !const_ints(IN(io, 3), &ax, &na)) return R_CANNOT;
    if (IN(io, 4) && !const_ints(IN(io, 4), &sp, &np)) return R_CANNOT;
  } else {
    ns = attr_ints(io->n, "starts", &st);
    ne = attr_ints(io->n, "ends", &en);
    na = attr_ints(io->n, "axes", &ax);
  }
  if (ns != ne || (ax && na != ns) || (sp && np != ns) || ns > (size_t)x->rank)
    return bad(io->c, "starts/ends/axes/steps lengths differ", NULL);
  int64_t d[DLE_ONNX_MAX_RANK], start[DLE_ONNX_MAX_RANK], step[DLE_ONNX_MAX_RANK];
  bool seen[DLE_ONNX_MAX_RANK] = {false};
  for (int k = 0; k < x->rank; k++) {
    d[k] = x->dims[k];
    start[k] = 0;
    step[k] = 1;
  }
  for (size_t i = 0; i < ns; i++) {
    int64_t a = ax ? ax[i] : (int64_t)i;
    if (!norm_axis(&a, x->rank) || seen[a]) return bad(io->c, "bad axes", NULL);
    seen[a] = true;
    int64_t s = st[i], e = en[i], p = sp ? sp[i] : 1, dim = x->dims[a];
    if (p == 0) return bad(io->c, "step is 0", NULL);
    if (s < 0) s = s < -dim ? 0 : s + dim;
    if (e < 0) e = e < -dim ? -1 : e + dim;
    if (p > 0) {
      if (s > dim) s = dim;
      if (e > dim) e = dim;
      if (e < 0) e = 0;
      d[a] = e > s ? (e - s - 1) / p + 1 : 0; /* no overflow for steps near INT64_MAX */
    } else {
      if (s > dim - 1) s = dim - 1;
      if (e > dim - 1) e = dim - 1;
      if (e < -1) e = -1;
      if (s < 0) s = dim == 0 ? -1 : s;
      uint64_t q = (uint64_t)0 - (uint64_t)p; /* |p|, defined for INT64_MIN too */
      d[a] = s > e ? (int64_t)((uint64_t)(s - e - 1) / q + 1) : 0;
    }
    start[a] = s;
    step[a] = p;
  }
  oval *o = io->out[0];
  int rc = set_shape(io->c, o, x->rank, d, x->dtype);
  if (rc || !x->is_const || !const_alloc(o, x->is_float)) return rc;
  int64_t idx[DLE_ONNX_MAX_RANK] = {0};
  for (uint64_t i = 0; i < o->nelem; i++, next_index(x->rank, d, idx)) {
    uint64_t s = 0;
    for (int k = 0; k < x->rank; k++)
      s = s * (uint64_t)x->dims[k] + (uint64_t)(start[k] + idx[k] * step[k]);
    const_set(o, i, x->ci[s], x->cf[s], x->is_float);
  }
  return 0;
}

static int rule_reshape(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  const int64_t *s;
  size_t k;
  if (io->c->opset >= 5) {
    if (!const_ints(IN(io, 1), &s, &k)) return R_CANNOT;
  } else {
    k = attr_ints(io->n, "shape", &s);
  }
  if (k > DLE_ONNX_MAX_RANK) return bad(io->c, "target shape has too many dimensions", NULL);
  bool allowzero = attr_i(io->n, "allowzero", 0) != 0;
  int64_t d[DLE_ONNX_MAX_RANK];
  int neg = -1;
  uint64_t known = 1;
  for (size_t i = 0; i < k; i++) {
    d[i] = s[i];
    if (s[i] == 0 && !allowzero) {
      if ((int)i >= x->rank) return bad(io->c, "0 in target shape beyond input rank", NULL);
      d[i] = x->dims[i];
    }
    if (d[i] == -1) {
      if (neg >= 0) return bad(io->c, "more than one -1 in target shape", NULL);
      neg = (int)i;
      continue;
    }
    if (d[i] < 0) return bad(io->c, "negative dimension in target shape", NULL);
    known = umul(io->c, known, (uint64_t)d[i]);
  }
  uint64_t total = elems(x);
  if (neg >= 0) {
    if (known == 0 || total % known) return bad(io->c, "cannot infer -1 in target shape", NULL);
    d[neg] = (int64_t)(total / known);
  } else if (known != total) {
    return bad(io->c, "target shape does not match the element count", NULL);
  }
  oval *o = io->out[0];
  int rc = set_shape(io->c, o, (int)k, d, x->dtype);
  if (!rc && x->is_const && const_alloc(o, x->is_float))
    for (uint64_t i = 0; i < o->nelem; i++) const_set(o, i, x->ci[i], x->cf[i], x->is_float);
  return rc;
}

static int rule_flatten(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  int64_t axis = attr_i(io->n, "axis", 1);
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis > x->rank) return bad(io->c, "axis out of range", NULL);
  int64_t d[2] = {1, 1};
  for (int k = 0; k < x->rank; k++) d[k < axis ? 0 : 1] *= x->dims[k];
  return set_shape(io->c, io->out[0], 2, d, x->dtype);
}

static int rule_transpose(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  const int64_t *p;
  size_t np = attr_ints(io->n, "perm", &p);
  int64_t d[DLE_ONNX_MAX_RANK];
  bool used[DLE_ONNX_MAX_RANK] = {false};
  if (p && np != (size_t)x->rank) return bad(io->c, "perm length differs from rank", NULL);
  for (int k = 0; k < x->rank; k++) {
    int64_t a = p ? p[k] : x->rank - 1 - k;
    if (a < 0 || a >= x->rank || used[a]) return bad(io->c, "bad perm", NULL);
    used[a] = true;
    d[k] = x->dims[a];
  }
  return set_shape(io->c, io->out[0], x->rank, d, x->dtype);
}

static int rule_expand(rule_io *io) {
  oval *x = IN(io, 0);
  const int64_t *s;
  size_t k;
  if (!x || !const_ints(IN(io, 1), &s, &k)) return R_CANNOT;
  if (k > DLE_ONNX_MAX_RANK) return bad(io->c, "shape has too many dimensions", NULL);
  oval tmp = {0};
  tmp.rank = (int)k;
  for (size_t i = 0; i < k; i++) {
    if (s[i] < 0) return bad(io->c, "negative dimension in shape", NULL);
    tmp.dims[i] = s[i];
  }
  oval *pair[2] = {x, &tmp};
  int r = 0;
  int64_t d[DLE_ONNX_MAX_RANK] = {0};
  int rc = broadcast(io->c, pair, 2, &r, d);
  if (rc) return rc;
  oval *o = io->out[0];
  rc = set_shape(io->c, o, r, d, x->dtype);
  if (rc || !x->is_const || !const_alloc(o, x->is_float)) return rc;
  int64_t idx[DLE_ONNX_MAX_RANK] = {0};
  for (uint64_t i = 0; i < o->nelem; i++, next_index(r, d, idx)) {
    uint64_t s2 = bcast_index(x, r, idx);
    const_set(o, i, x->ci[s2], x->cf[s2], x->is_float);
  }
  return 0;
}

static int rule_range(rule_io *io) {
  oval *a = IN(io, 0), *b = IN(io, 1), *s = IN(io, 2);
  if (!a || !b || !s || !a->is_const || !b->is_const || !s->is_const || !a->nelem ||
      !b->nelem || !s->nelem)
    return R_CANNOT;
  double st = a->cf[0], li = b->cf[0], de = s->cf[0];
  if (de == 0) return bad(io->c, "delta is 0", NULL);
  double nd = ceil((li - st) / de);
  if (!(nd >= 0)) nd = 0;
  if (nd > (double)DLE_ONNX_MAX_ELEMS) return range_err(io->c, "range too long");
  int64_t n = (int64_t)nd;
  oval *o = io->out[0];
  int rc = set_shape(io->c, o, 1, &n, a->dtype);
  if (rc || !const_alloc(o, a->is_float)) return rc;
  for (int64_t i = 0; i < n; i++)
    const_set(o, (uint64_t)i, (int64_t)((uint64_t)a->ci[0] + (uint64_t)i * (uint64_t)s->ci[0]),
              st + (double)i * de, a->is_float);
  return 0;
}

static int rule_tile(rule_io *io) {
  oval *x = IN(io, 0);
  const int64_t *rp;
  size_t k;
  if (!x || !const_ints(IN(io, 1), &rp, &k)) return R_CANNOT;
  if (k != (size_t)x->rank) return bad(io->c, "repeats length differs from rank", NULL);
  int64_t d[DLE_ONNX_MAX_RANK];
  for (int i = 0; i < x->rank; i++) {
    if (rp[i] < 0) return bad(io->c, "negative repeat", NULL);
    d[i] = (int64_t)umul(io->c, (uint64_t)x->dims[i], (uint64_t)rp[i]);
  }
  if (io->c->overflow) return range_err(io->c, "dims overflow");
  return set_shape(io->c, io->out[0], x->rank, d, x->dtype);
}

static int rule_split(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  int64_t axis = attr_i(io->n, "axis", 0);
  if (!norm_axis(&axis, x->rank)) return bad(io->c, "axis out of range", NULL);
  const int64_t *sp = NULL;
  size_t ns = 0;
  if (io->c->opset >= 13) {
    if (IN(io, 1) && !const_ints(IN(io, 1), &sp, &ns)) return R_CANNOT;
  } else {
    ns = attr_ints(io->n, "split", &sp);
  }
  if (sp && ns != io->nout) return bad(io->c, "split sizes differ from the output count", NULL);
  int64_t dim = x->dims[axis], sum = 0;
  int64_t chunk = io->nout ? (dim + (int64_t)io->nout - 1) / (int64_t)io->nout : 0;
  for (size_t i = 0; i < io->nout; i++) {
    int64_t d[DLE_ONNX_MAX_RANK];
    memcpy(d, x->dims, sizeof d);
    int64_t len = sp ? sp[i] : (dim - sum < chunk ? dim - sum : chunk);
    if (len < 0 || len > dim - sum) return bad(io->c, "split sizes exceed the dimension", NULL);
    d[axis] = len;
    sum += len;
    if (io->out[i]) {
      int rc = set_shape(io->c, io->out[i], x->rank, d, x->dtype);
      if (rc) return rc;
    }
  }
  if (sp && sum != dim) return bad(io->c, "split sizes do not add up to the dimension", NULL);
  return 0;
}

static int rule_pad(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  const int64_t *p, *ax = NULL;
  size_t np, na = 0;
  if (io->c->opset >= 11) {
    if (!const_ints(IN(io, 1), &p, &np)) return R_CANNOT;
    if (IN(io, 3) && !const_ints(IN(io, 3), &ax, &na)) return R_CANNOT;
  } else {
    np = attr_ints(io->n, "pads", &p);
    if (!p) np = attr_ints(io->n, "paddings", &p);
  }
  size_t naxes = ax ? na : (size_t)x->rank;
  if (np != 2 * naxes) return bad(io->c, "pads length must be twice the number of axes", NULL);
  int64_t d[DLE_ONNX_MAX_RANK];
  memcpy(d, x->dims, sizeof d);
  for (size_t i = 0; i < naxes; i++) {
    int64_t a = ax ? ax[i] : (int64_t)i;
    if (!norm_axis(&a, x->rank)) return bad(io->c, "axis out of range", NULL);
    if (p[i] > INT32_MAX || p[i + naxes] > INT32_MAX || p[i] < INT32_MIN ||
        p[i + naxes] < INT32_MIN)
      return range_err(io->c, "absurd pads");
    d[a] += p[i] + p[i + naxes];
    if (d[a] < 0) return bad(io->c, "pads make a dimension negative", NULL);
  }
  int rc = set_shape(io->c, io->out[0], x->rank, d, x->dtype);
  return rc;
}

static int rule_reduce(rule_io *io, unsigned cost) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  const int64_t *ax = NULL;
  size_t na = 0;
  bool axes_input = io->c->opset >= 18 || (!strcmp(io->n->op_type, "ReduceSum") && io->c->opset >= 13);
  if (axes_input) {
    if (IN(io, 1) && !const_ints(IN(io, 1), &ax, &na)) return R_CANNOT;
  } else {
    na = attr_ints(io->n, "axes", &ax);
  }
  bool keep = attr_i(io->n, "keepdims", 1) != 0;
  bool red[DLE_ONNX_MAX_RANK] = {false};
  if (na == 0) {
    if (attr_i(io->n, "noop_with_empty_axes", 0)) return same_shape(io, 0, true);
    for (int k = 0; k < x->rank; k++) red[k] = true;
  }
  for (size_t i = 0; i < na; i++) {
    int64_t a = ax[i];
    if (!norm_axis(&a, x->rank)) return bad(io->c, "axis out of range", NULL);
    red[a] = true;
  }
  int64_t d[DLE_ONNX_MAX_RANK];
  int r = 0;
  for (int k = 0; k < x->rank; k++) {
    if (!red[k]) d[r++] = x->dims[k];
    else if (keep) d[r++] = 1;
  }
  int rc = set_shape(io->c, io->out[0], r, d, x->dtype);
  io->other = umul(io->c, elems(x), cost);
  return rc;
}

static int rule_argmax(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  int64_t axis = attr_i(io->n, "axis", 0);
  if (!norm_axis(&axis, x->rank)) return bad(io->c, "axis out of range", NULL);
  bool keep = attr_i(io->n, "keepdims", 1) != 0;
  int64_t d[DLE_ONNX_MAX_RANK];
  int r = 0;
  for (int k = 0; k < x->rank; k++) {
    if (k != axis) d[r++] = x->dims[k];
    else if (keep) d[r++] = 1;
  }
  io->other = elems(x);
  return set_shape(io->c, io->out[0], r, d, ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
}

/* Window geometry shared by Conv and pooling: out dims for spatial axes. */
static int window_out(rule_io *io, const oval *x, int nsp, const int64_t *kernel, bool ceil_mode,
                      int64_t *out) {
  const int64_t *st, *pa, *di;
  size_t nst = attr_ints(io->n, "strides", &st), npa = attr_ints(io->n, "pads", &pa),
         ndi = attr_ints(io->n, "dilations", &di);
  if ((st && nst != (size_t)nsp) || (pa && npa != 2 * (size_t)nsp) ||
      (di && ndi != (size_t)nsp))
    return bad(io->c, "strides/pads/dilations do not match the spatial rank", NULL);
  bool same = attr_s_is(io->n, "auto_pad", "SAME_UPPER") || attr_s_is(io->n, "auto_pad", "SAME_LOWER");
  bool valid = attr_s_is(io->n, "auto_pad", "VALID");
  for (int i = 0; i < nsp; i++) {
    int64_t in = x->dims[2 + i], s = st ? st[i] : 1, d = di ? di[i] : 1, k = kernel[i];
    int64_t pb = pa && !valid && !same ? pa[i] : 0, pe = pa && !valid && !same ? pa[i + nsp] : 0;
    if (s <= 0 || d <= 0 || k <= 0 || s > INT32_MAX || d > INT32_MAX || k > INT32_MAX)
      return bad(io->c, "kernel, stride and dilation must be positive", NULL);
    if (pb < 0 || pe < 0 || pb > INT32_MAX || pe > INT32_MAX)
      return bad(io->c, "pads must be non-negative", NULL);
    if (same) {
      out[i] = (in + s - 1) / s;
      continue;
    }
    int64_t eff = (k - 1) * d + 1, span = in + pb + pe - eff;
    if (span < 0) return bad(io->c, "kernel is larger than the padded input", NULL);
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + pb) o--; /* last window must start inside */
    out[i] = o;
  }
  return 0;
}

static int rule_conv(rule_io *io, bool transpose) {
  oval *x = IN(io, 0), *w = IN(io, 1);
  if (!x || !w) return R_CANNOT;
  if (x->rank < 3 || w->rank != x->rank) return bad(io->c, "input and weight rank mismatch", NULL);
  int nsp = x->rank - 2;
  int64_t group = attr_i(io->n, "group", 1);
  if (group <= 0) return bad(io->c, "group must be positive", NULL);
  const int64_t *ks;
  size_t nks = attr_ints(io->n, "kernel_shape", &ks);
  int64_t kernel[DLE_ONNX_MAX_RANK];
  for (int i = 0; i < nsp; i++) kernel[i] = ks && nks == (size_t)nsp ? ks[i] : w->dims[2 + i];
  int64_t d[DLE_ONNX_MAX_RANK];
  d[0] = x->dims[0];
  uint64_t kprod = 1;
  for (int i = 0; i < nsp; i++) kprod = umul(io->c, kprod, (uint64_t)kernel[i]);
  if (!transpose) {
    int64_t cin;
    if (__builtin_mul_overflow(w->dims[1], group, &cin) || cin != x->dims[1])
      return bad(io->c, "weight channels x group differ from input channels", NULL);
    d[1] = w->dims[0];
    int rc = window_out(io, x, nsp, kernel, false, d + 2);
    if (rc) return rc;
    rc = set_shape(io->c, io->out[0], x->rank, d, x->dtype);
    if (rc) return rc;
    io->macs = umul(io->c, umul(io->c, elems(io->out[0]), (uint64_t)w->dims[1]), kprod);
  } else {
    if (w->dims[0] != x->dims[1]) return bad(io->c, "weight and input channels differ", NULL);
    if (__builtin_mul_overflow(w->dims[1], group, &d[1]) || d[1] > (int64_t)DLE_ONNX_MAX_ELEMS)
      return range_err(io->c, "dims overflow");
    const int64_t *st, *pa, *di, *op, *os;
    size_t nst = attr_ints(io->n, "strides", &st), npa = attr_ints(io->n, "pads", &pa),
           ndi = attr_ints(io->n, "dilations", &di), nop = attr_ints(io->n, "output_padding", &op),
           nos = attr_ints(io->n, "output_shape", &os);
    for (int i = 0; i < nsp; i++) {
      int64_t s = st && nst == (size_t)nsp ? st[i] : 1, dl = di && ndi == (size_t)nsp ? di[i] : 1;
      int64_t pb = pa && npa == 2 * (size_t)nsp ? pa[i] : 0,
              pe = pa && npa == 2 * (size_t)nsp ? pa[i + nsp] : 0;
      int64_t opd = op && nop == (size_t)nsp ? op[i] : 0;
      if (s <= 0 || dl <= 0 || s > INT32_MAX || dl > INT32_MAX || kernel[i] <= 0 ||
          kernel[i] > INT32_MAX || pb < -INT32_MAX || pb > INT32_MAX || pe < -INT32_MAX ||
          pe > INT32_MAX || opd < -INT32_MAX || opd > INT32_MAX)
        return bad(io->c, "bad kernel/strides/pads/dilations", NULL);
      if (os && nos == (size_t)nsp) d[2 + i] = os[i];
      else if (os && nos == (size_t)x->rank) d[2 + i] = os[2 + i];
      else {
        int64_t span;
        if (x->dims[2 + i] < 1 || __builtin_mul_overflow(s, x->dims[2 + i] - 1, &span) ||
            span > (int64_t)DLE_ONNX_MAX_ELEMS)
          return range_err(io->c, "empty input or output size overflows");
        d[2 + i] = span + opd + (kernel[i] - 1) * dl + 1 - pb - pe;
      }
      if (d[2 + i] < 0) return bad(io->c, "negative output size", NULL);
    }
    int rc = set_shape(io->c, io->out[0], x->rank, d, x->dtype);
    if (rc) return rc;
    io->macs = umul(io->c, umul(io->c, elems(x), (uint64_t)w->dims[1]), kprod);
  }
  if (IN(io, 2)) io->other = elems(io->out[0]); /* bias add */
  return 0;
}

static int rule_pool(rule_io *io, bool global) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  if (x->rank < 3) return bad(io->c, "pooling needs N x C x spatial input", NULL);
  int nsp = x->rank - 2;
  int64_t d[DLE_ONNX_MAX_RANK];
  d[0] = x->dims[0];
  d[1] = x->dims[1];
  if (global) {
    for (int i = 0; i < nsp; i++) d[2 + i] = 1;
    io->other = elems(x);
  } else {
    const int64_t *ks;
    size_t nks = attr_ints(io->n, "kernel_shape", &ks);
    if (nks != (size_t)nsp) return bad(io->c, "kernel_shape does not match the spatial rank", NULL);
    int rc = window_out(io, x, nsp, ks, attr_i(io->n, "ceil_mode", 0) != 0, d + 2);
    if (rc) return rc;
    uint64_t kp = 1;
    for (int i = 0; i < nsp; i++) kp = umul(io->c, kp, (uint64_t)ks[i]);
    uint64_t on = 1;
    for (int i = 0; i < x->rank; i++) on = umul(io->c, on, (uint64_t)d[i]);
    io->other = umul(io->c, on, kp);
  }
  for (size_t i = 0; i < io->nout && i < 2; i++)
    if (io->out[i]) {
      int rc = set_shape(io->c, io->out[i], x->rank, d, i ? 7 : x->dtype);
      if (rc) return rc;
    }
  return 0;
}

static int rule_gemm(rule_io *io) {
  oval *a = IN(io, 0), *b = IN(io, 1);
  if (!a || !b) return R_CANNOT;
  if (a->rank != 2 || b->rank != 2) return bad(io->c, "Gemm inputs must be matrices", NULL);
  bool ta = attr_i(io->n, "transA", 0) != 0, tb = attr_i(io->n, "transB", 0) != 0;
  int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
  int64_t k2 = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
  if (k != k2) return bad(io->c, "inner dimensions differ", NULL);
  int64_t d[2] = {m, n};
  int rc = set_shape(io->c, io->out[0], 2, d, a->dtype);
  if (rc) return rc;
  io->macs = umul(io->c, umul(io->c, (uint64_t)m, (uint64_t)n), (uint64_t)k);
  if (IN(io, 2)) io->other = (uint64_t)m * (uint64_t)n;
  return 0;
}

static int rule_matmul(rule_io *io) {
  oval *a = IN(io, 0), *b = IN(io, 1);
  if (!a || !b) return R_CANNOT;
  if (a->rank < 1 || b->rank < 1) return bad(io->c, "MatMul of a scalar", NULL);
  oval A = *a, B = *b; /* shapes only */
  A.ci = B.ci = NULL;
  A.cf = B.cf = NULL;
  bool a1 = a->rank == 1, b1 = b->rank == 1;
  if (a1) {
    A.rank = 2;
    A.dims[0] = 1;
    A.dims[1] = a->dims[0];
  }
  if (b1) {
    B.rank = 2;
    B.dims[0] = b->dims[0];
    B.dims[1] = 1;
  }
  int64_t m = A.dims[A.rank - 2], k = A.dims[A.rank - 1];
  int64_t k2 = B.dims[B.rank - 2], n = B.dims[B.rank - 1];
  if (k != k2) return bad(io->c, "inner dimensions differ", NULL);
  oval ba = A, bb = B;
  ba.rank -= 2;
  bb.rank -= 2;
  oval *pair[2] = {&ba, &bb};
  int r = 0;
  int64_t d[DLE_ONNX_MAX_RANK] = {0};
  int rc = broadcast(io->c, pair, 2, &r, d);
  if (rc) return rc;
  uint64_t batch = 1;
  for (int i = 0; i < r; i++) batch = umul(io->c, batch, (uint64_t)d[i]);
  if (!a1) d[r++] = m;
  if (!b1) d[r++] = n;
  rc = set_shape(io->c, io->out[0], r, d, a->dtype);
  if (rc) return rc;
  io->macs = umul(io->c, umul(io->c, batch, umul(io->c, (uint64_t)m, (uint64_t)n)), (uint64_t)k);
  return 0;
}

static int rule_resize(rule_io *io) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  int64_t d[DLE_ONNX_MAX_RANK];
  oval *sizes = io->nin > 3 ? IN(io, 3) : NULL;
  oval *scales = !strcmp(io->n->op_type, "Upsample") || io->c->opset < 11 ? IN(io, 1) : IN(io, 2);
  if (sizes && sizes->is_const && sizes->nelem == (uint64_t)x->rank) {
    for (int i = 0; i < x->rank; i++) d[i] = sizes->ci[i];
  } else if (scales && scales->is_const && scales->nelem == (uint64_t)x->rank) {
    for (int i = 0; i < x->rank; i++) {
      double v = floor((double)x->dims[i] * scales->cf[i]);
      if (!(v >= 0) || v > (double)DLE_ONNX_MAX_ELEMS) return range_err(io->c, "absurd scales");
      d[i] = (int64_t)v;
    }
  } else {
    return R_CANNOT;
  }
  int rc = set_shape(io->c, io->out[0], x->rank, d, x->dtype);
  io->other = umul(io->c, elems(io->out[0]), 4);
  return rc;
}

static int rule_space_depth(rule_io *io, bool to_depth) {
  oval *x = IN(io, 0);
  if (!x) return R_CANNOT;
  int64_t b = attr_i(io->n, "blocksize", 0);
  if (x->rank != 4 || b <= 0 || b > 65536) return bad(io->c, "needs rank 4 and blocksize > 0", NULL);
  if (x->dims[1] > (int64_t)DLE_ONNX_MAX_ELEMS / (b * b) ||
      x->dims[2] > (int64_t)DLE_ONNX_MAX_ELEMS / b || x->dims[3] > (int64_t)DLE_ONNX_MAX_ELEMS / b)
    return range_err(io->c, "dims overflow");
  int64_t d[4] = {x->dims[0], 0, 0, 0};
  if (to_depth) {
    if (x->dims[2] % b || x->dims[3] % b) return bad(io->c, "size not divisible", NULL);
    d[1] = x->dims[1] * b * b;
    d[2] = x->dims[2] / b;
    d[3] = x->dims[3] / b;
  } else {
    if (x->dims[1] % (b * b)) return bad(io->c, "channels not divisible", NULL);
    d[1] = x->dims[1] / (b * b);
    d[2] = x->dims[2] * b;
    d[3] = x->dims[3] * b;
  }
  return set_shape(io->c, io->out[0], 4, d, x->dtype);
}

/* ---------- dispatch ---------- */

typedef enum kind {
  K_UNARY, K_UNARY_FOLD, K_COPY, K_CAST, K_BINARY, K_COMPARE, K_VARIADIC, K_WHERE,
  K_BN, K_NORM, K_SOFTMAX, K_SHAPE, K_SIZE, K_CONSTANT, K_CONSTANT_OF_SHAPE, K_CONCAT,
  K_UNSQUEEZE, K_SQUEEZE, K_GATHER, K_SLICE, K_RESHAPE, K_FLATTEN, K_TRANSPOSE, K_EXPAND,
  K_RANGE, K_TILE, K_SPLIT, K_PAD, K_REDUCE, K_ARGMAX, K_CONV, K_CONVT, K_POOL, K_GPOOL,
  K_GEMM, K_MATMUL, K_RESIZE, K_S2D, K_D2S
} kind;

typedef struct op_rule {
  const char *name;
  kind k;
  unsigned cost; /* basic ops per element for elementwise families */
} op_rule;

static const op_rule rules[] = {
    {"Abs", K_UNARY_FOLD, 1}, {"Acos", K_UNARY, 1}, {"Acosh", K_UNARY, 1}, {"Add", K_BINARY, 1},
    {"And", K_COMPARE, 1}, {"ArgMax", K_ARGMAX, 1}, {"ArgMin", K_ARGMAX, 1},
    {"Asin", K_UNARY, 1}, {"Asinh", K_UNARY, 1}, {"Atan", K_UNARY, 1}, {"Atanh", K_UNARY, 1},
    {"AveragePool", K_POOL, 1}, {"BatchNormalization", K_BN, 2}, {"BitShift", K_BINARY, 1},
    {"Cast", K_CAST, 0}, {"CastLike", K_CAST, 0}, {"Ceil", K_UNARY_FOLD, 1}, {"Celu", K_UNARY, 1},
    {"Clip", K_UNARY, 1}, {"Concat", K_CONCAT, 0}, {"Constant", K_CONSTANT, 0},
    {"ConstantOfShape", K_CONSTANT_OF_SHAPE, 0}, {"Conv", K_CONV, 0},
    {"ConvTranspose", K_CONVT, 0}, {"Cos", K_UNARY, 1}, {"Cosh", K_UNARY, 1},
    {"CumSum", K_UNARY, 1}, {"DepthToSpace", K_D2S, 0}, {"Div", K_BINARY, 1},
    {"Dropout", K_COPY, 0}, {"Elu", K_UNARY, 1}, {"Equal", K_COMPARE, 1}, {"Erf", K_UNARY, 1},
    {"Exp", K_UNARY, 1}, {"Expand", K_EXPAND, 0}, {"Flatten", K_FLATTEN, 0},
    {"Floor", K_UNARY_FOLD, 1}, {"Gather", K_GATHER, 0}, {"Gelu", K_UNARY, 1},
    {"Gemm", K_GEMM, 0}, {"GlobalAveragePool", K_GPOOL, 1}, {"GlobalLpPool", K_GPOOL, 1},
    {"GlobalMaxPool", K_GPOOL, 1}, {"Greater", K_COMPARE, 1}, {"GreaterOrEqual", K_COMPARE, 1},
    {"GroupNormalization", K_NORM, 5}, {"HardSigmoid", K_UNARY, 1}, {"HardSwish", K_UNARY, 1},
    {"Hardmax", K_SOFTMAX, 1}, {"Identity", K_COPY, 0}, {"InstanceNormalization", K_NORM, 5},
    {"IsInf", K_UNARY, 1}, {"IsNaN", K_UNARY, 1}, {"LRN", K_UNARY, 5},
    {"LayerNormalization", K_NORM, 5}, {"LeakyRelu", K_UNARY, 1}, {"Less", K_COMPARE, 1},
    {"LessOrEqual", K_COMPARE, 1}, {"Log", K_UNARY, 1}, {"LogSoftmax", K_SOFTMAX, 3},
    {"LpNormalization", K_NORM, 3}, {"LpPool", K_POOL, 1}, {"MatMul", K_MATMUL, 0},
    {"Max", K_VARIADIC, 1}, {"MaxPool", K_POOL, 1}, {"Mean", K_VARIADIC, 1},
    {"Min", K_VARIADIC, 1}, {"Mish", K_UNARY, 1}, {"Mod", K_BINARY, 1}, {"Mul", K_BINARY, 1},
    {"Neg", K_UNARY_FOLD, 1}, {"Not", K_UNARY_FOLD, 1}, {"Or", K_COMPARE, 1},
    {"PRelu", K_BINARY, 1}, {"Pad", K_PAD, 0}, {"Pow", K_BINARY, 1}, {"Range", K_RANGE, 0},
    {"Reciprocal", K_UNARY, 1}, {"ReduceL1", K_REDUCE, 1}, {"ReduceL2", K_REDUCE, 1},
    {"ReduceLogSum", K_REDUCE, 1}, {"ReduceLogSumExp", K_REDUCE, 1}, {"ReduceMax", K_REDUCE, 1},
    {"ReduceMean", K_REDUCE, 1}, {"ReduceMin", K_REDUCE, 1}, {"ReduceProd", K_REDUCE, 1},
    {"ReduceSum", K_REDUCE, 1}, {"ReduceSumSquare", K_REDUCE, 1}, {"Relu", K_UNARY_FOLD, 1},
    {"Reshape", K_RESHAPE, 0}, {"Resize", K_RESIZE, 0}, {"Round", K_UNARY, 1},
    {"Selu", K_UNARY, 1}, {"Shape", K_SHAPE, 0}, {"Shrink", K_UNARY, 1},
    {"Sigmoid", K_UNARY, 1}, {"Sign", K_UNARY, 1}, {"Sin", K_UNARY, 1}, {"Sinh", K_UNARY, 1},
    {"Size", K_SIZE, 0}, {"Slice", K_SLICE, 0}, {"Softmax", K_SOFTMAX, 3},
    {"Softplus", K_UNARY, 1}, {"Softsign", K_UNARY, 1}, {"SpaceToDepth", K_S2D, 0},
    {"Split", K_SPLIT, 0}, {"Sqrt", K_UNARY_FOLD, 1}, {"Squeeze", K_SQUEEZE, 0},
    {"Sub", K_BINARY, 1}, {"Sum", K_VARIADIC, 1}, {"Tan", K_UNARY, 1}, {"Tanh", K_UNARY, 1},
    {"ThresholdedRelu", K_UNARY, 1}, {"Tile", K_TILE, 0}, {"Transpose", K_TRANSPOSE, 0},
    {"Trilu", K_UNARY, 0}, {"Unsqueeze", K_UNSQUEEZE, 0}, {"Upsample", K_RESIZE, 0},
    {"Where", K_WHERE, 0}, {"Xor", K_COMPARE, 1},
};

static int rule_cmp(const void *key, const void *elem) {
  return strcmp((const char *)key, ((const op_rule *)elem)->name);
}

static const op_rule *find_rule(const char *op) {
  return bsearch(op, rules, sizeof rules / sizeof rules[0], sizeof rules[0], rule_cmp);
}

bool dle_onnx_op_known(const char *op_type) { return op_type && find_rule(op_type) != NULL; }

int dle_onnx_infer_node(onnx_ctx *c, const Onnx__NodeProto *n, oval **in, size_t nin,
                        oval **out, size_t nout, uint64_t *macs, uint64_t *other) {
  *macs = *other = 0;
  const op_rule *r = find_rule(n->op_type);
  if (!r || nout == 0 || !out[0]) return R_CANNOT;
  for (size_t i = 0; i < nin; i++)
    if (in[i] && !in[i]->shaped) return R_CANNOT;
  rule_io io = {c, n, in, nin, out, nout, 0, 0};
  int rc;
  switch (r->k) {
  case K_UNARY: rc = same_shape(&io, r->cost, false); break;
  case K_UNARY_FOLD: rc = elementwise(&io, r->cost, 0); break;
  case K_COPY: rc = same_shape(&io, 0, true); break;
  case K_CAST: rc = rule_cast(&io); break;
  case K_BINARY:
  case K_VARIADIC: rc = elementwise(&io, r->cost, 1); break;
  case K_COMPARE: rc = elementwise(&io, r->cost, 2); break;
  case K_WHERE:
    rc = nin == 3 && in[0] && in[1] && in[2] ? elementwise(&io, r->cost, 3) : R_CANNOT;
    break;
  case K_BN:
  case K_NORM:
  case K_SOFTMAX: rc = same_shape(&io, r->cost, false); break;
  case K_SHAPE: rc = rule_shape(&io); break;
  case K_SIZE: rc = rule_size(&io); break;
  case K_CONSTANT: rc = rule_constant(&io); break;
  case K_CONSTANT_OF_SHAPE: rc = rule_constant_of_shape(&io); break;
  case K_CONCAT: rc = rule_concat(&io); break;
  case K_UNSQUEEZE: rc = rule_unsqueeze(&io); break;
  case K_SQUEEZE: rc = rule_squeeze(&io); break;
  case K_GATHER: rc = rule_gather(&io); break;
  case K_SLICE: rc = rule_slice(&io); break;
  case K_RESHAPE: rc = rule_reshape(&io); break;
  case K_FLATTEN: rc = rule_flatten(&io); break;
  case K_TRANSPOSE: rc = rule_transpose(&io); break;
  case K_EXPAND: rc = rule_expand(&io); break;
  case K_RANGE: rc = rule_range(&io); break;
  case K_TILE: rc = rule_tile(&io); break;
  case K_SPLIT: rc = rule_split(&io); break;
  case K_PAD: rc = rule_pad(&io); break;
  case K_REDUCE: rc = rule_reduce(&io, r->cost); break;
  case K_ARGMAX: rc = rule_argmax(&io); break;
  case K_CONV: rc = rule_conv(&io, false); break;
  case K_CONVT: rc = rule_conv(&io, true); break;
  case K_POOL: rc = rule_pool(&io, false); break;
  case K_GPOOL: rc = rule_pool(&io, true); break;
  case K_GEMM: rc = rule_gemm(&io); break;
  case K_MATMUL: rc = rule_matmul(&io); break;
  case K_RESIZE: rc = rule_resize(&io); break;
  case K_S2D: rc = rule_space_depth(&io, true); break;
  case K_D2S: rc = rule_space_depth(&io, false); break;
  default: rc = R_CANNOT; break;
  }
  if (rc < 0) return rc;
  if (c->overflow)
    return dle_error_set(c->err, DLE_ERANGE, "node '%s': counts overflow (absurd dims)",
                         c->node_label);
  /* Extra outputs a rule did not fill (Dropout mask, BatchNorm stats) stay unshaped,
   * except the Dropout mask which has the data's shape. */
  if (rc == R_OK && r->k == K_COPY && nout > 1 && out[1] && out[0]->shaped && !out[1]->shaped)
    set_shape(c, out[1], out[0]->rank, out[0]->dims, ONNX__TENSOR_PROTO__DATA_TYPE__BOOL);
  *macs = io.macs;
  *other = io.other;
  return rc;
}
