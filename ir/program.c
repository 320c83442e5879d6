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
    if (s->steps[i].loop) {
      kiln_steps_free(s->steps[i].loop->body);
      free(s->steps[i].loop->moves);
      free(s->steps[i].loop->what);
      free(s->steps[i].loop);
    }
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

static int list_kernels(const kiln_steps *s, const kiln_kernel **out, int max, int n) {
  for (int i = 0; s && i < s->n; i++) {
    const kiln_step *st = &s->steps[i];
    if (st->kind == KILN_STEP_KERNEL) {
      if (out && n < max) out[n] = st->kernel;
      n++;
    } else {
      kiln_steps *sub[2];
      for (int j = 0, nl = kiln_step_lists(st, sub); j < nl; j++) n = list_kernels(sub[j], out, max, n);
    }
  }
  return n;
}

int kiln_step_lists(const kiln_step *st, kiln_steps *out[2]) {
  int n = 0;
  if (st->kind == KILN_STEP_IF) {
    if (st->then_steps) out[n++] = st->then_steps;
    if (st->else_steps) out[n++] = st->else_steps;
  } else if (st->kind == KILN_STEP_LOOP && st->loop->body) {
    out[n++] = st->loop->body;
  }
  return n;
}

int kiln_steps_kernels(const kiln_steps *s, const kiln_kernel **out, int max) {
  return list_kernels(s, out, max, 0);
}

const kiln_kernel **kiln_steps_kernel_list(const kiln_steps *s, int *n) {
  *n = kiln_steps_kernels(s, NULL, 0);
  const kiln_kernel **ks = kiln_xcalloc((size_t)*n + 1, sizeof *ks);
  kiln_steps_kernels(s, ks, *n);
  return ks;
}

void kiln_program_free(kiln_program *p) {
  if (!p) return;
  steps_clear(&p->main);
  for (int i = 0; i < p->nconsts; i++) free(p->consts[i].data);
  free(p->consts);
  for (int i = 0; i < p->ninputs; i++) free(p->inputs[i].name), free(p->inputs[i].sdims);
  for (int i = 0; i < p->noutputs; i++) free(p->outputs[i].name), free(p->outputs[i].sdims);
  for (int i = 0; i < p->nsyms; i++) free(p->sym_names[i]);
  free(p->dyn);
  for (int i = 0; i < p->nbuckets; i++) kiln_program_free(p->buckets[i]);
  free(p->buckets);
  free(p->inputs);
  free(p->outputs);
  free(p->tuning);
  kiln_choices_free(&p->choices);
  if (p->times) free(p->times->emit_ms);
  free(p->times);
  free(p);
}

int kiln_io_sym(const kiln_io *io, int d) {
  static const uint8_t zero[KILN_MAX_SYMS];
  if (!io->sdims || d < 0 || d >= io->rank) return -1;
  const kiln_symdim *x = &io->sdims[d];
  if (x->nterms != 1 || x->coef[0] != 1) return -1;
  int s = -1;
  for (int i = 0; i < KILN_MAX_SYMS; i++) {
    if (x->pow[0][i] > 1 || (x->pow[0][i] == 1 && s >= 0)) return -1;
    if (x->pow[0][i] == 1) s = i;
  }
  return memcmp(x->pow[0], zero, sizeof zero) ? s : -1;
}
