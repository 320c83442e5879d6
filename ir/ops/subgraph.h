/* Inlining a subgraph (a Loop, Scan or SequenceMap body) once per iteration: the ops that
 * kiln resolves at compile time unroll their bodies through this. */
#ifndef KILN_IR_OPS_SUBGRAPH_H
#define KILN_IR_OPS_SUBGRAPH_H

#include "ir/ops/expand.h"

/* Nodes one unrolled op may add, iterations times body nodes (a hostile trip count must be
 * an error, not hours of compiling). */
#define KILN_MAX_UNROLLED_NODES 100000

/* The subgraph attribute `name` of n, or NULL. */
kiln_block *kiln_subgraph(const kiln_node *n, const char *name);

/* Inserts a copy of body at the builder's insertion point: its parameter i reads args[i],
 * every value it defines (nested blocks' too) is a new one named after the builder's node
 * and tag, and outs[j] receives the copy of body output j. */
void kiln_ex_inline(kiln_ex *x, const kiln_block *body, const int *args, int *outs);

/* A copy of block b (parameters, nodes, nested blocks) whose values are all new, named
 * "<prefix>/<name>"; the values it reads from outside stay shared. */
kiln_block *kiln_block_copy(kiln_graph *g, const kiln_block *b, const char *prefix);

/* Is every value block b reads from outside it (nested blocks' reads too) a constant? */
bool kiln_block_reads_consts(const kiln_graph *g, const kiln_block *b);

/* Nodes the whole graph may reach through unrolling (nested loops multiply). */
#define KILN_MAX_GRAPH_NODES 1000000

/* Checks that unrolling n `iterations` times a body of `nodes` nodes stays within the
 * limits: per op, and for the graph g as a whole. */
kiln_status kiln_unroll_check(const kiln_graph *g, const kiln_node *n, int64_t iterations,
                              int nodes, kiln_error *err);

/* Values of sequences and optionals: value v's kind as words, for errors. */
const char *kiln_kind_name(const kiln_value *v);

/* A plain node (not KILN_OP_RESOLVE) at pos reading a sequence or optional: an Identity
 * passes it on (*done: the node is gone), any other op is an error. */
kiln_status kiln_seq_plain(kiln_graph *g, kiln_block *b, int pos, bool *done, kiln_error *err);
/* Graph outputs that are sequences or optionals become one tensor output per element
 * (`y[0]`, `y[1]`...; an optional tensor `y`, an empty optional none), each written by an
 * Identity appended to the main block. */
kiln_status kiln_seq_outputs(kiln_graph *g, kiln_error *err);

#endif
