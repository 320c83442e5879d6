/* kiln_program -> CUDA C source: the prelude (codegen/cuda_prelude.c), then for each
 * distinct kernel (kernels equal by content signature share their functions) one
 * `KILN_GLOBAL` function per stage, taking one pointer per kernel buffer (all of it left
 * out under KILN_CUDA_DRIVER), then the host entry (compiled under KILN_CUDA_HOST or
 * KILN_CUDA_DRIVER): it resolves each buffer's storage as the LLVM entry does
 * (codegen/llvm_emit.c), launches the stages in order with their grid and block sizes
 * (KILN_LAUNCH), branches on If conditions (KILN_COND), runs loop steps with their copies
 * (KILN_LOOP_GET / PUT / MOVE), and returns the check record's
 * status (KILN_RECORD_STATUS): macros the host header (cuda_prelude.c) and the driver
 * runtime of AOT libraries (cuda_driver_rt.c) define. */
#include "codegen/cuda_emit.h"

#include "ir/dtype.h"
#include "ir/kernel_sig.h"
#include "passes/instrument.h"
#include "rt/check_record.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void kiln_cuda_line(kiln_cuda *c, const char *fmt, ...) {
  fprintf(c->o, "%*s", 2 * c->indent, "");
  va_list ap;
  va_start(ap, fmt);
  vfprintf(c->o, fmt, ap);
  va_end(ap);
  fputc('\n', c->o);
}

void kiln_cuda_string(FILE *o, const char *s) {
  fputc('"', o);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '_' || *p == ' ' || *p == '.')
      fputc(*p, o);
    else
      fprintf(o, "\\%03o", *p);
  }
  fputc('"', o);
}

/* A name in a comment: no comment end, no line break. */
static void comment_text(FILE *o, const char *s) {
  for (const char *p = s ? s : "?"; *p; p++)
    fputc((*p == '*' && p[1] == '/') || *p == '\n' || *p == '\r' ? '_' : *p, o);
}

/* -1: malformed; 0 for a buffer with run-time dims too (its size is not known here) */
static int64_t buffer_bytes(const kiln_buffer *bf) {
  if (bf->rank >= 0 && bf->rank <= KILN_MAX_RANK && kiln_buffer_is_dyn(bf)) return 0;
  int64_t n = (int64_t)kiln_dtype_size(bf->dtype);
  for (int d = 0; d < bf->rank; d++)
    if (bf->dims[d] < 0 || kiln_mul_overflows(n, bf->dims[d], &n)) return -1;
  if (bf->row) n = kiln_buffer_span(bf) * (int64_t)kiln_dtype_size(bf->dtype); /* strided */
  return n;
}

static bool stored(const kiln_kernel *k, int b) {
  for (int s = 0; s < k->nstages; s++)
    if (k->stages[s].out_buf == b) return true;
  return false;
}

/* The distinct kernels, by signature: kernel i's functions are kiln_k<fn[i]>_s<j>. */
typedef struct kernel_fns {
  const kiln_kernel **kernels;
  int n;
  char **sigs;
  size_t *lens;
  int *fn;
  int nfns;
} kernel_fns;

