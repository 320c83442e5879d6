#!/usr/bin/env bash
# The README's build lines, taken from README.md as written and run: the AOT host linked
# against libmodel.so (it must find the library when run from anywhere, and after its
# folder moves), the AOT host linked with model.o, and the JIT host linked against the
# build tree.
#   readme_commands.sh KILN LIBKILN   (LIBKILN: the built libkiln.a; its folder is "build")
set -uo pipefail
kiln="$(realpath "$1")"
build="$(cd "$(dirname "$2")" && pwd)"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

# readme_line PREFIX: the README's first line starting with PREFIX, its comment removed.
readme_line() {
  awk -v p="$1" 'index($0, p) == 1 { print; exit }' "$root/README.md" | sed 's/[[:space:]]\{2,\}#.*$//'
}
so_line="$(readme_line "cc host.c -L. -lmodel")"
jit_line="$(readme_line "cc host.c -Iinclude build/libkiln.a")"
# the .o line sits in running text, between backquotes
o_line="$(grep -o 'link with `cc host.c model.o[^`]*`' "$root/README.md" | sed 's/^link with `//; s/`$//')"
for v in so_line o_line jit_line; do
  [ -n "${!v}" ] || { echo "FAIL: README.md lacks the line for $v"; failures=$((failures + 1)); }
done

# The demo's host, for a model named "model" as in the README.
sed 's/demo/model/g; s/DEMO/MODEL/g' "$root/examples/host.c" >"$dir/host.c"

# --- AOT, shared library
mkdir "$dir/so"
cp "$dir/host.c" "$dir/so/"
expect 0 -- "$kiln" compile "$root/examples/demo.onnx" -o "$dir/so/libmodel.so" --name model
expect 0 -- bash -c "cd '$dir/so' && $so_line"
expect 0 "sum of probs 1.0000" -- bash -c "cd / && '$dir/so/host'"
mv "$dir/so" "$dir/moved"
expect 0 "sum of probs 1.0000" -- "$dir/moved/host"

# --- AOT, relocatable object
mkdir "$dir/o"
cp "$dir/host.c" "$dir/o/"
expect 0 -- "$kiln" compile "$root/examples/demo.onnx" -o "$dir/o/model.o" --name model
expect 0 -- bash -c "cd '$dir/o' && $o_line"
expect 0 "sum of probs 1.0000" -- bash -c "cd '$dir/o' && ./a.out"

# --- JIT, against the build tree: the README's paths, from a stand-in repository root
mkdir "$dir/jit"
ln -s "$root/include" "$dir/jit/include"
ln -s "$build" "$dir/jit/build"
cp "$root/tests/readme_jit_host.c" "$dir/jit/host.c"
expect 0 -- bash -c "cd '$dir/jit' && $jit_line"
expect 0 "jit host: 10 probabilities, sum 1.0000" -- bash -c "cd / && '$dir/jit/host' '$root/examples/demo.onnx'"
finish
