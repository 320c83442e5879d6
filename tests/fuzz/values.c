/* The input-value fuzz target: fixed models whose generated code indexes, divides, shifts
 * or converts by data (Gather, GatherElements, OneHot, integer Div/Mod, BitShift, float ->
 * int casts feeding an index), run on the fuzzer's bytes as input values. Each model is
 * compiled twice through the public API: as a user gets it, and with check_bounds, where
 * every load and store of generated code is tested. The contract:
 *   - a run returns KILN_OK or KILN_ERR_INVALID_INPUT (with a message), never crashes;
 *   - the checked build never reports an out-of-bounds access (KILN_ERR_INTERNAL), i.e.
 *     no value, however hostile, moves an access outside its buffer;
 *   - both builds agree on the status, and on every output byte when the run succeeds.
 * The first input byte picks the model; the rest fill its inputs in order (cycled). Also
 * models with sizes the run computes (NonZero, NonMaxSuppression, Unique of run-time
 * values, and shapes computed from a count), summed into outputs of static shape. */
#include "tests/fuzz/targets.h"

#include "kiln.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const models[] = {
    "model m(a: f32[3, 5], i: i64[4]) { return y = Gather(a, i, axis=0) }",
    "model m(a: f32[4, 3], i: i32[2, 3]) { return y = Gather(a, i, axis=1) }",
    "model m(a: f32[2, 3], i: i64[2, 2]) { return y = GatherElements(a, i, axis=1) }",
    "model m(a: f32[3, 4], i: u8[5]) { return y = Gather(a, i, axis=1) }",
    /* an embedding looked up by float ids: NaN and 1e30 must not become poison */
    "model m(t: f32[10, 4], x: f32[6]) { return y = Gather(t, Cast(x, to=7), axis=0) }",
    "model m(i: f32[5]) { return y = OneHot(i, [4], [0.0, 1.0], axis=-1) }",
    "model m(a: i32[8], b: i32[8]) { return q = a / b, r = Mod(a, b) }",
    "model m(a: i64[4], b: i64[4]) { return q = a / b, r = Mod(a, b, fmod=1) }",
    "model m(a: u32[4], b: u32[4]) { return l = BitShift(a, b, direction=\"LEFT\"), "
    "r = BitShift(a, b, direction=\"RIGHT\") }",
    "model m(x: f32[6]) { return i = Cast(x, to=6), u = Cast(x, to=13), s = Cast(x, to=3) }",
    /* sizes the run computes (ir/ops/select_run.c, nms_run.c, unique_run.c), their
     * compactions storing where values say, summed into static outputs: NaN, inf and
     * ties must keep every store in its buffer */
    "model m(x: f32[9]) { return s = ReduceSum(Cast(NonZero(x), to=1), [1]) }",
    "model m(b: f32[1, 6, 4], s: f32[2, 6]) {\n param k: i64[1] = [4]\n param iou: f32[] = 0.5\n"
    " param t: f32[] = 0.25\n sel = NonMaxSuppression(b, Unsqueeze(s, [0]), k, iou, t)\n"
    " return y = ReduceSum(Cast(sel, to=1), [0]) }",
    "model m(x: f32[8]) {\n y, i, inv, c = Unique(x)\n"
    " return n = ReduceSum(Cast(c, to=1), [0]), v = inv, f = ReduceSum(Cast(i, to=1), [0]) }",
    /* a count used as data: shapes computed from it, read from the run's dims */
    "model m(x: f32[9]) {\n param zero: i64[] = 0\n param one: i64[] = 1\n"
    " n = Gather(Shape(NonZero(x)), one)\n r = Range(zero, n, one)\n"
    " return s = ReduceSum(Cast(r, to=1), [0]), t = ReduceSum(Slice(x, [0], Unsqueeze(n, [0])), [0]),"
    " c = Cast(n, to=1) }",
};
#define NMODELS (sizeof models / sizeof *models)
#define NFIRST 10 /* the models the saved inputs were found with (below) */

typedef struct compiled {
  kiln_model *plain, *checked;
  bool tried;
} compiled;

static compiled cache[NMODELS];

static kiln_model *compile(int i, int check_bounds) {
  kiln_options o = {.struct_size = sizeof o};
  o.check_bounds = check_bounds;
  o.num_threads = 1;
  kiln_model *m = NULL;
  kiln_error err;
  if (kiln_compile_buffer(models[i], strlen(models[i]), &o, &m, &err)) abort(); /* all valid */
  return m;
}

/* Allocates and fills buffers for every tensor of m from data (cycled; zeros if empty). */
static void **alloc_io(const kiln_model *m, bool in, const uint8_t *data, size_t size) {
  int n = in ? kiln_num_inputs(m) : kiln_num_outputs(m);
  void **bufs = calloc((size_t)n + 1, sizeof *bufs);
  size_t at = 0;
  for (int j = 0; j < n; j++) {
    kiln_tensor_info info;
    if ((in ? kiln_input_info(m, j, &info) : kiln_output_info(m, j, &info))) abort();
    uint8_t *b = calloc(info.bytes ? info.bytes : 1, 1);
    for (size_t k = 0; in && size && k < info.bytes; k++) b[k] = data[at++ % size];
    bufs[j] = b;
  }
  return bufs;
}

static void free_io(void **bufs) {
  for (int j = 0; bufs[j]; j++) free(bufs[j]);
  free(bufs);
}

static kiln_status run(const kiln_model *m, void **ins, void **outs) {
  kiln_error err;
  kiln_status st = kiln_run(m, (const void *const *)ins, outs, &err);
  if (st && (st != err.code || !err.message[0])) abort();
  return st;
}

int kiln_fuzz_values(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  /* a first byte below 240 picks one of the first NFIRST models (so the saved inputs keep
   * theirs), from 240 one of the later ones */
  int i = data[0] < 240 ? data[0] % NFIRST : NFIRST + (data[0] - 240) % (int)(NMODELS - NFIRST);
  compiled *c = &cache[i];
  if (!c->tried) {
    c->tried = true;
    c->plain = compile(i, 0);
    c->checked = compile(i, 1);
  }
  void **ins = alloc_io(c->plain, true, data + 1, size - 1);
  void **out1 = alloc_io(c->plain, false, NULL, 0), **out2 = alloc_io(c->plain, false, NULL, 0);
  kiln_status a = run(c->plain, ins, out1), b = run(c->checked, ins, out2);
  if (a != KILN_OK && a != KILN_ERR_INVALID_INPUT) abort();
  if (b != a) abort(); /* KILN_ERR_INTERNAL here: an access out of bounds */
  for (int j = 0; a == KILN_OK && out1[j]; j++) {
    kiln_tensor_info info;
    kiln_output_info(c->plain, j, &info);
    if (memcmp(out1[j], out2[j], info.bytes)) abort();
  }
  free_io(ins);
  free_io(out1);
  free_io(out2);
  return 0;
}
