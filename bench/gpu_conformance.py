#!/usr/bin/env python3
"""The ONNX node conformance tests on a GPU, for a GPU machine that cannot build kiln.

It has no LLVM and no protobuf-c, so the tests travel as `kiln compile --target cuda`
libraries made here, in two steps like bench_gpu.py:

    gpu_conformance.py --prepare DIR [--kiln build/kiln] [--node-root R] [--gpu-arch sm_90]
                       [--budget-mib 60] [--jobs 2]
    gpu_conformance.py --run DIR [--json FILE]

tests/conformance.c runs these tests on the GPU backend only through cuda-host (its CUDA C
compiled by `cc` and run on the CPU); this runs the same CUDA C on a real GPU.

--prepare (here: needs kiln, NVRTC, onnx and numpy) compiles every node test under R
(default: the ONNX_NODE_TESTS of tests/CMakeLists.txt) that neither known-failures file of
tests/conformance.c lists, one library each, xz-compressed beside a copy of the test's input
and output .pb files, and writes DIR/manifest.json. A test kiln does not compile ahead of
time (strings, sizes that depend on input values: conformance.c binds those inputs at
compile time, `kiln compile` cannot) is kept in the manifest as skipped with kiln's reason,
as are the largest tests when DIR would be over --budget-mib (what a device call carries).
--run (there: python3 with numpy, onnx and the CUDA driver; no torch) loads each library
with ctypes, runs <name>_run_arrays on the test's inputs (host buffers) and compares every
output as conformance.c does (node_test_compare: |got - want| <= 1e-7 + 1e-3 |want|, NaN
matches NaN, infinities exactly, integers and bools exactly; a random op's outputs by what
the spec fixes, node_random.c). The tests run in forked children, restarted past a test
that crashes, hangs or hits a CUDA error. Exit 0 when none failed, 2 when there is no GPU,
1 otherwise.
"""
import argparse
import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor

from bench_gpu import MIB, du, unxz, xz  # the same .xz files and budget as the GPU bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KNOWN_FAILURES = ("tests/conformance_known_failures.txt",
                  "tests/conformance_cuda_host_known_failures.txt")
MANIFEST_MARK = b"kiln-manifest-v1\n"  # KILN_MANIFEST_MARK (ir/program.h)
# ONNX's TensorProto data types are kiln_dtype's codes (include/kiln.h); these are kiln's
# names, as a library's manifest gives them
DTYPES = {1: "f32", 2: "u8", 3: "i8", 4: "u16", 5: "i16", 6: "i32", 7: "i64", 9: "bool",
          10: "f16", 11: "f64", 12: "u32", 13: "u64", 16: "bf16"}
FLOATS = {"f16", "bf16", "f32", "f64"}
STATUS_UNSUPPORTED = 4  # KILN_ERR_UNSUPPORTED: a CUDA library without a driver or device
NO_GPU = ("cannot be loaded", "cannot start", "no CUDA device")  # its messages then
TEST_TIMEOUT_S = 60
BATCH = 100  # tests per child process: a bound on the libraries one process holds

np = None  # numpy, imported by the step that runs

# ---- --prepare -----------------------------------------------------------------------------


def node_root():
    """ONNX_NODE_TESTS as tests/CMakeLists.txt sets it."""
    with open(os.path.join(ROOT, "tests", "CMakeLists.txt")) as f:
        return re.search(r"^set\(ONNX_NODE_TESTS\s+(\S+)\)", f.read(), re.M).group(1)


def known_failures():
    """{test: file} as conformance.c's listed() reads the files: per line, the first word
    before any '#', matched as a whole test name."""
    known = {}
    for rel in KNOWN_FAILURES:
        with open(os.path.join(ROOT, rel)) as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if words:
                    known[words[0]] = rel
    return known


def c_names(tests):
    """A C identifier per test, for --name: the test's name where it is one."""
    names, seen = {}, set()
    for t in tests:
        n = re.sub(r"\W", "_", t)
        n = n if re.match(r"[A-Za-z_]", n) else "t_" + n
        base, k = n, 2
        while n in seen:
            n, k = f"{base}_{k}", k + 1
        seen.add(n)
        names[t] = n
    return names


def lib_manifest(path):
    """The JSON manifest a kiln library carries (`kiln run LIB` reads the same)."""
    with open(path, "rb") as f:
        data = f.read()
    start = data.index(MANIFEST_MARK) + len(MANIFEST_MARK)
    return json.loads(data[start:data.index(b"\0", start)])


