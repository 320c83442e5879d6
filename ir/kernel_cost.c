/* Floating-point operations and bytes of a kernel, counted from its kernel IR (the model
 * is in ir/kernel_cost.h). Why this model: it depends on what a kernel computes, not on
 * how it is scheduled, so a schedule's speed can be judged against it (GFLOP/s, GB/s and
 * the roofline min(peak, bandwidth * flops/bytes) in `kiln bench`; the autotuner's bound).
 * Counting distinct expression nodes follows codegen, which emits a shared subtree once.
 * Bytes are compulsory traffic: a kernel whose loops re-read a buffer from cache pays no
 * more, and one that misses the cache shows a low GB/s against this count. */
#include "ir/kernel_cost.h"

#include "ir/dtype.h"

#include <stdlib.h>

typedef struct seen_set {
  int n, cap;
  const kiln_expr **items;
} seen_set;

static bool seen(seen_set *s, const kiln_expr *x) {
  for (int i = 0; i < s->n; i++)
    if (s->items[i] == x) return true;
  KILN_GROW(s->items, s->n, s->cap);
  s->items[s->n++] = x;
  return false;
}

/* Distinct float operations in x; marks the buffers loaded in `loaded`. Load indices
 * and checked indices are address arithmetic: their loads still count as reads. */
static int64_t count_ops(const kiln_expr *x, seen_set *s, bool *loaded, int nbufs) {
  if (!x || seen(s, x)) return 0;
  int64_t n = 0;
  switch (x->kind) {
  case KX_LOAD:
    if (x->buf >= 0 && x->buf < nbufs) loaded[x->buf] = true;
    for (int i = 0; i < x->nidx; i++) count_ops(x->idx[i], s, loaded, nbufs);
    return 0;
  case KX_CHECK:
    count_ops(x->a, s, loaded, nbufs);
    return 0;
  case KX_UNARY:
  case KX_BINARY:
    if (x->a && kiln_dtype_is_float(x->a->dtype)) n = 1;
    break;
  default: break;
  }
  return n + count_ops(x->a, s, loaded, nbufs) + count_ops(x->b, s, loaded, nbufs) +
         count_ops(x->c, s, loaded, nbufs);
}

static double buffer_bytes(const kiln_buffer *b) {
  double n = (double)kiln_dtype_size(b->dtype);
  for (int d = 0; d < b->rank; d++) n *= (double)(b->dims[d] > 0 ? b->dims[d] : 0);
  return n;
}

void kiln_kernel_cost_of(const kiln_kernel *k, kiln_kernel_cost *out) {
  *out = (kiln_kernel_cost){0};
  bool loaded[KILN_MAX_BUFS] = {false}, stored[KILN_MAX_BUFS] = {false};
  for (int si = 0; si < k->nstages; si++) {
    const kiln_stage *st = &k->stages[si];
    double points = 1, spatial = 1;
    for (int a = 0; a < st->naxes; a++) {
      points *= (double)st->axes[a].extent;
      if (!st->axes[a].reduce) spatial *= (double)st->axes[a].extent;
    }
    seen_set s = {0};
    int64_t per_point = count_ops(st->value, &s, loaded, k->nbufs);
    for (int i = 0; i < st->nout_idx; i++) count_ops(st->out_idx[i], &s, loaded, k->nbufs);
    bool float_out = st->out_buf >= 0 && st->out_buf < k->nbufs &&
                     kiln_dtype_is_float(k->bufs[st->out_buf].dtype);
    if (st->reduce != KR_NONE && float_out) per_point++;
    s.n = 0; /* the post expression runs once per output point, on its own */
    int64_t per_output = count_ops(st->post, &s, loaded, k->nbufs);
    count_ops(st->init, &s, loaded, k->nbufs);
    free(s.items);
    out->flops += points * (double)per_point + spatial * (double)per_output;
    if (st->out_buf >= 0 && st->out_buf < k->nbufs) stored[st->out_buf] = true;
  }
  for (int b = 0; b < k->nbufs; b++) {
    if (loaded[b]) out->bytes_read += buffer_bytes(&k->bufs[b]);
    if (stored[b]) out->bytes_written += buffer_bytes(&k->bufs[b]);
  }
}

double kiln_kernel_cost_intensity(const kiln_kernel_cost *c) {
  double bytes = c->bytes_read + c->bytes_written;
  return bytes > 0 ? c->flops / bytes : 0;
}
