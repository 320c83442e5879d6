#!/usr/bin/env python3
"""Whole-model tests for kiln: real architectures built with onnx.helper and fixed seeds.

    gen_models.py OUT_DIR [--models mlp,resnet18,...]

For each model writes OUT_DIR/<name>/model.onnx and test_data_set_0/{input,output}_<i>.pb.
Weights are random but He/Xavier-scaled (and residual branches damped, as trained networks
are) so activations stay O(1) and a wrong kernel cannot hide under rounding.
References come from onnxruntime on the CPU with graph optimizations DISABLED, so they are
ONNX's op-by-op semantics and not those of ORT's fused kernels.
A model is regenerated only when this script changes (stamp = hash of the script).
"""
import argparse
import hashlib
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Builder:
    """Accumulates nodes and initializers; every op helper returns its output name."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, array, hint="w"):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def normal(self, shape, std, hint="w"):
        return self.const(self.rng.normal(0.0, std, shape).astype(np.float32), hint)

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def model(self, inputs, outputs, name):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="kiln gen_models.py")
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


# ---- convolutional networks ---------------------------------------------------------------

def conv_bn(b, x, cin, cout, k, stride=1, group=1, gamma=1.0):
    """Conv (no bias) + BatchNormalization, as exported from a PyTorch model in eval mode."""
    fan_in = cin // group * k * k
    w = b.normal((cout, cin // group, k, k), np.sqrt(2.0 / fan_in), "conv_w")
    y = b.op("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride],
             pads=[k // 2] * 4, group=group)
    scale = b.const((gamma * b.rng.uniform(0.8, 1.2, cout)).astype(np.float32), "bn_scale")
    bias = b.const(b.rng.normal(0.0, 0.1, cout).astype(np.float32), "bn_bias")
    mean = b.const(b.rng.normal(0.0, 0.1, cout).astype(np.float32), "bn_mean")
    var = b.const(b.rng.uniform(0.8, 1.2, cout).astype(np.float32), "bn_var")
    return b.op("BatchNormalization", [y, scale, bias, mean, var], epsilon=1e-5)


def classifier(b, x, channels, classes=1000):
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    w = b.normal((classes, channels), np.sqrt(1.0 / channels), "fc_w")
    bias = b.const(b.rng.normal(0.0, 0.01, classes).astype(np.float32), "fc_b")
    return b.op("Gemm", [x, w, bias], transB=1)


def resnet(depth):
    b = Builder(seed=depth)
    bottleneck = depth == 50
    blocks = {18: [2, 2, 2, 2], 50: [3, 4, 6, 3]}[depth]
    x = b.op("Relu", [conv_bn(b, "input", 3, 64, 7, stride=2)])
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for stage, n in enumerate(blocks):
        width = 64 << stage
        cout = width * 4 if bottleneck else width
        for i in range(n):
            stride = 2 if stage > 0 and i == 0 else 1
            # The branch's last BN is damped so the residual sum grows slowly with depth.
            if bottleneck:
                y = b.op("Relu", [conv_bn(b, x, cin, width, 1)])
                y = b.op("Relu", [conv_bn(b, y, width, width, 3, stride)])
                y = conv_bn(b, y, width, cout, 1, gamma=0.3)
            else:
                y = b.op("Relu", [conv_bn(b, x, cin, width, 3, stride)])
                y = conv_bn(b, y, width, cout, 3, gamma=0.3)
            skip = conv_bn(b, x, cin, cout, 1, stride) if stride != 1 or cin != cout else x
            x = b.op("Relu", [b.op("Add", [y, skip])])
            cin = cout
    y = classifier(b, x, cin)
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])
    out = helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 1000])
    return b.model([inp], [out], f"resnet{depth}"), b.rng


def mobilenet_v2():
    b = Builder(seed=2)
    lo, hi = b.const(np.float32(0.0), "relu6_min"), b.const(np.float32(6.0), "relu6_max")
    relu6 = lambda t: b.op("Clip", [t, lo, hi])
    x = relu6(conv_bn(b, "input", 3, 32, 3, stride=2))
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = relu6(conv_bn(b, x, cin, hidden, 1)) if t != 1 else x
            y = relu6(conv_bn(b, y, hidden, hidden, 3, stride, group=hidden))
            residual = stride == 1 and cin == c
            y = conv_bn(b, y, hidden, c, 1, gamma=0.3 if residual else 1.0)
            x = b.op("Add", [x, y]) if residual else y
            cin = c
    x = relu6(conv_bn(b, x, cin, 1280, 1))
    y = classifier(b, x, 1280)
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])
    out = helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 1000])
    return b.model([inp], [out], "mobilenetv2"), b.rng


# ---- fully connected, recurrent, attention --------------------------------------------------

def linear(b, x, fin, fout, gemm=False):
    """Gemm (2-D, PyTorch's [out, in] weight) or MatMul + Add (N-D, [in, out] weight)."""
    bias = b.const(b.rng.normal(0.0, 0.02, fout).astype(np.float32), "b")
    if gemm:
        return b.op("Gemm", [x, b.normal((fout, fin), np.sqrt(2.0 / fin)), bias], transB=1)
    return b.op("Add", [b.op("MatMul", [x, b.normal((fin, fout), np.sqrt(1.0 / fin))]), bias])


def mlp(batch, name):
    b = Builder(seed=784)
    x = b.op("Relu", [linear(b, "input", 784, 512, gemm=True)])
    x = b.op("Relu", [linear(b, x, 512, 512, gemm=True)])
    y = linear(b, x, 512, 10, gemm=True)
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 784])
    out = helper.make_tensor_value_info(y, TensorProto.FLOAT, [batch, 10])
    return b.model([inp], [out], name), b.rng


