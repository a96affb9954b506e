"""The URLs ODK Collect uses, in ODK Central's layout (docs/protocol.md §10).

Registered twice: under ``/v1/key/<token>`` for app users (phones) and under ``/v1`` for named accounts.
Views parse the request, call one ``sync`` function and render; errors are rendered by server.errors.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, g, request

from server import downloads, envelopes
from server.auth import require, scope_of
from server.context import close_db, db, services, wake_worker
from server.openrosa import (
    XML_TYPE,
    openrosa_headers,
    openrosa_message,
    require_openrosa_version,
    xml_document,
)
from server.public_url import request_root
from sync.intake import ingest
from sync.intake.forms import current_form, form_attachment, listed_forms

bp = Blueprint("openrosa", __name__)


@bp.url_value_preprocessor
def pull_token(_endpoint: str | None, values: dict | None) -> None:
    g.token = values.pop("token", None) if values else None


@bp.before_request
def check_openrosa_header() -> None:
    # Form XML and media are plain downloads (Central does not demand the header there; docs/protocol.md §5.2).
    if request.endpoint and request.endpoint.rsplit(".", 1)[-1] in ("form_xml", "form_media"):
        return
    require_openrosa_version()


@bp.after_request
def add_headers(response: Response) -> Response:
    if request.endpoint and request.endpoint.rsplit(".", 1)[-1] not in ("form_xml", "form_media"):
        openrosa_headers(response)
    return response


def _base(project_id: int) -> str:
    """Absolute base URL of this project, token prefix kept (docs/protocol.md §2.3); its root comes from
    server/public_url.py."""
    root = request_root(services().settings, request)
    prefix = f"/v1/key/{g.token}" if g.token is not None else "/v1"
    return f"{root}{prefix}/projects/{project_id}"


@bp.get("/projects/<int:project_id>/formList")
def form_list(project_id: int) -> Response:
    require("form.read", project_id, g.token)
    base = _base(project_id)
    items = [
        {
            "form_id": form.xml_form_id,
            "name": version.title or form.xml_form_id,
            "version": version.version,
            "md5": version.md5,
            "download_url": f"{base}/forms/{quote(form.xml_form_id, safe='')}.xml",
            "manifest_url": f"{base}/forms/{quote(form.xml_form_id, safe='')}/manifest"
            if version.attachments
            else None,
        }
        for form, version in listed_forms(db(), project_id)
        if request.args.get("formID") in (None, form.xml_form_id)
    ]
    return xml_document("openrosa/form_list.xml", forms=items)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.xml")
def form_xml(project_id: int, xml_form_id: str) -> Response:
    require("form.read", project_id, g.token)
    _form, version = current_form(db(), project_id, xml_form_id)
    response = Response(version.xml, content_type=XML_TYPE)
    response.set_etag(version.md5)
    return response.make_conditional(request)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/manifest")
def manifest(project_id: int, xml_form_id: str) -> Response:
    actor = require("form.read", project_id, g.token)
    session = db()
    _form, version = current_form(session, project_id, xml_form_id)
    base = _base(project_id)
    files = []
    for attachment in version.attachments:
        media = downloads.manifest_entry(session, attachment, base, xml_form_id, scope_of(actor).limit)
        if media is not None:
            files.append(media)
    return xml_document("openrosa/manifest.xml", files=files)


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>/attachments/<name>")
def form_media(project_id: int, xml_form_id: str, name: str) -> Response:
    actor = require("form.read", project_id, g.token)
    session = db()
    _form, version = current_form(session, project_id, xml_form_id)
    attachment = form_attachment(session, version, name)
    return downloads.form_media_response(session, attachment, scope_of(actor).limit)


@bp.route("/projects/<int:project_id>/submission", methods=["HEAD", "GET"])
def submission_probe(project_id: int) -> Response:
    """Collect's HEAD before every upload must get 204 with the accepted size (docs/protocol.md §7.2)."""
    require("submission.create", project_id, g.token)
    return Response(status=204)


@bp.post("/projects/<int:project_id>/submission")
def submission(project_id: int) -> Response:
    actor = require("submission.create", project_id, g.token)
    # Ingestion runs in its own transaction (with retries); end the request's read transaction first,
    # or on SQLite the two would wait on each other's write lock.
    close_db()
    envelope = envelopes.read_envelope(project_id, actor)
    receipt = ingest.submit(services().sessions, services().store, envelope)
    wake_worker()  # its normalization can start now rather than at the next poll
    message = "full submission upload was successful!"
    if receipt.missing_attachments:
        message = f"submission received; waiting for {len(receipt.missing_attachments)} more file(s)."
    return openrosa_message(message, 201)

