/* Differential verification (runtime/verify.h): the DSL examples verify clean, with and
 * without fusion and the blocked layout; faults injected into one kernel are found and
 * charged to that kernel:
 *   - a miscompiled schedule: the code of one GEMM and of one convolution is compiled with
 *     its reduction loops one step short (the tail an inexact split drops), while the
 *     interpreter runs the kernel as it is: the code check names the kernel;
 *   - a broken layout rewrite: one packed weight of a blocked convolution altered: the
 *     rewrite check names that convolution, and with no_layout (no packed weights) all
 *     agrees;
 *   - a broken fold-bn: the folded weight of a convolution altered (NCHW);
 *   - a broken fusion: the bound of a fused Relu epilogue altered: the rewrite check
 *     names the fused kernel, and with no_fuse all agrees. */
#include "check.h"

#include "ir/dtype.h"
#include "runtime/verify.h"

#include <stdlib.h>
#include <string.h>

typedef bool (*fault_fn)(kiln_program *p, char *name, size_t size);

typedef struct result {
  kiln_verify_report rep;
  int nkernels;
  char faulty[256]; /* the kernel the fault went into, "" for none */
  int faulty_index;
} result;

/* Verifies path (its input bound to shape unless rank < 0) with the fault applied, on
 * seeded inputs. */
static bool verify(const char *path, const char *input, int rank, const int64_t *dims,
                   const kiln_options *base, fault_fn fault, kiln_verify_compile_hook hook,
                   const char *hook_kernel, result *res) {
  memset(res, 0, sizeof *res);
  res->faulty_index = -1;
  kiln_shape_binding shape = {input, rank, {0}};
  if (rank > 0) memcpy(shape.dims, dims, sizeof(int64_t) * (size_t)rank);
  kiln_options opts = base ? *base : (kiln_options){.struct_size = sizeof opts};
  opts.shapes = rank >= 0 ? &shape : NULL;
  opts.nshapes = rank >= 0;
  kiln_verify *v = NULL;
  kiln_error err = {0};
  if (kiln_verify_new(path, &opts, &v, &err)) {
    fprintf(stderr, "%s: %s\n", path, err.message);
    return false;
  }
  kiln_program *p = kiln_verify_program(v);
  const kiln_kernel **ks = calloc(4096, sizeof *ks);
  res->nkernels = kiln_steps_kernels(&p->main, ks, 4096);
  if (fault && !fault(p, res->faulty, sizeof res->faulty)) res->faulty[0] = 0;
  if (hook) {
    kiln_verify_set_compile_hook(v, hook, (void *)hook_kernel);
    snprintf(res->faulty, sizeof res->faulty, "%s", hook_kernel);
  }
  for (int i = 0; i < res->nkernels; i++)
    if (res->faulty[0] && !strcmp(ks[i]->name, res->faulty)) res->faulty_index = i;
  free(ks);
  void *inputs[8] = {0};
  uint32_t seed = 7;
  for (int i = 0; i < p->ninputs && i < 8; i++) {
    inputs[i] = calloc(1, (size_t)p->inputs[i].bytes + 1);
    int64_t n = p->inputs[i].bytes / (int64_t)kiln_dtype_size(p->inputs[i].dtype);
    for (int64_t j = 0; j < n; j++) {
      seed = seed * 1664525u + 1013904223u;
      kiln_store_f64(p->inputs[i].dtype, inputs[i], j, (double)(seed >> 8) / (1 << 23) - 1);
    }
  }
  kiln_status st = kiln_verify_run(v, (const void *const *)inputs, &res->rep, &err);
  if (st) fprintf(stderr, "%s: %s\n", path, err.message);
  for (int i = 0; i < 8; i++) free(inputs[i]);
  kiln_verify_free(v);
  return st == KILN_OK;
}

static void expect_clean(const char *path, const char *input, int rank, const int64_t *dims,
                         const kiln_options *opts) {
  result r;
  CHECK(verify(path, input, rank, dims, opts, NULL, NULL, NULL, &r));
  const kiln_verify_diverged *d = &r.rep.first;
  if (d->check)
    fprintf(stderr, "%s: kernel '%s' buffer '%s': got %g want %g (bound %g)\n%s", path,
            d->kernel, d->buffer, d->got, d->want, d->tolerance, d->text ? d->text : "");
  CHECK(d->check == KILN_VERIFY_NONE);
  CHECK(r.rep.checked == r.nkernels && r.nkernels > 0);
  CHECK(r.rep.values_matched >= 1 && r.rep.outputs_checked >= 1);
  CHECK(r.rep.max_code_error < 1 && r.rep.max_rewrite_error < 1);
  kiln_verify_report_free(&r.rep);
}

