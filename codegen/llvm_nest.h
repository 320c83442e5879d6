/* The loop nest of one stage as codegen/llvm_stage.c emits it, shared with the register
 * tiles of codegen/llvm_tile.c: the walked schedule, each axis's innermost loop and guard,
 * and the state of the reduction mode the stage runs in. */
#ifndef KILN_CODEGEN_LLVM_NEST_H
#define KILN_CODEGEN_LLVM_NEST_H

#include "codegen/llvm_emit.h"

typedef struct nest nest;
typedef LLVMValueRef (*nest_body)(nest *n);

struct nest {
  kiln_emit *e;
  const kiln_stage *s;
  const kiln_schedule *sc; /* the loops walked (the stage's, or a plain spatial nest) */
  int last[KILN_MAX_AXES]; /* innermost loop of each axis, -1 = none */
  bool guard[KILN_MAX_AXES];
  LLVMValueRef ext[KILN_MAX_AXES]; /* each axis's extent: a constant, or computed at run
                                      time in the function being emitted */
  int p;                   /* register mode: the first reduction loop */
  bool empty_reduce;       /* a reduction axis of extent 0 */
  bool memory;             /* accumulate in the output buffer */
  LLVMValueRef acc_ptr;
  /* register-tile mode: loops [nt, nloops) of sc are the tile, enumerated point by point */
  bool tile;
  int nt;
  int64_t npoints;
  bool clamp;                    /* emitting the tail version: tile axes clamped to range */
  LLVMValueRef *accs;            /* one accumulator per tile point */
  LLVMValueRef base[KILN_MAX_AXES]; /* a tile axis's value at tile point 0 */
  /* a symbolic tile axis's tile moved back to end at its extent, where points below
   * keep_from (computed by the tile before) must not be stored again: NULL, or that base */
  LLVMValueRef keep_from[KILN_MAX_AXES];
  LLVMValueRef keep; /* i1 or NULL: whether this point's store writes (else it rewrites the
                        value already there: a select, which vectorizes where a branch
                        would not) */
  bool reads_out;                /* the stage loads its own output buffer */
  /* register-tile mode with reduction loops outside the tile's spatial loops (a GEMM's K
   * split into cache blocks): each visit sums one block into the output, so the first
   * visit starts from init, later ones from the output, and only the last applies post */
  bool partial;
  bool pf;                       /* register-tile mode: the schedule's prefetch applies */
  LLVMValueRef at_first, at_last; /* i1: the outer reduction loops at their first / last values */
  bool rows;                     /* a row kernel's shared loops: sc, around all stages */
  bool chases;                   /* its loads chase indices (loaded from loads of loaded
                                    indices: a tree walk): the loop vectorizer stays off */
};

/* non-NULL: success (a body's result) */
LLVMValueRef kiln_nest_ok(kiln_emit *e);
/* How many times loop l of n->sc runs: its extent, or for the outermost loop of a symbolic
 * axis ceil(extent / stride) at run time. */
LLVMValueRef kiln_nest_trip(nest *n, int l);
/* Loops [l, stop) of n->sc around body. */
LLVMValueRef kiln_nest_loops(nest *n, int l, int stop, nest_body body);
/* The axes' extents at the builder's position: run-time ones from the dims there. */
void kiln_nest_extents(nest *n);
/* Axes whose loops are all open once loops [lo, hi) are: their values, and a skip to cont
 * past the extent (but for axis `unguarded`). */
void kiln_nest_complete_axes(nest *n, int lo, int hi, LLVMBasicBlockRef cont, int unguarded);
/* The nest from loop `first` in: the body the stage's mode needs (llvm_stage.c). */
LLVMValueRef kiln_nest_main(nest *n, int first);
/* The nest with loops [0, np) run in parallel (llvm_parallel.c). */
LLVMValueRef kiln_nest_parallel(nest *n, int np);
LLVMValueRef kiln_nest_out_ptr(nest *n);
/* The reduction's initial value: the stage's init, or the identity of its combine. */
LLVMValueRef kiln_nest_init_value(nest *n);
/* v stored at p as an element of type t, unless n->keep says otherwise. */
void kiln_nest_store_elem(nest *n, kiln_dtype t, LLVMValueRef v, LLVMValueRef p);
/* post(acc) stored at the stage's output index. */
LLVMValueRef kiln_nest_store_post(nest *n, LLVMValueRef acc);

/* Register tiles (llvm_tile.c). Is register-tile mode possible with the first reduction
 * loop p? Fills tsc with the stage's loops, the tile moved last (from *nt on). */
bool kiln_nest_tile_fits(const kiln_stage *s, int p, kiln_schedule *tsc, int *nt, int64_t *npoints);
/* Register-tile mode, between the outer loops and the reduction loops. */
LLVMValueRef kiln_nest_tile(nest *n);
/* Tells kiln_llvm_optimize that fn holds a register tile (it may then use wider vectors). */
void kiln_nest_mark_tile(kiln_emit *e, LLVMValueRef fn);

#endif
