#!/usr/bin/env python3
"""Builds the peer model for the encoder benchmark: the ONNX files a
transformers.js user gets for multilingual-e5-small, made from OUR weights.

  crossfind model export-hf models/e5-small --out HF   (f32 safetensors BERT)
  -> OUT/model.onnx            fp32 BERT graph, opset 17 (built with onnx.helper,
                               no torch): inputs input_ids / attention_mask /
                               token_type_ids (int64 [batch, seq]), output
                               last_hidden_state (float [batch, seq, 384])
  -> OUT/model_quantized.onnx  onnxruntime quantize_dynamic(weight_type=QInt8,
                               per_channel=True)
  -> OUT/tokenizer.json        copied from HF (the peer ships the same file)

Then verifies with onnxruntime (CPU) that mean-pooled, L2-normalised outputs
of model.onnx match `crossfind embed` (cosine >= 0.999) on ~24 multilingual
fixture sentences, and reports the int8 model's cosines too.

Usage: .cache/bench-venv/bin/python benches/make_onnx.py [--out DIR] [--force]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CLI = os.path.join(ROOT, "target/release/crossfind")
PACK = os.path.join(ROOT, "models/e5-small")


def build_graph(weights, cfg):
    """Returns an onnx.ModelProto of a BertModel forward pass (no pooler)."""
    H = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    hd = H // nh
    eps = float(cfg["layer_norm_eps"])
    nodes, inits = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def const(name, arr):
        return init(name, np.asarray(arr))

    n_id = [0]

    def node(op, ins, attrs=None, name=None):
        n_id[0] += 1
        out = name or f"{op.lower()}_{n_id[0]}"
        nodes.append(helper.make_node(op, ins, [out], name=f"{op}_{n_id[0]}", **(attrs or {})))
        return out

    def linear(x, prefix):
        # torch.nn.Linear as exported by torch.onnx: MatMul with the weight
        # pre-transposed to [in, out], then Add bias.
        w = init(prefix + ".weight_t", weights[prefix + ".weight"].T)
        b = init(prefix + ".bias", weights[prefix + ".bias"])
        return node("Add", [node("MatMul", [x, w]), b])

    def layer_norm(x, prefix):
        g = init(prefix + ".weight", weights[prefix + ".weight"])
        b = init(prefix + ".bias", weights[prefix + ".bias"])
        return node("LayerNormalization", [x, g, b], {"axis": -1, "epsilon": eps})

    # --- embeddings -----------------------------------------------------
    word = init("embeddings.word_embeddings.weight", weights["embeddings.word_embeddings.weight"])
    pos = init("embeddings.position_embeddings.weight", weights["embeddings.position_embeddings.weight"])
    tt = init("embeddings.token_type_embeddings.weight", weights["embeddings.token_type_embeddings.weight"])
    c0 = const("c_int0", np.array(0, np.int64))
    c1 = const("c_int1", np.array(1, np.int64))
    shape = node("Shape", ["input_ids"])
    seq = node("Gather", [shape, c1], {"axis": 0})  # scalar S
    pos_ids = node("Range", [c0, seq, c1])  # [S] 0..S-1 (BERT positions)
    pos_ids = node("Unsqueeze", [pos_ids, const("ax0", np.array([0], np.int64))])  # [1,S]
    x = node("Add", [node("Gather", [word, "input_ids"]),
                     node("Gather", [tt, "token_type_ids"])])
    x = node("Add", [x, node("Gather", [pos, pos_ids])])
    x = layer_norm(x, "embeddings.LayerNorm")

    # --- extended attention mask: (1 - mask) * finfo(float32).min, [B,1,1,S]
    m = node("Cast", ["attention_mask"], {"to": TensorProto.FLOAT})
    m = node("Sub", [const("c_f1", np.array(1.0, np.float32)), m])
    m = node("Mul", [m, const("c_fmin", np.array(np.finfo(np.float32).min, np.float32))])
    mask_bias = node("Unsqueeze", [m, const("ax12", np.array([1, 2], np.int64))])

    heads_shape = const("shape_heads", np.array([0, 0, nh, hd], np.int64))
    merge_shape = const("shape_merge", np.array([0, 0, H], np.int64))
    scale = const("c_scale", np.array(1.0 / np.sqrt(hd), np.float32))
    half = const("c_half", np.array(0.5, np.float32))
    one = const("c_one", np.array(1.0, np.float32))
    rsqrt2 = const("c_rsqrt2", np.array(1.0 / np.sqrt(2.0), np.float32))

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q = node("Transpose", [node("Reshape", [linear(x, p + "attention.self.query"), heads_shape])], {"perm": [0, 2, 1, 3]})
        k = node("Transpose", [node("Reshape", [linear(x, p + "attention.self.key"), heads_shape])], {"perm": [0, 2, 3, 1]})
        v = node("Transpose", [node("Reshape", [linear(x, p + "attention.self.value"), heads_shape])], {"perm": [0, 2, 1, 3]})
        s = node("Mul", [node("MatMul", [q, k]), scale])
        s = node("Add", [s, mask_bias])
        a = node("Softmax", [s], {"axis": -1})
        ctx = node("Reshape", [node("Transpose", [node("MatMul", [a, v])], {"perm": [0, 2, 1, 3]}), merge_shape])
        x = layer_norm(node("Add", [linear(ctx, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        # exact GELU: 0.5 * h * (1 + erf(h / sqrt(2)))
        g = node("Mul", [node("Mul", [h, half]), node("Add", [node("Erf", [node("Mul", [h, rsqrt2])]), one])])
        out = linear(g, p + "output.dense")
        name = "last_hidden_state" if i == cfg["num_hidden_layers"] - 1 else None
        x = node("LayerNormalization", [node("Add", [out, x]),
                                         init(p + "output.LayerNorm.weight", weights[p + "output.LayerNorm.weight"]),
                                         init(p + "output.LayerNorm.bias", weights[p + "output.LayerNorm.bias"])],
                 {"axis": -1, "epsilon": eps}, name=name)

    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch_size", "sequence_length"])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    outs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", H])]
    graph = helper.make_graph(nodes, "bert", ins, outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="crossfind-benches")
    model.ir_version = 8
    return model


def embed_onnx(sess, tok, texts, prefix):
    out = []
    for t in texts:
        enc = tok.encode(prefix + t)
        ids = np.array([enc.ids], np.int64)
        mask = np.ones_like(ids)
        h = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0][0]
        v = h.mean(0)
        out.append(v / np.linalg.norm(v))
    return np.stack(out)


def read_npy(path):
    return np.load(path)


def verify(out_dir, hf_dir, n_per_kind=12):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(os.path.join(hf_dir, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    rows = [json.loads(l) for l in open(os.path.join(ROOT, "tests/fixtures/sentences.jsonl"), encoding="utf-8") if l.strip()]
    rows = [r for r in rows if "\n" not in r["text"] and "\r" not in r["text"]]
    report = {}
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = {name: ort.InferenceSession(os.path.join(out_dir, name), so, providers=["CPUExecutionProvider"])
            for name in ("model.onnx", "model_quantized.onnx")}
    for kind in ("query", "passage"):
        part, langs = [], set()
        # spread the pick over languages: first one of each language, then fill
        for r in rows:
            if r["kind"] == kind and r["lang"] not in langs:
                part.append(r); langs.add(r["lang"])
        for r in rows:
            if len(part) >= n_per_kind:
                break
            if r["kind"] == kind and r not in part:
                part.append(r)
        part = part[:n_per_kind]
        texts = [r["text"] for r in part]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "in.txt"), "w", encoding="utf-8") as f:
                f.write("\n".join(texts) + "\n")
            subprocess.run([CLI, "embed", "--model", PACK, "--kind", kind, "--input", os.path.join(d, "in.txt"),
                            "--out", os.path.join(d, "out.npy")], check=True, stderr=subprocess.DEVNULL)
            native = read_npy(os.path.join(d, "out.npy"))
        for name, s in sess.items():
            e = embed_onnx(s, tok, texts, kind + ": ")
            cos = (e * native).sum(1) / np.linalg.norm(native, axis=1)
            report.setdefault(name, {"cos": [], "langs": set()})
            report[name]["cos"] += cos.tolist()
            report[name]["langs"] |= {r["lang"] for r in part}
    res = {}
    for name, r in report.items():
        c = np.array(r["cos"])
        res[name] = {"n": int(c.size), "languages": sorted(r["langs"]), "cos_min": float(c.min()), "cos_mean": float(c.mean())}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, ".cache/bench/onnx"))
    ap.add_argument("--hf", default=os.path.join(ROOT, ".cache/bench/hf"))
    ap.add_argument("--force", action="store_true", help="rebuild even if the files exist")
    ap.add_argument("--no-verify", action="store_true")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    # rebuild everything when the pack changed since the last build
    import hashlib
    stamp_path = os.path.join(a.out, "source.json")
    stamp = {"pack_json_sha256": hashlib.sha256(open(os.path.join(PACK, "pack.json"), "rb").read()).hexdigest()}
    if not os.path.exists(stamp_path) or json.load(open(stamp_path)) != stamp:
        a.force = True
    fp32 = os.path.join(a.out, "model.onnx")
    q8 = os.path.join(a.out, "model_quantized.onnx")
    if a.force or not os.path.exists(os.path.join(a.hf, "model.safetensors")):
        subprocess.run([CLI, "model", "export-hf", PACK, "--out", a.hf], check=True)
    if a.force or not os.path.exists(fp32):
        from safetensors.numpy import load_file
        t = time.time()
        cfg = json.load(open(os.path.join(a.hf, "config.json")))
        w = load_file(os.path.join(a.hf, "model.safetensors"))
        model = build_graph(w, cfg)
        onnx.checker.check_model(model)
        onnx.save(model, fp32 + ".tmp")
        os.replace(fp32 + ".tmp", fp32)
        print(f"wrote {fp32} ({os.path.getsize(fp32) / 1e6:.1f} MB, {time.time() - t:.1f}s)", file=sys.stderr)
    if a.force or not os.path.exists(q8):
        from onnxruntime.quantization import QuantType, quantize_dynamic
        t = time.time()
        quantize_dynamic(fp32, q8 + ".tmp.onnx", weight_type=QuantType.QInt8, per_channel=True)
        os.replace(q8 + ".tmp.onnx", q8)
        print(f"wrote {q8} ({os.path.getsize(q8) / 1e6:.1f} MB, {time.time() - t:.1f}s)", file=sys.stderr)
    shutil.copyfile(os.path.join(a.hf, "tokenizer.json"), os.path.join(a.out, "tokenizer.json"))
    json.dump(stamp, open(stamp_path, "w"))
    if not a.no_verify:
        res = verify(a.out, a.hf)
        json.dump(res, open(os.path.join(a.out, "verify.json"), "w"), indent=1)
        print(json.dumps(res, indent=1))
        if res["model.onnx"]["cos_min"] < 0.999:
            sys.exit(f"fp32 ONNX does not match crossfind embed: min cosine {res['model.onnx']['cos_min']:.5f} < 0.999")


if __name__ == "__main__":
    main()
