#!/usr/bin/env python3
"""Models with free dims for kiln's symbolic shapes (kiln_options.symbolic_dims).

    gen_dyn_models.py OUT_DIR

Writes OUT_DIR/<name>/model.onnx, whose inputs keep a named free dim (dim_param), and one
folder case_<k>/ per shape the test runs it at, with input_<i>.pb and output_<i>.pb, and the
same tensors as input_<i>.bin and output_<i>.bin for C hosts that read no protobuf (int32
rank, int64 dims, then the float32 data, little-endian).
References come from onnxruntime on the CPU with graph optimizations disabled (ONNX's
op-by-op semantics), as gen_models.py's. tests/model_dyn.c compiles each model once and
runs it at every case's shape; tests/aot_dyn.sh does the same with the model's AOT
library and a C host (tests/aot_dyn_host.c).
  mlp_dyn:         x [N, 64] -> MatMul+bias, Relu, MatMul+bias, Softmax; N = 1, 7, 64
  attention_dyn:   x [1, S, 32] -> a pre-LN transformer block (LayerNorm, Q/K/V MatMul+bias,
                   two heads by Reshape/Transpose, Softmax attention, output projection and
                   residual, LayerNorm, MatMul+bias, GELU as Erf, MatMul+bias, residual);
                   S = 1, 5, 33
  cnn_dyn:         x [N, 3, H, W] -> Conv+BN 3x3 (pads 1), Relu, Conv+BN 3x3 stride 2, Relu,
                   depthwise Conv+BN 3x3, Clip, residual Add, MaxPool 2x2 stride 2, Conv 1x1,
                   grouped Conv 3x3 dilation 2, Relu, AveragePool 3x3 stride 2 pads 1 ceil_mode,
                   plus half its GlobalMaxPool, GlobalAveragePool, Flatten, Gemm;
                   [N, H, W] = [1, 32, 32], [2, 45, 33], [3, 64, 48]
  stem_dyn:        x [N, 3, H, W] -> Conv 5x5 stride 2 pads 2, Relu, MaxPool 3x3 stride 2
                   pads 1, depthwise Conv 3x3 stride 2 with end pads only, AveragePool 2x2
                   with end pads counted: the feature map itself is the output (every border
                   position checked); the same shapes
  resnet_dyn:      ResNet-18's shape, narrow: [N, H, W] = [1, 96, 96], [2, 112, 100],
                   [1, 128, 160]
  unet_dyn:        x [N, 3, H, W] -> Conv 3x3 stride 2, Relu, ConvTranspose 3x3 stride 2
                   (output_padding 1), minus its ReduceMean over H and W; cnn_dyn's shapes
  export_dyn:      x [N, S, 32] -> a causal attention block whose shapes are computed from
                   Shape(x), as exported by torch.onnx with dynamic axes (export_dyn's
                   docstring); [N, S] = [1, 1], [2, 5], [3, 17]
  loop_dyn:        x [S, 8] -> an RNN as a Loop over Shape(x)[0] steps (Gather of step t,
                   MatMul, Tanh), its states scanned out; S = 1, 6, 23
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_models  # noqa: E402  (its Builder and its onnxruntime reference)


class Builder(gen_models.Builder):
    """gen_models' builder, with a linear layer and a one-input, one-output model whose
    dims may be names (free dims)."""

    def linear(self, x, n_in, n_out):
        y = self.op("MatMul", [x, self.normal((n_in, n_out), (1.0 / n_in) ** 0.5)])
        return self.op("Add", [y, self.normal((n_out,), 0.1, "b")])

    def dyn_model(self, x, shape, out, out_shape, name):
        return self.model([helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], name)


def mlp_dyn():
    b = Builder(10)
    h = b.op("Relu", [b.linear("x", 64, 128)])
    y = b.op("Softmax", [b.linear(h, 128, 10)], axis=1)
    return b.dyn_model("x", ["N", 64], y, ["N", 10], "mlp_dyn"), [(1, 64), (7, 64), (64, 64)]


def encoder_block(b, x, d, heads, inter):
    """A pre-LN transformer block on x [1, S, d]: the sequence dim stays free through
    Reshape [0, -1, heads, dh] and [0, 0, d]. bench/bench_dyn.py stacks it at BERT-base's
    sizes."""
    dh = d // heads

    def layer_norm(t):
        return b.op("LayerNormalization", [t, b.normal((d,), 0.1, "g"), b.normal((d,), 0.1, "beta")],
                    axis=-1, epsilon=1e-5)

    def split_heads(t, perm):
        r = b.op("Reshape", [t, b.const(np.array([0, -1, heads, dh], np.int64), "shape")])
        return b.op("Transpose", [r], perm=perm)

    h = layer_norm(x)
    q = split_heads(b.linear(h, d, d), [0, 2, 1, 3])
    k = split_heads(b.linear(h, d, d), [0, 2, 3, 1])
    v = split_heads(b.linear(h, d, d), [0, 2, 1, 3])
    scores = b.op("Mul", [b.op("MatMul", [q, k]), b.const(np.float32(dh ** -0.5), "scale")])
    ctx = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
    ctx = b.op("Transpose", [ctx], perm=[0, 2, 1, 3])
    ctx = b.op("Reshape", [ctx, b.const(np.array([0, 0, d], np.int64), "shape")])
    r = b.op("Add", [x, b.linear(ctx, d, d)])
    f = b.linear(layer_norm(r), d, inter)
    erf = b.op("Erf", [b.op("Div", [f, b.const(np.float32(2 ** 0.5), "sqrt2")])])
    gelu = b.op("Mul", [b.op("Mul", [f, b.const(np.float32(0.5), "half")]),
                        b.op("Add", [erf, b.const(np.float32(1.0), "one")])])
    return b.op("Add", [r, b.linear(gelu, inter, d)])


def attention_dyn():
    b, d = Builder(11), 32
    y = encoder_block(b, "x", d, 2, 2 * d)
    return b.dyn_model("x", [1, "S", d], y, [1, "S", d], "attention_dyn"), [(1, 1, d), (1, 5, d), (1, 33, d)]


def cnn_dyn():
    b = Builder(12)
    h = b.op("Relu", [gen_models.conv_bn(b, "x", 3, 8, 3)])
    h = b.op("Relu", [gen_models.conv_bn(b, h, 8, 16, 3, stride=2)])
    d = gen_models.conv_bn(b, h, 16, 16, 3, group=16)
    d = b.op("Clip", [d, b.const(np.float32(0.0), "lo"), b.const(np.float32(6.0), "hi")])
    h = b.op("MaxPool", [b.op("Add", [h, d])], kernel_shape=[2, 2], strides=[2, 2])
    h = b.op("Conv", [h, b.normal((24, 16, 1, 1), 0.25, "conv_w"), b.normal((24,), 0.1, "b")])
    h = b.op("Relu", [b.op("Conv", [h, b.normal((24, 6, 3, 3), 0.2, "conv_w")], group=4,
                           dilations=[2, 2], pads=[2, 2, 2, 2])])
    h = b.op("AveragePool", [h], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             ceil_mode=1)
    h = b.op("Add", [h, b.op("Mul", [b.op("GlobalMaxPool", [h]), b.const(np.float32(0.5), "half")])])
    y = gen_models.classifier(b, h, 24, 10)
    shapes = [(1, 3, 32, 32), (2, 3, 45, 33), (3, 3, 64, 48)]
    return b.dyn_model("x", ["N", 3, "H", "W"], y, ["N", 10], "cnn_dyn"), shapes


def stem_dyn():
    b = Builder(13)
    h = b.op("Relu", [b.op("Conv", ["x", b.normal((8, 3, 5, 5), 0.2, "conv_w"), b.normal((8,), 0.1, "b")],
                           strides=[2, 2], pads=[2, 2, 2, 2])])
    h = b.op("MaxPool", [h], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    h = b.op("Conv", [h, b.normal((8, 1, 3, 3), 0.3, "conv_w")], group=8, strides=[2, 2],
             pads=[0, 0, 1, 1])
    y = b.op("AveragePool", [h], kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1],
             count_include_pad=1)
    shapes = [(1, 3, 32, 32), (2, 3, 45, 33), (3, 3, 64, 48)]
    return b.dyn_model("x", ["N", 3, "H", "W"], y, ["N", 8, "h", "w"], "stem_dyn"), shapes


def resnet_dyn():
    """ResNet-18's shape, one narrow block per stage: five halvings of H and W, so its last
    stage is 1 x 1 pixels at the sizes free dims are first checked at (kernels lowered at
    larger ones: smaller images are refused)."""
    b = Builder(14)
    x = b.op("Relu", [gen_models.conv_bn(b, "x", 3, 8, 7, stride=2)])
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 8
    for stage, cout in enumerate([8, 16, 16, 24]):
        stride = 1 if stage == 0 else 2
        y = b.op("Relu", [gen_models.conv_bn(b, x, cin, cout, 3, stride)])
        y = gen_models.conv_bn(b, y, cout, cout, 3, gamma=0.3)
        skip = gen_models.conv_bn(b, x, cin, cout, 1, stride) if stride != 1 or cin != cout else x
        x = b.op("Relu", [b.op("Add", [y, skip])])
        cin = cout
    y = gen_models.classifier(b, x, cin, 10)
    shapes = [(1, 3, 96, 96), (2, 3, 112, 100), (1, 3, 128, 160)]
    return b.dyn_model("x", ["N", 3, "H", "W"], y, ["N", 10], "resnet_dyn"), shapes


def unet_dyn():
    """Down and up again: a stride-2 Conv (blocked layout), then a stride-2 ConvTranspose
    back to twice its size, centred per channel by a ReduceMean over the free H and W (a
    mean over a free axis divides by the run's count)."""
    b = Builder(15)
    h = b.op("Relu", [b.op("Conv", ["x", b.normal((8, 3, 3, 3), 0.3, "conv_w"), b.normal((8,), 0.1, "b")],
                           strides=[2, 2], pads=[1, 1, 1, 1])])
    u = b.op("ConvTranspose", [h, b.normal((8, 4, 3, 3), 0.3, "convt_w"), b.normal((4,), 0.1, "b")],
             strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    y = b.op("Sub", [u, b.op("ReduceMean", [u], axes=[2, 3], keepdims=1)])
    shapes = [(1, 3, 32, 32), (2, 3, 45, 33), (1, 3, 64, 48)]
    return b.dyn_model("x", ["N", 3, "H", "W"], y, ["N", 4, "h", "w"], "unet_dyn"), shapes


def export_dyn():
    """A causal attention block as torch.onnx.export writes one with dynamic axes: the
    shapes it reshapes to are computed from Shape(x) (Gather, Unsqueeze, Concat, Mul), the
    positions are Range(0, S) looked up in a table, the causal mask is Trilu of a
    ConstantOfShape [S, S], the pooled tokens are Gathers along S (first and last), the
    mean divides by S cast to float, and a bias is Expanded to [N, d]."""
    b, d, heads = Builder(12), 32, 2
    dh = d // heads

    def i64(v, hint="c"):
        return b.const(np.array(v, np.int64), hint)

    shape = b.op("Shape", ["x"])
    n = b.op("Unsqueeze", [b.op("Gather", [shape, i64(0)], axis=0), i64([0])])
    s = b.op("Gather", [shape, i64(1)], axis=0)
    su = b.op("Unsqueeze", [s, i64([0])])
    pos = b.op("Range", [i64(0), s, i64(1)])
    x = b.op("Add", ["x", b.op("Gather", [b.normal((64, d), 0.5, "pos_table"), pos], axis=0)])
    heads_shape = b.op("Concat", [n, su, i64([heads]), i64([dh])], axis=0)

    def split(t, perm):
        return b.op("Transpose", [b.op("Reshape", [t, heads_shape])], perm=perm)

    q, k, v = (split(b.linear(x, d, d), p) for p in ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3]))
    scores = b.op("Mul", [b.op("MatMul", [q, k]), b.const(np.float32(dh ** -0.5), "scale")])
    ones = b.op("ConstantOfShape", [b.op("Concat", [su, su], axis=0)],
                value=numpy_helper.from_array(np.array([1], np.int64)))
    mask = b.op("Equal", [b.op("Trilu", [ones], upper=0), i64(0)])
    scores = b.op("Where", [mask, b.const(np.float32(-1e4), "neg"), scores])
    ctx = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
    ns = b.op("Mul", [n, su])  # [N * S, d], then back to [N, S, d]
    flat = b.op("Reshape", [b.op("Transpose", [ctx], perm=[0, 2, 1, 3]),
                            b.op("Concat", [ns, i64([-1])], axis=0)])
    ctx = b.op("Reshape", [flat, b.op("Concat", [n, su, i64([d])], axis=0)])
    first = b.op("Gather", [ctx, i64(0)], axis=1)
    last = b.op("Gather", [ctx, i64(-1)], axis=1)
    mean = b.op("Div", [b.op("ReduceSum", [ctx, i64([1])], keepdims=0),
                        b.op("Cast", [s], to=TensorProto.FLOAT)])
    bias = b.op("Expand", [b.normal((1, d), 0.5, "bias"), b.op("Concat", [n, i64([d])], axis=0)])
    y = b.op("Add", [b.op("Add", [first, last]), b.op("Add", [mean, bias])])
    return (b.dyn_model("x", ["N", "S", d], y, ["N", d], "export_dyn"),
            [(1, 1, d), (2, 5, d), (3, 17, d)])


