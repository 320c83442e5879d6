/* Conv and the window geometry the pooling ops and ConvTranspose (conv_transpose.c)
 * share. Conv is one reduction stage over (input channel of the group, kernel offsets); it
 * reads a zero-padded (and, when strided, phase-split) copy of its input (plain loads, see
 * conv_copy_input); a 2-D Conv with narrow rows also flattens its output rows into one
 * axis (see conv_flat). */
#include "ir/ops/nn_window.h"

#include "ir/dtype.h"

#include <string.h>

kiln_status kiln_window_ints(const kiln_node *n, const char *name, int count, int64_t dflt,
                             int64_t *out, kiln_error *err) {
  const int64_t *v;
  int c = kiln_attr_ints(n, name, &v);
  if (c < 0) {
    for (int i = 0; i < count; i++) out[i] = dflt;
    return KILN_OK;
  }
  if (c != count)
    return kiln_fail(err, KILN_ERR_INVALID_MODEL, "node '%s' (%s): %s has %d values, expected %d",
                     n->name, n->op_type, name, c, count);
  memcpy(out, v, sizeof(int64_t) * (size_t)count);
  return KILN_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
kiln_status kiln_window_plan(const kiln_node *n, int rank, const int64_t *x,
                             const int64_t *kernel, bool pooling, kiln_window *w,
                             kiln_error *err) {
  memset(w, 0, sizeof *w);
  if (rank < 3)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): input must have rank >= 3, got %d",
                     n->name, n->op_type, rank);
  int ns = w->nsp = rank - 2;
  int64_t pads[2 * KILN_MAX_SPATIAL];
  if (kiln_window_ints(n, "strides", ns, 1, w->stride, err) ||
      kiln_window_ints(n, "dilations", ns, 1, w->dil, err) ||
      kiln_window_ints(n, "pads", 2 * ns, 0, pads, err))
    return err->code;
  const char *ap = kiln_attr_str(n, "auto_pad", "NOTSET");
  bool ceil_mode = pooling && kiln_attr_int(n, "ceil_mode", 0) != 0;
  for (int d = 0; d < ns; d++) {
    int64_t in = w->in[d] = x[d + 2], s = w->stride[d];
    w->kernel[d] = kernel[d];
    if (s < 1 || w->dil[d] < 1 || kernel[d] < 1)
      return kiln_fail(err, KILN_ERR_INVALID_MODEL,
                       "node '%s' (%s): kernel, strides and dilations must be positive", n->name,
                       n->op_type);
    int64_t eff = (kernel[d] - 1) * w->dil[d] + 1;
    if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
      w->same = ap[5];
      w->out[d] = ceil_div(in, s);
      int64_t total = (w->out[d] - 1) * s + eff - in;
      if (total < 0) total = 0;
      w->pad_begin[d] = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
      w->pad_end[d] = total - w->pad_begin[d];
      continue;
    }
    if (!strcmp(ap, "NOTSET")) {
      w->pad_begin[d] = pads[d];
      w->pad_end[d] = pads[d + ns];
    } else if (strcmp(ap, "VALID"))
      return kiln_fail(err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): unknown auto_pad '%s'",
                       n->name, n->op_type, ap);
    int64_t span = in + w->pad_begin[d] + w->pad_end[d] - eff;
    /* in ceil mode a window may reach past the padded input: ceil(span / s) + 1 >= 1 (a 3-wide
     * pool of stride 2 over 2 pixels has one output, of the pixels it covers) */
    if (span < 0 && !(ceil_mode && span > -s))
      return kiln_fail(err, KILN_ERR_SHAPE,
                       "node '%s' (%s): window %lld is larger than the padded input %lld",
                       n->name, n->op_type, (long long)eff,
                       (long long)(in + w->pad_begin[d] + w->pad_end[d]));
    w->out[d] = (ceil_mode ? ceil_div(span, s) : kiln_floor_div(span, s)) + 1;
    /* a last window that would start inside the end padding is dropped (as PyTorch/ORT) */
    if (ceil_mode && (w->out[d] - 1) * s >= in + w->pad_begin[d]) w->out[d]--;
  }
  return KILN_OK;
}

