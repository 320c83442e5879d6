#!/usr/bin/env bash
# `kiln run` and `kiln compile` with free dims (--shape x=?x8, kiln_options.symbolic_dims):
# run binds them from the input files' shapes (outputs as the static compile at that
# shape gives them, a free input without a file is an error); compile (AOT) keeps them free
# in a shared library (tests/aot_dyn.sh runs such libraries), which `kiln run` refuses;
# an op that takes no free dim is named.
#   cli_symbolic.sh KILN PYTHON     (PYTHON with onnx and numpy, to write and read .pb files)
set -uo pipefail
kiln="$(realpath "$1")"
python="$2"
case "$python" in */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"

cat >mlp.kiln <<'EOF'
model mlp(x: f32[N, 8]) {
  param w: f32[8, 4] = normal(0, 0.5)
  return y = Softmax(MatMul(x, w) + 1, axis=1)
}
EOF
cat >hardmax.kiln <<'EOF'
model hm(x: f32[N, 8]) {
  return y = Hardmax(x, axis=1)
}
EOF
cat >nms.kiln <<'EOF'
model nms(b: f32[1, N, 4], s: f32[1, 2, M]) {
  param k: i64[1] = [4]
  param iou: f32[] = 0.5
  return y = NonMaxSuppression(b, s, k, iou)
}
EOF
"$python" - <<'EOF' || exit 1
import os
import numpy as np
from onnx import numpy_helper
rng = np.random.default_rng(3)
for name, shape in [("in3", (3, 8)), ("in7", (7, 8)), ("bad", (3, 5))]:
    os.makedirs(name)
    x = rng.standard_normal(shape).astype(np.float32)
    with open(f"{name}/input_0.pb", "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
EOF

for n in 3 7; do
  expect 0 "y: f32[$n,4]" -- "$kiln" run mlp.kiln --shape 'x=?x8' --inputs in$n --output-dir sym$n --repeat 1
  expect 0 "y: f32[$n,4]" -- "$kiln" run mlp.kiln --inputs in$n --output-dir static$n --repeat 1
  expect 0 same -- "$python" -c "
import sys, numpy as np, onnx
from onnx import numpy_helper as h
a, b = (h.to_array(onnx.load_tensor(p + '/output_0.pb')) for p in ('sym$n', 'static$n'))
print('same' if a.shape == b.shape and np.array_equal(a, b) else f'differ {a.shape} {b.shape}')"
done
expect 0 "y: f32[7,4]" -- "$kiln" run mlp.kiln --shape 'x=Nx8' --inputs in7 --repeat 1
expect 1 "input 'x' dim 0 ('N') is free" "--inputs" -- "$kiln" run mlp.kiln --shape 'x=?x8' --repeat 1
expect 5 "does not fit input 'x'" "f32[3,5]" -- "$kiln" run mlp.kiln --shape 'x=?x8' --inputs bad
expect 0 -- "$kiln" compile mlp.kiln --shape 'x=?x8' --name mlp -o lib.so
expect 0 "int mlp_run_dims(" "[N, 8]" "MLP_NUM_FREE_DIMS 1" "!MLP_WORKSPACE_BYTES" -- cat mlp.h
# the library runs at the files' shapes, through mlp_run_dims, as the JIT does
for n in 3 7; do
  expect 0 "y: f32[$n,4]" -- "$kiln" run lib.so --inputs in$n --output-dir lib$n --repeat 1
  expect 0 close -- "$python" -c "
import numpy as np, onnx
from onnx import numpy_helper as h
a, b = (h.to_array(onnx.load_tensor(p + '/output_0.pb')) for p in ('lib$n', 'sym$n'))
print('close' if a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6) else 'differ')"
done
expect 1 "input 'x' dim 0 is free" "--inputs" -- "$kiln" run lib.so --repeat 1
expect 5 "does not fit input 'x'" "f32[3,5]" -- "$kiln" run lib.so --inputs bad
expect 0 -- "$kiln" compile mlp.kiln --shape 'x=?x8' --name mlpo -o lib.o
expect 0 "T mlpo_run_dims" "!T kiln_rt_parallel_for" -- nm lib.o
expect 4 "for this host" -- "$kiln" compile mlp.kiln --shape 'x=?x8' --triple aarch64-linux-gnu -o arm.o
# shape buckets: the exact shape runs the bucket, another the generic code, same outputs
expect 0 "y: f32[3,4]" "variant: bucket 1" -- "$kiln" run mlp.kiln --shape 'x=?x8' --bucket x=7x8 \
  --bucket x=3x8 --inputs in3 --output-dir bucket3 --repeat 1