def lstm():
    seq, feat, hidden, classes = 32, 64, 128, 10
    b = Builder(seed=32)
    s = 1.0 / np.sqrt(hidden)  # PyTorch's LSTM init: U(-1/sqrt(h), 1/sqrt(h))
    w = b.const(b.rng.uniform(-s, s, (1, 4 * hidden, feat)).astype(np.float32), "lstm_w")
    r = b.const(b.rng.uniform(-s, s, (1, 4 * hidden, hidden)).astype(np.float32), "lstm_r")
    bias = b.const(b.rng.uniform(-s, s, (1, 8 * hidden)).astype(np.float32), "lstm_b")
    y_h = b.name("y_h")
    b.nodes.append(helper.make_node("LSTM", ["input", w, r, bias], ["", y_h], name="lstm",
                                    hidden_size=hidden))
    x = b.op("Reshape", [y_h, b.const(np.array([1, hidden], np.int64), "shape")])
    y = linear(b, x, hidden, classes, gemm=True)
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [seq, 1, feat])
    out = helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, classes])
    return b.model([inp], [out], "lstm"), b.rng


def layer_norm(b, x, hidden, decomposed):
    gamma = b.const(b.rng.uniform(0.8, 1.2, hidden).astype(np.float32), "ln_gamma")
    beta = b.const(b.rng.normal(0.0, 0.1, hidden).astype(np.float32), "ln_beta")
    if not decomposed:
        return b.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-12)
    # The form torch.onnx exports below opset 17.
    mean = b.op("ReduceMean", [x], axes=[-1])
    d = b.op("Sub", [x, mean])
    var = b.op("ReduceMean", [b.op("Pow", [d, b.const(np.float32(2.0), "two")])], axes=[-1])
    std = b.op("Sqrt", [b.op("Add", [var, b.const(np.float32(1e-12), "eps")])])
    return b.op("Add", [b.op("Mul", [b.op("Div", [d, std]), gamma]), beta])


def bert(layers, hidden, heads, inter, seq, vocab, decomposed_ln):
    b = Builder(seed=hidden)
    dh = hidden // heads
    i64 = lambda v: b.const(np.array(v, np.int64), "shape")
    f32 = lambda v: b.const(np.float32(v), "c")
    words = b.normal((vocab, hidden), 1.0, "word_emb")
    positions = b.normal((seq, hidden), 0.5, "pos_emb")
    x = b.op("Add", [b.op("Gather", [words, "input_ids"], axis=0), positions])
    x = layer_norm(b, x, hidden, decomposed_ln)
    # Additive mask as BERT exports build it: (1 - mask) * -10000, broadcast over heads.
    mask = b.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = b.op("Unsqueeze", [mask, i64([1, 2])])
    mask = b.op("Mul", [b.op("Sub", [f32(1.0), mask]), f32(-10000.0)])
    for _ in range(layers):
        def heads_of(t, perm):
            t = b.op("Reshape", [t, i64([1, seq, heads, dh])])
            return b.op("Transpose", [t], perm=perm)
        q = heads_of(linear(b, x, hidden, hidden), [0, 2, 1, 3])
        k = heads_of(linear(b, x, hidden, hidden), [0, 2, 3, 1])
        v = heads_of(linear(b, x, hidden, hidden), [0, 2, 1, 3])
        scores = b.op("Div", [b.op("MatMul", [q, k]), f32(np.sqrt(dh))])
        probs = b.op("Softmax", [b.op("Add", [scores, mask])], axis=-1)
        ctx = b.op("Transpose", [b.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        ctx = b.op("Reshape", [ctx, i64([1, seq, hidden])])
        x = layer_norm(b, b.op("Add", [linear(b, ctx, hidden, hidden), x]), hidden,
                       decomposed_ln)
        h = linear(b, x, hidden, inter)
        gelu = b.op("Erf", [b.op("Div", [h, f32(np.sqrt(2.0))])])
        h = b.op("Mul", [b.op("Mul", [h, b.op("Add", [gelu, f32(1.0)])]), f32(0.5)])
        x = layer_norm(b, b.op("Add", [linear(b, h, inter, hidden), x]), hidden,
                       decomposed_ln)
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, seq]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, [1, seq])]
    out = helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, seq, hidden])
    return b.model(inputs, [out], f"bert_{layers}x{hidden}"), b.rng


