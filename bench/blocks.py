#!/usr/bin/env python3
"""Blocks of real models (random weights), kiln against onnxruntime in the same run.

    bench/blocks.py [--kiln build/kiln] [--threads 1] [--repeat 30] [--out DIR] [NAME...]

The suite's test models run through paths earlier work tuned; these blocks (EfficientNet's
MBConv and squeeze-excitation, ConvNeXt, ViT, Swin, GPT-2 and a decoder step with a KV
cache, an LM head's TopK over a vocabulary, YOLO, DeepLab, U-Net, ShuffleNet,
super-resolution, diffusion's GroupNorm, Conformer, video 3-D convs, recurrent layers...)
are how real models reach kiln's other paths. Each is written to OUT/NAME/model.onnx with a seeded
input; then onnxruntime (one thread, all optimizations) and `kiln run --threads T` each
take the median of --repeat runs, kiln's output is compared with onnxruntime's (max
|difference| over the largest |reference|), and a line per block gives both times and
their ratio (below 1: kiln is faster). Speed figures are ratios within one run.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

rng = np.random.default_rng(0)
BLOCKS = {}  # name -> (model, input)


def W(name, *shape, scale=None):
    fan = np.prod(shape[1:]) if len(shape) > 1 else shape[0]
    s = scale if scale is not None else 1.0 / np.sqrt(fan)
    return nh.from_array((rng.standard_normal(shape) * s).astype(np.float32), name)


def C_(name, arr, dt=np.float32):
    return nh.from_array(np.array(arr, dt), name)


def save(name, nodes, inits, x_shape, out_name="y", opset=17, out_type=T.FLOAT):
    g = h.make_graph(nodes, name, [h.make_tensor_value_info("x", T.FLOAT, x_shape)],
                     [h.make_tensor_value_info(out_name, out_type, None)], inits)
    BLOCKS[name] = (h.make_model(g, opset_imports=[h.make_opsetid("", opset)]),
                    rng.standard_normal(x_shape).astype(np.float32))


# squeeze-excitation with SiLU (EfficientNet's MBConv tail)
C = 96
save("se_silu", [
    h.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], group=C),
    h.make_node("Sigmoid", ["c1"], ["s1"]), h.make_node("Mul", ["c1", "s1"], ["a1"]),
    h.make_node("GlobalAveragePool", ["a1"], ["g"]),
    h.make_node("Conv", ["g", "w2", "b2"], ["r"]), h.make_node("Sigmoid", ["r"], ["rs"]),
    h.make_node("Mul", ["r", "rs"], ["ra"]),
    h.make_node("Conv", ["ra", "w3", "b3"], ["e"]), h.make_node("Sigmoid", ["e"], ["es"]),
    h.make_node("Mul", ["a1", "es"], ["y0"]),
    h.make_node("Conv", ["y0", "w4"], ["y"]),
], [W("w1", C, 1, 3, 3), W("w2", 24, C, 1, 1), W("b2", 24), W("w3", C, 24, 1, 1), W("b3", C),
    W("w4", 32, C, 1, 1)], [1, C, 56, 56])

# ConvNeXt block: dw 7x7, NHWC LayerNorm, MLP with GELU, layer scale, residual
C = 96
save("convnext", [
    h.make_node("Conv", ["x", "dw", "db"], ["d"], pads=[3, 3, 3, 3], group=C),
    h.make_node("Transpose", ["d"], ["t"], perm=[0, 2, 3, 1]),
    h.make_node("LayerNormalization", ["t", "g", "bb"], ["ln"], axis=-1, epsilon=1e-6),
    h.make_node("MatMul", ["ln", "m1"], ["h1"]), h.make_node("Add", ["h1", "mb1"], ["h2"]),
    h.make_node("Div", ["h2", "sq2"], ["hd"]),
    h.make_node("Erf", ["hd"], ["he"]), h.make_node("Add", ["he", "one"], ["hp"]),
    h.make_node("Mul", ["h2", "hp"], ["hm"]), h.make_node("Mul", ["hm", "half"], ["h4"]),
    h.make_node("MatMul", ["h4", "m2"], ["o1"]), h.make_node("Add", ["o1", "mb2"], ["o2"]),
    h.make_node("Mul", ["o2", "gamma"], ["o3"]),
    h.make_node("Transpose", ["o3"], ["o4"], perm=[0, 3, 1, 2]),
    h.make_node("Add", ["x", "o4"], ["y"]),
], [W("dw", C, 1, 7, 7), W("db", C), nh.from_array(np.ones(C, np.float32), "g"),
    nh.from_array(np.zeros(C, np.float32), "bb"), W("m1", C, 4 * C), W("mb1", 4 * C),
    nh.from_array(np.array(np.sqrt(2), np.float32), "sq2"), nh.from_array(np.array(1, np.float32), "one"),
    nh.from_array(np.array(0.5, np.float32), "half"), W("m2", 4 * C, C), W("mb2", C),
    W("gamma", C)], [1, C, 56, 56])

# ViT patch embedding + LayerNorm (16x16 stride 16)
save("vit_patch", [
    h.make_node("Conv", ["x", "pw", "pb"], ["p"], kernel_shape=[16, 16], strides=[16, 16]),
    h.make_node("Reshape", ["p", "shape"], ["r"]),
    h.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
    h.make_node("LayerNormalization", ["t", "g", "bb"], ["y"], axis=-1),
], [W("pw", 384, 3, 16, 16), W("pb", 384), nh.from_array(np.array([1, 384, 196], np.int64), "shape"),
    nh.from_array(np.ones(384, np.float32), "g"), nh.from_array(np.zeros(384, np.float32), "bb")],
    [1, 3, 224, 224])

# YOLO SPPF: conv, three 5x5 maxpools, concat, conv; then a 2x nearest upsample and concat
C = 128
save("yolo_sppf", [
    h.make_node("Conv", ["x", "w1"], ["c1"]), h.make_node("Sigmoid", ["c1"], ["s1"]),
    h.make_node("Mul", ["c1", "s1"], ["a1"]),
    h.make_node("MaxPool", ["a1"], ["p1"], kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
    h.make_node("MaxPool", ["p1"], ["p2"], kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
    h.make_node("MaxPool", ["p2"], ["p3"], kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
    h.make_node("Concat", ["a1", "p1", "p2", "p3"], ["cat"], axis=1),
    h.make_node("Conv", ["cat", "w2"], ["c2"]),
    h.make_node("Resize", ["c2", "", "scales"], ["up"], mode="nearest"),
    h.make_node("Concat", ["up", "skip"], ["y"], axis=1),
], [W("w1", C, 2 * C, 1, 1), W("w2", 2 * C, 4 * C, 1, 1),
    nh.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
    W("skip", 1, 64, 40, 40, scale=1.0)], [1, 2 * C, 20, 20])

# plain-layout 1-D conv stack (audio: wav2vec2-like feature extractor)
save("conv1d", [
    h.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[10], strides=[5]),
    h.make_node("Relu", ["c1"], ["r1"]),
    h.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3], strides=[2]),
    h.make_node("Relu", ["c2"], ["r2"]),
    h.make_node("Conv", ["r2", "w3"], ["c3"], kernel_shape=[3], strides=[2]),
    h.make_node("Relu", ["c3"], ["y"]),
], [W("w1", 128, 1, 10), W("w2", 128, 128, 3), W("w3", 128, 128, 3)], [1, 1, 16000])

# U-Net decoder step: ConvTranspose 2x2 s2, concat with skip, 3x3 conv, InstanceNorm, LeakyRelu
save("unet_up", [
    h.make_node("ConvTranspose", ["x", "tw", "tb"], ["u"], kernel_shape=[2, 2], strides=[2, 2]),
    h.make_node("Concat", ["u", "skip"], ["c"], axis=1),
    h.make_node("Conv", ["c", "w", "b"], ["v"], pads=[1, 1, 1, 1]),
    h.make_node("InstanceNormalization", ["v", "s", "bb"], ["n"]),
    h.make_node("LeakyRelu", ["n"], ["y"], alpha=0.01),
], [W("tw", 128, 64, 2, 2), W("tb", 64), W("skip", 1, 64, 64, 64, scale=1.0), W("w", 64, 128, 3, 3),
    W("b", 64), nh.from_array(np.ones(64, np.float32), "s"), nh.from_array(np.zeros(64, np.float32), "bb")],
    [1, 128, 32, 32])

# ConvTranspose forms: 4x4 stride 2 (DCGAN), grouped with output padding, 1-D, 3-D
save("convt_k4s2", [h.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[4, 4],
                                strides=[2, 2], pads=[1, 1, 1, 1])],
     [W("w", 64, 32, 4, 4), W("b", 32)], [1, 64, 16, 16])
save("convt_group", [h.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[3, 3],
                                 strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1], group=2)],
     [W("w", 32, 8, 3, 3), W("b", 16)], [2, 32, 9, 11])
save("convt_1d", [h.make_node("ConvTranspose", ["x", "w"], ["y"], kernel_shape=[5], strides=[3])],
     [W("w", 32, 16, 5)], [1, 32, 100])
save("convt_3d", [h.make_node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[2, 3, 3],
                              strides=[2, 1, 2], pads=[0, 1, 1, 0, 1, 0])],
     [W("w", 8, 6, 2, 3, 3), W("b", 6)], [1, 8, 5, 6, 7])
# Softmax over NCHW's channels (segmentation)
save("softmax_c", [h.make_node("Softmax", ["x"], ["y"], axis=1)], [], [2, 21, 32, 32])

# ShuffleNetV2 unit: 1x1 conv, channel shuffle (Reshape/Transpose/Reshape), dw 3x3
C = 116
save("shuffle", [
    h.make_node("Conv", ["x", "w1"], ["c1"]), h.make_node("Relu", ["c1"], ["r1"]),
    h.make_node("Concat", ["x", "r1"], ["cat"], axis=1),
    h.make_node("Reshape", ["cat", "s5"], ["r5"]),
    h.make_node("Transpose", ["r5"], ["t5"], perm=[0, 2, 1, 3, 4]),
    h.make_node("Reshape", ["t5", "s4"], ["sh"]),
    h.make_node("Split", ["sh", "spl"], ["a", "b"], axis=1),
    h.make_node("Conv", ["b", "dw"], ["d"], pads=[1, 1, 1, 1], group=C),
    h.make_node("Concat", ["a", "d"], ["y"], axis=1),
], [W("w1", C, C, 1, 1), C_("s5", [1, 2, C, 28, 28], np.int64), C_("s4", [1, 2 * C, 28, 28], np.int64),
    C_("spl", [C, C], np.int64), W("dw", C, 1, 3, 3)], [1, C, 28, 28])

# GPT-2 block at seq 64, hidden 256, 4 heads: causal mask, tanh-GELU
S, D, H = 64, 256, 4
mask = np.triu(np.full((S, S), -1e4, np.float32), 1)
save("gpt2", [
    h.make_node("LayerNormalization", ["x", "g1", "b1"], ["ln1"], axis=-1),
    h.make_node("MatMul", ["ln1", "wqkv"], ["qkv0"]), h.make_node("Add", ["qkv0", "bqkv"], ["qkv"]),
    h.make_node("Split", ["qkv", "s3"], ["q", "k", "v"], axis=2),
    h.make_node("Reshape", ["q", "hs"], ["q1"]), h.make_node("Transpose", ["q1"], ["q2"], perm=[0, 2, 1, 3]),
    h.make_node("Reshape", ["k", "hs"], ["k1"]), h.make_node("Transpose", ["k1"], ["k2"], perm=[0, 2, 3, 1]),
    h.make_node("Reshape", ["v", "hs"], ["v1"]), h.make_node("Transpose", ["v1"], ["v2"], perm=[0, 2, 1, 3]),
    h.make_node("MatMul", ["q2", "k2"], ["att0"]), h.make_node("Mul", ["att0", "scale"], ["att1"]),
    h.make_node("Add", ["att1", "mask"], ["att2"]), h.make_node("Softmax", ["att2"], ["att"], axis=-1),
    h.make_node("MatMul", ["att", "v2"], ["o0"]), h.make_node("Transpose", ["o0"], ["o1"], perm=[0, 2, 1, 3]),
    h.make_node("Reshape", ["o1", "ms"], ["o2"]), h.make_node("MatMul", ["o2", "wo"], ["o3"]),
    h.make_node("Add", ["x", "o3"], ["x1"]),
    h.make_node("LayerNormalization", ["x1", "g2", "b2"], ["ln2"], axis=-1),
    h.make_node("MatMul", ["ln2", "wf1"], ["f1"]),
    h.make_node("Pow", ["f1", "three"], ["f2"]), h.make_node("Mul", ["f2", "c044"], ["f3"]),
    h.make_node("Add", ["f1", "f3"], ["f4"]), h.make_node("Mul", ["f4", "c079"], ["f5"]),
    h.make_node("Tanh", ["f5"], ["f6"]), h.make_node("Add", ["f6", "one"], ["f7"]),
    h.make_node("Mul", ["f1", "f7"], ["f8"]), h.make_node("Mul", ["f8", "half"], ["f9"]),
    h.make_node("MatMul", ["f9", "wf2"], ["f10"]), h.make_node("Add", ["x1", "f10"], ["y"]),
], [C_("g1", np.ones(D)), C_("b1", np.zeros(D)), W("wqkv", D, 3 * D), W("bqkv", 3 * D),
    C_("s3", [D, D, D], np.int64), C_("hs", [1, S, H, D // H], np.int64), C_("scale", 1 / 8.0),
    C_("mask", mask), C_("ms", [1, S, D], np.int64), W("wo", D, D), C_("g2", np.ones(D)),
    C_("b2", np.zeros(D)), W("wf1", D, 4 * D), C_("three", 3.0), C_("c044", 0.044715),
    C_("c079", 0.7978845608), C_("one", 1.0), C_("half", 0.5), W("wf2", 4 * D, D)], [1, S, D])

# Swin window attention core: window partition (6-D transpose), batched QK^T, softmax, AV
Cs, Hs, ws = 96, 56, 7
nw = Hs // ws
save("swin_win", [
    h.make_node("Reshape", ["x", "p6"], ["x6"]),
    h.make_node("Transpose", ["x6"], ["t6"], perm=[0, 1, 3, 2, 4, 5]),
    h.make_node("Reshape", ["t6", "p3"], ["win"]),
    h.make_node("MatMul", ["win", "wq"], ["q"]), h.make_node("MatMul", ["win", "wk"], ["k"]),
    h.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
    h.make_node("MatMul", ["q", "kt"], ["a0"]), h.make_node("Add", ["a0", "rb"], ["a1"]),
    h.make_node("Softmax", ["a1"], ["a"], axis=-1),
    h.make_node("MatMul", ["a", "win"], ["o"]),
    h.make_node("Reshape", ["o", "p6"], ["o6"]),
    h.make_node("Transpose", ["o6"], ["ot"], perm=[0, 1, 3, 2, 4, 5]),
    h.make_node("Reshape", ["ot", "p4"], ["y"]),
], [C_("p6", [1, nw, ws, nw, ws, Cs], np.int64), C_("p3", [nw * nw, ws * ws, Cs], np.int64),
    W("wq", Cs, Cs), W("wk", Cs, Cs), W("rb", ws * ws, ws * ws, scale=0.1),
    C_("p4", [1, Hs, Hs, Cs], np.int64)], [1, Hs, Hs, Cs])

# DeepLab ASPP: dilated 3x3 convs, global pool branch, bilinear upsample, concat, 1x1
C = 64
save("aspp", [
    h.make_node("Conv", ["x", "a1"], ["b1"]),
    h.make_node("Conv", ["x", "a2"], ["b2"], pads=[6, 6, 6, 6], dilations=[6, 6]),
    h.make_node("Conv", ["x", "a3"], ["b3"], pads=[12, 12, 12, 12], dilations=[12, 12]),
    h.make_node("GlobalAveragePool", ["x"], ["gp"]), h.make_node("Conv", ["gp", "a4"], ["b4s"]),
    h.make_node("Resize", ["b4s", "", "", "sz"], ["b4"], mode="linear"),
    h.make_node("Concat", ["b1", "b2", "b3", "b4"], ["cat"], axis=1),
    h.make_node("Conv", ["cat", "a5"], ["p"]), h.make_node("Relu", ["p"], ["pr"]),
    h.make_node("Resize", ["pr", "", "sc"], ["y"], mode="linear", coordinate_transformation_mode="half_pixel"),
], [W("a1", C, C, 1, 1), W("a2", C, C, 3, 3), W("a3", C, C, 3, 3), W("a4", C, C, 1, 1),
    C_("sz", [1, C, 32, 32], np.int64), W("a5", C, 4 * C, 1, 1), C_("sc", [1, 1, 4, 4])], [1, C, 32, 32])

# EfficientNet MBConv stride 2: expand 1x1, dw 5x5 s2, HardSwish, project
C = 40
save("mbconv5", [
    h.make_node("Conv", ["x", "e"], ["c1"]), h.make_node("HardSwish", ["c1"], ["h1"]),
    h.make_node("Conv", ["h1", "dw"], ["c2"], pads=[2, 2, 2, 2], strides=[2, 2], group=6 * C),
    h.make_node("HardSwish", ["c2"], ["h2"]), h.make_node("Conv", ["h2", "p"], ["y"]),
], [W("e", 6 * C, C, 1, 1), W("dw", 6 * C, 1, 5, 5), W("p", 80, 6 * C, 1, 1)], [1, C, 56, 56])

# super-resolution tail: conv, DepthToSpace (pixel shuffle), clip
save("pixshuf", [
    h.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
    h.make_node("DepthToSpace", ["c"], ["d"], blocksize=3, mode="CRD"),
    h.make_node("Clip", ["d", "lo", "hi"], ["y"]),
], [W("w", 27, 32, 3, 3), C_("lo", 0.0), C_("hi", 1.0)], [1, 32, 64, 64])

# segmentation head: 1x1 conv to classes, ArgMax over channels
save("argmax", [
    h.make_node("Conv", ["x", "w"], ["c"]), h.make_node("ArgMax", ["c"], ["a"], axis=1, keepdims=0),
    h.make_node("Cast", ["a"], ["y"], to=T.FLOAT),
], [W("w", 21, 64, 1, 1)], [1, 64, 64, 64])

# GRU over 100 steps, hidden 128
I, Hh = 64, 128
save("gru", [
    h.make_node("GRU", ["x", "W", "R", "B"], ["Y", "y"], hidden_size=Hh, linear_before_reset=1),
], [W("W", 1, 3 * Hh, I), W("R", 1, 3 * Hh, Hh), W("B", 1, 6 * Hh)], [100, 1, I])

# bidirectional LSTM over 50 steps
save("bilstm", [
    h.make_node("LSTM", ["x", "W", "R", "B"], ["Y", "y"], hidden_size=Hh, direction="bidirectional"),
], [W("W", 2, 4 * Hh, I), W("R", 2, 4 * Hh, Hh), W("B", 2, 8 * Hh)], [50, 1, I])

# reflect pad + instance norm (style transfer)
C = 64
save("reflect_in", [
    h.make_node("Pad", ["x", "pd"], ["p"], mode="reflect"),
    h.make_node("Conv", ["p", "w"], ["c"]),
    h.make_node("InstanceNormalization", ["c", "s", "b"], ["i"]), h.make_node("Relu", ["i"], ["y"]),
], [C_("pd", [0, 0, 1, 1, 0, 0, 1, 1], np.int64), W("w", C, C, 3, 3), C_("s", np.ones(C)), C_("b", np.zeros(C))], [1, C, 64, 64])

# GroupNorm (opset 18 op) + SiLU (diffusion ResBlock)
C = 128
save("groupnorm", [
    h.make_node("GroupNormalization", ["x", "s", "b"], ["gn"], num_groups=32),
    h.make_node("Sigmoid", ["gn"], ["sg"]), h.make_node("Mul", ["gn", "sg"], ["a"]),
    h.make_node("Conv", ["a", "w"], ["y"], pads=[1, 1, 1, 1]),
], [C_("s", np.ones(32)), C_("b", np.zeros(32)), W("w", C, C, 3, 3)], [1, C, 32, 32], opset=18)

# ViT attention at 197 tokens (odd sizes), 12 heads of 64 via batched 4-D MatMul
S, D, H = 197, 768, 12
save("vit_attn", [
    h.make_node("MatMul", ["x", "wqkv"], ["qkv"]),
    h.make_node("Reshape", ["qkv", "s5"], ["r5"]),
    h.make_node("Transpose", ["r5"], ["t5"], perm=[2, 0, 3, 1, 4]),
    h.make_node("Gather", ["t5", "i0"], ["q"], axis=0), h.make_node("Gather", ["t5", "i1"], ["k"], axis=0),
    h.make_node("Gather", ["t5", "i2"], ["v"], axis=0),
    h.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
    h.make_node("MatMul", ["q", "kt"], ["a0"]), h.make_node("Mul", ["a0", "sc"], ["a1"]),
    h.make_node("Softmax", ["a1"], ["a"], axis=-1), h.make_node("MatMul", ["a", "v"], ["o"]),
    h.make_node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
    h.make_node("Reshape", ["ot", "s3"], ["y"]),
], [W("wqkv", D, 3 * D), C_("s5", [1, S, 3, H, D // H], np.int64), C_("i0", 0, np.int64),
    C_("i1", 1, np.int64), C_("i2", 2, np.int64), C_("sc", 0.125), C_("s3", [1, S, D], np.int64)], [1, S, D])

# YOLOv5 Focus: strided slices, concat, conv, SiLU
save("focus", [
    h.make_node("Slice", ["x", "s00", "e", "ax", "st"], ["a"]),
    h.make_node("Slice", ["x", "s10", "e", "ax", "st"], ["b"]),
    h.make_node("Slice", ["x", "s01", "e", "ax", "st"], ["c"]),
    h.make_node("Slice", ["x", "s11", "e", "ax", "st"], ["d"]),
    h.make_node("Concat", ["a", "b", "c", "d"], ["cat"], axis=1),
    h.make_node("Conv", ["cat", "w"], ["cv"], pads=[1, 1, 1, 1]),
    h.make_node("Sigmoid", ["cv"], ["sg"]), h.make_node("Mul", ["cv", "sg"], ["y"]),
], [C_("s00", [0, 0], np.int64), C_("s10", [1, 0], np.int64), C_("s01", [0, 1], np.int64),
    C_("s11", [1, 1], np.int64), C_("e", [10000, 10000], np.int64), C_("ax", [2, 3], np.int64),
    C_("st", [2, 2], np.int64), W("w", 32, 12, 3, 3)], [1, 3, 320, 320])

# LM head: MatMul to a 50257 vocabulary, softmax, TopK
save("lm_head", [
    h.make_node("MatMul", ["x", "wv"], ["lg"]), h.make_node("Softmax", ["lg"], ["p"], axis=-1),
    h.make_node("TopK", ["p", "k"], ["y", "i"], axis=-1),
], [W("wv", 768, 50257), C_("k", [50], np.int64)], [1, 768])

# CLIP/ArcFace embedding normalization: ReduceL2, Div
save("l2norm", [
    h.make_node("MatMul", ["x", "w"], ["e"]),
    h.make_node("ReduceL2", ["e", "ax"], ["n"], keepdims=1),
    h.make_node("Div", ["e", "n"], ["y"]),
], [W("w", 512, 512), C_("ax", [-1], np.int64)], [64, 512], opset=18)

# transformer decoder step with KV cache: concat past, attention over 129 keys
S, D, H = 128, 512, 8
save("kv_step", [
    h.make_node("MatMul", ["x", "wq"], ["q0"]), h.make_node("MatMul", ["x", "wk"], ["k0"]),
    h.make_node("MatMul", ["x", "wv"], ["v0"]),
    h.make_node("Reshape", ["q0", "hs"], ["q1"]), h.make_node("Transpose", ["q1"], ["q"], perm=[0, 2, 1, 3]),
    h.make_node("Reshape", ["k0", "hs"], ["k1"]), h.make_node("Transpose", ["k1"], ["k2"], perm=[0, 2, 1, 3]),
    h.make_node("Reshape", ["v0", "hs"], ["v1"]), h.make_node("Transpose", ["v1"], ["v2"], perm=[0, 2, 1, 3]),
    h.make_node("Concat", ["pk", "k2"], ["k"], axis=2), h.make_node("Concat", ["pv", "v2"], ["v"], axis=2),
    h.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
    h.make_node("MatMul", ["q", "kt"], ["a0"]), h.make_node("Mul", ["a0", "sc"], ["a1"]),
    h.make_node("Softmax", ["a1"], ["a"], axis=-1), h.make_node("MatMul", ["a", "v"], ["o"]),
    h.make_node("Transpose", ["o"], ["o1"], perm=[0, 2, 1, 3]), h.make_node("Reshape", ["o1", "ms"], ["o2"]),
    h.make_node("MatMul", ["o2", "wo"], ["y"]),
], [W("wq", D, D), W("wk", D, D), W("wv", D, D), W("wo", D, D), C_("hs", [1, 1, H, D // H], np.int64),
    W("pk", 1, H, S, D // H, scale=1.0), W("pv", 1, H, S, D // H, scale=1.0), C_("sc", 0.125),
    C_("ms", [1, 1, D], np.int64)], [1, 1, D])

# 3-D conv (video), BatchNorm, ReLU, MaxPool3d
save("conv3d", [
    h.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1, 1, 1]),
    h.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"]),
    h.make_node("Relu", ["bn"], ["r"]),
    h.make_node("MaxPool", ["r"], ["y"], kernel_shape=[1, 2, 2], strides=[1, 2, 2]),
], [W("w", 32, 16, 3, 3, 3), C_("s", np.ones(32)), C_("b", np.zeros(32)), C_("m", np.zeros(32)),
    C_("v", np.ones(32))], [1, 16, 8, 28, 28])

# audio: depthwise 1-D conv (Conformer), GLU, BatchNorm, Swish
C = 144
save("conformer_conv", [
    h.make_node("Conv", ["x", "pw1"], ["p1"]),
    h.make_node("Split", ["p1", "sp"], ["ga", "gb"], axis=1),
    h.make_node("Sigmoid", ["gb"], ["gs"]), h.make_node("Mul", ["ga", "gs"], ["glu"]),
    h.make_node("Conv", ["glu", "dw"], ["d"], pads=[15, 15], group=C),
    h.make_node("BatchNormalization", ["d", "s", "b", "m", "v"], ["bn"]),
    h.make_node("Sigmoid", ["bn"], ["bs"]), h.make_node("Mul", ["bn", "bs"], ["sw"]),
    h.make_node("Conv", ["sw", "pw2"], ["y"]),
], [W("pw1", 2 * C, C, 1), C_("sp", [C, C], np.int64), W("dw", C, 1, 31), C_("s", np.ones(C)),
    C_("b", np.zeros(C)), C_("m", np.zeros(C)), C_("v", np.ones(C)), W("pw2", C, C, 1)], [1, C, 500])

# MLP with BatchNorm1d on [N, F], PRelu, Dropout (inference), Gemm
save("mlp_bn", [
    h.make_node("Gemm", ["x", "w1", "b1"], ["g1"], transB=1),
    h.make_node("BatchNormalization", ["g1", "s", "b", "m", "v"], ["bn"]),
    h.make_node("PRelu", ["bn", "sl"], ["pr"]),
    h.make_node("Gemm", ["pr", "w2", "b2"], ["y"], transB=1),
], [W("w1", 256, 128), W("b1", 256), C_("s", np.ones(256)), C_("b", np.zeros(256)), C_("m", np.zeros(256)),
    C_("v", np.ones(256)), W("sl", 256, scale=0.1), W("w2", 10, 256), W("b2", 10)], [32, 128])

# MaxPool ceil_mode, AveragePool count_include_pad (GoogLeNet/Inception)
save("pools", [
    h.make_node("Conv", ["x", "w0"], ["x0"], pads=[1, 1, 1, 1]), h.make_node("Relu", ["x0"], ["x1"]),
    h.make_node("MaxPool", ["x1"], ["m"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    h.make_node("AveragePool", ["m"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1),
    h.make_node("Conv", ["a", "w"], ["y"]),
], [W("w0", 64, 32, 3, 3), W("w", 64, 64, 1, 1)], [1, 32, 57, 57])

# attention mask with Where (bool mask broadcast), causal from Trilu
save("where_mask", [
    h.make_node("MatMul", ["x", "xt"], ["s"]),
    h.make_node("Where", ["mask", "s", "ninf"], ["sm"]),
    h.make_node("Softmax", ["sm"], ["y"], axis=-1),
], [W("xt", 64, 256), nh.from_array(np.tril(np.ones((256, 256), bool)), "mask"), C_("ninf", -1e9)], [4, 256, 64])

# YOLOv8 post-processing: raw head [1, 84, 8400] to center boxes and class scores, NMS
# (about 1500 candidates a class above the score threshold, up to 100 kept a class)
save("yolo_nms", [
    h.make_node("Slice", ["x", "s0", "s4", "ax"], ["xb"]),
    h.make_node("Sigmoid", ["xb"], ["sb"]), h.make_node("Mul", ["sb", "scale"], ["bx"]),
    h.make_node("Transpose", ["bx"], ["boxes"], perm=[0, 2, 1]),
    h.make_node("Slice", ["x", "s4", "s84", "ax"], ["xc"]),
    h.make_node("Sub", ["xc", "two"], ["xs"]), h.make_node("Sigmoid", ["xs"], ["scores"]),
    h.make_node("NonMaxSuppression", ["boxes", "scores", "keep", "iou", "thr"], ["y"],
                center_point_box=1),
], [C_("s0", [0], np.int64), C_("s4", [4], np.int64), C_("s84", [84], np.int64),
    C_("ax", [1], np.int64), C_("scale", np.array([640, 640, 64, 64]).reshape(1, 4, 1)),
    C_("two", 2.0), C_("keep", [100], np.int64), C_("iou", [0.45]), C_("thr", [0.25])],
    [1, 84, 8400], out_type=T.INT64)

# Expand + Tile + Einsum (cross attention bias)
save("einsum_attn", [
    h.make_node("Einsum", ["x", "k"], ["s"], equation="bhqd,bhkd->bhqk"),
    h.make_node("Softmax", ["s"], ["y"], axis=-1),
], [W("k", 1, 8, 77, 64, scale=1.0)], [1, 8, 256, 64])

# a tokenizer's vocabulary as ai.onnx.ml lookups: 4096 ids to words and back through a
# second, shuffled vocabulary of 50000 words (BiDAF's and text pipelines' CategoryMapper)
VOCAB = 50000
words = [f"tok{i:05d}" for i in rng.permutation(VOCAB)]
save("vocab", [
    h.make_node("Abs", ["x"], ["ax"]), h.make_node("Mul", ["ax", "k"], ["sx"]),
    h.make_node("Cast", ["sx"], ["ids"], to=T.INT64),
    h.make_node("CategoryMapper", ["ids"], ["w"], domain="ai.onnx.ml",
                cats_int64s=list(range(VOCAB)), cats_strings=words),
    h.make_node("CategoryMapper", ["w"], ["back"], domain="ai.onnx.ml",
                cats_strings=sorted(words), cats_int64s=list(range(VOCAB))),
    h.make_node("Cast", ["back"], ["y"], to=T.FLOAT),
], [C_("k", 12000.0)], [4096])
BLOCKS["vocab"][0].opset_import.append(h.make_opsetid("ai.onnx.ml", 1))


def median_ms(f, repeat):
    for _ in range(3):
        f()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(ts))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--kiln", default=os.path.join(os.path.dirname(__file__), "..", "build", "kiln"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--out", default=None, help="where the models go (default: a temporary folder)")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    unknown = [n for n in a.names if n not in BLOCKS]
    if unknown:
        sys.exit(f"blocks.py: unknown block(s) {', '.join(unknown)}; known: {', '.join(BLOCKS)}")
    out = a.out or tempfile.mkdtemp(prefix="kiln-blocks-")
    print(f"{'block':12s} {'kiln ms':>9s} {'ORT ms':>9s} {'kiln/ORT':>9s}  max error   ({a.threads} thread(s))")
    ratios, failed = [], 0
    for name in a.names or BLOCKS:
        model, x = BLOCKS[name]
        d = os.path.join(out, name)
        os.makedirs(os.path.join(d, "in"), exist_ok=True)
        path = os.path.join(d, "model.onnx")
        onnx.save(model, path)
        open(os.path.join(d, "in", "input_0.pb"), "wb").write(nh.from_array(x, "x").SerializeToString())
        so = ort.SessionOptions()
        so.intra_op_num_threads = a.threads
        so.inter_op_num_threads = 1
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        ref = s.run(None, {"x": x})[0]
        ort_ms = median_ms(lambda: s.run(None, {"x": x}), a.repeat)
        r = subprocess.run([a.kiln, "run", path, "--inputs", os.path.join(d, "in"), "--output-dir",
                            os.path.join(d, "out"), "--threads", str(a.threads), "--repeat",
                            str(a.repeat)], capture_output=True, text=True)
        if r.returncode:
            print(f"{name:12s} kiln failed: {r.stderr.strip()[:300]}")
            failed += 1
            continue
        got = nh.to_array(onnx.load_tensor(os.path.join(d, "out", "output_0.pb")))
        if got.shape != ref.shape:
            err = float("inf")
        else:
            err = float(np.max(np.abs(got.astype(np.float64) - ref), initial=0) /
                        (np.max(np.abs(ref), initial=0) + 1e-30))
        kms = float(r.stdout.split("median")[1].split()[0])
        ratios.append(kms / ort_ms)
        bad = "" if err <= 1e-4 else "  WRONG"
        failed += bool(bad)
        print(f"{name:12s} {kms:9.3f} {ort_ms:9.3f} {kms / ort_ms:9.2f}  {err:.1e}{bad}")
    if ratios:
        print(f"geometric mean kiln/ORT over {len(ratios)} blocks: {float(np.exp(np.mean(np.log(ratios)))):.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
