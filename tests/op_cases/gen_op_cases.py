#!/usr/bin/env python3
"""Op cases past ONNX's node tests for Det, MaxUnpool, MelWeightMatrix, TfIdfVectorizer,
RoiAlign, Loop, GroupNormalization (no node test), Resize, Pow, TopK, Slice, GlobalLpPool
(no node test), pooling, the 8-bit floats and the 4- and 2-bit types: the modes, dtypes,
shapes and edge cases those tests leave out.

    gen_op_cases.py OUT_DIR

Writes OUT_DIR/<case>/model.onnx and test_data_set_0/{input,output}_<i>.pb, the layout of
ONNX's node tests, so `conformance DIR` runs each. References: onnxruntime (graph
optimizations off), where it implements the op as ONNX's reference does, else
onnx.reference (MaxUnpool, whose output_shape onnxruntime reads differently), else numpy
(Det), ml_dtypes (the 8-bit float casts, as onnx.reference's). Cases without outputs are run by `kiln run --check-bounds`: those named *_bad_*
hold an index out of range (or a trip count past kiln's iteration limit) and their run must
fail naming it; roi_nan_* hold NaN and infinite rois and their run must stay in bounds (such
rois have no reference).
"""
import os
import re
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


def model_of(name, nodes, inputs, outputs, inits=(), opset=OPSET):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset <= OPSET else 10
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


def loop_cases(out, rng):
    """Loops compiled once (their trip counts and conditions given at run time: nothing is
    bound when compiling): a while loop whose condition comes from the data, carried values
    that swap, a trip count of 0 and a negative one, scan outputs of a constant trip count;
    and one whose carried value grows, which kiln unrolls instead."""
    B = TensorProto.BOOL
    cst = lambda name, v: numpy_helper.from_array(np.asarray(v), name)
    # while (s < limit): v <- 0.9 v + 1, s <- s + sum |v|; (p, q) <- (q, p + q)
    body = helper.make_graph(
        [helper.make_node("Mul", ["v", "nine"], ["v9"]), helper.make_node("Add", ["v9", "one"], ["vn"]),
         helper.make_node("Abs", ["vn"], ["va"]), helper.make_node("ReduceSum", ["va"], ["vs"], keepdims=0),
         helper.make_node("Add", ["s", "vs"], ["sn"]), helper.make_node("Less", ["sn", "limit"], ["go"]),
         helper.make_node("Identity", ["q"], ["pn"]), helper.make_node("Add", ["p", "q"], ["qn"])],
        "body", [V("i", I64, []), V("c", B, []), V("v", F32, [8]), V("s", F32, []),
                 V("p", F32, [8]), V("q", F32, [8])],
        [V("go", B, []), V("vn", F32, [8]), V("sn", F32, []), V("pn", F32, [8]), V("qn", F32, [8])],
        [cst("nine", np.float32(0.9)), cst("one", np.float32(1)), cst("limit", np.float32(50))])
    m = model_of("loop_while", [helper.make_node("Loop", ["", "c0", "v0", "s0", "v0", "v0"],
                                                 ["v", "s", "p", "q"], body=body)],
                 [V("c0", B, []), V("v0", F32, [8]), V("s0", F32, [])],
                 [V(n, F32, None) for n in "vspq"])
    feeds = {"c0": np.array(True), "v0": rng.standard_normal(8).astype(np.float32),
             "s0": np.array(0, np.float32)}
    write(out, "loop_while", m, feeds, run_ort(m, feeds))
    # h <- tanh(h + x[i mod 3]) for a trip count given at run time
    body = helper.make_graph(
        [helper.make_node("Mod", ["i", "three"], ["k"]), helper.make_node("Gather", ["x", "k"], ["row"], axis=0),
         helper.make_node("Add", ["h", "row"], ["hs"]), helper.make_node("Tanh", ["hs"], ["hn"]),
         helper.make_node("Identity", ["c"], ["cn"])],
        "body", [V("i", I64, []), V("c", B, []), V("h", F32, [5])], [V("cn", B, []), V("hn", F32, [5])],
        [cst("three", np.int64(3))])
    m = model_of("loop_trip", [helper.make_node("Loop", ["n", "", "h0"], ["h"], body=body)],
                 [V("n", I64, []), V("h0", F32, [5]), V("x", F32, [3, 5])], [V("h", F32, None)])
    for name, n in (("loop_trip", 7), ("loop_trip_zero", 0), ("loop_trip_negative", -4)):
        feeds = {"n": np.array(n, np.int64), "h0": rng.standard_normal(5).astype(np.float32),
                 "x": rng.standard_normal((3, 5)).astype(np.float32)}
        expect = run_ort(m, feeds) if n >= 0 else [feeds["h0"]]  # ORT refuses a negative one
        write(out, name, m, feeds, expect)
    # a hostile trip count: the run stops at kiln's iteration limit (no reference)
    feeds["n"] = np.array(2 ** 62, np.int64)
    write(out, "loop_bad_trip", m, feeds)
    # 4 iterations, each stacking x * i into a scan output
    body = helper.make_graph(
        [helper.make_node("Cast", ["i"], ["f"], to=F32), helper.make_node("Mul", ["x", "f"], ["y"]),
         helper.make_node("Add", ["acc", "y"], ["accn"]), helper.make_node("Identity", ["c"], ["cn"])],
        "body", [V("i", I64, []), V("c", B, []), V("acc", F32, [2, 3])],
        [V("cn", B, []), V("accn", F32, [2, 3]), V("y", F32, [2, 3])])
    m = model_of("loop_scan", [helper.make_node("Loop", ["four", "", "x"], ["acc", "ys"], body=body)],
                 [V("x", F32, [2, 3])], [V("acc", F32, None), V("ys", F32, None)],
                 [cst("four", np.int64(4))])
    feeds = {"x": rng.standard_normal((2, 3)).astype(np.float32)}
    write(out, "loop_scan", m, feeds, run_ort(m, feeds))
    # a carried value growing by a row each iteration: unrolled
    body = helper.make_graph(
        [helper.make_node("Concat", ["g", "row"], ["gn"], axis=0), helper.make_node("Identity", ["c"], ["cn"])],
        "body", [V("i", I64, []), V("c", B, []), V("g", F32, None)], [V("cn", B, []), V("gn", F32, None)])
    m = model_of("loop_grow", [helper.make_node("Loop", ["three", "", "row"], ["g"], body=body)],
                 [V("row", F32, [1, 4])], [V("g", F32, None)], [cst("three", np.int64(3))])
    feeds = {"row": rng.standard_normal((1, 4)).astype(np.float32)}
    write(out, "loop_grow", m, feeds, run_ort(m, feeds))
    # an If in a loop's body (odd iterations double, even ones add x), and a loop in an If's
    # branch, its trip count computed in the branch
    then_g = helper.make_graph([helper.make_node("Add", ["h", "h"], ["t"])], "then", [], [V("t", F32, [4])])
    else_g = helper.make_graph([helper.make_node("Add", ["h", "x"], ["e"])], "else", [], [V("e", F32, [4])])
    body = helper.make_graph(
        [helper.make_node("Mod", ["i", "two"], ["k"]), helper.make_node("Equal", ["k", "one"], ["odd"]),
         helper.make_node("If", ["odd"], ["hn"], then_branch=then_g, else_branch=else_g),
         helper.make_node("Identity", ["c"], ["cn"])],
        "body", [V("i", I64, []), V("c", B, []), V("h", F32, [4])], [V("cn", B, []), V("hn", F32, [4])],
        [cst("two", np.int64(2)), cst("one", np.int64(1))])
    inner = helper.make_graph([helper.make_node("Mul", ["g", "x"], ["gn"]), helper.make_node("Identity", ["c2"], ["cn2"])],
                              "inner", [V("j", I64, []), V("c2", B, []), V("g", F32, [4])],
                              [V("cn2", B, []), V("gn", F32, [4])])
    branch = helper.make_graph([helper.make_node("Add", ["n", "n"], ["n2"]),
                                helper.make_node("Loop", ["n2", "", "x"], ["b"], body=inner)],
                               "branch", [], [V("b", F32, [4])])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["o"])], "other", [], [V("o", F32, [4])])
    m = model_of("loop_if", [helper.make_node("Loop", ["n", "", "x"], ["h"], body=body),
                             helper.make_node("If", ["flag"], ["b"], then_branch=branch, else_branch=other)],
                 [V("n", I64, []), V("x", F32, [4]), V("flag", B, [])], [V("h", F32, None), V("b", F32, None)])
    feeds = {"n": np.array(5, np.int64), "x": rng.uniform(0.5, 1.2, 4).astype(np.float32), "flag": np.array(True)}
    write(out, "loop_if", m, feeds, run_ort(m, feeds))
    # Scan, run as a loop: a running sum and product over x's axis 1 read backwards and
    # y's axis 0 read forwards, outputs stacked forwards and backwards; then with an output
    # stacked along axis 1 (unrolled)
    body = helper.make_graph(
        [helper.make_node("Add", ["s", "xs"], ["sn"]), helper.make_node("Mul", ["p", "ys"], ["pn"]),
         helper.make_node("Tanh", ["sn"], ["o1"]), helper.make_node("Sub", ["pn", "xs"], ["o2"])],
        "body", [V("s", F32, [3]), V("p", F32, [3]), V("xs", F32, [3]), V("ys", F32, [3])],
        [V("sn", F32, [3]), V("pn", F32, [3]), V("o1", F32, [3]), V("o2", F32, [3])])
    for name, out_axes in (("scan_loop", [0, 0]), ("scan_axis1", [0, 1])):
        m = model_of(name, [helper.make_node("Scan", ["s0", "p0", "x", "y"], ["s", "p", "o1", "o2"], body=body,
                                             num_scan_inputs=2, scan_input_axes=[1, 0],
                                             scan_input_directions=[1, 0], scan_output_axes=out_axes,
                                             scan_output_directions=[0, 1])],
                     [V("s0", F32, [3]), V("p0", F32, [3]), V("x", F32, [3, 6]), V("y", F32, [6, 3])],
                     [V(n, F32, None) for n in ("s", "p", "o1", "o2")])
        feeds = {"s0": rng.standard_normal(3).astype(np.float32), "p0": np.ones(3, np.float32),
                 "x": rng.standard_normal((3, 6)).astype(np.float32),
                 "y": rng.uniform(0.5, 1.5, (6, 3)).astype(np.float32)}
        write(out, name, m, feeds, run_ort(m, feeds))


