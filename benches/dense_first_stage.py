#!/usr/bin/env python3
"""Which first stage for dense search on a large site (issue 18, item 1).

    python3 benches/dense_first_stage.py --bundle DIR [--out FILE] [--samples N]

DIR is a crossfind bundle (benches/large_site.mjs leaves the 5,040-page one
in .cache/bench/large-site/<key>/site/crossfind; the default is the newest
one there). Reads the bundle's real int8 chunk vectors and its docs table,
embeds two query sets with `target/release/crossfind embed --search` (what
the browser compares): the demo's 396 queries (examples/helpdesk/
queries.jsonl) and N chunk texts sampled from the bundle's fragment shards
(the first sentences of a chunk, up to 200 characters; seeded), and compares
first stages by dense recall@10 (and @50) against the engine's exact
dense ranking and by the bytes a browser fetches.

The exact ranking is what `search::search` computes for the dense signal:
chunk score = (1 - w) * q.v + w * (sum of q.v over the page's chunks) /
|sum of the page's vectors|, w = 0.15 (`page_context`), over every chunk,
from the int8 rows (scale * int8). An approximate stage picks candidates;
their pages' rows are then rescored exactly with the same formula, so the
only loss is a true top-10 chunk whose page was never a candidate.

Stages:
  exact      all rows up front (today): N * (4 + dim) bytes, nothing later.
  ivf        k-means (spherical, on page vectors) into k lists of pages; a
             list's pages' rows are one byte range of a file ordered by list.
             Up front: k centroids as int8 rows; per query: the nprobe lists
             nearest to the query (rows fetched once, then cached).
  sign       1 bit a dimension of (v - mean) and its norm as f16: dim/8 + 2
             bytes a chunk, up front. A query scores every chunk by
             |v - mean| * sum(q_i * sign_i) / sqrt(dim) (asymmetric: the
             query stays f32), takes the best R chunks as candidates and
             fetches their pages' rows (pages are contiguous in the row
             table) in blocks of B rows by HTTP Range, cached.
  sign-rows  sign codes up front; per query only the R candidates' own rows
             and, for the page-context term, one row a candidate page (the
             page's summed vector, int8) from a page-row table, by Range in
             blocks of B rows. Exact scores, but only for candidate chunks.
  ivf-sign   IVF lists of sign codes (the mix that scales): up front the k
             centroids; per query the codes of the nprobe nearest lists,
             then the R best of their chunks' rows and page rows (block 1).
  sign-pca   like sign-rows, with codes of the top 128 / 192 / 256
             principal components of (v - mean) instead of all 384 signs.
  ivf-chunk-sign  like ivf-sign, with k-means over chunk vectors.
  page-sign  one sign code a page (its normalised summed vector minus the
             mean of those): up front dim/8 + 2 bytes a page; per query the
             rows of the best Rp pages (page order, blocks of 4 rows).
  sign+ivf   (the other mix) sign codes up front, and the rows in IVF list order,
             so that a query's candidates fall in fewer blocks.

Bytes count bodies plus a fixed 300 bytes of HTTP headers a request (what
www/serve.mjs writes for a 206 answer is 290-330); units of one file with
consecutive indexes are one request. A visit is 10 queries (all queries in
a seeded random order, cut in tens), starting with only the up-front part:
"first" is up front plus a visit's first query (mean), "later" the mean of
what each other query of a visit adds, "cold" one query alone on an empty
cache (p50 / p95), without the up-front part.

Writes FILE (default bench-results/dense-first-stage.json) and prints a
Markdown table (also FILE with .md).
"""

import argparse
import glob
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADERS = 300
W = 0.15


def newest_bundle():
    cands = glob.glob(os.path.join(ROOT, ".cache/bench/large-site/*/site/crossfind/manifest.json"))
    if not cands:
        sys.exit("no large-site bundle: run node benches/large_site.mjs first, or give --bundle")
    return os.path.dirname(max(cands, key=os.path.getmtime))


