/* `kiln verify` (runtime/verify.h): the program run step by step by the interpreter, each
 * kernel's code compiled and run alone on the interpreter's inputs of it, every value
 * compared with the unoptimized program's, then the whole compiled model.
 *
 * A program is interpreted on memory laid out as its code's: inputs, outputs, constants
 * and one arena at the planned offsets, so aliases, reused arena space and If steps behave
 * as in the compiled model. The unoptimized program runs first, keeping a copy of each
 * value the checked program also writes (by name), since its arena is reused. */
#include "runtime/verify.h"

#include "codegen/backend.h"
#include "ir/dtype.h"
#include "ir/graph.h"
#include "ir/interp.h"
#include "rt/parallel.h"
#include "runtime/check.h"
#include "runtime/kernel_run.h"
#include "runtime/profile.h"
#include "runtime/verify_compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCKED_SUFFIX ".blocked" /* the layout pass's twins (passes/layout.c) */

struct kiln_verify {
  kiln_options opts;
  kiln_program *p, *ref;
  kiln_verify_compile_hook hook;
  void *hook_ctx;
};

/* A value of the unoptimized program, kept for comparison. */
typedef struct saved {
  char *name;
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK], n;
  void *data;
} saved;

/* A program's memory during an interpreted run. */
typedef struct machine {
  const kiln_program *p;
  const void **inputs;
  void **outputs;
  uint8_t *arena;
} machine;

typedef struct run {
  kiln_verify *v;
  machine m;
  kiln_verify_report *rep;
  int nsaved;
  saved *saved;
  int nwanted;
  char **wanted;       /* names of the values the checked program writes */
  int nkernels;
  const kiln_kernel **kernels; /* the checked program's, in kiln_steps_kernels order */
  kiln_error *err;
  int in_loop;         /* > 0: inside a loop's body, whose values the reference keeps not */
} run;

static int64_t numel(const kiln_buffer *b) { return kiln_shape_numel(b->rank, b->dims); }
static int64_t bytes_of(const kiln_buffer *b) {
  return numel(b) * (int64_t)kiln_dtype_size(b->dtype);
}

static void *at(const machine *m, const kiln_storage *s) {
  switch (s->kind) {
  case KILN_STORE_INPUT: return (void *)m->inputs[s->index];
  case KILN_STORE_OUTPUT: return m->outputs[s->index];
  case KILN_STORE_CONST: return m->p->consts[s->index].data;
  case KILN_STORE_ARENA: return m->arena + s->offset;
  default: return NULL;
  }
}

static kiln_status machine_init(machine *m, const kiln_program *p, const void *const *inputs,
                                const kiln_program *given, kiln_error *err) {
  memset(m, 0, sizeof *m);
  m->p = p;
  m->inputs = kiln_xcalloc((size_t)p->ninputs + 1, sizeof(void *));
  for (int i = 0; i < p->ninputs; i++) { /* the inputs are given in `given`'s order */
    int j = 0;
    while (j < given->ninputs && strcmp(given->inputs[j].name, p->inputs[i].name)) j++;
    if (j == given->ninputs || given->inputs[j].bytes != p->inputs[i].bytes)
      return kiln_fail(err, KILN_ERR_INTERNAL, "input '%s' of the unoptimized program is not "
                       "one of the model's", p->inputs[i].name);
    m->inputs[i] = inputs[j];
  }
  m->outputs = kiln_xcalloc((size_t)p->noutputs + 1, sizeof(void *));
  for (int i = 0; i < p->noutputs; i++)
    m->outputs[i] = kiln_xcalloc(1, (size_t)p->outputs[i].bytes + 1);
  if (p->arena_bytes && !(m->arena = aligned_alloc(64, (size_t)p->arena_bytes)))
    return kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "no memory for a %lld-byte arena",
                     (long long)p->arena_bytes);
  if (m->arena) memset(m->arena, 0, (size_t)p->arena_bytes);
  return KILN_OK;
}

static void machine_free(machine *m) {
  for (int i = 0; m->outputs && i < m->p->noutputs; i++) free(m->outputs[i]);
  free(m->outputs);
  free(m->inputs);
  free(m->arena);
}

