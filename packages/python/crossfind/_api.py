"""The indexing API for code that holds its pages in memory (a generator's
plugin, a build script), instead of writing a site and running the CLI::

    import crossfind
    index = crossfind.Index()
    index.add_html_file("en/reset-password/index.html", html)  # as the site serves it
    summary = index.write("public/crossfind")                   # bundle + widget

or, for pages that are not HTML, records as the JSONL input takes them::

    index.add_record({"id": "reset", "lang": "en", "title": "Reset your password",
                      "url": "/en/reset/", "text": "## Steps {#steps}\\nOpen Settings…"})

write() runs the same native indexer on the pages, laid out as the CLI would
read them (HTML files under their paths, or one JSONL file), so the bundle is
the one `crossfind index` writes for the same input. It returns the CLI's
`--json` summary and raises CrossfindError (exit_code 2 for bad input, 1
otherwise) with the indexer's message."""

import json
import subprocess
import tempfile
from pathlib import Path, PurePosixPath

from . import __version__
from ._cli import install_widget, native_binary
from ._errors import CrossfindError
from ._model import default_pack


def _site_path(rel) -> str:
    if not isinstance(rel, str) or not rel.strip():
        raise CrossfindError('add_html_file: the first argument is the page\'s path in the site, e.g. "en/reset/index.html"', 2)
    parts = [p for p in rel.replace("\\", "/").lstrip("/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise CrossfindError(f"add_html_file: {json.dumps(rel)} leaves the site (..)", 2)
    if not parts or not parts[-1].lower().endswith((".html", ".htm")):
        raise CrossfindError(f"add_html_file: {json.dumps(rel)} is not an .html file", 2)
    return "/".join(parts)


class Index:
    """Pages to index. Options: model (a pack folder; default: the default
    pack, fetched once), title_weight, heading_weight (1-5),
    title_vector_weight (0-0.5), cache (embedding cache folder, or False for
    none), report (where the warnings go)."""

    def __init__(self, model=None, title_weight=None, heading_weight=None, cache=None, report=None,
                 title_vector_weight=None):
        self.model, self.title_weight, self.heading_weight = model, title_weight, heading_weight
        self.title_vector_weight = title_vector_weight
        self.cache, self.report = cache, report
        self._html = {}
        self._records = []

    def add_html_file(self, rel, html):
        p = _site_path(rel)
        if not isinstance(html, (str, bytes)):
            raise CrossfindError(f"add_html_file {p}: the page's HTML must be str or bytes", 2)
        self._html[p] = html
        return self

    def add_record(self, record):
        if not isinstance(record, dict):
            raise CrossfindError("add_record: a record is a dict {id, lang, title, url, text}", 2)
        for k in ("id", "title", "url", "text"):
            if not isinstance(record.get(k), str):
                name = json.dumps(record.get("id", len(self._records) + 1))
                raise CrossfindError(f"add_record: record {name} has no {k} (a string)", 2)
        self._records.append(record)
        return self

    def write(self, out, widget=True) -> dict:
        """Writes the bundle into `out` (and the widget beside it unless
        widget=False); returns the indexer's --json summary."""
        if not out:
            raise CrossfindError('write: give the bundle folder, e.g. write("public/crossfind")', 2)
        if self._html and self._records:
            raise CrossfindError(
                "write: this index holds both HTML files and records; one bundle is built from one kind of input, so use two indexes",
                2,
            )
        if not self._html and not self._records:
            raise CrossfindError("write: nothing to index: add pages with add_html_file() or add_record()", 2)
        binary = native_binary()
        model = self.model or default_pack(binary, __version__, lambda _msg: None)
        with tempfile.TemporaryDirectory(prefix="crossfind-api-") as tmp:
            if self._html:
                source = Path(tmp) / "site"
                for rel, html in self._html.items():
                    f = source.joinpath(*PurePosixPath(rel).parts)
                    f.parent.mkdir(parents=True, exist_ok=True)
                    if isinstance(html, bytes):
                        f.write_bytes(html)
                    else:
                        f.write_text(html, encoding="utf-8")
            else:
                source = Path(tmp) / "pages.jsonl"
                source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self._records), encoding="utf-8")
            args = [binary, "index", "--input", str(source), "--out", str(out), "--model", str(model), "--json", "--quiet",
                    "--report", str(self.report or Path(tmp) / "report.txt")]
            if self.title_weight is not None:
                args += ["--title-weight", str(self.title_weight)]
            if self.heading_weight is not None:
                args += ["--heading-weight", str(self.heading_weight)]
            if self.title_vector_weight is not None:
                args += ["--title-vector-weight", str(self.title_vector_weight)]
            if self.cache is False:
                args.append("--no-cache")
            elif self.cache:
                args += ["--cache", str(self.cache)]
            r = subprocess.run(args, capture_output=True, text=True)
            if r.returncode != 0:
                raise CrossfindError(r.stderr.strip() or f"crossfind index exited with {r.returncode}", 2 if r.returncode == 2 else 1)
            summary = json.loads(r.stdout)
        if widget:
            install_widget(Path(out))
        return summary
