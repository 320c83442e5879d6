#!/usr/bin/env python3
"""Models as torch.onnx.export writes them with dynamic axes (tests/models/exported/,
made by export_torch.py there), compiled ONCE by `kiln run` with their free dims left free
(--shape NAME=?x?...) and run at three shapes, against onnxruntime.

    check_exported.py KILN MODEL_DIR WORK_DIR [--target T]

Each case writes seeded inputs (floats normal, ids in [0, 100), an attention mask of 0/1
with its first column 1) and runs `kiln run` on them (one run per case: it takes one input
folder), which compiles with the dims free, so a model whose shape computations kiln could
not fold into expressions of them fails here. Outputs must have onnxruntime's shapes and
hold |got - want| <= 1e-4 + 1e-3 |want|; a sequence past the models' position tables must be
refused by name. tests/models/gen_dyn_models.py's export_dyn has
the same patterns in a model that model_dyn compiles once and runs at every shape."""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

MODELS = {  # model: the free dims' values per case
    "bert_torch.onnx": [{"N": 1, "S": 1}, {"N": 2, "S": 7}, {"N": 3, "S": 19}, {"N": 1, "S": 320}],
    "gpt_torch.onnx": [{"N": 1, "S": 1}, {"N": 2, "S": 7}, {"N": 3, "S": 19}, {"N": 1, "S": 320}],
    "cnn_torch.onnx": [{"N": 1, "H": 32, "W": 32}, {"N": 2, "H": 45, "W": 33},
                       {"N": 3, "H": 64, "W": 48}],
    "fpn_torch.onnx": [{"N": 1, "H": 32, "W": 32}, {"N": 2, "H": 45, "W": 33},
                       {"N": 1, "H": 64, "W": 47}],
}

# Sizes past what the models take (position tables of 320 rows: onnxruntime fails from 321),
# which the run must refuse by name before computing (passes/sym_points.c's probes).
TOO_LONG = {"bert_torch.onnx": {"N": 1, "S": 321}, "gpt_torch.onnx": {"N": 2, "S": 1000}}


def inputs_of(model, dims, rng):
    feeds = {}
    for inp in model.graph.input:
        shape = [dims[d.dim_param] if d.dim_param else d.dim_value
                 for d in inp.type.tensor_type.shape.dim]
        if inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            a = rng.standard_normal(shape).astype(np.float32)
        elif "mask" in inp.name:
            a = rng.integers(0, 2, shape).astype(np.int64)
            a[..., 0] = 1
        else:
            a = rng.integers(0, 100, shape).astype(np.int64)
        feeds[inp.name] = a
    return feeds


def free_shapes(model):
    args = []
    for inp in model.graph.input:
        dims = ["?" if d.dim_param else str(d.dim_value) for d in inp.type.tensor_type.shape.dim]
        args += ["--shape", f"{inp.name}={'x'.join(dims)}"]
    return args


def main():
    kiln, src, work = sys.argv[1:4]
    extra = sys.argv[4:]
    failed = 0
    for name, cases in MODELS.items():
        path = os.path.join(src, name)
        model = onnx.load(path)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(3)
        for k, dims in enumerate(cases):
            case = os.path.join(work, f"{name}_{k}")
            os.makedirs(case, exist_ok=True)
            feeds = inputs_of(model, dims, rng)
            for i, (n, a) in enumerate(feeds.items()):
                with open(os.path.join(case, f"input_{i}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(a, n).SerializeToString())
            want = sess.run(None, feeds)
            r = subprocess.run([kiln, "run", path, *free_shapes(model), "--inputs", case,
                                "--output-dir", os.path.join(case, "out"), "--repeat", "1",
                                *extra], capture_output=True, text=True)
            if r.returncode:
                print(f"FAIL {name} {dims}: kiln exited {r.returncode}: {r.stderr.strip()}")
                failed += 1
                continue
            for i, w in enumerate(want):
                got = numpy_helper.to_array(
                    onnx.load_tensor(os.path.join(case, "out", f"output_{i}.pb")))
                ok = got.shape == w.shape and bool(
                    np.all(np.abs(got - w) <= 1e-4 + 1e-3 * np.abs(w)))
                err = float(np.max(np.abs(got - w))) if got.shape == w.shape else float("nan")
                print(f"{'ok  ' if ok else 'FAIL'} {name} {dims} output {i}: shape "
                      f"{list(got.shape)} (want {list(w.shape)}), max abs error {err:.3g}")
                failed += not ok
    for name, dims in TOO_LONG.items():
        path = os.path.join(src, name)
        model = onnx.load(path)
        case = os.path.join(work, f"{name}_too_long")
        os.makedirs(case, exist_ok=True)
        feeds = inputs_of(model, dims, np.random.default_rng(3))
        for i, (n, a) in enumerate(feeds.items()):
            with open(os.path.join(case, f"input_{i}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(a, n).SerializeToString())
        r = subprocess.run([kiln, "run", path, *free_shapes(model), "--inputs", case,
                            "--repeat", "1", *extra], capture_output=True, text=True)
        ok = r.returncode != 0 and "compiled for sizes up to 320" in r.stderr
        print(f"{'ok  ' if ok else 'FAIL'} {name} {dims} refused: {r.stderr.strip()}")
        failed += not ok
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
