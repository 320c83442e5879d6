/* The kiln command line: compile (AOT), run (JIT), dump; bench is in tools/cli_bench.c. */
#include "kiln.h"

#include "frontend/dsl.h"
#include "frontend/onnx.h"
#include "ir/dtype.h"
#include "passes/passes.h"
#include "rt/parallel.h"
#include "tools/cli_util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *usage_main =
    "usage: kiln <command> [options]        kiln --version\n"
    "\n"
    "commands:\n"
    "  compile MODEL -o OUT     ahead-of-time: a shared library (.so) or object (.o) + header\n"
    "  run MODEL                JIT-compile and run; print outputs and latency (MODEL may be\n"
    "                           a library `compile` wrote: it is loaded and run as it ships)\n"
    "  dump MODEL               print the graph after shape inference and folding\n"
    "  bench MODEL              time each generated kernel against the machine's roofline\n"
    "                           (a library: its end-to-end latency)\n"
    "  tune MODEL --budget S -o LOG   search faster schedules within S seconds (docs/tuning.md)\n"
    "  check MODEL              list every problem that keeps MODEL from compiling (no codegen)\n"
    "  verify MODEL             check every kernel against the reference interpreter\n"
    "\n"
    "Every command takes --shape IN=DxDx.. (bind free input dims; a dim ? or a name, as\n"
    "in x=?x784, stays free: kiln_options.symbolic_dims) and --max-tensor-bytes N\n"
    "(a compile-time limit); compile, run, bench, tune, check and verify also take\n"
    "--max-nodes N (another limit);\n"
    "compile and run take --check-bounds (generated kernels check every load and store; a\n"
    "violation fails the run naming kernel and index) and --max-loop-iterations N (a Loop\n"
    "run that reaches N iterations fails naming the node; default 16777216). Every command\n"
    "takes --no-fuse (one\n"
    "kernel per graph node: elementwise ops are not fused into the kernel before them) and\n"
    "--no-layout (convolutions stay in NCHW instead of the blocked layout NCHWc).\n"
    "compile, run, dump, bench, check and verify take --tuning-log LOG (schedules `kiln tune`\n"
    "found). compile, run and dump take --target cpu|cuda-host|cuda (the backend; README's\n"
    "GPU); compile and run take --gpu-arch sm_NN (NVRTC's target: compile --target cuda's\n"
    "cubin, default sm_90; run --target cuda-host compiles for it too).\n"
    "An option of another command, an unknown option or a value that is not what the\n"
    "option wants (a whole number in its range...) is an error.\n"
    "\n"
    "`kiln <command> --help` describes each. Exit status: 0 on success, otherwise the\n"
    "kiln_status code of the failure (1 bad arguments, 2 missing file, 3 invalid model,\n"
    "4 unsupported op, 5 shape error, 6 limit, 7 out of memory, 8 I/O, 9 codegen, 10 internal,\n"
    "11 invalid input value: an index out of range...).\n"
    "SIGINT, SIGTERM, SIGHUP and SIGQUIT end kiln by that signal, leaving no temporary files.\n"
    "When stderr is a terminal, compiles show each step (pass, codegen) on one line there.\n";

static const char *usage_compile =
    "usage: kiln compile MODEL -o OUT [--name NAME] [--shape IN=DxDx..]... [--cpu CPU]\n"
    "                    [--features F] [--triple T] [--linker CMD] [--max-nodes N]\n"
    "                    [--max-tensor-bytes N] [--max-loop-iterations N] [--check-bounds]\n"
    "                    [--no-fuse] [--tuning-log LOG] [--report FILE]\n"
    "Writes OUT (a shared library if it ends in .so, else a relocatable object) and NAME.h\n"
    "beside it, with `int NAME_run(inputs..., outputs..., void *workspace)` and size macros.\n"
    "NAME defaults to \"model\". --shape binds free input dims (batch...); a dim ? or a\n"
    "name stays free: a .so (or an object for this host, linked with -pthread -lm) whose\n"
    "NAME_run_dims takes the input shapes (NAME.h says how).\n"
    "--linker CMD links a .so (default cc; needed for another arch's --triple).\n"
    "--tuning-log LOG applies the schedules of LOG's records that match each kernel and the\n"
    "target (`kiln tune`, docs/tuning.md); OUT records them (`kiln dump --tuning OUT`).\n"
    "--report FILE writes a JSON report: per kernel the graph nodes fused into it, its\n"
    "buffers' layouts, its schedule, FLOPs, bytes and code-building time, and each pass's\n"
    "time (docs/reports.md).\n";

