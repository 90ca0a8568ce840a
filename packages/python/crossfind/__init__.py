"""crossfind: cross-lingual semantic search for static help sites.

`crossfind index --site public` indexes a built site into public/crossfind and
copies the widget beside it; every other command runs the native CLI this
wheel carries (`crossfind --help`). From Python, `crossfind.Index` builds
the same bundle from pages held in memory."""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("crossfind")
except PackageNotFoundError:  # run from a source tree
    __version__ = "0.0.0"

from ._api import Index  # noqa: E402  (needs __version__ above)
from ._errors import CrossfindError  # noqa: E402

__all__ = ["Index", "CrossfindError", "__version__"]
