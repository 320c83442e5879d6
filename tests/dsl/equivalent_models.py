"""Writes the ONNX model equivalent to one of the DSL examples, built independently with
onnx.helper, for tests/unit_dsl_models.c: usage `equivalent_models.py NAME DIR` reads the
DSL model's weights from DIR/*.pb (TensorProto files named as the DSL names its params:
`dense_2.w`, `block_1.conv_bn_3.gamma`) and writes DIR/NAME.onnx."""
import glob
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    """Nodes, initializers and the DSL's per-call name prefixes (`f_<k>.`)."""

    def __init__(self, weights):
        self.weights, self.nodes, self.inits, self.used = weights, [], [], set()
        self.calls, self.prefix, self.n = {}, [], 0

    def enter(self, fn):
        self.calls[fn] = self.calls.get(fn, 0) + 1
        self.prefix.append(f"{fn}_{self.calls[fn]}.")

    def leave(self):
        self.prefix.pop()

    def param(self, name):
        full = "".join(self.prefix) + name
        if full not in self.used:
            self.used.add(full)
            self.inits.append(self.weights[full])
        return full

    def const(self, value, dtype=np.float32):
        self.n += 1
        name = f"k{self.n}"
        self.inits.append(numpy_helper.from_array(np.array(value, dtype=dtype), name))
        return name

    def op(self, op_type, *inputs, **attrs):
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def dense(b, x, n_in, n_out):
    b.enter("dense")
    y = b.op("Add", b.op("MatMul", x, b.param("w")), b.param("b"))
    b.leave()
    return y


def mlp(b):
    h = b.op("Relu", dense(b, "x", 784, 256))
    h = b.op("Relu", dense(b, h, 256, 128))
    return b.op("Softmax", dense(b, h, 128, 10), axis=1), [("x", ["N", 784])], ["N", 10]


def conv_bn(b, x, k, stride, pad):
    b.enter("conv_bn")
    y = b.op("Conv", x, b.param("w"), strides=[stride, stride], pads=[pad] * 4)
    y = b.op("BatchNormalization", y, b.param("gamma"), b.param("beta"), b.param("mean"),
             b.param("var"), epsilon=1e-5)
    b.leave()
    return y


def block(b, x):
    b.enter("block")
    y = b.op("Relu", conv_bn(b, x, 3, 1, 1))
    y = b.op("Relu", b.op("Add", conv_bn(b, y, 3, 1, 1), x))
    b.leave()
    return y


def down_block(b, x):
    b.enter("down_block")
    y = b.op("Relu", conv_bn(b, x, 3, 2, 1))
    left = conv_bn(b, y, 3, 1, 1)
    y = b.op("Relu", b.op("Add", left, conv_bn(b, x, 1, 2, 0)))
    b.leave()
    return y


def resnet18(b):
    x = b.op("Relu", conv_bn(b, "image", 7, 2, 3))
    x = b.op("MaxPool", x, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = block(b, block(b, x))
    for _ in range(3):
        x = block(b, down_block(b, x))
    x = b.op("Flatten", b.op("GlobalAveragePool", x))
    logits = b.op("Gemm", x, b.param("fc_w"), b.param("fc_b"), transB=1)
    return logits, [("image", ["N", 3, 64, 64])], ["N", 10]


def linear(b, x):
    b.enter("linear")
    y = b.op("Add", b.op("MatMul", x, b.param("w")), b.param("b"))
    b.leave()
    return y


def layer_norm(b, x):
    b.enter("layer_norm")
    y = b.op("LayerNormalization", x, b.param("gamma"), b.param("beta"), axis=-1, epsilon=1e-5)
    b.leave()
    return y


def gelu(b, x):  # written as the DSL writes it, with the op table's Erf
    b.enter("gelu")
    half = b.op("Mul", b.const(0.5), x)
    y = b.op("Mul", half, b.op("Add", b.const(1.0), b.op("Erf", b.op("Div", x, b.const(1.4142135623730951)))))
    b.leave()
    return y


def attention(b, x, d, h):
    b.enter("attention")
    dh = d // h

    def heads(t):
        b.enter("heads")
        r = b.op("Transpose", b.op("Reshape", t, b.const([0, 0, h, dh], np.int64)), perm=[0, 2, 1, 3])
        b.leave()
        return r

    q = heads(linear(b, x))
    k = heads(linear(b, x))
    v = heads(linear(b, x))
    s = b.op("Div", b.op("MatMul", q, b.op("Transpose", k, perm=[0, 1, 3, 2])), b.const(dh ** 0.5))
    p = b.op("Softmax", s, axis=-1)
    a = b.op("Reshape", b.op("Transpose", b.op("MatMul", p, v), perm=[0, 2, 1, 3]), b.const([0, 0, d], np.int64))
    y = linear(b, a)
    b.leave()
    return y


def encoder_layer(b, x):
    b.enter("encoder_layer")
    y = layer_norm(b, b.op("Add", x, attention(b, x, 64, 4)))
    y = layer_norm(b, b.op("Add", y, linear(b, gelu(b, linear(b, y)))))
    b.leave()
    return y


def encoder(b):
    x = "tokens"
    for _ in range(2):
        x = encoder_layer(b, x)
    return x, [("tokens", [1, 16, 64])], [1, 16, 64]


def main():
    name, folder = sys.argv[1], sys.argv[2]
    weights = {}
    for path in glob.glob(f"{folder}/*.pb"):
        t = onnx.load_tensor(path)
        weights[t.name] = t
    b = Builder(weights)
    out, inputs, out_shape = {"mlp": mlp, "resnet18": resnet18, "encoder": encoder}[name](b)
    b.nodes.append(helper.make_node("Identity", [out], ["result"]))
    graph = helper.make_graph(
        b.nodes, name, [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info("result", TensorProto.FLOAT, out_shape)], b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, f"{folder}/{name}.onnx")


if __name__ == "__main__":
    main()
