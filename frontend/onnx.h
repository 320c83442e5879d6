/* The ONNX front end: model files and TensorProto files into the graph IR. */
#ifndef KILN_FRONTEND_ONNX_H
#define KILN_FRONTEND_ONNX_H

#include "ir/diag.h"
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

/* What `kiln check` reports about an ONNX file besides its problems. */
typedef struct kiln_onnx_opset {
  char *domain;     /* "" for the default domain */
  int64_t version;
  bool supported;   /* the default domain at a version kiln reads, or a domain kiln has ops of */
} kiln_onnx_opset;

/* An external data file the model's tensors reference. */
typedef struct kiln_onnx_extfile {
  char *location;       /* as written in the model */
  int ntensors;
  int64_t bytes_needed; /* where the furthest tensor's data ends */
  int64_t size;         /* the file's size; -1 when it cannot be read */
  const char *status;   /* "present", "missing", "too short", "unreadable", "outside the
                           model's folder" */
} kiln_onnx_extfile;

typedef struct kiln_onnx_facts {
  int64_t ir_version;
  char *producer;       /* "name version", "" when not given */
  kiln_onnx_opset *opsets;
  int nopsets;
  kiln_onnx_extfile *files;
  int nfiles;
  int64_t nweights, weight_bytes; /* initializers (subgraphs' too), by declared type and shape */
} kiln_onnx_facts;

/* Collect-mode import for `kiln check`: facts (may be NULL) about the file, every problem
 * confined to a value or node in diags (the import goes on past it), and the graph. Fails
 * only on a file that is not a well-formed model. */
kiln_status kiln_onnx_check(const void *data, size_t size, const char *base_dir,
                            kiln_onnx_facts *facts, kiln_diags *diags, kiln_graph **g,
                            kiln_error *err);
void kiln_onnx_facts_free(kiln_onnx_facts *f);

/* Reads a whole file (malloc'd); errors name the path. */
kiln_status kiln_read_file(const char *path, void **data, size_t *size, kiln_error *err);

#endif
