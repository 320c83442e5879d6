#!/usr/bin/env bash
# Progress of long steps on stderr when it is a terminal: `kiln compile`, `run` and `bench`
# rewrite one line per step of the compile (each pass, then codegen) and clear it at the
# end, so the output and any error start on a clean line; with stderr not a terminal they
# print nothing extra. The terminal is script(1)'s pseudo-terminal.
#   cli_progress.sh KILN
set -uo pipefail
kiln="$(realpath "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
model="$root/examples/mlp.kiln"
if ! command -v script >/dev/null; then
  echo "SKIPPED: no script(1) (util-linux) to make a terminal"
  exit 77
fi
# on_tty COMMAND...: runs it with a terminal for stdin, stdout and stderr
on_tty() { script -qec "$(printf '%q ' "$@")" /dev/null; }
clear=$'\r\033[K'

expect 0 "compile: step 1/" ", limit" ", fuse" ", codegen" "$clear" -- \
  on_tty "$kiln" compile "$model" --shape x=2x784 -o "$dir/libm.so" --name m
expect 0 "compile: step 1/" ", codegen" "${clear}probs: f32[2,10]" -- \
  on_tty "$kiln" run "$model" --shape x=2x784 --repeat 1
expect 0 ", codegen" "end-to-end" -- \
  on_tty "$kiln" bench "$model" --shape x=2x784 --repeat 1 --peak-gflops 100 --peak-gbs 10
# an error begins on a line of its own
expect 5 "compile: step 1/" ", bind" "${clear}kiln: " -- on_tty "$kiln" run "$model" --shape x=2x5 --repeat 1

# no terminal: nothing but what the command always prints
"$kiln" compile "$model" --shape x=2x784 -o "$dir/libm2.so" --name m2 >"$dir/out" 2>"$dir/err"
expect 0 -- test ! -s "$dir/err" -a ! -s "$dir/out"
"$kiln" run "$model" --shape x=2x784 --repeat 1 >"$dir/out" 2>"$dir/err"
expect 0 -- test ! -s "$dir/err"
expect 1 "!compile: step" -- grep -c "compile: step" "$dir/out"
finish
