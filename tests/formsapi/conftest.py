"""Fixtures for the forms API: a manager (who may manage forms), a supervisor (who may not), Collect."""

from __future__ import annotations

import pytest

from server.services import Services
from sync.access.accounts import create_user
from sync.db.engine import transaction
from tests.protocol.conftest import Collect
from tests.sync.conftest import basic_auth

MANAGER = ("manager@county.example", "correct horse battery staple")


@pytest.fixture
def manager(services: Services) -> dict[str, str]:
    with transaction(services.sessions) as session:
        create_user(session, MANAGER[0], MANAGER[1], "manager")
    return basic_auth(*MANAGER)


@pytest.fixture
def collect(client, app_token: str, project) -> Collect:  # noqa: ANN001
    return Collect(client, f"/v1/key/{app_token}/projects/{project.id}")