/* Verification found the fault: the check that sees it, in the kernel it went into. */
static void expect_found(const result *r, kiln_verify_check check) {
  const kiln_verify_diverged *d = &r->rep.first;
  CHECK(r->faulty[0] != 0 && r->faulty_index >= 0);
  CHECK(d->check == check);
  CHECK(d->kernel && !strcmp(d->kernel, r->faulty));
  CHECK(d->kernel_index == r->faulty_index);
  CHECK(d->bad >= 1 && d->bad <= d->total && d->error > d->tolerance);
  CHECK(d->text && strstr(d->text, "loops") && strstr(d->text, r->faulty));
  CHECK(d->rank >= 1 && d->flat >= 0 && d->flat < d->total);
}

/* ---- a miscompiled schedule -------------------------------------------------------- */

/* The reduction axes of the named kernel's first reducing stage run one step short in its
 * code: its loops, unchanged, now over-cover them, and the guard of an inexact split skips
 * the last term, as a schedule that drops its tail would. */
static void drop_tail(void *ctx, kiln_kernel *k, bool before) {
  static int64_t extent[KILN_MAX_AXES];
  if (strcmp(k->name, (const char *)ctx)) return;
  for (int i = 0; i < k->nstages; i++) {
    kiln_stage *s = &k->stages[i];
    if (s->reduce == KR_NONE) continue;
    for (int a = 0; a < s->naxes; a++) {
      if (!s->axes[a].reduce) continue;
      if (before) extent[a] = s->axes[a].extent;
      s->axes[a].extent = before && extent[a] > 1 ? extent[a] - 1 : extent[a];
    }
    return;
  }
}

static const char *first_with_op(const kiln_program *p, const char *prefix) {
  const kiln_kernel *ks[4096];
  int n = kiln_steps_kernels(&p->main, ks, 4096);
  for (int i = 0; i < n; i++)
    if (ks[i]->op && !strncmp(ks[i]->op, prefix, strlen(prefix))) return ks[i]->name;
  return NULL;
}

/* ---- broken rewrites ----------------------------------------------------------------- */

/* Adds 0.5 to the first element of the constant buffer of the first kernel with op
 * prefix `op` whose name ends in `suffix`. */
static bool alter_weight(kiln_program *p, const char *op, const char *suffix, char *name,
                         size_t size) {
  const kiln_kernel *ks[4096];
  int n = kiln_steps_kernels(&p->main, ks, 4096);
  for (int i = 0; i < n; i++) {
    if (!ks[i]->op || strncmp(ks[i]->op, op, strlen(op))) continue;
    for (int b = 0; b < ks[i]->nbufs; b++) {
      const kiln_buffer *buf = &ks[i]->bufs[b];
      size_t len = strlen(buf->name), sl = strlen(suffix);
      if (buf->storage.kind != KILN_STORE_CONST || buf->dtype != KILN_F32 || len < sl ||
          strcmp(buf->name + len - sl, suffix))
        continue;
      ((float *)p->consts[buf->storage.index].data)[0] += 0.5f;
      snprintf(name, size, "%s", ks[i]->name);
      return true;
    }
  }
  return false;
}

static bool packed_weight(kiln_program *p, char *name, size_t size) {
  return alter_weight(p, "ConvBlocked", ".blocked", name, size);
}

static bool folded_weight(kiln_program *p, char *name, size_t size) {
  return alter_weight(p, "Conv", "", name, size); /* a plain conv: BN folded into it */
}

/* The first float constant of e moved: 0 (a fused Relu's bound) to 0.25, others by 25%. */
static bool alter_const(kiln_expr *e) {
  if (!e) return false;
  if (e->kind == KX_CONST && kiln_dtype_is_float(e->dtype)) {
    e->f = e->f == 0 ? 0.25 : e->f * 1.25;
    return true;
  }
  return alter_const(e->a) || alter_const(e->b) || alter_const(e->c);
}

/* A constant of the first fused kernel's epilogue (fusion's result) altered. */
static bool fused_epilogue(kiln_program *p, char *name, size_t size) {
  const kiln_kernel *ks[4096];
  int n = kiln_steps_kernels(&p->main, ks, 4096);
  for (int i = 0; i < n; i++) {
    if (ks[i]->nnodes < 2) continue; /* not fused */
    kiln_stage *s = &((kiln_kernel *)ks[i])->stages[ks[i]->nstages - 1];
    if (alter_const(s->post ? s->post : s->value)) {
      snprintf(name, size, "%s", ks[i]->name);
      return true;
    }
  }
  return false;
}

