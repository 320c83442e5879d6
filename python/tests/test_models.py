"""Whole models and small ones through kiln.compile and Model.run, against onnxruntime."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import kiln
from conftest import assert_close, dataset_inputs, onnx_model, ort_run

MODELS = ["mlp", "resnet18", "bert_tiny", "gathers", "lstm"]


@pytest.mark.parametrize("name", MODELS)
def test_model_matches_onnxruntime(models_dir, name):
    path = os.path.join(models_dir, name, "model.onnx")
    graph = onnx.load(path).graph
    m = kiln.compile(path)
    # inputs and outputs as the ONNX graph declares them
    for infos, values in ((m.inputs, graph.input), (m.outputs, graph.output)):
        assert [t.name for t in infos] == [v.name for v in values]
        for t, v in zip(infos, values):
            tt = v.type.tensor_type
            assert t.dtype == helper.tensor_dtype_to_np_dtype(tt.elem_type)
            assert t.shape == tuple(d.dim_value for d in tt.shape.dim)
    inputs = dataset_inputs(os.path.join(models_dir, name))
    feeds = {t.name: x for t, x in zip(m.inputs, inputs)}
    want = ort_run(path, feeds)
    got = m.run(feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_close(g, w)


def test_cuda_host_target(models_dir):
    """The GPU backend's CUDA C, run on the CPU, gives the references too."""
    path = os.path.join(models_dir, "mlp", "model.onnx")
    x, = dataset_inputs(os.path.join(models_dir, "mlp"))
    want, = ort_run(path, {"input": x})
    got, = kiln.compile(path, target="cuda-host").run([x])
    assert_close(got, want)


def test_bytes_and_list(models_dir):
    path = os.path.join(models_dir, "mlp", "model.onnx")
    with open(path, "rb") as f:
        data = f.read()
    x, = dataset_inputs(os.path.join(models_dir, "mlp"))
    want, = ort_run(path, {"input": x})
    for model in (data, bytearray(data), memoryview(data)):
        got, = kiln.compile(model).run([x])
        assert_close(got, want)


def test_shapes_bind_free_dims():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((8, 5)).astype(np.float32)
    data = onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"]),
                       helper.make_node("Relu", ["y"], ["z"])],
                      [("x", TensorProto.FLOAT, ["N", 8])], [("z", TensorProto.FLOAT, ["N", 5])],
                      [numpy_helper.from_array(w, "w")])
    for n in (1, 3):
        m = kiln.compile(data, shapes={"x": (n, 8)})
        assert m.inputs[0].shape == (n, 8) and m.outputs[0].shape == (n, 5)
        x = rng.standard_normal((n, 8)).astype(np.float32)
        assert_close(m.run({"x": x})[0], ort_run(data, {"x": x})[0])


def test_values_become_constants():
    """A shape input given at compile time: the model keeps only its other input."""
    data = onnx_model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                      [("x", TensorProto.FLOAT, [2, 6]), ("shape", TensorProto.INT64, [2])],
                      [("y", TensorProto.FLOAT, ["A", "B"])])
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    for shape in ([3, -1], np.array([4, 0, 3])[::2]):  # a list; a strided array
        m = kiln.compile(data, values={"shape": shape})
        want, = ort_run(data, {"x": x, "shape": np.asarray(shape)})
        assert [t.name for t in m.inputs] == ["x"] and m.outputs[0].shape == want.shape
        assert_close(m.run([x])[0], want)
    with pytest.raises(kiln.KilnError, match="input 'shape' is i64, but its value is i32"):
        kiln.compile(data, values={"shape": np.array([3, 4], np.int32)})
    with pytest.raises(TypeError, match="kiln has no element type for numpy's complex64"):
        kiln.compile(data, values={"shape": np.zeros(2, np.complex64)})


