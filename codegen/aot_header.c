/* The C header of an AOT library: sizes and shapes as macros, and the typed prototype of
 * `<name>_run` whose parameters are the model's tensors in graph order. */
#include "codegen/plumbing.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kiln_aot_c_type(kiln_dtype t) {
  switch (t) {
  case KILN_F32: return "float";
  case KILN_F64: return "double";
  case KILN_I8: return "int8_t";
  case KILN_U8: return "uint8_t";
  case KILN_I16: return "int16_t";
  case KILN_U16: return "uint16_t";
  case KILN_I32: return "int32_t";
  case KILN_U32: return "uint32_t";
  case KILN_I64: return "int64_t";
  case KILN_U64: return "uint64_t";
  case KILN_BOOL: return "uint8_t";                /* one byte, 0 or 1 */
  case KILN_F16: case KILN_BF16: return "uint16_t"; /* raw bits */
  case KILN_F8E4M3FN: case KILN_F8E4M3FNUZ: case KILN_F8E5M2: case KILN_F8E5M2FNUZ:
  case KILN_F4E2M1: return "uint8_t"; /* raw bits */
  case KILN_I4: case KILN_I2: return "int8_t";  /* one element a byte, its value */
  case KILN_U4: case KILN_U2: return "uint8_t";
  default: return "void";
  }
}

static bool is_keyword(const char *s) {
  static const char *const kw[] = {
      "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
      "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
      "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
      "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool", "true",
      "false", "_Bool", "_Complex", "_Imaginary", "_Alignas", "_Alignof", "_Atomic",
      "_Generic", "_Noreturn", "_Static_assert", "_Thread_local", "workspace", NULL};
  for (int i = 0; kw[i]; i++)
    if (strcmp(s, kw[i]) == 0) return true;
  return false;
}

/* A C identifier from a tensor name, unique among names[0..n-1]. Malloc'd. */
static char *param_name(const char *tensor, const char *fallback, char **names, int n) {
  char *base;
  if (!tensor || !*tensor) {
    base = kiln_xstrdup(fallback);
  } else {
    size_t len = strlen(tensor);
    bool lead = !(isalpha((unsigned char)tensor[0])); /* digits, '_', punctuation */
    base = kiln_xmalloc(len + 3);
    char *o = base;
    if (lead) *o++ = 't', *o++ = '_';
    for (size_t i = 0; i < len; i++)
      *o++ = isalnum((unsigned char)tensor[i]) ? tensor[i] : '_';
    *o = 0;
  }
  char *s = is_keyword(base) ? kiln_fmt("%s_", base) : kiln_xstrdup(base);
  for (int k = 2;; k++) {
    bool clash = false;
    for (int i = 0; i < n && !clash; i++) clash = strcmp(names[i], s) == 0;
    if (!clash) break;
    free(s);
    s = kiln_fmt("%s_%d", base, k);
  }
  free(base);
  return s;
}

/* The tensor name as a C string literal body. */
static void put_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 32 || c >= 127) fprintf(f, "\\%03o", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static int64_t elements(const kiln_io *t) {
  int64_t n = 1;
  for (int d = 0; d < t->rank; d++) n *= t->dims[d];
  return n;
}

static void put_shape(FILE *f, const kiln_io *t, bool brackets) {
  fputs(brackets ? "[" : "{", f);
  for (int d = 0; d < t->rank; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)t->dims[d]);
  if (t->rank == 0) fputs(brackets ? "" : "1", f); /* a scalar: one element */
  fputs(brackets ? "]" : "}", f);
}

/* With free dims: what each dim of t is ("N", "N*S", "64"), as a comment. */
static void put_free_dims(FILE *f, const kiln_program *p, const kiln_io *t) {
  fputs("/* [", f);
  for (int d = 0; d < t->rank; d++) {
    char buf[160];
    fprintf(f, "%s%s", d ? ", " : "",
            kiln_symdim_str(&t->sdims[d], (const char *const *)p->sym_names, buf, sizeof buf));
  }
  fputs("]: -1 in SHAPE, SIZE and BYTES is a free dim */\n", f);
}

