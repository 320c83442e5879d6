/* The whole pass pipeline: graph in, program out. */
#include "passes/passes.h"

#define FOLD_MAX_ELEMS (INT64_C(1) << 22)

kiln_status kiln_passes_run(kiln_graph *g, const kiln_options *opts, kiln_program **out,
                            kiln_error *err) {
  kiln_error local = {0};
  if (!err) err = &local;
  *out = NULL;
  if (kiln_pass_bind_inputs(g, opts, err) || kiln_pass_infer(g, opts, err) ||
      kiln_pass_fold(g, FOLD_MAX_ELEMS, err))
    return err->code;
  kiln_pass_dce(g);
  if (kiln_pass_lower(g, out, err)) return err->code; /* plans memory */
  kiln_pass_schedule(&(*out)->main);
  return KILN_OK;
}
