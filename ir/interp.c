/* The reference interpreter for the kernel IR. Every expression evaluates to a tagged
 * scalar: a double for float dtypes, an int64 for ints (wrapped to the dtype's width; u64
 * kept as its bit pattern) and bool (0/1). Results are rounded to their dtype after every
 * operation (f32 through (float), f16/bf16 through a round trip), so they match generated
 * code bit for bit in most cases. Loops are plain nests, spatial axes outside and
 * reduction axes inside; the schedule is ignored. A kernel with run-time dims runs at the
 * values in its dims buffer: extents and buffer dims are evaluated once per run. */
#include "ir/interp.h"

#include "ir/dtype.h"
#include "ir/graph.h"
#include "rt/strings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct scalar {
  double f;
  int64_t i;
} scalar;

static bool is_fl(kiln_dtype t) { return kiln_dtype_is_float(t); }
static bool is_unsigned(kiln_dtype t) { return !kiln_dtype_is_signed(t) && !is_fl(t); }

static int64_t wrap(kiln_dtype t, int64_t v) {
  switch (t) {
  case KILN_BOOL: return v != 0;
  case KILN_I8: return (int8_t)v;
  case KILN_U8: return (uint8_t)v;
  case KILN_I16: return (int16_t)v;
  case KILN_U16: return (uint16_t)v;
  case KILN_I32: return (int32_t)v;
  case KILN_U32: return (uint32_t)v;
  case KILN_I4: case KILN_U4: case KILN_I2: case KILN_U2: return kiln_wrap_int(t, v);
  default: return v;
  }
}

static double round_to(kiln_dtype t, double v) {
  switch (t) {
  case KILN_F32: return (float)v;
  case KILN_F16: return kiln_f16_to_f32(kiln_f32_to_f16((float)v));
  case KILN_BF16: return kiln_bf16_to_f32(kiln_f32_to_bf16((float)v));
  /* a minifloat register holds one of the type's values, infinities too: exact here, and
   * a cast (below) saturates, as the code generators do */
  default: return kiln_dtype_is_minifloat(t) ? kiln_minifloat_round(t, (float)v, false) : v;
  }
}

static scalar mk_f(kiln_dtype t, double v) { return (scalar){round_to(t, v), 0}; }
static scalar mk_i(kiln_dtype t, int64_t v) { return (scalar){0, wrap(t, v)}; }

/* ONNX Cast: float -> int truncates (NaN -> 0, out of range saturates to int64 before
 * wrapping), anything -> bool is != 0. */
/* x's bits read as `to` (kx_bitcast): a float of f32 or f64 and an int of its width. */
static scalar bitcast(kiln_dtype from, scalar x, kiln_dtype to) {
  scalar r = {0, 0};
  if (from == KILN_F32) {
    float v = (float)x.f;
    uint32_t u;
    memcpy(&u, &v, 4);
    r.i = to == KILN_I32 ? (int64_t)(int32_t)u : (int64_t)u;
  } else if (from == KILN_F64) {
    uint64_t u;
    memcpy(&u, &x.f, 8);
    r.i = (int64_t)u;
  } else if (to == KILN_F32) {
    uint32_t u = (uint32_t)x.i;
    float v;
    memcpy(&v, &u, 4);
    r.f = v;
  } else {
    uint64_t u = (uint64_t)x.i;
    memcpy(&r.f, &u, 8);
  }
  return r;
}

static scalar cast(kiln_dtype from, scalar x, kiln_dtype to) {
  if (from == to) return x;
  if (is_fl(to)) {
    double v = is_fl(from) ? x.f : from == KILN_U64 ? (double)(uint64_t)x.i : (double)x.i;
    if (kiln_dtype_is_minifloat(to)) return (scalar){kiln_minifloat_round(to, (float)v, true), 0};
    return mk_f(to, v);
  }
  if (!is_fl(from)) return mk_i(to, x.i);
  if (to == KILN_BOOL) return mk_i(to, x.f != 0);
  double v = trunc(x.f);
  if (isnan(v)) return mk_i(to, 0);
  if (kiln_dtype_bits(to) < 8) { /* out of a 4- or 2-bit range: 0, as ml_dtypes */
    double lo, hi;
    kiln_dtype_range(to, &lo, &hi);
    return mk_i(to, v < lo || v > hi ? 0 : (int64_t)v);
  }
  if (to == KILN_U64 && v >= 9223372036854775808.0)
    return mk_i(to, v >= 18446744073709551616.0 ? -1 : (int64_t)(uint64_t)v);
  if (v >= 9223372036854775808.0) return mk_i(to, INT64_MAX);
  if (v < -9223372036854775808.0) return mk_i(to, INT64_MIN);
  return mk_i(to, (int64_t)v);
}

