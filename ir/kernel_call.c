/* KX_CALL: the kernel IR's calls of the run-time library's string functions (rt/strings.h).
 * Strings have no arithmetic a loop nest could express (case mapping, parsing, printing),
 * so a kernel calls C for each element, and every backend calls the same C: LLVM code by
 * symbol (the JIT resolves it in libkiln, AOT libraries link it), the interpreter directly.
 * This table gives each function's C name and result type. */
#include "ir/kernel.h"

#include <string.h>

static const struct {
  const char *name;
  kiln_dtype result;
  bool heap; /* it takes the run's heap first: it makes strings, or marks the run failed */
} FNS[KF_COUNT] = {
    [KF_STR_CONCAT] = {"kiln_rt_str_concat", KILN_STRING, true},
    [KF_STR_CASE] = {"kiln_rt_str_case", KILN_STRING, true},
    [KF_STR_EQ] = {"kiln_rt_str_eq", KILN_BOOL, false},
    [KF_STR_INDEX] = {"kiln_rt_str_index", KILN_I64, false},
    [KF_STR_TO_F64] = {"kiln_rt_str_to_f64", KILN_F64, false},
    [KF_STR_TO_I64] = {"kiln_rt_str_to_i64", KILN_I64, false},
    [KF_STR_FROM_F64] = {"kiln_rt_str_from_f64", KILN_STRING, true},
    [KF_STR_FROM_I64] = {"kiln_rt_str_from_i64", KILN_STRING, true},
    [KF_STR_MATCH] = {"kiln_rt_str_match", KILN_BOOL, true}, /* the heap: for its failure */
};

const char *kiln_rt_fn_info(kiln_rt_fn f, kiln_dtype *result, bool *heap) {
  if ((int)f < 0 || f >= KF_COUNT) return NULL;
  if (result) *result = FNS[f].result;
  if (heap) *heap = FNS[f].heap;
  return FNS[f].name;
}

int kiln_kernel_strings_buf(kiln_kernel *k) {
  for (int b = 0; b < k->nbufs; b++)
    if (k->bufs[b].storage.kind == KILN_STORE_STRINGS) return b;
  int64_t two = 2;
  int b = kiln_kernel_add_buffer(k, "strings", KILN_BUF_INPUT, -1, KILN_I64, 1, &two);
  if (b >= 0) k->bufs[b].storage = (kiln_storage){KILN_STORE_STRINGS, 0, 0};
  return b;
}

kiln_expr *kx_call(kiln_kernel *k, kiln_rt_fn f, kiln_expr *a, kiln_expr *b, int64_t i,
                   const char *what) {
  kiln_dtype t = KILN_UNDEFINED;
  bool heap = false;
  kiln_rt_fn_info(f, &t, &heap);
  kiln_expr *e = kx_idx(k, 0);
  e->kind = KX_CALL;
  e->dtype = t;
  e->op = (int)f;
  e->a = a;
  e->b = b;
  e->i = i;
  e->buf = heap ? kiln_kernel_strings_buf(k) : -1;
  e->what = what ? kiln_arena_strdup(&k->arena, what) : NULL;
  return e;
}
