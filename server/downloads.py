"""Responses that send stored bytes: form media and submission attachments, streamed from the blob store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from flask import Response, request
from sqlalchemy.orm import Session

from media.store import blob_key
from server.context import services
from sync.models import FormAttachment

CHUNK = 256 * 1024


def manifest_entry(_session: Session, attachment: FormAttachment, base: str, xml_form_id: str) -> dict | None:
    """One ``<mediaFile>``: md5 of the exact bytes served, so phones refresh only what changed (openrosa.md 5)."""
    url = f"{base}/forms/{quote(xml_form_id, safe='')}/attachments/{quote(attachment.name, safe='')}"
    if attachment.sha256 is None or attachment.md5 is None:
        return None
    return {"name": attachment.name, "hash": attachment.md5, "download_url": url}


def form_media_response(_session: Session, attachment: FormAttachment) -> Response:
    return blob_response(
        blob_key(attachment.sha256) if attachment.sha256 else None,
        content_type=attachment.content_type,
        etag=attachment.md5,
        filename=attachment.name,
    )


def blob_response(key: str | None, *, content_type: str | None, etag: str | None, filename: str) -> Response:
    """Stream a blob with an ETag; a matching If-None-Match gets 304 without touching the store."""
    if etag and etag in request.if_none_match:
        response = Response(status=304)
        response.set_etag(etag)
        return response
    handle = services().store.open(key or "")
    response = Response(_chunks(handle), content_type=content_type or "application/octet-stream")
    if etag:
        response.set_etag(etag)
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    return response


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()
