/* One stage -> the body of its CUDA kernel function. The leading block and thread loops
 * (ir/kernel.h) are decoded from blockIdx.x / threadIdx.x (mixed radix, innermost
 * fastest); the other loops are C for-loops in schedule order. An axis's value is the sum
 * of its loops' variables times their strides, computed once its last loop is open, and
 * a point past its extent is skipped (`continue`, or `goto kiln_next` for the thread).
 * A stage whose threads share reductions is cuda_reduce.c's, one that stages tiles in
 * shared memory cuda_staged.c's.
 * Reductions follow the LLVM backend's three modes (codegen/llvm_stage.c), which give the
 * same results: a register accumulator when every reduction loop is inside every
 * spatial loop; a register tile (an accumulator array, one element per tile point) when
 * the spatial loops inside the reductions are a small unrolled/vector tile; otherwise
 * accumulation in the output buffer (init, combine and post nests over the points this
 * thread owns: spatial loops are never split across threads inside a reduction).
 * A symbolic axis (a run-time extent, cuda_dyn.c) is always guarded and its outermost
 * loop runs ceil(extent / stride) times; where that loop is a block loop, the launch keeps
 * the grid of the hints and the stage walks the blocks it needs in strides of that grid. */
#include "codegen/cuda_nest.h"

#include "ir/dtype.h"
#include "ir/staging.h"

#include <inttypes.h>
#include <string.h>

#define TILE_MAX_POINTS 512

/* Axis a's extent, or loop l's trip count, as C. */
static const char *ext_c(const nest *n, int a, char *buf, size_t len) {
  if (n->s->axes[a].dyn) snprintf(buf, len, "kiln_e%d", a);
  else snprintf(buf, len, "%" PRId64, n->s->axes[a].extent);
  return buf;
}

static const char *trip_c(const nest *n, int l, char *buf, size_t len) {
  const kiln_loop *lp = &n->sc->loops[l];
  if (!kiln_loop_is_dyn(n->s, n->sc, l)) snprintf(buf, len, "%" PRId64, lp->extent);
  else if (lp->stride == 1) snprintf(buf, len, "kiln_e%d", lp->axis);
  else snprintf(buf, len, "((kiln_e%d + %" PRId64 ") / %" PRId64 ")", lp->axis, lp->stride - 1, lp->stride);
  return buf;
}

kiln_status kiln_cuda_nest_fail(nest *n) {
  return n->c->err->code ? n->c->err->code : KILN_ERR_INTERNAL;
}

/* Walk list w; axes with loops in the schedule but none in w are undefined there. */
void kiln_cuda_set_walk(nest *n, const int *w, int nw) {
  n->w = w;
  n->nw = nw;
  for (int a = 0; a < n->s->naxes; a++) {
    n->last[a] = -1;
    int64_t cover = 1;
    bool any = false;
    for (int i = 0; i < nw; i++)
      if (n->sc->loops[w[i]].axis == a) {
        n->last[a] = i;
        if (kiln_mul_overflows(cover, n->sc->loops[w[i]].extent, &cover)) cover = INT64_MAX;
      }
    for (int l = 0; l < n->sc->nloops; l++) any |= n->sc->loops[l].axis == a;
    n->guard[a] = n->s->axes[a].dyn || cover > n->s->axes[a].extent;
    if (!any) snprintf(n->c->axis[a], sizeof n->c->axis[a], "0");
  }
}

void kiln_cuda_complete_axis(nest *n, int a) {
  kiln_cuda *c = n->c;
  int i = n->last[a];
  fprintf(c->o, "%*s%s a%d = ", 2 * c->indent, "", c->ity, a);
  bool first = true;
  for (int j = 0; j <= i; j++) {
    const kiln_loop *lp = &n->sc->loops[n->w[j]];
    if (lp->axis != a) continue;
    fprintf(c->o, "%sl%d", first ? "" : " + ", n->w[j]);
    if (lp->stride != 1) fprintf(c->o, " * %" PRId64, lp->stride);
    first = false;
  }
  fputs(";\n", c->o);
  snprintf(c->axis[a], sizeof c->axis[a], "a%d", a);
  char ext[32];
  if (n->guard[a]) {
    if (n->w[i] < n->nbt && !n->grid_stride)
      kiln_cuda_line(c, "if (a%d >= %s) goto %s;", a, ext_c(n, a, ext, sizeof ext), c->exit);
    else
      kiln_cuda_line(c, "if (a%d >= %s) continue;", a, ext_c(n, a, ext, sizeof ext));
  }
}

