/* A stage that stages tiles of its inputs in shared memory (kiln_loop.share, ir/staging.h):
 * the GEMM shape, where a block of threads each owning a register tile of outputs walks a
 * reduction in slices, and each slice of A and B is read from global memory once per
 * block instead of once per thread. Its nest (checked by kiln_staging_check): the block
 * and thread loops, serial reduction loops down to the staging loop, then reduction loops
 * and the register tile (unrolled spatial loops) inside.
 *
 * The body runs in phases, like cuda_reduce.c, so that the host header gives it a
 * sequential meaning (each phase a loop over the block's threads, each KILN_SYNC between
 * two phases); the accumulators live across phases (KILN_PRIVATE_N: registers on the GPU).
 *   init phase: each thread's accumulators;
 *   the serial loops down to the staging loop, uniform over the block, and in each
 *   iteration: KILN_SYNC; a copy phase (the block's threads copy each tile, element
 *   e = thread, thread + threads, ..., an element outside its buffer as 0); KILN_SYNC;
 *   a compute phase (the loops inside, loads of staged buffers from the tiles);
 *   where the slices fit in a few registers a thread (PREFETCH_MAX), they are software
 *   pipelined: a phase before the staging loop loads its first slices into registers,
 *   each copy phase stores the registers to the tiles, and each compute phase first loads
 *   the next iteration's slices into the registers, so that their latency hides behind
 *   the arithmetic (the same barriers as the plain copy);
 *   post phase: post(acc) stored at each point.
 * A thread whose points lie past the extents skips them within a phase (its own label),
 * never a barrier or a copy. */
#include "codegen/cuda_nest.h"

#include "ir/dtype.h"
#include "ir/staging.h"

#include <inttypes.h>
#include <stdint.h>

typedef struct staged {
  int at;      /* the staging loop (of sc) */
  int ntiles;
  kiln_tile tiles[KILN_MAX_SHARE];
  kiln_cuda_shared sh[KILN_MAX_SHARE];
  int64_t threads;
  const char *bty; /* the C type of the tiles' first indices: int32_t where they fit */
  char label[32];
  int pos;         /* the staging loop's position in the walk */
  bool prefetch;   /* slices pass through registers: the next one loads during compute */
  bool all_staged; /* the value loads staged buffers alone */
} staged;

/* A copy loop's part: global memory to the tile, global memory to the thread's prefetch
 * registers (kiln_pf<i>), or those registers to the tile. */
typedef enum { COPY_DIRECT, COPY_LOAD, COPY_STORE } copy_mode;

#define PREFETCH_MAX 32 /* prefetch registers a thread may hold, all tiles together */

/* The copy iterations of one thread for tile i, `by` elements each. */
static int64_t copy_iters(const staged *g, int i, int by) {
  return (g->tiles[i].elems + g->threads * by - 1) / (g->threads * by);
}

/* The prefetch registers of tile i: room for the copy by 4 and the copy by 1. */
static int64_t prefetch_regs(const staged *g, int i) {
  int64_t one = copy_iters(g, i, 1), four = copy_iters(g, i, 4) * 4;
  return one > four ? one : four;
}

static void open_phase(nest *n, staged *g) {
  kiln_cuda *c = n->c;
  snprintf(g->label, sizeof g->label, "kiln_x%d", c->ntemps++);
  c->exit = g->label;
  kiln_cuda_line(c, "KILN_THREADS {");
  c->indent++;
  kiln_cuda_line(c, "int32_t kiln_t = (int32_t)KILN_THREAD_ID;");
  kiln_cuda_line(c, "{");
  c->indent++;
  kiln_cuda_memo_reset(c);
  kiln_cuda_decode_prefix(n);
}

static void close_phase(nest *n, staged *g) {
  kiln_cuda *c = n->c;
  c->indent--;
  kiln_cuda_line(c, "}");
  kiln_cuda_line(c, "%s:;", g->label);
  c->indent--;
  kiln_cuda_line(c, "}");
  kiln_cuda_memo_reset(c);
  for (int a = 0; a < n->s->naxes; a++)
    if (n->last[a] >= 0 && n->w[n->last[a]] < n->nbt) c->axis[a][0] = 0;
}

/* The axes whose loops are all block and thread loops (a thread past them skips the phase). */
static void complete_prefix(nest *n) {
  for (int a = 0; a < n->s->naxes; a++)
    if (n->last[a] >= 0 && n->w[n->last[a]] < n->nbt) kiln_cuda_complete_axis(n, a);
}

