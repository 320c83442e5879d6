#!/usr/bin/env bash
# Seed corpora for the fuzz targets, made from the test models:
#   tests/fuzz/make_corpus.sh OUTDIR   ->  OUTDIR/{onnx,tensor,dsl,compile,tuning_log,check}/
# onnx: kiln's own test models and a spread of ONNX node-test models; tensor: their
# TensorProto inputs and outputs; dsl: every .kiln file in the tree; compile: both kinds;
# tuning_log: two records as `kiln tune` writes them; check: the compile corpus.
# Files are named by content hash, so re-running adds nothing twice.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:?usage: make_corpus.sh OUTDIR}"
node=/usr/share/libonnx-testdata/data/node
mkdir -p "$out"/{onnx,tensor,dsl,compile,tuning_log,check}

add() { # add TARGET FILE: skips files over 1 MB, which only slow the fuzzer down
  local f="$2"
  [ "$(stat -c %s "$f")" -le 1048576 ] || return 0
  cp "$f" "$1/$(sha1sum "$f" | cut -c1-16)"
}

models=("$root"/tests/data/onnx/*.onnx "$root"/examples/*.onnx)
# Every 4th node test keeps the corpus small (~230 models) yet covers most op families.
if [ -d "$node" ]; then
  mapfile -t tests < <(find "$node" -mindepth 1 -maxdepth 1 -type d | sort | awk 'NR % 4 == 1')
  for t in "${tests[@]}"; do
    models+=("$t/model.onnx")
    for pb in "$t"/test_data_set_0/*.pb; do [ -f "$pb" ] && add "$out/tensor" "$pb"; done
  done
fi
for m in "${models[@]}"; do
  [ -f "$m" ] || continue
  add "$out/onnx" "$m"
  add "$out/compile" "$m"
  add "$out/check" "$m"
done
while IFS= read -r k; do
  add "$out/dsl" "$k"
  add "$out/compile" "$k"
  add "$out/check" "$k"
done < <(find "$root/examples" "$root/tests" -name '*.kiln' -not -path '*/build*' | sort)
target='"target": {"triple": "x86_64-pc-linux-gnu", "cpu": "znver4", "features": "+avx2,+fma", "threads": 4}'
printf '%s\n' \
  "{\"kernel\": \"59bab43d11dcc393\", \"op\": \"MatMul+Relu\", $target, \"version\": \"0.1.0\", \"stages\": [\"split(1,6) split(3,32) move(3,1) parallel(0) unroll(4) vector(5)\"], \"time_ns\": 1234.5, \"default_ns\": 1500}" \
  "{\"kernel\": \"0123456789abcdef\", $target, \"version\": \"0.1.0\", \"stages\": [\"\", \"move(2,0) serial(1)\"], \"time_ns\": 7e2}" \
  >"$out/tuning_log/seed.jsonl"
for d in onnx tensor dsl compile tuning_log check; do
  echo "make_corpus: $d: $(find "$out/$d" -type f | wc -l) files"
done
