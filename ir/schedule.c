/* Applying, printing and parsing schedule recipes (ir/schedule.h). */
#include "ir/schedule.h"

#include <stdlib.h>
#include <string.h>

static const char *const NAMES[] = {"split", "move",  "vector", "unroll",  "parallel",
                                     "serial", "block", "thread", "prefetch",
                                     "share"};
#define NOPS (int)(sizeof NAMES / sizeof NAMES[0])

static bool takes_arg(kiln_sched_op op) {
  return op == KS_SPLIT || op == KS_MOVE || op == KS_PREFETCH || op == KS_SHARE;
}

bool kiln_recipe_add(kiln_recipe *r, kiln_sched_op op, int loop, int64_t arg) {
  if (r->nsteps >= KILN_MAX_RECIPE) return false;
  r->steps[r->nsteps++] = (kiln_sched_step){op, loop, arg};
  return true;
}

/* One step on sc; a message in why when its arguments do not fit the nest. */
static bool step(kiln_schedule *sc, const kiln_sched_step *st, char *why, size_t n) {
  int l = st->loop;
  if (l < 0 || l >= sc->nloops) {
    snprintf(why, n, "no loop %d (the nest has %d)", l, sc->nloops);
    return false;
  }
  kiln_loop *lp = &sc->loops[l];
  switch (st->op) {
  case KS_SPLIT:
    if (st->arg < 2 || st->arg > lp->extent || sc->nloops >= KILN_MAX_LOOPS) {
      snprintf(why, n, "cannot split a loop of extent %lld by %lld", (long long)lp->extent,
               (long long)st->arg);
      return false;
    }
    kiln_schedule_split(sc, l, st->arg);
    if (sc->nshare && sc->share_loop == l) sc->nshare = 0; /* its loop is gone */
    else if (sc->nshare && sc->share_loop > l) sc->share_loop++;
    /* the inner loop takes the kind: a vector loop split keeps its lanes innermost */
    {
      bool outer = sc->loops[l].kind == KILN_LOOP_PARALLEL || sc->loops[l].kind == KILN_LOOP_BLOCK;
      sc->loops[l + 1].kind = outer ? KILN_LOOP_SERIAL : sc->loops[l].kind;
      if (!outer) sc->loops[l].kind = KILN_LOOP_SERIAL;
    }
    return true;
  case KS_MOVE: {
    if (st->arg < 0 || st->arg >= sc->nloops) {
      snprintf(why, n, "no position %lld (the nest has %d loops)", (long long)st->arg,
               sc->nloops);
      return false;
    }
    kiln_loop moved = *lp;
    int to = (int)st->arg;
    if (to < l)
      memmove(&sc->loops[to + 1], &sc->loops[to], sizeof(kiln_loop) * (size_t)(l - to));
    else
      memmove(&sc->loops[l], &sc->loops[l + 1], sizeof(kiln_loop) * (size_t)(to - l));
    sc->loops[to] = moved;
    int *sl = &sc->share_loop;
    if (sc->nshare) *sl = *sl == l ? to : *sl > l && *sl <= to ? *sl - 1 : *sl >= to && *sl < l ? *sl + 1 : *sl;
    return true;
  }
  case KS_VECTOR: lp->kind = KILN_LOOP_VECTOR; return true;
  case KS_UNROLL: lp->kind = KILN_LOOP_UNROLL; return true;
  case KS_PARALLEL:
    for (int i = 0; i <= l; i++) sc->loops[i].kind = KILN_LOOP_PARALLEL;
    return true;
  case KS_SERIAL: lp->kind = KILN_LOOP_SERIAL; return true;
  case KS_BLOCK:
    for (int i = 0; i <= l; i++) sc->loops[i].kind = KILN_LOOP_BLOCK;
    return true;
  case KS_THREAD: lp->kind = KILN_LOOP_THREAD; return true;
  case KS_PREFETCH:
    if (st->arg < 1 || st->arg > lp->extent) {
      snprintf(why, n, "cannot prefetch %lld iterations ahead in a loop of extent %lld",
               (long long)st->arg, (long long)lp->extent);
      return false;
    }
    sc->prefetch_axis = lp->axis;
    sc->prefetch_ahead = st->arg * lp->stride;
    return true;
  case KS_SHARE:
    for (int i = 0; i < sc->nshare; i++)
      if (sc->share[i] == st->arg) {
        snprintf(why, n, "buffer %lld is staged already", (long long)st->arg);
        return false;
      }
    if (st->arg < 0 || st->arg >= KILN_MAX_BUFS || sc->nshare >= KILN_MAX_SHARE ||
        (sc->nshare && sc->share_loop != l)) {
      snprintf(why, n, "cannot stage buffer %lld there (at most %d buffers, all at one loop)",
               (long long)st->arg, KILN_MAX_SHARE);
      return false;
    }
    sc->share_loop = l;
    sc->share[sc->nshare++] = (int)st->arg;
    return true;
  }
  snprintf(why, n, "unknown step %d", (int)st->op);
  return false;
}