static scalar unary(kiln_unary_op op, kiln_dtype in, scalar a, kiln_dtype out) {
  if (op == KU_ISNAN) return mk_i(KILN_BOOL, is_fl(in) && isnan(a.f));
  if (!is_fl(in)) {
    uint64_t u = (uint64_t)a.i;
    switch (op) {
    case KU_NEG: return mk_i(out, (int64_t)(0 - u));
    case KU_ABS: return mk_i(out, a.i < 0 && !is_unsigned(in) ? (int64_t)(0 - u) : a.i);
    case KU_NOT: return in == KILN_BOOL ? mk_i(out, !a.i) : mk_i(out, (int64_t)~u);
    case KU_FLOOR: case KU_CEIL: case KU_ROUND: return mk_i(out, a.i);
    default: { /* math on ints: through double, truncated back */
      scalar d = cast(in, a, KILN_F64);
      return cast(KILN_F64, unary(op, KILN_F64, d, KILN_F64), out);
    }
    }
  }
  double x = a.f, r;
  switch (op) {
  case KU_NEG: r = -x; break;
  case KU_ABS: r = fabs(x); break;
  case KU_SQRT: r = sqrt(x); break;
  case KU_EXP: r = exp(x); break;
  case KU_LOG: r = log(x); break;
  case KU_TANH: r = tanh(x); break;
  case KU_ERF: r = erf(x); break;
  case KU_SIN: r = sin(x); break;
  case KU_COS: r = cos(x); break;
  case KU_FLOOR: r = floor(x); break;
  case KU_CEIL: r = ceil(x); break;
  case KU_ROUND: r = nearbyint(x); break; /* default rounding mode: half to even */
  case KU_NOT: return out == KILN_BOOL ? mk_i(out, x == 0) : mk_f(out, x == 0);
  case KU_SIGMOID: r = 1.0 / (1.0 + exp(-x)); break;
  case KU_RECIP: r = 1.0 / x; break;
  case KU_TAN: r = tan(x); break;
  case KU_ASIN: r = asin(x); break;
  case KU_ACOS: r = acos(x); break;
  case KU_ATAN: r = atan(x); break;
  case KU_SINH: r = sinh(x); break;
  case KU_COSH: r = cosh(x); break;
  case KU_ASINH: r = asinh(x); break;
  case KU_ACOSH: r = acosh(x); break;
  case KU_ATANH: r = atanh(x); break;
  default: r = NAN; break;
  }
  return mk_f(out, r);
}

static scalar ipow(kiln_dtype t, int64_t base, int64_t e) {
  if (e < 0) /* only 1 and -1 have integer reciprocals */
    return mk_i(t, base == 1 ? 1 : base == -1 ? (e % 2 ? -1 : 1) : 0);
  uint64_t r = 1, b = (uint64_t)base;
  for (uint64_t n = (uint64_t)e; n; n >>= 1, b *= b)
    if (n & 1) r *= b;
  return mk_i(t, (int64_t)r);
}