def test_dtypes_both_ways():
    """Integer, bool and f16 inputs and outputs map to the numpy dtypes onnxruntime uses."""
    cases = [(TensorProto.INT32, TensorProto.FLOAT16), (TensorProto.FLOAT16, TensorProto.DOUBLE),
             (TensorProto.UINT8, TensorProto.INT64), (TensorProto.FLOAT, TensorProto.BOOL),
             (TensorProto.INT8, TensorProto.UINT16)]
    rng = np.random.default_rng(2)
    for src, dst in cases:
        data = onnx_model([helper.make_node("Cast", ["x"], ["y"], to=dst)],
                          [("x", src, [2, 3])], [("y", dst, [2, 3])])
        m = kiln.compile(data)
        x = (rng.standard_normal((2, 3)) * 50).astype(helper.tensor_dtype_to_np_dtype(src))
        got, = m.run([x])
        want, = ort_run(data, {"x": x})
        assert m.inputs[0].dtype == x.dtype and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_bfloat16_as_raw_bits():
    """bf16 travels as uint16 bits; ml_dtypes (onnx's dependency) is the reference."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    to_bf16 = onnx_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.BFLOAT16)],
                         [("x", TensorProto.FLOAT, [4, 8])],
                         [("y", TensorProto.BFLOAT16, [4, 8])])
    from_bf16 = onnx_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
                           [("x", TensorProto.BFLOAT16, [4, 8])],
                           [("y", TensorProto.FLOAT, [4, 8])])
    x = np.random.default_rng(3).standard_normal((4, 8)).astype(np.float32)
    bits = x.astype(ml_dtypes.bfloat16)
    m = kiln.compile(to_bf16)
    assert m.outputs[0].kiln_dtype == "bf16" and m.outputs[0].dtype == np.uint16
    np.testing.assert_array_equal(m.run([x])[0], bits.view(np.uint16))
    back = kiln.compile(from_bf16)
    assert back.inputs[0].kiln_dtype == "bf16"
    want = bits.astype(np.float32)
    np.testing.assert_array_equal(back.run([bits.view(np.uint16)])[0], want)
    np.testing.assert_array_equal(back.run([bits])[0], want)  # an ml_dtypes array as it is


def test_float8_as_raw_bits():
    """The f8 types travel as uint8 bits; ml_dtypes is the reference (saturating casts)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.array([[0.3, -1e6, 500.0, 1e-5, -0.0, 17.5, np.inf, np.nan]], np.float32)
    for t, name, dt in ((TensorProto.FLOAT8E4M3FN, "f8e4m3fn", ml_dtypes.float8_e4m3fn),
                        (TensorProto.FLOAT8E5M2FNUZ, "f8e5m2fnuz", ml_dtypes.float8_e5m2fnuz)):
        to_f8 = onnx_model([helper.make_node("Cast", ["x"], ["y"], to=t)],
                           [("x", TensorProto.FLOAT, [1, 8])], [("y", t, [1, 8])], opset=19)
        from_f8 = onnx_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
                             [("x", t, [1, 8])], [("y", TensorProto.FLOAT, [1, 8])], opset=19)
        bits = onnx.numpy_helper.saturate_cast(x, dt)
        m = kiln.compile(to_f8)
        assert m.outputs[0].kiln_dtype == name and m.outputs[0].dtype == np.uint8
        np.testing.assert_array_equal(m.run([x])[0], bits.view(np.uint8))
        back = kiln.compile(from_f8)
        want = bits.astype(np.float32)
        np.testing.assert_array_equal(back.run([bits.view(np.uint8)])[0], want)
        np.testing.assert_array_equal(back.run([bits])[0], want)  # an ml_dtypes array as it is
        with pytest.raises(TypeError):
            back.run([x])


