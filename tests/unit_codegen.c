/* Kernel IR -> LLVM IR -> JIT: hand-built programs run and compared with plain C. */
#include "codegen/codegen.h"
#include "ir/dtype.h"
#include "ir/interp.h"

#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static kiln_program *new_program(int nin, int nout, int64_t arena) {
  kiln_program *p = kiln_program_new();
  p->ninputs = nin;
  p->noutputs = nout;
  p->inputs = kiln_xcalloc((size_t)(nin ? nin : 1), sizeof(kiln_io));
  p->outputs = kiln_xcalloc((size_t)(nout ? nout : 1), sizeof(kiln_io));
  p->arena_bytes = arena;
  return p;
}

static kiln_kernel *add_kernel(kiln_steps *steps, const char *name) {
  kiln_step *s = kiln_steps_add(steps, KILN_STEP_KERNEL);
  s->kernel = kiln_kernel_new(name);
  return s->kernel;
}

/* a buffer with its storage: kind INPUT/OUTPUT/CONST take an index, ARENA an offset */
static int buf(kiln_kernel *k, const char *name, kiln_dtype t, int rank, const int64_t *dims,
               kiln_storage_kind kind, int64_t where) {
  int b = kiln_kernel_add_buffer(k, name, kind == KILN_STORE_OUTPUT ? KILN_BUF_OUTPUT : KILN_BUF_INPUT,
                                 0, t, rank, dims);
  k->bufs[b].storage.kind = kind;
  if (kind == KILN_STORE_ARENA) k->bufs[b].storage.offset = where;
  else k->bufs[b].storage.index = (int)where;
  return b;
}

static kiln_entry_fn compile(kiln_program *p, kiln_jit **jit) {
  kiln_error err = {0};
  kiln_entry_fn fn = NULL;
  kiln_status st = kiln_jit_compile(p, NULL, jit, &fn, &err);
  if (st) fprintf(stderr, "compile failed: %s\n", err.message);
  CHECK(st == KILN_OK && fn);
  return st ? NULL : fn;
}

