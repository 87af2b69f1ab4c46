"""Writes small ONNX seed models for the fuzzer (needs Debian python3-onnx):
shape subgraphs (Shape/Gather/Unsqueeze/Concat/Reshape, the Expand pattern),
Slice/Split/Pad/Transpose, Conv/pool attribute variants, MatMul broadcasting,
an unknown op and an opset-11 graph with attribute-style axes.
Usage: /usr/bin/python3 make_seeds.py OUT_DIR"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def save(name, nodes, inputs, inits, opset=13, outputs=("y",)):
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="seed")
    m.ir_version = 7
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())


N = helper.make_node
w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
save("shape_chain", [
    N("Shape", ["x"], ["s"]), N("Gather", ["s", "zero"], ["n"], axis=0),
    N("Unsqueeze", ["n", "ax0"], ["n1"]), N("Concat", ["n1", "m1"], ["t"], axis=0),
    N("Reshape", ["x", "t"], ["r"]), N("MatMul", ["r", "wm"], ["mm"]),
    N("Softmax", ["mm"], ["y"], axis=-1)],
    [("x", [2, 3, 4, 4])],
    [const("zero", 0), const("ax0", [0]), const("m1", [-1]),
     numpy_helper.from_array(np.zeros((48, 5), np.float32), "wm")])
save("expand_where", [
    N("ConstantOfShape", ["three"], ["ones"], value=helper.make_tensor("v", TensorProto.INT64, [1], [1])),
    N("Equal", ["tgt", "m1"], ["isneg"]), N("Where", ["isneg", "ones", "tgt"], ["sh"]),
    N("Expand", ["x", "sh"], ["e"]), N("Transpose", ["e"], ["y"], perm=[2, 0, 1])],
    [("x", [1, 1, 6])],
    [const("three", [3]), const("tgt", [4, -1, 6]), const("m1", [-1])])
save("conv_pool", [
    N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
    N("MaxPool", ["c"], ["p"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    N("AveragePool", ["p"], ["a"], kernel_shape=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0),
    N("Conv", ["a", "wd"], ["d"], group=8, auto_pad="SAME_UPPER", kernel_shape=[3, 3]),
    N("ConvTranspose", ["d", "wt"], ["ct"], strides=[2, 2], output_padding=[1, 1]),
    N("GlobalAveragePool", ["ct"], ["g"]), N("Flatten", ["g"], ["f"]),
    N("Gemm", ["f", "wg", "bg"], ["y"], transB=1)],
    [("x", [1, 3, 17, 17])],
    [w, numpy_helper.from_array(np.zeros((8, 1, 3, 3), np.float32), "wd"),
     numpy_helper.from_array(np.zeros((8, 4, 3, 3), np.float32), "wt"),
     numpy_helper.from_array(np.zeros((10, 4), np.float32), "wg"),
     numpy_helper.from_array(np.zeros((10,), np.float32), "bg")])
save("slice_split_pad", [
    N("Slice", ["x", "st", "en", "ax", "sp"], ["s"]),
    N("Split", ["s", "parts"], ["a", "b"], axis=1),
    N("Pad", ["a", "pads"], ["p"]), N("ReduceMean", ["p"], ["rm"], axes=[-1], keepdims=1),
    N("Squeeze", ["rm", "ax3"], ["sq"]), N("Add", ["sq", "b2"], ["y"])],
    [("x", [2, 6, 5, 7])],
    [const("st", [-1]), const("en", [-(2**63)]), const("ax", [3]), const("sp", [-2]),
     const("parts", [2, 4]), const("pads", [0, 0, 1, 1, 0, 0, 2, 2]), const("ax3", [3]),
     numpy_helper.from_array(np.zeros((1,), np.float32), "b2")])
save("matmul_bcast", [
    N("MatMul", ["x", "b"], ["m"]), N("LayerNormalization", ["m", "g"], ["ln"], axis=-1),
    N("Erf", ["ln"], ["e"]), N("FancyUnknownOp", ["e"], ["u"]), N("Relu", ["u"], ["y"])],
    [("x", [2, 1, 4, 5])],
    [numpy_helper.from_array(np.zeros((3, 5, 6), np.float32), "b"),
     numpy_helper.from_array(np.ones((6,), np.float32), "g")], opset=17)
save("opset11_attrs", [
    N("Unsqueeze", ["x"], ["u"], axes=[0]), N("Squeeze", ["u"], ["s"], axes=[0]),
    N("Split", ["s"], ["a", "b"], axis=1, split=[1, 2]), N("Concat", ["a", "b"], ["c"], axis=1),
    N("ReduceSum", ["c"], ["y"], axes=[1], keepdims=0)],
    [("x", [2, 3, 4])], [], opset=11)
print("seeds written to", out)
