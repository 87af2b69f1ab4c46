/* onnx.c — loads an ONNX model, orders its graph, runs shape inference node by
 * node and totals MACs, FLOPs and parameters (conventions in onnx.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx_internal.h"

typedef struct op_entry {
  char *op_type; /* owned */
  uint64_t nodes, macs, other, params;
  bool known;
} op_entry;

typedef struct node_entry {
  const char *name, *op_type; /* point into the report's strings */
  uint64_t macs, other, params;
  bool shaped;
  int rank;
  int64_t dims[DLE_ONNX_MAX_RANK];
} node_entry;

struct dle_onnx_report {
  uint64_t macs, other, params;
  int64_t batch;
  size_t unshaped;
  int64_t ir_version, opset;
  char *producer;
  char *input_name;
  int input_rank;
  int64_t input_dims[DLE_ONNX_MAX_RANK];
  node_entry *nodes;
  size_t n_nodes;
  char **node_names; /* owned copies, one per node */
  op_entry *ops;
  size_t n_ops;
  size_t *unknown; /* indices into ops, sorted by name */
  size_t n_unknown;
};

/* ---------- value table (open addressing on names) ---------- */

typedef struct vtab {
  oval *v;
  size_t n, cap;
  size_t *slot; /* index + 1, 0 = empty */
  size_t nslot;
} vtab;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static oval *vt_find(const vtab *t, const char *name) {
  size_t m = t->nslot - 1;
  for (size_t i = hash_str(name) & m;; i = (i + 1) & m) {
    size_t s = t->slot[i];
    if (!s) return NULL;
    if (strcmp(t->v[s - 1].name, name) == 0) return &t->v[s - 1];
  }
}

/* Adds a value; returns NULL when the name exists already (*dup = true). */
static oval *vt_add(vtab *t, const char *name, bool *dup) {
  *dup = false;
  size_t m = t->nslot - 1;
  size_t i = hash_str(name) & m;
  for (;; i = (i + 1) & m) {
    size_t s = t->slot[i];
    if (!s) break;
    if (strcmp(t->v[s - 1].name, name) == 0) {
      *dup = true;
      return NULL;
    }
  }
  if (t->n >= t->cap) return NULL; /* sized up front: cannot happen */
  oval *v = &t->v[t->n++];
  memset(v, 0, sizeof *v);
  v->name = name;
  t->slot[i] = t->n;
  return v;
}

static void vt_free(vtab *t) {
  for (size_t i = 0; i < t->n; i++) dle_onnx_val_clear_const(&t->v[i]);
  free(t->v);
  free(t->slot);
}

/* ---------- report helpers ---------- */

static bool is_param_type(int32_t t) {
  return t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 ||
         t == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE || t == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
}

static char *xstrdup(const char *s) {
  size_t l = strlen(s);
  char *p = malloc(l + 1);
  if (p) memcpy(p, s, l + 1);
  return p;
}

static bool default_domain(const char *d) {
  return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

/* Finds or adds the entry of n's operator type. slot/nslot: open-addressing
 * index (entry + 1) over r->ops, nslot a power of two above 2 * cap. */
static op_entry *op_get(dle_onnx_report *r, const Onnx__NodeProto *n, size_t cap, size_t *slot,
                        size_t nslot) {
  char buf[512];
  const char *op = n->op_type ? n->op_type : "";
  if (!default_domain(n->domain)) {
    snprintf(buf, sizeof buf, "%s:%s", n->domain, op);
    op = buf;
  }
  size_t i = hash_str(op) & (nslot - 1);
  for (; slot[i]; i = (i + 1) & (nslot - 1))
    if (strcmp(r->ops[slot[i] - 1].op_type, op) == 0) return &r->ops[slot[i] - 1];
  if (r->n_ops >= cap) return NULL;
  op_entry *e = &r->ops[r->n_ops];
  memset(e, 0, sizeof *e);
  e->op_type = xstrdup(op);
  if (!e->op_type) return NULL;
  e->known = default_domain(n->domain) && dle_onnx_op_known(op);
  r->n_ops++;
  slot[i] = r->n_ops;
  return e;
}

void dle_onnx_report_free(dle_onnx_report *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_ops; i++) free(r->ops[i].op_type);
  if (r->node_names)
    for (size_t i = 0; i < r->n_nodes; i++) free(r->node_names[i]);
  free(r->node_names);
  free(r->ops);
  free(r->nodes);
  free(r->unknown);
  free(r->producer);
  free(r->input_name);
  free(r);
}

