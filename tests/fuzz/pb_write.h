/* A few lines of protobuf wire-format writing, enough to build ONNX models in memory for
 * the hostile-input tests (absurd sizes, deep graphs, deep nesting) without Python or
 * files. Header-only; a pb_buf is a growable byte string. Field numbers are onnx.proto's. */
#ifndef KILN_TESTS_FUZZ_PB_WRITE_H
#define KILN_TESTS_FUZZ_PB_WRITE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pb_buf {
  uint8_t *d;
  size_t n, cap;
} pb_buf;

static inline void pb_raw(pb_buf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 256;
    b->d = realloc(b->d, b->cap);
  }
  if (n) memcpy(b->d + b->n, p, n);
  b->n += n;
}

static inline void pb_uvarint(pb_buf *b, uint64_t v) {
  uint8_t t[10];
  int n = 0;
  do {
    t[n] = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) t[n] |= 0x80;
    n++;
  } while (v);
  pb_raw(b, t, (size_t)n);
}

static inline void pb_int(pb_buf *b, int field, int64_t v) {
  pb_uvarint(b, (uint64_t)field << 3);
  pb_uvarint(b, (uint64_t)v);
}

static inline void pb_bytes(pb_buf *b, int field, const void *p, size_t n) {
  pb_uvarint(b, (uint64_t)field << 3 | 2);
  pb_uvarint(b, n);
  pb_raw(b, p, n);
}

static inline void pb_str(pb_buf *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Appends sub as a message field and frees it. */
static inline void pb_msg(pb_buf *b, int field, pb_buf *sub) {
  pb_bytes(b, field, sub->d, sub->n);
  free(sub->d);
  *sub = (pb_buf){0};
}

/* ---- ONNX ------------------------------------------------------------------------------- */

/* ValueInfoProto of a tensor: elem_type and dims (a dim < 0 is the symbolic "N"). */
static inline void onnx_value_info(pb_buf *graph, int field, const char *name, int elem_type,
                                   int rank, const int64_t *dims) {
  pb_buf shape = {0}, tensor = {0}, type = {0}, vi = {0};
  for (int i = 0; i < rank; i++) {
    pb_buf dim = {0};
    if (dims[i] < 0) pb_str(&dim, 2, "N");
    else pb_int(&dim, 1, dims[i]);
    pb_msg(&shape, 1, &dim);
  }
  pb_int(&tensor, 1, elem_type);
  pb_msg(&tensor, 2, &shape);
  pb_msg(&type, 1, &tensor);
  pb_str(&vi, 1, name);
  pb_msg(&vi, 2, &type);
  pb_msg(graph, field, &vi);
}
static inline void onnx_input(pb_buf *g, const char *name, int rank, const int64_t *dims) {
  onnx_value_info(g, 11, name, 1, rank, dims); /* f32 */
}
static inline void onnx_output(pb_buf *g, const char *name, int rank, const int64_t *dims) {
  onnx_value_info(g, 12, name, 1, rank, dims);
}

/* NodeProto with up to two inputs (in2 may be NULL) and one output. */
static inline void onnx_node(pb_buf *g, const char *op, const char *in1, const char *in2,
                             const char *out) {
  pb_buf n = {0};
  pb_str(&n, 1, in1);
  if (in2) pb_str(&n, 1, in2);
  pb_str(&n, 2, out);
  pb_str(&n, 4, op);
  pb_msg(g, 1, &n);
}

/* An initializer: dims as declared, raw_data of `bytes` bytes from data (f32). */
static inline void onnx_initializer(pb_buf *g, const char *name, int elem_type, int rank,
                                    const int64_t *dims, const void *data, size_t bytes) {
  pb_buf t = {0};
  for (int i = 0; i < rank; i++) pb_int(&t, 1, dims[i]);
  pb_int(&t, 2, elem_type);
  pb_str(&t, 8, name);
  pb_bytes(&t, 9, data, bytes);
  pb_msg(g, 5, &t);
}

/* ModelProto (IR 8, opset 17) around graph (consumed). */
static inline pb_buf onnx_model(pb_buf *graph) {
  pb_buf m = {0}, opset = {0};
  pb_int(&m, 1, 8);
  pb_str(graph, 2, "g");
  pb_msg(&m, 7, graph);
  pb_int(&opset, 2, 17);
  pb_msg(&m, 8, &opset);
  return m;
}

/* x: f32[n] -> `depth` chained Relu nodes -> y. */
static inline pb_buf onnx_relu_chain(int64_t n, int depth) {
  pb_buf g = {0};
  onnx_input(&g, "x", 1, &n);
  char in[32] = "x", out[32];
  for (int i = 0; i < depth; i++) {
    if (i == depth - 1) strcpy(out, "y");
    else snprintf(out, sizeof out, "v%d", i);
    onnx_node(&g, "Relu", in, NULL, out);
    strcpy(in, out);
  }
  onnx_output(&g, "y", 1, &n);
  return onnx_model(&g);
}

#endif