def gathers():
    """Data-dependent indexing: an embedding lookup and a GatherElements, whose indices
    kiln checks at run time (bench/ measures what the checks cost)."""
    b = Builder(seed=11)
    table = b.normal((8192, 768), 1.0, "word_emb")
    emb = b.op("Gather", [table, "input_ids"], axis=0)
    picked = b.op("GatherElements", ["x", "positions"], axis=1)
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 512]),
              helper.make_tensor_value_info("x", TensorProto.FLOAT, [256, 1024]),
              helper.make_tensor_value_info("positions", TensorProto.INT64, [256, 1024])]
    outs = [helper.make_tensor_value_info(emb, TensorProto.FLOAT, [1, 512, 768]),
            helper.make_tensor_value_info(picked, TensorProto.FLOAT, [256, 1024])]
    return b.model(inputs, outs, "gathers"), b.rng


def quantized():
    """The integer paths of quantized exports: a static QLinearConv (u8 activations, i8
    per-channel weights, i32 bias) between QuantizeLinear and DequantizeLinear, a
    QLinearMatMul with a u8 output, and a dynamically quantized MatMul (DynamicQuantizeLinear
    -> MatMulInteger -> rescale), as onnxruntime's quantize_dynamic writes them. The i8
    weights are 7-bit (onnxruntime's reduce_range): on AVX2 without VNNI onnxruntime's u8 x i8
    kernels add pairs of products in int16 (vpmaddubsw), which saturates for full-range
    weights (outputs off by up to 10 against ONNX's reference evaluator); with 7 bits the
    pairs fit and onnxruntime is exact on every x86 CPU."""
    b = Builder(seed=12)
    rng = b.rng
    f32, u8, i8 = np.float32, np.uint8, np.int8
    xq = b.op("QuantizeLinear", ["x", b.const(f32(0.05), "xs"), b.const(u8(128), "xzp")])
    w = b.const(rng.integers(-64, 64, (8, 3, 3, 3)).astype(i8), "w1")
    ws = b.const((rng.random(8) * 0.01 + 0.005).astype(f32), "w1_scale")
    wzp = b.const(np.zeros(8, i8), "w1_zp")
    bias = b.const(rng.integers(-500, 500, 8).astype(np.int32), "b1")
    ys, yzp = b.const(f32(0.1), "ys"), b.const(u8(100), "yzp")
    c1 = b.op("QLinearConv", [xq, b.const(f32(0.05), "xs"), b.const(u8(128), "xzp"), w, ws, wzp,
                              ys, yzp, bias], pads=[1, 1, 1, 1])
    d1 = b.op("DequantizeLinear", [c1, ys, yzp])
    flat = b.op("Flatten", [b.op("Relu", [d1])], axis=1)
    fq = b.name("fq")
    fs, fzp = b.name("fs"), b.name("fzp")
    b.nodes.append(helper.make_node("DynamicQuantizeLinear", [flat], [fq, fs, fzp], name=fq))
    wd = b.const(rng.integers(0, 256, (2048, 10)).astype(u8), "w2")
    acc = b.op("MatMulInteger", [fq, wd, fzp, b.const(u8(128), "w2_zp")])
    scale = b.op("Mul", [fs, b.const(f32(0.002), "w2_scale")])
    out1 = b.op("Mul", [b.op("Cast", [acc], to=TensorProto.FLOAT), scale], "logits")
    c1r = b.op("Reshape", [c1, b.const(np.array([8, 256], np.int64), "shape")])
    w3 = b.const(rng.integers(-64, 64, (256, 4)).astype(i8), "w3")
    out2 = b.op("QLinearMatMul", [c1r, ys, yzp, w3, b.const(f32(0.004), "w3_scale"),
                                  b.const(i8(0), "w3_zp"), b.const(f32(0.5), "y3_scale"),
                                  b.const(u8(64), "y3_zp")], "q_out")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])]
    outs = [helper.make_tensor_value_info(out1, TensorProto.FLOAT, [1, 10]),
            helper.make_tensor_value_info(out2, TensorProto.UINT8, [8, 4])]
    return b.model(inputs, outs, "quantized"), b.rng


