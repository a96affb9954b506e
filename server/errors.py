"""Every failure becomes a response in the caller's protocol, in one place (docs/architecture.md, Conventions).

OpenRosa URLs get an OpenRosaResponse whose ``<message>`` Collect shows the enumerator (docs/protocol.md §7.5);
the JSON API gets Central's ``{"code", "message"}`` shape. Nothing reaches a client as an HTML 500.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server.auth import ChallengeRequired, challenge_header
from server.metrics import count_problem
from server.openrosa import openrosa_message
from server.safe_text import log_path, printable
from server.web import is_page
from sync.errors import Problem, TooLarge

log = logging.getLogger(__name__)


def wants_openrosa() -> bool:
    if request.blueprint is not None:
        return request.blueprint.startswith("openrosa")
    path = request.path
    return path.startswith("/v1/key/") or path.endswith(("/formList", "/submission", "/manifest"))


def render_problem(problem: Problem) -> Response:
    count_problem(problem.code)
    if wants_openrosa():
        response = openrosa_message(problem.message, problem.status, nature="error")
    elif is_page():
        return render_page_problem(problem)
    else:
        response = jsonify({"code": _json_code(problem.code), "message": problem.message, **_details(problem)})
        response.status_code = problem.status
    if isinstance(problem, ChallengeRequired):
        response.headers["WWW-Authenticate"] = challenge_header()
    return response


def _json_code(code: str) -> float | int:
    """Central sends its problem code as a JSON number (401.2); a bare HTTP status (405) as an integer."""
    return float(code) if "." in code else int(code)


def render_page_problem(problem: Problem) -> Response:
    """A readable page in the person's language; the message of a typed problem is shown as it is."""
    headings = {
        400: _("This request could not be handled"),
        401: _("Please sign in"),
        403: _("Not allowed"),
        404: _("Not found"),
        405: _("Not allowed"),
        413: _("Too large"),
        429: _("Too many attempts"),
    }
    messages = {
        404: _("There is nothing here, or it is outside your area."),
        403: _("Your role may not do this."),
        500: _("Something went wrong on the server; it has been logged. Please try again later."),
    }
    status = problem.status
    message = messages.get(status, problem.message) if status in (403, 404, 500) else problem.message
    body = render_template(
        "web/error.html", status=status, heading=headings.get(status, _("Error")), message=message, scope=None,
        project=None,
    )
    return make_response(body, status)


def _details(problem: Problem) -> dict:
    return {"details": problem.details} if problem.details else {}


def _request_line() -> str:
    """Method and path of this request as they may be logged (server.safe_text)."""
    return f"{printable(request.method)} {log_path(request.path)}"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def handle_problem(problem: Problem) -> Response:
        if problem.status >= 500:
            log.warning("%s on %s: %s", problem.code, _request_line(), printable(problem.message))
        return render_problem(problem)

    @app.errorhandler(RequestEntityTooLarge)
    def handle_too_large(_exc: RequestEntityTooLarge) -> Response:
        limit = app.config["MAX_CONTENT_LENGTH"]
        return render_problem(
            TooLarge(f"The submission is larger than this server accepts ({limit:,} bytes); nothing was saved.")
        )

    @app.errorhandler(CSRFError)
    def handle_csrf(_exc: CSRFError) -> Response:
        problem = Problem(_("This form has expired or did not come from this site. Reload the page and try again."))
        problem.code = "400.1"
        return render_problem(problem)

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> Response:
        problem = Problem(exc.description or exc.name)
        problem.code = str(exc.code or 500)
        response = render_problem(problem)
        valid_methods = getattr(exc, "valid_methods", None)
        if valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        log.exception("unexpected error on %s", _request_line())
        return render_problem(Problem("Internal error; it has been logged. Please try again later."))
