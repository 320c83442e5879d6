/* The pass pipeline: graph IR in, kiln_program out. Each pass is also callable alone
 * (the CLI's dump and the tests use them). */
#ifndef KILN_PASSES_H
#define KILN_PASSES_H

#include "ir/diag.h"
#include "ir/graph.h"
#include "ir/program.h"
#include "ir/tuning_log.h"

#include <stdio.h>

/* The whole pipeline (passes/pipeline.c), in order: limit, bind, infer (with expansion),
 * fold, fold-bn, panels, dce, lower, fuse (unless opts->no_fuse), memplan, coalesce, schedule,
 * tune (opts->tuning_log, passes/tune.h), instrument. */
kiln_status kiln_passes_run(kiln_graph *g, const kiln_options *opts, kiln_program **out,
                            kiln_error *err);
/* The pipeline up to and including the pass named `last` (NULL: all of it): *out is the
 * program once `lower` has run, else NULL. An unknown name is KILN_ERR_INVALID_ARGUMENT. */
kiln_status kiln_passes_until(kiln_graph *g, const kiln_options *opts, const char *last,
                              kiln_program **out, kiln_error *err);
/* The passes from `first` to `last` (NULL: from the first, to the last) on a graph the
 * passes before `first` have run on; `lower` must be in the range for *out to be set. On
 * a failure *failed (may be NULL) names the pass that failed. */
kiln_status kiln_passes_range(kiln_graph *g, const kiln_options *opts, const char *first,
                              const char *last, kiln_program **out, const char **failed,
                              kiln_error *err);
/* The pipeline without the passes that rewrite what is computed (fold-bn, layout, panels,
 * fuse, coalesce): one kernel per node of the graph as inferred and folded, with its
 * node's shapes, the reference program
 * `kiln verify` (runtime/verify.h) compares a compiled model with. */
kiln_status kiln_passes_reference(kiln_graph *g, const kiln_options *opts, kiln_program **out,
                                  kiln_error *err);
/* Tells opts->progress (when set, include/kiln.h) that the compile's step `step` begins:
 * each pass of the pipeline in order (run_passes calls it), then "codegen"; NULL: the
 * compile ended. */
void kiln_progress(const kiln_options *opts, const char *step);
/* Name of pass i of the pipeline, or NULL past the last. */
const char *kiln_pass_name(int i);

/* Binds free input dims and input values from opts; errors name any dim left free. */
kiln_status kiln_pass_bind_inputs(kiln_graph *g, const kiln_options *opts, kiln_error *err);
/* Sequence and optional graph inputs into tensor inputs, one per element (bind_seq.c);
 * a binding named like a sequence input gives its length. */
kiln_status kiln_bind_sequences(kiln_graph *g, const kiln_options *opts, kiln_error *err);
bool kiln_bind_is_length(const kiln_graph *g, const char *name);
/* Infers every value's dtype and shape (If branches included); expands ops that have an
 * `expand` (their new nodes are inferred too); checks sizes against opts' limits. */
kiln_status kiln_pass_infer(kiln_graph *g, const kiln_options *opts, kiln_error *err);
/* Evaluates every node whose inputs are all constant (Shape of a static shape too) and
 * whose outputs hold at most max_elems elements, with the kernel-IR interpreter; an If
 * with a constant condition is replaced by its branch. With every graph input given a
 * value and max_elems large, the whole graph folds: a reference run. */
kiln_status kiln_pass_fold(kiln_graph *g, int64_t max_elems, kiln_error *err);
/* Folds each inference BatchNormalization into the Conv before it when both have constant
 * parameters and nothing else reads the conv's output (passes/fold_bn.c). */
void kiln_pass_fold_batchnorm(kiln_graph *g);
/* Runs each 2-D f32 Conv with constant weights, and the elementwise ops around it, in the
 * blocked layout NCHWc for vectors of vector_floats floats, or in the block (or none) a
 * record of log for target says (NULL: none) (passes/layout.c). */
kiln_status kiln_pass_layout(kiln_graph *g, int vector_floats, const kiln_tuning_log *log,
                             const kiln_tuning_target *target, kiln_error *err);
/* Turns each f32 MatMul/Gemm with a constant 2-D B into a MatMulPanels reading B packed
 * into panels as wide as its register tile for vectors of vector_floats, a new constant
 * (passes/pack_panels.c), or as wide as a record of log for target says (NULL: none). */
kiln_status kiln_pass_pack_panels(kiln_graph *g, int vector_floats, const kiln_tuning_log *log,
                                  const kiln_tuning_target *target, kiln_error *err);
