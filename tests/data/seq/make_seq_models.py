#!/usr/bin/env python3
"""Writes the small ONNX models tests/unit_sequence.c compiles: sequences, optionals, Loop
and Scan, for their error paths and the ops the node tests leave out.
Run with the project venv:  .venv/bin/python tests/data/seq/make_seq_models.py"""
import os

from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def vi(name, dims=(2,), t=F):
    return helper.make_tensor_value_info(name, t, list(dims))


def seq(name, dims=(2,), t=F):
    return helper.make_tensor_sequence_value_info(name, t, list(dims))


def node(op, ins, outs, **kw):
    return helper.make_node(op, ins, outs, name=outs[0] + "_node", **kw)


def save(name, nodes, inputs, outputs, opset=17):
    g = helper.make_graph(nodes, name, inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    with open(os.path.join(HERE, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


# SequenceAt at a position given as a graph input.
save("seq_at", [node("SequenceConstruct", ["x", "y"], ["s"]),
                node("SequenceAt", ["s", "pos"], ["out"])],
     [vi("x"), vi("y"), vi("pos", (), I64)], [vi("out")])
# SequenceInsert at a position input, then a Concat of the list.
save("seq_insert", [node("SequenceConstruct", ["x"], ["s"]),
                    node("SequenceInsert", ["s", "y", "pos"], ["s2"]),
                    node("ConcatFromSequence", ["s2"], ["out"], axis=0)],
     [vi("x"), vi("y"), vi("pos", (), I64)], [vi("out", (4,))])
# SequenceErase at a position input; the length of what is left.
save("seq_erase", [node("SequenceConstruct", ["x", "y"], ["s"]),
                   node("SequenceErase", ["s", "pos"], ["s2"]),
                   node("SequenceLength", ["s2"], ["out"])],
     [vi("x"), vi("y"), vi("pos", (), I64)], [vi("out", (), I64)])
# Elements of different types in one sequence.
save("seq_dtypes", [node("SequenceConstruct", ["x", "i"], ["s"]),
                    node("SequenceLength", ["s"], ["out"])],
     [vi("x"), vi("i", (2,), I64)], [vi("out", (), I64)])
# The element of an empty optional.
save("opt_get_empty", [node("Optional", [], ["o"], type=helper.make_tensor_type_proto(F, [2])),
                       node("OptionalGetElement", ["o"], ["out"])],
     [], [vi("out")])
# SplitToSequence (pieces of 1 along axis 1, squeezed) and back with ConcatFromSequence's
# new_axis; SplitToSequence with sizes and a Concat along axis 0.
save("split_concat", [node("SplitToSequence", ["x"], ["s"], axis=1, keepdims=0),
                      node("ConcatFromSequence", ["s"], ["y"], axis=1, new_axis=1),
                      node("SplitToSequence", ["x", "sizes"], ["t"], axis=0),
                      node("SequenceLength", ["t"], ["n"]),
                      node("ConcatFromSequence", ["t"], ["z"], axis=0)],
     [vi("x", (3, 4)), vi("sizes", (2,), I64)], [vi("y", (3, 4)), vi("n", (), I64), vi("z", (3, 4))])
# A sequence in, a sequence out (each element doubled by SequenceMap).
body = helper.make_graph([node("Add", ["e", "e"], ["d"])], "double", [vi("e", ["?"])], [vi("d", ["?"])])
save("seq_map", [node("SequenceMap", ["xs"], ["ys"], body=body)], [seq("xs", ["N"])], [seq("ys", ["N"])])

# Loop: y += x each iteration, the running sums as scan output.
loop_body = helper.make_graph(
    [node("Identity", ["c_in"], ["c_out"]), node("Add", ["y_in", "x"], ["y_out"]),
     node("Identity", ["y_out"], ["scan"])],
    "body", [vi("i", (), I64), vi("c_in", (), B), vi("y_in")],
    [vi("c_out", (), B), vi("y_out"), vi("scan")])
save("loop", [node("Loop", ["m", "c", "y0"], ["y", "ys"], body=loop_body)],
     [vi("m", (), I64), vi("c", (), B), vi("x"), vi("y0")], [vi("y"), vi("ys", (3, 2))])
# Loop whose condition depends on the data: cond_out = sum(y) < 10.
cond_body = helper.make_graph(
    [node("Add", ["y_in", "x"], ["y_out"]), node("ReduceSum", ["y_out"], ["s"], keepdims=0),
     node("Less", ["s", "ten"], ["c_out"])],
    "body", [vi("i", (), I64), vi("c_in", (), B), vi("y_in")], [vi("c_out", (), B), vi("y_out")],
    value_info=[])
cond_body.initializer.append(helper.make_tensor("ten", F, [], [10.0]))
save("loop_data_cond", [node("Loop", ["m", "c", "y0"], ["y"], body=cond_body)],
     [vi("m", (), I64), vi("c", (), B), vi("x"), vi("y0")], [vi("y")])
# Scan over axis 1 backwards: running sums, outputs stacked along axis 0.
scan_body = helper.make_graph([node("Add", ["acc", "col"], ["acc2"]), node("Identity", ["acc2"], ["out"])],
                              "body", [vi("acc", (3,)), vi("col", (3,))], [vi("acc2", (3,)), vi("out", (3,))])
save("scan", [node("Scan", ["init", "x"], ["final", "sums"], body=scan_body, num_scan_inputs=1,
                   scan_input_axes=[1], scan_input_directions=[1])],
     [vi("init", (3,)), vi("x", (3, 4))], [vi("final", (3,)), vi("sums", (4, 3))])