static scalar binary_int(kiln_binary_op op, kiln_dtype t, int64_t a, int64_t b) {
  uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  bool u = is_unsigned(t), u64 = t == KILN_U64;
  int bits = (int)(8 * kiln_dtype_size(t));
  switch (op) {
  case KB_ADD: return mk_i(t, (int64_t)(ua + ub));
  case KB_SUB: return mk_i(t, (int64_t)(ua - ub));
  case KB_MUL: return mk_i(t, (int64_t)(ua * ub));
  case KB_DIV: /* x / 0 is undefined in C and LLVM; the interpreter says 0 */
    if (b == 0) return mk_i(t, 0);
    if (u64) return mk_i(t, (int64_t)(ua / ub));
    if (a == INT64_MIN && b == -1) return mk_i(t, INT64_MIN);
    return mk_i(t, a / b);
  case KB_MOD:
    if (b == 0 || (a == INT64_MIN && b == -1)) return mk_i(t, 0);
    if (u64) return mk_i(t, (int64_t)(ua % ub));
    return mk_i(t, a % b);
  case KB_POW: return ipow(t, a, b);
  case KB_MIN: return mk_i(t, (u64 ? ua < ub : a < b) ? a : b);
  case KB_MAX: return mk_i(t, (u64 ? ua > ub : a > b) ? a : b);
  case KB_EQ: return mk_i(KILN_BOOL, a == b);
  case KB_NE: return mk_i(KILN_BOOL, a != b);
  case KB_LT: return mk_i(KILN_BOOL, u64 ? ua < ub : a < b);
  case KB_LE: return mk_i(KILN_BOOL, u64 ? ua <= ub : a <= b);
  case KB_GT: return mk_i(KILN_BOOL, u64 ? ua > ub : a > b);
  case KB_GE: return mk_i(KILN_BOOL, u64 ? ua >= ub : a >= b);
  case KB_AND: return mk_i(t, a & b);
  case KB_OR: return mk_i(t, a | b);
  case KB_XOR: return mk_i(t, a ^ b);
  case KB_SHL: return mk_i(t, ub >= (uint64_t)bits ? 0 : (int64_t)(ua << ub));
  case KB_SHR:
    if (u) { /* logical: the value is already zero-extended */
      return mk_i(t, ub >= (uint64_t)bits ? 0 : (int64_t)(ua >> ub));
    } else { /* arithmetic */
      int64_t s = ub >= (uint64_t)bits ? (bits - 1) : (int64_t)ub;
      return mk_i(t, a < 0 ? ~(~a >> s) : a >> s);
    }
  }
  return mk_i(t, 0);
}

static scalar binary(kiln_binary_op op, kiln_dtype t, scalar sa, scalar sb) {
  if (!is_fl(t)) return binary_int(op, t, sa.i, sb.i);
  double a = sa.f, b = sb.f;
  switch (op) {
  case KB_ADD: return mk_f(t, a + b);
  case KB_SUB: return mk_f(t, a - b);
  case KB_MUL: return mk_f(t, a * b);
  case KB_DIV: return mk_f(t, a / b);
  case KB_MOD: return mk_f(t, fmod(a, b));
  case KB_POW: return mk_f(t, pow(a, b));
  case KB_MIN: return mk_f(t, isnan(a) || isnan(b) ? NAN : a < b ? a : b);
  case KB_MAX: return mk_f(t, isnan(a) || isnan(b) ? NAN : a > b ? a : b);
  case KB_EQ: return mk_i(KILN_BOOL, a == b);
  case KB_NE: return mk_i(KILN_BOOL, a != b);
  case KB_LT: return mk_i(KILN_BOOL, a < b);
  case KB_LE: return mk_i(KILN_BOOL, a <= b);
  case KB_GT: return mk_i(KILN_BOOL, a > b);
  case KB_GE: return mk_i(KILN_BOOL, a >= b);
  case KB_AND: return mk_f(t, a != 0 && b != 0);
  case KB_OR: return mk_f(t, a != 0 || b != 0);
  case KB_XOR: return mk_f(t, (a != 0) != (b != 0));
  default: return mk_f(t, NAN); /* shifts of floats: not produced by lowerings */
  }
}

/* ---- evaluation --------------------------------------------------------------------- */

typedef struct interp {
  const kiln_kernel *k;
  const kiln_stage *s;
  void **data;             /* per buffer */
  const int64_t *dims;     /* the run-time dims' values (kiln_kernel.syms) */
  int64_t (*bdims)[KILN_MAX_RANK]; /* per buffer: its dims at those values */
  int64_t ext[KILN_MAX_AXES];      /* the stage's extents at those values */
  int64_t vars[KILN_MAX_AXES];
  scalar acc;
  kiln_dtype acc_type;
  kiln_error *err;
  bool failed;
} interp;

/* Flat row-major offset of idx in buffer b, or -1 (error set) when out of bounds. */
static int64_t offset(interp *in, int b, const int64_t *idx, const char *what) {
  const kiln_buffer *buf = &in->k->bufs[b];
  int64_t off = 0;
  const int64_t *dims = in->bdims[b];
  for (int d = 0; d < buf->rank; d++) {
    if (idx[d] < 0 || idx[d] >= dims[d]) {
      kiln_fail(in->err, KILN_ERR_INTERNAL,
                "kernel '%s' stage '%s': %s buffer '%s' out of bounds: index %lld of dim %d "
                "(size %lld)",
                in->k->name, in->s->name, what, buf->name, (long long)idx[d], d,
                (long long)dims[d]);
      in->failed = true;
      return -1;
    }
    off = off * dims[d] + idx[d];
  }
  if (!in->data[b]) {
    kiln_fail(in->err, KILN_ERR_INTERNAL, "kernel '%s' stage '%s': %s buffer '%s', which has no data",
              in->k->name, in->s->name, what, buf->name);
    in->failed = true;
    return -1;
  }
  return kiln_buffer_place(buf, off);
}

