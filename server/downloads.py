"""Responses that send stored bytes: form media and submission attachments, streamed from the blob store.

Stored bytes were uploaded by someone, and what they declared (``text/html``, ``image/svg+xml``) is not
what they are: a file is served as an image only when its first bytes open as one (media.images), inline;
anything else is ``application/octet-stream`` with ``Content-Disposition: attachment``, so a browser saves it
and never shows it as a page of this origin. Both carry the sandbox policy of server.security_headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from flask import Response, request
from sqlalchemy.orm import Session

from media.images import displayable_type
from media.store import blob_key
from server.context import services
from server.security_headers import as_stored_file
from sync.db.models import FormAttachment, FormDraftAttachment
from sync.registry.entities import entity_list, entity_list_hash

CHUNK = 256 * 1024
SNIFF_BYTES = 1024 * 1024  # enough for a JPEG's markers before its image data, EXIF and colour profile included


def manifest_entry(
    session: Session,
    attachment: FormAttachment | FormDraftAttachment,
    base: str,
    xml_form_id: str,
    area: str | None = None,
    *,
    project_id: int | None = None,
    media_path: str = "attachments",
) -> dict | None:
    """One ``<mediaFile>``: md5 of the exact bytes served, so phones refresh only what changed (docs/protocol.md §5).

    An entity list is generated from the registry, for the phone's area when it has one; its hash is a
    version token that changes whenever a household of that list does (docs/protocol.md §6), sent again as the
    CSV's ETag. A draft's media (``project_id`` given, ``media_path`` ``draft/attachments``) are listed the
    same way under the test phone's URL.
    """
    url = f"{base}/forms/{quote(xml_form_id, safe='')}/{media_path}/{quote(attachment.name, safe='')}"
    if attachment.dataset is not None:
        project_id = project_id if project_id is not None else attachment.form_version.form.project_id
        token = entity_list_hash(session, project_id, area)
        return {"name": attachment.name, "hash": token, "download_url": url, "type": "entityList"}
    if attachment.sha256 is None or attachment.md5 is None:
        return None
    return {"name": attachment.name, "hash": attachment.md5, "download_url": url}


def form_media_response(
    session: Session,
    attachment: FormAttachment | FormDraftAttachment,
    area: str | None = None,
    *,
    project_id: int | None = None,
) -> Response:
    if attachment.dataset is not None:
        project_id = project_id if project_id is not None else attachment.form_version.form.project_id
        token = entity_list_hash(session, project_id, area)
        if token in request.if_none_match:
            response = Response(status=304)
            response.set_etag(token)
            return response
        # The CSV is built before the response starts: a failure mid-way must not look like a short list.
        token, body = entity_list(session, project_id, area)
        response = Response(body, content_type="text/csv; charset=utf-8")
        response.set_etag(token)
        response.headers["Content-Disposition"] = disposition("attachment", attachment.name)
        return as_stored_file(response)
    return blob_response(
        blob_key(attachment.sha256) if attachment.sha256 else None, etag=attachment.md5, filename=attachment.name
    )


def blob_response(key: str | None, *, etag: str | None, filename: str) -> Response:
    """Stream a blob typed by its bytes (module docstring), with an ETag; a matching If-None-Match gets 304
    without touching the store."""
    if etag and etag in request.if_none_match:
        response = Response(status=304)
        response.set_etag(etag)
        return response
    handle = services().store.open(key or "")
    try:
        head = _read_head(handle)
    except BaseException:
        handle.close()
        raise
    image_type = displayable_type(head)
    response = Response(_chunks(head, handle), content_type=image_type or "application/octet-stream")
    if etag:
        response.set_etag(etag)
    response.headers["Content-Disposition"] = disposition("inline" if image_type else "attachment", filename)
    return as_stored_file(response)


def sniffed_type(key: str) -> str | None:
    """The image type the blob's first bytes show (None: not an image), read without streaming the rest."""
    with services().store.open(key) as handle:
        return displayable_type(_read_head(handle))


def disposition(kind: str, filename: str) -> str:
    return f"{kind}; filename*=UTF-8''{quote(filename)}"


def _read_head(handle: BinaryIO) -> bytes:
    head = bytearray()
    while len(head) < SNIFF_BYTES and (chunk := handle.read(SNIFF_BYTES - len(head))):
        head += chunk
    return bytes(head)


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    """The bytes of an open blob, a chunk at a time, closing it at the end (or when the client leaves)."""
    return _chunks(b"", handle)


def _chunks(head: bytes, handle: BinaryIO) -> Iterator[bytes]:
    try:
        if head:
            yield head
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()
