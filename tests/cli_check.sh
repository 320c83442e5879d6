#!/usr/bin/env bash
# `kiln check` lists every problem of a model at once (ops, element types, attribute
# values, shapes, external data, opsets), free dims and what they flow into; its exit
# status is the first problem's code, 0 exactly when `kiln compile` succeeds; --json says
# the same as the text. Models from tests/data/make_check_models.py.
#   cli_check.sh KILN PYTHON     (PYTHON with onnx and numpy)
set -uo pipefail
kiln="$(realpath "$1")"
python="$2"
case "$python" in */*) python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" ;; esac
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/tests/cli_lib.sh"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
"$python" "$root/tests/data/make_check_models.py" . || exit 1

# Every problem of bad.onnx in one run, grouped, with node names; what they hide is counted.
expect 4 "problems: 9" \
  "UNSUPPORTED (infer, type): Abs: input 's' has type string, which Abs does not take in kiln (1 node: 'str_abs')" \
  "UNSUPPORTED (import, op): FooOp: op not supported (2 nodes: 'foo_a', 'foo_b')" \
  "com.example.Bar: op not supported (domain 'com.example') (1 node: 'bar_1')" \
  "UNSUPPORTED (infer, attribute): DepthToSpace: mode is neither DCR nor CRD (1 node: 'd2s')" \
  "UNSUPPORTED (infer, attribute): Resize: unknown mode 'bogus' (1 node: 'resize_bad')" \
  "UNSUPPORTED (infer, type): MatMul: input 'xb' has type bool (1 node: 'matmul_bool')" \
  "SHAPE (infer): Add: shapes do not broadcast (dim 0: 2 vs 4) (1 node: 'add_mismatch')" \
  "UNSUPPORTED (lower, attribute): Resize: nearest_mode 'bogus' (1 node: 'resize_nearest')" \
  "not checked: 1 node" "com.example 1 (not supported)" "fixing them may show more" \
  "verdict: does not compile (4, UNSUPPORTED)" "!'after_foo'" "!'fine'" -- \
  "$kiln" check bad.onnx
# a compile stops at the first of them
expect 4 "kiln: unsupported ops: FooOp (node 'foo_a', 'foo_b')" -- "$kiln" compile bad.onnx -o bad.so

# Free dims: named ones gather their inputs; each says what it flows into.
expect 5 "free dims: 2" \
  "'N': input 'x' dim 0, input 'y' dim 0; 1 value depends on it, outputs 's' dim 0" \
  "'?': input 'z' dim 1; 1 value depends on it, outputs 'zr' dim 1" \
  "verdict: does not compile (5, SHAPE)" -- "$kiln" check free.onnx
expect 5 "free dims: 1" "'?': input 'z' dim 1" "!'N'" -- "$kiln" check free.onnx --shape x=2x3x4
expect 0 "verdict: compiles" "!free dims" -- "$kiln" check free.onnx --shape x=2x3x4 --shape z=2x5
# a binding that does not fit the model is the first problem, as for a compile
expect 1 "INVALID_ARGUMENT (bind): no graph input named 'q'" -- "$kiln" check free.onnx --shape q=1
expect 1 -- "$kiln" compile free.onnx -o free.so --shape q=1
expect 5 "SHAPE (bind): input 'x' dim 1 is 3, but was given 4" -- \
  "$kiln" check free.onnx --shape x=2x4x4
expect 5 -- "$kiln" compile free.onnx -o free.so --shape x=2x4x4
expect 0 -- "$kiln" compile free.onnx -o free.so --shape x=2x3x4 --shape z=2x5
expect 5 -- "$kiln" compile free.onnx -o free.so --shape x=2x3x4

# External data: present, missing, too short.
expect 0 "'ext.bin': 1 tensor, 48 bytes needed, file of 48 bytes, present" "verdict: compiles" -- \
  "$kiln" check ext.onnx
expect 2 "'gone.bin': 1 tensor, 48 bytes needed, missing" "NO_SUCH_FILE (import, external data)" \
  -- "$kiln" check ext_missing.onnx
expect 3 "'short.bin': 1 tensor, 48 bytes needed, file of 20 bytes, too short" -- \
  "$kiln" check ext_short.onnx

# Opsets, the good model, limits.
expect 4 "ai.onnx 29 (not supported)" "ONNX opset 29 is not supported" "FooOp: op not supported" \
  -- "$kiln" check opset29.onnx
expect 0 "opsets: ai.onnx 17 (supported)" "weights: 1 tensor, 48 bytes" \
  "estimate: 56 FLOP per run, over 2 nodes" "verdict: compiles" -- "$kiln" check good.onnx
expect 0 -- "$kiln" compile good.onnx -o good.so
expect 6 "LIMIT (limit): the graph has 2 nodes, over the limit of 1" -- \
  "$kiln" check good.onnx --max-nodes 1

# Not a model: one error, whatever the output format; bad command lines.
printf 'garbage' >junk.onnx
expect 3 "kiln: not a valid ONNX model" "!verdict" -- "$kiln" check junk.onnx
expect 3 '"status": 3' '"error": "not a valid ONNX model' -- "$kiln" check junk.onnx --json
expect 2 "cannot open 'none.onnx'" -- "$kiln" check none.onnx
expect 1 "unknown option '--bogus'" -- "$kiln" check good.onnx --bogus
expect 1 "--check-bounds is not an option of 'kiln check'" -- "$kiln" check good.onnx --check-bounds

# --json: one object saying what the text says.
for args in "bad.onnx" "free.onnx" "free.onnx --shape x=2x3x4" "ext.onnx" "ext_missing.onnx" \
            "opset29.onnx" "good.onnx"; do
  read -ra a <<<"$args"
  "$kiln" check "${a[@]}" >text.txt
  text_rc=$?
  "$kiln" check "${a[@]}" --json >json.txt
  json_rc=$?
  checks=$((checks + 1))
  if ! "$python" - "$text_rc" "$json_rc" <<'EOF'; then
import json, re, sys
text = open("text.txt").read()
j = json.load(open("json.txt"))
bad = []
def want(cond, what):
    if not cond:
        bad.append(what)
text_rc, json_rc = int(sys.argv[1]), int(sys.argv[2])
want(text_rc == json_rc == j["status"], "exit statuses / status")
want(j["compiles"] == (j["status"] == 0) == ("verdict: compiles" in text), "verdict")
want(j["complete"] == ("later passes did not run" not in text), "complete")
m = re.search(r"^problems: (\d+)$", text, re.M)
want(len(j["problems"]) == (int(m.group(1)) if m else 0), "problem count")
for p in j["problems"]:
    want(p["message"] in text and p["status_name"] in text, "problem " + p["message"])
    if p["node"]:
        want("'%s'" % p["node"] in text, "node " + p["node"])
m = re.search(r"^not checked: (\d+) node", text, re.M)
want(j["not_checked_nodes"] == (int(m.group(1)) if m else 0), "not checked")
m = re.search(r"^free dims: (\d+)", text, re.M)
want(len(j["free_dims"]) == (int(m.group(1)) if m else 0), "free dim count")
for f in j["free_dims"]:
    for u in f["uses"]:
        want("input '%s' dim %d" % (u["input"], u["dim"]) in text, "use of " + f["name"])
    for o in f["outputs"]:
        want("'%s' dim" % o["name"] in text, "flow into " + o["name"])
for e in j["external_data"]:
    want("'%s': %d tensor" % (e["location"], e["tensors"]) in text and e["status"] in text,
         "external " + e["location"])
for o in j["opsets"]:
    want("%s %d (%s)" % (o["domain"] or "ai.onnx", o["version"],
                         "supported" if o["supported"] else "not supported") in text, "opset")
for io in j["inputs"] + j["outputs"]:
    want("  %s: %s\n" % (io["name"], io["type"]) in text, "io " + io["name"])
want("weights: %d tensor" % j["weights"]["count"] in text, "weights")
if bad:
    print("mismatches:", bad)
    sys.exit(1)
EOF
    printf 'FAIL: check %s: --json and the text disagree\n' "$args"
    cat text.txt json.txt
    failures=$((failures + 1))
  fi
done
finish