static kiln_status interpret(const machine *m, const kiln_kernel *k, kiln_error *err) {
  void *bufs[KILN_MAX_BUFS] = {0};
  for (int b = 0; b < k->nbufs; b++) bufs[b] = at(m, &k->bufs[b].storage);
  return kiln_interp_run(k, bufs, err);
}

static kiln_status walk(run *r, const kiln_steps *steps,
                        kiln_status (*each)(run *r, kiln_kernel *k));

static void loop_moves(const machine *m, const kiln_loop_step *l, kiln_move_when when, int64_t i) {
  for (int k = 0; k < l->nmoves; k++) { /* staged sources first (ir/program.h) */
    const kiln_move *mv = &l->moves[k];
    if (mv->when == when && mv->staged)
      memcpy((uint8_t *)at(m, &l->stage) + mv->stage_offset, at(m, &mv->src), (size_t)mv->bytes);
  }
  for (int k = 0; k < l->nmoves; k++) {
    const kiln_move *mv = &l->moves[k];
    if (mv->when != when) continue;
    uint8_t *dst = (uint8_t *)at(m, &mv->dst) + (when == KILN_MOVE_SCAN ? i * mv->bytes : 0);
    const uint8_t *src = mv->staged ? (uint8_t *)at(m, &l->stage) + mv->stage_offset : at(m, &mv->src);
    if (dst != src) memmove(dst, src, (size_t)mv->bytes);
  }
}

/* A loop step as its code runs it (codegen/llvm_emit.c). */
static kiln_status walk_loop(run *r, const kiln_loop_step *l,
                             kiln_status (*each)(run *r, kiln_kernel *k)) {
  const machine *m = &r->m;
  int64_t trip = INT64_MAX;
  if (l->trip.kind != KILN_STORE_NONE) memcpy(&trip, at(m, &l->trip), sizeof trip);
  bool c = l->cond0.kind == KILN_STORE_NONE || *(const uint8_t *)at(m, &l->cond0);
  loop_moves(m, l, KILN_MOVE_ENTER, 0);
  kiln_status st = KILN_OK;
  r->in_loop++;
  for (int64_t i = 0; i < trip && c && !st && !r->rep->first.check; i++) {
    if (i >= l->limit) {
      st = kiln_check_loop_limit(l->what, l->limit, r->err);
      break;
    }
    memcpy(at(m, &l->iter), &i, sizeof i);
    *(uint8_t *)at(m, &l->cond) = c;
    st = walk(r, l->body, each);
    c = *(const uint8_t *)at(m, &l->cond_out) != 0;
    loop_moves(m, l, KILN_MOVE_SCAN, i);
    loop_moves(m, l, KILN_MOVE_NEXT, i);
  }
  r->in_loop--;
  if (!st) loop_moves(m, l, KILN_MOVE_EXIT, 0);
  return st;
}

/* Runs steps, calling each(r, k) for the kernels of the branches taken. */
static kiln_status walk(run *r, const kiln_steps *steps,
                        kiln_status (*each)(run *r, kiln_kernel *k)) {
  for (int i = 0; i < steps->n; i++) {
    const kiln_step *s = &steps->steps[i];
    kiln_status st;
    if (s->kind == KILN_STEP_KERNEL) {
      st = each(r, s->kernel);
    } else if (s->kind == KILN_STEP_LOOP) {
      st = walk_loop(r, s->loop, each);
    } else {
      const uint8_t *cond = at(&r->m, &s->cond);
      st = walk(r, cond && *cond ? s->then_steps : s->else_steps, each);
    }
    if (st || r->rep->first.check) return st;
  }
  return KILN_OK;
}

/* ---- the unoptimized program ------------------------------------------------------- */

static bool wanted(const run *r, const char *name) {
  for (int i = 0; i < r->nwanted; i++)
    if (!strcmp(r->wanted[i], name)) return true;
  return false;
}

