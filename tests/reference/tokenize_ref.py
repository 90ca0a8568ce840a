"""Reference token ids for crossfind's tokenizer-parity test.

The reference is the Hugging Face `tokenizers` package (version pinned in
requirements.txt) loading multilingual-e5-small's tokenizer.json. For every
line {"id", "text", ...} of the input JSONL it writes {"id", "ids"}, where ids
is Tokenizer.encode(text, add_special_tokens=True).ids, i.e. <s> ... </s>,
with truncation and padding switched off, so long inputs give all their ids.

    python tokenize_ref.py --tokenizer tokenizer.json \
        --input ../fixtures/tokenizer_strings.jsonl --out ids.jsonl

No prefix ("query: "/"passage: ") is added: the texts are tokenized as given.
"""
import argparse
import json
import time

from tokenizers import Tokenizer, __version__ as tokenizers_version


def main():
    ap = argparse.ArgumentParser(description="reference token ids from HF tokenizers")
    ap.add_argument("--tokenizer", required=True, help="path to tokenizer.json")
    ap.add_argument("--input", required=True, help="JSONL with 'id' and 'text'")
    ap.add_argument("--out", required=True, help="JSONL to write: {'id', 'ids'}")
    a = ap.parse_args()

    tok = Tokenizer.from_file(a.tokenizer)
    tok.no_truncation()
    tok.no_padding()

    t0 = time.perf_counter()
    n = longest = 0
    with open(a.input, encoding="utf-8") as fin, open(a.out, "w", encoding="utf-8", newline="\n") as fout:
        for line in fin:
            if not line.strip():
                continue
            row = json.loads(line)
            ids = tok.encode(row["text"], add_special_tokens=True).ids
            fout.write(json.dumps({"id": row["id"], "ids": ids}) + "\n")
            n += 1
            longest = max(longest, len(ids))
    print("tokenizers %s: %d texts, max %d ids, %.2fs"
          % (tokenizers_version, n, longest, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
