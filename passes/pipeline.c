/* The whole pass pipeline: graph in, program out. The graph passes and the kernel passes
 * are two lists, so `kiln dump` can print the graph between them and still build the
 * program the API builds. */
#include "passes/passes.h"

#define FOLD_MAX_ELEMS (INT64_C(1) << 22)
#define DEFAULT_MAX_NODES 100000

/* Refuses graphs over max_nodes (as imported, then with expansions) before anything is
 * built per node: lowering makes a kernel per node. */
static kiln_status check_nodes(const kiln_graph *g, const kiln_options *opts, kiln_error *err) {
  int64_t max = opts && opts->max_nodes > 0 ? opts->max_nodes : DEFAULT_MAX_NODES;
  if (g->nnodes <= max) return KILN_OK;
  return kiln_fail(err, KILN_ERR_LIMIT,
                   "the graph has %d nodes, over the limit of %lld (kiln_options.max_nodes)",
                   g->nnodes, (long long)max);
}

kiln_status kiln_passes_graph(kiln_graph *g, const kiln_options *opts, kiln_error *err) {
  kiln_error local = {0};
  if (!err) err = &local;
  if (check_nodes(g, opts, err) || kiln_pass_bind_inputs(g, opts, err) ||
      kiln_pass_infer(g, opts, err) || check_nodes(g, opts, err) ||
      kiln_pass_fold(g, FOLD_MAX_ELEMS, err))
    return err->code;
  kiln_pass_fold_batchnorm(g);
  kiln_pass_dce(g);
  return KILN_OK;
}

kiln_status kiln_passes_kernels(const kiln_graph *g, const kiln_options *opts,
                                kiln_program **out, kiln_error *err) {
  kiln_error local = {0};
  if (!err) err = &local;
  if (kiln_pass_lower(g, out, err)) return err->code;
  if (!(opts && opts->no_fuse)) kiln_pass_fuse(g, *out);
  if (kiln_plan_memory(g, *out, err)) {
    kiln_program_free(*out);
    *out = NULL;
    return err->code;
  }
  kiln_pass_schedule(&(*out)->main, kiln_target_vector_floats(opts));
  return KILN_OK;
}

kiln_status kiln_passes_run(kiln_graph *g, const kiln_options *opts, kiln_program **out,
                            kiln_error *err) {
  *out = NULL;
  kiln_status st = kiln_passes_graph(g, opts, err);
  return st ? st : kiln_passes_kernels(g, opts, out, err);
}
