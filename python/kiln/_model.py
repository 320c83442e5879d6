"""A compiled model: its inputs and outputs, and running it on numpy arrays.

Arrays go to kiln_run by pointer: an input that is C-contiguous, aligned and of the
model's dtype is read where it is, any other is converted once; outputs are numpy arrays
kiln writes in place (new ones, or the caller's `out`). Inputs are checked here, before
the call, since kiln_run trusts its buffers to have the compiled shapes. An output with a
size the run computes (NonZero's count: -1 in its shape) goes through kiln_run_arrays:
allocated at its largest size, returned as a view at the size the run found. A string
tensor is an object array of str: kiln reads an array of pointers to UTF-8 copies of the
input's strings and writes one of pointers to strings it allocated, which are decoded
here and freed.
"""
import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np

from . import _capi, _dtypes
from ._errors import check


@dataclass(frozen=True)
class TensorInfo:
    """One input or output: `dtype` is the numpy dtype of its arrays (uint16 for bf16,
    uint8 for the f8 types and f4e2m1, whose raw bits they hold; int8 or uint8 for the 4-
    and 2-bit ints), `kiln_dtype` kiln's name for it ("f32", "bf16", "f8e4m3fn", "i4")."""
    name: str
    dtype: np.dtype
    shape: tuple
    kiln_dtype: str


def _infos(handle, count, query):
    infos = []
    for i in range(count(handle)):
        c = _capi.TensorInfo()
        if query(handle, i, ctypes.byref(c)):
            raise RuntimeError(f"kiln: no information on tensor {i}")
        infos.append(TensorInfo(
            name=c.name.decode("utf-8", "surrogateescape"), dtype=_dtypes.to_numpy(c.dtype),
            shape=tuple(c.dims[d] for d in range(c.rank)),
            kiln_dtype=_capi.lib.kiln_dtype_name(c.dtype).decode()))
    return tuple(infos)


def _by_order(infos, values, what):
    """The values of a dict (by name) or a sequence (in the model's order), in order."""
    if isinstance(values, dict):
        names = [t.name for t in infos]
        for key in values:
            if key not in names:
                listed = ", ".join(f"'{n}'" for n in names) or "none"
                raise ValueError(f"no model {what} named '{key}' (the model's {what}s: {listed})")
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"model {what} '{missing[0]}' is missing")
        return [values[n] for n in names]
    if isinstance(values, (list, tuple)):
        if len(values) != len(infos):
            raise ValueError(f"the model has {len(infos)} {what}s, {len(values)} were given")
        return list(values)
    raise TypeError(f"{what}s must be a dict (by name) or a list, not {type(values).__name__}")


_libc = ctypes.CDLL(ctypes.util.find_library("c"))
_libc.free.argtypes = [ctypes.c_void_p]


class _Strings:
    """An input string tensor as kiln reads it: pointers to NUL-terminated UTF-8 copies,
    which live as long as this object."""

    def __init__(self, info, value):
        a = np.asarray(value, dtype=object)
        if a.shape != info.shape:
            raise ValueError(f"input '{info.name}' has shape {info.shape}, was given {a.shape}")
        self.keep = []
        for s in a.reshape(-1):
            b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
            if not isinstance(b, bytes):
                raise TypeError(f"input '{info.name}' is a string tensor: its elements must be "
                                f"str or bytes, not {type(s).__name__}")
            if b"\0" in b:
                raise ValueError(f"input '{info.name}': a string holds a NUL character")
            self.keep.append(ctypes.create_string_buffer(b))
        self.ptrs = np.array([ctypes.addressof(b) for b in self.keep], np.uintp).reshape(a.shape)
        self.ctypes = self.ptrs.ctypes
        self.ndim, self.shape = self.ptrs.ndim, self.ptrs.shape


def _take_strings(ptrs):
    """The str array of the pointers kiln wrote (each freed; NULL, after a failure, is
    left alone)."""
    out = np.empty(ptrs.shape, object)
    flat = out.reshape(-1)
    for i, p in enumerate(ptrs.reshape(-1).tolist()):
        flat[i] = ctypes.string_at(p).decode("utf-8", "surrogateescape") if p else ""
        if p:
            _libc.free(p)
    return out


def _free_strings(ptrs):
    for p in ptrs.reshape(-1).tolist():
        if p:
            _libc.free(p)


def _as_input(info, value):
    """The array kiln reads for one input: `value` itself when it already is one."""
    if info.kiln_dtype == "string":
        return _Strings(info, value)
    a = np.asarray(value)
    raw = _dtypes.RAW_BY_NAME.get(info.kiln_dtype)
    if raw is not None and _dtypes.is_raw(a.dtype, raw):
        a = a.astype(info.dtype) if raw in _dtypes.BY_VALUE else a.view(info.dtype)
    if raw is not None and a.dtype != info.dtype:
        raise TypeError(f"input '{info.name}' is {info.kiln_dtype}: give a {info.dtype} array of its "
                        f"raw bits (or an ml_dtypes.{_dtypes.RAW[raw]} array), not {a.dtype}")
    if a.dtype != info.dtype and not np.can_cast(a.dtype, info.dtype, "same_kind"):
        raise TypeError(f"input '{info.name}' is {info.dtype}: cannot take {a.dtype} "
                        f"(only a conversion of the same kind, such as float64 to float32)")
    if a.shape != info.shape:
        raise ValueError(f"input '{info.name}' has shape {info.shape}, was given {a.shape}")
    if a.dtype == info.dtype and a.flags.c_contiguous and a.flags.aligned:
        return a
    return np.array(a, dtype=info.dtype, order="C")