/* ---------- input overrides ---------- */

int dle_onnx_parse_input_spec(const char *spec, dle_onnx_input_override *out, dle_error *err) {
  if (!spec || !out) return dle_error_set(err, DLE_EINVAL, "no input spec");
  memset(out, 0, sizeof *out);
  const char *eq = strrchr(spec, '=');
  const char *dims = spec;
  if (eq) {
    size_t nl = (size_t)(eq - spec);
    if (nl == 0 || nl >= DLE_ONNX_MAX_NAME)
      return dle_error_set(err, DLE_EINVAL, "input spec '%s': bad input name", spec);
    memcpy(out->name, spec, nl);
    dims = eq + 1;
  }
  const char *p = dims;
  while (*p) {
    if (out->rank >= DLE_ONNX_MAX_RANK)
      return dle_error_set(err, DLE_EINVAL, "input spec '%s': more than %d dims", spec,
                           DLE_ONNX_MAX_RANK);
    char *end;
    errno = 0;
    if (*p < '0' || *p > '9')
      return dle_error_set(err, DLE_EINVAL, "input spec '%s': expected NAME=1x3x224x224", spec);
    long long v = strtoll(p, &end, 10);
    if (errno || v <= 0 || v > (1ll << 40))
      return dle_error_set(err, DLE_EINVAL, "input spec '%s': dims must be 1..2^40", spec);
    out->dims[out->rank++] = v;
    p = end;
    if (*p == 'x' || *p == 'X' || *p == ',') {
      p++;
      if (!*p) return dle_error_set(err, DLE_EINVAL, "input spec '%s': trailing separator", spec);
    } else if (*p) {
      return dle_error_set(err, DLE_EINVAL, "input spec '%s': expected NAME=1x3x224x224", spec);
    }
  }
  if (out->rank == 0) return dle_error_set(err, DLE_EINVAL, "input spec '%s': no dims", spec);
  return 0;
}

/* ---------- analysis ---------- */

static const char *node_label(const Onnx__NodeProto *n, size_t i, char *buf, size_t bs) {
  if (n->name && *n->name) return n->name;
  snprintf(buf, bs, "#%zu %s", i, n->op_type ? n->op_type : "?");
  return buf;
}

/* Shape of a graph input/value_info entry: 0 ok, 1 no static shape. */
static int vi_shape(const Onnx__ValueInfoProto *vi, int *rank, int64_t *dims, int32_t *dt,
                    const char **sym) {
  *sym = NULL;
  if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
      !vi->type->tensor_type)
    return 1;
  const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
  *dt = tt->has_elem_type ? tt->elem_type : 0;
  if (!tt->shape) return 1;
  if (tt->shape->n_dim > DLE_ONNX_MAX_RANK) return 1;
  *rank = (int)tt->shape->n_dim;
  for (size_t k = 0; k < tt->shape->n_dim; k++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
        d->dim_value >= 0) {
      dims[k] = d->dim_value;
    } else {
      dims[k] = -1;
      if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) *sym = d->dim_param;
    }
  }
  return 0;
}

