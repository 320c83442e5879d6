/* The fuzzed entry points, shared by the libFuzzer targets (fuzz_*.c) and by the
 * regression replay (tests/unit_regress.c), so a saved crash input runs through exactly
 * the code that crashed. Each returns 0, or aborts when kiln broke a contract (an error
 * without a code or message, an inconsistent result) so the fuzzer reports it. */
#ifndef KILN_TESTS_FUZZ_TARGETS_H
#define KILN_TESTS_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#if __has_include("frontend/dsl.h")
#define KILN_FUZZ_HAVE_DSL 1
#endif

int kiln_fuzz_onnx(const uint8_t *data, size_t size);    /* ONNX importer */
int kiln_fuzz_tensor(const uint8_t *data, size_t size);  /* TensorProto reader */
int kiln_fuzz_dsl(const uint8_t *data, size_t size);     /* DSL parser + elaboration */
int kiln_fuzz_compile(const uint8_t *data, size_t size); /* import + all passes, no codegen */
int kiln_fuzz_values(const uint8_t *data, size_t size);  /* input values of fixed models (values.c) */
int kiln_fuzz_tuning_log(const uint8_t *data, size_t size); /* tuning-log reader and writer */
int kiln_fuzz_check(const uint8_t *data, size_t size);   /* `kiln check`: collect mode */

/* Entry point by name ("onnx", "tensor", "dsl", "compile", "values", "tuning_log",
 * "check"), or NULL. */
typedef int (*kiln_fuzz_fn)(const uint8_t *data, size_t size);
kiln_fuzz_fn kiln_fuzz_target(const char *name);

#endif
