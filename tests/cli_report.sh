#!/usr/bin/env bash
# Reports: `kiln compile --report` on a test model (ONNX) and a DSL example (a conv network,
# blocked layouts) writes JSON whose kernels are the ones `kiln dump --kernels` lists, in
# order, each naming real graph nodes (the dump's), with its buffers' layouts, a schedule
# per stage, FLOPs and bytes that add up, and the pipeline's passes timed; `kiln run
# --report` writes the same; `kiln bench --json` has the same per-kernel fields plus the
# measured ones; `kiln bench --html` is well-formed XHTML with one circle per kernel. A
# report path where no file can be made fails before compiling, leaving no file.
#   cli_report.sh KILN PYTHON MODELS_DIR
set -uo pipefail
kiln="$(realpath "$1")"
python="$2"
models="$3"
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
peaks=(--peak-gflops 100 --peak-gbs 10) # no measuring: the test stays quick

# check.py REPORT DUMP [bench]: the report against `kiln dump --kernels`' text
cat >"$dir/check.py" <<'PY'
import json, re, sys
report, dump = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
bench = len(sys.argv) > 3
kernels = re.findall(r"^kernel (\S+) \((.*)\)$", dump, re.M)
nodes = set(re.findall(r"^\s+%.* # (\S+)$", dump, re.M))
assert nodes, "no graph nodes in the dump"
assert report["report"] == ("bench" if bench else "compile"), report["report"]
ks = report["kernels"]
assert [(k["name"], k["op"]) for k in ks] == kernels, ("kernels differ from the dump",
                                                       [k["name"] for k in ks], kernels)
passes = [p["name"] for p in report["compile"]["passes"]]
assert passes[0] == "limit" and "fuse" in passes and passes[-1] == "instrument", passes
c = report["compile"]
for f in ("passes_ms", "emit_ms", "optimize_ms", "machine_code_ms", "total_ms"):
    assert isinstance(c[f], (int, float)) and c[f] >= 0, (f, c[f])
assert c["total_ms"] > 0 and c["optimize_ms"] > 0 and c["machine_code_ms"] > 0, c
assert abs(c["emit_ms"] - sum(k["emit_ms"] for k in ks)) < 1e-3 * max(1, c["emit_ms"]), c
assert isinstance(report["target"]["triple"], str) and report["target"]["cpu"], report["target"]
for i, k in enumerate(ks):
    assert k["index"] == i, k
    # a kernel computes the nodes it names, the first the one it was lowered from
    assert k["op"] == "Copy" or k["nodes"], k
    assert k["op"] == "Copy" or k["nodes"][0] == k["name"], k
    for n in k["nodes"]:
        assert n in nodes, ("not a graph node", n, k["name"])
    assert k["op"] == "Copy" or len(k["nodes"]) == len(k["op"].split("+")), k
    assert k["inputs"] and k["outputs"], k
    for b in k["inputs"] + k["outputs"]:
        assert isinstance(b["name"], str) and isinstance(b["dtype"], str), b
        assert all(isinstance(d, int) and d >= 0 for d in b["dims"]), b
        assert b["layout"] == "plain" or re.fullmatch(r"NCHW\d+c|OIHW\d+i\d+o|CHW\d+c|NK\d+n",
                                                      b["layout"]), b
        m = re.fullmatch(r"NCHW(\d+)c", b["layout"])
        assert not m or b["dims"][-1] == int(m.group(1)), b  # the block is innermost
    assert k["schedule"], k
    for s in k["schedule"]:
        assert isinstance(s["stage"], str) and isinstance(s["recipe"], str), s
        # one loop or more per axis; a stage without axes has no loops
        assert len(s["loops"].split()) >= len(s["axes"].split()), s
        assert (s["loops"] != "") == (s["axes"] != ""), s
    assert k["flops"] >= 0 and k["bytes"] == k["bytes_read"] + k["bytes_written"] > 0, k
    assert k["flops"] == 0 or abs(k["intensity"] - k["flops"] / k["bytes"]) < 1e-9 * k["intensity"], k
    assert isinstance(k["emit_ms"], (int, float)) and k["emit_ms"] >= 0, k
    for f in ("time_us", "share", "gflops", "gbs", "roofline_pct"):
        assert (f in k) == bench, (f, k)
