"""Logs never carry a phone token and never take a line break or NUL from a client.

The error log wrote ``unexpected error on POST /v1/key/<TOKEN>/...``; the access log's masking missed
``//v1//key//TOKEN`` and ``/V1/key/...``; ``%0D%0A`` in a path forged a log line and NUL went in raw.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import text
from werkzeug.test import Client

from server.access_log import AccessLog
from tests.collect import COLLECT_HEADERS

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def test_the_access_log_masks_tokens_however_the_path_is_spelled(app, app_token, caplog) -> None:
    caplog.set_level(logging.INFO, logger="qingling.access")
    client = Client(AccessLog(app))
    paths = [
        f"/v1/key/{app_token}/projects/1/formList",
        f"//v1//key//{app_token}//projects//1//formList",
        f"/V1/key/{app_token}/projects/1/formList",
        f"/v1/KEY/{app_token}/projects/1/formList",
        f"/v1/key/{app_token}%2Fmore/projects/1/formList",
    ]
    for path in paths:
        client.get(path, headers=COLLECT_HEADERS)
    lines = [r.getMessage() for r in caplog.records if r.name == "qingling.access"]
    assert len(lines) == len(paths)
    assert all(app_token not in line and "/***/" in line for line in lines), lines


def test_the_access_log_escapes_control_characters(app, app_token, caplog) -> None:
    caplog.set_level(logging.INFO, logger="qingling.access")
    client = Client(AccessLog(app))
    client.get("/v1/projects/1/formList%0D%0A127.0.0.1 GET /forged 200 1.0ms", headers=COLLECT_HEADERS)
    client.get("/v1/x%00y%1B[31m", headers=COLLECT_HEADERS)
    lines = [r.getMessage() for r in caplog.records if r.name == "qingling.access"]
    assert len(lines) == 2 and not [line for line in lines if CONTROL.search(line)]
    assert "formList\\x0d\\x0a127.0.0.1 GET /forged" in lines[0]
    assert "/v1/x\\x00y\\x1b[31m" in lines[1]


def test_the_error_log_masks_the_token_of_a_failing_request(app, services, app_token, collect, caplog) -> None:
    with services.engine.begin() as connection:
        connection.execute(text("ALTER TABLE forms RENAME TO forms_gone"))  # the database breaks under the app
    caplog.set_level(logging.INFO)
    response = collect.form_list()
    assert response.status_code == 500 and b"<OpenRosaResponse" in response.data
    assert "unexpected error on GET /v1/key/***/projects/1/formList" in caplog.text
    assert app_token not in caplog.text
