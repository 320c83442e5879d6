#!/usr/bin/env bash
# The README's main job as a test: compile examples/demo.onnx (and demo.kiln) ahead of
# time, build examples/host.c against the library with a plain cc, run it. host.c exits
# non-zero unless its softmax output sums to 1; both sources must give the same output.
set -euo pipefail
kiln="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
for src in demo.onnx demo.kiln; do
  out="$dir/${src%%.*}_${src##*.}"
  mkdir -p "$out"
  "$kiln" compile "$root/examples/$src" -o "$out/libdemo.so" --name demo
  cc -O2 -Wall -Wextra -Werror "$root/examples/host.c" -I"$out" -L"$out" -ldemo \
    -Wl,-rpath,"$out" -o "$out/host"
  "$out/host" | tee "$out/stdout"
done
# same probabilities and class from both front ends (latency lines differ)
diff <(grep -v latency "$dir/demo_onnx/stdout") <(grep -v latency "$dir/demo_kiln/stdout")
echo "example host: ok"
