/* `kiln verify MODEL`: differential verification (runtime/verify.h). The model is compiled
 * as `kiln run` compiles it (the same inputs, shapes bound from them), then every kernel's
 * code and every value it writes are checked against kiln's reference interpreter, and
 * the first kernel that diverges is reported with what is needed to find the bug: its
 * fused ops and graph nodes, its loops and recipes, the worst element. */
#include "tools/cli_util.h"
#include "ir/json.h"

#include "runtime/profile.h"
#include "runtime/verify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_verify =
    "usage: kiln verify MODEL [--inputs DIR] [--random-inputs] [--seed N] [--shape IN=DxDx..]...\n"
    "                   [--no-fuse] [--no-layout] [--tuning-log LOG] [--threads N] [--json]\n"
    "                   [--max-nodes N] [--max-tensor-bytes N]\n"
    "Compiles MODEL as `kiln run` does and checks it against kiln's reference interpreter,\n"
    "kernel by kernel in execution order, each on the interpreter's inputs of it:\n"
    "  code     the kernel's generated code against the interpreter on the same kernel:\n"
    "           a schedule or code generation bug (bounds in ulps per op, growing with the\n"
    "           length of sums; integers, bools and data movement exact);\n"
    "  rewrite  each value it writes against the same value of the unoptimized program\n"
    "           (one kernel per node; no BN folding, blocked layout, packed weights or\n"
    "           fusion): a rewrite that changed what is computed;\n"
    "  model    then the whole compiled model's outputs against the unoptimized program's.\n"
    "Prints the first kernel that diverges: its ops and graph nodes, the worst element\n"
    "(index, got, want, error and bound), how many elements are out of bounds, and the\n"
    "kernel with its loops and recipes as `kiln dump --kernels` prints it. --no-fuse and\n"
    "--no-layout turn those rewrites off, one at a time, to bisect; --tuning-log LOG checks\n"
    "a tuning log's schedules. Inputs as for `kiln run` (random unless --inputs; --seed).\n"
    "--json prints one JSON object. Exit status: 0 when everything agrees, 10 (a bug in\n"
    "kiln: KILN_ERR_INTERNAL) when something diverges, else the code of the error that\n"
    "stopped the check.\n";

static const char *check_name(kiln_verify_check c) {
  return c == KILN_VERIFY_CODE ? "code" : c == KILN_VERIFY_REWRITE ? "rewrite"
       : c == KILN_VERIFY_MODEL ? "model" : "none";
}

static void json_number(double x) {
  if (isfinite(x)) printf("%.9g", x);
  else printf("null");
}

static void print_json(const char *model, const kiln_verify_report *r) {
  const kiln_verify_diverged *d = &r->first;
  printf("{\"model\": ");
  kiln_json_write_string(model, stdout);
  printf(", \"kernels\": %d, \"checked\": %d, \"values_matched\": %d, \"outputs_checked\": %d, "
         "\"max_code_error\": ", r->nkernels, r->checked, r->values_matched, r->outputs_checked);
  json_number(r->max_code_error);
  printf(", \"max_rewrite_error\": ");
  json_number(r->max_rewrite_error);
  printf(", \"ok\": %s, \"diverged\": ", d->check ? "false" : "true");
  if (!d->check) {
    printf("null}\n");
    return;
  }
  printf("{\"check\": \"%s\", \"kernel_index\": %d, \"kernel\": ", check_name(d->check),
         d->kernel_index);
  kiln_json_write_string(d->kernel, stdout);
  printf(", \"op\": ");
  kiln_json_write_string(d->op, stdout);
  printf(", \"nodes\": ");
  kiln_json_write_string(d->nodes, stdout);
  printf(", \"buffer\": ");
  kiln_json_write_string(d->buffer, stdout);
  printf(", \"reference\": ");
  kiln_json_write_string(d->reference, stdout);
  printf(", \"index\": [");
  for (int i = 0; i < d->rank; i++) printf("%s%lld", i ? ", " : "", (long long)d->index[i]);
  printf("], \"flat\": %lld, \"got\": ", (long long)d->flat);
  json_number(d->got);
  printf(", \"want\": ");
  json_number(d->want);
  printf(", \"error\": ");
  json_number(d->error);
  printf(", \"tolerance\": ");
  json_number(d->tolerance);
  printf(", \"bad\": %lld, \"total\": %lld, \"kernel_text\": ", (long long)d->bad,
         (long long)d->total);
  kiln_json_write_string(d->text, stdout);
  printf("}}\n");
}

