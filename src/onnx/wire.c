/* wire.c — drops large weight payloads from a serialized ModelProto before it
 * is decoded, so that a model that embeds its weights costs graph-sized memory.
 *
 * Only the graph's initializers (ModelProto.graph = 7, GraphProto.initializer = 5)
 * are rewritten: a TensorProto whose data fields (float_data 4, int32_data 5,
 * string_data 6, int64_data 7, raw_data 9, double_data 10, uint64_data 11) hold
 * more than DLE_ONNX_KEEP_DATA_BYTES is copied without them. Small tensors (the
 * shape constants that constant folding needs) are kept intact. Every other
 * field is copied byte for byte. The wire format is validated on the way: a
 * truncated varint, a length past the end or a group tag is a parse error. */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

typedef struct rd {
  const uint8_t *p;
  size_t n, off;
} rd;

static int get_varint(rd *r, uint64_t *v) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->off >= r->n) return -1;
    uint8_t b = r->p[r->off++];
    x |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = x;
      return 0;
    }
  }
  return -1; /* more than 10 bytes */
}

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static size_t put_varint(uint8_t *o, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    o[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  o[n++] = (uint8_t)v;
  return n;
}

/* One field: its number, wire type, and where its bytes are. */
typedef struct field {
  uint32_t num;
  uint32_t wt;
  size_t start;      /* offset of the tag */
  size_t payload;    /* offset of the payload (after the length for LEN) */
  size_t payload_len;
  size_t end;        /* offset after the field */
} field;

static int next_field(rd *r, field *f) {
  f->start = r->off;
  uint64_t tag;
  if (get_varint(r, &tag) != 0) return -1;
  f->num = (uint32_t)(tag >> 3);
  f->wt = (uint32_t)(tag & 7);
  if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff) return -1;
  uint64_t len = 0;
  switch (f->wt) {
  case 0: {
    uint64_t v;
    if (get_varint(r, &v) != 0) return -1;
    f->payload = f->start;
    f->payload_len = 0;
    f->end = r->off;
    return 0;
  }
  case 1: len = 8; break;
  case 5: len = 4; break;
  case 2:
    if (get_varint(r, &len) != 0) return -1;
    break;
  default: return -1; /* groups (3, 4) are not used by onnx.proto; 6, 7 invalid */
  }
  if (len > r->n - r->off) return -1;
  f->payload = r->off;
  f->payload_len = (size_t)len;
  r->off += (size_t)len;
  f->end = r->off;
  return 0;
}

static bool is_tensor_data_field(uint32_t num) {
  return num == 4 || num == 5 || num == 6 || num == 7 || num == 9 || num == 10 || num == 11;
}

/* level 0 = ModelProto, 1 = GraphProto, 2 = TensorProto (initializer).
 * Writes the filtered message to out when out != NULL; returns its size, or
 * (size_t)-1 on malformed input. */
static size_t filter_msg(int level, const uint8_t *in, size_t len, uint8_t *out,
                         size_t *stripped) {
  rd r = {in, len, 0};
  bool drop_data = false;
  if (level == 2) {
    uint64_t data_bytes = 0;
    field f;
    while (r.off < r.n) {
      if (next_field(&r, &f) != 0) return (size_t)-1;
      if (is_tensor_data_field(f.num)) data_bytes += f.end - f.start;
    }
    drop_data = data_bytes > DLE_ONNX_KEEP_DATA_BYTES;
    r.off = 0;
  }
  size_t o = 0;
  field f;
  while (r.off < r.n) {
    if (next_field(&r, &f) != 0) return (size_t)-1;
    bool nested = f.wt == 2 && ((level == 0 && f.num == 7) || (level == 1 && f.num == 5));
    if (nested) {
      size_t sub = filter_msg(level + 1, in + f.payload, f.payload_len, NULL, stripped);
      if (sub == (size_t)-1) return (size_t)-1;
      size_t taglen = f.payload - f.start - varint_len(f.payload_len);
      if (out) {
        memcpy(out + o, in + f.start, taglen);
        size_t vl = put_varint(out + o + taglen, sub);
        if (filter_msg(level + 1, in + f.payload, f.payload_len, out + o + taglen + vl,
                       NULL) != sub)
          return (size_t)-1;
      }
      o += taglen + varint_len(sub) + sub;
    } else if (drop_data && is_tensor_data_field(f.num)) {
      if (stripped && !out) *stripped += f.end - f.start;
    } else {
      if (out) memcpy(out + o, in + f.start, f.end - f.start);
      o += f.end - f.start;
    }
  }
  return o;
}

int dle_onnx_strip_weights(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len,
                           size_t *stripped_bytes, dle_error *err) {
  size_t stripped = 0;
  size_t n = filter_msg(0, in, len, NULL, &stripped);
  if (n == (size_t)-1)
    return dle_error_set(err, DLE_EPARSE,
                         "not a valid ONNX model: malformed protobuf (truncated or corrupt file)");
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return dle_error_set(err, DLE_ENOMEM, "out of memory (%zu bytes)", n);
  if (filter_msg(0, in, len, buf, NULL) != n) {
    free(buf);
    return dle_error_set(err, DLE_EINTERNAL, "weight filter size mismatch");
  }
  *out = buf;
  *out_len = n;
  if (stripped_bytes) *stripped_bytes = stripped;
  return 0;
}
