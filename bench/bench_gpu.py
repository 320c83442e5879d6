#!/usr/bin/env python3
"""kiln's GPU checks and bench, in two steps, for a GPU machine that cannot build kiln.

    bench_gpu.py --prepare DIR [--kiln build/kiln] [--models-dir build/models]
                 [--gpu-arch sm_90] [--budget-mib 56] [--periodic-mib 8] [--batch32 M,...]
    bench_gpu.py --run DIR [--repeat 50] [--json FILE]

--prepare (here: needs kiln, NVRTC, onnx, onnxruntime and numpy) writes into DIR, each
xz-compressed, `kiln compile --target cuda` libraries: one MatMul of two inputs per GEMM
shape; each test model at batch 1, with its test inputs and reference outputs (onnxruntime
on the CPU, unoptimized, as tests/models/gen_models.py makes them) as .npy; and each of
--batch32 (default BATCH32: the convolution networks and BERT-base) again at batch 32
(rebatched(); BERT's with its test inputs repeated); with every model its ONNX file, for
the peer. Models over --periodic-mib get periodic weights (periodic()) so that all of it
fits the --budget-mib a call of the GPU machine carries (the rest of the repository
travels too).
--run (there: needs the CUDA driver, numpy, onnx and torch) loads each library with ctypes
and, in the same run:
  - checks every batch-1 model against its references (|got - want| <= 1e-4 + 1e-3 |want|)
    through <name>_run (host buffers) and <name>_run_device (torch's device memory and
    stream), a batch-32 model against the peer (relative Frobenius error <= 1e-4), every
    GEMM against float64 (<= 1e-5);
  - times with CUDA events around each run (the median of --repeat after warm-up, fewer
    when they would take over 3 s) each GEMM by kiln and by cuBLAS (torch.matmul, TF32 off:
    fp32 SIMT), each model by kiln and by onnxruntime-gpu's CUDA provider when there, else
    by PyTorch running the graph op by op (onnx_torch.py: cuDNN and cuBLAS, TF32 off).
It prints a table (peer/kiln > 1: kiln is faster) and exits 0 when every check passes, 2
when there is no GPU, 1 otherwise.
"""
import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from onnx_torch import torch_dtype, torch_model

np = None  # numpy, imported once a step knows it can run

# (m, k, n); the last two have tails in every tile of the GPU GEMM schedule (1000: 4-float
# rows, copied as float4; 129 x 77 x 33: scalar copies), checked on the GPU like the rest
GEMMS = [(4096, 4096, 4096), (1024, 1024, 1024), (128, 768, 3072), (128, 3072, 768),
         (1000, 1000, 1000), (129, 77, 33)]
MIB = 1 << 20


def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


# --batch32 by default (the ResNet-50 and BERT-base, and the other convolution
# networks): the libraries of all models at both batches would not fit one call's carry
BATCH32 = ("mobilenetv2", "resnet18", "resnet50", "bert_base")
PERIOD = 10007  # elements: a prime, so that no tensor dim lines up with the repetition
BATCH_OPS = {"Conv", "BatchNormalization", "Relu", "Clip", "Add", "MaxPool",
             "GlobalAveragePool", "Flatten", "Gemm"}