def read_pb(path):
    """A test's tensor file as (kiln dtype name or None, numpy array of its values; bf16 as
    uint16 bits, bool as uint8)."""
    from onnx import TensorProto, numpy_helper
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    dtype = DTYPES.get(t.data_type)
    if dtype == "bf16":  # numpy_helper's bf16 differs by onnx version (float32, ml_dtypes)
        bits = np.frombuffer(t.raw_data, "<u2") if t.raw_data else np.array(t.int32_data, np.uint16)
        return dtype, bits.reshape(tuple(t.dims))
    a = numpy_helper.to_array(t)
    return dtype, a.astype(np.uint8) if dtype == "bool" else a


def subgraph_ops(g):
    """The op types of graph g and of every graph its nodes hold (If's, Loop's...)."""
    for n in g.node:
        yield n.op_type
        for a in n.attribute:
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from subgraph_ops(sub)


RANDOM_OPS = {"RandomUniform", "RandomNormal", "RandomUniformLike", "RandomNormalLike",
              "Bernoulli", "Multinomial", "Dropout"}  # KILN_OP_RANDOM (ir/ops/random.c)
BOOL_OPS = {"Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Equal", "Not", "And", "Or",
            "Xor"}


def random_checks(g, inputs, lib_inputs):
    """What node_random.c checks of each output of a model with random ops (their expected
    data is numpy's draw, which kiln does not reproduce), worked out here where onnx is:
    per output {"lo", "hi", "integral"} (a range [lo, hi), None: unbounded), and for
    Dropout's output {"dropout": {"x": its input's index among the library's inputs, "scale",
    "mask": the mask's output index or None}}. inputs: the test's values by input name."""
    from onnx import helper, numpy_helper
    producer = {o: n for n in g.node for o in n.output}
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)

    def scalar(n, i, default):
        name = n.input[i] if len(n.input) > i else ""
        v = inputs.get(name, consts.get(name)) if name else None
        return default if v is None or v.size == 0 else float(v.reshape(-1)[0])

    def attr(n, name, default):
        return next((helper.get_attribute_value(a) for a in n.attribute if a.name == name), default)

    outs = [o.name for o in g.output]
    checks = []
    for o in outs:
        n, c = producer.get(o), {"lo": None, "hi": None, "integral": False}
        op = n.op_type if n else ""
        if op in ("RandomUniform", "RandomUniformLike"):
            c.update(lo=float(attr(n, "low", 0.0)), hi=float(attr(n, "high", 1.0)))
        elif op == "Bernoulli" or (op == "Cast" and getattr(producer.get(n.input[0]), "op_type", "")
                                    in BOOL_OPS):
            c.update(lo=0, hi=2, integral=True)
        elif op == "Multinomial":
            x = inputs.get(n.input[0])
            c.update(lo=0, hi=int(x.shape[1]) if x is not None and x.ndim == 2 else None,
                     integral=True)
        elif op == "Dropout" and n.output[0] == o and n.input[0] in lib_inputs:
            training = scalar(n, 2, 0) != 0
            c["dropout"] = {"x": lib_inputs.index(n.input[0]),
                            "scale": 1 / (1 - scalar(n, 1, 0.5)) if training else 1.0,
                            "mask": outs.index(n.output[1]) if len(n.output) > 1 and
                            n.output[1] in outs else None}
        checks.append(c)
    return checks


