"""Photo responses: originals (a redirect to a short-lived presigned URL where the store can make one)
and thumbnails (streamed, with an ETag and immutable caching, since they are content-addressed)."""

from __future__ import annotations

from flask import Response, redirect, request

from server.context import services
from server.downloads import blob_response, chunks

YEAR = 365 * 24 * 3600


def original_response(key: str, *, content_type: str | None, etag: str | None, filename: str) -> Response:
    """The original photo: 307 to the object store when it signs URLs (S3), else streamed from here."""
    store = services().store
    url = store.presigned_url(
        key, expires=services().settings.presigned_url_seconds, filename=filename, content_type=content_type
    )
    if url:
        response = redirect(url, code=307)
        response.headers["Cache-Control"] = "private, no-store"
        return response
    # Streamed from here, typed by its bytes as every stored file is (server/downloads.py).
    response = blob_response(key, etag=etag, filename=filename)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def thumbnail_response(key: str, etag: str) -> Response:
    """A thumbnail: its bytes never change, so it is cached for a year (privately: it is access-checked)."""
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(chunks(services().store.open(key)), content_type="image/jpeg")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"private, max-age={YEAR}, immutable"
    return response