static scalar call(interp *in, const kiln_expr *e);

static scalar eval(interp *in, const kiln_expr *e) {
  scalar z = {0, 0};
  if (in->failed) return z;
  switch (e->kind) {
  case KX_CONST: return is_fl(e->dtype) ? mk_f(e->dtype, e->f) : mk_i(e->dtype, e->i);
  case KX_VAR: return mk_i(KILN_I64, in->vars[e->axis]);
  case KX_DIM: return mk_i(KILN_I64, in->dims[e->i]);
  case KX_ACC: return cast(in->acc_type, in->acc, e->dtype);
  case KX_LOAD: {
    int64_t idx[KILN_MAX_RANK];
    for (int d = 0; d < e->nidx; d++) idx[d] = eval(in, e->idx[d]).i;
    if (in->failed) return z;
    int64_t off = offset(in, e->buf, idx, "load from");
    if (off < 0) return z;
    kiln_dtype t = in->k->bufs[e->buf].dtype;
    const void *p = in->data[e->buf];
    scalar v = is_fl(t) ? mk_f(t, kiln_load_f64(t, p, off)) : mk_i(t, kiln_load_i64(t, p, off));
    return cast(t, v, e->dtype);
  }
  case KX_UNARY: return unary((kiln_unary_op)e->op, e->a->dtype, eval(in, e->a), e->dtype);
  case KX_BINARY: {
    scalar a = eval(in, e->a), b = eval(in, e->b);
    scalar r = binary((kiln_binary_op)e->op, e->a->dtype, a, b);
    bool cmp = e->op >= KB_EQ && e->op <= KB_GE;
    return cast(cmp ? KILN_BOOL : e->a->dtype, r, e->dtype);
  }
  case KX_SELECT: {
    scalar c = eval(in, e->a);
    bool taken = is_fl(e->a->dtype) ? c.f != 0 : c.i != 0;
    const kiln_expr *side = taken ? e->b : e->c;
    return cast(side->dtype, eval(in, side), e->dtype);
  }
  case KX_CAST:
    if (e->op == KX_CAST_BITS) return bitcast(e->a->dtype, eval(in, e->a), e->dtype);
    if (e->op == KX_CAST_NOSAT) { /* to a minifloat, from any type through its value */
      double v = cast(e->a->dtype, eval(in, e->a), KILN_F64).f;
      return (scalar){kiln_minifloat_round(e->dtype, (float)v, false), 0};
    }
    return cast(e->a->dtype, eval(in, e->a), e->dtype);
  case KX_CALL: return call(in, e);
  case KX_CHECK: {
    scalar r = eval(in, e->a);
    if (in->failed) return z;
    /* u64 bit patterns above INT64_MAX are huge, not negative */
    bool huge = e->a->dtype == KILN_U64 && r.i < 0;
    int64_t n = e->b ? eval(in, e->b).i : e->i, lo = e->op ? -n : 0;
    if (huge || r.i < lo || r.i >= n) {
      if (huge) kiln_fail(in->err, KILN_ERR_INVALID_INPUT, "%s: index %llu is out of range [%lld, %lld)",
                          e->what, (unsigned long long)r.i, (long long)lo, (long long)n);
      else kiln_fail(in->err, KILN_ERR_INVALID_INPUT, "%s: index %lld is out of range [%lld, %lld)",
                     e->what, (long long)r.i, (long long)lo, (long long)n);
      in->failed = true;
      return z;
    }
    return mk_i(KILN_I64, r.i < 0 ? r.i + n : r.i);
  }
  }
  return z;
}

/* KX_CALL: the run-time library's own function (rt/strings.h), on the heap buffer given. */
static scalar call(interp *in, const kiln_expr *e) {
  scalar z = {0, 0}, a = e->a ? eval(in, e->a) : z, b = e->b ? eval(in, e->b) : z;
  kiln_rt_strings *h = e->buf >= 0 && e->buf < in->k->nbufs ? in->data[e->buf] : NULL;
  const kiln_rt_fn_def *d = kiln_rt_fn_def_of((kiln_rt_fn)e->op);
  if (in->failed || !d || (d->heap && !h)) {
    if (!in->failed)
      kiln_fail(in->err, KILN_ERR_INTERNAL, "kernel '%s': call %d without its string heap",
                in->k->name, e->op);
    in->failed = true;
    return z;
  }
  switch ((kiln_rt_fn)e->op) {
  case KF_STR_CONCAT: return (scalar){0, kiln_rt_str_concat(h, a.i, b.i)};
  case KF_STR_CASE: return (scalar){0, kiln_rt_str_case(h, a.i, e->i)};
  case KF_STR_EQ: return (scalar){0, kiln_rt_str_eq(a.i, b.i)};
  case KF_STR_INDEX: return (scalar){0, kiln_rt_str_index(a.i, e->what ? e->what : "", e->i)};
  case KF_STR_TO_F64: return (scalar){kiln_rt_str_to_f64(a.i), 0};
  case KF_STR_TO_I64: return (scalar){0, kiln_rt_str_to_i64(a.i)};
  case KF_STR_FROM_F64: return (scalar){0, kiln_rt_str_from_f64(h, a.f, e->i)};
  case KF_STR_FROM_I64: return (scalar){0, kiln_rt_str_from_i64(h, a.i, e->i)};
  case KF_STR_MATCH: return (scalar){0, kiln_rt_str_match(h, a.i, e->what ? e->what : "")};
  case KF_STR_WORD: return (scalar){0, kiln_rt_str_word(h, a.i, e->what ? e->what : "")};
  case KF_SPLIT_COUNT: return (scalar){0, kiln_rt_str_split_count(a.i, e->what ? e->what : "", e->i)};
  case KF_SPLIT_SPAN: return (scalar){0, kiln_rt_str_split_span(a.i, b.i, e->what ? e->what : "")};
  case KF_STR_SPAN: return (scalar){0, kiln_rt_str_span(h, a.i, b.i)};
  default: return z;
  }
}

static void store(interp *in, const kiln_expr *value_type, scalar v) {
  const kiln_stage *s = in->s;
  int64_t idx[KILN_MAX_RANK];
  for (int d = 0; d < s->nout_idx; d++) idx[d] = eval(in, s->out_idx[d]).i;
  if (in->failed) return;
  int64_t off = offset(in, s->out_buf, idx, "store to");
  if (off < 0) return;
  kiln_dtype t = in->k->bufs[s->out_buf].dtype;
  v = cast(value_type->dtype, v, t);
  if (is_fl(t)) kiln_store_f64(t, in->data[s->out_buf], off, v.f);
  else kiln_store_i64(t, in->data[s->out_buf], off, v.i);
}

/* Advances the odometer over axes list[0..n) (last fastest); false when done. */
static bool next_point(interp *in, const int *list, int n) {
  for (int j = n - 1; j >= 0; j--) {
    int a = list[j];
    if (++in->vars[a] < in->ext[a]) return true;
    in->vars[a] = 0;
  }
  return false;
}

static bool empty(const interp *in, const int *list, int n) {
  for (int j = 0; j < n; j++)
    if (in->ext[list[j]] <= 0) return true;
  return false;
}

static kiln_binary_op combine_op(kiln_reduce_op r) {
  return r == KR_PROD ? KB_MUL : r == KR_MAX ? KB_MAX : r == KR_MIN ? KB_MIN : KB_ADD;
}

