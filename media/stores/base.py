"""The blob-store contract: the protocol, its two errors, and the key rules both stores enforce.

Keys are relative POSIX-style paths (``blobs/ab/cd/abcd...``). Both stores accept the same key alphabet so a
deployment can move from a folder to S3 (or back) by copying objects one to one; the local store needs the
strict form anyway, because a key becomes a file name under its root and must not escape it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


class StoreUnavailable(Exception):
    """The store is down, timed out, refused us or failed mid-write: the caller should answer 503 and retry.

    Nothing was stored under the key when a put raises this (puts are atomic), so retrying is always safe.
    """


class BlobNotFound(FileNotFoundError):
    """No blob under the key (a subclass of FileNotFoundError, as warehouse's storage layer does)."""


class InvalidKey(BlobNotFound, ValueError):
    """A key no blob can ever have: empty, absolute, with ``..``, hidden segments or odd characters.

    It is both a ValueError (a programming error on writes) and a BlobNotFound (on reads, a key that cannot
    exist is simply not found), the way ``io.UnsupportedOperation`` is both an OSError and a ValueError.
    """


@dataclass(frozen=True)
class PartialWrite:
    """A write that started and never finished: a temp file (local) or an open multipart upload (S3).

    Invisible under its key; it only costs space until ``remove_partial_writes`` sweeps it.
    """

    key: str
    started: datetime
    bytes_written: int


@runtime_checkable
class BlobStore(Protocol):
    """Where attachment bytes, form media, thumbnails and export files live, addressed by key."""

    #: Whether ``presigned_url`` makes URLs (S3) or always answers None (a folder): asked before signing.
    signs_urls: bool

    def put_path(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        move: bool = False,
    ) -> None:
        """Store a file's bytes under ``key``, atomically; ``move=True`` consumes the source file."""
        ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Store bytes under ``key``, atomically."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A streamed, buffered reader of the blob; BlobNotFound if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """Size in bytes, or None when absent."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; deleting an absent key is not an error."""
        ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored key starting with ``prefix`` (a plain string prefix, not a folder)."""
        ...

    def presigned_url(
        self,
        key: str,
        *,
        expires: int = 300,
        filename: str | None = None,
        content_type: str | None = None,
        attachment: bool = False,
    ) -> str | None:
        """A time-limited URL a browser can fetch directly, or None when the store cannot make one."""
        ...

    def partial_writes(self, prefix: str = "") -> list[PartialWrite]:
        """Writes that started but never completed (crashed process, killed worker)."""
        ...

    def remove_partial_writes(self, older_than: float = 86400.0) -> int:
        """Delete partial writes started more than ``older_than`` seconds ago; returns how many."""
        ...


_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._=+-]{0,254}"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_KIND = re.compile(r"[a-z0-9][a-z0-9_-]*(?:/[a-z0-9][a-z0-9_-]*)*")
MAX_KEY_LENGTH = 1024


def check_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid blob key, else raise InvalidKey.

    Segments start with a letter, digit or underscore, so ``.``/``..`` and hidden names (which the local
    store uses for its temp files) are impossible; no backslashes, spaces, NULs or empty segments.
    """
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidKey(f"invalid blob key: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Validate a listing prefix: any leading part of a valid key (it may end inside a segment or at '/')."""
    if prefix == "":
        return prefix
    probe = prefix + "x" if prefix.endswith("/") else prefix
    check_key(probe)
    return prefix


def blob_key(sha256_hex: str, kind: str = "blobs") -> str:
    """The content-addressed key of a blob: ``<kind>/ab/cd/<sha256>``.

    Two levels of fan-out keep any one folder of the local store under 65,536 entries per level (and cost
    nothing on S3). ``kind`` separates originals (``blobs``) from derived files such as thumbnails
    (``thumbnails/256``), so derived data can be listed, rebuilt or dropped without touching originals.
    """
    digest = sha256_hex.lower()
    if not _SHA256.fullmatch(digest):
        raise ValueError(f"not a SHA-256 hex digest: {sha256_hex!r}")
    if not _KIND.fullmatch(kind):
        raise ValueError(f"invalid blob kind: {kind!r}")
    return f"{kind}/{digest[:2]}/{digest[2:4]}/{digest}"


def features_key(sha256_hex: str) -> str:
    """Key of the local features (media.keypoints) of the original whose SHA-256 is given."""
    return blob_key(sha256_hex, kind="features")


def thumbnail_key(sha256_hex: str, size: int) -> str:
    """Key of the ``size``-pixel thumbnail of the original whose SHA-256 is given."""
    if size <= 0:
        raise ValueError(f"thumbnail size must be positive, got {size}")
    return blob_key(sha256_hex, kind=f"thumbnails/{size}")
