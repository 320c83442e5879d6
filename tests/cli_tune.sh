#!/usr/bin/env bash
# `kiln tune` and tuning logs from the command line: a short tune of the example MLP ends
# within its budget + 10% and writes one valid JSON record per distinct kernel; the model
# compiled with the log computes what it computes without; a hand-written log (every
# kernel the naive nest) changes what `dump --kernels` shows and still computes the same;
# a log for another CPU changes nothing; a malformed one is refused naming file and line;
# the same log gives byte-identical LLVM IR and objects; AOT files say how they were tuned
# (`dump --tuning`); a second tune resumes from the log; two shards tune disjoint kernels
# and their logs merge by concatenation; with free dims, the shape buckets are tuned; the
# MatMuls' panel widths are choices a log sets. No speed is asserted.
#   cli_tune.sh KILN
set -uo pipefail
kiln="$(realpath "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
model="$root/examples/mlp.kiln"
shape=(--shape x=16x784)
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir" || exit 1
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# --- a 5 s tune: within 5.5 s, a record per kernel
budget=5
start=$(date +%s.%N)
"$kiln" tune "$model" "${shape[@]}" --budget $budget -o log.jsonl >table 2>progress ||
  fail "tune exited $?: $(cat progress)"
end=$(date +%s.%N)
python3 -c "import sys; t = $end - $start; sys.exit(0 if t <= $budget * 1.1 else 1)" ||
  fail "tune took $(python3 -c "print($end - $start)") s for a $budget s budget: $(cat table; tail -3 progress)"
grep -q '^tune: .*/5 s, kernels [0-9]*/[0-9]*, estimate' progress || fail "no progress line: $(cat progress)"
# the tuned model is timed only if the budget leaves time to compile it (under a sanitizer on
# a loaded machine it may not) and the log changed a kernel: either way the table says so
grep -Eq '^end-to-end: untuned .* ms(, tuned .* ms|; tuned not measured \(out of budget\)|; the log changes no kernel)' table ||
  fail "no end-to-end line: $(cat table)"
# kernels measured: the table's rows with times (a kernel the budget did not reach says so)
kernels=$(grep -c '^[0-9][0-9]* .* [0-9.]*x ' table)
[ "$kernels" -ge 1 ] || fail "no kernel measured: $(cat table)"
python3 - log.jsonl "$kernels" <<'PY' || fail "log: $(cat log.jsonl)"
import json, sys
records = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
kernels = [r for r in records if "kernel" in r]
assert len(kernels) == int(sys.argv[2]), (len(kernels), sys.argv[2])
for r in records: # the MatMuls' panel widths, where the budget reached them
    if "kernel" in r: continue
    assert r["choice"] == "panels" and len(r["node"]) == 16 and r["op"] == "MatMul", r
    assert r["value"] in (0, 8, 16, 32, 64) and r["time_ns"] <= r["default_ns"], r
for r in kernels:
    assert len(r["kernel"]) == 16 and int(r["kernel"], 16) >= 0
    assert set(r["target"]) >= {"triple", "cpu", "features", "threads"}
    assert r["time_ns"] > 0 and r["time_ns"] <= r["default_ns"], r
    assert all(isinstance(s, str) for s in r["stages"]) and r["stages"]
PY

