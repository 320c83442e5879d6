#!/usr/bin/env python3
"""Every op that takes free dims beyond the model tests' own (README: free dims), one small
model each, compiled by `kiln run` with the free dims left free and run at three shapes,
against onnxruntime: what each op's lowering at the points of the syms makes of them
(passes/lower_dyn.c), and shape computations on Shape (passes/fold_sym.c); then the
models kiln must refuse with free dims, and the message each gets.

    check_dyn_ops.py KILN WORK_DIR [--target T]

Outputs must have onnxruntime's shapes and hold |got - want| <= 1e-4 + 1e-3 |want|
(integers exactly)."""
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(0)
IMG = ["N", 4, "H", "W"]          # cases: (N, H, W)
SEQ = ["N", "S", 8]               # cases: (N, S)
IMG_CASES = [(1, 4, 6), (2, 6, 10), (3, 8, 4)]
SEQ_CASES = [(1, 3), (2, 5), (3, 9)]


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def i64(a):
    return np.array(a, np.int64)


def node(op, ins, outs=("y",), **attrs):
    return helper.make_node(op, list(ins), list(outs), **attrs)


def shape_of(dim):  # Shape(x)[dim] as a scalar, then unsqueezed: [x.shape[dim]]
    return [node("Shape", ["x"], [f"s{dim}_all"]),
            node("Gather", [f"s{dim}_all", f"c{dim}"], [f"s{dim}"], axis=0),
            node("Unsqueeze", [f"s{dim}", "ax0"], [f"s{dim}u"])]


def deep_pools():
    """Five 2 x 2 MaxPools of stride 2 (GoogLeNet's and ConvNeXt's depth)."""
    return [node("MaxPool", [x], [y], kernel_shape=[2, 2], strides=[2, 2])
            for x, y in zip(["x", "p1", "p2", "p3", "p4"], ["p1", "p2", "p3", "p4", "y"])]


def small_windows(auto_pad=None):
    """A 3 x 3 Conv of stride 2 (pads 1, or auto_pad), a ReLU, then a 2 x 2 MaxPool of stride 2
    in ceil mode (auto_pad: 3 x 3): the window output sizes' expressions, matched at sizes
    from 23 up, probed below (kiln_sym_probe) down to the least size whose windows fit."""
    pads = {"auto_pad": auto_pad} if auto_pad else {"pads": [1, 1, 1, 1]}
    pool = ({"kernel_shape": [3, 3], "auto_pad": auto_pad} if auto_pad else
            {"kernel_shape": [2, 2], "ceil_mode": 1})
    return ([node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2], **pads),
             node("Relu", ["c"], ["r"]), node("MaxPool", ["r"], strides=[2, 2], **pool)],
            {"w": f32(8, 4, 3, 3)})


def kv_attention():
    """Attention of one query over a cache: the past x [1, P, 8] (P free, 0 at a first step)
    and 3 new rows, concatenated: Softmax(q k^T) v over P + 3 rows."""
    return ([node("Concat", ["x", "new"], ["kv"], axis=1),
             node("Transpose", ["kv"], ["kt"], perm=[0, 2, 1]), node("MatMul", ["q", "kt"], ["s"]),
             node("Softmax", ["s"], ["p"]), node("MatMul", ["p", "kv"])],
            {"new": f32(1, 3, 8), "q": f32(1, 1, 8)})


def count_of(op, ins):
    """[n]: the count of NonZero(x > 0), from the Shape of its output."""
    return [node("Greater", ["x", "t"], ["m"]), node(op, ins, ["nz"]), node("Shape", ["nz"], ["s"]),
            node("Gather", ["s", "k1"], ["n"])]


def count_inits():
    return {"t": np.array(0, np.float32), "k0": i64([0]), "k1": i64([1]), "k2": i64([2]),
            "km1": i64([-1]), "z": i64(0), "o": i64(1)}


def masked_sum_loop():
    """Loop 3 times: acc += sum(x[x > i]), a NonZero of a new mask in each iteration."""
    vi = helper.make_tensor_value_info
    body = helper.make_graph([
        node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT), node("Greater", ["x", "fi"], ["m"]),
        node("NonZero", ["m"], ["nz"]), node("Transpose", ["nz"], ["ix"]),
        node("GatherND", ["x", "ix"], ["g"]), node("ReduceSum", ["g"], ["s"], keepdims=0),
        node("Add", ["acc", "s"], ["acc2"]), node("Identity", ["c"], ["c2"])], "body",
        [vi("i", TensorProto.INT64, []), vi("c", TensorProto.BOOL, []),
         vi("acc", TensorProto.FLOAT, [])],
        [vi("c2", TensorProto.BOOL, []), vi("acc2", TensorProto.FLOAT, [])])
    return [node("Loop", ["n", "", "a0"], body=body)]


def halving_loop(then=None):
    """Loop up to 10 times: acc = acc / 2 while its sum stays above 1, scanning 2 acc out:
    as many slices as the iterations the values allow (from Exp(3 x))."""
    vi = helper.make_tensor_value_info
    consts = [numpy_helper.from_array(np.array(v, np.float32), k)
              for k, v in (("half", 0.5), ("two", 2.0), ("one", 1.0))]
    body = helper.make_graph([
        node("Mul", ["acc", "half"], ["acc2"]), node("ReduceSum", ["acc2"], ["s"], keepdims=0),
        node("Greater", ["s", "one"], ["go"]), node("Mul", ["acc2", "two"], ["sc"])], "body",
        [vi("i", TensorProto.INT64, []), vi("c", TensorProto.BOOL, []),
         vi("acc", TensorProto.FLOAT, [4])],
        [vi("go", TensorProto.BOOL, []), vi("acc2", TensorProto.FLOAT, [4]),
         vi("sc", TensorProto.FLOAT, [4])], consts)
    nodes = [node("Mul", ["x", "three"], ["x3"]), node("Exp", ["x3"], ["a0"]),
             node("Loop", ["n", "", "a0"], ["last", "scan" if then else "y"], body=body)]
    return nodes + (then if isinstance(then, list) else [then] if then else [])


def shape_trip_loop(trip_nodes, grow=False):
    """Loop as many times as trip_nodes make n (Shape of x: a free dim, or a count the run
    computes): acc = acc / 2 + i from acc = 1, scanning 2 acc out as y. grow: acc doubles
    its length each iteration instead (no loop compiles so; unrolling needs n fixed)."""
    vi = helper.make_tensor_value_info
    consts = [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in (("half", 0.5), ("two", 2.0))]
    nodes = [node("Mul", ["acc", "half"], ["ah"]), node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT),
             node("Add", ["ah", "fi"], ["acc2"]), node("Mul", ["acc2", "two"], ["sc"]),
             node("Identity", ["c"], ["cont"])]
    if grow:
        nodes[2] = node("Concat", ["ah", "ah"], ["acc2"], axis=0)
    body = helper.make_graph(nodes, "body", [vi("i", TensorProto.INT64, []), vi("c", TensorProto.BOOL, []),
                                             vi("acc", TensorProto.FLOAT, [4])],
                             [vi("cont", TensorProto.BOOL, []), vi("acc2", TensorProto.FLOAT, [4]),
                              vi("sc", TensorProto.FLOAT, [4])], consts)
    return trip_nodes + [node("Loop", ["n", "", "a0"], ["last", "y"], body=body)]


