#!/usr/bin/env python3
"""kiln against onnxruntime on the whole models of tests/models/gen_models.py.

    .venv/bin/python bench/bench.py [--models mlp,resnet50,...] [--repeat N] [--threads 1,2]
                                    [--load CPU] [--tuning-logs DIR]

For each model and thread count, times `kiln run` (its reported median) and onnxruntime
(ORT_ENABLE_ALL, same inputs, warm-up then N runs, median) in the same run, checks kiln's
outputs against the reference, and prints one table. With --load CPU, a competing busy
process runs pinned to that CPU during every measurement (a shared machine's worst case).
With --tuning-logs DIR, a model with a log DIR/MODEL.tT.log (from `kiln tune ... --threads
T`) is also run with that log applied, in the same run, and the table gains its columns.
See bench/README.md.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "tests", "models", "gen_models.py")
DEFAULT_MODELS = ("mlp,mlp_b64,lstm,bert_tiny,mobilenetv2,resnet18,resnet50,bert_base,gathers,rnn_loop,"
                  "unet")
LATENCY = re.compile(r"latency: median ([0-9.eE+-]+) ms over (\d+) runs")


def load_pbs(directory, prefix):
    arrays, i = [], 0
    while os.path.exists(os.path.join(directory, f"{prefix}_{i}.pb")):
        t = onnx.TensorProto()
        t.ParseFromString(open(os.path.join(directory, f"{prefix}_{i}.pb"), "rb").read())
        arrays.append(numpy_helper.to_array(t))
        i += 1
    return arrays


def pinned_env(threads):
    """One OpenMP thread per core: the guest may pack both threads on one vCPU otherwise."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), OMP_PLACES="cores", OMP_PROC_BIND="close")
    return env


def time_kiln(kiln, model_dir, threads, repeat, log=None):
    """Median ms reported by `kiln run` (with tuning log `log` applied if given), and
    whether its outputs match the reference."""
    data = os.path.join(model_dir, "test_data_set_0")
    with tempfile.TemporaryDirectory() as out:
        cmd = [kiln, "run", os.path.join(model_dir, "model.onnx"), "--inputs", data,
               "--output-dir", out, "--repeat", str(repeat), "--threads", str(threads)]
        if log:
            cmd += ["--tuning-log", log]
        proc = subprocess.run(cmd, env=pinned_env(threads), capture_output=True, text=True)
        m = LATENCY.search(proc.stdout)
        if proc.returncode or not m:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            return None, "error: " + (tail[0] if tail else f"exit {proc.returncode}")
        got, want = load_pbs(out, "output"), load_pbs(data, "output")
        if len(got) != len(want):
            return float(m.group(1)), f"{len(got)} outputs written, {len(want)} expected"
        worst = 0.0
        for g, w in zip(got, want):
            if g.shape != w.shape:
                return float(m.group(1)), f"shape {g.shape}, expected {w.shape}"
            excess = np.abs(g.astype(np.float64) - w) - (1e-4 + 1e-3 * np.abs(w))
            worst = max(worst, float(np.nan_to_num(excess, nan=np.inf).max()))
        return float(m.group(1)), "ok" if worst <= 0 else "WRONG"


def time_ort(model_dir, threads, repeat, warmup):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), so,
                                providers=["CPUExecutionProvider"])
    inputs = load_pbs(os.path.join(model_dir, "test_data_set_0"), "input")
    feeds = {i.name: x for i, x in zip(sess.get_inputs(), inputs)}
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(times)


def start_load(cpu):
    """A busy loop pinned to one CPU, as another tenant's process would be."""
    return subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", "while True: pass"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per measurement")
    ap.add_argument("--warmup", type=int, default=3, help="untimed ORT runs first")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"),
                    help="the kiln command (default: build/kiln)")
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "build", "models"),
                    help="where generated models are cached")
    ap.add_argument("--load", type=int, metavar="CPU",
                    help="run a competing busy process pinned to this CPU meanwhile")
    ap.add_argument("--tuning-logs", metavar="DIR",
                    help="also run each model with DIR/MODEL.tT.log (T: threads) applied")
    args = ap.parse_args()
    if not os.access(args.kiln, os.X_OK):
        sys.exit(f"no kiln command at {args.kiln}: build it or pass --kiln")
    names = [m for m in args.models.split(",") if m]
    subprocess.run([sys.executable, GEN, args.models_dir, "--models", ",".join(names)],
                   check=True, stdout=subprocess.DEVNULL)

    load = start_load(args.load) if args.load is not None else None
    if load:
        print(f"(a competing busy process runs on CPU {args.load})")
    rows, tuned = [], []
    header = f"{'model':<12} {'threads':>7} {'kiln ms':>10} {'ORT ms':>10} {'kiln/ORT':>9}  check"
    if args.tuning_logs:
        header += f"  {'tuned ms':>9} {'tuned/ORT':>9} {'tuned/kiln':>10}  check"
    print(header)
    print("-" * len(header))
    for name in names:
        model_dir = os.path.join(args.models_dir, name)
        for threads in (int(t) for t in args.threads.split(",")):
            kiln_ms, check = time_kiln(args.kiln, model_dir, threads, args.repeat)
            ort_ms = time_ort(model_dir, threads, args.repeat, args.warmup)
            ratio = f"{kiln_ms / ort_ms:9.2f}" if kiln_ms else f"{'-':>9}"
            kiln_txt = f"{kiln_ms:10.3f}" if kiln_ms else f"{'-':>10}"
            line = f"{name:<12} {threads:>7} {kiln_txt} {ort_ms:10.3f} {ratio}  {check}"
            log = args.tuning_logs and os.path.join(args.tuning_logs, f"{name}.t{threads}.log")
            if log and os.path.exists(log):
                tuned_ms, tcheck = time_kiln(args.kiln, model_dir, threads, args.repeat, log)
                if tuned_ms:
                    line += f"  {tuned_ms:9.3f} {tuned_ms / ort_ms:9.2f}"
                    line += f" {tuned_ms / kiln_ms:10.2f}" if kiln_ms else f" {'-':>10}"
                    tuned.append((tuned_ms / ort_ms) if tcheck == "ok" else None)
                else:
                    line += f"  {'-':>9} {'-':>9} {'-':>10}"
                line += f"  {tcheck}"
            elif log:
                line += f"  {'(no log)':>9}"
            print(line, flush=True)
            rows.append((name, threads, kiln_ms, ort_ms, check))
    if load:
        load.kill()
    ratios = [k / o for _, _, k, o, c in rows if k and c == "ok"]
    if ratios:
        geo = float(np.exp(np.mean(np.log(ratios))))
        print(f"\ngeometric mean kiln/ORT over {len(ratios)} correct rows: {geo:.2f}")
    tuned = [r for r in tuned if r]
    if tuned:
        geo = float(np.exp(np.mean(np.log(tuned))))
        print(f"geometric mean tuned kiln/ORT over {len(tuned)} correct tuned rows: {geo:.2f}")


if __name__ == "__main__":
    main()