static void put_macros(FILE *f, const kiln_program *p, const char *up, const char *kind, int i,
                       const kiln_io *t) {
  fprintf(f, "#define %s_%s_%d_NAME ", up, kind, i);
  put_string(f, t->name);
  fprintf(f, "\n#define %s_%s_%d_RANK %d\n", up, kind, i, t->rank);
  if (t->sdims) put_free_dims(f, p, t);
  if (p->nsyms) /* for <name>_tensor */
    fprintf(f, "#define %s_%s_%d_DTYPE %d\n", up, kind, i, (int)t->dtype);
  fprintf(f, "#define %s_%s_%d_SHAPE ", up, kind, i);
  put_shape(f, t, false);
  fprintf(f, "\n#define %s_%s_%d_SIZE %lld\n", up, kind, i,
          (long long)(t->sdims ? -1 : elements(t)));
  fprintf(f, "#define %s_%s_%d_BYTES %lld\n", up, kind, i, (long long)(t->sdims ? -1 : t->bytes));
}

/* With free dims: <name>_tensor (kiln_array's layout) and the calls that take shapes. */
static void put_dyn_calls(FILE *f, const kiln_program *p, const char *name, const char *up) {
  fprintf(f, "/* Free dims, bound at each run from the inputs' shapes, or (count(...)) sizes\n"
             " * the run computes from values (NonZero's count), at most what %s_output_shapes\n"
             " * gives:", name);
  for (int s = 0; s < p->nsyms; s++) fprintf(f, "%s '%s'", s ? "," : "", p->sym_names[s]);
  fprintf(f, ". */\n#define %s_NUM_FREE_DIMS %d\n", up, p->nsyms);
  for (int s = 0; s < p->nsyms; s++) {
    fprintf(f, "#define %s_FREE_DIM_%d_NAME ", up, s);
    put_string(f, p->sym_names[s]);
    fputc('\n', f);
  }
  fprintf(f, "\n/* Shape buckets: variants compiled for exactly these input shapes, which\n"
             " * %s_run_dims runs when the inputs have them (%s_run_variant). */\n"
             "#define %s_NUM_BUCKETS %d\n", name, name, up, p->nbuckets);
  for (int b = 0; b < p->nbuckets; b++) {
    fprintf(f, "/* bucket %d:", b);
    for (int i = 0; i < p->ninputs; i++) {
      fprintf(f, "%s %s ", i ? "," : "", p->inputs[i].name);
      put_shape(f, &p->buckets[b]->inputs[i], true);
    }
    fputs(" */\n", f);
  }
  fprintf(f, "\n/* A tensor and its shape, as kiln_array (kiln.h): dtype is a kiln_dtype code (the\n"
             " * _DTYPE macros above), dims row-major. */\n"
             "typedef struct %s_tensor {\n  void *data;\n  int32_t dtype;\n  int32_t rank;\n"
             "  int64_t dims[8];\n} %s_tensor;\n\n", name, name);
  fprintf(f, "/* Runs the model on inputs[0..%s_NUM_INPUTS-1] of the shapes they give (data of those\n"
             " * shapes); outputs[i].data must hold output i at those shapes (%s_output_shapes),\n"
             " * and the run writes outputs[i]'s dtype, rank and dims (a size it computes: at\n"
             " * most the one %s_output_shapes gave, maybe 0). workspace: at least\n"
             " * %s_workspace_size(inputs) bytes, 64-byte aligned, or NULL to have it allocated for\n"
             " * the call. Returns %s_OK, or %s_ERR_INVALID_INPUT for shapes the model cannot take\n"
             " * (%s_check_inputs says why) or an input value out of range, %s_ERR_INVALID_ARGUMENT\n"
             " * for a NULL buffer. Safe to call from several threads at once. */\n"
             "int %s_run_dims(const %s_tensor *inputs, %s_tensor *outputs, void *workspace);\n",
          up, name, name, name, up, up, name, up, name, name, name);
  if (p->strings)
    fprintf(f, "/* A string tensor's data is an array of char * (NUL-terminated UTF-8; NULL reads as\n"
               " * \"\"). After a run that succeeds each element of a string output is a string\n"
               " * malloc'd for the caller, who frees each; after a run that fails, NULL. */\n");
  fprintf(f, "/* Output shapes (dtype, rank, dims; data untouched) for inputs of these shapes (data\n"
             " * not read; a size the run computes from values at its largest): %s_OK or\n"
             " * %s_ERR_INVALID_INPUT. */\n"
             "int %s_output_shapes(const %s_tensor *inputs, %s_tensor *outputs);\n",
          up, up, name, name, name);
  fprintf(f, "/* The workspace bytes a run at these input shapes needs; -1 for shapes the model\n"
             " * cannot take. */\n"
             "int64_t %s_workspace_size(const %s_tensor *inputs);\n", name, name);
  fprintf(f, "/* %s_OK, or the status a run at these shapes fails with and why (into msg, size\n"
             " * bytes: the input and dim). */\n"
             "int %s_check_inputs(const %s_tensor *inputs, char *msg, size_t size);\n",
          up, name, name);
  fprintf(f, "/* The bucket a run at these input shapes runs, or -1: the generic code. */\n"
             "int %s_run_variant(const %s_tensor *inputs);\n\n", name, name);
}

