"""An ONNX graph run op by op by PyTorch on the GPU (cuDNN, cuBLAS): bench_gpu.py's peer
where onnxruntime-gpu is missing. It knows the ops of the test models
(tests/models/gen_models.py) that a GPU bench compares: convolution networks, MLPs, BERT."""
import math


def torch_dtype(torch, onnx_type):
    return {1: torch.float32, 2: torch.uint8, 3: torch.int8, 5: torch.int16, 6: torch.int32,
            7: torch.int64, 9: torch.bool, 10: torch.float16, 11: torch.float64}[onnx_type]


def torch_model(torch, model):
    """The ONNX graph run op by op by PyTorch on the GPU (cuDNN, cuBLAS), the peer where
    onnxruntime-gpu is missing; None when the graph has an op this does not know."""
    import onnx
    from onnx import numpy_helper
    F = torch.nn.functional
    g = model.graph
    env0 = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()).cuda() for t in g.initializer}

    def pads2(a):
        p = a.get("pads", [0, 0, 0, 0])
        return (p[0], p[1]) if p[:2] == p[2:] else None

    def gather(x, a):
        ax, idx = a.get("axis", 0), x[1].long() % x[0].shape[a.get("axis", 0)]
        return x[0].index_select(ax, idx.reshape(-1)).reshape(
            x[0].shape[:ax] + idx.shape + x[0].shape[ax + 1:])

    def reshape(x, a):
        shape = [int(d) for d in x[1].tolist()]
        shape = [x[0].shape[i] if d == 0 else d for i, d in enumerate(shape)]
        return x[0].reshape(shape)

    def gemm(x, a):
        A = x[0].t() if a.get("transA", 0) else x[0]
        B = x[1].t() if a.get("transB", 0) else x[1]
        y = a.get("alpha", 1.0) * (A @ B)
        return y + a.get("beta", 1.0) * x[2] if len(x) > 2 and x[2] is not None else y

    def unsqueeze(x, a):
        y = x[0]
        for d in sorted(int(v) for v in x[1].tolist()):
            y = y.unsqueeze(d)
        return y

    ops = {
        "Add": lambda x, a: x[0] + x[1], "Sub": lambda x, a: x[0] - x[1],
        "Mul": lambda x, a: x[0] * x[1], "Div": lambda x, a: x[0] / x[1],
        "Pow": lambda x, a: torch.pow(x[0], x[1]), "Sqrt": lambda x, a: torch.sqrt(x[0]),
        "Erf": lambda x, a: torch.erf(x[0]), "Relu": lambda x, a: torch.relu(x[0]),
        "Cast": lambda x, a: x[0].to(torch_dtype(torch, a["to"])),
        "MatMul": lambda x, a: torch.matmul(x[0], x[1]), "Gemm": gemm, "Gather": gather,
        "Reshape": reshape, "Unsqueeze": unsqueeze,
        "Transpose": lambda x, a: x[0].permute(*a["perm"]),
        "Softmax": lambda x, a: torch.softmax(x[0], a.get("axis", -1)),
        "ReduceMean": lambda x, a: x[0].mean(dim=tuple(a["axes"]), keepdim=bool(a.get("keepdims", 1))),
        "LayerNormalization": lambda x, a: F.layer_norm(
            x[0], x[0].shape[a.get("axis", -1):], x[1], x[2] if len(x) > 2 else None,
            a.get("epsilon", 1e-5)),
        "BatchNormalization": lambda x, a: F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0,
                                                         a.get("epsilon", 1e-5)),
        "Clip": lambda x, a: torch.clamp(x[0], x[1].item() if len(x) > 1 and x[1] is not None else None,
                                         x[2].item() if len(x) > 2 and x[2] is not None else None),
        "Conv": lambda x, a: F.conv2d(x[0], x[1], x[2] if len(x) > 2 else None,
                                      a.get("strides", [1, 1]), pads2(a),
                                      a.get("dilations", [1, 1]), a.get("group", 1)),
        "MaxPool": lambda x, a: F.max_pool2d(x[0], a["kernel_shape"], a.get("strides", [1, 1]),
                                             pads2(a)),
        "GlobalAveragePool": lambda x, a: x[0].mean(dim=(2, 3), keepdim=True),
        "Flatten": lambda x, a: x[0].reshape(
            math.prod(x[0].shape[:a.get("axis", 1)]), -1),
    }
    steps = []
    for n in g.node:
        a = {t.name: onnx.helper.get_attribute_value(t) for t in n.attribute}
        if n.op_type not in ops or (n.op_type in ("Conv", "MaxPool") and pads2(a) is None):
            return None
        steps.append((ops[n.op_type], list(n.input), n.output[0], a))
    names = [v.name for v in g.input if v.name not in env0]
    outs = [v.name for v in g.output]

    def run(*xs):
        env = dict(env0)
        env.update(zip(names, xs))
        with torch.no_grad():
            for fn, ins, out, a in steps:
                env[out] = fn([env[i] if i else None for i in ins], a)
        return [env[o] for o in outs]
    return run
