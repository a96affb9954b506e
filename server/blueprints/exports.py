"""Submission downloads: Central's ``submissions.csv.zip`` and ``submissions.csv``, and beside them
``submissions.xlsx`` and ``submissions.parquet``.

Thin: the checks, the count and the audit happen in `sync.exports.submissions.prepare` before the
response starts; the body is then streamed. A failure after the first byte ends the connection without
the final chunk, so the client reports a broken download instead of keeping a short file.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, request

from server.auth import require
from server.context import db, services
from server.scope import export_area
from sync.exports.submissions import Prepared, prepare

bp = Blueprint("exports", __name__)


def params() -> dict[str, str]:
    """Query options, and for POST (Central's form-encoded variant) the body's fields as well."""
    merged = dict(request.args.items())
    if request.method == "POST" and request.form:
        merged.update(request.form.items())
    return merged


def download(prepared: Prepared) -> Response:
    body = prepared.body(services().engine, services().store)
    response = Response(body, content_type=prepared.content_type)
    response.headers["Content-Disposition"] = attachment(prepared.filename)
    if prepared.rows is not None:
        response.headers["X-Export-Rows"] = str(prepared.rows)
    response.headers["Cache-Control"] = "no-store"
    return response


def attachment(filename: str) -> str:
    """Central's Content-Disposition: a plain ``filename`` and the RFC 6266 ``filename*``."""
    plain = filename.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"


def _export(project_id: int, xml_form_id: str, kind: str) -> Response:
    actor = require("submission.read", project_id, None)
    asked = params()
    area = export_area(actor, asked.pop("area", None))
    prepared = prepare(
        db(), services().engine, project_id, xml_form_id, kind, asked, area=area, user_id=actor.user_id
    )
    return download(prepared)


@bp.route("/projects/<int:project_id>/forms/<xml_form_id>/submissions.csv.zip", methods=["GET", "POST"])
def csv_zip(project_id: int, xml_form_id: str) -> Response:
    return _export(project_id, xml_form_id, "csv-zip")


@bp.route("/projects/<int:project_id>/forms/<xml_form_id>/submissions.csv", methods=["GET", "POST"])
def csv_root(project_id: int, xml_form_id: str) -> Response:
    return _export(project_id, xml_form_id, "csv")


@bp.route("/projects/<int:project_id>/forms/<xml_form_id>/submissions.xlsx", methods=["GET", "POST"])
def xlsx(project_id: int, xml_form_id: str) -> Response:
    return _export(project_id, xml_form_id, "xlsx")


@bp.route("/projects/<int:project_id>/forms/<xml_form_id>/submissions.parquet", methods=["GET", "POST"])
def parquet(project_id: int, xml_form_id: str) -> Response:
    return _export(project_id, xml_form_id, "parquet")