static int analyze_model(const Onnx__ModelProto *m, const dle_onnx_input_override *ov,
                         size_t n_ov, dle_onnx_report *r, dle_error *err) {
  const Onnx__GraphProto *g = m->graph;
  if (!g) return dle_error_set(err, DLE_EPARSE, "not an ONNX model: no graph");
  r->ir_version = m->has_ir_version ? m->ir_version : 0;
  r->opset = 0;
  for (size_t i = 0; i < m->n_opset_import; i++)
    if (default_domain(m->opset_import[i]->domain) && m->opset_import[i]->has_version)
      r->opset = m->opset_import[i]->version;
  if (m->n_opset_import == 0) r->opset = 1;
  r->producer = xstrdup(m->producer_name ? m->producer_name : "");
  if (!r->producer) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  if (g->n_node == 0 && g->n_input == 0)
    return dle_error_set(err, DLE_EPARSE, "not an ONNX model: empty graph");

  onnx_ctx c = {r->opset, err, "", false};
  /* Value table sized for every name the graph can define. */
  vtab t = {0};
  vtab hint = {0}; /* static shapes the file states (value_info, outputs), by name */
  size_t total = g->n_input + g->n_initializer;
  for (size_t i = 0; i < g->n_node; i++) total += g->node[i]->n_output;
  t.cap = total + 1;
  t.nslot = 16;
  while (t.nslot < 2 * t.cap) t.nslot <<= 1;
  t.v = calloc(t.cap, sizeof *t.v);
  t.slot = calloc(t.nslot, sizeof *t.slot);
  size_t *order = calloc(g->n_node + 1, sizeof *order);
  size_t op_nslot = 16;
  while (op_nslot < 2 * (g->n_node + 1)) op_nslot <<= 1;
  size_t *op_slot = calloc(op_nslot, sizeof *op_slot);
  size_t *indeg = calloc(g->n_node + 1, sizeof *indeg);
  r->nodes = calloc(g->n_node + 1, sizeof *r->nodes);
  r->node_names = calloc(g->n_node + 1, sizeof *r->node_names);
  r->ops = calloc(g->n_node + 1, sizeof *r->ops);
  int rc = 0;
  if (!t.v || !t.slot || !order || !op_slot || !indeg || !r->nodes || !r->node_names || !r->ops) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  bool dup;
  /* Initializers: shapes, small constants, parameters. */
  for (size_t i = 0; i < g->n_initializer; i++) {
    const Onnx__TensorProto *tp = g->initializer[i];
    if (!tp->name || !*tp->name) {
      rc = dle_error_set(err, DLE_EPARSE, "initializer #%zu has no name", i);
      goto done;
    }
    oval *v = vt_add(&t, tp->name, &dup);
    if (!v) {
      rc = dle_error_set(err, DLE_EPARSE, "initializer '%s' is defined twice", tp->name);
      goto done;
    }
    c.node_label = tp->name;
    if ((rc = dle_onnx_tensor_to_val(&c, tp, v))) goto done;
    uint64_t n = 1;
    for (int k = 0; k < v->rank; k++) n *= (uint64_t)v->dims[k];
    if (is_param_type(v->dtype)) {
      v->param_elems = n;
      if (__builtin_add_overflow(r->params, n, &r->params)) {
        rc = dle_error_set(err, DLE_ERANGE, "parameter count overflows");
        goto done;
      }
    }
  }
  /* Graph inputs that are not initializers: shapes from the file or overrides. */
  bool first = true;
  for (size_t i = 0; i < g->n_input; i++) {
    const Onnx__ValueInfoProto *vi = g->input[i];
    if (!vi->name || !*vi->name) {
      rc = dle_error_set(err, DLE_EPARSE, "graph input #%zu has no name", i);
      goto done;
    }
    if (vt_find(&t, vi->name)) continue; /* initializer listed as input (IR < 4) */
    oval *v = vt_add(&t, vi->name, &dup);
    if (!v) {
      rc = dle_error_set(err, DLE_EPARSE, "graph input '%s' is listed twice", vi->name);
      goto done;
    }
    const dle_onnx_input_override *o = NULL;
    for (size_t k = 0; k < n_ov; k++)
      if ((ov[k].name[0] && strcmp(ov[k].name, vi->name) == 0) || (!ov[k].name[0] && first))
        o = &ov[k];
    int rank = 0;
    int64_t dims[DLE_ONNX_MAX_RANK];
    int32_t dt = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    const char *sym = NULL;
    if (o) {
      rank = (int)o->rank;
      memcpy(dims, o->dims, sizeof dims);
      const char *s2;
      int r2;
      int64_t d2[DLE_ONNX_MAX_RANK];
      vi_shape(vi, &r2, d2, &dt, &s2);
    } else if (vi_shape(vi, &rank, dims, &dt, &sym) != 0) {
      rc = dle_error_set(err, DLE_EPARSE,
                         "graph input '%s' has no tensor shape; give it with --input %s=1x3x224x224",
                         vi->name, vi->name);
      goto done;
    } else {
      for (int k = 0; k < rank; k++)
        if (dims[k] < 0) {
          if (k == 0 && first) {
            dims[k] = 1; /* dynamic batch: count per sample */
            continue;
          }
          rc = dle_error_set(err, DLE_EINVAL,
                             "graph input '%s' dim %d is symbolic ('%s'); give the shape with "
                             "--input %s=...",
                             vi->name, k, sym ? sym : "?", vi->name);
          goto done;
        }
    }
    c.node_label = vi->name;
    if ((rc = (rank > DLE_ONNX_MAX_RANK ? DLE_EUNSUPPORTED : 0))) {
      dle_error_set(err, rc, "graph input '%s' has rank above %d", vi->name, DLE_ONNX_MAX_RANK);
      goto done;
    }
    oval tmp = {0};
    tmp.shaped = true;
    tmp.rank = rank;
    memcpy(tmp.dims, dims, sizeof dims);
    uint64_t n = 1;
    for (int k = 0; k < rank; k++)
      if (__builtin_mul_overflow(n, (uint64_t)dims[k], &n) || n > DLE_ONNX_MAX_ELEMS) {
        rc = dle_error_set(err, DLE_ERANGE, "graph input '%s': absurd dims", vi->name);
        goto done;
      }
    v->shaped = true;
    v->rank = rank;
    memcpy(v->dims, dims, sizeof dims);
    v->dtype = dt;
    if (first) {
      r->input_name = xstrdup(vi->name);
      r->input_rank = rank;
      memcpy(r->input_dims, dims, sizeof dims);
      r->batch = rank > 0 ? dims[0] : 1;
      first = false;
    }
  }
  for (size_t k = 0; k < n_ov; k++) {
    if (!ov[k].name[0]) {
      if (!r->input_name) {
        rc = dle_error_set(err, DLE_ENOTFOUND, "the graph has no input to override");
        goto done;
      }
      continue;
    }
    oval *v = vt_find(&t, ov[k].name);
    bool is_input = false;
    for (size_t i = 0; i < g->n_input && v; i++)
      if (strcmp(g->input[i]->name, ov[k].name) == 0) is_input = true;
    if (!is_input || v->param_elems || v->is_const) {
      rc = dle_error_set(err, DLE_ENOTFOUND, "--input '%s': no such graph input", ov[k].name);
      goto done;
    }
  }
  if (!r->input_name) r->input_name = xstrdup("");
  if (!r->input_name) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  if (r->batch <= 0) r->batch = 1;

  /* Node outputs. */
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    char lb[64];
    if (!n->op_type || !*n->op_type) {
      rc = dle_error_set(err, DLE_EPARSE, "node #%zu has no op_type", i);
      goto done;
    }
    for (size_t k = 0; k < n->n_output; k++) {
      if (!n->output[k] || !*n->output[k]) continue; /* optional output left out */
      if (!vt_add(&t, n->output[k], &dup)) {
        rc = dle_error_set(err, DLE_EPARSE, "node '%s': output '%s' is already defined",
                           node_label(n, i, lb, sizeof lb), n->output[k]);
        goto done;
      }
    }
  }
  /* Topological order (Kahn). Inputs must exist; a cycle is an error. */
  size_t *prod = calloc(t.n + 1, sizeof *prod); /* value index -> producing node + 1 */
  if (!prod) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_output; k++) {
      const char *o = g->node[i]->output[k];
      if (o && *o) prod[vt_find(&t, o) - t.v] = i + 1;
    }
  size_t nedges = 0;
  bool in_order = true; /* the file's order is already topological (the usual case) */
  for (size_t i = 0; i < g->n_node; i++) {
    const Onnx__NodeProto *n = g->node[i];
    for (size_t k = 0; k < n->n_input; k++) {
      const char *in = n->input[k];
      if (!in || !*in) continue;
      oval *v = vt_find(&t, in);
      if (!v) {
        char lb[64];
        rc = dle_error_set(err, DLE_EPARSE,
                           "node '%s' (%s): input '%s' is not produced by any node, initializer "
                           "or graph input",
                           node_label(n, i, lb, sizeof lb), n->op_type, in);
        free(prod);
        goto done;
      }
      if (prod[v - t.v]) {
        if (prod[v - t.v] > i) in_order = false;
        indeg[i]++;
        nedges++;
      }
    }
  }
  /* Adjacency in CSR form: edges from producer to consumer. */
  size_t *estart = calloc(g->n_node + 2, sizeof *estart), *edst = calloc(nedges + 1, sizeof *edst);
  if (!estart || !edst) {
    free(prod);
    free(estart);
    free(edst);
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_input; k++) {
      const char *in = g->node[i]->input[k];
      if (!in || !*in) continue;
      size_t p = prod[vt_find(&t, in) - t.v];
      if (p) estart[p]++; /* count at p (= producer + 1) */
    }
  for (size_t i = 1; i <= g->n_node + 1; i++) estart[i] += estart[i - 1];
  /* estart[p] is now the end of producer p-1's range; fill backwards. */
  for (size_t i = g->n_node; i-- > 0;)
    for (size_t k = g->node[i]->n_input; k-- > 0;) {
      const char *in = g->node[i]->input[k];
      if (!in || !*in) continue;
      size_t p = prod[vt_find(&t, in) - t.v];
      if (p) edst[--estart[p]] = i;
    }
  /* estart[p] = start of producer p-1's range, estart[p+1] its end. */
  size_t head = 0, tail = 0;
  for (size_t i = 0; i < g->n_node; i++)
    if (indeg[i] == 0) order[tail++] = i;
  while (head < tail) {
    size_t u = order[head++];
    for (size_t e = estart[u + 1]; e < estart[u + 2]; e++)
      if (--indeg[edst[e]] == 0) order[tail++] = edst[e];
  }
  free(prod);
  free(estart);
  free(edst);
  if (tail == g->n_node && in_order)
    for (size_t i = 0; i < g->n_node; i++) order[i] = i;
  if (tail != g->n_node) {
    size_t bad_node = 0;
    for (size_t i = 0; i < g->n_node; i++)
      if (indeg[i]) {
        bad_node = i;
        break;
      }
    char lb[64];
    rc = dle_error_set(err, DLE_EPARSE, "the graph has a cycle (node '%s' depends on itself)",
                       node_label(g->node[bad_node], bad_node, lb, sizeof lb));
    goto done;
  }

  /* Shapes stated in the file, used only where no rule applies (unknown ops). */
  hint.cap = g->n_value_info + g->n_output + 1;
  hint.nslot = 16;
  while (hint.nslot < 2 * hint.cap) hint.nslot <<= 1;
  hint.v = calloc(hint.cap, sizeof *hint.v);
  hint.slot = calloc(hint.nslot, sizeof *hint.slot);
  if (!hint.v || !hint.slot) {
    rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t j = 0; j < g->n_value_info + g->n_output; j++) {
    const Onnx__ValueInfoProto *vi =
        j < g->n_value_info ? g->value_info[j] : g->output[j - g->n_value_info];
    int rk = 0;
    int64_t dd[DLE_ONNX_MAX_RANK];
    int32_t dt = 0;
    const char *sym;
    if (!vi->name || !*vi->name || vi_shape(vi, &rk, dd, &dt, &sym) != 0) continue;
    bool ok = true;
    uint64_t ne = 1;
    for (int q = 0; q < rk; q++)
      if (dd[q] < 0 || __builtin_mul_overflow(ne, (uint64_t)dd[q], &ne) || ne > DLE_ONNX_MAX_ELEMS)
        ok = false;
    oval *h = ok ? vt_add(&hint, vi->name, &dup) : NULL; /* first statement wins */
    if (!h) continue;
    h->shaped = true;
    h->rank = rk;
    memcpy(h->dims, dd, sizeof dd);
    h->dtype = dt;
  }

  /* Inference in topological order. */
  oval *ins[64], *outs[64];
  for (size_t oi = 0; oi < g->n_node; oi++) {
    size_t i = order[oi];
    const Onnx__NodeProto *n = g->node[i];
    char lb[64];
    c.node_label = node_label(n, i, lb, sizeof lb);
    size_t nin = n->n_input, nout = n->n_output;
    oval **in = nin <= 64 ? ins : calloc(nin, sizeof *in);
    oval **out = nout <= 64 ? outs : calloc(nout, sizeof *out);
    if (!in || !out) {
      if (in != ins) free(in);
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto done;
    }
    uint64_t node_params = 0;
    for (size_t k = 0; k < nin; k++) {
      in[k] = n->input[k] && *n->input[k] ? vt_find(&t, n->input[k]) : NULL;
      if (in[k] && in[k]->param_elems) {
        node_params += in[k]->param_elems;
        in[k]->param_elems = 0;
      }
    }
    for (size_t k = 0; k < nout; k++)
      out[k] = n->output[k] && *n->output[k] ? vt_find(&t, n->output[k]) : NULL;
    uint64_t macs = 0, other = 0;
    bool known = default_domain(n->domain) && dle_onnx_op_known(n->op_type);
    int ir = known ? dle_onnx_infer_node(&c, n, in, nin, out, nout, &macs, &other) : 1;
    if (ir > 0) {
      /* Fall back on value_info / graph outputs for static shapes. */
      for (size_t k = 0; k < nout; k++) {
        if (!out[k] || out[k]->shaped) continue;
        const oval *h = vt_find(&hint, out[k]->name);
        if (!h) continue;
        out[k]->shaped = true;
        out[k]->rank = h->rank;
        memcpy(out[k]->dims, h->dims, sizeof h->dims);
        out[k]->dtype = h->dtype;
      }
    }
    if (in != ins) free(in);
    if (out != outs) free(out);
    if (ir < 0) {
      rc = ir;
      goto done;
    }
    node_entry *ne = &r->nodes[r->n_nodes];
    r->node_names[r->n_nodes] = xstrdup(n->name ? n->name : "");
    op_entry *oe = op_get(r, n, g->n_node + 1, op_slot, op_nslot);
    if (!r->node_names[r->n_nodes] || !oe) {
      rc = dle_error_set(err, DLE_ENOMEM, "out of memory");
      goto done;
    }
    r->n_nodes++;
    ne->name = r->node_names[r->n_nodes - 1];
    ne->op_type = oe->op_type;
    ne->macs = macs;
    ne->other = other;
    ne->params = node_params;
    oval *o0 = nout && n->output[0] && *n->output[0] ? vt_find(&t, n->output[0]) : NULL;
    ne->shaped = o0 && o0->shaped;
    if (ne->shaped) {
      ne->rank = o0->rank;
      memcpy(ne->dims, o0->dims, sizeof ne->dims);
    } else {
      r->unshaped++;
    }
    oe->nodes++;
    if (__builtin_add_overflow(oe->macs, macs, &oe->macs) ||
        __builtin_add_overflow(oe->other, other, &oe->other) ||
        __builtin_add_overflow(r->macs, macs, &r->macs) ||
        __builtin_add_overflow(r->other, other, &r->other) || r->macs > UINT64_MAX / 6) {
      rc = dle_error_set(err, DLE_ERANGE, "node '%s': total counts overflow", c.node_label);
      goto done;
    }
    oe->params += node_params;
  }