def norm_resize_pow_cases(out, rng):
    # GroupNormalization: scale and bias per group (opset 18) and per channel (opset 21),
    # ranks 3 to 5, groups of one channel
    for name, shape, groups, opset in (("groupnorm_18", [2, 12, 5, 6], 3, 18),
                                       ("groupnorm_21", [2, 12, 5, 6], 4, 21),
                                       ("groupnorm_rank3", [2, 6, 10], 2, 18),
                                       ("groupnorm_rank5", [1, 4, 2, 3, 4], 2, 21),
                                       ("groupnorm_per_channel", [1, 8, 4, 4], 8, 21)):
        k = groups if opset == 18 else shape[1]
        inits = [numpy_helper.from_array(rng.standard_normal(k).astype(np.float32), "s"),
                 numpy_helper.from_array(rng.standard_normal(k).astype(np.float32), "b")]
        m = model_of(name, [helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"],
                                             num_groups=groups, epsilon=1e-4)],
                     [V("x", F32, shape)], [V("y", F32, None)], inits, opset)
        feeds = {"x": (rng.standard_normal(shape) * 3 + 1).astype(np.float32)}
        write(out, name, m, feeds, run_ort(m, feeds))
    # Resize in the shapes models use, past the node tests' 4x4 inputs: DeepLab's 4x
    # bilinear upsample, align_corners, cubic with exclude_outside, downsampling, YOLO's 2x
    # nearest (asymmetric, floor) and ONNX's default nearest by 3
    for name, shape, sizes, attrs in (
            ("resize_linear_4x", [1, 3, 16, 12], [1, 3, 64, 48], dict(mode="linear")),
            ("resize_linear_align", [2, 3, 9, 6], [2, 3, 17, 11],
             dict(mode="linear", coordinate_transformation_mode="align_corners")),
            ("resize_linear_down", [1, 2, 17, 23], [1, 2, 8, 13], dict(mode="linear")),
            ("resize_linear_channels", [2, 3, 5, 6], [2, 6, 10, 6], dict(mode="linear")),
            ("resize_cubic_exclude", [1, 2, 9, 7], [1, 2, 22, 10],
             dict(mode="cubic", exclude_outside=1)),
            ("resize_nearest_2x", [1, 4, 10, 12], [1, 4, 20, 24],
             dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")),
            ("resize_nearest_3x", [1, 2, 5, 6], [1, 2, 15, 18], dict(mode="nearest"))):
        m = model_of(name, [helper.make_node("Resize", ["x", "", "", "sz"], ["y"], **attrs)],
                     [V("x", F32, shape)], [V("y", F32, None)],
                     [numpy_helper.from_array(np.array(sizes, np.int64), "sz")])
        feeds = {"x": rng.standard_normal(shape).astype(np.float32)}
        write(out, name, m, feeds, run_ort(m, feeds))
    # Pow by the constants that become products, a reciprocal or a square root, special
    # values included (zeros of both signs, infinities, NaN); onnxruntime's values, C's pow
    special = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 3e12, -2.5], np.float32)
    for name, e in (("pow_1", 1.0), ("pow_3", 3.0), ("pow_4", 4.0), ("pow_minus_1", -1.0), ("pow_half", 0.5)):
        m = model_of(name, [helper.make_node("Pow", ["x", "e"], ["y"])], [V("x", F32, [74])],
                     [V("y", F32, None)], [numpy_helper.from_array(np.array(e, np.float32), "e")])
        x = np.concatenate([special, rng.standard_normal(64).astype(np.float32) * 10])
        feeds = {"x": x}
        write(out, name, m, feeds, run_ort(m, feeds))  # C's pow(-inf, 0.5) = inf; numpy's NaN


def with_nans(x):
    """NaN at every 97th element and infinities beside some: onnxruntime ranks NaN above
    every number (first among the largest, last among the smallest)."""
    f = x.reshape(-1)
    f[3::97] = np.nan
    f[5::194] = np.inf
    f[7::194] = -np.inf
    return x


def topk_cases(out, rng):
    # TopK along long axes (a vocabulary, anchors), narrowed to candidates: ties by index,
    # the smallest, an inner axis, integers with many ties, NaN; and a short axis (ranks).
    # The selection form (a 32-bit order key found bit by bit): -0 beside +0, the smallest
    # denormals, infinities and NaN, k inside a group of ties; int32 along the outer axis,
    # smallest; uint8 and float16; 64-bit keys: float64 (with its least denormal) and int64
    # at its extremes; whole axes sorted (k = n: every element taken, the radix sort alone)
    special = np.array([-0.0, 0.0, -1.5, 2.0, -np.inf, np.inf, np.nan, 1e-45, -1e-45], np.float32)
    for name, x, k, axis, largest in (
            ("topk_vocab", rng.standard_normal((1, 20000)).astype(np.float32), 20, -1, 1),
            ("topk_ties", rng.integers(0, 20, (2, 4000)).astype(np.float32), 13, -1, 1),
            ("topk_smallest", rng.standard_normal((2, 6000)).astype(np.float32), 9, 1, 0),
            ("topk_inner_axis", rng.standard_normal((2, 3000, 3)).astype(np.float32), 5, 1, 1),
            ("topk_int_ties", rng.integers(0, 5, (4000,)).astype(np.int64), 30, 0, 1),
            ("topk_short", rng.standard_normal((3, 1000)).astype(np.float32), 5, -1, 1),
            ("topk_nan", with_nans(rng.standard_normal((2, 20000)).astype(np.float32)), 20, -1, 1),
            ("topk_nan_smallest", with_nans(rng.standard_normal((2, 20000)).astype(np.float32)), 20, -1, 0),
            ("topk_select_zeros", rng.choice(special, (2, 3000)), 700, -1, 1),
            ("topk_select_zeros_smallest", rng.choice(special, (2, 3000)), 700, -1, 0),
            ("topk_select_i32", rng.integers(-50, 50, (3000, 2)).astype(np.int32), 500, 0, 0),
            ("topk_select_u8", rng.integers(0, 256, (2, 5000)).astype(np.uint8), 300, -1, 1),
            ("topk_select_f16", rng.standard_normal((2, 5000)).astype(np.float16), 300, -1, 0),
            ("topk_select_f64", rng.choice(np.append(special, 5e-324), (2, 3000)), 700, -1, 1),
            ("topk_select_i64", rng.choice(np.array([-2**63, -5, 0, 3, 2**63 - 1]), 3000), 400, 0, 0),
            ("topk_sort_all", with_nans(rng.integers(0, 50, (2, 3000)).astype(np.float32)), 3000, -1, 1),
            ("topk_sort_all_i64", rng.integers(-10**12, 10**12, 4000), 4000, 0, 0)):
        dt = helper.np_dtype_to_tensor_dtype(x.dtype)
        m = model_of(name, [helper.make_node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest)],
                     [V("x", dt, list(x.shape))], [V("v", dt, None), V("i", I64, None)],
                     [numpy_helper.from_array(np.array([k], np.int64), "k")])
        feeds = {"x": x}
        write(out, name, m, feeds, run_ort(m, feeds))


