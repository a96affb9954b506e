"""The photo gallery: thumbnails of a filtered set, a lightbox with previous / next."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import login_required

from server.blueprints.review import current_filter, filter_choices, language, query_string
from server.context import db
from server.web import page, page_scope
from sync.errors import BadRequest
from sync.review.gallery import photo_questions, photos

bp = Blueprint("gallery", __name__)


@bp.get("/projects/<int:project_id>/photos")
@login_required
def gallery(project_id: int) -> str:
    scope = page_scope(project_id)
    wanted = current_filter()
    field = request.args.get("field", "").strip()
    raw_after = request.args.get("after", "")
    if raw_after and not raw_after.isdigit():
        raise BadRequest("after must be a photo number.")
    found, next_after = photos(db(), scope, wanted, field=field, after=int(raw_after) if raw_after else None)
    extra = {"field": field} if field else {}
    return page(
        "web/gallery.html", photos=found, next_after=next_after, wanted=wanted, field=field,
        questions=photo_questions(db(), project_id, wanted.form, language()), choices=filter_choices(scope),
        query=query_string(wanted, **extra), query_string=query_string,
    )
