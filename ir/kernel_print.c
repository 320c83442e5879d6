/* Human-readable kernels: buffers, then per stage its axes, its store as infix text and
 * its schedule's loops. For `kiln dump --kernels` and debugging. A run-time extent or dim
 * prints as its dim expression with the hint after it: "N(64)". */
#include "ir/kernel.h"
#include "ir/schedule.h"

#include "ir/dtype.h"

#include <inttypes.h>

static const char *unary_name(int op) {
  static const char *names[] = {"neg", "abs", "sqrt", "exp", "log", "tanh", "erf", "sin",
                                "cos", "floor", "ceil", "round", "not", "isnan", "sigmoid",
                                "recip", "tan", "asin", "acos", "atan", "sinh", "cosh",
                                "asinh", "acosh", "atanh"};
  return op >= 0 && op < (int)(sizeof names / sizeof names[0]) ? names[op] : "?";
}

static const char *binary_sym(int op) {
  static const char *syms[] = {"+", "-", "*", "/", "%", "pow", "min", "max", "==", "!=",
                               "<", "<=", ">", ">=", "&", "|", "^", "<<", ">>"};
  return op >= 0 && op < (int)(sizeof syms / sizeof syms[0]) ? syms[op] : "?";
}

static const char *reduce_name(kiln_reduce_op r) {
  switch (r) {
  case KR_SUM: return "sum";
  case KR_PROD: return "prod";
  case KR_MAX: return "max";
  case KR_MIN: return "min";
  default: return "none";
  }
}

static void print_expr(const kiln_kernel *k, const kiln_expr *e, FILE *out) {
  switch (e->kind) {
  case KX_CONST:
    if (kiln_dtype_is_float(e->dtype)) fprintf(out, "%g", e->f);
    else fprintf(out, "%" PRId64, e->i);
    if (e->dtype != KILN_I64) fprintf(out, ":%s", kiln_dtype_name(e->dtype));
    break;
  case KX_VAR: fprintf(out, "a%d", e->axis); break;
  case KX_DIM:
    if (e->i >= 0 && e->i < k->nsyms) fputs(k->syms[e->i], out);
    else fprintf(out, "dim%" PRId64, e->i);
    break;
  case KX_ACC: fputs("acc", out); break;
  case KX_LOAD:
    fprintf(out, "%s[", k->bufs[e->buf].name);
    for (int d = 0; d < e->nidx; d++) {
      if (d) fputs(", ", out);
      print_expr(k, e->idx[d], out);
    }
    fputc(']', out);
    break;
  case KX_UNARY:
    fprintf(out, "%s(", unary_name(e->op));
    print_expr(k, e->a, out);
    fputc(')', out);
    break;
  case KX_BINARY:
    if (e->op == KB_POW || e->op == KB_MIN || e->op == KB_MAX) {
      fprintf(out, "%s(", binary_sym(e->op));
      print_expr(k, e->a, out);
      fputs(", ", out);
      print_expr(k, e->b, out);
      fputc(')', out);
    } else {
      fputc('(', out);
      print_expr(k, e->a, out);
      fprintf(out, " %s ", binary_sym(e->op));
      print_expr(k, e->b, out);
      fputc(')', out);
    }
    break;
  case KX_SELECT:
    fputc('(', out);
    print_expr(k, e->a, out);
    fputs(" ? ", out);
    print_expr(k, e->b, out);
    fputs(" : ", out);
    print_expr(k, e->c, out);
    fputc(')', out);
    break;
  case KX_CAST:
    fprintf(out, e->op == KX_CAST_BITS ? "bits<%s>(" : e->op == KX_CAST_NOSAT ? "nosat<%s>(" : "%s(",
            kiln_dtype_name(e->dtype));
    print_expr(k, e->a, out);
    fputc(')', out);
    break;
  case KX_CALL:
    fprintf(out, "%s(", kiln_rt_fn_def_of((kiln_rt_fn)e->op) ? kiln_rt_fn_def_of((kiln_rt_fn)e->op)->name : "?");
    print_expr(k, e->a, out);
    if (e->b) fputs(", ", out), print_expr(k, e->b, out);
    if (e->what) fprintf(out, ", \"%s\"", e->what);
    fprintf(out, ", %" PRId64 ")", e->i);
    break;
  case KX_CHECK:
    fputs("check(", out);
    print_expr(k, e->a, out);
    if (e->b) { /* a free dim's bound */
      fputs(e->op ? " in [-n, n), n = " : " in [0, n), n = ", out);
      print_expr(k, e->b, out);
      fputc(')', out);
      break;
    }
    fprintf(out, " in [%" PRId64 ", %" PRId64 "))", e->op ? -e->i : 0, e->i);
    break;
  }
}