/* Axes whose last loop is w[i]: their values, and the skip of points past the extent. */
static void complete_axes(nest *n, int i) {
  for (int a = 0; a < n->s->naxes; a++)
    if (n->last[a] == i) kiln_cuda_complete_axis(n, a);
}

static void undefine_axes(nest *n, int i) {
  for (int a = 0; a < n->s->naxes; a++)
    if (n->last[a] == i) n->c->axis[a][0] = 0;
}

/* Loops w[i..stop) around body. */
kiln_status kiln_cuda_walk(nest *n, int i, int stop, nest_body body) {
  kiln_cuda *c = n->c;
  if (i == stop) return body(n);
  int l = n->w[i];
  const kiln_loop *lp = &n->sc->loops[l];
  if (lp->kind == KILN_LOOP_UNROLL) kiln_cuda_line(c, "#pragma unroll");
  char trip[64];
  kiln_cuda_line(c, "for (%s l%d = 0; l%d < %s; l%d++) {", c->ity, l, l, trip_c(n, l, trip, sizeof trip), l);
  c->indent++;
  complete_axes(n, i);
  kiln_status st = kiln_cuda_walk(n, i + 1, stop, body);
  undefine_axes(n, i);
  c->indent--;
  kiln_cuda_line(c, "}");
  return st;
}

/* ---- bodies ------------------------------------------------------------------------------ */

static int out_index(nest *n) {
  return kiln_cuda_index(n->c, n->s->out_buf, n->s->out_idx, n->s->nout_idx, true);
}

static kiln_status store_value(nest *n, const kiln_expr *x) {
  kiln_cuda *c = n->c;
  kiln_dtype t = c->k->bufs[n->s->out_buf].dtype;
  if (x->dtype != t) {
    (void)KILN_CUDA_FAIL(c, "stores %s into a %s buffer", kiln_dtype_name(x->dtype), kiln_dtype_name(t));
    return kiln_cuda_nest_fail(n);
  }
  int v = kiln_cuda_expr(c, x), lin = v < 0 ? -1 : out_index(n);
  if (lin < 0) return kiln_cuda_nest_fail(n);
  kiln_cuda_store(c, n->s->out_buf, lin, v);
  return KILN_OK;
}

static kiln_status body_plain(nest *n) {
  kiln_cuda_memo_reset(n->c);
  return store_value(n, n->s->value);
}

int kiln_cuda_init_value(nest *n) {
  const kiln_stage *s = n->s;
  if (!s->init) return kiln_cuda_identity(n->c, s->reduce, s->value->dtype);
  if (s->init->dtype != s->value->dtype) return KILN_CUDA_FAIL(n->c, "ill-typed init");
  return kiln_cuda_expr(n->c, s->init);
}

/* post(acc) stored at the output index; acc a temporary */
kiln_status kiln_cuda_store_post(nest *n, int acc) {
  kiln_cuda *c = n->c;
  c->acc = acc;
  c->acc_dtype = n->s->value->dtype;
  kiln_status st = KILN_OK;
  if (n->s->post) {
    st = store_value(n, n->s->post);
  } else if (c->k->bufs[n->s->out_buf].dtype != n->s->value->dtype) {
    (void)KILN_CUDA_FAIL(c, "reduction of a different type than its output");
    st = kiln_cuda_nest_fail(n);
  } else {
    int lin = out_index(n);
    if (lin < 0) st = kiln_cuda_nest_fail(n);
    else kiln_cuda_store(c, n->s->out_buf, lin, acc);
  }
  c->acc = -1;
  return st;
}

