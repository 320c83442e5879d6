"""Model.run's contract: inputs checked before the call, arrays passed without copies,
outputs written where asked, the GIL released while kiln runs, the model freed once."""
import gc
import os
import subprocess
import sys
import threading
import time
import weakref

import numpy as np
import pytest
from onnx import TensorProto, helper

import kiln
from kiln import _capi, _model
from conftest import assert_close, onnx_model, ort_run

ADD = onnx_model([helper.make_node("Add", ["a", "b"], ["c"]),
                  helper.make_node("Neg", ["c"], ["d"])],
                 [("a", TensorProto.FLOAT, [3, 4]), ("b", TensorProto.FLOAT, [3, 4])],
                 [("c", TensorProto.FLOAT, [3, 4]), ("d", TensorProto.FLOAT, [3, 4])])


@pytest.fixture(scope="module")
def add():
    return kiln.compile(ADD)


def operands(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(2)]


def test_info(add):
    assert [(t.name, t.dtype, t.shape, t.kiln_dtype) for t in add.inputs + add.outputs] == [
        (n, np.float32, (3, 4), "f32") for n in "abcd"]
    assert repr(add) == "<kiln.Model (a: f32[3, 4], b: f32[3, 4]) -> (c: f32[3, 4], d: f32[3, 4])>"


def test_wrong_inputs(add):
    a, b = operands()
    with pytest.raises(ValueError, match="no model input named 'x' .*'a', 'b'"):
        add.run({"a": a, "b": b, "x": a})
    with pytest.raises(ValueError, match="model input 'b' is missing"):
        add.run({"a": a})
    with pytest.raises(ValueError, match="the model has 2 inputs, 1 were given"):
        add.run([a])
    with pytest.raises(TypeError, match="must be a dict"):
        add.run(a)
    with pytest.raises(ValueError, match=r"input 'b' has shape \(3, 4\), was given \(4, 3\)"):
        add.run([a, b.T.copy()])
    with pytest.raises(TypeError, match="input 'a' is float32: cannot take complex128"):
        add.run([a.astype(np.complex128), b])
    with pytest.raises(TypeError, match="must be a numpy array"):
        add.run([a, b], out=[[0.0] * 4, None])


def test_int_input_refuses_floats():
    data = onnx_model([helper.make_node("Neg", ["i"], ["o"])], [("i", TensorProto.INT64, [2])],
                      [("o", TensorProto.INT64, [2])])
    m = kiln.compile(data)
    with pytest.raises(TypeError, match="input 'i' is int64: cannot take float64"):
        m.run([np.array([1.5, 2.0])])
    np.testing.assert_array_equal(m.run([np.array([3, -4], np.int32)])[0], [-3, 4])


def test_conversions(add):
    """Other dtypes of the same kind, non-contiguous arrays and lists are converted once."""
    a, b = operands()
    want = ort_run(ADD, {"a": a, "b": b})
    for x, y in ((a.astype(np.float64), b.tolist()), (np.asfortranarray(a), b.T.copy().T),
                 (a.astype(">f4"), b)):
        got = add.run([x, y])
        for g, w in zip(got, want):
            assert_close(g, w)


def test_inputs_passed_in_place(add):
    a, b = operands()
    assert _model._as_input(add.inputs[0], a) is a
    assert _model._as_input(add.inputs[0], a[:, ::-1]) is not a  # a strided view: one copy


def test_out_written_in_place(add):
    a, b = operands()
    want = ort_run(ADD, {"a": a, "b": b})
    block = np.full((3, 3, 4), 7.0, np.float32)  # c and d land in its two last slices
    c, d = block[1], block[2]
    got = add.run({"a": a, "b": b}, out={"d": d, "c": c})
    assert got[0] is c and got[1] is d
    assert_close(block[1], want[0])
    assert_close(block[2], want[1])
    assert np.all(block[0] == 7.0)


