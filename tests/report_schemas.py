"""The JSON reports against their schemas (docs/schemas/*.schema.json, JSON Schema 2020-12):
the real output of each command on a test model (ONNX) and a DSL example validates against
its report's schema, and each schema rejects that same document with any one field removed
and with an unknown field added to any of its objects (so this test can fail).

    report_schemas.py KILN MODELS_DIR
"""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
from referencing import Registry, Resource

KILN, MODELS = os.path.abspath(sys.argv[1]), sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMAS = {}
for path in sorted(glob.glob(os.path.join(ROOT, "docs", "schemas", "*.schema.json"))):
    schema = json.load(open(path))
    jsonschema.Draft202012Validator.check_schema(schema)
    SCHEMAS[os.path.basename(path)[: -len(".schema.json")]] = schema
REGISTRY = Registry().with_resources(
    [(s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values()])
failures = []
checked = {name: 0 for name in SCHEMAS}


def validator(name):
    return jsonschema.Draft202012Validator(SCHEMAS[name], registry=REGISTRY)


def kiln(*args, status=0):
    r = subprocess.run([KILN, *args], capture_output=True, text=True)
    if r.returncode != status:
        failures.append(f"kiln {' '.join(args)}: exit {r.returncode}, wanted {status}: {r.stderr}")
    return r.stdout


def object_fields(doc):
    """(path, key) of every field of doc's objects, looking into the first item of arrays."""
    out = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                out.append((path, k))
                walk(v, path + [k])
        elif isinstance(node, list) and node:
            walk(node[0], path + [0])

    walk(doc, [])
    return out


def mutated(doc, path, key, drop):
    d = copy.deepcopy(doc)
    node = d
    for p in path:
        node = node[p]
    if drop:
        del node[key]
    else:
        node["kiln_unknown_field"] = 1
    return d


def check(name, doc, what):
    v = validator(name)
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        failures.append(f"{what}: not a valid {name}: {errors[0].message} at "
                        f"{list(errors[0].absolute_path)}")
        return
    checked[name] += 1
    # every field of every object is required (the formats have no optional fields), and no
    # object takes a field the schema does not name
    fields = object_fields(doc)
    for path, key in fields:
        if v.is_valid(mutated(doc, path, key, drop=True)):
            failures.append(f"{what}: {name} accepts the document without {path + [key]}")
    for path in [[]] + [p + [k] for p, k in fields]:
        node = doc
        for p in path:
            node = node[p]
        if isinstance(node, dict) and v.is_valid(mutated(doc, path, None, drop=False)):
            failures.append(f"{what}: {name} accepts an unknown field at {path}")


with tempfile.TemporaryDirectory() as tmp:
    mlp = os.path.join(MODELS, "mlp", "model.onnx")
    data = os.path.join(MODELS, "mlp", "test_data_set_0")
    demo = os.path.join(ROOT, "examples", "demo.kiln")
    peaks = ["--peak-gflops", "100", "--peak-gbs", "10", "--repeat", "2"]
    for model, name, shape in ((mlp, "mlp", []), (demo, "demo", [])):
        report = os.path.join(tmp, name + ".report.json")
        lib = os.path.join(tmp, f"lib{name}.so")
        kiln("compile", model, *shape, "-o", lib, "--name", name, "--report", report)
        check("compile-report", json.load(open(report)), f"compile --report {name}")
        check("bench-report", json.loads(kiln("bench", model, *shape, "--json", "--threads",
                                                "1,2", *peaks)), f"bench --json {name}")
        check("check-report", json.loads(kiln("check", model, *shape, "--json")),
              f"check --json {name}")
        check("tune-kernels", json.loads(kiln("tune", model, *shape, "--list-kernels", "--json",
                                                "--shard", "1/2")), f"tune --list-kernels {name}")
        check("bench-library-report", json.loads(kiln("bench", lib, "--json", "--threads", "1,2",
                                                        "--repeat", "2")), f"bench LIB {name}")
        blob = open(lib, "rb").read()
        at = blob.index(b"kiln-manifest-v1\n") + len(b"kiln-manifest-v1\n")
        check("manifest", json.loads(blob[at: blob.index(b"\0", at)]), f"manifest of {name}")
    # bench of a model with free dims: the generic code at the input file's shape
    from onnx import numpy_helper
    import numpy as np
    os.makedirs(os.path.join(tmp, "in3"))
    with open(os.path.join(tmp, "in3", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.zeros((3, 784), np.float32), "x").SerializeToString())
    doc = json.loads(kiln("bench", os.path.join(ROOT, "examples", "mlp.kiln"), "--shape", "x=?x784",
                          "--inputs", os.path.join(tmp, "in3"), "--json", *peaks))
    if doc.get("dims") != [{"name": "N", "value": 3}]:
        failures.append(f"bench --json with free dims: dims {doc.get('dims')}")
    check("bench-report", doc, "bench --json (free dims)")
    verify = ["verify", mlp, "--inputs", data, "--json"]
    check("verify-report", json.loads(kiln(*verify)), "verify --json mlp")
    check("verify-report", json.loads(kiln("verify", demo, "--json")), "verify --json demo")
    # check's other shapes: free dims, problems, a file that is no model
    mlp_kiln = os.path.join(ROOT, "examples", "mlp.kiln")
    check("check-report", json.loads(kiln("check", mlp_kiln, "--json", status=5)),
          "check --json (free dims)")
    bad = os.path.join(tmp, "bad.kiln")
    open(bad, "w").write("model m(x: f32[2, 4]) {\n  return y = Relu(x, 2, 3)\n}\n")
    doc = json.loads(kiln("check", bad, "--json", status=3))
    check("check-report", doc, "check --json (not a model)")

for name, n in checked.items():
    if not n:
        failures.append(f"no document checked against {name}")
for f in failures:
    print("FAIL:", f)
print(f"{sum(checked.values())} documents against {len(SCHEMAS)} schemas, {len(failures)} failed")
sys.exit(1 if failures else 0)
