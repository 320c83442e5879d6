/* The op table. Every op kiln knows is declared once, in one kiln_op_def: its name, its
 * inputs/outputs arity, its attributes, its shape inference, and either its lowering to
 * the kernel IR or its expansion into simpler ops (LSTM into MatMul/Add/Sigmoid...).
 * Op definitions live in ir/ops/, grouped by family; ir/op.c lists the groups.
 *
 * The table uses each op's newest ONNX signature: importers rewrite older forms
 * (attributes that later became inputs, e.g. Split's `split`, Pad's `pads`) before
 * nodes reach the IR. */
#ifndef KILN_IR_OP_H
#define KILN_IR_OP_H

#include "ir/graph.h"
#include "ir/kernel.h"

typedef struct kiln_attr_spec {
  const char *name;
  kiln_attr_type type;
  bool required;
} kiln_attr_spec;

/* What a lowering gets: the node, and a kernel already holding one buffer per node input
 * (in_buf[i], -1 for an omitted optional input, trailing ones too) and per output
 * (out_buf[i], likewise). The lowering
 * adds stages (and temporaries) to k; it may read constant inputs' data from g. */
typedef struct kiln_lower_ctx {
  const kiln_graph *g;
  const kiln_node *n;
  kiln_kernel *k;
  kiln_error *err;
  int in_buf[32];
  int out_buf[32];
} kiln_lower_ctx;

struct kiln_op_def {
  const char *name;
  int min_inputs, max_inputs;   /* max_inputs -1: variadic */
  int min_outputs, max_outputs;
  const kiln_attr_spec *attrs;  /* the attributes it reads, ended by {NULL}; NULL = none */
  /* Sets dtype and shape of every output from the inputs' (and, where needed, from
   * constant inputs' values). Inputs are already inferred. */
  kiln_status (*infer)(kiln_graph *g, kiln_node *n, kiln_error *err);
  /* Exactly one of lower and expand is set. */
  kiln_status (*lower)(kiln_lower_ctx *c);
  /* Replaces node `node` (at position pos of block b) with simpler nodes inserted at pos,
   * writing the same output values; called after infer. */
  kiln_status (*expand)(kiln_graph *g, kiln_block *b, int pos, kiln_error *err);
  unsigned flags;               /* KILN_OP_* properties the passes ask for */
};

/* Output 0 holds input 0's elements in the same row-major order, only the shape differs
 * (Reshape, Flatten, Squeeze, Unsqueeze, Identity): lowering reads input 0 in place
 * through a buffer of the output's shape instead of copying it. */
#define KILN_OP_ALIAS 1u
/* A product A x B (MatMul, Gemm with transA/transB/alpha/beta/C) that can read a constant
 * f32 B as packed register-tile panels instead (passes/pack_panels.c: MatMulPanels). */
#define KILN_OP_PANEL_B 2u
/* Each output element is a function of the inputs' elements at the same position (numpy
 * broadcasting) and of nothing else: the op computes the same on any layout of its inputs
 * as long as they share it, so the layout pass (passes/layout.c) runs it on blocked
 * tensors as they are. */
#define KILN_OP_ELEMENTWISE 4u
/* A convolution Conv(X, W, B) with Conv's attributes (group, pads, strides, dilations,
 * auto_pad): the layout pass may run it as a ConvBlocked (ir/ops/layout.c). */
#define KILN_OP_CONV 8u
/* A pooling op over the spatial dims of [N, C, spatial...] (one input, and one output
 * when the layout pass sees it): with the attribute `_blocked` it reads and writes the
 * blocked layout (ir/ops/pool.c). */
#define KILN_OP_POOL 16u
/* Concat(inputs..., axis): the layout pass joins blocked tensors along their channel
 * blocks (axis 1 of both layouts) when every input's channels are whole blocks. */
#define KILN_OP_CONCAT 32u
/* Draws random numbers (ir/random.h: RandomUniform, Bernoulli, Dropout...): its values are
 * a function of its `seed` attribute, or, without one, of a key each process draws, so
 * constant folding leaves an unseeded one to run time. */
#define KILN_OP_RANDOM 64u
/* Resolved at compile time during shape inference (sequences, optionals, Loop, Scan: ir/ops/
 * sequence.c, control.c): `expand` rewrites the node into plain tensor nodes and lists
 * before its outputs are known, so inference neither infers its subgraphs first nor calls
 * `infer` (kiln_infer_resolved, which refuses the node elsewhere: the DSL). */
