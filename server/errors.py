"""Every failure becomes a response in the caller's protocol, in one place (docs/architecture.md, Conventions).

OpenRosa URLs get an OpenRosaResponse whose ``<message>`` Collect shows the enumerator (docs/protocol.md §7.5);
the JSON API gets Central's ``{"code", "message"}`` shape. Nothing reaches a client as an HTML 500.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server.auth import ChallengeRequired, challenge_header
from server.metrics import count_problem
from server.openrosa import openrosa_message
from server.safe_text import log_path, printable
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
    else:
        response = jsonify({"code": _json_code(problem.code), "message": problem.message, **_details(problem)})
        response.status_code = problem.status
    if isinstance(problem, ChallengeRequired):
        response.headers["WWW-Authenticate"] = challenge_header()
    return response


def _json_code(code: str) -> float | int:
    """Central sends its problem code as a JSON number (401.2); a bare HTTP status (405) as an integer."""
    return float(code) if "." in code else int(code)


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
