/* Declarations shared by the ONNX front end's files (not part of any other stage). */
#ifndef KILN_FRONTEND_ONNX_INTERNAL_H
#define KILN_FRONTEND_ONNX_INTERNAL_H

#include "frontend/onnx.h"
#include "ir/diag.h"
#include "onnx/onnx.pb-c.h"

/* protobuf-c leaves absent proto2 strings NULL. */
#define KILN_ONNX_STR(s) ((s) ? (s) : "")

/* ---- symbol tables (onnx_symtab.c): value name -> value id, one per (sub)graph scope -- */
typedef struct kiln_onnx_symtab kiln_onnx_symtab;
kiln_onnx_symtab *kiln_onnx_symtab_new(const kiln_onnx_symtab *parent);
void kiln_onnx_symtab_free(kiln_onnx_symtab *s);
/* Looks the name up in s, then in its enclosing scopes; -1 if undefined. */
int kiln_onnx_symtab_get(const kiln_onnx_symtab *s, const char *name);
/* This scope only. */
int kiln_onnx_symtab_get_local(const kiln_onnx_symtab *s, const char *name);
void kiln_onnx_symtab_put(kiln_onnx_symtab *s, const char *name, int id);

/* ---- tensors (onnx_tensor.c) ---------------------------------------------------------- */
/* TensorProto -> dense tensor, checking every size against the data present. `what`
 * names the tensor in errors (e.g. "initializer 'w'"); base_dir locates external data
 * (NULL: external data is an error). */
kiln_status kiln_onnx_tensor_from_proto(const Onnx__TensorProto *p, const char *what,
                                        const char *base_dir, kiln_tensor *t,
                                        kiln_error *err);

/* A relative path that stays under base_dir: no leading '/', no ".." component. */
bool kiln_onnx_safe_path(const char *s);
/* The newest default-domain opset kiln reads. */
#define KILN_ONNX_MAX_OPSET 28

/* ---- hostile-input guard (onnx_depth.c) ----------------------------------------------- */
#define KILN_ONNX_MAX_NESTING 256
/* False (with *why) when the bytes are not well-formed wire format for desc, or nest
 * messages deeper than max_depth (protobuf-c's unpack would recurse that deep). */
bool kiln_onnx_depth_ok(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                        int max_depth, const char **why);

/* ---- import context (onnx_import.c) --------------------------------------------------- */
typedef struct kiln_onnx_unsup {
  char *op;   /* op type as written ("com.ms.Foo" for other domains) */
  char *node; /* node name */
} kiln_onnx_unsup;

typedef struct kiln_onnx_ctx {
  kiln_graph *g;
  const char *base_dir;
  int depth;                /* subgraph nesting, bounded against hostile files */
  kiln_onnx_unsup *unsup;   /* unsupported ops found so far, reported together */
  int nunsup, unsup_cap;
  kiln_diags *diags;        /* collect mode (`kiln check`): problems go here, import goes on */
} kiln_onnx_ctx;

/* The ModelProto in data, after the nesting guard (free with
 * onnx__model_proto__free_unpacked). */
kiln_status kiln_onnx_unpack(const void *data, size_t size, Onnx__ModelProto **out,
                             kiln_error *err);
/* The graph of an unpacked model. With diags (collect mode), every problem confined to a
 * value or a node (an unsupported op, element type or attribute, an external data file
 * missing, a newer opset) is recorded there, the values it defines tainted, and the
 * import goes on; only a malformed structure fails it. */
kiln_status kiln_onnx_import_model(const Onnx__ModelProto *m, const char *base_dir,
                                   kiln_diags *diags, kiln_graph **out, kiln_error *err);

/* Imports one GraphProto's initializers, inputs, nodes and outputs into block b, in a
 * new scope nested in `parent` (NULL for the main graph, which also fills g->inputs and
 * marks inputs/outputs). */
kiln_status kiln_onnx_import_graph(kiln_onnx_ctx *c, const Onnx__GraphProto *gp,
                                   const kiln_onnx_symtab *parent, kiln_block *b,
                                   kiln_error *err);

/* ---- attributes (onnx_attr.c) --------------------------------------------------------- */
/* AttributeProto -> kiln_attr (cleared on error); GRAPH(S) are imported as blocks whose
 * names resolve through `scope`. */
kiln_status kiln_onnx_convert_attr(kiln_onnx_ctx *c, const char *node, const char *op_type,
                                   const Onnx__AttributeProto *ap,
                                   const kiln_onnx_symtab *scope, kiln_attr *out,
                                   kiln_error *err);
const char *kiln_onnx_attr_type_name(kiln_attr_type t);

/* ---- opset rewriting (onnx_opset.c) --------------------------------------------------- */
/* Rewrites node `id`, written for g->opset, to the newest signature the op table uses
 * (attributes that became inputs turn into new constant values, etc.). */
kiln_status kiln_onnx_upgrade_node(kiln_graph *g, int id, kiln_error *err);

/* ---- validation (onnx_check.c) -------------------------------------------------------- */
/* One error listing every unsupported op, or KILN_OK when there is none. */
kiln_status kiln_onnx_report_unsupported(const kiln_onnx_ctx *c, kiln_error *err);
/* Arity within the op's bounds; required attributes present and of the declared type. */
kiln_status kiln_onnx_check_node(const kiln_node *n, kiln_error *err);

#endif
