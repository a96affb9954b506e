"""The clearance ledger's pages: the dashboard of an area with its drill-down, the lists behind each figure,
an item's page with its decisions and evidence, and the XLSX download.

Thin, as the JSON API (server/blueprints/ledger.py): each view reads the request, calls ``sync.ledger`` and
renders. The area is always the account's own or narrower (``sync.ledger.dashboard.page_area``); an item
or area outside it is a 404 page, as one that does not exist.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from server.blueprints.exports import download
from server.context import db, services
from server.i18n import select_locale
from server.labels import INCOME_LINES, LEDGER_KINDS, LEDGER_STATES
from server.ledger_chart import chart
from server.ledger_map import draw
from server.web import page, page_scope
from sync.access.places import children
from sync.errors import BadRequest, Forbidden
from sync.ledger import decisions, parameters
from sync.ledger.dashboard import households_without_record, month_ends, page_area, progress, submission_photos
from sync.ledger.export import prepare_ledger_export
from sync.ledger.kinds import KINDS
from sync.ledger.map import BoundaryFileError, load_boundaries, map_points
from sync.ledger.queries import PAGE, area_counts, item_evidence, list_items, page_of_items

bp = Blueprint("ledger_pages", __name__)


@bp.get("/projects/<int:project_id>/ledger")
@login_required
def dashboard(project_id: int) -> str:
    scope = page_scope(project_id, "ledger.read")
    area = page_area(scope, request.args.get("area"))
    today = date.today()
    session = db()
    rows = area_counts(session, project_id, area, today=today)
    ends = month_ends(today)
    charts = [chart(kind, counts, ends) for kind, counts in progress(session, project_id, area, today=today).items()]
    known = {row.area for row in rows[1:]}
    below = [] if len(area) == 12 else [a.code for a in children(area) if a.code not in known and scope.covers(a.code)]
    return page("web/ledger_dashboard.html", area=area, total=rows[0], rows=rows[1:], charts=charts,
                kinds=KINDS, kind_names=LEDGER_KINDS, empty_areas=below, parents=_parents(scope.area, area))


def _parents(own: str, area: str) -> list[str]:
    """The breadcrumb: the account's own area down to the one shown."""
    return [area[:width] for width in (6, 9, 12) if len(own) <= width < len(area)] if area else []


@bp.get("/projects/<int:project_id>/ledger/list")
@login_required
def items(project_id: int) -> str:
    scope = page_scope(project_id, "ledger.read")
    area = page_area(scope, request.args.get("area"))
    today = date.today()
    closed_month = request.args.get("closed") == "month"
    number = request.args.get("page", "1")
    number = int(number) if number.isdigit() and int(number) > 0 else 1
    wanted = dict(
        today=today, state=request.args.get("state") or None, kind=request.args.get("kind") or None,
        overdue=request.args.get("overdue") == "1", assigned=request.args.get("assigned") == "1",
        closed_since=today.replace(day=1) if closed_month else None,
    )  # fmt: skip
    found, more = page_of_items(db(), project_id, area, number=number, size=PAGE, **wanted)
    filters = {k: v for k, v in request.args.items() if k not in ("area", "page") and v}
    measure_names = {m.code: _measure_label(m) for m in decisions.list_measures(db())}
    return page("web/ledger_items.html", area=area, items=found, kind_names=LEDGER_KINDS, state_names=LEDGER_STATES,
                measure_names=measure_names, filters=filters, page_number=number, page_size=PAGE,
                more=more)  # fmt: skip


def _measure_label(measure: decisions.LedgerMeasure) -> str:
    """A measure by its name in the page's language; the code stays in the API and the downloads."""
    return measure.label_zh if select_locale().startswith("zh") else measure.label_en


@bp.get("/projects/<int:project_id>/ledger/unknown")
@login_required
def unknown(project_id: int) -> str:
    scope = page_scope(project_id, "ledger.read")
    area = page_area(scope, request.args.get("area"))
    found = households_without_record(db(), project_id, area)
    return page("web/ledger_unknown.html", area=area, households=found)


@bp.get("/projects/<int:project_id>/ledger/map")
@login_required
def map_page(project_id: int) -> str:
    scope = page_scope(project_id, "ledger.read")
    area = page_area(scope, request.args.get("area"))
    found = map_points(db(), project_id, area)
    problem = None
    try:
        boundaries = load_boundaries(services().settings.boundaries_geojson, area)
    except BoundaryFileError as exc:
        boundaries, problem = [], str(exc)
    return page("web/ledger_map.html", area=area, data=found, drawn=draw(found.points, boundaries),
                boundary_problem=problem)


@bp.get("/projects/<int:project_id>/ledger/items/<int:item_id>")
@login_required
def item(project_id: int, item_id: int) -> str:
    scope = page_scope(project_id, "ledger.read")
    session = db()
    found = decisions.get_item(session, project_id, item_id, scope.area)
    row = list_items(session, project_id, scope.area, today=date.today(), item_id=found.id, limit=1)[0]
    evidence = item_evidence(session, found)
    photos = submission_photos(session, [i for i in (found.found_submission_id, found.closed_by_submission_id) if i])
    measures = [(m.code, _measure_label(m))
                for m in decisions.list_measures(session, found.kind) if m.active or m.code == found.measure]
    return page("web/ledger_item.html", row=row, item=found, evidence=evidence, photos=photos, measures=measures,
                measure_names=dict(measures),
                kind_names=LEDGER_KINDS, state_names=LEDGER_STATES, may_assign=scope.may("ledger.assign"),
                may_approve=scope.may("ledger.approve") and found.close_requested_by_user_id != current_user.user_id,
                today=date.today())  # fmt: skip


