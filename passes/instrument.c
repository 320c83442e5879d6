/* Check record and timing slots at the end of a planned program's arena
 * (passes/instrument.h). */
#include "passes/instrument.h"

#include "rt/check_record.h"

#include <string.h>

_Static_assert(sizeof(kiln_check_record) <= KILN_CHECK_RECORD_BYTES, "record too large");

static bool needs_record(const kiln_steps *steps, bool all) {
  for (int i = 0; i < steps->n; i++) {
    const kiln_step *s = &steps->steps[i];
    kiln_steps *sub[2];
    int nl = kiln_step_lists(s, sub);
    for (int j = 0; j < nl; j++)
      if (needs_record(sub[j], all)) return true;
    if (s->kind == KILN_STEP_KERNEL && s->kernel && (all || s->kernel->has_checks)) return true;
    if (s->kind == KILN_STEP_LOOP) return true; /* its iteration limit */
  }
  return false;
}

static void instrument_steps(kiln_steps *steps, int64_t offset, bool all) {
  int64_t dims[1] = {KILN_CHECK_RECORD_BYTES};
  for (int i = 0; i < steps->n; i++) {
    kiln_step *s = &steps->steps[i];
    kiln_steps *sub[2];
    int nl = kiln_step_lists(s, sub);
    for (int j = 0; j < nl; j++) instrument_steps(sub[j], offset, all);
    if (s->kind == KILN_STEP_LOOP) s->loop->check_offset = offset;
    if (s->kind != KILN_STEP_KERNEL) continue;
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
    kiln_steps *sub[2];
    int nl = kiln_step_lists(s, sub);
    if (s->kind == KILN_STEP_LOOP) off = s->loop->check_offset;
    for (int j = 0; j < nl && off < 0; j++) off = find_offset(sub[j]);
    if (s->kind == KILN_STEP_KERNEL && s->kernel && s->kernel->nbufs) {
      const kiln_buffer *b = &s->kernel->bufs[s->kernel->nbufs - 1];
      if (strcmp(b->name, KILN_CHECK_BUFFER) == 0) off = b->storage.offset;
    }
    if (off >= 0) return off;
  }
  return -1;
}

int64_t kiln_check_record_offset(const kiln_program *p) { return find_offset(&p->main); }

void kiln_loop_limits(kiln_steps *steps, int64_t limit) {
  for (int i = 0; i < steps->n; i++) {
    kiln_step *s = &steps->steps[i];
    if (s->kind == KILN_STEP_LOOP) s->loop->limit = limit;
    kiln_steps *sub[2];
    for (int j = 0, nl = kiln_step_lists(s, sub); j < nl; j++) kiln_loop_limits(sub[j], limit);
  }
}


void kiln_profile_instrument(kiln_program *p) {
  if (p->profile) return;
  int n = kiln_steps_kernels(&p->main, NULL, 0);
  p->profile_offset = (p->arena_bytes + 63) / 64 * 64;
  p->arena_bytes = p->profile_offset + ((int64_t)n * 16 + 63) / 64 * 64;
  p->profile = true;
}
