/* libFuzzer target: the tuning-log reader and writer (tests/fuzz/targets.c). */
#include "tests/fuzz/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return kiln_fuzz_tuning_log(data, size);
}
