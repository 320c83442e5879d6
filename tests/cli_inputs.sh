#!/usr/bin/env bash
# `kiln run`'s input and output files say what they are: an input without a file is an
# error naming the input and the directory unless --random-inputs; a file that does not fit
# its input names the file, the input, what the file holds and what the model wants;
# a bad --inputs or --output-dir is reported before compiling.
#   cli_inputs.sh KILN PYTHON     (PYTHON with onnx and numpy, to write the .pb files)
set -uo pipefail
kiln="$(realpath "$1")"
python="$2"
case "$python" in */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'chmod -R u+w "$dir"; rm -rf "$dir"' EXIT
cd "$dir"

cat >two.kiln <<'EOF'
model two(a: f32[1, 3], b: f32[N, 3]) {
  return y = a + b
}
EOF
cat >same_n.kiln <<'EOF'
model same_n(a: f32[N, 3], b: f32[N, 3]) {
  return y = a + b
}
EOF

# Input folders: name/input_<k>.pb = (tensor name, dtype, shape), filled with ones.
"$python" - <<'EOF' || exit 1
import os
import numpy as np
from onnx import numpy_helper
sets = {
    "ok":        [(0, "a", np.float32, (1, 3)), (1, "b", np.float32, (4, 3))],
    "swapped":   [(0, "b", np.float32, (4, 3)), (1, "a", np.float32, (1, 3))],
    "unnamed":   [(0, "", np.float32, (1, 3)), (1, "", np.float32, (4, 3))],
    "gap":       [(0, "a", np.float32, (1, 3)), (5, "b", np.float32, (4, 3))],
    "only_a":    [(0, "a", np.float32, (1, 3))],
    "only_b":    [(1, "b", np.float32, (4, 3))],
    "b_first":   [(0, "b", np.float32, (4, 3))],
    "empty":     [],
    "extra":     [(0, "a", np.float32, (1, 3)), (1, "b", np.float32, (4, 3)),
                  (2, "c", np.float32, (1,))],
    "twice":     [(0, "a", np.float32, (1, 3)), (1, "b", np.float32, (4, 3)),
                  (2, "a", np.float32, (1, 3))],
    "f64":       [(0, "a", np.float64, (1, 3)), (1, "b", np.float32, (4, 3))],
    "i64":       [(0, "a", np.float32, (1, 3)), (1, "b", np.int64, (4, 3))],
    "dims":      [(0, "a", np.float32, (3, 3)), (1, "b", np.float32, (4, 3))],
    "rank":      [(0, "a", np.float32, (1, 3)), (1, "b", np.float32, (4, 3, 1))],
    "n_differs": [(0, "a", np.float32, (2, 3)), (1, "b", np.float32, (3, 3))],
}
for name, files in sets.items():
    os.makedirs(name)
    for k, tensor, dtype, shape in files:
        t = numpy_helper.from_array(np.ones(shape, dtype), tensor)
        open(f"{name}/input_{k}.pb", "wb").write(t.SerializeToString())
EOF

# --- every input has a file, or the user asked for random values
expect 0 "y: f32[4,3]" "mean 2 " -- "$kiln" run two.kiln --inputs ok --repeat 1
expect 0 "y: f32[4,3]" "mean 2 " -- "$kiln" run two.kiln --inputs swapped --repeat 1
expect 0 "y: f32[4,3]" "mean 2 " -- "$kiln" run two.kiln --inputs unnamed --repeat 1
expect 0 "y: f32[4,3]" "mean 2 " -- "$kiln" run two.kiln --inputs gap --repeat 1
expect 2 "--inputs 'only_a' has no file for input 'b'" "there is no input_1.pb" "--random-inputs" \
  "!latency" -- "$kiln" run two.kiln --inputs only_a
expect 2 "--inputs 'only_b' has no file for input 'a'" "there is no input_0.pb" "!latency" -- \
  "$kiln" run two.kiln --inputs only_b --shape b=4x3
expect 2 "--inputs 'b_first' has no file for input 'a'" "input_0.pb is for 'b'" -- \
  "$kiln" run two.kiln --inputs b_first
expect 2 "--inputs 'empty' has no file for inputs 'a'" "'b'" -- "$kiln" run two.kiln --inputs empty
# asked for: the missing ones are random, and the run says so
expect 0 "no file for input 'b' in 'only_a': random values" "y: f32[5,3]" -- \
  "$kiln" run two.kiln --inputs only_a --random-inputs --shape b=5x3 --repeat 1
