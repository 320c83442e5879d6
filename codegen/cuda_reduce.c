/* A stage whose threads share reductions (thread loops over reduction axes, ir/kernel.h):
 * each group of R threads (the innermost thread loops, R a power of two) computes one
 * output point. Each thread folds its strided part of the reduction into a partial, a
 * warp tree of __shfl_down_sync halves the group down to its first lane (width R, or 32
 * when R is larger, whose warps' partials then meet in shared memory after a barrier for
 * a second tree), and the group's first thread applies post and stores.
 *
 * The body runs in phases, so that the host header (cuda_prelude.c) can give it a
 * sequential meaning, MCUDA style: each phase is a loop over the block's threads there
 * (KILN_THREADS), and the partials, which live across phases, are an array indexed by
 * thread (KILN_PRIVATE / KILN_P; one register on the GPU). A shuffle there reads the
 * array: threads run in ascending order within a phase, so the lane above has not yet
 * written its new value and the host combines exactly what the GPU tree does, in the same
 * order. Nothing may leave a phase early on the GPU but its own label (failed checks,
 * points past an extent), so every thread reaches every shuffle and barrier. */
#include "codegen/cuda_nest.h"

#include "ir/dtype.h"

#include <inttypes.h>

static void open_phase(kiln_cuda *c, bool body) {
  kiln_cuda_line(c, "KILN_THREADS {");
  c->indent++;
  kiln_cuda_line(c, "int32_t kiln_t = (int32_t)KILN_THREAD_ID;");
  if (body) {
    kiln_cuda_line(c, "{");
    c->indent++;
  }
  kiln_cuda_memo_reset(c);
  for (int a = 0; a < KILN_MAX_AXES; a++) c->axis[a][0] = 0;
}

static void close_phase(kiln_cuda *c, bool body) {
  if (body) {
    c->indent--;
    kiln_cuda_line(c, "}");
    kiln_cuda_line(c, "%s:;", c->exit);
  }
  c->indent--;
  kiln_cuda_line(c, "}");
}

/* The axes whose loops are all block and thread loops, spatial or reduction ones. */
static void complete_prefix(nest *n, bool reduce) {
  for (int a = 0; a < n->s->naxes; a++)
    if (n->s->axes[a].reduce == reduce && n->last[a] >= 0 && n->w[n->last[a]] < n->nbt)
      kiln_cuda_complete_axis(n, a);
}

/* Every thread: its partial from the identity (init for a group's first thread), then its
 * part of the reduction. */
static kiln_status fold(nest *n, int64_t R) {
  kiln_cuda *c = n->c;
  const kiln_stage *s = n->s;
  c->exit = "kiln_fold";
  open_phase(c, true);
  int id = kiln_cuda_identity(c, s->reduce, s->value->dtype);
  if (id < 0) return kiln_cuda_nest_fail(n);
  kiln_cuda_line(c, "KILN_P(kiln_part) = t%d;", id);
  kiln_cuda_decode_prefix(n);
  complete_prefix(n, false);
  if (s->init) { /* before the reduction axes' skips: a group's first thread never skips */
    kiln_cuda_line(c, "if ((kiln_t & %" PRId64 ") == 0) {", R - 1);
    c->indent++;
    kiln_cuda_memo_reset(c);
    int v = kiln_cuda_init_value(n);
    if (v < 0) return kiln_cuda_nest_fail(n);
    kiln_cuda_line(c, "KILN_P(kiln_part) = t%d;", v);
    kiln_cuda_memo_reset(c);
    c->indent--;
    kiln_cuda_line(c, "}");
  }
  complete_prefix(n, true);
  kiln_cuda_line(c, "%s kiln_acc = KILN_P(kiln_part);", kiln_cuda_reg_type(s->value->dtype));
  if (!n->empty_reduce) {
    kiln_status st = kiln_cuda_walk(n, n->nbt, n->nw, kiln_cuda_body_combine_reg);
    if (st) return st;
  }
  kiln_cuda_line(c, "KILN_P(kiln_part) = kiln_acc;");
  close_phase(c, true);
  return KILN_OK;
}

/* A warp tree over segments of `width` lanes, one phase a step, in the threads where
 * `cond` holds (a whole warp, or all). */
