"""The clearance ledger's JSON API: items, decisions on them, area counts, measures, parameter tables, export.

Thin: each view reads the request, calls one function of ``sync.ledger`` and renders the result. Every
read is scoped by the caller's area (``server.scope.ledger_area``); an item outside it is a 404, as one
that does not exist. docs/ledger.md lists the URLs.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, jsonify, request

from server.auth import Actor, require
from server.blueprints.exports import download
from server.context import db, services
from server.json_body import load_json
from server.schemas.ledger import (
    AreaCountsSchema,
    AssignmentSchema,
    ItemSchema,
    MeasureSchema,
    NoteSchema,
    ParameterVersionSchema,
    PreviewSchema,
    ReasonSchema,
    evidence_json,
)
from server.scope import caller_area, ledger_area
from sync.errors import BadRequest, Forbidden
from sync.ledger import decisions, parameters
from sync.ledger.export import prepare_ledger_export
from sync.ledger.queries import ItemRow, area_counts, item_evidence, list_items
from sync.numbers import ascii_digits

bp = Blueprint("ledger", __name__)


def _reader(project_id: int, permission: str = "ledger.read") -> tuple[Actor, str]:
    actor = require(permission, project_id, None)
    return actor, ledger_area(actor, request.args.get("area"))


def _whole_project(permission: str, project_id: int) -> Actor:
    """Measures and parameter tables hold for every township at once: only an account of the whole project
    changes them (an area's account may read and preview, scoped to its area)."""
    actor = require(permission, project_id, None)
    if caller_area(actor) is not None:
        raise Forbidden("Only an account of the whole project may change the measures or parameter tables.")
    return actor


def _number(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not ascii_digits(raw) or len(raw) > 9:
        raise BadRequest(f"{name} must be a whole number.")
    return int(raw)


@bp.get("/projects/<int:project_id>/ledger/items")
def items(project_id: int) -> Response:
    _actor, area = _reader(project_id)
    found = list_items(
        db(), project_id, area, today=date.today(), state=request.args.get("state"), kind=request.args.get("kind"),
        overdue=request.args.get("overdue") in ("true", "1"), household=request.args.get("household"),
        limit=_number("limit", 500), offset=_number("offset", 0),
    )  # fmt: skip
    return jsonify(ItemSchema(many=True).dump(found))


def _item_json(project_id: int, item, area: str) -> dict:  # noqa: ANN001 - a LedgerItem
    session = db()
    row = list_items(session, project_id, area, today=date.today(), household=None, limit=1, offset=0, item_id=item.id)
    body = ItemSchema().dump(row[0] if row else ItemRow(item, "", "", date.today()))
    body["evidence"] = evidence_json(item_evidence(session, item))
    return body


@bp.get("/projects/<int:project_id>/ledger/items/<int:item_id>")
def item(project_id: int, item_id: int) -> Response:
    _actor, area = _reader(project_id)
    return jsonify(_item_json(project_id, decisions.get_item(db(), project_id, item_id, area), area))


def _decide(project_id: int, item_id: int, permission: str, action) -> Response:  # noqa: ANN001
    actor, area = _reader(project_id, permission)
    session = db()
    found = action(session, decisions.get_item(session, project_id, item_id, area), actor)
    session.commit()
    return jsonify(_item_json(project_id, found, area))


@bp.put("/projects/<int:project_id>/ledger/items/<int:item_id>/assignment")
def assign(project_id: int, item_id: int) -> Response:
    body = load_json(AssignmentSchema(), "Invalid assignment")
    assignment = decisions.Assignment(body["measure"], body["unit"], body["person"], body["deadline"])
    return _decide(project_id, item_id, "ledger.assign",
                   lambda s, found, actor: decisions.assign(s, found, assignment, actor.user_id))  # fmt: skip


@bp.post("/projects/<int:project_id>/ledger/items/<int:item_id>/done")
def done(project_id: int, item_id: int) -> Response:
    note = load_json(NoteSchema(), "Invalid done report")["note"]
    return _decide(project_id, item_id, "ledger.assign",
                   lambda s, found, actor: decisions.report_done(s, found, note, actor.user_id))  # fmt: skip


@bp.post("/projects/<int:project_id>/ledger/items/<int:item_id>/close-request")
def close_request(project_id: int, item_id: int) -> Response:
    reason = load_json(ReasonSchema(), "Invalid close request")["reason"]
    return _decide(project_id, item_id, "ledger.assign",
                   lambda s, found, actor: decisions.request_close(s, found, reason, actor.user_id))  # fmt: skip


@bp.post("/projects/<int:project_id>/ledger/items/<int:item_id>/close-approval")
def close_approval(project_id: int, item_id: int) -> Response:
    return _decide(project_id, item_id, "ledger.approve",
                   lambda s, found, actor: decisions.approve_close(s, found, actor.user_id))  # fmt: skip


@bp.get("/projects/<int:project_id>/ledger/summary")
def summary(project_id: int) -> Response:
    _actor, area = _reader(project_id)
    by = request.args.get("by")
    rows = area_counts(db(), project_id, area, today=date.today(), by=_number("by", 0) or None if by else None)
    return jsonify(AreaCountsSchema(many=True).dump(rows))


@bp.get("/projects/<int:project_id>/ledger/measures")
def measures(project_id: int) -> Response:
    require("ledger.read", project_id, None)
    return jsonify(MeasureSchema(many=True).dump(decisions.list_measures(db(), request.args.get("kind"))))


@bp.put("/projects/<int:project_id>/ledger/measures/<code>")
def save_measure(project_id: int, code: str) -> Response:
    actor = _whole_project("parameters.manage", project_id)
    body = load_json(MeasureSchema(), "Invalid measure")
    session = db()
    measure = decisions.save_measure(session, code, body["kind"], body["label_zh"], body["label_en"], body["active"],
                                     actor.user_id)  # fmt: skip
    session.commit()
    return jsonify(MeasureSchema().dump(measure))


@bp.get("/projects/<int:project_id>/ledger/export.xlsx")
def export(project_id: int) -> Response:
    actor, area = _reader(project_id)
    return download(prepare_ledger_export(db(), project_id, area, today=date.today(), user_id=actor.user_id))


@bp.get("/projects/<int:project_id>/ledger/parameters")
def parameter_versions(project_id: int) -> Response:
    require("parameters.manage", project_id, None)
    return jsonify(ParameterVersionSchema(many=True).dump(parameters.list_versions(db())))


@bp.post("/projects/<int:project_id>/ledger/parameters")
def upload_parameters(project_id: int) -> Response:
    """The body is the CSV itself (``text/csv``); ``?fileName=`` names it."""
    actor = _whole_project("parameters.manage", project_id)
    session = db()
    version = parameters.upload(session, request.args.get("fileName", ""), request.get_data(), actor.user_id)
    session.commit()
    return jsonify(ParameterVersionSchema().dump(version)), 201


@bp.get("/projects/<int:project_id>/ledger/parameters/<int:version_id>/preview")
def preview_parameters(project_id: int, version_id: int) -> Response:
    _actor, area = _reader(project_id, "parameters.manage")
    session = db()
    found = parameters.preview(session, project_id, parameters.get_version(session, version_id), area)
    return jsonify(PreviewSchema().dump(found))


@bp.post("/projects/<int:project_id>/ledger/parameters/<int:version_id>/apply")
def apply_parameters(project_id: int, version_id: int) -> Response:
    actor = _whole_project("parameters.manage", project_id)
    db().rollback()  # the rebuild runs in its own transactions
    found = parameters.apply_version(services().sessions, services().settings.parameter_dir, version_id,
                                     actor.user_id)  # fmt: skip
    version = parameters.get_version(db(), version_id)
    return jsonify({**ParameterVersionSchema().dump(version), "submissionsJudged": found})
