#!/usr/bin/env python3
"""Some entries of a bench_gpu.py --prepare folder run once each through <name>_run_arrays
(host buffers; numpy and ctypes alone, no torch), for compute-sanitizer to watch:
    compute-sanitizer --tool racecheck python3 bench/gpu_sanitize.py DIR NAME [NAME ...]
It checks each result (a GEMM against float64, a model against its reference outputs; a
model at another batch, with random inputs and no reference, only for finite outputs) and
exits 1 when one is wrong, so that the sanitizer's report and the check come in one run.
Under `ncu --metrics gpu__time_duration.sum --csv` it gives each kernel's time."""
import ctypes
import json
import os
import sys
import tempfile

import numpy as np
import onnx

from bench_gpu import dims, random_inputs, unxz


def main():
    d, names = sys.argv[1], sys.argv[2:]
    with open(os.path.join(d, "manifest.json")) as f:
        entries = {e["name"]: e for e in json.load(f)["entries"]}
    bad = 0
    rng = np.random.default_rng(1)
    for name in names:
        e = entries[name]
        with tempfile.TemporaryDirectory() as tmp:
            lib = ctypes.CDLL(unxz(os.path.join(d, e["lib"]), tmp))
            getattr(lib, f"{name}_error").restype = ctypes.c_char_p
            if e["kind"] == "gemm":
                m, k, n = e["mkn"]
                ins = [rng.standard_normal((m, k), dtype=np.float32),
                       rng.standard_normal((k, n), dtype=np.float32)]
                want = [ins[0].astype(np.float64) @ ins[1].astype(np.float64)]
            elif e["outputs"]:
                ins = [np.ascontiguousarray(np.load(os.path.join(d, p))) for p in e["inputs"]]
                want = [np.load(os.path.join(d, p)) for p in e["outputs"]]
            else:  # another batch: its inputs (BERT's repeated test inputs) or random ones,
                # run for the sanitizer (or a profiler) alone
                model = onnx.load(unxz(os.path.join(d, e["onnx"]), tmp))
                ins = [np.ascontiguousarray(np.load(os.path.join(d, p))) for p in e["inputs"]] \
                    if e["inputs"] else random_inputs(model, rng)
                want = [np.zeros(dims(v), np.float32) for v in model.graph.output]
            outs = [np.full(w.shape, np.nan, dtype=np.float32 if w.dtype == np.float64 else w.dtype)
                    for w in want]
            pi = (ctypes.c_void_p * max(len(ins), 1))(*[a.ctypes.data for a in ins])
            po = (ctypes.c_void_p * max(len(outs), 1))(*[a.ctypes.data for a in outs])
            st = getattr(lib, f"{name}_run_arrays")(pi, po, None)
            if st:
                print(f"{name}: status {st}: {getattr(lib, f'{name}_error')().decode()}")
                bad += 1
            else:
                if e["kind"] != "gemm" and not e["outputs"]:
                    ok = all(np.isfinite(o).all() for o in outs)
                    print(f"{name}: {'ran (no reference)' if ok else 'WRONG (not finite)'}")
                else:
                    ok = all(np.allclose(o, w, rtol=1e-3, atol=1e-4) if o.dtype.kind == "f"
                             else np.array_equal(o, w) for o, w in zip(outs, want))
                    print(f"{name}: {'ok' if ok else 'WRONG'}")
                bad += not ok
            getattr(lib, f"{name}_release")()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