/* Collect mode for `kiln check`: infers as kiln_pass_infer does but records each node's
 * problem in diags and goes on, skipping (and counting) nodes that read a tainted value
 * and tainting what a failed or skipped node defines. */
kiln_status kiln_pass_infer_collect(kiln_graph *g, const kiln_options *opts, kiln_diags *diags,
                                    kiln_error *err);
/* Lowers each node that is not tainted (the branch an If with a known condition takes,
 * both otherwise) into a kernel it then frees, recording each failure in diags: the
 * lowering problems of the whole graph at once. *flops gets the sum of the kernels'
 * floating-point operations (ir/kernel_cost.h), *nlowered how many nodes were lowered. */
void kiln_pass_lower_collect(const kiln_graph *g, kiln_diags *diags, double *flops,
                             int *nlowered);
/* Removes nodes whose outputs nothing reads. */
void kiln_pass_dce(kiln_graph *g);
/* In-place Concat (passes/place_concat.c): the inputs of a Concat that their producers
 * can write straight into its output are placed there (kiln_value.placed_in). */
void kiln_pass_place_concat(kiln_graph *g);
/* Lowers every node to a kernel: the program, its memory not yet planned. */
kiln_status kiln_pass_lower(const kiln_graph *g, kiln_program **out, kiln_error *err);
/* Fuses elementwise kernels into the kernel producing their input, to a fixed point
 * (passes/fuse.c), and row reductions with their elementwise neighbours (row fusion,
 * below); before memory planning. */
void kiln_pass_fuse(const kiln_graph *g, kiln_program *p);
/* Row fusion (passes/fuse_rows.c): merges kernels of the main list into row kernels; true
 * if it merged any. */
bool kiln_pass_fuse_rows(const kiln_graph *g, kiln_program *p);
/* Sets every kernel's row_axes (0 where it is no row kernel). */
void kiln_pass_mark_rows(kiln_program *p);

/* Gives every stage of the program its default schedule (passes/schedule.c), installed
 * as a recipe (ir/schedule.h); tiles are sized for vectors of vector_floats f32 lanes. */
kiln_status kiln_pass_schedule(kiln_steps *steps, int vector_floats, kiln_error *err);
/* The f32 lanes of the target's vectors as opts select it (passes/target.c): 16 with
 * AVX-512, 8 with AVX2, 4 elsewhere. */
int kiln_target_vector_floats(const kiln_options *opts);
/* Whether opts select a GPU backend ("cuda", "cuda-host"; passes/target.c), whose
 * schedules come from kiln_pass_schedule_gpu (passes/schedule_gpu.c) and whose graphs keep
 * the plain layouts (no NCHWc, no GEMM panels: they are shaped for CPU vectors). */
bool kiln_target_gpu(const kiln_options *opts);
kiln_status kiln_pass_schedule_gpu(kiln_steps *steps, kiln_error *err);
/* passes/schedule_gpu_gemm.c: the GPU schedule of a GEMM-like stage (a sum whose value
 * loads one operand without the innermost output axis and one without the next):
 * shared-memory tiles of a slice of the reduction and a register tile per thread. False,
 * with s's schedule left as it was, when the stage is not one or staging is not legal. */
bool kiln_schedule_gpu_gemm(const kiln_kernel *k, kiln_stage *s);

/* Lowers one node into a fresh kernel whose buffers are bound to the node's values
 * (storage left KILN_STORE_NONE). Used by lowering and by constant folding. */
kiln_status kiln_lower_node(const kiln_graph *g, const kiln_node *n, kiln_kernel **out,
                            kiln_error *err);
/* The same at the values' dims as they are (every dim a number). */
kiln_status kiln_lower_node_static(const kiln_graph *g, const kiln_node *n, kiln_kernel **out,
                                   kiln_error *err);
/* Makes k's loads of shape computations' elements (kiln_value.sym_data) compute them from
 * the free dims' run-time values (passes/lower_dyn.c). */
void kiln_kernel_read_sym_data(const kiln_graph *g, kiln_kernel *k);
/* A copy kernel built by hand (passes/lower.c) of value src (buffer in) into value dst
 * (buffer out, stage 0 over its dims): where their dims are free, its buffer dims and
 * loop extents become theirs at run time. */
void kiln_kernel_dyn_copy(const kiln_graph *g, kiln_kernel *k, int in, int src, int out, int dst);
/* A kernel storing each vals[i] (a polynomial of the syms), at most caps[i] where caps
 * is given and caps[i] >= 0, into the run's dims at data sym syms[i]: an If's branch
 * giving the sizes of its outputs, a clamped count (passes/lower.c). */
