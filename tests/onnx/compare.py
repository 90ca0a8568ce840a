#!/usr/bin/env python3
"""Checks for tests/onnx/run.sh (numpy from .cache/bench-venv).

  compare.py embed REF.npy OTHER.npy MIN_COS LABEL
      every row's cosine between the two embedding files >= MIN_COS
  compare.py top1 REF_EVAL.json OTHER_EVAL.json MODE LABEL
      the same first hit for every query in MODE (dense, hybrid, lexical),
      up to ties within the score error measured between the two runs
  compare.py mrr REF_EVAL.json OTHER_EVAL.json MAX_DROP LABEL
      MRR@10 of every mode over all queries within MAX_DROP of the reference

Prints one line per check; exits 1 when a check fails. A last argument
`report` prints the numbers without asserting them.
"""
import json
import sys

import numpy as np

VERDICT = {True: "ok", False: "FAIL"}


def embed(ref, other, min_cos, label):
    a, b = np.load(ref), np.load(other)
    assert a.shape == b.shape, f"{label}: shapes {a.shape} vs {b.shape}"
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    ok = cos.min() >= min_cos
    print(f"{label}: {len(cos)} texts, cosine to the default pack min {cos.min():.5f}, mean {cos.mean():.5f} "
          f"(need >= {min_cos}) {VERDICT[bool(ok)]}")
    return ok


def runs(path, mode):
    d = json.load(open(path))
    out = {}
    for q in d["queries"]:
        for r in q["runs"]:
            if r["mode"] == mode:
                out[q["qid"]] = dict(zip(r["hits"], r["scores"])), r["hits"]
    return out


def article(page):
    # the demo's pages are /<lang>/<article>; the eval grades articles
    return page.rstrip("/").rsplit("/", 1)[-1]


# largest score error the pack quantisation may make before a top-1 change
# no longer counts as a tie broken the other way
MAX_NOISE = 0.02


def top1(ref, other, mode, label):
    """The same first hit on every query, up to ties: a query whose first
    hit differs passes when the other run's first article is in the
    reference's top 10 and within `noise` of the reference's first score,
    `noise` being the largest score change measured between the two runs on
    the pages both returned for the same query (the quantisation's error
    on scores; it must itself stay under MAX_NOISE)."""
    a, b = runs(ref, mode), runs(other, mode)
    assert a.keys() == b.keys(), f"{label}: different query sets"
    noise = max((abs(sa[p] - sb[p]) for (sa, _), (sb, _) in ((a[q], b[q]) for q in a) for p in sa if p in sb),
                default=0.0)
    same_page = sum(a[q][1][:1] == b[q][1][:1] for q in a)
    ties, bad = [], []
    for q in a:
        (sa, ha), (_, hb) = a[q], b[q]
        if not ha or not hb or article(ha[0]) == article(hb[0]):
            continue
        # the reference's best score for the other run's first article
        alt = [sa[p] for p in ha if article(p) == article(hb[0])]
        gap = sa[ha[0]] - alt[0] if alt else None
        if gap is not None and gap <= noise:
            ties.append(f"{q} ({article(ha[0])} vs {article(hb[0])}, gap {gap:.4f})")
        else:
            bad.append(f"{q} ({article(ha[0])} vs {article(hb[0])}, gap {'not in top 10' if gap is None else f'{gap:.4f}'})")
    ok = not bad and noise <= MAX_NOISE
    print(f"{label}: {mode} top-1: same page on {same_page}/{len(a)} queries, same article on "
          f"{len(a) - len(ties) - len(bad)}/{len(a)}; {len(ties)} near-tie(s) within the measured score error "
          f"{noise:.4f} (limit {MAX_NOISE}), {len(bad)} real change(s) {VERDICT[bool(ok)]}")
    for t in ties:
        print(f"    tie: {t}")
    for t in bad:
        print(f"    CHANGED: {t}")
    return ok


def mrr(ref, other, max_drop, label):
    def all_modes(path):
        return {m["mode"]: m["mrr_10"] for m in json.load(open(path))["all"]["modes"]}
    a, b = all_modes(ref), all_modes(other)
    ok = True
    for mode in a:
        good = b[mode] >= a[mode] - max_drop
        ok &= good
        print(f"{label}: {mode} MRR@10 {b[mode]:.4f} vs default {a[mode]:.4f} "
              f"(diff {b[mode] - a[mode]:+.4f}, allowed drop {max_drop}) {VERDICT[bool(good)]}")
    return ok


if __name__ == "__main__":
    cmd, a, b, x, label = sys.argv[1:6]
    # "report": print the numbers, assert nothing (verdicts read "not asserted")
    report = sys.argv[6:] == ["report"]
    if report:
        VERDICT[True] = VERDICT[False] = "(not asserted)"
    ok = {"embed": lambda: embed(a, b, float(x), label),
          "top1": lambda: top1(a, b, x, label),
          "mrr": lambda: mrr(a, b, float(x), label)}[cmd]()
    sys.exit(0 if ok or report else 1)
