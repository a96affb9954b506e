"""Blob stores: one interface (BlobStore), a local folder and an S3-compatible bucket, chosen by a setting.

Callers (``sync.intake.ingest``, ``sync.intake.publishing``, ``server.downloads``) import everything from here and never
from the implementations, so the choice of store stays a configuration matter and moving a deployment
from a folder to a bucket touches no caller. Contract for every store:

- puts are atomic (a reader never sees a partial blob under a key) and idempotent (putting the same key
  again is harmless; content-addressed keys make it a no-op in effect);
- a missing blob raises BlobNotFound, a failing store raises StoreUnavailable (the server's 503);
- keys are validated the same way by both stores (``check_key``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from media.stores.base import (
    BlobNotFound,
    BlobStore,
    InvalidKey,
    PartialWrite,
    StoreUnavailable,
    blob_key,
    check_key,
    features_key,
    thumbnail_key,
)
from media.stores.local import LocalStore

STORE_KINDS = ("local", "s3")


def make_store(kind: str, **options: Any) -> BlobStore:
    """Build the store named by ``kind`` with its constructor options.

    ``make_store("local", root=Path(...))`` or ``make_store("s3", bucket=..., endpoint_url=..., prefix=...,
    region=..., ...)``; see ``LocalStore`` and ``S3Store`` for every option. Unknown kinds and options fail
    here, at startup, rather than on the first upload.
    """
    if kind == "local":
        root = options.pop("root")
        return LocalStore(Path(root), **options)
    if kind == "s3":
        from media.stores.s3 import S3Store  # boto3 (24 MiB) only where the S3 store is configured

        return S3Store(**options)
    raise ValueError(f"unknown blob store kind {kind!r}; expected one of {', '.join(STORE_KINDS)}")


def __getattr__(name: str) -> Any:
    """``S3Store`` on first use (PEP 562): importing it imports boto3, which a local store never needs."""
    if name == "S3Store":
        from media.stores.s3 import S3Store

        return S3Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "STORE_KINDS",
    "BlobNotFound",
    "BlobStore",
    "InvalidKey",
    "LocalStore",
    "PartialWrite",
    "StoreUnavailable",
    "blob_key",
    "check_key",
    "features_key",
    "make_store",
    "thumbnail_key",
]