kiln_expr *kiln_window_pos(kiln_kernel *k, const kiln_window *w, int d, kiln_expr *o,
                           kiln_expr *kv) {
  return kx_add(k, kiln_window_unpad(k, w, d, kx_muli(k, o, w->stride[d])),
                kx_muli(k, kv, w->dil[d]));
}

kiln_expr *kiln_window_unpad(kiln_kernel *k, const kiln_window *w, int d, kiln_expr *x) {
  /* along a free dim the pad may be 0 at some sizes only (auto_pad SAME_UPPER's leading pad
   * follows the input's parity): the same tree at every size */
  if (w->free[d] && w->same) { /* total = max((out - 1) s + eff - in, 0), split in two */
    int64_t eff = (w->kernel[d] - 1) * w->dil[d] + 1;
    kiln_expr *total = kx_binary(k, KB_SUB, kx_idx(k, (w->out[d] - 1) * w->stride[d] + eff),
                                 kx_idx(k, w->in[d]));
    total = kx_binary(k, KB_MAX, total, kx_idx(k, 0));
    kiln_expr *half = kx_binary(k, KB_DIV, total, kx_idx(k, 2));
    return kx_binary(k, KB_SUB, x, w->same == 'U' ? half : kx_binary(k, KB_SUB, total, half));
  }
  if (w->free[d]) return kx_binary(k, KB_ADD, x, kx_idx(k, -w->pad_begin[d]));
  return kx_addi(k, x, -w->pad_begin[d]);
}

void kiln_window_mark_free(kiln_window *w, const kiln_value *x) {
  for (int d = 0; d < w->nsp && d + 2 < x->rank; d++) w->free[d] = x->sym[d + 2] != 0;
}

bool kiln_window_overhangs(const kiln_window *w, int d) {
  return w->free[d] || w->pad_begin[d] > 0 ||
         (w->out[d] - 1) * w->stride[d] - w->pad_begin[d] + (w->kernel[d] - 1) * w->dil[d] >=
             w->in[d];
}

/* ---- Conv ----------------------------------------------------------------------------- */

/* X (N, C, D...), W (M, C/group, K...), B (M). */
static kiln_status conv_plan(const kiln_graph *g, const kiln_node *n, kiln_window *w,
                             int64_t *group, kiln_error *err) {
  const kiln_value *x = kiln_node_in(g, n, 0), *wt = kiln_node_in(g, n, 1);
  if (wt->rank != x->rank || x->rank < 3)
    return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): X rank %d and W rank %d differ",
                     n->name, n->op_type, x->rank, wt->rank);
  /* kernel_shape, when given, must match W; W is what the lowering reads */
  int64_t kernel[KILN_MAX_SPATIAL];
  if (kiln_window_ints(n, "kernel_shape", x->rank - 2, 0, kernel, err)) return err->code;
  for (int d = 0; d < x->rank - 2; d++) {
    if (kernel[d] && kernel[d] != wt->dims[d + 2])
      return kiln_fail(err, KILN_ERR_SHAPE, "node '%s' (%s): kernel_shape disagrees with W",
                       n->name, n->op_type);
    kernel[d] = wt->dims[d + 2];
  }
  *group = kiln_attr_int(n, "group", 1);
  if (*group < 1 || x->dims[1] % *group || wt->dims[0] % *group ||
      wt->dims[1] * *group != x->dims[1])
    return kiln_fail(err, KILN_ERR_SHAPE,
                     "node '%s' (%s): %lld input channels, W of %lld x %lld, group %lld do not "
                     "agree",
                     n->name, n->op_type, (long long)x->dims[1], (long long)wt->dims[0],
                     (long long)wt->dims[1], (long long)*group);
  if (kiln_window_plan(n, x->rank, x->dims, kernel, false, w, err)) return err->code;
  kiln_window_mark_free(w, x);
  return KILN_OK;
}