assert sum(k["flops"] for k in ks) > 0, "no flops"
if bench:
    assert report["peak"] == {"gflops": 100, "gbs": 10, "measured": False}, report["peak"]
    assert abs(sum(k["share"] for k in ks) - 1) < 1e-6, [k["share"] for k in ks]
    assert abs(report["kernels_total_us"] - sum(k["time_us"] for k in ks)) < 1e-6 * report["kernels_total_us"]
    for k in ks:
        assert k["time_us"] >= 0 and k["gbs"] >= 0 and k["roofline_pct"] >= 0, k
        t = k["time_us"] * 1e3  # ns; a kernel that did not run has no rates
        assert abs(k["gflops"] - (k["flops"] / t if t else 0)) <= 1e-9 * max(1, k["gflops"]), k
        assert abs(k["gbs"] - (k["bytes"] / t if t else 0)) <= 1e-9 * max(1, k["gbs"]), k
print(len(ks), "kernels")
PY

onnx="$models/mlp/model.onnx"
demo="$root/examples/demo.kiln"
[ -f "$onnx" ] || fail "no test model $onnx"

# compile --report: ONNX (fused GEMMs, packed panels) and DSL (blocked convolutions)
"$kiln" dump "$onnx" --kernels >"$dir/mlp.dump" || fail "dump $onnx"
"$kiln" compile "$onnx" -o "$dir/mlp.so" --report "$dir/mlp.json" 2>"$dir/err" ||
  fail "compile --report $onnx: $(cat "$dir/err")"
"$python" "$dir/check.py" "$dir/mlp.json" "$dir/mlp.dump" >/dev/null || fail "report of $onnx"
grep -q '"layout": "NK[0-9]*n"' "$dir/mlp.json" || fail "mlp: no packed panels"

"$kiln" dump "$demo" --kernels >"$dir/demo.dump" || fail "dump $demo"
"$kiln" compile "$demo" -o "$dir/demo.so" --report "$dir/demo.json" 2>"$dir/err" ||
  fail "compile --report $demo: $(cat "$dir/err")"
"$python" "$dir/check.py" "$dir/demo.json" "$dir/demo.dump" >/dev/null || fail "report of $demo"
"$python" - "$dir/demo.json" <<'PY' || fail "demo: layouts and fusion"
import json, sys
ks = json.load(open(sys.argv[1]))["kernels"]
conv = [k for k in ks if k["op"] == "ConvBlocked+Relu"]
assert len(conv) == 2, [k["op"] for k in ks]
for k in conv:
    assert k["nodes"][1].startswith("Relu"), k["nodes"]
    assert k["outputs"][0]["layout"].startswith("NCHW"), k["outputs"]
    assert any(b["layout"].startswith("OIHW") for b in k["inputs"]), k["inputs"]
PY
# --no-fuse --no-layout: one kernel per node, everything plain
"$kiln" dump "$demo" --kernels --no-fuse --no-layout >"$dir/plain.dump"
"$kiln" compile "$demo" -o "$dir/demo.so" --no-fuse --no-layout --report "$dir/plain.json" ||
  fail "compile --no-fuse --no-layout --report"
"$python" "$dir/check.py" "$dir/plain.json" "$dir/plain.dump" >/dev/null || fail "plain report"
"$python" - "$dir/plain.json" <<'PY' || fail "--no-fuse --no-layout report"
import json, sys
for k in json.load(open(sys.argv[1]))["kernels"]:
    assert len(k["nodes"]) == 1 and "+" not in k["op"], k
    assert all(b["layout"] == "plain" for b in k["inputs"] + k["outputs"]), k
PY

# run --report: the same report from a JIT compile
"$kiln" run "$demo" --repeat 1 --report "$dir/run.json" >/dev/null 2>"$dir/err" ||
  fail "run --report: $(cat "$dir/err")"
"$python" "$dir/check.py" "$dir/run.json" "$dir/demo.dump" >/dev/null || fail "run's report"

# bench --json: the compile report's fields plus the measured ones; --html draws them
"$kiln" bench "$demo" --repeat 3 "${peaks[@]}" --json --html "$dir/r.html" >"$dir/bench.json" \
  2>"$dir/err" || fail "bench --json --html: $(cat "$dir/err")"
"$python" "$dir/check.py" "$dir/bench.json" "$dir/demo.dump" bench >/dev/null || fail "bench --json"
"$python" - "$dir/r.html" "$dir/bench.json" <<'PY' || fail "bench --html"
import json, sys, xml.etree.ElementTree as ET
ks = json.load(open(sys.argv[2]))["kernels"]
root = ET.parse(sys.argv[1]).getroot()  # well-formed XML, or this raises
svg, h = "{http://www.w3.org/2000/svg}", "{http://www.w3.org/1999/xhtml}"
assert root.tag == h + "html", root.tag
assert not root.findall(".//" + h + "script"), "a script"
circles = root.findall(".//%scircle" % svg)
assert len(circles) == len(ks), (len(circles), len(ks))
for c, k in zip(circles, ks):
    title = c.find(svg + "title").text
    assert title.startswith("#%d %s (%s)" % (k["index"], k["name"], k["op"])), title
    assert float(c.get("r")) > 0, c.attrib