static const char *loop_kind(kiln_loop_kind kind) {
  switch (kind) {
  case KILN_LOOP_PARALLEL: return "parallel";
  case KILN_LOOP_VECTOR: return "vector";
  case KILN_LOOP_UNROLL: return "unroll";
  case KILN_LOOP_BLOCK: return "block";
  case KILN_LOOP_THREAD: return "thread";
  default: return "serial";
  }
}

static const char *role_name(kiln_buf_role r) {
  return r == KILN_BUF_INPUT ? "in" : r == KILN_BUF_OUTPUT ? "out" : "temp";
}

static void print_storage(const kiln_storage *s, FILE *out) {
  switch (s->kind) {
  case KILN_STORE_INPUT: fprintf(out, " @input%d", s->index); break;
  case KILN_STORE_OUTPUT: fprintf(out, " @output%d", s->index); break;
  case KILN_STORE_CONST: fprintf(out, " @const%d", s->index); break;
  case KILN_STORE_ARENA: fprintf(out, " @arena+%" PRId64, s->offset); break;
  case KILN_STORE_DIMS: fprintf(out, " @dims"); break;
  case KILN_STORE_DYN: fprintf(out, " @dyn%d", s->index); break;
  default: break;
  }
}

void kiln_schedule_print(const kiln_schedule *sc, FILE *out) {
  for (int l = 0; l < sc->nloops; l++) {
    const kiln_loop *lp = &sc->loops[l];
    fprintf(out, "%sa%d", l ? " " : "", lp->axis);
    if (lp->stride != 1) fprintf(out, "*%" PRId64, lp->stride);
    fprintf(out, ":%" PRId64, lp->extent);
    if (lp->kind != KILN_LOOP_SERIAL) fprintf(out, "(%s)", loop_kind(lp->kind));
    for (int i = 0; sc->share_loop == l && i < sc->nshare && i < KILN_MAX_SHARE; i++)
      fprintf(out, "%sb%d%s", i ? "," : "[share ", sc->share[i], i == sc->nshare - 1 ? "]" : "");
  }
  if (sc->prefetch_ahead > 0)
    fprintf(out, " prefetch(a%d+%" PRId64 ")", sc->prefetch_axis, sc->prefetch_ahead);
}

/* A stage's loops; one that runs a run-time number of times shows that number after it:
 * "a0*4:12[ceil(N/4)]" (12 at the hint). */
static void print_loops(const kiln_kernel *k, const kiln_stage *s, FILE *out) {
  const kiln_schedule *sc = &s->sched;
  bool dyn = false;
  for (int l = 0; l < sc->nloops; l++) dyn |= kiln_loop_is_dyn(s, sc, l);
  if (!dyn) {
    kiln_schedule_print(sc, out);
    return;
  }
  for (int l = 0; l < sc->nloops; l++) {
    kiln_schedule one = {.nloops = 1};
    one.loops[0] = sc->loops[l];
    if (l == sc->nloops - 1) { /* the prefetch goes last */
      one.prefetch_axis = sc->prefetch_axis;
      one.prefetch_ahead = sc->prefetch_ahead;
    }
    if (l) fputc(' ', out);
    kiln_schedule_print(&one, out);
    if (!kiln_loop_is_dyn(s, sc, l)) continue;
    bool div = sc->loops[l].stride > 1;
    fputs(div ? "[ceil(" : "[", out);
    print_expr(k, s->axes[sc->loops[l].axis].dyn, out);
    if (div) fprintf(out, "/%" PRId64 ")", sc->loops[l].stride);
    fputc(']', out);
  }
}