/* kiln_sb<i>_<d>: tile i's first index along dim d, from the loops that do not vary in an
 * iteration of the staging loop (the block loops and the serial loops down to it). */
static void bases(nest *n, staged *g) {
  const kiln_schedule *sc = n->sc;
  for (int i = 0; i < g->ntiles; i++)
    for (int d = 0; d < g->tiles[i].rank; d++) {
      const kiln_affine *f = &g->tiles[i].idx[d];
      fprintf(n->c->o, "%*s%s kiln_sb%d_%d = %" PRId64, 2 * n->c->indent, "", g->bty, i, d, f->c0);
      for (int l = 0; l < sc->nloops; l++) {
        const kiln_loop *lp = &sc->loops[l];
        if (!kiln_staging_varies(sc, g->at, l) && f->coef[lp->axis])
          fprintf(n->c->o, " + (%s)l%d * %" PRId64, g->bty, l, f->coef[lp->axis] * lp->stride);
      }
      fputs(";\n", n->c->o);
    }
}

/* Does tile i lie inside its buffer whatever the fixed loops' values (its first index
 * along each dim at least 0, and its last below the dim), so that copies need no check? */
static bool tile_inside(const nest *n, const staged *g, int i) {
  const kiln_tile *t = &g->tiles[i];
  const kiln_buffer *bf = &n->c->k->bufs[t->buf];
  for (int d = 0; d < t->rank; d++) {
    const kiln_affine *f = &t->idx[d];
    int64_t lo = f->c0, hi = f->c0, term;
    for (int l = 0; l < n->sc->nloops; l++) {
      const kiln_loop *lp = &n->sc->loops[l];
      if (kiln_staging_varies(n->sc, g->at, l) || !f->coef[lp->axis]) continue;
      if (__builtin_mul_overflow(f->coef[lp->axis], lp->stride, &term) ||
          __builtin_mul_overflow(term, lp->extent - 1, &term))
        return false;
      if (__builtin_add_overflow(term < 0 ? lo : hi, term, term < 0 ? &lo : &hi)) return false;
    }
    if (lo < 0 || hi > bf->dims[d] - t->ext[d]) return false;
  }
  return true;
}

/* One copy loop of tile i, `by` elements (1 or 4) an iteration of each thread: element
 * e = (thread + j * threads) * by of the tile, in copy iteration j (so that iteration j's
 * elements sit in prefetch registers j * by ...). */
