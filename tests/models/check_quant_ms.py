#!/usr/bin/env python3
"""onnxruntime's quantized ops of domain com.microsoft (ir/ops/quant_ms.c) against
onnxruntime itself, which defines them.

    check_quant_ms.py KILN WORK_DIR [--target T]

1. Each op alone, uint8 and int8, seeded random inputs, run by `kiln run`: the output must
   have onnxruntime's shape and type, and each element its value or one step away, the
   latter for at most 3% of the elements (and at least one allowed): both round half to
   even, but the float operations before the rounding come in another order (onnxruntime's
   QLinearMul adds the zero point before rounding, in f32), so a value within f32 rounding
   of a tie may round either way (QLinearAveragePool's exact -3.5 steps; QLinearMul's
   94.499994 steps, which onnxruntime rounds to 95 and kiln to 94).
2. A small CNN with free batch and image dims that onnxruntime's quantizer
   (quantize_static, QuantFormat.QOperator, int8 weights per channel and per tensor) turned into
   QLinearConv, QGemm, QLinearAdd, QLinearMul, QLinearSigmoid, QLinearLeakyRelu,
   QLinearAveragePool, QLinearConcat, QLinearGlobalAveragePool and QLinearSoftmax, with
   uint8 and with int8 activations, compiled once with its dims free and run at two shapes,
   and a two-layer MLP (QLinearMatMul, b's scales per column) with its batch free: the
   dequantized output must lie within one step of onnxruntime's (the last
   DequantizeLinear's scale).
   Resize (linear) on 8-bit tensors, which a QOperator model runs as it is: interpolated
   in floats and truncated toward zero, as onnxruntime does. onnxruntime interpolates in
   f32, kiln in f64, so where the exact value is an integer or within f32 rounding of one
   the two may truncate to neighbours (exact 88.0: onnxruntime 87, kiln 88; exact
   179.999986: onnxruntime 180, kiln 179): each element within one step (the count that
   differ is printed).
With --target T the runs use that backend (part 2 only: part 1's expansions are plain ops)."""
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

V = h.make_tensor_value_info


def ort_run(model, feeds):
    so = ort.SessionOptions()
    so.log_severity_level = 4
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    data = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, feeds)


