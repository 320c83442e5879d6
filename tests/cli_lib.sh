# Sourced by the tests/cli_*.sh tests: run a command, check its exit status and that its
# output (stdout and stderr together) holds each given text, and lacks each !TEXT.
#   expect STATUS [TEXT | !TEXT]... -- COMMAND ARGS...
# Failures are counted; `finish` reports them and exits.
failures=0
checks=0

expect() {
  local want="$1" texts=() out rc=0
  shift
  while [ "$1" != "--" ]; do texts+=("$1"); shift; done
  shift
  checks=$((checks + 1))
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" != "$want" ]; then
    printf 'FAIL: %s\n  exit status %s, expected %s; output:\n%s\n' "$*" "$rc" "$want" "$out"
    failures=$((failures + 1))
    return 0
  fi
  for t in "${texts[@]}"; do
    if [ "${t:0:1}" = "!" ]; then
      if grep -qF -- "${t:1}" <<<"$out"; then
        printf 'FAIL: %s\n  output has "%s"; output:\n%s\n' "$*" "${t:1}" "$out"
        failures=$((failures + 1))
        return 0
      fi
    elif ! grep -qF -- "$t" <<<"$out"; then
      printf 'FAIL: %s\n  output lacks "%s"; output:\n%s\n' "$*" "$t" "$out"
      failures=$((failures + 1))
      return 0
    fi
  done
}

finish() {
  echo "$checks checks, $failures failed"
  [ "$failures" = 0 ]
  exit
}