# outputs with and without the log: the summaries agree (6 digits, a tolerance for sums)
same_outputs() { # LOG: kiln run with and without it prints the same output summaries
  "$kiln" run "$model" "${shape[@]}" --repeat 1 >plain.txt 2>&1 &&
    "$kiln" run "$model" "${shape[@]}" --repeat 1 --tuning-log "$1" >tuned.txt 2>&1 ||
    { fail "run with $1: $(cat tuned.txt)"; return; }
  python3 - plain.txt tuned.txt <<'PY' || fail "outputs differ with $1: $(cat plain.txt tuned.txt)"
import re, sys
def nums(p):
    return [float(x) for l in open(p) if not l.startswith("latency")
            for x in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", l.split(":", 1)[1])]
a, b = nums(sys.argv[1]), nums(sys.argv[2])
assert a and len(a) == len(b), (a, b)
assert all(abs(x - y) <= 1e-4 + 1e-3 * abs(x) for x, y in zip(a, b)), (a, b)
PY
}
same_outputs log.jsonl

# --- a hand-written log: every kernel the naive nest (empty recipes), faster than anything
python3 - log.jsonl >hand.jsonl <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if "kernel" in r:
        r["stages"] = ["" for _ in r["stages"]]
        r["time_ns"] = 0.5
    print(json.dumps(r))
PY
"$kiln" dump "$model" "${shape[@]}" --kernels >dump0.txt || fail "dump --kernels"
"$kiln" dump "$model" "${shape[@]}" --kernels --tuning-log hand.jsonl >dump1.txt ||
  fail "dump --kernels --tuning-log"
grep -q '    recipe ' dump0.txt || fail "the default schedules have no recipes: $(cat dump0.txt)"
r0=$(grep -c '    recipe ' dump0.txt) r1=$(grep -c '    recipe ' dump1.txt)
[ "$r1" -lt "$r0" ] && { [ "$kernels" != 4 ] || [ "$r1" = 0 ]; } ||
  fail "a hand-written log for $kernels kernels left $r1 of $r0 recipes"
same_outputs hand.jsonl

# --- a log for another CPU is ignored; a malformed one refused naming file and line
sed 's/"cpu": "[^"]*"/"cpu": "another-cpu"/' hand.jsonl >stale.jsonl
"$kiln" dump "$model" "${shape[@]}" --kernels --tuning-log stale.jsonl >dump2.txt
cmp -s dump0.txt dump2.txt || fail "a log for another CPU changed the schedules"
{ cat hand.jsonl; echo '{"kernel": "0123456789abcdef", "oops'; } >bad.jsonl
n=$(($(wc -l <hand.jsonl) + 1))
"$kiln" run "$model" "${shape[@]}" --tuning-log bad.jsonl >/dev/null 2>err
[ $? = 1 ] && grep -q "tuning log 'bad.jsonl' line $n: " err || fail "malformed log: $(cat err)"
"$kiln" compile "$model" "${shape[@]}" -o x.so --tuning-log missing.jsonl 2>err
[ $? = 2 ] && grep -q "missing.jsonl" err || fail "missing log: $(cat err)"

# --- determinism: the same log gives the same LLVM IR and the same object
for i in 1 2; do
  KILN_DUMP_LLVM=ir$i.ll "$kiln" run "$model" "${shape[@]}" --repeat 1 --tuning-log log.jsonl >/dev/null ||
    fail "run $i with KILN_DUMP_LLVM"
  "$kiln" compile "$model" "${shape[@]}" -o obj$i.o --tuning-log hand.jsonl || fail "compile $i"
done
[ -s ir1.ll ] && cmp -s ir1.ll ir2.ll || fail "LLVM IR differs between two compiles with one log"
cmp -s obj1.o obj2.o || fail "objects differ between two compiles with one log"
KILN_DUMP_LLVM=ir3.ll "$kiln" run "$model" "${shape[@]}" --repeat 1 --tuning-log hand.jsonl >/dev/null
! cmp -s ir1.ll ir3.ll || fail "the hand-written log did not change the LLVM IR"

# --- AOT files say how they were tuned
"$kiln" compile "$model" "${shape[@]}" -o tuned.so --name mlp --tuning-log hand.jsonl || fail "compile .so"
"$kiln" compile "$model" "${shape[@]}" -o plain.so --name mlp || fail "compile plain .so"
"$kiln" dump tuned.so --tuning >t.txt || fail "dump --tuning: $(cat t.txt)"
grep -q "^kiln [0-9.]*, .*: $kernels of 4 kernels tuned" t.txt && grep -q '^kernel ' t.txt ||
  fail "dump --tuning of a tuned library: $(cat t.txt)"
grep -q "mlp_tuning" mlp.h || fail "the header declares no mlp_tuning"
[ "$("$kiln" dump plain.so --tuning)" = "no tuning log" ] || fail "dump --tuning of an untuned library"
"$kiln" dump "$model" --tuning >/dev/null 2>err
[ $? = 1 ] && grep -q "no kiln tuning text" err || fail "dump --tuning of a model: $(cat err)"

# --- a second tune reads the log first and appends to it
lines=$(wc -l <log.jsonl)
# (how many kernels it reaches depends on the machine's load: at least one, and the log
# grows by as many records as it says it wrote)
"$kiln" tune "$model" "${shape[@]}" --budget $budget -o log.jsonl >table2 2>/dev/null ||
  fail "second tune"
written=$(sed -n "s/^log log.jsonl: $lines records read, \([0-9]*\) written.*/\1/p" table2)
[ -n "$written" ] && [ "$written" -ge 1 ] || fail "resume: $(cat table2)"
[ "$(wc -l <log.jsonl)" = $((lines + ${written:-0})) ] || fail "resume did not append"
"$kiln" tune "$model" "${shape[@]}" --budget 3 -o bad.jsonl >/dev/null 2>err
[ $? = 1 ] && grep -q "line $n" err || fail "tune with a malformed log: $(cat err)"

# --- shards: --list-kernels names each distinct kernel's shard; two shards tune disjoint
# kernels, and their logs concatenated apply like one
"$kiln" tune "$model" "${shape[@]}" --list-kernels --json --shard 2/2 >list.json 2>err ||
  fail "list-kernels: $(cat err)"
"$kiln" tune "$model" "${shape[@]}" --list-kernels >list.txt || fail "list-kernels (text)"
grep -q '^hash  *kernel  *op' list.txt && [ "$(grep -v ' panels ' list.txt | grep -c '^[0-9a-f]\{16\} ')" = 4 ] ||
  fail "list-kernels: $(cat list.txt)"
for k in 1 2; do
  "$kiln" tune "$model" "${shape[@]}" --budget $budget --shard $k/2 -o shard$k.jsonl >shard$k.txt 2>/dev/null ||
    fail "tune --shard $k/2"
done
python3 - list.json shard1.jsonl shard2.jsonl <<'PY' || fail "shards: $(cat list.json shard1.jsonl shard2.jsonl)"
import json, sys
listed = json.load(open(sys.argv[1]))
assert listed["shards"] == 2 and listed["kernels"], listed
two = {k["hash"] for k in listed["kernels"]}
assert all(k["shard"] == 2 for k in listed["kernels"])
h1 = {json.loads(l)["kernel"] for l in open(sys.argv[2])}
h2 = {json.loads(l)["kernel"] for l in open(sys.argv[3])}
# a loaded machine may leave a shard's budget too short to measure any of its kernels
assert (h1 or h2) and not (h1 & h2), (h1, h2)
assert h2 <= two and not (h1 & two), (h1, h2, two)
PY
cat shard1.jsonl shard2.jsonl >merged.jsonl
same_outputs merged.jsonl
"$kiln" dump "$model" "${shape[@]}" --kernels --tuning-log merged.jsonl >/dev/null || fail "merged log"

# --- free dims: each shape bucket is tuned at its shapes, all within the budget; the
# records are those of the buckets' kernels; without a bucket the generic code is refused
start=$(date +%s.%N)
"$kiln" tune "$model" --shape 'x=?x784' --bucket x=16x784 --bucket x=4x784 --budget $budget \
  -o buckets.jsonl >btable 2>/dev/null || fail "tune --bucket exited $?: $(cat btable)"
end=$(date +%s.%N)
python3 -c "import sys; sys.exit(0 if $end - $start <= $budget * 1.1 else 1)" ||
  fail "tune --bucket took $(python3 -c "print($end - $start)") s for a $budget s budget"
grep -q '^bucket 0: x=16x784$' btable && grep -q '^bucket 1: x=4x784$' btable &&
  [ "$(grep -c '^kiln tune ' btable)" = 2 ] || fail "tune --bucket: $(cat btable)"
"$kiln" tune "$model" --shape 'x=?x784' --bucket x=16x784 --bucket x=4x784 --list-kernels \
  --json >blist.json || fail "list-kernels --bucket"
python3 - blist.json buckets.jsonl <<'PY' || fail "bucket records: $(cat blist.json buckets.jsonl)"
import json, sys
listed = json.load(open(sys.argv[1]))
assert listed["buckets"] == 2 and {k["bucket"] for k in listed["kernels"]} == {0, 1}, listed
hashes = {k["hash"] for k in listed["kernels"]}
keys = {c["key"] for c in listed["choices"]}
records = [json.loads(l) for l in open(sys.argv[2])]
kernels = [r for r in records if "kernel" in r]
assert all(r["node"] in keys for r in records if "node" in r), (records, keys)
# the kernels measured are those of the model as the choices found make it: a MatMul
# kernel with other panels (or none) has a hash the default listing does not have
changed = any(r["value"] != r["default_value"] for r in records if "node" in r)
assert kernels and all(r["kernel"] in hashes or (changed and r["op"].startswith("MatMul"))
                       for r in kernels), (records, hashes)
PY
# the buckets of a library compiled with the log get its records, and say so
"$kiln" compile "$model" --shape 'x=?x784' --bucket x=16x784 --bucket x=4x784 \
  --tuning-log buckets.jsonl -o buckets.so || fail "compile --bucket --tuning-log"
"$kiln" dump buckets.so --tuning >bt.txt || fail "dump --tuning of a library with buckets"
tuned=$(sed -n 's/^bucket [01]: kiln .*: \([0-9]*\) of 4 kernels tuned\(, [0-9]* of 2 choices\)\{0,1\}$/\1/p' bt.txt | awk '{s += $1} END {print s + 0}')
[ "${tuned:-0}" = "$(grep -c '"kernel"' buckets.jsonl)" ] ||
  fail "the buckets applied ${tuned:-0} of $(grep -c '"kernel"' buckets.jsonl) records: $(cat bt.txt)"
"$kiln" tune "$model" --shape 'x=?x784' --budget 2 -o free.jsonl >/dev/null 2>err
rc=$?
[ $rc != 0 ] && grep -q "kiln tune --bucket" err && [ ! -e free.jsonl ] ||
  fail "tune with free dims and no bucket: rc $rc: $(cat err)"

# --- choices: the MatMuls' panel widths, listed with their keys; a hand-written log
# giving both no panels changes their kernels (dump --kernels), computes the same, and an
# AOT library says so; a value a point does not allow, or a record measured against
# another default, changes nothing
grep -q '^key  *choice at node  *op  *count choice' list.txt && grep -q '^[0-9a-f]\{16\} MatMul_0 .* panels ' list.txt ||
  fail "list-kernels lists no choice points: $(cat list.txt)"
grep -q '^#    choice at node' table || fail "the tune's table has no choices: $(cat table)"
choice_log() { # VALUE DEFAULT_OFFSET: a record per listed choice point
  "$kiln" tune "$model" "${shape[@]}" --list-kernels --json | python3 -c '
import json, sys
value, off = int(sys.argv[1]), int(sys.argv[2])
target = json.loads(open(sys.argv[3]).readline())["target"]
for c in json.load(sys.stdin)["choices"]:
    assert c["choice"] == "panels" and 0 in c["values"] and c["default"] in c["values"], c
    print(json.dumps({"node": c["key"], "op": c["op"], "target": target, "version": sys.argv[4],
                      "choice": "panels", "value": value, "default_value": c["default"] + off,
                      "time_ns": 1, "default_ns": 2}))' "$1" "$2" hand.jsonl \
    "$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["version"])' hand.jsonl)"
}
choice_log 0 0 >unpacked.jsonl && [ "$(wc -l <unpacked.jsonl)" = 2 ] || fail "choice log: $(cat unpacked.jsonl)"
"$kiln" dump "$model" "${shape[@]}" --kernels --tuning-log unpacked.jsonl >dump3.txt || fail "dump with choices"
[ "$(grep -c '^kernel .*(MatMulPanels' dump0.txt)" = 2 ] && ! grep -q '^kernel .*(MatMulPanels' dump3.txt &&
  [ "$(grep -c '^kernel MatMul_[03] (MatMul+' dump3.txt)" = 2 ] ||
  fail "no panels: $(grep '^kernel' dump0.txt dump3.txt)"