def _check_out(info, a, inputs):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"out for output '{info.name}' must be a numpy array")
    if a.dtype != info.dtype or a.shape != info.shape:
        raise ValueError(f"out for output '{info.name}' must be {info.dtype} of shape "
                         f"{info.shape}, not {a.dtype} of shape {a.shape}")
    if not (a.flags.c_contiguous and a.flags.aligned and a.flags.writeable):
        raise ValueError(f"out for output '{info.name}' must be C-contiguous, aligned and "
                         f"writeable")
    if any(isinstance(x, np.ndarray) and np.may_share_memory(a, x) for x in inputs):
        raise ValueError(f"out for output '{info.name}' overlaps an input")


class Model:
    """A model compiled by kiln.compile. `inputs` and `outputs` describe its tensors;
    `run` may be called from several threads at once."""

    def __init__(self, *args, **kwargs):
        raise TypeError("a kiln.Model is made by kiln.compile")

    @classmethod
    def _own(cls, handle):
        """The Model owning a kiln_model handle, which it frees when collected."""
        self = cls.__new__(cls)
        self._handle = handle
        self._free = _capi.lib.kiln_model_free  # kept for __del__ at interpreter exit
        self.inputs = _infos(handle, _capi.lib.kiln_num_inputs, _capi.lib.kiln_input_info)
        self.outputs = _infos(handle, _capi.lib.kiln_num_outputs, _capi.lib.kiln_output_info)
        return self

    def __del__(self):
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            self._free(handle)

    def __repr__(self):
        def io(infos):
            return ", ".join(f"{t.name}: {t.kiln_dtype}{list(t.shape)}" for t in infos)
        return f"<kiln.Model ({io(self.inputs)}) -> ({io(self.outputs)})>"

    def run(self, inputs, out=None):
        """Runs the model once on `inputs` (a dict by name, or a list in the model's order,
        of arrays or anything numpy.asarray takes) and returns its outputs as a list of
        numpy arrays: `out`'s arrays when given (a dict or list of C-contiguous arrays of
        the outputs' dtypes and shapes, filled in place), else new ones."""
        given = _by_order(self.inputs, inputs, "input")
        arrays = [_as_input(t, v) for t, v in zip(self.inputs, given)]
        if any(d < 0 for t in self.outputs for d in t.shape):
            if out is not None:
                raise ValueError("out cannot be given for a model with sizes its run computes "
                                 "(-1 in an output's shape)")
            return self._run_sized(arrays)
        strings = [t.kiln_dtype == "string" for t in self.outputs]
        if out is not None and any(strings):
            raise ValueError("out cannot be given for a model with string outputs")
        if out is None:
            results = [np.zeros(t.shape, np.uintp) if s else np.empty(t.shape, t.dtype)
                       for t, s in zip(self.outputs, strings)]
        else:
            results = _by_order(self.outputs, out, "output")
            for t, a in zip(self.outputs, results):
                _check_out(t, a, arrays)
            for i, a in enumerate(results):
                if any(np.may_share_memory(a, b) for b in results[i + 1:]):
                    raise ValueError(f"out for output '{self.outputs[i].name}' overlaps another")
        in_ptrs = (ctypes.c_void_p * max(1, len(arrays)))(*[a.ctypes.data for a in arrays])
        out_ptrs = (ctypes.c_void_p * max(1, len(results)))(*[a.ctypes.data for a in results])
        err = _capi.Error()
        status = _capi.lib.kiln_run(self._handle, in_ptrs, out_ptrs, ctypes.byref(err))
        results = [_take_strings(a) if s else a for a, s in zip(results, strings)]
        check(status, err)
        return results

    def _run_sized(self, arrays):
        """kiln_run_arrays: outputs allocated at the largest sizes kiln_output_shapes gives,
        returned at the sizes the run found (the data is dense at those)."""
        n_in, n_out = len(self.inputs), len(self.outputs)
        ins = (_capi.Array * max(1, n_in))()
        for i, (c, a) in enumerate(zip(ins, arrays)):
            info = _capi.TensorInfo()  # the dtype's number (a bf16 array is uint16 here)
            _capi.lib.kiln_input_info(self._handle, i, ctypes.byref(info))
            c.data, c.dtype, c.rank = a.ctypes.data, info.dtype, a.ndim
            for d, x in enumerate(a.shape):
                c.dims[d] = x
        outs = (_capi.Array * max(1, n_out))()
        err = _capi.Error()
        check(_capi.lib.kiln_output_shapes(self._handle, ins, outs, ctypes.byref(err)), err)
        strings = [t.kiln_dtype == "string" for t in self.outputs]
        buffers = [np.zeros(tuple(c.dims[d] for d in range(c.rank)), np.uintp if s else t.dtype)
                   for c, t, s in zip(outs, self.outputs, strings)]
        for c, b in zip(outs, buffers):
            c.data = b.ctypes.data
        status = _capi.lib.kiln_run_arrays(self._handle, ins, outs, ctypes.byref(err))
        results = []
        for c, b, s in zip(outs, buffers, strings):
            shape = tuple(c.dims[d] for d in range(c.rank))
            a = b.reshape(-1)[:int(np.prod(shape, dtype=np.int64))].reshape(shape)
            results.append(_take_strings(a) if s else a)
        check(status, err)
        return results