done:
  vt_free(&t);
  vt_free(&hint);
  free(op_slot);
  free(order);
  free(indeg);
  return rc;
}

static int op_cmp(const void *a, const void *b) {
  const op_entry *x = a, *y = b;
  if (x->macs != y->macs) return x->macs > y->macs ? -1 : 1;
  if (x->other != y->other) return x->other > y->other ? -1 : 1;
  return strcmp(x->op_type, y->op_type);
}

static int finish_report(dle_onnx_report *r, dle_error *err) {
  /* Node entries point at the op_type strings themselves, not at the entries:
   * sorting the entries leaves them valid. */
  qsort(r->ops, r->n_ops, sizeof *r->ops, op_cmp);
  r->unknown = calloc(r->n_ops + 1, sizeof *r->unknown);
  if (!r->unknown) return dle_error_set(err, DLE_ENOMEM, "out of memory");
  for (size_t i = 0; i < r->n_ops; i++)
    if (!r->ops[i].known) r->unknown[r->n_unknown++] = i;
  /* Sort unknown ops by name. Unknown ops count no MACs or other FLOPs, so op_cmp
   * has already put them in name order among themselves: this insertion sort only
   * confirms it, in linear time. */
  for (size_t i = 1; i < r->n_unknown; i++)
    for (size_t j = i; j > 0 && strcmp(r->ops[r->unknown[j - 1]].op_type,
                                       r->ops[r->unknown[j]].op_type) > 0; j--) {
      size_t tmp = r->unknown[j];
      r->unknown[j] = r->unknown[j - 1];
      r->unknown[j - 1] = tmp;
    }
  return 0;
}

