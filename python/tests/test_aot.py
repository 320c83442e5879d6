"""kiln.compile_aot: a shared library and its header, loaded with ctypes and run."""
import ctypes
import os

import numpy as np

import kiln
from conftest import assert_close, dataset_inputs, onnx_model, ort_run
from onnx import TensorProto, helper, numpy_helper


def test_aot_library(models_dir, tmp_path):
    path = os.path.join(models_dir, "mlp", "model.onnx")
    lib_path = tmp_path / "libmlp.so"
    assert kiln.compile_aot(path, lib_path, name="mlp") is None
    header = (tmp_path / "mlp.h").read_text()
    assert "int mlp_run(" in header
    x, = dataset_inputs(os.path.join(models_dir, "mlp"))
    want, = ort_run(path, {"input": x})
    got = np.empty_like(want)
    lib = ctypes.CDLL(str(lib_path))
    lib.mlp_run.argtypes = [ctypes.c_void_p] * 3
    assert lib.mlp_run(x.ctypes.data, got.ctypes.data, None) == 0
    assert_close(got, want)


def test_aot_shapes(tmp_path):
    """Free dims bound for an AOT library, which then computes what onnxruntime does."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((6, 3)).astype(np.float32)
    data = onnx_model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                      [("x", TensorProto.FLOAT, ["N", 6])], [("y", TensorProto.FLOAT, ["N", 3])],
                      [numpy_helper.from_array(w, "w")])
    model = tmp_path / "free.onnx"
    model.write_bytes(data)
    kiln.compile_aot(str(model), str(tmp_path / "libfree.so"), name="free", shapes={"x": [5, 6]})
    x = rng.standard_normal((5, 6)).astype(np.float32)
    got = np.empty((5, 3), np.float32)
    lib = ctypes.CDLL(str(tmp_path / "libfree.so"))
    lib.free_run.argtypes = [ctypes.c_void_p] * 3
    assert lib.free_run(x.ctypes.data, got.ctypes.data, None) == 0
    assert_close(got, ort_run(data, {"x": x})[0])
