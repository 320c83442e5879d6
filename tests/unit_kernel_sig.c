/* Kernel content signatures (ir/kernel_sig.h): kernels that differ only in names and
 * storage share one; any difference in what generated code computes (a dim, a constant,
 * the schedule, an index check's node) separates them. Then a program of two such
 * kernels on different buffers, compiled with one shared function, computes both. */
#include "codegen/codegen.h"
#include "ir/kernel_sig.h"
#include "runtime/check.h"

#include "check.h"

#include <stdlib.h>
#include <string.h>

/* out[i] = in[i] * c + in[idx[i]] (a checked gather), over n elements */
static kiln_kernel *make(const char *name, int64_t n, double c, const char *what, int in_where,
                         int out_where) {
  kiln_kernel *k = kiln_kernel_new(name);
  int64_t d[1] = {n};
  int in = kiln_kernel_add_buffer(k, name, KILN_BUF_INPUT, 0, KILN_F32, 1, d);
  int idx = kiln_kernel_add_buffer(k, "idx", KILN_BUF_INPUT, 0, KILN_I64, 1, d);
  int out = kiln_kernel_add_buffer(k, "out", KILN_BUF_OUTPUT, 0, KILN_F32, 1, d);
  k->bufs[in].storage = (kiln_storage){KILN_STORE_INPUT, in_where, 0};
  k->bufs[idx].storage = (kiln_storage){KILN_STORE_INPUT, 2, 0};
  k->bufs[out].storage = (kiln_storage){KILN_STORE_OUTPUT, out_where, 0};
  kiln_stage *s = kiln_kernel_add_stage(k, "fma", out);
  kiln_expr *i[1] = {kx_var(k, kiln_stage_axis(s, n, false))};
  kiln_expr *j[1] = {kx_check_index(k, kx_load(k, idx, i), n, true, what)};
  kiln_expr *v = kx_binary(k, KB_MUL, kx_load(k, in, i), kx_const_f(k, KILN_F32, c));
  kiln_stage_store(k, s, i, kx_binary(k, KB_ADD, v, kx_load(k, in, j)));
  return k;
}

static bool same(const kiln_kernel *a, const kiln_kernel *b) {
  size_t la, lb;
  char *sa = kiln_kernel_signature(a, &la), *sb = kiln_kernel_signature(b, &lb);
  bool eq = sa && sb && la == lb && memcmp(sa, sb, la) == 0;
  free(sa);
  free(sb);
  return eq;
}

static void signatures(void) {
  kiln_kernel *a = make("a", 16, 2.0, "node x", 0, 0), *b = make("b", 16, 2.0, "node x", 1, 1);
  CHECK(same(a, b)); /* other names, other storage */
  kiln_kernel *c = make("a", 17, 2.0, "node x", 0, 0);
  CHECK(!same(a, c)); /* a dim */
  kiln_kernel *d = make("a", 16, 2.5, "node x", 0, 0);
  CHECK(!same(a, d)); /* a constant */
  kiln_kernel *e = make("a", 16, 2.0, "node y", 0, 0);
  CHECK(!same(a, e)); /* the node an index error names */
  kiln_kernel *f = make("a", 16, 2.0, "node x", 0, 0);
  kiln_schedule_split(&f->stages[0].sched, 0, 4);
  CHECK(!same(a, f)); /* the schedule */
  kiln_kernel *g = make("a", 16, 2.0, "node x", 0, 0), *h = make("b", 16, 2.0, "node x", 0, 0);
  g->check_all = h->check_all = true;
  CHECK(!same(g, h)); /* checked kernels print their names */
  kiln_kernel *ks[] = {a, b, c, d, e, f, g, h};
  for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) kiln_kernel_free(ks[i]);
}

/* Two equal kernels on different buffers: one function, called twice, both right. */
static void shared_function(void) {
  kiln_program *p = kiln_program_new();
  p->ninputs = 3;
  p->noutputs = 2;
  p->inputs = kiln_xcalloc(3, sizeof(kiln_io));
  p->outputs = kiln_xcalloc(2, sizeof(kiln_io));
  kiln_steps_add(&p->main, KILN_STEP_KERNEL)->kernel = make("first", 8, 3.0, "node x", 0, 0);
  kiln_steps_add(&p->main, KILN_STEP_KERNEL)->kernel = make("second", 8, 3.0, "node x", 1, 1);
  kiln_check_instrument(p, false); /* the index checks' record */
  kiln_jit *jit = NULL;
  kiln_entry_fn fn = NULL;
  kiln_error err = {0};
  CHECK(kiln_jit_compile(p, NULL, &jit, &fn, &err) == KILN_OK);
  if (fn) {
    float x[8], y[8], ox[8] = {0}, oy[8] = {0};
    int64_t idx[8];
    for (int i = 0; i < 8; i++) x[i] = (float)i, y[i] = (float)(10 * i), idx[i] = 7 - i;
    void *ins[3] = {x, y, idx}, *outs[2] = {ox, oy};
    uint8_t *arena = aligned_alloc(64, (size_t)p->arena_bytes);
    CHECK(fn(ins, outs, arena, NULL) == 0);
    free(arena);
    for (int i = 0; i < 8; i++) {
      CHECK(ox[i] == 3 * x[i] + x[7 - i]);
      CHECK(oy[i] == 3 * y[i] + y[7 - i]);
    }
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
}

int main(void) {
  signatures();
  shared_function();
  return check_report();
}
