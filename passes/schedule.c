/* Default schedules: a first, untuned choice of loop order and parallelism per stage.
 *
 * Two rules, both about what LLVM's vectorizer and the OpenMP runtime can use:
 *  - Parallel: the outermost spatial loops run on all threads once a stage has enough work.
 *  - Contiguous innermost loop: a reduction keeps its innermost reduction loop inside when
 *    that loop is long and walks memory with stride 1 (a dot product: LLVM vectorizes it
 *    with reassociation). Otherwise, when the innermost spatial axis is stride-1 in the output
 *    (MatMul's N, Conv's output width), that spatial loop moves inside the reductions and
 *    the stage accumulates in its output buffer: even strided loads (a stride-2 Conv)
 *    vectorize better there than a short reduction does.
 * The tuner replaces these choices later; they only need to be safe and not slow. */
#include "passes/passes.h"

#include <string.h>

/* Minimum iterations before a stage is worth spreading over threads. */
#define PARALLEL_MIN_WORK 16384

/* Does e mention axis a? */
static bool uses_axis(const kiln_expr *e, int a) {
  if (!e) return false;
  if (e->kind == KX_VAR) return e->axis == a;
  for (int d = 0; e->kind == KX_LOAD && d < e->nidx; d++)
    if (uses_axis(e->idx[d], a)) return true;
  return uses_axis(e->a, a) || uses_axis(e->b, a) || uses_axis(e->c, a);
}

/* Is e "axis a + terms without a"? (stride 1 along a) */
static bool unit_stride(const kiln_expr *e, int a) {
  if (e->kind == KX_VAR) return e->axis == a;
  if (e->kind == KX_BINARY && e->op == KB_ADD)
    return (unit_stride(e->a, a) && !uses_axis(e->b, a)) ||
           (unit_stride(e->b, a) && !uses_axis(e->a, a));
  return false;
}

/* Loads in e that use axis a: counts those reading it with stride 1 in their last dim and
 * those reading it any other way. */
static void count_loads(const kiln_expr *e, int a, int *contiguous, int *other) {
  if (!e) return;
  if (e->kind == KX_LOAD) {
    bool used = false, inner_only = e->nidx > 0;
    for (int d = 0; d < e->nidx; d++) {
      if (!uses_axis(e->idx[d], a)) continue;
      used = true;
      if (d != e->nidx - 1 || !unit_stride(e->idx[d], a)) inner_only = false;
    }
    if (used) ++*(inner_only ? contiguous : other);
    for (int d = 0; d < e->nidx; d++) count_loads(e->idx[d], a, contiguous, other);
    return;
  }
  count_loads(e->a, a, contiguous, other);
  count_loads(e->b, a, contiguous, other);
  count_loads(e->c, a, contiguous, other);
}

static bool streams(const kiln_stage *s, int a) {
  int contiguous = 0, other = 0;
  count_loads(s->value, a, &contiguous, &other);
  return contiguous > 0 && other == 0;
}

/* Moves loop `from` to the innermost position. */
static void move_innermost(kiln_schedule *sc, int from) {
  kiln_loop l = sc->loops[from];
  memmove(&sc->loops[from], &sc->loops[from + 1], sizeof(kiln_loop) * (size_t)(sc->nloops - from - 1));
  sc->loops[sc->nloops - 1] = l;
}

static void schedule_stage(kiln_stage *s) {
  kiln_schedule_default(s);
  kiln_schedule *sc = &s->sched;
  int last_spatial = -1, nspatial = 0;
  int64_t work = 1;
  for (int l = 0; l < sc->nloops; l++) {
    work *= sc->loops[l].extent;
    if (!s->axes[sc->loops[l].axis].reduce) last_spatial = l, nspatial++;
  }
  bool reduction = nspatial < sc->nloops;
  if (reduction && last_spatial >= 0 && (s->reduce == KR_SUM || s->reduce == KR_MAX)) {
    int r = sc->loops[sc->nloops - 1].axis, sp = sc->loops[last_spatial].axis;
    const kiln_expr *out_last = s->nout_idx ? s->out_idx[s->nout_idx - 1] : NULL;
    bool dot_product = streams(s, r) && sc->loops[sc->nloops - 1].extent >= 16;
    if (!dot_product && out_last && out_last->kind == KX_VAR &&
        out_last->axis == sp && sc->loops[last_spatial].extent >= 8) {
      move_innermost(sc, last_spatial);
      nspatial--; /* that spatial loop no longer leads the nest */
    }
  }
  /* Parallel over the leading spatial loops, as long as each adds parallelism and at
   * least one inner spatial loop stays serial when there are several. */
  if (work < PARALLEL_MIN_WORK) return;
  int64_t par = 1;
  for (int l = 0; l < sc->nloops && par < 64; l++) {
    if (s->axes[sc->loops[l].axis].reduce) break;
    if (l == nspatial - 1 && l > 0 && par >= 2) break;
    sc->loops[l].kind = KILN_LOOP_PARALLEL;
    par *= sc->loops[l].extent;
  }
}

void kiln_pass_schedule(kiln_steps *steps) {
  for (int i = 0; i < steps->n; i++) {
    kiln_step *st = &steps->steps[i];
    if (st->kind == KILN_STEP_IF) {
      kiln_pass_schedule(st->then_steps);
      kiln_pass_schedule(st->else_steps);
      continue;
    }
    for (int j = 0; j < st->kernel->nstages; j++) schedule_stage(&st->kernel->stages[j]);
  }
}
