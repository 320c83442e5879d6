#!/usr/bin/env bash
# A kiln compile ended by a signal leaves nothing in the output directory and exits by that
# signal: while LLVM writes the object (a larger model, signalled once its temporaries
# appear) and while the system compiler links it (a stand-in `cc` that links slowly and
# writes its output from a child of its own, as gcc's collect2/ld do).
set -uo pipefail
kiln="$(realpath "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT

# until_true CONDITION: waits up to 120 s for a condition (a loaded machine compiles slowly).
until_true() {
  for _ in $(seq 1200); do eval "$1" && return 0; sleep 0.1; done
  return 1
}

# expect_killed SIG DIR PID: PID ends by SIG (status 128 + its number), DIR ends empty.
expect_killed() {
  local sig="$1" out="$2" pid="$3" rc=0 want
  want=$((128 + $(kill -l "$sig")))
  kill -s "$sig" "$pid"
  wait "$pid" || rc=$?
  checks=$((checks + 1))
  if [ "$rc" != "$want" ] || [ -n "$(ls -A "$out")" ]; then
    printf 'FAIL: SIG%s: exit status %s (want %s); left in %s: %s\n' "$sig" "$rc" "$want" "$out" \
      "$(ls -A "$out" | tr '\n' ' ')"
    failures=$((failures + 1))
  fi
}

# --- while LLVM compiles: the temporaries exist once the passes are done
for sig in TERM INT HUP; do
  out="$dir/llvm_$sig"
  mkdir "$out"
  # a background job starts with SIGINT ignored (and kiln keeps an ignored signal so):
  # give it the default, as a terminal's foreground job has
  env --default-signal=INT "$kiln" compile "$root/examples/resnet18.kiln" -o "$out/r.so" \
    --name resnet --shape image=1x3x64x64 &
  pid=$!
  if ! until_true '[ -n "$(ls -A "$out")" ] || ! kill -0 $pid 2>/dev/null'; then
    echo "FAIL: no temporaries appeared"; failures=$((failures + 1))
  fi
  if ! kill -0 $pid 2>/dev/null; then
    echo "FAIL: the compile ended before SIG$sig could be sent: $(ls -A "$out")"
    failures=$((failures + 1))
    continue
  fi
  expect_killed "$sig" "$out" $pid
done

# --- while the system compiler links: a stand-in cc whose "linker" (a child process)
# writes the output late, unless it is stopped with the driver
mkdir "$dir/bin"
cat >"$dir/bin/cc" <<'EOF'
#!/usr/bin/env bash
out=
while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
( sleep 4; echo late >"$out"; echo late >"$out.late" ) &
touch "$KILN_TEST_LINKING"
wait
EOF
chmod +x "$dir/bin/cc"
for sig in TERM INT; do
  out="$dir/link_$sig"
  mkdir "$out"
  rm -f "$dir/linking"
  KILN_TEST_LINKING="$dir/linking" PATH="$dir/bin:$PATH" env --default-signal=INT \
    "$kiln" compile "$root/examples/demo.onnx" -o "$out/demo.so" --name demo &
  pid=$!
  if ! until_true "[ -e '$dir/linking' ]"; then
    echo "FAIL: the stand-in cc never ran"; failures=$((failures + 1))
  fi
  expect_killed "$sig" "$out" $pid
  sleep 5 # past the stand-in linker's delay: stopped with its driver, it wrote nothing
  checks=$((checks + 1))
  if [ -n "$(ls -A "$out")" ]; then
    echo "FAIL: SIG$sig during the link: the linker wrote $(ls -A "$out" | tr '\n' ' ')"
    failures=$((failures + 1))
  fi
done

# --- a signal ignored by whoever started kiln (nohup) stays ignored: the compile goes on
out="$dir/nohup"
mkdir "$out"
bash -c 'trap "" HUP; exec "$@"' - "$kiln" compile "$root/examples/resnet18.kiln" \
  -o "$out/r.so" --name resnet --shape image=1x3x64x64 &
pid=$!
until_true '[ -n "$(ls -A "$out")" ] || ! kill -0 $pid 2>/dev/null'
kill -HUP $pid 2>/dev/null
rc=0
wait $pid || rc=$?
checks=$((checks + 1))
if [ "$rc" != 0 ] || [ "$(ls -A "$out" | tr '\n' ' ')" != "r.so resnet.h " ]; then
  echo "FAIL: with SIGHUP ignored: exit status $rc, left $(ls -A "$out" | tr '\n' ' ')"
  failures=$((failures + 1))
fi
finish