static void copy_loop(nest *n, const staged *g, int i, int by, copy_mode mode) {
  kiln_cuda *c = n->c;
  const kiln_tile *t = &g->tiles[i];
  const kiln_buffer *bf = &c->k->bufs[t->buf];
  kiln_cuda_line(c, "#pragma unroll");
  kiln_cuda_line(c, "for (int32_t kiln_j = 0; kiln_j < %" PRId64 "; kiln_j++) {", copy_iters(g, i, by));
  c->indent++;
  kiln_cuda_line(c, "int32_t kiln_e = (kiln_t + kiln_j * %" PRId64 ") * %d;", g->threads, by);
  if (t->elems % (g->threads * by)) kiln_cuda_line(c, "if (kiln_e >= %" PRId64 ") break;", t->elems);
  char dst[64];
  if (mode == COPY_LOAD) snprintf(dst, sizeof dst, "(KILN_P(kiln_pf%d) + kiln_j * %d)", i, by);
  else snprintf(dst, sizeof dst, "(kiln_sh%d + kiln_e)", i);
  const kiln_cuda_shared *sh = &g->sh[i];
  if (mode == COPY_STORE && sh->stride[t->rank - 1] != 1) {
    /* the layout moved a dim innermost: element e's place from its index in the box */
    kiln_cuda_line(c, "int32_t kiln_r = kiln_e, kiln_s = 0;");
    for (int d = t->rank - 1; d > 0; d--)
      kiln_cuda_line(c, "kiln_s += kiln_r %% %" PRId64 " * %" PRId64 ", kiln_r /= %" PRId64 ";",
                     t->ext[d], sh->stride[d], t->ext[d]);
    kiln_cuda_line(c, "kiln_s += kiln_r * %" PRId64 ";", sh->stride[0]);
    for (int q = 0; q < by; q++)
      kiln_cuda_line(c, "kiln_sh%d[kiln_s + %" PRId64 "] = KILN_P(kiln_pf%d)[kiln_j * %d + %d];", i,
                     q * sh->stride[t->rank - 1], i, by, q);
    c->indent--;
    kiln_cuda_line(c, "}");
    return;
  }
  if (mode == COPY_STORE) {
    if (by == 4) kiln_cuda_line(c, "KILN_COPY16(%s, KILN_P(kiln_pf%d) + kiln_j * 4);", dst, i);
    else kiln_cuda_line(c, "kiln_sh%d[kiln_e] = KILN_P(kiln_pf%d)[kiln_j];", i, i);
    c->indent--;
    kiln_cuda_line(c, "}");
    return;
  }
  kiln_cuda_line(c, "int32_t kiln_r = kiln_e;");
  for (int d = t->rank - 1; d >= 0; d--) {
    if (d) {
      kiln_cuda_line(c, "int64_t kiln_g%d = kiln_sb%d_%d + kiln_r %% %" PRId64 ";", d, i, d, t->ext[d]);
      kiln_cuda_line(c, "kiln_r /= %" PRId64 ";", t->ext[d]);
    } else {
      kiln_cuda_line(c, "int64_t kiln_g%d = kiln_sb%d_%d + kiln_r;", d, i, d);
    }
  }
  bool inside = tile_inside(n, g, i);
  fprintf(c->o, "%*sif (1", 2 * c->indent, "");
  for (int d = 0; d < t->rank && !inside; d++)
    fprintf(c->o, " && kiln_g%d >= 0 && kiln_g%d < %" PRId64, d, d, bf->dims[d]);
  fputs(")\n", c->o);
  /* the element's place: dense, by a strided buffer's strides, or its flat index placed
   * (kiln_buffer_strides, as kiln_cuda_index) */
  int64_t stride = 1, strides[KILN_MAX_RANK];
  bool by_strides = bf->row && kiln_buffer_strides(bf, strides);
  fprintf(c->o, "%*s", 2 * c->indent + 2, "");
  if (by == 4) fprintf(c->o, "KILN_COPY16(%s, b%d + ", dst, t->buf);
  else fprintf(c->o, "%s[0] = b%d[", dst, t->buf);
  fputs(bf->row && !by_strides ? "kiln_place(0" : "(0", c->o);
  for (int d = t->rank - 1; d >= 0; d--) {
    fprintf(c->o, " + kiln_g%d * %" PRId64, d, by_strides ? strides[d] : stride);
    stride *= bf->dims[d];
  }
  if (bf->row && !by_strides) fprintf(c->o, ", %" PRId64 ", %" PRId64 ")", bf->row, bf->pitch);
  else fputc(')', c->o);
  fputs(by == 4 ? ");\n" : "];\n", c->o);
  kiln_cuda_line(c, "else");
  c->indent++;
  for (int j = 0; j < by; j++)
    kiln_cuda_line(c, "%s%s[%d] = (%s)0;%s", j ? "  " : by > 1 ? "{ " : "", dst, j,
                   kiln_cuda_mem_type(bf->dtype), j == by - 1 && by > 1 ? " }" : "");
  c->indent--;
  c->indent--;
  kiln_cuda_line(c, "}");
}

/* Can tile i be copied 4 elements (16 bytes) at a time: 4-byte elements, a dense buffer,
 * rows of the tile and of the buffer a multiple of 4, and each row's first index a multiple of 4 whatever
 * the fixed loops' values (so 4 elements are in the buffer or out of it together, and
 * 16-byte aligned when the buffer is)? */
static bool copies_by4(const nest *n, const staged *g, int i) {
  const kiln_tile *t = &g->tiles[i];
  const kiln_buffer *bf = &n->c->k->bufs[t->buf];
  int d = t->rank - 1;
  if (d < 0 || kiln_dtype_size(bf->dtype) != 4 || t->ext[d] % 4 || bf->dims[d] % 4 || t->idx[d].c0 % 4 ||
      bf->row)
    return false;
  for (int l = 0; l < n->sc->nloops; l++)
    if (!kiln_staging_varies(n->sc, g->at, l) && t->idx[d].coef[n->sc->loops[l].axis] * n->sc->loops[l].stride % 4)
      return false;
  return true;
}