static kiln_status reference_kernel(run *r, kiln_kernel *k) {
  kiln_status st = interpret(&r->m, k, r->err);
  for (int b = 0; b < k->nbufs && !st; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    const void *data = at(&r->m, &buf->storage);
    if (buf->role != KILN_BUF_OUTPUT || !data || r->in_loop || !wanted(r, buf->name)) continue;
    saved *s = NULL; /* a value both branches of an If write is kept once */
    for (int i = 0; i < r->nsaved && !s; i++)
      if (!strcmp(r->saved[i].name, buf->name)) s = &r->saved[i];
    if (!s) {
      s = &r->saved[r->nsaved++];
      s->name = kiln_xstrdup(buf->name);
    }
    free(s->data);
    s->dtype = buf->dtype;
    s->rank = buf->rank;
    memcpy(s->dims, buf->dims, sizeof s->dims);
    s->n = numel(buf);
    s->data = kiln_xmalloc((size_t)bytes_of(buf) + 1);
    kiln_buffer_gather(buf, data, s->data);
  }
  return st;
}

static bool is_twin(const char *name) {
  size_t len = strlen(name), sl = strlen(BLOCKED_SUFFIX);
  return len > sl && !strcmp(name + len - sl, BLOCKED_SUFFIX);
}

/* The values the checked program writes, and the plain forms of its blocked twins. */
static void collect_wanted(run *r) {
  for (int i = 0; i < r->nkernels; i++)
    for (int b = 0; b < r->kernels[i]->nbufs; b++) {
      const char *name = r->kernels[i]->bufs[b].name;
      if (r->kernels[i]->bufs[b].role != KILN_BUF_OUTPUT) continue;
      r->wanted = kiln_xrealloc(r->wanted, sizeof(char *) * (size_t)(r->nwanted + 2));
      r->wanted[r->nwanted++] = kiln_xstrdup(name);
      if (is_twin(name))
        r->wanted[r->nwanted++] =
            kiln_fmt("%.*s", (int)(strlen(name) - strlen(BLOCKED_SUFFIX)), name);
    }
}

/* ---- reporting ----------------------------------------------------------------------- */

static char *kernel_text(const kiln_kernel *k) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  kiln_kernel_print(k, f);
  fclose(f);
  return text;
}

/* The graph nodes k computes, '+'-joined ("conv1+add1+relu1"); its name when none. */
static char *node_list(const kiln_kernel *k) {
  if (!k->nnodes) return kiln_xstrdup(k->name);
  size_t len = 1;
  for (int i = 0; i < k->nnodes; i++) len += strlen(k->nodes[i]) + 1;
  char *s = kiln_xmalloc(len);
  s[0] = 0;
  for (int i = 0; i < k->nnodes; i++) {
    if (i) strcat(s, "+");
    strcat(s, k->nodes[i]);
  }
  return s;
}

static void diverged(run *r, kiln_verify_check check, const kiln_kernel *k, int index,
                     const kiln_buffer *buf, const char *reference, const kiln_comparison *c) {
  kiln_verify_diverged *d = &r->rep->first;
  d->check = check;
  d->kernel_index = k ? index : -1;
  d->kernel = kiln_xstrdup(k ? k->name : "-");
  d->op = kiln_xstrdup(k && k->op ? k->op : k ? "?" : "Loop");
  d->nodes = k ? node_list(k) : kiln_xstrdup("-");
  d->buffer = kiln_xstrdup(buf->name);
  d->reference = kiln_xstrdup(reference);
  d->text = k ? kernel_text(k) : kiln_xstrdup(""); /* no kernel: a loop's copy */
  d->rank = buf->rank;
  d->flat = c->worst;
  for (int64_t rest = c->worst, i = buf->rank - 1; i >= 0; i--) {
    d->index[i] = buf->dims[i] ? rest % buf->dims[i] : 0;
    rest = buf->dims[i] ? rest / buf->dims[i] : 0;
  }
  d->got = c->got;
  d->want = c->want;
  d->error = c->error;
  d->tolerance = c->tolerance;
  d->bad = c->bad;
  d->total = c->total;
}

static void note(double *max, const kiln_comparison *c) {
  if (c->max_ratio > *max) *max = c->max_ratio;
}

/* ---- the checked program --------------------------------------------------------------- */

/* The saved value buf is compared with: the same name, or for a blocked twin
 * [N, C/b, spatial..., b] the plain [N, C, spatial...] (*map then gives, per element of
 * the plain value, the twin's element). NULL when there is none of that shape. */