static void step_text(const kiln_sched_step *st, char *buf, size_t n) {
  const char *name = (int)st->op >= 0 && (int)st->op < NOPS ? NAMES[st->op] : "?";
  if (takes_arg(st->op)) snprintf(buf, n, "%s(%d,%lld)", name, st->loop, (long long)st->arg);
  else snprintf(buf, n, "%s(%d)", name, st->loop);
}

kiln_status kiln_schedule_apply(kiln_stage *s, const kiln_recipe *recipe, kiln_error *err) {
  kiln_recipe copy = *recipe, *r = &copy; /* recipe may be s->recipe */
  kiln_schedule saved = s->sched;
  kiln_schedule_default(s);
  for (int i = 0; i < r->nsteps; i++) {
    kiln_error inner = {0};
    char why[sizeof inner.message] = "", text[64];
    bool ok = step(&s->sched, &r->steps[i], why, sizeof why);
    if (ok && kiln_schedule_check(s, &inner)) {
      ok = false;
      snprintf(why, sizeof why, "%s", inner.message);
    }
    if (!ok) {
      step_text(&r->steps[i], text, sizeof text);
      s->sched = saved;
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "stage '%s': schedule step %d, %s: %s",
                       s->name, i, text, why);
    }
  }
  s->recipe = copy;
  return KILN_OK;
}

static int find_loop(const kiln_schedule *sc, int from, int axis, int64_t stride) {
  for (int l = from; l < sc->nloops; l++)
    if (sc->loops[l].axis == axis && sc->loops[l].stride == stride) return l;
  return -1;
}

