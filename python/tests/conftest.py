"""Shared by the kiln package's tests: the generated whole models (tests/models/
gen_models.py; KILN_MODELS_DIR, else build/models of the repository, KILN_SOURCE_DIR or
this folder's), small ONNX models made here, and onnxruntime as the reference."""
import glob
import os

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import helper, numpy_helper

RTOL, ATOL = 1e-3, 1e-4  # tests/model_test.c's

REPO = os.environ.get("KILN_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def models_dir():
    d = os.environ.get("KILN_MODELS_DIR") or os.path.join(REPO, "build", "models")
    if not os.path.isfile(os.path.join(d, "mlp", "model.onnx")):
        pytest.fail(f"no test models in {d}: make them (ctest -R models_generate) or set "
                    f"KILN_MODELS_DIR")
    return d


def dataset_inputs(model_dir):
    """test_data_set_0's inputs, in the model's order."""
    files = sorted(glob.glob(os.path.join(model_dir, "test_data_set_0", "input_*.pb")),
                   key=lambda f: int(f.rsplit("_", 1)[1].split(".")[0]))
    return [numpy_helper.to_array(onnx.load_tensor(f)) for f in files]


def ort_run(model, feeds):
    """onnxruntime's outputs for a model (path or bytes), op by op as ONNX defines them
    (graph optimizations off, as gen_models.py makes its references)."""
    so = onnxruntime.SessionOptions()
    so.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = onnxruntime.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def onnx_model(nodes, inputs, outputs, initializers=(), opset=17):
    """A small ONNX model's bytes. inputs/outputs: (name, TensorProto type, shape)."""
    def vi(name, t, shape):
        return helper.make_tensor_value_info(name, t, shape)
    graph = helper.make_graph(nodes, "test", [vi(*i) for i in inputs],
                              [vi(*o) for o in outputs], list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()