static kiln_status emit_kernel(kiln_cuda *c, const kiln_kernel *k, int id) {
  c->k = k;
  kiln_status dyn = kiln_kernel_check_dyn(k, c->err);
  if (dyn) return dyn;
  c->check_buf = -1;
  if (k->nbufs && !strcmp(k->bufs[k->nbufs - 1].name, KILN_CHECK_BUFFER)) c->check_buf = k->nbufs - 1;
  c->check_all = k->check_all && c->check_buf >= 0;
  for (int i = 0; i < k->nbufs; i++)
    if (k->bufs[i].dtype == KILN_STRING || k->bufs[i].storage.kind == KILN_STORE_STRINGS)
      return kiln_fail(c->err, KILN_ERR_UNSUPPORTED, "cuda: kernel '%s' (%s) works on string "
                       "tensors, which kiln runs on the CPU only (--target cpu)", k->name,
                       k->op ? k->op : "?");
  for (int i = 0; i < k->nbufs; i++)
    if (!kiln_cuda_reg_type(k->bufs[i].dtype) || k->bufs[i].rank < 0 ||
        k->bufs[i].rank > KILN_MAX_RANK || buffer_bytes(&k->bufs[i]) < 0)
      return kiln_fail(c->err, KILN_ERR_INTERNAL, "cuda: kernel '%s': bad buffer '%s'", k->name,
                       k->bufs[i].name);
  c->idx32 = kiln_cuda_index32(k);
  c->ity = c->idx32 ? "int32_t" : "int64_t";
  for (int j = 0; j < k->nstages; j++) {
    const kiln_stage *s = &k->stages[j];
    int64_t grid, threads;
    kiln_cuda_launch_size(s, &grid, &threads);
    fputs("\n/* kernel '", c->o);
    comment_text(c->o, k->name);
    fputs("' (", c->o);
    comment_text(c->o, k->op);
    fputs("), stage '", c->o);
    comment_text(c->o, s->name);
    fprintf(c->o, "': %" PRId64 " blocks of %" PRId64 " threads, %d-bit indices */\n", grid,
            threads, c->idx32 ? 32 : 64);
    /* a staged stage's register tile would take every register it may: ask for at most 128
     * a thread (blocks of `threads` that many at once per SM), so that two or more blocks
     * share an SM and one's barriers and loads overlap the other's arithmetic */
    if (s->sched.nshare)
      fprintf(c->o, "KILN_GLOBAL_OCC(%" PRId64 ", %" PRId64 ") kiln_k%d_s%d(KILN_LAUNCH_PARAMS", threads,
              threads > 512 ? 1 : 512 / threads, id, j);
    else
      fprintf(c->o, "KILN_GLOBAL(%" PRId64 ") kiln_k%d_s%d(KILN_LAUNCH_PARAMS", threads, id, j);
    for (int b = 0; b < k->nbufs; b++) {
      bool ro = !stored(k, b) && b != c->check_buf;
      fprintf(c->o, "%s%s%s *KILN_RESTRICT b%d", b ? ", " : " ", ro ? "const " : "",
              kiln_cuda_mem_type(k->bufs[b].dtype), b);
    }
    bool phased = kiln_cuda_phased(s); /* its own framing (cuda_reduce.c, cuda_staged.c) */
    fputs(") {\n", c->o);
    /* nothing runs after a failed check: a later stage could read what it left unwritten
     * as an index (the LLVM backend's kiln_emit_check_stop) */
    if (c->check_buf >= 0) fprintf(c->o, "  KILN_CHECK_STOP(b%d);\n", c->check_buf);
    if (!phased) fputs("  KILN_KERNEL_BEGIN {\n", c->o);
    c->indent = phased ? 1 : 2;
    kiln_status st = kiln_cuda_stage(c, s, &grid, &threads);
    c->indent = 0;
    if (st) return st;
    fputs(phased ? "}\n" : "  }\n  kiln_next:;\n  KILN_KERNEL_END\n}\n", c->o);
  }
  c->k = NULL;
  c->idx32 = false;
  return KILN_OK;
}

static kiln_status collect(kiln_cuda *c, kernel_fns *f) {
  f->kernels = kiln_steps_kernel_list(&c->prog->main, &f->n);
  f->sigs = kiln_xcalloc((size_t)f->n + 1, sizeof *f->sigs);
  f->lens = kiln_xcalloc((size_t)f->n + 1, sizeof *f->lens);
  f->fn = kiln_xcalloc((size_t)f->n + 1, sizeof *f->fn);
  for (int i = 0; i < f->n; i++) {
    f->sigs[i] = kiln_kernel_signature(f->kernels[i], &f->lens[i]);
    f->fn[i] = -1;
    for (int j = 0; j < i && f->sigs[i] && f->fn[i] < 0; j++)
      if (f->sigs[j] && f->lens[j] == f->lens[i] && !memcmp(f->sigs[j], f->sigs[i], f->lens[i]))
        f->fn[i] = f->fn[j];
    if (f->fn[i] >= 0) continue;
    f->fn[i] = f->nfns++;
    kiln_status st = emit_kernel(c, f->kernels[i], f->fn[i]);
    if (st) return st;
  }
  return KILN_OK;
}

