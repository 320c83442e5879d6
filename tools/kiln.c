/* The kiln command line: compile (AOT), run (JIT), dump. */
#include "kiln.h"

#include "frontend/dsl.h"
#include "frontend/onnx.h"
#include "ir/dtype.h"
#include "passes/passes.h"
#include "tools/cli_util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *usage_main =
    "usage: kiln <command> [options]\n"
    "\n"
    "commands:\n"
    "  compile MODEL -o OUT     ahead-of-time: a shared library (.so) or object (.o) + header\n"
    "  run MODEL                JIT-compile and run; print outputs and latency\n"
    "  dump MODEL               print the graph after shape inference and folding\n"
    "\n"
    "Options every command takes: --shape IN=DxDx.. (bind free input dims),\n"
    "--max-nodes N and --max-tensor-bytes N (compile-time limits), --check-bounds (generated\n"
    "kernels check every load and store; a violation fails the run naming kernel and index).\n"
    "\n"
    "`kiln <command> --help` describes each. Exit status: 0 on success, otherwise the\n"
    "kiln_status code of the failure (1 bad arguments, 2 missing file, 3 invalid model,\n"
    "4 unsupported op, 5 shape error, 6 limit, 7 out of memory, 8 I/O, 9 codegen, 10 internal,\n"
    "11 invalid input value: an index out of range...).\n";

static const char *usage_compile =
    "usage: kiln compile MODEL -o OUT [--name NAME] [--shape IN=DxDx..]... [--cpu CPU]\n"
    "                    [--features F] [--triple T] [--linker CMD]\n"
    "Writes OUT (a shared library if it ends in .so, else a relocatable object) and NAME.h\n"
    "beside it, with `int NAME_run(inputs..., outputs..., void *workspace)` and size macros.\n"
    "NAME defaults to \"model\". --shape binds free input dims (batch...).\n"
    "--linker CMD links a .so (default cc; needed for another arch's --triple).\n";

static const char *usage_run =
    "usage: kiln run MODEL [--inputs DIR] [--output-dir DIR] [--shape IN=DxDx..]...\n"
    "                [--seed N] [--repeat N] [--threads N]\n"
    "Inputs come from DIR/input_<i>.pb (TensorProto, matched by name, else by position) or\n"
    "are seeded random values. Free input dims are bound from the given inputs' shapes.\n"
    "Prints each output's shape and a summary, and the median latency of --repeat runs\n"
    "(default 10) after one warm-up. --output-dir writes DIR/output_<i>.pb.\n";

static const char *usage_dump =
    "usage: kiln dump MODEL [--shape IN=DxDx..]... [--kernels]\n"
    "       kiln dump MODEL --dsl [-o OUT.kiln | --dsl-weights DIR]\n"
    "Prints the graph after input binding, shape inference and constant folding;\n"
    "--kernels also prints each node's kernel IR and schedule. --dsl prints the model as\n"
    "imported, as kiln DSL text that compiles back to the same graph, to stdout or to OUT.\n"
    "Weights of more than 16 elements are referenced by name in MODEL when it is an .onnx\n"
    "file; otherwise they are written as .npy files to the folder OUT.weights beside OUT,\n"
    "or to DIR (made if missing) when printing to stdout, whose text names them by DIR as\n"
    "given: save it in the current folder or give an absolute DIR. With neither, they are\n"
    "printed inline.\n";

static int fail(const kiln_error *err) {
  fprintf(stderr, "kiln: %s\n", err->message);
  return err->code ? (int)err->code : 1;
}

static int cmd_compile(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  if (cli_parse(argc, argv, &a, &err)) return fail(&err);
  if (a.help) return printf("%s", usage_compile), 0;
  if (!a.model || !a.out) {
    fprintf(stderr, "%s", usage_compile);
    return 1;
  }
  kiln_options opts = {0};
  cli_fill_options(&a, &opts);
  kiln_status st = kiln_compile_aot(a.model, &opts, a.out, a.name ? a.name : "model", &err);
  cli_args_free(&a);
  return st ? fail(&err) : 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static void print_summary(const kiln_tensor_info *info, const void *data) {
  int64_t n = (int64_t)(info->bytes / kiln_dtype_size(info->dtype));
  printf("%s: %s[", info->name, kiln_dtype_name(info->dtype));
  for (int d = 0; d < info->rank; d++) printf("%s%lld", d ? "," : "", (long long)info->dims[d]);
  double mn = INFINITY, mx = -INFINITY, sum = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = kiln_load_f64(info->dtype, data, i);
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
    sum += v;
  }
  printf("]  min %.6g  max %.6g  mean %.6g  first:", n ? mn : 0, n ? mx : 0, n ? sum / n : 0);
  for (int64_t i = 0; i < n && i < 5; i++) printf(" %.6g", kiln_load_f64(info->dtype, data, i));
  printf("\n");
}

