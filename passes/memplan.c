/* Memory planning: where every kernel buffer lives. Graph inputs, outputs and constants
 * have their own storage; every other value (and every kernel's temporaries) gets an
 * offset in one shared arena. Steps are numbered in execution order (the steps of an If's
 * branches in sequence); a value lives from its first write to its last read, a value
 * read inside an If or a loop but defined before it lives to the end of the whole If or
 * loop, and a temporary lives during its kernel only. A loop's own values (its body's
 * parameters, the stacked outputs its iterations fill, its staging area) live through
 * the whole loop, the body's results from their write to the loop's end. Values whose
 * lives overlap get disjoint bytes (greedy best fit, 64-byte aligned), so a kernel's
 * outputs and temporaries never alias any other buffer of that kernel. A value placed in
 * a slot of another (an in-place Concat's input) lives in that one's bytes, which then
 * live from the first write of any of its slots. */
#include "passes/passes.h"

#include "ir/arena_plan.h"
#include "ir/dtype.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

typedef kiln_alloc alloc;

typedef struct plan {
  const kiln_graph *g;
  kiln_program *p;
  int *const_of;   /* value id -> constant index, -1 */
  alloc *vals;     /* per value id (arena values) */
  alloc *temps;    /* one per TEMP buffer, in walk order */
  int ntemps, temps_cap;
  int64_t (*ifs)[2]; /* step ranges of If and loop steps, inner before outer */
  int nifs, ifs_cap;
  int64_t t;
  int *dyn_of;     /* value id -> its slot in p->dyn (sizes known at run time), -1; -2: a
                      loop's scan output sized by its iterations, in the arena at its
                      largest (the loop step writes it there) */
  int dyn_cap;
  bool strings;    /* a kernel takes the string heap */
} plan;

/* A slot placed at run time for buffer buf (of value v, or -1: a temporary) at step t. */
static kiln_storage dyn_slot(plan *pl, const kiln_buffer *buf, int v, int64_t t) {
  kiln_program *p = pl->p;
  int i = v >= 0 ? pl->dyn_of[v] : -1;
  if (i < 0) {
    KILN_GROW(p->dyn, p->ndyn, pl->dyn_cap);
    i = p->ndyn++;
    p->dyn[i] = (kiln_dyn_slot){buf, t, t};
    if (v >= 0) pl->dyn_of[v] = i;
  }
  if (t < p->dyn[i].start) p->dyn[i].start = t;
  if (t > p->dyn[i].end) p->dyn[i].end = t;
  return (kiln_storage){KILN_STORE_DYN, i, 0};
}

static int64_t round_up(int64_t n) { return (n + ALIGN - 1) / ALIGN * ALIGN; }

static int output_index(const kiln_graph *g, int v) {
  for (int j = 0; j < g->main.noutputs; j++)
    if (g->main.outputs[j] == v) return j;
  return -1;
}

static int input_index(const kiln_graph *g, int v) {
  for (int j = 0; j < g->ninputs; j++)
    if (g->inputs[j] == v) return j;
  return -1;
}

static int add_const(plan *pl, int v) {
  if (pl->const_of[v] >= 0) return pl->const_of[v];
  const kiln_value *val = &pl->g->values[v];
  kiln_program *p = pl->p;
  p->consts = kiln_xrealloc(p->consts, sizeof(kiln_const) * (size_t)(p->nconsts + 1));
  kiln_const *c = &p->consts[p->nconsts];
  c->dtype = val->dtype;
  c->bytes = kiln_value_numel(val) * (int64_t)kiln_dtype_size(val->dtype);
  size_t cap = (size_t)round_up(c->bytes ? c->bytes : 1);
  c->data = aligned_alloc(ALIGN, cap);
  if (!c->data) abort(); /* like kiln_xmalloc: sizes were checked against the limits */
  memset(c->data, 0, cap);
  if (c->bytes) memcpy(c->data, val->data, (size_t)c->bytes);
  return pl->const_of[v] = p->nconsts++;
}

