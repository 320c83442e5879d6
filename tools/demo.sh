#!/usr/bin/env bash
# kiln's main job on the bundled example: compile examples/demo.onnx ahead of time into a
# shared library + header, build a plain C host program against it, run it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target kiln_cli >/dev/null
mkdir -p build/demo
build/kiln compile examples/demo.onnx -o build/demo/libdemo.so --name demo
cc -O2 examples/host.c -Ibuild/demo -Lbuild/demo -ldemo -Wl,-rpath,"$PWD/build/demo" -o build/demo/host
build/demo/host
