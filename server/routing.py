"""How URLs become view arguments: ids the database can hold, and segments that may contain ``/``.

- ``<int:...>`` matches ASCII digits only, up to the largest id an ``Integer`` column holds. Werkzeug's own
  converter takes any Unicode digit and any size: 2**63 in a project or flag id reached SQLite as an
  OverflowError, and anything past 2**31 - 1 fails PostgreSQL's comparison with the column. Such a URL
  names nothing, so it is a 404 like any unknown id.
- String segments are routed on the raw request path. WSGI servers hand over the path with ``%2F``
  already decoded, so the instanceID ``uuid:a/b``, which pyodk sends as ``uuid%3Aa%2Fb``, split into two
  segments and its URL was a 404. :class:`RawPath` rebuilds ``PATH_INFO`` from the raw request URI with
  every escape decoded except ``%2F`` and ``%25``; the segment converter decodes those two.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

from sync.numbers import MAX_INTEGER_COLUMN, whole_number

_KEPT_ESCAPES = re.compile(r"(%2[fF]|%25)")


class DatabaseId(IntegerConverter):
    regex = r"[0-9]+"

    def to_python(self, value: str) -> int:
        number = whole_number(value, MAX_INTEGER_COLUMN)
        if number is None:
            raise ValidationError()
        return number


class Segment(UnicodeConverter):
    def to_python(self, value: str) -> str:
        return unquote(value)


class RawPath:
    """WSGI middleware: ``PATH_INFO`` with ``%2F`` and ``%25`` left encoded (see the module docstring)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        environ["PATH_INFO"] = _path_info(environ)
        return self.app(environ, start_response)


def _path_info(environ: dict) -> str:
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    path = environ.get("PATH_INFO", "")
    if not raw or environ.get("SCRIPT_NAME"):
        # No raw path to go by: keep the decoded path, with its "%" escaped for the segment converter.
        return path.replace("%", "%25")
    raw_path = urlsplit(raw).path if raw.startswith(("http://", "https://")) else raw.partition("?")[0]
    pieces = _KEPT_ESCAPES.split(raw_path)
    decoded = b"".join(
        piece.upper().encode() if index % 2 else unquote_to_bytes(piece.encode("latin-1"))
        for index, piece in enumerate(pieces)
    )
    return decoded.decode("latin-1")  # WSGI carries the path's bytes as latin-1 text