/* register mode: `kiln_acc` holds the point's reduction */
kiln_status kiln_cuda_body_combine_reg(nest *n) {
  kiln_cuda *c = n->c;
  kiln_cuda_memo_reset(c);
  kiln_dtype t = n->s->value->dtype;
  int v = kiln_cuda_expr(c, n->s->value);
  if (v < 0) return kiln_cuda_nest_fail(n);
  int a = c->ntemps++;
  kiln_cuda_line(c, "%s t%d = kiln_acc;", kiln_cuda_reg_type(t), a);
  int r = kiln_cuda_combine(c, n->s->reduce, t, a, v);
  if (r < 0) return kiln_cuda_nest_fail(n);
  kiln_cuda_line(c, "kiln_acc = t%d;", r);
  return KILN_OK;
}

static kiln_status body_reduce_reg(nest *n) {
  kiln_cuda *c = n->c;
  kiln_cuda_memo_reset(c);
  kiln_dtype t = n->s->value->dtype;
  int init = kiln_cuda_init_value(n);
  if (init < 0) return kiln_cuda_nest_fail(n);
  kiln_cuda_line(c, "%s kiln_acc = t%d;", kiln_cuda_reg_type(t), init);
  if (!n->empty_reduce) {
    kiln_status st = kiln_cuda_walk(n, n->p, n->nw, kiln_cuda_body_combine_reg);
    if (st) return st;
  }
  kiln_cuda_memo_reset(c);
  int acc = c->ntemps++;
  kiln_cuda_line(c, "%s t%d = kiln_acc;", kiln_cuda_reg_type(t), acc);
  return kiln_cuda_store_post(n, acc);
}

static kiln_status body_init_mem(nest *n) {
  kiln_cuda_memo_reset(n->c);
  int init = kiln_cuda_init_value(n), lin = init < 0 ? -1 : out_index(n);
  if (lin < 0) return kiln_cuda_nest_fail(n);
  kiln_cuda_store(n->c, n->s->out_buf, lin, init);
  return KILN_OK;
}

static kiln_status body_combine_mem(nest *n) {
  kiln_cuda *c = n->c;
  kiln_cuda_memo_reset(c);
  int v = kiln_cuda_expr(c, n->s->value), lin = v < 0 ? -1 : out_index(n);
  if (lin < 0) return kiln_cuda_nest_fail(n);
  int r = kiln_cuda_combine(c, n->s->reduce, n->s->value->dtype,
                            kiln_cuda_load(c, n->s->out_buf, lin), v);
  if (r < 0) return kiln_cuda_nest_fail(n);
  kiln_cuda_store(c, n->s->out_buf, lin, r);
  return KILN_OK;
}

static kiln_status body_post_mem(nest *n) {
  kiln_cuda_memo_reset(n->c);
  int lin = out_index(n);
  if (lin < 0) return kiln_cuda_nest_fail(n);
  return kiln_cuda_store_post(n, kiln_cuda_load(n->c, n->s->out_buf, lin));
}

/* ---- register tiles ------------------------------------------------------------------------ */

static const char *acc_arr(const nest *n) { return n->acc_arr ? n->acc_arr : "kiln_acc"; }

/* At the innermost tile loop: kiln_pt, the point's index in the accumulator array. */
static void tile_point(nest *n) {
  kiln_cuda *c = n->c;
  fprintf(c->o, "%*s%s kiln_pt = %s", 2 * c->indent, "", c->ity, n->ntile ? "" : "0");
  for (int i = 1; i < n->ntile; i++) fputc('(', c->o); /* Horner's rule, outermost first */
  for (int i = 0; i < n->ntile; i++) {
    const kiln_loop *lp = &n->sc->loops[n->tile[i]];
    if (i) fprintf(c->o, ") * %" PRId64 " + ", lp->extent);
    fprintf(c->o, "l%d", n->tile[i]);
  }
  fputs(";\n", c->o);
}

kiln_status kiln_cuda_body_tile_init(nest *n) {
  kiln_cuda_memo_reset(n->c);
  tile_point(n);
  int init = kiln_cuda_init_value(n);
  if (init < 0) return kiln_cuda_nest_fail(n);
  kiln_cuda_line(n->c, "%s[kiln_pt] = t%d;", acc_arr(n), init);
  return KILN_OK;
}