def concats():
    """Concats whose inputs kernels write straight into their slots (kiln's in-place
    Concat): along channels of a batch-2 CNN in the blocked layout (strided slots), a value
    placed in one Concat and read by a conv and by a second Concat too, a Concat of a
    Concat, along the last axis and along the batch; in a batch-1 sequence block along the
    sequence (one row: a plain offset) and along features (register-tile GEMMs storing into
    strided slots). Graph inputs and reshapes join Concats too (those are copied), one
    under a Softmax along the joined axis."""
    b = Builder(seed=14)
    f32 = np.float32

    def conv1(x, cin, cout):
        w = b.normal((cout, cin, 1, 1), np.sqrt(2.0 / cin), "conv_w")
        return b.op("Conv", [x, w, b.const(b.rng.normal(0, 0.1, cout).astype(f32), "conv_b")])

    x = "x"
    a = b.op("Relu", [conv_bn(b, x, 8, 8, 3)])
    br = b.op("Relu", [conv1(x, 8, 16)])
    c = b.op("MaxPool", [x], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    y = b.op("Concat", [a, br, c], axis=1)                        # [2, 32, 12, 12]
    y2 = b.op("Concat", [y, b.op("Relu", [conv1(y, 32, 8)])], axis=1)  # [2, 40, 12, 12]
    q = b.op("Concat", [x, a], axis=1)                            # a graph input, a placed value
    s1 = b.op("Add", [b.op("Add", [conv1(y2, 40, 16), conv1(a, 8, 16)]), conv1(q, 16, 16)])
    f1 = b.op("Flatten", [b.op("GlobalAveragePool", [b.op("Relu", [s1])])])   # [2, 16]
    w = b.op("Concat", [b.op("Sigmoid", [x]), b.op("Tanh", [x])], axis=3)     # [2, 8, 12, 24]
    w3 = b.normal((8, 8, 3, 3), np.sqrt(2.0 / 72), "conv_w")
    f2 = b.op("Flatten", [b.op("GlobalAveragePool", [b.op("Conv", [w, w3], pads=[1, 1, 1, 1])])])
    e = b.op("Concat", [b.op("Relu", [x]), b.op("Neg", [x])], axis=0)         # [4, 8, 12, 12]
    f3 = b.op("Reshape", [b.op("Flatten", [b.op("GlobalAveragePool", [e])]),
                          b.const(np.array([2, 16], np.int64), "shape")])
    out1 = b.op("Concat", [f1, f2, f3], "features", axis=1)                 # [2, 40]

    s = "s"
    h1 = b.op("Relu", [b.op("Add", [b.op("MatMul", [s, b.normal((16, 16), 0.25)]),
                                    b.const(b.rng.normal(0, 0.1, 16).astype(f32), "bias")])])
    h2 = b.op("MatMul", [s, b.normal((16, 16), 0.25)])
    h = b.op("Concat", [h1, h2], axis=2)                          # [1, 5, 32]
    # a graph input (copied by the Concat's kernel) beside a placed value, under a Softmax
    # along the joined axis: the row fusion must not take the partial copy for all of it
    p = b.op("Softmax", [b.op("Concat", [s, b.op("Relu", [s])], axis=2)], axis=-1)  # [1, 5, 32]
    out2 = b.op("Add", [b.op("MatMul", [h, b.normal((32, 8), 0.2)]),
                        b.op("MatMul", [p, b.normal((32, 8), 2.0)])], "mixed")
    t = b.op("Concat", [b.op("Softmax", [h2], axis=-1), b.op("Exp", [h1])], axis=1)  # [1, 10, 16]
    out3 = b.op("MatMul", [t, b.normal((16, 4), 0.3)], "joined")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8, 12, 12]),
              helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 5, 16])]
    outs = [helper.make_tensor_value_info(out1, TensorProto.FLOAT, [2, 40]),
            helper.make_tensor_value_info(out2, TensorProto.FLOAT, [1, 5, 8]),
            helper.make_tensor_value_info(out3, TensorProto.FLOAT, [1, 10, 4])]
    return b.model(inputs, outs, "concats"), b.rng


def unet():
    """A U-Net decoder and segmentation head: a strided 3x3 Conv down, ConvTranspose back up
    (2x2 stride 2: one tap an output) joined with the skip along channels, a 3x3 Conv,
    InstanceNormalization and LeakyRelu, a ConvTranspose with overlapping taps (4x4 stride
    2, pads 1: DCGAN's), a 1x1 Conv to the classes and a Softmax over them (NCHW's channels:
    rows strided through the image). Plain layout around the transposed convolutions."""
    b = Builder(seed=15)
    f32 = np.float32
    x = "x"
    d = b.op("Relu", [conv_bn(b, x, 16, 32, 3, stride=2)])            # [1, 32, 16, 16]
    u = b.op("ConvTranspose", [d, b.normal((32, 16, 2, 2), 0.25, "up_w"),
                               b.const(b.rng.normal(0, 0.1, 16).astype(f32), "up_b")],
             kernel_shape=[2, 2], strides=[2, 2])                     # [1, 16, 32, 32]
    c = b.op("Concat", [u, x], axis=1)                                # [1, 32, 32, 32]
    v = b.op("Conv", [c, b.normal((16, 32, 3, 3), np.sqrt(2.0 / 288), "conv_w")],
             pads=[1, 1, 1, 1])
    n = b.op("InstanceNormalization", [v, b.const(b.rng.uniform(0.5, 1.5, 16).astype(f32), "in_s"),
                                       b.const(b.rng.normal(0, 0.1, 16).astype(f32), "in_b")])
    a = b.op("LeakyRelu", [n], alpha=0.1)
    g = b.op("ConvTranspose", [a, b.normal((16, 8, 4, 4), 0.2, "gan_w")], kernel_shape=[4, 4],
             strides=[2, 2], pads=[1, 1, 1, 1])                       # [1, 8, 64, 64]
    h = b.op("Conv", [g, b.normal((5, 8, 1, 1), 0.5, "head_w"),
                      b.const(b.rng.normal(0, 0.1, 5).astype(f32), "head_b")])
    y = b.op("Softmax", [h], "classes", axis=1)                       # [1, 5, 64, 64]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 32, 32])]
    outs = [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 5, 64, 64])]
    return b.model(inputs, outs, "unet"), b.rng