static void print_text(const char *model, const kiln_verify_report *r) {
  const kiln_verify_diverged *d = &r->first;
  printf("kiln verify %s: %d kernels; code of %d checked, %d values compared with the "
         "unoptimized program, %d model outputs\n", model, r->nkernels, r->checked,
         r->values_matched, r->outputs_checked);
  if (!d->check) {
    printf("ok: everything agrees (largest error %.3g of its bound in code, %.3g against the "
           "unoptimized program)\n", r->max_code_error, r->max_rewrite_error);
    return;
  }
  if (d->check == KILN_VERIFY_MODEL)
    printf("DIVERGED (model): output '%s' of the compiled model differs from the unoptimized "
           "program's though every kernel agreed alone; kernel %d '%s' (%s) writes it\n",
           d->buffer, d->kernel_index, d->kernel, d->op);
  else
    printf("DIVERGED (%s): kernel %d of %d '%s' (%s), graph nodes %s\n"
           "  buffer '%s' against %s '%s'\n", check_name(d->check), d->kernel_index,
           r->nkernels, d->kernel, d->op, d->nodes, d->buffer,
           d->check == KILN_VERIFY_CODE ? "the interpreter's" : "the unoptimized program's",
           d->reference);
  printf("  worst element [");
  for (int i = 0; i < d->rank; i++) printf("%s%lld", i ? "," : "", (long long)d->index[i]);
  printf("] (offset %lld): got %.9g, want %.9g, error %.3g, bound %.3g\n", (long long)d->flat,
         d->got, d->want, d->error, d->tolerance);
  printf("  %lld of %lld elements out of bounds\n", (long long)d->bad, (long long)d->total);
  if (d->text) printf("  the kernel (kiln dump --kernels):\n%s", d->text);
}

/* The options that make verify build what cli_compile built: the compiled inputs' shapes,
 * and the given inputs the compile fixed as constants (shapes that depend on them). */
static void compiled_options(const cli_args *a, const cli_inputs *in, const kiln_model *m,
                             kiln_options *opts, kiln_shape_binding *shapes,
                             kiln_input_value *values) {
  cli_fill_options(a, opts);
  int ns = 0, nv = 0;
  for (int i = 0; i < kiln_num_inputs(m) && i < CLI_MAX_INPUTS; i++) {
    kiln_tensor_info info;
    kiln_input_info(m, i, &info);
    shapes[ns] = (kiln_shape_binding){info.name, info.rank, {0}};
    memcpy(shapes[ns++].dims, info.dims, sizeof info.dims);
  }
  for (int i = 0; i < in->ngraph; i++) {
    const cli_input_file *f = cli_input_file_for(in, in->graph_names[i]);
    if (!f || kiln_input_index(m, in->graph_names[i]) >= 0) continue;
    values[nv] = (kiln_input_value){in->graph_names[i], f->t.dtype, f->t.rank, {0}, f->t.data};
    memcpy(values[nv++].dims, f->t.dims, sizeof f->t.dims);
  }
  opts->shapes = shapes;
  opts->nshapes = ns;
  opts->values = values;
  opts->nvalues = nv;
}

int cli_verify(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  int rc = cli_parse_command(CLI_VERIFY, argc, argv, usage_verify, &a);
  if (rc >= 0) return rc;
  rc = 0;
  cli_inputs in = {0};
  kiln_model *m = NULL;
  kiln_verify *v = NULL;
  kiln_verify_report rep = {0};
  kiln_shape_binding shapes[CLI_MAX_INPUTS];
  kiln_input_value values[CLI_MAX_INPUTS];
  const void *inputs[CLI_MAX_INPUTS] = {0};
  kiln_options opts;
  kiln_options_init(&opts);
  kiln_status st = cli_load_inputs(&a, &in, &err);
  if (!st) cli_note_random_inputs(&a, &in);
  if (!st) st = cli_compile(&a, &in, &m, &err);
  if (!st) {
    kiln_tensor_info *infos = cli_infos(m, false);
    st = cli_fill_inputs(infos, kiln_num_inputs(m), &in, a.seed, &err);
    free(infos);
  }
  if (!st) {
    compiled_options(&a, &in, m, &opts, shapes, values);
    st = kiln_verify_new(a.model, &opts, &v, &err);
  }
  if (!st) { /* the program's inputs, by name: the same list as the model's */
    const kiln_program *p = kiln_verify_program(v);
    for (int i = 0; i < p->ninputs && !st; i++) {
      int j = kiln_input_index(m, p->inputs[i].name);
      if (j < 0 || i >= CLI_MAX_INPUTS)
        st = kiln_fail(&err, KILN_ERR_INTERNAL, "input '%s' of the verified program is not "
                       "the compiled model's", p->inputs[i].name);
      else inputs[i] = in.data[j];
    }
  }
  kiln_model_free(m);
  if (!st) st = kiln_verify_run(v, inputs, &rep, &err);
  if (st) {
    rc = cli_fail(&err);
  } else {
    (a.json ? print_json : print_text)(a.model, &rep);
    if (rep.first.check) {
      fprintf(stderr, "kiln: verify: %s '%s' of kernel '%s' (%s) diverges (%s check)\n",
              rep.first.check == KILN_VERIFY_MODEL ? "output" : "buffer", rep.first.buffer,
              rep.first.kernel, rep.first.op, check_name(rep.first.check));
      rc = KILN_ERR_INTERNAL;
    }
  }
  kiln_verify_report_free(&rep);
  kiln_verify_free(v);
  cli_inputs_free(&in);
  cli_args_free(&a);
  return rc;
}
