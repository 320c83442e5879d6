#!/usr/bin/env bash
# The Python package (python/) as a user gets it: pip builds it from a copy of python/
# around the build's libkiln.so.0 (KILN_LIBRARY) into a temporary folder, then its pytest
# suite runs against that installed copy, onnxruntime as the reference.
#   python_package.sh PYTHON LIBKILN MODELS_DIR
set -euo pipefail
py="$1" lib="$2" models="$3"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
if ! "$py" -c "import pytest, setuptools, wheel"; then
  echo "python_package: $py lacks pytest, setuptools or wheel (tools/setup.sh installs them)"
  exit 1
fi
mkdir "$dir/src"  # the sources only: no build folder of an earlier `pip install ./python`
cp -r "$root/python/"{pyproject.toml,setup.py,kiln,tests} "$dir/src/"
KILN_LIBRARY="$lib" "$py" -m pip install -q --no-build-isolation --no-deps \
  --disable-pip-version-check --target "$dir/site" "$dir/src"
cd "$dir"
env -u KILN_LIBRARY PYTHONPATH="$dir/site" PYTHONDONTWRITEBYTECODE=1 KILN_SOURCE_DIR="$root" \
  KILN_MODELS_DIR="$models" "$py" -m pytest -q -p no:cacheprovider "$dir/src/tests"
