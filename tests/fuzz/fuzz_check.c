/* libFuzzer target: `kiln check` on any bytes (tests/fuzz/targets.c). */
#include "tests/fuzz/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return kiln_fuzz_check(data, size); }
