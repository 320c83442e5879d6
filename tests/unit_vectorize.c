/* What LLVM makes of schedules that leave vectorizing to it (codegen/llvm_stage.c's loop
 * hints, passes/schedule.c's parallel loops), for an AVX2 and an AVX-512 CPU: the
 * optimized module must hold float vectors and no gather across rows or points.
 * - A Softmax over rows of 49 (window attention), run row by row: LLVM unrolled each
 *   short row and vectorized the loop over rows around it, gathering across rows.
 * - A SiLU over [1, 128, 32, 32] (coalesced to [1, 131072]): its innermost loop would
 *   run in parallel, and a loop over parallel iterations is not vectorized; it must keep
 *   a serial inner loop.
 * - A Softmax over rows of 93 takes its tail as a masked vector with AVX-512 only.
 * Each model's values are checked too (on this host). */
#include "compiled.h"

#include "codegen/codegen.h"
#include "codegen/plumbing.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kiln_model *compile(const char *text, const char *cpu) {
  kiln_options o = {.struct_size = sizeof o, .num_threads = 1, .cpu = cpu};
  return compiled(text, &o);
}

/* The optimized LLVM IR of m's program for cpu (free with LLVMDisposeMessage). */
static char *module_ir(const kiln_model *m, const char *cpu) {
  kiln_options o = {.struct_size = sizeof o, .cpu = cpu};
  kiln_error err = {0};
  LLVMTargetMachineRef tm = NULL;
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = NULL;
  kiln_status s = kiln_llvm_target_machine(&o, &tm, &err);
  if (!s) s = kiln_llvm_program_module(ctx, kiln_model_program(m), "entry", tm, &mod, &err);
  if (!s) s = kiln_llvm_optimize(mod, tm, &err);
  if (s) fprintf(stderr, "%s: %s\n", cpu, err.message);
  CHECK(s == KILN_OK);
  char *ir = s ? NULL : LLVMPrintModuleToString(mod);
  if (mod) LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  if (tm) LLVMDisposeTargetMachine(tm);
  return ir;
}

static void check_ir(const kiln_model *m, const char *cpu, const char *what) {
  char *ir = module_ir(m, cpu);
  if (!ir) return;
  bool vec = strstr(ir, " x float>") != NULL, gather = strstr(ir, "masked.gather") != NULL;
  if (!vec || gather)
    printf("%s on %s: %s\n", what, cpu ? cpu : "host", !vec ? "not vectorized" : "gathers");
  CHECK(vec && !gather);
  LLVMDisposeMessage(ir);
}

static void softmax_rows(const char *cpu) {
  enum { R = 64 * 49, L = 49 };
  const char *text = "model s(x: f32[64, 49, 49]) {\n  return y = Softmax(x, axis=-1)\n}\n";
  kiln_model *m = compile(text, cpu);
  if (!m) return;
  check_ir(m, cpu, "Softmax over rows of 49");
  static float x[R * L], y[R * L];
  for (int i = 0; i < R * L; i++) x[i] = (float)sin(i * 0.37) * 5;
  kiln_error err;
  const void *ins[1] = {x};
  void *outs[1] = {y};
  bool host = cpu == NULL;
  if (host) CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
  int bad = 0;
  for (int r = 0; host && r < R; r++) {
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < L; j++) mx = fmax(mx, x[r * L + j]);
    for (int j = 0; j < L; j++) sum += exp(x[r * L + j] - mx);
    for (int j = 0; j < L; j++) {
      double want = exp(x[r * L + j] - mx) / sum;
      if (fabs(y[r * L + j] - want) > 1e-6 + 1e-5 * want && bad++ < 3)
        printf("softmax row %d [%d] = %g, want %g\n", r, j, y[r * L + j], want);
    }
  }
  CHECK(bad == 0);
  kiln_model_free(m);
}

static void silu(const char *cpu) {
  enum { N = 128 * 32 * 32 };
  const char *text = "model s(x: f32[1, 128, 32, 32]) {\n  return y = x * Sigmoid(x)\n}\n";
  kiln_model *m = compile(text, cpu);
  if (!m) return;
  const kiln_kernel *ks[4];
  int n = kiln_steps_kernels(&kiln_model_program(m)->main, ks, 4);
  CHECK(n == 1);
  if (n == 1) {
    const kiln_schedule *sc = &ks[0]->stages[0].sched;
    bool serial = sc->nloops > 0 && sc->loops[sc->nloops - 1].kind == KILN_LOOP_SERIAL;
    if (!serial) printf("SiLU on %s: its innermost loop is not serial\n", cpu ? cpu : "host");
    CHECK(serial);
  }
  check_ir(m, cpu, "SiLU over [1, 131072]");
  static float x[N], y[N];
  for (int i = 0; i < N; i++) x[i] = (float)sin(i * 0.11) * 8;
  kiln_error err;
  const void *ins[1] = {x};
  void *outs[1] = {y};
  if (!cpu) {
    CHECK(kiln_run(m, ins, outs, &err) == KILN_OK);
    int bad = 0;
    for (int i = 0; i < N; i++) {
      double want = x[i] / (1 + exp(-(double)x[i]));
      if (fabs(y[i] - want) > 1e-6 + 1e-5 * fabs(want) && bad++ < 3)
        printf("silu(%g) = %g, want %g\n", x[i], y[i], want);
    }
    CHECK(bad == 0);
  }
  kiln_model_free(m);
}

/* Rows of 93 (5 vectors of AVX-512, the last 13/16 full): with AVX-512 the tail is one
 * masked vector, not a scalar loop of 13 (with its exp); AVX2 keeps LLVM's scalar tail. */
static void masked_tail(const char *cpu, bool masked) {
  const char *text = "model s(x: f32[512, 93]) {\n  return y = Softmax(x, axis=-1)\n}\n";
  kiln_model *m = compile(text, cpu);
  if (!m) return;
  char *ir = module_ir(m, cpu);
  if (ir) {
    bool got = strstr(ir, "llvm.masked.load") != NULL;
    if (got != masked) printf("Softmax over rows of 93 on %s: masked loads %d, want %d\n", cpu, got, masked);
    CHECK(got == masked);
    LLVMDisposeMessage(ir);
  }
  kiln_model_free(m);
}

int main(void) {
  softmax_rows(NULL);
  silu(NULL);
#if defined(__x86_64__)
  const char *cpus[] = {"x86-64-v3", "x86-64-v4"};
  for (int i = 0; i < 2; i++) {
    softmax_rows(cpus[i]);
    silu(cpus[i]);
    masked_tail(cpus[i], i == 1);
  }
#endif
  return check_report();
}
