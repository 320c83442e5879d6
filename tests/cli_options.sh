#!/usr/bin/env bash
# kiln's options say what they do: every option of another command, every unknown option,
# every malformed or out-of-range number and every option given twice is an error (status
# 1) naming it, followed by that command's usage; well-formed values are taken.
set -uo pipefail
kiln="$(realpath "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
model="$root/examples/demo.onnx" # one input: image f32[1,1,28,28]
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"

usage_of() { echo "usage: kiln $1"; }

# Which command takes which option, as each command's --help lists them.
#          option              commands          a well-formed value
options=(
  "--shape               compile,run,dump  image=1x1x28x28"
  "--max-tensor-bytes    compile,run,dump  1000000"
  "--max-nodes           compile,run       1000"
  "--max-loop-iterations compile,run       1000"
  "--check-bounds        compile,run       -"
  "-o                    compile,dump      out.x"
  "--name                compile           m"
  "--cpu                 compile           generic"
  "--features            compile           +sse2"
  "--triple              compile           x86_64-linux-gnu"
  "--inputs              run               ."
  "--random-inputs       run               -"
  "--output-dir          run               out"
  "--seed                run               3"
  "--repeat              run               2"
  "--threads             run               1"
  "--kernels             dump              -"
  "--after               dump              lower"
  "--dsl                 dump              -"
  "--dsl-weights         dump              w"
  "--target              compile,run,dump  cpu"
  "--cuda                dump              -"
)
for line in "${options[@]}"; do
  read -r opt cmds value <<<"$line"
  args=("$opt")
  [ "$value" != - ] && args+=("$value")
  for cmd in compile run dump; do
    case ",$cmds," in *",$cmd,"*) continue ;; esac
    extra=()
    [ "$cmd" = compile ] && extra=(-o "$dir/never.so")
    expect 1 "$opt is not an option of 'kiln $cmd'" "$(usage_of "$cmd")" -- \
      "$kiln" "$cmd" "$model" "${extra[@]}" "${args[@]}"
  done
done
[ -e never.so ] && { echo "FAIL: a refused compile wrote never.so"; failures=$((failures + 1)); }

# Unknown options, for every command.
for cmd in compile run dump; do
  for bad in --bogus -x --repeat=3 --Shape -O; do
    expect 1 "unknown option '$bad'" "$(usage_of "$cmd")" -- "$kiln" "$cmd" "$model" "$bad"
  done
  expect 1 "unexpected argument 'extra'" "$(usage_of "$cmd")" -- "$kiln" "$cmd" "$model" extra
done
expect 1 "option --repeat needs a value" "$(usage_of run)" -- "$kiln" run "$model" --repeat
expect 1 "compile needs MODEL and -o OUT" "$(usage_of compile)" -- "$kiln" compile "$model"
expect 1 "no MODEL given" "$(usage_of run)" -- "$kiln" run --repeat 2

# Numbers: the whole string, in range. (command, option, lowest, highest, highest + 1)
big=9223372036854775807
numbers=(
  "run --repeat 1 1000000 1000001"
  "run --threads 1 4096 4097"
  "run --seed 0 4294967295 4294967296"
  "run --max-nodes 1 $big 9223372036854775808"
  "compile --max-nodes 1 $big 9223372036854775808"
  "run --max-tensor-bytes 1 $big 9223372036854775808"
  "compile --max-tensor-bytes 1 $big 9223372036854775808"
  "run --max-loop-iterations 1 $big 9223372036854775808"
  "dump --max-tensor-bytes 1 $big 9223372036854775808"
)
malformed=(abc "" 1x 0x10 " 1" "1 " +1 -1 1.5 1e3 99999999999999999999999)
for line in "${numbers[@]}"; do
  read -r cmd opt lo hi above <<<"$line"
  extra=()
  [ "$cmd" = compile ] && extra=(-o "$dir/never.so")
  below=$((lo - 1))
  for v in "${malformed[@]}" "$above" $([ "$lo" -gt 0 ] && echo "$below"); do
    expect 1 "$opt wants a whole number from $lo to $hi, got '$v'" "$(usage_of "$cmd")" -- \
      "$kiln" "$cmd" "$model" "${extra[@]}" "$opt" "$v"
  done
done

