"""Op cases for ai.onnx.ml's preprocessing and linear models (gen_op_cases.py calls
ml_linear_cases): Scaler, Normalizer, Imputer, LinearRegressor and LinearClassifier over
the input types, attribute lengths and post-transforms onnxruntime takes, with zero rows,
NaNs and both label kinds. Reference: onnxruntime (whose LinearRegressor takes floats only).
"""
import numpy as np
from onnx import TensorProto, helper

from gen_op_cases import V, run_ort, write

F32, F64, I64, I32, S = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.INT32,
                         TensorProto.STRING)
NP = {F32: np.float32, F64: np.float64, I64: np.int64, I32: np.int32}


def ml_model(name, node, inputs, outputs):
    graph = helper.make_graph([node], name, inputs, outputs)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19),
                                                helper.make_opsetid("ai.onnx.ml", 1)])
    m.ir_version = 9
    return m


def case(out, name, op, xt, shape, x, outputs, **attrs):
    node = helper.make_node(op, ["x"], [o for o, _ in outputs], domain="ai.onnx.ml", **attrs)
    m = ml_model(name, node, [V("x", xt, list(shape))], [V(o, t, None) for o, t in outputs])
    feeds = {"x": x}
    write(out, name, m, feeds, run_ort(m, feeds))


def ml_linear_cases(out, rng):
    def data(xt, shape):
        if xt in (I64, I32):
            return rng.integers(-5, 6, shape).astype(NP[xt])
        return rng.standard_normal(shape).astype(NP[xt])

    y = [("y", F32)]
    case(out, "scaler_per_feature", "Scaler", F32, [5, 4], data(F32, [5, 4]), y,
         offset=[0.5, -1.0, 2.0, 0.0], scale=[2.0, 0.5, -1.0, 3.0])
    case(out, "scaler_f64_one", "Scaler", F64, [3, 4], data(F64, [3, 4]), y, offset=[0.25], scale=[4.0])
    case(out, "scaler_int64", "Scaler", I64, [2, 3], data(I64, [2, 3]), y, offset=[1.0, 2.0, 3.0], scale=[0.5, -1.0, 2.0])
    x = data(F32, [5, 3])
    x[1] = 0                       # the divisor 0: x as it is
    x[2] = -np.abs(x[2])           # MAX: a negative max
    for norm in ("MAX", "L1", "L2"):
        case(out, f"normalizer_{norm.lower()}", "Normalizer", F32, [5, 3], x, y, norm=norm)
    case(out, "normalizer_l2_1d_int32", "Normalizer", I32, [6], data(I32, [6]), y, norm="L2")
    x = data(F32, [4, 3])
    x[0, 1] = x[2, 2] = x[3, 0] = np.nan
    case(out, "imputer_nan", "Imputer", F32, [4, 3], x, [("y", F32)],
         imputed_value_floats=[1.5, -2.0, 7.0], replaced_value_float=float("nan"))
    x = np.round(data(F32, [4, 3]))
    case(out, "imputer_value", "Imputer", F32, [4, 3], x, [("y", F32)],
         imputed_value_floats=[9.0], replaced_value_float=0.0)
    case(out, "imputer_int64", "Imputer", I64, [4, 3], data(I64, [4, 3]), [("y", I64)],
         imputed_value_int64s=[100, 200, 1 << 60], replaced_value_int64=1)
    f = 4
    coef = lambda rows: [float(v) for v in np.round(rng.standard_normal(rows * f), 3)]
    inter = lambda rows: [float(v) for v in np.round(rng.standard_normal(rows), 3)]
    case(out, "linear_regressor_one", "LinearRegressor", F32, [6, f], data(F32, [6, f]), y,
         coefficients=coef(1), intercepts=inter(1), post_transform="LOGISTIC")  # one target: ignored
    case(out, "linear_regressor_softmax", "LinearRegressor", F32, [6, f], data(F32, [6, f]), y,
         coefficients=coef(3), intercepts=inter(3), targets=3, post_transform="SOFTMAX")
    case(out, "linear_regressor_1d", "LinearRegressor", F32, [f], data(F32, [f]), y,
         coefficients=coef(2), targets=2, post_transform="LOGISTIC")
    labels = [("y", I64), ("z", F32)]
    case(out, "linear_classifier_multi", "LinearClassifier", F32, [7, f], data(F32, [7, f]), labels,
         coefficients=coef(3), intercepts=inter(3), classlabels_ints=[4, 5, 6], post_transform="SOFTMAX")
    case(out, "linear_classifier_multi_zero", "LinearClassifier", I32, [7, f], data(I32, [7, f]), labels,
         coefficients=coef(3), intercepts=inter(3), classlabels_ints=[0, 1, 2], post_transform="SOFTMAX_ZERO")
    case(out, "linear_classifier_binary", "LinearClassifier", F32, [7, f], data(F32, [7, f]), labels,
         coefficients=coef(1), intercepts=inter(1), classlabels_ints=[3, 7], post_transform="LOGISTIC")
    case(out, "linear_classifier_binary_none", "LinearClassifier", I64, [7, f], data(I64, [7, f]), labels,
         coefficients=coef(1), intercepts=inter(1), classlabels_ints=[0, 1], post_transform="SOFTMAX")
    case(out, "linear_classifier_strings", "LinearClassifier", F32, [7, f], data(F32, [7, f]),
         [("y", S), ("z", F32)], coefficients=coef(3), intercepts=inter(3),
         classlabels_strings=["a", "b", "c"], post_transform="LOGISTIC")
    case(out, "linear_classifier_binary_strings", "LinearClassifier", F64, [7, f], data(F64, [7, f]),
         [("y", S), ("z", F32)], coefficients=coef(1), intercepts=inter(1), classlabels_strings=["no", "yes"])
    # malformed: each must fail the compile naming what is wrong
    x = data(F32, [2, f])
    for name, op, attrs in (("linear_bad_coefficients", "LinearRegressor", dict(coefficients=coef(1)[:3], targets=1)),
                            ("linear_bad_labels", "LinearClassifier", dict(coefficients=coef(1), classlabels_ints=[1, 2, 3])),
                            ("scaler_bad_length", "Scaler", dict(offset=[1.0, 2.0], scale=[1.0, 2.0]))):
        node = helper.make_node(op, ["x"], ["y"], domain="ai.onnx.ml", **attrs)
        write(out, name, ml_model(name, node, [V("x", F32, [2, f])], [V("y", F32, None)]), {"x": x})