def prepare_test(args, test, name):
    """One test's manifest entry; its library and .pb files under DIR/test."""
    import onnx
    src = os.path.join(args.node_root, test)
    entry = {"test": test, "name": name}
    g = onnx.load(os.path.join(src, "model.onnx")).graph
    if any(v.type.WhichOneof("value") != "tensor_type" for v in (*g.input, *g.output)):
        # conformance.c binds a sequence's length and passes an optional's value when it
        # compiles; `kiln compile` cannot, and makes an unbound optional an empty one
        entry["skipped"] = "sequence or optional graph inputs or outputs"
        return entry
    out = os.path.join(args.dir, test)
    os.makedirs(out, exist_ok=True)
    lib = os.path.join(out, f"lib{name}.so")
    cmd = [args.kiln, "compile", os.path.join(src, "model.onnx"), "--target", args.target,
           "-o", lib, "--name", name]
    if args.target == "cuda":
        cmd += ["--gpu-arch", args.gpu_arch]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        shutil.rmtree(out)
        lines = r.stderr.strip().splitlines() or [
            f"killed by {signal.Signals(-r.returncode).name}" if r.returncode < 0
            else f"exit status {r.returncode}"]
        entry["skipped"] = "kiln compile: " + lines[0].removeprefix("kiln: ")
        return entry
    os.remove(os.path.join(out, f"{name}.h"))  # --run reads the manifest, not C
    info = lib_manifest(lib)
    if info["entry"] != f"{name}_run_arrays":  # a CPU library with free dims: <name>_run_dims
        shutil.rmtree(out)
        entry["skipped"] = "free dims (the library's entry is <name>_run_dims, not run here)"
        return entry
    # input_<i>.pb is the graph's i-th input that is not an initializer (as conformance.c's
    # describe() counts them); the library takes the inputs it uses, by name, in its order
    graph_inputs = [v.name for v in g.input if v.name not in {t.name for t in g.initializer}]
    lib_inputs = [t["name"] for t in info["inputs"]]
    missing = [n for n in lib_inputs if n not in graph_inputs]
    if missing:
        shutil.rmtree(out)
        entry["skipped"] = f"library input '{missing[0]}' is no graph input with test data"
        return entry
    sets = sorted((d for d in os.listdir(src) if d.startswith("test_data_set_")),
                  key=lambda d: int(d.rsplit("_", 1)[1]))
    entry.update(lib=os.path.relpath(lib, args.dir), inputs=info["inputs"],
                 outputs=info["outputs"], sets=[])
    is_random = bool(set(subgraph_ops(g)) & RANDOM_OPS)
    for s in sets:
        os.makedirs(os.path.join(out, s))

        def copy(f):
            return os.path.relpath(shutil.copy(os.path.join(src, s, f), os.path.join(out, s)),
                                   args.dir)

        ins = [copy(f"input_{graph_inputs.index(n)}.pb") for n in lib_inputs]
        outs = [copy(f"output_{j}.pb") for j in range(len(g.output))
                if os.path.exists(os.path.join(src, s, f"output_{j}.pb"))]
        data_set = {"inputs": ins, "outputs": outs}
        if is_random:
            values = {n: read_pb(os.path.join(src, s, f"input_{i}.pb"))[1]
                      for i, n in enumerate(graph_inputs)
                      if os.path.exists(os.path.join(src, s, f"input_{i}.pb"))}
            data_set["random"] = random_checks(g, values, lib_inputs)
        entry["sets"].append(data_set)
    entry["lib"] = os.path.relpath(xz(lib), args.dir)
    return entry


def skip_group(reason):
    """A skip reason without its names, op types and numbers, to count alike reasons
    together."""
    reason = re.sub(r"'[^']*'(, '[^']*')*", "'…'", reason)
    return re.sub(r"\d+", "N", re.sub(r"\([A-Z]\w*\)", "(…)", reason))


def prepare(args):
    global np
    import numpy as np
    args.node_root = args.node_root or node_root()
    if os.path.isfile(os.path.join(args.dir, "manifest.json")):
        shutil.rmtree(args.dir)  # an earlier --prepare's: none of its files stays
    elif os.path.isdir(args.dir) and os.listdir(args.dir):
        print(f"gpu_conformance: {args.dir} is not empty, and no earlier --prepare wrote it")
        return 1
    os.makedirs(args.dir, exist_ok=True)
    tests = sorted(t for t in os.listdir(args.node_root)
                   if os.path.isfile(os.path.join(args.node_root, t, "model.onnx")))
    known, names, done = known_failures(), c_names(tests), itertools.count(1)

    def one(test):
        entry = {"test": test, "name": names[test], "skipped": f"listed in {known[test]}"} \
            if test in known else prepare_test(args, test, names[test])
        k = next(done)
        if k % 100 == 0:
            print(f"  [{k}/{len(tests)}]", flush=True)
        return entry

    with ThreadPoolExecutor(args.jobs) as pool:
        entries = list(pool.map(one, tests))

    def write_manifest():
        with open(os.path.join(args.dir, "manifest.json"), "w") as f:
            json.dump({"target": args.target, "gpu_arch": args.gpu_arch,
                       "node_root": args.node_root, "tests": entries}, f, indent=1)

    write_manifest()
    # over the budget: the largest tests go first, until the rest fits (the manifest, written
    # again without them, only shrinks)
    over = du(args.dir) - args.budget_mib * MIB
    for e in sorted((e for e in entries if "skipped" not in e),
                    key=lambda e: -du(os.path.join(args.dir, e["test"]))):
        if over <= 0:
            break
        over -= du(os.path.join(args.dir, e["test"]))
        shutil.rmtree(os.path.join(args.dir, e["test"]))
        for k in ("lib", "inputs", "outputs", "sets"):
            del e[k]
        e["skipped"] = "too large for the carry budget"
    write_manifest()
    size = du(args.dir)
    groups = {}
    for e in entries:
        if "skipped" in e:
            groups.setdefault(skip_group(e["skipped"]), []).append(e["test"])
    ncompiled = sum("skipped" not in e for e in entries)
    print(f"gpu_conformance: {len(entries)} tests in {args.node_root}: {ncompiled} compiled "
          f"(--target {args.target}), {len(entries) - ncompiled} skipped:")
    for reason, ts in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(ts):4d}  {reason}  (e.g. {', '.join(ts[:3])})")
    print(f"gpu_conformance: {args.dir}: {size / MIB:.1f} MiB")
    if size > args.budget_mib * MIB:
        print(f"gpu_conformance: {args.dir} is over the budget of {args.budget_mib} MiB")
        return 1
    return 0


