/* The loop nest of one stage as codegen/cuda_stage.c emits it, shared with the
 * cross-thread reductions of codegen/cuda_reduce.c: the walked loops, each axis's innermost
 * loop and guard, and the bodies both emit. */
#ifndef KILN_CODEGEN_CUDA_NEST_H
#define KILN_CODEGEN_CUDA_NEST_H

#include "codegen/cuda_emit.h"

#define MAX_GRID INT64_C(2147483647) /* blockIdx.x */

typedef struct nest nest;
typedef kiln_status (*nest_body)(nest *n);

struct nest {
  kiln_cuda *c;
  const kiln_stage *s;
  const kiln_schedule *sc;
  int nbt;                 /* leading block and thread loops */
  const int *w;            /* the loops walked (indices into sc), the prefix first */
  int nw;
  int last[KILN_MAX_AXES]; /* position in w of each axis's innermost loop, -1 = none */
  bool guard[KILN_MAX_AXES];
  int p;                   /* first reduction loop (of sc) */
  bool empty_reduce;
  const int *tile;         /* register tile: loop indices of the tile, npoints points */
  int ntile;
  int64_t npoints;
  int nred;                /* register tile: reduction loops (walked before the tile) */
  bool grid_stride;        /* the blocks are walked in a loop (a run-time block count) */
  const char *acc_arr;     /* register tile: the C array of accumulators, NULL = kiln_acc */
  void *ctx;               /* the state of the caller's bodies */
};

/* The error already set, else KILN_ERR_INTERNAL. */
kiln_status kiln_cuda_nest_fail(nest *n);
/* Walk list w (indices into sc); axes with loops in the schedule but none in w are
 * undefined there. */
void kiln_cuda_set_walk(nest *n, const int *w, int nw);
/* Axis a's value from its loops in w up to its innermost (last[a]), then the skip of a
 * point past its extent: `continue` in a loop (or in the grid-stride loop over blocks),
 * `goto c->exit` in the block and thread prefix. */
void kiln_cuda_complete_axis(nest *n, int a);
/* Loops w[i..stop) around body. */
kiln_status kiln_cuda_walk(nest *n, int i, int stop, nest_body body);
/* Declares l0..l(nbt-1), the block and thread loops, from the launch indices. */
void kiln_cuda_decode_prefix(nest *n);
/* The reduction's starting value (init, or the op's identity) in a new temporary. */
int kiln_cuda_init_value(nest *n);
/* post(acc) stored at the output index; acc a temporary. */
kiln_status kiln_cuda_store_post(nest *n, int acc);
/* kiln_acc = kiln_acc (+) value. */
kiln_status kiln_cuda_body_combine_reg(nest *n);
/* Register tiles (n->tile, n->ntile; n->npoints accumulators in n->acc_arr): each point's
 * accumulator from the init value, combined with the value, and post(acc) stored. */
kiln_status kiln_cuda_body_tile_init(nest *n);
kiln_status kiln_cuda_body_tile_combine(nest *n);
kiln_status kiln_cuda_body_tile_post(nest *n);
/* Is the stage well formed and typed for the emitter? */
bool kiln_cuda_stage_ok(const kiln_cuda *c, const kiln_stage *s);

/* cuda_reduce.c: the body of a stage whose threads share reductions (kiln_cuda_cross_thread),
 * its leading block and thread loops decoded into n. */
kiln_status kiln_cuda_reduce(nest *n);

/* cuda_staged.c: the body of a stage that stages tiles in shared memory (kiln_loop.share),
 * its block and thread loops not yet decoded. */
kiln_status kiln_cuda_staged(nest *n);

#endif
