/* Unit tests of the ONNX counter on small graphs built here with protobuf-c:
 * shape rules and MACs worked out by hand, constant folding of shape subgraphs,
 * input overrides, unknown ops, and malformed input (cycles, missing inputs,
 * absurd dims, truncated and random bytes) that must give a clear error. */
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "dlenergy/onnx.h"
#include "onnx.pb-c.h"

/* ---------- a tiny arena-backed model builder ---------- */

static void *arena[4096];
static size_t n_arena;

static void *A(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (!p || n_arena >= sizeof arena / sizeof arena[0]) abort();
  arena[n_arena++] = p;
  return p;
}

static char *S(const char *s) {
  char *p = A(strlen(s) + 1);
  memcpy(p, s, strlen(s) + 1);
  return p;
}

static void arena_free(void) {
  while (n_arena) free(arena[--n_arena]);
}

typedef struct builder {
  Onnx__ModelProto m;
  Onnx__GraphProto g;
  Onnx__OperatorSetIdProto op;
  Onnx__OperatorSetIdProto *ops[1];
  Onnx__NodeProto *nodes[64];
  Onnx__TensorProto *inits[64];
  Onnx__ValueInfoProto *inputs[8];
  Onnx__ValueInfoProto *vinfo[8];
} builder;

static void b_init(builder *b, int64_t opset) {
  memset(b, 0, sizeof *b);
  onnx__model_proto__init(&b->m);
  onnx__graph_proto__init(&b->g);
  onnx__operator_set_id_proto__init(&b->op);
  b->op.domain = S("");
  b->op.has_version = 1;
  b->op.version = opset;
  b->ops[0] = &b->op;
  b->m.has_ir_version = 1;
  b->m.ir_version = 7;
  b->m.n_opset_import = 1;
  b->m.opset_import = b->ops;
  b->m.producer_name = S("test");
  b->m.graph = &b->g;
  b->g.node = b->nodes;
  b->g.initializer = b->inits;
  b->g.input = b->inputs;
  b->g.value_info = b->vinfo;
}