def einsums():
    """Einsum equations of every kind kiln lowers as one stage: attention's batched
    products, implicit outputs, "..." with broadcasting, diagonals, three operands."""
    b = Builder(seed=13)
    cases = [("bhqd,bhkd->bhqk", [[2, 3, 4, 8], [2, 3, 5, 8]]),
             ("i,j->ij", [[4], [5]]),
             ("ij,jk", [[4, 6], [6, 3]]),
             ("...ij,jk->...ik", [[2, 1, 4, 6], [6, 3]]),
             ("...i,...i->...", [[2, 1, 4], [1, 3, 4]]),
             ("ij,jk,kl->il", [[3, 4], [4, 5], [5, 2]]),
             ("ii", [[5, 5]]),
             ("Ab,bC->CA", [[3, 4], [4, 2]]),
             ("bij->bji", [[2, 3, 4]])]
    inputs, outs = [], []
    for i, (eq, shapes) in enumerate(cases):
        names = []
        for j, shape in enumerate(shapes):
            names.append(f"e{i}_{j}")
            inputs.append(helper.make_tensor_value_info(names[-1], TensorProto.FLOAT, shape))
        y = b.op("Einsum", names, f"einsum{i}", equation=eq)
        shape = np.einsum(eq, *[np.zeros(sh, np.float32) for sh in shapes]).shape
        outs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, list(shape)))
    return b.model(inputs, outs, "einsums"), b.rng


def grid_samples():
    """GridSample in every mode, padding mode and alignment, on a grid reaching outside
    the image (so padding and reflection matter); volumes (5-D) in the modes they take."""
    b = Builder(seed=14)
    outs = []
    for mode in ("bilinear", "nearest", "bicubic"):
        for pad in ("zeros", "border", "reflection"):
            for align in (0, 1):
                y = b.op("GridSample", ["x", "grid"], f"gs_{mode}_{pad}_{align}", mode=mode,
                         padding_mode=pad, align_corners=align)
                outs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 2, 4, 7]))
    for mode in ("bilinear", "nearest"):  # opset 17's names, as onnxruntime takes them
        for pad in ("zeros", "border", "reflection"):
            for align in (0, 1):
                y = b.op("GridSample", ["v", "vgrid"], f"gs3_{mode}_{pad}_{align}", mode=mode,
                         padding_mode=pad, align_corners=align)
                outs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, 2, 3, 4, 5]))
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 6]),
              helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, 4, 7, 2]),
              helper.make_tensor_value_info("v", TensorProto.FLOAT, [1, 2, 4, 5, 6]),
              helper.make_tensor_value_info("vgrid", TensorProto.FLOAT, [1, 3, 4, 5, 3])]
    return b.model(inputs, outs, "grid_samples"), b.rng


