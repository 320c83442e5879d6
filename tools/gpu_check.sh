#!/usr/bin/env bash
# The GPU backend's checks, in one command, for a machine with an NVIDIA GPU, its driver
# and the CUDA toolkit (NVRTC): what the test suite checks without a GPU (the CUDA C run
# on the host, NVRTC compiles of every conformance case and test model), then every test
# model as a `--target cuda` AOT library run on the GPU against onnxruntime's outputs
# (|got - want| <= 1e-4 + 1e-3 |want|, tests/model_test.c). Run from the repository root
# after tools/test.sh (or a build in build/); exit status 0 when all pass.
#   tools/gpu_check.sh [GPU_ARCH]      (default: sm_90, an H100/H200)
set -uo pipefail
arch="${1:-sm_90}"
build="$(pwd)/build"
[ -x "$build/tests/model_test" ] || { echo "gpu_check: no build in $build (run tools/test.sh)"; exit 1; }
nvidia-smi -L || { echo "gpu_check: no GPU visible (nvidia-smi)"; exit 1; }
fail=0
ctest --test-dir "$build" -L cuda -j"$(nproc)" --output-on-failure || fail=1
ctest --test-dir "$build" -R 'model/.*/(cuda-host|nvrtc)' -j"$(nproc)" --output-on-failure || fail=1
for m in "$build"/models/*/; do
  m="${m%/}"
  echo "== $(basename "$m") on the GPU ($arch)"
  "$build/tests/model_test" "$m" --aot --target cuda --gpu-arch "$arch" --name gpu_model || fail=1
done
[ "$fail" = 0 ] && echo "gpu_check: all passed" || echo "gpu_check: FAILURES above"
exit "$fail"
