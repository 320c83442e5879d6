/* libFuzzer target: input values of models that index, divide or convert by data
 * (tests/fuzz/values.c). */
#include "tests/fuzz/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return kiln_fuzz_values(data, size); }
