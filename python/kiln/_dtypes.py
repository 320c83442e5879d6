"""kiln element types (numbered as ONNX's TensorProto.DataType) and numpy dtypes.

numpy has no bfloat16: bf16 tensors travel as uint16 arrays holding the raw bits, and an
input array of a 2-byte dtype named "bfloat16" (ml_dtypes') is taken bit for bit.
"""
import numpy as np

BF16 = 16

_NUMPY = {
    1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
    7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64,
    BF16: np.uint16,
}


def to_numpy(kiln_dtype):
    """The numpy dtype of a kiln_dtype number."""
    try:
        return np.dtype(_NUMPY[kiln_dtype])
    except KeyError:
        raise TypeError(f"kiln dtype {kiln_dtype} has no numpy dtype") from None


def from_numpy(dtype):
    """The kiln_dtype number of a numpy dtype (a "bfloat16" one is bf16)."""
    if is_bfloat16(dtype):
        return BF16
    for number, t in _NUMPY.items():
        if number != BF16 and np.dtype(t) == dtype.newbyteorder("="):
            return number
    raise TypeError(f"kiln has no element type for numpy's {dtype}")


def is_bfloat16(dtype):
    """Whether a numpy dtype is a bfloat16 of another package (ml_dtypes)."""
    return dtype.name == "bfloat16" and dtype.itemsize == 2
