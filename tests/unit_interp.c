/* The kernel-IR interpreter on hand-built kernels: elementwise, reductions with post,
 * select guarding an out-of-range load, casts and integer semantics, bounds errors. */
#include "check.h"

#include "ir/dtype.h"
#include "ir/interp.h"

#include <math.h>
#include <string.h>

static void test_elementwise(void) {
  int64_t dims[2] = {2, 3};
  kiln_kernel *k = kiln_kernel_new("add");
  int a = kiln_kernel_add_buffer(k, "a", KILN_BUF_INPUT, 0, KILN_F32, 2, dims);
  int b = kiln_kernel_add_buffer(k, "b", KILN_BUF_INPUT, 1, KILN_F32, 1, dims + 1);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 2, KILN_F32, 2, dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "s", y);
  kiln_expr *v[2] = {kx_var(k, kiln_stage_axis(s, 2, false)), kx_var(k, kiln_stage_axis(s, 3, false))};
  kiln_expr *sum = kx_binary(k, KB_ADD, kx_load(k, a, v), kx_load(k, b, v + 1));
  kiln_stage_store(k, s, v, kx_binary(k, KB_MAX, sum, kx_const_f(k, KILN_F32, 0)));
  float av[6] = {1, -2, 3, -4, 5, NAN}, bv[3] = {0.5f, 0.5f, 0.5f}, yv[6];
  void *bufs[3] = {av, bv, yv};
  kiln_error err = {0};
  CHECK(kiln_interp_run(k, bufs, &err) == KILN_OK);
  CHECK(yv[0] == 1.5f && yv[1] == 0 && yv[2] == 3.5f && yv[3] == 0 && yv[4] == 5.5f);
  CHECK(isnan(yv[5])); /* max propagates NaN */
  kiln_kernel_free(k);
}

/* y[i] = sqrt(sum_j x[i,j]^2) + 1, with init 1 for the PROD stage into z. */
static void test_reduce(void) {
  int64_t dims[2] = {2, 3};
  kiln_kernel *k = kiln_kernel_new("norm");
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, 0, KILN_F32, 2, dims);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 1, KILN_F32, 1, dims);
  int t = kiln_kernel_add_buffer(k, "t", KILN_BUF_TEMP, -1, KILN_I32, 1, dims);
  int z = kiln_kernel_add_buffer(k, "z", KILN_BUF_OUTPUT, 2, KILN_I32, 1, dims);
  kiln_stage *s = kiln_kernel_add_stage(k, "sumsq", y);
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, 2, false));
  kiln_expr *j = kx_var(k, kiln_stage_axis(s, 3, true));
  kiln_expr *xi[2] = {i, j};
  kiln_expr *xv = kx_load(k, x, xi);
  kiln_stage_store(k, s, &i, kx_binary(k, KB_MUL, xv, xv));
  s->reduce = KR_SUM;
  s->post = kx_binary(k, KB_ADD, kx_unary(k, KU_SQRT, kx_acc(k, KILN_F32)), kx_const_f(k, KILN_F32, 1));
  /* t[i] = max_j (int)x[i,j] ; z[i] = prod of t's (an empty-free reduce over a temp) */
  s = kiln_kernel_add_stage(k, "max", t);
  i = kx_var(k, kiln_stage_axis(s, 2, false));
  j = kx_var(k, kiln_stage_axis(s, 3, true));
  kiln_expr *xi2[2] = {i, j};
  kiln_stage_store(k, s, &i, kx_cast(k, kx_load(k, x, xi2), KILN_I32));
  s->reduce = KR_MAX;
  s = kiln_kernel_add_stage(k, "prod", z);
  i = kx_var(k, kiln_stage_axis(s, 2, false));
  j = kx_var(k, kiln_stage_axis(s, 2, true));
  kiln_stage_store(k, s, &i, kx_load(k, t, &j));
  s->reduce = KR_PROD;
  s->init = kx_const_i(k, KILN_I32, 10);
  float xv_[6] = {3, 4, 0, -1.5f, -2.5f, -7}, yv[2];
  int32_t zv[2];
  void *bufs[4] = {xv_, yv, NULL, zv};
  kiln_error err = {0};
  CHECK(kiln_interp_run(k, bufs, &err) == KILN_OK);
  CHECK(yv[0] == 6.0f);
  CHECK(yv[1] == (float)((float)sqrt((float)(2.25f + 6.25f) + 49.0f) + 1.0f));
  CHECK(zv[0] == 10 * 4 * -1 && zv[1] == 10 * 4 * -1); /* max(3,4,0)=4, max(-1,-2,-7)=-1 */
  kiln_kernel_free(k);
}