/* `<name>_run`, typed, and `<name>_run_arrays`: a model whose every dim is static. */
static void put_run(FILE *f, const kiln_program *p, const char *name, const char *up) {
  fprintf(f, "/* Runs the model once on dense row-major buffers; returns %s_OK or an error\n"
             " * code above (outputs are then meaningless). Safe to call from several threads\n"
             " * at once (with separate workspaces). */\n", up);
  if (p->strings)
    fprintf(f, "/* A string element is a NUL-terminated UTF-8 string (NULL reads as \"\"). After a\n"
               " * success each element of a string output is a string malloc'd for the caller,\n"
               " * who frees each; after an error, every element is NULL. */\n");
  fprintf(f, "int %s_run(", name);
  int n = p->ninputs + p->noutputs;
  char **names = kiln_xcalloc((size_t)n + 1, sizeof *names);
  for (int i = 0; i < n; i++) {
    bool in = i < p->ninputs;
    const kiln_io *t = in ? &p->inputs[i] : &p->outputs[i - p->ninputs];
    char *fallback = kiln_fmt("%s%d", in ? "input" : "output", in ? i : i - p->ninputs);
    names[i] = param_name(t->name, fallback, names, i);
    free(fallback);
    if (t->dtype == KILN_STRING)
      fprintf(f, "\n    %s%s, /* ", in ? "const char *const *" : "char **", names[i]);
    else
      fprintf(f, "\n    %s%s *%s, /* ", in ? "const " : "", kiln_aot_c_type(t->dtype), names[i]);
    put_shape(f, t, true);
    fputs(" */", f);
  }
  fprintf(f, "%svoid *workspace);\n\n", n ? "\n    " : "");
  fprintf(f, "/* The same taking arrays of the input and output pointers, in the order above. */\n"
             "int %s_run_arrays(const void *const *inputs, void *const *outputs, void *workspace);\n\n",
          name);
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
}

