/* Loading one ONNX backend node test (model.onnx + test_data_set_0/{input,output}_*.pb)
 * and comparing outputs: shared by the reference-interpreter op tests and the
 * conformance driver. */
#ifndef KILN_TESTS_NODE_TEST_H
#define KILN_TESTS_NODE_TEST_H

#include "frontend/onnx.h"
#include "runtime/kernel_run.h"

#define NODE_TEST_MAX_IO 32

typedef struct node_test {
  char dir[1024];
  void *model;
  size_t model_size;
  int ninputs, noutputs;
  kiln_tensor inputs[NODE_TEST_MAX_IO], outputs[NODE_TEST_MAX_IO];
  char *input_names[NODE_TEST_MAX_IO], *output_names[NODE_TEST_MAX_IO];
} node_test;

/* Loads dir/model.onnx and dir/test_data_set_0. */
kiln_status node_test_load(node_test *t, const char *dir, kiln_error *err);
void node_test_free(node_test *t);

/* The outputs of kernel k of p, as runner r computed them, against the interpreter's on the
 * same inputs and constants: floats within 1e-5 + 1e-4 |want| (another order of a sum
 * reassociates), the rest exact. 1 on a match; a mismatch or an interpreter failure is
 * printed to stderr with the kernel's and output's names. */
int node_test_vs_interp(const kiln_program *p, const kiln_kernel *k,
                        const kiln_kernel_runner *r);

/* Compares got (dtype, shape, data) with want using the ONNX backend tolerances
 * (rtol 1e-3, atol 1e-7 for floats; exact otherwise; NaN equals NaN). Writes a reason
 * into why (size n) on mismatch and returns 0; returns 1 when equal. */
int node_test_compare(const kiln_tensor *want, kiln_dtype dtype, int rank, const int64_t *dims,
                      const void *got, char *why, size_t n);



/* Runs the test through the reference path only (import, bind every input as a value,
 * infer, fold everything with the kernel-IR interpreter) and compares the outputs.
 * Returns 1 on a pass, 0 on a mismatch or error (reason in why). */
int node_test_run_reference(const node_test *t, char *why, size_t n);
/* Random ops (tests/node_random.c): does the model hold one (the op table's
 * KILN_OP_RANDOM, subgraphs included)? And, for such a model, do outputs got[0..ngot-1]
 * have what the spec fixes: the expected count, dtypes and shapes, and each output's range
 * by the op writing it. Returns 1 when so, else 0 with a reason in why. */
int node_test_is_random(const node_test *t);
int node_test_check_random(const node_test *t, const kiln_tensor *got, int ngot, char *why,
                           size_t len);
#endif
