"""Central's forms API for the roles that manage forms: create, drafts and their media, publish, state.

Changing a form, its drafts or its state needs ``form.manage`` over the whole project: a form is the
project's, so an account limited to a township reads versions but does not publish for every township.

Shapes and status codes are Central's (Backend: ``lib/resources/forms.js``), so pyodk's
``forms.create`` / ``forms.update`` and Central's own scripts work unchanged (docs/forms.md §9). Views
spool the body, call one ``sync.intake`` function and render; every refusal is a JSON problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from flask import Blueprint, Response, jsonify, request

from server.auth import require, require_whole_project
from server.bodies import spool_file, spooled_body
from server.context import db, services
from server.downloads import blob_response
from server.json_body import load_json
from server.openrosa import XML_TYPE
from server.schemas.api import (
    DraftAttachmentSchema,
    DraftFormSchema,
    FormSchema,
    FormStateSchema,
    VersionFormSchema,
)
from server.security_headers import as_stored_file
from sync.intake import drafts
from sync.intake.form_upload import SPREADSHEETS, FormUpload, compile_upload
from sync.intake.forms import form_versions, get_form, spreadsheet_key
from sync.intake.projects import get_project
from sync.intake.publishing import set_form_state

if TYPE_CHECKING:
    from forms.build import CompiledForm

bp = Blueprint("forms_api", __name__)
MANAGE = "form.manage"


def _success() -> Response:
    return jsonify({"success": True})


def _truthy(name: str) -> bool:
    return (request.args.get(name) or "").lower() == "true"


def _compile(project_id: int, path: Path) -> tuple[CompiledForm, drafts.Spreadsheet | None]:
    """Compile the spooled body; the spreadsheet is kept when the body was one."""
    content_type = (request.mimetype or "").lower()
    upload = FormUpload(
        path=path,
        content_type=content_type,
        fallback_id=unquote(request.headers.get("X-XlsForm-FormId-Fallback") or "") or None,
        ignore_warnings=_truthy("ignoreWarnings"),
    )
    compiled = compile_upload(db(), project_id, upload, services().settings.tmp_dir)
    sheet = drafts.Spreadsheet(path, content_type) if content_type in SPREADSHEETS else None
    return compiled, sheet


@bp.post("/projects/<int:project_id>/forms")
def create(project_id: int) -> Response:
    actor = require_whole_project(MANAGE, project_id)
    session = db()
    project = get_project(session, project_id)
    with spooled_body() as path:
        compiled, sheet = _compile(project_id, path)
        form = drafts.create_form(
            session,
            services().store,
            project,
            compiled,
            sheet,
            publish=_truthy("publish"),
            user_id=actor.user_id,
            tmp_dir=services().settings.tmp_dir,
        )
    session.commit()
    session.refresh(form)
    return jsonify(FormSchema().dump(form))


@bp.patch("/projects/<int:project_id>/forms/<xml_form_id>")
def update(project_id: int, xml_form_id: str) -> Response:
    """Central's form update: only ``state`` (open, closing, closed) means anything here."""
    actor = require_whole_project(MANAGE, project_id)
    body = load_json(FormStateSchema(), "Invalid form update")
    session = db()
    form = get_form(session, project_id, xml_form_id)
    if body.get("state") is not None:
        set_form_state(session, form, body["state"], user_id=actor.user_id)
    session.commit()
    return jsonify(FormSchema().dump(form))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/versions")
def versions(project_id: int, xml_form_id: str) -> Response:
    require("submission.read", project_id, None)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    return jsonify(VersionFormSchema(many=True).dump([(form, v) for v in form_versions(session, form)]))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.xlsx")
@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.xls")
def spreadsheet(project_id: int, xml_form_id: str) -> Response:
    """The spreadsheet the current version was uploaded as; 404 when it came as XML or from the CLI."""
    require("submission.read", project_id, None)
    session = db()
    suffix = request.path.rsplit(".", 1)[-1]
    key = spreadsheet_key(get_form(session, project_id, xml_form_id), suffix)
    return blob_response(key, etag=None, filename=f"{xml_form_id}.{suffix}")


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/draft")
def set_draft(project_id: int, xml_form_id: str) -> Response:
    """A new draft from the body's definition, or (empty body) a copy of the published version."""
    actor = require_whole_project(MANAGE, project_id)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    with spooled_body() as path:
        if path.stat().st_size == 0:
            drafts.replace_draft(session, services().store, form, None, None, user_id=actor.user_id)
        else:
            compiled, sheet = _compile(project_id, path)
            drafts.replace_draft(session, services().store, form, compiled, sheet, user_id=actor.user_id)
    session.commit()
    return _success()


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft")
def draft(project_id: int, xml_form_id: str) -> Response:
    require_whole_project(MANAGE, project_id)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    drafts.get_draft(session, form)
    return jsonify(DraftFormSchema().dump(form))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft.xml")
def draft_xml(project_id: int, xml_form_id: str) -> Response:
    require_whole_project(MANAGE, project_id)
    session = db()
    found = drafts.get_draft(session, get_form(session, project_id, xml_form_id))
    return as_stored_file(Response(found.xml, content_type=XML_TYPE))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft/attachments")
def draft_attachments(project_id: int, xml_form_id: str) -> Response:
    require_whole_project(MANAGE, project_id)
    session = db()
    found = drafts.get_draft(session, get_form(session, project_id, xml_form_id))
    return jsonify(DraftAttachmentSchema(many=True).dump(found.attachments))


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/draft/attachments/<name>")
def upload_attachment(project_id: int, xml_form_id: str, name: str) -> Response:
    require_whole_project(MANAGE, project_id)
    session = db()
    found = drafts.get_draft(session, get_form(session, project_id, xml_form_id))
    drafts.draft_attachment(session, found, name)  # 404 before reading a body for a name the draft lacks
    with spool_file() as spool:
        attachment = drafts.put_draft_attachment(
            session, services().store, found, name, request.stream, spool, request.mimetype or None
        )
    session.commit()
    return jsonify(DraftAttachmentSchema().dump(attachment))


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/draft/publish")
def publish(project_id: int, xml_form_id: str) -> Response:
    actor = require_whole_project(MANAGE, project_id)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    version = request.args.get("version") or None
    drafts.publish_draft(
        session, services().store, form, version=version, user_id=actor.user_id, tmp_dir=services().settings.tmp_dir
    )
    session.commit()
    return _success()


@bp.delete("/projects/<int:project_id>/forms/<xml_form_id>/draft")
def delete_draft(project_id: int, xml_form_id: str) -> Response:
    actor = require_whole_project(MANAGE, project_id)
    session = db()
    drafts.delete_draft(session, get_form(session, project_id, xml_form_id), user_id=actor.user_id)
    session.commit()
    return _success()