static const char *usage_run =
    "usage: kiln run MODEL [--inputs DIR] [--random-inputs] [--seed N] [--output-dir DIR]\n"
    "                [--shape IN=DxDx..]... [--bucket IN=DxDx..]... [--repeat N] [--threads N]\n"
    "                [--max-nodes N] [--max-tensor-bytes N] [--max-loop-iterations N]\n"
    "                [--check-bounds] [--no-fuse] [--tuning-log LOG] [--target cpu|cuda-host|cuda]\n"
    "                [--report FILE]\n"
    "       kiln run LIB.so [--inputs DIR] [--random-inputs] [--seed N] [--output-dir DIR]\n"
    "                [--repeat N] [--threads N]\n"
    "Inputs come from DIR/input_<i>.pb (TensorProto, matched by the tensor's name, else by\n"
    "position i); every input needs a file, and every file an input, unless --random-inputs\n"
    "gives inputs without a file seeded random values (--seed, default 1). Without --inputs,\n"
    "all inputs are random. Free input dims are bound from the given inputs' shapes; with\n"
    "--shape IN=?x.. they stay free in the compiled code and each run binds them;\n"
    "--bucket IN=DxDx..[,IN2=..] (repeatable, with free dims) adds a variant compiled for\n"
    "exactly those shapes, which a run at them takes (printed as its variant).\n"
    "Prints each output's shape and a summary, and the median latency of --repeat runs\n"
    "(1 or more, default 10) after one warm-up; --threads N (1 or more) sets the number of\n"
    "threads, else KILN_NUM_THREADS or one per CPU kiln may use (its affinity mask).\n"
    "--output-dir writes DIR/output_<i>.pb. --tuning-log LOG applies a tuning log's\n"
    "schedules (`kiln tune`, docs/tuning.md). --target cuda-host runs the GPU backend's CUDA C\n"
    "on the CPU (compiled by `cc`), one GPU thread after another; --target cuda runs it on\n"
    "the GPU (NVRTC, a library `cc` builds in TMPDIR; without a CUDA driver the run fails\n"
    "naming libcuda.so.1). --report FILE: as for compile.\n"
    "LIB (a file starting with ELF's magic, whatever its name) is a library `kiln compile`\n"
    "wrote: it is loaded and run as its manifest describes it, with the same inputs, outputs\n"
    "and latency as a model; options of compiling do not apply to it.\n";

static const char *usage_dump =
    "usage: kiln dump MODEL [--shape IN=DxDx..]... [--kernels] [--after PASS] [--no-fuse]\n"
    "                 [--max-tensor-bytes N] [--tuning-log LOG]\n"
    "       kiln dump LIB --tuning\n"
    "       kiln dump MODEL --dsl [-o OUT.kiln | --dsl-weights DIR] [--max-tensor-bytes N]\n"
    "       kiln dump MODEL --cuda [--shape IN=DxDx..]... [--no-fuse]\n"
    "Prints the graph after the graph passes (binding, inference, folding...); --kernels\n"
    "runs the whole pipeline and also prints each kernel's IR and schedule (its loops and\n"
    "the recipe that made them; a kernel computes one node, or an elementwise chain fused\n"
    "into the node before it unless --no-fuse); --after PASS stops after that pass of the\n"
    "pipeline (limit, bind, infer, fold, fold-bn, layout, panels, dce, place, lower, fuse,\n"
    "memplan, coalesce, schedule, tune, instrument) and prints the graph, and the kernels\n"
    "from `lower` on. --dsl\n"
    "prints the model as\n"
    "imported, as kiln DSL text that compiles back to the same graph, to stdout or to OUT.\n"
    "Weights of more than 16 elements are referenced by name in MODEL when it is an .onnx\n"
    "file; otherwise they are written as .npy files to the folder OUT.weights beside OUT,\n"
    "or to DIR (made if missing) when printing to stdout, whose text names them by DIR as\n"
    "given: save it in the current folder or give an absolute DIR. With neither, they are\n"
    "printed inline. --tuning-log LOG applies a tuning log's schedules first (--kernels\n"
    "shows them). --tuning prints which schedules an AOT library or object (LIB) got from a\n"
    "tuning log when it was compiled. --cuda prints the program as the GPU backend's CUDA C\n"
    "(with --target cuda-host's schedules when given, else --target cuda's: the same).\n";

int cli_fail(const kiln_error *err) {
  fprintf(stderr, "kiln: %s\n", err->message);
  return err->code ? (int)err->code : 1;
}

