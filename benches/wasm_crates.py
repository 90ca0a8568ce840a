"""Bytes of the wasm runtime by crate (issue 17, item 2: what to remove).

    python3 benches/wasm_crates.py [WASM] [--out FILE] [--top N]

WASM: the module as cargo writes it, before wasm-bindgen (which drops the
name section); default target/wasm-relaxed/wasm32-unknown-unknown/release/
crossfind.wasm (scripts/build-wasm.sh). Each function body of the code
section is given to the crate that its symbol's first path segment names
(for `<A as B>::f`, the crate of A; closures and generic instances count
where they were instantiated as the compiler named them). Data, the
wasm-bindgen descriptor section and the name section are listed on their
own. Writes JSON (default bench-results/wasm-crates.json) and prints a table.
"""

import json
import re
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def sections(b):
    i = 8
    while i < len(b):
        sid = b[i]
        n, i = leb(b, i + 1)
        name = None
        if sid == 0:
            ln, j = leb(b, i)
            name = b[j : j + ln].decode()
        yield sid, name, i, i + n
        i += n


def crate_of(sym):
    """The crate a legacy-mangled Rust symbol belongs to."""
    m = re.match(r"_ZN(\d+)", sym)
    if not m:
        return "(not Rust-mangled: memcpy, allocator, wasm-bindgen shims)"
    n = int(m.group(1))
    first = sym[m.end() : m.end() + n]
    if first.startswith("_$LT$"):
        inner = first[5:].replace("mut$u20$", "")
        for prefix in ("$u5b$", "$BP$", "$RF$", "&"):
            inner = inner.replace(prefix, "")
        self_crate = re.split(r"\.\.|\$", inner, maxsplit=1)[0]
        trait = re.search(r"\$u20\$as\$u20\$([A-Za-z0-9_]+)\.\.", inner)
        if (not self_crate or re.fullmatch(r"[A-Z]", self_crate)) and trait:
            return trait.group(1)  # a blanket impl <T as crate::Trait>
        first = self_crate or "(generic)"
    return first


def main():
    args = sys.argv[1:]
    out = ROOT / "bench-results/wasm-crates.json"
    top = 25
    wasm = ROOT / "target/wasm-relaxed/wasm32-unknown-unknown/release/crossfind.wasm"
    while args:
        a = args.pop(0)
        if a == "--out":
            out = Path(args.pop(0))
        elif a == "--top":
            top = int(args.pop(0))
        else:
            wasm = Path(a)
    b = wasm.read_bytes()
    imports = 0
    names = {}
    bodies = []
    other = {}
    data = 0
    for sid, name, start, end in sections(b):
        if sid == 2:  # imports: count the imported functions, which come first in the index space
            cnt, i = leb(b, start)
            for _ in range(cnt):
                for _ in range(2):
                    ln, i = leb(b, i)
                    i += ln
                kind = b[i]
                i += 1
                if kind == 0:
                    _, i = leb(b, i)
                    imports += 1
                elif kind == 1:
                    i += 1
                    flags, i = leb(b, i + 0)
                    _, i = leb(b, i)
                    if flags & 1:
                        _, i = leb(b, i)
                elif kind == 2:
                    flags, i = leb(b, i)
                    _, i = leb(b, i)
                    if flags & 1:
                        _, i = leb(b, i)
                elif kind == 3:
                    i += 2
        elif sid == 10:
            cnt, i = leb(b, start)
            for _ in range(cnt):
                size, j = leb(b, i)
                bodies.append((j, size))
                i = j + size
        elif sid == 11:
            data = end - start
        elif sid == 0 and name == "name":
            ln, k = leb(b, start)
            k += ln
            while k < end:
                sub = b[k]
                sl, k = leb(b, k + 1)
                if sub == 1:
                    cnt, m = leb(b, k)
                    for _ in range(cnt):
                        idx, m = leb(b, m)
                        ln, m = leb(b, m)
                        names[idx] = b[m : m + ln].decode("utf-8", "replace")
                        m += ln
                k += sl
            other["name section (stripped by wasm-bindgen)"] = end - start
        else:
            label = f"custom section {name}" if sid == 0 else f"section {sid}"
            other[label] = other.get(label, 0) + end - start
    if not names:
        sys.exit(f"{wasm}: no name section; give the module cargo wrote, before wasm-bindgen")
    crates = {}
    for n, (start, size) in enumerate(bodies):
        crate = crate_of(names.get(imports + n, "(unnamed)"))
        c = crates.setdefault(crate, {"functions": 0, "code_bytes": 0, "gzip_bytes": 0, "_blob": []})
        c["functions"] += 1
        c["code_bytes"] += size
        c["_blob"].append(b[start : start + size])
    for c in crates.values():
        c["gzip_bytes"] = len(zlib.compress(b"".join(c.pop("_blob")), 9))
    code = sum(c["code_bytes"] for c in crates.values())
    ranked = sorted(crates.items(), key=lambda kv: -kv[1]["code_bytes"])
    result = {
        "wasm": str(wasm.relative_to(ROOT)) if wasm.is_relative_to(ROOT) else str(wasm),
        "bytes": len(b),
        "code_bytes": code,
        "data_bytes": data,
        "other_sections": other,
        "crates": dict(ranked),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['wasm']}: {len(b) / 1e6:.2f} MB; code {code / 1e6:.2f} MB, data {data / 1e6:.2f} MB")
    print("| crate | functions | code kB | share of code | code kB gzip -9 |")
    print("|---|--:|--:|--:|--:|")
    for crate, c in ranked[:top]:
        print(f"| {crate} | {c['functions']} | {c['code_bytes'] / 1e3:.0f} | {100 * c['code_bytes'] / code:.1f} % | {c['gzip_bytes'] / 1e3:.0f} |")
    rest = ranked[top:]
    if rest:
        print(f"| {len(rest)} others | {sum(c['functions'] for _, c in rest)} | {sum(c['code_bytes'] for _, c in rest) / 1e3:.0f} | {100 * sum(c['code_bytes'] for _, c in rest) / code:.1f} % | |")


main()
