"""kiln from Python: a thin binding over kiln's C API (include/kiln.h) through ctypes.

    import kiln
    model = kiln.compile("model.onnx", shapes={"input": (1, 3, 224, 224)})
    probs, = model.run({"input": x})
"""
from ._capi import lib as _lib
from ._compile import compile, compile_aot
from ._errors import KilnError
from ._model import Model, TensorInfo

__version__ = _lib.kiln_version().decode()  # the loaded library's KILN_VERSION
__all__ = ["compile", "compile_aot", "KilnError", "Model", "TensorInfo"]