static const saved *counterpart(const run *r, const kiln_buffer *buf, int64_t **map) {
  *map = NULL;
  size_t len = strlen(buf->name), sl = strlen(BLOCKED_SUFFIX);
  bool twin = is_twin(buf->name);
  for (int i = 0; i < r->nsaved; i++) {
    const saved *s = &r->saved[i];
    if (s->dtype != buf->dtype || s->n != numel(buf)) continue;
    if (!strcmp(s->name, buf->name)) return s;
    if (!twin || strncmp(s->name, buf->name, len - sl) || s->name[len - sl]) continue;
    if (s->rank < 3 || buf->rank < 3) return NULL;
    int64_t lanes = buf->dims[buf->rank - 1], blocks = buf->dims[1];
    if (s->dims[0] != buf->dims[0] || blocks * lanes != s->dims[1]) return NULL;
    int64_t n = s->dims[0], c = s->dims[1], hw = n > 0 && c > 0 ? s->n / (n * c) : 0;
    if (hw == 0 || n * c * hw != s->n) return NULL;
    int64_t *m = *map = kiln_xmalloc(sizeof(int64_t) * (size_t)(s->n + 1));
    for (int64_t e = 0; e < s->n; e++) { /* plain (b, ch, p) -> twin (b, ch / l, p, ch % l) */
      int64_t p = e % hw, ch = e / hw % c, bt = e / hw / c;
      m[e] = ((bt * blocks + ch / lanes) * hw + p) * lanes + ch % lanes;
    }
    return s;
  }
  return NULL;
}

static void check_rewrite(run *r, const kiln_kernel *k, int index) {
  for (int b = 0; b < k->nbufs && !r->rep->first.check; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    int64_t *map;
    const void *at_got = at(&r->m, &buf->storage);
    const saved *s = buf->role == KILN_BUF_OUTPUT && at_got ? counterpart(r, buf, &map) : NULL;
    if (!s) continue;
    void *got = kiln_xmalloc((size_t)bytes_of(buf) + 1);
    kiln_buffer_gather(buf, at_got, got);
    kiln_comparison c;
    kiln_verify_compare(buf->dtype, got, s->data, s->n, map,
                        kiln_verify_rewrite_tolerance(buf->dtype), &c);
    free(got);
    free(map);
    r->rep->values_matched++;
    note(&r->rep->max_rewrite_error, &c);
    if (c.bad) diverged(r, KILN_VERIFY_REWRITE, k, index, buf, s->name, &c);
  }
}

static kiln_status check_kernel(run *r, kiln_kernel *k) {
  kiln_verify *v = r->v;
  kiln_kernel_runner *kr = NULL;
  if (v->hook) v->hook(v->hook_ctx, k, true);
  kiln_status st = kiln_kernel_runner_new(v->p, k, &v->opts, 1, &kr, r->err);
  if (v->hook) v->hook(v->hook_ctx, k, false);
  for (int b = 0; b < k->nbufs && !st; b++) { /* the kernel's buffers, as they are now */
    const kiln_buffer *buf = &k->bufs[b];
    const void *src = at(&r->m, &buf->storage);
    void *dst = kiln_kernel_runner_buffer(kr, b);
    /* the runner's buffers have the same layout (kernel_run.c); outputs too start as they
     * are now, since a kernel may write part of one (a Concat whose inputs were placed) */
    if (buf->role != KILN_BUF_TEMP && buf->storage.kind != KILN_STORE_CONST && src && dst)
      memcpy(dst, src, (size_t)(kiln_buffer_span(buf) * (int64_t)kiln_dtype_size(buf->dtype)));
  }
  if (!st) st = interpret(&r->m, k, r->err);
  if (!st) {
    kiln_rt_set_num_threads(v->opts.num_threads);
    st = kiln_kernel_runner_run(kr, r->err);
    kiln_rt_set_num_threads(0);
  }
  if (!st) r->rep->checked++;
  kiln_tolerance tol = kiln_verify_code_tolerance(k);
  int index = 0;
  while (index < r->nkernels && r->kernels[index] != k) index++;
  for (int b = 0; b < k->nbufs && !st && !r->rep->first.check; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    const void *at_want = at(&r->m, &buf->storage);
    if (buf->role != KILN_BUF_OUTPUT || !at_want) continue;
    void *want = kiln_xmalloc((size_t)bytes_of(buf) + 1), *got = kiln_xmalloc((size_t)bytes_of(buf) + 1);
    kiln_buffer_gather(buf, at_want, want);
    kiln_buffer_gather(buf, kiln_kernel_runner_buffer(kr, b), got);
    kiln_comparison c;
    kiln_verify_compare(buf->dtype, got, want, numel(buf), NULL, tol, &c);
    free(want);
    free(got);
    note(&r->rep->max_code_error, &c);
    if (c.bad) diverged(r, KILN_VERIFY_CODE, k, index, buf, buf->name, &c);
  }
  kiln_kernel_runner_free(kr);
  if (!st && !r->rep->first.check) check_rewrite(r, k, index);
  return st;
}

