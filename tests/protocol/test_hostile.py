"""A few hundred seeded hostile requests (bench/hostile_requests.py) against the app, as ``qingling serve`` runs it.

Whatever arrives, the server answers below 500, refuses in the caller's protocol (OpenRosa XML on the phone
URLs, Central's JSON elsewhere), leaves no row or file behind a refusal, writes no token or control character
to its logs, and still takes an ordinary submission afterwards. The seed is fixed, so a failure reproduces.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import quote

import pytest
from defusedxml.ElementTree import fromstring
from sqlalchemy import func, select
from werkzeug.test import Client

from bench.hostile_requests import HostileRequest, Target, hostile_requests
from server.access_log import AccessLog
from sync.access.accounts import create_user
from sync.db.engine import transaction
from sync.db.models import Audit, Job
from tests.collect import submission_body
from tests.images import jpeg_bytes
from tests.protocol.conftest import counts

SEED = 20260314
COUNT = 380  # 20 of each kind
EMAIL, PASSWORD = "hostile-supervisor@county.example", "correct horse battery"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _rows(services) -> dict[str, int]:  # noqa: ANN001
    left = counts(services)
    with services.sessions() as session:
        left["audits"] = session.scalar(select(func.count()).select_from(Audit))
        left["jobs"] = session.scalar(select(func.count()).select_from(Job))
    return left


def _format_problem(request: HostileRequest, response) -> str | None:  # noqa: ANN001
    """Why a refusal is not in its protocol's format, or None when it is."""
    if request.method == "HEAD":
        return None
    if request.openrosa:
        if not response.headers.get("Content-Type", "").startswith("text/xml"):
            return f"OpenRosa refusal typed {response.headers.get('Content-Type')}"
        try:
            root = fromstring(response.data)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the finding
            return f"OpenRosa refusal is not well-formed XML: {exc}"
        return None if root.tag.endswith("OpenRosaResponse") else f"OpenRosa refusal rooted at {root.tag}"
    try:
        body = json.loads(response.data)
    except ValueError as exc:
        return f"API refusal is not JSON: {exc}"
    return None if {"code", "message"} <= set(body) else f"API refusal without code and message: {body}"


@pytest.fixture
def target(collect, photo_form, services, app_token, project) -> Target:  # noqa: ANN001
    with transaction(services.sessions) as session:
        create_user(session, EMAIL, PASSWORD, "supervisor")
    instance_id = "uuid:hostile-accepted-first"
    accepted = collect.post(submission_body(photo_form.xml(instance_id, {"name": "first", "photo": "p.jpg"}),
                                            {"p.jpg": jpeg_bytes(5)}))
    assert accepted.status_code == 201
    return Target(
        token=app_token,
        project_id=project.id,
        form_id=photo_form.form_id,
        form_version=photo_form.version,
        image_fields=("photo", "photo2"),
        email=EMAIL,
        password=PASSWORD,
        instance_id=instance_id,
    )


def test_hostile_requests_are_refused_cleanly(app, services, target: Target, collect, photo_form, caplog) -> None:
    caplog.set_level(logging.INFO)
    client = Client(AccessLog(app))  # the access log wraps the app as in `qingling serve`
    problems: list[str] = []
    rows = _rows(services)
    for request in hostile_requests(target, COUNT, SEED):
        response = client.open(request.target, method=request.method, headers=list(request.headers),
                               data=request.body)
        status = response.status_code
        where = f"{request.kind} {request.method} {request.target[:120]} -> {status}"
        if status >= 500:
            problems.append(f"{where}: {response.get_data()[:300]!r}")
        if response.headers.get("X-Content-Type-Options") != "nosniff" or "Content-Security-Policy" not in (
            response.headers
        ):
            problems.append(f"{where}: no nosniff or Content-Security-Policy")
        if status == 201 and not (request.method == "POST" and request.openrosa):
            problems.append(f"{where}: 201 outside the submission URL")
        now = _rows(services)
        if status >= 400:
            if (reason := _format_problem(request, response)) is not None:
                problems.append(f"{where}: {reason}")
            if now != rows:
                problems.append(f"{where}: left {now} (was {rows})")
        rows = now
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])

    messages = [record.getMessage() for record in caplog.records]
    assert not [m for m in messages if target.token in m], "a phone token was written to the log"
    assert not [m for m in messages if CONTROL.search(m)], "a control character was written to the log"

    ordinary = collect.post(submission_body(photo_form.xml("uuid:after-the-storm", {"name": "after"})))
    assert ordinary.status_code == 201
    credentials = base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()
    listed = client.get(f"/v1/projects/{target.project_id}/forms/{quote(target.form_id)}/submissions",
                        headers=[("Authorization", f"Basic {credentials}")])
    assert "uuid:after-the-storm" in [item["instanceId"] for item in json.loads(listed.get_data())]
