"""kiln element types (numbered as ONNX's TensorProto.DataType) and numpy dtypes.

numpy has no bfloat16, 8- or 4-bit floats or 4- and 2-bit ints: bf16 and the minifloats
travel as unsigned-int arrays holding the raw bits (uint16 for bf16, uint8 for the f8 types
and f4e2m1), the narrow ints as int8 or uint8 arrays of their values; an input array of
ml_dtypes' type of that name ("bfloat16", "float8_e4m3fn", "int4"...) is taken as it is.
String tensors are numpy object arrays of str (bytes are taken too), passed to kiln as
arrays of pointers to UTF-8 (_model.py).
"""
import numpy as np

BF16 = 16
STRING = 8

# kiln dtype -> the name of the ml_dtypes type whose bits its raw arrays hold
RAW = {BF16: "bfloat16", 17: "float8_e4m3fn", 18: "float8_e4m3fnuz", 19: "float8_e5m2",
       20: "float8_e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4_e2m1fn", 24: "float8_e8m0fnu",
       25: "uint2", 26: "int2"}
# of those, the ones kiln holds by value (ml_dtypes keeps a signed one's low bits alone)
BY_VALUE = {22, 26}

# kiln's names of those types (kiln_dtype_name) -> their numbers
RAW_BY_NAME = {"bf16": BF16, "f8e4m3fn": 17, "f8e4m3fnuz": 18, "f8e5m2": 19, "f8e5m2fnuz": 20,
               "u4": 21, "i4": 22, "f4e2m1": 23, "f8e8m0": 24, "u2": 25, "i2": 26}

_NUMPY = {
    1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
    7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64,
    BF16: np.uint16, 17: np.uint8, 18: np.uint8, 19: np.uint8, 20: np.uint8,
    21: np.uint8, 22: np.int8, 23: np.uint8, 24: np.uint8, 25: np.uint8, 26: np.int8,
    STRING: np.object_,
}


def to_numpy(kiln_dtype):
    """The numpy dtype of a kiln_dtype number."""
    try:
        return np.dtype(_NUMPY[kiln_dtype])
    except KeyError:
        raise TypeError(f"kiln dtype {kiln_dtype} has no numpy dtype") from None


def from_numpy(dtype):
    """The kiln_dtype number of a numpy dtype (ml_dtypes' "bfloat16" is bf16...)."""
    for number, name in RAW.items():
        if is_raw(dtype, number):
            return number
    for number, t in _NUMPY.items():
        if number not in RAW and np.dtype(t) == dtype.newbyteorder("="):
            return number
    raise TypeError(f"kiln has no element type for numpy's {dtype}")


def is_raw(dtype, kiln_dtype):
    """Whether a numpy dtype is the type of another package (ml_dtypes) whose raw bits
    kiln_dtype's arrays hold."""
    name = RAW.get(kiln_dtype)
    return name is not None and dtype.name == name and dtype.itemsize == to_numpy(kiln_dtype).itemsize
