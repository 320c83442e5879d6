#!/usr/bin/env bash
# Runs one libFuzzer target for a while:  tools/fuzz.sh TARGET SECONDS [libFuzzer flags...]
# TARGET: onnx | tensor | dsl | compile | values | tuning_log | check (tests/fuzz/fuzz_TARGET.c).
# Builds build-fuzz with clang (ASan + UBSan) when needed, seeds the corpus from the test
# models, and fuzzes with one process. A crash leaves its input in
# build-fuzz/artifacts/TARGET/ and fails the script; copy that file to tests/regress/TARGET/
# so the suite replays it once fixed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:?usage: tools/fuzz.sh TARGET SECONDS}"
seconds="${2:?usage: tools/fuzz.sh TARGET SECONDS}"
shift 2
case "$target" in onnx|tensor|dsl|compile|values|tuning_log|check) ;; *) echo "fuzz.sh: unknown target '$target'" >&2; exit 2;; esac
build="${KILN_FUZZ_BUILD:-$root/build-fuzz}"
cc="${KILN_FUZZ_CC:-clang-14}"

mkdir -p "$build"
quiet() { # runs a build step, showing its output only when it fails
  "$@" >"$build/fuzz_build.log" 2>&1 || { tail -40 "$build/fuzz_build.log" >&2; exit 1; }
}
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC="$cc" quiet cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_FUZZ=ON
fi
quiet cmake --build "$build" -j2 --target "fuzz_$target"
[ -d "$build/seeds" ] || "$root/tests/fuzz/make_corpus.sh" "$build/seeds" >/dev/null
mkdir -p "$build/seeds/$target" # values, tuning_log: seeded by their regression inputs alone
corpus="$build/corpus/$target"
artifacts="$build/artifacts/$target"
mkdir -p "$corpus" "$artifacts"

# The regression inputs seed the search too: the neighbourhood of a past crash is fertile.
set +e
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" "$build/fuzz_$target" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" \
  "$corpus" "$build/seeds/$target" "$root/tests/regress/$target" 2>"$build/fuzz_$target.log"
rc=$?
set -e
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz_$target.log" | grep -o '[0-9]*$' || true)
echo "fuzz.sh: $target: ${execs:-?} executions in ${seconds}s, exit $rc (log: $build/fuzz_$target.log)"
if [ $rc -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|Test unit written' "$build/fuzz_$target.log" | head -5 >&2 || true
  echo "fuzz.sh: new inputs in $artifacts/: copy each to tests/regress/$target/ once fixed" >&2
fi
exit $rc
