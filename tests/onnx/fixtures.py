#!/usr/bin/env python3
"""Test inputs for tests/onnx/run.sh, made from benches/make_onnx.py's export.

  fixtures.py torch-style SRC.onnx OUT.onnx
      The same weights as a torch.onnx export lays them out: every
      initializer renamed opaquely (onnx::MatMul_N, onnx::Add_N, ...,
      embedding tables included), LayerNormalization decomposed into
      ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add as opsets before 17 export it, and
      each layer's key projection moved before its query projection, so
      the importer must read roles from the graph's structure alone.

  fixtures.py bad DIR
      Small graphs the importer must refuse, one per error:
      DIR/not-bert.onnx (a two-MatMul classifier), DIR/nbits.onnx (a 4-bit
      MatMulNBits weight).
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def torch_style(src, out):
    m = onnx.load(src)
    g = m.graph
    nodes = list(g.node)

    # 1. decompose LayerNormalization
    new_nodes = []
    consts = []
    k = [0]

    def c(arr):
        k[0] += 1
        name = f"onnx::Constant_{k[0]}"
        consts.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    for n in nodes:
        if n.op_type != "LayerNormalization":
            new_nodes.append(n)
            continue
        eps = [a.f for a in n.attribute if a.name == "epsilon"][0]
        x, gamma, beta = n.input
        y = n.output[0]
        p = y + "_ln"
        new_nodes += [
            helper.make_node("ReduceMean", [x], [p + "_mean"], axes=[-1], keepdims=1),
            helper.make_node("Sub", [x, p + "_mean"], [p + "_centred"]),
            helper.make_node("Pow", [p + "_centred", c(np.array(2.0, np.float32))], [p + "_sq"]),
            helper.make_node("ReduceMean", [p + "_sq"], [p + "_var"], axes=[-1], keepdims=1),
            helper.make_node("Add", [p + "_var", c(np.array(eps, np.float32))], [p + "_vareps"]),
            helper.make_node("Sqrt", [p + "_vareps"], [p + "_std"]),
            helper.make_node("Div", [p + "_centred", p + "_std"], [p + "_norm"]),
            helper.make_node("Mul", [p + "_norm", gamma], [p + "_scaled"]),
            helper.make_node("Add", [p + "_scaled", beta], [y]),
        ]
    nodes = new_nodes

    # 2. move each key projection (MatMul + bias Add) before the query one
    def find(pred):
        return next(i for i, n in enumerate(nodes) if pred(n))

    layer = 0
    while True:
        qw = f"encoder.layer.{layer}.attention.self.query.weight_t"
        kw = f"encoder.layer.{layer}.attention.self.key.weight_t"
        if not any(qw in n.input for n in nodes):
            break
        ki = find(lambda n: kw in n.input)
        kmm = nodes[ki]
        kadd = nodes[find(lambda n: kmm.output[0] in n.input and n.op_type == "Add")]
        nodes = [n for n in nodes if n is not kmm and n is not kadd]
        qi = find(lambda n: qw in n.input)
        nodes[qi:qi] = [kmm, kadd]
        layer += 1
    assert layer > 0, "no encoder layers found in " + src

    # 3. opaque names for every initializer, after the op that reads it
    readers = {}
    for n in nodes:
        for i in n.input:
            readers.setdefault(i, n.op_type)
    rename = {}
    for j, t in enumerate(g.initializer):
        rename[t.name] = f"onnx::{readers.get(t.name, 'Unused')}_{1000 + j}"
    for t in g.initializer:
        t.name = rename[t.name]
    for n in nodes:
        for i, name in enumerate(n.input):
            if name in rename:
                n.input[i] = rename[name]
    g.initializer.extend(consts)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, out)
    print(f"wrote {out}: {layer} layers, {len(rename)} initializers renamed", file=sys.stderr)


def bad(d):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 2])
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), "w1")
    b1 = numpy_helper.from_array(np.zeros(8, np.float32), "b1")
    w2 = numpy_helper.from_array(rng.standard_normal((8, 2)).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(np.zeros(2, np.float32), "b2")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"]),
        helper.make_node("Add", ["h3", "b2"], ["y"]),
    ]
    g = helper.make_graph(nodes, "classifier", [x], [y], [w1, b1, w2, b2])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    onnx.save(m, f"{d}/not-bert.onnx")

    # a MatMulNBits weight (com.microsoft, 4-bit blocks), as onnxruntime's
    # matmul_4bits_quantizer writes it
    wq = numpy_helper.from_array(np.zeros((8, 1, 16), np.uint8), "w_q4")
    sc = numpy_helper.from_array(np.ones(8, np.float32), "w_scales")
    nodes = [helper.make_node("MatMulNBits", ["x", "w_q4", "w_scales"], ["y"], domain="com.microsoft",
                              K=8, N=8, bits=4, block_size=32)]
    y8 = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 8])
    g = helper.make_graph(nodes, "nbits", [x], [y8], [wq, sc])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    onnx.save(m, f"{d}/nbits.onnx")


if __name__ == "__main__":
    if sys.argv[1] == "torch-style":
        torch_style(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "bad":
        bad(sys.argv[2])
    else:
        sys.exit(__doc__)