def periodic(model, feeds):
    """The model with every float initializer of more than PERIOD elements replaced by its
    first PERIOD values repeated, and each BatchNormalization made a scale by one number
    for all channels (scale 1, bias 0, mean 0, one variance), so that folding it into the
    Conv keeps the weights' repetition: kiln's library and the model then compress to a few
    MiB (the repetition is what xz finds), and the timings are those of the real
    architecture. Repeated weights make activations grow layer after layer; each variance
    is the mean square of its input on the test inputs `feeds` (onnxruntime, the layers
    before it already scaled), so values stay near the real model's and the element-wise
    check against the reference is as well conditioned as with the real weights."""
    import onnxruntime as ort
    from onnx import helper, numpy_helper
    g = model.graph
    data = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for name, a in data.items():
        if a.dtype == np.float32 and a.size > PERIOD:
            data[name] = np.resize(a.reshape(-1)[:PERIOD], a.size).reshape(a.shape)
    bns = [n for n in g.node if n.op_type == "BatchNormalization"]
    for n in bns:
        for name, v in zip(n.input[1:5], (1, 0, 0, 1)):
            data[name] = np.full_like(data[name], v)

    def with_data():
        tensors = [numpy_helper.from_array(data[t.name], t.name) for t in g.initializer]
        del g.initializer[:]
        g.initializer.extend(tensors)

    for n in bns:  # in graph order: each sees the ones before it scaled
        with_data()
        probe = onnx_copy(model)
        probe.graph.output.append(helper.make_empty_tensor_value_info(n.input[0]))
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(probe.SerializeToString(), so, providers=["CPUExecutionProvider"])
        x = sess.run([n.input[0]], feeds)[0].astype(np.float64)
        data[n.input[4]] = np.full_like(data[n.input[4]], max(float(np.mean(x * x)), 1e-12))
    with_data()
    return model