static kiln_status infer_conv(kiln_graph *g, kiln_node *n, kiln_error *err) {
  kiln_window w;
  int64_t group;
  if (conv_plan(g, n, &w, &group, err)) return err->code;
  const kiln_value *x = kiln_node_in(g, n, 0);
  int64_t dims[KILN_MAX_RANK] = {x->dims[0], kiln_node_in(g, n, 1)->dims[0]};
  memcpy(dims + 2, w.out, sizeof(int64_t) * (size_t)w.nsp);
  kiln_set_out(g, n, 0, x->dtype, x->rank, dims);
  return KILN_OK;
}

/* Zeroes the positions of phase combination cb of copy buffer pb (every position when
 * `strided` is false: one combination) that the copy stages do not write, those outside
 * [lo, hi] in some spatial dim: per dim d, the slabs before lo[d] and after hi[d], inside
 * [lo, hi] in the dims before d and whole in the dims after. Only the border is written
 * (a zero fill of the whole buffer would write it twice, as much traffic again as the
 * copy for a depthwise conv). */
static void zero_outside(kiln_kernel *k, int pb, const kiln_window *w, const int64_t *nph,
                         bool strided, const int64_t *nq, const int64_t *lo, const int64_t *hi,
                         int64_t cb) {
  const kiln_buffer *b = &k->bufs[pb];
  int ns = w->nsp;
  int64_t ph[KILN_MAX_SPATIAL];
  for (int d = ns - 1, r = (int)cb; d >= 0; r /= (int)nph[d], d--) ph[d] = r % nph[d];
  bool empty = false;
  for (int d = 0; d < ns; d++) empty |= hi[d] < lo[d];
  for (int d = 0; d < ns; d++)
    for (int side = 0; side < 2; side++) {
      /* an empty combination: all of it, once */
      if (empty && (d > 0 || side > 0)) return;
      int64_t from = empty ? 0 : side ? hi[d] + 1 : 0, to = empty ? nq[d] : side ? nq[d] : lo[d];
      if (to <= from) continue;
      kiln_stage *s = kiln_kernel_add_stage(k, "pad_zero", pb);
      kiln_expr *o[KILN_MAX_RANK];
      o[0] = kx_var(k, kiln_stage_axis(s, b->dims[0], false));
      o[1] = kx_var(k, kiln_stage_axis(s, b->dims[1], false));
      for (int e = 0; e < ns; e++) {
        int64_t a = e < d && !empty ? lo[e] : e == d ? from : 0;
        int64_t z = e < d && !empty ? hi[e] + 1 : e == d ? to : nq[e];
        if (strided) o[e + 2] = kx_idx(k, ph[e]);
        o[(strided ? ns : 0) + e + 2] = kx_addi(k, kx_var(k, kiln_stage_axis(s, z - a, false)), a);
      }
      kiln_stage_store(k, s, o, kx_const_f(k, b->dtype, 0));
    }
}

/* How Conv reads its input. Where windows overhang it, or a stride skips elements, the
 * input is first copied (a stage of its own) into a temporary the conv reads with plain
 * loads, no guard per multiply-add, so it can take the register-tile schedule:
 *  - stride 1: a zero-padded copy, read at o + k*dil;
 *  - a stride s > 1: also split by phase, padded position p = q*s + ph stored at
 *    [ph..., q...] (rank 2 + 2 * spatial dims), read at [(k*dil) % s..., o + (k*dil) / s...]:
 *    consecutive outputs then read consecutive elements (a strided load along the output
 *    width would not vectorize). Phases are as many as the window offsets reach. Not on a
 *    GPU (kiln_graph.lower_gpu): its schedule copies the strided rows into shared memory,
 *    which needs affine indices, so it gets the zero-padded copy (or none). */
typedef struct conv_input {
  int buf;     /* the buffer the conv reads */
  int copy;    /* 0 = the input itself, 1 = padded, 2 = padded and split by phase */
  int64_t nph[KILN_MAX_SPATIAL];
} conv_input;