def loops():
    """Loops compiled once and run as loops: a trip count given at run time (`steps`), a
    while loop whose condition comes from the data, carried values that swap (a, b) ->
    (b, a + b), scan outputs, and a loop nested in another's body."""
    b = Builder(seed=15)
    w = b.normal((16, 16), 0.25, "w")
    bias = b.normal((16,), 0.1, "bias")
    hundredth = b.const(np.array(0.01, np.float32), "hundredth")

    def body(nodes, ins, outs, name):
        return helper.make_graph(nodes, name, ins, outs)

    def vi(name, t, shape):
        return helper.make_tensor_value_info(name, t, shape)

    # A: h <- tanh(h W + bias) + 0.01 i, `steps` times (a run-time trip count)
    a = body([helper.make_node("MatMul", ["a_h", w], ["a_mm"]),
              helper.make_node("Add", ["a_mm", bias], ["a_add"]),
              helper.make_node("Tanh", ["a_add"], ["a_t"]),
              helper.make_node("Cast", ["a_i"], ["a_if"], to=TensorProto.FLOAT),
              helper.make_node("Mul", ["a_if", hundredth], ["a_step"]),
              helper.make_node("Add", ["a_t", "a_step"], ["a_out"]),
              helper.make_node("Identity", ["a_c"], ["a_cout"])],
             [vi("a_i", TensorProto.INT64, []), vi("a_c", TensorProto.BOOL, []),
              vi("a_h", TensorProto.FLOAT, [4, 16])],
             [vi("a_cout", TensorProto.BOOL, []), vi("a_out", TensorProto.FLOAT, [4, 16])], "a")
    b.nodes.append(helper.make_node("Loop", ["steps", "", "x"], ["h_final"], name="loop_a", body=a))

    # B: 5 iterations, a row of x picked by the iteration, a scan output per iteration and
    # an inner loop of 3 iterations in the body
    four = b.const(np.array(4, np.int64), "four")
    three = b.const(np.array(3, np.int64), "three")
    five = b.const(np.array(5, np.int64), "five")
    half = b.const(np.array(0.5, np.float32), "half")
    yes = b.const(np.array(True), "yes")
    inner = body([helper.make_node("Mul", ["in_v", half], ["in_half"]),
                  helper.make_node("Add", ["in_half", "b_row"], ["in_out"]),
                  helper.make_node("Identity", ["in_c"], ["in_cout"])],
                 [vi("in_i", TensorProto.INT64, []), vi("in_c", TensorProto.BOOL, []),
                  vi("in_v", TensorProto.FLOAT, [16])],
                 [vi("in_cout", TensorProto.BOOL, []), vi("in_out", TensorProto.FLOAT, [16])], "inner")
    bb = body([helper.make_node("Mod", ["b_i", four], ["b_k"]),
               helper.make_node("Gather", ["x", "b_k"], ["b_row"], axis=0),
               helper.make_node("Loop", [three, "", "b_row"], ["b_inner"], body=inner),
               helper.make_node("MatMul", ["b_acc", w], ["b_mm"]),
               helper.make_node("Add", ["b_mm", "b_inner"], ["b_sum"]),
               helper.make_node("Relu", ["b_sum"], ["b_y"]),
               helper.make_node("Mul", ["b_y", half], ["b_hy"]),
               helper.make_node("Add", ["b_acc", "b_hy"], ["b_next"]),
               helper.make_node("Identity", ["b_c"], ["b_cout"])],
              [vi("b_i", TensorProto.INT64, []), vi("b_c", TensorProto.BOOL, []),
               vi("b_acc", TensorProto.FLOAT, [4, 16])],
              [vi("b_cout", TensorProto.BOOL, []), vi("b_next", TensorProto.FLOAT, [4, 16]),
               vi("b_y", TensorProto.FLOAT, [4, 16])], "b")
    b.nodes.append(helper.make_node("Loop", [five, yes, "x"], ["acc_final", "ys"], name="loop_b",
                                    body=bb))

    # C: while sum |v| accumulated stays below 60 (at most 100 iterations); (p, q) <- (q, p + q)
    limit = b.const(np.array(60.0, np.float32), "limit")
    hundred = b.const(np.array(100, np.int64), "hundred")
    nine = b.const(np.array(0.9, np.float32), "nine")
    one = b.const(np.array(1.0, np.float32), "one")
    v0 = b.op("ReduceMean", ["x"], "v0", axes=[0], keepdims=0)
    s0 = b.const(np.array(0.0, np.float32), "s0")
    c = body([helper.make_node("Mul", ["c_v", nine], ["c_v9"]),
              helper.make_node("Add", ["c_v9", one], ["c_vn"]),
              helper.make_node("Abs", ["c_vn"], ["c_abs"]),
              helper.make_node("ReduceSum", ["c_abs"], ["c_sum"], keepdims=0),
              helper.make_node("Add", ["c_s", "c_sum"], ["c_sn"]),
              helper.make_node("Less", ["c_sn", limit], ["c_cout"]),
              helper.make_node("Identity", ["c_q"], ["c_pn"]),
              helper.make_node("Add", ["c_p", "c_q"], ["c_qs"]),
              helper.make_node("Mul", ["c_qs", half], ["c_qn"])],
             [vi("c_i", TensorProto.INT64, []), vi("c_c", TensorProto.BOOL, []),
              vi("c_v", TensorProto.FLOAT, [16]), vi("c_s", TensorProto.FLOAT, []),
              vi("c_p", TensorProto.FLOAT, [16]), vi("c_q", TensorProto.FLOAT, [16])],
             [vi("c_cout", TensorProto.BOOL, []), vi("c_vn", TensorProto.FLOAT, [16]),
              vi("c_sn", TensorProto.FLOAT, []), vi("c_pn", TensorProto.FLOAT, [16]),
              vi("c_qn", TensorProto.FLOAT, [16])], "c")
    b.nodes.append(helper.make_node("Loop", [hundred, yes, v0, s0, v0, bias],
                                    ["v_final", "s_final", "p_final", "q_final"], name="loop_c", body=c))
    # three outputs, so that model_test can call the AOT entry
    both = b.op("Concat", ["h_final", "acc_final"], "both", axis=0)
    s1 = b.op("Unsqueeze", ["s_final", b.const(np.array([0], np.int64), "axis0")], "s1")
    finals = b.op("Concat", ["v_final", s1, "p_final", "q_final"], "finals", axis=0)
    inputs = [vi("x", TensorProto.FLOAT, [4, 16]), vi("steps", TensorProto.INT64, [])]
    outs = [vi(both, TensorProto.FLOAT, [8, 16]), vi("ys", TensorProto.FLOAT, [5, 4, 16]),
            vi(finals, TensorProto.FLOAT, [49])]
    return b.model(inputs, outs, "loops"), b.rng


