#!/usr/bin/env bash
# The GPU backend's checks and bench in one command, for a machine with an NVIDIA GPU that
# cannot build kiln (the lent GPU machines have no LLVM and no protobuf-c), in two steps:
#   tools/gpu_check.sh --prepare DIR [--gpu-arch sm_90] [--budget-mib 56]
#       here, after a build (build/kiln, build/models): `--target cuda` libraries of the
#       GEMM shapes and of every test model that fits the budget, with their inputs and
#       reference outputs (bench/bench_gpu.py --prepare; needs onnx and numpy)
#   tools/gpu_check.sh --run DIR [--repeat 50] [--json FILE]
#       there (python3 with numpy and torch): every model against its references through
#       <name>_run and <name>_run_device, every GEMM against float64, then the timings
#       (kiln vs cuBLAS, vs onnxruntime-gpu where present); exit 0 when all pass, 2 when
#       there is no GPU. KILN and PYTHON (--prepare) default to build/kiln and .venv.
# On a machine with both a GPU and a build, `ctest --test-dir build -L cuda` and
# unit_cuda_run (the JIT against the CPU backend) run there too. The GEMM shapes include
# tails of the GPU GEMM schedule's tiles (bench/bench_gpu.py GEMMS), so --run checks its
# shared-memory staging and barriers on the GPU as well as its speed against cuBLAS.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-}" dir="${2:-}"
[ -n "$dir" ] || { echo "usage: gpu_check.sh --prepare DIR [options] | --run DIR [options]"; exit 1; }
shift 2
case "$mode" in
--prepare)
  python="${PYTHON:-$root/.venv/bin/python}"
  [ -x "$python" ] || python=python3
  kiln="${KILN:-$root/build/kiln}"
  [ -x "$kiln" ] || { echo "gpu_check: no kiln at $kiln (build first, or set KILN)"; exit 1; }
  exec "$python" "$root/bench/bench_gpu.py" --prepare "$dir" --kiln "$kiln" \
    --models-dir "$root/build/models" "$@" ;;
--run)
  nvidia-smi -L 2>/dev/null || echo "gpu_check: nvidia-smi lists no GPU"
  exec python3 "$root/bench/bench_gpu.py" --run "$dir" "$@" ;;
*)
  echo "usage: gpu_check.sh --prepare DIR [options] | --run DIR [options]"
  exit 1 ;;
esac