static void run_stage(interp *in, kiln_kernel *scratch) {
  const kiln_stage *s = in->s;
  int spatial[KILN_MAX_AXES], red[KILN_MAX_AXES], ns = 0, nr = 0;
  for (int a = 0; a < s->naxes; a++) {
    if (s->axes[a].reduce) red[nr++] = a;
    else spatial[ns++] = a;
    in->ext[a] = s->axes[a].dyn ? kiln_dim_eval(s->axes[a].dyn, in->dims) : s->axes[a].extent;
  }
  if (empty(in, spatial, ns)) return;
  kiln_dtype vt = s->value->dtype;
  const kiln_expr *init = NULL;
  if (s->reduce != KR_NONE) init = s->init ? s->init : kx_reduce_identity(scratch, s->reduce, vt);
  memset(in->vars, 0, sizeof in->vars);
  do {
    if (s->reduce == KR_NONE) {
      scalar v = eval(in, s->value);
      if (!in->failed) store(in, s->value, v);
    } else {
      scalar acc = cast(init->dtype, eval(in, init), vt);
      for (int j = 0; j < nr; j++) in->vars[red[j]] = 0;
      if (!empty(in, red, nr)) {
        do {
          scalar v = eval(in, s->value);
          acc = binary(combine_op(s->reduce), vt, acc, v);
        } while (!in->failed && next_point(in, red, nr));
      }
      for (int j = 0; j < nr; j++) in->vars[red[j]] = 0;
      in->acc = acc;
      in->acc_type = vt;
      if (s->post) {
        scalar r = eval(in, s->post);
        if (!in->failed) store(in, s->post, r);
      } else if (!in->failed) {
        store(in, s->value, acc);
      }
    }
  } while (!in->failed && next_point(in, spatial, ns));
}

/* The syms' values from the dims buffer, and every buffer's dims at them. */
static kiln_status bind_dims(interp *in, void *const *bufs) {
  const kiln_kernel *k = in->k;
  kiln_status st = kiln_kernel_check_dyn(k, in->err);
  if (st) return st;
  if (k->nsyms && !bufs[k->dims_buf])
    return kiln_fail(in->err, KILN_ERR_INVALID_ARGUMENT, "kernel '%s': no values for its "
                     "run-time dims", k->name);
  in->dims = k->nsyms ? bufs[k->dims_buf] : NULL;
  for (int i = 0; i < k->nsyms; i++)
    if (in->dims[i] < 0)
      return kiln_fail(in->err, KILN_ERR_INVALID_ARGUMENT, "kernel '%s': run-time dim '%s' is "
                       "%lld", k->name, k->syms[i], (long long)in->dims[i]);
  for (int b = 0; b < k->nbufs; b++)
    for (int d = 0; d < k->bufs[b].rank; d++) {
      const kiln_expr *x = k->bufs[b].dyn_dims[d];
      in->bdims[b][d] = x ? kiln_dim_eval(x, in->dims) : k->bufs[b].dims[d];
      if (in->bdims[b][d] < 0)
        return kiln_fail(in->err, KILN_ERR_INVALID_ARGUMENT, "kernel '%s': buffer '%s': dim %d "
                         "is %lld at these run-time dims", k->name, k->bufs[b].name, d,
                         (long long)in->bdims[b][d]);
    }
  return KILN_OK;
}

kiln_status kiln_interp_run(const kiln_kernel *k, void *const *bufs, kiln_error *err) {
  interp in = {.k = k, .err = err};
  in.data = kiln_xcalloc((size_t)(k->nbufs ? k->nbufs : 1), sizeof(void *));
  in.bdims = kiln_xcalloc((size_t)(k->nbufs ? k->nbufs : 1), sizeof *in.bdims);
  bool *owned = kiln_xcalloc((size_t)(k->nbufs ? k->nbufs : 1), sizeof(bool));
  kiln_status st = bind_dims(&in, bufs);
  for (int b = 0; b < k->nbufs && !st; b++) {
    const kiln_buffer *buf = &k->bufs[b];
    in.data[b] = bufs[b];
    int64_t n = kiln_shape_numel(buf->rank, in.bdims[b]);
    /* an input the kernel never reads may come without data (Shape's input) */
    if (bufs[b] || n == 0 || buf->role != KILN_BUF_TEMP) continue;
    if (!(in.data[b] = calloc((size_t)n, kiln_dtype_size(buf->dtype))))
      st = kiln_fail(err, KILN_ERR_OUT_OF_MEMORY, "kernel '%s': temporary '%s' (%lld elements)",
                     k->name, buf->name, (long long)n);
    else owned[b] = true;
  }
  /* identities of reductions without init are built in a scratch kernel's arena */
  kiln_kernel *scratch = kiln_kernel_new("scratch");
  for (int i = 0; i < k->nstages && !st; i++) {
    in.s = &k->stages[i];
    if (!in.s->value) continue;
    run_stage(&in, scratch);
    if (in.failed) st = err && err->code ? err->code : KILN_ERR_INTERNAL;
  }
  kiln_kernel_free(scratch);
  for (int b = 0; b < k->nbufs; b++)
    if (owned[b]) free(in.data[b]);
  free(owned);
  free(in.bdims);
  free(in.data);
  return st;
}
