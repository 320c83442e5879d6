#!/usr/bin/env python3
"""Small ONNX models for tests/test_api.c, written into OUT_DIR at test time.

good.onnx:   y = Softmax(Relu(x @ W1 + b1) @ W2), x: f32[N, 16] with a free dim N.
             W1[i][j] = ((7i + 3j) % 11 - 5) / 8, b1[j] = (j % 5 - 2) / 4,
             W2[i][j] = ((5i + 2j) % 13 - 6) / 16: test_api.c recomputes them.
The others each carry one fault that kiln must report with the right code.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT


def weights():
    i, j = np.meshgrid(np.arange(16), np.arange(32), indexing="ij")
    w1 = ((7 * i + 3 * j) % 11 - 5) / 8.0
    b1 = (np.arange(32) % 5 - 2) / 4.0
    i, j = np.meshgrid(np.arange(32), np.arange(8), indexing="ij")
    w2 = ((5 * i + 2 * j) % 13 - 6) / 16.0
    return [numpy_helper.from_array(a.astype(np.float32), n)
            for a, n in ((w1, "W1"), (b1, "b1"), (w2, "W2"))]


def save(out_dir, name, nodes, inputs, outputs, inits=(), check=True):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out_dir, name + ".onnx"))


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    x = helper.make_tensor_value_info("x", F32, ["N", 16])
    y = helper.make_tensor_value_info("y", F32, ["N", 8])
    mlp = [helper.make_node("MatMul", ["x", "W1"], ["h0"]),
           helper.make_node("Add", ["h0", "b1"], ["h1"]),
           helper.make_node("Relu", ["h1"], ["h2"]),
           helper.make_node("MatMul", ["h2", "W2"], ["h3"]),
           helper.make_node("Softmax", ["h3"], ["y"], axis=-1)]
    save(out_dir, "good", mlp, [x], [y], weights())

    a = helper.make_tensor_value_info("a", F32, [2, 3])
    b = helper.make_tensor_value_info("b", F32, [4, 5])
    c = helper.make_tensor_value_info("c", F32, None)
    save(out_dir, "unknown_op", [helper.make_node("FrobnicateZ", ["a"], ["c"])], [a], [c],
         check=False)
    # Concat's axis is required.
    save(out_dir, "missing_attr", [helper.make_node("Concat", ["a", "a"], ["c"])], [a], [c],
         check=False)
    save(out_dir, "shape_mismatch", [helper.make_node("Add", ["a", "b"], ["c"])], [a, b], [c],
         check=False)

    # An initializer whose bytes live in a file that is not there.
    w = TensorProto(name="w_ext", data_type=F32, dims=[2, 3])
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "missing_weights.bin"), ("offset", "0"), ("length", "24")):
        entry = w.external_data.add()
        entry.key, entry.value = k, v
    save(out_dir, "missing_external", [helper.make_node("Add", ["a", "w_ext"], ["c"])], [a],
         [c], [w], check=False)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_bad_models.py OUT_DIR")
    main(sys.argv[1])
