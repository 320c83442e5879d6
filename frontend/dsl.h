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

/* Prints g as a .kiln program that parses back to an equivalent graph. Constants of at
 * most 16 elements are written inline; larger ones as onnx("<weights_from>", "<name>")
 * when weights_from (the ONNX file g came from) is given, else inline too. */
void kiln_dsl_print(const kiln_graph *g, const char *weights_from, FILE *out);

#endif
