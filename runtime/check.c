/* After a run: the check record (rt/check_record.h) as an error naming the node or kernel,
 * index and range (runtime/check.h). */
#include "runtime/check.h"

kiln_status kiln_check_result(const kiln_program *p, const uint8_t *arena, kiln_error *err) {
  return kiln_check_result_at(kiln_check_record_offset(p), arena, err);
}

kiln_status kiln_check_result_at(int64_t off, const uint8_t *arena, kiln_error *err) {
  if (off < 0 || !arena) return KILN_OK;
  const kiln_check_record *r = (const kiln_check_record *)(const void *)(arena + off);
  /* the run's threads have joined; acquire pairs with the writer's release of state 2 */
  if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != 2) return KILN_OK;
  long long size = (long long)r->size;
  switch ((kiln_check_kind)r->kind) {
  case KILN_CHECK_INDEX_UNSIGNED:
    return kiln_fail(err, KILN_ERR_INVALID_INPUT, "%s: index %llu is out of range [0, %lld)",
                     r->kernel, (unsigned long long)r->index, size);
  case KILN_CHECK_LOOP: return kiln_check_loop_limit(r->kernel, r->index, err);
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

kiln_status kiln_check_loop_limit(const char *what, int64_t limit, kiln_error *err) {
  return kiln_fail(err, KILN_ERR_INVALID_INPUT, "%s: it reached %lld iterations, kiln's limit "
                   "(kiln_options.max_loop_iterations)", what, (long long)limit);
}
