"""kiln's errors as KilnError (status name and message), argument errors as Python's."""
import ctypes
import os
import pickle

import numpy as np
import pytest
from onnx import TensorProto, helper

import kiln
from conftest import onnx_model

FREE = onnx_model([helper.make_node("Relu", ["x"], ["y"])], [("x", TensorProto.FLOAT, ["N", 4])],
                  [("y", TensorProto.FLOAT, ["N", 4])])


def kiln_error(status, message, call, *args, **kwargs):
    with pytest.raises(kiln.KilnError) as e:
        call(*args, **kwargs)
    assert e.value.status == status and message in e.value.message
    assert str(e.value) == f"{status}: {e.value.message}"
    copy = pickle.loads(pickle.dumps(e.value))  # crosses process boundaries (multiprocessing)
    assert (copy.status, copy.code, copy.message) == (e.value.status, e.value.code, e.value.message)
    return e.value


def test_compile_errors(tmp_path):
    missing = str(tmp_path / "missing.onnx")
    e = kiln_error("NO_SUCH_FILE", f"cannot open '{missing}'", kiln.compile, missing)
    assert e.code == 2  # KILN_ERR_NO_SUCH_FILE
    kiln_error("INVALID_MODEL", "not a valid ONNX model", kiln.compile, b"\x08\x07\x12\x03abc\xff")
    kiln_error("INVALID_MODEL", "<buffer>:1:", kiln.compile,
               b"model f(x: f32[4]) { return y = x + }")
    kiln_error("SHAPE", "input 'x' dim 0 ('N')", kiln.compile, FREE)
    kiln_error("SHAPE", "input 'x' dim 1 is 4, but was given 5", kiln.compile, FREE,
               shapes={"x": (2, 5)})
    kiln_error("INVALID_ARGUMENT", "no graph input named 'z'", kiln.compile, FREE,
               shapes={"z": (2, 4)})
    kiln_error("INVALID_ARGUMENT", "cpu 'nonesuch'", kiln.compile, FREE, shapes={"x": (2, 4)},
               cpu="nonesuch")
    log = tmp_path / "bad.jsonl"
    log.write_text("not json\n")
    kiln_error("INVALID_ARGUMENT", f"tuning log '{log}' line 1", kiln.compile, FREE,
               shapes={"x": (2, 4)}, tuning_log=log)


def test_argument_errors():
    with pytest.raises(ValueError, match="target 'tpu': this kiln generates code for 'cpu', "):
        kiln.compile(FREE, target="tpu")
    # the GPU itself: compiling needs NVRTC, running a CUDA driver; without them, one clear error
    try:
        gpu = kiln.compile(FREE, shapes={"x": (2, 4)}, target="cuda")
    except kiln.KilnError as e:
        assert e.status == "UNSUPPORTED" and "libnvrtc" in e.message
    else:
        try:
            ctypes.CDLL("libcuda.so.1")
        except OSError:  # no driver: the first run says so
            kiln_error("UNSUPPORTED", "libcuda.so.1", gpu.run, {"x": np.ones((2, 4), np.float32)})
    with pytest.raises(ValueError, match="threads must be 0"):
        kiln.compile(FREE, threads=-1)
    with pytest.raises(ValueError, match=r"shapes\['x'\] has rank 9"):
        kiln.compile(FREE, shapes={"x": (1,) * 9})
    with pytest.raises(TypeError, match=r"shapes\['x'\] must be a sequence of ints"):
        kiln.compile(FREE, shapes={"x": (2.5, 4)})
    with pytest.raises(TypeError, match="shapes must be a dict"):
        kiln.compile(FREE, shapes=[("x", (2, 4))])
    with pytest.raises(TypeError, match="model must be a path"):
        kiln.compile(42)


def test_tuning_log_applies(tmp_path):
    """A readable log without records for this model compiles with default schedules."""
    log = tmp_path / "empty.jsonl"
    log.write_text("")
    m = kiln.compile(FREE, shapes={"x": (2, 4)}, tuning_log=str(log))
    x = np.array([[-1, 2, -3, 4], [5, -6, 7, -8]], np.float32)
    np.testing.assert_array_equal(m.run([x])[0], np.maximum(x, 0))


def test_run_error(models_dir):
    """An index out of range in a Gather's data fails the run, naming node and index."""
    m = kiln.compile(os.path.join(models_dir, "gathers", "model.onnx"))
    inputs = [np.zeros(t.shape, t.dtype) for t in m.inputs]
    inputs[0][0, 5] = 10**9
    kiln_error("INVALID_INPUT", "node 'gather_2' (Gather): input 'input_ids': index 1000000000",
               m.run, inputs)


def test_aot_errors(models_dir, tmp_path):
    mlp = os.path.join(models_dir, "mlp", "model.onnx")
    kiln_error("INVALID_ARGUMENT", "AOT name '1bad' is not a C identifier", kiln.compile_aot,
               mlp, tmp_path / "m.so", name="1bad")
    kiln_error("IO", "cannot create files in directory", kiln.compile_aot, mlp,
               tmp_path / "none" / "m.so")
    assert os.listdir(tmp_path) == []
