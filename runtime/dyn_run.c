/* Runs with free dims (kiln_options.symbolic_dims): binding the syms from the shapes a
 * caller gives (every check a caller's shape can fail is here, so generated code never
 * sees a shape it was not compiled for), output shapes, and the memory plan of the buffers
 * whose sizes depend on the syms: computed once per distinct shape (the last one kept),
 * never per op. */
#include "runtime/dyn_run.h"

#include "ir/arena_plan.h"
#include "ir/dtype.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DIM (INT64_C(1) << 31)
#define MAX_BYTES (INT64_C(1) << 40)

void kiln_dyn_cache_init(kiln_dyn_cache *c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
}

void kiln_dyn_cache_free(kiln_dyn_cache *c) {
  pthread_mutex_destroy(&c->mu);
  free(c->offsets);
}

kiln_status kiln_dyn_bind(const kiln_program *p, const kiln_array *inputs, int64_t *syms,
                          kiln_error *err) {
  const char *from[KILN_MAX_SYMS] = {0};
  for (int s = 0; s < KILN_MAX_SYMS; s++) syms[s] = 0;
  for (int i = 0; i < p->ninputs; i++) {
    const kiln_io *io = &p->inputs[i];
    const kiln_array *a = &inputs[i];
    if (a->dtype != io->dtype)
      return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s' is %s, the model's is %s",
                       io->name, kiln_dtype_name(a->dtype), kiln_dtype_name(io->dtype));
    if (a->rank != io->rank)
      return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s' has rank %d, the model's is %d",
                       io->name, a->rank, io->rank);
    for (int d = 0; d < io->rank; d++) {
      int s = kiln_io_sym(io, d);
      int64_t x = a->dims[d];
      if (s < 0 && x != io->dims[d])
        return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s' dim %d is %lld, the model's "
                         "is %lld", io->name, d, (long long)x, (long long)io->dims[d]);
      if (s < 0) continue;
      const char *name = p->sym_names[s];
      int64_t low = p->sym_min[s] ? 1 : 0;
      if (x < low || x > MAX_DIM)
        return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is %lld, "
                         "outside %lld .. %lld", io->name, d, name, (long long)x,
                         (long long)low, (long long)MAX_DIM);
      if (x < p->sym_min[s])
        return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is %lld: this "
                         "model's shapes follow another rule below (a window wider than the "
                         "input, an index or a Slice's end past it): compiled for sizes from "
                         "%lld up (bind it at compile time for smaller ones)", io->name, d, name,
                         (long long)x, (long long)p->sym_min[s]);
      if (p->sym_max[s] && x > p->sym_max[s])
        return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is %lld: this "
                         "model's shapes follow another rule above (a Slice's end, a Min with "
                         "a constant): compiled for sizes up to %lld (bind it at compile time "
                         "for larger ones)", io->name, d, name, (long long)x, (long long)p->sym_max[s]);
      if (p->sym_step[s] > 1 && x % p->sym_step[s])
        return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is %lld: this "
                         "model cuts it into blocks of %lld (SpaceToDepth's blocksize), so it "
                         "must be a multiple of %lld", io->name, d, name, (long long)x,
                         (long long)p->sym_step[s], (long long)p->sym_step[s]);
      if (from[s] && syms[s] != x)
        return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s' dim %d ('%s') is %lld, but "
                         "input '%s' gave '%s' = %lld", io->name, d, name, (long long)x,
                         from[s], name, (long long)syms[s]);
      syms[s] = x;
      from[s] = io->name;
    }
    int64_t bytes = (int64_t)kiln_dtype_size(a->dtype);
    for (int d = 0; d < a->rank; d++)
      if (kiln_mul_overflows(bytes, a->dims[d], &bytes) || bytes > MAX_BYTES)
        return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s': its shape is over the limit "
                         "of %lld bytes", io->name, (long long)MAX_BYTES);
    if (bytes && !a->data)
      return kiln_fail(err, KILN_ERR_INVALID_INPUT, "input '%s': data is NULL", io->name);
  }
  /* a count computed by the run (ir/symdim.h's data syms) starts at its bound */
  if (!kiln_symdim_bound_data(p->sym_def, p->nsyms, syms) ||
      !kiln_symdim_derive(p->sym_def, p->nsyms, syms))
    return kiln_fail(err, KILN_ERR_INVALID_INPUT, "the input shapes overflow a dim of the model");
  return KILN_OK;
}