void kiln_kernel_print(const kiln_kernel *k, FILE *out) {
  fprintf(out, "kernel %s (%s)\n", k->name, k->op ? k->op : "?");
  if (k->row_axes) { /* a row kernel (passes/fuse_rows.c) */
    fputs("  rows", out);
    for (int a = 0; a < 32; a++)
      if (k->row_axes >> a & 1) fprintf(out, " a%d", a);
    fputc('\n', out);
  }
  if (k->nsyms) {
    fputs("  syms", out);
    for (int i = 0; i < k->nsyms; i++)
      fprintf(out, " %s(%" PRId64 ")", k->syms[i], k->sym_hint[i]);
    fprintf(out, " in %s\n", k->dims_buf >= 0 && k->dims_buf < k->nbufs ? k->bufs[k->dims_buf].name : "?");
  }
  for (int b = 0; b < k->nbufs; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    fprintf(out, "  %s %s : %s[", role_name(buf->role), buf->name, kiln_dtype_name(buf->dtype));
    for (int d = 0; d < buf->rank; d++) {
      if (d) fputc(',', out);
      if (buf->dyn_dims[d]) {
        print_expr(k, buf->dyn_dims[d], out);
        fputc('(', out);
      }
      fprintf(out, "%" PRId64, buf->dims[d]);
      if (buf->dyn_dims[d]) fputc(')', out);
    }
    fputc(']', out);
    print_storage(&buf->storage, out);
    if (buf->row) /* strided: rows of `row` elements, `pitch` apart */
      fprintf(out, " rows %" PRId64 "/%" PRId64, buf->row, buf->pitch);
    fputc('\n', out);
  }
  for (int i = 0; i < k->nstages; i++) {
    const kiln_stage *s = &k->stages[i];
    fprintf(out, "  stage %s%s: axes", s->name, s->ordered ? " (ordered)" : "");
    for (int a = 0; a < s->naxes; a++) {
      fprintf(out, " a%d:", a);
      if (s->axes[a].dyn) {
        print_expr(k, s->axes[a].dyn, out);
        fprintf(out, "(%" PRId64 ")%s", s->axes[a].extent, s->axes[a].reduce ? "r" : "");
      } else {
        fprintf(out, "%" PRId64 "%s", s->axes[a].extent, s->axes[a].reduce ? "r" : "");
      }
    }
    fprintf(out, "\n    %s[", k->bufs[s->out_buf].name);
    for (int d = 0; d < s->nout_idx; d++) {
      if (d) fputs(", ", out);
      print_expr(k, s->out_idx[d], out);
    }
    fputs("] = ", out);
    if (s->reduce != KR_NONE) {
      fprintf(out, "%s(", reduce_name(s->reduce));
      if (s->init) {
        fputs("init ", out);
        print_expr(k, s->init, out);
        fputs(", ", out);
      }
    }
    if (s->value) print_expr(k, s->value, out);
    if (s->reduce != KR_NONE) fputc(')', out);
    if (s->post) {
      fputs("  then acc -> ", out);
      print_expr(k, s->post, out);
    }
    fputs("\n    loops", out);
    if (s->sched.nloops) fputc(' ', out);
    print_loops(k, s, out);
    if (s->recipe.nsteps) {
      fputs("\n    recipe ", out);
      kiln_recipe_print(&s->recipe, out);
    }
    fputc('\n', out);
  }
}