int dle_onnx_analyze_buffer(const void *data, size_t len, const dle_onnx_input_override *inputs,
                            size_t n_inputs, dle_onnx_report **out, dle_error *err) {
  if (!out) return dle_error_set(err, DLE_EINVAL, "no output pointer");
  *out = NULL;
  if (!data && len) return dle_error_set(err, DLE_EINVAL, "no data");
  if (n_inputs && !inputs) return dle_error_set(err, DLE_EINVAL, "no input overrides");
  if (len == 0) return dle_error_set(err, DLE_EPARSE, "not an ONNX model: empty file");
  if ((uint64_t)len > DLE_ONNX_MAX_FILE_BYTES)
    return dle_error_set(err, DLE_ERANGE, "model is larger than 2 GiB (protobuf's limit)");
  uint8_t *small = NULL;
  size_t small_len = 0;
  int rc = dle_onnx_strip_weights(data, len, &small, &small_len, NULL, err);
  if (rc) return rc;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, small_len, small);
  free(small);
  if (!m)
    return dle_error_set(err, DLE_EPARSE,
                         "not a valid ONNX model: protobuf decoding failed (truncated or corrupt)");
  dle_onnx_report *r = calloc(1, sizeof *r);
  if (!r) {
    onnx__model_proto__free_unpacked(m, NULL);
    return dle_error_set(err, DLE_ENOMEM, "out of memory");
  }
  rc = analyze_model(m, inputs, n_inputs, r, err);
  onnx__model_proto__free_unpacked(m, NULL);
  if (rc == 0) rc = finish_report(r, err);
  if (rc) {
    dle_onnx_report_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int dle_onnx_analyze(const char *path, const dle_onnx_input_override *inputs, size_t n_inputs,
                     dle_onnx_report **out, dle_error *err) {
  if (!path || !out) return dle_error_set(err, DLE_EINVAL, "no path");
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return dle_error_set(err, e == ENOENT ? DLE_ENOTFOUND : DLE_EIO, "%s: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return dle_error_set(err, DLE_EIO, "%s: not a regular file", path);
  }
  if ((uint64_t)st.st_size > DLE_ONNX_MAX_FILE_BYTES) {
    close(fd);
    return dle_error_set(err, DLE_ERANGE,
                         "%s: %lld bytes is larger than 2 GiB (protobuf's limit for one model)",
                         path, (long long)st.st_size);
  }
  if (st.st_size == 0) {
    close(fd);
    return dle_error_set(err, DLE_EPARSE, "%s: not an ONNX model: empty file", path);
  }
  /* mmap: the weight bytes are only paged in as the filter skims past them. */
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return dle_error_set(err, DLE_EIO, "%s: mmap: %s", path, strerror(errno));
  int rc = dle_onnx_analyze_buffer(map, (size_t)st.st_size, inputs, n_inputs, out, err);
  munmap(map, (size_t)st.st_size);
  if (rc) dle_error_prefix(err, "%s: ", path);
  return rc;
}

/* ---------- accessors ---------- */

uint64_t dle_onnx_report_macs(const dle_onnx_report *r) { return r ? r->macs : 0; }
uint64_t dle_onnx_report_flops(const dle_onnx_report *r) { return r ? 2 * r->macs : 0; }
uint64_t dle_onnx_report_other_flops(const dle_onnx_report *r) { return r ? r->other : 0; }
uint64_t dle_onnx_report_params(const dle_onnx_report *r) { return r ? r->params : 0; }
double dle_onnx_report_training_flops_per_sample(const dle_onnx_report *r) {
  if (!r) return 0;
  return 3.0 * 2.0 * (double)r->macs / (double)(r->batch > 0 ? r->batch : 1);
}
int64_t dle_onnx_report_batch(const dle_onnx_report *r) { return r ? r->batch : 0; }
size_t dle_onnx_report_node_count(const dle_onnx_report *r) { return r ? r->n_nodes : 0; }
size_t dle_onnx_report_unshaped_node_count(const dle_onnx_report *r) {
  return r ? r->unshaped : 0;
}
int64_t dle_onnx_report_ir_version(const dle_onnx_report *r) { return r ? r->ir_version : 0; }
int64_t dle_onnx_report_opset(const dle_onnx_report *r) { return r ? r->opset : 0; }
const char *dle_onnx_report_producer(const dle_onnx_report *r) {
  return r && r->producer ? r->producer : "";
}
const char *dle_onnx_report_input_name(const dle_onnx_report *r) {
  return r && r->input_name ? r->input_name : "";
}
size_t dle_onnx_report_input_shape(const dle_onnx_report *r, int64_t dims[DLE_ONNX_MAX_RANK]) {
  if (!r) return 0;
  for (int i = 0; i < r->input_rank; i++) dims[i] = r->input_dims[i];
  return (size_t)r->input_rank;
}
size_t dle_onnx_report_op_type_count(const dle_onnx_report *r) { return r ? r->n_ops : 0; }
int dle_onnx_report_op_type(const dle_onnx_report *r, size_t i, dle_onnx_op_stats *out) {
  if (!r || !out || i >= r->n_ops) return DLE_ERANGE;
  const op_entry *e = &r->ops[i];
  out->op_type = e->op_type;
  out->nodes = e->nodes;
  out->macs = e->macs;
  out->other_flops = e->other;
  out->params = e->params;
  out->known = e->known;
  return 0;
}
size_t dle_onnx_report_unknown_op_count(const dle_onnx_report *r) {
  return r ? r->n_unknown : 0;
}
int dle_onnx_report_unknown_op(const dle_onnx_report *r, size_t i, const char **op_type,
                               uint64_t *nodes) {
  if (!r || i >= r->n_unknown) return DLE_ERANGE;
  const op_entry *e = &r->ops[r->unknown[i]];
  if (op_type) *op_type = e->op_type;
  if (nodes) *nodes = e->nodes;
  return 0;
}
int dle_onnx_report_node(const dle_onnx_report *r, size_t i, dle_onnx_node_info *out) {
  if (!r || !out || i >= r->n_nodes) return DLE_ERANGE;
  const node_entry *e = &r->nodes[i];
  out->name = e->name;
  out->op_type = e->op_type;
  out->macs = e->macs;
  out->other_flops = e->other;
  out->params = e->params;
  out->shaped = e->shaped;
  out->out_rank = e->shaped ? (size_t)e->rank : 0;
  memset(out->out_dims, 0, sizeof out->out_dims);
  for (int k = 0; k < e->rank && e->shaped; k++) out->out_dims[k] = e->dims[k];
  return 0;
}
