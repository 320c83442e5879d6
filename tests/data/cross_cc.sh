#!/usr/bin/env bash
# A stand-in for a cross C compiler driver (aarch64-linux-gnu-gcc...) in unit_target:
# kiln runs it as `cross_cc.sh -shared -o OUT OBJ -fopenmp -lm`. It links with ld.lld,
# which handles every ELF machine; the target's libgomp and libm are not on this machine,
# so -fopenmp and -lm are dropped (their symbols stay undefined, as -shared allows).
set -euo pipefail
args=()
for a in "$@"; do
  case "$a" in
    -fopenmp | -lm) ;;
    *) args+=("$a") ;;
  esac
done
exec ld.lld "${args[@]}"
