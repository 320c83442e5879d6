/* The README's just-in-time host, built by tests/readme_commands.sh with the README's own
 * link line: compiles a model given on the command line (examples/demo.onnx: one image in,
 * ten softmax probabilities out), runs it once, and checks the probabilities sum to 1. */
#include "kiln.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  kiln_model *m;
  kiln_error err;
  if (argc != 2) return fprintf(stderr, "usage: host MODEL\n"), 2;
  if (kiln_compile_file(argv[1], NULL, &m, &err) != KILN_OK) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  kiln_tensor_info in, out;
  if (kiln_num_inputs(m) != 1 || kiln_num_outputs(m) != 1 || kiln_input_info(m, 0, &in) ||
      kiln_output_info(m, 0, &out) || in.dtype != KILN_F32 || out.dtype != KILN_F32)
    return fprintf(stderr, "not a one-image, one-output float model\n"), 1;
  float *image = calloc(in.bytes / sizeof(float), sizeof(float));
  float *probs = calloc(out.bytes / sizeof(float), sizeof(float));
  for (size_t i = 0; i < in.bytes / sizeof(float); i++) image[i] = (float)(i % 7) / 7.0f;
  const void *inputs[] = {image};
  void *outputs[] = {probs};
  if (kiln_run(m, inputs, outputs, &err) != KILN_OK) {
    fprintf(stderr, "%s\n", err.message);
    return 1;
  }
  float sum = 0;
  for (size_t i = 0; i < out.bytes / sizeof(float); i++) sum += probs[i];
  printf("jit host: %zu probabilities, sum %.4f\n", out.bytes / sizeof(float), sum);
  free(image);
  free(probs);
  kiln_model_free(m);
  return sum > 0.999f && sum < 1.001f ? 0 : 1;
}