static Onnx__ValueInfoProto *value_info(const char *name, int rank, const int64_t *dims,
                                        const char *sym0) {
  Onnx__ValueInfoProto *vi = A(sizeof *vi);
  onnx__value_info_proto__init(vi);
  vi->name = S(name);
  Onnx__TypeProto *tp = A(sizeof *tp);
  onnx__type_proto__init(tp);
  Onnx__TypeProto__Tensor *tt = A(sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1;
  tt->elem_type = 1;
  Onnx__TensorShapeProto *sh = A(sizeof *sh);
  onnx__tensor_shape_proto__init(sh);
  sh->n_dim = (size_t)rank;
  sh->dim = A(sizeof *sh->dim * (size_t)(rank ? rank : 1));
  for (int i = 0; i < rank; i++) {
    Onnx__TensorShapeProto__Dimension *d = A(sizeof *d);
    onnx__tensor_shape_proto__dimension__init(d);
    if (i == 0 && sym0) {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      d->dim_param = S(sym0);
    } else if (dims[i] < 0) {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      d->dim_param = S("H");
    } else {
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      d->dim_value = dims[i];
    }
    sh->dim[i] = d;
  }
  tt->shape = sh;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  vi->type = tp;
  return vi;
}

static void b_input(builder *b, const char *name, int rank, const int64_t *dims) {
  b->inputs[b->g.n_input++] = value_info(name, rank, dims, NULL);
}

/* Float weight known by its dims only (data elsewhere). */
static Onnx__TensorProto *b_weight(builder *b, const char *name, int rank, const int64_t *dims) {
  Onnx__TensorProto *t = A(sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = S(name);
  t->n_dims = (size_t)rank;
  t->dims = A(sizeof(int64_t) * (size_t)(rank ? rank : 1));
  memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
  t->has_data_type = 1;
  t->data_type = 1;
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  b->inits[b->g.n_initializer++] = t;
  return t;
}

/* int64 constant initializer (1-D, or scalar when n < 0). */
static void b_ints(builder *b, const char *name, const int64_t *v, int n) {
  Onnx__TensorProto *t = A(sizeof *t);
  onnx__tensor_proto__init(t);
  t->name = S(name);
  size_t cnt = n < 0 ? 1 : (size_t)n;
  if (n >= 0) {
    t->n_dims = 1;
    t->dims = A(sizeof(int64_t));
    t->dims[0] = n;
  }
  t->has_data_type = 1;
  t->data_type = 7;
  t->n_int64_data = cnt;
  t->int64_data = A(sizeof(int64_t) * cnt);
  memcpy(t->int64_data, v, sizeof(int64_t) * cnt);
  b->inits[b->g.n_initializer++] = t;
}

static Onnx__NodeProto *b_node(builder *b, const char *op, const char *ins, const char *outs) {
  Onnx__NodeProto *n = A(sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = S(op);
  n->name = S(outs);
  char *comma = strchr(n->name, ',');
  if (comma) *comma = '\0'; /* named after its first output */
  /* comma-separated lists; "" entries allowed */
  const char *lists[2] = {ins, outs};
  for (int w = 0; w < 2; w++) {
    char *copy = S(lists[w]);
    size_t cnt = 1;
    for (char *p = copy; *p; p++) cnt += *p == ',';
    char **arr = A(sizeof(char *) * cnt);
    size_t k = 0;
    char *s = copy;
    for (char *p = copy;; p++)
      if (*p == ',' || *p == '\0') {
        bool end = *p == '\0';
        *p = '\0';
        arr[k++] = s;
        s = p + 1;
        if (end) break;
      }
    if (w == 0) {
      n->n_input = ins[0] ? cnt : 0;
      n->input = arr;
    } else {
      n->n_output = cnt;
      n->output = arr;
    }
  }
  b->nodes[b->g.n_node++] = n;
  return n;
}

static Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name) {
  Onnx__AttributeProto **na = A(sizeof *na * (n->n_attribute + 1));
  if (n->n_attribute) memcpy(na, n->attribute, sizeof *na * n->n_attribute);
  Onnx__AttributeProto *a = A(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = S(name);
  na[n->n_attribute++] = a;
  n->attribute = na;
  return a;
}

static void attr_int(Onnx__NodeProto *n, const char *name, int64_t v) {
  Onnx__AttributeProto *a = add_attr(n, name);
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  a->has_i = 1;
  a->i = v;
}

static void attr_ints(Onnx__NodeProto *n, const char *name, const int64_t *v, size_t k) {
  Onnx__AttributeProto *a = add_attr(n, name);
  a->has_type = 1;
  a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  a->n_ints = k;
  a->ints = A(sizeof(int64_t) * k);
  memcpy(a->ints, v, sizeof(int64_t) * k);
}

static uint8_t *b_pack(builder *b, size_t *len) {
  *len = onnx__model_proto__get_packed_size(&b->m);
  uint8_t *buf = A(*len);
  onnx__model_proto__pack(&b->m, buf);
  return buf;
}

static int analyze(builder *b, const dle_onnx_input_override *ov, size_t nov,
                   dle_onnx_report **r, dle_error *e) {
  size_t len;
  uint8_t *buf = b_pack(b, &len);
  dle_error_clear(e);
  return dle_onnx_analyze_buffer(buf, len, ov, nov, r, e);
}

static bool node_shape_is(const dle_onnx_report *r, const char *name, int rank, const int64_t *d) {
  for (size_t i = 0; i < dle_onnx_report_node_count(r); i++) {
    dle_onnx_node_info ni;
    dle_onnx_report_node(r, i, &ni);
    if (strcmp(ni.name, name) != 0) continue;
    if (!ni.shaped || ni.out_rank != (size_t)rank) return false;
    for (int k = 0; k < rank; k++)
      if (ni.out_dims[k] != d[k]) return false;
    return true;
  }
  return false;
}

static uint64_t node_macs(const dle_onnx_report *r, const char *name) {
  for (size_t i = 0; i < dle_onnx_report_node_count(r); i++) {
    dle_onnx_node_info ni;
    dle_onnx_report_node(r, i, &ni);
    if (strcmp(ni.name, name) == 0) return ni.macs;
  }
  return UINT64_MAX;
}

/* ---------- tests ---------- */

static void test_conv_pool(void) {
  builder b;
  b_init(&b, 13);
  int64_t x[] = {1, 3, 32, 32}, w[] = {8, 3, 3, 3}, bias[] = {8};
  b_input(&b, "x", 4, x);
  b_weight(&b, "w", 4, w);
  b_weight(&b, "b", 1, bias);
  Onnx__NodeProto *c = b_node(&b, "Conv", "x,w,b", "c");
  int64_t p1[] = {1, 1, 1, 1}, s2[] = {2, 2}, k3[] = {3, 3}, k2[] = {2, 2}, p0[] = {0, 0, 0, 0};
  attr_ints(c, "pads", p1, 4);
  attr_ints(c, "strides", s2, 2);
  b_node(&b, "Relu", "c", "r");
  Onnx__NodeProto *mp = b_node(&b, "MaxPool", "r", "mp_ceil");
  attr_ints(mp, "kernel_shape", k3, 2);
  attr_ints(mp, "strides", s2, 2);
  attr_ints(mp, "pads", p0, 4);
  attr_int(mp, "ceil_mode", 1);
  Onnx__NodeProto *mf = b_node(&b, "AveragePool", "r", "mp_floor");
  attr_ints(mf, "kernel_shape", k3, 2);
  attr_ints(mf, "strides", s2, 2);
  /* ceil_mode where the last window would start in the padding: 5 -> 3, not 4 */
  int64_t y[] = {1, 1, 5, 5};
  b_input(&b, "y", 4, y);
  Onnx__NodeProto *mq = b_node(&b, "MaxPool", "y", "mp_edge");
  attr_ints(mq, "kernel_shape", k2, 2);
  attr_ints(mq, "strides", s2, 2);
  attr_ints(mq, "pads", p1, 4);
  attr_int(mq, "ceil_mode", 1);
  b_node(&b, "GlobalAveragePool", "mp_ceil", "gap");
  /* depthwise conv: group = channels */
  int64_t wd[] = {8, 1, 3, 3};
  b_weight(&b, "wd", 4, wd);
  Onnx__NodeProto *dw = b_node(&b, "Conv", "r,wd", "dw");
  attr_int(dw, "group", 8);
  attr_ints(dw, "pads", p1, 4);
  dle_onnx_report *r = NULL;
  dle_error e;
  CHECK_OK(analyze(&b, NULL, 0, &r, &e), &e);
  if (r) {
    CHECK(node_shape_is(r, "c", 4, (int64_t[]){1, 8, 16, 16}));
    CHECK(node_macs(r, "c") == 8u * 16 * 16 * 3 * 9);
    CHECK(node_shape_is(r, "mp_ceil", 4, (int64_t[]){1, 8, 8, 8}));
    CHECK(node_shape_is(r, "mp_floor", 4, (int64_t[]){1, 8, 7, 7}));
    CHECK(node_shape_is(r, "mp_edge", 4, (int64_t[]){1, 1, 3, 3}));
    CHECK(node_shape_is(r, "gap", 4, (int64_t[]){1, 8, 1, 1}));
    CHECK(node_shape_is(r, "dw", 4, (int64_t[]){1, 8, 16, 16}));
    CHECK(node_macs(r, "dw") == 8u * 16 * 16 * 1 * 9);
    CHECK(dle_onnx_report_macs(r) == 8u * 16 * 16 * 27 + 8u * 16 * 16 * 9);
    CHECK(dle_onnx_report_flops(r) == 2 * dle_onnx_report_macs(r));
    CHECK(dle_onnx_report_params(r) == 216 + 8 + 72);
    CHECK(dle_onnx_report_unknown_op_count(r) == 0);
    CHECK(dle_onnx_report_unshaped_node_count(r) == 0);
    /* per-op table is sorted by MACs: Conv first, with both conv nodes */
    dle_onnx_op_stats s;
    CHECK(dle_onnx_report_op_type(r, 0, &s) == 0 && strcmp(s.op_type, "Conv") == 0 &&
          s.nodes == 2 && s.params == 296);
    CHECK(dle_onnx_report_op_type(r, 99, &s) == DLE_ERANGE);
    /* maxpool other flops: out elems x window */
    CHECK(strcmp(dle_onnx_report_input_name(r), "x") == 0);
    CHECK(dle_onnx_report_batch(r) == 1);
    CHECK_NEAR(dle_onnx_report_training_flops_per_sample(r), 3.0 * 2 * dle_onnx_report_macs(r), 0);
  }
  dle_onnx_report_free(r);
  /* Batch override: MACs double, per-sample training FLOPs stay. */
  dle_onnx_input_override ov;
  CHECK_OK(dle_onnx_parse_input_spec("x=2x3x32x32", &ov, &e), &e);
  r = NULL;
  CHECK_OK(analyze(&b, &ov, 1, &r, &e), &e);
  if (r) {
    CHECK(dle_onnx_report_batch(r) == 2);
    CHECK(dle_onnx_report_macs(r) == 2 * (8u * 16 * 16 * 27 + 8u * 16 * 16 * 9));
    CHECK_NEAR(dle_onnx_report_training_flops_per_sample(r),
               3.0 * 2 * (8u * 16 * 16 * 27 + 8u * 16 * 16 * 9), 0);
  }
  dle_onnx_report_free(r);
  /* Override naming a missing input, or of the wrong channel count. */
  CHECK_OK(dle_onnx_parse_input_spec("nope=1x3x32x32", &ov, &e), &e);
  r = NULL;
  CHECK(analyze(&b, &ov, 1, &r, &e) == DLE_ENOTFOUND && r == NULL && strstr(e.msg, "nope"));
  CHECK_OK(dle_onnx_parse_input_spec("x=1x4x32x32", &ov, &e), &e);
  CHECK(analyze(&b, &ov, 1, &r, &e) == DLE_EPARSE && strstr(e.msg, "channels"));
  CHECK_OK(dle_onnx_parse_input_spec("x=1x3x1x1", &ov, &e), &e);
  CHECK(analyze(&b, &ov, 1, &r, &e) == DLE_EPARSE && strstr(e.msg, "larger than"));
  arena_free();
}

static void test_matmul_gemm(void) {
  builder b;
  b_init(&b, 13);
  int64_t a[] = {2, 1, 4, 5}, w3[] = {3, 5, 6}, v[] = {5}, m2[] = {2, 10}, g[] = {4, 10};
  b_input(&b, "a", 4, a);
  b_weight(&b, "w3", 3, w3);
  b_weight(&b, "v", 1, v);
  b_weight(&b, "m2", 2, m2);
  b_weight(&b, "g", 2, g);
  b_node(&b, "MatMul", "a,w3", "mm");   /* [2,3,4,6], 2*3*4*6*5 */
  b_node(&b, "MatMul", "v,w3", "mv");   /* [3,6], 3*1*6*5 */
  b_node(&b, "MatMul", "a,v", "av");    /* [2,1,4], 2*4*5 */
  Onnx__NodeProto *gm = b_node(&b, "Gemm", "m2,g", "gm"); /* [2,4], 80 */
  attr_int(gm, "transB", 1);
  b_node(&b, "Softmax", "mm", "sm");
  dle_onnx_report *r = NULL;
  dle_error e;
  CHECK_OK(analyze(&b, NULL, 0, &r, &e), &e);
  if (r) {
    CHECK(node_shape_is(r, "mm", 4, (int64_t[]){2, 3, 4, 6}));
    CHECK(node_macs(r, "mm") == 720);
    CHECK(node_shape_is(r, "mv", 2, (int64_t[]){3, 6}));
    CHECK(node_macs(r, "mv") == 90);
    CHECK(node_shape_is(r, "av", 3, (int64_t[]){2, 1, 4}));
    CHECK(node_macs(r, "av") == 40);
    CHECK(node_shape_is(r, "gm", 2, (int64_t[]){2, 4}));
    CHECK(node_macs(r, "gm") == 80);
    CHECK(dle_onnx_report_macs(r) == 720 + 90 + 40 + 80);
    CHECK(dle_onnx_report_other_flops(r) == 3 * 144); /* softmax: 3 per element */
  }
  dle_onnx_report_free(r);
  arena_free();
  /* inner dimension mismatch is an error that names the node */
  b_init(&b, 13);
  int64_t p[] = {2, 3}, q[] = {4, 5};
  b_input(&b, "p", 2, p);
  b_weight(&b, "q", 2, q);
  b_node(&b, "MatMul", "p,q", "bad_mm");
  r = NULL;
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "bad_mm"));
  arena_free();
}

static void test_shape_folding(void) {
  builder b;
  b_init(&b, 13);
  int64_t x[] = {2, 3, 4, 5};
  b_input(&b, "x", 4, x);
  int64_t zero = 0, ax0[] = {0}, m1[] = {-1}, sh0[] = {0, -1};
  b_ints(&b, "zero", &zero, -1);
  b_ints(&b, "ax0", ax0, 1);
  b_ints(&b, "m1", m1, 1);
  b_ints(&b, "sh0", sh0, 2);
  b_node(&b, "Shape", "x", "shp");                /* [2,3,4,5] */
  b_node(&b, "Gather", "shp,zero", "n");          /* scalar 2 */
  b_node(&b, "Unsqueeze", "n,ax0", "n1");         /* [2] */
  b_node(&b, "Concat", "n1,m1", "target");        /* [2,-1] */
  Onnx__NodeProto *cc = b.nodes[b.g.n_node - 1];
  attr_int(cc, "axis", 0);
  b_node(&b, "Reshape", "x,target", "flat");      /* [2,60] */
  b_node(&b, "Reshape", "x,sh0", "flat0");        /* 0 copies: [2,60] */
  /* torch's expand pattern: Where(Equal(shape,-1), ones, shape) -> Expand */
  b_node(&b, "ConstantOfShape", "ax0", "ones_f"); /* hmm: shape [0] -> empty */
  int64_t s3[] = {3}, neg[] = {2, -1, 5};
  b_ints(&b, "s3", s3, 1);
  b_ints(&b, "neg", neg, 3);
  Onnx__NodeProto *cs = b_node(&b, "ConstantOfShape", "s3", "ones");
  Onnx__AttributeProto *val = add_attr(cs, "value");
  Onnx__TensorProto *vt = A(sizeof *vt);
  onnx__tensor_proto__init(vt);
  vt->has_data_type = 1;
  vt->data_type = 7;
  vt->n_dims = 1;
  vt->dims = A(sizeof(int64_t));
  vt->dims[0] = 1;
  vt->n_int64_data = 1;
  vt->int64_data = A(sizeof(int64_t));
  vt->int64_data[0] = 1;
  val->t = vt;
  b_node(&b, "Equal", "neg,m1", "isneg");
  b_node(&b, "Where", "isneg,ones,neg", "eshape"); /* [2,1,5] */
  int64_t y[] = {1, 4, 1};
  b_input(&b, "y", 3, y);
  b_node(&b, "Expand", "y,eshape", "ex");           /* [2,4,5] */
  /* Slice with INT64_MAX end, step 2, and a reversed slice */
  int64_t st[] = {1}, en[] = {INT64_MAX}, ax[] = {1}, sp[] = {2};
  b_ints(&b, "st", st, 1);
  b_ints(&b, "en", en, 1);
  b_ints(&b, "ax", ax, 1);
  b_ints(&b, "sp", sp, 1);
  b_node(&b, "Slice", "x,st,en,ax,sp", "sl");       /* [2,1,4,5] (3 -> idx 1) */
  int64_t rst[] = {-1}, ren[] = {INT64_MIN}, rax[] = {3}, rsp[] = {-2};
  b_ints(&b, "rst", rst, 1);
  b_ints(&b, "ren", ren, 1);
  b_ints(&b, "rax", rax, 1);
  b_ints(&b, "rsp", rsp, 1);
  b_node(&b, "Slice", "x,rst,ren,rax,rsp", "rsl");  /* 5 -> idx 4,2,0: 3 */
  /* extreme steps take one element, without overflow */
  int64_t z0[] = {0}, smax[] = {INT64_MAX}, smin[] = {INT64_MIN};
  b_ints(&b, "z0", z0, 1);
  b_ints(&b, "smax", smax, 1);
  b_ints(&b, "smin", smin, 1);
  b_node(&b, "Slice", "x,z0,smax,ax,smax", "slmax"); /* [2,1,4,5] */
  b_node(&b, "Slice", "x,rst,smin,ax,smin", "slmin"); /* [2,1,4,5] */
  /* slicing the folded shape: shp[1:3] = [3,4] */
  int64_t s1[] = {1}, e3[] = {3};
  b_ints(&b, "s1", s1, 1);
  b_ints(&b, "e3", e3, 1);
  b_node(&b, "Slice", "shp,s1,e3", "mid");
  b_node(&b, "Concat", "m1,mid", "t2");
  attr_int(b.nodes[b.g.n_node - 1], "axis", 0);
  b_node(&b, "Reshape", "x,t2", "r2");              /* [10,3,4] */
  int64_t perm[] = {0, 2, 1};
  Onnx__NodeProto *tr = b_node(&b, "Transpose", "r2", "tr");
  attr_ints(tr, "perm", perm, 3);
  b_node(&b, "Flatten", "x", "fl");                 /* [2,60] */
  Onnx__NodeProto *sq = b_node(&b, "Squeeze", "sl,ax", "sq"); /* [2,4,5] */
  (void)sq;
  int64_t sp2[] = {1, 3};
  b_ints(&b, "sp2", sp2, 2);
  Onnx__NodeProto *spl = b_node(&b, "Split", "r2,sp2", "sa,sb");
  attr_int(spl, "axis", -1);
  int64_t pads[] = {0, 0, 1, 2, 0, 0, 3, 4};
  b_ints(&b, "pads", pads, 8);
  b_node(&b, "Pad", "x,pads", "pd");                /* [2,3,8,11] */
  Onnx__NodeProto *rm = b_node(&b, "ReduceMean", "x", "rm");
  int64_t axm1[] = {-1};
  attr_ints(rm, "axes", axm1, 1);                   /* keepdims: [2,3,4,1] */
  dle_onnx_report *r = NULL;
  dle_error e;
  CHECK_OK(analyze(&b, NULL, 0, &r, &e), &e);
  if (r) {
    CHECK(node_shape_is(r, "shp", 1, (int64_t[]){4}));
    CHECK(node_shape_is(r, "n", 0, NULL));
    CHECK(node_shape_is(r, "target", 1, (int64_t[]){2}));
    CHECK(node_shape_is(r, "flat", 2, (int64_t[]){2, 60}));
    CHECK(node_shape_is(r, "flat0", 2, (int64_t[]){2, 60}));
    CHECK(node_shape_is(r, "ones_f", 1, (int64_t[]){0}));
    CHECK(node_shape_is(r, "eshape", 1, (int64_t[]){3}));
    CHECK(node_shape_is(r, "ex", 3, (int64_t[]){2, 4, 5}));
    CHECK(node_shape_is(r, "sl", 4, (int64_t[]){2, 1, 4, 5}));
    CHECK(node_shape_is(r, "rsl", 4, (int64_t[]){2, 3, 4, 3}));
    CHECK(node_shape_is(r, "slmax", 4, (int64_t[]){2, 1, 4, 5}));
    CHECK(node_shape_is(r, "slmin", 4, (int64_t[]){2, 1, 4, 5}));
    CHECK(node_shape_is(r, "r2", 3, (int64_t[]){10, 3, 4}));
    CHECK(node_shape_is(r, "tr", 3, (int64_t[]){10, 4, 3}));
    CHECK(node_shape_is(r, "fl", 2, (int64_t[]){2, 60}));
    CHECK(node_shape_is(r, "sq", 3, (int64_t[]){2, 4, 5}));
    CHECK(node_shape_is(r, "sa", 3, (int64_t[]){10, 3, 1}));
    CHECK(node_shape_is(r, "pd", 4, (int64_t[]){2, 3, 8, 11}));
    CHECK(node_shape_is(r, "rm", 4, (int64_t[]){2, 3, 4, 1}));
    CHECK(dle_onnx_report_unshaped_node_count(r) == 0);
    CHECK(dle_onnx_report_params(r) == 0); /* int64 initializers are not parameters */
  }
  dle_onnx_report_free(r);
  arena_free();
}

static void test_unknown_ops(void) {
  builder b;
  b_init(&b, 13);
  int64_t x[] = {1, 3, 8, 8}, w[] = {4, 3, 1, 1};
  b_input(&b, "x", 4, x);
  b_weight(&b, "w", 4, w);
  b_node(&b, "FancyOp", "x", "f");
  b_node(&b, "FancyOp", "f", "f2");
  Onnx__NodeProto *cu = b_node(&b, "Relu", "f2", "cu");
  cu->domain = S("com.example");
  b_node(&b, "Conv", "f2,w", "c");
  dle_onnx_report *r = NULL;
  dle_error e;
  CHECK_OK(analyze(&b, NULL, 0, &r, &e), &e);
  if (r) {
    CHECK(dle_onnx_report_unknown_op_count(r) == 2);
    const char *op = NULL;
    uint64_t n = 0;
    CHECK(dle_onnx_report_unknown_op(r, 0, &op, &n) == 0 && strcmp(op, "FancyOp") == 0 && n == 2);
    CHECK(dle_onnx_report_unknown_op(r, 1, &op, &n) == 0 &&
          strcmp(op, "com.example:Relu") == 0 && n == 1);
    CHECK(dle_onnx_report_unshaped_node_count(r) == 4); /* the conv after them too */
    CHECK(dle_onnx_report_macs(r) == 0);
  }
  dle_onnx_report_free(r);
  /* With value_info for the unknown op's output the count goes on. */
  b.vinfo[b.g.n_value_info++] = value_info("f2", 4, x, NULL);
  r = NULL;
  CHECK_OK(analyze(&b, NULL, 0, &r, &e), &e);
  if (r) {
    CHECK(dle_onnx_report_macs(r) == 4u * 3 * 64);
    CHECK(dle_onnx_report_unshaped_node_count(r) == 2);
  }
  dle_onnx_report_free(r);
  arena_free();
}

static void test_malformed_graphs(void) {
  builder b;
  dle_error e;
  dle_onnx_report *r = NULL;
  int64_t x[] = {1, 4};
  /* cycle */
  b_init(&b, 13);
  b_input(&b, "x", 2, x);
  b_node(&b, "Add", "x,q", "p");
  b_node(&b, "Relu", "p", "q");
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "cycle") && !r);
  arena_free();
  /* self loop */
  b_init(&b, 13);
  b_input(&b, "x", 2, x);
  b_node(&b, "Add", "x,s", "s");
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "cycle"));
  arena_free();
  /* missing input */
  b_init(&b, 13);
  b_input(&b, "x", 2, x);
  b_node(&b, "Relu", "nowhere", "y");
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "nowhere"));
  arena_free();
  /* two nodes defining one value */
  b_init(&b, 13);
  b_input(&b, "x", 2, x);
  b_node(&b, "Relu", "x", "y");
  b_node(&b, "Relu", "x", "y");
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "already defined"));
  arena_free();
  /* no graph */
  b_init(&b, 13);
  b.m.graph = NULL;
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "no graph"));
  arena_free();
  /* absurd input dims */
  b_init(&b, 13);
  int64_t huge[] = {1ll << 40, 1ll << 40};
  b_input(&b, "x", 2, huge);
  b_node(&b, "Relu", "x", "y");
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_ERANGE && strstr(e.msg, "absurd"));
  arena_free();
  /* absurd initializer dims, and negative ones */
  b_init(&b, 13);
  b_input(&b, "x", 2, x);
  int64_t hw[] = {INT64_MAX, 4};
  b_weight(&b, "w", 2, hw);
  b_node(&b, "MatMul", "x,w", "y");
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_ERANGE);
  b.inits[0]->dims[0] = -3;
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "negative"));
  arena_free();
  /* MACs that overflow 64 bits: large but individually legal shapes */
  b_init(&b, 13);
  int64_t big_a[] = {1ll << 22, 1ll << 22}, big_b[] = {1ll << 22, 1ll << 22};
  b_input(&b, "x", 2, big_a);
  b_weight(&b, "w", 2, big_b);
  b_node(&b, "MatMul", "x,w", "y"); /* 2^66 MACs */
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_ERANGE && strstr(e.msg, "overflow"));
  arena_free();
  /* ConvTranspose whose output size overflows; a group that overflows C_in */
  b_init(&b, 13);
  int64_t tx[] = {1, 1, 1ll << 40}, tw[] = {1, 1, 3}, big_s[] = {1ll << 30};
  b_input(&b, "x", 3, tx);
  b_weight(&b, "w", 3, tw);
  Onnx__NodeProto *ct = b_node(&b, "ConvTranspose", "x,w", "ct");
  attr_ints(ct, "strides", big_s, 1);
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_ERANGE && strstr(e.msg, "ct"));
  arena_free();
  b_init(&b, 13);
  int64_t gx[] = {1, 4, 8}, gw[] = {4, 1, 3};
  b_input(&b, "x", 3, gx);
  b_weight(&b, "w", 3, gw);
  attr_int(b_node(&b, "Conv", "x,w", "cg"), "group", INT64_MAX);
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "channels"));
  arena_free();
  /* folding INT64_MIN through Neg/Abs and an overflowing Range stays defined */
  b_init(&b, 13);
  b_input(&b, "x", 2, x);
  int64_t mn = INT64_MIN, zero = 0, lim = INT64_MAX, step = INT64_MAX / 2;
  b_ints(&b, "mn", &mn, -1);
  b_ints(&b, "lim", &lim, -1);
  b_ints(&b, "step", &step, -1);
  b_node(&b, "Neg", "mn", "ng");
  b_node(&b, "Abs", "mn", "ab");
  b_node(&b, "Range", "mn,lim,step", "rg"); /* 4 values; INT64_MIN + 3 * step wraps */
  (void)zero;
  r = NULL;
  CHECK_OK(analyze(&b, NULL, 0, &r, &e), &e);
  if (r) CHECK(node_shape_is(r, "rg", 1, (int64_t[]){4}));
  dle_onnx_report_free(r);
  arena_free();
  /* symbolic dims: batch assumed 1, others need an override */
  b_init(&b, 13);
  int64_t sd[] = {-1, 3, -1, 8};
  b.inputs[b.g.n_input++] = value_info("img", 4, sd, "N");
  b_node(&b, "Relu", "img", "y");
  CHECK(analyze(&b, NULL, 0, &r, &e) == DLE_EINVAL && strstr(e.msg, "--input"));
  dle_onnx_input_override ov;
  CHECK_OK(dle_onnx_parse_input_spec("1x3x8x8", &ov, &e), &e);
  r = NULL;
  CHECK_OK(analyze(&b, &ov, 1, &r, &e), &e);
  if (r) CHECK(dle_onnx_report_batch(r) == 1);
  dle_onnx_report_free(r);
  arena_free();
}

