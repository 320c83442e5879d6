#!/usr/bin/env bash
# AOT libraries with free dims: each model of gen_dyn_models.py compiled once by
# `kiln compile --shape` with its dim left free, its host (tests/aot_dyn_host.c) built by a
# plain cc against the generated header and library, run at every case's shape against
# onnxruntime's outputs, and on shapes the model cannot take; again with a shape bucket.
# Then objects for this host (two linked into one host), and what AOT with free dims
# refuses: another architecture's object.
#   aot_dyn.sh KILN DYN_MODELS_DIR
set -euo pipefail
kiln="$(realpath "$1")"
models="$(realpath "$2")"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
build() { # name shape [bucket case]
  local name="$1" up cases=("$models/$1"/case_*)
  up="$(echo "$1" | tr a-z A-Z)"
  mkdir -p "$dir/$name"
  local bucket=()
  if [ $# -gt 2 ]; then
    bucket=(--bucket "$3")
    cases[$4]="bucket:${cases[$4]}"
  fi
  "$kiln" compile "$models/$name/model.onnx" --shape "$2" "${bucket[@]}" --name "$name" \
    -o "$dir/$name/lib$name.so"
  cc -O1 -std=c11 -Wall -Wextra -Werror -DMODEL="$name" -DMODEL_UP="$up" -DHEADER="\"$name.h\"" \
    -I"$dir/$name" "$root/tests/aot_dyn_host.c" -L"$dir/$name" -l"$name" \
    -Wl,-rpath,"$dir/$name" -lm -o "$dir/$name/host"
  "$dir/$name/host" "${cases[@]}"
}
build mlp_dyn 'x=?x64'
build attention_dyn 'x=1x?x32'
# with a shape bucket at one case's shape: that case runs it, the others the generic code
build mlp_dyn 'x=?x64' x=7x64 1
grep -q "bucket 0: x \[7,64\]" "$dir/mlp_dyn/mlp_dyn.h" || { echo "FAIL: no bucket in the header"; exit 1; }
build attention_dyn 'x=1x?x32' x=1x33x32 2
build cnn_dyn "x=?x3x?x?"
build cnn_dyn "x=?x3x?x?" x=2x3x45x33 1
build stem_dyn "x=?x3x?x?"
build resnet_dyn "x=?x3x?x?"
build unet_dyn "x=?x3x?x?"
build export_dyn "x=?x?x32"
# no header macro for a free dim's size: the library must not say a fixed workspace
if grep -q WORKSPACE_BYTES "$dir/mlp_dyn/mlp_dyn.h"; then echo "FAIL: WORKSPACE_BYTES"; exit 1; fi
# an object file for this host carries the pool and the run-time planner itself: a host
# links two of them (all symbols but the models' own local) with plain cc -pthread -lm
mkdir -p "$dir/obj"
"$kiln" compile "$models/resnet_dyn/model.onnx" --shape "x=?x3x?x?" --name resnet_dyn -o "$dir/obj/resnet_dyn.o"
"$kiln" compile "$models/unet_dyn/model.onnx" --shape "x=?x3x?x?" --name unet_dyn -o "$dir/obj/unet_dyn.o"
for name in resnet_dyn unet_dyn; do
  up="$(echo "$name" | tr a-z A-Z)"
  other=unet_dyn
  [ $name = unet_dyn ] && other=resnet_dyn
  cc -O1 -std=c11 -Wall -Wextra -Werror -DMODEL="$name" -DMODEL_UP="$up" -DHEADER="\"$name.h\"" \
    -I"$dir/obj" "$root/tests/aot_dyn_host.c" "$dir/obj/$name.o" "$dir/obj/$other.o" -pthread -lm \
    -o "$dir/obj/host_$name"
  "$dir/obj/host_$name" "$models/$name"/case_*
done
# another architecture's object has no planner to carry
set +e
out="$("$kiln" compile "$models/mlp_dyn/model.onnx" --shape 'x=?x64' --triple aarch64-linux-gnu -o "$dir/m.o" 2>&1)"
rc=$?
set -e
echo "$out"
if [ $rc -ne 4 ] || ! grep -q "for this host" <<<"$out" || [ -e "$dir/m.o" ]; then
  echo "FAIL: a foreign object file with free dims: rc $rc"
  exit 1
fi
echo "aot_dyn: ok"
