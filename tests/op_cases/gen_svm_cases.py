"""Op cases for ai.onnx.ml's support vector machines (gen_op_cases.py calls svm_cases):
SVMRegressor and SVMClassifier over every kernel, one-class and linear regressors (float X: onnxruntime's
regressor takes no other), two, three and four classes, probability estimates (onnxruntime's binary rules: all coefficients positive or mixed,
each post-transform), int and string labels, double and int64 inputs, and malformed
models that must fail naming the attribute. Reference: onnxruntime. Random models: what
matters is that kiln computes what onnxruntime does with any weights.
"""
import numpy as np
from onnx import TensorProto, helper

from gen_op_cases import V, run_ort, write

F32, F64, I64, S = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.STRING


def ml_model(name, node, xt, f, outputs):
    graph = helper.make_graph([node], name, [V("x", xt, [9, f])], [V(o, t, None) for o, t in outputs])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19),
                                                helper.make_opsetid("ai.onnx.ml", 1)])
    m.ir_version = 9
    return m


def svm_cases(out, _rng):
    rng = np.random.default_rng(23)  # its own: the cases after keep their inputs
    f = 4

    def case(name, op, outputs, xt=F32, fail=False, **attrs):
        node = helper.make_node(op, ["x"], [o for o, _ in outputs], domain="ai.onnx.ml", **attrs)
        m = ml_model(name, node, xt, f, outputs)
        x = rng.standard_normal((9, f))
        x = np.round(x * 3).astype(np.int64) if xt == I64 else x.astype(np.float64 if xt == F64 else np.float32)
        write(out, name, m, {"x": x}, [] if fail else run_ort(m, {"x": x}))

    def kernel(kind):
        return dict(kernel_type=kind, kernel_params=[0.35, 0.4, 3.0])

    def sv(v):
        return [float(t) for t in rng.standard_normal(v * f)]

    def floats(n, positive=False):
        v = rng.standard_normal(n)
        return [float(t) for t in (np.abs(v) if positive else v)]

    y = [("y", F32)]
    for kind in ("RBF", "POLY", "LINEAR", "SIGMOID"):
        case(f"svm_regressor_{kind.lower()}", "SVMRegressor", y, n_supports=6, support_vectors=sv(6),
             coefficients=floats(6), rho=[0.3], **kernel(kind))
    case("svm_regressor_one_class", "SVMRegressor", y, n_supports=5, support_vectors=sv(5),
         coefficients=floats(5), rho=[-0.2], one_class=1, **kernel("RBF"))
    case("svm_regressor_no_vectors", "SVMRegressor", y, coefficients=floats(f), rho=[0.5], **kernel("LINEAR"))
    cls = [("label", I64), ("scores", F32)]
    for post in ("NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"):
        case(f"svm_classifier_3_{post.lower()}", "SVMClassifier", cls, classlabels_ints=[4, 5, 6],
             vectors_per_class=[2, 3, 2], support_vectors=sv(7), coefficients=floats(14),
             rho=floats(3), post_transform=post, **kernel("RBF" if post != "SOFTMAX" else "POLY"))
        case(f"svm_classifier_binary_{post.lower()}", "SVMClassifier", cls, classlabels_ints=[0, 1],
             vectors_per_class=[3, 2], support_vectors=sv(5), coefficients=floats(5), rho=[0.1],
             post_transform=post, **kernel("RBF"))
    case("svm_classifier_binary_positive", "SVMClassifier", cls, classlabels_ints=[7, 9],
         vectors_per_class=[2, 2], support_vectors=sv(4), coefficients=floats(4, True), rho=[-1.5],
         **kernel("SIGMOID"))
    # four classes of one vector each: votes tie, the first class with the most wins
    case("svm_classifier_4_ties", "SVMClassifier", cls, xt=F64, classlabels_ints=[1, 2, 3, 4],
         vectors_per_class=[1, 1, 1, 1], support_vectors=sv(4), coefficients=floats(12),
         rho=floats(6), **kernel("LINEAR"))
    case("svm_classifier_int64", "SVMClassifier", cls, xt=I64, classlabels_ints=[0, 1, 2],
         vectors_per_class=[2, 2, 2], support_vectors=sv(6), coefficients=floats(12),
         rho=floats(3), **kernel("RBF"))
    case("svm_classifier_strings", "SVMClassifier", [("label", S), ("scores", F32)],
         classlabels_strings=["setosa", "versicolor", "virginica"], vectors_per_class=[2, 1, 2],
         support_vectors=sv(5), coefficients=floats(10), rho=floats(3), **kernel("RBF"))
    # refused by name
    case("svm_bad_proba", "SVMClassifier", cls, fail=True, classlabels_ints=[0, 1],
         vectors_per_class=[1, 1], support_vectors=sv(2), coefficients=floats(2), rho=[0.0],
         prob_a=[1.0, -1.0], prob_b=[0.0, 0.1], **kernel("RBF"))
    case("svm_bad_coefficients", "SVMClassifier", cls, fail=True, classlabels_ints=[0, 1, 2],
         vectors_per_class=[1, 1, 1], support_vectors=sv(3), coefficients=floats(5), rho=floats(3),
         **kernel("RBF"))
    case("svm_bad_vectors", "SVMRegressor", y, fail=True, n_supports=3, support_vectors=sv(2),
         coefficients=floats(3), rho=[0.0], **kernel("RBF"))
    # a bound on what compiling builds: 5000 classes are 12.5 million pairs
    case("svm_bad_classes", "SVMClassifier", cls, fail=True, classlabels_ints=list(range(5000)),
         vectors_per_class=[1] * 5000, support_vectors=[0.0] * (5000 * f), coefficients=[0.0],
         rho=[0.0], **kernel("RBF"))
    # probability estimates (prob_a, prob_b: libsvm's pairwise coupling), two to five classes,
    # each post-transform; scales as libsvm fits them (A < 0)
    for name, c, post, kind in (("svm_classifier_proba_2", 2, "NONE", "RBF"),
                                ("svm_classifier_proba_3", 3, "NONE", "RBF"),
                                ("svm_classifier_proba_4_softmax", 4, "SOFTMAX", "POLY"),
                                ("svm_classifier_proba_5_logistic", 5, "LOGISTIC", "LINEAR")):
        pairs = c * (c - 1) // 2
        per = [1 + k % 2 for k in range(c)]
        v = sum(per)
        case(name, "SVMClassifier", cls, classlabels_ints=list(range(10, 10 + c)),
             vectors_per_class=per, support_vectors=sv(v), coefficients=floats((c - 1) * v),
             rho=floats(pairs), prob_a=[-1.5 - abs(t) for t in floats(pairs)],
             prob_b=[0.2 * t for t in floats(pairs)], post_transform=post, **kernel(kind))
    # the coupling is a loop run at run time: a free batch is refused by name
    node = helper.make_node("SVMClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml",
                            classlabels_ints=[0, 1, 2], vectors_per_class=[1, 1, 1], support_vectors=sv(3),
                            coefficients=floats(6), rho=floats(3), prob_a=[-1.0] * 3, prob_b=[0.0] * 3,
                            **kernel("RBF"))
    m = ml_model("svm_bad_proba_free", node, F32, f, cls)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    write(out, "svm_bad_proba_free", m, {"x": rng.standard_normal((3, f)).astype(np.float32)})
