#!/usr/bin/env bash
# tools/gpu_check.sh where there is no GPU: --prepare writes, for a models folder holding
# mlp, the GEMM libraries and mlp's at batch 1 and 32 (with --periodic-mib 1, mlp's weights
# periodic, as the large models' are) with inputs, references and the ONNX files, each
# library a `--target cuda` one with its device entry; --run then says "no GPU" and exits 2
# (on a machine with a GPU it runs everything and must pass). Exit 77 (skipped) when NVRTC
# cannot be loaded, since the libraries need it.
#   cli_gpu_check.sh KILN PYTHON MODELS_DIR
set -uo pipefail
kiln="$(realpath "$1")" python="$2" models="$3"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/models"
ln -s "$models/mlp" "$dir/models/mlp"

out="$(KILN="$kiln" PYTHON="$python" "$root/tools/gpu_check.sh" --prepare "$dir/gpu" \
  --models-dir "$dir/models" --periodic-mib 1 --batch32 mlp 2>&1)"
if grep -qF "NVRTC (libnvrtc.so) cannot be loaded" <<<"$out"; then
  echo "SKIPPED: $out"
  exit 77
fi
expect 0 "bench_gpu: 8 libraries in" -- echo "$out"
expect 0 '"name": "gemm_4096x4096x4096"' '"name": "gemm_129x77x33"' '"name": "mlp"' '"name": "mlp_b32"' '"batch": 32' \
  '"weights": "periodic"' '"mlp/output_0.npy"' '"gpu_arch": "sm_90"' -- cat "$dir/gpu/manifest.json"
for f in mlp/libmlp.so.xz mlp/model.onnx.xz mlp/input_0.npy mlp/output_0.npy \
    mlp_b32/libmlp_b32.so.xz gemm_128x768x3072/libgemm_128x768x3072.so.xz; do
  expect 0 -- test -f "$dir/gpu/$f"
done
expect 0 -- test ! -e "$dir/gpu/mlp/libmlp.so" -a ! -e "$dir/gpu/mlp/mlp.h"
# the library, uncompressed: a --target cuda one, with the device entry
xz -dc "$dir/gpu/mlp_b32/libmlp_b32.so.xz" >"$dir/lib.so"
expect 0 "mlp_b32_run_device" "mlp_b32_load" "mlp_b32_error" -- nm -D --defined-only "$dir/lib.so"
# the periodic weights' references are onnxruntime's on those weights: one output row
expect 0 "(1, 10)" -- "$python" -c "import numpy; print(numpy.load('$dir/gpu/mlp/output_0.npy').shape)"
if ! ls /dev/nvidia0 >/dev/null 2>&1; then
  expect 2 "bench_gpu: no GPU" -- "$root/tools/gpu_check.sh" --run "$dir/gpu"
fi
expect 1 "usage: gpu_check.sh" -- "$root/tools/gpu_check.sh" --bench "$dir/gpu"
finish