static conv_input conv_copy_input(kiln_kernel *k, const kiln_window *w, int xb,
                                  bool depthwise, bool gpu) {
  conv_input ci = {xb, 0, {0}};
  bool overhang = false, strided = false;
  for (int d = 0; d < w->nsp; d++) {
    if (w->pad_begin[d] < 0 || w->pad_end[d] < 0) return ci;
    overhang |= kiln_window_overhangs(w, d);
    strided |= w->stride[d] > 1 && !gpu; /* a GPU stages the strided reads in shared memory */
  }
  if (strided && 2 + 2 * w->nsp > KILN_MAX_RANK) strided = false;
  /* a strided depthwise conv does a few multiply-adds per input element: the copy's
   * memory traffic costs more than its unguarded loads save */
  if (strided && depthwise) return ci;
  if (!overhang && !strided) return ci;
  const kiln_buffer *x = &k->bufs[xb];
  int ns = w->nsp, rank = strided ? 2 + 2 * ns : x->rank;
  int64_t dims[KILN_MAX_RANK] = {x->dims[0], x->dims[1]};
  for (int d = 0; d < ns; d++) {
    int64_t reach = (w->out[d] - 1) * w->stride[d] + (w->kernel[d] - 1) * w->dil[d] + 1;
    if (!strided) { /* every position a window reaches, and the input */
      dims[d + 2] = w->pad_begin[d] + w->in[d];
      if (dims[d + 2] < reach) dims[d + 2] = reach;
      continue;
    }
    int64_t span = (w->kernel[d] - 1) * w->dil[d];
    ci.nph[d] = span + 1 < w->stride[d] ? span + 1 : w->stride[d];
    dims[d + 2] = ci.nph[d];
    dims[ns + d + 2] = w->out[d] + span / w->stride[d];
  }
  /* Per phase, the positions q that hold input (q*s + ph - pad_begin in [0, in)) are a
   * range: one plain copy stage per phase (vectorizable, no select per element), after a
   * zero fill of the whole buffer where some positions lie outside those ranges. */
  int64_t st[KILN_MAX_SPATIAL], nq[KILN_MAX_SPATIAL], ncombo = 1;
  for (int d = 0; d < ns; d++) {
    st[d] = strided ? w->stride[d] : 1;
    nq[d] = dims[(strided ? ns : 0) + d + 2];
    if (!strided) ci.nph[d] = 1;
    ncombo *= ci.nph[d];
  }
  int64_t lo[64][KILN_MAX_SPATIAL], hi[64][KILN_MAX_SPATIAL];
  if (ncombo > 64) return (conv_input){xb, 0, {0}}; /* huge strides: read the input itself */
  int pb = kiln_kernel_add_buffer(k, strided ? "phases" : "padded", KILN_BUF_TEMP, -1,
                                  x->dtype, rank, dims);
  bool full = true;
  for (int64_t cb = 0; cb < ncombo; cb++)
    for (int d = ns - 1, r = (int)cb; d >= 0; r /= (int)ci.nph[d], d--) {
      int64_t ph = r % ci.nph[d], pad = w->pad_begin[d];
      lo[cb][d] = ceil_div(pad - ph, st[d]);
      if (lo[cb][d] < 0) lo[cb][d] = 0;
      hi[cb][d] = kiln_floor_div(w->in[d] - 1 + pad - ph, st[d]);
      if (hi[cb][d] > nq[d] - 1) hi[cb][d] = nq[d] - 1;
      full &= lo[cb][d] == 0 && hi[cb][d] == nq[d] - 1;
    }
  kiln_expr *o[KILN_MAX_RANK], *xi[KILN_MAX_RANK];
  for (int64_t cb = 0; cb < ncombo && !full; cb++) zero_outside(k, pb, w, ci.nph, strided, nq, lo[cb], hi[cb], cb);
  for (int64_t cb = 0; cb < ncombo; cb++) {
    bool empty = false;
    for (int d = 0; d < ns; d++) empty |= hi[cb][d] < lo[cb][d];
    if (empty) continue;
    kiln_stage *s = kiln_kernel_add_stage(k, strided ? "phase_copy" : "pad_copy", pb);
    kiln_expr *q[KILN_MAX_SPATIAL];
    o[0] = xi[0] = kx_var(k, kiln_stage_axis(s, dims[0], false));
    o[1] = xi[1] = kx_var(k, kiln_stage_axis(s, dims[1], false));
    for (int d = 0; d < ns; d++)
      q[d] = kx_addi(k, kx_var(k, kiln_stage_axis(s, hi[cb][d] - lo[cb][d] + 1, false)),
                     lo[cb][d]);
    for (int d = ns - 1, r = (int)cb; d >= 0; r /= (int)ci.nph[d], d--) {
      int64_t ph = r % ci.nph[d];
      if (strided) o[d + 2] = kx_idx(k, ph);
      o[(strided ? ns : 0) + d + 2] = q[d];
      xi[d + 2] = kx_addi(k, kx_muli(k, q[d], st[d]), ph - w->pad_begin[d]);
    }
    kiln_stage_store(k, s, o, kx_load(k, xb, xi));
  }
  ci.buf = pb;
  ci.copy = strided ? 2 : 1;
  return ci;
}

