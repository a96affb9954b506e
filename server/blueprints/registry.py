"""The household registry, the flags and the ``households`` entity list, for named accounts.

Entity endpoints follow ODK Central's layout and JSON shapes (``/datasets``, ``/entities``), so pyodk
reads them unchanged.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, jsonify, request

from server.auth import require, scope_of
from server.context import db, services
from server.json_body import load_json
from server.personal import personal_json
from server.schemas.registry import (
    ClearanceSchema,
    DatasetDetailSchema,
    DatasetSchema,
    FlagSchema,
    FlagUpdateSchema,
    HistorySchema,
    HouseholdSchema,
    PersonSchema,
    source_links,
)
from sync.errors import BadRequest, NotFound
from sync.ledger.derive import resolve_flag_and_derive
from sync.oversight.flags import list_flags
from sync.registry.clearance import area_level, clearance
from sync.registry.entities import DATASET, entity_json, entity_listing, entity_versions, get_entity, version_json
from sync.registry.queries import dataset_detail, dataset_summary, get_household, household_detail, list_households

bp = Blueprint("registry", __name__)


@bp.get("/projects/<int:project_id>/registry/clearance")
def clearance_view(project_id: int) -> Response:
    scope = scope_of(require("registry.read", project_id, None))
    area = request.args.get("area", "") or scope.area
    as_of = _date_arg("date") or date.today()
    if area_level(area) and not scope.covers(area):
        raise NotFound(f"The area {area} is outside your area.")
    return jsonify(ClearanceSchema().dump(clearance(db(), project_id, area, as_of)))


@bp.get("/projects/<int:project_id>/registry/households")
def households(project_id: int) -> Response:
    scope = scope_of(require("registry.read", project_id, None))
    found = list_households(db(), project_id, village=request.args.get("village"), scope=scope)
    return jsonify(HouseholdSchema(many=True).dump(found))


@bp.get("/projects/<int:project_id>/registry/households/<code>")
def household(project_id: int, code: str) -> Response:
    actor = require("registry.read", project_id, None)
    scope = scope_of(actor)
    detail = household_detail(db(), get_household(db(), project_id, code, scope), scope)
    body = HouseholdSchema().dump(detail.household)
    body["members"] = PersonSchema(many=True).dump(detail.members)
    body["history"] = [
        {**HistorySchema().dump(row), "links": source_links(source)}
        for row, source in zip(detail.history, detail.sources, strict=True)
    ]
    body["flags"] = FlagSchema(many=True).dump(detail.flags)
    return jsonify(personal_json(body, scope, actor.user_id, subject=f"household {code}"))


@bp.get("/projects/<int:project_id>/flags")
def flags(project_id: int) -> Response:
    actor = require("registry.read", project_id, None)
    scope = scope_of(actor)
    found = list_flags(
        db(),
        project_id,
        scope=scope,
        kind=request.args.get("kind"),
        household=request.args.get("household"),
        state=request.args.get("state"),
    )
    return jsonify(personal_json(FlagSchema(many=True).dump(found), scope, actor.user_id, subject="flags"))


@bp.patch("/projects/<int:project_id>/flags/<int:flag_id>")
def update_flag(project_id: int, flag_id: int) -> Response:
    actor = require("submission.review", project_id, None)
    body = load_json(FlagUpdateSchema(), "Invalid flag update")
    session = db()
    flag = resolve_flag_and_derive(session, project_id, flag_id, body["state"], actor.user_id, scope_of(actor))
    session.commit()
    return jsonify(FlagSchema().dump(flag))


@bp.get("/projects/<int:project_id>/datasets")
def datasets(project_id: int) -> Response:
    scope = scope_of(require("registry.read", project_id, None))
    return jsonify(DatasetSchema(many=True).dump([dataset_summary(db(), project_id, scope)]))


@bp.get("/projects/<int:project_id>/datasets/<name>")
def dataset(project_id: int, name: str) -> Response:
    scope = scope_of(require("registry.read", project_id, None))
    _dataset(name)
    return jsonify(DatasetDetailSchema().dump(dataset_detail(db(), project_id, scope)))


@bp.get("/projects/<int:project_id>/datasets/<name>/entities")
def entities(project_id: int, name: str) -> Response:
    scope = scope_of(require("registry.read", project_id, None))
    _dataset(name)
    return Response(entity_listing(services().engine, project_id, scope), content_type="application/json")


@bp.get("/projects/<int:project_id>/datasets/<name>/entities/<uuid>")
def entity(project_id: int, name: str, uuid: str) -> Response:
    scope = scope_of(require("registry.read", project_id, None))
    _dataset(name)
    session = db()
    found = get_entity(session, project_id, uuid, scope)
    return jsonify(entity_json(found, entity_versions(session, found)))


@bp.get("/projects/<int:project_id>/datasets/<name>/entities/<uuid>/versions")
def entity_versions_view(project_id: int, name: str, uuid: str) -> Response:
    scope = scope_of(require("registry.read", project_id, None))
    _dataset(name)
    session = db()
    versions = entity_versions(session, get_entity(session, project_id, uuid, scope))
    return jsonify([version_json(version) for version in versions])


def _dataset(name: str) -> None:
    if name != DATASET:
        raise NotFound(f"There is no entity list named '{name}' in this project.")


def _date_arg(name: str) -> date | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date as YYYY-MM-DD.") from None