# ---- --run ---------------------------------------------------------------------------------

NP_DTYPES = {"f32": "float32", "f64": "float64", "f16": "float16", "bf16": "uint16",
             "i8": "int8", "u8": "uint8", "i16": "int16", "u16": "uint16", "i32": "int32",
             "u32": "uint32", "i64": "int64", "u64": "uint64", "bool": "uint8"}


def as_f64(dtype, a):
    if dtype == "bf16":  # the high half of a float32
        return (a.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return a.astype(np.float64)


def compare(got_dtype, got, want_dtype, want):
    """node_test_compare (tests/node_test.c): None when got matches want, else why not."""
    if want_dtype == "u16" and got_dtype == "bf16":  # older test data: bf16 as uint16 bits
        want_dtype = "bf16"
    if got_dtype != want_dtype:
        return f"dtype {got_dtype}, expected {want_dtype}"
    if got.shape != want.shape:
        return f"shape {list(got.shape)}, expected {list(want.shape)}"
    a, b = got.reshape(-1), want.reshape(-1)
    if got_dtype in FLOATS:
        a, b = as_f64(got_dtype, a), as_f64(got_dtype, b)
        with np.errstate(invalid="ignore", over="ignore"):
            ok = (np.isnan(a) & np.isnan(b)) | (np.isinf(b) & (a == b)) | \
                 (np.abs(a - b) <= 1e-7 + 1e-3 * np.abs(b))
        fmt = ".9g"
    else:
        ok, fmt = a == b.astype(a.dtype), "d"
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = bad[0]
        return (f"element {i}: got {a[i]:{fmt}}, expected {b[i]:{fmt}} "
                f"({bad.size} of {a.size} elements differ)")
    return None


def check_random(checks, ins, got, got_dtypes, want):
    """node_test_check_random (tests/node_random.c): None when each output has the dtype and
    shape expected and the values its op can give, else why not."""
    for o, (c, y, w) in enumerate(zip(checks, got, want)):
        if got_dtypes[o] != w[0] or y.shape != w[1].shape:
            return f"output {o}: {got_dtypes[o]} {list(y.shape)}, expected {w[0]} {list(w[1].shape)}"
        v = as_f64(got_dtypes[o], y.reshape(-1))
        lo = -np.inf if c["lo"] is None else c["lo"]
        hi = np.inf if c["hi"] is None else c["hi"]
        bad = np.flatnonzero(~((v >= lo) & (v < hi)) | np.isnan(v) |
                             (c["integral"] & (v != np.floor(v))))
        if bad.size:
            return (f"output {o} element {bad[0]}: {v[bad[0]]:.9g} outside [{lo:g}, {hi:g})"
                    f"{' or not whole' if c['integral'] else ''}")
        d = c.get("dropout")
        if d:
            kept = ins[d["x"]].reshape(-1).astype(np.float64) * d["scale"]
            is_kept = np.abs(v - kept) <= 1e-7 + 1e-3 * np.abs(kept)
            mask = got[d["mask"]].reshape(-1) != 0 if d["mask"] is not None else is_kept
            bad = np.flatnonzero(~(is_kept | (v == 0)) | np.where(mask, ~is_kept, v != 0))
            if bad.size:
                i = bad[0]
                return f"Dropout element {i}: {v[i]:.9g}, mask {int(mask[i])}, x * scale {kept[i]:.9g}"
    return None


class Lib:
    """A kiln library through ctypes. A CPU library has no _load, _release or _error."""

    def __init__(self, path, name):
        self.lib = ctypes.CDLL(path)
        self.name = name
        self.run_arrays = self.fn("run_arrays")
        self.load, self.release = self.fn("load"), self.fn("release", None)
        self.error_fn = self.fn("error", ctypes.c_char_p)

    def fn(self, suffix, restype=ctypes.c_int):
        f = getattr(self.lib, f"{self.name}_{suffix}", None)
        if f is not None:
            f.restype = restype
        return f

    def error(self):
        return self.error_fn().decode(errors="replace") if self.error_fn else ""


def run_test(lib, e, data_dir):
    """Every data set of test e through lib: (why it fails or None, whether a random op's
    outputs passed by what the spec fixes alone)."""
    random = False
    for k, s in enumerate(e["sets"]):
        ins = []
        for spec, path in zip(e["inputs"], s["inputs"]):
            dtype, a = read_pb(os.path.join(data_dir, path))
            # conformance.c hands the test's bytes over as they are (bf16 may come as uint16
            # bits); a size other than the library's would be read out of bounds
            if dtype not in (spec["dtype"], "u16" if spec["dtype"] == "bf16" else None) or \
                    a.size != np.prod(spec["shape"], dtype=np.int64):
                return (f"input '{spec['name']}': test data {dtype} {list(a.shape)}, the library "
                        f"takes {spec['dtype']} {spec['shape']}", False)
            ins.append(np.ascontiguousarray(a, NP_DTYPES[spec["dtype"]]))
        want = [read_pb(os.path.join(data_dir, p)) for p in s["outputs"]]
        if len(want) != len(e["outputs"]):
            return f"the library has {len(e['outputs'])} outputs, the test data {len(want)}", False
        # allocated as the library writes them (the manifest's shape): a test whose shape
        # differs is then a mismatch, not a write out of bounds
        got = [np.empty(spec["shape"], NP_DTYPES[spec["dtype"]]) for spec in e["outputs"]]
        for spec, a in zip(e["outputs"], got):  # poisoned: an output never written fails
            if spec["dtype"] == "bf16":
                a.fill(0x7FC0)
            elif spec["dtype"] in FLOATS:
                a.fill(np.nan)
            else:
                a.reshape(-1).view(np.uint8).fill(0xA5)
        pin = (ctypes.c_void_p * max(len(ins), 1))(*[a.ctypes.data for a in ins])
        pout = (ctypes.c_void_p * max(len(got), 1))(*[a.ctypes.data for a in got])
        st = lib.run_arrays(pin, pout, None)
        if st:
            return f"{lib.name}_run_arrays: status {st}: {lib.error()}", False
        got_dtypes = [spec["dtype"] for spec in e["outputs"]]
        why = next((f"output {i} '{spec['name']}': {w}" for i, (spec, g, (wd, wa))
                    in enumerate(zip(e["outputs"], got, want))
                    if (w := compare(spec["dtype"], g, wd, wa))), None)
        if why and "random" in s:
            why = check_random(s["random"], ins, got, got_dtypes, want)
            random |= why is None
        if why:
            return f"{why} [test_data_set_{k}]", False
    return None, random


def run_tests(data_dir, tests, start, rows):
    """A child of run(): up to BATCH tests from index start, each result appended to the file
    rows as it ends. Returns 3 after a test that hit a CUDA error (its context may be
    poisoned), 2 when the first test finds no GPU, else 0; a test that hangs dumps its stack
    and exits (1)."""
    import faulthandler
    first = next((i for i, e in enumerate(tests) if "skipped" not in e), None)
    for i in range(start, min(start + BATCH, len(tests))):
        e = tests[i]
        row = {"test": e["test"]}
        if "skipped" in e:
            row.update(result="skipped", reason=e["skipped"])
        else:
            faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True)
            lib, why, random = None, None, False
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    lib = Lib(unxz(os.path.join(data_dir, e["lib"]), tmp), e["name"])
                    st = lib.load() if lib.load else 0
                    if st == STATUS_UNSUPPORTED and i == first and any(m in lib.error() for m in NO_GPU):
                        print(f"gpu_conformance: no GPU: {lib.error()}", flush=True)
                        return 2
                    if st:
                        why = f"{e['name']}_load: status {st}: {lib.error()}"
                    else:
                        why, random = run_test(lib, e, data_dir)
                except Exception as ex:  # this test's failure; the rest still run
                    why = f"{type(ex).__name__}: {ex}"
                finally:
                    if lib and lib.release:
                        lib.release()
            faulthandler.cancel_dump_traceback_later()
            row.update(result="fail" if why else "pass",
                       reason=why or ("random: shape, dtype and range only" if random else ""))
            if why:
                print(f"FAIL {e['test']}: {why}", flush=True)
        with open(rows, "a") as f:
            f.write(json.dumps(row) + "\n")
        if row["result"] == "fail" and "CUDA error" in row["reason"]:
            return 3
    return 0