def f8_cases(out, rng):
    # The 8-bit floats: every code of each type, the midpoints between neighbours (ties to
    # even) and the floats either side of them, subnormals, values past the largest,
    # infinities, NaN and -0, cast to each type saturating and not, and back to f32; a
    # transpose and concat of the bytes; Quantize/DequantizeLinear with per-channel scales.
    import ml_dtypes
    f8 = {TensorProto.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn, TensorProto.FLOAT8E4M3FNUZ: ml_dtypes.float8_e4m3fnuz,
          TensorProto.FLOAT8E5M2: ml_dtypes.float8_e5m2, TensorProto.FLOAT8E5M2FNUZ: ml_dtypes.float8_e5m2fnuz}
    xs = [np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e30, 1e-45, 3e-39], np.float32),
          (rng.standard_normal(2000) * 10.0 ** rng.integers(-9, 6, 2000)).astype(np.float32)]
    for dt in f8.values():
        v = np.arange(256, dtype=np.uint8).view(dt).astype(np.float32)
        fin = np.unique(v[np.isfinite(v)])
        mid = ((fin[:-1].astype(np.float64) + fin[1:]) / 2).astype(np.float32)
        xs += [v, mid, np.nextafter(mid, np.float32(np.inf)), np.nextafter(mid, np.float32(-np.inf))]
    x = np.concatenate(xs)
    x = np.concatenate([x, -x])
    x = np.pad(x, (0, -len(x) % 64)).reshape(-1, 64)
    for t, dt in f8.items():
        tag = helper.tensor_dtype_to_string(t).split(".")[-1].lower()
        for sat in (1, 0):
            name = f"cast_{tag}" + ("" if sat else "_nosat")
            m = model_of(name, [helper.make_node("Cast", ["x"], ["y8"], to=t, saturate=sat),
                                helper.make_node("Transpose", ["y8"], ["t8"]),
                                helper.make_node("Concat", ["t8", "t8"], ["c8"], axis=1),
                                helper.make_node("Cast", ["y8"], ["y"], to=F32),
                                helper.make_node("Cast", ["c8"], ["c"], to=TensorProto.FLOAT16)],
                         [V("x", F32, list(x.shape))], [V("y8", t, None), V("y", F32, None), V("c", TensorProto.FLOAT16, None)])
            y8 = (onnx.numpy_helper.saturate_cast(x, dt) if sat else x.astype(dt))
            c8 = np.concatenate([y8.T, y8.T], axis=1)
            write(out, name, m, {"x": x}, [y8, y8.astype(np.float32), c8.astype(np.float16)])
        # from int32, not saturating: as an input (the kernel's cast) and as a constant
        # (folded at compile time by the interpreter); 1000 and -70000 lie past every range
        xi = np.array([0, 1, -3, 17, 240, 448, 1000, -70000, 57344, 61440], np.int32)
        m = model_of(f"cast_int_{tag}_nosat",
                     [helper.make_node("Cast", ["i"], ["yi"], to=t, saturate=0),
                      helper.make_node("Cast", ["c"], ["yc"], to=t, saturate=0)],
                     [V("i", TensorProto.INT32, [len(xi)])], [V("yi", t, None), V("yc", t, None)],
                     [numpy_helper.from_array(xi, "c")])
        yi = xi.astype(np.float32).astype(dt)
        write(out, f"cast_int_{tag}_nosat", m, {"i": xi}, [yi, yi])
        # per-channel quantize and dequantize (zero points 0, as ONNX wants for float8)
        s = np.array([0.5, 2.0, 1e-3, 300.0], np.float32)
        xq = (rng.standard_normal((3, 4, 50)) * 100).astype(np.float32)
        zp = numpy_helper.from_array(np.zeros(4, np.float32).astype(dt), "zp")
        zp.data_type = t
        m = model_of(f"qdq_{tag}", [helper.make_node("QuantizeLinear", ["x", "s", "zp"], ["q"], axis=1),
                                    helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["y"], axis=1)],
                     [V("x", F32, list(xq.shape))], [V("q", t, None), V("y", F32, None)],
                     [numpy_helper.from_array(s, "s"), zp])
        ref = ReferenceEvaluator(m).run(None, {"x": xq})
        write(out, f"qdq_{tag}", m, {"x": xq}, ref)