# --shape dims: whole numbers (or ? or a name: a free dim, cli_symbolic.sh), at most 8, none empty.
for v in image=1x1x28x2a image=1x1x28x image=x1x1x28 image=1xx1x28 image=1x1x28x-1 \
         image=+1x1x28x28 "image= 1x1x28x28" image=1x1x28x99999999999999999999 =1x1 image; do
  expect 1 "--shape" "'$v'" "$(usage_of dump)" -- "$kiln" dump "$model" --shape "$v"
done
expect 1 "more than 8 dims" -- "$kiln" dump "$model" --shape image=1x1x1x1x1x1x1x1x1
expect 1 "--shape for input 'image' given twice" -- \
  "$kiln" dump "$model" --shape image=1x1x28x28 --shape image=1x1x28x28

# Options given twice.
for opt in --repeat --threads --seed --inputs --output-dir; do
  expect 1 "$opt given twice" "$(usage_of run)" -- "$kiln" run "$model" "$opt" 1 "$opt" 2
done
for opt in -o --name --cpu --max-nodes; do
  expect 1 "$opt given twice" "$(usage_of compile)" -- "$kiln" compile "$model" -o a.so "$opt" 1 "$opt" 2
done

# dump: -o and --dsl-weights belong to --dsl; --dsl prints the model as imported.
expect 1 "without --dsl" "$(usage_of dump)" -- "$kiln" dump "$model" -o d.kiln
expect 1 "--dsl-weights is for --dsl" -- "$kiln" dump "$model" --dsl-weights w
expect 1 "with -o the weights go beside OUT" -- "$kiln" dump "$model" --dsl -o d.kiln --dsl-weights w
expect 1 "--kernels does not apply" -- "$kiln" dump "$model" --dsl --kernels
expect 1 "--after does not apply" -- "$kiln" dump "$model" --dsl --after fold
expect 1 "--after 'bogus' is no pass; the passes are limit, bind" "$(usage_of dump)" -- \
  "$kiln" dump "$model" --after bogus
expect 1 "--shape does not apply" -- "$kiln" dump "$model" --dsl --shape image=1x1x28x28
[ -e d.kiln ] && { echo "FAIL: a refused dump wrote d.kiln"; failures=$((failures + 1)); }

# Well-formed values are taken, and do what they say.
expect 0 "over 3 runs" -- "$kiln" run "$model" --repeat 3 --threads 1 --seed 4294967295 \
  --max-nodes 1000 --max-tensor-bytes 9223372036854775807 --shape image=1x1x28x28
expect 0 "over 1 runs" -- "$kiln" run "$model" --repeat 1 --seed 0
expect 6 "over the limit of 2" -- "$kiln" run "$model" --max-nodes 2
expect 0 "input %image : f32[1,1,28,28]" -- "$kiln" dump "$model" --shape image=1x1x28x28
expect 0 -- "$kiln" compile "$model" -o "$dir/m.so" --name m --max-nodes 1000 --check-bounds
expect 0 -- "$kiln" dump "$model" --dsl -o "$dir/d.kiln"
# --after: the graph up to that pass; the kernels from `lower` on, their recipes once scheduled
"$kiln" dump "$model" --after fold >"$dir/fold" && ! grep -q "^kernel " "$dir/fold" &&
  grep -q "^input" "$dir/fold" || { echo "FAIL: dump --after fold"; failures=$((failures + 1)); }
"$kiln" dump "$model" --after lower >"$dir/lower" && grep -q "^kernel " "$dir/lower" &&
  ! grep -q "recipe" "$dir/lower" || { echo "FAIL: dump --after lower"; failures=$((failures + 1)); }
"$kiln" dump "$model" --kernels >"$dir/all" && grep -q "recipe split" "$dir/all" ||
  { echo "FAIL: dump --kernels prints recipes"; failures=$((failures + 1)); }
expect 0 "model demo" -- cat "$dir/d.kiln"
for cmd in compile run dump; do
  expect 0 "$(usage_of "$cmd")" -- "$kiln" "$cmd" --help
done
# --version: the library's version (kiln.h's numbers), nothing else after it
v=$(sed -n 's/^#define KILN_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
  "$root/include/kiln.h" | paste -sd.)
expect 0 "kiln $v" -- "$kiln" --version
[[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "FAIL: version in kiln.h: '$v'"; failures=$((failures + 1)); }
expect 1 "unknown command" -- "$kiln" --version extra
finish
