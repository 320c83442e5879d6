/* The graph IR: values (tensors with a dtype and a static shape), nodes applying ops to
 * them, and blocks (ordered node lists) for the main graph, If branches and loop bodies.
 *
 * One value table serves the whole model, subgraphs included, so a branch refers to an
 * outer value by its id exactly as the main graph does. Nodes are stored once in the graph
 * and listed, in execution order, by the block that runs them. */
#ifndef KILN_IR_GRAPH_H
#define KILN_IR_GRAPH_H

#include "ir/choice.h"
#include "ir/symdim.h"
#include "ir/util.h"

typedef struct kiln_op_def kiln_op_def;
typedef struct kiln_block kiln_block;

typedef enum kiln_attr_type {
  KILN_ATTR_FLOAT = 1, KILN_ATTR_INT, KILN_ATTR_STRING, KILN_ATTR_TENSOR, KILN_ATTR_GRAPH,
  KILN_ATTR_FLOATS, KILN_ATTR_INTS, KILN_ATTR_STRINGS, KILN_ATTR_TENSORS, KILN_ATTR_GRAPHS
} kiln_attr_type;

/* A constant tensor: an initializer, a Constant node's value, a tensor attribute. */
typedef struct kiln_tensor {
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  void *data; /* dense row-major, owned; NULL only for zero-sized tensors */
} kiln_tensor;

typedef struct kiln_attr {
  char *name;
  kiln_attr_type type;
  int64_t i;
  double f;
  char *s;
  int count;      /* number of elements in ints / floats / strings / tensors / graphs */
  int64_t *ints;
  double *floats;
  char **strings;
  kiln_tensor *tensors; /* TENSOR: tensors[0] */
  kiln_block **graphs;  /* GRAPH: graphs[0] */
} kiln_attr;

/* Sequences and optionals exist only at compile time (ir/ops/sequence.c): a sequence is a
 * list of tensor values whose length is known, an optional holds one value (a tensor or a
 * sequence) or none. Ops on them resolve during shape inference into plain tensor nodes,
 * so no later pass sees one. */
#define KILN_MAX_SEQ_LEN 10000 /* elements of one sequence, iterations of one unrolled loop */

typedef enum kiln_value_kind { KILN_KIND_TENSOR = 0, KILN_KIND_SEQUENCE, KILN_KIND_OPTIONAL } kiln_value_kind;

typedef struct kiln_value {
  char *name;
  kiln_dtype dtype;       /* KILN_UNDEFINED until inferred */
  int rank;               /* -1 until inferred */
  int64_t dims[KILN_MAX_RANK];
  char *dim_names[KILN_MAX_RANK]; /* symbolic name of a free dim (graph inputs), else NULL */
  void *data;             /* constant contents (owned), or NULL */
  int producer;           /* id of the node that writes it, -1 for inputs and constants */
  bool is_input, is_output;
  char *layout;           /* for reports, when its dims are a packed form of another tensor's:
                             the layout pass's blocked tensors ("NCHW16c": [N, C/16, H, W,
                             16]) and packed weights (owned; NULL = plain) */
  kiln_value_kind kind;   /* SEQUENCE / OPTIONAL: dtype is the element type; a graph input
                             keeps its elements' declared shape in rank and dims */
  int *elems;             /* their value ids (owned): a sequence's elements, an optional's
                             one value or none */
  int nelems;             /* -1 until resolved (or, for a graph input, bound) */
  /* Placement (passes/place_concat.c): 1 + the value whose storage holds this one's
   * elements, 0 for its own storage. Element e (row-major) then lives at host element
   * place_off + (e / place_row) * place_pitch + e % place_row. */
  int placed_in;
  int64_t place_off, place_row, place_pitch;
  int sym[KILN_MAX_RANK]; /* 0: dims[d] is exact; else dims[d] is free (kiln_options.
                             symbolic_dims), its polynomial kiln_graph.symdims[sym[d] - 1]
                             and dims[d] that polynomial at the syms' hints */
  int *sym_data;          /* a shape computation's int constant (Shape of a value with free
                             dims, what Gather, Concat, Mul... make of it): per element (owned,
                             numel of them) 0 when data holds its value, else 1 + the
                             kiln_graph.symdims index of its polynomial, whose value at the
                             syms' hints data holds; NULL: data is exact */
} kiln_value;

