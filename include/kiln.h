/* kiln — a deep-learning graph compiler. The one public header.
 *
 * Conventions (after Lua and SQLite): every call returns a kiln_status; on failure it
 * fills the caller's kiln_error (which may be NULL) with the code and one message naming
 * the node, tensor or line at fault. The library never prints. Handles are opaque.
 *
 *   kiln_model *m; kiln_error err;
 *   if (kiln_compile_file("net.onnx", NULL, &m, &err)) { fprintf(stderr, "%s\n", err.message); ... }
 *   kiln_run(m, inputs, outputs, &err);   // caller-owned buffers, no copies
 *   kiln_model_free(m);
 */
#ifndef KILN_H
#define KILN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kiln_status {
  KILN_OK = 0,
  KILN_ERR_INVALID_ARGUMENT, /* a bad argument to an API call or CLI */
  KILN_ERR_NO_SUCH_FILE,     /* a model, data or external-weights file is missing */
  KILN_ERR_INVALID_MODEL,    /* malformed or inconsistent model file */
  KILN_ERR_UNSUPPORTED,      /* an op, attribute or type kiln does not implement */
  KILN_ERR_SHAPE,            /* shapes that do not agree, or a free dim left unbound */
  KILN_ERR_LIMIT,            /* a size beyond the configured compile-time limits */
  KILN_ERR_OUT_OF_MEMORY,    /* an allocation failed: the call returns this instead of ending
                                the process; what it had allocated so far stays allocated */
  KILN_ERR_IO,               /* reading or writing a file failed */
  KILN_ERR_CODEGEN,          /* LLVM or the system linker failed */
  KILN_ERR_INTERNAL,         /* a bug in kiln */
  KILN_ERR_INVALID_INPUT     /* kiln_run: an input value the model cannot take, such as
                                an index out of range (the message names node and index) */
} kiln_status;

typedef struct kiln_error {
  kiln_status code;
  char message[4096]; /* one error; or several, one per line (DSL diagnostics) */
} kiln_error;

/* Element types, numbered as ONNX's TensorProto.DataType so files map one to one.
 * KILN_STRING: an element is a `char *`, a NUL-terminated UTF-8 string (an input's NULL
 * reads as ""). Strings come in as graph inputs (not as constants, and not through AOT
 * libraries or the GPU target, which refuse them by name). A successful run sets each
 * element of a string output to a string malloc'd for the caller, who frees each with
 * free(); a failed run leaves them NULL. */
typedef enum kiln_dtype {
  KILN_UNDEFINED = 0,
  KILN_F32 = 1, KILN_U8 = 2, KILN_I8 = 3, KILN_U16 = 4, KILN_I16 = 5, KILN_I32 = 6,
  KILN_I64 = 7, KILN_STRING = 8, KILN_BOOL = 9, KILN_F16 = 10, KILN_F64 = 11,
  KILN_U32 = 12, KILN_U64 = 13, KILN_BF16 = 16,
  /* 8-bit floats, one byte each (ONNX's FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2,
   * FLOAT8E5M2FNUZ): kiln computes with them in f32, as with f16 and bf16 */
  KILN_F8E4M3FN = 17, KILN_F8E4M3FNUZ = 18, KILN_F8E5M2 = 19, KILN_F8E5M2FNUZ = 20,
  /* 4- and 2-bit types (UINT4, INT4, FLOAT4E2M1, UINT2, INT2). ONNX files pack them; kiln's
   * buffers hold one element per byte: an int its value as an int8 or uint8 (sign- or
   * zero-extended), a float4 its code in the low 4 bits */
  KILN_U4 = 21, KILN_I4 = 22, KILN_F4E2M1 = 23, KILN_U2 = 25, KILN_I2 = 26,
  /* FLOAT8E8M0, the scales of microscaling formats: 2^(code - 127), 0xFF NaN, one byte */
  KILN_F8E8M0 = 24
} kiln_dtype;

