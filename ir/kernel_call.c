/* KX_CALL: the kernel IR's calls of the run-time library's string functions (rt/strings.h).
 * Strings have no arithmetic a loop nest could express (case mapping, parsing, printing),
 * so a kernel calls C for each element, and every backend calls the same C: LLVM code by
 * symbol (the JIT resolves it in libkiln, AOT libraries link it), the interpreter directly.
 * This table gives each function's C name, address and signature. */
#include "ir/kernel.h"

#include "rt/strings.h"

#include <string.h>

#define FN(f, result, heap, int_arg) {#f, (uintptr_t)&f, result, heap, int_arg}
static const kiln_rt_fn_def FNS[KF_COUNT] = {
    [KF_STR_CONCAT] = FN(kiln_rt_str_concat, KILN_STRING, true, false),
    [KF_STR_CASE] = FN(kiln_rt_str_case, KILN_STRING, true, true),
    [KF_STR_EQ] = FN(kiln_rt_str_eq, KILN_BOOL, false, false),
    [KF_STR_INDEX] = FN(kiln_rt_str_index, KILN_I64, false, true),
    [KF_STR_TO_F64] = FN(kiln_rt_str_to_f64, KILN_F64, false, false),
    [KF_STR_TO_I64] = FN(kiln_rt_str_to_i64, KILN_I64, false, false),
    [KF_STR_FROM_F64] = FN(kiln_rt_str_from_f64, KILN_STRING, true, true),
    [KF_STR_FROM_I64] = FN(kiln_rt_str_from_i64, KILN_STRING, true, true),
    [KF_STR_MATCH] = FN(kiln_rt_str_match, KILN_BOOL, true, false), /* the heap: its failure */
    [KF_STR_WORD] = FN(kiln_rt_str_word, KILN_STRING, true, false),
    [KF_SPLIT_COUNT] = FN(kiln_rt_str_split_count, KILN_I64, false, true),
    [KF_SPLIT_SPAN] = FN(kiln_rt_str_split_span, KILN_I64, false, false),
    [KF_STR_SPAN] = FN(kiln_rt_str_span, KILN_STRING, true, false),
};
#undef FN

const kiln_rt_fn_def *kiln_rt_fn_def_of(kiln_rt_fn f) {
  return (int)f >= 0 && f < KF_COUNT && FNS[f].name ? &FNS[f] : NULL;
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
  const kiln_rt_fn_def *d = kiln_rt_fn_def_of(f);
  kiln_dtype t = d ? d->result : KILN_UNDEFINED;
  bool heap = d && d->heap;
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