def loop_dyn():
    """An RNN written as a loop over the sequence, as torch.jit.script exports `for t in
    range(x.size(0))`: the trip count is Shape(x)[0], the body reads step t of x by Gather
    and scans its state out."""
    b, d = Builder(13), 8
    vi = helper.make_tensor_value_info
    w, u, bias = b.normal((d, d), 0.4, "w"), b.normal((d, d), 0.4, "u"), b.normal((d,), 0.1, "b")
    body = helper.make_graph([
        helper.make_node("Gather", ["x", "t"], ["xt"], axis=0),
        helper.make_node("MatMul", ["xt", w], ["xw"]), helper.make_node("MatMul", ["h", u], ["hu"]),
        helper.make_node("Add", ["xw", "hu"], ["pre0"]), helper.make_node("Add", ["pre0", bias], ["pre"]),
        helper.make_node("Tanh", ["pre"], ["h2"]), helper.make_node("Identity", ["c"], ["c2"]),
        helper.make_node("Identity", ["h2"], ["hs"])], "body",
        [vi("t", TensorProto.INT64, []), vi("c", TensorProto.BOOL, []), vi("h", TensorProto.FLOAT, [d])],
        [vi("c2", TensorProto.BOOL, []), vi("h2", TensorProto.FLOAT, [d]), vi("hs", TensorProto.FLOAT, [d])])
    n = b.op("Gather", [b.op("Shape", ["x"]), b.const(np.array(0, np.int64), "c")], axis=0)
    b.nodes.append(helper.make_node("Loop", [n, "", b.const(np.zeros(d, np.float32), "h0")],
                                    ["h_last", "y"], body=body))
    return b.dyn_model("x", ["S", d], "y", ["S", d], "loop_dyn"), [(1, d), (6, d), (23, d)]


