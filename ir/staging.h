/* Staging in GPU shared memory (the KS_SHARE recipe step, kiln_loop.share): what tile of a
 * buffer one iteration of a loop reads, and when a stage may stage it. One place decides,
 * for kiln_schedule_check (so recipes, the tuner and the default scheduler agree) and for
 * the CUDA emitter (codegen/cuda_staged.c), which copies the tile with the block's threads. */
#ifndef KILN_IR_STAGING_H
#define KILN_IR_STAGING_H

#include "ir/kernel.h"

#define KILN_SHARED_BYTES 49152     /* static shared memory of a CUDA thread block */
#define KILN_STAGED_MAX_ACC 32768   /* accumulators of a block: threads * tile points */

/* An index affine in the stage's axes: c0 + sum coef[a] * axis a. */
typedef struct kiln_affine {
  int64_t c0;
  int64_t coef[KILN_MAX_AXES];
} kiln_affine;

/* The box of buffer buf that one iteration of the staging loop reads: along dim d the
 * indices base_d .. base_d + ext[d] - 1, base_d being idx[d] with the loops that vary
 * inside the iteration (the thread loops and those inside the staging loop) at 0. */
typedef struct kiln_tile {
  int buf;
  int rank;
  kiln_dtype dtype;
  kiln_affine idx[KILN_MAX_RANK];
  int64_t ext[KILN_MAX_RANK];
  int64_t elems;
} kiln_tile;

/* x as an affine form of the axes (integer constants, axes, +, -, * by a constant, casts
 * between integers); false for anything else. */
bool kiln_affine_of(const kiln_expr *x, kiln_affine *f);
/* The loop of sc that stages buffers, -1 if none. */
int kiln_staging_loop(const kiln_schedule *sc);
/* Does loop l vary inside one iteration of staging loop at (a thread loop, or inside it)? */
bool kiln_staging_varies(const kiln_schedule *sc, int at, int l);
/* The tile of buf for staging loop `at` of s's schedule; false with a reason in why when
 * the stage's value does not load buf, loads it at different or non-affine indices, or an
 * index falls as a varying loop rises. */
bool kiln_staging_tile(const kiln_stage *s, int at, int buf, kiln_tile *t, char *why, size_t n);
/* The shares of s's schedule are legal: all at one serial reduction loop right inside the
 * block and thread loops (threads own their points) and any other serial reduction loops,
 * every loop inside it a reduction or a spatial unrolled / vector tile, static extents, no
 * checked index, each tile computable, all of them within KILN_SHARED_BYTES. */
kiln_status kiln_staging_check(const kiln_stage *s, kiln_error *err);

#endif
