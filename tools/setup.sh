#!/usr/bin/env bash
# Installs everything kiln needs on a fresh Debian 12 machine. Idempotent: a second run
# checks and returns in seconds.
#   - product dependencies from Debian (LLVM 19 C API, protobuf-c + onnx.proto, flex, bison, cmake;
#     pkg-config for the test of the installed package)
#   - test data (ONNX conformance suite from libonnx-testdata)
#   - a Python venv (.venv) with onnx, onnxruntime, numpy for the test and bench tooling only,
#     and pytest, setuptools, wheel to build and test the Python package (python/)
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(build-essential cmake flex bison llvm-19-dev libprotobuf-c-dev protobuf-c-compiler
      libonnx-dev libonnx-testdata libzstd-dev zlib1g-dev libcurl4-openssl-dev libedit-dev libxml2-dev
      clang-14 libclang-rt-14-dev libomp-14-dev pkg-config)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

venv=.venv
# onnx pinned: tests/node_cases writes its node tests, whose list and known failures are per version
onnx_version=1.23.2
pyreq=(numpy "onnx==$onnx_version" onnxruntime pytest setuptools wheel jsonschema)
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import numpy, onnx, onnxruntime, pytest, setuptools, wheel, jsonschema; assert onnx.__version__ == '$onnx_version'" 2>/dev/null; then
  echo "setup: installing ${pyreq[*]} into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${pyreq[@]}"
fi
echo "setup: ok"