/* ---- the host entry ------------------------------------------------------------------- */

static kiln_status storage(kiln_cuda *c, const kiln_storage *st, int64_t bytes, const char *type,
                           const char *what) {
  const kiln_program *p = c->prog;
  switch (st->kind) {
  case KILN_STORE_INPUT:
    if (st->index >= 0 && st->index < p->ninputs)
      return fprintf(c->o, "(%s *)inputs[%d]", type, st->index), KILN_OK;
    break;
  case KILN_STORE_OUTPUT:
    if (st->index >= 0 && st->index < p->noutputs)
      return fprintf(c->o, "(%s *)outputs[%d]", type, st->index), KILN_OK;
    break;
  case KILN_STORE_CONST:
    if (st->index >= 0 && st->index < p->nconsts)
      return fprintf(c->o, "(%s *)consts[%d]", type, st->index), KILN_OK;
    break;
  case KILN_STORE_ARENA:
    if (st->offset >= 0 && bytes >= 0 && st->offset <= p->arena_bytes - bytes)
      return fprintf(c->o, "(%s *)(arena + %" PRId64 ")", type, st->offset), KILN_OK;
    break;
  case KILN_STORE_DIMS: /* the syms' values, which the run writes into the arena */
    if (p->nsyms) return fprintf(c->o, "(%s *)(arena + %" PRId64 ")", type, p->dims_offset), KILN_OK;
    break;
  case KILN_STORE_DYN: /* a slot placed at run time: its offset after the syms' values */
    if (p->nsyms && st->index >= 0 && st->index < p->ndyn)
      return fprintf(c->o, "(%s *)(arena + ((const int64_t *)(arena + %" PRId64 "))[%d])", type,
                     p->dims_offset, p->nsyms + st->index), KILN_OK;
    break;
  default: break;
  }
  return kiln_fail(c->err, KILN_ERR_INTERNAL, "cuda: %s: bad storage (kind %d, index %d, offset %lld)",
                   what, (int)st->kind, st->index, (long long)st->offset);
}

static kiln_status emit_steps(kiln_cuda *c, const kernel_fns *f, const kiln_steps *steps, int *next);

static kiln_status emit_launches(kiln_cuda *c, const kiln_kernel *k, int id) {
  for (int j = 0; j < k->nstages; j++) {
    int64_t grid, threads;
    kiln_cuda_launch_size(&k->stages[j], &grid, &threads);
    if (grid <= 0) continue;
    fprintf(c->o, "%*sKILN_LAUNCH(kiln_k%d_s%d, %" PRId64 ", %" PRId64, 2 * c->indent, "", id, j,
            grid, threads);
    for (int b = 0; b < k->nbufs; b++) {
      char what[160];
      snprintf(what, sizeof what, "kernel '%s': buffer '%s'", k->name, k->bufs[b].name);
      fputs(", ", c->o);
      kiln_status st = storage(c, &k->bufs[b].storage, buffer_bytes(&k->bufs[b]),
                               kiln_cuda_mem_type(k->bufs[b].dtype), what);
      if (st) return st;
    }
    fputs(");\n", c->o);
  }
  return KILN_OK;
}

/* Loop steps' copies of one kind (ir/program.h: kiln_move); `i` names the iteration. */
static kiln_status emit_moves(kiln_cuda *c, const kiln_loop_step *l, kiln_move_when when, const char *i) {
  kiln_status st = KILN_OK;
  for (int pass = 0; pass < 2 && !st; pass++) /* staged sources first */
    for (int k = 0; k < l->nmoves && !st; k++) {
      const kiln_move *m = &l->moves[k];
      if (m->when != when || (!pass && !m->staged)) continue;
      fprintf(c->o, "%*sKILN_LOOP_MOVE(", 2 * c->indent, "");
      if (m->staged && !pass) {
        if ((st = storage(c, &l->stage, l->stage_bytes, "uint8_t", "loop staging"))) break;
        fprintf(c->o, " + %" PRId64, m->stage_offset);
      } else {
        if ((st = storage(c, &m->dst, when == KILN_MOVE_SCAN ? 0 : m->bytes, "uint8_t", "loop value"))) break;
        if (when == KILN_MOVE_SCAN) fprintf(c->o, " + %s * %" PRId64, i, m->bytes);
      }
      fputs(", ", c->o);
      if (m->staged && pass) {
        if ((st = storage(c, &l->stage, l->stage_bytes, "const uint8_t", "loop staging"))) break;
        fprintf(c->o, " + %" PRId64, m->stage_offset);
      } else if ((st = storage(c, &m->src, m->bytes, "const uint8_t", "loop value"))) {
        break;
      }
      fprintf(c->o, ", %" PRId64 ");\n", m->bytes);
    }
  return st;
}

