#!/usr/bin/env bash
# kiln used as an installed C library: `cmake --install BUILD --prefix P`, then a host
# (tests/install/host.c: JIT and AOT through the public API, the host's OpenMP setting left
# alone) built out of the tree three ways: cc with `pkg-config --cflags --libs kiln`, and a
# CMake project with find_package(kiln) linking kiln::kiln and kiln::kiln_static. Each host's
# output for examples/demo.onnx must match onnxruntime's. Also: libkiln.so's SONAME, the
# installed CLI, and the whole prefix moved elsewhere (pkg-config and AOT still work).
#   install_host.sh BUILD PYTHON   (PYTHON: with numpy and onnxruntime)
set -uo pipefail
build="$(cd "$1" && pwd)"
python="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
model="$root/examples/demo.onnx"
prefix="$dir/prefix"
version="$(sed -n 's/^#define KILN_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
  "$root/include/kiln.h" | paste -sd.)"

# onnxruntime's output for host.c's input, (i % 7) / 7, one value a line
"$python" - "$model" >"$dir/reference" <<'PY' || { echo "FAIL: onnxruntime reference"; exit 1; }
import sys, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
x = (np.arange(int(np.prod(i.shape))) % 7 / 7).astype(np.float32).reshape(i.shape)
for v in s.run(None, {i.name: x})[0].ravel(): print(repr(float(v)))
PY

# run_host NAME HOST: runs it on the demo; its output must match the reference
run_host() {
  mkdir -p "$dir/work_$1"
  expect 0 -- bash -c "'$2' '$model' '$dir/work_$1' >'$dir/out_$1'"
  expect 0 -- "$python" -c '
import sys, numpy as np
got, want = (np.loadtxt(f, ndmin=1) for f in sys.argv[1:])
sys.exit(0 if got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-6) else 1)
' "$dir/out_$1" "$dir/reference"
}

expect 0 -- cmake --install "$build" --prefix "$prefix"
expect 0 "Library soname: [libkiln.so.0]" -- readelf -d "$prefix/lib/libkiln.so"
expect 0 "libkiln.so.$version" -- readlink -f "$prefix/lib/libkiln.so"

# pkg-config, libkiln.so
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
expect 0 "$version" -- pkg-config --modversion kiln
cflags="$(pkg-config --cflags kiln)" libs="$(pkg-config --libs kiln)"
expect 0 -- bash -c "cc -O2 -Wall -Wextra -Werror -fopenmp '$root/tests/install/host.c' $cflags \
  $libs -ldl -lm -Wl,-rpath,'$prefix/lib' -o '$dir/host_pc'"
run_host pc "$dir/host_pc"

# find_package(kiln): kiln::kiln and kiln::kiln_static
expect 0 -- cmake -S "$root/tests/install" -B "$dir/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-Wall -Wextra -Werror"
expect 0 -- cmake --build "$dir/cmake"
expect 0 "libkiln.so.0" -- readelf -d "$dir/cmake/host_shared"
expect 0 "!libkiln" -- readelf -d "$dir/cmake/host_static"
run_host shared "$dir/cmake/host_shared"
run_host static "$dir/cmake/host_static"

# the installed command line
mkdir "$dir/cli"
expect 0 -- "$prefix/bin/kiln" compile "$model" -o "$dir/cli/libdemo.so" --name demo
expect 0 -- test -s "$dir/cli/libdemo.so" -a -s "$dir/cli/demo.h"
expect 0 -- "$prefix/bin/kiln" run "$model"

# the prefix moved: pkg-config's paths follow it, and AOT links without the old one
mv "$prefix" "$dir/moved"
export PKG_CONFIG_PATH="$dir/moved/lib/pkgconfig"
cflags="$(pkg-config --cflags kiln)" libs="$(pkg-config --libs kiln)"
expect 0 -- test "$(realpath $(pkg-config --variable=includedir kiln))" = "$dir/moved/include"
expect 0 -- bash -c "cc -O2 -fopenmp '$root/tests/install/host.c' $cflags $libs -ldl -lm \
  -Wl,-rpath,'$dir/moved/lib' -o '$dir/host_moved'"
run_host moved "$dir/host_moved"
finish
