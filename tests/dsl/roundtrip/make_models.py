#!/usr/bin/env python3
"""Writes the ONNX models tests/unit_dsl_roundtrip.c prints as DSL, reads back, and runs
against the original: the shapes of graph trained models have that a DSL printer gets
wrong easily. Run with the project venv:  .venv/bin/python tests/dsl/roundtrip/make_models.py
  if_outer     If branches whose results are outer values (inputs, weights, computed),
               or computed from them, one If nested in another; a condition given at run time
  odd_names    a graph called `model`; inputs, values, outputs, weights and dims named by
               DSL keywords or with '.', '/', ':', '-', '`', '\\', spaces, leading digits
  free_dims    symbolic batch and spatial dims (N, H, W, an anonymous one) through Conv,
               pooling and a Shape -> Gather -> Concat -> Reshape chain
  any_rank     an input without a shape
  constants    Constant nodes of more than 16 values, in each form (value, value_floats,
               value_ints)
  many_weights weights of 17 to a few thousand elements of several types, Constant nodes,
               tensor attributes, and small constants holding -0, inf, NaN and INT64_MIN"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT
rng = np.random.default_rng(7)


def vi(name, dims, t=F):
    return helper.make_tensor_value_info(name, t, list(dims))


def init(name, shape, dtype=np.float32):
    a = rng.standard_normal(shape) if np.dtype(dtype).kind == "f" else rng.integers(0, 5, shape)
    return numpy_helper.from_array(np.asarray(a, dtype=dtype), name)


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs, name=f"{op}_{outs[0]}", **attrs)


def save(file, graph_name, nodes, inputs, outputs, inits=(), check=True):
    g = helper.make_graph(nodes, graph_name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    if check:
        onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(HERE, file + ".onnx"))


def branch(name, nodes, outputs, inits=()):
    return helper.make_graph(nodes, name, [], outputs, initializer=list(inits))


# ---- If whose branches use outer values -------------------------------------------------
X = (3, 8)
inner = helper.make_node(
    "If", ["c2"], ["n"], name="inner_if",
    then_branch=branch("inner_then", [node("Sub", ["r", "w"], ["n_t"])], [vi("n_t", X)]),
    else_branch=branch("inner_else", [], [vi("x", X)]))  # an outer-outer input as is
then_g = branch("then", [node("Add", ["r", "w"], ["t0"]), inner, node("Mul", ["n", "k"], ["t2"])],
                [vi("t0", X), vi("t2", X), vi("w", X)])
else_g = branch("else", [node("Mul", ["x", "w_else"], ["e1"])],
                [vi("r", X), vi("e1", X), vi("w", X)],  # an outer computed value, as is
                inits=[init("w_else", X)])
save("if_outer", "if_outer", [
    node("Relu", ["x"], ["r"]),
    helper.make_node("If", ["c"], ["y0", "y1", "y2"], name="outer_if",
                     then_branch=then_g, else_branch=else_g),
], [vi("x", X), vi("c", (), TensorProto.BOOL), vi("c2", (1,), TensorProto.BOOL)],
    [vi("y0", X), vi("y1", X), vi("y2", X)],
    [init("w", X), init("k", (8,))],
    check=False)  # the checker wants every branch output made by a node; kiln does not

# ---- names the DSL must quote -------------------------------------------------------------
odd = ["model", "def", "import", "param", "repeat", "return", "seed", "none", "_", "f32",
       "conv1.weight", "a/b", "x:0", "my-name", "123", "1abc", "a`b", "back\\slash",
       "two words", "Relu", "#hash"]
S = ("batch-size", "model")
inputs = [vi("def", S), vi("1st:input", S)]
nodes, prev = [], "def"
for i, name in enumerate(odd):
    if name == "def":
        continue
    op = ["Add", "Mul", "Sub"][i % 3]
    nodes.append(helper.make_node(op, [prev, "1st:input" if i % 2 else "layer.0/w-1"], [name],
                                  name=f"node/{i}"))
    prev = name
nodes.append(helper.make_node("Relu", ["a`b"], ["out:relu"], name="r"))
save("odd_names", "model", nodes, inputs,
     [vi("#hash", S), vi("a`b", S), vi("out:relu", S), vi("x:0", S)],
     [init("layer.0/w-1", (5, 60))])
# with the free dims bound to 5 x 60, the weight broadcasts (300 elements)

# ---- free dims ----------------------------------------------------------------------------
save("free_dims", "free dims", [
    node("Conv", ["x", "cw", "cb"], ["conv"]),  # a 3x3 window: no padding
    node("Relu", ["conv"], ["relu"]),
    node("MaxPool", ["relu"], ["pool"], kernel_shape=[2, 2], strides=[2, 2]),
    node("Conv", ["pool", "cw2"], ["conv2"], pads=[1, 1, 1, 1]),
    node("GlobalAveragePool", ["conv2"], ["gap"]),
    node("Shape", ["x"], ["shape"]),
    node("Gather", ["shape", "zero"], ["batch"], axis=0),
    node("Concat", ["batch", "minus1"], ["new_shape"], axis=0),
    node("Reshape", ["gap", "new_shape"], ["flat"]),
    node("Gemm", ["flat", "fc"], ["logits"]),
    # shapes computed at run time reach the branches through outer values
    helper.make_node("If", ["use_bias"], ["y"], name="maybe_bias",
                     then_branch=branch("with", [node("Add", ["logits", "bias_in"], ["yb"])],
                                        [vi("yb", ("N", 10))]),
                     else_branch=branch("without", [node("Relu", ["logits"], ["yr"])],
                                        [vi("yr", ("N", 10))])),
], [vi("x", ("N", 3, "H", "W")), vi("bias_in", ("N", None)), vi("use_bias", (), TensorProto.BOOL)],
    [vi("y", ("N", 10)), vi("flat", ("N", 6))],
    [init("cw", (4, 3, 3, 3)), init("cb", (4,)), init("cw2", (6, 4, 3, 3)),
     init("fc", (6, 10)),
     numpy_helper.from_array(np.array([0], np.int64), "zero"),
     numpy_helper.from_array(np.array([-1], np.int64), "minus1")])

# ---- many weights of several types --------------------------------------------------------
special = np.array([-0.0, 0.0, np.inf, -np.inf, np.nan, 1.5, -2.25, 3e-39], np.float32)
save("many_weights", "many_weights", [
    node("MatMul", ["x", "w1"], ["h1"]),
    node("Add", ["h1", "b1"], ["h2"]),
    node("Tanh", ["h2"], ["h3"]),
    node("MatMul", ["h3", "w2"], ["h4"]),
    helper.make_node("Constant", [], ["cnode"], name="const_node",
                     value=numpy_helper.from_array(rng.standard_normal((1, 40)).astype(np.float32))),
    node("Add", ["h4", "cnode"], ["h5"]),
    node("Cast", ["h5"], ["h5d"], to=TensorProto.DOUBLE),
    node("Mul", ["h5d", "wd"], ["h6"]),
    node("Cast", ["h6"], ["y"], to=F),
    node("Cast", ["x", ], ["xh"], to=TensorProto.FLOAT16),
    node("Add", ["xh", "wh"], ["yh"]),
    node("Add", ["ix", "wi"], ["yi"]),
    node("Slice", ["ix", "starts", "ends", "axes", "steps"], ["rev"]),
    node("Div", ["one", "special"], ["recip"]),
    node("IsNaN", ["special"], ["isnan"]),
    node("ConstantOfShape", ["cshape"], ["filled"],
         value=numpy_helper.from_array(np.array([0.25], np.float32))),
    node("Add", ["filled", "wb"], ["fb"]),
], [vi("x", (2, 64)), vi("ix", (2, 20), TensorProto.INT32)],
    [vi("y", (2, 40)), vi("yh", (2, 64), TensorProto.FLOAT16),
     vi("yi", (2, 20), TensorProto.INT32), vi("rev", (2, 20), TensorProto.INT32),
     vi("recip", (8,)), vi("isnan", (8,), TensorProto.BOOL), vi("fb", (3, 17))],
    [init("w1", (64, 32)), init("b1", (32,)), init("w2", (32, 40)), init("wd", (40,), np.float64),
     init("wh", (64,), np.float16), init("wi", (2, 20), np.int32), init("wb", (17,)),
     numpy_helper.from_array(special, "special"),
     numpy_helper.from_array(np.array([1.0], np.float32), "one"),
     numpy_helper.from_array(np.array([-1], np.int64), "starts"),
     numpy_helper.from_array(np.array([np.iinfo(np.int64).min], np.int64), "ends"),
     numpy_helper.from_array(np.array([1], np.int64), "axes"),
     numpy_helper.from_array(np.array([-1], np.int64), "steps"),
     numpy_helper.from_array(np.array([3, 17], np.int64), "cshape")])

# an input without a shape: its rank too is given when compiling
save("any_rank", "any_rank", [node("Relu", ["x"], ["r"]), node("Add", ["r", "w"], ["y"])],
     [helper.make_tensor_value_info("x", F, None)], [helper.make_tensor_value_info("y", F, None)],
     [init("w", (17,))], check=False)  # the checker wants shapes

# Constant nodes of every form, each with more than 16 values (printed by reference)
save("constants", "constants", [
    helper.make_node("Constant", [], ["cf"], value_floats=[float(i) / 7 for i in range(20)]),
    helper.make_node("Constant", [], ["ci"], value_ints=list(range(-10, 10))),
    helper.make_node("Constant", [], ["ct"],
                     value=numpy_helper.from_array(np.arange(20, dtype=np.float32).reshape(2, 10))),
    node("Add", ["x", "cf"], ["y"]),
    node("Cast", ["ci"], ["cif"], to=F),
    node("Mul", ["y", "cif"], ["z"]),
    node("Reshape", ["ct", "shape"], ["ctr"]),
    node("Sub", ["z", "ctr"], ["out"]),
], [vi("x", (20,))], [vi("out", (20,))],
    [numpy_helper.from_array(np.array([-1], np.int64), "shape")])