/* A loop step as the LLVM entry runs it (codegen/llvm_emit.c), its iteration and condition
 * in host variables, written to the body's parameters before each iteration. */
static kiln_status emit_loop(kiln_cuda *c, const kernel_fns *f, const kiln_loop_step *l, int *next) {
  int d = c->indent;
  char i[32];
  snprintf(i, sizeof i, "kiln_i%d", d);
  kiln_cuda_line(c, "{");
  c->indent++;
  kiln_cuda_line(c, "int64_t kiln_trip%d = INT64_MAX, %s;", d, i);
  kiln_cuda_line(c, "uint8_t kiln_c%d = 1;", d);
  kiln_status st = KILN_OK;
  const kiln_storage *get[2] = {&l->trip, &l->cond0};
  for (int g = 0; g < 2 && !st; g++) {
    if (get[g]->kind == KILN_STORE_NONE) continue;
    fprintf(c->o, "%*sKILN_LOOP_GET(&kiln_%s%d, ", 2 * c->indent, "", g ? "c" : "trip", d);
    if (!(st = storage(c, get[g], g ? 1 : 8, "const uint8_t", "loop bound"))) fprintf(c->o, ", %d);\n", g ? 1 : 8);
  }
  if (!st) st = emit_moves(c, l, KILN_MOVE_ENTER, i);
  if (st) return st;
  kiln_cuda_line(c, "for (%s = 0; %s < kiln_trip%d && kiln_c%d; %s++) {", i, i, d, d, i);
  c->indent++;
  if (l->limit < INT64_MAX && l->check_offset >= 0) { /* this one would pass the limit */
    kiln_cuda_line(c, "if (%s >= %" PRId64 ") {", i, l->limit);
    fprintf(c->o, "%*s  KILN_LOOP_FAIL(arena + %" PRId64 ", ", 2 * c->indent, "", l->check_offset);
    kiln_cuda_string(c->o, l->what);
    fprintf(c->o, ", %" PRId64 ");\n", l->limit);
    kiln_cuda_line(c, "  break;");
    kiln_cuda_line(c, "}");
  }
  const kiln_storage *put[2] = {&l->iter, &l->cond};
  for (int g = 0; g < 2 && !st; g++) {
    fprintf(c->o, "%*sKILN_LOOP_PUT(", 2 * c->indent, "");
    if ((st = storage(c, put[g], g ? 1 : 8, "uint8_t", "loop parameter"))) break;
    if (g) fprintf(c->o, ", &kiln_c%d, 1);\n", d);
    else fprintf(c->o, ", &%s, 8);\n", i);
  }
  if (!st) st = emit_steps(c, f, l->body, next);
  if (!st) {
    fprintf(c->o, "%*sKILN_LOOP_GET(&kiln_c%d, ", 2 * c->indent, "", d);
    st = storage(c, &l->cond_out, 1, "const uint8_t", "loop condition");
  }
  if (st) return st;
  fprintf(c->o, ", 1);\n");
  kiln_cuda_line(c, "kiln_c%d = kiln_c%d != 0;", d, d);
  if ((st = emit_moves(c, l, KILN_MOVE_SCAN, i)) || (st = emit_moves(c, l, KILN_MOVE_NEXT, i))) return st;
  c->indent--;
  kiln_cuda_line(c, "}");
  if (l->count >= 0) { /* the iterations run: its scan outputs' length, for later steps */
    if (l->count >= c->prog->nsyms)
      return kiln_fail(c->err, KILN_ERR_INTERNAL, "cuda: %s: no dims for its count", l->what);
    kiln_cuda_line(c, "KILN_LOOP_PUT((uint8_t *)(arena + %" PRId64 "), &%s, 8);",
                   c->prog->dims_offset + 8 * (int64_t)l->count, i);
  }
  if ((st = emit_moves(c, l, KILN_MOVE_EXIT, i))) return st;
  c->indent--;
  kiln_cuda_line(c, "}");
  return KILN_OK;
}