big = max(ks, key=lambda k: k["share"])
assert float(circles[big["index"]].get("r")) == max(float(c.get("r")) for c in circles)
rows = root.findall(".//%stable/%str" % (h, h))
assert len(rows) == len(ks) + 1, len(rows)
roof = root.findall(".//%spolyline" % svg)
assert len(roof) == 1 and len(roof[0].get("points").split()) == 3, "the roofs"
PY
# the table is unchanged beside --html
"$kiln" bench "$demo" --repeat 1 "${peaks[@]}" --html "$dir/t.html" >"$dir/table" ||
  fail "bench --html"
grep -q '^0 .*Conv_0' "$dir/table" && [ -s "$dir/t.html" ] || fail "bench --html: $(cat "$dir/table")"

# names with XML's and JSON's special characters stay text in both
"$python" - "$dir/odd.onnx" <<'PY' || fail "making odd.onnx"
import sys, onnx
from onnx import helper, TensorProto
name = 'r<&"\'> \\ é'
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 8])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 8])
nodes = [helper.make_node("Exp", ["x"], ["e"], name=name),
         helper.make_node("Relu", ["e"], ["y"], name=name + "2")]
model = helper.make_model(helper.make_graph(nodes, "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
onnx.save(model, sys.argv[1])
PY
"$kiln" bench "$dir/odd.onnx" --repeat 1 "${peaks[@]}" --json --html "$dir/odd.html" \
  >"$dir/odd.json" 2>"$dir/err" || fail "bench odd names: $(cat "$dir/err")"
"$python" - "$dir/odd.json" "$dir/odd.html" <<'PY' || fail "odd names: $(cat "$dir/odd.json")"
import json, sys, xml.etree.ElementTree as ET
name = 'r<&"\'> \\ é'
k = json.load(open(sys.argv[1]))["kernels"]
assert [x["nodes"] for x in k] == [[name, name + "2"]], k
t = ET.parse(sys.argv[2]).getroot().find(".//{http://www.w3.org/2000/svg}title").text
assert t.startswith("#0 " + name + " (Exp+Relu)"), t
PY

# a report that cannot be written: a clear error before any work, no file left
for bad in "$dir/missing/r.json" "$dir"; do
  rm -f "$dir/x.so" "$dir/model.h"
  "$kiln" compile "$demo" -o "$dir/x.so" --report "$bad" >/dev/null 2>"$dir/err"
  rc=$?
  [ $rc = 8 ] && grep -q "report '$bad'" "$dir/err" || fail "compile --report $bad: $rc $(cat "$dir/err")"
  [ -e "$dir/x.so" ] && fail "compile --report $bad wrote the library"
  "$kiln" run "$demo" --report "$bad" >/dev/null 2>"$dir/err"
  [ $? = 8 ] && grep -q "report '$bad'" "$dir/err" || fail "run --report $bad: $(cat "$dir/err")"
  "$kiln" bench "$demo" --repeat 1 "${peaks[@]}" --html "$bad" >"$dir/out" 2>"$dir/err"
  [ $? = 8 ] && grep -q "report '$bad'" "$dir/err" && [ ! -s "$dir/out" ] ||
    fail "bench --html $bad: $(cat "$dir/err")"
done
[ -e "$dir/missing" ] && fail "a folder was made"
leftovers=$(find "$dir" -name '*.tmp' -o -name '*.json.*' -o -name '*.html.*' | head -3)
[ -z "$leftovers" ] || fail "temporary files left: $leftovers"

# options belong to their commands
"$kiln" dump "$demo" --report "$dir/d.json" >/dev/null 2>"$dir/err"
[ $? = 1 ] && grep -q "only of 'kiln compile' and 'kiln run'" "$dir/err" || fail "dump --report: $(cat "$dir/err")"
"$kiln" compile "$demo" -o "$dir/x.so" --html "$dir/x.html" >/dev/null 2>"$dir/err"
[ $? = 1 ] && grep -q "only of 'kiln bench'" "$dir/err" || fail "compile --html: $(cat "$dir/err")"
"$kiln" compile "$demo" -o "$dir/x.so" --report "$dir/a.json" --report "$dir/b.json" 2>"$dir/err"
[ $? = 1 ] && grep -q "given twice" "$dir/err" || fail "--report twice: $(cat "$dir/err")"

[ $fails = 0 ] && echo "cli_report: all passed"
exit $((fails > 0))