#define KILN_MAX_RANK 8

/* kiln's version, the one source of truth (CMake reads these lines for the project's
 * version and libkiln.so's SONAME, libkiln.so.MAJOR). A tuning log (kiln_options.tuning_log)
 * applies only records made by the same version, since another version's code for the same
 * schedule may be faster or slower. */
#define KILN_VERSION_MAJOR 0
#define KILN_VERSION_MINOR 1
#define KILN_VERSION_PATCH 0
#define KILN_VERSION_TEXT_(a, b, c) #a "." #b "." #c
#define KILN_VERSION_TEXT(a, b, c) KILN_VERSION_TEXT_(a, b, c)
#define KILN_VERSION KILN_VERSION_TEXT(KILN_VERSION_MAJOR, KILN_VERSION_MINOR, KILN_VERSION_PATCH)

/* The version of the library running, "MAJOR.MINOR.PATCH" as its KILN_VERSION (a static
 * string): it may be newer than the header a program was compiled with. */
const char *kiln_version(void);

typedef struct kiln_tensor_info {
  const char *name;
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  size_t bytes; /* dense row-major size of the buffer kiln reads or writes */
} kiln_tensor_info;

/* A free dim bound at compile time: e.g. {"input", 0, 1} binds dim 0 of "input" to 1. */
typedef struct kiln_shape_binding {
  const char *input;
  int rank;
  int64_t dims[KILN_MAX_RANK];
} kiln_shape_binding;

/* A shape bucket (kiln_options.buckets): the shapes of some inputs, binding their free dims;
 * with `shapes`, every free dim must be bound. */
typedef struct kiln_bucket {
  const kiln_shape_binding *shapes;
  int nshapes;
} kiln_bucket;

/* A graph input whose value is known when compiling (e.g. a shape tensor): it becomes a
 * constant, which lets shapes that depend on it be inferred and folded. */
typedef struct kiln_input_value {
  const char *input;
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
  const void *data;
} kiln_input_value;

/* Compile options. A program and the library may come from different versions: the
 * struct only grows at its end, and struct_size tells the library how much of it the
 * caller's header had. Start from kiln_options_init(&o) (or, in C, an initializer that sets
 * `.struct_size = sizeof o`), then set fields; every field left 0 takes its default. The
 * library reads struct_size bytes and no more: fields past them (a program built against an
 * older header) take their defaults; bytes past the library's own struct (a newer header)
 * must be 0, else the compile fails with KILN_ERR_UNSUPPORTED. A struct_size below
 * sizeof(size_t) (a zeroed struct) or above 4096 fails with KILN_ERR_INVALID_ARGUMENT.
 * A NULL kiln_options * means every default. */