expect 0 "y: f32[7,4]" "variant: generic" -- "$kiln" run mlp.kiln --shape 'x=?x8' --bucket x=5x8 \
  --inputs in7 --repeat 1
expect 0 same -- "$python" -c "
import numpy as np, onnx
from onnx import numpy_helper as h
a, b = (h.to_array(onnx.load_tensor(p + '/output_0.pb')) for p in ('bucket3', 'static3'))
print('same' if a.shape == b.shape and np.array_equal(a, b) else 'differ')"
expect 5 "bucket 0" "input 'x'" "dim 1" -- "$kiln" run mlp.kiln --shape 'x=?x8' --bucket x=3x5 --inputs in3
expect 5 "bucket 0" "input 'x'" "rank" -- "$kiln" run mlp.kiln --shape 'x=?x8' --bucket x=3x8x1 --inputs in3
expect 1 "bucket" "free dims" -- "$kiln" run mlp.kiln --bucket x=3x8 --inputs in3
expect 1 "numbers" -- "$kiln" run mlp.kiln --shape 'x=?x8' --bucket 'x=?x8' --inputs in3
expect 0 -- "$kiln" compile mlp.kiln --shape 'x=?x8' --bucket x=3x8 --name mlpb -o lib2.so
expect 0 "MLPB_NUM_BUCKETS 1" "bucket 0: x [3,8]" "mlpb_run_variant(" -- cat mlpb.h
expect 4 "Hardmax" "'N'" -- "$kiln" run hardmax.kiln --shape 'x=?x8' --inputs in3
# boxes and scores whose box counts are different free dims: refused, not paired at run time
expect 5 "NonMaxSuppression" "for some values of the free dims only" -- \
  "$kiln" compile nms.kiln --shape 'b=1x?x4' --shape 's=1x2x?' -o nms.so
# bench times the generic code at the files' shapes and counts the work there
for n in 3 7; do
  expect 0 "free dims: N = $n" -- "$kiln" bench mlp.kiln --shape 'x=?x8' --inputs in$n --repeat 1 \
    --peak-gflops 100 --peak-gbs 10
  "$kiln" bench mlp.kiln --shape 'x=?x8' --inputs in$n --repeat 1 --json --peak-gflops 100 \
    --peak-gbs 10 >bench$n.json
done
expect 0 "7/3" -- "$python" -c "
import json
from fractions import Fraction
a, b = (json.load(open(f'bench{n}.json')) for n in (3, 7))
assert a['dims'] == [{'name': 'N', 'value': 3}] and b['dims'] == [{'name': 'N', 'value': 7}]
fa, fb = (d['kernels'][0]['flops'] for d in (a, b))
print(Fraction(int(fb), int(fa)))"
# a convolution network with free H and W runs in the blocked layout (NCHWc), the dims of
# its blocked values dim expressions of H and W (24 channels: blocks of 8 with AVX2 and
# with AVX-512 alike, whose 16 does not divide 24)
cat >conv.kiln <<'EOF'
model conv(x: f32[1, 8, H, W]) {
  param w: f32[24, 8, 3, 3] = normal(0, 0.2)
  param v: f32[24, 24, 3, 3] = normal(0, 0.2)
  return y = Relu(Conv(Relu(Conv(x, w, pads=[1, 1, 1, 1], strides=[2, 2])), v, pads=[1, 1, 1, 1]))
}
EOF
expect 0 "ConvBlocked" "f32[1,3,(1+H)/2,(1+W)/2,8]" -- "$kiln" dump conv.kiln --shape 'x=1x8x?x?' --after layout
finish