def read_tensor_file(path, name):
    b = open(path, "rb").read()
    assert b[:4] == b"CFTN" or len(b) > 12, path
    hlen = struct.unpack("<I", b[8:12])[0]
    header = json.loads(b[12 : 12 + hlen])
    data = b[((12 + hlen + 15) // 16) * 16 :]
    for t in header["tensors"]:
        if t["name"] == name:
            return t, data
    raise KeyError(name)


def expand_docs(docs):
    """The docs shard as pages and chunks, from columns too (bundle version 6,
    src/bundle/columns.rs): only the fields read here."""
    if "pages" in docs:
        return docs
    def runs(rs):
        # (step, count): count chunks with the previous run's value plus step
        out, value = [], 0
        for step, n in rs:
            value += step
            out.extend([value] * n)
        return out

    page, frag = runs(docs["pages_of_chunks"]), runs(docs["frags_of_chunks"])
    return {
        # bundle format 8 keeps the page ids in the snippet records; only
        # the number of pages is read here
        "pages": [{"id": i} for i in docs.get("ids") or range(len(docs["lang"]))],
        "chunks": [{"page": p, "frag": f} for p, f in zip(page, frag)],
    }


def load_bundle(d):
    m = json.load(open(os.path.join(d, "manifest.json")))
    shards = m["shards"]
    by_kind = {}
    for s in shards:
        by_kind.setdefault(s["kind"], []).append(s)
    docs = expand_docs(json.load(open(os.path.join(d, by_kind["docs"][0]["name"]))))
    vs = by_kind["vectors"][0]
    t, data = read_tensor_file(os.path.join(d, vs["name"]), "vectors")
    rows, dim = t["rows"], t["cols"]
    raw = np.frombuffer(data, dtype=np.uint8, count=rows * (4 + dim), offset=t["offset"]).reshape(rows, 4 + dim)
    scale = raw[:, :4].copy().view("<f4").reshape(rows)
    q8 = raw[:, 4:].view(np.int8).astype(np.float32)
    V = q8 * scale[:, None]
    page = np.array([c["page"] for c in docs["chunks"]], dtype=np.int64)
    frags = by_kind.get("fragments", [])
    return m, docs, V, page, frags, vs


def page_context(S, page, npages, norms):
    """S: [q, n] chunk dot products -> engine's dense scores."""
    sums = np.zeros((S.shape[0], npages), dtype=np.float32)
    for i in range(S.shape[0]):
        sums[i] = np.bincount(page, weights=S[i], minlength=npages)
    ctx = sums[:, page] / np.where(norms[page] > 0, norms[page], 1)[None, :]
    return np.where(norms[page][None, :] > 0, (1 - W) * S + W * ctx, S)


def topk(S, k):
    # best first, ties to the lower id (stable sort on -score)
    idx = np.argsort(-S, axis=1, kind="stable")
    return idx[:, :k]


def embed(texts, cache_dir):
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    pack = json.load(open(os.path.join(ROOT, "models/e5-small/pack.json")))
    key += "-" + hashlib.sha256(json.dumps(pack, sort_keys=True).encode()).hexdigest()[:8]
    out = os.path.join(cache_dir, f"queries-{key}.npy")
    if not os.path.exists(out):
        os.makedirs(cache_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
            for t in texts:
                f.write(t.replace("\n", " ") + "\n")
            name = f.name
        subprocess.run([os.path.join(ROOT, "target/release/crossfind"), "embed", "--model", os.path.join(ROOT, "models/e5-small"),
                        "--search", "--kind", "query", "--input", name, "--out", out + ".tmp.npy"], check=True)
        os.rename(out + ".tmp.npy", out)
        os.unlink(name)
    return np.load(out).astype(np.float32)


def sample_chunks(d, docs, frags, n, seed):
    """The first sentences (<= 200 chars) of n chunks drawn at random."""
    rng = np.random.default_rng(seed)
    chunks = docs["chunks"]
    per_frag = {}
    for i, c in enumerate(chunks):
        per_frag.setdefault(c["frag"], []).append(i)
    pick = sorted(rng.choice(len(chunks), size=min(n, len(chunks)), replace=False).tolist())
    want = {}
    for i in pick:
        f = chunks[i]["frag"]
        want.setdefault(f, []).append(per_frag[f].index(i))
    texts = {}
    for f, locals_ in want.items():
        shard = json.load(open(os.path.join(d, frags[f]["name"])))
        by_local = {c[0]: c[1] for c in shard["chunks"]}
        for li in locals_:
            sents = by_local[li]
            t = ""
            for s in sents:
                if t and len(t) + len(s) > 200:
                    break
                t = (t + " " + s).strip()
            texts[per_frag[f][li]] = t[:200]
    ids = sorted(texts)
    return ids, [texts[i] for i in ids]


def kmeans_sph(X, k, iters, seed):
    rng = np.random.default_rng(seed)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    C = Xn[rng.choice(len(Xn), size=k, replace=False)].copy()
    for _ in range(iters):
        a = np.argmax(Xn @ C.T, axis=1)
        for j in range(k):
            m = Xn[a == j]
            if len(m):
                c = m.sum(0)
                C[j] = c / np.linalg.norm(c)
            else:
                C[j] = Xn[rng.integers(len(Xn))]
    a = np.argmax(Xn @ C.T, axis=1)
    return C, a


def recall(approx, exact, k):
    return float(np.mean([len(set(a[:k]) & set(e[:k])) / k for a, e in zip(approx, exact)]))


def rescore_top(Sfull, cand_pages_list, page, k):
    """Top k of the exact scores restricted to chunks of the candidate pages."""
    out = []
    for i, pages in enumerate(cand_pages_list):
        mask = np.isin(page, pages)
        ids = np.nonzero(mask)[0]
        s = Sfull[i, ids]
        o = np.argsort(-s, kind="stable")[:k]
        out.append(ids[o])
    return out


def requests_of(units):
    """Units of one table with consecutive indexes come in one request."""
    by = {}
    for u in units:
        t, i = (u[0], u[1]) if isinstance(u, tuple) else ("", u)
        by.setdefault(t, []).append(i)
    n = 0
    for xs in by.values():
        xs = sorted(xs)
        n += 1 + sum(1 for a, b in zip(xs, xs[1:]) if b != a + 1)
    return n


def simulate(units_per_query, unit_bytes, upfront, session=10, seed=18):
    """A reader's visit: `session` queries in a row (the queries in a seeded
    random order, cut into visits), each starting with nothing cached but
    the up-front part. first = up front + the visit's first query; later =
    mean over the visit's other queries of what they add; cold = one query
    alone (p50 / p95). Requests: runs of consecutive units of one table."""
    order = np.random.default_rng(seed).permutation(len(units_per_query))
    first, later, later_req = [], [], []
    for v in range(0, len(order) - session + 1, session):
        seen = set()
        for j, qi in enumerate(order[v : v + session]):
            new = [u for u in set(units_per_query[qi]) if u not in seen]
            seen.update(new)
            b = sum(unit_bytes(u) for u in new) + HEADERS * requests_of(new)
            if j == 0:
                first.append(b)
            else:
                later.append(b)
                later_req.append(requests_of(new))
    cold = sorted(sum(unit_bytes(u) for u in set(us)) + HEADERS * requests_of(set(us)) for us in units_per_query)
    creq = sorted(requests_of(set(us)) for us in units_per_query)
    return {
        "upfront_bytes": upfront,
        "first_query_bytes": upfront + float(np.mean(first)),
        "later_query_mean_bytes": float(np.mean(later)),
        "later_query_mean_requests": float(np.mean(later_req)),
        "cold_query_p50_bytes": cold[len(cold) // 2],
        "cold_query_p95_bytes": cold[min(len(cold) - 1, int(0.95 * len(cold)))],
        "cold_query_p50_requests": creq[len(creq) // 2],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-results/dense-first-stage.json"))
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--seed", type=int, default=18)
    a = ap.parse_args()
    d = a.bundle or newest_bundle()
    t0 = time.time()
    m, docs, V, page, frags, vshard = load_bundle(d)
    n, dim = V.shape
    npages = len(docs["pages"])
    row = 4 + dim
    print(f"bundle {os.path.relpath(d, ROOT)}: {npages} pages, {n} chunks, dim {dim}", file=sys.stderr)
    page_sum = np.zeros((npages, dim), dtype=np.float32)
    np.add.at(page_sum, page, V)
    norms = np.linalg.norm(page_sum, axis=1).astype(np.float32)
    # chunks of a page are contiguous in the row table
    assert np.all(np.diff(page) >= 0), "chunks are not in page order"
    page_first = np.searchsorted(page, np.arange(npages), side="left")
    page_end = np.searchsorted(page, np.arange(npages), side="right")

    cache = os.path.join(ROOT, ".cache/bench/dense-first-stage")
    demo = [json.loads(l)["text"] for l in open(os.path.join(ROOT, "examples/helpdesk/queries.jsonl"), encoding="utf-8") if l.strip()]
    sample_ids, sample_texts = sample_chunks(d, docs, frags, a.samples, a.seed)
    Q = {"demo queries": embed(demo, cache), "sampled chunk texts": embed(sample_texts, cache)}
    # one run: the demo queries, then the sampled texts (order fixed)
    sets = list(Q.items())

    results = {"bundle": os.path.relpath(d, ROOT), "pages": npages, "chunks": n, "dim": dim, "row_bytes": row,
               "page_context": W, "http_header_bytes_per_request": HEADERS,
               "query_sets": {k: len(v) for k, v in Q.items()}, "stages": []}

    exact = {}
    Sfull = {}
    for name, q in sets:
        S = q @ V.T
        Sfull[name] = page_context(S, page, npages, norms)
        exact[name] = topk(Sfull[name], 50)

    def add(stage, params, per_set_top, units_by_set, unit_bytes, upfront, extra=None):
        rec = {"stage": stage, "params": params}
        allunits = []
        for name, _ in sets:
            rec[f"recall@10 {name}"] = recall(per_set_top[name], exact[name], 10)
            rec[f"recall@50 {name}"] = recall(per_set_top[name], exact[name], 50)
            allunits += units_by_set[name]
        rec.update(simulate(allunits, unit_bytes, upfront))
        if extra:
            rec.update(extra)
        results["stages"].append(rec)
        print(f"{stage:9} {json.dumps(params):40} r@10 {rec['recall@10 demo queries']:.3f} / {rec['recall@10 sampled chunk texts']:.3f}  "
              f"first {rec['first_query_bytes'] / 1e3:8.1f} kB  later {rec['later_query_mean_bytes'] / 1e3:7.1f} kB", file=sys.stderr)

    # exact: one file, up front
    add("exact", {}, exact, {name: [[] for _ in q] for name, q in sets}, lambda u: 0, n * row + HEADERS)

    # ivf on page vectors
    P = page_sum / np.where(norms > 0, norms, 1)[:, None]
    km = {}
    for k in (64, 128, 256):
        if k > npages // 4:
            continue
        C, assign = km[k] = kmeans_sph(P, k, 15, a.seed)
        list_bytes = np.zeros(k, dtype=np.int64)
        np.add.at(list_bytes, assign, (page_end - page_first) * row)
        pages_of = [np.nonzero(assign == j)[0] for j in range(k)]
        for nprobe in (1, 2, 4, 8, 16, 32):
            if nprobe > k // 2:
                continue
            tops, units = {}, {}
            for name, q in sets:
                near = np.argsort(-(q @ C.T), axis=1)[:, :nprobe]
                tops[name] = rescore_top(Sfull[name], [np.concatenate([pages_of[j] for j in lists]) for lists in near], page, 50)
                units[name] = [list(map(int, lists)) for lists in near]
            add("ivf", {"k": k, "nprobe": nprobe}, tops, units, lambda u, lb=list_bytes: int(lb[u]), k * row + HEADERS,
                {"mean_list_bytes": float(list_bytes.mean()), "max_list_bytes": int(list_bytes.max())})

    # sign codes centred on the corpus mean, asymmetric scores
    mu = V.mean(0)
    X = V - mu
    B = np.sign(X).astype(np.float32)
    B[B == 0] = 1
    xn = np.linalg.norm(X, axis=1).astype(np.float16).astype(np.float32)
    code_bytes = n * (dim // 8 + 2) + dim * 4  # codes, norms, the mean
    approx = {name: (q @ B.T) * xn[None, :] for name, q in sets}
    # the mix: rows ordered by IVF list, so candidates share blocks
    Ck, assign128 = kmeans_sph(P, min(128, npages // 4), 15, a.seed)
    order_pages = np.argsort(assign128, kind="stable")
    # new position of every chunk when pages are laid out in list order
    pos = np.empty(n, dtype=np.int64)
    cur = 0
    for p in order_pages:
        L = page_end[p] - page_first[p]
        pos[page_first[p]:page_end[p]] = np.arange(cur, cur + L)
        cur += L
    for layout in ("page order", "ivf-128 order"):
        for R in (50, 100, 200, 400, 800):
            cands = {name: np.argsort(-approx[name], axis=1, kind="stable")[:, :R] for name, _ in sets}
            tops = {name: rescore_top(Sfull[name], [np.unique(page[c]) for c in cands[name]], page, 50) for name, _ in sets}
            for block in (4, 16, 64):
                units = {}
                for name, _ in sets:
                    units[name] = []
                    for c in cands[name]:
                        pg = np.unique(page[c])
                        rows_needed = np.concatenate([np.arange(page_first[p], page_end[p]) for p in pg])
                        where = rows_needed if layout == "page order" else pos[rows_needed]
                        units[name].append(sorted(set((where // block).tolist())))
                add("sign" if layout == "page order" else "sign+ivf", {"R": R, "block_rows": block, "layout": layout}, tops, units,
                    lambda u, b=block: b * row, code_bytes + HEADERS,
                    {"candidate_share": R / n})
    # sign codes, then only the candidates' own rows, and one row a
    # candidate page (its summed vector, int8, for the page-context term)
    # from a page-row table: exact scores of the candidates, no siblings.
    for R in (50, 100, 200, 400):
        cands = {name: np.argsort(-approx[name], axis=1, kind="stable")[:, :R] for name, _ in sets}
        tops = {}
        for name, _ in sets:
            tops[name] = []
            for i, c in enumerate(cands[name]):
                s_ = Sfull[name][i, c]
                tops[name].append(c[np.argsort(-s_, kind="stable")][:50])
        for block in (1, 4):
            units = {}
            for name, _ in sets:
                units[name] = [sorted({("c", int(x) // block) for x in c} | {("p", int(p) // block) for p in np.unique(page[c])}) for c in cands[name]]
            add("sign-rows", {"R": R, "block_rows": block}, tops, units, lambda u, b=block: b * row, code_bytes + HEADERS,
                {"candidate_share": R / n, "page_rows_bytes": npages * row})
    # the mix that scales: IVF lists of sign codes. Up front the centroids;
    # per query the codes of the nprobe nearest lists, then the R best
    # chunks' rows and their pages' rows (as sign-rows, blocks of 1 row).
    code_row = dim // 8 + 2
    for k, (C, assign) in km.items():
        list_codes = np.zeros(k, dtype=np.int64)
        np.add.at(list_codes, assign, (page_end - page_first) * code_row)
        chunk_list = assign[page]
        for nprobe in (4, 8, 16, 32):
            if nprobe > k // 2:
                continue
            for R in (100, 200):
                tops, units = {}, {}
                for name, q in sets:
                    near = np.argsort(-(q @ C.T), axis=1)[:, :nprobe]
                    tops[name], units[name] = [], []
                    for i, lists in enumerate(near):
                        ids = np.nonzero(np.isin(chunk_list, lists))[0]
                        c = ids[np.argsort(-approx[name][i, ids], kind="stable")[:R]]
                        tops[name].append(c[np.argsort(-Sfull[name][i, c], kind="stable")][:50])
                        units[name].append([("l", int(j)) for j in lists] + [("c", int(x)) for x in c] + [("p", int(p)) for p in np.unique(page[c])])
                add("ivf-sign", {"k": k, "nprobe": nprobe, "R": R}, tops, units,
                    lambda u, lc=list_codes: int(lc[u[1]]) if u[0] == "l" else row, k * row + dim * 4 + HEADERS,
                    {"mean_list_code_bytes": float(list_codes.mean())})
    # page codes: one 384-bit sign code a page (its summed vector minus the
    # mean page vector), the Rp best pages' rows rescored (page order, blocks of 4)
    Pm = P.mean(0)
    BP = np.sign(P - Pm).astype(np.float32)
    BP[BP == 0] = 1
    pn = np.linalg.norm(P - Pm, axis=1)
    for Rp in (50, 100, 200, 400):
        tops, units = {}, {}
        for name, q in sets:
            best = np.argsort(-((q @ BP.T) * pn[None, :]), axis=1, kind="stable")[:, :Rp]
            tops[name] = rescore_top(Sfull[name], list(best), page, 50)
            units[name] = [sorted(set((np.concatenate([np.arange(page_first[p], page_end[p]) for p in pg]) // 4).tolist())) for pg in best]
        add("page-sign", {"pages": Rp, "block_rows": 4}, tops, units, lambda u: 4 * row, npages * code_row + dim * 4 + HEADERS,
            {"candidate_page_share": Rp / npages})
    # fewer bits: sign codes of the top principal components of (v - mean),
    # the query projected on the same components (the projection, f16, up front)
    U = np.linalg.svd(X[:: max(1, n // 20000)], full_matrices=False)[2]
    for bits in (128, 192, 256):
        Pb = U[:bits]
        Bp = np.sign(X @ Pb.T).astype(np.float32)
        Bp[Bp == 0] = 1
        xnp = np.linalg.norm(X @ Pb.T, axis=1)
        ap = {name: ((q - mu) @ Pb.T @ Bp.T) * xnp[None, :] for name, q in sets}
        for R in (200, 400, 800):
            cands = {name: np.argsort(-ap[name], axis=1, kind="stable")[:, :R] for name, _ in sets}
            tops = {name: [c[np.argsort(-Sfull[name][i, c], kind="stable")][:50] for i, c in enumerate(cands[name])] for name, _ in sets}
            units = {name: [sorted({("c", int(x)) for x in c} | {("p", int(p)) for p in np.unique(page[c])}) for c in cands[name]] for name, _ in sets}
            add("sign-pca", {"bits": bits, "R": R}, tops, units, lambda u: row, n * (bits // 8 + 2) + bits * dim * 2 + dim * 4 + HEADERS,
                {"candidate_share": R / n})
    # IVF on chunk vectors (not pages), lists of 384-bit sign codes
    for k in (64, 256):
        Cc, ac = kmeans_sph(X, k, 12, a.seed)
        list_codes = np.bincount(ac, minlength=k) * code_row
        for nprobe in (8, 16, 32):
            for R in (200,):
                tops, units = {}, {}
                for name, q in sets:
                    near = np.argsort(-((q - mu) @ Cc.T), axis=1)[:, :nprobe]
                    tops[name], units[name] = [], []
                    for i, lists in enumerate(near):
                        ids = np.nonzero(np.isin(ac, lists))[0]
                        c = ids[np.argsort(-approx[name][i, ids], kind="stable")[:R]]
                        tops[name].append(c[np.argsort(-Sfull[name][i, c], kind="stable")][:50])
                        units[name].append([("l", int(j)) for j in lists] + [("c", int(x)) for x in c] + [("p", int(p)) for p in np.unique(page[c])])
                add("ivf-chunk-sign", {"k": k, "nprobe": nprobe, "R": R}, tops, units,
                    lambda u, lc=list_codes: int(lc[u[1]]) if u[0] == "l" else row, k * row + dim * 4 + HEADERS,
                    {"mean_list_code_bytes": float(list_codes.mean())})
    results["seconds"] = time.time() - t0
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    json.dump(results, open(a.out, "w"), indent=1)
    lines = [f"Dense first stages on {results['bundle']} ({npages} pages, {n} chunks; {len(Q['demo queries'])} demo queries, "
             f"{len(Q['sampled chunk texts'])} sampled chunk texts; benches/dense_first_stage.py)", "",
             "| stage | params | recall@10 demo / sampled | recall@50 demo / sampled | up front kB | first query kB | later query kB (mean) | cold query kB p50 / p95 | cold query requests p50 |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results["stages"]:
        p = ", ".join(f"{k}={v}" for k, v in r["params"].items())
        lines.append(f"| {r['stage']} | {p} | {r['recall@10 demo queries']:.3f} / {r['recall@10 sampled chunk texts']:.3f} | "
                     f"{r['recall@50 demo queries']:.3f} / {r['recall@50 sampled chunk texts']:.3f} | {r['upfront_bytes'] / 1e3:.1f} | "
                     f"{r['first_query_bytes'] / 1e3:.1f} | {r['later_query_mean_bytes'] / 1e3:.1f} | "
                     f"{r['cold_query_p50_bytes'] / 1e3:.1f} / {r['cold_query_p95_bytes'] / 1e3:.1f} | {r['cold_query_p50_requests']} |")
    open(a.out.replace(".json", ".md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
