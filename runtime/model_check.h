/* `kiln check`: everything that stands between a model and a compiled one, found in one
 * run without code generation (runtime/model_check.c). The tools print the report. */
#ifndef KILN_RUNTIME_MODEL_CHECK_H
#define KILN_RUNTIME_MODEL_CHECK_H

#include "frontend/onnx.h"
#include "ir/diag.h"

/* One place a free dim occurs: dim `dim` of graph input `input` (-1: its rank is unknown). */
typedef struct kiln_check_use {
  char *input;
  int dim;
} kiln_check_use;

/* A graph output whose shape changes with a free dim: bit d of dims set when its dim d
 * does. */
typedef struct kiln_check_flow {
  char *output;
  unsigned dims;
} kiln_check_flow;

/* A free dim: a dim_param name shared by every input dim carrying it, or an unnamed dim
 * ("?") of one input. */
typedef struct kiln_check_free_dim {
  char *name;
  kiln_check_use *uses;
  int nuses;
  kiln_check_flow *outputs; /* the outputs whose shape depends on it */
  int noutputs;
  int nvalues;              /* values of the model as imported, graph inputs aside, whose
                               shape depends on it; -1 when not probed */
  char *probe_error;        /* why inference failed with it at 2, or NULL */
} kiln_check_free_dim;

/* A graph input or output: name and type ("f32[N,3,224,224]", "?" when unknown). */
typedef struct kiln_check_io {
  char *name;
  char *type;
} kiln_check_io;

typedef struct kiln_check_report {
  bool onnx;                /* facts are set (an ONNX file) */
  kiln_onnx_facts facts;
  int64_t nweights, weight_bytes; /* from facts, or the DSL model's constants */
  int nnodes;               /* nodes as imported */
  kiln_check_io *inputs, *outputs;
  int ninputs, noutputs;
  kiln_check_free_dim *free_dims; /* left free by the options */
  int nfree;
  kiln_diags diags;         /* the problems, in pipeline order */
  int free_dims_at;         /* diags before this index come before free dims: the
                               import's, a --shape that does not fit */
  double flops;             /* floating-point operations of one run (free dims at 1) */
  int nlowered;             /* nodes those flops count */
  bool complete;            /* every pass ran: no problem hid what follows it */
  kiln_status verdict;      /* KILN_OK when the model compiles with these options, else the
                               code of the first problem (free dims after the import's) */
} kiln_check_report;

/* Checks the model at path with opts' bindings and limits. Fails only when the file
 * cannot be read or is not a well-formed model; everything else is in *r (free with
 * kiln_check_report_free). */
kiln_status kiln_model_check(const char *path, const kiln_options *opts, kiln_check_report *r,
                             kiln_error *err);
/* The same for a model in memory; path (may be NULL) names it in DSL diagnostics, and
 * opts->base_dir (NULL: ".") locates its external data and imports. */
kiln_status kiln_model_check_buffer(const void *data, size_t size, const char *path,
                                    const kiln_options *opts, kiln_check_report *r,
                                    kiln_error *err);
void kiln_check_report_free(kiln_check_report *r);

#endif