static int cmd_run(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  if (cli_parse(argc, argv, &a, &err)) return fail(&err);
  if (a.help) return printf("%s", usage_run), 0;
  if (!a.model) {
    fprintf(stderr, "%s", usage_run);
    return 1;
  }
  cli_inputs in;
  kiln_model *m = NULL;
  void **outs = NULL;
  int rc = 0;
  if (cli_load_inputs(&a, &in, &err) || cli_compile(&a, &in, &m, &err)) {
    rc = fail(&err);
    goto done;
  }
  if (cli_fill_random_inputs(m, &in, a.seed, &err)) {
    rc = fail(&err);
    goto done;
  }
  int nout = kiln_num_outputs(m);
  outs = kiln_xcalloc((size_t)nout + 1, sizeof(void *));
  for (int i = 0; i < nout; i++) {
    kiln_tensor_info info;
    kiln_output_info(m, i, &info);
    outs[i] = kiln_xcalloc(1, info.bytes ? info.bytes : 1);
  }
  int repeat = a.repeat > 0 ? a.repeat : 10;
  double *ms = kiln_xcalloc((size_t)repeat, sizeof(double));
  for (int r = -1; r < repeat && !rc; r++) { /* r = -1 is the warm-up */
    double t0 = now_ms();
    if (kiln_run(m, (const void *const *)in.data, outs, &err)) rc = fail(&err);
    if (r >= 0) ms[r] = now_ms() - t0;
  }
  if (!rc) {
    for (int i = 0; i < nout; i++) {
      kiln_tensor_info info;
      kiln_output_info(m, i, &info);
      print_summary(&info, outs[i]);
      if (a.output_dir && cli_write_output(a.output_dir, i, &info, outs[i], &err)) rc = fail(&err);
    }
    qsort(ms, (size_t)repeat, sizeof(double), cmp_double);
    printf("latency: median %.3f ms over %d runs (min %.3f ms)\n", ms[repeat / 2], repeat, ms[0]);
  }
  free(ms);
done:
  for (int i = 0; outs && i < kiln_num_outputs(m); i++) free(outs[i]);
  free(outs);
  kiln_model_free(m);
  cli_inputs_free(&in);
  cli_args_free(&a);
  return rc;
}

/* The graph as imported, as DSL text, to out_path or stdout. Large weights point into
 * MODEL when it is an .onnx file; otherwise they are written as .npy files to the folder
 * <stem>.weights beside out_path, or to weights_dir when printing to stdout. The text is
 * made whole before anything is printed, so a failure leaves no partial output. */
static kiln_status dump_dsl(const char *model, kiln_graph *g, const char *out_path,
                            const char *weights_dir, kiln_error *err) {
  void *data;
  size_t size;
  kiln_status st = kiln_read_file(model, &data, &size, err);
  if (st) return st;
  kiln_dsl_weights w = {0};
  char *abs = NULL, *dir = NULL, *ref = NULL;
  if (!kiln_dsl_detect(data, size)) {
    w.onnx_file = abs = realpath(model, NULL);
  } else if (out_path) { /* out/net.kiln -> out/net.weights, read back as "net.weights" */
    const char *base = strrchr(out_path, '/') ? strrchr(out_path, '/') + 1 : out_path;
    size_t len = strlen(base);
    if (len > 5 && !strcmp(base + len - 5, ".kiln")) len -= 5;
    w.ref = ref = kiln_fmt("%.*s.weights", (int)len, base);
    w.dir = dir = kiln_fmt("%.*s%s", (int)(base - out_path), out_path, ref);
  } else {
    w.dir = weights_dir;
  }
  free(data);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  st = kiln_dsl_print(g, &w, f, err);
  fclose(f);
  if (!st && out_path) st = kiln_write_file_atomic(out_path, text, len, NULL, 0, err);
  else if (!st) fwrite(text, 1, len, stdout);
  free(text);
  free(abs);
  free(dir);
  free(ref);
  return st;
}

static int cmd_dump(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  bool dsl = false;
  const char *weights_dir = NULL;
  int n = 0;
  for (int i = 0; i < argc; i++) /* --dsl and --dsl-weights are dump's own options */
    if (strcmp(argv[i], "--dsl") == 0) dsl = true;
    else if (strcmp(argv[i], "--dsl-weights") == 0 && i + 1 < argc) weights_dir = argv[++i];
    else argv[n++] = argv[i];
  argc = n;
  if (cli_parse(argc, argv, &a, &err)) return fail(&err);
  if (a.help) return printf("%s", usage_dump), 0;
  if (a.out && weights_dir) { /* the folder's name in the text would depend on both places */
    kiln_fail(&err, KILN_ERR_INVALID_ARGUMENT, "--dsl-weights is for printing to stdout; with -o "
              "the weights go beside OUT");
    cli_args_free(&a);
    return fail(&err);
  }
  if (!a.model) {
    fprintf(stderr, "%s", usage_dump);
    return 1;
  }
  kiln_options opts = {0};
  cli_fill_options(&a, &opts);
  kiln_graph *g = NULL;
  kiln_program *prog = NULL;
  kiln_status st = cli_import(a.model, &g, &err);
  if (!st && dsl) {
    st = dump_dsl(a.model, g, a.out, weights_dir, &err);
    kiln_graph_free(g);
    cli_args_free(&a);
    return st ? fail(&err) : 0;
  }
  if (!st) st = kiln_pass_bind_inputs(g, &opts, &err);
  if (!st) st = kiln_pass_infer(g, &opts, &err);
  if (!st) st = kiln_pass_fold(g, 1 << 22, &err);
  if (!st) {
    kiln_pass_dce(g);
    kiln_graph_dump(g, stdout);
    if (a.kernels && !(st = kiln_pass_lower(g, &prog, &err)))
      kiln_pass_schedule(&prog->main, kiln_target_vector_floats(&opts));
  }
  if (!st && prog) cli_print_kernels(&prog->main, stdout);
  kiln_program_free(prog);
  kiln_graph_free(g);
  cli_args_free(&a);
  return st ? fail(&err) : 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    printf("%s", usage_main);
    return argc < 2 ? 1 : 0;
  }
  if (!strcmp(argv[1], "compile")) return cmd_compile(argc - 2, argv + 2);
  if (!strcmp(argv[1], "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(argv[1], "dump")) return cmd_dump(argc - 2, argv + 2);
  fprintf(stderr, "kiln: unknown command '%s'\n%s", argv[1], usage_main);
  return 1;
}
