"""Photo responses: originals (a redirect to a short-lived presigned URL where the store can make one)
and thumbnails (streamed, with an ETag and immutable caching, since they are content-addressed)."""

from __future__ import annotations

from flask import Response, redirect, request

from server.context import db, services
from server.downloads import blob_response, chunks, sniffed_type
from sync.review.photos import checked_image_type

YEAR = 365 * 24 * 3600


def original_response(key: str, *, sha256: str | None, etag: str | None, filename: str) -> Response:
    """The original photo: 307 to the object store when it signs URLs (S3), else streamed from here.

    Either way it is typed by its bytes, never by what the phone declared (server/downloads.py): the
    presigned URL carries the type the photo checks decoded, or, before they ran, the type its first bytes
    show; anything that is not an image is signed as a download (``application/octet-stream``, attachment).
    """
    store = services().store
    seconds = services().settings.presigned_url_seconds
    if store.signs_urls:
        shown = checked_image_type(db(), sha256) or sniffed_type(key)
        url = store.presigned_url(key, expires=seconds, filename=filename,
                                  content_type=shown or "application/octet-stream",
                                  attachment=shown is None)  # fmt: skip
        response = redirect(url, code=307)
        response.headers["Cache-Control"] = "private, no-store"
        return response
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
