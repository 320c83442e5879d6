/* Checked kernels (kiln_options.check_bounds, runtime/check.h): a kernel whose index runs
 * past its buffer must not touch memory outside it and must report kernel, stage, buffer
 * and index; in-bounds kernels compute exactly what unchecked ones do. Programs are built
 * by hand (passes never make such a kernel), then the demo model runs checked through the
 * public API. */
#include "codegen/codegen.h"
#include "kiln.h"
#include "runtime/check.h"
#include "tests/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* y[i] = x[i + shift] * 2 over n elements, x and y of n elements; one parallel stage.
 * With store_shift, y[i + shift] = x[i] * 2 instead. */
static kiln_program *shifted(int64_t n, int64_t shift, bool store_shift) {
  kiln_program *p = kiln_program_new();
  p->ninputs = p->noutputs = 1;
  p->inputs = kiln_xcalloc(1, sizeof(kiln_io));
  p->outputs = kiln_xcalloc(1, sizeof(kiln_io));
  p->inputs[0] = (kiln_io){kiln_xstrdup("x"), KILN_F32, 1, {n}, n * 4, NULL};
  p->outputs[0] = (kiln_io){kiln_xstrdup("y"), KILN_F32, 1, {n}, n * 4, NULL};
  kiln_kernel *k = kiln_kernel_new("Shift_7");
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, 0, KILN_F32, 1, &n);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 1, KILN_F32, 1, &n);
  k->bufs[x].storage = (kiln_storage){KILN_STORE_INPUT, 0, 0};
  k->bufs[y].storage = (kiln_storage){KILN_STORE_OUTPUT, 0, 0};
  kiln_stage *s = kiln_kernel_add_stage(k, "shift", y);
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, n, false));
  kiln_expr *in = store_shift ? i : kx_addi(k, i, shift);
  kiln_expr *out = store_shift ? kx_addi(k, i, shift) : i;
  kiln_stage_store(k, s, &out, kx_binary(k, KB_MUL, kx_load(k, x, &in), kx_const_f(k, KILN_F32, 2)));
  s->sched.loops[0].kind = KILN_LOOP_PARALLEL;
  kiln_steps_add(&p->main, KILN_STEP_KERNEL)->kernel = k;
  return p;
}

/* Runs p checked; *y gets the output; returns kiln_check_result's status. */
static kiln_status run_checked(kiln_program *p, const float *x, float *y, kiln_error *err) {
  kiln_check_instrument(p, true);
  CHECK(kiln_check_record_offset(p) >= 0);
  kiln_jit *jit = NULL;
  kiln_entry_fn entry = NULL;
  kiln_status st = kiln_jit_compile(p, NULL, &jit, &entry, err);
  CHECK(st == KILN_OK);
  if (st) return st;
  uint8_t *arena = aligned_alloc(64, (size_t)p->arena_bytes);
  memset(arena, 0xab, (size_t)p->arena_bytes); /* the entry must clear the record itself */
  const void *ins[1] = {x};
  void *outs[1] = {y};
  entry((void *const *)ins, outs, arena, NULL);
  st = kiln_check_result(p, arena, err);
  free(arena);
  kiln_jit_free(jit);
  return st;
}

static void in_bounds(void) {
  enum { n = 1000 };
  float x[n], y[n];
  for (int i = 0; i < n; i++) x[i] = (float)i;
  kiln_program *p = shifted(n, 0, false);
  kiln_error err = {0};
  CHECK(run_checked(p, x, y, &err) == KILN_OK);
  int wrong = 0;
  for (int i = 0; i < n; i++) wrong += y[i] != 2.0f * (float)i;
  CHECK(wrong == 0);
  kiln_program_free(p);
}

/* The buffers sit inside guard zones that must stay untouched. */
static void out_of_bounds(bool store) {
  enum { n = 1000, guard = 64 };
  float xa[n + 2 * guard], ya[n + 2 * guard];
  for (int i = 0; i < n + 2 * guard; i++) xa[i] = ya[i] = -1.0f;
  kiln_program *p = shifted(n, 234, store);
  kiln_error err = {0};
  kiln_status st = run_checked(p, xa + guard, ya + guard, &err);
  printf("%s: %s\n", store ? "store" : "load", err.message);
  CHECK(st == KILN_ERR_INTERNAL);
  CHECK(strstr(err.message, "kernel 'Shift_7' (stage 'shift')") != NULL);
  CHECK(strstr(err.message, store ? "store of buffer 'y'" : "load of buffer 'x'") != NULL);
  CHECK(strstr(err.message, "outside [0, 1000)") != NULL);
  int touched = 0;
  for (int i = 0; i < guard; i++)
    touched += ya[i] != -1.0f || ya[guard + n + i] != -1.0f || xa[i] != -1.0f;
  CHECK(touched == 0);
  kiln_program_free(p);
}

/* Through the public API: checked results equal unchecked ones, up to the summation
 * order (checked loops do not vectorize, and float reductions may reassociate). */
static void demo_checked(void) {
  kiln_model *plain = NULL, *checked = NULL;
  kiln_options o = {.struct_size = sizeof o, .check_bounds = 1};
  kiln_error err;
  CHECK(kiln_compile_file("../examples/demo.onnx", NULL, &plain, &err) == KILN_OK);
  CHECK(kiln_compile_file("../examples/demo.onnx", &o, &checked, &err) == KILN_OK);
  if (!plain || !checked) return;
  float x[28 * 28], a[10], b[10];
  for (int i = 0; i < 28 * 28; i++) x[i] = (float)(i % 17) / 17.0f;
  const void *ins[1] = {x};
  void *oa[1] = {a}, *ob[1] = {b};
  CHECK(kiln_run(plain, ins, oa, &err) == KILN_OK);
  CHECK(kiln_run(checked, ins, ob, &err) == KILN_OK);
  int far = 0;
  for (int i = 0; i < 10; i++) far += !(fabsf(a[i] - b[i]) <= 1e-5f * fmaxf(1.0f, fabsf(a[i])));
  CHECK(far == 0);
  kiln_model_free(plain);
  kiln_model_free(checked);
}

int main(void) {
  in_bounds();
  out_of_bounds(false);
  out_of_bounds(true);
  demo_checked();
  return check_report();
}
