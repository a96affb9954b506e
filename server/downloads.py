"""Responses that send stored bytes: form media and submission attachments, streamed from the blob store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import quote

from flask import Response, request
from sqlalchemy.orm import Session

from media.store import blob_key
from server.context import services
from sync.access.scope import Scope
from sync.db.models import FormAttachment
from sync.registry.entities import entity_list_csv, entity_list_hash

CHUNK = 256 * 1024


def manifest_entry(
    session: Session, attachment: FormAttachment, base: str, xml_form_id: str, scope: Scope | None = None
) -> dict | None:
    """One ``<mediaFile>``: md5 of the exact bytes served, so phones refresh only what changed (docs/protocol.md §5).

    An entity list is generated from the registry; its hash is a version token that changes whenever a
    household does (docs/protocol.md §6), sent again as the CSV's ETag.
    """
    url = f"{base}/forms/{quote(xml_form_id, safe='')}/attachments/{quote(attachment.name, safe='')}"
    if attachment.dataset is not None:
        project_id = attachment.form_version.form.project_id
        token = entity_list_hash(session, project_id, scope)
        return {"name": attachment.name, "hash": token, "download_url": url, "type": "entityList"}
    if attachment.sha256 is None or attachment.md5 is None:
        return None
    return {"name": attachment.name, "hash": attachment.md5, "download_url": url}


def form_media_response(session: Session, attachment: FormAttachment, scope: Scope | None = None) -> Response:
    """A form's media file; an entity list holds only the households of the caller's area."""
    if attachment.dataset is not None:
        project_id = attachment.form_version.form.project_id
        token = entity_list_hash(session, project_id, scope)
        if token in request.if_none_match:
            response = Response(status=304)
            response.set_etag(token)
            return response
        # The CSV is built before the response starts: a failure mid-way must not look like a short list.
        body = b"".join(entity_list_csv(session, project_id, scope))
        response = Response(body, content_type="text/csv; charset=utf-8")
        response.set_etag(token)
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(attachment.name)}"
        return response
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
    response = Response(chunks(handle), content_type=content_type or "application/octet-stream")
    if etag:
        response.set_etag(etag)
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    return response


def chunks(handle: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()