/* The block's threads copy each tile (or its part, mode); elements outside the buffer are
 * 0. Where copies_by4 allows and the buffer is 16-byte aligned, 4 elements at a time. */
static void copy(nest *n, staged *g, copy_mode mode) {
  kiln_cuda *c = n->c;
  if (mode != COPY_STORE) bases(n, g);
  for (int i = 0; i < g->ntiles; i++) {
    if (copies_by4(n, g, i)) {
      kiln_cuda_line(c, "if (((uint64_t)b%d & 15) == 0) {", g->tiles[i].buf);
      c->indent++;
      copy_loop(n, g, i, 4, mode);
      c->indent--;
      kiln_cuda_line(c, "} else {");
      c->indent++;
      copy_loop(n, g, i, 1, mode);
      c->indent--;
      kiln_cuda_line(c, "}");
    } else {
      copy_loop(n, g, i, 1, mode);
    }
  }
}

/* The prefetch registers of the staging loop's iteration `next` (a C expression over the
 * loops outside the phase): the bases and loads in a scope where l<at> is that iteration. */
static void prefetch(nest *n, staged *g, const char *next) {
  kiln_cuda *c = n->c;
  kiln_cuda_line(c, "{");
  c->indent++;
  kiln_cuda_line(c, "int32_t kiln_nx = %s;", next);
  kiln_cuda_line(c, "{");
  c->indent++;
  kiln_cuda_line(c, "%s l%d = kiln_nx;", c->ity, g->at);
  copy(n, g, COPY_LOAD);
  c->indent--;
  kiln_cuda_line(c, "}");
  c->indent--;
  kiln_cuda_line(c, "}");
}

int kiln_cuda_shared_load(kiln_cuda *c, int i, const kiln_expr *x) {
  const kiln_cuda_shared *sh = &c->shared[i];
  if (x->nidx != sh->rank) return KILN_CUDA_FAIL(c, "staged buffer %d loaded with %d indices", x->buf, x->nidx);
  int t[KILN_MAX_RANK];
  for (int d = 0; d < sh->rank; d++)
    if ((t[d] = kiln_cuda_narrow(c, x->idx[d]) ? kiln_cuda_expr32(c, x->idx[d])
                                               : kiln_cuda_expr(c, x->idx[d])) < 0)
      return -1;
  int lin = c->ntemps++;
  fprintf(c->o, "%*sint32_t t%d = 0", 2 * c->indent, "", lin);
  for (int d = sh->rank - 1; d >= 0; d--)
    fprintf(c->o, " + (int32_t)((%s)t%d - kiln_sb%d_%d) * %" PRId64, c->idx32 ? "int32_t" : "int64_t",
            t[d], i, d, sh->stride[d]);
  fputs(";\n", c->o);
  char array[16];
  snprintf(array, sizeof array, "kiln_sh%d", i);
  return kiln_cuda_load_from(c, x->buf, array, lin);
}

/* In each iteration of the staging loop: copy the tiles (from the prefetch registers,
 * which then load the next iteration's slices while this one computes), then the loops
 * inside it. */
static kiln_status body_iteration(nest *n) {
  kiln_cuda *c = n->c;
  staged *g = n->ctx;
  int stop = n->nw, from = g->pos;
  kiln_cuda_line(c, "KILN_SYNC;");
  open_phase(n, g);
  copy(n, g, g->prefetch ? COPY_STORE : COPY_DIRECT);
  close_phase(n, g);
  kiln_cuda_line(c, "KILN_SYNC;");
  open_phase(n, g);
  if (g->prefetch) {
    kiln_cuda_line(c, "if (l%d + 1 < %" PRId64 ")", g->at, n->sc->loops[g->at].extent);
    char next[32];
    snprintf(next, sizeof next, "l%d + 1", g->at);
    prefetch(n, g, next);
  }
  /* where the value reads staged tiles alone, every point of the block reads inside them
   * (a tile spans its loops whole, past the extents too): points past a spatial extent
   * compute unguarded, into accumulators the post phase never stores, so that the tile's
   * loop bodies stay branch-free (and their shared-memory reads vectors) */
  bool saved[KILN_MAX_AXES];
  for (int a = 0; a < n->s->naxes; a++) {
    saved[a] = n->guard[a];
    if (g->all_staged && !n->s->axes[a].reduce) n->guard[a] = false;
  }
  complete_prefix(n);
  bases(n, g);
  c->shared = g->sh;
  c->nshared = g->ntiles;
  kiln_status st = kiln_cuda_walk(n, from + 1, stop, kiln_cuda_body_tile_combine);
  c->shared = NULL;
  c->nshared = 0;
  for (int a = 0; a < n->s->naxes; a++) n->guard[a] = saved[a];
  close_phase(n, g);
  return st;
}

