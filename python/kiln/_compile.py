"""kiln.compile (JIT, to a Model) and kiln.compile_aot (a shared library and its header):
Python arguments to a kiln_options and one call into the C library."""
import ctypes
import operator
import os

import numpy as np

from . import _capi, _dtypes
from ._errors import check
from ._model import Model

# The targets this kiln generates code for.
TARGETS = ("cpu", "cuda-host", "cuda")


def _path(value, what):
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{what} must be a path (str or os.PathLike), not {type(value).__name__}")
    return os.fsencode(value)


def _text(value, what):
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value.encode()


def _shape_bindings(shapes):
    if not isinstance(shapes, dict):
        raise TypeError(f"shapes must be a dict of input name -> shape, not "
                        f"{type(shapes).__name__}")
    bindings = (_capi.ShapeBinding * max(1, len(shapes)))()
    for b, (name, shape) in zip(bindings, shapes.items()):
        try:
            dims = [operator.index(d) for d in shape]
        except TypeError:
            raise TypeError(f"shapes['{name}'] must be a sequence of ints, not {shape!r}") from None
        if len(dims) > _capi.MAX_RANK:
            raise ValueError(f"shapes['{name}'] has rank {len(dims)}: kiln takes at most "
                             f"{_capi.MAX_RANK}")
        b.input = _text(name, "an input name in shapes")
        b.rank = len(dims)
        for d, size in enumerate(dims):
            b.dims[d] = size
    return bindings


def _input_values(values):
    """kiln_input_values for {name: array}; the arrays they point to come along, to be
    kept alive through the call."""
    if not isinstance(values, dict):
        raise TypeError(f"values must be a dict of input name -> array, not "
                        f"{type(values).__name__}")
    entries = (_capi.InputValue * max(1, len(values)))()
    arrays = []
    for v, (name, value) in zip(entries, values.items()):
        a = np.asarray(value)
        v.dtype = _dtypes.from_numpy(a.dtype)
        if a.ndim > _capi.MAX_RANK:
            raise ValueError(f"values['{name}'] has rank {a.ndim}: kiln takes at most "
                             f"{_capi.MAX_RANK}")
        a = np.asarray(a, dtype=a.dtype.newbyteorder("="), order="C")
        arrays.append(a)
        v.input = _text(name, "an input name in values")
        v.rank = a.ndim
        for d, size in enumerate(a.shape):
            v.dims[d] = size
        v.data = a.ctypes.data
    return entries, arrays


def _options(shapes, values, target, tuning_log, threads, cpu, features, check_bounds,
             base_dir=None, triple=None, linker=None):
    if target not in TARGETS:
        raise ValueError(f"target {target!r}: this kiln generates code for "
                         f"{', '.join(repr(t) for t in TARGETS)} only")
    threads = operator.index(threads)
    if threads < 0:
        raise ValueError(f"threads must be 0 (the default count) or more, not {threads}")
    o = _capi.new_options()
    if shapes:
        o.shapes = _shape_bindings(shapes)
        o.nshapes = len(shapes)
    arrays = []
    if values:
        o.values, arrays = _input_values(values)
        o.nvalues = len(values)
    o.num_threads = threads
    o.tuning_log = None if tuning_log is None else _path(tuning_log, "tuning_log")
    o.cpu = _text(cpu, "cpu")
    o.features = _text(features, "features")
    o.check_bounds = 1 if check_bounds else 0
    o.base_dir = None if base_dir is None else _path(base_dir, "base_dir")
    o.triple = _text(triple, "triple")
    o.linker = _text(linker, "linker")
    o.target = _text(target, "target")
    return o, arrays


def compile(model, shapes=None, values=None, target="cpu", tuning_log=None, threads=0,
            cpu=None, features=None, check_bounds=False, base_dir=None):
    """Compiles an ONNX model or kiln DSL program for this machine and returns a Model.

    model: a path (an .onnx or .kiln file), or the model's bytes (ONNX protobuf or DSL
    text). shapes: free dims bound at compile time, {"input": (1, 3, 224, 224)}.
    values: inputs known when compiling (such as a shape tensor), {"shape": [1, -1]}:
    they become constants and leave the model's inputs. target: "cpu", "cuda-host" (the
    GPU backend's CUDA C run on the CPU, for testing) or "cuda" (NVIDIA GPUs; see the README).
    tuning_log: a `kiln tune` log whose schedules to apply. threads: the run's thread count (0 = one
    per CPU). cpu, features: LLVM CPU and feature names (default: this host's).
    check_bounds: every load and store checked (debugging). base_dir: where external
    weights or imports live (default: the file's folder; for bytes, the working
    directory). Raises KilnError when kiln cannot compile it.
    """
    opts, keep = _options(shapes, values, target, tuning_log, threads, cpu, features,
                          check_bounds, base_dir)  # keep: values' arrays, read by the call
    handle = ctypes.c_void_p()
    err = _capi.Error()
    if isinstance(model, (bytes, bytearray, memoryview)):
        data = bytes(model)
        st = _capi.lib.kiln_compile_buffer(data, len(data), ctypes.byref(opts),
                                           ctypes.byref(handle), ctypes.byref(err))
    else:
        st = _capi.lib.kiln_compile_file(_path(model, "model"), ctypes.byref(opts),
                                         ctypes.byref(handle), ctypes.byref(err))
    check(st, err)
    return Model._own(handle.value)


def compile_aot(model, out, name="model", shapes=None, values=None, target="cpu",
                tuning_log=None, threads=0, cpu=None, features=None, check_bounds=False,
                triple=None, linker=None):
    """Compiles the model file `model` ahead of time: writes `out` (a shared library
    ending in .so, or an object file ending in .o) and beside it the C header `<name>.h`
    declaring `int <name>_run(...)`. triple: the target machine (default: this host's);
    linker: the C compiler driver that links a .so (default "cc"). The other arguments
    are compile's. Raises KilnError when kiln cannot compile it.
    """
    opts, keep = _options(shapes, values, target, tuning_log, threads, cpu, features,
                          check_bounds, triple=triple, linker=linker)  # as in compile
    err = _capi.Error()
    check(_capi.lib.kiln_compile_aot(_path(model, "model"), ctypes.byref(opts),
                                     _path(out, "out"), _text(name, "name"), ctypes.byref(err)),
          err)