/* The kernel that writes output `name` last, and its index. */
static const kiln_kernel *writer(const run *r, const char *name, int *index) {
  const kiln_kernel *w = NULL;
  for (int i = 0; i < r->nkernels; i++)
    for (int b = 0; b < r->kernels[i]->nbufs; b++)
      if (r->kernels[i]->bufs[b].role == KILN_BUF_OUTPUT &&
          !strcmp(r->kernels[i]->bufs[b].name, name)) {
        w = r->kernels[i];
        *index = i;
      }
  return w;
}

/* The reference's model outputs that no kernel wrote (a loop's copies did), kept too. */
static void save_outputs(run *r) {
  const kiln_program *p = r->m.p;
  for (int i = 0; i < p->noutputs; i++) {
    const kiln_io *o = &p->outputs[i];
    bool have = false;
    for (int j = 0; j < r->nsaved && !have; j++) have = !strcmp(r->saved[j].name, o->name);
    if (have || !o->bytes) continue;
    r->saved = kiln_xrealloc(r->saved, sizeof(saved) * (size_t)(r->nsaved + 1));
    saved *s = &r->saved[r->nsaved++];
    s->name = kiln_xstrdup(o->name);
    s->dtype = o->dtype;
    s->rank = o->rank;
    memcpy(s->dims, o->dims, sizeof s->dims);
    s->n = o->bytes / (int64_t)kiln_dtype_size(o->dtype);
    s->data = kiln_xmalloc((size_t)o->bytes);
    memcpy(s->data, r->m.outputs[i], (size_t)o->bytes);
  }
}

/* The whole model compiled and run, its outputs against the unoptimized program's. */
static kiln_status check_model(run *r, const void *const *inputs) {
  kiln_verify *v = r->v;
  const kiln_program *p = v->p;
  const kiln_backend *be = kiln_backend_for(&v->opts);
  void *code = NULL;
  kiln_entry_fn entry = NULL;
  kiln_status st = be->jit(p, &v->opts, &code, &entry, r->err);
  if (st) return st;
  machine m;
  st = machine_init(&m, p, inputs, p, r->err);
  const void **consts = kiln_xcalloc((size_t)p->nconsts + 1, sizeof(void *));
  for (int i = 0; i < p->nconsts; i++) consts[i] = p->consts[i].data;
  if (!st) {
    kiln_rt_set_num_threads(v->opts.num_threads);
    int rc = entry((void *const *)m.inputs, m.outputs, m.arena, consts);
    kiln_rt_set_num_threads(0);
    if (rc && !(st = kiln_check_result(p, m.arena, r->err)))
      st = kiln_fail(r->err, (kiln_status)rc, "the model's run failed (status %d)", rc);
  }
  for (int i = 0; i < p->noutputs && !st && !r->rep->first.check; i++) {
    const kiln_io *o = &p->outputs[i];
    int index = -1;
    const kiln_kernel *k = writer(r, o->name, &index);
    const saved *s = NULL;
    for (int j = 0; j < r->nsaved && !s; j++)
      if (!strcmp(r->saved[j].name, o->name) && r->saved[j].dtype == o->dtype &&
          r->saved[j].n * (int64_t)kiln_dtype_size(o->dtype) == o->bytes)
        s = &r->saved[j];
    if (!s) continue; /* k NULL: a loop's copy wrote it */
    kiln_comparison c;
    kiln_verify_compare(o->dtype, m.outputs[i], s->data, s->n, NULL,
                        kiln_verify_rewrite_tolerance(o->dtype), &c);
    r->rep->outputs_checked++;
    note(&r->rep->max_rewrite_error, &c);
    kiln_buffer view = {.name = o->name, .dtype = o->dtype, .rank = o->rank};
    memcpy(view.dims, o->dims, sizeof view.dims);
    if (c.bad) diverged(r, KILN_VERIFY_MODEL, k, index, &view, s->name, &c);
  }
  free(consts);
  machine_free(&m);
  be->free_code(code);
  return st;
}

