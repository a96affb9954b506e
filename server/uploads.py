"""Stream multipart uploads to disk while hashing them, so no attachment is ever held whole in memory.

Werkzeug asks the request for a file object per multipart file part; ours starts in memory and rolls
over to a named file in the data dir's tmp folder past a small threshold. The sha256 and md5 are
computed as the bytes arrive, so the blob store never re-reads a file to learn its key, and a spooled
file on the same filesystem can be renamed into the local store instead of copied.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import IO

from flask import Request

SPOOL_THRESHOLD = 256 * 1024


class HashingSpool(io.RawIOBase):
    def __init__(self, tmp_dir: Path, threshold: int = SPOOL_THRESHOLD) -> None:
        super().__init__()
        self._tmp_dir = tmp_dir
        self._threshold = threshold
        self._memory: io.BytesIO | None = io.BytesIO()
        self._file: IO[bytes] | None = None
        self.path: Path | None = None
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        self.size = 0

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        data = bytes(data)
        self.sha256.update(data)
        self.md5.update(data)
        self.size += len(data)
        if self._memory is not None and self._memory.tell() + len(data) > self._threshold:
            self._roll_over()
        target = self._memory if self._memory is not None else self._file
        assert target is not None
        target.write(data)
        return len(data)

    def _roll_over(self) -> None:
        assert self._memory is not None
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", dir=self._tmp_dir)
        self._file = os.fdopen(fd, "w+b")
        self.path = Path(name)
        self._file.write(self._memory.getvalue())
        self._memory = None

    def seek(self, offset: int, whence: int = 0) -> int:
        target = self._memory if self._memory is not None else self._file
        assert target is not None
        if self._file is not None:
            self._file.flush()
        return target.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        target = self._memory if self._memory is not None else self._file
        assert target is not None
        return target.read(size)

    def getvalue(self) -> bytes | None:
        """The bytes when they stayed in memory; None once spooled to disk (read ``path`` instead)."""
        return self._memory.getvalue() if self._memory is not None else None

    def finish(self) -> None:
        """Flush and fsync the spooled file so a later rename into the store is durable."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        super().close()

    def discard(self) -> None:
        """Remove the spooled file if the store did not take it over."""
        self.close()
        if self.path is not None and self.path.exists():
            self.path.unlink()


class SpoolingRequest(Request):
    """Flask request whose file parts are :class:`HashingSpool` objects in the app's tmp folder."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):  # noqa: ANN001
        tmp_dir = Path(self.environ.get("qingling.tmp_dir") or tempfile.gettempdir())
        spool = HashingSpool(tmp_dir)
        self.environ.setdefault("qingling.spools", []).append(spool)
        return spool