/* A command line that is not what the command takes: say why, then how it is used. */
static int usage_error(const kiln_error *err, const char *usage) {
  fprintf(stderr, "kiln: %s\n\n%s", err->message, usage);
  return KILN_ERR_INVALID_ARGUMENT;
}

int cli_parse_command(cli_command cmd, int argc, char **argv, const char *usage, cli_args *a) {
  kiln_error err = {0};
  if (cli_parse(cmd, argc, argv, a, &err)) return usage_error(&err, usage);
  if (a->help) {
    cli_args_free(a);
    return printf("%s", usage), 0;
  }
  if (!a->model || (cmd == CLI_COMPILE && !a->out)) {
    kiln_fail(&err, KILN_ERR_INVALID_ARGUMENT, "%s", cmd == CLI_COMPILE ? "compile needs MODEL "
              "and -o OUT" : "no MODEL given");
    cli_args_free(a);
    return usage_error(&err, usage);
  }
  return -1;
}

static int cmd_compile(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  int rc = cli_parse_command(CLI_COMPILE, argc, argv, usage_compile, &a);
  if (rc >= 0) return rc;
  kiln_options opts = {.struct_size = sizeof opts};
  cli_fill_options(&a, &opts);
  cli_show_progress(&opts);
  kiln_status st = kiln_compile_aot(a.model, &opts, a.out, a.name ? a.name : "model", &err);
  if (st) cli_hint_unbound(a.model, &opts, &err);
  cli_args_free(&a);
  return st ? cli_fail(&err) : 0;
}