bool kiln_dyn_static_syms(const kiln_program *p, int64_t *syms) {
  for (int i = 0; i < p->ninputs + p->noutputs; i++) {
    const kiln_io *io = i < p->ninputs ? &p->inputs[i] : &p->outputs[i - p->ninputs];
    if (io->sdims) return false;
  }
  for (int s = 0; s < KILN_MAX_SYMS; s++) syms[s] = 0;
  return kiln_symdim_bound_data(p->sym_def, p->nsyms, syms) &&
         kiln_symdim_derive(p->sym_def, p->nsyms, syms);
}

/* Does x mention a data sym of p (a size the run computes, which may be 0) or a free input
 * dim of size 0 at syms? */
static bool may_be_0(const kiln_program *p, const kiln_symdim *x, const int64_t *syms) {
  for (int s = 0; s < p->nsyms; s++)
    if ((p->sym_def[s].den == KILN_SYMDIV_DATA || (p->sym_def[s].den == 0 && !syms[s])) &&
        kiln_symdim_uses(x, s))
      return true;
  return false;
}

/* Some free input dim is 0 at syms (one the model allows at 0: kiln_dyn_bind checked). */
static bool zero_run(const kiln_program *p, const int64_t *syms) {
  for (int s = 0; s < p->nsyms; s++)
    if (p->sym_def[s].den == 0 && !syms[s]) return true;
  return false;
}

kiln_status kiln_dyn_read_counts(const kiln_program *p, const int64_t *dims, int64_t *syms,
                                 kiln_error *err) {
  for (int s = 0; s < p->nsyms; s++) {
    if (p->sym_def[s].den != KILN_SYMDIV_DATA) continue;
    if (dims[s] < 0 || dims[s] > syms[s]) /* planned at syms[s]: generated code broke it */
      return kiln_fail(err, KILN_ERR_INTERNAL, "the run computed '%s' = %lld, outside 0 .. %lld",
                       p->sym_names[s], (long long)dims[s], (long long)syms[s]);
    syms[s] = dims[s];
  }
  return KILN_OK;
}

/* A dim below 1 at these shapes: the inputs are smaller than a window of the model. */
static kiln_status too_small(const char *what, const char *name, int d, int64_t x,
                             kiln_error *err) {
  return kiln_fail(err, KILN_ERR_INVALID_INPUT, "%s '%s' dim %d would be %lld at these input "
                   "shapes: the inputs are too small for this model", what, name, d,
                   (long long)x);
}

/* bytes of buffer b at syms, or -1 past the limit; *small: the first dim below least, or -1 */
static int64_t buffer_bytes(const kiln_buffer *b, const int64_t *syms, int64_t least, int *small,
                            int64_t *x) {
  int64_t n = (int64_t)kiln_dtype_size(b->dtype);
  *small = -1;
  for (int d = 0; d < b->rank; d++) {
    *x = b->dyn_dims[d] ? kiln_dim_eval(b->dyn_dims[d], syms) : b->dims[d];
    if (*x < least && b->dyn_dims[d]) return *small = d, -1; /* a static dim of 0 stays 0 */
    if (kiln_mul_overflows(n, *x, &n) || n > MAX_BYTES) return -1;
  }
  return n;
}

