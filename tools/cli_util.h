/* Argument parsing and input handling shared by the kiln subcommands. */
#ifndef KILN_TOOLS_CLI_UTIL_H
#define KILN_TOOLS_CLI_UTIL_H

#include "kiln.h"

#include "ir/graph.h"
#include "ir/program.h"

#include <stdio.h>

#define CLI_MAX_SHAPES 64
#define CLI_MAX_INPUTS 256

#define CLI_MAX_REPEAT 1000000
#define CLI_MAX_THREADS 4096

/* The commands; an option is taken by some of them (tools/cli_args.c). */
typedef enum cli_command {
  CLI_COMPILE = 1, CLI_RUN = 2, CLI_DUMP = 4, CLI_BENCH = 8, CLI_TUNE = 16, CLI_CHECK = 32,
  CLI_VERIFY = 64
} cli_command;

#define CLI_MAX_THREAD_COUNTS 16

/* Numbers left 0 were not given (the library's defaults apply). */
typedef struct cli_args {
  const char *model, *out, *name, *inputs_dir, *output_dir, *cpu, *features, *triple, *linker,
      *dsl_weights, *after, *tuning_log, *target, *gpu_arch;
  const char *report, *html; /* compile/run --report FILE; bench --html FILE */
  kiln_shape_binding shapes[CLI_MAX_SHAPES];
  int nshapes;
  kiln_bucket buckets[CLI_MAX_SHAPES];              /* --bucket, one each */
  kiln_shape_binding bucket_shapes[CLI_MAX_SHAPES]; /* theirs, in order */
  int nbuckets, nbucket_shapes;
  bool symbolic; /* some --shape dim is "?" or a name: kiln_options.symbolic_dims */
  unsigned seed; /* 1 unless given */
  int repeat, threads;
  int thread_counts[CLI_MAX_THREAD_COUNTS]; /* bench --threads 1,2,4 */
  int nthread_counts;
  double peak_gflops, peak_gbs; /* bench: 0 = measure */
  double budget;                /* tune: seconds */
  int shard, nshards;           /* tune --shard K/N; nshards 0 = not given */
  int64_t max_nodes, max_tensor_bytes, max_loop_iterations;
  bool kernels, help, check_bounds, dsl, random_inputs, json, profile, no_fuse, no_layout,
      tuning, list_kernels, cuda;
} cli_args;

/* A DIR/input_<k>.pb file given to `kiln run --inputs DIR`. */
typedef struct cli_input_file {
  char *path;
  int position; /* k */
  char *name;   /* the tensor's name in the file ("" if none) */
  kiln_tensor t;
} cli_input_file;

/* Input data for a run: the files, the model's declared inputs they go to, and the
 * buffers handed to kiln_run. */
typedef struct cli_inputs {
  int nfiles;
  cli_input_file files[CLI_MAX_INPUTS]; /* in order of position */
  int ngraph;
  char *graph_names[CLI_MAX_INPUTS]; /* the model's declared inputs, in order */
  int file_of[CLI_MAX_INPUTS];       /* per declared input: its file, or -1 */
  void *data[CLI_MAX_INPUTS];        /* per compiled-model input */
  bool owned[CLI_MAX_INPUTS];
} cli_inputs;

/* Parses cmd's arguments: an option of another command, an unknown one or a bad value is
 * an error (nothing to free then). */
kiln_status cli_parse(cli_command cmd, int argc, char **argv, cli_args *a, kiln_error *err);
void cli_args_free(cli_args *a);
void cli_fill_options(const cli_args *a, kiln_options *opts);

/* Reads an ONNX or DSL model as imported (the DSL importer honours opts' limits). */
kiln_status cli_import(const char *path, const kiln_options *opts, kiln_graph **g,
                       kiln_error *err);
/* Reads the model's input names and --inputs DIR/input_<k>.pb, matched to them (by the
 * tensor's name, else by position k) and checked against their declarations; an input
 * without a file is an error unless --random-inputs, a file for no input always. */