kiln_kernel *kiln_kernel_set_dims(const kiln_graph *g, const char *name, const int *syms,
                                  const kiln_symdim *vals, const int64_t *caps, int n);
/* A node reading or writing free dims: a kernel with run-time extents (passes/lower_dyn.c). */
kiln_status kiln_lower_symbolic(const kiln_graph *g, const kiln_node *n, kiln_kernel **out,
                                kiln_error *err);
/* After a node's infer: its outputs' free dims (passes/infer_sym.c). */
kiln_status kiln_infer_symbolic(kiln_graph *g, kiln_node *n, kiln_error *err);

/* ---- shared between the pass files (added by the passes work) ---------------------- */

/* What fusion and row fusion both ask (passes/fuse_common.c). Does kernel k read value v? */
bool kiln_kernel_reads(const kiln_kernel *k, int v);
/* Does a step of steps[from, to) other than kernels skip_a and skip_b (NULL: none) read
 * v, If conditions and branches included? Fused-away steps (NULL kernels) read nothing. */
bool kiln_steps_read(const kiln_steps *steps, int from, int to, const kiln_kernel *skip_a,
                     const kiln_kernel *skip_b, int v);
/* The value id a loop step reads itself as its i-th read (i < nmoves + 3: the trip count,
 * the two conditions, then its moves' sources), or -1 where that one reads none. */
int kiln_loop_read(const kiln_loop_step *l, int i);
/* Must v be stored whoever reads it? An output of the graph's main block, or a value placed
 * in a slot of another (passes/place_concat.c), which is read through that one. */
bool kiln_value_kept(const kiln_graph *g, int v);
/* Fused expressions stay small as trees: the passes and codegen after fusion walk them
 * as trees (a value read twice is walked twice), so an unbounded chain, or one reading its
 * input twice at every step, would cost time exponential in its length. */
#define KILN_MAX_TREE_NODES 256
/* An epilogue fused into a reduction runs once per point of its register tile (up to a
 * few hundred points, each its own copy of the code for LLVM to vectorize), so it is kept
 * to this cost (kiln_expr_tree_cost): a QDQ BERT's MatMul with its six Quantize/Dequantize
 * pairs and GELU took 30 s to compile. A float GELU with its bias costs about 30. */
#define KILN_MAX_EPILOGUE_COST 64
/* The nodes of x walked as a tree, counted up to just past budget. */
int kiln_expr_tree_size(const kiln_expr *x, int budget);
/* The same, a transcendental function (exp, erf, sigmoid, pow...) counted as 16. */
int kiln_expr_tree_cost(const kiln_expr *x, int budget);
/* True when value id holds constant data (or is a zero-sized constant). */
bool kiln_value_is_const(const kiln_graph *g, int id);
/* Folds the node at position pos of block b if it can be (all inputs constant, Shape/Size
 * of a known shape, outputs of at most max_elems elements; an If with a constant
 * condition is replaced by its taken branch). *folded says whether it was; the nodes of
 * an inlined branch then start at pos and number *inlined (0 otherwise). */
kiln_status kiln_fold_node(kiln_graph *g, kiln_block *b, int pos, int64_t max_elems,
                           bool *folded, int *inlined, kiln_error *err);
/* Runs node n (its inputs constants) with the interpreter at the dims and data its values
 * hold now: outs[i] (malloc'ed, NULL for a missing or empty output) for output i. */
kiln_status kiln_fold_run(const kiln_graph *g, const kiln_node *n, void **outs,
                          kiln_error *err);
/* With free dims, node n (foldable) at the points of the syms (passes/fold_sym.c): per
 * output, its elements' polynomials (kiln_value.sym_data, owned) into *sym_data (an array
 * of n->noutputs, owned); *sym_data NULL when an element changes with the free dims in a
 * way no polynomial of them explains (n then runs at run time). */
kiln_status kiln_fold_sym_data(kiln_graph *g, const kiln_node *n, int ***sym_data,
                               kiln_error *err);
/* Merges adjacent axes of single-stage kernels that every access walks as one contiguous
 * run (passes/coalesce.c); after memory planning, which places the strided buffers. */
void kiln_pass_coalesce(kiln_steps *steps);
/* Assigns every kernel buffer of p a storage and builds p's constant table and arena. */
kiln_status kiln_plan_memory(const kiln_graph *g, kiln_program *p, kiln_error *err);

/* Text dump of a graph (`kiln dump`). */
void kiln_graph_dump(const kiln_graph *g, FILE *out);

#endif