def running_scan(reverse=0):
    """Scan along x's free axis 0: a running sum s += x[t] (from the end when reverse),
    scanning 2 s out as y."""
    vi = helper.make_tensor_value_info
    body = helper.make_graph([node("Add", ["st", "xt"], ["st2"]), node("Mul", ["st2", "two"], ["o"])],
                             "body", [vi("st", TensorProto.FLOAT, [4]), vi("xt", TensorProto.FLOAT, [4])],
                             [vi("st2", TensorProto.FLOAT, [4]), vi("o", TensorProto.FLOAT, [4])],
                             [numpy_helper.from_array(np.array(2, np.float32), "two")])
    return [node("Scan", ["s0", "x"], ["last", "y"], body=body, num_scan_inputs=1,
                 scan_input_directions=[reverse])]


def nms(center=False, threshold=True, limit=5, then=None, ties=False):
    """NonMaxSuppression of boxes and scores a detection head computes from x [N, S, 4 + C]:
    boxes x[..., :4] (center boxes: widths and heights through Exp), scores the Sigmoid of
    the rest (ties: rounded to quarters), limits constant; `then`: a node reading it."""
    nodes = [node("Slice", ["x", "k0", "k4", "k2"], ["b0"]),
             node("Slice", ["x", "k4", "kend", "k2"], ["s0"]), node("Sigmoid", ["s0"], ["s1"])]
    if ties:
        nodes += [node("Mul", ["s1", "four"], ["s2"]), node("Round", ["s2"], ["s3"]),
                  node("Div", ["s3", "four"], ["s4"])]
    nodes.append(node("Transpose", ["s4" if ties else "s1"], ["scores"], perm=[0, 2, 1]))
    if center:
        nodes += [node("Slice", ["b0", "k0", "k2", "k2"], ["xy"]),
                  node("Slice", ["b0", "k2", "k4", "k2"], ["wh0"]), node("Exp", ["wh0"], ["wh"]),
                  node("Concat", ["xy", "wh"], ["boxes"], axis=2)]
    else:
        nodes.append(node("Identity", ["b0"], ["boxes"]))
    ins = ["boxes", "scores", "limit", "iou"] + (["threshold"] if threshold else [])
    nodes.append(node("NonMaxSuppression", ins, ["sel"] if then else ["y"],
                      center_point_box=int(center)))
    if then:
        nodes += then if isinstance(then, list) else [then]
    inits = {"k0": i64([0]), "k2": i64([2]), "k4": i64([4]), "kend": i64([100]),
             "limit": i64([limit]), "iou": np.array([0.4], np.float32),
             "four": np.array(4, np.float32)}
    if threshold:
        inits["threshold"] = np.array([0.3], np.float32)
    return nodes, inits


def branch(op):
    """An If branch computing op(x) from the outer x (its result copied into the If's output)."""
    return helper.make_graph([node(op, ["x"], ["b"])], op.lower(), [],
                             [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])


def if_sizes(empty):
    """If on a value the run computes, its branches of different sizes (torchvision's
    batched_nms: no boxes, an empty result; else the kept ones). empty: x [N, S] of
    integers, the then-branch i64[0] when x has no element above 4, else the sum of
    each such element's coordinates, i64[count]; not empty: the sum of x [N, S, 8] above
    0, the then-branch x (dim 1 S), else x twice along dim 1 (2S). A node after the If
    reads its output's run-time size."""
    if empty:
        then = helper.make_graph([node("Constant", [], ["e"], value=numpy_helper.from_array(
            np.zeros(0, np.int64)))], "then", [], [helper.make_tensor_value_info("e", TensorProto.INT64, None)])
        els = helper.make_graph([node("ReduceSum", ["nz", "ax0"], ["s"], keepdims=0)], "else", [],
                                [helper.make_tensor_value_info("s", TensorProto.INT64, None)])
        return [node("Greater", ["x", "t"], ["m"]), node("NonZero", ["m"], ["nz"]),
                node("Size", ["nz"], ["n"]), node("Equal", ["n", "zero"], ["c"]),
                node("If", ["c"], ["sel"], then_branch=then, else_branch=els),
                node("Mul", ["sel", "two"])], {"t": i64(4), "zero": i64(0), "two": i64(2),
                                               "ax0": i64([0])}
    then = helper.make_graph([node("Identity", ["x"], ["a"])], "then", [],
                             [helper.make_tensor_value_info("a", TensorProto.FLOAT, None)])
    els = helper.make_graph([node("Concat", ["x", "x"], ["b"], axis=1)], "else", [],
                            [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)])
    return [node("ReduceSum", ["x"], ["r"], keepdims=0), node("Greater", ["r", "t"], ["c"]),
            node("If", ["c"], ["sel"], then_branch=then, else_branch=els),
            node("ReduceSum", ["sel", "ax1"], ["y"], keepdims=0)], {"t": np.array(0, np.float32),
                                                                   "ax1": i64([1])}


def capped_count(topk):
    """A count the run computes, capped: the first 10 of NonZero's indices (a Slice; Faster
    R-CNN keeps the first 150 of NMS's boxes), or (topk) TopK of the elements above 0.5 with
    k = min(their count, 10), the k a shape computation (RetinaNet's and SSD's heads)."""
    if not topk:
        return [node("NonZero", ["x"], ["nz"]), node("Slice", ["nz", "k0", "k10", "k1"])], \
            {"k0": i64([0]), "k1": i64([1]), "k10": i64([10])}
    return [node("Greater", ["x", "t"], ["m"]), node("NonZero", ["m"], ["nz"]),
            node("Transpose", ["nz"], ["nzt"], perm=[1, 0]), node("GatherND", ["x", "nzt"], ["s"]),
            node("Shape", ["s"], ["sh"]), node("Concat", ["sh", "k10"], ["cand"], axis=0),
            node("ReduceMin", ["cand"], ["k"], keepdims=1), node("TopK", ["s", "k"], ["y", "y1"])], \
        {"t": np.array(0.5, np.float32), "k10": i64([10])}


def capped_concat():
    """Four capped TopKs (thresholds 0.5, 1, 1.5, 0.2) of x's elements, the boxes of each
    gathered and concatenated (SSD's and RetinaNet's heads, one per class or level): the
    offsets of the inputs in the output are sums of the capped counts."""
    nodes, inits = [], {"k10": i64([10]), "boxes": f32(64, 4)}
    for j, t in enumerate([0.5, 1.0, 1.5, 0.2]):
        inits[f"t{j}"] = np.array(t, np.float32)
        nodes += [node("Greater", ["x", f"t{j}"], [f"m{j}"]), node("NonZero", [f"m{j}"], [f"nz{j}"]),
                  node("Transpose", [f"nz{j}"], [f"nzt{j}"], perm=[1, 0]),
                  node("GatherND", ["x", f"nzt{j}"], [f"s{j}"]), node("Shape", [f"s{j}"], [f"sh{j}"]),
                  node("Concat", [f"sh{j}", "k10"], [f"c{j}"], axis=0),
                  node("ReduceMin", [f"c{j}"], [f"k{j}"], keepdims=1),
                  node("TopK", [f"s{j}", f"k{j}"], [f"v{j}", f"i{j}"]),
                  node("Gather", ["boxes", f"i{j}"], [f"g{j}"], axis=0)]
    return nodes + [node("Concat", [f"g{j}" for j in range(4)], axis=0)], inits