static kiln_status tree(nest *n, int64_t width, int64_t from, const char *cond,
                        const char *mask) {
  kiln_cuda *c = n->c;
  kiln_dtype t = n->s->value->dtype;
  const char *rt = kiln_cuda_reg_type(t);
  for (int64_t off = from / 2; off >= 1; off /= 2) {
    open_phase(c, false);
    if (cond) {
      kiln_cuda_line(c, "if (%s) {", cond);
      c->indent++;
    }
    int a = c->ntemps++, b = c->ntemps++;
    kiln_cuda_line(c, "%s t%d = KILN_P(kiln_part);", rt, a);
    kiln_cuda_line(c, "%s t%d = (%s)KILN_SHFL_DOWN(%s, kiln_part, %" PRId64 ", %" PRId64 ");",
                   rt, b, rt, mask, off, width);
    int r = kiln_cuda_combine(c, n->s->reduce, t, a, b);
    if (r < 0) return kiln_cuda_nest_fail(n);
    kiln_cuda_line(c, "KILN_P(kiln_part) = t%d;", r);
    if (cond) {
      c->indent--;
      kiln_cuda_line(c, "}");
    }
    close_phase(c, false);
  }
  return KILN_OK;
}

/* The group's first thread: post and store. */
static kiln_status store(nest *n, int64_t R) {
  kiln_cuda *c = n->c;
  c->exit = "kiln_store";
  open_phase(c, true);
  kiln_cuda_decode_prefix(n);
  complete_prefix(n, false);
  kiln_cuda_line(c, "if ((kiln_t & %" PRId64 ") == 0) {", R - 1);
  c->indent++;
  int acc = c->ntemps++;
  kiln_cuda_line(c, "%s t%d = KILN_P(kiln_part);", kiln_cuda_reg_type(n->s->value->dtype), acc);
  kiln_status st = kiln_cuda_store_post(n, acc);
  if (st) return st;
  c->indent--;
  kiln_cuda_line(c, "}");
  close_phase(c, true);
  return KILN_OK;
}

kiln_status kiln_cuda_reduce(nest *n) {
  kiln_cuda *c = n->c;
  const kiln_stage *s = n->s;
  const char *rt = kiln_cuda_reg_type(s->value->dtype);
  int64_t grid, T, R = 1;
  kiln_cuda_launch_size(s, &grid, &T);
  for (int l = 0; l < n->nbt; l++)
    if (n->sc->loops[l].kind == KILN_LOOP_THREAD && s->axes[n->sc->loops[l].axis].reduce)
      R *= n->sc->loops[l].extent;
  /* the lanes of this thread's warp (the block's last warp may be short) */
  char mask[96];
  if (T % 32 == 0) snprintf(mask, sizeof mask, "0xffffffffu");
  else if (T < 32) snprintf(mask, sizeof mask, "0x%xu", (1u << T) - 1);
  else
    snprintf(mask, sizeof mask, "(kiln_t | 31) < %" PRId64 " ? 0xffffffffu : 0x%xu", T,
             (1u << (T % 32)) - 1);
  kiln_cuda_line(c, "/* %" PRId64 " threads share each point's reduction */", R);
  kiln_cuda_line(c, "KILN_BLOCKS_BEGIN");
  c->indent++;
  if (R > 32) kiln_cuda_line(c, "KILN_SHARED %s kiln_red[%" PRId64 "];", rt, T / 32);
  kiln_cuda_line(c, "KILN_PRIVATE(%s, kiln_part, %" PRId64 ");", rt, T);
  kiln_status st = fold(n, R);
  if (!st) st = tree(n, R < 32 ? R : 32, R < 32 ? R : 32, NULL, mask);
  if (!st && R > 32) { /* the warps' partials through shared memory, then a second tree */
    char first[64];
    snprintf(first, sizeof first, "(kiln_t & %" PRId64 ") < 32", R - 1);
    open_phase(c, false);
    kiln_cuda_line(c, "if ((kiln_t & 31) == 0) kiln_red[kiln_t >> 5] = KILN_P(kiln_part);");
    close_phase(c, false);
    kiln_cuda_line(c, "KILN_SYNC;");
    open_phase(c, false);
    kiln_cuda_line(c, "if (%s) {", first);
    c->indent++;
    int id = kiln_cuda_identity(c, s->reduce, s->value->dtype);
    if (id < 0) return kiln_cuda_nest_fail(n);
    kiln_cuda_line(c, "int32_t kiln_lane = kiln_t & %" PRId64 ";", R - 1);
    kiln_cuda_line(c, "KILN_P(kiln_part) = kiln_lane < %" PRId64 " ? kiln_red[(kiln_t >> 5) + "
                   "kiln_lane] : t%d;", R / 32, id);
    c->indent--;
    kiln_cuda_line(c, "}");
    close_phase(c, false);
    st = tree(n, 32, R / 32, first, mask);
  }
  if (!st) st = store(n, R);
  c->indent--;
  kiln_cuda_line(c, "KILN_BLOCKS_END");
  c->exit = "kiln_next";
  return st;
}