def rnn_loop(steps=256, hidden=256):
    """An Elman RNN written as a Loop (as torch.jit.script exports a Python loop): h <-
    tanh(x[i] W + h U + b) over the steps of x, every h stacked as a scan output. kiln
    compiles the body once and runs it as a loop (bench/: its per-iteration cost against
    onnxruntime's)."""
    b = Builder(seed=16)
    w = b.normal((hidden, hidden), hidden ** -0.5, "w")
    u = b.normal((hidden, hidden), 0.5 * hidden ** -0.5, "u")
    bias = b.normal((1, hidden), 0.1, "bias")
    n = b.const(np.array(steps, np.int64), "steps")
    vi = helper.make_tensor_value_info
    body = helper.make_graph(
        [helper.make_node("Gather", ["x", "i"], ["xi"], axis=0),
         helper.make_node("MatMul", ["xi", w], ["xw"]), helper.make_node("MatMul", ["h", u], ["hu"]),
         helper.make_node("Add", ["xw", "hu"], ["s"]), helper.make_node("Add", ["s", bias], ["sb"]),
         helper.make_node("Tanh", ["sb"], ["hn"]), helper.make_node("Identity", ["c"], ["cn"])],
        "cell", [vi("i", TensorProto.INT64, []), vi("c", TensorProto.BOOL, []),
                 vi("h", TensorProto.FLOAT, [1, hidden])],
        [vi("cn", TensorProto.BOOL, []), vi("hn", TensorProto.FLOAT, [1, hidden]),
         vi("hn", TensorProto.FLOAT, [1, hidden])])
    body.output.pop()  # the same value twice: carried and scanned
    body.output.append(vi("hs", TensorProto.FLOAT, [1, hidden]))
    body.node.append(helper.make_node("Identity", ["hn"], ["hs"]))
    b.nodes.append(helper.make_node("Loop", [n, "", "h0"], ["h_last", "hs_all"], name="rnn",
                                    body=body))
    inputs = [vi("x", TensorProto.FLOAT, [steps, 1, hidden]), vi("h0", TensorProto.FLOAT, [1, hidden])]
    outs = [vi("h_last", TensorProto.FLOAT, [1, hidden]), vi("hs_all", TensorProto.FLOAT, [steps, 1, hidden])]
    return b.model(inputs, outs, "rnn_loop"), b.rng


def forest_attrs(rng, trees, depth, features, prefix, weights):
    """TreeEnsemble{Regressor,Classifier} attributes of `trees` trees of `depth` levels, each
    test a feature against a threshold near the data's (standard normal) values; a subtree
    stops early with probability 0.15, so trees are ragged, as trained ones are.
    weights(leaf) gives its [(target, weight)]."""
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes",
                         "nodes_values", "nodes_truenodeids", "nodes_falsenodeids")}
    w = {f"{prefix}_treeids": [], f"{prefix}_nodeids": [], f"{prefix}_ids": [], f"{prefix}_weights": []}
    for t in range(trees):
        nodes = []

        def grow(d):
            at = len(nodes)
            nodes.append(None)
            if d == depth or (d > 1 and rng.random() < 0.15):
                nodes[at] = ("LEAF", 0, 0.0, 0, 0)
                for target, v in weights(at):
                    for key, val in zip(w, (t, at, target, v)):
                        w[key].append(val)
                return at
            f, thr = int(rng.integers(features)), float(rng.normal(0, 0.7))
            yes = grow(d + 1)
            nodes[at] = ("BRANCH_LEQ", f, thr, yes, grow(d + 1))
            return at

        grow(0)
        for i, (mode, f, thr, yes, no) in enumerate(nodes):
            for key, val in zip(a, (t, i, f, mode, thr, yes, no)):
                a[key].append(val)
    a.update(w)
    return a