def test_feeds(data, model):
    """The inputs of test data set folder `data` by the model's input names, in order."""
    import onnx
    from onnx import numpy_helper
    names = [v.name for v in model.graph.input
             if v.name not in {t.name for t in model.graph.initializer}]
    feeds = {}
    while os.path.exists(os.path.join(data, f"input_{len(feeds)}.pb")):
        t = onnx.TensorProto()
        with open(os.path.join(data, f"input_{len(feeds)}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        feeds[names[len(feeds)]] = numpy_helper.to_array(t)
    return feeds


def dims(v):
    """An ONNX value_info's static shape."""
    return [d.dim_value for d in v.type.tensor_type.shape.dim]


def random_inputs(model, rng):
    """Standard normal float32 inputs for the model's graph inputs (not initializers)."""
    import numpy as np
    init = {t.name for t in model.graph.initializer}
    return [rng.standard_normal(dims(v), dtype=np.float32) for v in model.graph.input
            if v.name not in init]


def onnx_copy(model):
    import onnx
    return onnx.load_from_string(model.SerializeToString())


def batch_free(g):
    """Do g's nodes keep axis 0 a batch they never mix (so that the model runs at another
    batch once its inputs and outputs say so)? Convolution networks and MLPs; an encoder
    like BERT's when its Reshapes' shapes are constants led by 1 (made 0: copy the batch),
    its Transposes keep axis 0 first and its Unsqueezes and Gathers leave axis 0 alone."""
    from onnx import numpy_helper
    init = {t.name: t for t in g.initializer}
    ok = {"Cast", "Sub", "Mul", "Div", "Erf", "MatMul", "Softmax", "Sqrt", "Pow", "ReduceMean",
          "LayerNormalization"} | BATCH_OPS
    reshapes = []
    for n in g.node:
        attrs = {a.name: a for a in n.attribute}
        if n.op_type == "Reshape":
            shape = init.get(n.input[1])
            if shape is None or "allowzero" in attrs or numpy_helper.to_array(shape)[0] != 1:
                return None
            reshapes.append(shape)
        elif n.op_type == "Transpose":
            if attrs["perm"].ints[0] != 0:
                return None
        elif n.op_type == "Unsqueeze":
            axes = init.get(n.input[1]) if len(n.input) > 1 else None
            if axes is None or 0 in numpy_helper.to_array(axes):
                return None
        elif n.op_type == "Gather":
            if n.input[0] not in init:  # an embedding table's rows, not the batch
                return None
        elif n.op_type in ("Softmax", "ReduceMean", "LayerNormalization"):
            axes = [attrs["axis"].i] if "axis" in attrs else list(attrs["axes"].ints) if "axes" in attrs else []
            if not axes or 0 in axes:
                return None
        elif n.op_type not in ok:
            return None
    return reshapes


def rebatched(model, batch):
    """The model at another batch, when it can take one (batch_free) and its inputs and
    outputs all have batch 1, else None."""
    from onnx import numpy_helper
    g = model.graph
    reshapes = batch_free(g)
    if reshapes is None:
        return None
    vals = [v for v in list(g.input) + list(g.output)
            if v.name not in {t.name for t in g.initializer}]
    if any(v.type.tensor_type.shape.dim[0].dim_value != 1 for v in vals):
        return None
    for v in vals:
        v.type.tensor_type.shape.dim[0].dim_value = batch
    for t in reshapes:
        shape = numpy_helper.to_array(t).copy()
        shape[0] = 0
        t.CopyFrom(numpy_helper.from_array(shape, t.name))
    del g.value_info[:]
    return model


def xz(path):
    import lzma
    with open(path, "rb") as f, lzma.open(path + ".xz", "wb", preset=1) as o:
        shutil.copyfileobj(f, o, 1 << 24)
    os.remove(path)
    return path + ".xz"


def compile_lib(kiln, model, out_dir, name, arch):
    os.makedirs(out_dir, exist_ok=True)
    lib = os.path.join(out_dir, f"lib{name}.so")
    subprocess.run([kiln, "compile", model, "--target", "cuda", "--gpu-arch", arch, "-o", lib,
                    "--name", name], check=True)
    os.remove(os.path.join(out_dir, f"{name}.h"))  # --run reads the manifest, not C
    return xz(lib)


def prepare(args):
    global np
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    os.makedirs(args.dir, exist_ok=True)
    entries = []
    rel = lambda p: os.path.relpath(p, args.dir)
    with tempfile.TemporaryDirectory() as tmp:
        for m, k, n in GEMMS:
            name = f"gemm_{m}x{k}x{n}"
            graph = helper.make_graph(
                [helper.make_node("MatMul", ["a", "b"], ["c"])], name,
                [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k]),
                 helper.make_tensor_value_info("b", TensorProto.FLOAT, [k, n])],
                [helper.make_tensor_value_info("c", TensorProto.FLOAT, [m, n])])
            path = os.path.join(tmp, name + ".onnx")
            onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
            lib = compile_lib(args.kiln, path, os.path.join(args.dir, name), name, args.gpu_arch)
            entries.append({"kind": "gemm", "name": name, "lib": rel(lib), "mkn": [m, k, n]})
        models = sorted(d for d in os.listdir(args.models_dir)
                        if os.path.isfile(os.path.join(args.models_dir, d, "model.onnx")))
        for model in models:
            src = os.path.join(args.models_dir, model, "model.onnx")
            big = os.path.getsize(src) > args.periodic_mib * MIB
            base = onnx.load(src)
            feeds = test_feeds(os.path.join(args.models_dir, model, "test_data_set_0"), base)
            if big:
                base = periodic(base, feeds)
            variants = [(model, base, 1)]
            b32 = rebatched(onnx_copy(base), 32) if model in args.batch32.split(",") else None
            if b32 is not None:
                variants.append((f"{model}_b32", b32, 32))
            for name, proto, batch in variants:
                out = os.path.join(args.dir, name)
                os.makedirs(out, exist_ok=True)
                path = os.path.join(out, "model.onnx")
                onnx.save(proto, path)
                lib = compile_lib(args.kiln, path, out, name, args.gpu_arch)
                entry = {"kind": "model", "name": name, "lib": rel(lib), "batch": batch,
                         "weights": "periodic" if big else "real", "inputs": [], "outputs": []}
                if batch == 1:  # the test inputs; references by onnxruntime (CPU, unoptimized)
                    for i, a in enumerate(feeds.values()):
                        np.save(os.path.join(out, f"input_{i}.npy"), a)
                        entry["inputs"].append(f"{name}/input_{i}.npy")
                    so = ort.SessionOptions()
                    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
                    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                    for j, r in enumerate(sess.run(None, feeds)):
                        np.save(os.path.join(out, f"output_{j}.npy"), r)
                        entry["outputs"].append(f"{name}/output_{j}.npy")
                elif any(a.dtype.kind != "f" for a in feeds.values()):
                    # token ids and masks, which random normals cannot be: the test inputs
                    # repeated, checked against the peer (the outputs are too large to carry)
                    for i, a in enumerate(feeds.values()):
                        np.save(os.path.join(out, f"input_{i}.npy"),
                                np.concatenate([a] * batch, axis=0))
                        entry["inputs"].append(f"{name}/input_{i}.npy")
                entry["onnx"] = rel(xz(path))  # for the peer
                entries.append(entry)
    with open(os.path.join(args.dir, "manifest.json"), "w") as f:
        json.dump({"gpu_arch": args.gpu_arch, "entries": entries}, f, indent=1)
    size = du(args.dir)
    print(f"bench_gpu: {len(entries)} libraries in {args.dir} ({size / MIB:.1f} MiB)")
    if size > args.budget_mib * MIB:
        print(f"bench_gpu: {args.dir} is over the budget of {args.budget_mib} MiB")
        return 1
    return 0