#define KILN_OP_RESOLVE 128u
/* Its infer and lowering hold for free dims (kiln_options.symbolic_dims): its output dims
 * are dim expressions of its input dims (passes/infer_sym.c) and its kernel depends on the
 * dims only through loop extents and buffer dims (passes/lower_dyn.c), so it may read
 * values with free dims; a node of any other op reading one fails the compile. */
#define KILN_OP_SYMBOLIC 256u
/* Runs its `body` subgraph at run time (CompiledLoop: lowering makes it a loop step). Where
 * its body or the node fails inference, inference calls `expand` instead, which rewrites
 * the node into one that compiles another way (the Loop, unrolled) and keeps its place; on
 * success `expand` is never called. Graph attributes whose names start with '_' are not
 * inferred. */
#define KILN_OP_LOOP 512u
/* Reads only its input 0's shape, never its elements (Shape, Size): constant folding
 * computes it from the shape, and with free dims its output is a polynomial of them
 * (kiln_value.sym_data), so it may read a value with free dims. */
#define KILN_OP_SHAPE_OF 1024u
/* An output's size may follow its inputs' values (NonZero): its infer gives that dim a
 * data sym of the graph itself (ir/symdim.h), so symbolic inference leaves it alone; so
 * does an op whose infer sets its outputs' free dims itself (If: its branches'). */
#define KILN_OP_DATA_DIMS 2048u
/* Never folded: it computes at run time what its input holds at the run, though that input
 * has data (RunValue, ir/ops/loop.c: a shape computation, known at compile time only at the
 * hints, that a loop step reads as its trip count). */
#define KILN_OP_AT_RUN 4096u
/* Takes or makes string tensors (rt/strings.h: pointers to the run's strings): movement
 * ops, which copy elements whatever they hold, Cast, Equal and the string ops. Inference
 * refuses a string tensor at any other op by name. */
#define KILN_OP_STRINGS 8192u
/* Its tensor attributes may hold strings, which the importer gives as lists of strings
 * (KILN_ATTR_STRINGS, the elements in order: kiln has no string constants); elsewhere a
 * string tensor attribute is refused by name (LabelEncoder's keys_tensor). */
#define KILN_OP_STRING_ATTRS 16384u

/* err's code and "node 'name' (Op): what": an op's error naming its node. */
kiln_status kiln_fail_node(const kiln_node *n, kiln_error *err, kiln_status code,
                           const char *what);
/* Output 0 of n typed t and shaped as op would shape it from the inputs `ins` (with n's
 * attributes): a quantized op shaped as its float op. */
kiln_status kiln_infer_as(kiln_graph *g, kiln_node *n, const char *op, const int *ins, int nin,
                          kiln_dtype t, kiln_error *err);
/* KILN_ERR_INVALID_MODEL naming the first of n's required inputs (those below its op's
 * min_inputs) that is omitted (-1: ONNX's "", the DSL's `_`); the frontends and inference
 * check it before an op's infer reads the input. */
kiln_status kiln_node_check_required(const kiln_node *n, kiln_error *err);
/* The op of that name: the default domain's, else another domain's (names do not clash;
 * the DSL calls any op by its bare name). */
const kiln_op_def *kiln_op_find(const char *name);
/* The op of that name in that domain (NULL or "" or "ai.onnx": the default one). */
const kiln_op_def *kiln_op_find_in(const char *domain, const char *name);
/* Has kiln ops of that (non-default) domain? */
bool kiln_op_domain_known(const char *domain);
/* Every op, for docs and tests: returns the count and sets *ops to a NULL-ended list. */
int kiln_op_list(const kiln_op_def *const **ops);

/* ---- helpers for op definitions ------------------------------------------------------ */

/* Input i of n, or NULL when omitted (or past ninputs). */
kiln_value *kiln_node_in(const kiln_graph *g, const kiln_node *n, int i);
kiln_value *kiln_node_out(const kiln_graph *g, const kiln_node *n, int i);

int64_t kiln_attr_int(const kiln_node *n, const char *name, int64_t dflt);
double kiln_attr_float(const kiln_node *n, const char *name, double dflt);
const char *kiln_attr_str(const kiln_node *n, const char *name, const char *dflt);
/* Number of ints (and *out points at them), or -1 if the attribute is absent. */
int kiln_attr_ints(const kiln_node *n, const char *name, const int64_t **out);
int kiln_attr_floats(const kiln_node *n, const char *name, const double **out);