/* Does x load staged buffers alone? */
static bool loads_staged(const kiln_expr *x, const staged *g, int depth) {
  if (!x) return true;
  if (depth > 64) return false;
  if (x->kind == KX_LOAD) {
    bool in = false;
    for (int i = 0; i < g->ntiles; i++) in |= g->tiles[i].buf == x->buf;
    if (!in) return false;
    for (int d = 0; d < x->nidx; d++)
      if (!loads_staged(x->idx[d], g, depth + 1)) return false;
  }
  return loads_staged(x->a, g, depth + 1) && loads_staged(x->b, g, depth + 1) &&
         loads_staged(x->c, g, depth + 1);
}

/* The staging loop, after a phase that loads its first slices into the prefetch registers. */
static kiln_status staging_loop(nest *n) {
  staged *g = n->ctx;
  open_phase(n, g);
  prefetch(n, g, "0");
  close_phase(n, g);
  return kiln_cuda_walk(n, g->pos, g->pos + 1, body_iteration);
}

/* Tile i's layout in shared memory (g->sh[i].stride): row-major, except that with the
 * prefetch registers (whose stores may scatter) the dim along which a thread's innermost
 * run of points moves (the innermost spatial tile loop of stride 1 that the tile's index
 * uses, in one dim alone) goes innermost, so that the thread reads runs of the tile as
 * vectors: A[m, k] of a GEMM is stored k-major, read as float4 along m. */
static void layout(const nest *n, staged *g, int i) {
  const kiln_tile *t = &g->tiles[i];
  const kiln_schedule *sc = n->sc;
  int inner = t->rank - 1;
  for (int l = sc->nloops - 1; g->prefetch && l > g->at; l--) {
    const kiln_loop *lp = &sc->loops[l];
    if (n->s->axes[lp->axis].reduce || lp->stride != 1) continue;
    int uses = 0, d0 = -1;
    for (int d = 0; d < t->rank; d++)
      if (t->idx[d].coef[lp->axis]) uses++, d0 = d;
    if (uses == 1) inner = d0;
    if (uses) break;
  }
  int64_t stride = 1;
  g->sh[i].stride[inner] = stride;
  stride *= t->ext[inner];
  for (int d = t->rank - 1; d >= 0; d--)
    if (d != inner) {
      g->sh[i].stride[d] = stride;
      stride *= t->ext[d];
    }
}

/* Do the tiles' first indices fit in int32, whatever the loops' values (every term of
 * c0 + sum coef * stride * l at most INT32_MAX in size together)? */
static bool bases_fit32(const kiln_schedule *sc, const staged *g) {
  for (int i = 0; i < g->ntiles; i++)
    for (int d = 0; d < g->tiles[i].rank; d++) {
      const kiln_affine *f = &g->tiles[i].idx[d];
      int64_t sum = f->c0 < 0 ? -f->c0 : f->c0, term;
      for (int l = 0; l < sc->nloops; l++) {
        const kiln_loop *lp = &sc->loops[l];
        int64_t cf = f->coef[lp->axis] < 0 ? -f->coef[lp->axis] : f->coef[lp->axis];
        if (__builtin_mul_overflow(cf, lp->stride, &term) ||
            __builtin_mul_overflow(term, lp->extent, &term) || __builtin_add_overflow(sum, term, &sum))
          return false;
      }
      if (sum > INT32_MAX) return false;
    }
  return true;
}