typedef struct kiln_node {
  char *name;           /* never NULL: importers invent "<op>_<n>" for unnamed nodes */
  char *op_type;        /* as written in the model */
  const kiln_op_def *op; /* NULL for a node removed from the graph */
  int ninputs, noutputs;
  int *inputs;          /* value ids; -1 for an omitted optional input */
  int *outputs;
  int nattrs;
  kiln_attr *attrs;
} kiln_node;

struct kiln_block {
  int *nodes; /* node ids in execution order */
  int nnodes, cap;
  int *outputs; /* value ids the block yields (an If branch's results) */
  int noutputs;
  int *inputs;  /* a loop or scan body's parameters, in order (value ids) */
  int ninputs;
};

typedef struct kiln_graph {
  kiln_value *values;
  int nvalues, values_cap;
  kiln_node *nodes;
  int nnodes, nodes_cap;
  kiln_block main;      /* main.outputs are the graph outputs */
  int *inputs;          /* graph inputs (not initializers), in declaration order */
  int ninputs;
  int opset;            /* default-domain opset the model was written for */
  char *name;
  /* free dims left free (ir/symdim.h): sym i is named sym_names[i], typical value sym_hint[i] */
  int nsyms;
  char *sym_names[KILN_MAX_SYMS];
  int64_t sym_hint[KILN_MAX_SYMS];
  /* the least and most sizes a free dim's dims were found to hold at, 0 where none
   * (passes/infer_sym.c: a Slice to a constant end follows another rule below it); bit s
   * of sym_zero_holds / sym_zero_fails: some node's probe of size 0 held / did not (a free
   * dim may be 0 where one held and none failed) */
  int64_t sym_lo[KILN_MAX_SYMS], sym_hi[KILN_MAX_SYMS];
  uint32_t sym_zero_holds, sym_zero_fails;
  /* a free dim must be a multiple of sym_step[s] (0: any), a block size it is cut into
   * (SpaceToDepth's H and W), which a run checks when it binds the dim */
  int64_t sym_step[KILN_MAX_SYMS];
  kiln_symdiv sym_def[KILN_MAX_SYMS]; /* den 0: a free input dim; else derived (symdim.h) */
  /* bit s: data sym s is min(sym_min_of[s], its bound), a polynomial reading another data
   * sym clamped to a constant (a Slice to the first 150 of NMS's count, TopK's
   * k = min(count, 1000)), which a kernel stores into the run's dims before the first node
   * that reads it (passes/lower.c) */
  uint32_t sym_min;
  kiln_symdim sym_min_of[KILN_MAX_SYMS];
  /* while a node is inferred or lowered the points of the free dims a division reads are
   * moved up by sym_shift (passes/infer_sym.c, lower_dyn.c); sym_shift_infer is the most
   * a node's shapes needed (later nodes start there) */
  int64_t sym_shift, sym_shift_infer;
  /* lowering for a GPU (kiln_target_gpu): lowerings leave out forms that pay on a CPU only
   * (a strided convolution's input split by phase, whose indices are not affine, so that
   * a GPU schedule could not stage it in shared memory) */
  bool lower_gpu;
  kiln_symdim *symdims; /* the polynomials values' sym[] index (from 1) */
  int nsymdims, symdims_cap;
  kiln_choices choices; /* what passes chose where a tuner may choose otherwise (ir/choice.h) */
} kiln_graph;

kiln_graph *kiln_graph_new(void);
void kiln_graph_free(kiln_graph *g);
kiln_block *kiln_block_new(void);
void kiln_block_free(kiln_block *b);

/* Adds a value with unknown type and shape; returns its id. */
int kiln_graph_add_value(kiln_graph *g, const char *name);
/* Id of the value with that name, or -1. Linear: importers keep their own symbol table. */
int kiln_graph_find_value(const kiln_graph *g, const char *name);
/* Adds a node (op resolved from op_type through the op table, may be NULL if unknown) and
 * appends it to block b. Inputs and outputs are copied; returns the node id. */
int kiln_graph_add_node(kiln_graph *g, kiln_block *b, const char *op_type, const char *name,
                        const int *inputs, int ninputs, const int *outputs, int noutputs);
/* Same, inserting the node at position pos of block b (expansions of one node into many). */
int kiln_graph_insert_node(kiln_graph *g, kiln_block *b, int pos, const char *op_type,
                           const char *name, const int *inputs, int ninputs,
                           const int *outputs, int noutputs);
