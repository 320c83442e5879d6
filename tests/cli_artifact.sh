#!/usr/bin/env bash
# AOT libraries as `kiln run` and `kiln bench` inputs: a test model (ONNX) and a DSL example
# compiled to .so run through the library with the JIT's outputs bit for bit (the same code)
# and the model's reference outputs (onnxruntime's, within model_test's tolerance); the file
# is told by its ELF magic, not its name; bench reports end-to-end latencies and says why it
# has no per-kernel times; every wrong file gets one error and its exit status.
#   cli_artifact.sh KILN PYTHON MODELS_DIR
set -uo pipefail
kiln="$(realpath "$1")"
python="$2"
models="$3"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mlp="$models/mlp"
data="$mlp/test_data_set_0"

# --- an ONNX test model: the library's outputs are the JIT's, and the reference's
expect 0 -- "$kiln" compile "$mlp/model.onnx" -o "$dir/libmlp.so" --name mlp
expect 0 "mlp_run_arrays" "mlp_set_num_threads" "mlp_manifest" -- cat "$dir/mlp.h"
expect 0 "latency: median" -- "$kiln" run "$dir/libmlp.so" --inputs "$data" --output-dir "$dir/lib" --repeat 2 --threads 2
expect 0 "latency: median" -- "$kiln" run "$mlp/model.onnx" --inputs "$data" --output-dir "$dir/jit" --repeat 2
expect 0 -- cmp "$dir/lib/output_0.pb" "$dir/jit/output_0.pb"
expect 0 "within tolerance" -- "$python" - "$dir/lib/output_0.pb" "$data/output_0.pb" <<'PY'
import sys
import numpy as np
from onnx import TensorProto, numpy_helper
def load(path):
    t = TensorProto()
    t.ParseFromString(open(path, "rb").read())
    return numpy_helper.to_array(t)
got, want = load(sys.argv[1]), load(sys.argv[2])
assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape)
bad = np.abs(got - want) > 1e-4 + 1e-3 * np.abs(want)
assert not bad.any(), ("out of tolerance", int(bad.sum()))
print("within tolerance")
PY
# the file's kind is in its bytes, not its name
cp "$dir/libmlp.so" "$dir/model.bin"
expect 0 "gemm_11: f32[1,10]" -- "$kiln" run "$dir/model.bin" --inputs "$data" --repeat 1

# --- a DSL example, random inputs (the same seed): the same outputs as the JIT's
model="$root/examples/mlp.kiln"
expect 0 -- "$kiln" compile "$model" --shape x=2x784 -o "$dir/libdsl.so" --name dsl
expect 0 "probs: f32[2,10]" -- "$kiln" run "$dir/libdsl.so" --seed 7 --output-dir "$dir/dsl_lib" --repeat 1
expect 0 "probs: f32[2,10]" -- "$kiln" run "$model" --shape x=2x784 --seed 7 --output-dir "$dir/dsl_jit" --repeat 1
expect 0 -- cmp "$dir/dsl_lib/output_0.pb" "$dir/dsl_jit/output_0.pb"

# --- a model with no inputs (one Constant): its _run_arrays still takes its 3 arguments
"$python" - "$dir/const.onnx" <<'PY'
import sys
import onnx
from onnx import TensorProto, helper
v = helper.make_tensor("v", TensorProto.FLOAT, [3], [1.5, -2.0, 4.0])
g = helper.make_graph([helper.make_node("Constant", [], ["y"], value=v)], "c", [],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])
PY
expect 0 -- "$kiln" compile "$dir/const.onnx" -o "$dir/libconst.so" --name cst
expect 0 "y: f32[3]" -- "$kiln" run "$dir/libconst.so" --output-dir "$dir/cst" --repeat 1
expect 0 "constant ok" -- "$python" - "$dir/cst/output_0.pb" <<'PY'
import sys
from onnx import TensorProto, numpy_helper
t = TensorProto()
t.ParseFromString(open(sys.argv[1], "rb").read())
assert numpy_helper.to_array(t).tolist() == [1.5, -2.0, 4.0], numpy_helper.to_array(t)
print("constant ok")
PY