def test_bad_out(add):
    a, b = operands()
    c = np.empty((3, 4), np.float32)
    with pytest.raises(ValueError, match="out for output 'd' must be float32 of shape"):
        add.run([a, b], out=[c, np.empty((3, 4))])
    with pytest.raises(ValueError, match="out for output 'd' must be C-contiguous"):
        add.run([a, b], out=[c, np.empty((4, 3), np.float32).T])
    with pytest.raises(ValueError, match="out for output 'c' overlaps an input"):
        add.run([a, b], out=[a, c])
    with pytest.raises(ValueError, match="out for output 'c' overlaps another"):
        add.run([a, b], out=[c, c])
    read_only = np.empty((3, 4), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        add.run([a, b], out=[c, read_only])


def test_runs_from_many_threads(add):
    """One model run by four threads at once, each on its own inputs."""
    failures = []

    def work(seed):
        for i in range(20):
            a, b = operands(seed * 100 + i)
            c, d = add.run([a, b])
            if not (np.array_equal(c, a + b) and np.array_equal(d, -(a + b))):
                failures.append((seed, i))

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


SLOW = b"""
model slow(x: f32[512, 1024]) seed 1 {
  param w: f32[1024, 1024] = normal(0, 0.03)
  y = x
  repeat 16 { y = MatMul(y, w) }
  return out = y
}
"""


def test_run_releases_the_gil():
    """This thread keeps noting the time while another one runs a model for a few hundred
    milliseconds: some notes must fall in the middle half of the run. Were the GIL held
    during kiln_run, this thread could note nothing between the run's first few
    milliseconds (before the call, one switch interval) and its end."""
    m = kiln.compile(SLOW, threads=1)
    x = np.ones((512, 1024), np.float32)
    started, span = threading.Event(), []

    def work():
        started.set()
        t0 = time.monotonic()
        y, = m.run([x])
        span.extend([t0, time.monotonic(), y.shape])

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    notes = []
    while not span:
        notes.append(time.monotonic())
        time.sleep(0.001)
    t.join()
    t0, t1, shape = span
    middle = [n for n in notes if t0 + (t1 - t0) / 4 < n < t1 - (t1 - t0) / 4]
    assert middle, f"no progress here during the run ({len(notes)} notes, run {t1 - t0:.3f} s)"
    assert shape == (512, 1024)


def test_compile_releases_the_gil(tmp_path):
    """kiln_compile_file opening a FIFO blocks until another thread opens it to write,
    which that thread can do only if the compile let go of the GIL. In a child process
    with a timeout, so that a held GIL fails the test instead of hanging it."""
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)
    script = f"""
import os, threading, kiln
errors = []
def compile():
    try:
        kiln.compile({str(fifo)!r})
    except kiln.KilnError as e:
        errors.append(e)
t = threading.Thread(target=compile)
t.start()
os.close(os.open({str(fifo)!r}, os.O_WRONLY))
t.join()
print(errors[0].status, errors[0].message)
"""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(kiln.__file__))] + sys.path))
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"IO '{fifo}' is not a regular file"


def test_model_made_by_compile_only():
    with pytest.raises(TypeError, match="made by kiln.compile"):
        kiln.Model(12345)


def test_model_freed_once(monkeypatch):
    freed = []
    real = _capi.lib.kiln_model_free
    monkeypatch.setattr(_capi.lib, "kiln_model_free", lambda h: (freed.append(h), real(h)))
    m = kiln.compile(ADD)
    handle, run, ref = m._handle, m.run, weakref.ref(m)
    del m
    gc.collect()
    assert freed == [] and ref() is not None  # the bound method keeps the model
    a, b = operands()
    assert_close(run([a, b])[0], a + b)
    del run
    gc.collect()
    assert freed == [handle] and ref() is None


def test_size_computed_by_the_run():
    # NonZero of an input: its count is a size only the run knows (kiln_run_arrays' case)
    m = kiln.compile(onnx_model([helper.make_node("NonZero", ["x"], ["y"]),
                                 helper.make_node("Neg", ["x"], ["z"])],
                                [("x", TensorProto.FLOAT, [3, 4])],
                                [("y", TensorProto.INT64, [2, "count"]),
                                 ("z", TensorProto.FLOAT, [3, 4])]))
    assert m.outputs[0].shape == (2, -1)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    for a in (np.where(x > 0, x, 0), np.zeros((3, 4), np.float32), x):
        y, z = m.run([a])
        assert y.dtype == np.int64 and np.array_equal(y, np.array(np.nonzero(a)))
        assert np.array_equal(z, -a)
    with pytest.raises(ValueError, match="sizes its run computes"):
        m.run([x], out=[np.empty((2, 12), np.int64), np.empty((3, 4), np.float32)])
