#!/usr/bin/env bash
# Free input dims left unbound: compile, run and dump list them one per line (several of one
# input included) and end with the --shape options that bind them, which then work; other
# shape errors get no such hint. (The library's own words are checked in unit_passes.)
set -uo pipefail
kiln="$(realpath "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
cat >free.kiln <<'EOF'
model free(x: f32[N, 3, H, W], y: f32[N, 3, 1, 1]) {
  return s = x + y
}
EOF

# one_per_line COUNT COMMAND...: status 5, COUNT entries, no line naming two inputs.
one_per_line() {
  local want="$1" out rc=0 entries
  shift
  out="$("$@" 2>&1)" || rc=$?
  checks=$((checks + 1))
  entries="$(grep -c "^  input '" <<<"$out")"
  if [ "$rc" != 5 ] || [ "$entries" != "$want" ] || grep -q "input '.*input '" <<<"$out"; then
    printf 'FAIL: %s\n  want status 5 and %s entries, one per line; got status %s:\n%s\n' \
      "$*" "$want" "$rc" "$out"
    failures=$((failures + 1))
  fi
}

all="--shape x=1x3x1x1 --shape y=1x3x1x1"
for cmd in "compile free.kiln -o free.so" "run free.kiln" "dump free.kiln"; do
  read -ra c <<<"$cmd"
  expect 5 "  input 'x' dim 0 ('N')
  input 'x' dim 2 ('H')
  input 'x' dim 3 ('W')
  input 'y' dim 0 ('N')" "on the command line: $all" -- "$kiln" "${c[@]}"
  one_per_line 4 "$kiln" "${c[@]}"
  # the hint, taken, works
  read -ra hint <<<"$all"
  expect 0 -- "$kiln" "${c[@]}" "${hint[@]}"
  # with some dims bound, the rest are listed and hinted
  expect 5 "  input 'x' dim 2 ('H')
  input 'x' dim 3 ('W')" "!dim 0 ('N')" "on the command line: --shape x=2x3x1x1" -- \
    "$kiln" "${c[@]}" --shape y=2x3x1x1
done
# not a free dim: no hint
expect 5 "shapes do not broadcast" "!on the command line" -- \
  "$kiln" dump free.kiln --shape x=2x3x4x4 --shape y=3x3x1x1
expect 5 "input 'y' dim 1 is 3, but was given 4" "!on the command line" -- \
  "$kiln" dump free.kiln --shape y=2x4x1x1
finish