MODELS = {"mlp_dyn": mlp_dyn, "attention_dyn": attention_dyn, "cnn_dyn": cnn_dyn,
          "stem_dyn": stem_dyn, "resnet_dyn": resnet_dyn, "unet_dyn": unet_dyn,
          "export_dyn": export_dyn, "loop_dyn": loop_dyn}


def write_bin(path, a):
    with open(path, "wb") as f:
        f.write(np.array([a.ndim], "<i4").tobytes() + np.array(a.shape, "<i8").tobytes())
        f.write(np.ascontiguousarray(a, "<f4").tobytes())


def main():
    out_dir = sys.argv[1]
    for name, make in MODELS.items():
        model, shapes = make()
        target = os.path.join(out_dir, name)
        os.makedirs(target, exist_ok=True)
        onnx.save(model, os.path.join(target, "model.onnx"))
        rng = np.random.default_rng(7)
        for k, shape in enumerate(shapes):
            x = rng.standard_normal(shape).astype(np.float32)
            outs = gen_models.reference(model, {"x": x})
            case = os.path.join(target, f"case_{k}")
            os.makedirs(case, exist_ok=True)
            with open(os.path.join(case, "input_0.pb"), "wb") as f:
                f.write(numpy_helper.from_array(x, "x").SerializeToString())
            write_bin(os.path.join(case, "input_0.bin"), x)
            for i, o in enumerate(outs):
                with open(os.path.join(case, f"output_{i}.pb"), "wb") as f:
                    f.write(numpy_helper.from_array(o, f"y{i}").SerializeToString())
                write_bin(os.path.join(case, f"output_{i}.bin"), o)
        print(f"{name}: {len(shapes)} shapes")


if __name__ == "__main__":
    main()