kiln_status kiln_cuda_staged(nest *n) {
  kiln_cuda *c = n->c;
  const kiln_stage *s = n->s;
  const kiln_schedule *sc = n->sc;
  staged g = {.at = kiln_staging_loop(sc)};
  int64_t grid;
  kiln_cuda_launch_size(s, &grid, &g.threads);
  for (int i = 0; i < sc->nshare; i++) {
    char why[160];
    kiln_tile *t = &g.tiles[g.ntiles];
    if (!kiln_staging_tile(s, g.at, sc->share[i], t, why, sizeof why)) {
      (void)KILN_CUDA_FAIL(c, "%s", why);
      return kiln_cuda_nest_fail(n);
    }
    if (kiln_buffer_is_dyn(&c->k->bufs[t->buf])) {
      (void)KILN_CUDA_FAIL(c, "staged buffer '%s' has run-time dims", c->k->bufs[t->buf].name);
      return kiln_cuda_nest_fail(n);
    }
    g.sh[g.ntiles] = (kiln_cuda_shared){.buf = t->buf, .rank = t->rank};
    for (int d = 0; d < t->rank; d++) g.sh[g.ntiles].ext[d] = t->ext[d];
    g.ntiles++;
  }
  g.bty = c->idx32 && bases_fit32(sc, &g) ? "int32_t" : "int64_t";
  int64_t pf = 0;
  for (int i = 0; i < g.ntiles; i++) pf += prefetch_regs(&g, i);
  g.prefetch = pf <= PREFETCH_MAX;
  g.all_staged = loads_staged(s->value, &g, 0);
  for (int i = 0; i < g.ntiles; i++) layout(n, &g, i);
  /* the walks: block and thread loops, the reductions in order, then the tile (comb);
   * block and thread loops, then the tile (points) */
  int comb[KILN_MAX_LOOPS], points[KILN_MAX_LOOPS], tile[KILN_MAX_LOOPS], ncomb = 0, npts = 0;
  n->ntile = 0;
  n->npoints = 1;
  for (int l = 0; l < n->nbt; l++) comb[ncomb++] = points[npts++] = l;
  for (int l = n->nbt; l < sc->nloops; l++)
    if (s->axes[sc->loops[l].axis].reduce) comb[ncomb++] = l;
    else tile[n->ntile++] = l, n->npoints *= sc->loops[l].extent;
  for (int i = 0; i < n->ntile; i++) comb[ncomb++] = points[npts++] = tile[i];
  n->tile = tile;
  n->nred = ncomb - n->nbt - n->ntile;
  n->ctx = &g;
  n->acc_arr = "KILN_P(kiln_acc)";
  const char *rt = kiln_cuda_reg_type(s->value->dtype);
  kiln_cuda_line(c, "/* %d tiles staged in shared memory, %" PRId64 " points a thread */",
                 g.ntiles, n->npoints);
  if (c->k->nsyms) kiln_cuda_dyn_begin(c, s);
  kiln_cuda_line(c, "KILN_BLOCKS_BEGIN");
  c->indent++;
  for (int i = 0; i < g.ntiles; i++)
    kiln_cuda_line(c, "KILN_SHARED %s kiln_sh%d[%" PRId64 "];",
                   kiln_cuda_mem_type(c->k->bufs[g.tiles[i].buf].dtype), i, g.tiles[i].elems);
  kiln_cuda_line(c, "KILN_PRIVATE_N(%s, kiln_acc, %" PRId64 ", %" PRId64 ");", rt, g.threads,
                 n->npoints);
  for (int i = 0; g.prefetch && i < g.ntiles; i++)
    kiln_cuda_line(c, "KILN_PRIVATE_A(%s, kiln_pf%d, %" PRId64 ", %" PRId64 ");",
                   kiln_cuda_mem_type(c->k->bufs[g.tiles[i].buf].dtype), i, g.threads,
                   prefetch_regs(&g, i));
  kiln_cuda_set_walk(n, points, npts);
  open_phase(n, &g);
  complete_prefix(n);
  kiln_status st = kiln_cuda_walk(n, n->nbt, npts, kiln_cuda_body_tile_init);
  close_phase(n, &g);
  if (!st) {
    /* the serial loops down to the staging loop run over the whole block */
    kiln_cuda_set_walk(n, comb, ncomb);
    while (comb[g.pos] != g.at) g.pos++;
    st = g.prefetch ? kiln_cuda_walk(n, n->nbt, g.pos, staging_loop)
                    : kiln_cuda_walk(n, n->nbt, g.pos + 1, body_iteration);
  }
  if (!st) {
    kiln_cuda_set_walk(n, points, npts);
    open_phase(n, &g);
    complete_prefix(n);
    st = kiln_cuda_walk(n, n->nbt, npts, kiln_cuda_body_tile_post);
    close_phase(n, &g);
  }
  c->indent--;
  kiln_cuda_line(c, "KILN_BLOCKS_END");
  c->exit = "kiln_next";
  n->acc_arr = NULL;
  n->ctx = NULL;
  return st;
}