typedef struct kiln_options {
  size_t struct_size;        /* sizeof(kiln_options) as the caller was compiled */
  const kiln_shape_binding *shapes; /* may be NULL */
  int nshapes;
  const kiln_input_value *values;   /* may be NULL */
  int nvalues;
  const char *cpu;           /* LLVM CPU name ("x86-64-v3"); NULL = this host's */
  const char *features;      /* LLVM features ("+avx2,-fma") added to the CPU's; NULL = none
                                added to a named CPU, else this host's. Unknown CPU or feature
                                names fail with KILN_ERR_INVALID_ARGUMENT */
  const char *triple;        /* NULL = this host's */
  int num_threads;           /* threads a JIT run uses; 0 = the default, one per CPU of the
                                process's affinity mask (or KILN_NUM_THREADS=N). Runs use
                                kiln's own pool: the caller's OpenMP settings are never
                                changed */
  int64_t max_tensor_bytes;  /* 0 = default limit (16 GiB) */
  const char *base_dir;      /* where external data files live (compile_buffer); NULL = cwd */
  int check_bounds;          /* debug: generated kernels check every load and store against
                                their buffer's bounds; kiln_run then fails with
                                KILN_ERR_INTERNAL naming the kernel, buffer and index */
  int64_t max_nodes;         /* 0 = default limit (100000 graph nodes, expansions included) */
  const char *linker;        /* AOT .so: the C compiler driver that links it, run as
                                `linker -shared -o OUT OBJ -fopenmp -lm` (words split at
                                blanks, no shell); NULL = "cc", which only links for the
                                host's architecture */
  int profile;               /* JIT: generated code times each kernel step of a run (two
                                clock reads around it) for kiln's tools (`kiln bench`); 0 =
                                no timing code. kiln_compile_aot refuses it */
  int no_fuse;               /* 1 = one kernel per graph node: elementwise ops are not fused
                                into the kernel before them (to compare with the fused code) */
  int no_layout;             /* 1 = convolutions keep the plain NCHW layout instead of the
                                blocked one (to compare with the blocked code) */
  const char *tuning_log;    /* a tuning log (`kiln tune -o LOG`, docs/tuning.md): after the
                                default schedules, each kernel whose content hash, target
                                (triple, CPU, features, thread count: num_threads, else the
                                default count) and KILN_VERSION match a record gets that
                                record's schedules, the fastest record's when several match;
                                other records are ignored. A log that cannot be read or has a
                                malformed line fails the compile naming the file and line.
                                NULL = default schedules only */
  const char *target;        /* the backend: NULL or "cpu" (LLVM, this file's default);
                                "cuda-host": the GPU backend's CUDA C run on the host (each
                                GPU thread in turn, for testing; compiled by `cc`); "cuda":
                                NVIDIA GPUs (JIT: NVRTC, then `cc` builds the AOT library in
                                TMPDIR and loads it; the CUDA driver, libcuda.so.1, is opened
                                at the first run, which without it fails with
                                KILN_ERR_UNSUPPORTED). GPU targets ignore tuning_log, cpu,
                                features and triple */
  const char *gpu_arch;      /* the GPU architecture NVRTC (libnvrtc.so, loaded at run time)
                                compiles the CUDA C for ("sm_90"): target "cuda" embeds that
                                cubin (NULL = sm_90 for AOT; for JIT, this machine's GPU's,
                                else sm_90); with "cuda-host", when set, the
                                source is also compiled for it and an error fails the compile */
  const char *report;        /* a JSON report of the compile written to this path (atomically,
                                after the code; docs/reports.md): per kernel the graph nodes
                                it computes, its buffers' layouts, its schedule, FLOPs, bytes
                                and code-building time, and each pass's time. A path where no
                                file can be created fails the compile before any work. NULL =
                                none */
  void (*progress)(void *user, const char *step, int done, int total);
                             /* called on the compiling thread as each long step of a compile
                                begins: step is the pass of the pipeline ("infer", "fuse"...)
                                or "codegen", done the steps finished before it, of total; at
                                the end of the compile (success or failure) once more with
                                step NULL and done == total. For progress displays: kiln
                                prints nothing itself. NULL = none */
  void *progress_user;       /* passed to progress as user */
  int symbolic_dims;         /* 1 = free dims stay free: an input dim the model leaves free
                                (a dim_param, or unknown) or that `shapes` gives as -1 is
                                bound at each run from the inputs' shapes (kiln_run_arrays),
                                and the model compiles once for all its values. Only some ops
                                take free dims (elementwise and activations, Cast, Where,
                                MatMul, Gemm, Softmax, LayerNormalization, Reduce*, ArgMax,
                                ArgMin, CumSum, Transpose, Concat, Split, Slice, Gather,
                                GatherElements, GatherND, ScatterND, ScatterElements,
                                OneHot, Expand, Tile, Pad, Trilu, Range, ConstantOfShape,
                                DepthToSpace, Einsum, TopK, Dropout, InstanceNormalization,
                                LpNormalization, LRN, QuantizeLinear, DequantizeLinear,
                                MatMulInteger, GridSample, Resize, Reshape, Flatten,
                                Squeeze, Unsqueeze, Conv, ConvTranspose, the pooling ops,
                                BatchNormalization, RNN/GRU/LSTM (a free batch, not a
                                free sequence); Shape and Size read any, and shapes
                                computed from them fold into expressions of the free dims);
                                a free dim reaching another fails with KILN_ERR_UNSUPPORTED
                                naming the node and dim. Targets cpu and cuda-host (cuda refuses it);
                                kiln_compile_aot writes shared libraries and object files for
                                this host with it (whose header's <name>_run_dims takes the
                                shapes; an object links with -pthread -lm); another triple
                                fails (KILN_ERR_UNSUPPORTED). 0 = every free dim must be bound */
  const kiln_bucket *buckets; /* with symbolic_dims: one more variant per bucket, compiled as
                                if `shapes` bound those dims (static extents, its own
                                default and tuned schedules); a run whose input shapes all
                                match a bucket exactly runs it, any other the generic code.
                                A bucket the generic code could not take fails the compile
                                (KILN_ERR_SHAPE naming the bucket and input). JIT and AOT
                                (<name>_run_variant says which runs). NULL = none */
  int nbuckets;
  int64_t max_loop_iterations; /* a Loop compiled once (run as a loop) whose run reaches this
                                many iterations stops, and the run fails with
                                KILN_ERR_INVALID_INPUT naming the node: a hostile trip count
                                or condition never hangs a run. 0 = the default,
                                KILN_DEFAULT_LOOP_ITERATIONS */
} kiln_options;

