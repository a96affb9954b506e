"""One streamed pass over a file's bytes: SHA-256, MD5 and size, optionally copying them on the way.

Publishing (a form's media), the storage audit (reading blobs back) and the photo examination (fetching a
blob to a temporary file) all need the digest of a stream too large to hold in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    sha256: str
    md5: str
    size: int


def digest_stream(source: BinaryIO, *, copy_to: BinaryIO | None = None) -> Digest:
    """Read ``source`` to its end in 1 MiB chunks; write each chunk to ``copy_to`` when given."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    while chunk := source.read(CHUNK):
        sha256.update(chunk)
        md5.update(chunk)
        size += len(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return Digest(sha256.hexdigest(), md5.hexdigest(), size)
