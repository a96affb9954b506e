"""Photo URLs of the workspace: originals and thumbnails by content, only within the reader's area."""

from __future__ import annotations

from flask import Blueprint, Response
from flask_login import login_required

from server.context import db
from server.photos import original_response, thumbnail_response
from server.web import page_scope
from sync.review.photos import thumbnail_key, visible_attachment

bp = Blueprint("photos", __name__)


@bp.get("/projects/<int:project_id>/photos/<sha256>")
@login_required
def original(project_id: int, sha256: str) -> Response:
    scope = page_scope(project_id)
    attachment = visible_attachment(db(), scope, sha256)
    return original_response(attachment.blob_key or "", sha256=attachment.sha256, etag=attachment.md5,
                             filename=attachment.name)


@bp.get("/projects/<int:project_id>/photos/<sha256>/<int:size>")
@login_required
def thumbnail(project_id: int, sha256: str, size: int) -> Response:
    key = thumbnail_key(db(), page_scope(project_id), sha256, size)
    return thumbnail_response(key, etag=f"{sha256}-{size}")