/* Storage of value v as seen by a kernel reading it (reading=true) or writing it. */
static kiln_storage storage_of(plan *pl, int v, bool reading) {
  int i = input_index(pl->g, v);
  if (i >= 0) return (kiln_storage){KILN_STORE_INPUT, i, 0};
  if (reading && kiln_value_is_const(pl->g, v))
    return (kiln_storage){KILN_STORE_CONST, add_const(pl, v), 0};
  i = output_index(pl->g, v);
  if (i >= 0) return (kiln_storage){KILN_STORE_OUTPUT, i, 0};
  return (kiln_storage){KILN_STORE_ARENA, -1, 0};
}

static void touch(alloc *a, int64_t t, int64_t size) {
  if (!a->used) {
    a->used = true;
    a->start = a->end = t;
    a->size = size;
  }
  if (t < a->start) a->start = t;
  if (t > a->end) a->end = t;
}

/* Value v's bytes (bytes of them) are used at step t: those of its host if it is placed in
 * another value's slot. */
static void touch_value(plan *pl, int v, int64_t t, int64_t bytes) {
  const kiln_value *val = &pl->g->values[v];
  if (val->placed_in) {
    v = val->placed_in - 1;
    bytes = kiln_value_numel(&pl->g->values[v]) * (int64_t)kiln_dtype_size(val->dtype);
  }
  touch(&pl->vals[v], t, bytes);
}

/* The arena offset of value v's first element. */
static int64_t value_offset(const plan *pl, int v) {
  const kiln_value *val = &pl->g->values[v];
  if (!val->placed_in) return pl->vals[v].offset;
  return pl->vals[val->placed_in - 1].offset + val->place_off * (int64_t)kiln_dtype_size(val->dtype);
}

/* A loop step's storage: a value id in index until here (kind NONE: absent); an arena one
 * keeps its value id until assign() gives it the value's offset. */
static void loop_resolve(plan *pl, kiln_storage *s, bool reading) {
  if (s->kind == KILN_STORE_NONE) return;
  int v = s->index;
  *s = storage_of(pl, v, reading);
  if (s->kind == KILN_STORE_ARENA) s->index = v;
}

static void loop_touch(plan *pl, const kiln_storage *s, int64_t t) {
  if (s->kind != KILN_STORE_ARENA) return;
  const kiln_value *val = &pl->g->values[s->index];
  touch_value(pl, s->index, t, kiln_value_numel(val) * (int64_t)kiln_dtype_size(val->dtype));
}

static void walk(plan *pl, kiln_steps *steps);

/* The loop's own values are used at its first step (its start) and its last (where the
 * copies after each iteration and after the loop happen); its body's steps lie between. */
static void walk_loop(plan *pl, kiln_loop_step *l) {
  loop_resolve(pl, &l->trip, true);
  loop_resolve(pl, &l->cond0, true);
  loop_resolve(pl, &l->iter, false);
  loop_resolve(pl, &l->cond, false);
  loop_resolve(pl, &l->cond_out, true);
  for (int i = 0; i < l->nmoves; i++) {
    loop_resolve(pl, &l->moves[i].src, true);
    loop_resolve(pl, &l->moves[i].dst, false);
    const kiln_storage *d = &l->moves[i].dst;
    if (l->moves[i].when == KILN_MOVE_SCAN && d->kind == KILN_STORE_ARENA &&
        kiln_value_is_symbolic(&pl->g->values[d->index]))
      pl->dyn_of[d->index] = -2;
  }
  int64_t begin = ++pl->t;
  const kiln_storage *first[4] = {&l->trip, &l->cond0, &l->iter, &l->cond};
  for (int i = 0; i < 4; i++) loop_touch(pl, first[i], begin);
  for (int i = 0; i < l->nmoves; i++) {
    const kiln_move *m = &l->moves[i];
    if (m->when == KILN_MOVE_ENTER) loop_touch(pl, &m->src, begin);
    if (m->when == KILN_MOVE_ENTER || m->when == KILN_MOVE_SCAN) loop_touch(pl, &m->dst, begin);
  }
  walk(pl, l->body);
  int64_t end = ++pl->t;
  const kiln_storage *last[3] = {&l->iter, &l->cond, &l->cond_out};
  for (int i = 0; i < 3; i++) loop_touch(pl, last[i], end);
  for (int i = 0; i < l->nmoves; i++) {
    loop_touch(pl, &l->moves[i].src, end);
    loop_touch(pl, &l->moves[i].dst, end);
  }
  if (l->stage_bytes) {
    KILN_GROW(pl->temps, pl->ntemps, pl->temps_cap);
    pl->temps[pl->ntemps++] = (alloc){begin, end, l->stage_bytes, 0, true};
    l->stage = (kiln_storage){KILN_STORE_ARENA, -1, 0};
  }
  KILN_GROW(pl->ifs, pl->nifs, pl->ifs_cap);
  pl->ifs[pl->nifs][0] = begin;
  pl->ifs[pl->nifs++][1] = end;
}