/* Takes the node at position pos out of block b and marks it removed (op = NULL). */
void kiln_block_remove(kiln_graph *g, kiln_block *b, int pos);
kiln_attr *kiln_node_add_attr(kiln_node *n, const char *name, kiln_attr_type type);
const kiln_attr *kiln_node_attr(const kiln_node *n, const char *name); /* NULL if absent */

/* Makes v a resolved sequence or optional of the n values in elems (copied). */
void kiln_value_set_elems(kiln_value *v, kiln_value_kind kind, const int *elems, int n);

/* Makes value v a constant holding t's data (ownership of t->data moves to v). */
void kiln_value_set_const(kiln_value *v, kiln_tensor *t);
int64_t kiln_value_numel(const kiln_value *v);
int64_t kiln_shape_numel(int rank, const int64_t *dims);
void kiln_tensor_free(kiln_tensor *t);
void kiln_attr_clear(kiln_attr *a);

/* Dim d of v as a polynomial (a constant one when static). */
kiln_symdim kiln_value_symdim(const kiln_graph *g, const kiln_value *v, int d);
/* Sets dim d of v to x: its hint into dims[d] and, unless x is constant, x into sym[d];
 * false when x's hint overflows. */
bool kiln_value_set_symdim(kiln_graph *g, kiln_value *v, int d, const kiln_symdim *x);
/* 1 + the index of polynomial x in g->symdims (added when new): what sym[] and sym_data hold. */
int kiln_graph_symdim_index(kiln_graph *g, const kiln_symdim *x);
/* Some dim of v is free. */
/* floor(a / den) as a dim of g (den >= 1): a polynomial over g's syms, with the derived
 * sym of the division added to them when new; false past KILN_MAX_SYMS or on overflow. */
bool kiln_graph_floordiv(kiln_graph *g, const kiln_symdim *a, int64_t den, kiln_symdim *out);
/* The data sym named `name` (symdim.h: a size a kernel computes during a run, at most
 * bound), added when new; -1 past KILN_MAX_SYMS or when the bound does not evaluate. */
int kiln_graph_data_sym(kiln_graph *g, const char *name, const kiln_symdim *bound);
/* The data sym min(x, c) (graph.h: sym_min), x mentioning a data sym, c >= 0, added when
 * new; -1 past KILN_MAX_SYMS. */
int kiln_graph_min_sym(kiln_graph *g, const kiln_symdim *x, int64_t c);
/* Sets vals[s] of each such sym from the values of the syms before it. */
void kiln_graph_eval_min(const kiln_graph *g, int64_t *vals);
/* The data sym x is (x = that sym, exactly), or -1. */
int kiln_graph_data_sym_of(const kiln_graph *g, const kiln_symdim *x);
/* The data syms (bit s) that v's dims and the shape elements it holds mention, and those
 * the capped counts among them read (sym_min_of); the same over a node's inputs and
 * outputs. */
uint32_t kiln_value_data_syms(const kiln_graph *g, const kiln_value *v);
uint32_t kiln_node_data_syms(const kiln_graph *g, const kiln_node *n);
/* Does x fall as a data sym grows (a term of one with a negative coefficient)? Memory is
 * planned at the data syms' bounds, where such a dim is least. */
bool kiln_graph_symdim_falls(const kiln_graph *g, const kiln_symdim *x);
/* Does x mention a data sym? */
bool kiln_graph_symdim_has_data(const kiln_graph *g, const kiln_symdim *x);
bool kiln_value_is_symbolic(const kiln_value *v);
/* Some element of v's data is a polynomial of the free dims (kiln_value.sym_data). */
bool kiln_value_has_sym_data(const kiln_value *v);
/* Element i of v's data (an integer constant) as a polynomial (a constant one when exact). */
kiln_symdim kiln_value_sym_elem(const kiln_graph *g, const kiln_value *v, int64_t i);
/* Sets v's data elements that have polynomials to their values at the syms' values vals
 * (the hints: g->sym_hint). */
void kiln_value_eval_sym_data(const kiln_graph *g, kiln_value *v, const int64_t *vals);

/* "f32[1,3,224,224]" into buf. */
const char *kiln_value_type_str(const kiln_value *v, char *buf, size_t size);
/* The same with free dims as their expressions: "f32[N*S,64]". */
const char *kiln_graph_type_str(const kiln_graph *g, const kiln_value *v, char *buf, size_t size);

#endif