class Lib:
    """A `kiln compile --target cuda` library through ctypes."""

    def __init__(self, path, name):
        self.lib = ctypes.CDLL(path)
        self.name = name
        for fn in ("run_arrays", "run_device", "load"):
            getattr(self.lib, f"{name}_{fn}").restype = ctypes.c_int
        getattr(self.lib, f"{name}_error").restype = ctypes.c_char_p

    def error(self):
        return getattr(self.lib, f"{self.name}_error")().decode()

    def call(self, fn, *args):
        st = getattr(self.lib, f"{self.name}_{fn}")(*args)
        if st:
            raise RuntimeError(f"{self.name}_{fn}: status {st}: {self.error()}")

    def run_host(self, inputs, outputs):
        ins = (ctypes.c_void_p * max(len(inputs), 1))(*[a.ctypes.data for a in inputs])
        outs = (ctypes.c_void_p * max(len(outputs), 1))(*[a.ctypes.data for a in outputs])
        self.call("run_arrays", ins, outs, None)

    def run_device(self, inputs, outputs, stream):
        ins = (ctypes.c_void_p * max(len(inputs), 1))(*[t.data_ptr() for t in inputs])
        outs = (ctypes.c_void_p * max(len(outputs), 1))(*[t.data_ptr() for t in outputs])
        self.call("run_device", ins, outs, ctypes.c_void_p(stream))


def median_ms(torch, fn, repeat, warmup=5, budget_ms=3000):
    """The median of repeat runs (fewer, at least 5, when they would take over budget_ms),
    each timed by CUDA events, after warmup untimed ones."""
    times = []
    for i in range(warmup + repeat):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        if i >= warmup:
            times.append(a.elapsed_time(b))
            if len(times) >= 5 and sum(times) > budget_ms:
                break
    return statistics.median(times)


def close(got, want):
    if got.dtype.kind == "f":
        got, want = got.astype(np.float64), want.astype(np.float64)
        return bool(np.all(np.abs(got - want) <= 1e-4 + 1e-3 * np.abs(want)))
    return bool(np.array_equal(got, want))


def peer_ms(torch, model, onnx_path, inputs, repeat):
    """onnxruntime-gpu's CUDA provider when this onnxruntime has it, else PyTorch op by op:
    (name, median ms, outputs) or None."""
    try:
        import onnxruntime as ort
        cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:
        cuda = False
    if cuda:
        s = ort.InferenceSession(onnx_path, providers=["CUDAExecutionProvider"])
        feeds = {i.name: a for i, a in zip(s.get_inputs(), inputs)}
        return "onnxruntime-gpu", median_ms(torch, lambda: s.run(None, feeds), repeat), \
            s.run(None, feeds)
    fn = torch_model(torch, model)
    if fn is None:
        return None
    xs = [torch.from_numpy(a).cuda() for a in inputs]
    return "torch", median_ms(torch, lambda: fn(*xs), repeat), [t.cpu().numpy() for t in fn(*xs)]