def narrow_cases(out, rng):
    # The 4- and 2-bit types, packed in the files and one a byte in kiln: casts from floats
    # (out of range, NaN and infinities give 0, as ml_dtypes) and from int32 (wrapping),
    # to f32 and to int8; an odd element count (a half-filled last byte) through a transpose
    # and concat; f4e2m1 over its codes, midpoints and beyond; int4 and uint4 weights
    # dequantized by blocks (block_size, K not a multiple of it) into a MatMul, the weights
    # of quantized language models. References: ml_dtypes (onnx.reference's casts) and
    # onnx.reference.
    import ml_dtypes
    narrow = {TensorProto.INT4: ml_dtypes.int4, TensorProto.UINT4: ml_dtypes.uint4,
              TensorProto.INT2: ml_dtypes.int2, TensorProto.UINT2: ml_dtypes.uint2}
    xf = np.concatenate([np.arange(-10, 17, 0.25), [np.nan, np.inf, -np.inf, 1e10, -0.0]]).astype(np.float32)
    xf = np.pad(xf, (0, -len(xf) % 9)).reshape(-1, 9)  # 9 columns: odd counts after the transpose
    xi = rng.integers(-40, 40, xf.shape).astype(np.int32)
    for t, dt in narrow.items():
        tag = helper.tensor_dtype_to_string(t).split(".")[-1].lower()
        wide = TensorProto.INT8 if np.dtype(dt).name.startswith("int") else TensorProto.UINT8
        m = model_of(f"cast_{tag}", [helper.make_node("Cast", ["x"], ["n"], to=t),
                                     helper.make_node("Cast", ["i"], ["ni"], to=t),
                                     helper.make_node("Transpose", ["n"], ["nt"]),
                                     helper.make_node("Concat", ["nt", "nt"], ["nc"], axis=0),
                                     helper.make_node("Cast", ["n"], ["y"], to=F32),
                                     helper.make_node("Cast", ["ni"], ["yi"], to=wide)],
                     [V("x", F32, list(xf.shape)), V("i", TensorProto.INT32, list(xi.shape))],
                     [V("nc", t, None), V("y", F32, None), V("yi", wide, None), V("ni", t, None)], opset=25)
        n = xf.astype(dt)
        ni = xi.astype(dt)
        wide_np = np.int8 if wide == TensorProto.INT8 else np.uint8
        write(out, f"cast_{tag}", m, {"x": xf, "i": xi},
              [np.concatenate([n.T, n.T]), n.astype(np.float32), ni.astype(wide_np), ni])
    # f8e8m0 in each round_mode, saturating and not: powers of two and the floats either
    # side of them, the halfway points, subnormals, the ends of the range, NaN, infinities
    p2 = np.ldexp(np.float32(1), np.arange(-127, 128)).astype(np.float32)
    xe = np.concatenate([p2, np.nextafter(p2, np.float32(np.inf)), np.nextafter(p2, np.float32(0)), p2 * 1.5,
                         p2 * np.float32(1.25), p2 * np.float32(1.75), [0.0, np.nan, np.inf, 3e38, 1e-45]]).astype(np.float32)
    for mode in ("up", "down", "nearest"):
        for sat in (1, 0):
            name = f"cast_float8e8m0_{mode}" + ("" if sat else "_nosat")
            m = model_of(name, [helper.make_node("Cast", ["x"], ["q"], to=TensorProto.FLOAT8E8M0, saturate=sat, round_mode=mode),
                                helper.make_node("Cast", ["q"], ["y"], to=F32)],
                         [V("x", F32, list(xe.shape))], [V("q", TensorProto.FLOAT8E8M0, None), V("y", F32, None)], opset=25)
            q = onnx.numpy_helper.to_float8e8m0(xe, bool(sat), mode)
            write(out, name, m, {"x": xe}, [q, q.astype(np.float32)])
    f4 = ml_dtypes.float4_e2m1fn
    v = np.arange(16, dtype=np.uint8).view(f4).astype(np.float32)
    fin = np.unique(v)
    mid = ((fin[:-1].astype(np.float64) + fin[1:]) / 2).astype(np.float32)
    x4 = np.concatenate([v, mid, np.nextafter(mid, np.float32(np.inf)), np.nextafter(mid, np.float32(-np.inf)),
                         [6.5, 7.0, 1e6, np.inf, -np.inf, 0.2, 0.26, -0.0]]).astype(np.float32)
    x4 = np.concatenate([x4, -x4])
    m = model_of("cast_float4e2m1", [helper.make_node("Cast", ["x"], ["q"], to=TensorProto.FLOAT4E2M1),
                                     helper.make_node("Cast", ["q"], ["y"], to=F32)],
                 [V("x", F32, list(x4.shape))], [V("q", TensorProto.FLOAT4E2M1, None), V("y", F32, None)], opset=25)
    q = x4.astype(f4)
    write(out, "cast_float4e2m1", m, {"x": x4}, [q, q.astype(np.float32)])
    for t, dt, k, block in ((TensorProto.INT4, ml_dtypes.int4, 64, 16), (TensorProto.UINT4, ml_dtypes.uint4, 50, 32)):
        tag = helper.tensor_dtype_to_string(t).split(".")[-1].lower()
        n_out, nb = 23, -(-k // block)
        lo, hi = (-8, 8) if t == TensorProto.INT4 else (0, 16)
        w = rng.integers(lo, hi, (k, n_out)).astype(dt)
        zp = rng.integers(lo, hi, (nb, n_out)).astype(dt)
        sc = (rng.random((nb, n_out)) * 0.1 + 0.01).astype(np.float32)
        x = rng.standard_normal((3, k)).astype(np.float32)
        m = model_of(f"dq_{tag}_blocked_matmul",
                     [helper.make_node("DequantizeLinear", ["w", "s", "zp"], ["wf"], axis=0, block_size=block),
                      helper.make_node("MatMul", ["x", "wf"], ["y"])],
                     [V("x", F32, [3, k])], [V("y", F32, None)],
                     [numpy_helper.from_array(w, "w"), numpy_helper.from_array(sc, "s"),
                      numpy_helper.from_array(zp, "zp")], opset=25)
        write(out, f"dq_{tag}_blocked_matmul", m, {"x": x}, ReferenceEvaluator(m).run(None, {"x": x}))


def slice_cases(out, rng):
    # Slice at its clamps: an empty axis (a negative step's clamp to dim - 1 must take
    # nothing), ends past either side, negative steps from the end
    big = 2 ** 62
    for name, shape, starts, ends, steps in (
            ("slice_empty_negative_step", (3, 0), [-1], [big], [-1]),
            ("slice_empty_positive_step", (3, 0), [0], [big], [2]),
            ("slice_negative_step_past_start", (2, 7), [0], [-big], [-1]),
            ("slice_negative_step_from_end", (2, 9), [big], [-big], [-3]),
            ("slice_step_past_end", (2, 9), [-big], [big], [4])):
        x = rng.standard_normal(shape).astype(np.float32)
        inits = [numpy_helper.from_array(np.array(v, np.int64), k)
                 for k, v in (("s", starts), ("e", ends), ("a", [1]), ("p", steps))]
        m = model_of(name, [helper.make_node("Slice", ["x", "s", "e", "a", "p"], ["y"])],
                     [V("x", F32, list(shape))], [V("y", F32, None)], inits)
        write(out, name, m, {"x": x}, run_ort(m, {"x": x}))
    # ArgMax along an axis a Slice emptied: no index to give (onnxruntime fails too)
    inits = [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in (("s", [3]), ("e", [3]), ("a", [1]))]
    m = model_of("argmax_bad_empty", [helper.make_node("Slice", ["x", "s", "e", "a"], ["t"]),
                                      helper.make_node("ArgMax", ["t"], ["y"], axis=1)],
                 [V("x", F32, [2, 3])], [V("y", I64, None)], inits)
    write(out, "argmax_bad_empty", m, {"x": rng.standard_normal((2, 3)).astype(np.float32)})


def lppool_cases(out, rng):
    # GlobalLpPool (no node test) at p 1, 2, 3; LpPool and GlobalLpPool after a Conv of 16
    # channels, where they read its blocked layout
    for p in (1, 2, 3):
        x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
        m = model_of(f"globallppool_p{p}", [helper.make_node("GlobalLpPool", ["x"], ["y"], p=p)],
                     [V("x", F32, [2, 3, 5, 6])], [V("y", F32, None)])
        write(out, f"globallppool_p{p}", m, {"x": x}, run_ort(m, {"x": x}))
    x = rng.standard_normal((1, 16, 8, 8)).astype(np.float32)
    w = numpy_helper.from_array(rng.standard_normal((16, 16, 3, 3)).astype(np.float32) * 0.2, "w")
    m = model_of("lppool_blocked", [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("LpPool", ["c"], ["d"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], p=3),
        helper.make_node("GlobalLpPool", ["d"], ["e"], p=2),
        helper.make_node("Conv", ["d", "w"], ["f"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["f", "e"], ["y"])],
        [V("x", F32, [1, 16, 8, 8])], [V("y", F32, None)], [w])
    write(out, "lppool_blocked", m, {"x": x}, run_ort(m, {"x": x}))
    # ceil mode: a last window reaching past the padded input, the only window of a 2-pixel
    # input for a 3-wide pool of stride 2 (GoogLeNet's pools at small images)
    for op, attrs in (("MaxPool", {}), ("AveragePool", dict(count_include_pad=1)),
                      ("AveragePool", dict(count_include_pad=0))):
        name = f"{op.lower()}_ceil_past_input" + ("_pad" if attrs.get("count_include_pad") else "")
        x = rng.standard_normal((1, 3, 2, 5)).astype(np.float32)
        m = model_of(name, [helper.make_node(op, ["x"], ["y"], kernel_shape=[3, 3],
                                             strides=[2, 2], ceil_mode=1, **attrs)],
                     [V("x", F32, [1, 3, 2, 5])], [V("y", F32, None)])
        write(out, name, m, {"x": x}, run_ort(m, {"x": x}))
    # pooling over an empty spatial dim: nothing to pool (onnxruntime fails too)
    for op, attrs in (("MaxPool", dict(kernel_shape=[2, 2], pads=[1, 1, 1, 1])),
                      ("GlobalAveragePool", {})):
        name = f"{op.lower()}_bad_empty"
        m = model_of(name, [helper.make_node(op, ["x"], ["y"], **attrs)],
                     [V("x", F32, [1, 2, 0, 3])], [V("y", F32, None)])
        write(out, name, m, {"x": np.zeros((1, 2, 0, 3), np.float32)})


def bitcast_cases(out, rng):
    """BitCast (opset 26), against numpy's view: NaN payloads and signalling NaNs survive
    a round trip through f32, a constant input folds, an elementwise reader fuses."""
    bits = np.array([0x7FC00001, -0x00400001, 0x7F800001, -2 ** 31, 0x7F800000, 1, 0x3F800000],
                    np.int32).reshape(7, 1) + np.zeros((1, 3), np.int32)
    m = model_of("bitcast_nan_roundtrip", [
        helper.make_node("BitCast", ["x"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("BitCast", ["f"], ["y"], to=TensorProto.INT32)],
        [V("x", TensorProto.INT32, [7, 3])], [V("y", TensorProto.INT32, None)], opset=26)
    write(out, "bitcast_nan_roundtrip", m, {"x": bits}, [bits])
    h = np.array([[0.0, -0.0, 1.5, -2.25], [np.inf, -np.inf, np.nan, 65504.0],
                  [6e-8, -6e-8, 1e-4, 3.0]], np.float16)
    m = model_of("bitcast_f16_i16", [helper.make_node("BitCast", ["x"], ["y"], to=TensorProto.INT16)],
                 [V("x", TensorProto.FLOAT16, [3, 4])], [V("y", TensorProto.INT16, None)], opset=26)
    write(out, "bitcast_f16_i16", m, {"x": h}, [h.view(np.int16)])
    c = rng.standard_normal((2, 5)).astype(np.float32)
    x = rng.standard_normal((2, 5)).astype(np.float32)
    m = model_of("bitcast_const_fused", [
        helper.make_node("BitCast", ["c"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["f", "x"], ["y"])],
        [V("x", F32, [2, 5])], [V("y", F32, None)],
        [numpy_helper.from_array(c.view(np.uint32), "c")], opset=26)
    write(out, "bitcast_const_fused", m, {"x": x}, [c * x])


def affine_grid_cases(out, rng):
    """AffineGrid past its node tests: f64 theta (the reference returns f32, onnxruntime and
    the spec theta's type), and dims of one point, unaligned (aligned, the reference, the
    function body and onnxruntime give three different answers)."""
    for name, dt, size, ac in (("affine_grid_f64_aligned", TensorProto.DOUBLE, [2, 3, 4, 5], 1),
                               ("affine_grid_single_points", TensorProto.FLOAT, [2, 1, 1, 3, 1], 0)):
        r = len(size) - 2
        theta = rng.standard_normal((size[0], r, r + 1)).astype(
            np.float64 if dt == TensorProto.DOUBLE else np.float32)
        m = model_of(name, [helper.make_node("AffineGrid", ["t", "s"], ["y"], align_corners=ac)],
                     [V("t", dt, list(theta.shape))], [V("y", dt, None)],
                     [numpy_helper.from_array(np.array(size, np.int64), "s")], opset=20)
        write(out, name, m, {"t": theta}, run_ort(m, {"t": theta}))


def irfft_cases(out, rng):
    """DFT's inverse onesided transform (opset 20) against numpy's irfft: odd and even
    lengths, a spectrum cropped or padded with zeros to n / 2 + 1 points, another axis,
    f64, and imaginary parts in the first and middle points (which numpy drops). Its own
    random stream, so the cases after it keep their inputs."""
    rng = np.random.default_rng(20)
    for name, dt, shape, axis, n in (("dft_irfft_odd", np.float32, [2, 5, 3, 2], 1, 9),
                                     ("dft_irfft_crop", np.float32, [1, 7, 2], 1, 6),
                                     ("dft_irfft_pad", np.float32, [3, 2, 2], 1, 10),
                                     ("dft_irfft_axis2_f64", np.float64, [2, 3, 4, 2], 2, None)):
        x = rng.standard_normal(shape).astype(dt)
        inputs = ["x", "n" if n else "", "ax"]
        inits = [numpy_helper.from_array(np.array(axis, np.int64), "ax")]
        if n:
            inits.append(numpy_helper.from_array(np.array(n, np.int64), "n"))
        tt = TensorProto.DOUBLE if dt == np.float64 else TensorProto.FLOAT
        m = model_of(name, [helper.make_node("DFT", inputs, ["y"], inverse=1, onesided=1)],
                     [V("x", tt, shape)], [V("y", tt, None)], inits, opset=20)
        y = np.fft.irfft(x[..., 0] + 1j * x[..., 1], n=n, axis=axis)[..., None].astype(dt)
        write(out, name, m, {"x": x}, [y])


def deform_conv_cases(out, rng):
    """DeformConv past its node tests, against ONNX's reference: strides, dilations,
    uneven pads, two groups and two offset groups, a mask and a bias, offsets reaching
    outside the image; and f64."""
    for name, dt in (("deform_conv_groups", np.float32), ("deform_conv_f64", np.float64)):
        x = rng.standard_normal((2, 4, 6, 5)).astype(dt)
        w = rng.standard_normal((4, 2, 2, 3)).astype(dt)
        b = rng.standard_normal((4,)).astype(dt)
        oh, ow = (6 + 1 - 3) // 2 + 1, (5 + 2 - 3) // 1 + 1
        off = (rng.standard_normal((2, 2 * 6 * 2, oh, ow)) * 3).astype(dt)
        mask = rng.random((2, 2 * 6, oh, ow)).astype(dt)
        t = TensorProto.FLOAT if dt == np.float32 else TensorProto.DOUBLE
        m = model_of(name, [helper.make_node(
            "DeformConv", ["x", "w", "off", "b", "m"], ["y"], group=2, offset_group=2,
            strides=[2, 1], dilations=[2, 1], pads=[1, 2, 0, 0])],
            [V(n, t, list(a.shape)) for n, a in (("x", x), ("w", w), ("off", off), ("b", b), ("m", mask))],
            [V("y", t, None)])
        feeds = {"x": x, "w": w, "off": off, "b": b, "m": mask}
        write(out, name, m, feeds, ReferenceEvaluator(m).run(None, feeds))


def causal_conv_cases(out, rng):
    """CausalConvWithState: a prefill then a decoding step fed the prefill's state, with
    bias and SiLU, against ONNX's reference."""
    x = rng.standard_normal((2, 6, 7)).astype(np.float32)
    x1 = rng.standard_normal((2, 6, 1)).astype(np.float32)
    w = rng.standard_normal((6, 1, 4)).astype(np.float32)
    b = rng.standard_normal((6,)).astype(np.float32)
    m = model_of("causal_conv_decode_chain", [
        helper.make_node("CausalConvWithState", ["x", "w", "b"], ["y", "s"], activation="silu"),
        helper.make_node("CausalConvWithState", ["x1", "w", "b", "s"], ["y1", "s1"], activation="silu")],
        [V("x", F32, [2, 6, 7]), V("x1", F32, [2, 6, 1]), V("w", F32, [6, 1, 4]), V("b", F32, [6])],
        [V("y", F32, None), V("y1", F32, None), V("s1", F32, None)], opset=27)
    feeds = {"x": x, "x1": x1, "w": w, "b": b}
    write(out, "causal_conv_decode_chain", m, feeds, ReferenceEvaluator(m).run(None, feeds))


def linear_attention_cases(out, rng):
    """LinearAttention over 40 tokens (its outputs joined in two levels), gated delta rule
    with GQA, per-head decay and an f64 past state, against ONNX's reference."""
    b, t, qh, kvh, dk, dv = 1, 40, 4, 2, 4, 3
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    feeds = {"q": f(b, t, qh * dk), "k": f(b, t, kvh * dk) * 0.5, "v": f(b, t, kvh * dv),
             "past": rng.standard_normal((b, kvh, dk, dv)), "decay": -np.abs(f(b, t, kvh)),
             "beta": 1 / (1 + np.exp(-f(b, t, kvh)))}
    m = model_of("linear_attention_long_gqa", [helper.make_node(
        "LinearAttention", ["q", "k", "v", "past", "decay", "beta"], ["y", "s"],
        q_num_heads=qh, kv_num_heads=kvh)],
        [V(n, F64 if n == "past" else F32, list(a.shape)) for n, a in feeds.items()],
        [V("y", F32, None), V("s", F64, None)], opset=27)
    write(out, "linear_attention_long_gqa", m, feeds, ReferenceEvaluator(m).run(None, feeds))


def resize_antialias_cases(out, rng):
    """Antialiased downscales past the node tests, against onnxruntime: a strong cubic one
    (a = -0.5, 26 taps a dim) with exclude_outside, and a linear one by sizes."""
    x = rng.standard_normal((1, 2, 40, 33)).astype(np.float32)
    for name, attrs, extra in (
            ("resize_antialias_cubic_exclude", dict(mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1),
             ("s", np.array([1, 1, 0.15, 0.2], np.float32))),
            ("resize_antialias_linear_sizes", dict(mode="linear"), ("z", np.array([1, 2, 7, 30], np.int64)))):
        ins = ["x", "", "s"] if extra[0] == "s" else ["x", "", "", "z"]
        m = model_of(name, [helper.make_node("Resize", ins, ["y"], antialias=1, **attrs)],
                     [V("x", F32, list(x.shape))], [V("y", F32, None)],
                     [numpy_helper.from_array(extra[1], extra[0])])
        write(out, name, m, {"x": x}, run_ort(m, {"x": x}))


def regress_cases(out, rng):
    """Cases differential runs against onnxruntime found (tests/regress holds fuzzers' ones)."""
    # cubic Resize with tf_crop_and_resize on two axes: its weights' select chains once
    # filled the emitter's memo table with stale slots, and compiling never ended
    x = rng.standard_normal((1, 2, 4, 5)).astype(np.float32)
    inits = [numpy_helper.from_array(np.array([0, 0, 0.1, 0, 1, 1, 0.9, 1], np.float32), "roi"),
             numpy_helper.from_array(np.array([1, 2, 6, 7], np.int64), "sizes")]
    m = model_of("resize_cubic_crop_2d", [helper.make_node(
        "Resize", ["x", "roi", "", "sizes"], ["y"], mode="cubic",
        coordinate_transformation_mode="tf_crop_and_resize")],
        [V("x", F32, [1, 2, 4, 5])], [V("y", F32, None)], inits)
    write(out, "resize_cubic_crop_2d", m, {"x": x}, run_ort(m, {"x": x}))
    # wrap padding after a crop on the other side wraps what the crop kept
    x = rng.standard_normal((3, 6)).astype(np.float32)
    m = model_of("pad_wrap_crop", [helper.make_node("Pad", ["x", "p"], ["y"], mode="wrap")],
                 [V("x", F32, [3, 6])], [V("y", F32, None)],
                 [numpy_helper.from_array(np.array([0, -2, 0, 3], np.int64), "p")])
    write(out, "pad_wrap_crop", m, {"x": x}, run_ort(m, {"x": x}))
    # steps near the int64 limits take one element (the length once overflowed)
    for name, st, en, sp in (("slice_step_max", 0, 5, 2 ** 63 - 2),
                             ("slice_step_min", 5, 0, -2 ** 63)):
        x = np.arange(6, dtype=np.float32)
        inits = [numpy_helper.from_array(np.array([v], np.int64), k)
                 for k, v in (("s", st), ("e", en), ("a", 0), ("p", sp))]
        m = model_of(name, [helper.make_node("Slice", ["x", "s", "e", "a", "p"], ["y"])],
                     [V("x", F32, [6])], [V("y", F32, None)], inits)
        write(out, name, m, {"x": x}, run_ort(m, {"x": x}))
    # a Mul fused into Softmax's row kernel is computed again in its max and exp stages:
    # an FMA in one and not the other made every exp overflow or underflow at |x| ~ 1e10
    a = np.ones((2, 8), np.float32)
    a[0] = 1e20
    b = np.ones((2, 8), np.float32)
    b[:, 0] = 1e10
    mask = rng.standard_normal((2, 8)).astype(np.float32)
    m = model_of("softmax_fused_large", [
        helper.make_node("Mul", ["a", "w"], ["x"]), helper.make_node("LogSoftmax", ["x"], ["y"], axis=0),
        helper.make_node("Mul", ["b", "v"], ["u"]), helper.make_node("Softmax", ["u"], ["z"], axis=-1),
        helper.make_node("Add", ["u", "s"], ["us"]), helper.make_node("Softmax", ["us"], ["t"], axis=-1)],
        [V("a", F32, [2, 8]), V("b", F32, [2, 8]), V("s", F32, [2, 8])],
        [V("y", F32, None), V("z", F32, None), V("t", F32, None)],
        [numpy_helper.from_array(np.full(8, 2.7572374, np.float32), "w"),
         numpy_helper.from_array(np.full(8, 1.1, np.float32), "v")])
    feeds = {"a": a, "b": b, "s": mask}
    write(out, "softmax_fused_large", m, feeds, run_ort(m, feeds))
    # ReduceLogSumExp of rows holding +inf, or only -inf: +inf and -inf, not inf - inf
    x = np.array([[np.inf, 1], [-np.inf, -np.inf], [np.inf, -np.inf], [0.5, 2]], np.float32)
    m = model_of("reducelogsumexp_inf", [helper.make_node("ReduceLogSumExp", ["x", "ax"], ["y"], keepdims=0)],
                 [V("x", F32, [4, 2])], [V("y", F32, None)], [numpy_helper.from_array(np.array([1], np.int64), "ax")])
    write(out, "reducelogsumexp_inf", m, {"x": x}, run_ort(m, {"x": x}))
    # no axes with noop_with_empty_axes: each element alone, through the op's transform
    x = np.array([[-2, 0.5, 3], [4, -1, 0.25]], np.float32)
    ops = ("ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "ReduceMean")
    m = model_of("reduce_noop_transform", [
        helper.make_node(op, ["x", "none"], [f"y{i}"], noop_with_empty_axes=1) for i, op in enumerate(ops)],
        [V("x", F32, [2, 3])], [V(f"y{i}", F32, None) for i in range(len(ops))],
        [numpy_helper.from_array(np.array([], np.int64), "none")])
    write(out, "reduce_noop_transform", m, {"x": x}, run_ort(m, {"x": x}))
    # ScatterElements along an axis of 70 indices: the updates stored in order (the last of
    # an index wins: rows 3 and 60 both go to 5), negative indices from the end
    rng = np.random.default_rng(7)
    for axis, shape in ((0, (70, 3)), (1, (2, 70))):
        size = 80 if axis == 0 else 75
        base = rng.permutation(size)[:70] - 40
        idx = np.repeat(base[:, None], 3, 1) if axis == 0 else np.repeat(base[None, :], 2, 0)
        if axis == 0:
            idx[3, :] = idx[60, :] = 5
        data = rng.standard_normal((80, 3) if axis == 0 else (2, 75)).astype(np.float32)
        upd = rng.standard_normal(shape).astype(np.float32)
        name = f"scatter_elements_long_axis{axis}"
        m = model_of(name, [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=axis)],
                     [V("x", F32, list(data.shape)), V("i", I64, list(shape)), V("u", F32, list(shape))],
                     [V("y", F32, None)])
        feeds = {"x": data, "i": idx.astype(np.int64), "u": upd}
        write(out, name, m, feeds, run_ort(m, feeds))
    # run with free dims (tests/CMakeLists.txt): an index out of range must stop the
    # scatter's kernel before its second stage reads the positions the first left unwritten
    m = model_of("scatter_bad_free", [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], axis=1)],
                 [V("x", F32, ["A", 3, "B"]), V("i", I64, [1, 1, 1]), V("u", F32, [1, 1, 1])],
                 [V("y", F32, None)])
    write(out, "scatter_bad_free", m, {"x": np.zeros((2, 3, 2), np.float32),
                                       "i": np.array([[[3]]], np.int64),
                                       "u": np.ones((1, 1, 1), np.float32)})
    # a start that clamps otherwise below size 4 (start 3, step -2): those sizes are refused
    inits = [numpy_helper.from_array(np.array([v], np.int64), k)
             for k, v in (("s", 3), ("e", 1), ("a", 0), ("p", -2))]
    m = model_of("slice_bad_free_clamp", [helper.make_node("Slice", ["x", "s", "e", "a", "p"], ["y"])],
                 [V("x", F32, ["N", 4])], [V("y", F32, None)], inits)
    write(out, "slice_bad_free_clamp", m, {"x": np.ones((3, 4), np.float32)})
    # a negative sequence length (onnxruntime refuses it too)
    m = model_of("reverse_bad_negative", [helper.make_node("ReverseSequence", ["x", "l"], ["y"],
                                                           batch_axis=1, time_axis=0)],
                 [V("x", F32, [3, 2]), V("l", I64, [2])], [V("y", F32, None)])
    write(out, "reverse_bad_negative", m, {"x": np.ones((3, 2), np.float32),
                                           "l": np.array([-1, 2], np.int64)})
    # TensorScatter's linear writes must fit the cache: 3 rows at 2 of 4 do not
    m = model_of("tensorscatter_bad_write", [helper.make_node("TensorScatter", ["p", "u", "w"], ["y"])],
                 [V("p", F32, [2, 4, 3]), V("u", F32, [2, 3, 3]), V("w", I64, [2])],
                 [V("y", F32, None)], opset=24)
    write(out, "tensorscatter_bad_write", m, {"p": np.zeros((2, 4, 3), np.float32),
                                              "u": np.ones((2, 3, 3), np.float32),
                                              "w": np.array([1, 2], np.int64)})
    # RotaryEmbedding's position ids index its caches: one past them fails the run
    m = model_of("rope_bad_position", [helper.make_node("RotaryEmbedding", ["x", "c", "s", "pos"], ["y"])],
                 [V("x", F32, [1, 2, 2, 4]), V("c", F32, [3, 2]), V("s", F32, [3, 2]),
                  V("pos", I64, [1, 2])], [V("y", F32, None)], opset=23)
    write(out, "rope_bad_position", m, {"x": np.ones((1, 2, 2, 4), np.float32),
                                        "c": np.ones((3, 2), np.float32), "s": np.zeros((3, 2), np.float32),
                                        "pos": np.array([[0, 3]], np.int64)})


def string_cases(out, rng):
    # String tensors: the movement ops copying them (a transpose, slices, a gather, concat,
    # expand, where, compress), casts to and from numbers, Equal, StringConcat and
    # StringNormalizer past ONNX's node tests (Latin-1, Greek and Cyrillic case mapping,
    # stopwords in any case, every word a stopword). References: onnxruntime, and
    # onnx.reference for StringNormalizer.
    S, B, I32 = TensorProto.STRING, TensorProto.BOOL, TensorProto.INT32
    words = np.array([["alpha", "Beta", "", "Müller"], ["ÉCOLE", "δέλτα", "Привет", "x y"],
                      ["7", "-3.5", "1e-5", "INF"]], dtype=object)
    cond = np.array([[True, False, True, False]] * 3)
    idx = numpy_helper.from_array(np.array([2, 0, 2], dtype=np.int64), "idx")
    keep = numpy_helper.from_array(np.array([True, False, True]), "keep")
    m = model_of("string_movement", [
        helper.make_node("Transpose", ["x"], ["t"]),
        helper.make_node("Reshape", ["t", "shape"], ["r"]),
        helper.make_node("Slice", ["r", "starts", "ends"], ["sl"]),
        helper.make_node("Gather", ["x", "idx"], ["g"], axis=0),
        helper.make_node("Concat", ["x", "g"], ["c"], axis=0),
        helper.make_node("Where", ["cond", "x", "g"], ["w"]),
        helper.make_node("Compress", ["x", "keep"], ["cp"], axis=0),
        helper.make_node("Expand", ["one", "eshape"], ["e"]),
        helper.make_node("Identity", ["x"], ["id"])],
        [V("x", S, [3, 4]), V("cond", B, [3, 4]), V("one", S, [1, 4])],
        [V(n, S, None) for n in ("sl", "c", "w", "cp", "e", "id")],
        [numpy_helper.from_array(np.array([6, 2], dtype=np.int64), "shape"), idx, keep,
         numpy_helper.from_array(np.array([1, 0], dtype=np.int64), "starts"),
         numpy_helper.from_array(np.array([5, 2], dtype=np.int64), "ends"),
         numpy_helper.from_array(np.array([2, 4], dtype=np.int64), "eshape")])
    feeds = {"x": words, "cond": cond, "one": words[2:3]}
    # onnx.reference: onnxruntime 1.23's Gather of strings keeps only each row's first
    write(out, "string_movement", m, feeds, ReferenceEvaluator(m).run(None, feeds))
    nums = np.array(["0", "1.5", "-2", "1e3", "-inf", "NaN", "+Inf", "123456789", "0.1"], dtype=object)
    f = np.array([0.1, -2.5, 1e-7, 3e38, 123456.0, np.inf, -np.inf, 0.0, 1 / 3], dtype=np.float32)
    d = f.astype(np.float64) * 3
    i = np.array([0, -1, 7, 2**31 - 1, -2**31, 42, 5, 6, 9], dtype=np.int32)
    m = model_of("string_casts", [
        helper.make_node("Cast", ["s"], ["sf"], to=F32), helper.make_node("Cast", ["s"], ["sd"], to=F64),
        helper.make_node("Cast", ["i"], ["is"], to=S), helper.make_node("Cast", ["is"], ["ii"], to=I64),
        helper.make_node("Cast", ["f"], ["fs"], to=S), helper.make_node("Cast", ["fs"], ["ff"], to=F32),
        helper.make_node("Cast", ["d"], ["ds"], to=S), helper.make_node("Cast", ["ds"], ["dd"], to=F64)],
        [V("s", S, [9]), V("f", F32, [9]), V("d", F64, [9]), V("i", I32, [9])],
        [V(n, t, None) for n, t in (("sf", F32), ("sd", F64), ("is", S), ("ii", I64), ("ff", F32), ("dd", F64))])
    feeds = {"s": nums, "f": f, "d": d, "i": i}
    write(out, "string_casts", m, feeds, run_ort(m, feeds))
    a = np.array([["a", "b", ""], ["Müller", "ß", "x"]], dtype=object)
    b = np.array(["a", "-", "x"], dtype=object)
    m = model_of("string_concat_equal", [
        helper.make_node("StringConcat", ["a", "b"], ["ab"]),
        helper.make_node("StringConcat", ["ab", "ab"], ["abab"]),
        helper.make_node("Equal", ["a", "b"], ["eq"]),
        helper.make_node("Where", ["eq", "ab", "a"], ["y"])],
        [V("a", S, [2, 3]), V("b", S, [3])], [V("abab", S, None), V("eq", B, None), V("y", S, None)], opset=20)
    feeds = {"a": a, "b": b}
    write(out, "string_concat_equal", m, feeds, run_ort(m, feeds))
    # ASCII: onnx.reference strips accents (NFKD) where kiln maps Latin-1, Greek and Cyrillic
    text = np.array(["The", "Muller", "ECOLE", "the", "Abc", "zeta", "THE", "Stop", "mixedCase"], dtype=object)
    for name, attrs in (("lower_insensitive", dict(case_change_action="LOWER", stopwords=["the", "stop"])),
                        ("upper_sensitive", dict(case_change_action="UPPER", is_case_sensitive=1, stopwords=["the", "Abc"])),
                        ("all_stopwords", dict(case_change_action="UPPER", stopwords=[w.lower() for w in text])),
                        ("upper_nostop", dict(case_change_action="UPPER"))):
        for rank in (1, 2):
            x = text if rank == 1 else text.reshape(1, -1)
            case = f"strnormalizer_{name}_{rank}d"
            m = model_of(case, [helper.make_node("StringNormalizer", ["x"], ["y"], **attrs)],
                         [V("x", S, list(x.shape))], [V("y", S, None)])
            # onnx.reference: onnxruntime's needs the en_US.UTF-8 locale installed
            write(out, case, m, {"x": x}, ReferenceEvaluator(m).run(None, {"x": x}))


def string_split_cases(out, rng):
    """StringSplit past ONNX's node tests, against onnx.reference (Python's str.split):
    Unicode whitespace (no-break space, ideographic space, U+2028), a multi-byte and an
    overlapping delimiter, maxsplit with whitespace left after it, a 2-D input whose Z
    feeds arithmetic, and an element of more pieces than kiln plans for without maxsplit."""
    S = TensorProto.STRING
    text = np.array([["  a b\tc  ", "x\u00a0y\u3000z\u2028w", "", "   "],
                     ["one", "δέλτα  και\n\nγάμμα ", "a::b::::c::", "aaaa"]], dtype=object)
    nodes = [helper.make_node("StringSplit", ["x"], ["ws", "ws_n"]),
             helper.make_node("StringSplit", ["x"], ["ws1", "ws1_n"], maxsplit=1),
             helper.make_node("StringSplit", ["x"], ["dc", "dc_n"], delimiter="::"),
             helper.make_node("StringSplit", ["x"], ["da", "da_n"], delimiter="aa", maxsplit=1),
             helper.make_node("StringSplit", ["x"], ["dk", "dk_n"], delimiter="κ"),
             helper.make_node("Mul", ["ws_n", "dc_n"], ["prod"])]
    outs = ["ws", "ws_n", "ws1", "ws1_n", "dc", "dc_n", "da", "da_n", "dk", "dk_n", "prod"]
    m = model_of("string_split_cases", nodes, [V("x", S, [2, 4])],
                 [V(n, S if not n.endswith("_n") and n != "prod" else I64, None) for n in outs], opset=20)
    write(out, "string_split_cases", m, {"x": text}, ReferenceEvaluator(m).run(None, {"x": text}))
    m = model_of("string_split_bad_width", [helper.make_node("StringSplit", ["x"], ["y", "n"], delimiter=",")],
                 [V("x", S, [2])], [V("y", S, None), V("n", I64, None)], opset=20)
    write(out, "string_split_bad_width", m, {"x": np.array(["a,b", "," * 5000], dtype=object)})


def regex_cases(out, rng):
    # RegexFullMatch over patterns Python's re reads as RE2 does (onnx.reference matches with
    # re): classes, counted repeats, alternation, groups, (?i), \b, anchors, UTF-8 '.'.
    S, B = TensorProto.STRING, TensorProto.BOOL
    patterns = [r"[a-z]+\d{2,3}", r"(?i)hello\s+WORLD", r"(ab|cd)*e?", r"\w+@\w+\.(com|org)",
                r"[^aeiou ]+", r"a{3}|b{0,2}c", r".*\bcat\b.*", r"\d+(\.\d+)?([eE][-+]?\d+)?",
                r"é.ü", r"(?:x|y)+z*", r"[\w.-]+", r"\x41[B-D]+\.?", r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)",
                r"", r"a|", r"[]a]+", r"[a\]]+\*", r"\S+\s\S+", r"(a|b)*?c", r"colou?r"]
    words = np.array(["abc12", "abc1234", "hello   world", "HELLO world", "ababcde", "abcdcd",
                      "user@example.com", "a.b@c.org", "rhythm", "sky high", "aaa", "bbc", "c",
                      "the cat sat", "concat", "3.25e-7", "42", "éxü", "éxxü", "xyxyzz", "", "a",
                      "]a]", "a]*", "AB.", "ACDB", "x@gmail.com", "me@yahoo.com ", "a b", "abbac",
                      "color", "colour", "colouur"], dtype=object)
    nodes = [helper.make_node("RegexFullMatch", ["x"], [f"y{i}"], pattern=p) for i, p in enumerate(patterns)]
    m = model_of("regex_full_match_patterns", nodes, [V("x", S, [len(words)])],
                 [V(f"y{i}", B, [len(words)]) for i in range(len(patterns))], opset=20)
    want = [np.array([re.fullmatch(p, w, re.ASCII) is not None for w in words]) for p in patterns]
    write(out, "regex_full_match_patterns", m, {"x": words}, want)


def ml_cases(out, rng):
    # ai.onnx.ml: LabelEncoder from strings, int64s and floats (NaN a key, unknown keys to the
    # default) to int64s, floats and a values_tensor; Binarizer on doubles and int32s;
    # ArrayFeatureExtractor on 1-D and 3-D inputs with 2-D indices. Reference: onnx.reference
    # (onnxruntime lacks some of these types).
    S = TensorProto.STRING
    def ml_model(name, nodes, inputs, outputs, ml=4):
        graph = helper.make_graph(nodes, name, inputs, outputs)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19),
                                                    helper.make_opsetid("ai.onnx.ml", ml)])
        m.ir_version = 9
        return m
    words = np.array([["cat", "dog", "Cat"], ["", "dog", "emu"]], dtype=object)
    ints = np.array([[3, -7, 0, 2**40], [5, 3, 9, -1]], dtype=np.int64)
    # (no NaN input: onnx.reference's dict never matches one, where the spec's NaN key does)
    floats = np.array([0.5, 1.0, -2.0, 7.25, 0.0, -0.0], dtype=np.float32)
    m = ml_model("label_encoder_keys", [
        helper.make_node("LabelEncoder", ["s"], ["si"], domain="ai.onnx.ml", keys_strings=["cat", "dog", "", "cat"],
                         values_int64s=[10, 20, 30, 40], default_int64=-5),
        helper.make_node("LabelEncoder", ["s"], ["sf"], domain="ai.onnx.ml", keys_strings=["emu", "cat"],
                         values_floats=[1.5, -2.5]),
        helper.make_node("LabelEncoder", ["i"], ["if"], domain="ai.onnx.ml", keys_int64s=[3, 2**40, -1],
                         values_floats=[0.25, 4.0, -1.0], default_float=9.0),
        helper.make_node("LabelEncoder", ["f"], ["fi"], domain="ai.onnx.ml", keys_floats=[0.5, float("nan"), -0.0],
                         values_int64s=[1, 2, 3]),
        helper.make_node("LabelEncoder", ["i"], ["it"], domain="ai.onnx.ml",
                         keys_tensor=numpy_helper.from_array(np.array([5, 9], dtype=np.int64), "k"),
                         values_tensor=numpy_helper.from_array(np.array([50, 90], dtype=np.int16), "v"),
                         default_tensor=numpy_helper.from_array(np.array([-9], dtype=np.int16), "d"))],
        [V("s", S, [2, 3]), V("i", I64, [2, 4]), V("f", F32, [6])],
        [V("si", I64, [2, 3]), V("sf", F32, [2, 3]), V("if", F32, [2, 4]), V("fi", I64, [6]),
         V("it", TensorProto.INT16, [2, 4])])
    feeds = {"s": words, "i": ints, "f": floats}
    # onnx.reference: onnxruntime 1.23 has no LabelEncoder-4 for every pair of types here
    write(out, "label_encoder_keys", m, feeds, ReferenceEvaluator(m).run(None, feeds))
    m = ml_model("label_encoder_string_values", [
        helper.make_node("LabelEncoder", ["s"], ["ss"], domain="ai.onnx.ml", keys_strings=["cat", "dog", ""],
                         values_strings=["Katze", "", "leer"], default_string="?"),
        helper.make_node("LabelEncoder", ["i"], ["is"], domain="ai.onnx.ml", keys_int64s=[3, -1],
                         values_strings=["drei", "minus eins"])],
        [V("s", S, [2, 3]), V("i", I64, [2, 4])], [V("ss", S, [2, 3]), V("is", S, [2, 4])], ml=2)
    feeds = {"s": words, "i": ints}
    write(out, "label_encoder_string_values", m, feeds, run_ort(m, feeds))
    # CategoryMapper both ways: a repeated category (the last wins, as onnxruntime), unknown
    # strings and ints to the defaults, given and not.
    m = ml_model("category_mapper", [
        helper.make_node("CategoryMapper", ["s"], ["si"], domain="ai.onnx.ml",
                         cats_strings=["dog", "cat", "", "dog"], cats_int64s=[1, 2, 3, 4]),
        helper.make_node("CategoryMapper", ["s"], ["sd"], domain="ai.onnx.ml",
                         cats_strings=["emu"], cats_int64s=[5], default_int64=99),
        helper.make_node("CategoryMapper", ["i"], ["is"], domain="ai.onnx.ml",
                         cats_strings=["drei", "neun", "drei'"], cats_int64s=[3, 9, 3]),
        helper.make_node("CategoryMapper", ["i"], ["id"], domain="ai.onnx.ml",
                         cats_strings=["minus eins"], cats_int64s=[-1], default_string="")],
        [V("s", S, [2, 3]), V("i", I64, [2, 4])],
        [V("si", I64, [2, 3]), V("sd", I64, [2, 3]), V("is", S, [2, 4]), V("id", S, [2, 4])], ml=1)
    write(out, "category_mapper", m, feeds, run_ort(m, feeds))
    # keys and values as string tensors (the attributes' tensor forms, opset 4)
    st = lambda name, xs: helper.make_tensor(name, TensorProto.STRING, [len(xs)], [x.encode() for x in xs])
    it = lambda name, xs: helper.make_tensor(name, TensorProto.INT64, [len(xs)], xs)
    m = ml_model("label_encoder_string_tensors", [
        helper.make_node("LabelEncoder", ["s"], ["si"], domain="ai.onnx.ml",
                         keys_tensor=st("k", ["dog", "cat", ""]), values_tensor=it("v", [1, 2, 3]),
                         default_tensor=it("d", [-5])),
        helper.make_node("LabelEncoder", ["i"], ["is"], domain="ai.onnx.ml",
                         keys_tensor=it("k", [3, 9, 2**40]), values_tensor=st("v", ["drei", "neun", "groß"]),
                         default_tensor=st("d", ["?"])),
        helper.make_node("LabelEncoder", ["s"], ["ss"], domain="ai.onnx.ml",
                         keys_tensor=st("k", ["emu", "Cat"]), values_tensor=st("v", ["bird", "big cat"]))],
        [V("s", S, [2, 3]), V("i", I64, [2, 4])], [V("si", I64, [2, 3]), V("is", S, [2, 4]), V("ss", S, [2, 3])])
    write(out, "label_encoder_string_tensors", m, feeds, run_ort(m, feeds))
    short = TensorProto(name="k", data_type=TensorProto.STRING, dims=[3], string_data=[b"a", b"b"])
    m = ml_model("label_encoder_bad_strings", [
        helper.make_node("LabelEncoder", ["s"], ["si"], domain="ai.onnx.ml", keys_tensor=short,
                         values_tensor=it("v", [1, 2, 3]))],
        [V("s", S, [2, 3])], [V("si", I64, [2, 3])])
    write(out, "label_encoder_bad_strings", m, {"s": words})
    m = model_of("constant_bad_string", [helper.make_node("Constant", [], ["c"], value=st("c", ["a"])),
                                         helper.make_node("Identity", ["x"], ["y"])],
                 [V("x", F32, [1])], [V("c", S, None), V("y", F32, None)])
    write(out, "constant_bad_string", m, {"x": np.ones(1, np.float32)})
    # many integer keys spanning few values (a vocabulary's ids): a table, not compares;
    # holes, a repeated key (the last wins), inputs below, above and at int64's ends
    krng = np.random.default_rng(21)
    keys = [int(k) for k in krng.permutation(np.arange(-40, 260))[:200]] + [7]
    ids = np.array([[-41, -40, 7, 259, 260, 2**62], [0, -2**63, 2**63 - 1, 100, 3, 5]], np.int64)
    m = ml_model("label_encoder_dense_keys", [
        helper.make_node("LabelEncoder", ["i"], ["ii"], domain="ai.onnx.ml", keys_int64s=keys,
                         values_int64s=list(range(len(keys))), default_int64=-7),
        helper.make_node("LabelEncoder", ["i"], ["if"], domain="ai.onnx.ml", keys_int64s=keys,
                         values_floats=[k * 0.5 for k in range(len(keys))])],
        [V("i", I64, [2, 6])], [V("ii", I64, [2, 6]), V("if", F32, [2, 6])])
    # onnx.reference: the spec's last repeated key (onnxruntime's LabelEncoder takes the first)
    write(out, "label_encoder_dense_keys", m, {"i": ids}, ReferenceEvaluator(m).run(None, {"i": ids}))
    m = ml_model("category_mapper_dense", [
        helper.make_node("CategoryMapper", ["i"], ["is"], domain="ai.onnx.ml",
                         cats_int64s=keys, cats_strings=[f"w{k}" for k in range(len(keys))])],
        [V("i", I64, [2, 6])], [V("is", S, [2, 6])], ml=1)
    write(out, "category_mapper_dense", m, {"i": ids}, run_ort(m, {"i": ids}))
    # OneHotEncoder: int64, float (truncated), double keys, a repeated category (the last
    # wins); strings; FeatureVectorizer: rows cut, padded, a 3-D input flattened, int64s, 1-D
    oh = lambda x, **a: helper.make_node("OneHotEncoder", [x], [x + "_y"], domain="ai.onnx.ml", **a)
    m = ml_model("onehot_numbers", [oh("i", cats_int64s=[3, -1, 3, 9]),
                                    oh("f", cats_int64s=[0, 1, -2, 7], zeros=1),
                                    oh("d", cats_int64s=[5, 1], zeros=0)],
                 [V("i", I64, [2, 4]), V("f", F32, [6]), V("d", F64, [2, 2])],
                 [V("i_y", F32, None), V("f_y", F32, None), V("d_y", F32, None)], ml=1)
    oh_feeds = {"i": ints, "f": np.array([0.5, 1.9, -2.7, 7.0, 3.0, -0.2], np.float32),
                "d": np.array([[5.5, 1.0], [1.2, 5.0]], np.float64)}
    write(out, "onehot_numbers", m, oh_feeds, run_ort(m, oh_feeds))
    m = ml_model("onehot_strings", [oh("s", cats_strings=["dog", "emu", "cat", "dog"])],
                 [V("s", S, [2, 3])], [V("s_y", F32, None)], ml=1)
    write(out, "onehot_strings", m, {"s": words}, run_ort(m, {"s": words}))
    m = ml_model("onehot_bad_unknown", [oh("s", cats_strings=["dog", "cat"], zeros=0)],
                 [V("s", S, [2, 3])], [V("s_y", F32, None)], ml=1)
    write(out, "onehot_bad_unknown", m, {"s": words})
    fv = lambda ins, dims: helper.make_node("FeatureVectorizer", ins, ["y"], domain="ai.onnx.ml",
                                            inputdimensions=dims)
    frng = np.random.default_rng(22)  # its own: the cases after keep their inputs
    a2 = frng.standard_normal((2, 3)).astype(np.float32)
    b2 = frng.standard_normal((2, 1)).astype(np.float32)
    c3 = frng.standard_normal((2, 2, 3)).astype(np.float32)
    for name, dims in (("feature_vectorizer", [3, 1, 6]), ("feature_vectorizer_cut_pad", [2, 3, 4])):
        m = ml_model(name, [fv(["a", "b", "c"], dims)],
                     [V("a", F32, [2, 3]), V("b", F32, [2, 1]), V("c", F32, [2, 2, 3])],
                     [V("y", F32, None)], ml=1)
        fe = {"a": a2, "b": b2, "c": c3}
        write(out, name, m, fe, run_ort(m, fe))
    m = ml_model("feature_vectorizer_int64", [fv(["a", "b"], [2, 2])],
                 [V("a", I64, [2, 4]), V("b", I64, [2, 4])], [V("y", F32, None)], ml=1)
    fe = {"a": ints, "b": ints[::-1].copy()}
    write(out, "feature_vectorizer_int64", m, fe, run_ort(m, fe))
    m = ml_model("feature_vectorizer_1d", [fv(["a", "b"], [3, 2])],
                 [V("a", F64, [3]), V("b", F64, [1])], [V("y", F32, None)], ml=1)
    fe = {"a": np.array([1.5, -2.0, 3.25]), "b": np.array([7.0])}
    write(out, "feature_vectorizer_1d", m, fe, run_ort(m, fe))
    m = ml_model("category_mapper_bad", [
        helper.make_node("CategoryMapper", ["i"], ["is"], domain="ai.onnx.ml",
                         cats_strings=["drei", "neun"], cats_int64s=[3])],
        [V("i", I64, [2, 4])], [V("is", S, [2, 4])], ml=1)
    write(out, "category_mapper_bad", m, feeds)
    d = rng.standard_normal((3, 4))
    n = np.arange(-3, 3, dtype=np.int32)  # -1 > -1.5: the threshold is not truncated
    x3 = rng.standard_normal((2, 3, 5)).astype(np.float32)
    x1 = np.arange(6, dtype=np.float32)
    idx = np.array([[4, 0], [2, 2]], dtype=np.int64)
    m = ml_model("binarizer_extractor", [
        helper.make_node("Binarizer", ["d"], ["db"], domain="ai.onnx.ml", threshold=0.25),
        helper.make_node("Binarizer", ["n"], ["nb"], domain="ai.onnx.ml", threshold=-1.5),
        helper.make_node("ArrayFeatureExtractor", ["x3", "idx"], ["e3"], domain="ai.onnx.ml"),
        helper.make_node("ArrayFeatureExtractor", ["x1", "idx"], ["e1"], domain="ai.onnx.ml")],
        [V("d", F64, [3, 4]), V("n", TensorProto.INT32, [6]), V("x3", F32, [2, 3, 5]), V("x1", F32, [6]),
         V("idx", I64, [2, 2])],
        [V("db", F64, None), V("nb", TensorProto.INT32, None), V("e3", F32, None), V("e1", F32, None)], ml=1)
    feeds = {"d": d, "n": n, "x3": x3, "x1": x1, "idx": idx}
    # onnx.reference: onnxruntime's Binarizer takes floats only
    write(out, "binarizer_extractor", m, feeds, ReferenceEvaluator(m).run(None, feeds))


