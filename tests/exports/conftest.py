"""Fixtures for export tests: a form with groups, nested repeats, a geopoint and a select-multiple,
three submissions of it sent as ODK Collect sends them, and a supervisor's API client."""

from __future__ import annotations

import base64
import time

import pytest

from sync.access.accounts import create_user
from sync.db.engine import transaction
from tests.collect import submission_body
from tests.conftest import DATA
from tests.protocol.conftest import collect, photo_form, publish  # noqa: F401, F811 - fixtures

FORM = "export_shapes"


def shapes_xml(instance_id: str, body: str, version: str = "2026010101") -> bytes:
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
        f'id="{FORM}" version="{version}">{body}<meta><instanceID>{instance_id}</instanceID></meta></data>'
    ).encode()


SUBMISSIONS = {
    "uuid:first": (
        "<place><township>150121102</township><spot>40.1 111.5 1050 4.5</spot></place>"
        "<house_grade>D</house_grade><assets>tv cow</assets><rooms>3</rooms><visited>2026-01-05</visited>"
        "<members><m_name>王芳</m_name><m_info><m_age>44</m_age></m_info>"
        "<jobs><job>farmer</job></jobs><jobs><job>driver, part-time</job></jobs></members>"
        "<members><m_name>李雷</m_name><m_info><m_age>12</m_age></m_info></members>"
    ),
    "uuid:second": (
        "<place><township>150121100</township><spot></spot></place>"
        "<house_grade>A</house_grade><assets></assets><rooms>5</rooms><visited>2026-01-06</visited>"
        "<members><m_name>张三</m_name><m_info><m_age>70</m_age></m_info>"
        "<jobs><job>retired</job></jobs></members>"
    ),
    "uuid:third": (
        "<place><township>150121102</township><spot>40.2 111.6 0 3</spot></place>"
        "<house_grade>D</house_grade><assets>car</assets><rooms>1</rooms><visited>2026-01-07</visited>"
    ),
}


@pytest.fixture
def shapes_form(services, project):  # noqa: ANN001, ANN201
    return publish(services, project, DATA / "forms" / "export_shapes.md")


@pytest.fixture
def shapes(collect, shapes_form) -> list[str]:  # noqa: ANN001, F811
    """The three submissions, sent in order (the newest is ``uuid:third``)."""
    for instance_id, body in SUBMISSIONS.items():
        response = collect.post(submission_body(shapes_xml(instance_id, body)))
        assert response.status_code == 201, response.data
        time.sleep(0.01)  # distinct submission times, so "newest first" is well defined
    return list(SUBMISSIONS)


@pytest.fixture
def supervisor(services) -> dict[str, str]:  # noqa: ANN001
    with transaction(services.sessions) as session:
        create_user(session, "supervisor@county.example", "correct horse battery", "supervisor")
    token = base64.b64encode(b"supervisor@county.example:correct horse battery").decode()
    return {"Authorization": f"Basic {token}"}