static void assign_storage(const plan *pl, kiln_storage *s) {
  if (s->kind == KILN_STORE_ARENA && s->index >= 0) {
    s->offset = value_offset(pl, s->index);
    s->index = -1;
  }
}

/* First walk: storage kinds, live ranges, If and loop ranges. */
static void walk(plan *pl, kiln_steps *steps) {
  for (int s = 0; s < steps->n; s++) {
    kiln_step *st = &steps->steps[s];
    if (st->kind == KILN_STEP_LOOP) {
      walk_loop(pl, st->loop);
      continue;
    }
    if (st->kind == KILN_STEP_IF) {
      int64_t begin = ++pl->t;
      int cond = st->cond.index;
      st->cond = storage_of(pl, cond, true);
      st->cond.index = st->cond.kind == KILN_STORE_ARENA ? cond : st->cond.index;
      if (st->cond.kind == KILN_STORE_ARENA) touch_value(pl, cond, begin, 1);
      walk(pl, st->then_steps);
      walk(pl, st->else_steps);
      KILN_GROW(pl->ifs, pl->nifs, pl->ifs_cap);
      pl->ifs[pl->nifs][0] = begin;
      pl->ifs[pl->nifs++][1] = ++pl->t;
      continue;
    }
    kiln_kernel *k = st->kernel;
    int64_t t = ++pl->t;
    for (int b = 0; b < k->nbufs; b++) {
      kiln_buffer *buf = &k->bufs[b];
      int64_t bytes = kiln_shape_numel(buf->rank, buf->dims) * (int64_t)kiln_dtype_size(buf->dtype);
      if (buf->role == KILN_BUF_TEMP && kiln_buffer_is_dyn(buf)) {
        buf->storage = dyn_slot(pl, buf, -1, t);
        continue;
      }
      if (buf->role == KILN_BUF_TEMP) {
        KILN_GROW(pl->temps, pl->ntemps, pl->temps_cap);
        pl->temps[pl->ntemps++] = (alloc){t, t, bytes, 0, true};
        buf->storage = (kiln_storage){KILN_STORE_ARENA, -1, 0};
        continue;
      }
      pl->strings |= buf->storage.kind == KILN_STORE_STRINGS;
      if (buf->storage.kind != KILN_STORE_NONE) continue; /* preset by lowering */
      const kiln_value *val = buf->value >= 0 ? &pl->g->values[buf->value] : NULL;
      if (val && val->placed_in) { /* in a slot of its host (passes/place_concat.c) */
        buf->storage = (kiln_storage){KILN_STORE_ARENA, -1, 0};
        if (kiln_value_numel(val) > val->place_row) { /* more than one row: strided */
          buf->row = val->place_row;
          buf->pitch = val->place_pitch;
        }
        touch_value(pl, buf->value, t, bytes);
        continue;
      }
      buf->storage = storage_of(pl, buf->value, buf->role == KILN_BUF_INPUT);
      if (buf->storage.kind == KILN_STORE_ARENA && kiln_buffer_is_dyn(buf) &&
          pl->dyn_of[buf->value] != -2)
        buf->storage = dyn_slot(pl, buf, buf->value, t);
      if (buf->storage.kind == KILN_STORE_ARENA) touch_value(pl, buf->value, t, bytes);
    }
  }
}