def nested_cap():
    """TopK with k = min(n, 5) over the concatenated values of two capped TopKs (n = their
    sizes' sum): a capped count of capped counts."""
    nodes, inits = capped_concat()
    keep = [x for x in nodes if not x.output[0].startswith(("g", "y"))]
    keep = [x for x in keep if x.op_type != "Concat" or x.output[0].startswith("c")]
    keep = [x for x in keep if not any(o.endswith(("2", "3")) for o in x.output)]
    inits = {k: v for k, v in inits.items() if k not in ("boxes", "t2", "t3")}
    return keep + [node("Concat", ["v0", "v1"], ["both"], axis=0), node("Shape", ["both"], ["bs"]),
                   node("Concat", ["bs", "k5"], ["bc"], axis=0),
                   node("ReduceMin", ["bc"], ["kk"], keepdims=1),
                   node("TopK", ["both", "kk"], ["y", "y1"], largest=0)], {**inits, "k5": i64([5])}


def sparse(n, nonzero, value=1.0):
    """f32[n]: `nonzero` elements (spread out) set to value + their position / n, the rest 0."""
    x = np.zeros(n, np.float32)
    at = np.linspace(0, n - 1, nonzero).astype(int) if nonzero else []
    x[at] = value + np.asarray(at, np.float32) / n
    return x