kiln_status cli_load_inputs(const cli_args *a, cli_inputs *in, kiln_error *err);
/* The same for inputs declared as decl[0..n) (an AOT library's, from its manifest). */
kiln_status cli_match_inputs(const cli_args *a, const kiln_value *const *decl, int n,
                             cli_inputs *in, kiln_error *err);
/* The file given for the declared input `name`, or NULL. */
const cli_input_file *cli_input_file_for(const cli_inputs *in, const char *name);
/* After a compile of model with opts failed: when what failed is free input dims left
 * unbound, adds to err's message the --shape options that bind them (the library's
 * message speaks to a library caller, of kiln_options.shapes). */
void cli_hint_unbound(const char *model, const kiln_options *opts, kiln_error *err);
/* When stderr is a terminal, has the compiles with opts show their steps on it. */
void cli_show_progress(kiln_options *opts);
/* Compiles with free dims bound from the given inputs (showing progress); when shapes depend on an input's
 * value, compiles again with the given integer inputs fixed as constants. */
kiln_status cli_compile(const cli_args *a, cli_inputs *in, kiln_model **m, kiln_error *err);
/* Points in->data at the files' tensors (checked against the compiled model's inputs,
 * infos[0..ninfos)) or, for inputs without a file, at seeded random data. */
kiln_status cli_fill_inputs(const kiln_tensor_info *infos, int ninfos, cli_inputs *in,
                            unsigned seed, kiln_error *err);
void cli_inputs_free(cli_inputs *in);
/* Tells stderr which inputs got random values for want of a file in --inputs DIR. */
void cli_note_random_inputs(const cli_args *a, const cli_inputs *in);
/* m's inputs' (or outputs') infos, malloc'd. */
kiln_tensor_info *cli_infos(const kiln_model *m, bool outputs);
/* A buffer for each output infos[0..n), zeroed, in a NULL-terminated array; and its
 * release. */
void **cli_alloc_outputs(const kiln_tensor_info *infos, int n);
/* A run's string outputs are the caller's (kiln.h): frees their elements, NULLs them. */
void cli_free_strings(const kiln_tensor_info *infos, int n, void **outs);
void cli_free_outputs(void **outs);
/* Makes DIR (and its parents) and checks that files can be created in it: run checks
 * --output-dir before compiling, not after. */
kiln_status cli_prepare_output_dir(const char *dir, kiln_error *err);
kiln_status cli_write_output(const char *dir, int i, const kiln_tensor_info *info,
                             const void *data, kiln_error *err);
void cli_print_kernels(const kiln_steps *steps, FILE *out);
/* Prints p as CUDA C (codegen/cuda.h) to stdout, once it is all emitted. */
kiln_status cli_print_cuda(const kiln_program *p, kiln_error *err);

/* What `kiln run` and `kiln bench` run: a model JIT-compiled from MODEL, or an AOT library
 * (tools/cli_artifact.c), with its inputs' and outputs' infos either way. */
typedef struct cli_artifact cli_artifact;
typedef struct cli_model {
  kiln_model *jit;
  cli_artifact *lib;
  int ninputs, noutputs;
  kiln_tensor_info *inputs, *outputs;
  bool shaped; /* a model with free dims: inputs/outputs hold this run's shapes
                  (cli_model_bind_shapes), and runs go through kiln_run_arrays or the
                  library's <name>_run_dims */
  int variant; /* shaped: the bucket those shapes run (kiln_run_variant), -1 generic */
} cli_model;

/* --shape with free dims (? or a name): the free dims of m's inputs take the sizes of the
 * input files (a free input without one is an error) and its outputs' shapes follow. */
kiln_status cli_model_bind_shapes(cli_model *m, const cli_inputs *in, kiln_error *err);
/* A JIT model whose inputs or outputs have a dim -1 (free, or a size its run computes), or
 * a library with free dims: it needs cli_model_bind_shapes. */
bool cli_model_takes_shapes(const cli_model *m);
/* A shaped model's buffers as the kiln_arrays kiln_run_arrays takes: inputs at m's bound
 * shapes, outputs to be shaped by the run. */