/* Second walk: arena offsets into the buffers. */
static void assign(plan *pl, kiln_steps *steps, int *temp_i) {
  for (int s = 0; s < steps->n; s++) {
    kiln_step *st = &steps->steps[s];
    if (st->kind == KILN_STEP_LOOP) {
      kiln_loop_step *l = st->loop;
      kiln_storage *one[5] = {&l->trip, &l->cond0, &l->iter, &l->cond, &l->cond_out};
      for (int i = 0; i < 5; i++) assign_storage(pl, one[i]);
      for (int i = 0; i < l->nmoves; i++) {
        assign_storage(pl, &l->moves[i].src);
        assign_storage(pl, &l->moves[i].dst);
      }
      assign(pl, l->body, temp_i);
      if (l->stage_bytes) l->stage.offset = pl->temps[(*temp_i)++].offset;
      continue;
    }
    if (st->kind == KILN_STEP_IF) {
      if (st->cond.kind == KILN_STORE_ARENA) {
        st->cond.offset = value_offset(pl, st->cond.index);
        st->cond.index = -1;
      }
      assign(pl, st->then_steps, temp_i);
      assign(pl, st->else_steps, temp_i);
      continue;
    }
    kiln_kernel *k = st->kernel;
    for (int b = 0; b < k->nbufs; b++) {
      kiln_buffer *buf = &k->bufs[b];
      if (buf->storage.kind == KILN_STORE_DYN || buf->storage.kind == KILN_STORE_DIMS) continue;
      if (buf->role == KILN_BUF_TEMP) {
        buf->storage.offset = pl->temps[(*temp_i)++].offset;
        continue;
      }
      if (buf->storage.kind != KILN_STORE_ARENA) continue;
      buf->storage.offset = value_offset(pl, buf->value);
    }
  }
}

kiln_status kiln_plan_memory(const kiln_graph *g, kiln_program *p, kiln_error *err) {
  (void)err;
  plan pl = {.g = g, .p = p};
  size_t nv = (size_t)(g->nvalues ? g->nvalues : 1);
  pl.const_of = kiln_xmalloc(sizeof(int) * nv);
  for (int i = 0; i < g->nvalues; i++) pl.const_of[i] = -1;
  pl.vals = kiln_xcalloc(nv, sizeof(alloc));
  pl.dyn_of = kiln_xmalloc(sizeof(int) * nv);
  for (int i = 0; i < g->nvalues; i++) pl.dyn_of[i] = -1;
  walk(&pl, &p->main);
  /* a value defined before an If or loop and read inside it lives through all of it */
  for (int r = 0; r < pl.nifs; r++)
    for (int v = 0; v < g->nvalues; v++) {
      alloc *a = &pl.vals[v];
      if (a->used && a->start < pl.ifs[r][0] && a->end >= pl.ifs[r][0] && a->end <= pl.ifs[r][1])
        a->end = pl.ifs[r][1];
    }
  for (int r = 0; r < pl.nifs; r++)
    for (int i = 0; i < p->ndyn; i++) {
      kiln_dyn_slot *a = &p->dyn[i];
      if (a->start < pl.ifs[r][0] && a->end >= pl.ifs[r][0] && a->end <= pl.ifs[r][1])
        a->end = pl.ifs[r][1];
    }
  int nall = 0;
  alloc **all = kiln_xmalloc(sizeof(alloc *) * (nv + (size_t)pl.ntemps));
  for (int v = 0; v < g->nvalues; v++)
    if (pl.vals[v].used) all[nall++] = &pl.vals[v];
  for (int i = 0; i < pl.ntemps; i++) all[nall++] = &pl.temps[i];
  int64_t high = 0;
  kiln_arena_place(all, nall, &high);
  p->arena_bytes = round_up(high);
  if (p->nsyms) { /* the syms' values and the slots' offsets, written by each run */
    p->dims_offset = p->arena_bytes;
    p->arena_bytes = round_up(p->dims_offset + 8 * (int64_t)(p->nsyms + p->ndyn));
  }
  /* the heap, and a run's end that copies string outputs out for the caller, also where
   * the outputs are the inputs' strings (a Reshape) */
  for (int i = 0; i < p->noutputs; i++) pl.strings |= p->outputs[i].dtype == KILN_STRING;
  if ((p->strings = pl.strings)) { /* kiln_rt_strings: two i64s */
    p->strings_offset = p->arena_bytes;
    p->arena_bytes = round_up(p->strings_offset + 16);
  }
  int temp_i = 0;
  assign(&pl, &p->main, &temp_i);
  free(all);
  free(pl.vals);
  free(pl.temps);
  free(pl.ifs);
  free(pl.const_of);
  free(pl.dyn_of);
  return KILN_OK;
}