def ties(n, seed):
    """f32[n] of a few values above TopK's threshold 0.5 (each many times, and +inf) and
    some below (0, -0, -1, -inf)."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([0.75, 1.0, 2.0, np.inf, 0.0, -0.0, -1.0, -np.inf], np.float32), n)


def forests():
    """A tree regressor (5 trees, 2 targets) and classifier (4 classes), their tests reading
    8 features, NaN-free: gen_tree_cases.py's random forests."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "op_cases"))
    from gen_tree_cases import forest_v1, random_tree
    rng = np.random.default_rng(5)
    grid = np.linspace(-1.5, 1.5, 7)
    trees = [random_tree(rng, 8, 5, ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT"], grid) for _ in range(5)]
    ws = {}

    def weights(t, n, classes):
        return ws.setdefault((t, n, classes), [(c, float(np.round(rng.standard_normal(), 3))) for c in range(classes)])

    reg = node("TreeEnsembleRegressor", ["x"], ["y"], domain="ai.onnx.ml", n_targets=2,
               **forest_v1(trees, "target", lambda t, n: weights(t, n, 2)))
    cls = node("TreeEnsembleClassifier", ["x"], ["y1", "y"], domain="ai.onnx.ml", post_transform="SOFTMAX",
               classlabels_int64s=[5, 6, 7, 8], **forest_v1(trees, "class", lambda t, n: weights(t, n, 4)))
    return reg, cls


def models():
    """name: (nodes, input shape, input dtype, initializers, output dtype, cases): a case is
    the free dims' sizes (a random input) or the input itself"""
    reg, cls = forests()
    ax = {"ax0": i64([0]), "c0": i64(0), "c1": i64(1), "c2": i64(2)}
    f, i8, i = TensorProto.FLOAT, TensorProto.INT8, TensorProto.INT64
    return {
        "slice": ([node("Slice", ["x", "st", "en", "ax"])], SEQ, f,
                  {"st": i64([1]), "en": i64([1 << 62]), "ax": i64([1])}, f, SEQ_CASES),
        "slice_to_shape": (shape_of(1) + [node("Sub", ["s1u", "one"], ["e"]),
                                          node("Slice", ["x", "zero", "e", "one"])], SEQ, f,
                           {**ax, "one": i64([1]), "zero": i64([0])}, f, SEQ_CASES),
        "passthrough": ([], SEQ, f, {}, f, SEQ_CASES),  # output x is input x: a copy
        "if_branches": ([node("ReduceSum", ["x"], ["r"], keepdims=0),
                         node("Greater", ["r", "t"], ["c"]),
                         helper.make_node("If", ["c"], ["y"], then_branch=branch("Relu"),
                                          else_branch=branch("Neg"))], SEQ, f,
                        {"t": np.array(0, np.float32)}, f, SEQ_CASES),
        "if_sizes_empty": (if_sizes(True)[0], ["N", "S"], i, if_sizes(True)[1], i,
                           [i64([[1, 2, 3]]), i64([[0, 5], [6, 1]]), i64([[4, 9, 0, 7, 5]] * 3)]),
        "if_sizes_static": (if_sizes(True)[0], [2, 3], i, if_sizes(True)[1], i,
                            [i64([[1, 2, 3], [4, 4, 0]]), i64([[5, 0, 6], [0, 9, 1]])]),
        "if_sizes_free": (if_sizes(False)[0], SEQ, f, if_sizes(False)[1], f,
                          [np.ones((1, 3, 8), np.float32), -np.ones((2, 5, 8), np.float32),
                           (1, 4)]),
        "count_first_10": (capped_count(False)[0], [1000], f, capped_count(False)[1], i,
                           [sparse(1000, 3), sparse(1000, 10), sparse(1000, 400), sparse(1000, 0)]),
        "topk_count_capped": (capped_count(True)[0], [64], f, capped_count(True)[1], f,
                              [sparse(64, 4), sparse(64, 30), sparse(64, 0), sparse(64, 11)]),
        "topk_count_capped_free": (capped_count(True)[0], ["S"], f, capped_count(True)[1], f,
                                   [sparse(64, 4), sparse(500, 300), sparse(7, 7), (40,)]),
        # k = 10 inside a group of ties (by index), infinities and -0 beside +0 below the
        # threshold: the selection form's keys (ir/ops/topk_select.c)
        "topk_count_ties": (capped_count(True)[0], ["S"], f, capped_count(True)[1], f,
                            [ties(64, 7), ties(300, 100), ties(9, 3), ties(40, 40)]),
        # every element, sorted: k = the count itself
        "topk_count_sort": (capped_count(True)[0][:4] + [
                                node("Shape", ["s"], ["k"]), node("TopK", ["s", "k"], ["y", "y1"])],
                            ["S"], f, {"t": np.array(0.5, np.float32)}, f,
                            [ties(64, 7), ties(300, 100), ties(9, 3), sparse(50, 0)]),
        # the same in f64: 64-bit keys
        "topk_count_ties_f64": (capped_count(True)[0], ["S"], TensorProto.DOUBLE,
                                {"t": np.array(0.5), "k10": i64([10])}, TensorProto.DOUBLE,
                                [ties(64, 7).astype(np.float64), ties(300, 100).astype(np.float64),
                                 ties(40, 40).astype(np.float64)]),
        "roi_align_free_rois": ([node("Abs", ["x"], ["ax"]), node("Mul", ["ax", "four"], ["rois"]),
                                 node("Mul", ["ax", "zero"], ["z"]),
                                 node("ReduceSum", ["z", "k1"], ["zb"], keepdims=0),
                                 node("Cast", ["zb"], ["bi"], to=i),
                                 node("RoiAlign", ["feat", "rois", "bi"], output_height=3,
                                      output_width=2, sampling_ratio=2, spatial_scale=0.5)],
                                ["R", 4], f, {"four": np.array(4, np.float32),
                                              "zero": np.array(0, np.float32), "k1": i64([1]),
                                              "feat": f32(1, 3, 8, 9)}, f,
                                [(1,), (5,), (12,)]),
        "topk_capped_concat": (capped_concat()[0], [64], f, capped_concat()[1], f,
                               [sparse(64, 4), sparse(64, 30, 0.3), sparse(64, 0), f32(64),
                                sparse(64, 64, 0.1)]),
        "topk_two_nonzeros": ([node("Greater", ["x", "t"], ["m"]), node("NonZero", ["m"], ["nz"]),
                               node("Transpose", ["nz"], ["nzt"], perm=[1, 0]),
                               node("GatherND", ["x", "nzt"], ["s"]),
                               node("NonZero", ["m"], ["nz2"]), node("Shape", ["nz2"], ["sh"]),
                               node("Slice", ["sh", "k1", "k2"], ["n"]),
                               node("Concat", ["n", "k10"], ["cand"], axis=0),
                               node("ReduceMin", ["cand"], ["k"], keepdims=1),
                               node("TopK", ["s", "k"], ["y", "y1"])],
                              [64], f, {"t": np.array(0.5, np.float32), "k1": i64([1]),
                                        "k2": i64([2]), "k10": i64([10])}, f,
                              [sparse(64, 4), sparse(64, 30), sparse(64, 0)]),
        "if_known_free": ([node("If", ["yes"], ["b"], then_branch=branch("Relu"),
                                else_branch=branch("Neg")), node("Add", ["b", "x"])], SEQ, f,
                          {"yes": np.array(True)}, f, SEQ_CASES),
        "scatter_reversed_rows": (shape_of(0) + [
            node("Range", ["zero", "s0", "one"], ["r"]), node("Sub", ["s0", "one"], ["last"]),
            node("Sub", ["last", "r"], ["rev"]), node("Unsqueeze", ["rev", "ax1"], ["rev2"]),
            node("Shape", ["x"], ["xs"]), node("Expand", ["rev2", "xs"], ["idx"]),
            node("Mul", ["x", "two"], ["u"]), node("ScatterElements", ["x", "idx", "u"], axis=0)],
            ["S", 4], f, {**ax, "zero": i64(0), "one": i64(1), "ax1": i64([1]),
                          "two": np.array(2, np.float32)}, f, [(1,), (7,), (90,)]),
        "topk_nested_cap": (nested_cap()[0], [64], f, nested_cap()[1], f,
                            [sparse(64, 2), sparse(64, 30), sparse(64, 0), f32(64)]),
        "gather_ids": ([node("Gather", ["w", "x"], axis=0)], ["N", "S"], i,
                       {"w": f32(50, 8)}, f, SEQ_CASES),
        "gather_free_axis": ([node("Gather", ["x", "m1"], axis=1)], SEQ, f, {"m1": i64(-1)}, f,
                             SEQ_CASES),
        "gather_elements": ([node("ArgMax", ["x"], ["ix"], axis=2),
                             node("GatherElements", ["x", "ix"], axis=2)], SEQ, f, {}, f,
                            SEQ_CASES),
        "split": ([node("Split", ["x"], ["a", "b"], axis=2), node("Mul", ["a", "b"])], SEQ, f,
                  {}, f, SEQ_CASES),
        # opset 18's num_outputs along a free axis: the last piece the rest, smaller when
        # 3 does not divide S (S - 2 ceil(S / 3))
        "split_uneven": ([node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3),
                          node("Mul", ["b", "two"], ["b2"]), node("Mul", ["c", "three"], ["c3"]),
                          node("Concat", ["a", "b2", "c3"], ["y"], axis=1)], SEQ, f,
                         {"two": np.array(2, np.float32), "three": np.array(3, np.float32)}, f,
                         [(1, 3), (2, 5), (3, 7), (1, 11)]),
        "expand": ([node("Shape", ["x"], ["s"]), node("Expand", ["b", "s"], ["e"]),
                    node("Add", ["x", "e"])], SEQ, f, {"b": f32(1, 1, 8)}, f, SEQ_CASES),
        "tile": ([node("Tile", ["x", "r"])], SEQ, f, {"r": i64([1, 2, 1])}, f, SEQ_CASES),
        "pad": ([node("Pad", ["x", "p"])], SEQ, f, {"p": i64([0, 1, 0, 0, 2, 0])}, f, SEQ_CASES),
        "trilu": ([node("Trilu", ["x"])], ["N", "S", "S"], f, {}, f, [(1, 3), (2, 5), (1, 9)]),
        "range_positions": (shape_of(1) + [node("Range", ["zero", "s1", "one"], ["r"]),
                                           node("Cast", ["r"], ["rf"], to=f),
                                           node("Unsqueeze", ["rf", "ax1"], ["ru"]),
                                           node("Add", ["x", "ru"])], SEQ, f,
                            {**ax, "zero": i64(0), "one": i64(1), "ax1": i64([1])}, f, SEQ_CASES),
        "constant_of_shape": ([node("Shape", ["x"], ["s"]),
                               node("ConstantOfShape", ["s"], ["c"],
                                    value=numpy_helper.from_array(np.array([2], np.float32))),
                               node("Mul", ["x", "c"])], SEQ, f, {}, f, SEQ_CASES),
        "divide_by_length": (shape_of(1) + [node("Cast", ["s1"], ["sf"], to=f),
                                            node("Div", ["x", "sf"])], SEQ, f, ax, f, SEQ_CASES),
        "shape_output": ([node("Shape", ["x"])], SEQ, f, {}, i, SEQ_CASES),
        "tree_regressor": ([reg], ["N", 8], f, {}, f, [(1,), (4,), (9,)]),
        "tree_classifier": ([cls], ["N", 8], f, {}, f, [(1,), (4,), (9,)]),
        "reshape_product": (shape_of(0) + shape_of(1) + [
            node("Mul", ["s0u", "s1u"], ["ns"]), node("Concat", ["ns", "eight"], ["shp"], axis=0),
            node("Reshape", ["x", "shp"])], SEQ, f, {**ax, "eight": i64([8])}, f, SEQ_CASES),
        "slice_half": (shape_of(2) + [node("Div", ["s2u", "two"], ["h"]),
                                      node("Slice", ["x", "zero", "h", "two"])], IMG, f,
                       {**ax, "two": i64([2]), "zero": i64([0])}, f,
                       [(1, 30, 6), (2, 33, 10), (1, 48, 3)]),  # a division: H from 29 up
        "argmax": ([node("ArgMax", ["x"], axis=1)], SEQ, f, {}, i, SEQ_CASES),
        "cumsum": ([node("CumSum", ["x", "a"])], SEQ, f, {"a": i64(1)}, f, SEQ_CASES),
        "topk_free_axis": ([node("TopK", ["x", "k"], ["y", "idx"], axis=2)], IMG, f,
                           {"k": i64([3])}, f, IMG_CASES),
        "resize_to_size": (shape_of(2) + shape_of(3) + [
            node("Concat", ["n1", "s2u", "s3u"], ["sz"], axis=0),
            node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            node("Resize", ["p", "", "", "sz"], mode="linear")], [1, 4, "H", "W"], f,
            {**ax, "c3": i64(3), "n1": i64([1, 4])}, f, [(30, 34), (32, 40), (45, 33)]),
        "resize_scale": ([node("Resize", ["x", "", "sc"], mode="nearest")], IMG, f,
                         {"sc": np.array([1, 1, 2, 2], np.float32)}, f, IMG_CASES),
        "instance_norm": ([node("InstanceNormalization", ["x", "s", "b"])], IMG, f,
                          {"s": f32(4), "b": f32(4)}, f, IMG_CASES),
        "lp_norm": ([node("LpNormalization", ["x"], axis=1)], IMG, f, {}, f, IMG_CASES),
        "lrn": ([node("LRN", ["x"], size=3)], IMG, f, {}, f, IMG_CASES),
        "depth_to_space": ([node("DepthToSpace", ["x"], blocksize=2)], IMG, f, {}, f, IMG_CASES),
        "dropout": ([node("Dropout", ["x"])], IMG, f, {}, f, IMG_CASES),
        "einsum": ([node("Einsum", ["x", "w"], equation="nchw,cd->ndhw")], IMG, f,
                   {"w": f32(4, 3)}, f, IMG_CASES),
        "quantize_dequantize": ([node("QuantizeLinear", ["x", "sc", "zp"], ["q"]),
                                 node("DequantizeLinear", ["q", "sc", "zp"])], IMG, f,
                                {"sc": np.array(0.05, np.float32), "zp": np.array(3, np.uint8)},
                                f, IMG_CASES),
        "grid_sample": ([node("GridSample", ["x", "g"])], [1, 4, "H", "W"], f,
                        {"g": f32(1, 5, 6, 2) * 0.7}, f, [(4, 6), (6, 10), (8, 4)]),
        "gather_nd": ([node("GatherND", ["x", "ix"])], SEQ, f, {"ix": i64([[0, 1], [0, 0]])}, f,
                      SEQ_CASES),
        "scatter_nd": ([node("ScatterND", ["x", "ix", "u"])], ["N", 4], f,
                       {"ix": i64([[0]]), "u": f32(1, 4)}, f, [(1,), (2,), (5,)]),
        "scatter_elements": ([node("ScatterElements", ["x", "ix", "u"], axis=1)], ["N", 4], f,
                             {"ix": i64([[1, 0]]), "u": f32(1, 2)}, f, [(1,), (2,), (5,)]),
        "one_hot": ([node("OneHot", ["x", "d", "v"])], ["N", "S"], i,
                    {"d": i64(7), "v": np.array([0, 1], np.float32)}, f, SEQ_CASES),
        "matmul_integer": ([node("MatMulInteger", ["x", "w"])], ["N", 4], i8,
                           {"w": RNG.integers(-5, 5, (4, 3)).astype(np.int8)}, TensorProto.INT32,
                           [(1,), (2,), (5,)]),
        # recurrent ops with a free batch (the sequence is unrolled, so it stays static)
        "lstm_batch": ([node("LSTM", ["x", "w", "r", "b"], hidden_size=5)], [3, "N", 8], f,
                       {"w": f32(1, 20, 8) * 0.4, "r": f32(1, 20, 5) * 0.4, "b": f32(1, 40) * 0.3},
                       f, [(1,), (2,), (5,)]),
        "gru_bidirectional": ([node("GRU", ["x", "w", "r", "b"], hidden_size=4,
                                    direction="bidirectional", linear_before_reset=1)],
                              [3, "N", 8], f, {"w": f32(2, 12, 8) * 0.4, "r": f32(2, 12, 4) * 0.4,
                                               "b": f32(2, 24) * 0.3}, f, [(1,), (2,), (5,)]),
        "rnn_last_state": ([node("RNN", ["x", "w", "r"], ["", "y"], hidden_size=6)],
                           [4, "N", 8], f, {"w": f32(1, 6, 8) * 0.4, "r": f32(1, 6, 6) * 0.4},
                           f, [(1,), (2,), (5,)]),
        # NonZero of a run-time value: its count is a size the run computes (every op after
        # it takes it as a free dim), with free dims or without
        "nonzero": ([node("Relu", ["x"], ["r"]), node("NonZero", ["r"])], [3, 5], f, {}, i,
                    [(), (), ()]),
        "nonzero_int": ([node("NonZero", ["x"])], ["N", "S"], i, {}, i, SEQ_CASES),
        "nonzero_mask_gather": ([node("Greater", ["x", "t"], ["m"]), node("NonZero", ["m"], ["nz"]),
                                 node("Transpose", ["nz"], ["ix"]),
                                 node("GatherND", ["x", "ix"], ["g"]), node("Exp", ["g"])],
                                SEQ, f, {"t": np.array(0.5, np.float32)}, f, SEQ_CASES),
        "nonzero_masked_sum": ([node("Greater", ["x", "t"], ["m"]), node("NonZero", ["m"], ["nz"]),
                                node("Transpose", ["nz"], ["ix"]),
                                node("GatherND", ["x", "ix"], ["g"]),
                                node("ReduceSum", ["g"], keepdims=0)],
                               IMG, f, {"t": np.array(1.0, np.float32)}, f, IMG_CASES),
        # five halvings: at the least points (H = 29) the fifth pool's window is wider than
        # its input; inferred at points moved up, sizes from 61 (H) and 63 (W) run
        "deep_pools": (deep_pools(), IMG, f, {}, f, [(1, 64, 70), (2, 96, 64), (1, 127, 100),
                                                     (1, 32, 33)]),
        # sizes below the points the expressions were matched at: every size whose windows
        # fit (H = 3: the Conv's output 2, the pool's 1)
        "small_windows": (small_windows()[0], IMG, f, small_windows()[1], f,
                          [(1, 3, 5), (2, 5, 4), (1, 4, 3), (1, 30, 17)]),
        # auto_pad SAME_UPPER: the leading pad is 0 for an even size, 1 for an odd one
        "same_upper": (small_windows("SAME_UPPER")[0], IMG, f, small_windows("SAME_UPPER")[1],
                       f, [(1, 5, 6), (2, 8, 3), (1, 31, 30), (1, 1, 2)]),
        "same_lower": (small_windows("SAME_LOWER")[0], IMG, f, small_windows("SAME_LOWER")[1],
                       f, [(1, 5, 6), (2, 8, 3), (1, 2, 1)]),
        # a free dim of size 0: a cache's past length at the first step
        "kv_attention": (kv_attention()[0], [1, "P", 8], f, kv_attention()[1], f,
                         [(0,), (2,), (5,)]),
        "nonzero_count": ([node("Relu", ["x"], ["r"]), node("NonZero", ["r"], ["nz"]),
                           node("Shape", ["nz"])], IMG, f, {}, i, IMG_CASES),
        # a count the run computes used as data: a shape computed from it (passes/fold.c
        # folds the Shape; its elements read the count from the run's dims)
        "count_slice": (count_of("NonZero", ["m"]) + [
                            node("Flatten", ["x"], ["xf"], axis=0),
                            node("Slice", ["xf", "k0", "n", "k1"])], SEQ, f, count_inits(), f,
                        SEQ_CASES),
        "count_slice_none": ([node("Greater", ["x", "big"], ["m"]), node("NonZero", ["m"], ["nz"]),
                              node("Shape", ["nz"], ["s"]), node("Gather", ["s", "k1"], ["n"]),
                              node("Flatten", ["x"], ["xf"], axis=0),
                              node("Slice", ["xf", "k0", "n", "k1"])], SEQ, f,
                             {**count_inits(), "big": np.array(100, np.float32)}, f, SEQ_CASES),
        "count_range": (count_of("NonZero", ["m"]) + [
                            node("Squeeze", ["n", "k0"], ["ns"]),
                            node("Range", ["z", "ns", "o"], ["r"]), node("Mul", ["r", "r"])],
                        IMG, f, count_inits(), i, IMG_CASES),
        "count_fill_float": (count_of("NonZero", ["m"]) + [
                                 node("Concat", ["n", "k2"], ["sh"], axis=0),
                                 node("ConstantOfShape", ["sh"], ["c"],
                                      value=numpy_helper.from_array(np.array([1.5], np.float32))),
                                 node("Cast", ["n"], ["nf"], to=TensorProto.FLOAT),
                                 node("Mul", ["c", "nf"])], SEQ, f, count_inits(), f, SEQ_CASES),
        "count_reshape": (count_of("NonZero", ["m"]) + [
                              node("Transpose", ["nz"], ["nt"]),
                              node("Concat", ["n", "km1"], ["sr"], axis=0),
                              node("Reshape", ["nt", "sr"])], IMG, f, count_inits(), i, IMG_CASES),
        "unique_count_range": ([node("Unique", ["x"], ["u"]), node("Shape", ["u"], ["s"]),
                                node("Gather", ["s", "k0"], ["n"]),
                                node("Squeeze", ["n", "k0"], ["ns"]),
                                node("Range", ["z", "ns", "o"])], ["N", "S"], i, count_inits(), i,
                               SEQ_CASES),
        "nms_count_fill": (*nms(then=[node("Shape", ["sel"], ["s"]),
                                      node("Gather", ["s", "k0"], ["n"]),
                                      node("ConstantOfShape", ["n"],
                                           value=numpy_helper.from_array(np.array([2], np.int64)))])
                           [:1], ["N", "S", 7], f, nms()[1], i, [(1, 20), (2, 50), (3, 200)]),
        "loop_count_fill": (halving_loop([node("Shape", ["scan"], ["s"]),
                                          node("Gather", ["s", "ax0"], ["its"]),
                                          node("ConstantOfShape", ["its"])]), [4], f,
                            {"n": i64(10), "three": np.array(3, np.float32), **ax}, f,
                            [(), (), ()]),
        "nonzero_none": ([node("Greater", ["x", "t"], ["m"]), node("NonZero", ["m"])], SEQ, f,
                         {"t": np.array(100, np.float32)}, i, SEQ_CASES),
        "nonzero_in_loop": (masked_sum_loop(), [4, 5], f,
                            {"n": i64(3), "a0": np.array(0, np.float32)}, f, [(), (), ()]),
        # NonMaxSuppression of boxes and scores computed at run time: two counts the run
        # computes (the most candidates of a class, the boxes selected)
        "nms": (*nms()[:1], ["N", "S", 7], f, nms()[1], i, [(1, 20), (2, 50), (3, 200)]),
        "nms_center_all": (*nms(center=True, threshold=False, limit=1000)[:1], [2, 100, 6], f,
                           nms(center=True, threshold=False, limit=1000)[1], i, [(), (), ()]),
        "nms_ties": (*nms(ties=True, limit=4)[:1], ["N", "S", 9], f, nms(ties=True, limit=4)[1],
                     i, [(1, 12), (2, 40), (1, 90)]),
        # max_output_boxes_per_class = Shape(boxes)[1], as exporters write "keep every box"
        "nms_keep_all": (nms()[0][:-1] + [node("Shape", ["boxes"], ["bs"]),
                                          node("Slice", ["bs", "k1", "k2"], ["lim"]),
                                          node("NonMaxSuppression",
                                               ["boxes", "scores", "lim", "iou", "threshold"])],
                         ["N", "S", 6], f, {**nms()[1], "k1": i64([1])}, i,
                         [(1, 20), (2, 50), (3, 200)]),
        "nms_gather_scores": (*nms(then=node("GatherND", ["scores", "sel"]))[:1], ["N", "S", 6], f,
                              nms(then=node("GatherND", ["scores", "sel"]))[1], f, SEQ_CASES),
        # Loop scan outputs as long as the iterations a run makes (a condition computed
        # from values ends the loop early), at most the constant trip count
        "loop_scan_early_exit": (halving_loop(), [4], f,
                                 {"n": i64(10), "three": np.array(3, np.float32)}, f,
                                 [(), (), ()]),
        "loop_scan_sum": (halving_loop(node("ReduceSum", ["scan", "ax0"], keepdims=0)), [4], f,
                          {"n": i64(10), "three": np.array(3, np.float32), **ax}, f,
                          [(), (), ()]),
        # a trip count that is a shape computation: the loop step reads it at run time
        "loop_trip_free_dim": (shape_trip_loop([node("Shape", ["x"], ["s"]),
                                                node("Gather", ["s", "c0"], ["n"], axis=0)]),
                               ["N", 3], f, {**ax, "a0": np.ones(4, np.float32)}, f,
                               [(1,), (4,), (9,)]),
        "loop_trip_count": (shape_trip_loop(count_of("NonZero", ["m"])[:3] + [
                                node("Gather", ["s", "c1"], ["n"], axis=0)]),
                            [3, 4], f, {**ax, **count_inits(), "a0": np.ones(4, np.float32)}, f,
                            [(), (), ()]),
        # a Scan along a free dim: a loop whose trip count is Shape(x)[0]
        "scan_free_length": (running_scan(), ["S", 4], f, {"s0": np.zeros(4, np.float32)}, f,
                             [(1,), (5,), (12,)]),
        "scan_free_length_reversed": (running_scan(1), ["S", 4], f,
                                      {"s0": np.zeros(4, np.float32)}, f, [(2,), (7,), (3,)]),
        # shapes clamped to a constant (refused outside the sizes checked: RUN_REFUSED)
        "slice_end": (clamped("Slice", 10)[0], [1, "S"], f, clamped("Slice", 10)[1], f,
                      [(10,), (23,), (300,)]),
        "slice_end_large": (clamped("Slice", 1000)[0], [1, "S"], f, clamped("Slice", 1000)[1],
                            f, [(1,), (999,), (1000,)]),
        "min_large": (clamped("Min", 1000)[0], [1, "S"], f, clamped("Min", 1000)[1], f,
                      [(1,), (77,), (1000,)]),
        # Unique of a run-time value: its count a size the run computes
        "unique_flat": ([node("Unique", ["x"], ["y", "y1", "y2", "y3"])], ["N", "S"], i, {}, i,
                        SEQ_CASES),
        "unique_rows_unsorted": ([node("Unique", ["x"], ["y", "y1", "y2", "y3"], axis=0, sorted=0)],
                                 ["N", 2], i, {}, i, [(3,), (12,), (40,)]),
        "unique_columns": ([node("Relu", ["x"], ["r"]), node("Floor", ["r"], ["fl"]),
                           node("Unique", ["fl"], ["y", "", "y2"], axis=-1)], [2, "S"], f, {}, f,
                           [(4,), (9,), (30,)]),
        # Compress with a condition computed at run time: a Gather of its NonZero
        "compress_axis": ([node("Gather", ["x", "c0"], ["r"], axis=0),
                           node("Gather", ["r", "c0"], ["v"], axis=0),
                           node("Greater", ["v", "t"], ["m"]),
                           node("Compress", ["x", "m"], axis=2)], SEQ, f,
                          {**ax, "t": np.array(0, np.float32)}, f, SEQ_CASES),
        "compress_flat": ([node("Gather", ["x", "c0"], ["r"], axis=0),
                           node("Greater", ["r", "t"], ["m"]),
                           node("Compress", ["x", "m"])], [3, 5], f,
                          {**ax, "t": np.array(0, np.float32)}, f, [(), (), ()]),
        # blocks of free dims: SpaceToDepth's H and W must be multiples of the block (the run
        # checks: space_to_depth_odd), DepthToSpace's grow by it
        "space_to_depth": ([node("SpaceToDepth", ["x"], blocksize=2)], IMG, f, {}, f, IMG_CASES),
        "depth_to_space": ([node("DepthToSpace", ["x"], blocksize=2, mode="CRD")], IMG, f, {}, f,
                           IMG_CASES),
        # strings along free dims (CPU only): StringSplit's width a size the run computes
        # (no empty string with a delimiter: onnxruntime splits it into none, ONNX's
        # reference and kiln into one empty piece)
        "string_split": ([node("StringSplit", ["x"], ["y", "y1"], delimiter=",")], ["N"],
                         TensorProto.STRING, {}, TensorProto.STRING,
                         [strs(["a,b", "c", "d,,e,f"]), strs(["x"]), strs(["p,q", "r,s,t", ",", "u", "v,"])]),
        "string_split_words": ([node("StringSplit", ["x"], ["y", "y1"], maxsplit=2),
                                node("StringConcat", ["x", "x"], ["cat"]),
                                node("StringSplit", ["cat"], ["z", "y2"], delimiter="a")], ["N"],
                               TensorProto.STRING, {}, TensorProto.STRING,
                               [strs(["The quick  brown fox", " a b ", "Ab"]), strs(["one"]),
                                strs(["x y z w v", "AaA", "  ", "lone", "B A"])]),
    }


def strs(words):
    return np.array(words, dtype=object)


def clamped(op, c):
    """x [1, S]: a Slice of x to end c, or (op "Min") Range(0, Min(S, c)) cast to float: a
    shape that is S up to c, then c."""
    if op == "Slice":
        return [node("Slice", ["x", "k0", "c", "k1"])], {"k0": i64([0]), "k1": i64([1]), "c": i64([c])}
    return ([node("Shape", ["x"], ["s"]), node("Gather", ["s", "one"], ["n"], axis=0),
             node("Min", ["n", "c"], ["m"]), node("Range", ["z", "m", "one"], ["r"]),
             node("Cast", ["r"], to=TensorProto.FLOAT)],
            {"one": i64(1), "z": i64(0), "c": i64(c)})


# Models also compiled once into a library (`kiln compile` with the free dims) that
# `kiln run` then runs at every case's shape.
AOT_ONCE = {"small_windows", "tree_classifier", "same_upper", "kv_attention", "deep_pools", "nonzero_masked_sum",
            "if_sizes_empty", "if_sizes_static", "if_sizes_free", "count_first_10",
            "topk_count_capped", "topk_count_capped_free", "topk_capped_concat",
            "topk_two_nonzeros", "topk_nested_cap", "topk_count_ties", "topk_count_ties_f64", "topk_count_sort",
            "split_uneven", "string_split", "string_split_words", "space_to_depth"}


# Models compiled with free dims that a run must refuse at some shape (the rule their shapes
# follow changes outside the sizes the compile checked), and a piece of the message.
RUN_REFUSED = {
    "slice_end_below": (*clamped("Slice", 10), [1, "S"], (5,), "compiled for sizes from 10 up"),
    "slice_end_above": (*clamped("Slice", 1000), [1, "S"], (1200,), "compiled for sizes up to 1000"),
    "min_below": (*clamped("Min", 10), [1, "S"], (5,), "compiled for sizes from 10 up"),
    "min_above": (*clamped("Min", 1000), [1, "S"], (1001,), "compiled for sizes up to 1000"),
    # five halvings of 31 leave a 2-wide window a 1-pixel input
    "deep_pools_small": (deep_pools(), {}, IMG, (1, 31, 70), "compiled for sizes from 32 up"),
    # a Conv over no rows: a free dim that may not be 0 (shapes fail there) is refused at 0
    "conv_empty": (small_windows()[0], small_windows()[1], IMG, (1, 0, 5), "outside 1 .."),
    "space_to_depth_odd": ([node("SpaceToDepth", ["x"], blocksize=2)], {}, IMG, (1, 6, 5),
                           "dim 3 ('W') is 5: this model cuts it into blocks of 2"),
}


# Models kiln must refuse with free dims, and a piece of the message it gives.
REFUSED = {
    # a free dim against a fixed one: the sizes in the message are the hints', and it says so
    "broadcast_fixed": ([node("Add", ["x", "z"])], SEQ, TensorProto.FLOAT, {"z": f32(2, 1, 8)},
                        TensorProto.FLOAT, "with the free dims at their compile-time sizes (N = "),
    "lstm_free_sequence": ([node("LSTM", ["x", "w", "r"], hidden_size=5)], ["S", 2, 8],
                           TensorProto.FLOAT, {"w": f32(1, 20, 8), "r": f32(1, 20, 5)},
                           TensorProto.FLOAT, "the sequence length is a free dim"),
    # a size memory is planned for at the count's bound must not fall as the count grows
    "count_falls": ([node("NonZero", ["x"], ["nz"]), node("Shape", ["nz"], ["s"]),
                     node("Slice", ["s", "one", "two"], ["k"]), node("Shape", ["x"], ["len"]),
                     node("Sub", ["len", "k"], ["e"]), node("Slice", ["x", "zero", "e"])],
                    ["N"], TensorProto.FLOAT, {"zero": i64([0]), "one": i64([1]), "two": i64([2])},
                    TensorProto.FLOAT, "falls as a size the run computes grows"),
    "nms_limit_at_run_time": ([node("Slice", ["x", "k0", "k4", "k2"], ["boxes"]),
                               node("Slice", ["x", "k4", "k5", "k2"], ["s0"]),
                               node("Transpose", ["s0"], ["scores"], perm=[0, 2, 1]),
                               node("ReduceMax", ["x"], ["m"], keepdims=0),
                               node("Cast", ["m"], ["lim"], to=TensorProto.INT64),
                               node("NonMaxSuppression", ["boxes", "scores", "lim"])],
                              [1, 8, 5], TensorProto.FLOAT,
                              {"k0": i64([0]), "k2": i64([2]), "k4": i64([4]), "k5": i64([5])},
                              TensorProto.INT64, "input 'lim' must be a value known at compile time"),
    # a loop that does not compile as one is unrolled, its trip count fixed when compiling
    "loop_unrolled_trip_free_dim": (shape_trip_loop([node("Shape", ["x"], ["s"]),
                                                     node("Gather", ["s", "c0"], ["n"], axis=0)],
                                                    grow=True),
                                    ["N", 3], TensorProto.FLOAT,
                                    {"c0": i64(0), "a0": np.ones(4, np.float32)},
                                    TensorProto.FLOAT, "follows the run's shapes"),
    # a limit that follows the free dims other than as "every box"
    "nms_limit_of_shape": (nms()[0][:-1] + [node("Shape", ["boxes"], ["bs"]),
                                            node("Slice", ["bs", "k1", "k2"], ["bn"]),
                                            node("Sub", ["bn", "one"], ["lim"]),
                                            node("NonMaxSuppression",
                                                 ["boxes", "scores", "lim", "iou", "threshold"])],
                           ["N", "S", 6], TensorProto.FLOAT, {**nms()[1], "k1": i64([1]), "one": i64([1])},
                           TensorProto.INT64, "input 'lim' follows the run's shapes"),
    # the first 10 of a count: min(count, 10), 10 at every point but the count below 10
    "nonzero_two_elements": ([node("NonZero", ["x"])], [1, 2], TensorProto.FLOAT, {},
                             TensorProto.INT64, "input 'x' must be a value known at compile time"),
}


# Models that need a later opset than 17.
OPSET = {"split_uneven": 18, "string_split": 20, "string_split_words": 20}


def build(name, nodes, shape, dtype, inits, out_dtype, path):
    """Outputs y, then y1, y2, y3 where nodes make them (of type i64); without nodes, x."""
    more = [o for o in ("y1", "y2", "y3") if any(o in n.output for n in nodes)]
    y = "y" if nodes else "x"  # no nodes: the input is the output
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", dtype, shape)],
                          [helper.make_tensor_value_info(y, out_dtype, None)] +
                          [helper.make_tensor_value_info(o, TensorProto.INT64, None) for o in more],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", OPSET.get(name, 17))]
    if any(n.domain == "ai.onnx.ml" for n in nodes):
        opsets.append(helper.make_opsetid("ai.onnx.ml", 3))
    m = helper.make_model(g, opset_imports=opsets)
    m.ir_version = 8
    onnx.save(m, path)


def input_of(shape, dtype, case):
    names = list(dict.fromkeys(d for d in shape if isinstance(d, str)))  # in order, once
    dims = [case[names.index(d)] if isinstance(d, str) else d for d in shape]
    if dtype == TensorProto.FLOAT:
        return RNG.standard_normal(dims).astype(np.float32)
    if dtype == TensorProto.INT8:
        return RNG.integers(-5, 6, dims).astype(np.int8)
    return RNG.integers(0, 7, dims).astype(np.int64)


def main():
    kiln, work = sys.argv[1:3]
    extra = sys.argv[3:]
    os.makedirs(work, exist_ok=True)
    failed = 0
    for name, (nodes, shape, dtype, inits, out_dtype, cases) in models().items():
        if dtype == TensorProto.STRING and extra:  # the GPU target refuses strings by name
            continue
        path = os.path.join(work, f"{name}.onnx")
        build(name, nodes, shape, dtype, inits, out_dtype, path)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        spec = "x=" + "x".join("?" if isinstance(d, str) else str(d) for d in shape)
        runs = {"": [path, "--shape", spec, *extra]}
        if name in AOT_ONCE and not extra:  # one library, every case: `kiln run LIB`
            lib = os.path.join(work, f"lib{name}.so")
            r = subprocess.run([kiln, "compile", path, "--shape", spec, "-o", lib],
                               capture_output=True, text=True)
            if r.returncode:
                print(f"FAIL {name}: kiln compile exited {r.returncode}: {r.stderr.strip()}")
                failed += 1
            runs[" (library)"] = [lib]
        for k, case in enumerate(cases):
            case_dir = os.path.join(work, f"{name}_{k}")
            os.makedirs(case_dir, exist_ok=True)
            x = case if isinstance(case, np.ndarray) else input_of(shape, dtype, case)
            with open(os.path.join(case_dir, "input_0.pb"), "wb") as fh:
                fh.write(numpy_helper.from_array(x, "x").SerializeToString())
            want = sess.run(None, {"x": x})
            for how, args in runs.items():
                out = os.path.join(case_dir, "out" + how.strip(" ()"))
                r = subprocess.run([kiln, "run", *args, "--inputs", case_dir, "--output-dir", out,
                                    "--repeat", "1"], capture_output=True, text=True)
                if r.returncode:
                    print(f"FAIL {name}{how} {list(x.shape)}: kiln exited {r.returncode}: "
                          f"{r.stderr.strip()}")
                    failed += 1
                    continue
                for i, w in enumerate(want):
                    got = numpy_helper.to_array(onnx.load_tensor(os.path.join(out, f"output_{i}.pb")))
                    if np.issubdtype(w.dtype, np.floating):
                        with np.errstate(invalid="ignore"):  # inf - inf: equal ones pass
                            ok = got.shape == w.shape and bool(np.all(
                                (got == w) | (np.abs(got - w) <= 1e-4 + 1e-3 * np.abs(w))))
                    else:
                        ok = got.shape == w.shape and bool(np.array_equal(got, w))
                    print(f"{'ok  ' if ok else 'FAIL'} {name}{how} {list(x.shape)} output {i}: "
                          f"{list(got.shape)} (want {list(w.shape)})")
                    failed += not ok
    for name, (nodes, inits, shape, case, says) in RUN_REFUSED.items():
        path = os.path.join(work, f"{name}.onnx")
        build(name, nodes, shape, TensorProto.FLOAT, inits, TensorProto.FLOAT, path)
        case_dir = os.path.join(work, f"{name}_0")
        os.makedirs(case_dir, exist_ok=True)
        with open(os.path.join(case_dir, "input_0.pb"), "wb") as fh:
            fh.write(numpy_helper.from_array(input_of(shape, TensorProto.FLOAT, case), "x")
                     .SerializeToString())
        spec = "x=" + "x".join("?" if isinstance(d, str) else str(d) for d in shape)
        r = subprocess.run([kiln, "run", path, "--shape", spec, "--inputs", case_dir,
                            "--output-dir", os.path.join(case_dir, "out"), *extra],
                           capture_output=True, text=True)
        ok = r.returncode != 0 and says in r.stderr
        print(f"{'ok  ' if ok else 'FAIL'} {name} refused at {list(case)}: {r.stderr.strip()}")
        failed += not ok
    for name, (nodes, shape, dtype, inits, out_dtype, says) in REFUSED.items():
        path = os.path.join(work, f"{name}.onnx")
        build(name, nodes, shape, dtype, inits, out_dtype, path)
        spec = "x=" + "x".join("?" if isinstance(d, str) else str(d) for d in shape)
        r = subprocess.run([kiln, "dump", path, "--shape", spec, *extra],
                           capture_output=True, text=True)
        ok = r.returncode != 0 and says in r.stderr
        print(f"{'ok  ' if ok else 'FAIL'} {name} refused: {r.stderr.strip()}")
        failed += not ok
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