# --- bench: end-to-end medians at each thread count; no made-up kernel times
expect 0 "AOT library 'mlp'" "end-to-end, 1 thread: median" "end-to-end, 2 threads: median" \
  "per-kernel times need the model" "MatMulPanels+Relu" "!time(us)" "!roofline" -- \
  "$kiln" bench "$dir/libmlp.so" --threads 1,2 --repeat 3
"$kiln" bench "$dir/libdsl.so" --threads 1,2 --repeat 3 --json >"$dir/bench.json" 2>"$dir/bench.err"
expect 0 -- test ! -s "$dir/bench.err"
expect 0 "bench json ok" -- "$python" - "$dir/bench.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["report"] == "bench-library" and r["name"] == "dsl", r
assert [e["threads"] for e in r["end_to_end"]] == [1, 2], r["end_to_end"]
assert all(e["median_ms"] > 0 for e in r["end_to_end"]), r["end_to_end"]
assert r["kernel_times"] is False and "need the model" in r["kernel_times_note"], r
assert r["kernels"] and all(k["nodes"] and k["flops"] >= 0 for k in r["kernels"]), r["kernels"]
print("bench json ok")
PY

# --- wrong files and options: one error each, the status of tools/kiln.c's list
expect 1 "--shape does not apply to an AOT library" -- "$kiln" run "$dir/libmlp.so" --shape input=1x784
expect 1 "--tuning-log does not apply" -- "$kiln" bench "$dir/libmlp.so" --tuning-log "$dir/x.jsonl"
expect 3 "is not a library kiln compiled" -- "$kiln" run "$(ldd "$kiln" | awk '/libc\.so/ {print $3}')"
head -c 4000 "$dir/libmlp.so" >"$dir/cut.so"
expect 3 "'$dir/cut.so' is truncated" -- "$kiln" run "$dir/cut.so"
head -c 30 "$dir/libmlp.so" >"$dir/tiny.so"
expect 3 "is truncated" -- "$kiln" bench "$dir/tiny.so"
mkdir "$dir/folder.so"
expect 8 "is not a regular file" -- "$kiln" run "$dir/folder.so"
expect 0 -- "$kiln" compile "$mlp/model.onnx" -o "$dir/mlp.o" --name mlpo
expect 3 "not a shared library" -- "$kiln" run "$dir/mlp.o"
# a library of a kiln before manifests (its mark renamed), a manifest garbled
"$python" - "$dir" <<'PY'
import sys
d = sys.argv[1]
lib = open(d + "/libmlp.so", "rb").read()
open(d + "/old.so", "wb").write(lib.replace(b"kiln-manifest-v1", b"kiln-manifesX-v1"))
open(d + "/garbled.so", "wb").write(lib.replace(b'"outputs"', b'"outputz"'))
PY
expect 4 "was compiled by an older kiln" -- "$kiln" run "$dir/old.so"
expect 3 "lacks or garbles the model's name, entry point, inputs or outputs" -- "$kiln" run "$dir/garbled.so"
expect 2 "has no file for input" -- "$kiln" run "$dir/libmlp.so" --inputs "$dir/lib"

# --- a GPU library where there is no GPU: its run's status, as one error
out="$("$kiln" compile "$model" --shape x=2x784 --target cuda -o "$dir/libcu.so" --name cu 2>&1)"
if ! grep -qF "NVRTC (libnvrtc.so) cannot be loaded" <<<"$out" && ! ls /dev/nvidia0 >/dev/null 2>&1; then
  expect 4 "cu_run_arrays returned 4 (UNSUPPORTED)" -- "$kiln" run "$dir/libcu.so" --repeat 1
  expect 4 "cu_run_arrays returned 4" -- "$kiln" bench "$dir/libcu.so" --repeat 1
  expect 1 "takes no thread count" -- "$kiln" run "$dir/libcu.so" --threads 2
fi
finish
