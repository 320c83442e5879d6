/* AttributeProto -> kiln_attr, every attribute type; GRAPH attributes (If branches, loop
 * bodies) are imported as blocks sharing the graph's value table. */
#include "frontend/onnx_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

const char *kiln_onnx_attr_type_name(kiln_attr_type t) {
  static const char *const names[] = {"?",      "float",  "int",     "string",  "tensor",
                                      "graph",  "floats", "ints",    "strings", "tensors",
                                      "graphs"};
  return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Old writers (IR version 1) left `type` out: tell it from the field that is set. */
static int guess_type(const Onnx__AttributeProto *ap) {
  if (ap->has_type) return ap->type;
  if (ap->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
  if (ap->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  if (ap->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
  if (ap->n_tensors) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS;
  if (ap->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
  if (ap->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
  if (ap->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
  if (ap->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
  if (ap->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
  if (ap->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
  if (ap->sparse_tensor) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
  if (ap->tp) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO;
  return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static char *bytes_dup(ProtobufCBinaryData b) { /* NUL-terminated copy of a bytes field */
  char *s = kiln_xmalloc(b.len + 1);
  if (b.len) memcpy(s, b.data, b.len);
  s[b.len] = 0;
  return s;
}

static kiln_status convert_tensor(const Onnx__TensorProto *tp, const char *node,
                                  const char *op_type, const char *name, kiln_onnx_ctx *c,
                                  kiln_tensor *out, kiln_error *err) {
  char *what = kiln_fmt("node '%s' (%s): attribute '%s'", node, op_type, name);
  kiln_status st = kiln_onnx_tensor_from_proto(tp, what, c->base_dir, out, err);
  free(what);
  return st;
}

/* A string tensor: kiln has no string constants, so its elements, in order, become a list
 * of strings (KILN_ATTR_STRINGS), which the ops that take one accept (KILN_OP_STRING_ATTRS). */
static kiln_status convert_strings(const Onnx__TensorProto *tp, const char *node,
                                   const char *op_type, kiln_attr *a, kiln_error *err) {
  int64_t n = 1;
  for (size_t d = 0; d < tp->n_dims; d++)
    if (tp->dims[d] < 0 || __builtin_mul_overflow(n, tp->dims[d], &n) || n > INT_MAX)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): attribute '%s': a string "
                       "tensor of a bad shape", node, op_type, a->name);
  if ((size_t)n != tp->n_string_data)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): attribute '%s': a string tensor "
                     "of %lld elements holds %zu strings", node, op_type, a->name, (long long)n,
                     tp->n_string_data);
  a->type = KILN_ATTR_STRINGS;
  a->count = (int)n;
  a->strings = kiln_xcalloc((size_t)(n ? n : 1), sizeof(char *));
  for (int64_t i = 0; i < n; i++) a->strings[i] = bytes_dup(tp->string_data[i]);
  return KILN_OK;
}

static kiln_status convert_graph(kiln_onnx_ctx *c, const Onnx__GraphProto *gp,
                                 const kiln_onnx_symtab *scope, kiln_block **out,
                                 kiln_error *err) {
  *out = kiln_block_new(); /* owned by the attribute from here, freed with it */
  return kiln_onnx_import_graph(c, gp, scope, *out, err);
}

static kiln_status convert(kiln_onnx_ctx *c, const char *node, const char *op_type,
                           const Onnx__AttributeProto *ap, const kiln_onnx_symtab *scope,
                           kiln_attr *a, kiln_error *err) {
  const char *name = a->name;
  switch (guess_type(ap)) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    a->type = KILN_ATTR_FLOAT;
    a->f = ap->f;
    return KILN_OK;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
    a->type = KILN_ATTR_INT;
    a->i = ap->i;
    return KILN_OK;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    a->type = KILN_ATTR_STRING;
    a->s = bytes_dup(ap->s);
    return KILN_OK;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
    a->type = KILN_ATTR_TENSOR;
    if (!ap->t) break;
    if (ap->t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__STRING)
      return convert_strings(ap->t, node, op_type, a, err);
    a->tensors = kiln_xcalloc(1, sizeof(kiln_tensor));
    a->count = 1;
    return convert_tensor(ap->t, node, op_type, name, c, &a->tensors[0], err);
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
    a->type = KILN_ATTR_GRAPH;
    if (!ap->g) break;
    a->graphs = kiln_xcalloc(1, sizeof(kiln_block *));
    a->count = 1;
    return convert_graph(c, ap->g, scope, &a->graphs[0], err);
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
    a->type = KILN_ATTR_FLOATS;
    if (ap->n_floats > INT_MAX) break;
    a->count = (int)ap->n_floats;
    a->floats = kiln_xcalloc(ap->n_floats, sizeof(double));
    for (size_t i = 0; i < ap->n_floats; i++) a->floats[i] = ap->floats[i];
    return KILN_OK;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
    a->type = KILN_ATTR_INTS;
    if (ap->n_ints > INT_MAX) break;
    a->count = (int)ap->n_ints;
    a->ints = kiln_xcalloc(ap->n_ints, sizeof(int64_t));
    if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
    return KILN_OK;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
    a->type = KILN_ATTR_STRINGS;
    if (ap->n_strings > INT_MAX) break;
    a->count = (int)ap->n_strings;
    a->strings = kiln_xcalloc(ap->n_strings, sizeof(char *));
    for (size_t i = 0; i < ap->n_strings; i++) a->strings[i] = bytes_dup(ap->strings[i]);
    return KILN_OK;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS:
    a->type = KILN_ATTR_TENSORS;
    if (ap->n_tensors > INT_MAX) break;
    a->count = (int)ap->n_tensors;
    a->tensors = kiln_xcalloc(ap->n_tensors, sizeof(kiln_tensor));
    for (size_t i = 0; i < ap->n_tensors; i++)
      if (convert_tensor(ap->tensors[i], node, op_type, name, c, &a->tensors[i], err)) return err->code;
    return KILN_OK;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
    a->type = KILN_ATTR_GRAPHS;
    if (ap->n_graphs > INT_MAX) break;
    a->count = (int)ap->n_graphs;
    a->graphs = kiln_xcalloc(ap->n_graphs, sizeof(kiln_block *));
    for (size_t i = 0; i < ap->n_graphs; i++)
      if (convert_graph(c, ap->graphs[i], scope, &a->graphs[i], err)) return err->code;
    return KILN_OK;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s': sparse tensor attributes are not supported", node, op_type, name);
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s': type attributes are not supported", node, op_type, name);
  default:
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): attribute '%s' has an unknown type %d", node, op_type, name, (int)ap->type);
  }
  return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): attribute '%s' is malformed", node, op_type, name);
}

kiln_status kiln_onnx_convert_attr(kiln_onnx_ctx *c, const char *node, const char *op_type,
                                   const Onnx__AttributeProto *ap,
                                   const kiln_onnx_symtab *scope, kiln_attr *out,
                                   kiln_error *err) {
  memset(out, 0, sizeof *out);
  out->name = kiln_xstrdup(KILN_ONNX_STR(ap->name));
  if (ap->ref_attr_name && *ap->ref_attr_name) {
    kiln_attr_clear(out);
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' refers to a function attribute", node, op_type, KILN_ONNX_STR(ap->name));
  }
  kiln_status st = convert(c, node, op_type, ap, scope, out, err);
  if (st) kiln_attr_clear(out);
  return st;
}
