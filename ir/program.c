#include "ir/program.h"

#include <stdlib.h>
#include <string.h>

kiln_program *kiln_program_new(void) { return kiln_xcalloc(1, sizeof(kiln_program)); }

kiln_steps *kiln_steps_new(void) { return kiln_xcalloc(1, sizeof(kiln_steps)); }

static void steps_clear(kiln_steps *s) {
  for (int i = 0; i < s->n; i++) {
    kiln_kernel_free(s->steps[i].kernel);
    kiln_steps_free(s->steps[i].then_steps);
    kiln_steps_free(s->steps[i].else_steps);
  }
  free(s->steps);
}

void kiln_steps_free(kiln_steps *s) {
  if (!s) return;
  steps_clear(s);
  free(s);
}

kiln_step *kiln_steps_add(kiln_steps *s, kiln_step_kind kind) {
  KILN_GROW(s->steps, s->n, s->cap);
  kiln_step *st = &s->steps[s->n++];
  memset(st, 0, sizeof *st);
  st->kind = kind;
  return st;
}

void kiln_program_free(kiln_program *p) {
  if (!p) return;
  steps_clear(&p->main);
  for (int i = 0; i < p->nconsts; i++) free(p->consts[i].data);
  free(p->consts);
  for (int i = 0; i < p->ninputs; i++) free(p->inputs[i].name);
  for (int i = 0; i < p->noutputs; i++) free(p->outputs[i].name);
  free(p->inputs);
  free(p->outputs);
  free(p);
}