/* Sets output i's dtype and shape. */
void kiln_set_out(kiln_graph *g, const kiln_node *n, int i, kiln_dtype t, int rank,
                  const int64_t *dims);
/* The same with dims as polynomials of the graph's syms (free dims, counts), their hints
 * from the syms' hints; an internal error naming n when one does not evaluate. */
kiln_status kiln_set_out_sym(kiln_graph *g, const kiln_node *n, int i, kiln_dtype t, int rank,
                             const kiln_symdim *dims, kiln_error *err);
/* The buffer of kernel k holding the run's dims (g's syms declared in k first, when k has
 * none): where a kernel reads free dims and counts, and stores a count it computes. */
int kiln_lower_dims_buf(kiln_kernel *k, const kiln_graph *g);
/* The values of constant input i as int64s (any int dtype), or an error naming the node
 * when it is not known at compile time. *count receives the element count. */
kiln_status kiln_const_ints(const kiln_graph *g, const kiln_node *n, int i, int64_t *out,
                            int max, int *count, kiln_error *err);
/* The error for input value v of n (what: "a value", "a scalar") that must be known at
 * compile time but is computed at run time; it names the graph inputs v depends on. */
kiln_status kiln_need_value(const kiln_graph *g, const kiln_node *n, const kiln_value *v,
                            const char *what, kiln_error *err);
/* KILN_ERR_UNSUPPORTED when input i of n is a shape computation (kiln_value.sym_data: its
 * data holds at the hints only) that n reads to rewrite the graph when compiling (a trip
 * count to unroll, a sequence position): what it gives changes from run to run. */
kiln_status kiln_need_fixed(const kiln_graph *g, const kiln_node *n, int i, kiln_error *err);
/* Same for one scalar (first element) as double. */
kiln_status kiln_const_scalar(const kiln_graph *g, const kiln_node *n, int i, double *out,
                              kiln_error *err);

/* Numpy-style broadcast of two shapes; error names the node. */
kiln_status kiln_broadcast_shape(const kiln_node *n, int ra, const int64_t *da, int rb,
                                 const int64_t *db, int *rank, int64_t *dims, kiln_error *err);
/* Normalizes a possibly negative axis against rank (none for a scalar); error names the node. */
kiln_status kiln_norm_axis(const kiln_node *n, int64_t axis, int rank, int *out,
                           kiln_error *err);

/* Lowering helpers. Index expressions that read buffer `buf` (rank r) broadcast against an
 * output of rank out_rank indexed by vars[]: dims of size 1 read index 0. */
kiln_expr *kiln_load_broadcast(kiln_kernel *k, int buf, int out_rank, kiln_expr *const *vars);
/* A data-dependent index idx into a dim of size n, read from node input `in`: checked at
 * run time (-n..-1 count from the end), failing with the node's and the input's names. */
kiln_expr *kiln_checked_index(kiln_lower_ctx *c, int in, kiln_expr *idx, int64_t n);
/* A stage over every element of output buffer `out` with one spatial axis per dim; vars[d]
 * receives kx_var of axis d. */
kiln_stage *kiln_elementwise_stage(kiln_kernel *k, const char *name, int out, kiln_expr **vars);

/* The strings of n's attribute attr (none when it is missing) as the run-time library's
 * word lists and sets hold them (rt/strings.h: kiln_rt_words_build with `kind`; malloc'd). */
char *kiln_string_words(const kiln_node *n, const char *attr, int kind);

/* Table-driven elementwise lowering (ir/ops/elementwise.c). A builder returns an op's
 * value from its inputs x[i], each loaded with broadcasting against output 0 (NULL where
 * omitted); it returns NULL after failing through c->err. */
typedef kiln_expr *(*kiln_ew_build)(kiln_lower_ctx *c, kiln_expr *const *x);
/* One stage over output 0 storing build's value. */
kiln_status kiln_lower_elementwise(kiln_lower_ctx *c, kiln_ew_build build);
/* Output 0 = broadcast of every input's shape, with input 0's dtype, which every input
 * must share. */
kiln_status kiln_infer_broadcast(kiln_graph *g, kiln_node *n, kiln_error *err);
/* The `infer` of KILN_OP_RESOLVE ops: an error, since only inference resolves them. */
kiln_status kiln_infer_resolved(kiln_graph *g, kiln_node *n, kiln_error *err);

#endif