#define KILN_DEFAULT_LOOP_ITERATIONS (INT64_C(1) << 24)

/* Every field 0 (its default) and struct_size = this header's sizeof(kiln_options). */
static inline void kiln_options_init(kiln_options *opts) {
  unsigned char *p = (unsigned char *)opts;
  for (size_t i = 0; i < sizeof *opts; i++) p[i] = 0;
  opts->struct_size = sizeof *opts;
}

typedef struct kiln_model kiln_model;

/* ONNX protobuf or kiln DSL text: a file ending in .kiln is DSL, one ending in .onnx is
 * ONNX; any other file or buffer is DSL when it is text that is not an ONNX model. */
kiln_status kiln_compile_file(const char *path, const kiln_options *opts, kiln_model **out,
                              kiln_error *err);
kiln_status kiln_compile_buffer(const void *data, size_t size, const kiln_options *opts,
                                kiln_model **out, kiln_error *err);
void kiln_model_free(kiln_model *model);

int kiln_num_inputs(const kiln_model *model);
int kiln_num_outputs(const kiln_model *model);
kiln_status kiln_input_info(const kiln_model *model, int index, kiln_tensor_info *info);
kiln_status kiln_output_info(const kiln_model *model, int index, kiln_tensor_info *info);
/* Index of the input or output with that name, or -1. */
int kiln_input_index(const kiln_model *model, const char *name);
int kiln_output_index(const kiln_model *model, const char *name);

/* Runs the model once. inputs[i] / outputs[i] point to dense row-major buffers of
 * kiln_*_info().bytes each, in graph order. Safe to call from several threads at once.
 * The model keeps the scratch memory of a run for the next one (a run while another holds
 * it allocates its own); kiln_model_free releases it. */
kiln_status kiln_run(const kiln_model *model, const void *const *inputs, void *const *outputs,
                     kiln_error *err);

/* ---- free dims (kiln_options.symbolic_dims) ----
 * kiln_input_info / kiln_output_info report a free dim as -1 (and bytes as 0); each is named
 * by kiln_dim_name. Such a model runs through kiln_run_arrays, which takes each input's
 * shape; kiln_run refuses it (KILN_ERR_INVALID_ARGUMENT). Memory is planned at run time once
 * per distinct shape (the last shape's plan is kept). A size the run computes from values
 * (NonZero, Unique or NonMaxSuppression of run-time values, the scan outputs of a Loop its
 * condition may end early: README, sizes that depend on values) is such a dim too,
 * with or without symbolic_dims: kiln_output_info reports it as -1, kiln_output_shapes
 * gives its largest value (allocate that) and kiln_run_arrays the one the run found. */