kiln_status kiln_cuda_body_tile_combine(nest *n) {
  kiln_cuda *c = n->c;
  kiln_cuda_memo_reset(c);
  tile_point(n);
  kiln_dtype t = n->s->value->dtype;
  int v = kiln_cuda_expr(c, n->s->value);
  if (v < 0) return kiln_cuda_nest_fail(n);
  int a = c->ntemps++;
  kiln_cuda_line(c, "%s t%d = %s[kiln_pt];", kiln_cuda_reg_type(t), a, acc_arr(n));
  int r = kiln_cuda_combine(c, n->s->reduce, t, a, v);
  if (r < 0) return kiln_cuda_nest_fail(n);
  kiln_cuda_line(c, "%s[kiln_pt] = t%d;", acc_arr(n), r);
  return KILN_OK;
}

kiln_status kiln_cuda_body_tile_post(nest *n) {
  kiln_cuda *c = n->c;
  kiln_cuda_memo_reset(c);
  tile_point(n);
  int acc = c->ntemps++;
  kiln_cuda_line(c, "%s t%d = %s[kiln_pt];", kiln_cuda_reg_type(n->s->value->dtype), acc,
                 acc_arr(n));
  return kiln_cuda_store_post(n, acc);
}

/* Between the outer spatial loops (w[0..nw) opened) and the reductions: init, combine and
 * post over the tile's points, each a walk of its own list. */
static kiln_status body_tile(nest *n) {
  kiln_cuda *c = n->c;
  const int *comb = n->w; /* outer loops, reductions, tile */
  int ncomb = n->nw, nouter = ncomb - n->nred - n->ntile;
  int points[KILN_MAX_LOOPS], npts = 0; /* outer loops, tile: for init and post */
  for (int i = 0; i < nouter; i++) points[npts++] = comb[i];
  for (int i = 0; i < n->ntile; i++) points[npts++] = n->tile[i];
  kiln_cuda_line(c, "%s kiln_acc[%" PRId64 "];", kiln_cuda_reg_type(n->s->value->dtype), n->npoints);
  static const nest_body bodies[3] = {kiln_cuda_body_tile_init, kiln_cuda_body_tile_combine,
                                      kiln_cuda_body_tile_post};
  kiln_status st = KILN_OK;
  for (int k = 0; k < 3 && !st; k++) {
    if (k == 1 && n->empty_reduce) continue;
    if (k == 1) kiln_cuda_set_walk(n, comb, ncomb);
    else kiln_cuda_set_walk(n, points, npts);
    st = kiln_cuda_walk(n, nouter, k == 1 ? ncomb : npts, bodies[k]);
  }
  kiln_cuda_set_walk(n, comb, ncomb);
  return st;
}

/* ---- a stage ------------------------------------------------------------------------------- */

void kiln_cuda_launch_size(const kiln_stage *s, int64_t *grid, int64_t *threads) {
  *grid = *threads = 1;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].extent <= 0 && !s->axes[a].reduce) *grid = 0; /* nothing to store */
  for (int l = 0; l < s->sched.nloops; l++) {
    const kiln_loop *lp = &s->sched.loops[l];
    if (lp->kind == KILN_LOOP_BLOCK && *grid) *grid = lp->extent > MAX_GRID / *grid ? -1 : *grid * lp->extent;
    if (lp->kind == KILN_LOOP_THREAD) *threads *= lp->extent;
    if (*grid < 0) break;
  }
}

bool kiln_cuda_stage_ok(const kiln_cuda *c, const kiln_stage *s) {
  if (s->out_buf < 0 || s->out_buf >= c->k->nbufs || !s->value) return false;
  if (s->nout_idx != c->k->bufs[s->out_buf].rank || (s->nout_idx && !s->out_idx)) return false;
  if ((unsigned)s->reduce > KR_MIN || s->naxes < 0 || s->naxes > KILN_MAX_AXES) return false;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].reduce && s->reduce == KR_NONE) return false;
  return kiln_cuda_reg_type(s->value->dtype) != NULL;
}

