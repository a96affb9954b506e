"""The form designers' pages: upload a form, read its errors on their rows, add media, try it, publish.

For accounts with ``form.manage`` over the whole project (a form is the project's, not a township's).
The page calls the same ``sync.intake`` functions as Central's forms
API (server/blueprints/forms_api.py), so it refuses what the API and the CLI refuse, in their words: the
rows of ``details.problems`` as a table (docs/forms.md §11). Every step is a plain form post; the
drag-and-drop in static/app.js only fills the file input.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import FileStorage

from server.bodies import spooled_body
from server.collect_qr import collect_settings, encode_settings, svg_qr
from server.context import db, services
from server.downloads import form_media_response
from server.openrosa import XML_TYPE
from server.public_url import request_root
from server.security_headers import as_form_preview, as_stored_file
from server.web import page, page_scope
from sync.db.models import Form, FormAttachment, FormDraft, FormDraftAttachment, FormVersion
from sync.errors import BadRequest, FormInvalid, FormWarnings, NotFound, Problem
from sync.intake import drafts
from sync.intake.draft_preview import preview as draft_preview
from sync.intake.draft_summary import summarize
from sync.intake.form_upload import SPREADSHEETS, XLS_TYPE, XLSX_TYPE, FormUpload, compile_upload
from sync.intake.forms import form_attachment, get_form, published_forms
from sync.intake.projects import get_project
from sync.intake.publishing import published_version

bp = Blueprint("form_design", __name__)
MANAGE = "form.manage"
TYPES = {".xlsx": XLSX_TYPE, ".xls": XLS_TYPE, ".xml": "application/xml"}


def _chosen_file() -> FileStorage:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise BadRequest(_("Choose a file first."))
    return upload


@bp.get("/projects/<int:project_id>/form-upload")
@login_required
def upload_page(project_id: int) -> str:
    page_scope(project_id, MANAGE, whole_project=True)
    return page("web/form_upload.html", drafts=drafts.project_drafts(db(), project_id),
                published=published_forms(db(), project_id), problems=None)


@bp.post("/projects/<int:project_id>/form-upload")
@login_required
def upload(project_id: int) -> Response | tuple[str, int]:
    page_scope(project_id, MANAGE, whole_project=True)
    chosen = _chosen_file()
    name = Path(chosen.filename or "")
    content_type = TYPES.get(name.suffix.lower())
    if content_type is None:
        raise BadRequest(_("Choose an XLSX, XLS or XForm XML file."))
    session = db()
    try:
        with spooled_body(chosen.stream) as path:
            form_upload = FormUpload(path, content_type, fallback_id=name.stem,
                                     ignore_warnings=request.form.get("ignore_warnings") == "1")
            compiled = compile_upload(session, project_id, form_upload, services().settings.tmp_dir)
            sheet = drafts.Spreadsheet(path, content_type) if content_type in SPREADSHEETS else None
            form = drafts.upload_draft(session, services().store, get_project(session, project_id), compiled, sheet,
                                       user_id=current_user.user_id)
    except (FormInvalid, FormWarnings) as refused:
        session.rollback()
        problems = list(refused.details.get("problems") or [])
        context = {
            "drafts": drafts.project_drafts(session, project_id),
            "published": published_forms(session, project_id),
            "file_name": name.name,
            "message": refused.details.get("error") if isinstance(refused, FormInvalid) else None,
            "errors": [p for p in problems if p.get("kind") != "warning"],
            "warnings": [p for p in problems if p.get("kind") == "warning"],
            "problems": problems,
            "warned": isinstance(refused, FormWarnings),
        }
        return page("web/form_upload.html", **context), 400
    session.commit()
    flash(_("%(file)s uploaded as a draft of %(form)s.", file=name.name, form=form.xml_form_id), "success")
    return redirect(url_for("form_design.draft", project_id=project_id, xml_form_id=form.xml_form_id))


def _draft_url(project_id: int, token: str, xml_form_id: str) -> str:
    root = request_root(services().settings, request)
    return f"{root}/v1/test/{token}/projects/{project_id}/forms/{xml_form_id}/draft"


@bp.get("/projects/<int:project_id>/form-upload/<xml_form_id>")
@login_required
def draft(project_id: int, xml_form_id: str) -> str:
    page_scope(project_id, MANAGE, whole_project=True)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    found = drafts.get_draft(session, form)
    url = _draft_url(project_id, found.draft_token, form.xml_form_id)
    title = f"[{_('Draft')}] {found.title or form.xml_form_id}"
    qr = svg_qr(encode_settings(collect_settings(url, title)))
    return page("web/form_draft.html", form=form, draft=found, summary=summarize(form, found), url=url, qr=qr)


@bp.post("/projects/<int:project_id>/form-upload/<xml_form_id>/media/<name>")
@login_required
def upload_media(project_id: int, xml_form_id: str, name: str) -> Response:
    page_scope(project_id, MANAGE, whole_project=True)
    session = db()
    found = drafts.get_draft(session, get_form(session, project_id, xml_form_id))
    chosen = _chosen_file()
    with spooled_body(chosen.stream) as path, path.open("rb") as body:
        drafts.put_draft_attachment(session, services().store, found, name, body, path.with_name("media"),
                                    chosen.mimetype or None)
    session.commit()
    flash(_("%(name)s uploaded.", name=name), "success")
    return redirect(url_for("form_design.draft", project_id=project_id, xml_form_id=xml_form_id))


@bp.post("/projects/<int:project_id>/form-upload/<xml_form_id>/publish")
@login_required
def publish(project_id: int, xml_form_id: str) -> Response:
    page_scope(project_id, MANAGE, whole_project=True)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    version = request.form.get("version", "").strip() or None
    try:
        published = drafts.publish_draft(session, services().store, form, version=version,
                                         user_id=current_user.user_id, tmp_dir=services().settings.tmp_dir)
    except Problem as refused:
        session.rollback()
        flash(refused.message, "error")
        return redirect(url_for("form_design.draft", project_id=project_id, xml_form_id=xml_form_id))
    session.commit()
    flash(_("%(form)s version %(version)s published; phones get it at their next form update.",
            form=xml_form_id, version=published.version), "success")
    return redirect(url_for("form_design.upload_page", project_id=project_id))


@bp.get("/projects/<int:project_id>/form-upload/<xml_form_id>/preview")
@login_required
def preview(project_id: int, xml_form_id: str) -> str:
    page_scope(project_id, MANAGE, whole_project=True)
    session = db()
    form = get_form(session, project_id, xml_form_id)
    found = drafts.get_draft(session, form)
    rule_names = {
        "relevant": _("shown when"), "constraint": _("constraint"), "constraint_message": _("constraint message"),
        "required": _("required"), "calculation": _("calculation"), "read_only": _("read-only"),
    }
    return page("web/form_preview.html", form=form, draft=found, preview=draft_preview(found),
                rule_names=rule_names)


# The interactive preview: ODK Web Forms in the browser (server/static/webforms/, built from
# server/static_src/webforms/), on the draft or on a published version, its XML and media fetched from the
# routes below. Send only validates: the page's script submits nothing (docs/forms.md §11).
def _shown(project_id: int, xml_form_id: str, version: str | None) -> tuple[Form, FormDraft | FormVersion]:
    """The form and what the preview shows: its draft (``version`` None) or one of its published versions."""
    session = db()
    form = get_form(session, project_id, xml_form_id)
    if version is None:
        return form, drafts.get_draft(session, form)
    published = published_version(session, form, version)
    if published is None:
        raise NotFound(f"The form '{xml_form_id}' has no published version '{version}'.")
    return form, published


def _media(shown: FormDraft | FormVersion, name: str) -> FormAttachment | FormDraftAttachment:
    if isinstance(shown, FormDraft):
        attachment: FormAttachment | FormDraftAttachment = drafts.draft_attachment(db(), shown, name)
    else:
        attachment = form_attachment(db(), shown, name)
    if attachment.dataset is None and attachment.sha256 is None:
        raise NotFound(f"{name} has not been uploaded yet.")  # Web Forms shows it blank
    return attachment


@bp.get("/projects/<int:project_id>/form-upload/<xml_form_id>/try")
@bp.get("/projects/<int:project_id>/form-upload/<xml_form_id>/versions/<version>/try")
@login_required
def try_form(project_id: int, xml_form_id: str, version: str | None = None) -> Response:
    page_scope(project_id, MANAGE, whole_project=True)
    form, shown = _shown(project_id, xml_form_id, version)
    form_url = url_for("form_design.try_xml", project_id=project_id, xml_form_id=xml_form_id, version=version)
    body = page("web/form_try.html", form=form, version=shown.version, title=shown.title, is_draft=version is None,
                form_url=form_url, media_url=form_url.rsplit("/", 1)[0] + "/media")
    return as_form_preview(make_response(body))


@bp.get("/projects/<int:project_id>/form-upload/<xml_form_id>/try/form.xml")
@bp.get("/projects/<int:project_id>/form-upload/<xml_form_id>/versions/<version>/try/form.xml")
@login_required
def try_xml(project_id: int, xml_form_id: str, version: str | None = None) -> Response:
    page_scope(project_id, MANAGE, whole_project=True)
    _form, shown = _shown(project_id, xml_form_id, version)
    return as_stored_file(Response(shown.xml, content_type=XML_TYPE))


@bp.get("/projects/<int:project_id>/form-upload/<xml_form_id>/try/media/<name>")
@bp.get("/projects/<int:project_id>/form-upload/<xml_form_id>/versions/<version>/try/media/<name>")
@login_required
def try_media(project_id: int, xml_form_id: str, name: str, version: str | None = None) -> Response:
    """A media file of the previewed form; the entity list is the whole project's (a designer's account is)."""
    page_scope(project_id, MANAGE, whole_project=True)
    _form, shown = _shown(project_id, xml_form_id, version)
    return form_media_response(db(), _media(shown, name), project_id=project_id)