/* out[i,j] = a[i,j] + b[j] */
static void test_broadcast_add(void) {
  kiln_program *p = new_program(2, 1, 0);
  kiln_kernel *k = add_kernel(&p->main, "add");
  int64_t d2[2] = {3, 4}, d1[1] = {4};
  int a = buf(k, "a", KILN_F32, 2, d2, KILN_STORE_INPUT, 0);
  int b = buf(k, "b", KILN_F32, 1, d1, KILN_STORE_INPUT, 1);
  int c = buf(k, "c", KILN_F32, 2, d2, KILN_STORE_OUTPUT, 0);
  kiln_stage *s = kiln_kernel_add_stage(k, "add", c);
  int i = kiln_stage_axis(s, 3, false), j = kiln_stage_axis(s, 4, false);
  kiln_expr *ij[2] = {kx_var(k, i), kx_var(k, j)}, *jj[1] = {kx_var(k, j)};
  kiln_stage_store(k, s, ij, kx_binary(k, KB_ADD, kx_load(k, a, ij), kx_load(k, b, jj)));
  kiln_jit *jit;
  kiln_entry_fn fn = compile(p, &jit);
  if (fn) {
    float A[12], B[4], C[12];
    for (int x = 0; x < 12; x++) A[x] = (float)x * 0.5f;
    for (int x = 0; x < 4; x++) B[x] = (float)x * 10;
    const void *in[2] = {A, B};
    void *out[1] = {C};
    fn((void *const *)in, out, NULL, NULL);
    int bad = 0;
    for (int x = 0; x < 12; x++) bad += C[x] != A[x] + B[x % 4];
    CHECK(bad == 0);
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
}

/* y[i] = mean_j x[i,j] (register accumulator), m[i] = max_j x[i,j] with a NaN row,
 * total = sum of everything into a rank-0 output (zero spatial axes) */
static void test_reductions(void) {
  enum { R = 5, C = 7 };
  kiln_program *p = new_program(1, 3, 0);
  kiln_kernel *k = add_kernel(&p->main, "red");
  int64_t d2[2] = {R, C}, d1[1] = {R};
  int x = buf(k, "x", KILN_F32, 2, d2, KILN_STORE_INPUT, 0);
  int y = buf(k, "y", KILN_F32, 1, d1, KILN_STORE_OUTPUT, 0);
  int m = buf(k, "m", KILN_F32, 1, d1, KILN_STORE_OUTPUT, 1);
  int t = buf(k, "t", KILN_F32, 0, NULL, KILN_STORE_OUTPUT, 2);
  for (int which = 0; which < 2; which++) {
    kiln_stage *s = kiln_kernel_add_stage(k, which ? "max" : "mean", which ? m : y);
    int i = kiln_stage_axis(s, R, false), j = kiln_stage_axis(s, C, true);
    kiln_expr *ij[2] = {kx_var(k, i), kx_var(k, j)}, *ii[1] = {kx_var(k, i)};
    kiln_stage_store(k, s, ii, kx_load(k, x, ij));
    s->reduce = which ? KR_MAX : KR_SUM;
    if (!which) s->post = kx_binary(k, KB_DIV, kx_acc(k, KILN_F32), kx_const_f(k, KILN_F32, C));
  }
  kiln_stage *s = kiln_kernel_add_stage(k, "total", t);
  int i = kiln_stage_axis(s, R, true), j = kiln_stage_axis(s, C, true);
  kiln_expr *ij[2] = {kx_var(k, i), kx_var(k, j)};
  kiln_stage_store(k, s, NULL, kx_load(k, x, ij));
  s->reduce = KR_SUM;
  s->init = kx_const_f(k, KILN_F32, 100);
  kiln_jit *jit;
  kiln_entry_fn fn = compile(p, &jit);
  if (fn) {
    float X[R * C], Y[R], M[R], T = 0;
    for (int v = 0; v < R * C; v++) X[v] = (float)((v * 7) % 11) - 5; /* exact sums */
    X[2 * C + 3] = NAN;
    const void *in[1] = {X};
    void *out[3] = {Y, M, &T};
    fn((void *const *)in, out, NULL, NULL);
    float tot = 100;
    for (int r = 0; r < R; r++) {
      float sum = 0, mx = -INFINITY;
      for (int c = 0; c < C; c++) {
        float v = X[r * C + c];
        sum += v;
        mx = isnan(v) || isnan(mx) ? NAN : fmaxf(mx, v);
        tot += v;
      }
      if (r == 2) {
        CHECK(isnan(Y[r]) && isnan(M[r]));
      } else {
        CHECK(Y[r] == sum / C);
        CHECK(M[r] == mx);
      }
    }
    CHECK(isnan(T) && isnan(tot));
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
}

/* y[i,j] = 2*x[i,j] - 1 with i split 16 (parallel, inexact), j split 8 (vector, inexact);
 * r[i] = sum_j x[i,j] with a parallel spatial loop and a vector reduction loop */
static void test_parallel_vector(void) {
  enum { R = 100, C = 37 };
  kiln_program *p = new_program(1, 2, 0);
  kiln_kernel *k = add_kernel(&p->main, "pv");
  int64_t d2[2] = {R, C}, d1[1] = {R};
  int x = buf(k, "x", KILN_F32, 2, d2, KILN_STORE_INPUT, 0);
  int y = buf(k, "y", KILN_F32, 2, d2, KILN_STORE_OUTPUT, 0);
  int r = buf(k, "r", KILN_F32, 1, d1, KILN_STORE_OUTPUT, 1);
  kiln_stage *s = kiln_kernel_add_stage(k, "affine", y);
  int i = kiln_stage_axis(s, R, false), j = kiln_stage_axis(s, C, false);
  kiln_expr *ij[2] = {kx_var(k, i), kx_var(k, j)};
  kiln_stage_store(k, s, ij, kx_binary(k, KB_SUB, kx_binary(k, KB_MUL, kx_load(k, x, ij),
                                                            kx_const_f(k, KILN_F32, 2)),
                                       kx_const_f(k, KILN_F32, 1)));
  s->sched.nloops = 4;
  s->sched.loops[0] = (kiln_loop){i, 16, 7, KILN_LOOP_PARALLEL};
  s->sched.loops[1] = (kiln_loop){j, 8, 5, KILN_LOOP_SERIAL};
  s->sched.loops[2] = (kiln_loop){i, 1, 16, KILN_LOOP_UNROLL};
  s->sched.loops[3] = (kiln_loop){j, 1, 8, KILN_LOOP_VECTOR};
  CHECK(kiln_schedule_check(s, NULL) == KILN_OK);

  s = kiln_kernel_add_stage(k, "rowsum", r);
  i = kiln_stage_axis(s, R, false);
  j = kiln_stage_axis(s, C, true);
  kiln_expr *ij2[2] = {kx_var(k, i), kx_var(k, j)}, *ii[1] = {kx_var(k, i)};
  kiln_stage_store(k, s, ii, kx_load(k, x, ij2));
  s->reduce = KR_SUM;
  s->sched.nloops = 4;
  s->sched.loops[0] = (kiln_loop){i, 10, 10, KILN_LOOP_PARALLEL};
  s->sched.loops[1] = (kiln_loop){i, 1, 10, KILN_LOOP_PARALLEL};
  s->sched.loops[2] = (kiln_loop){j, 8, 5, KILN_LOOP_SERIAL};
  s->sched.loops[3] = (kiln_loop){j, 1, 8, KILN_LOOP_VECTOR};
  /* z[i,j] = x[i,j] + 1 with i split three ways, overshooting by more than a block */
  int z = buf(k, "z", KILN_F32, 2, d2, KILN_STORE_OUTPUT, 2);
  p->noutputs = 3;
  p->outputs = kiln_xrealloc(p->outputs, 3 * sizeof(kiln_io));
  memset(&p->outputs[2], 0, sizeof(kiln_io));
  s = kiln_kernel_add_stage(k, "split3", z);
  i = kiln_stage_axis(s, R, false);
  j = kiln_stage_axis(s, C, false);
  kiln_expr *ij3[2] = {kx_var(k, i), kx_var(k, j)};
  kiln_stage_store(k, s, ij3, kx_binary(k, KB_ADD, kx_load(k, x, ij3), kx_const_f(k, KILN_F32, 1)));
  s->sched.nloops = 4;
  s->sched.loops[0] = (kiln_loop){i, 64, 2, KILN_LOOP_SERIAL};
  s->sched.loops[1] = (kiln_loop){i, 16, 4, KILN_LOOP_SERIAL};
  s->sched.loops[2] = (kiln_loop){j, 1, C, KILN_LOOP_SERIAL};
  s->sched.loops[3] = (kiln_loop){i, 1, 16, KILN_LOOP_SERIAL};
  CHECK(kiln_schedule_check(s, NULL) == KILN_OK);
  kiln_jit *jit;
  kiln_entry_fn fn = compile(p, &jit);
  if (fn) {
    static float X[R * C], Y[R * C + 64], Rs[R + 8], Z[R * C + 64];
    for (int v = 0; v < R * C + 64; v++) Z[v] = -7;
    for (int v = 0; v < R * C; v++) X[v] = (float)(v % 13);
    for (int v = 0; v < R * C + 64; v++) Y[v] = -7;
    for (int v = 0; v < R + 8; v++) Rs[v] = -7;
    const void *in[1] = {X};
    void *out[3] = {Y, Rs, Z};
    fn((void *const *)in, out, NULL, NULL);
    int bad = 0;
    for (int v = 0; v < R * C; v++) bad += Z[v] != X[v] + 1;
    for (int v = R * C; v < R * C + 64; v++) bad += Z[v] != -7;
    for (int v = 0; v < R * C; v++) bad += Y[v] != 2 * X[v] - 1;
    for (int v = R * C; v < R * C + 64; v++) bad += Y[v] != -7; /* guards held */
    for (int a = 0; a < R; a++) {
      float sum = 0;
      for (int c = 0; c < C; c++) sum += X[a * C + c];
      bad += Rs[a] != sum;
    }
    for (int v = R; v < R + 8; v++) bad += Rs[v] != -7;
    CHECK(bad == 0);
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
}

/* c[i,j] = 1 + sum_k a[i,k] b[k,j], with k outside j (accumulates in c), parallel over i;
 * and the same with k split inexactly, serial, and an init value. */
static void test_memory_accumulate(void) {
  enum { M = 13, N = 19, K = 11 };
  kiln_program *p = new_program(2, 2, 0);
  kiln_kernel *k = add_kernel(&p->main, "gemm");
  int64_t da[2] = {M, K}, db[2] = {K, N}, dc[2] = {M, N};
  int a = buf(k, "a", KILN_F32, 2, da, KILN_STORE_INPUT, 0);
  int b = buf(k, "b", KILN_F32, 2, db, KILN_STORE_INPUT, 1);
  for (int v = 0; v < 2; v++) {
    int c = buf(k, v ? "c2" : "c", KILN_F32, 2, dc, KILN_STORE_OUTPUT, v);
    kiln_stage *s = kiln_kernel_add_stage(k, "mm", c);
    int i = kiln_stage_axis(s, M, false), j = kiln_stage_axis(s, N, false);
    int kk = kiln_stage_axis(s, K, true);
    kiln_expr *ik[2] = {kx_var(k, i), kx_var(k, kk)}, *kj[2] = {kx_var(k, kk), kx_var(k, j)};
    kiln_expr *ij[2] = {kx_var(k, i), kx_var(k, j)};
    kiln_stage_store(k, s, ij, kx_binary(k, KB_MUL, kx_load(k, a, ik), kx_load(k, b, kj)));
    s->reduce = KR_SUM;
    if (!v) {
      s->post = kx_binary(k, KB_ADD, kx_acc(k, KILN_F32), kx_const_f(k, KILN_F32, 1));
      s->sched.nloops = 3;
      s->sched.loops[0] = (kiln_loop){i, 1, M, KILN_LOOP_PARALLEL};
      s->sched.loops[1] = (kiln_loop){kk, 1, K, KILN_LOOP_SERIAL};
      s->sched.loops[2] = (kiln_loop){j, 1, N, KILN_LOOP_VECTOR};
    } else {
      s->init = kx_const_f(k, KILN_F32, 1);
      s->sched.nloops = 4;
      s->sched.loops[0] = (kiln_loop){kk, 4, 3, KILN_LOOP_SERIAL};
      s->sched.loops[1] = (kiln_loop){i, 1, M, KILN_LOOP_SERIAL};
      s->sched.loops[2] = (kiln_loop){kk, 1, 4, KILN_LOOP_SERIAL};
      s->sched.loops[3] = (kiln_loop){j, 1, N, KILN_LOOP_SERIAL};
    }
  }
  kiln_jit *jit;
  kiln_entry_fn fn = compile(p, &jit);
  if (fn) {
    float A[M * K], B[K * N], C1[M * N], C2[M * N];
    for (int v = 0; v < M * K; v++) A[v] = (float)(v % 5) - 2;
    for (int v = 0; v < K * N; v++) B[v] = (float)(v % 7) - 3;
    const void *in[2] = {A, B};
    void *out[2] = {C1, C2};
    fn((void *const *)in, out, NULL, NULL);
    int bad = 0;
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        float acc = 1;
        for (int q = 0; q < K; q++) acc += A[i * K + q] * B[q * N + j];
        bad += C1[i * N + j] != acc || C2[i * N + j] != acc;
      }
    CHECK(bad == 0);
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
}

/* y[i] = 2 <= i < N+2 ? x[i-2] : -1 for i < N+4; x ends right before a PROT_NONE page, so
 * evaluating the untaken load would fault. */
static void test_select_oob(void) {
  enum { N = 10 };
  kiln_program *p = new_program(1, 1, 0);
  kiln_kernel *k = add_kernel(&p->main, "pad");
  int64_t dx[1] = {N}, dy[1] = {N + 4};
  int x = buf(k, "x", KILN_F32, 1, dx, KILN_STORE_INPUT, 0);
  int y = buf(k, "y", KILN_F32, 1, dy, KILN_STORE_OUTPUT, 0);
  kiln_stage *s = kiln_kernel_add_stage(k, "pad", y);
  int i = kiln_stage_axis(s, N + 4, false);
  kiln_expr *src = kx_addi(k, kx_var(k, i), -2), *xi[1] = {src}, *yi[1] = {kx_var(k, i)};
  kiln_stage_store(k, s, yi, kx_select(k, kx_in_range(k, src, N), kx_load(k, x, xi),
                                       kx_const_f(k, KILN_F32, -1)));
  kiln_jit *jit;
  kiln_entry_fn fn = compile(p, &jit);
  long pg = sysconf(_SC_PAGESIZE);
  char *mem = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fn && mem != MAP_FAILED && mprotect(mem + pg, (size_t)pg, PROT_NONE) == 0) {
    float *X = (float *)(mem + pg) - N, Y[N + 4];
    for (int v = 0; v < N; v++) X[v] = (float)v + 0.5f;
    const void *in[1] = {X};
    void *out[1] = {Y};
    fn((void *const *)in, out, NULL, NULL);
    int bad = 0;
    for (int v = 0; v < N + 4; v++) bad += Y[v] != (v >= 2 && v < N + 2 ? X[v - 2] : -1);
    CHECK(bad == 0);
  }
  if (mem != MAP_FAILED) munmap(mem, (size_t)(2 * pg));
  kiln_jit_free(jit);
  kiln_program_free(p);
}


/* ---- casts -------------------------------------------------------------------------------- */

enum { NC = 16 };
static kiln_expr *ld1(kiln_kernel *k, int b) {
  kiln_expr *i = kx_var(k, 0);
  return kx_load(k, b, &i);
}
static void stage1(kiln_kernel *k, int out, kiln_expr *v) {
  kiln_stage *s = kiln_kernel_add_stage(k, "s", out);
  kiln_stage_axis(s, NC, false);
  kiln_expr *i = kx_var(k, 0);
  kiln_stage_store(k, s, &i, v);
}

static bool same_f32(float a, float b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, 4) == 0; }

static void test_casts(void) {
  kiln_program *p = new_program(7, 17, 0);
  kiln_kernel *k = add_kernel(&p->main, "casts");
  int64_t d[1] = {NC};
  int x = buf(k, "x", KILN_F32, 1, d, KILN_STORE_INPUT, 0);
  int y = buf(k, "y", KILN_F32, 1, d, KILN_STORE_INPUT, 1);
  int dd = buf(k, "d", KILN_F64, 1, d, KILN_STORE_INPUT, 2);
  int h = buf(k, "h", KILN_F16, 1, d, KILN_STORE_INPUT, 3);
  int i8 = buf(k, "i8", KILN_I8, 1, d, KILN_STORE_INPUT, 4);
  int u8 = buf(k, "u8", KILN_U8, 1, d, KILN_STORE_INPUT, 5);
  int i64 = buf(k, "i64", KILN_I64, 1, d, KILN_STORE_INPUT, 6);
  static const kiln_dtype ot[17] = {KILN_F16, KILN_BF16, KILN_F32, KILN_F32, KILN_I8, KILN_U8,
                                    KILN_I64, KILN_BOOL, KILN_F64, KILN_F32, KILN_F32, KILN_I64,
                                    KILN_I64, KILN_U8, KILN_F32, KILN_F16, KILN_F32};
  int o[17];
  for (int v = 0; v < 17; v++) o[v] = buf(k, "o", ot[v], 1, d, KILN_STORE_OUTPUT, v);
  stage1(k, o[0], kx_cast(k, ld1(k, x), KILN_F16));
  stage1(k, o[1], kx_cast(k, ld1(k, x), KILN_BF16));
  stage1(k, o[2], kx_cast(k, kx_cast(k, ld1(k, x), KILN_F16), KILN_F32));
  stage1(k, o[3], kx_cast(k, kx_cast(k, ld1(k, x), KILN_BF16), KILN_F32));
  stage1(k, o[4], kx_cast(k, ld1(k, y), KILN_I8));
  stage1(k, o[5], kx_cast(k, ld1(k, y), KILN_U8));
  stage1(k, o[6], kx_cast(k, ld1(k, y), KILN_I64));
  stage1(k, o[7], kx_cast(k, ld1(k, x), KILN_BOOL));
  stage1(k, o[8], kx_cast(k, ld1(k, x), KILN_F64));
  stage1(k, o[9], kx_cast(k, ld1(k, dd), KILN_F32));
  stage1(k, o[10], kx_cast(k, ld1(k, h), KILN_F32));
  stage1(k, o[11], kx_cast(k, ld1(k, i8), KILN_I64));
  stage1(k, o[12], kx_cast(k, ld1(k, u8), KILN_I64));
  stage1(k, o[13], kx_cast(k, ld1(k, i64), KILN_U8));
  stage1(k, o[14], kx_cast(k, kx_cast(k, ld1(k, x), KILN_BOOL), KILN_F32));
  stage1(k, o[15], kx_cast(k, ld1(k, dd), KILN_F16));
  stage1(k, o[16], kx_cast(k, ld1(k, i64), KILN_F32));
  kiln_jit *jit;
  kiln_entry_fn fn = compile(p, &jit);
  if (fn) {
    float X[NC] = {1.0f, -2.5f, 3.7f, 65519.0f, 65520.0f, 1e-8f, NAN, 0.333333f, -0.0f, 300.7f,
                   -129.9f, 1.00048828125f, 1.00390625f, 1.01171875f, INFINITY, -INFINITY};
    float Y[NC] = {1.0f, -2.5f, 3.7f, 200.0f, 255.9f, 1e-8f, 0.0f, -0.0f, 300.7f, -129.9f, -1.0f,
                   127.99f, 1e9f, 65535.5f, -2e9f, 0.5f};
    double D[NC];
    uint16_t H[NC];
    int8_t I8[NC];
    uint8_t U8[NC];
    int64_t I64[NC];
    for (int v = 0; v < NC; v++) {
      D[v] = (double)X[v] * 1.25;
      H[v] = (uint16_t)(v * 4099 + 7);
      I8[v] = (int8_t)(v * 37 - 300);
      U8[v] = (uint8_t)(v * 37 + 5);
      I64[v] = (int64_t)v * 1000003 - 7000000;
    }
    uint16_t o0[NC], o1[NC], o15[NC];
    float o2[NC], o3[NC], o9[NC], o10[NC], o14[NC], o16[NC];
    int8_t o4[NC];
    uint8_t o5[NC], o7[NC], o13[NC];
    int64_t o6[NC], o11[NC], o12[NC];
    double o8[NC];
    const void *in[7] = {X, Y, D, H, I8, U8, I64};
    void *out[17] = {o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15, o16};
    fn((void *const *)in, out, NULL, NULL);
    int bad[17] = {0};
    for (int v = 0; v < NC; v++) {
      bad[0] += o0[v] != kiln_f32_to_f16(X[v]);
      bad[1] += o1[v] != kiln_f32_to_bf16(X[v]);
      bad[2] += !same_f32(o2[v], kiln_f16_to_f32(kiln_f32_to_f16(X[v])));
      bad[3] += !same_f32(o3[v], kiln_bf16_to_f32(kiln_f32_to_bf16(X[v])));
      bad[4] += o4[v] != (int8_t)(int32_t)Y[v];
      bad[5] += o5[v] != (uint8_t)(int32_t)Y[v];
      bad[6] += o6[v] != (int64_t)Y[v];
      bad[7] += o7[v] != (X[v] != 0);
      bad[8] += !(o8[v] == (double)X[v] || (isnan(o8[v]) && isnan(X[v])));
      bad[9] += !same_f32(o9[v], (float)D[v]);
      bad[10] += !same_f32(o10[v], kiln_f16_to_f32(H[v]));
      bad[11] += o11[v] != I8[v];
      bad[12] += o12[v] != U8[v];
      bad[13] += o13[v] != (uint8_t)I64[v];
      bad[14] += o14[v] != (float)(X[v] != 0);
      bad[15] += o15[v] != kiln_f32_to_f16((float)D[v]);
      bad[16] += o16[v] != (float)I64[v];
    }
    for (int v = 0; v < 17; v++) {
      if (bad[v]) fprintf(stderr, "cast output %d: %d wrong\n", v, bad[v]);
      CHECK(bad[v] == 0);
    }
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
}

/* ---- integer and float operators ---------------------------------------------------------- */

static void test_int_ops(void) {
  kiln_program *p = new_program(3, 18, 0);
  kiln_kernel *k = add_kernel(&p->main, "ops");
  int64_t d[1] = {NC};
  int a = buf(k, "a", KILN_I32, 1, d, KILN_STORE_INPUT, 0);
  int b = buf(k, "b", KILN_I32, 1, d, KILN_STORE_INPUT, 1);
  int ua = buf(k, "ua", KILN_U32, 1, d, KILN_STORE_INPUT, 0);
  int ub = buf(k, "ub", KILN_U32, 1, d, KILN_STORE_INPUT, 1);
  int f = buf(k, "f", KILN_F32, 1, d, KILN_STORE_INPUT, 2);
  static const kiln_dtype ot[18] = {KILN_I32, KILN_I32, KILN_U32, KILN_U32, KILN_I32, KILN_U32,
                                    KILN_I32, KILN_U32, KILN_BOOL, KILN_BOOL, KILN_F32, KILN_F32,
                                    KILN_F32, KILN_F32, KILN_F32, KILN_BOOL, KILN_F32, KILN_I32};
  int o[18];
  for (int v = 0; v < 18; v++) o[v] = buf(k, "o", ot[v], 1, d, KILN_STORE_OUTPUT, v);
  stage1(k, o[0], kx_binary(k, KB_DIV, ld1(k, a), ld1(k, b)));
  stage1(k, o[1], kx_binary(k, KB_MOD, ld1(k, a), ld1(k, b)));
  stage1(k, o[2], kx_binary(k, KB_DIV, ld1(k, ua), ld1(k, ub)));
  stage1(k, o[3], kx_binary(k, KB_MOD, ld1(k, ua), ld1(k, ub)));
  stage1(k, o[4], kx_binary(k, KB_SHR, ld1(k, a), kx_const_i(k, KILN_I32, 3)));
  stage1(k, o[5], kx_binary(k, KB_SHR, ld1(k, ua), kx_const_i(k, KILN_U32, 3)));
  stage1(k, o[6], kx_binary(k, KB_MIN, ld1(k, a), ld1(k, b)));
  stage1(k, o[7], kx_binary(k, KB_MIN, ld1(k, ua), ld1(k, ub)));
  stage1(k, o[8], kx_binary(k, KB_LT, ld1(k, a), ld1(k, b)));
  stage1(k, o[9], kx_unary(k, KU_NOT, kx_binary(k, KB_LT, ld1(k, ua), ld1(k, ub))));
  stage1(k, o[10], kx_binary(k, KB_MOD, ld1(k, f), kx_const_f(k, KILN_F32, 2)));
  stage1(k, o[11], kx_unary(k, KU_ROUND, ld1(k, f)));
  stage1(k, o[12], kx_binary(k, KB_MAX, ld1(k, f), kx_const_f(k, KILN_F32, 0)));
  stage1(k, o[13], kx_unary(k, KU_TANH, ld1(k, f)));
  stage1(k, o[14], kx_unary(k, KU_SIGMOID, ld1(k, f)));
  stage1(k, o[15], kx_unary(k, KU_ISNAN, ld1(k, f)));
  stage1(k, o[16], kx_unary(k, KU_ERF, ld1(k, f)));
  stage1(k, o[17], kx_binary(k, KB_POW, kx_binary(k, KB_MOD, ld1(k, a), kx_const_i(k, KILN_I32, 5)),
                             kx_const_i(k, KILN_I32, 3)));
  kiln_jit *jit;
  kiln_entry_fn fn = compile(p, &jit);
  if (fn) {
    int32_t A[NC] = {7, -7, 7, -7, 100, -100, INT32_MIN + 1, 5, 0, 1, -1, 123456789, -3, 9, 64, -64};
    int32_t B[NC] = {2, 2, -2, -2, 7, 7, 3, -1, 5, -5, 3, 1000, 4, -9, 7, 9};
    float F[NC] = {-7.5f, 2.5f, -0.5f, 3.5f, NAN, 0.0f, -3.0f, 1.25f, 10.0f, -10.0f, 0.1f, -2.5f,
                   5.5f, 1e-3f, -1e-3f, 0.75f};
    int32_t o0[NC], o1[NC], o4[NC], o6[NC], o17[NC];
    uint32_t o2[NC], o3[NC], o5[NC], o7[NC];
    uint8_t o8[NC], o9[NC], o15[NC];
    float o10[NC], o11[NC], o12[NC], o13[NC], o14[NC], o16[NC];
    const void *in[3] = {A, B, F};
    void *out[18] = {o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15, o16, o17};
    fn((void *const *)in, out, NULL, NULL);
    int bad[18] = {0};
    for (int v = 0; v < NC; v++) {
      uint32_t ua = (uint32_t)A[v], ub = (uint32_t)B[v];
      bad[0] += o0[v] != A[v] / B[v];
      bad[1] += o1[v] != A[v] % B[v];
      bad[2] += o2[v] != ua / ub;
      bad[3] += o3[v] != ua % ub;
      bad[4] += o4[v] != A[v] >> 3;
      bad[5] += o5[v] != ua >> 3;
      bad[6] += o6[v] != (A[v] < B[v] ? A[v] : B[v]);
      bad[7] += o7[v] != (ua < ub ? ua : ub);
      bad[8] += o8[v] != (A[v] < B[v]);
      bad[9] += o9[v] != !(ua < ub);
      bad[10] += !same_f32(o10[v], fmodf(F[v], 2));
      bad[11] += !same_f32(o11[v], nearbyintf(F[v]));
      bad[12] += !same_f32(o12[v], isnan(F[v]) ? NAN : fmaxf(F[v], 0));
      bad[13] += !(fabsf(o13[v] - tanhf(F[v])) <= 1e-6f || (isnan(o13[v]) && isnan(F[v])));
      bad[14] += !(fabsf(o14[v] - 1 / (1 + expf(-F[v]))) <= 1e-6f || (isnan(o14[v]) && isnan(F[v])));
      bad[15] += o15[v] != (isnan(F[v]) != 0);
      bad[16] += !(fabsf(o16[v] - erff(F[v])) <= 1e-6f || (isnan(o16[v]) && isnan(F[v])));
      int32_t m = A[v] % 5;
      bad[17] += o17[v] != m * m * m;
    }
    for (int v = 0; v < 18; v++) {
      if (bad[v]) fprintf(stderr, "op output %d: %d wrong\n", v, bad[v]);
      CHECK(bad[v] == 0);
    }
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
}

/* ---- steps: If, arena temporaries, constants ---------------------------------------------- */

static kiln_kernel *affine_kernel(kiln_steps *steps, int in_kind, int64_t in_where, int in2_kind,
                                  int64_t in2_where, int out_kind, int64_t out_where, kiln_binary_op op) {
  kiln_kernel *k = add_kernel(steps, "aff");
  int64_t d[1] = {8};
  int a = buf(k, "a", KILN_F32, 1, d, (kiln_storage_kind)in_kind, in_where);
  int b = in2_kind ? buf(k, "b", KILN_F32, 1, d, (kiln_storage_kind)in2_kind, in2_where) : -1;
  int o = buf(k, "o", KILN_F32, 1, d, (kiln_storage_kind)out_kind, out_where);
  kiln_stage *s = kiln_kernel_add_stage(k, "s", o);
  kiln_stage_axis(s, 8, false);
  kiln_expr *i = kx_var(k, 0);
  kiln_expr *rhs = b >= 0 ? kx_load(k, b, &i) : kx_const_f(k, KILN_F32, 1);
  kiln_stage_store(k, s, &i, kx_binary(k, op, kx_load(k, a, &i), rhs));
  return k;
}

static void test_if_arena_const(void) {
  kiln_program *p = new_program(2, 1, 128);
  p->nconsts = 1;
  p->consts = kiln_xcalloc(1, sizeof(kiln_const));
  float *cd = aligned_alloc(64, 64);
  for (int v = 0; v < 8; v++) cd[v] = (float)v - 3;
  p->consts[0] = (kiln_const){KILN_F32, 32, cd};
  affine_kernel(&p->main, KILN_STORE_INPUT, 1, KILN_STORE_CONST, 0, KILN_STORE_ARENA, 64, KB_MUL);
  kiln_step *st = kiln_steps_add(&p->main, KILN_STEP_IF);
  st->cond = (kiln_storage){KILN_STORE_INPUT, 0, 0};
  st->then_steps = kiln_steps_new();
  st->else_steps = kiln_steps_new();
  affine_kernel(st->then_steps, KILN_STORE_ARENA, 64, 0, 0, KILN_STORE_OUTPUT, 0, KB_ADD);
  affine_kernel(st->else_steps, KILN_STORE_ARENA, 64, 0, 0, KILN_STORE_OUTPUT, 0, KB_SUB);
  kiln_jit *jit;
  kiln_entry_fn fn = compile(p, &jit);
  if (fn) {
    float X[8], Y[8];
    _Alignas(64) uint8_t arena[128];
    for (int v = 0; v < 8; v++) X[v] = (float)v * 0.5f;
    for (uint8_t c = 0; c < 2; c++) {
      const void *in[2] = {&c, X};
      void *out[1] = {Y};
      const void *consts[1] = {cd};
      fn((void *const *)in, out, arena, (const void *const *)consts);
      int bad = 0;
      for (int v = 0; v < 8; v++) bad += Y[v] != X[v] * cd[v] + (c ? 1.0f : -1.0f);
      CHECK(bad == 0);
    }
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
}

/* ---- malformed IR is an error, not a crash ------------------------------------------------ */

/* compiles p (emission fails before any code runs) and frees it */
static kiln_status emit_only(kiln_program *p) {
  kiln_error err = {0};
  kiln_jit *jit = NULL;
  kiln_entry_fn fn;
  kiln_status st = kiln_jit_compile(p, NULL, &jit, &fn, &err);
  kiln_jit_free(jit);
  kiln_program_free(p);
  return st;
}

static void test_invalid_ir(void) {
  for (int variant = 0; variant < 5; variant++) {
    kiln_program *p = new_program(1, 1, 0);
    kiln_kernel *k = add_kernel(&p->main, "bad");
    int64_t d[1] = {4};
    int a = buf(k, "a", KILN_F32, 1, d, KILN_STORE_INPUT, 0);
    int o = buf(k, "o", KILN_F32, 1, d, KILN_STORE_OUTPUT, variant == 4 ? 3 : 0);
    kiln_stage *s = kiln_kernel_add_stage(k, "s", o);
    kiln_stage_axis(s, 4, false);
    kiln_expr *i = kx_var(k, 0), *v = kx_load(k, a, &i);
    if (variant == 0) v = kx_binary(k, KB_ADD, v, kx_const_i(k, KILN_I32, 1)); /* mixed types */
    if (variant == 1) v = kx_cast(k, kx_var(k, 5), KILN_F32);                 /* no such axis */
    kiln_stage_store(k, s, &i, v);
    if (variant == 2) v->kind = (kiln_expr_kind)99;
    if (variant == 3) s->sched.loops[0].extent = 2; /* does not cover the axis */
    CHECK(emit_only(p) == KILN_ERR_INTERNAL);
  }
  /* and a well-formed one verifies */
  kiln_program *p = new_program(1, 1, 0);
  affine_kernel(&p->main, KILN_STORE_INPUT, 0, 0, 0, KILN_STORE_OUTPUT, 0, KB_ADD);
  CHECK(emit_only(p) == KILN_OK);
}

/* ---- register tiles: random MatMul-like stages with the spatial loops inside the reduction
 * unrolled/vector (llvm_stage.c's register-tile mode), against the reference interpreter.
 * Data are small integers, so every sum is exact whatever the order. */

static uint32_t tile_rng = 12345;
static int64_t rnd(int64_t lo, int64_t hi) { /* in [lo, hi] */
  tile_rng = tile_rng * 1664525u + 1013904223u;
  return lo + (int64_t)((tile_rng >> 8) % (uint32_t)(hi - lo + 1));
}

static void fill_ints(void *p, kiln_dtype t, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float v = (float)rnd(-3, 3);
    if (t == KILN_F32) ((float *)p)[i] = v;
    else ((uint16_t *)p)[i] = t == KILN_F16 ? kiln_f32_to_f16(v) : kiln_f32_to_bf16(v);
  }
}

/* c[b,m,n] = post(init + sum_k A[b,m,k] * B[(b),k,n]) with a random tile schedule */
static void register_tile_case(int trial) {
  static const kiln_dtype types[3] = {KILN_F32, KILN_F16, KILN_BF16};
  bool spill = trial % 10 == 9; /* a tile over the limit: the memory path */
  kiln_dtype tin = spill ? KILN_F32 : types[rnd(0, 2)], tacc = KILN_F32;
  kiln_dtype tout = tin == KILN_F32 || rnd(0, 1) ? tin : KILN_F32;
  int64_t NB = rnd(1, 3), M = rnd(1, 20), N = rnd(1, 40), K = rnd(1, 20);
  int64_t mr = spill ? 16 : rnd(1, 8), nr = spill ? 20 : rnd(1, 20), kf = rnd(0, 6);
  bool batched_b = rnd(0, 1), init = rnd(0, 1), post = rnd(0, 1);
  bool vector = rnd(0, 1), m_inside_k = rnd(0, 1), par = rnd(0, 1), n_first = rnd(0, 1);
  /* a second reduction axis (k2, as a Conv's window beside its channels) whose loop sits
   * outside the n loop: the tile keeps partial sums in the output between its values,
   * and prefetches along k or k2 */
  bool kblock = !spill && trial % 3 == 1 && tout == KILN_F32;
  int64_t K2 = kblock ? rnd(2, 3) : 1, KK = K2 * K;
  if (kblock) n_first = false, kf = 0;

  kiln_program *p = new_program(4, 1, 0);
  kiln_kernel *k = add_kernel(&p->main, "tile");
  int64_t da[3] = {NB, M, KK}, db[3] = {NB, KK, N}, dc[3] = {NB, M, N};
  int a = buf(k, "a", tin, 3, da, KILN_STORE_INPUT, 0);
  int b = buf(k, "b", tin, batched_b ? 3 : 2, batched_b ? db : db + 1, KILN_STORE_INPUT, 1);
  int bias = buf(k, "bias", KILN_F32, 1, &N, KILN_STORE_INPUT, 2);
  int rowb = buf(k, "rowb", KILN_F32, 1, &M, KILN_STORE_INPUT, 3);
  int c = buf(k, "c", tout, 3, dc, KILN_STORE_OUTPUT, 0);
  kiln_stage *s = kiln_kernel_add_stage(k, "mm", c);
  int xb = kiln_stage_axis(s, NB, false), xm = kiln_stage_axis(s, M, false);
  int xn = kiln_stage_axis(s, N, false), xk = kiln_stage_axis(s, K, true);
  int xk2 = kblock ? kiln_stage_axis(s, K2, true) : -1;
  kiln_expr *vb = kx_var(k, xb), *vm = kx_var(k, xm), *vn = kx_var(k, xn), *vk = kx_var(k, xk);
  if (kblock) vk = kx_add(k, kx_muli(k, kx_var(k, xk2), K), vk);
  kiln_expr *ia[3] = {vb, vm, vk}, *ib[3] = {vb, vk, vn}, *ic[3] = {vb, vm, vn};
  kiln_expr *av = kx_load(k, a, ia), *bv = kx_load(k, b, batched_b ? ib : ib + 1);
  if (tin != tacc) av = kx_cast(k, av, tacc), bv = kx_cast(k, bv, tacc);
  kiln_stage_store(k, s, ic, kx_binary(k, KB_MUL, av, bv));
  s->reduce = KR_SUM;
  if (init) s->init = kx_load(k, bias, &vn);
  kiln_expr *acc = kx_acc(k, tacc);
  if (post)
    acc = kx_binary(k, KB_ADD, kx_binary(k, KB_MUL, acc, kx_const_f(k, tacc, 2)),
                    kx_load(k, rowb, &vm));
  if (tout != tacc) acc = kx_cast(k, acc, tout);
  s->post = acc->kind == KX_ACC ? NULL : acc;

  kiln_schedule *sc = &s->sched;
  int nl = 0;
  kiln_loop_kind outer = par ? KILN_LOOP_PARALLEL : KILN_LOOP_SERIAL;
  kiln_loop mo = {xm, mr, (M + mr - 1) / mr, outer};
  kiln_loop no = {xn, nr, (N + nr - 1) / nr, KILN_LOOP_SERIAL};
  sc->loops[nl++] = (kiln_loop){xb, 1, NB, outer};
  sc->loops[nl++] = n_first ? no : mo;
  sc->loops[nl++] = n_first ? mo : no;
  if (n_first) sc->loops[1].kind = outer, sc->loops[2].kind = KILN_LOOP_SERIAL;
  kiln_loop mi = {xm, 1, mr, KILN_LOOP_UNROLL};
  /* a split by 1 would leave two loops of stride 1 (not a mixed radix): no inner loop */
  if (kblock) {
    sc->loops[nl++] = sc->loops[2]; /* k2, then n */
    sc->loops[2] = (kiln_loop){xk2, 1, K2, KILN_LOOP_SERIAL};
    sc->loops[nl++] = (kiln_loop){xk, 1, K, KILN_LOOP_SERIAL};
    if (mr > 1) sc->loops[nl++] = mi;
    bool outer = rnd(0, 1); /* prefetching along an axis whose loops are all outside */
    sc->prefetch_axis = outer ? xk2 : xk;
    sc->prefetch_ahead = rnd(1, outer ? K2 : K);
  } else if (kf > 1) {
    sc->loops[nl++] = (kiln_loop){xk, kf, (K + kf - 1) / kf, KILN_LOOP_SERIAL};
    if (!m_inside_k && mr > 1) sc->loops[nl++] = mi;
    sc->loops[nl++] = (kiln_loop){xk, 1, kf, KILN_LOOP_SERIAL};
    if (m_inside_k && mr > 1) sc->loops[nl++] = mi;
  } else {
    sc->loops[nl++] = (kiln_loop){xk, 1, K, KILN_LOOP_SERIAL};
    if (mr > 1) sc->loops[nl++] = mi;
  }
  if (nr > 1)
    sc->loops[nl++] = (kiln_loop){xn, 1, nr, vector ? KILN_LOOP_VECTOR : KILN_LOOP_UNROLL};
  sc->nloops = nl;
  kiln_error err = {0};
  CHECK(kiln_schedule_check(s, &err) == KILN_OK);

  size_t ein = tin == KILN_F32 ? 4 : 2, eout = tout == KILN_F32 ? 4 : 2;
  int64_t nb_b = batched_b ? NB * KK * N : KK * N;
  void *A = malloc((size_t)(NB * M * KK) * ein), *B = malloc((size_t)nb_b * ein);
  float *bias_v = malloc((size_t)N * 4), *rowb_v = malloc((size_t)M * 4);
  void *C = calloc((size_t)(NB * M * N), eout), *R = calloc((size_t)(NB * M * N), eout);
  fill_ints(A, tin, NB * M * KK);
  fill_ints(B, tin, nb_b);
  fill_ints(bias_v, KILN_F32, N);
  fill_ints(rowb_v, KILN_F32, M);
  void *bufs[5] = {A, B, bias_v, rowb_v, R};
  CHECK(kiln_interp_run(k, bufs, &err) == KILN_OK);
  kiln_jit *jit = NULL;
  kiln_entry_fn fn = compile(p, &jit);
  if (fn) {
    const void *in[4] = {A, B, bias_v, rowb_v};
    void *out[1] = {C};
    CHECK(fn((void *const *)in, out, NULL, NULL) == 0);
    bool same = memcmp(C, R, (size_t)(NB * M * N) * eout) == 0;
    if (!same)
      fprintf(stderr, "register tile case %d: %s->%s NB=%lld M=%lld N=%lld K=%lld mr=%lld nr=%lld "
              "kf=%lld vector=%d m_inside_k=%d par=%d n_first=%d init=%d post=%d K2=%lld\n", trial,
              kiln_dtype_name(tin), kiln_dtype_name(tout), (long long)NB, (long long)M,
              (long long)N, (long long)K, (long long)mr, (long long)nr, (long long)kf, vector,
              m_inside_k, par, n_first, init, post, (long long)K2);
    CHECK(same);
  }
  kiln_jit_free(jit);
  kiln_program_free(p);
  free(A), free(B), free(bias_v), free(rowb_v), free(C), free(R);
}

static void test_register_tiles(void) {
  for (int trial = 0; trial < 60; trial++) register_tile_case(trial);
}

int main(void) {
  test_broadcast_add();
  test_reductions();
  test_parallel_vector();
  test_memory_accumulate();
  test_select_oob();
  test_casts();
  test_int_ops();
  test_if_arena_const();
  test_invalid_ir();
  test_register_tiles();
  return check_report();
}
