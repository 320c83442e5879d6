#!/usr/bin/env bash
# `kiln bench`: one row per kernel, named as `kiln dump --kernels` names them; --json is
# JSON whose per-kernel times add up to the end-to-end time's order of magnitude; bad
# options are usage errors. No timing is asserted beyond orders of magnitude.
#   cli_bench.sh KILN
set -uo pipefail
kiln="$(realpath "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
model="$root/examples/mlp.kiln"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
peaks=(--peak-gflops 100 --peak-gbs 10) # no measuring: the test stays quick

"$kiln" dump "$model" --shape x=4x784 --kernels | sed -n 's/^kernel \([^ ]*\) .*/\1/p' >"$dir/dump"
"$kiln" bench "$model" --shape x=4x784 --repeat 3 "${peaks[@]}" >"$dir/table" 2>"$dir/err" ||
  fail "bench exited $?: $(cat "$dir/err")"
awk '/^[0-9]+ /{print $2}' "$dir/table" >"$dir/rows"
[ -s "$dir/dump" ] || fail "dump --kernels named no kernel"
cmp -s "$dir/dump" "$dir/rows" || fail "bench rows differ from dump --kernels: $(diff "$dir/dump" "$dir/rows")"
grep -q '^end-to-end, [0-9]* threads\?: median' "$dir/table" || fail "no end-to-end line"
grep -q 'roofline: peak 100.0 GFLOP/s, 10.0 GB/s (given)' "$dir/table" || fail "peaks not as given"

"$kiln" bench "$model" --shape x=4x784 --repeat 3 --threads 1,2 --json "${peaks[@]}" \
  >"$dir/json" 2>"$dir/err" || fail "bench --json exited $?: $(cat "$dir/err")"
python3 - "$dir/json" "$dir/dump" <<'PY' || fail "bench --json: $(cat "$dir/json")"
import json, sys
d = json.load(open(sys.argv[1]))
names = open(sys.argv[2]).read().split()
assert [k["name"] for k in d["kernels"]] == names, "names"
assert [e["threads"] for e in d["end_to_end"]] == [1, 2], "thread counts"
assert d["threads"] == 1, "the table runs at the first count"
total_ms = sum(k["time_us"] for k in d["kernels"]) / 1e3
e2e = d["end_to_end"][0]["median_ms"]
assert total_ms > 0 and e2e > 0 and e2e / 10 <= total_ms <= e2e * 10, (total_ms, e2e)
mm = [k for k in d["kernels"] if k["op"].split("+")[0] in ("MatMul", "MatMulPanels")][0]
assert "+" in mm["op"] and mm["flops"] >= 2 * 4 * 784 * 256, mm  # bias and Relu fused
PY

# --no-fuse keeps a kernel per node: the MatMuls' bias Adds and Relus come back
fused=$("$kiln" dump "$model" --shape x=4x784 --kernels | grep -c '^kernel ')
unfused=$("$kiln" dump "$model" --shape x=4x784 --kernels --no-fuse | grep -c '^kernel ')
[ "$unfused" = $((fused + 5)) ] || fail "dump --no-fuse: $unfused kernels, fused $fused"
# a conv network runs in the blocked layout; --no-layout keeps NCHW (and bench takes it)
conv="$root/bench/kernels/conv3x3_64_56.kiln"
"$kiln" dump "$conv" --kernels | grep -q '^kernel .* (ConvBlocked)' || fail "dump: no ConvBlocked"
"$kiln" dump "$conv" --kernels --no-layout | grep -q 'Blocked' && fail "dump --no-layout: blocked kernels"
"$kiln" bench "$conv" --repeat 1 --no-layout "${peaks[@]}" >"$dir/table" 2>"$dir/err" &&
  grep -q '^0 .* Conv  ' "$dir/table" || fail "bench --no-layout: $(cat "$dir/table" "$dir/err")"
"$kiln" bench "$model" --shape x=4x784 --repeat 1 --no-fuse "${peaks[@]}" >"$dir/table" 2>"$dir/err" &&
  grep -q '^0 .* MatMul\(Panels\)\?  ' "$dir/table" || fail "bench --no-fuse: $(cat "$dir/table" "$dir/err")"

# inputs as `kiln run` takes them: a folder without the file is an error unless --random-inputs
mkdir "$dir/in"
"$kiln" bench "$model" --shape x=4x784 --inputs "$dir/in" "${peaks[@]}" >/dev/null 2>"$dir/err"
[ $? != 0 ] && grep -q "'x'" "$dir/err" || fail "bench --inputs without a file: $(cat "$dir/err")"
"$kiln" bench "$model" --shape x=4x784 --inputs "$dir/in" --random-inputs --repeat 1 "${peaks[@]}" \
  >/dev/null 2>"$dir/err" && grep -q "no file for input 'x'" "$dir/err" ||
  fail "bench --inputs --random-inputs: $(cat "$dir/err")"

usage() { # exit status 1 and the bench usage on stderr
  "$kiln" bench "$@" >/dev/null 2>"$dir/err"
  local rc=$?
  [ $rc = 1 ] && grep -q 'usage: kiln bench' "$dir/err" || fail "bench $* gave $rc: $(cat "$dir/err")"
}
usage "$model" --threads 0
usage "$model" --threads 1,,2
usage "$model" --threads 1 --threads 2
usage "$model" --peak-gflops -1
usage "$model" --peak-gbs 10x
usage "$model" --peak-gbs 1 --peak-gbs 2
usage "$model" --repeat 0
usage "$model" --kernels
usage "$model" -o out.so
usage
"$kiln" run "$model" --json >/dev/null 2>"$dir/err"
[ $? = 1 ] && grep -q "only of 'kiln bench'" "$dir/err" || fail "run --json: $(cat "$dir/err")"
"$kiln" bench --help | grep -q 'usage: kiln bench' || fail "bench --help"

[ $fails = 0 ] && echo "cli_bench: all passed"
exit $((fails > 0))