def _decide(project_id: int, item_id: int, permission: str, action, message: str) -> Response:  # noqa: ANN001
    scope = page_scope(project_id, permission)
    session = db()
    action(session, decisions.get_item(session, project_id, item_id, scope.area))
    session.commit()
    flash(message, "success")
    return redirect(url_for("ledger_pages.item", project_id=project_id, item_id=item_id))


def _deadline(raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise BadRequest(_("The deadline must be a date (YYYY-MM-DD).")) from None


@bp.post("/projects/<int:project_id>/ledger/items/<int:item_id>/assignment")
@login_required
def assign(project_id: int, item_id: int) -> Response:
    form = request.form
    measure, unit, person = form.get("measure", ""), form.get("unit", "").strip(), form.get("person", "").strip()
    if not unit or not person:
        raise BadRequest(_("Name the responsible unit and person."))
    if len(unit) > decisions.UNIT_MAX or len(person) > decisions.PERSON_MAX:
        raise BadRequest(_("The unit may have at most %(unit)d characters, the person %(person)d.",
                           unit=decisions.UNIT_MAX, person=decisions.PERSON_MAX))  # fmt: skip
    assignment = decisions.Assignment(measure, unit, person, _deadline(form.get("deadline", "")))
    return _decide(project_id, item_id, "ledger.assign",
                   lambda s, found: decisions.assign(s, found, assignment, current_user.user_id),
                   _("Measure assigned."))  # fmt: skip


@bp.post("/projects/<int:project_id>/ledger/items/<int:item_id>/done")
@login_required
def done(project_id: int, item_id: int) -> Response:
    note = request.form.get("note", "")
    return _decide(project_id, item_id, "ledger.assign",
                   lambda s, found: decisions.report_done(s, found, note, current_user.user_id),
                   _("Work reported done."))  # fmt: skip


@bp.post("/projects/<int:project_id>/ledger/items/<int:item_id>/close-request")
@login_required
def close_request(project_id: int, item_id: int) -> Response:
    reason = request.form.get("reason", "")
    if not reason.strip():
        raise BadRequest(_("A manual close needs a reason."))
    return _decide(project_id, item_id, "ledger.assign",
                   lambda s, found: decisions.request_close(s, found, reason, current_user.user_id),
                   _("Manual close requested; another account must approve it."))  # fmt: skip


@bp.post("/projects/<int:project_id>/ledger/items/<int:item_id>/close-approval")
@login_required
def close_approval(project_id: int, item_id: int) -> Response:
    return _decide(project_id, item_id, "ledger.approve",
                   lambda s, found: decisions.approve_close(s, found, current_user.user_id),
                   _("Manual close approved."))  # fmt: skip


def _administrator(project_id: int):  # noqa: ANN202 - a Scope
    """Parameter tables hold for every township at once: an account of the whole project changes them."""
    scope = page_scope(project_id, "parameters.manage")
    if scope.area:
        raise Forbidden(_("Only an account of the whole project may change the parameter tables."))
    return scope


@bp.get("/projects/<int:project_id>/ledger/parameters")
@login_required
def parameter_tables(project_id: int, problems: list[str] | None = None, status: int = 200):  # noqa: ANN201
    _administrator(project_id)
    return page("web/ledger_parameters.html", versions=parameters.list_versions(db()), problems=problems), status


@bp.post("/projects/<int:project_id>/ledger/parameters")
@login_required
def upload_parameters(project_id: int) -> Response:
    _administrator(project_id)
    sent = request.files.get("table")
    if sent is None or not sent.filename:
        raise BadRequest(_("Choose a CSV file to upload."))
    session = db()
    try:
        version = parameters.upload(session, sent.filename, sent.read(), current_user.user_id)
    except BadRequest as problem:
        session.rollback()
        return parameter_tables(project_id, problems=list(problem.details.get("problems") or [problem.message]),
                                status=400)  # fmt: skip
    session.commit()
    return redirect(url_for("ledger_pages.parameter_version", project_id=project_id, version_id=version.id))


@bp.get("/projects/<int:project_id>/ledger/parameters/<int:version_id>")
@login_required
def parameter_version(project_id: int, version_id: int) -> str:
    _administrator(project_id)
    session = db()
    version = parameters.get_version(session, version_id)
    found = parameters.preview(session, project_id, version) if version.state == "uploaded" else None
    return page("web/ledger_parameter_version.html", version=version, preview=found, line_names=INCOME_LINES)


@bp.post("/projects/<int:project_id>/ledger/parameters/<int:version_id>/apply")
@login_required
def apply_parameters(project_id: int, version_id: int) -> Response:
    _administrator(project_id)
    db().rollback()  # the rebuild runs in its own transactions
    judged = parameters.apply_version(services().sessions, services().settings.parameter_dir, version_id,
                                      current_user.user_id)  # fmt: skip
    flash(_("Parameter table applied: %(n)s submissions judged again.", n=judged), "success")
    return redirect(url_for("ledger_pages.parameter_version", project_id=project_id, version_id=version_id))


@bp.get("/projects/<int:project_id>/ledger/export.xlsx")
@login_required
def export(project_id: int) -> Response:
    scope = page_scope(project_id, "ledger.read")
    area = page_area(scope, request.args.get("area"))
    return download(prepare_ledger_export(db(), project_id, area, today=date.today(), user_id=current_user.user_id))
