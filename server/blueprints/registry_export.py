"""The county's cleaned dataset as a download: ``/v1/projects/{p}/registry/export.xlsx``, ``export.zip``
(CSV) and ``export.parquet.zip``.

Thin, like the submission exports: `sync.exports.registry.prepare` checks, counts and audits before the
response starts; the area comes from the same seam (`server.scope.export_area`).
"""

from __future__ import annotations

from flask import Blueprint, Response

from server.auth import require
from server.blueprints.exports import download, params
from server.context import db, services
from server.scope import export_area
from sync.exports.registry import prepare

bp = Blueprint("registry_export", __name__)


def _export(project_id: int, kind: str) -> Response:
    actor = require("registry.read", project_id, None)
    asked = params()
    area = export_area(actor, asked.pop("area", None))
    return download(prepare(db(), services().engine, project_id, kind, asked, area=area, user_id=actor.user_id))


@bp.route("/projects/<int:project_id>/registry/export.xlsx", methods=["GET"])
def xlsx(project_id: int) -> Response:
    return _export(project_id, "xlsx")


@bp.route("/projects/<int:project_id>/registry/export.zip", methods=["GET"])
def csv_zip(project_id: int) -> Response:
    return _export(project_id, "csv-zip")


@bp.route("/projects/<int:project_id>/registry/export.parquet.zip", methods=["GET"])
def parquet_zip(project_id: int) -> Response:
    return _export(project_id, "parquet")
