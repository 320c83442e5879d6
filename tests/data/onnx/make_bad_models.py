#!/usr/bin/env python3
"""Writes the small ONNX models tests/unit_onnx_import.c reads: malformed or unsupported
models for the importer's error paths, and old-opset forms for its rewriting.
Run with the project venv:  .venv/bin/python tests/data/onnx/make_bad_models.py
(no checker: several models are invalid on purpose)."""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
F = TensorProto.FLOAT


def vi(name, dims=(2, 3), t=F):
    return helper.make_tensor_value_info(name, t, list(dims))


def save(name, nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g_" + name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


def relu(i, o, name=""):
    return helper.make_node("Relu", [i], [o], name=name)


# Several unsupported ops, one inside an If branch and one from another domain.
then_g = helper.make_graph([helper.make_node("Baz", ["r"], ["t"], name="d")], "then", [], [vi("t")])
else_g = helper.make_graph([relu("r", "e")], "else", [], [vi("e")])
save("unknown_ops", [
    relu("x", "r"),
    helper.make_node("Foo", ["r"], ["f1"], name="a"),
    helper.make_node("Foo", ["f1"], ["f2"], name="b"),
    helper.make_node("Bar", ["f2"], ["f3"], name="c"),
    helper.make_node("Fused", ["f3"], ["f4"], name="e", domain="com.example"),
    helper.make_node("If", ["cond"], ["y"], name="if0", then_branch=then_g, else_branch=else_g),
], [vi("x"), vi("cond", (), TensorProto.BOOL)], [vi("y")])

save("undefined_input", [relu("nope", "y", "r0")], [vi("x")], [vi("y")])
save("undefined_output", [relu("x", "y", "r0")], [vi("x")], [vi("missing")])
save("opset29", [relu("x", "y")], [vi("x")], [vi("y")], opset=29)
save("duplicate_value", [relu("x", "y", "r0"), relu("x", "y", "r1")], [vi("x")], [vi("y")])
save("relu_two_inputs", [helper.make_node("Relu", ["x", "x"], ["y"], name="r2")], [vi("x")], [vi("y")])

seq = helper.make_tensor_sequence_value_info("s", F, [2])
save("sequence_input", [relu("x", "y")], [vi("x"), seq], [vi("y")])

# Free dims: a named one, an anonymous one, a fixed one; an initializer listed as input.
x = helper.make_tensor_value_info("x", F, ["N", None, 4])
w = numpy_helper.from_array(np.arange(4, dtype=np.float32), "w")
save("dims_and_inits", [helper.make_node("Add", ["x", "w"], ["y"], name="add0")],
     [x, vi("w", (4,))], [vi("y", ("N", None, 4))], inits=[w])

# Initializers in typed fields (not raw_data), one per field kind.
typed = [
    helper.make_tensor("f32", F, [2], [1.5, -2.0]),
    helper.make_tensor("i8", TensorProto.INT8, [3], [-1, 2, -128]),
    helper.make_tensor("u16", TensorProto.UINT16, [1], [65535]),
    helper.make_tensor("b", TensorProto.BOOL, [2], [1, 0]),
    helper.make_tensor("h", TensorProto.FLOAT16, [1], [1.0]),  # stored as f16 bits
    helper.make_tensor("i64", TensorProto.INT64, [2, 1], [7, -9]),
    helper.make_tensor("f64", TensorProto.DOUBLE, [], [3.25]),
    helper.make_tensor("u32", TensorProto.UINT32, [1], [4000000000]),
    helper.make_tensor("u64", TensorProto.UINT64, [1], [2**63 + 5]),
    helper.make_tensor("empty", F, [0, 3], []),
]
save("typed_inits", [relu("x", "y")], [vi("x")], [vi("y")], inits=typed)

# Constant nodes of each kind (value, value_float(s), value_int(s)).
save("constants", [
    helper.make_node("Constant", [], ["c0"], value=numpy_helper.from_array(np.ones((2, 3), np.float32))),
    helper.make_node("Constant", [], ["c1"], value_float=2.5),
    helper.make_node("Constant", [], ["c2"], value_floats=[1.0, 2.0]),
    helper.make_node("Constant", [], ["c3"], value_int=-4),
    helper.make_node("Constant", [], ["c4"], value_ints=[1, 2, 3]),
    helper.make_node("Add", ["x", "c0"], ["y"], name="add0"),
], [vi("x")], [vi("y"), vi("c3", ()), vi("c4", (3,))])
save("constant_string", [helper.make_node("Constant", [], ["c"], name="cs", value_string="hi"),
                         relu("x", "y")], [vi("x")], [vi("y")])

# Bad tensors.
bad = helper.make_tensor("short", F, [2], [1.0, 2.0])
bad.dims[0] = 6
save("short_tensor", [relu("x", "y")], [vi("x")], [vi("y")], inits=[bad])
s = helper.make_tensor("names", TensorProto.STRING, [1], [b"a"])
save("string_tensor", [relu("x", "y")], [vi("x")], [vi("y")], inits=[s])
neg = helper.make_tensor("neg", F, [1], [1.0])
neg.dims[0] = -1
save("negative_dim", [relu("x", "y")], [vi("x")], [vi("y")], inits=[neg])
big = helper.make_tensor("big", F, [1], [1.0])
del big.dims[:]
big.dims.extend([2**40, 2**40, 2**40])
save("overflow_dims", [relu("x", "y")], [vi("x")], [vi("y")], inits=[big])
rk = helper.make_tensor("deep", F, [1] * 9, [1.0])
save("rank9_tensor", [relu("x", "y")], [vi("x")], [vi("y")], inits=[rk])


def external(name, location, length=None):
    t = helper.make_tensor(name, F, [2, 2], [0.0] * 4)
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    if length is not None:
        e = t.external_data.add()
        e.key, e.value = "length", str(length)
    return t


for name, loc in [("ext_ok", "ext_ok.bin"), ("ext_missing", "no_such_weights.bin"),
                  ("ext_escape", "../secret.bin"), ("ext_absolute", "/etc/passwd"),
                  ("ext_short", "ext_short.bin")]:
    save(name, [relu("x", "y")], [vi("x")], [vi("y")], inits=[external("w", loc)])
with open(os.path.join(HERE, "ext_ok.bin"), "wb") as f:
    f.write(np.array([1, 2, 3, 4], np.float32).tobytes())
with open(os.path.join(HERE, "ext_short.bin"), "wb") as f:
    f.write(b"\0" * 7)

# Sparse tensor attribute (unsupported) on a known op.
sp = helper.make_sparse_tensor(helper.make_tensor("v", F, [1], [1.0]),
                               helper.make_tensor("i", TensorProto.INT64, [1], [0]), [2])
n = helper.make_node("Relu", ["x"], ["y"], name="rs")
n.attribute.append(helper.make_attribute("sp", sp))
save("sparse_attr", [n], [vi("x")], [vi("y")])

# Old opset forms, rewritten to the newest signature at import (ops need not be known).
save("old_split", [helper.make_node("Split", ["x"], ["a", "b"], name="sp", axis=1, split=[1, 2])],
     [vi("x")], [vi("a"), vi("b")], opset=11)
save("old_forms", [
    helper.make_node("Unsqueeze", ["x"], ["u"], name="uq", axes=[0]),
    helper.make_node("Squeeze", ["u"], ["q"], name="sq", axes=[0]),
    helper.make_node("ReduceMean", ["q"], ["m"], name="rm", axes=[1], keepdims=1),
    helper.make_node("Pad", ["q"], ["p"], name="pd", pads=[0, 1, 0, 1], value=1.5, mode="constant"),
    helper.make_node("Clip", ["p"], ["c"], name="cl", max=6.0),
    helper.make_node("Slice", ["c"], ["s"], name="sl", starts=[0], ends=[1], axes=[0]),
    helper.make_node("Softmax", ["s"], ["sm"], name="smx"),
    helper.make_node("Dropout", ["sm"], ["d"], name="dr", ratio=0.5),
    helper.make_node("Upsample", ["d"], ["y"], name="up", scales=[1.0, 2.0], mode="nearest"),
], [vi("x")], [vi("y"), vi("m")], opset=7)
save("old_reshape", [helper.make_node("Reshape", ["x"], ["y"], name="rs", shape=[3, 2])],
     [vi("x")], [vi("y", (3, 2))], opset=4)
save("old_resize", [helper.make_node("Resize", ["x", "sc"], ["y"], name="rz", mode="nearest")],
     [vi("x"), vi("sc", (2,))], [vi("y")], opset=10)

# Omitted optional inputs and outputs ("" names) become -1.
save("empty_names", [helper.make_node("Foo", ["x", "", "x"], ["a", "", ""], name="f")],
     [vi("x")], [vi("a")])
