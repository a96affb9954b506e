"""A blob store in a local folder: temp file in the target folder, fsync, then an atomic rename.

Readers never see a half-written file because the bytes go to a hidden temp file next to the target and
only ``os.replace`` (atomic on POSIX within one filesystem) makes them visible under the key. The folder is
fsynced after the rename so a power cut cannot lose a blob whose database row was already committed
(the ingest order relies on that: blob first, then row; docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from media.stores.base import (
    BlobNotFound,
    InvalidKey,
    PartialWrite,
    StoreUnavailable,
    check_key,
    check_prefix,
)

CHUNK = 1024 * 1024
TEMP_MARK = ".tmp-"


class LocalStore:
    """Blobs as files under ``root``; ``presigned_url`` is always None (the app streams them itself)."""

    signs_urls = False

    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = Path(root).absolute()
        if create:
            self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # -- writes -------------------------------------------------------------------------------------------

    def put_path(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        move: bool = False,
    ) -> None:
        """Store the file at ``path`` under ``key``; with ``move=True`` the source is gone afterwards.

        A move renames the file into place when it is a regular file on the same filesystem (no copy, which
        is why the server spools uploads inside the data folder); otherwise it copies and then unlinks the
        source. Errors reading the source propagate unchanged; errors writing the store become
        StoreUnavailable. ``content_type`` is not kept: the database row records it.
        """
        target = self._path(key)
        source = Path(path)
        mode = source.stat().st_mode  # FileNotFoundError for a missing source: the caller's problem
        self._make_parent(target)
        if move and stat.S_ISREG(mode):
            try:
                _fsync_file(source)
                os.replace(source, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise StoreUnavailable(f"cannot move {source} into the store: {exc}") from exc
            else:
                _fsync_dir(target.parent)
                return
        with open(source, "rb") as handle:
            self._write(target, handle)
        if move:
            source.unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        target = self._path(key)
        self._make_parent(target)
        self._write(target, _BytesChunks(data))

    def delete(self, key: str) -> None:
        target = self._path(key)
        try:
            target.unlink()
        except FileNotFoundError:
            self._check_root()
        except IsADirectoryError:
            pass  # a "folder" made by longer keys: no blob by that name
        except OSError as exc:
            raise StoreUnavailable(f"cannot delete {key}: {exc}") from exc

    # -- reads --------------------------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        target = self._path(key)
        try:
            return open(target, "rb")  # noqa: SIM115 - the caller closes the stream
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            self._check_root()
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot open {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        target = self._path(key)
        try:
            info = target.stat()
        except (FileNotFoundError, NotADirectoryError):
            self._check_root()
            return None
        except OSError as exc:
            raise StoreUnavailable(f"cannot stat {key}: {exc}") from exc
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` in sorted order, walking only the folder the prefix points into."""
        check_prefix(prefix)
        self._check_root()
        folder, _, _ = prefix.rpartition("/")
        start = self.root / folder if folder else self.root
        yield from (key for key in self._walk(start, folder) if key.startswith(prefix))

    def presigned_url(
        self,
        key: str,
        *,
        expires: int = 300,
        filename: str | None = None,
        content_type: str | None = None,
        attachment: bool = False,
    ) -> None:
        """Always None: a folder has no URL of its own, so the app streams the file (server/downloads.py)."""
        check_key(key)
        return None

    # -- partial writes -----------------------------------------------------------------------------------

    def partial_writes(self, prefix: str = "") -> list[PartialWrite]:
        """Temp files left by writers that died before their rename."""
        check_prefix(prefix)
        self._check_root()
        found = []
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if not name.startswith(".") or TEMP_MARK not in name:
                    continue
                relative = Path(folder, name).relative_to(self.root).parent.as_posix()
                target = name[1:].rsplit(TEMP_MARK, 1)[0]
                key = target if relative == "." else f"{relative}/{target}"
                if not key.startswith(prefix):
                    continue
                try:
                    info = os.stat(os.path.join(folder, name))
                except FileNotFoundError:
                    continue  # finished (renamed) while we looked
                started = datetime.fromtimestamp(info.st_mtime, UTC)
                found.append(PartialWrite(key=key, started=started, bytes_written=info.st_size))
        return found

    def remove_partial_writes(self, older_than: float = 86400.0) -> int:
        """Delete temp files not modified for ``older_than`` seconds (a live writer keeps its file fresh)."""
        cutoff = time.time() - older_than
        removed = 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(".") and TEMP_MARK in name:
                    path = os.path.join(folder, name)
                    try:
                        if os.stat(path).st_mtime <= cutoff:
                            os.unlink(path)
                            removed += 1
                    except FileNotFoundError:
                        continue
        return removed

    # -- internals ----------------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _check_root(self) -> None:
        """A missing root means an unmounted volume or a deleted folder: the store is down, not empty."""
        if not self.root.is_dir():
            raise StoreUnavailable(f"blob folder {self.root} is missing")

    def _make_parent(self, target: Path) -> None:
        self._check_root()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidKey(f"{target.relative_to(self.root)}: a parent segment is already a blob") from exc
        except OSError as exc:
            raise StoreUnavailable(f"cannot create {target.parent}: {exc}") from exc

    def _write(self, target: Path, source: BinaryIO | _BytesChunks) -> None:
        """Copy ``source`` into a temp file beside ``target``, fsync it and rename it into place."""
        try:
            fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}{TEMP_MARK}")
        except OSError as exc:
            raise StoreUnavailable(f"cannot write into {target.parent}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    try:
                        out.write(chunk)
                    except OSError as exc:
                        raise StoreUnavailable(f"write failed for {target.name}: {exc}") from exc
                try:
                    out.flush()
                    os.fchmod(out.fileno(), 0o644)  # mkstemp makes 0600; blobs are ordinary data files
                    os.fsync(out.fileno())
                except OSError as exc:
                    raise StoreUnavailable(f"write failed for {target.name}: {exc}") from exc
            try:
                os.replace(temp_name, target)
            except IsADirectoryError as exc:
                raise InvalidKey(f"{target.relative_to(self.root)} is a folder of longer keys") from exc
            except OSError as exc:
                raise StoreUnavailable(f"cannot rename into {target}: {exc}") from exc
        except BaseException:
            _unlink_quietly(temp_name)
            raise
        _fsync_dir(target.parent)

    def _walk(self, folder: Path, relative: str) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise StoreUnavailable(f"cannot list {folder}: {exc}") from exc
        for entry in entries:
            if entry.name.startswith("."):
                continue  # temp files
            key = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), key)
            elif entry.is_file(follow_symlinks=False):
                yield key


class _BytesChunks:
    """Reads a bytes object in chunks through a memoryview, without copying it whole."""

    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._offset = 0

    def read(self, size: int) -> bytes:
        chunk = self._view[self._offset : self._offset + size]
        self._offset += len(chunk)
        return chunk.tobytes() if len(chunk) else b""


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Persist a rename: on Linux the new directory entry is durable only once the folder is fsynced."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (e.g. certain network mounts) refuse fsync on folders
    finally:
        os.close(fd)


def _unlink_quietly(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)