/* ---- the flattened form ------------------------------------------------------------------
 * Where the conv reads its input (or copy) Xc with unit stride, output (oh, ow) and kernel
 * offset (kh', kw') in copy coordinates read Xc[.., oh + kh', ow + kw']: with Wc the copy's
 * width, that is Xc_flat[.., p + kh'*Wc + kw'] for p = oh*Wc + ow. The stage then runs over
 * p in [0, P), P = (OH-1)*Wc + OW, one long unit-stride axis for the register tile's vectors
 * instead of a short output row (7 or 14 wide) that leaves most lanes idle. The points with
 * ow >= OW are junk (they wrap into the next row) but read inside the copy, since
 * Wc >= OW + KW' - 1 and the copy has every row a window reaches. When Wc == OW there is no
 * junk and the stage stores the output through a (N, M, OH*OW) view; otherwise it stores a
 * temporary (N, M, P) and a crop stage copies the valid columns to the output. */

/* Points per row of a flattened depthwise conv: two AVX-512 vectors, four AVX2 ones. */
#define CONV_ROW 32

/* Merges the last two dims of buffer b (a view of the same bytes) and rewrites the stores
 * into it of the stages added so far. */
static void merge_last_dims(kiln_kernel *k, int b) {
  kiln_buffer *buf = &k->bufs[b];
  int r = buf->rank;
  int64_t w = buf->dims[r - 1];
  buf->dims[r - 2] *= w;
  buf->rank = r - 1;
  for (int i = 0; i < k->nstages; i++) {
    kiln_stage *s = &k->stages[i];
    if (s->out_buf != b) continue;
    s->out_idx[r - 2] = kx_add(k, kx_muli(k, s->out_idx[r - 2], w), s->out_idx[r - 1]);
    s->nout_idx = r - 1;
  }
}

/* Does the conv take the flattened form? It needs a 2-D conv, ungrouped or depthwise,
 * reading with unit stride (a copy, or the input itself when windows neither overhang nor
 * stride). It pays where rows are short against the register tile's 2 x 16 lanes: no junk
 * at all (Wc == OW), or rows narrower than 32 (7, 14, 28: ResNet's and MobileNet's late
 * layers); wide rows already fill their tiles and would only add the crop's traffic. A
 * depthwise conv only where rows are too short for its own row tiles (under 16: 7 and 14
 * run 3-4x faster; at 28 the copies cost more than the tiles gain). */
static bool conv_flat(const kiln_kernel *k, const kiln_window *w, const conv_input *in,
                      int64_t group, bool depthwise) {
  if (w->nsp != 2 || (group != 1 && !depthwise) || (depthwise && w->out[1] >= 16))
    return false;
  for (int d = 0; !in->copy && d < 2; d++)
    if (w->stride[d] != 1 || w->pad_begin[d] != 0 || kiln_window_overhangs(w, d)) return false;
  const kiln_buffer *x = &k->bufs[in->buf];
  int64_t wc = x->dims[x->rank - 1], ow = w->out[1];
  return wc == ow || ow < 32;
}

/* Axes: n, m, spatial outputs (or n, m, p flattened); reductions: channel of the group,
 * kernel offsets. */
