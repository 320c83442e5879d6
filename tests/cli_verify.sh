#!/usr/bin/env bash
# `kiln verify`: models that kiln compiles right verify clean (exit 0) with and without
# fusion and the blocked layout, --json says the same as JSON, and bad command lines are
# usage errors. (Faults are injected by tests/unit_verify.c, which reaches the test-only
# hooks; the command line has none.)
#   cli_verify.sh KILN                    the DSL examples and the options
#   cli_verify.sh KILN --model DIR        DIR/model.onnx on DIR/test_data_set_0
set -uo pipefail
kiln="$(realpath "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# verify ARGS...: exits 0 and says everything agrees
clean() {
  "$kiln" verify "$@" >"$dir/out" 2>"$dir/err" ||
    { fail "verify $* exited $?: $(cat "$dir/out" "$dir/err")"; return; }
  grep -q '^ok: everything agrees' "$dir/out" || fail "verify $*: $(cat "$dir/out")"
}

if [ "${2:-}" = --model ]; then
  clean "$3/model.onnx" --inputs "$3/test_data_set_0"
  [ "$fails" = 0 ] && echo "cli_verify $3: ok"
  exit $((fails != 0))
fi

mlp="$root/examples/mlp.kiln"
net="$root/tests/data/verify_net.kiln"
clean "$mlp" --shape x=4x784
clean "$mlp" --shape x=4x784 --no-fuse
clean "$net" --shape image=2x3x16x16
clean "$net" --shape image=2x3x16x16 --no-layout
clean "$net" --shape image=2x3x16x16 --no-fuse --no-layout --threads 1 --seed 9
clean "$root/examples/encoder.kiln"

# --json: one object; every kernel of `kiln dump --kernels` checked, nothing diverged
kernels=$("$kiln" dump "$net" --shape image=1x3x16x16 --kernels | grep -c '^kernel ')
"$kiln" verify "$net" --shape image=1x3x16x16 --json >"$dir/json" 2>"$dir/err" ||
  fail "verify --json exited $?: $(cat "$dir/err")"
python3 - "$dir/json" "$kernels" <<'PY' || fail "verify --json: $(cat "$dir/json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["diverged"] is None, d
assert d["kernels"] == int(sys.argv[2]) == d["checked"], d
assert d["values_matched"] >= 1 and d["outputs_checked"] == 1, d
assert 0 <= d["max_code_error"] < 1 and 0 <= d["max_rewrite_error"] < 1, d
PY

# inputs as `kiln run` takes them
mkdir "$dir/in"
"$kiln" verify "$mlp" --shape x=4x784 --inputs "$dir/in" >/dev/null 2>"$dir/err"
rc=$?
[ "$rc" = 2 ] && grep -q "'x'" "$dir/err" || fail "verify --inputs without a file: $rc $(cat "$dir/err")"
"$kiln" verify "$mlp" --shape x=4x784 --inputs "$dir/in" --random-inputs >"$dir/out" 2>"$dir/err" &&
  grep -q "no file for input 'x'" "$dir/err" && grep -q '^ok: ' "$dir/out" ||
  fail "verify --random-inputs: $(cat "$dir/out" "$dir/err")"

# usage errors: exit 1 (KILN_ERR_INVALID_ARGUMENT), nothing on stdout
for args in "" "$mlp --repeat 3" "$mlp --threads 0" "$mlp --check-bounds" "$mlp --seed x" \
            "$mlp --bogus" "$mlp $mlp"; do
  # shellcheck disable=SC2086
  "$kiln" verify $args >"$dir/out" 2>"$dir/err"
  rc=$?
  [ "$rc" = 1 ] && [ ! -s "$dir/out" ] && [ -s "$dir/err" ] ||
    fail "verify $args: exit $rc, $(cat "$dir/out" "$dir/err")"
done
"$kiln" verify --help | grep -q '^usage: kiln verify MODEL' || fail "verify --help"
"$kiln" --help | grep -q '^  verify MODEL' || fail "kiln --help does not list verify"
"$kiln" verify "$dir/missing.onnx" >/dev/null 2>&1
[ $? = 2 ] || fail "verify of a missing model: not exit 2"

[ "$fails" = 0 ] && echo "cli_verify: ok"
exit $((fails != 0))