static void print_summary(const kiln_tensor_info *info, const void *data) {
  int64_t n = (int64_t)(info->bytes / kiln_dtype_size(info->dtype));
  printf("%s: %s[", info->name, kiln_dtype_name(info->dtype));
  for (int d = 0; d < info->rank; d++) printf("%s%lld", d ? "," : "", (long long)info->dims[d]);
  if (info->dtype == KILN_STRING) {
    printf("]  first:");
    for (int64_t i = 0; i < n && i < 5; i++) printf(" \"%.40s\"", ((char *const *)data)[i]);
    printf("\n");
    return;
  }
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

/* The model MODEL names: an AOT library (ELF's magic), loaded, or a model file, compiled with
 * free dims bound from the inputs; in either case the inputs matched to it (cli_inputs.c). */
kiln_status cli_open_model(cli_args *a, cli_inputs *in, cli_model *m, kiln_error *err) {
  memset(m, 0, sizeof *m);
  if (cli_is_elf(a->model)) {
    kiln_status st = cli_library_args_check(a, err);
    if (!st) st = cli_model_open_library(a->model, m, err);
    if (!st) st = cli_match_library_inputs(a, m, in, err);
    if (!st) cli_note_random_inputs(a, in);
    if (!st && cli_model_takes_shapes(m)) st = cli_model_bind_shapes(m, in, err);
    return st;
  }
  kiln_model *jit = NULL;
  kiln_status st = cli_load_inputs(a, in, err);
  if (!st) cli_note_random_inputs(a, in);
  if (!st) st = cli_compile(a, in, &jit, err);
  if (!st) cli_model_of_jit(jit, m);
  if (!st && (a->symbolic || cli_model_takes_shapes(m))) st = cli_model_bind_shapes(m, in, err);
  return st;
}

static int cmd_run(int argc, char **argv) {
  cli_args a;
  kiln_error err = {0};
  int rc = cli_parse_command(CLI_RUN, argc, argv, usage_run, &a);
  if (rc >= 0) return rc;
  rc = 0;
  cli_inputs in = {0};
  cli_model m = {0};
  void **outs = NULL;
  /* everything the command line says is checked before the (long) compile */
  kiln_status st = a.output_dir ? cli_prepare_output_dir(a.output_dir, &err) : KILN_OK;
  if (!st) st = cli_open_model(&a, &in, &m, &err);
  if (!st && m.lib) st = cli_model_set_threads(&m, a.threads, &err);
  if (!st) st = cli_fill_inputs(m.inputs, m.ninputs, &in, a.seed, &err);
  if (st) {
    rc = cli_fail(&err);
    goto done;
  }
  outs = cli_alloc_outputs(m.outputs, m.noutputs);
  int repeat = a.repeat ? a.repeat : 10;
  double *ms = kiln_xcalloc((size_t)repeat, sizeof(double));
  cli_pin_caller(true);
  for (int r = -1; r < repeat && !rc; r++) { /* r = -1 is the warm-up */
    cli_free_strings(m.outputs, m.noutputs, outs); /* the last run's, which are ours */
    int64_t t0 = kiln_rt_clock_ns();
    if (cli_model_run(&m, (const void *const *)in.data, outs, &err)) rc = cli_fail(&err);
    if (r >= 0) ms[r] = (double)(kiln_rt_clock_ns() - t0) / 1e6;
  }
  cli_pin_caller(false);
  if (!rc) {
    for (int i = 0; i < m.noutputs; i++) {
      print_summary(&m.outputs[i], outs[i]);
      if (a.output_dir && cli_write_output(a.output_dir, i, &m.outputs[i], outs[i], &err))
        rc = cli_fail(&err);
    }
    if (m.shaped && a.nbuckets) {
      if (m.variant < 0) printf("variant: generic (no bucket has these shapes)\n");
      else printf("variant: bucket %d\n", m.variant);
    }
    double med = kiln_median(ms, repeat); /* sorts: ms[0] is the minimum */
    printf("latency: median %.3f ms over %d runs (min %.3f ms)\n", med, repeat, ms[0]);
  }
  free(ms);
done:
  if (outs) cli_free_strings(m.outputs, m.noutputs, outs);
  cli_free_outputs(outs);
  cli_model_free(&m);
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
  if (!kiln_model_is_dsl(model, data, size)) {
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
  int rc = cli_parse_command(CLI_DUMP, argc, argv, usage_dump, &a);
  if (rc >= 0) return rc;
  if (a.tuning) {
    rc = cli_dump_tuning(a.model);
    cli_args_free(&a);
    return rc;
  }
  kiln_options opts = {.struct_size = sizeof opts};
  cli_fill_options(&a, &opts);
  if (a.cuda && !opts.target) opts.target = "cuda";
  kiln_graph *g = NULL;
  kiln_program *prog = NULL;
  kiln_status st = cli_import(a.model, &opts, &g, &err);
  if (!st && a.dsl) {
    st = dump_dsl(a.model, g, a.out, a.dsl_weights, &err);
    kiln_graph_free(g);
    cli_args_free(&a);
    return st ? cli_fail(&err) : 0;
  }
  /* the same pipeline as compiling, up to --after (default: the last graph pass, or with
   * --kernels all of it) */
  if (!st && (st = kiln_passes_until(g, &opts, a.after ? a.after : a.kernels || a.cuda ? NULL : "dce",
                                     &prog, &err)))
    cli_hint_unbound(a.model, &opts, &err);
  if (!st && a.cuda) st = cli_print_cuda(prog, &err);
  else if (!st) kiln_graph_dump(g, stdout);
  if (!st && prog && !a.cuda) cli_print_kernels(&prog->main, stdout);
  kiln_program_free(prog);
  kiln_graph_free(g);
  cli_args_free(&a);
  return st ? cli_fail(&err) : 0;
}

/* A killed kiln leaves no temporaries: the library registers them (and its compiler
 * processes) and removes them when asked; the handler then ends kiln by the signal, so
 * the exit status says what happened. */
static void on_signal(int sig) {
  kiln_remove_temporaries();
  signal(sig, SIG_DFL);
  raise(sig); /* delivered when the handler returns: the signal is blocked until then */
}

static void install_handlers(void) {
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction sa, old;
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
      continue; /* ignored by whoever started kiln (nohup, a background job): keep it so */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    sigaction(sigs[i], &sa, NULL);
  }
}

int main(int argc, char **argv) {
  install_handlers();
  if (argc < 2) return fprintf(stderr, "%s", usage_main), KILN_ERR_INVALID_ARGUMENT;
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) return printf("%s", usage_main), 0;
  if (!strcmp(argv[1], "--version") && argc == 2) return printf("kiln %s\n", kiln_version()), 0;
  if (!strcmp(argv[1], "compile")) return cmd_compile(argc - 2, argv + 2);
  if (!strcmp(argv[1], "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(argv[1], "dump")) return cmd_dump(argc - 2, argv + 2);
  if (!strcmp(argv[1], "bench")) return cli_bench(argc - 2, argv + 2);
  if (!strcmp(argv[1], "tune")) return cli_tune(argc - 2, argv + 2);
  if (!strcmp(argv[1], "check")) return cli_check(argc - 2, argv + 2);
  if (!strcmp(argv[1], "verify")) return cli_verify(argc - 2, argv + 2);
  fprintf(stderr, "kiln: unknown command '%s'\n%s", argv[1], usage_main);
  return 1;
}