/* ---- API ------------------------------------------------------------------------------- */

kiln_status kiln_verify_new(const char *path, const kiln_options *opts, kiln_verify **out,
                            kiln_error *err) {
  *out = NULL;
  kiln_verify *v = kiln_xcalloc(1, sizeof *v);
  if (opts) v->opts = *opts;
  v->opts.profile = 0;
  kiln_status st = v->opts.symbolic_dims
                      ? kiln_fail(err, KILN_ERR_UNSUPPORTED, "symbolic_dims: verify with free "
                                  "dims is not supported yet (bind the dims)")
                      : kiln_program_from_file(path, &v->opts, NULL, &v->p, err);
  if (!st && v->p->nsyms) /* its kernels run alone, with no run to compute the sizes */
    st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "'%s' is a size the run computes from values: "
                   "verify with run-time sizes is not supported yet", v->p->sym_names[0]);
  if (!st && v->p->strings) /* its random inputs would be no strings */
    st = kiln_fail(err, KILN_ERR_UNSUPPORTED, "the model has string tensors: verify does not "
                   "check them yet (the conformance tests check string ops against ONNX's data)");
  kiln_options plain = v->opts;
  plain.tuning_log = NULL; /* schedules do not matter to the interpreter */
  if (!st) st = kiln_reference_program_from_file(path, &plain, &v->ref, err);
  if (st) {
    kiln_verify_free(v);
    return st;
  }
  *out = v;
  return KILN_OK;
}

kiln_program *kiln_verify_program(kiln_verify *v) { return v->p; }

void kiln_verify_set_compile_hook(kiln_verify *v, kiln_verify_compile_hook hook, void *ctx) {
  v->hook = hook;
  v->hook_ctx = ctx;
}

kiln_status kiln_verify_run(kiln_verify *v, const void *const *inputs, kiln_verify_report *rep,
                            kiln_error *err) {
  memset(rep, 0, sizeof *rep);
  run r = {.v = v, .rep = rep, .err = err};
  r.kernels = kiln_steps_kernel_list(&v->p->main, &r.nkernels);
  rep->nkernels = r.nkernels;
  collect_wanted(&r);
  r.saved = kiln_xcalloc((size_t)r.nwanted + 1, sizeof(saved));
  kiln_status st = machine_init(&r.m, v->ref, inputs, v->p, err);
  if (!st) st = walk(&r, &v->ref->main, reference_kernel);
  if (!st) save_outputs(&r);
  machine_free(&r.m);
  if (!st) st = machine_init(&r.m, v->p, inputs, v->p, err);
  if (!st) st = walk(&r, &v->p->main, check_kernel);
  machine_free(&r.m);
  if (!st && !rep->first.check) st = check_model(&r, inputs);
  for (int i = 0; i < r.nsaved; i++) {
    free(r.saved[i].name);
    free(r.saved[i].data);
  }
  free(r.saved);
  for (int i = 0; i < r.nwanted; i++) free(r.wanted[i]);
  free(r.kernels);
  free(r.wanted);
  if (st) kiln_verify_report_free(rep);
  return st;
}

void kiln_verify_report_free(kiln_verify_report *rep) {
  kiln_verify_diverged *d = &rep->first;
  free(d->kernel);
  free(d->op);
  free(d->nodes);
  free(d->buffer);
  free(d->reference);
  free(d->text);
  memset(d, 0, sizeof *d);
}

void kiln_verify_free(kiln_verify *v) {
  if (!v) return;
  kiln_program_free(v->p);
  kiln_program_free(v->ref);
  free(v);
}
