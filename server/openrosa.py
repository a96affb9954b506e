"""OpenRosa replies: the headers every reply carries and the XML envelopes Collect parses."""

from __future__ import annotations

from flask import Response, render_template, request
from werkzeug.http import http_date

from server.context import services
from server.safe_text import printable
from sync.errors import MissingHeader

XML_TYPE = "text/xml; charset=utf-8"


def openrosa_headers(response: Response) -> Response:
    """Headers Central puts on every OpenRosa reply, errors included (docs/protocol.md §9)."""
    response.headers["X-OpenRosa-Version"] = "1.0"
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(services().settings.max_upload_bytes)
    response.headers["Date"] = http_date()
    response.headers.setdefault("Content-Language", "en")
    return response


def openrosa_message(message: str, status: int, nature: str = "") -> Response:
    """An OpenRosaResponse; the message may echo request text, so characters XML forbids are escaped."""
    body = render_template("openrosa/response.xml", message=printable(message), nature=nature)
    return openrosa_headers(Response(body, status=status, content_type=XML_TYPE))


def xml_document(template: str, **context: object) -> Response:
    return openrosa_headers(Response(render_template(template, **context), content_type=XML_TYPE))


def require_openrosa_version() -> None:
    """Central refuses an OpenRosa request without ``X-OpenRosa-Version: 1.0`` (docs/protocol.md §9)."""
    if request.headers.get("X-OpenRosa-Version") != "1.0":
        raise MissingHeader(
            "An expected header field (X-OpenRosa-Version) did not match the expected format "
            f"(got: {request.headers.get('X-OpenRosa-Version', 'missing')})."
        )