def rel_err(got, want):
    got, want = got.astype(np.float64), want.astype(np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


def unxz(path, tmp):
    import lzma
    out = os.path.join(tmp, os.path.basename(path)[:-3])
    with lzma.open(path) as f, open(out, "wb") as o:
        shutil.copyfileobj(f, o, 1 << 24)
    return out


def run(args):
    """Each entry runs in a child process (run_entries), restarted past an entry that
    crashes, hangs or leaves an error: a kernel's fault poisons the CUDA context it ran in,
    and the entries after it must still be checked."""
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError as e:
        print(f"bench_gpu: no GPU: the CUDA driver (libcuda.so.1) cannot be loaded ({e})")
        return 2
    with open(os.path.join(args.dir, "manifest.json")) as f:
        entries = json.load(f)["entries"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "rows.jsonl")
        while len(rows) < len(entries):
            cmd = [sys.executable, os.path.abspath(__file__), "--run", args.dir, "--child",
                   "--start", str(len(rows)), "--rows", log, "--repeat", str(args.repeat)]
            if args.only:
                cmd += ["--only", args.only]
            rc = subprocess.run(cmd).returncode
            if rc == 2:
                return 2
            with open(log) as f:
                rows = [json.loads(l) for l in f if l.strip()]
            if rc not in (0, 1, 3) and len(rows) < len(entries):
                e = entries[len(rows)]
                row = {"name": e["name"], "kind": e["kind"],
                       "check": f"error: the process died (exit {rc}) or hung"}
                print(f"  {row['name']}: {row['check']}", flush=True)
                with open(log, "a") as f:
                    f.write(json.dumps(row) + "\n")
                rows.append(row)
    rows = [r for r in rows if r["check"] != "skipped"]
    failures = sum(not r["check"].startswith(("ok", "unchecked")) for r in rows)
    print(f"\n{'case':<24}{'check':<10}{'kiln ms':>10}{'peer ms':>10}{'peer/kiln':>10}  peer")
    for r in rows:
        k, p = r.get("kiln_ms"), r.get("peer_ms")
        print(f"{r['name']:<24}{r['check'][:9]:<10}{'-' if k is None else f'{k:.3f}':>10}"
              f"{'-' if p is None else f'{p:.3f}':>10}"
              f"{'' if not (k and p) else f'{p / k:.2f}':>10}  {r.get('peer', '-')}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(f"bench_gpu: {'all checks passed' if not failures else f'{failures} FAILED'}")
    return 1 if failures else 0


def run_entries(args):
    """The child of run(): entries from --start on, each row appended to --rows as it ends;
    exit 3 after an entry that failed with an error (its context may be poisoned), and
    a dump and exit when one entry takes over 180 s (a hung kernel). run() has found the
    driver already."""
    import faulthandler
    global np
    import numpy as np
    import onnx
    import torch
    if not torch.cuda.is_available():
        print("bench_gpu: no GPU: torch.cuda.is_available() is False")
        return 2
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with open(os.path.join(args.dir, "manifest.json")) as f:
        manifest = json.load(f)
    print(f"bench_gpu: {torch.cuda.get_device_name()}, libraries for {manifest['gpu_arch']}",
          flush=True)
    stream = torch.cuda.current_stream().cuda_stream
    rng = np.random.default_rng(0)
    for i, e in enumerate(manifest["entries"]):
        if i < args.start:
            continue
        row = {"name": e["name"], "kind": e["kind"], "check": "-"}
        if args.only and e["name"] not in args.only.split(","):
            row["check"] = "skipped"
            with open(args.rows, "a") as f:
                f.write(json.dumps(row) + "\n")
            continue
        faulthandler.dump_traceback_later(180, exit=True)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                lib = Lib(unxz(os.path.join(args.dir, e["lib"]), tmp), e["name"])
                lib.call("load")
                if e["kind"] == "gemm":
                    m, k, n = e["mkn"]
                    a = torch.randn(m, k, device="cuda")
                    b = torch.randn(k, n, device="cuda")
                    c = torch.full((m, n), float("nan"), device="cuda")
                    lib.run_device([a, b], [c], stream)
                    ref = a.double() @ b.double()
                    err = float(torch.linalg.norm(c.double() - ref) / torch.linalg.norm(ref))
                    row["check"] = "ok" if err <= 1e-5 else f"WRONG (relative error {err:.2e})"
                    row["kiln_ms"] = median_ms(torch, lambda: lib.run_device([a, b], [c], stream),
                                               args.repeat)
                    row["peer"] = "cuBLAS"
                    row["peer_ms"] = median_ms(torch, lambda: torch.matmul(a, b, out=c), args.repeat)
                    row["kiln_gflops"] = 2 * m * k * n / row["kiln_ms"] / 1e6
                else:
                    model = onnx.load(unxz(os.path.join(args.dir, e["onnx"]), tmp))
                    if e["inputs"]:
                        ins = [np.load(os.path.join(args.dir, p)) for p in e["inputs"]]
                        want = [np.load(os.path.join(args.dir, p)) for p in e["outputs"]] \
                            if e["outputs"] else None
                    else:  # another batch: random inputs, the peer's outputs the reference
                        ins, want = random_inputs(model, rng), None
                    ins = [np.ascontiguousarray(a) for a in ins]
                    shapes = [(dims(v), v.type.tensor_type.elem_type) for v in model.graph.output]
                    host = [np.zeros(s, dtype=torch.empty(0, dtype=torch_dtype(torch, t)).numpy().dtype)
                            for s, t in shapes]
                    lib.run_host(ins, host)
                    dins = [torch.from_numpy(a).cuda() for a in ins]
                    douts = [torch.empty(s, dtype=torch_dtype(torch, t), device="cuda")
                             for s, t in shapes]
                    lib.run_device(dins, douts, stream)
                    torch.cuda.synchronize()
                    dev = [t.cpu().numpy() for t in douts]
                    row["kiln_ms"] = median_ms(torch, lambda: lib.run_device(dins, douts, stream),
                                               args.repeat)
                    try:  # the peer's failure leaves kiln's checks standing
                        peer = peer_ms(torch, model, os.path.join(tmp, "model.onnx"), ins,
                                       args.repeat)
                    except Exception as ex:
                        peer, row["peer"] = None, f"error: {ex}"
                    if peer:
                        row["peer"], row["peer_ms"], pouts = peer
                        row["vs_peer"] = max(rel_err(h, p) for h, p in zip(host, pouts))
                    if want is not None:
                        bad = [i for i, w in enumerate(want) if not close(host[i], w)]
                        bad += [f"{i} (device)" for i, w in enumerate(want) if not close(dev[i], w)]
                        row["check"] = "ok" if not bad else f"WRONG outputs {bad}"
                    elif "vs_peer" in row:  # no reference: the peer's outputs, closely
                        row["check"] = "ok (peer)" if row["vs_peer"] <= 1e-4 else \
                            f"WRONG (relative error {row['vs_peer']:.2e} vs {row['peer']})"
                    else:
                        row["check"] = "unchecked: no peer"
            except Exception as ex:  # one entry's failure is reported, the rest still run
                row["check"] = f"error: {ex}"
            finally:
                if "lib" in locals():
                    getattr(lib.lib, f"{e['name']}_release")()
                    del lib
        faulthandler.cancel_dump_traceback_later()
        print(f"  {row['name']}: {row['check']}; peer: {row.get('peer', '-')}", flush=True)
        with open(args.rows, "a") as f:
            f.write(json.dumps(row) + "\n")
        if row["check"].startswith("error"):
            return 3
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--prepare", metavar="DIR")
    mode.add_argument("--run", metavar="DIR")
    ap.add_argument("--kiln", default="build/kiln")
    ap.add_argument("--models-dir", default="build/models")
    ap.add_argument("--gpu-arch", default="sm_90")
    ap.add_argument("--budget-mib", type=float, default=56)
    ap.add_argument("--periodic-mib", type=float, default=8,
                    help="models larger than this get periodic weights (see periodic())")
    ap.add_argument("--batch32", default=",".join(BATCH32),
                    help="--prepare: the models compiled at batch 32 too (a,b,...)")
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--only", metavar="NAMES", help="--run: these entries alone (a,b,...)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--rows", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.dir = args.prepare or args.run
    if args.prepare:
        return prepare(args)
    return run_entries(args) if args.child else run(args)


if __name__ == "__main__":
    sys.exit(main())
