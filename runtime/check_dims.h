/* Free dims for `kiln check` (runtime/check_dims.c): which input dims the options leave
 * free, binding them to probe sizes, and which shapes change with each. */
#ifndef KILN_RUNTIME_CHECK_DIMS_H
#define KILN_RUNTIME_CHECK_DIMS_H

#include "runtime/model_check.h"

/* The model being checked, as read, to import it again. */
typedef struct kiln_check_source {
  const void *data;
  size_t size;
  const char *path, *base_dir;
  bool dsl;
  const kiln_options *opts;
} kiln_check_source;

/* One binding per input with free dims (the options bind the others): its dims, -1 where
 * free, and which free dim (index in the report) each of those is. */
typedef struct kiln_check_binding {
  kiln_shape_binding *shapes;
  int (*free_of)[KILN_MAX_RANK];
  int nshapes;
} kiln_check_binding;

/* Imports the source in collect mode (facts may be NULL). */
kiln_status kiln_check_import(const kiln_check_source *s, kiln_onnx_facts *facts,
                              kiln_diags *diags, kiln_graph **g, kiln_error *err);
/* Lists in r the dims of g's inputs that opts leave free, and the bindings that fill them. */
void kiln_check_find_free(const kiln_graph *g, const kiln_options *opts, kiln_check_binding *b,
                          kiln_check_report *r);
/* Binds g's inputs with opts and b: free dims at 1, free dim `variant` (or none: -1) at
 * 2. An input of unknown rank cannot be probed: it is tainted in diags. */
kiln_status kiln_check_bind(kiln_graph *g, const kiln_options *opts, const kiln_check_binding *b,
                            int variant, kiln_diags *diags, kiln_error *err);
/* For each free dim: the model imported again, bound with that dim at 2, inferred and
 * compared with g (inferred at 1; its first nimported values are the import's): the values
 * and outputs whose shapes change, or why inference failed. */
void kiln_check_flows(const kiln_check_source *s, const kiln_graph *g, int nimported,
                      const kiln_check_binding *b, kiln_check_report *r);
void kiln_check_binding_free(kiln_check_binding *b);

#endif