static kiln_status emit_steps(kiln_cuda *c, const kernel_fns *f, const kiln_steps *steps, int *next) {
  for (int i = 0; i < steps->n; i++) {
    const kiln_step *s = &steps->steps[i];
    kiln_status st;
    if (s->kind == KILN_STEP_KERNEL) {
      if (*next >= f->n || f->kernels[*next] != s->kernel)
        return kiln_fail(c->err, KILN_ERR_INTERNAL, "cuda: kernel steps out of order");
      st = emit_launches(c, s->kernel, f->fn[(*next)++]);
    } else if (s->kind == KILN_STEP_LOOP) {
      st = emit_loop(c, f, s->loop, next);
    } else if (s->kind == KILN_STEP_IF) {
      fprintf(c->o, "%*sif (KILN_COND(", 2 * c->indent, "");
      st = storage(c, &s->cond, 1, "const uint8_t", "if condition");
      if (st) return st;
      fputs(")) {\n", c->o);
      c->indent++;
      st = s->then_steps ? emit_steps(c, f, s->then_steps, next) : KILN_OK;
      c->indent--;
      kiln_cuda_line(c, "} else {");
      c->indent++;
      if (!st && s->else_steps) st = emit_steps(c, f, s->else_steps, next);
      c->indent--;
      kiln_cuda_line(c, "}");
    } else {
      st = kiln_fail(c->err, KILN_ERR_INTERNAL, "cuda: unknown step kind %d", (int)s->kind);
    }
    if (st) return st;
  }
  return KILN_OK;
}

static kiln_status emit_entry(kiln_cuda *c, const kernel_fns *f) {
  fputs("\n#if defined(KILN_CUDA_HOST) || defined(KILN_CUDA_DRIVER)\n"
        "KILN_ENTRY int " KILN_CUDA_ENTRY "(void *const *inputs, void *const *outputs, "
        "uint8_t *arena, const void *const *consts) {\n", c->o);
  fputs("  (void)inputs, (void)outputs, (void)arena, (void)consts;\n", c->o);
  int64_t rec = kiln_check_record_offset(c->prog);
  c->indent = 1;
  if (rec >= 0) kiln_cuda_line(c, "KILN_RECORD_CLEAR(arena + %" PRId64 ");", rec);
  int next = 0;
  kiln_status st = emit_steps(c, f, &c->prog->main, &next);
  if (st) return st;
  if (rec >= 0) {
    kiln_cuda_line(c, "return KILN_RECORD_STATUS(arena + %" PRId64 ");", rec);
  } else {
    kiln_cuda_line(c, "return %d;", KILN_OK);
  }
  c->indent = 0;
  fputs("}\n#endif\n", c->o);
  return KILN_OK;
}

kiln_status kiln_cuda_emit_program(const kiln_program *p, FILE *out, kiln_error *err) {
  if (p->profile)
    return kiln_fail(err, KILN_ERR_UNSUPPORTED, "cuda: profiling is not implemented by the GPU backend");
  kiln_cuda c = {.o = out, .err = err, .prog = p, .check_buf = -1, .acc = -1, .ity = "int64_t"};
  fputs("/* CUDA C generated by kiln */\n#ifndef KILN_CUDA_DRIVER\n", out);
  fputs(kiln_cuda_prelude, out);
  kernel_fns f = {0};
  kiln_status st = collect(&c, &f);
  fputs("#endif\n", out);
  if (!st) st = emit_entry(&c, &f);
  for (int i = 0; i < f.n; i++) free(f.sigs[i]);
  free(f.sigs);
  free(f.lens);
  free(f.fn);
  free(f.kernels);
  free(c.memo);
  return st;
}
