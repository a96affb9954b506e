"""The review queue and the page of one submission, with its review decision.

Views parse the request, call ``sync.review`` and render; the queries and the decisions live there.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from server.context import db, services
from server.i18n import select_locale
from server.labels import FLAG_KINDS, STATES, VERDICT_GROUPS
from server.web import page, page_scope, record_pii_view
from sync.access.places import areas
from sync.access.scope import Scope
from sync.db.models import AppUser, Form, FormVersion
from sync.errors import BadRequest
from sync.intake.forms import get_form
from sync.intake.submissions import get_submission
from sync.review.bulk import bulk_decide, chosen_ids
from sync.review.comments import add_comment
from sync.review.detail import submission_detail
from sync.review.queue import QueueFilter, neighbours
from sync.review.queue import page as queue_page
from sync.review.reviews import REVIEW_STATES, set_review_state

bp = Blueprint("review", __name__)


def current_filter() -> QueueFilter:
    return QueueFilter.parse(request.args.to_dict(flat=False),
                             utc_offset_hours=services().settings.display_utc_offset_hours)


def query_string(wanted: QueueFilter, **extra: str) -> str:
    args = {**wanted.args(), **{k: [v] for k, v in extra.items() if v}}
    return urlencode(args, doseq=True)


def language() -> str:
    return "en" if select_locale() == "en" else "zh"


def filter_choices(scope: Scope) -> dict:
    """What the filter pickers offer: the project's forms, the areas within scope, the phones."""
    session = db()
    forms = session.execute(
        select(Form.xml_form_id, FormVersion.title)
        .outerjoin(FormVersion, FormVersion.id == Form.current_version_id)
        .where(Form.project_id == scope.project_id).order_by(Form.xml_form_id)
    ).all()
    within = [a for a in areas().values() if scope.covers(a.code) or a.code.startswith(scope.area)]
    levels = {level: sorted((a for a in within if a.level == level), key=lambda a: a.code)
              for level in ("county", "township", "village")}
    app_users = session.execute(
        select(AppUser.id, AppUser.display_name).where(AppUser.project_id == scope.project_id).order_by(AppUser.id)
    ).all()
    return {"forms": forms, "levels": levels, "app_users": app_users, "states": STATES,
            "flag_kinds": FLAG_KINDS, "verdict_groups": VERDICT_GROUPS}


@bp.get("/projects/<int:project_id>/submissions")
@login_required
def queue(project_id: int) -> str:
    scope = page_scope(project_id)
    wanted = current_filter()
    after = _cursor("after")
    before = _cursor("before")
    found = queue_page(db(), scope, wanted, after=after, before=before)
    return page("web/queue.html", found=found, wanted=wanted, choices=filter_choices(scope),
                query=query_string(wanted), query_string=query_string, language=language(),
                may_review=scope.may("submission.review"))


def _cursor(name: str) -> int | None:
    raw = request.args.get(name, "")
    if raw and not raw.isdigit():
        raise BadRequest(f"{name} must be a submission number.")
    return int(raw) if raw else None


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>")
@login_required
def submission(project_id: int, xml_form_id: str, instance_id: str) -> str:
    scope = page_scope(project_id)
    wanted = current_filter()
    detail = submission_detail(db(), scope, xml_form_id, instance_id, language())
    record_pii_view(scope, subject=instance_id, submission_id=detail.submission.id)
    previous, following = neighbours(db(), scope, wanted, detail.submission.id)
    return page(
        "web/submission.html", detail=detail, wanted=wanted, query=query_string(wanted),
        previous=_link(project_id, previous, wanted), following=_link(project_id, following, wanted),
        language=language(), states=REVIEW_STATES, may_review=scope.may("submission.review"),
        may_reveal=scope.may("pii.read"),
    )


def _link(project_id: int, submission, wanted: QueueFilter) -> str | None:  # noqa: ANN001 - a Submission
    if submission is None:
        return None
    form = db().get(Form, submission.form_id)
    url = url_for("review.submission", project_id=project_id, xml_form_id=form.xml_form_id,
                  instance_id=submission.instance_id)
    query = query_string(wanted)
    return f"{url}?{query}" if query else url


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/review")
@login_required
def decide(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    scope = page_scope(project_id, "submission.review")
    state = request.form.get("state", "")
    if state not in REVIEW_STATES:
        raise BadRequest(_("Choose approved, has issues or rejected."))
    note = request.form.get("note", "").strip()
    session = db()
    form = get_form(session, project_id, xml_form_id)
    set_review_state(session, form, instance_id, state, user_id=current_user.user_id, scope=scope, notes=note)
    session.commit()
    flash(_("Saved: %(state)s.", state=str(STATES[state])), "success")
    target = url_for("review.submission", project_id=project_id, xml_form_id=xml_form_id, instance_id=instance_id)
    query = request.form.get("query", "")
    return redirect(f"{target}?{query}" if query else target)


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/comments")
@login_required
def comment(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    scope = page_scope(project_id, "submission.review")
    session = db()
    submission_row, _version = get_submission(session, get_form(session, project_id, xml_form_id), instance_id, scope)
    add_comment(session, submission_row, request.form.get("body", ""), user_id=current_user.user_id)
    session.commit()
    target = url_for("review.submission", project_id=project_id, xml_form_id=xml_form_id, instance_id=instance_id)
    query = request.form.get("query", "")
    return redirect(f"{target}?{query}" if query else target)


@bp.post("/projects/<int:project_id>/submissions/review")
@login_required
def bulk(project_id: int) -> Response:
    """One decision for the selected rows, or for everything matching the filter (``all=1``)."""
    scope = page_scope(project_id, "submission.review")
    state = request.form.get("state", "")
    if state not in REVIEW_STATES:
        raise BadRequest(_("Choose approved, has issues or rejected."))
    wanted = QueueFilter.parse(parse_qs(request.form.get("query", "")),
                               utc_offset_hours=services().settings.display_utc_offset_hours)
    everything = request.form.get("all") == "1"
    raw_ids = request.form.getlist("ids")
    if not everything and not raw_ids:
        raise BadRequest(_("Select at least one submission, or everything matching the filter."))
    if any(not raw.isdigit() for raw in raw_ids):
        raise BadRequest(_("The selection is not valid; reload the page."))
    chosen = chosen_ids(db(), scope, ids=[int(raw) for raw in raw_ids], wanted=wanted if everything else None)
    db().rollback()  # the batches run in their own transactions
    changed = bulk_decide(services().sessions, chosen, state, user_id=current_user.user_id,
                          notes=request.form.get("note", "").strip() or None)
    flash(_("%(count)s submissions saved: %(state)s.", count=changed, state=str(STATES[state])), "success")
    target = url_for("review.queue", project_id=project_id)
    query = request.form.get("query", "")
    return redirect(f"{target}?{query}" if query else target)
