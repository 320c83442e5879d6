/* The ONNX front end: model files and TensorProto files into the graph IR. */
#ifndef KILN_FRONTEND_ONNX_H
#define KILN_FRONTEND_ONNX_H

#include "ir/graph.h"

/* Parses a ModelProto. base_dir locates external data files (NULL = "."). Older-opset
 * forms are rewritten to the newest signature the op table uses. */
kiln_status kiln_onnx_import(const void *data, size_t size, const char *base_dir,
                             kiln_graph **out, kiln_error *err);

/* A TensorProto (the ONNX test-data .pb format) to a tensor; *name gets a malloc'd copy of
 * its name (may be empty). */
kiln_status kiln_onnx_read_tensor(const void *data, size_t size, kiln_tensor *t, char **name,
                                  kiln_error *err);
/* Writes a TensorProto file atomically (temp file + rename). */
kiln_status kiln_onnx_write_tensor(const char *path, const char *name, const kiln_tensor *t,
                                   kiln_error *err);

/* Reads a whole file (malloc'd); errors name the path. */
kiln_status kiln_read_file(const char *path, void **data, size_t *size, kiln_error *err);

#endif