def kiln_run(kiln, path, feeds, work, extra):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "in"))
    for i, (n, a) in enumerate(feeds.items()):
        with open(os.path.join(work, "in", f"input_{i}.pb"), "wb") as f:
            f.write(nh.from_array(a, n).SerializeToString())
    r = subprocess.run([kiln, "run", path, "--inputs", os.path.join(work, "in"), "--output-dir",
                        os.path.join(work, "out"), "--repeat", "1", *extra],
                       capture_output=True, text=True)
    if r.returncode:
        return None, r.stderr.strip()[-500:]
    outs, i = [], 0
    while os.path.exists(os.path.join(work, "out", f"output_{i}.pb")):
        t = onnx.TensorProto()
        with open(os.path.join(work, "out", f"output_{i}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        outs.append(nh.to_array(t))
        i += 1
    return outs, ""


def ms(op, ins, outs, **kw):
    return h.make_node(op, ins, outs, domain="com.microsoft", **kw)


def op_cases(rng):
    """(name, nodes, inputs, outputs, feeds, initializers) for each op, uint8 and int8."""
    cases = []
    for dt, npdt in ((T.UINT8, np.uint8), (T.INT8, np.int8)):
        lo, hi = (0, 255) if npdt == np.uint8 else (-128, 127)
        tag = "u8" if dt == T.UINT8 else "s8"

        def q(*shape):
            return rng.integers(lo, hi + 1, shape).astype(npdt)

        def z(v, n):
            return nh.from_array(np.array(v, npdt), n)

        def s(v, n):
            return nh.from_array(np.array(v, np.float32), n)

        base = lo + 128 if lo == 0 else 0
        inits = [s(0.02, "as"), z(base + 10, "az"), s(0.03, "bs"), z(base - 5, "bz"),
                 s(0.05, "cs"), z(base + 1, "cz"), s(0.7, "ys"), z(base - 7, "yz")]
        a, b, a2 = q(2, 3, 5, 6), q(3, 1, 6), q(2, 4, 5, 6)
        ya = [V("a", dt, a.shape)]
        one = {"a": a}
        for op in ("QLinearAdd", "QLinearMul"):
            cases.append((f"{op}_{tag}", [ms(op, ["a", "as", "az", "b", "bs", "bz", "cs", "cz"], ["c"])],
                          ya + [V("b", dt, b.shape)], {"a": a, "b": b}, inits))
        cases.append((f"QLinearAdd_no_c_zero_point_{tag}",
                      [ms("QLinearAdd", ["a", "as", "az", "b", "bs", "bz", "cs"], ["c"])],
                      ya + [V("b", dt, b.shape)], {"a": a, "b": b}, inits))
        cases.append((f"QLinearSigmoid_{tag}", [ms("QLinearSigmoid", ["a", "as", "az", "ys", "yz"], ["c"])],
                      ya, one, inits))
        cases.append((f"QLinearLeakyRelu_{tag}",
                      [ms("QLinearLeakyRelu", ["a", "as", "az", "ys", "yz"], ["c"], alpha=0.1)],
                      ya, one, inits))
        for last in (0, 1):
            cases.append((f"QLinearGlobalAveragePool_last{last}_{tag}",
                          [ms("QLinearGlobalAveragePool", ["a", "as", "az", "cs", "cz"], ["c"],
                              channels_last=last)], ya, one, inits))
        cases.append((f"QLinearAveragePool_{tag}",
                      [ms("QLinearAveragePool", ["a", "as", "az", "cs", "cz"], ["c"],
                          kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])], ya, one, inits))
        cases.append((f"QLinearAveragePool_ceil_pad_{tag}",
                      [ms("QLinearAveragePool", ["a", "as", "az", "cs", "cz"], ["c"],
                          kernel_shape=[2, 3], count_include_pad=1, pads=[1, 0, 1, 1],
                          ceil_mode=1)], ya, one, inits))
        sm = [s(0.1, "as"), z(base + 10, "az"), s(1 / 256, "ys"), z(lo, "yz")]
        for opset in (13, 11):
            for axis in (-1, 1):
                cases.append((f"QLinearSoftmax_opset{opset}_axis{axis}_{tag}",
                              [ms("QLinearSoftmax", ["a", "as", "az", "ys", "yz"], ["c"],
                                  opset=opset, axis=axis)], ya, one, sm))
        cases.append((f"QLinearConcat_{tag}",
                      [ms("QLinearConcat", ["cs", "cz", "a", "as", "az", "a2", "bs", "bz",
                                            "a", "cs", "cz"], ["c"], axis=1)],
                      ya + [V("a2", dt, a2.shape)], {"a": a, "a2": a2}, inits))
        A, B = q(5, 7), rng.integers(-128, 128, (4, 7)).astype(np.int8)
        per_col = [nh.from_array(rng.uniform(0.01, 0.03, 4).astype(np.float32), "bsc"),
                   nh.from_array(rng.integers(-3, 4, 4).astype(np.int8), "bzc"),
                   nh.from_array(rng.integers(-1000, 1000, 4).astype(np.int32), "C"),
                   nh.from_array(np.array(3, np.int8), "bz8")]
        gi = [V("A", dt, A.shape), V("B", T.INT8, B.shape)]
        cases.append((f"QGemm_float_{tag}", [ms("QGemm", ["A", "as", "az", "B", "bsc", "bzc", "C"], ["c"],
                                                transB=1, alpha=0.5)],
                      gi, {"A": A, "B": B}, inits + per_col))
        cases.append((f"QGemm_quantized_{tag}",
                      [ms("QGemm", ["A", "as", "az", "B", "bsc", "bzc", "C", "ys", "yz"], ["c"],
                          transB=1)], gi, {"A": A, "B": B}, inits + per_col))
        for ctm, scales in (("half_pixel", [1, 1, 2.5, 1.5]), ("asymmetric", [1, 1, 0.6, 3]),
                            ("pytorch_half_pixel", [1, 1, 1.5, 0.5])):
            cases.append((f"Resize_linear_{ctm}_{tag}",
                          [h.make_node("Resize", ["a", "", "scales"], ["c"], mode="linear",
                                       coordinate_transformation_mode=ctm)], ya, one,
                          [nh.from_array(np.array(scales, np.float32), "scales")]))
        At, Bt = np.ascontiguousarray(A.T), np.ascontiguousarray(B.T)
        cases.append((f"QGemm_transA_{tag}",
                      [ms("QGemm", ["A", "as", "az", "B", "bs", "bz8", "", "ys", "yz"], ["c"],
                          transA=1)], [V("A", dt, At.shape), V("B", T.INT8, Bt.shape)],
                      {"A": At, "B": Bt}, inits + per_col))
    return cases


def check_ops(kiln, work, rng):
    failed = 0
    for name, nodes, inputs, feeds, inits in op_cases(rng):
        used = {i for n in nodes for i in n.input}
        g = h.make_graph(nodes, name, inputs, [onnx.ValueInfoProto(name="c")],
                         [t for t in inits if t.name in used])
        m = h.make_model(g, opset_imports=[h.make_opsetid("", 17), h.make_opsetid("com.microsoft", 1)])
        want = ort_run(m, feeds)[0]
        g.output[0].CopyFrom(V("c", onnx.helper.np_dtype_to_tensor_dtype(want.dtype), want.shape))
        path = os.path.join(work, name + ".onnx")
        onnx.save(m, path)
        got, err = kiln_run(kiln, path, feeds, os.path.join(work, name), [])
        msg = err
        if got is not None:
            got = got[0]
            if got.shape != want.shape or got.dtype != want.dtype:
                msg = f"{got.dtype}{list(got.shape)}, onnxruntime {want.dtype}{list(want.shape)}"
            else:
                d = np.abs(got.astype(np.float64) - want.astype(np.float64))
                off = int((d > 0).sum())
                if want.dtype == np.float32:
                    ok = np.allclose(got, want, rtol=1e-5, atol=1e-6)
                elif name.startswith("Resize"):
                    ok = d.max() <= 1
                else:
                    ok = d.max() <= 1 and off <= max(1, want.size * 3 // 100)
                if not ok:
                    msg = f"max difference {d.max()}, {off} of {want.size} elements differ"
                elif off:
                    print(f"{name}: {off} of {want.size} elements one step away")
        if msg:
            print(f"FAIL {name}: {msg}")
            failed += 1
    return failed


def cnn():
    """Conv, LeakyRelu, a residual Add, x * sigmoid(x), average and max pooling joined by
    Concat, GlobalAveragePool, Gemm and Softmax; batch and image dims free."""
    rng = np.random.default_rng(1)

    def w(name, *shape):
        return nh.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)

    nodes = [h.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             h.make_node("LeakyRelu", ["c1"], ["r1"], alpha=0.1),
             h.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             h.make_node("Add", ["c2", "r1"], ["a1"]),
             h.make_node("Sigmoid", ["a1"], ["s1"]), h.make_node("Mul", ["a1", "s1"], ["m1"]),
             h.make_node("AveragePool", ["m1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
             h.make_node("MaxPool", ["m1"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
             h.make_node("Concat", ["p1", "p2"], ["cc"], axis=1),
             h.make_node("GlobalAveragePool", ["cc"], ["g"]), h.make_node("Flatten", ["g"], ["f"]),
             h.make_node("Gemm", ["f", "wf", "bf"], ["logits"], transB=1),
             h.make_node("Softmax", ["logits"], ["y"], axis=1)]
    inits = [w("w1", 8, 3, 3, 3), w("b1", 8), w("w2", 8, 8, 3, 3), w("b2", 8), w("wf", 10, 16),
             w("bf", 10)]
    g = h.make_graph(nodes, "cnn", [V("x", T.FLOAT, ["N", 3, "H", "W"])],
                     [V("y", T.FLOAT, ["N", 10])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 8
    return m


class Calibration(CalibrationDataReader):
    """Eight seeded normal inputs x of the shape given."""

    def __init__(self, shape, seed):
        rng = np.random.default_rng(seed)
        self.data = iter([{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(8)])

    def get_next(self):
        return next(self.data, None)


def mlp():
    """Two MatMuls (QLinearMatMul once quantized), a bias and Relu; batch free."""
    rng = np.random.default_rng(5)
    w1 = nh.from_array((rng.standard_normal((16, 8)) * 0.3).astype(np.float32), "w1")
    w2 = nh.from_array((rng.standard_normal((8, 4)) * 0.3).astype(np.float32), "w2")
    b1 = nh.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "b1")
    nodes = [h.make_node("MatMul", ["x", "w1"], ["m1"]), h.make_node("Add", ["m1", "b1"], ["a1"]),
             h.make_node("Relu", ["a1"], ["r1"]), h.make_node("MatMul", ["r1", "w2"], ["y"])]
    g = h.make_graph(nodes, "mlp", [V("x", T.FLOAT, ["N", 16])], [V("y", T.FLOAT, ["N", 4])],
                     [w1, w2, b1])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def tol(path):
    """One step of the model's last quantization: the scale its DequantizeLinear reads."""
    m = onnx.load(path)
    init = {t.name: nh.to_array(t) for t in m.graph.initializer}
    last = [n for n in m.graph.node if n.op_type == "DequantizeLinear"][-1]
    return float(init[last.input[1]])


def check_models(kiln, work, extra):
    """The CNN per channel (QLinearConv's weight zero points [M]) and per tensor (one), and
    the MLP per channel (QLinearMatMul's b scales and zero points per column)."""
    failed = 0
    rng = np.random.default_rng(4)
    runs = []
    for model, shapes, free in ((cnn(), ((1, 3, 32, 32), (2, 3, 45, 36)), "x=?x3x?x?"),
                                (mlp(), ((3, 16),), "x=?x16")):
        float_path = os.path.join(work, model.graph.name + ".onnx")
        onnx.save(model, float_path)
        for act, tag in ((QuantType.QUInt8, "u8"), (QuantType.QInt8, "s8")):
            for per_channel in (True, False) if model.graph.name == "cnn" else (True,):
                runs.append((float_path, model.graph.name, act, tag, per_channel, shapes, free))
    for float_path, mname, act, tag, per_channel, shapes, free in runs:
        kind = "per_channel" if per_channel else "per_tensor"
        path = os.path.join(work, f"{mname}_qoperator_{kind}_{tag}.onnx")
        reader = Calibration((1, 3, 16, 16), 2) if mname == "cnn" else Calibration((4, 16), 6)
        quantize_static(float_path, path, reader, quant_format=QuantFormat.QOperator,
                        activation_type=act, weight_type=QuantType.QInt8, per_channel=per_channel)
        ops = {n.op_type for n in onnx.load(path).graph.node if n.domain == "com.microsoft"}
        if mname == "cnn" and len(ops) < 9:
            print(f"FAIL {tag}: the quantizer wrote only {sorted(ops)}")
            failed += 1
        for shape in shapes:
            x = rng.standard_normal(shape).astype(np.float32)
            want = ort_run(path, {"x": x})[0]
            got, err = kiln_run(kiln, path, {"x": x}, os.path.join(work, f"run_{tag}"),
                                ["--shape", free, *extra])
            name = f"{mname}_qoperator_{kind}_{tag} at {'x'.join(map(str, shape))}"
            if got is None:
                print(f"FAIL {name}: {err}")
                failed += 1
            elif got[0].shape != want.shape or np.abs(got[0] - want).max() > tol(path) + 1e-6:
                print(f"FAIL {name}: got {got[0].ravel()[:6]}, onnxruntime {want.ravel()[:6]}")
                failed += 1
            else:
                print(f"{name}: max difference {np.abs(got[0] - want).max():g}")
    return failed


def main():
    kiln, work = sys.argv[1:3]
    extra = sys.argv[3:]
    os.makedirs(work, exist_ok=True)
    failed = 0 if extra else check_ops(kiln, work, np.random.default_rng(0))
    failed += check_models(kiln, work, extra)
    print("FAILED" if failed else "ok", f"({failed} failures)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
