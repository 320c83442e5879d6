/* The kiln model language (docs/dsl.md): .kiln text into the graph IR, and any graph back
 * into .kiln text. */
#ifndef KILN_FRONTEND_DSL_H
#define KILN_FRONTEND_DSL_H

#include "ir/graph.h"

#include <stdbool.h>
#include <stdio.h>

/* Parses and elaborates a .kiln program into a graph exactly like the ONNX importer's
 * (graph inputs with dim_names for symbolic dims, params as constant values, graph
 * outputs named as returned; types and shapes left to kiln_pass_infer). `path` names the
 * text in diagnostics and locates imports and weight files; NULL means "<buffer>", whose
 * files are found relative to opts->base_dir (else "."). Every error found is reported,
 * one caret diagnostic each, in err->message; the first error's code is returned. */
kiln_status kiln_dsl_import(const char *text, size_t size, const char *path,
                            const kiln_options *opts, kiln_graph **out, kiln_error *err);

/* True when data looks like .kiln text rather than an ONNX protobuf: no NUL byte in the
 * first 4 KiB, and the first token is `model`, `import`, `def` or a `#` comment. */
bool kiln_dsl_detect(const void *data, size_t size);

/* Which front end reads a model (frontend/format.c), one rule for the C API and the
 * command line: a path ending in .kiln is DSL, one ending in .onnx is ONNX; otherwise (a
 * buffer: path NULL, or another name) the contents decide: text that starts like a
 * program (kiln_dsl_detect), or any printable UTF-8 text that is not an ONNX ModelProto
 * with a graph, is DSL, so that a mistake in a program's first word gets DSL diagnostics. */
bool kiln_model_is_dsl(const char *path, const void *data, size_t size);

/* Where kiln_dsl_print puts constants of more than 16 elements (smaller ones are inline). */
typedef struct kiln_dsl_weights {
  /* The ONNX file g was imported from: its weights are referenced by name there,
   * onnx("<onnx_file>", "<name>"). */
  const char *onnx_file;
  /* Else each large constant is written to a file of the folder dir (made if missing),
   * atomically, named after the value: <name>.npy, or <name>.bin of raw data for bf16,
   * which numpy lacks. The text reads it as file("<ref>/<name>.npy") (raw(...)), ref being
   * dir as seen from the .kiln file that will be read back; NULL ref: dir as given. */
  const char *dir, *ref;
} kiln_dsl_weights;

/* Prints g as a .kiln program that parses back to an equivalent graph. Large constants go
 * where w says; with neither onnx_file nor dir (or a NULL w) they are written inline too.
 * Fails (KILN_ERR_IO, naming the file) only when a weight file cannot be written; the
 * text printed is then incomplete. */
kiln_status kiln_dsl_print(const kiln_graph *g, const kiln_dsl_weights *w, FILE *out,
                           kiln_error *err);

#endif