same_outputs unpacked.jsonl
"$kiln" compile "$model" "${shape[@]}" -o unpacked.so --tuning-log unpacked.jsonl || fail "compile with choices"
"$kiln" dump unpacked.so --tuning >u.txt && grep -q ': 0 of 4 kernels tuned, 2 of 2 choices$' u.txt &&
  grep -q '^choice panels of node MatMul_0 (MatMul) [0-9a-f]\{16\}: 0 (default ' u.txt ||
  fail "dump --tuning with choices: $(cat u.txt)"
choice_log 24 0 >odd.jsonl && choice_log 0 16 >stale_choice.jsonl || fail "choice logs"
for l in odd stale_choice; do
  "$kiln" dump "$model" "${shape[@]}" --kernels --tuning-log $l.jsonl >dump4.txt || fail "dump with $l.jsonl"
  cmp -s dump0.txt dump4.txt || fail "$l.jsonl changed the kernels"
done

usage() { # exit status 1 and the tune usage on stderr
  "$kiln" tune "$@" >/dev/null 2>err
  local rc=$?
  [ $rc = 1 ] && grep -q 'usage: kiln tune' err || fail "tune $* gave $rc: $(cat err)"
}
usage "$model" -o l.jsonl
usage "$model" --budget 5
usage "$model" --budget 0 -o l.jsonl
usage "$model" --budget 5s -o l.jsonl
usage "$model" --budget 5 -o l.jsonl --kernels
usage "$model" --budget 5 -o l.jsonl --threads 0
usage "$model" --budget 5 -o l.jsonl --shard 3/2
usage "$model" --budget 5 -o l.jsonl --shard 1
usage "$model" --budget 5 -o l.jsonl --json
usage "$model" --list-kernels --budget 5
"$kiln" tune --help | grep -q 'usage: kiln tune' || fail "tune --help"

[ $fails = 0 ] && echo "cli_tune: all passed"
exit $((fails > 0))