def run(args):
    """The tests in forked children (run_tests), each from the test after the last row its
    predecessor wrote: a crash or hang ends one child and is that test's failure, and a CUDA
    error (which may poison the context) ends one after its test. Forked rather than started
    anew, the children import numpy and onnx once, not once per CUDA error; the parent itself
    never initializes CUDA, which a forked child could not then use."""
    global np
    import numpy as np
    from onnx import TensorProto, numpy_helper  # noqa: F401  (read_pb's: imported once for all children)
    with open(os.path.join(args.dir, "manifest.json")) as f:
        manifest = json.load(f)
    tests = manifest["tests"]
    if manifest["target"] == "cuda":
        try:
            ctypes.CDLL("libcuda.so.1")  # opened, not initialized (cuInit)
        except OSError as ex:
            print(f"gpu_conformance: no GPU: the CUDA driver (libcuda.so.1) cannot be loaded ({ex})")
            return 2
    print(f"gpu_conformance: {len(tests)} tests, libraries for --target {manifest['target']}"
          f"{' ' + manifest['gpu_arch'] if manifest['target'] == 'cuda' else ''}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "rows.jsonl")
        open(log, "w").close()
        while len(rows) < len(tests):
            start = len(rows)
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:  # the child: leaves by os._exit, running none of the parent's cleanup
                code = 1
                try:
                    code = run_tests(args.dir, tests, start, log)
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    os._exit(code)
            rc = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            if rc == 2:
                return 2
            with open(log) as f:
                rows = [json.loads(line) for line in f if line.strip()]
            if (rc not in (0, 3) or len(rows) == start) and len(rows) < len(tests):
                how = f"crashed ({signal.Signals(-rc).name})" if rc < 0 else \
                    f"the process died (exit {rc}): hung over {TEST_TIMEOUT_S} s or failed outside the test"
                row = {"test": tests[len(rows)]["test"], "result": "fail", "reason": how}
                print(f"FAIL {row['test']}: {how}", flush=True)
                with open(log, "a") as f:
                    f.write(json.dumps(row) + "\n")
                rows.append(row)
    count = {k: sum(r["result"] == k for r in rows) for k in ("pass", "fail", "skipped")}
    random = sum(r["reason"].startswith("random") for r in rows if r["result"] == "pass")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"target": manifest["target"], "gpu_arch": manifest["gpu_arch"],
                       "counts": count, "tests": rows}, f, indent=1)
    print(f"gpu_conformance: {count['pass']} passed ({random} random: shape, dtype and range "
          f"only), {count['fail']} failed, {count['skipped']} skipped (of {len(rows)})")
    return 1 if count["fail"] else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--prepare", metavar="DIR")
    mode.add_argument("--run", metavar="DIR")
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"))
    ap.add_argument("--node-root", metavar="R", help="default: ONNX_NODE_TESTS of tests/CMakeLists.txt")
    ap.add_argument("--gpu-arch", default="sm_90")
    ap.add_argument("--budget-mib", type=float, default=60)
    ap.add_argument("--jobs", type=int, default=2, help="--prepare: compiles at once")
    ap.add_argument("--json", metavar="FILE", help="--run: every test's result")
    # --target cpu: the same checks of CPU libraries, to test --run where there is no GPU
    ap.add_argument("--target", default="cuda", choices=("cuda", "cpu"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.dir = args.prepare or args.run
    return prepare(args) if args.prepare else run(args)


if __name__ == "__main__":
    sys.exit(main())
