"""The audit log: Central's ``GET /v1/audits`` and the administrators' page of it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user, login_required
from sqlalchemy import or_

from server.auth import authenticate
from server.context import db
from server.schemas.review import AuditSchema
from server.web import page, page_scope
from sync.access.memberships import scopes_of
from sync.errors import BadRequest, Forbidden
from sync.oversight.audit import audit_conditions, list_audits

bp = Blueprint("audits", __name__)
PAGE = 100


def _moment(name: str, *, end: bool = False) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day + timedelta(days=1) if end else day, time())
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be a date (YYYY-MM-DD) or an ISO time.") from None


def _number(name: str, default: int, *, most: int | None = None) -> int:
    raw = request.args.get(name, "")
    if raw and not raw.isdigit():
        raise BadRequest(f"{name} must be a non-negative whole number.")
    value = int(raw) if raw else default
    return min(value, most) if most else value


def _filters() -> list:
    return audit_conditions(action=request.args.get("action", "").strip() or None, start=_moment("start"),
                            end=_moment("end", end=True))


@bp.get("/v1/audits")
def api_audits() -> Response:
    actor = authenticate(None)
    if actor.kind != "user":
        raise Forbidden("Only named accounts may read the audit log.")
    scopes = [s for s in scopes_of(db(), actor.id) if s.may("audit.read")]
    if not scopes:
        raise Forbidden("Your role may not read the audit log.")
    visible = or_(*(s.audit_condition(actor.id) for s in scopes))
    found = list_audits(db(), [*_filters(), visible], limit=_number("limit", PAGE, most=1000),
                        offset=_number("offset", 0))
    return jsonify(AuditSchema(many=True).dump(found))


@bp.get("/projects/<int:project_id>/audits")
@login_required
def index(project_id: int) -> str:
    scope = page_scope(project_id, "audit.read")
    before = _number("before", 0) or None
    found = list_audits(db(), [*_filters(), scope.audit_condition(current_user.user_id)], limit=PAGE + 1,
                        before=before)
    more = len(found) > PAGE
    found = found[:PAGE]
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return page("web/audits.html", audits=found, next_before=found[-1].id if more and found else None, args=args)