/* Decodes the block and thread loops l0..l(nbt-1) from the launch indices. */
void kiln_cuda_decode_prefix(nest *n) {
  kiln_cuda *c = n->c;
  for (int pass = 0; pass < 2; pass++) {
    kiln_loop_kind kind = pass ? KILN_LOOP_THREAD : KILN_LOOP_BLOCK;
    int lo = n->nbt, hi = -1;
    for (int l = 0; l < n->nbt; l++)
      if (n->sc->loops[l].kind == kind) {
        if (l < lo) lo = l;
        hi = l;
      }
    if (hi < 0) continue;
    const char *v = pass ? "kiln_thread" : "kiln_block";
    kiln_cuda_line(c, "%s %s = %s;", c->ity, v, pass ? "KILN_THREAD_ID" : n->grid_stride ? "kiln_flat"
                   : "KILN_BLOCK_ID");
    for (int l = hi; l >= lo; l--) {
      char e[64];
      trip_c(n, l, e, sizeof e);
      if (l == lo) {
        kiln_cuda_line(c, "%s l%d = %s;", c->ity, l, v);
      } else {
        kiln_cuda_line(c, "%s l%d = %s %% %s;", c->ity, l, v, e);
        kiln_cuda_line(c, "%s /= %s;", v, e);
      }
    }
  }
}

static bool tile_fits(const kiln_stage *s, int p, int *tile, int *ntile, int64_t *npoints) {
  const kiln_schedule *sc = &s->sched;
  int64_t pts = 1;
  *ntile = 0;
  for (int l = p; l < sc->nloops; l++) {
    const kiln_loop *lp = &sc->loops[l];
    if (s->axes[lp->axis].reduce) continue;
    if (lp->kind != KILN_LOOP_UNROLL && lp->kind != KILN_LOOP_VECTOR) return false;
    pts *= lp->extent;
    if (pts > TILE_MAX_POINTS) return false;
    tile[(*ntile)++] = l;
  }
  *npoints = pts;
  return pts >= 1;
}

bool kiln_cuda_cross_thread(const kiln_stage *s) {
  for (int l = 0; l < s->sched.nloops; l++) {
    const kiln_loop *lp = &s->sched.loops[l];
    if (lp->kind == KILN_LOOP_THREAD && lp->axis >= 0 && lp->axis < s->naxes &&
        s->axes[lp->axis].reduce)
      return true;
  }
  return false;
}

bool kiln_cuda_phased(const kiln_stage *s) {
  return kiln_cuda_cross_thread(s) || kiln_staging_loop(&s->sched) >= 0;
}