int main(void) {
  const int64_t batch[2] = {4, 784}, image[4] = {1, 3, 16, 16};
  kiln_options no_fuse = {.struct_size = sizeof no_fuse, .no_fuse = 1};
  kiln_options no_layout = {.struct_size = sizeof no_layout, .no_layout = 1};
  expect_clean("../examples/mlp.kiln", "x", 2, batch, NULL);
  expect_clean("../examples/mlp.kiln", "x", 2, batch, &no_fuse);
  expect_clean("../examples/encoder.kiln", NULL, -1, NULL, NULL);
  expect_clean("../examples/demo.kiln", NULL, -1, NULL, NULL);
  expect_clean("data/verify_net.kiln", "image", 4, image, NULL);
  expect_clean("data/verify_net.kiln", "image", 4, image, &no_layout);
  expect_clean("data/verify_net.kiln", "image", 4, image, &no_fuse);

  /* a schedule compiled wrong: the MLP's first GEMM, then a ResNet convolution */
  result r;
  kiln_verify *v = NULL;
  kiln_error err = {0};
  kiln_shape_binding sb = {"x", 2, {4, 784}};
  kiln_options o = {.struct_size = sizeof o, .shapes = &sb, .nshapes = 1};
  CHECK(!kiln_verify_new("../examples/mlp.kiln", &o, &v, &err));
  char gemm[256] = "", conv[256] = "";
  if (v && first_with_op(kiln_verify_program(v), "MatMul"))
    snprintf(gemm, sizeof gemm, "%s", first_with_op(kiln_verify_program(v), "MatMul"));
  kiln_verify_free(v);
  kiln_shape_binding ib = {"image", 4, {1, 3, 16, 16}};
  o = (kiln_options){.struct_size = sizeof o, .shapes = &ib, .nshapes = 1};
  CHECK(!kiln_verify_new("data/verify_net.kiln", &o, &v, &err));
  if (v && first_with_op(kiln_verify_program(v), "ConvBlocked"))
    snprintf(conv, sizeof conv, "%s", first_with_op(kiln_verify_program(v), "ConvBlocked"));
  kiln_verify_free(v);
  CHECK(gemm[0] && conv[0]);
  CHECK(verify("../examples/mlp.kiln", "x", 2, batch, NULL, NULL, drop_tail, gemm, &r));
  expect_found(&r, KILN_VERIFY_CODE);
  kiln_verify_report_free(&r.rep);
  CHECK(verify("data/verify_net.kiln", "image", 4, image, NULL, NULL, drop_tail, conv, &r));
  expect_found(&r, KILN_VERIFY_CODE);
  kiln_verify_report_free(&r.rep);

  /* a packed weight of the blocked layout; no blocked layout, no packed weight */
  CHECK(verify("data/verify_net.kiln", "image", 4, image, NULL, packed_weight, NULL,
               NULL, &r));
  expect_found(&r, KILN_VERIFY_REWRITE);
  kiln_verify_report_free(&r.rep);
  CHECK(verify("data/verify_net.kiln", "image", 4, image, &no_layout, packed_weight,
               NULL, NULL, &r));
  CHECK(r.faulty[0] == 0 && r.rep.first.check == KILN_VERIFY_NONE);
  kiln_verify_report_free(&r.rep);

  /* BN folded into a convolution's weights wrongly (in NCHW) */
  CHECK(verify("data/verify_net.kiln", "image", 4, image, &no_layout, folded_weight,
               NULL, NULL, &r));
  expect_found(&r, KILN_VERIFY_REWRITE);
  kiln_verify_report_free(&r.rep);

  /* a fused epilogue; without fusion there is none */
  CHECK(verify("../examples/mlp.kiln", "x", 2, batch, NULL, fused_epilogue, NULL, NULL, &r));
  expect_found(&r, KILN_VERIFY_REWRITE);
  CHECK(r.rep.first.nodes && strchr(r.rep.first.nodes, '+'));
  kiln_verify_report_free(&r.rep);
  CHECK(verify("../examples/mlp.kiln", "x", 2, batch, &no_fuse, fused_epilogue, NULL, NULL,
               &r));
  CHECK(r.faulty[0] == 0 && r.rep.first.check == KILN_VERIFY_NONE);
  kiln_verify_report_free(&r.rep);
  return check_report();
}
