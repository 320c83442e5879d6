/* The program side of checked kernels: instrumenting a planned program with the violation
 * record, and turning a filled record into an error after a run. */
#include "runtime/check.h"

#include <string.h>

_Static_assert(sizeof(kiln_check_record) <= KILN_CHECK_RECORD_BYTES, "record too large");

static bool needs_record(const kiln_steps *steps, bool all) {
  for (int i = 0; i < steps->n; i++) {
    const kiln_step *s = &steps->steps[i];
    if (s->kind == KILN_STEP_IF) {
      if ((s->then_steps && needs_record(s->then_steps, all)) ||
          (s->else_steps && needs_record(s->else_steps, all)))
        return true;
    } else if (s->kernel && (all || s->kernel->has_checks)) {
      return true;
    }
  }
  return false;
}

static void instrument_steps(kiln_steps *steps, int64_t offset, bool all) {
  int64_t dims[1] = {KILN_CHECK_RECORD_BYTES};
  for (int i = 0; i < steps->n; i++) {
    kiln_step *s = &steps->steps[i];
    if (s->kind == KILN_STEP_IF) {
      if (s->then_steps) instrument_steps(s->then_steps, offset, all);
      if (s->else_steps) instrument_steps(s->else_steps, offset, all);
      continue;
    }
    kiln_kernel *k = s->kernel;
    if (!k || !(all || k->has_checks)) continue;
    k->check_all = all;
    int b = kiln_kernel_add_buffer(k, KILN_CHECK_BUFFER, KILN_BUF_TEMP, -1, KILN_U8, 1, dims);
    k->bufs[b].storage = (kiln_storage){KILN_STORE_ARENA, 0, offset};
  }
}

void kiln_check_instrument(kiln_program *p, bool all) {
  if (kiln_check_record_offset(p) >= 0 || !needs_record(&p->main, all)) return;
  /* arena_bytes is a multiple of 64, so the record is 64-byte aligned */
  int64_t offset = (p->arena_bytes + 63) / 64 * 64;
  p->arena_bytes = offset + KILN_CHECK_RECORD_BYTES;
  instrument_steps(&p->main, offset, all);
}

static int64_t find_offset(const kiln_steps *steps) {
  for (int i = 0; i < steps->n; i++) {
    const kiln_step *s = &steps->steps[i];
    int64_t off = -1;
    if (s->kind == KILN_STEP_IF) {
      if (s->then_steps) off = find_offset(s->then_steps);
      if (off < 0 && s->else_steps) off = find_offset(s->else_steps);
    } else if (s->kernel && s->kernel->nbufs) {
      const kiln_buffer *b = &s->kernel->bufs[s->kernel->nbufs - 1];
      if (strcmp(b->name, KILN_CHECK_BUFFER) == 0) off = b->storage.offset;
    }
    if (off >= 0) return off;
  }
  return -1;
}

int64_t kiln_check_record_offset(const kiln_program *p) { return find_offset(&p->main); }

kiln_status kiln_check_result(const kiln_program *p, const uint8_t *arena, kiln_error *err) {
  int64_t off = kiln_check_record_offset(p);
  if (off < 0 || !arena) return KILN_OK;
  const kiln_check_record *r = (const kiln_check_record *)(const void *)(arena + off);
  /* the run's threads have joined; acquire pairs with the writer's release of state 2 */
  if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != 2) return KILN_OK;
  long long size = (long long)r->size;
  switch ((kiln_check_kind)r->kind) {
  case KILN_CHECK_INDEX_UNSIGNED:
    return kiln_fail(err, KILN_ERR_INVALID_INPUT, "%s: index %llu is out of range [0, %lld)",
                     r->kernel, (unsigned long long)r->index, size);
  case KILN_CHECK_INDEX: case KILN_CHECK_INDEX_FROM_END:
    return kiln_fail(err, KILN_ERR_INVALID_INPUT, "%s: index %lld is out of range [%lld, %lld)",
                     r->kernel, (long long)r->index,
                     r->kind == KILN_CHECK_INDEX_FROM_END ? -size : 0, size);
  default:
    return kiln_fail(err, KILN_ERR_INTERNAL,
                     "kernel '%s' (stage '%s'): %s of buffer '%s' at index %lld outside [0, %lld)",
                     r->kernel, r->stage, r->kind == KILN_CHECK_STORE ? "store" : "load",
                     r->buffer, (long long)r->index, size);
  }
}