kiln_status kiln_cuda_stage(kiln_cuda *c, const kiln_stage *s, int64_t *grid, int64_t *threads) {
  c->st = s;
  c->acc = -1;
  c->exit = "kiln_next";
  for (int a = 0; a < KILN_MAX_AXES; a++) c->axis[a][0] = 0;
  if (!kiln_cuda_stage_ok(c, s)) {
    (void)KILN_CUDA_FAIL(c, "malformed stage");
    return KILN_ERR_INTERNAL;
  }
  if (kiln_schedule_check(s, c->err)) return KILN_ERR_INTERNAL;
  kiln_cuda_launch_size(s, grid, threads);
  if (*grid < 0) {
    (void)KILN_CUDA_FAIL(c, "more than %" PRId64 " blocks", MAX_GRID);
    return KILN_ERR_INTERNAL;
  }
  if (!*grid) return KILN_OK;
  const kiln_schedule *sc = &s->sched;
  nest n = {.c = c, .s = s, .sc = sc};
  int nl = sc->nloops, p = nl;
  bool memory = false;
  for (int a = 0; a < s->naxes; a++)
    if (s->axes[a].extent <= 0) n.empty_reduce = true;
  for (int l = 0; l < nl; l++)
    if (s->axes[sc->loops[l].axis].reduce) {
      if (p == nl) p = l;
    } else if (p < nl) {
      memory = true;
    }
  n.p = p;
  while (n.nbt < nl && (sc->loops[n.nbt].kind == KILN_LOOP_BLOCK ||
                        sc->loops[n.nbt].kind == KILN_LOOP_THREAD))
    n.nbt++;
  int all[KILN_MAX_LOOPS], tile[KILN_MAX_LOOPS], comb[KILN_MAX_LOOPS], ncomb = 0;
  for (int l = 0; l < nl; l++) all[l] = l;
  if (kiln_cuda_cross_thread(s)) {
    if (c->k->nsyms) {
      (void)KILN_CUDA_FAIL(c, "threads sharing a reduction need static extents (the kernel has "
                           "run-time dims)");
      return KILN_ERR_UNSUPPORTED;
    }
    kiln_cuda_set_walk(&n, all, nl);
    kiln_status st = kiln_cuda_reduce(&n);
    c->st = NULL;
    return st;
  }
  if (kiln_staging_loop(sc) >= 0) {
    kiln_status st = kiln_cuda_staged(&n);
    c->st = NULL;
    return st;
  }
  bool is_tile = memory && tile_fits(s, p, tile, &n.ntile, &n.npoints);

  if (c->k->nsyms) kiln_cuda_dyn_begin(c, s);
  for (int l = 0; l < n.nbt; l++)
    n.grid_stride |= sc->loops[l].kind == KILN_LOOP_BLOCK && kiln_loop_is_dyn(s, sc, l);
  if (n.grid_stride) { /* this launch's blocks, then the next grid's */
    fprintf(c->o, "%*sfor (int64_t kiln_flat = KILN_BLOCK_ID; kiln_flat < 1", 2 * c->indent, "");
    for (int l = 0; l < n.nbt; l++) {
      char t[64];
      if (sc->loops[l].kind == KILN_LOOP_BLOCK) fprintf(c->o, " * %s", trip_c(&n, l, t, sizeof t));
    }
    fprintf(c->o, "; kiln_flat += %" PRId64 ") {\n", *grid);
    c->indent++;
  }
  /* axes whose loops are all block or thread loops: done here */
  kiln_cuda_set_walk(&n, all, nl);
  kiln_cuda_decode_prefix(&n);
  for (int i = 0; i < n.nbt; i++) complete_axes(&n, i);
  kiln_status st = KILN_OK;
  if (s->reduce == KR_NONE) {
    kiln_cuda_set_walk(&n, all, nl);
    st = kiln_cuda_walk(&n, n.nbt, nl, body_plain);
  } else if (is_tile) {
    /* the spatial loops before the reductions, then the tile's three walks */
    for (int l = 0; l < p; l++) comb[ncomb++] = l;
    for (int l = p; l < nl; l++)
      if (s->axes[sc->loops[l].axis].reduce) comb[ncomb++] = l;
    n.nred = ncomb - p;
    for (int i = 0; i < n.ntile; i++) comb[ncomb++] = tile[i];
    n.tile = tile;
    kiln_cuda_set_walk(&n, comb, ncomb);
    st = kiln_cuda_walk(&n, n.nbt, p, body_tile);
  } else if (!memory) {
    kiln_cuda_set_walk(&n, all, nl);
    st = kiln_cuda_walk(&n, n.nbt, p, body_reduce_reg);
  } else {
    if (s->value->dtype != c->k->bufs[s->out_buf].dtype) {
      (void)KILN_CUDA_FAIL(c, "accumulating in memory needs the value and output types to agree");
      return KILN_ERR_INTERNAL;
    }
    int spatial[KILN_MAX_LOOPS], nsp = 0;
    for (int l = 0; l < nl; l++)
      if (!s->axes[sc->loops[l].axis].reduce) spatial[nsp++] = l;
    kiln_cuda_set_walk(&n, spatial, nsp);
    st = kiln_cuda_walk(&n, n.nbt, nsp, body_init_mem);
    if (!st && !n.empty_reduce) {
      kiln_cuda_set_walk(&n, all, nl);
      st = kiln_cuda_walk(&n, n.nbt, nl, body_combine_mem);
    }
    if (!st && s->post) {
      kiln_cuda_set_walk(&n, spatial, nsp);
      st = kiln_cuda_walk(&n, n.nbt, nsp, body_post_mem);
    }
  }
  if (n.grid_stride) {
    c->indent--;
    kiln_cuda_line(c, "}");
  }
  c->st = NULL;
  return st;
}
