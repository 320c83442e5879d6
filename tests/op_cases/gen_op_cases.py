#!/usr/bin/env python3
"""Op cases past ONNX's node tests for Det, MaxUnpool, MelWeightMatrix, TfIdfVectorizer and
RoiAlign: the modes, dtypes and edge cases those tests leave out.

    gen_op_cases.py OUT_DIR

Writes OUT_DIR/<case>/model.onnx and test_data_set_0/{input,output}_<i>.pb, the layout of
ONNX's node tests, so `conformance DIR` runs each. References: onnxruntime (graph
optimizations off), where it implements the op as ONNX's reference does, else
onnx.reference (MaxUnpool, whose output_shape onnxruntime reads differently), else numpy
(Det). Cases without outputs are run by `kiln run --check-bounds`: those named *_bad_*
hold an index out of range and their run must fail naming it; roi_nan_* hold NaN and
infinite rois and their run must stay in bounds (such rois have no reference).
"""
import os
import shutil
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OPSET = 19
V = helper.make_tensor_value_info
F32, F64, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64


def model_of(name, nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def run_ort(model, feeds):
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"]).run(None, feeds)


def write(out_dir, name, model, feeds, outputs=()):
    """One case; outputs get the shapes of their references."""
    for vi, y in zip(model.graph.output, outputs):
        vi.CopyFrom(V(vi.name, vi.type.tensor_type.elem_type, list(np.shape(y))))
    target = os.path.join(out_dir, name)
    shutil.rmtree(target, ignore_errors=True)
    data = os.path.join(target, "test_data_set_0")
    os.makedirs(data)
    onnx.save(model, os.path.join(target, "model.onnx"))
    for i, vi in enumerate(model.graph.input):
        t = numpy_helper.from_array(feeds[vi.name], vi.name)
        open(os.path.join(data, f"input_{i}.pb"), "wb").write(t.SerializeToString())
    for i, (vi, y) in enumerate(zip(model.graph.output, outputs)):
        t = numpy_helper.from_array(np.asarray(y), vi.name)
        open(os.path.join(data, f"output_{i}.pb"), "wb").write(t.SerializeToString())


def det_cases(out, rng):
    for name, t, dt in (("det_f32", F32, np.float32), ("det_f64", F64, np.float64)):
        x = rng.standard_normal((2, 3, 5, 5)).astype(dt)
        x[0, 1] = 0                                # all zeros
        x[0, 2, 3] = x[0, 2, 1] * 2                # two rows dependent
        x[1, 0] = np.eye(5)[[3, 1, 0, 4, 2]]       # a permutation: swaps decide the sign
        x[1, 1, :, 0] = 0                          # a zero first column
        m = model_of(name, [helper.make_node("Det", ["x"], ["y"])], [V("x", t, x.shape)],
                     [V("y", t, None)])
        write(out, name, m, {"x": x}, [np.linalg.det(x).astype(dt)])


def unpool_cases(out, rng):
    """MaxPool's indices into MaxUnpool: 2-D, 3-D with pads, and output_shape past the
    shape the window implies."""
    for name, shape, ks, st, pads, osh in (
            ("unpool_2d", [2, 3, 6, 8], [2, 2], [2, 2], None, None),
            ("unpool_3d", [1, 2, 4, 4, 6], [3, 2, 2], [1, 2, 2], [1, 0, 0, 1, 0, 0], None),
            ("unpool_output_shape", [2, 2, 5, 5], [3, 3], [2, 2], None, [2, 2, 12, 13])):
        win = dict(kernel_shape=ks, strides=st, **({"pads": pads} if pads else {}))
        nodes = [helper.make_node("MaxPool", ["x"], ["p", "i"], **win),
                 helper.make_node("MaxUnpool", ["p", "i"] + (["os"] if osh else []), ["y"], **win)]
        inits = [numpy_helper.from_array(np.array(osh, np.int64), "os")] if osh else []
        m = model_of(name, nodes, [V("x", F32, shape)], [V("y", F32, None)], inits)
        x = rng.standard_normal(shape).astype(np.float32)
        write(out, name, m, {"x": x}, ReferenceEvaluator(m).run(None, {"x": x}))
    # plane 1 names positions of plane 0
    m = model_of("unpool_bad_index",
                 [helper.make_node("MaxUnpool", ["x", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
                 [V("x", F32, [1, 2, 2, 2]), V("i", I64, [1, 2, 2, 2])], [V("y", F32, None)])
    feeds = {"x": np.ones([1, 2, 2, 2], np.float32),
             "i": np.array([0, 1, 2, 3, 4, 5, 6, 20], np.int64).reshape(1, 2, 2, 2)}
    write(out, "unpool_bad_index", m, feeds)


def mel_cases(out, rng):
    """Sizes constant, sample rate and band edges given at run time."""
    for name, bins, dft, rate, lo, hi in (("mel_16k", 20, 512, 16000, 0.0, 8000.0),
                                           ("mel_22k", 40, 400, 22050, 30.0, 7600.0)):
        inits = [numpy_helper.from_array(np.array(bins, np.int64), "bins"),
                 numpy_helper.from_array(np.array(dft, np.int64), "dft")]
        m = model_of(name, [helper.make_node("MelWeightMatrix", ["bins", "dft", "rate", "lo", "hi"], ["y"])],
                     [V("rate", I64, []), V("lo", F32, []), V("hi", F32, [])], [V("y", F32, None)], inits)
        feeds = {"rate": np.array(rate, np.int64), "lo": np.array(lo, np.float32),
                 "hi": np.array(hi, np.float32)}
        write(out, name, m, feeds, run_ort(m, feeds))


def tfidf_cases(out, rng):
    """Every mode, with and without weights, trigrams, several n-grams
    sharing an output slot, int32 and int64 tokens, 1-D and 2-D."""
    pool = [2, 3, 5, 4, 5, 6, 7, 8, 6, 7, 2, 3, 9, 2, 5, 6, 7, 2, 3, 4]
    counts = [0, 4, 14]  # 4 unigrams, 5 bigrams, 2 trigrams
    seq = list(range(11))
    for name, mode, lo, hi, skip, slots, w, dt, shape in (
            ("tfidf_tfidf_weights", "TFIDF", 1, 3, 2, seq, [0.5 * i + 0.25 for i in range(11)], np.int64, [2, 12]),
            ("tfidf_idf", "IDF", 2, 3, 3, seq, None, np.int32, [12]),
            ("tfidf_idf_weights", "IDF", 1, 2, 1, [3, 2, 1, 0, 7, 6, 5, 4, 9, 8, 10], [1.5] * 11, np.int64, [3, 9]),
            ("tfidf_shared_slots", "TF", 1, 3, 2, [0, 1, 0, 2, 3, 3, 1, 4, 2, 5, 0], None, np.int64, [2, 10])):
        attrs = dict(mode=mode, min_gram_length=lo, max_gram_length=hi, max_skip_count=skip,
                     ngram_counts=counts, ngram_indexes=slots, pool_int64s=pool)
        if w:
            attrs["weights"] = w
        t = I64 if dt == np.int64 else TensorProto.INT32
        m = model_of(name, [helper.make_node("TfIdfVectorizer", ["x"], ["y"], **attrs)],
                     [V("x", t, shape)], [V("y", F32, None)])
        feeds = {"x": rng.choice(np.array([2, 3, 4, 5, 6, 7, 8, 9], dt), shape)}
        write(out, name, m, feeds, run_ort(m, feeds))


def roi_cases(out, rng):
    """Both modes and coordinate modes, fixed and adaptive sampling, rois inside, across
    and far past the image (adaptive grids larger than the stage's window), one whose grid
    fills the window, degenerate and inverted ones, a spatial scale, f64."""
    n, c, h, w = 2, 3, 7, 9
    rois = np.array([[0, 0, 8, 6], [1.3, 0.7, 5.2, 4.9], [-6, -5, 30, 25], [-40, -30, 60, 45],
                     [3, 2, 3.2, 2.1], [5, 4, 2, 1], [7.5, 5.5, 12, 9], [-1.2, -0.6, 9.4, 7.7]])
    batch = np.array([0, 1, 1, 0, 1, 0, 1, 0], np.int64)
    for name, mode, coords, oh, ow, ratio, scale, dt in (
            ("roi_avg_adaptive", "avg", "half_pixel", 3, 4, 0, 1.0, np.float32),
            ("roi_max_adaptive", "max", "half_pixel", 2, 3, 0, 0.5, np.float32),
            ("roi_avg_ratio", "avg", "output_half_pixel", 4, 2, 2, 1.0, np.float32),
            ("roi_max_ratio", "max", "output_half_pixel", 3, 3, 3, 1.0, np.float32),
            ("roi_max_output_half_pixel", "max", "output_half_pixel", 2, 2, 0, 1.0, np.float32),
            ("roi_avg_f64", "avg", "half_pixel", 2, 5, 0, 0.75, np.float64),
            ("roi_avg_one_bin", "avg", "half_pixel", 1, 1, 0, 1.0, np.float32),
            ("roi_max_one_bin", "max", "output_half_pixel", 1, 1, 0, 1.0, np.float32)):
        t = F32 if dt == np.float32 else F64
        node = helper.make_node("RoiAlign", ["x", "rois", "batch"], ["y"], mode=mode,
                                coordinate_transformation_mode=coords, output_height=oh,
                                output_width=ow, sampling_ratio=ratio, spatial_scale=scale)
        m = model_of(name, [node], [V("x", t, [n, c, h, w]), V("rois", t, [8, 4]),
                                    V("batch", I64, [8])], [V("y", t, None)])
        feeds = {"x": rng.standard_normal((n, c, h, w)).astype(dt), "rois": rois.astype(dt),
                 "batch": batch}
        write(out, name, m, feeds, run_ort(m, feeds))
    plain = [V("x", F32, [n, c, h, w]), V("rois", F32, [8, 4]), V("batch", I64, [8])]
    m = model_of("roi_bad_batch", [helper.make_node("RoiAlign", ["x", "rois", "batch"], ["y"])],
                 plain, [V("y", F32, None)])
    feeds = {"x": np.ones((n, c, h, w), np.float32), "rois": rois.astype(np.float32),
             "batch": np.array([0, 1, 2, 0, 0, 0, 0, 0], np.int64)}
    write(out, "roi_bad_batch", m, feeds)
    odd = rois.astype(np.float32)
    odd[1, 2], odd[2, 0], odd[3, 1], odd[4, 3] = np.nan, np.inf, -np.inf, np.nan
    for mode in ("avg", "max"):
        name = f"roi_nan_{mode}"
        m = model_of(name, [helper.make_node("RoiAlign", ["x", "rois", "batch"], ["y"], mode=mode)],
                     plain, [V("y", F32, None)])
        feeds = {"x": np.ones((n, c, h, w), np.float32), "rois": odd, "batch": batch}
        write(out, name, m, feeds)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ort.set_default_logger_severity(3)  # RoiAlign's max mode warns of a bug fixed in 1.13
    rng = np.random.default_rng(10)
    for make in (det_cases, unpool_cases, mel_cases, tfidf_cases, roi_cases):
        make(out, rng)


if __name__ == "__main__":
    main()