typedef struct kiln_array {
  void *data;        /* dense row-major; const for inputs */
  kiln_dtype dtype;
  int rank;
  int64_t dims[KILN_MAX_RANK];
} kiln_array;

/* The name of free dim `dim` of input `input` ("N", or "<input>:<dim>" for an anonymous
 * one), or NULL when that dim is static (or out of range). */
const char *kiln_dim_name(const kiln_model *model, int input, int dim);

/* Output shapes (dtype, rank, dims; data untouched) for inputs of these shapes (their data
 * is not read). An input whose dtype, rank or static dims differ from the model's, a free
 * dim below 1, two inputs giving one named dim different sizes, or sizes whose tensors
 * overflow fail with KILN_ERR_INVALID_INPUT naming the input and dim. A size the run
 * computes from values is given at its largest (NonZero's count: its input's element
 * count; a Loop's iterations: its trip count). Works for static models too. */
kiln_status kiln_output_shapes(const kiln_model *model, const kiln_array *inputs,
                               kiln_array *outputs, kiln_error *err);

/* Runs the model on inputs of the shapes given (checked as kiln_output_shapes does):
 * outputs[i].data are caller-owned buffers large enough for the output shapes
 * kiln_output_shapes gives, and the call writes the outputs' dtype, rank and dims into
 * outputs[i] (a size the run computes: what it found, at most that, maybe 0; the data is
 * dense at those dims). Safe from several threads at once. */
kiln_status kiln_run_arrays(const kiln_model *model, const kiln_array *inputs,
                            kiln_array *outputs, kiln_error *err);

/* The variant kiln_run_arrays runs at these input shapes: i for bucket i
 * (kiln_options.buckets), -1 for the generic code (or bad arguments). */
int kiln_run_variant(const kiln_model *model, const kiln_array *inputs);

/* Target "cuda": runs the model once on caller-owned GPU memory, with no copies. inputs[i]
 * and outputs[i] are CUdeviceptr values (cast to void *) of kiln_*_info().bytes each, on
 * device 0 (whose primary context, the one the CUDA runtime, PyTorch and CuPy use, the
 * model runs in); stream is a CUstream of that context (NULL: the default stream). The
 * launches are queued on stream after the model's previous run (the runs share the model's
 * device memory) and the call returns once they are queued, or for a model with If or
 * index checks once they are done. Outputs are ready when stream gets there. A model of
 * another target fails with KILN_ERR_INVALID_ARGUMENT; no CUDA driver or GPU, with
 * KILN_ERR_UNSUPPORTED (as kiln_run). Safe to call from several threads (runs take turns). */
kiln_status kiln_run_device(const kiln_model *model, const void *const *inputs,
                            void *const *outputs, void *stream, kiln_error *err);

/* Ahead-of-time: writes a self-contained shared library (path ends in .so) or an object
 * file (.o) plus, beside it, a C header `<name>.h` with a typed entry point
 * `int <name>_run(...)` and size macros. `name` is a C identifier; NULL = "model". */
kiln_status kiln_compile_aot(const char *model_path, const kiln_options *opts,
                             const char *out_path, const char *name, kiln_error *err);

/* For a program's own SIGINT/SIGTERM handler: stops the compiler and linker processes
 * that kiln_compile_aot calls in progress have started (each runs in its own process
 * group) and deletes the temporary files of every write in progress (AOT outputs, written
 * tensors). Async-signal-safe. What was in progress is left unusable: end the process next
 * (e.g. restore the default action and raise the signal again). kiln installs no signal
 * handler of its own. */
void kiln_remove_temporaries(void);

const char *kiln_status_name(kiln_status status);
const char *kiln_dtype_name(kiln_dtype dtype);
size_t kiln_dtype_size(kiln_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