static void test_input_spec(void) {
  dle_onnx_input_override o;
  dle_error e;
  CHECK_OK(dle_onnx_parse_input_spec("input=1x3x224x224", &o, &e), &e);
  CHECK(strcmp(o.name, "input") == 0 && o.rank == 4 && o.dims[3] == 224);
  CHECK_OK(dle_onnx_parse_input_spec("8x3x128x128", &o, &e), &e);
  CHECK(o.name[0] == '\0' && o.rank == 4 && o.dims[0] == 8);
  const char *bad[] = {"", "x=", "=1x3", "x=0x3", "x=1x", "x=1xx2", "x=a", "x=-1x3",
                       "x=1x2x3x4x5x6x7x8x9", "x=1x99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_MSG(dle_onnx_parse_input_spec(bad[i], &o, &e) == DLE_EINVAL && e.msg[0], "%s", bad[i]);
}

/* Every prefix of a valid model, and seeded random bytes: never a crash, and
 * every failure carries a message. */
static void test_truncated_and_random(void) {
  builder b;
  b_init(&b, 13);
  int64_t x[] = {1, 3, 8, 8}, w[] = {4, 3, 3, 3};
  b_input(&b, "x", 4, x);
  b_weight(&b, "w", 4, w);
  b_node(&b, "Conv", "x,w", "c");
  size_t len;
  uint8_t *buf = b_pack(&b, &len);
  int ok = 0, failed_with_msg = 0, failed_silent = 0;
  for (size_t n = 0; n < len; n++) {
    dle_onnx_report *r = NULL;
    dle_error e;
    dle_error_clear(&e);
    int rc = dle_onnx_analyze_buffer(buf, n, NULL, 0, &r, &e);
    if (rc == 0) ok++;
    else if (e.msg[0] && r == NULL) failed_with_msg++;
    else failed_silent++;
    dle_onnx_report_free(r);
  }
  CHECK(failed_silent == 0);
  CHECK(failed_with_msg > (int)len / 2); /* most prefixes are invalid */
  dle_onnx_report *r = NULL;
  dle_error e;
  CHECK_OK(dle_onnx_analyze_buffer(buf, len, NULL, 0, &r, &e), &e);
  dle_onnx_report_free(r);
  arena_free();
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint8_t rnd[512];
  failed_silent = 0;
  for (int it = 0; it < 3000; it++) {
    size_t n = 1 + (size_t)(it % (int)sizeof rnd);
    for (size_t k = 0; k < n; k++) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      rnd[k] = (uint8_t)s;
    }
    r = NULL;
    dle_error_clear(&e);
    int rc = dle_onnx_analyze_buffer(rnd, n, NULL, 0, &r, &e);
    if (rc != 0 && !e.msg[0]) failed_silent++;
    dle_onnx_report_free(r);
  }
  CHECK(failed_silent == 0);
  CHECK(dle_onnx_analyze_buffer(NULL, 0, NULL, 0, &r, &e) == DLE_EPARSE && strstr(e.msg, "empty"));
  CHECK(dle_onnx_analyze("/nonexistent/model.onnx", NULL, 0, &r, &e) == DLE_ENOTFOUND);
  CHECK(dle_onnx_analyze(".", NULL, 0, &r, &e) == DLE_EIO);
  /* A (sparse) file just over 2 GiB is refused up front, without reading it. */
  int fd = open("onnx_too_big.onnx", O_CREAT | O_TRUNC | O_WRONLY, 0644);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK(ftruncate(fd, (off_t)DLE_ONNX_MAX_FILE_BYTES + 1) == 0);
    close(fd);
    CHECK(dle_onnx_analyze("onnx_too_big.onnx", NULL, 0, &r, &e) == DLE_ERANGE &&
          strstr(e.msg, "2 GiB") && r == NULL);
    unlink("onnx_too_big.onnx");
  }
}

