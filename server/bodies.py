"""A raw request body (a form definition, a media file) spooled to a file in the data folder's tmp.

Central's form and media uploads are plain bodies, not multipart, and pyodk streams media without a
Content-Length (chunked). waitress de-chunks the body before the app sees it; the body limit
(``QINGLING_MAX_UPLOAD_BYTES``) applies through werkzeug's limited stream, so a body past it is a 413
and leaves nothing behind.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from flask import request

from server.context import services


@contextmanager
def spooled_body(source: BinaryIO | None = None) -> Iterator[Path]:
    """The request body (or ``source``: a file part of a page's form) as a file, removed when the block ends."""
    tmp_dir = services().settings.tmp_dir
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qingling-body-", dir=tmp_dir) as folder:
        path = Path(folder) / "body"
        with path.open("wb") as handle:
            shutil.copyfileobj(source or request.stream, handle, 1 << 20)
        yield path


@contextmanager
def spool_file() -> Iterator[Path]:
    """A path in tmp for a copy the callee writes itself (a media file read while it is hashed)."""
    tmp_dir = services().settings.tmp_dir
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qingling-body-", dir=tmp_dir) as folder:
        yield Path(folder) / "body"