def forests(batch=256, features=20):
    """A scikit-learn-style ai.onnx.ml model: a Scaler, then a random forest regressor (100
    trees of depth 8, averaged), a boosted binary classifier (100 trees of depth 6, class 0
    weighed, one base value, logistic: XGBoost's export) and a multinomial LinearClassifier."""
    rng = np.random.default_rng(14)
    ml = "ai.onnx.ml"
    node = helper.make_node
    rounded = lambda n: [float(v) for v in np.round(rng.standard_normal(n), 3)]
    nodes = [
        node("Scaler", ["x"], ["xs"], domain=ml, offset=rounded(features), scale=[float(v) for v in rng.uniform(0.5, 2, features)]),
        node("TreeEnsembleRegressor", ["xs"], ["forest"], domain=ml, n_targets=1, aggregate_function="AVERAGE",
             **forest_attrs(rng, 100, 8, features, "target", lambda leaf: [(0, float(rng.normal()))])),
        node("TreeEnsembleClassifier", ["xs"], ["gbm_label", "gbm_proba"], domain=ml, classlabels_int64s=[0, 1],
             post_transform="LOGISTIC", base_values=[0.1],
             **forest_attrs(rng, 100, 6, features, "class", lambda leaf: [(0, float(rng.normal(0, 0.1)))])),
        node("LinearClassifier", ["xs"], ["lin_label", "lin_proba"], domain=ml, coefficients=rounded(3 * features),
             intercepts=rounded(3), classlabels_ints=[7, 8, 9], post_transform="SOFTMAX"),
    ]
    V = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "forests", [V("x", TensorProto.FLOAT, [batch, features])],
                              [V("forest", TensorProto.FLOAT, [batch, 1]),
                               V("gbm_label", TensorProto.INT64, [batch]),
                               V("gbm_proba", TensorProto.FLOAT, [batch, 2]),
                               V("lin_label", TensorProto.INT64, [batch]),
                               V("lin_proba", TensorProto.FLOAT, [batch, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(ml, 3)],
                              producer_name="kiln gen_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model, rng


MODELS = {
    "mlp": lambda: mlp(1, "mlp"),
    "mlp_b64": lambda: mlp(64, "mlp_b64"),
    "resnet18": lambda: resnet(18),
    "resnet50": lambda: resnet(50),
    "mobilenetv2": mobilenet_v2,
    "bert_tiny": lambda: bert(2, 128, 2, 512, 16, 1000, decomposed_ln=False),
    "bert_base": lambda: bert(12, 768, 12, 3072, 128, 30522, decomposed_ln=True),
    "lstm": lstm,
    "gathers": gathers,
    "quantized": quantized,
    "concats": concats,
    "unet": unet,
    "einsums": einsums,
    "grid_samples": grid_samples,
    "loops": loops,
    "rnn_loop": rnn_loop,
    "forests": forests,
}


def make_inputs(model, rng):
    feeds = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if vi.name == "input_ids":
            feeds[vi.name] = rng.integers(0, 1000, shape, dtype=np.int64)
        elif vi.name == "positions":  # negative ones count from the end
            feeds[vi.name] = rng.integers(-shape[1], shape[1], shape, dtype=np.int64)
        elif vi.name in ("grid", "vgrid"):  # past [-1, 1]: padding and reflection come into play
            feeds[vi.name] = rng.uniform(-1.6, 1.6, shape).astype(np.float32)
        elif vi.name == "steps":  # a trip count given at run time
            feeds[vi.name] = np.array(6, np.int64)
        elif vi.name == "attention_mask":
            mask = np.ones(shape, np.int64)
            mask[:, shape[1] * 3 // 4:] = 0  # padding at the end, as a batch of one has
            feeds[vi.name] = mask
        else:
            feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def reference(model, feeds):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def generate(name, out_dir, stamp):
    target = os.path.join(out_dir, name)
    stamp_path = os.path.join(target, "stamp")
    if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
        print(f"{name}: up to date")
        return
    model, rng = MODELS[name]()
    feeds = make_inputs(model, rng)
    outputs = reference(model, feeds)
    tmp = target + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "test_data_set_0"))
    onnx.save(model, os.path.join(tmp, "model.onnx"))
    data = os.path.join(tmp, "test_data_set_0")
    for i, vi in enumerate(model.graph.input):
        t = numpy_helper.from_array(feeds[vi.name], vi.name)
        open(os.path.join(data, f"input_{i}.pb"), "wb").write(t.SerializeToString())
    for i, (vi, y) in enumerate(zip(model.graph.output, outputs)):
        t = numpy_helper.from_array(y, vi.name)
        open(os.path.join(data, f"output_{i}.pb"), "wb").write(t.SerializeToString())
    open(os.path.join(tmp, "stamp"), "w").write(stamp)
    shutil.rmtree(target, ignore_errors=True)
    os.rename(tmp, target)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    rms = [float(np.sqrt(np.mean(np.square(y.astype(np.float64))))) for y in outputs]
    print(f"{name}: {len(model.graph.node)} nodes, {params / 1e6:.1f} M params, "
          f"output rms {rms}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of: " + ", ".join(MODELS))
    args = ap.parse_args()
    stamp = hashlib.sha256(open(__file__, "rb").read()).hexdigest()
    names = [m for m in args.models.split(",") if m]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        sys.exit(f"unknown models: {unknown}")
    os.makedirs(args.out_dir, exist_ok=True)
    for name in names:
        generate(name, args.out_dir, stamp)


if __name__ == "__main__":
    main()
