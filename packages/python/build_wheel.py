#!/usr/bin/env python3
"""Writes the crossfind wheel from a staged package folder, with the standard library only.

    python3 packages/python/build_wheel.py --stage target/pkg/python --version 0.1.0 \
        --platform manylinux_2_34_x86_64 --readme packages/python/README.md --out target/pkg

The stage holds the import package `crossfind/` (Python code, _native/ with the
binary, widget/, model-wheels.json). The wheel is `py3-none-<platform>`: the
Python code runs on any Python 3.8+, the binary only where the platform tag
says. Entries are sorted and dated from SOURCE_DATE_EPOCH (default 1980), so
the same inputs give the same bytes.
"""

import argparse
import base64
import hashlib
import os
import stat
import time
import zipfile
from pathlib import Path

SUMMARY = "Cross-lingual semantic search for static help sites: index a built site, add one script tag"


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage", required=True, type=Path)
    ap.add_argument("--version", required=True)
    ap.add_argument("--platform", required=True, help="e.g. manylinux_2_34_x86_64")
    ap.add_argument("--readme", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args()

    name, version = "crossfind", a.version
    tag = f"py3-none-{a.platform}"
    dist_info = f"{name}-{version}.dist-info"
    stamp = time.gmtime(max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800))[:6]

    entries = []  # (archive name, bytes, executable)
    for path in sorted((a.stage / name).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(a.stage).as_posix()
            entries.append((rel, path.read_bytes(), bool(path.stat().st_mode & stat.S_IXUSR)))

    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        f"Summary: {SUMMARY}\n"
        "License: MIT OR Apache-2.0\n"
        "Requires-Python: >=3.8\n"
        "Classifier: Operating System :: POSIX :: Linux\n"
        "Classifier: Programming Language :: Rust\n"
        "Classifier: Topic :: Text Processing :: Indexing\n"
        "Description-Content-Type: text/markdown\n"
        "\n" + a.readme.read_text("utf-8")
    )
    wheel = (
        "Wheel-Version: 1.0\n"
        "Generator: crossfind packages/python/build_wheel.py\n"
        "Root-Is-Purelib: false\n"
        f"Tag: {tag}\n"
    )
    entry_points = "[console_scripts]\ncrossfind = crossfind._cli:main\n"
    entries += [
        (f"{dist_info}/METADATA", metadata.encode(), False),
        (f"{dist_info}/WHEEL", wheel.encode(), False),
        (f"{dist_info}/entry_points.txt", entry_points.encode(), False),
    ]
    record = "".join(f"{n},{record_hash(d)},{len(d)}\n" for n, d, _ in entries) + f"{dist_info}/RECORD,,\n"
    entries.append((f"{dist_info}/RECORD", record.encode(), False))

    a.out.mkdir(parents=True, exist_ok=True)
    target = a.out / f"{name}-{version}-{tag}.whl"
    tmp = target.with_suffix(".whl.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for n, data, executable in entries:
            info = zipfile.ZipInfo(n, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
            z.writestr(info, data)
    os.replace(tmp, target)
    print(target)


if __name__ == "__main__":
    main()
