"""Read API for named accounts, in ODK Central's URL layout and JSON shapes (pyodk works unchanged)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from server.auth import require, require_role
from server.context import db
from server.downloads import blob_response, disposition
from server.json_body import load_json
from server.openrosa import XML_TYPE
from server.schemas.api import AttachmentSchema, FormSchema, ProjectSchema, SubmissionSchema
from server.schemas.registry import ReviewSchema
from server.security_headers import as_stored_file
from sync.access.roles import PERMISSIONS
from sync.errors import InvalidParameter, NotFound
from sync.intake.forms import get_form, visible_forms
from sync.intake.projects import get_project, list_projects
from sync.intake.submissions import count_submissions, get_attachment, get_submission, list_submissions
from sync.numbers import MAX_DB_INTEGER, whole_number
from sync.review.reviews import set_review_state

bp = Blueprint("api", __name__)


@bp.get("/projects")
def projects() -> Response:
    """Central's project list; every project, as roles are not limited to projects."""
    require_role("submission.read")
    return jsonify(ProjectSchema(many=True).dump(list_projects(db())))


@bp.get("/projects/<int:project_id>")
def project(project_id: int) -> Response:
    require("submission.read", project_id, None)
    found = get_project(db(), project_id)
    if found is None:
        raise NotFound()
    return jsonify(ProjectSchema().dump(found))


@bp.get("/projects/<int:project_id>/forms")
def forms(project_id: int) -> Response:
    actor = require("submission.read", project_id, None)
    drafts = "form.manage" in PERMISSIONS.get(actor.role, frozenset())
    return jsonify(FormSchema(many=True).dump(visible_forms(db(), project_id, drafts=drafts)))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>")
def form(project_id: int, xml_form_id: str) -> Response:
    require("submission.read", project_id, None)
    found = get_form(db(), project_id, xml_form_id)
    if found.current_version_id is None:
        require("form.manage", project_id, None)  # a form with only a draft, as in Central
    return jsonify(FormSchema().dump(found))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions")
def submissions(project_id: int, xml_form_id: str) -> Response:
    require("submission.read", project_id, None)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    limit = _int_arg("$top")
    offset = _int_arg("$skip") or 0
    rows = list_submissions(session, form, limit=limit, offset=offset)
    response = jsonify(SubmissionSchema(many=True).dump(rows))
    if request.headers.get("X-Extended-Metadata") == "true" or request.args.get("$count") == "true":
        response.headers["X-Total-Count"] = str(count_submissions(session, form))
    return response


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>")
def submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    require("submission.read", project_id, None)
    session = db()
    if instance_id.endswith(".xml"):
        _submission, version = get_submission(session, get_form(session, project_id, xml_form_id), instance_id[:-4])
        response = Response(version.xml, content_type=XML_TYPE)
        response.headers["Content-Disposition"] = disposition("attachment", instance_id)
        return as_stored_file(response)  # a phone's XML, which a browser could render as XHTML
    pair = get_submission(session, get_form(session, project_id, xml_form_id), instance_id)
    return jsonify(SubmissionSchema().dump(pair))


@bp.patch("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>")
def review(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Central's review decision (``{"reviewState": "approved" | "rejected" | ...}``); the registry follows."""
    actor = require("submission.review", project_id, None)
    body = load_json(ReviewSchema(), "Invalid review")
    session = db()
    form = get_form(session, project_id, xml_form_id)
    set_review_state(session, form, instance_id, body["reviewState"], user_id=actor.user_id)
    session.commit()
    return jsonify(SubmissionSchema().dump(get_submission(session, form, instance_id)))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/comments")
def comments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Central's comment list. Qingling keeps no comments (a review decision is a state), so it is empty."""
    require("submission.read", project_id, None)
    session = db()
    get_submission(session, get_form(session, project_id, xml_form_id), instance_id)
    return jsonify([])


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/attachments")
def attachments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    require("submission.read", project_id, None)
    session = db()
    _submission, version = get_submission(session, get_form(session, project_id, xml_form_id), instance_id)
    return jsonify(AttachmentSchema(many=True).dump(version.attachments))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/attachments/<name>")
def attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    require("submission.read", project_id, None)
    session = db()
    _submission, version = get_submission(session, get_form(session, project_id, xml_form_id), instance_id)
    found = get_attachment(session, version, name)
    return blob_response(found.blob_key, etag=found.md5, filename=found.name)


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    value = whole_number(raw)
    if value is None:
        raise InvalidParameter(
            f"Invalid input data type: expected {name} to be a whole number from 0 to {MAX_DB_INTEGER}."
        )
    return value