kiln_status kiln_aot_write_header(const kiln_program *p, const char *name, const char *path,
                                  bool gpu, bool threads, kiln_error *err) {
  FILE *f = fopen(path, "w");
  if (!f) return kiln_fail(err, KILN_ERR_IO, "cannot write header '%s'", path);
  char *up = kiln_xstrdup(name);
  for (char *c = up; *c; c++) *c = (char)toupper((unsigned char)*c);

  fprintf(f, "/* %s.h: generated by kiln. The compiled model `%s`. */\n", name, name);
  fprintf(f, "#ifndef %s_KILN_H\n#define %s_KILN_H\n\n#include <stdint.h>\n%s\n", up, up,
          p->nsyms ? "#include <stddef.h>\n" : "");
  fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  fprintf(f, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n\n", up, p->ninputs, up,
          p->noutputs);
  for (int i = 0; i < p->ninputs; i++) put_macros(f, p, up, "INPUT", i, &p->inputs[i]);
  for (int i = 0; i < p->noutputs; i++) put_macros(f, p, up, "OUTPUT", i, &p->outputs[i]);
  if (!p->nsyms) {
    fprintf(f, "\n/* Scratch memory %s_run needs; pass a buffer of at least this many bytes,\n"
               " * 64-byte aligned, or NULL to have it allocated for the call. */\n",
            name);
    fprintf(f, "#define %s_WORKSPACE_BYTES %lld\n\n", up, (long long)p->arena_bytes);
  } else {
    fputc('\n', f);
  }
  fprintf(f, "/* What %s_run%s returns (kiln_status codes of kiln.h). */\n", name,
          p->nsyms ? "_dims" : "");
  fprintf(f, "#define %s_OK %d\n", up, KILN_OK);
  fprintf(f, "#define %s_ERR_OUT_OF_MEMORY %d /* the workspace%s could not be allocated */\n", up,
          KILN_ERR_OUT_OF_MEMORY, p->strings ? " or strings" : "");
  fprintf(f, "#define %s_ERR_INTERNAL %d /* built with --check-bounds: an access out of bounds */\n",
          up, KILN_ERR_INTERNAL);
  fprintf(f, "#define %s_ERR_INVALID_INPUT %d /* an input value out of range, such as an index */\n",
          up, KILN_ERR_INVALID_INPUT);
  if (p->nsyms)
    fprintf(f, "#define %s_ERR_INVALID_ARGUMENT %d /* a NULL buffer */\n", up,
            KILN_ERR_INVALID_ARGUMENT);
  if (gpu)
    fprintf(f, "#define %s_ERR_UNSUPPORTED %d /* no CUDA driver or GPU that can run the code */\n",
            up, KILN_ERR_UNSUPPORTED);
  fputc('\n', f);
  if (p->nsyms) put_dyn_calls(f, p, name, up);
  else put_run(f, p, name, up);
  if (gpu)
    fprintf(f, "/* The same on GPU memory, with no copies: inputs and outputs are CUdeviceptr values\n"
               " * (as void *) on device 0, whose primary context (the CUDA runtime's, PyTorch's) the\n"
               " * model runs in; stream is a CUstream (NULL: the default stream). The launches are\n"
               " * queued on it after the previous run's (runs share the library's device memory);\n"
               " * it returns once they are queued (with If or index checks, once they are done). */\n"
               "int %s_run_device(const void *const *inputs, void *const *outputs, void *stream);\n"
               "/* Opens the CUDA driver, loads the code and uploads the weights, which the first\n"
               " * run does otherwise: %s_OK or an error code above. */\n"
               "int %s_load(void);\n"
               "/* Frees the library's GPU memory and code (a later run loads them again). */\n"
               "void %s_release(void);\n"
               "/* Why this thread's last call failed (no driver, a CUDA error, an index out of\n"
               " * range...), or \"\". */\n"
               "const char *%s_error(void);\n\n", name, up, name, name, name);
  if (threads)
    fprintf(f, "/* The threads %s_run%s uses from now on, in the whole process (0: the default,\n"
               " * KILN_NUM_THREADS or one per CPU of the affinity mask). */\n"
               "void %s_set_num_threads(int n);\n\n", name, p->nsyms ? "_dims" : "", name);
  fprintf(f, "/* Which schedules came from a tuning log (text; `kiln dump --tuning` prints it). */\n"
             "extern const char %s_tuning[];\n"
             "/* What the library is, as JSON after a first line (`kiln run LIB` reads it). */\n"
             "extern const char %s_manifest[];\n\n", name, name);
  fprintf(f, "#ifdef __cplusplus\n}\n#endif\n#endif\n");
  free(up);
  if (ferror(f) | fclose(f)) return kiln_fail(err, KILN_ERR_IO, "cannot write header '%s'", path);
  return KILN_OK;
}
