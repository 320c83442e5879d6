/* Shape buckets (runtime/bucket.h): the options of a bucket's static compile, its check
 * against the generic program, and the exact-shape match a run dispatches on. */
#include "runtime/bucket.h"

#include "runtime/dyn_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kiln_options kiln_bucket_options(const kiln_options *o, int b, kiln_shape_binding **owned) {
  const kiln_bucket *bk = &o->buckets[b];
  int n = 0;
  kiln_shape_binding *s = kiln_xcalloc((size_t)(o->nshapes + bk->nshapes + 1), sizeof *s);
  for (int i = 0; i < bk->nshapes; i++) s[n++] = bk->shapes[i];
  for (int i = 0; i < o->nshapes; i++) {
    bool replaced = false;
    for (int k = 0; k < bk->nshapes && !replaced; k++)
      replaced = o->shapes[i].input && bk->shapes[k].input &&
                 !strcmp(o->shapes[i].input, bk->shapes[k].input);
    if (!replaced) s[n++] = o->shapes[i];
  }
  kiln_options out = *o;
  out.shapes = s;
  out.nshapes = n;
  out.symbolic_dims = 0;
  out.buckets = NULL;
  out.nbuckets = 0;
  out.report = NULL;
  *owned = s;
  return out;
}

kiln_status kiln_bucket_check(const kiln_program *generic, const kiln_program *bucket, int b,
                              kiln_error *err) {
  if (err->code) { /* its compile failed: say which bucket */
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "%s", err->message);
    kiln_status code = err->code;
    err->code = KILN_OK;
    return kiln_fail(err, code, "bucket %d: %s", b, msg);
  }
  kiln_array *in = kiln_xcalloc((size_t)(generic->ninputs + 1), sizeof *in);
  static const char dummy;
  kiln_status st = KILN_OK;
  if (bucket->ninputs != generic->ninputs)
    st = kiln_fail(err, KILN_ERR_INTERNAL, "bucket %d: %d inputs, the model's %d", b,
                   bucket->ninputs, generic->ninputs);
  for (int i = 0; i < generic->ninputs && !st; i++) {
    in[i] = (kiln_array){(void *)&dummy, bucket->inputs[i].dtype, bucket->inputs[i].rank, {0}};
    memcpy(in[i].dims, bucket->inputs[i].dims, sizeof in[i].dims);
  }
  int64_t syms[KILN_MAX_SYMS];
  if (!st && kiln_dyn_bind(generic, in, syms, err)) {
    char msg[sizeof err->message];
    snprintf(msg, sizeof msg, "%s", err->message);
    err->code = KILN_OK;
    st = kiln_fail(err, KILN_ERR_SHAPE, "bucket %d contradicts the model's shapes: %s", b, msg);
  }
  free(in);
  return st;
}

bool kiln_bucket_matches(const kiln_program *bucket, const kiln_array *inputs) {
  for (int i = 0; i < bucket->ninputs; i++) {
    const kiln_io *io = &bucket->inputs[i];
    if (inputs[i].rank != io->rank || inputs[i].dtype != io->dtype ||
        memcmp(inputs[i].dims, io->dims, sizeof(int64_t) * (size_t)io->rank))
      return false;
  }
  return true;
}
