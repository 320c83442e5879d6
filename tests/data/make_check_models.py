"""Models for tests/cli_check.sh (`kiln check`), written to OUTDIR:
  bad.onnx          several problems at once: unsupported ops (two of one op, one of another
                    domain), unsupported element types (a graph input's, an op's input's),
                    attribute values (found by inference, by lowering), a shape mismatch, and
                    nodes downstream of them
  free.onnx         free dims: 'N' shared by two inputs, an unnamed one, flowing into outputs
  good.onnx         compiles
  ext.onnx (+ ext.bin), ext_missing.onnx, ext_short.onnx (+ short.bin): external weights
  opset29.onnx      an opset newer than kiln reads, and an unsupported op
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
vi = h.make_tensor_value_info


def model(name, nodes, inputs, outputs, inits=(), opset=17, extra=()):
    g = h.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)] + list(extra),
                     producer_name="cli_check")
    m.ir_version = 8
    return m


def save(name, *args, **kw):
    onnx.save(model(name, *args, **kw), os.path.join(out, name + ".onnx"))


save("bad", [
    h.make_node("FooOp", ["x"], ["f1"], name="foo_a"),
    h.make_node("FooOp", ["x"], ["f2"], name="foo_b"),
    h.make_node("Bar", ["x"], ["b1"], name="bar_1", domain="com.example"),
    h.make_node("Relu", ["f1"], ["r1"], name="after_foo"),
    h.make_node("DepthToSpace", ["x4"], ["d1"], name="d2s", blocksize=2, mode="XYZ"),
    h.make_node("Resize", ["x4", "", "scales"], ["rs"], name="resize_bad", mode="bogus"),
    h.make_node("Resize", ["x4", "", "scales"], ["rn"], name="resize_nearest", mode="nearest",
                nearest_mode="bogus"),
    h.make_node("Add", ["x", "y"], ["sum"], name="add_mismatch"),
    h.make_node("Abs", ["s"], ["s_out"], name="str_abs"),  # strings reach a few ops only
    h.make_node("Relu", ["x"], ["ok"], name="fine"),
    h.make_node("MatMul", ["xb", "xb"], ["e"], name="matmul_bool"),
], [vi("x", T.FLOAT, [2, 3]), vi("x4", T.FLOAT, [1, 4, 2, 2]), vi("y", T.FLOAT, [4, 5]),
    vi("s", T.STRING, [2]), vi("xb", T.BOOL, [2, 2])],
   [vi(n, T.FLOAT, None) for n in ["f2", "b1", "r1", "d1", "rs", "rn", "sum", "s_out", "ok", "e"]],
   [nh.from_array(np.array([1, 1, 2, 2], np.float32), "scales")],
   extra=[h.make_opsetid("com.example", 1)])

save("free", [
    h.make_node("Add", ["x", "y"], ["s"], name="add"),
    h.make_node("ReduceSum", ["s"], ["r"], name="sum", keepdims=0),
    h.make_node("Relu", ["z"], ["zr"], name="relu"),
], [vi("x", T.FLOAT, ["N", 3, 4]), vi("y", T.FLOAT, ["N", 3, 4]), vi("z", T.FLOAT, [2, None])],
   [vi("s", T.FLOAT, None), vi("r", T.FLOAT, None), vi("zr", T.FLOAT, None)])

w = nh.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "w")
save("good", [h.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
              h.make_node("Relu", ["y"], ["z"], name="relu")],
     [vi("x", T.FLOAT, [2, 3])], [vi("z", T.FLOAT, None)], [w])


def external(name, location, data_bytes):
    m = model(name, [h.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
              [vi("x", T.FLOAT, [2, 3])], [vi("y", T.FLOAT, None)], [w])
    t = m.graph.initializer[0]
    t.ClearField("raw_data")
    t.data_location = T.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "48")):
        e = t.external_data.add()
        e.key, e.value = k, v
    if data_bytes is not None:
        with open(os.path.join(out, location), "wb") as f:
            f.write(np.arange(12, dtype=np.float32).tobytes()[:data_bytes])
    onnx.save(m, os.path.join(out, name + ".onnx"))


external("ext", "ext.bin", 48)
external("ext_missing", "gone.bin", None)
external("ext_short", "short.bin", 20)

save("opset29", [h.make_node("Relu", ["x"], ["r"], name="relu"),
                 h.make_node("FooOp", ["r"], ["y"], name="foo")],
     [vi("x", T.FLOAT, [2])], [vi("y", T.FLOAT, None)], opset=29)
