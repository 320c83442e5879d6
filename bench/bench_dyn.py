#!/usr/bin/env python3
"""Free dims: generic (symbolic) code against a shape bucket and a static compile.

    .venv/bin/python bench/bench_dyn.py [--models resnet18_hw,bert_base_seq] [--repeat N]
                                        [--threads 1,2] [--rounds N]

Two models whose inputs keep named free dims: ResNet-18 (tests/models/gen_models.py) with
free H and W (and, resnet18_nhw, N too), run at 1x3x224x224, and a BERT-base encoder (12 layers, 768 wide, 12 heads,
3072 in the FFN; gen_dyn_models.py's encoder_block) with a free sequence length, run at
sequence 128. For each, in the same run, `kiln run` times three compiles of the same file
on the same inputs:
  static:  --shape binds every dim (what kiln did before free dims);
  bucket:  the dims left free, plus --bucket at the run's shape (its own static variant);
  generic: the dims left free, no bucket (the symbolic code).
and checks each one's outputs against onnxruntime's. The three run in turn, --rounds times
(default 3), each a median of --repeat runs; a variant's figure is its least round median. See bench/README.md.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
import gen_dyn_models  # noqa: E402
import gen_models  # noqa: E402

LATENCY = re.compile(r"latency: median ([0-9.eE+-]+) ms over (\d+) runs")


def resnet18_hw():
    """ResNet-18 with its input's H and W named (free); the output stays [1, 1000]."""
    model, rng = gen_models.MODELS["resnet18"]()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].ClearField("dim_value")
    dims[2].dim_param = "H"
    dims[3].ClearField("dim_value")
    dims[3].dim_param = "W"
    del model.graph.value_info[:]
    x = rng.standard_normal((1, 3, 224, 224)).astype(np.float32)
    return model, "input", x, "1x3xHxW"


def resnet18_nhw():
    """The same with the batch free too (the output [N, 1000]), run at batch 1: a free
    batch once put register tiles along it (13-20x slower at batch 1)."""
    model, name, x, _ = resnet18_hw()
    for vi in (model.graph.input[0], model.graph.output[0]):
        d0 = vi.type.tensor_type.shape.dim[0]
        d0.ClearField("dim_value")
        d0.dim_param = "N"
    return model, name, x, "Nx3xHxW"


def bert_base_seq():
    """A BERT-base encoder on embeddings x [1, S, 768]: 12 of gen_dyn_models' pre-LN blocks
    at BERT-base's sizes."""
    d, heads, inter, layers = 768, 12, 3072, 12
    b = gen_dyn_models.Builder(12)
    x = "x"
    for _ in range(layers):
        x = gen_dyn_models.encoder_block(b, x, d, heads, inter)
    model = b.dyn_model("x", [1, "S", d], x, [1, "S", d], "bert_base_seq")
    xin = np.random.default_rng(5).standard_normal((1, 128, d)).astype(np.float32)
    return model, "x", xin, "1xSx768"


MODELS = {"resnet18_hw": resnet18_hw, "resnet18_nhw": resnet18_nhw, "bert_base_seq": bert_base_seq}


def write_case(model, name, x, folder):
    """model.onnx, and the input with onnxruntime's outputs (optimizations off)."""
    os.makedirs(os.path.join(folder, "data"), exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    data = os.path.join(folder, "data")
    with open(os.path.join(data, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, name).SerializeToString())
    outs = gen_models.reference(model, {name: x})
    for i, y in enumerate(outs):
        with open(os.path.join(data, f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(y).SerializeToString())
    return outs


def time_kiln(kiln, folder, args, threads, repeat, want):
    with tempfile.TemporaryDirectory() as out:
        cmd = [kiln, "run", os.path.join(folder, "model.onnx"), "--inputs",
               os.path.join(folder, "data"), "--output-dir", out, "--repeat", str(repeat),
               "--threads", str(threads)] + args
        proc = subprocess.run(cmd, capture_output=True, text=True)
        m = LATENCY.search(proc.stdout)
        if proc.returncode or not m:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            return None, "error: " + (tail[0] if tail else f"exit {proc.returncode}")
        worst = 0.0
        for i, w in enumerate(want):
            t = onnx.TensorProto()
            t.ParseFromString(open(os.path.join(out, f"output_{i}.pb"), "rb").read())
            g = numpy_helper.to_array(t)
            if g.shape != w.shape:
                return float(m.group(1)), f"shape {g.shape}, expected {w.shape}"
            excess = np.abs(g.astype(np.float64) - w) - (1e-4 + 1e-3 * np.abs(w))
            worst = max(worst, float(np.nan_to_num(excess, nan=np.inf).max()))
        return float(m.group(1)), "ok" if worst <= 0 else "WRONG"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"))
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "build", "dyn_bench"))
    args = ap.parse_args()
    print(f"{'model':<14} {'threads':>7} {'static ms':>10} {'bucket ms':>10} {'generic ms':>11}"
          f" {'bucket/static':>13} {'generic/bucket':>14}  check")
    for name in args.models.split(","):
        model, inp, x, free = MODELS[name]()
        folder = os.path.join(args.models_dir, name)
        want = write_case(model, inp, x, folder)
        shape = "x".join(str(v) for v in x.shape)
        variants = {"static": ["--shape", f"{inp}={shape}"],
                    "bucket": ["--shape", f"{inp}={free}", "--bucket", f"{inp}={shape}"],
                    "generic": ["--shape", f"{inp}={free}"]}
        for threads in (int(t) for t in args.threads.split(",")):
            # rounds interleave the variants, so a burst of load on the shared machine
            # slows one round of each rather than all runs of one; each variant's figure
            # is its least round median
            ms, status = {v: None for v in variants}, {v: "ok" for v in variants}
            for _ in range(args.rounds):
                for v, extra in variants.items():
                    t, c = time_kiln(args.kiln, folder, extra, threads, args.repeat, want)
                    if c != "ok" and status[v] == "ok":
                        status[v] = c
                    if t is not None and (ms[v] is None or t < ms[v]):
                        ms[v] = t
            checks = [f"{v} {status[v]}" for v in variants]
            ratio = lambda a, b: f"{ms[a] / ms[b]:.2f}" if ms[a] and ms[b] else "-"
            fmt = lambda v: f"{ms[v]:.3f}" if ms[v] else "-"
            print(f"{name:<14} {threads:>7} {fmt('static'):>10} {fmt('bucket'):>10}"
                  f" {fmt('generic'):>11} {ratio('bucket', 'static'):>13}"
                  f" {ratio('generic', 'bucket'):>14}  {', '.join(checks)}", flush=True)


if __name__ == "__main__":
    main()