bool kiln_recipe_for(const kiln_stage *s, const kiln_schedule *target, kiln_recipe *r) {
  kiln_stage t = *s; /* a scratch copy whose schedule follows the steps */
  kiln_schedule *sc = &t.sched;
  kiln_schedule_default(&t);
  r->nsteps = 0;
  char why[64];
  /* splits: each axis's loops from the coarsest stride down, each split off the stride-1
   * loop that still covers the rest */
  for (int a = 0; a < s->naxes; a++) {
    for (;;) {
      int64_t coarsest = 0;
      for (int l = 0; l < target->nloops; l++)
        if (target->loops[l].axis == a && find_loop(sc, 0, a, target->loops[l].stride) < 0 &&
            target->loops[l].stride > coarsest)
          coarsest = target->loops[l].stride;
      if (!coarsest) break;
      int l = find_loop(sc, 0, a, 1);
      kiln_sched_step st = {KS_SPLIT, l, coarsest};
      if (l < 0 || !kiln_recipe_add(r, KS_SPLIT, l, coarsest) || !step(sc, &st, why, sizeof why))
        return false;
    }
  }
  /* order */
  for (int i = 0; i < target->nloops; i++) {
    int j = find_loop(sc, i, target->loops[i].axis, target->loops[i].stride);
    if (j < 0) return false;
    kiln_sched_step st = {KS_MOVE, j, i};
    if (j != i && (!kiln_recipe_add(r, KS_MOVE, j, i) || !step(sc, &st, why, sizeof why)))
      return false;
  }
  /* kinds: the parallel (or block) prefix at once, then each loop of another kind */
  int par = -1, block = -1;
  for (int i = 0; i < target->nloops; i++) {
    if (target->loops[i].kind == KILN_LOOP_PARALLEL) par = i;
    if (target->loops[i].kind == KILN_LOOP_BLOCK) block = i;
  }
  if (par >= 0 && !kiln_recipe_add(r, KS_PARALLEL, par, 0)) return false;
  if (block >= 0 && !kiln_recipe_add(r, KS_BLOCK, block, 0)) return false;
  for (int i = 0; i < target->nloops; i++) {
    kiln_loop_kind k = target->loops[i].kind;
    kiln_sched_op op = k == KILN_LOOP_VECTOR ? KS_VECTOR : k == KILN_LOOP_UNROLL ? KS_UNROLL
                       : KS_THREAD;
    if ((k == KILN_LOOP_VECTOR || k == KILN_LOOP_UNROLL || k == KILN_LOOP_THREAD) &&
        !kiln_recipe_add(r, op, i, 0))
      return false;
  }
  /* the prefetch distance, in iterations of the axis's innermost loop */
  if (target->prefetch_ahead > 0) {
    int l = -1;
    for (int i = 0; i < target->nloops; i++)
      if (target->loops[i].axis == target->prefetch_axis) l = i;
    if (l < 0 || target->prefetch_ahead % target->loops[l].stride ||
        !kiln_recipe_add(r, KS_PREFETCH, l, target->prefetch_ahead / target->loops[l].stride))
      return false;
  }
  /* the buffers staged in shared memory */
  for (int j = 0; j < target->nshare; j++)
    if (!kiln_recipe_add(r, KS_SHARE, target->share_loop, target->share[j])) return false;
  /* the recipe must give exactly the target, legally */
  kiln_error err = {0};
  if (kiln_schedule_apply(&t, r, &err) || t.sched.nloops != target->nloops ||
      t.sched.prefetch_ahead != target->prefetch_ahead ||
      (target->prefetch_ahead > 0 && t.sched.prefetch_axis != target->prefetch_axis) ||
      t.sched.nshare != target->nshare || (target->nshare && (t.sched.share_loop != target->share_loop ||
      memcmp(t.sched.share, target->share, sizeof target->share[0] * (size_t)target->nshare))))
    return false;
  for (int i = 0; i < target->nloops; i++) {
    const kiln_loop *x = &t.sched.loops[i], *y = &target->loops[i];
    if (x->axis != y->axis || x->stride != y->stride || x->extent != y->extent ||
        x->kind != y->kind)
      return false;
  }
  return true;
}

void kiln_recipe_print(const kiln_recipe *r, FILE *out) {
  for (int i = 0; i < r->nsteps; i++) {
    char text[64];
    step_text(&r->steps[i], text, sizeof text);
    fprintf(out, "%s%s", i ? " " : "", text);
  }
}

char *kiln_recipe_text(const kiln_recipe *r) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f) {
    kiln_recipe_print(r, f);
    fclose(f);
  }
  return text ? text : kiln_xstrdup("");
}

kiln_status kiln_recipe_parse(const char *text, kiln_recipe *r, kiln_error *err) {
  r->nsteps = 0;
  const char *p = text;
  for (;;) {
    while (*p == ' ') p++;
    if (!*p) return KILN_OK;
    int op = -1;
    size_t len = strcspn(p, "(");
    for (int i = 0; i < NOPS; i++)
      if (strlen(NAMES[i]) == len && strncmp(p, NAMES[i], len) == 0) op = i;
    char *end;
    if (op < 0 || p[len] != '(')
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "schedule '%s': unknown step at '%.20s'",
                       text, p);
    p += len + 1;
    long loop = strtol(p, &end, 10);
    long long arg = 0;
    bool ok = end != p && loop >= 0 && loop < KILN_MAX_LOOPS;
    p = end;
    if (ok && takes_arg((kiln_sched_op)op)) {
      ok = *p == ',';
      if (ok) {
        arg = strtoll(++p, &end, 10);
        ok = end != p;
        p = end;
      }
    }
    if (!ok || *p != ')')
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "schedule '%s': bad arguments to %s",
                       text, NAMES[op]);
    p++;
    if (!kiln_recipe_add(r, (kiln_sched_op)op, (int)loop, arg))
      return kiln_fail(err, KILN_ERR_INVALID_ARGUMENT, "schedule '%s': more than %d steps",
                       text, KILN_MAX_RECIPE);
  }
}