/* A model embedding a large weight: the bytes are skipped, the dims still count,
 * and small int64 initializers (a Reshape target) keep their values. */
static void test_embedded_weights(void) {
  builder b;
  b_init(&b, 13);
  int64_t x[] = {1, 256}, w[] = {256, 128}, tgt[] = {-1, 16, 8};
  b_input(&b, "x", 2, x);
  Onnx__TensorProto *t = b_weight(&b, "w", 2, w);
  t->has_data_location = 0;
  t->has_raw_data = 1;
  t->raw_data.len = 256 * 128 * 4;
  t->raw_data.data = A(t->raw_data.len);
  b_ints(&b, "tgt", tgt, 3);
  b_node(&b, "MatMul", "x,w", "y");
  b_node(&b, "Reshape", "y,tgt", "z");
  dle_onnx_report *r = NULL;
  dle_error e;
  CHECK_OK(analyze(&b, NULL, 0, &r, &e), &e);
  if (r) {
    CHECK(dle_onnx_report_params(r) == 256u * 128);
    CHECK(dle_onnx_report_macs(r) == 256u * 128);
    CHECK(node_shape_is(r, "z", 3, (int64_t[]){1, 16, 8}));
  }
  dle_onnx_report_free(r);
  arena_free();
}

int main(void) {
  test_conv_pool();
  test_matmul_gemm();
  test_shape_folding();
  test_unknown_ops();
  test_malformed_graphs();
  test_input_spec();
  test_truncated_and_random();
  test_embedded_weights();
  return check_finish();
}
