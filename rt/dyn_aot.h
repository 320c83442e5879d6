/* The run-time side of an AOT library with free dims (rt/dyn_aot.c, linked from
 * libkiln_rt_aot.a): checking the caller's shapes, the syms' values, output shapes and the
 * memory plan of the buffers whose sizes depend on them, all read from a table of int64s
 * the library carries (codegen/aot_dyn.c writes it; layout below). It mirrors the JIT's
 * runtime/dyn_run.c, whose checks and limits it repeats word for word. */
#ifndef KILN_RT_DYN_AOT_H
#define KILN_RT_DYN_AOT_H

#include <stddef.h>
#include <stdint.h>

/* kiln_status codes (kiln.h; codegen/aot_dyn.c asserts they agree) */
#define KILN_RT_OK 0
#define KILN_RT_ERR_INVALID_ARGUMENT 1
#define KILN_RT_ERR_OUT_OF_MEMORY 7
#define KILN_RT_ERR_INTERNAL 10
#define KILN_RT_ERR_INVALID_INPUT 11

#define KILN_RT_STRING 8 /* kiln_dtype's string: an element is a char * */

#define KILN_RT_MAX_RANK 8
#define KILN_RT_MAX_SYMS 32

/* kiln_array's layout: the header's <name>_tensor */
typedef struct kiln_rt_tensor {
  void *data;
  int32_t dtype;
  int32_t rank;
  int64_t dims[KILN_RT_MAX_RANK];
} kiln_rt_tensor;

typedef int (*kiln_rt_entry)(void *const *inputs, void *const *outputs, uint8_t *arena,
                             const void *const *consts);

/* The table (desc), all int64:
 *   nsyms, ninputs, noutputs, ndyn, arena_bytes, dims_offset, strings_offset (the run's
 *               string heap in the arena, -1: none)
 *   per sym:    the least and most (0: no most) value it may take, the step it must be a
 *               multiple of (0: any), den: 0 for a free
 *               input dim, -1 for a size
 *               the run computes (a data sym: at most num, a polynomial of the free dims,
 *               which follows; the run writes its value into the dims), else the sym is
 *               derived, floor(num / den) of the syms before it (a strided window's output
 *               size) and num, a polynomial, follows
 *   per input:  dtype, element bytes, rank, then per dim its size (>= 0) or -1 - sym
 *   per output: dtype, element bytes, rank, then per dim a polynomial over the syms:
 *               nterms, then per term coef and KILN_RT_MAX_SYMS powers
 *   per slot:   first step, last step, element bytes, rank, then per dim an expression
 *               in postfix: ntokens, then (kind, value) per token, kind KILN_RT_TOK_*
 *   nbuckets, then per bucket: its arena bytes, its strings_offset, then every input's dims
 * names: the inputs' names, then the syms'. entries and consts: the generic program's entry
 * and constant table (0), then each bucket's (1 + b). */
enum { KILN_RT_TOK_CONST, KILN_RT_TOK_SYM, KILN_RT_TOK_OP };
enum { KILN_RT_OP_ADD, KILN_RT_OP_SUB, KILN_RT_OP_MUL, KILN_RT_OP_DIV, KILN_RT_OP_MOD,
       KILN_RT_OP_MIN, KILN_RT_OP_MAX };
#define KILN_RT_EXPR_STACK 64 /* the deepest expression the table may hold */

/* Checks the inputs' shapes (dtype, rank, static dims, free dims in 1 .. 2^31 agreeing
 * across inputs, sizes within 2^40 bytes, data non-NULL unless empty); then, each where
 * not NULL, outputs' dtype, rank and dims, and the workspace bytes a run needs. A status
 * (KILN_RT_*); on failure, msg (size bytes) says why, naming the input and dim. */
int kiln_rt_dyn_shapes(const int64_t *desc, const char *const *names, const kiln_rt_tensor *in,
                       kiln_rt_tensor *out, int64_t *workspace, char *msg, size_t size);
/* Runs at the inputs' shapes: checks them, writes the outputs' shapes, and runs the bucket
 * they match (its static arena) or the generic entry, whose arena it plans and whose syms
 * and slots' offsets it writes at dims_offset. The arena is allocated when workspace is
 * NULL, else workspace is used (at least the bytes kiln_rt_dyn_shapes gives). */
int kiln_rt_dyn_run(const int64_t *desc, const char *const *names, const kiln_rt_entry *entries,
                    const void *const *const *consts, const kiln_rt_tensor *in,
                    kiln_rt_tensor *out, void *workspace);
/* The bucket whose input shapes in match exactly (what a run at them runs), else -1. */
int kiln_rt_dyn_variant(const int64_t *desc, const char *const *names, const kiln_rt_tensor *in);

#endif