/* y[i] = i-1 in range ? x[i-1] : -1: the untaken side's load at index -1 never runs. */
static void test_select(void) {
  int64_t n = 4;
  kiln_kernel *k = kiln_kernel_new("shift");
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, 0, KILN_I64, 1, &n);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 1, KILN_I64, 1, &n);
  kiln_stage *s = kiln_kernel_add_stage(k, "s", y);
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, n, false));
  kiln_expr *im1 = kx_addi(k, i, -1);
  kiln_stage_store(k, s, &i, kx_select(k, kx_in_range(k, im1, n), kx_load(k, x, &im1), kx_const_i(k, KILN_I64, -1)));
  int64_t xv[4] = {10, 20, 30, 40}, yv[4];
  void *bufs[2] = {xv, yv};
  kiln_error err = {0};
  CHECK(kiln_interp_run(k, bufs, &err) == KILN_OK);
  CHECK(yv[0] == -1 && yv[1] == 10 && yv[3] == 30);
  kiln_kernel_free(k);
}

/* One scalar expression evaluated through a 1-element kernel. */
static double eval1(kiln_kernel *k, kiln_expr *e, int64_t *iout) {
  int64_t one = 1;
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 0, e->dtype, 1, &one);
  kiln_stage *s = kiln_kernel_add_stage(k, "s", y);
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, 1, false));
  kiln_stage_store(k, s, &i, e);
  unsigned char out[8] = {0};
  void *bufs[1] = {out};
  kiln_error err = {0};
  CHECK(kiln_interp_run(k, bufs, &err) == KILN_OK);
  if (iout) *iout = kiln_load_i64(e->dtype, out, 0);
  double r = kiln_load_f64(e->dtype, out, 0);
  k->nbufs = 0; /* reuse the kernel for the next expression */
  k->nstages = 0;
  return r;
}