expect 0 "no file for input 'a' in 'empty'" "no file for input 'b' in 'empty'" -- \
  "$kiln" run two.kiln --inputs empty --random-inputs --shape b=1x3 --repeat 1
expect 0 "!no file for input" "mean 2 " -- "$kiln" run two.kiln --inputs ok --random-inputs --repeat 1
# no --inputs at all: random values, as `kiln run --help` says
expect 0 "y: f32[1,3]" -- "$kiln" run two.kiln --shape b=1x3 --repeat 1
expect 0 "Without --inputs" -- "$kiln" run --help
# every file goes to an input
expect 1 "'extra/input_2.pb' (tensor 'c') is for no input of the model" "'a', 'b'" -- \
  "$kiln" run two.kiln --inputs extra
expect 1 "'twice/input_2.pb' (tensor 'a') is for no input" -- "$kiln" run two.kiln --inputs twice

# --- a file that does not fit names the file, the input, and both types
expect 1 "'f64/input_0.pb' does not fit input 'a'" "holds f64[1,3]" "declares f32[1,3]" -- \
  "$kiln" run two.kiln --inputs f64
expect 1 "'i64/input_1.pb' does not fit input 'b'" "holds i64[4,3]" "declares f32[N,3]" -- \
  "$kiln" run two.kiln --inputs i64
expect 5 "'dims/input_0.pb' does not fit input 'a'" "holds f32[3,3]" "declares f32[1,3]" -- \
  "$kiln" run two.kiln --inputs dims
expect 5 "'rank/input_1.pb' does not fit input 'b'" "holds f32[4,3,1]" "declares f32[N,3]" -- \
  "$kiln" run two.kiln --inputs rank
expect 5 "'n_differs/input_1.pb' gives input 'b' dim 0 ('N') the size 3" \
  "'n_differs/input_0.pb' made 'N' 2" -- "$kiln" run same_n.kiln --inputs n_differs
expect 5 "'ok/input_0.pb' gives input 'a' dim 0 ('N') the size 1" "--shape made 'N' 4" -- \
  "$kiln" run same_n.kiln --inputs ok --shape b=4x3
expect 5 "--shape for input 'b' says f32[5,3], but 'ok/input_1.pb' holds f32[4,3]" -- \
  "$kiln" run two.kiln --inputs ok --shape b=5x3
# files that are no tensor at all
cp -r ok garbage && echo "not a tensor" >garbage/input_1.pb
expect 3 "'garbage/input_1.pb': not a valid ONNX tensor" -- "$kiln" run two.kiln --inputs garbage
cp -r ok truncated && head -c 20 ok/input_0.pb >truncated/input_0.pb
expect 3 "'truncated/input_0.pb': " -- "$kiln" run two.kiln --inputs truncated
cp -r ok isdir && rm isdir/input_1.pb && mkdir isdir/input_1.pb
expect 8 "isdir/input_1.pb" -- "$kiln" run two.kiln --inputs isdir
# --inputs that is no directory
expect 2 "--inputs 'nowhere': no such directory" -- "$kiln" run two.kiln --inputs nowhere
expect 1 "--inputs 'two.kiln' is not a directory" -- "$kiln" run two.kiln --inputs two.kiln

# --- --output-dir that cannot be written: said before compiling (same_n.kiln has a free
# dim: compiling it without --shape fails, so the status shows which check came first)
touch file
expect 8 "--output-dir 'file/out'" "Not a directory" "!latency" -- \
  "$kiln" run same_n.kiln --output-dir file/out
expect 8 "--output-dir 'file' is not a directory" "!latency" -- "$kiln" run same_n.kiln --output-dir file
expect 8 "--output-dir 'file/out'" "!y: f32" "!latency" -- \
  "$kiln" run two.kiln --inputs ok --output-dir file/out
if [ "$(id -u)" != 0 ]; then # root writes anywhere
  mkdir locked && chmod 555 locked
  expect 8 "--output-dir 'locked': cannot create files in it" "!latency" -- \
    "$kiln" run same_n.kiln --output-dir locked
  expect 8 "--output-dir 'locked/sub'" "!latency" -- "$kiln" run same_n.kiln --output-dir locked/sub
fi
expect 0 "mean 2 " -- "$kiln" run two.kiln --inputs ok --output-dir new/out --repeat 1
[ -f new/out/output_0.pb ] || { echo "FAIL: no new/out/output_0.pb"; failures=$((failures + 1)); }
[ -z "$(ls -A new/out | grep -v '^output_0.pb$')" ] ||
  { echo "FAIL: new/out holds more than output_0.pb: $(ls -A new/out)"; failures=$((failures + 1)); }
finish