def attention_half_cases(out, rng):
    """16-bit Attention, causal with GQA and a float mask: computed in f32 and rounded once,
    so the reference is onnxruntime's f32 Attention rounded (its own f16 one rounds between
    steps; it has no bf16 one)."""
    import ml_dtypes
    arng = np.random.default_rng(23)  # its own: the cases after keep their inputs
    shapes = {"q": [2, 4, 5, 16], "k": [2, 2, 7, 16], "v": [2, 2, 7, 8], "m": [5, 7]}
    feeds = {n: arng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}
    att = helper.make_node("Attention", ["q", "k", "v", "m"], ["y"], is_causal=1)
    for name, t, np_t in (("attention_f16", TensorProto.FLOAT16, np.float16),
                          ("attention_bf16", TensorProto.BFLOAT16, ml_dtypes.bfloat16)):
        half = {n: x.astype(np_t) for n, x in feeds.items()}
        m = model_of(name, [att], [V(n, t, s) for n, s in shapes.items()], [V("y", t, None)], opset=23)
        m32 = model_of(name, [att], [V(n, F32, s) for n, s in shapes.items()], [V("y", F32, None)],
                       opset=23)
        want = run_ort(m32, {n: x.astype(np.float32) for n, x in half.items()})[0].astype(np_t)
        write(out, name, m, half, [want])


def main():
    from gen_ml_linear_cases import ml_linear_cases  # they import this file's helpers
    from gen_svm_cases import svm_cases
    from gen_tree_cases import tree_cases
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    ort.set_default_logger_severity(3)  # RoiAlign's max mode warns of a bug fixed in 1.13
    rng = np.random.default_rng(10)
    for make in (det_cases, unpool_cases, mel_cases, tfidf_cases, roi_cases, loop_cases,
                 norm_resize_pow_cases, topk_cases, slice_cases, lppool_cases, regress_cases,
                 bitcast_cases, affine_grid_cases, irfft_cases, deform_conv_cases,
                 causal_conv_cases, linear_attention_cases, resize_antialias_cases, f8_cases,
                 narrow_cases, string_cases, string_split_cases, regex_cases, ml_cases, tree_cases, ml_linear_cases, svm_cases,
                 attention_half_cases):
        make(out, rng)


if __name__ == "__main__":
    main()
