"""A draft on a test phone: Central's draft-testing URLs, with the draft's token as the only credential.

Collect is pointed at ``/v1/test/<draft token>/projects/<p>/forms/<id>/draft`` (docs/protocol.md §10)
and finds there a form list of one form, its XML, its manifest and media, and a submission URL. Test
submissions go to ``sync.intake.draft_submissions`` and nowhere else. A token that is not the form's
current draft's (published, deleted, replaced) is Central's 404.4, which tells the tester what happened.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, g, request

from server import downloads, envelopes
from server.auth import Actor
from server.context import db, services
from server.openrosa import (
    XML_TYPE,
    openrosa_headers,
    openrosa_message,
    require_openrosa_version,
    xml_document,
)
from server.public_url import request_root
from sync.db.models import Form, FormDraft
from sync.errors import Problem
from sync.intake.draft_submissions import ReceivedFile, draft_for_token, receive_test_submission
from sync.intake.drafts import draft_attachment

bp = Blueprint("openrosa_draft", __name__)
PLAIN_DOWNLOADS = ("draft_xml", "draft_media")
TESTER = Actor(kind="draft_tester", id=0, role="draft_tester")


class FailedDraftAccess(Problem):
    code = "404.4"
    default_message = (
        "You tried to access a draft testing endpoint, but it does not exist anymore or your access is no longer "
        "valid. If the form has been published and you would like to submit to it, you should configure your "
        "device with an App User token. If there is a new draft, you may have to reconfigure your device from "
        "the draft settings."
    )


@bp.url_value_preprocessor
def pull_token(_endpoint: str | None, values: dict | None) -> None:
    g.draft_token = values.pop("token", None) if values else None


@bp.before_request
def check_openrosa_header() -> None:
    if request.endpoint and request.endpoint.rsplit(".", 1)[-1] in PLAIN_DOWNLOADS:
        return
    require_openrosa_version()


@bp.after_request
def add_headers(response: Response) -> Response:
    if request.endpoint and request.endpoint.rsplit(".", 1)[-1] not in PLAIN_DOWNLOADS:
        openrosa_headers(response)
    return response


def _draft(project_id: int, xml_form_id: str) -> tuple[Form, FormDraft]:
    found = draft_for_token(db(), g.draft_token or "", project_id, xml_form_id)
    if found is None:
        raise FailedDraftAccess()
    return found


def _base(project_id: int) -> str:
    root = request_root(services().settings, request)
    return f"{root}/v1/test/{g.draft_token}/projects/{project_id}"


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft/formList")
def form_list(project_id: int, xml_form_id: str) -> Response:
    form, draft = _draft(project_id, xml_form_id)
    form_path = f"{_base(project_id)}/forms/{quote(form.xml_form_id, safe='')}"
    item = {
        "form_id": form.xml_form_id,
        "name": draft.title or form.xml_form_id,
        "version": draft.version,
        "md5": draft.md5,
        "download_url": f"{form_path}/draft.xml",
        "manifest_url": f"{form_path}/draft/manifest" if draft.attachments else None,
    }
    return xml_document("openrosa/form_list.xml", forms=[item])


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft.xml")
def draft_xml(project_id: int, xml_form_id: str) -> Response:
    _form, draft = _draft(project_id, xml_form_id)
    response = Response(draft.xml, content_type=XML_TYPE)
    response.set_etag(draft.md5)
    return response.make_conditional(request)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft/manifest")
def manifest(project_id: int, xml_form_id: str) -> Response:
    form, draft = _draft(project_id, xml_form_id)
    session = db()
    files = []
    for attachment in draft.attachments:
        entry = downloads.manifest_entry(
            session, attachment, _base(project_id), form.xml_form_id, project_id=project_id,
            media_path="draft/attachments",
        )
        if entry is not None:
            files.append(entry)
    return xml_document("openrosa/manifest.xml", files=files)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/draft/attachments/<name>")
def draft_media(project_id: int, xml_form_id: str, name: str) -> Response:
    _form, draft = _draft(project_id, xml_form_id)
    session = db()
    return downloads.form_media_response(session, draft_attachment(session, draft, name), project_id=project_id)


@bp.route("/projects/<int:project_id>/forms/<xml_form_id>/draft/submission", methods=["HEAD", "GET"])
def submission_probe(project_id: int, xml_form_id: str) -> Response:
    _draft(project_id, xml_form_id)
    return Response(status=204)


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>/draft/submission")
def submission(project_id: int, xml_form_id: str) -> Response:
    form, draft = _draft(project_id, xml_form_id)
    envelope = envelopes.read_envelope(project_id, TESTER)
    files = [ReceivedFile(f.name, f.size, f.sha256) for f in envelope.files]
    session = db()
    receive_test_submission(session, form, draft, envelope.xml, files, envelope.device_id)
    session.commit()
    return openrosa_message("full submission upload was successful! (a test submission to the draft)", 201)