kiln_status kiln_dyn_output_shapes(const kiln_program *p, const int64_t *syms,
                                   kiln_array *outputs, kiln_error *err) {
  for (int i = 0; i < p->noutputs; i++) {
    const kiln_io *io = &p->outputs[i];
    kiln_array *a = &outputs[i];
    a->dtype = io->dtype;
    a->rank = io->rank;
    memset(a->dims, 0, sizeof a->dims);
    int64_t bytes = (int64_t)kiln_dtype_size(io->dtype);
    for (int d = 0; d < io->rank; d++) {
      a->dims[d] = io->dims[d];
      if (io->sdims && !kiln_symdim_eval(&io->sdims[d], syms, &a->dims[d])) bytes = -1;
      int64_t c; /* a dim fixed at 0 when compiling (a static empty input's) stays 0 */
      bool zero = a->dims[d] == 0 && (!io->sdims || may_be_0(p, &io->sdims[d], syms) ||
                                      kiln_symdim_is_const(&io->sdims[d], &c));
      if (bytes >= 0 && a->dims[d] < 1 && !zero)
        return too_small("output", io->name, d, a->dims[d], err);
      if (bytes < 0 || kiln_mul_overflows(bytes, a->dims[d], &bytes) || bytes > MAX_BYTES)
        return kiln_fail(err, KILN_ERR_INVALID_INPUT, "output '%s' would be over the limit of "
                         "%lld bytes at these input shapes", io->name, (long long)MAX_BYTES);
    }
  }
  return KILN_OK;
}

static kiln_status plan(const kiln_program *p, const int64_t *syms, int64_t *offsets,
                        int64_t *bytes, kiln_error *err) {
  kiln_alloc *allocs = kiln_xcalloc((size_t)(p->ndyn ? p->ndyn : 1), sizeof *allocs);
  kiln_alloc **all = kiln_xmalloc(sizeof *all * (size_t)(p->ndyn ? p->ndyn : 1));
  kiln_status st = KILN_OK;
  for (int i = 0; i < p->ndyn && !st; i++) {
    int small;
    int64_t x, size = buffer_bytes(p->dyn[i].buf, syms, zero_run(p, syms) ? 0 : 1, &small, &x);
    if (small >= 0)
      st = too_small("buffer", p->dyn[i].buf->name, small, x, err);
    else if (size < 0)
      st = kiln_fail(err, KILN_ERR_INVALID_INPUT, "buffer '%s' would be over the limit of %lld "
                     "bytes at these input shapes", p->dyn[i].buf->name, (long long)MAX_BYTES);
    allocs[i] = (kiln_alloc){p->dyn[i].start, p->dyn[i].end, size, 0, true};
    all[i] = &allocs[i];
  }
  int64_t high = 0;
  if (!st) kiln_arena_place(all, p->ndyn, &high);
  if (!st && high > MAX_BYTES)
    st = kiln_fail(err, KILN_ERR_INVALID_INPUT, "the run would need %lld bytes of scratch, over "
                   "the limit of %lld", (long long)high, (long long)MAX_BYTES);
  for (int i = 0; i < p->ndyn && !st; i++) offsets[i] = p->arena_bytes + allocs[i].offset;
  *bytes = p->arena_bytes + high;
  free(all);
  free(allocs);
  return st;
}

kiln_status kiln_dyn_plan(const kiln_program *p, kiln_dyn_cache *c, const int64_t *syms,
                          int64_t *offsets, int64_t *bytes, kiln_error *err) {
  size_t n = sizeof(int64_t) * (size_t)(p->ndyn ? p->ndyn : 1);
  pthread_mutex_lock(&c->mu);
  bool hit = c->valid && !memcmp(c->syms, syms, sizeof c->syms);
  if (hit) {
    memcpy(offsets, c->offsets, n);
    *bytes = c->bytes;
  }
  pthread_mutex_unlock(&c->mu);
  if (hit) return KILN_OK;
  if (plan(p, syms, offsets, bytes, err)) return err->code;
  int64_t *copy = malloc(n); /* a cache that cannot grow stays as it is */
  pthread_mutex_lock(&c->mu);
  if (copy) {
    memcpy(copy, offsets, n);
    free(c->offsets);
    c->offsets = copy;
    memcpy(c->syms, syms, sizeof c->syms);
    c->bytes = *bytes;
    c->valid = true;
  }
  pthread_mutex_unlock(&c->mu);
  return KILN_OK;
}
