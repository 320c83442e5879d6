"""kiln.compile (JIT, to a Model) and kiln.compile_aot (a shared library and its header):
Python arguments to a kiln_options and one call into the C library."""
import ctypes
import operator
import os

from . import _capi
from ._errors import check
from ._model import Model

# The targets this kiln generates code for.
TARGETS = ("cpu",)


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
        raise TypeError(f"shapes must be a dict of input name -> shape, not {type(shapes).__name__}")
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


def _options(shapes, target, tuning_log, threads, cpu, features, check_bounds,
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
    o.num_threads = threads
    o.tuning_log = None if tuning_log is None else _path(tuning_log, "tuning_log")
    o.cpu = _text(cpu, "cpu")
    o.features = _text(features, "features")
    o.check_bounds = 1 if check_bounds else 0
    o.base_dir = None if base_dir is None else _path(base_dir, "base_dir")
    o.triple = _text(triple, "triple")
    o.linker = _text(linker, "linker")
    return o


def compile(model, shapes=None, target="cpu", tuning_log=None, threads=0, cpu=None,
            features=None, check_bounds=False, base_dir=None):
    """Compiles an ONNX model or kiln DSL program for this machine and returns a Model.

    model: a path (an .onnx or .kiln file), or the model's bytes (ONNX protobuf or DSL
    text). base_dir: where its external weights or imports live (default: the file's
    folder; the working directory for bytes). shapes: free dims bound at
    compile time, {"input": (1, 3, 224, 224)}. target: "cpu". tuning_log: a `kiln tune`
    log whose schedules to apply. threads: the run's thread count (0 = one per CPU).
    cpu, features: LLVM CPU and feature names (default: this host's). check_bounds: every
    load and store checked (debugging). Raises KilnError when kiln cannot compile it.
    """
    opts = _options(shapes, target, tuning_log, threads, cpu, features, check_bounds, base_dir)
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
    return Model(handle.value)


def compile_aot(model, out, name="model", shapes=None, target="cpu", tuning_log=None,
                threads=0, cpu=None, features=None, check_bounds=False, triple=None,
                linker=None):
    """Compiles the model file `model` ahead of time: writes `out` (a shared library
    ending in .so, or an object file ending in .o) and beside it the C header `<name>.h`
    declaring `int <name>_run(...)`. triple: the target machine (default: this host's);
    linker: the C compiler driver that links a .so (default "cc"). The other arguments
    are compile's. Raises KilnError when kiln cannot compile it.
    """
    opts = _options(shapes, target, tuning_log, threads, cpu, features, check_bounds,
                    triple=triple, linker=linker)
    err = _capi.Error()
    check(_capi.lib.kiln_compile_aot(_path(model, "model"), ctypes.byref(opts),
                                     _path(out, "out"), _text(name, "name"), ctypes.byref(err)),
          err)
