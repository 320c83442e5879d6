#!/usr/bin/env python3
"""ONNX's node tests as the onnx Python package defines them (onnx.backend.test.case.node),
written out in the layout of Debian's libonnx-testdata, which holds an older ONNX's (1.12):

    gen_node_cases.py OUT_DIR

Writes OUT_DIR/<test>/model.onnx and test_data_set_<i>/{input,output}_<j>.pb for every case;
the inputs and expected outputs are ONNX's own (numpy, computed by the case definitions).
A case whose data cannot be written as TensorProtos (sequences of odd types) gets no data
set, and the conformance runner then fails it. OUT_DIR/.stamp records the onnx version and
this script's SHA-256, so a change of either rewrites the cases (tests/CMakeLists.txt).
"""
import hashlib
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import onnx.backend.test.case.node as node_cases


def proto(value, vi):
    if isinstance(value, onnx.TensorProto):
        t = onnx.TensorProto()
        t.CopyFrom(value)
        t.name = vi.name
        return t
    if vi.type.HasField("sequence_type"):
        return numpy_helper.from_list(value, vi.name)
    if vi.type.HasField("optional_type"):
        return numpy_helper.from_optional(value, vi.name)
    return numpy_helper.from_array(np.asarray(value), vi.name)


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for case in node_cases.collect_testcases(None):
        d = os.path.join(out, case.name)
        os.makedirs(d)
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets):
            files = {}
            try:
                for kind, values, infos in (("input", inputs, case.model.graph.input),
                                            ("output", outputs, case.model.graph.output)):
                    for j, v in enumerate(values):
                        files[f"{kind}_{j}.pb"] = proto(v, infos[j]).SerializeToString()
            except (TypeError, ValueError):
                continue
            ds = os.path.join(d, f"test_data_set_{i}")
            os.makedirs(ds)
            for name, data in files.items():
                with open(os.path.join(ds, name), "wb") as f:
                    f.write(data)
    with open(__file__, "rb") as f:
        script = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(out, ".stamp"), "w") as f:
        f.write(f"{onnx.__version__} {script}\n")


if __name__ == "__main__":
    main()
