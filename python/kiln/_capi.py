"""The C API of include/kiln.h through ctypes, and where libkiln.so comes from.

The one place that mirrors the header's structs and prototypes: keep it in step with
include/kiln.h (field order and types). ctypes releases the GIL for every call into the
library, so compiles and runs let other Python threads go on.
"""
import ctypes
import os

MAX_RANK = 8  # KILN_MAX_RANK
SONAME = "libkiln.so.0"


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("message", ctypes.c_char * 4096)]


class TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * MAX_RANK), ("bytes", ctypes.c_size_t)]


class Array(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * MAX_RANK)]


class ShapeBinding(ctypes.Structure):
    _fields_ = [("input", ctypes.c_char_p), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * MAX_RANK)]


class InputValue(ctypes.Structure):
    _fields_ = [("input", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * MAX_RANK), ("data", ctypes.c_void_p)]


class Options(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("shapes", ctypes.POINTER(ShapeBinding)), ("nshapes", ctypes.c_int),
                ("values", ctypes.POINTER(InputValue)), ("nvalues", ctypes.c_int),
                ("cpu", ctypes.c_char_p), ("features", ctypes.c_char_p),
                ("triple", ctypes.c_char_p), ("num_threads", ctypes.c_int),
                ("max_tensor_bytes", ctypes.c_int64), ("base_dir", ctypes.c_char_p),
                ("check_bounds", ctypes.c_int), ("max_nodes", ctypes.c_int64),
                ("linker", ctypes.c_char_p), ("profile", ctypes.c_int),
                ("no_fuse", ctypes.c_int), ("no_layout", ctypes.c_int),
                ("tuning_log", ctypes.c_char_p), ("target", ctypes.c_char_p),
                ("gpu_arch", ctypes.c_char_p), ("report", ctypes.c_char_p)]


def new_options():
    """kiln_options with every field at its default (zero), sized as kiln_options_init does."""
    o = Options()
    o.struct_size = ctypes.sizeof(Options)
    return o


def _library_path():
    """KILN_LIBRARY when set, else the libkiln.so.0 installed inside this package."""
    return os.environ.get("KILN_LIBRARY") or os.path.join(os.path.dirname(__file__), SONAME)


library_path = _library_path()
try:
    lib = ctypes.CDLL(library_path)
except OSError as e:
    raise ImportError(
        f"kiln: cannot load the kiln C library '{library_path}' ({e}); install the package "
        f"with pip (which builds it) or set KILN_LIBRARY to a libkiln.so.0") from None

_P = ctypes.c_void_p
_STATUS = ctypes.c_int
_ERR = ctypes.POINTER(Error)
_OPTS = ctypes.POINTER(Options)
_PROTOTYPES = {
    "kiln_compile_file": (_STATUS, [ctypes.c_char_p, _OPTS, ctypes.POINTER(_P), _ERR]),
    "kiln_compile_buffer": (_STATUS, [ctypes.c_char_p, ctypes.c_size_t, _OPTS,
                                      ctypes.POINTER(_P), _ERR]),
    "kiln_model_free": (None, [_P]),
    "kiln_num_inputs": (ctypes.c_int, [_P]),
    "kiln_num_outputs": (ctypes.c_int, [_P]),
    "kiln_input_info": (_STATUS, [_P, ctypes.c_int, ctypes.POINTER(TensorInfo)]),
    "kiln_output_info": (_STATUS, [_P, ctypes.c_int, ctypes.POINTER(TensorInfo)]),
    "kiln_run": (_STATUS, [_P, ctypes.POINTER(_P), ctypes.POINTER(_P), _ERR]),
    "kiln_output_shapes": (_STATUS, [_P, ctypes.POINTER(Array), ctypes.POINTER(Array), _ERR]),
    "kiln_run_arrays": (_STATUS, [_P, ctypes.POINTER(Array), ctypes.POINTER(Array), _ERR]),
    "kiln_compile_aot": (_STATUS, [ctypes.c_char_p, _OPTS, ctypes.c_char_p, ctypes.c_char_p,
                                   _ERR]),
    "kiln_status_name": (ctypes.c_char_p, [_STATUS]),
    "kiln_dtype_name": (ctypes.c_char_p, [ctypes.c_int]),
    "kiln_version": (ctypes.c_char_p, []),
}
for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes
