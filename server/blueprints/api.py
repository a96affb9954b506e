"""Read API for named accounts, in ODK Central's URL layout and JSON shapes (pyodk works unchanged)."""

from __future__ import annotations

from urllib.parse import unquote

from flask import Blueprint, Response, jsonify, request

from server.auth import member_projects, require, scope_of
from server.context import db
from server.downloads import disposition
from server.json_body import load_json
from server.openrosa import XML_TYPE
from server.personal import personal_json, personal_xml
from server.photos import original_response
from server.schemas.api import (
    AttachmentSchema,
    FormSchema,
    ProjectSchema,
    SubmissionSchema,
    SubmissionVersionSchema,
)
from server.schemas.registry import ReviewSchema
from server.schemas.review import AuditSchema, CommentInputSchema, CommentSchema, diffs_json
from server.security_headers import as_stored_file
from sync.errors import InvalidParameter, NotFound
from sync.intake.forms import get_form, visible_forms
from sync.intake.instance_xml import repeat_names
from sync.intake.projects import get_project, list_projects
from sync.intake.submissions import (
    count_submissions,
    get_attachment,
    get_submission,
    list_submissions,
    submission_versions,
)
from sync.numbers import MAX_DB_INTEGER, whole_number
from sync.oversight.audit import audits_of_submission
from sync.review.comments import add_comment
from sync.review.detail import comments as submission_comments
from sync.review.diffs import version_diffs
from sync.review.reviews import set_review_state

bp = Blueprint("api", __name__)


@bp.get("/projects")
def projects() -> Response:
    """Central's project list: the projects the account is a member of (with a role that may read)."""
    visible = set(member_projects("submission.read"))
    return jsonify(ProjectSchema(many=True).dump([p for p in list_projects(db()) if p.id in visible]))


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
    drafts = scope_of(actor).may("form.manage")
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
    scope = scope_of(require("submission.read", project_id, None))
    session = db()
    form = get_form(session, project_id, xml_form_id)
    limit = _int_arg("$top")
    offset = _int_arg("$skip") or 0
    rows = list_submissions(session, form, limit=limit, offset=offset, scope=scope)
    response = jsonify(SubmissionSchema(many=True).dump(rows))
    if request.headers.get("X-Extended-Metadata") == "true" or request.args.get("$count") == "true":
        response.headers["X-Total-Count"] = str(count_submissions(session, form, scope))
    return response


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>")
def submission(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor = require("submission.read", project_id, None)
    scope = scope_of(actor)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    if instance_id.endswith(".xml"):
        found, version = get_submission(session, form, instance_id[:-4], scope)
        xml = personal_xml(version.xml, scope, actor.user_id, subject=found.instance_id, submission_id=found.id)
        return _xml_file(xml, instance_id)
    pair = get_submission(session, form, instance_id, scope)
    return jsonify(SubmissionSchema().dump(pair))


@bp.patch("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>")
def review(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    """Central's review decision (``{"reviewState": "approved" | "rejected" | ...}``); the registry follows."""
    actor = require("submission.review", project_id, None)
    body = load_json(ReviewSchema(), "Invalid review")
    session = db()
    form = get_form(session, project_id, xml_form_id)
    notes = unquote(request.headers.get("X-Action-Notes", "")) or None
    set_review_state(
        session, form, instance_id, body["reviewState"], user_id=actor.user_id, scope=scope_of(actor), notes=notes
    )
    session.commit()
    return jsonify(SubmissionSchema().dump(get_submission(session, form, instance_id)))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/attachments")
def attachments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    scope = scope_of(require("submission.read", project_id, None))
    session = db()
    _submission, version = get_submission(session, get_form(session, project_id, xml_form_id), instance_id, scope)
    return jsonify(AttachmentSchema(many=True).dump(version.attachments))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/attachments/<name>")
def attachment(project_id: int, xml_form_id: str, instance_id: str, name: str) -> Response:
    scope = scope_of(require("submission.read", project_id, None))
    session = db()
    _submission, version = get_submission(session, get_form(session, project_id, xml_form_id), instance_id, scope)
    found = get_attachment(session, version, name)
    return original_response(found.blob_key or "", sha256=found.sha256, etag=found.md5,
                             filename=found.name)


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


def _scoped(project_id: int, xml_form_id: str, instance_id: str, permission: str = "submission.read"):  # noqa: ANN202
    """(actor, scope, submission, current version) of a submission in the caller's area."""
    actor = require(permission, project_id, None)
    scope = scope_of(actor)
    submission_row, version = get_submission(db(), get_form(db(), project_id, xml_form_id), instance_id, scope)
    return actor, scope, submission_row, version


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/comments")
def comments(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    _actor, _scope, found, _version = _scoped(project_id, xml_form_id, instance_id)
    return jsonify(CommentSchema(many=True).dump([c for c, _email in submission_comments(db(), found.id)]))


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/comments")
def add_comment_view(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor, _scope, found, _version = _scoped(project_id, xml_form_id, instance_id, "submission.review")
    body = load_json(CommentInputSchema(), "A comment needs a body")
    comment = add_comment(db(), found, body["body"], user_id=actor.user_id)
    db().commit()
    return jsonify(CommentSchema().dump(comment))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/versions")
def versions(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    _actor, _scope, found, _version = _scoped(project_id, xml_form_id, instance_id)
    return jsonify(SubmissionVersionSchema(many=True).dump(submission_versions(db(), found)))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/versions/<version_id>")
def version(project_id: int, xml_form_id: str, instance_id: str, version_id: str) -> Response:
    actor, scope, found, _version = _scoped(project_id, xml_form_id, instance_id)
    as_xml = version_id.endswith(".xml")
    chosen = _version_of(found, version_id[:-4] if as_xml else version_id)
    if as_xml:
        xml = personal_xml(chosen.xml, scope, actor.user_id, subject=chosen.instance_id, submission_id=found.id)
        return _xml_file(xml, version_id)
    return jsonify(SubmissionVersionSchema().dump(chosen))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/versions/<version_id>/attachments")
def version_attachments(project_id: int, xml_form_id: str, instance_id: str, version_id: str) -> Response:
    _actor, _scope, found, _version = _scoped(project_id, xml_form_id, instance_id)
    return jsonify(AttachmentSchema(many=True).dump(_version_of(found, version_id).attachments))


@bp.get(
    "/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/versions/<version_id>/attachments/<name>"
)
def version_attachment(project_id: int, xml_form_id: str, instance_id: str, version_id: str, name: str) -> Response:
    _actor, _scope, found, _version = _scoped(project_id, xml_form_id, instance_id)
    attached = get_attachment(db(), _version_of(found, version_id), name)
    return original_response(attached.blob_key or "", sha256=attached.sha256, etag=attached.md5,
                             filename=attached.name)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/diffs")
def diffs(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    actor, scope, found, version_row = _scoped(project_id, xml_form_id, instance_id)
    changes = version_diffs(submission_versions(db(), found), repeat_names(version_row.form_version.xml))
    body = diffs_json(changes)
    return jsonify(personal_json(body, scope, actor.user_id, subject=found.instance_id, submission_id=found.id))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/submissions/<instance_id>/audits")
def submission_audits(project_id: int, xml_form_id: str, instance_id: str) -> Response:
    _actor, _scope, found, _version = _scoped(project_id, xml_form_id, instance_id)
    return jsonify(AuditSchema(many=True).dump(audits_of_submission(db(), found.id)))


def _version_of(found, instance_id: str):  # noqa: ANN001, ANN202 - a Submission -> SubmissionVersion
    for candidate in submission_versions(db(), found):
        if candidate.instance_id == instance_id:
            return candidate
    raise NotFound(f"The submission has no version '{instance_id}'.")


def _xml_file(xml: str | bytes, filename: str) -> Response:
    """A phone's XML as a download: a browser could otherwise render it as XHTML of this origin."""
    response = Response(xml, content_type=XML_TYPE)
    response.headers["Content-Disposition"] = disposition("attachment", filename)
    return as_stored_file(response)
