/* A kernel's content signature: everything its generated code depends on, as bytes, so
 * two kernels with equal signatures can share one compiled function (BERT's twelve layers
 * are the same dozen kernels on different buffers) and a tuner can key measurements by
 * it. Buffers are compared by type and shape, not by name or storage (the caller passes
 * the pointers); names enter only where generated code prints them (check_bounds
 * kernels, and the node named by an index check). Expression DAGs are written with each
 * node once, numbered in first-visit order, so the signature is linear in the DAG.
 * The content hash is the same bytes without the schedule, hashed: what a tuning log keys
 * a kernel's measured schedules by (ir/tuning_log.h). */
#include "ir/kernel_sig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sig {
  FILE *f;
  const kiln_expr **seen; /* node number -> node */
  int nseen, cap;
} sig;

static int node_id(sig *s, const kiln_expr *x) {
  for (int i = s->nseen - 1; i >= 0; i--) /* kernels have a few hundred nodes at most */
    if (s->seen[i] == x) return i;
  return -1;
}

/* Writes x's subgraph (new nodes only) and returns x's number; -1 for NULL. */
static int put_expr(sig *s, const kiln_expr *x) {
  if (!x) return -1;
  int id = node_id(s, x);
  if (id >= 0) return id;
  int a = put_expr(s, x->a), b = put_expr(s, x->b), c = put_expr(s, x->c);
  int idx[KILN_MAX_RANK];
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx && d < KILN_MAX_RANK; d++)
    idx[d] = put_expr(s, x->idx[d]);
  KILN_GROW(s->seen, s->nseen, s->cap);
  id = s->nseen;
  s->seen[s->nseen++] = x;
  fprintf(s->f, "e%d:%d,%d,%d,%a,%lld,%d,%d,%d,%d,%d", id, (int)x->kind, (int)x->dtype, x->op,
          x->f, (long long)x->i, x->axis, x->buf, a, b, c);
  for (int d = 0; x->kind == KX_LOAD && d < x->nidx && d < KILN_MAX_RANK; d++)
    fprintf(s->f, ",%d", idx[d]);
  if (x->kind == KX_CHECK || x->kind == KX_CALL) fprintf(s->f, ",%s", x->what ? x->what : "");
  fputc(';', s->f);
  return id;
}

static char *signature(const kiln_kernel *k, bool with_sched, size_t *len) {
  sig s = {0};
  char *buf = NULL;
  s.f = open_memstream(&buf, len);
  if (!s.f) return NULL;
  fprintf(s.f, "k%d,%d,%d|", k->nbufs, (int)k->has_checks, (int)k->check_all);
  if (k->nsyms) { /* run-time dims: their number and buffer (names and hints are no code) */
    fprintf(s.f, "y%d,%d|", k->nsyms, k->dims_buf);
  }
  if (k->check_all) fprintf(s.f, "%s|", k->name ? k->name : "");
  for (int i = 0; i < k->nbufs; i++) {
    const kiln_buffer *b = &k->bufs[i];
    fprintf(s.f, "b%d,%d,%d", (int)b->role, (int)b->dtype, b->rank);
    for (int d = 0; d < b->rank; d++) {
      if (b->dyn_dims[d]) fprintf(s.f, ",d%d", put_expr(&s, b->dyn_dims[d]));
      else fprintf(s.f, ",%lld", (long long)b->dims[d]);
    }
    if (b->row) fprintf(s.f, ",r%lld/%lld", (long long)b->row, (long long)b->pitch); /* strided */
    if (k->check_all) fprintf(s.f, ",%s", b->name ? b->name : "");
    fputc('|', s.f);
  }
  for (int i = 0; i < k->nstages; i++) {
    const kiln_stage *st = &k->stages[i];
    int value = put_expr(&s, st->value), init = put_expr(&s, st->init);
    int post = put_expr(&s, st->post), out[KILN_MAX_RANK];
    for (int d = 0; d < st->nout_idx && d < KILN_MAX_RANK; d++) out[d] = put_expr(&s, st->out_idx[d]);
    fprintf(s.f, "s%s,%d,%d,%d,%d,%d,%d%s", st->name ? st->name : "", st->naxes, st->out_buf,
            (int)st->reduce, value, init, post, st->ordered ? ",o" : "");
    for (int a = 0; a < st->naxes; a++) {
      fprintf(s.f, ",a%lld:%d", (long long)st->axes[a].extent, (int)st->axes[a].reduce);
      if (st->axes[a].dyn) fprintf(s.f, ":d%d", put_expr(&s, st->axes[a].dyn));
    }
    for (int d = 0; d < st->nout_idx && d < KILN_MAX_RANK; d++) fprintf(s.f, ",o%d", out[d]);
    for (int l = 0; with_sched && l < st->sched.nloops; l++) {
      const kiln_loop *lp = &st->sched.loops[l];
      fprintf(s.f, ",l%d:%lld:%lld:%d", lp->axis, (long long)lp->stride, (long long)lp->extent,
              (int)lp->kind);
      for (int i = 0; st->sched.share_loop == l && i < st->sched.nshare && i < KILN_MAX_SHARE; i++)
        fprintf(s.f, ":s%d", st->sched.share[i]);
    }
    fputc('|', s.f);
  }
  free(s.seen);
  if (fclose(s.f) != 0) {
    free(buf);
    return NULL;
  }
  return buf;
}

char *kiln_kernel_signature(const kiln_kernel *k, size_t *len) { return signature(k, true, len); }

bool kiln_kernel_hash(const kiln_kernel *k, char out[KILN_KERNEL_HASH_LEN + 1]) {
  size_t len;
  char *bytes = signature(k, false, &len);
  if (!bytes) return false;
  kiln_hash_hex(bytes, len, out);
  free(bytes);
  return true;
}
