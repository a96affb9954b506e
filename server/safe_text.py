"""Request text made safe to write into logs and XML: phone tokens masked, control characters escaped.

A path is whatever a client sent: ``%0D%0A`` in it decodes to a line break that forges a log line, NUL and
other control characters are not allowed in XML 1.0 at all (an OpenRosa reply echoing one is not
well-formed), and the app-user token in ``/v1/key/<token>/`` (a draft's in ``/v1/test/<token>/``) is a
password. Every place that logs a path or echoes request text into XML goes through here.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, surrogates and the two non-characters
# XML forbids.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
# The segment after any "key" segment (an app user's token) or "test" segment (a draft's token, docs/forms.md
# §10), however the client spelled the slashes and the case ("//V1//KEY//").
_TOKEN = re.compile(r"(/(?:key|test)/+)[^/]+", re.IGNORECASE)


def printable(text: str) -> str:
    """``text`` with every control character written as a visible escape (``\\x00``, ``\\u2028``)."""
    return _UNPRINTABLE.sub(_escape, text)


def log_path(path: str) -> str:
    """A request path as it may be logged: the phone token masked, then made printable."""
    return printable(_TOKEN.sub(r"\1***", path))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
