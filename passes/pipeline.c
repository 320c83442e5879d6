/* PLACEHOLDER until the passes land: every entry point fails cleanly. */
#include "passes/passes.h"

#define NOT_YET(...) return kiln_fail(err, KILN_ERR_INTERNAL, "passes not implemented yet")
kiln_status kiln_passes_run(kiln_graph *g, const kiln_options *o, kiln_program **out, kiln_error *err) { (void)g; (void)o; (void)out; NOT_YET(); }
kiln_status kiln_pass_bind_inputs(kiln_graph *g, const kiln_options *o, kiln_error *err) { (void)g; (void)o; NOT_YET(); }
kiln_status kiln_pass_infer(kiln_graph *g, const kiln_options *o, kiln_error *err) { (void)g; (void)o; NOT_YET(); }
kiln_status kiln_pass_fold(kiln_graph *g, int64_t m, kiln_error *err) { (void)g; (void)m; NOT_YET(); }