def test_int4_by_value():
    """int4 travels as int8 values, f4e2m1 as uint8 codes; ml_dtypes is the reference."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.array([[-9.0, -8.0, -1.5, 0.0, 3.7, 7.0, 8.0, 100.0]], np.float32)
    for t, name, dt, np_t in ((TensorProto.INT4, "i4", ml_dtypes.int4, np.int8),
                              (TensorProto.FLOAT4E2M1, "f4e2m1", ml_dtypes.float4_e2m1fn, np.uint8)):
        to_t = onnx_model([helper.make_node("Cast", ["x"], ["y"], to=t)],
                          [("x", TensorProto.FLOAT, [1, 8])], [("y", t, [1, 8])], opset=23)
        back = onnx_model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
                          [("x", t, [1, 8])], [("y", TensorProto.FLOAT, [1, 8])], opset=23)
        want = x.astype(dt)
        held = want.astype(np.int8) if np_t == np.int8 else want.view(np.uint8)
        m = kiln.compile(to_t)
        assert m.outputs[0].kiln_dtype == name and m.outputs[0].dtype == np_t
        np.testing.assert_array_equal(m.run([x])[0], held)
        b = kiln.compile(back)
        np.testing.assert_array_equal(b.run([held])[0], want.astype(np.float32))
        np.testing.assert_array_equal(b.run([want])[0], want.astype(np.float32))  # ml_dtypes'


def test_dsl_text():
    """A kiln DSL program given as bytes; numpy is the reference."""
    src = b"model f(x: f32[4, 8], y: f32[4, 8]) { return z = Tanh(x * y + 1) }"
    rng = np.random.default_rng(4)
    x, y = (rng.standard_normal((4, 8)).astype(np.float32) for _ in range(2))
    m = kiln.compile(src)
    assert [t.name for t in m.inputs] == ["x", "y"] and m.outputs[0].name == "z"
    assert_close(m.run({"y": y, "x": x})[0], np.tanh(x * y + 1))


@pytest.mark.parametrize("threads", [1, 2])
def test_threads(models_dir, threads):
    path = os.path.join(models_dir, "mlp_b64", "model.onnx")
    x, = dataset_inputs(os.path.join(models_dir, "mlp_b64"))
    got, = kiln.compile(path, threads=threads).run([x])
    assert_close(got, ort_run(path, {"input": x})[0])


def test_strings():
    """String tensors are object arrays of str: inputs in, outputs decoded (and freed by
    the package); StringNormalizer's stopwords give a size the run computes. onnxruntime
    is the reference for the fixed-size outputs."""
    S = TensorProto.STRING
    m = onnx_model([helper.make_node("StringConcat", ["a", "b"], ["c"]),
                    helper.make_node("Equal", ["a", "b"], ["e"]),
                    helper.make_node("Cast", ["a"], ["n"], to=TensorProto.DOUBLE),
                    helper.make_node("Transpose", ["a"], ["t"])],
                   [("a", S, [2, 2]), ("b", S, [2])],
                   [("c", S, [2, 2]), ("e", TensorProto.BOOL, [2, 2]), ("n", TensorProto.DOUBLE, [2, 2]),
                    ("t", S, [2, 2])], opset=20)
    a = np.array([["1.5", "-2"], ["7", "0.25"]], object)
    b = np.array(["1.5", "Grüße"], object)
    k = kiln.compile(m)
    assert k.inputs[0].kiln_dtype == "string" and k.outputs[0].dtype == np.dtype(object)
    got = k.run({"a": a, "b": b})
    want = ort_run(m, {"a": a, "b": b})
    for g, w in zip(got, want):
        if w.dtype == object:
            assert g.tolist() == w.tolist()
        else:
            np.testing.assert_array_equal(np.nan_to_num(g), np.nan_to_num(w))
    norm = onnx_model([helper.make_node("StringNormalizer", ["x"], ["y"], stopwords=["a"],
                                        case_change_action="UPPER")],
                      [("x", S, [4])], [("y", S, ["n"])])
    k = kiln.compile(norm)
    assert k.run([np.array(["a", "b", "A", "c"], object)])[0].tolist() == ["B", "C"]
    assert k.run([np.array(["a"] * 4, object)])[0].tolist() == [""]
    with pytest.raises(ValueError, match="NUL"):
        k.run([np.array(["a\0b", "b", "c", "d"], object)])