void cli_model_arrays(const cli_model *m, const void *const *inputs, void *const *outputs,
                      kiln_array *in, kiln_array *out);

/* tools/cli_artifact.c: whether path's file starts with ELF's magic (an AOT library). */
bool cli_is_elf(const char *path);
/* Loads the AOT library at path as its manifest describes it; a file that is no library
 * kiln compiled for this machine is an error. Free m with cli_model_free, even on error. */
kiln_status cli_model_open_library(const char *path, cli_model *m, kiln_error *err);
/* The library's manifest (NULL for a JIT model). */
struct kiln_json;
const struct kiln_json *cli_model_manifest(const cli_model *m);
/* m around a JIT model, which it then owns. */
void cli_model_of_jit(kiln_model *jit, cli_model *m);
kiln_status cli_model_run(const cli_model *m, const void *const *inputs, void *const *outputs,
                          kiln_error *err);
/* The threads m's runs use from now on (0 = the default); a library that cannot be told
 * is an error unless n is 0. */
kiln_status cli_model_set_threads(cli_model *m, int n, kiln_error *err);
void cli_model_free(cli_model *m);
/* cli_load_inputs for a library's inputs. */
kiln_status cli_match_library_inputs(const cli_args *a, const cli_model *m, cli_inputs *in,
                                     kiln_error *err);
/* Options that only compiling takes are errors with a library (its code is made). */
kiln_status cli_library_args_check(const cli_args *a, kiln_error *err);

/* tools/kiln.c: what `kiln run` and `kiln bench` run: MODEL's library loaded, or its model
 * compiled, with the inputs --inputs gives matched to it (free m even on error). */
kiln_status cli_open_model(cli_args *a, cli_inputs *in, cli_model *m, kiln_error *err);
/* tools/kiln.c: prints err, returns the exit status for it. */
int cli_fail(const kiln_error *err);
/* tools/kiln.c: parses cmd's arguments; on a bad command line or --help returns the exit
 * status to end with (>= 0) after printing why and usage, else -1 and a is filled. */
int cli_parse_command(cli_command cmd, int argc, char **argv, const char *usage, cli_args *a);

/* tools/cli_bench.c: `kiln bench` */
int cli_bench(int argc, char **argv);
/* tools/cli_bench.c: pins the calling thread, for timed runs, to the CPU kiln's pinned
 * workers leave it (kiln_rt_caller_cpu: a worker and the caller then never share a core,
 * whatever the scheduler does), or (off) gives it its mask back. */
void cli_pin_caller(bool on);
/* tools/cli_bench.c: median end-to-end milliseconds of repeat runs of m after a warm-up. */
kiln_status cli_time_model(const cli_model *m, cli_inputs *in, void **outs, int repeat,
                           double *ms, kiln_error *err);
/* tools/cli_bench_library.c: `kiln bench LIB` (a's model is an AOT library). */
int cli_bench_library(cli_args *a);
/* tools/cli_check.c: `kiln check` */
int cli_check(int argc, char **argv);
/* tools/cli_verify.c: `kiln verify` */
int cli_verify(int argc, char **argv);
/* tools/cli_tune.c: `kiln tune` */
int cli_tune(int argc, char **argv);
/* tools/cli_tune.c: `kiln dump --tuning FILE`: the tuning text an AOT file carries. */
int cli_dump_tuning(const char *path);
/* tools/cli_roofline.c: the roofline of a bench report (measured) drawn as one
 * self-contained XHTML page with inline SVG, written to path atomically. */
struct kiln_report;
kiln_status cli_write_roofline(const struct kiln_report *r, const char *path, kiln_error *err);
/* tools/cli_peak.c: this machine's peak FMA throughput (GFLOP/s) and streaming-read
 * bandwidth (GB/s) on `threads` threads, measured in some 100 ms. */
void cli_measure_peak(int threads, double *gflops, double *gbs);

#endif