static kiln_status lower_conv(kiln_lower_ctx *c) {
  kiln_kernel *k = c->k;
  kiln_window w;
  int64_t group;
  if (conv_plan(c->g, c->n, &w, &group, c->err)) return c->err->code;
  if (3 + 2 * w.nsp > KILN_MAX_AXES)
    return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "node '%s' (%s): %d spatial dims",
                     c->n->name, c->n->op_type, w.nsp);
  int xb = c->in_buf[0], wb = c->in_buf[1], bb = c->n->ninputs > 2 ? c->in_buf[2] : -1;
  const kiln_buffer *wbuf = &k->bufs[wb];
  int64_t cg = wbuf->dims[1], mg = wbuf->dims[0] / group;
  bool depthwise = cg == 1 && mg == 1 && group > 1;
  /* Free spatial dims (kiln_options.symbolic_dims): the copy's per-phase ranges and the
   * flattened form's junk columns are no dim expressions of H and W, so the conv reads its
   * input with guarded loads, which compare positions with H and W only. */
  bool free_sp = false;
  for (int d = 0; d < w.nsp; d++) free_sp |= w.free[d];
  conv_input in = free_sp ? (conv_input){xb, 0, {0}} /* the copy's stages run first */
                          : conv_copy_input(k, &w, xb, depthwise, c->g->lower_gpu);
  int yb = c->out_buf[0], sb = yb; /* the output, and the buffer the conv stage stores */
  bool flat = !free_sp && conv_flat(k, &w, &in, group, depthwise);
  int64_t wc = k->bufs[in.buf].dims[k->bufs[in.buf].rank - 1];
  int64_t np = (w.out[0] - 1) * wc + w.out[1], nrow = (np + CONV_ROW - 1) / CONV_ROW;
  /* a flattened depthwise conv runs over p in rows of CONV_ROW points (a 4-D temporary):
   * its default schedule then tiles rows x points, the rows sharing each weight broadcast.
   * The last row reads past P: the copy grows a zero tail to cover it. */
  bool rows = flat && depthwise && in.copy == 1 && nrow > 1;
  if (flat) {
    merge_last_dims(k, in.buf);
    if (rows) {
      kiln_buffer *xc = &k->bufs[in.buf];
      int64_t len = xc->dims[2];
      int64_t need = nrow * CONV_ROW + (w.kernel[0] - 1) * w.dil[0] * wc +
                     (w.kernel[1] - 1) * w.dil[1];
      if (need > len) {
        xc->dims[2] = need;
        kiln_stage *t = kiln_kernel_add_stage(k, "pad_tail", in.buf);
        kiln_expr *ti[3];
        for (int d = 0; d < 3; d++)
          ti[d] = kx_var(k, kiln_stage_axis(t, d < 2 ? xc->dims[d] : need - len, false));
        ti[2] = kx_addi(k, ti[2], len);
        kiln_stage_store(k, t, ti, kx_const_f(k, xc->dtype, 0));
      }
      const kiln_buffer *y = &k->bufs[yb];
      int64_t dims[4] = {y->dims[0], y->dims[1], nrow, CONV_ROW};
      sb = kiln_kernel_add_buffer(k, "flat", KILN_BUF_TEMP, -1, y->dtype, 4, dims);
    } else if (wc == w.out[1]) {
      merge_last_dims(k, yb);
    } else {
      const kiln_buffer *y = &k->bufs[yb];
      int64_t dims[3] = {y->dims[0], y->dims[1], np};
      sb = kiln_kernel_add_buffer(k, "flat", KILN_BUF_TEMP, -1, y->dtype, 3, dims);
    }
  }
  kiln_stage *s = kiln_kernel_add_stage(k, "conv", sb);
  kiln_expr *o[KILN_MAX_RANK], *so[KILN_MAX_RANK], *kv[KILN_MAX_SPATIAL];
  for (int d = 0; d < k->bufs[sb].rank; d++) /* so: the stored buffer's indices */
    o[d] = so[d] = kx_var(k, kiln_stage_axis(s, k->bufs[sb].dims[d], false));
  if (flat) { /* row 0 and column p: p's row and column both come from o[3] */
    o[2] = kx_idx(k, 0);
    o[3] = rows ? kx_add(k, kx_muli(k, so[2], CONV_ROW), so[3]) : so[2];
  }
  kiln_expr *ci = kx_var(k, kiln_stage_axis(s, cg, true));
  for (int d = 0; d < w.nsp; d++) kv[d] = kx_var(k, kiln_stage_axis(s, w.kernel[d], true));

  kiln_expr *xi[KILN_MAX_RANK], *wi[KILN_MAX_RANK], *cond = NULL;
  xi[0] = o[0];
  xi[1] = ci;
  if (group > 1) { /* mg == 1 (depthwise): the group is the output channel itself */
    kiln_expr *gi = mg > 1 ? kx_binary(k, KB_DIV, o[1], kx_idx(k, mg)) : o[1];
    xi[1] = cg > 1 ? kx_add(k, kx_muli(k, gi, cg), ci) : gi;
  }
  wi[0] = o[1];
  wi[1] = ci;
  for (int d = 0; d < w.nsp; d++) {
    kiln_expr *off = kx_muli(k, kv[d], w.dil[d]);
    if (in.copy == 2) { /* phase (k*dil) % s, position o + (k*dil) / s */
      int64_t st = w.stride[d];
      xi[d + 2] = in.nph[d] > 1 ? kx_binary(k, KB_MOD, off, kx_idx(k, st)) : kx_idx(k, 0);
      kiln_expr *q = st > 1 ? kx_binary(k, KB_DIV, off, kx_idx(k, st)) : off;
      xi[w.nsp + d + 2] = kx_add(k, o[d + 2], q);
    } else if (in.copy == 1) { /* the padded copy starts pad_begin earlier */
      xi[d + 2] = kx_add(k, kx_muli(k, o[d + 2], w.stride[d]), off);
    } else {
      xi[d + 2] = kiln_window_pos(k, &w, d, o[d + 2], kv[d]);
      if (kiln_window_overhangs(&w, d)) cond = kx_and(k, cond, kx_in_range(k, xi[d + 2], w.in[d]));
    }
    wi[d + 2] = kv[d];
  }
  if (flat) { /* xi's last two indices are (kh', p + kw'): merge them as the copy's dims */
    int r = k->bufs[in.buf].rank;
    xi[r - 1] = kx_add(k, kx_muli(k, xi[r - 1], wc), xi[r]);
  }
  kiln_expr *xv = kx_load(k, in.buf, xi);
  if (cond) xv = kx_select(k, cond, xv, kx_const_f(k, xv->dtype, 0));
  s->reduce = KR_SUM;
  if (bb >= 0) s->post = kx_binary(k, KB_ADD, kx_acc(k, xv->dtype), kx_load(k, bb, &o[1]));
  kiln_stage_store(k, s, so, kx_binary(k, KB_MUL, xv, kx_load(k, wb, wi)));
  if (sb != yb) { /* crop: Y[n, m, oh, ow] = T[n, m, p = oh*Wc + ow] (or in rows) */
    kiln_expr *v[4];
    kiln_stage *cs = kiln_elementwise_stage(k, "crop", yb, v);
    kiln_expr *p = kx_add(k, kx_muli(k, v[2], wc), v[3]);
    kiln_expr *ti[4] = {v[0], v[1], p};
    if (rows) {
      ti[2] = kx_binary(k, KB_DIV, p, kx_idx(k, CONV_ROW));
      ti[3] = kx_binary(k, KB_MOD, p, kx_idx(k, CONV_ROW));
    }
    kiln_stage_store(k, cs, v, kx_load(k, sb, ti));
  }
  return KILN_OK;
}

static const kiln_attr_spec conv_attrs[] = {
    {"auto_pad", KILN_ATTR_STRING, false}, {"dilations", KILN_ATTR_INTS, false},
    {"group", KILN_ATTR_INT, false},       {"kernel_shape", KILN_ATTR_INTS, false},
    {"pads", KILN_ATTR_INTS, false},       {"strides", KILN_ATTR_INTS, false},
    {NULL}};

const kiln_op_def kiln_ops_nn[] = {
    {"Conv", 2, 3, 1, 1, conv_attrs, infer_conv, lower_conv, NULL, KILN_OP_CONV | KILN_OP_SYMBOLIC},
    {NULL},
};