static void test_scalars(void) {
  kiln_kernel *k = kiln_kernel_new("scalars");
  int64_t r;
  eval1(k, kx_cast(k, kx_const_f(k, KILN_F32, -2.7), KILN_I32), &r);
  CHECK(r == -2); /* float -> int truncates */
  eval1(k, kx_cast(k, kx_const_f(k, KILN_F32, 0.25), KILN_BOOL), &r);
  CHECK(r == 1);
  eval1(k, kx_cast(k, kx_const_i(k, KILN_I32, 300), KILN_U8), &r);
  CHECK(r == 44);
  eval1(k, kx_binary(k, KB_DIV, kx_const_i(k, KILN_I32, -7), kx_const_i(k, KILN_I32, 2)), &r);
  CHECK(r == -3);
  eval1(k, kx_binary(k, KB_MOD, kx_const_i(k, KILN_I32, -7), kx_const_i(k, KILN_I32, 2)), &r);
  CHECK(r == -1);
  CHECK(eval1(k, kx_binary(k, KB_MOD, kx_const_f(k, KILN_F32, -7.5), kx_const_f(k, KILN_F32, 2)), NULL) == -1.5);
  eval1(k, kx_binary(k, KB_ADD, kx_const_i(k, KILN_I8, 127), kx_const_i(k, KILN_I8, 1)), &r);
  CHECK(r == -128); /* wraps at the dtype's width */
  eval1(k, kx_binary(k, KB_SHR, kx_const_i(k, KILN_I8, -8), kx_const_i(k, KILN_I8, 1)), &r);
  CHECK(r == -4);
  eval1(k, kx_binary(k, KB_SHR, kx_const_i(k, KILN_U8, 0xf0), kx_const_i(k, KILN_U8, 4)), &r);
  CHECK(r == 0x0f);
  eval1(k, kx_binary(k, KB_SHL, kx_const_i(k, KILN_U8, 0xff), kx_const_i(k, KILN_U8, 4)), &r);
  CHECK(r == 0xf0);
  CHECK(eval1(k, kx_unary(k, KU_ROUND, kx_const_f(k, KILN_F32, 2.5)), NULL) == 2);
  CHECK(eval1(k, kx_unary(k, KU_ROUND, kx_const_f(k, KILN_F32, -3.5)), NULL) == -4);
  CHECK(eval1(k, kx_binary(k, KB_ADD, kx_const_f(k, KILN_F32, 1), kx_const_f(k, KILN_F32, 1e-8)), NULL) == 1.0);
  CHECK(eval1(k, kx_binary(k, KB_ADD, kx_const_f(k, KILN_F64, 1), kx_const_f(k, KILN_F64, 1e-8)), NULL) == 1.0 + 1e-8);
  CHECK(eval1(k, kx_binary(k, KB_ADD, kx_const_f(k, KILN_F16, 1), kx_const_f(k, KILN_F16, 1e-4)), NULL) == 1.0);
  CHECK(isnan(eval1(k, kx_binary(k, KB_MIN, kx_const_f(k, KILN_F32, NAN), kx_const_f(k, KILN_F32, 1)), NULL)));
  eval1(k, kx_unary(k, KU_ISNAN, kx_const_f(k, KILN_F32, NAN)), &r);
  CHECK(r == 1);
  eval1(k, kx_unary(k, KU_NOT, kx_const_i(k, KILN_BOOL, 1)), &r);
  CHECK(r == 0);
  eval1(k, kx_binary(k, KB_LT, kx_const_i(k, KILN_U64, -1), kx_const_i(k, KILN_U64, 1)), &r);
  CHECK(r == 0); /* u64 compares unsigned */
  eval1(k, kx_binary(k, KB_POW, kx_const_i(k, KILN_I32, 3), kx_const_i(k, KILN_I32, 4)), &r);
  CHECK(r == 81);
  kiln_kernel_free(k);
}

static void test_out_of_bounds(void) {
  int64_t n = 3;
  kiln_kernel *k = kiln_kernel_new("oob");
  int x = kiln_kernel_add_buffer(k, "x", KILN_BUF_INPUT, 0, KILN_F32, 1, &n);
  int y = kiln_kernel_add_buffer(k, "y", KILN_BUF_OUTPUT, 1, KILN_F32, 1, &n);
  kiln_stage *s = kiln_kernel_add_stage(k, "shift", y);
  kiln_expr *i = kx_var(k, kiln_stage_axis(s, n, false));
  kiln_expr *ip1 = kx_addi(k, i, 1);
  kiln_stage_store(k, s, &i, kx_load(k, x, &ip1));
  float xv[3] = {1, 2, 3}, yv[3];
  void *bufs[2] = {xv, yv};
  kiln_error err = {0};
  CHECK(kiln_interp_run(k, bufs, &err) == KILN_ERR_INTERNAL);
  CHECK(strstr(err.message, "oob") && strstr(err.message, "shift") && strstr(err.message, "'x'"));
  CHECK(strstr(err.message, "index 3"));
  kiln_kernel_free(k);
}

int main(void) {
  test_elementwise();
  test_reduce();
  test_select();
  test_scalars();
  test_out_of_bounds();
  return check_report();
}
