"""Households: the list of the reader's area and one household's page, with its flags to resolve."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from server.context import db
from server.labels import FLAG_STATES
from server.web import page, page_scope, record_pii_view
from sync.errors import BadRequest
from sync.ledger.derive import resolve_flag_and_derive
from sync.oversight.flags import STATES
from sync.registry.queries import list_households
from sync.review.household import household_page

bp = Blueprint("households", __name__)


@bp.get("/projects/<int:project_id>/households")
@login_required
def index(project_id: int) -> str:
    scope = page_scope(project_id, "registry.read")
    village = request.args.get("village", "").strip() or None
    found = list_households(db(), project_id, village=village, scope=scope)
    return page("web/households.html", households=found, village=village or "")


@bp.get("/projects/<int:project_id>/households/<code>")
@login_required
def household(project_id: int, code: str) -> str:
    scope = page_scope(project_id, "registry.read")
    found = household_page(db(), scope, code)
    record_pii_view(scope, subject=f"household {code}")
    return page("web/household.html", found=found, may_review=scope.may("submission.review"),
                flag_states=FLAG_STATES)


@bp.post("/projects/<int:project_id>/flags/<int:flag_id>")
@login_required
def flag(project_id: int, flag_id: int) -> Response:
    scope = page_scope(project_id, "submission.review")
    state = request.form.get("state", "")
    if state not in STATES:
        raise BadRequest(_("Choose open, resolved or dismissed."))
    resolve_flag_and_derive(db(), project_id, flag_id, state, current_user.user_id, scope)
    db().commit()
    flash(_("Flag saved: %(state)s.", state=str(FLAG_STATES[state])), "success")
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("review.queue", project_id=project_id)
    return redirect(target)
