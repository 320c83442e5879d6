# Sourced by the tests/cli_*.sh tests: run a command, check its exit status and that its
# output (stdout and stderr together) holds each given text.
#   expect STATUS [TEXT...] -- COMMAND ARGS...
#   expect_not TEXT -- COMMAND ARGS...      (status 0 expected too)
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
    if ! grep -qF -- "$t" <<<"$out"; then
      printf 'FAIL: %s\n  output lacks "%s"; output:\n%s\n' "$*" "$t" "$out"
      failures=$((failures + 1))
      return 0
    fi
  done
}

expect_not() {
  local text="$1" out rc=0
  shift 2
  checks=$((checks + 1))
  out="$("$@" 2>&1)" || rc=$?
  if [ "$rc" != 0 ] || grep -qF -- "$text" <<<"$out"; then
    printf 'FAIL: %s\n  exit status %s (expected 0), output should lack "%s":\n%s\n' "$*" "$rc" \
      "$text" "$out"
    failures=$((failures + 1))
  fi
}

finish() {
  echo "$checks checks, $failures failed"
  [ "$failures" = 0 ]
  exit
}
