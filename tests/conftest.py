"""Shared fixtures: databases on both backends, settings, services, the app and a live HTTP server."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings as hypothesis_settings

from server.app import create_app
from server.config import Settings, load_settings
from server.services import Services, build_services
from server.startup import prepare_database
from sync.access.accounts import create_user
from sync.db.engine import transaction
from sync.intake.projects import ensure_default_project
from tests.databases import PostgresDatabases, SqliteDatabases

# Property tests are deterministic (the same examples every run) and have no per-example deadline: a busy
# machine must not turn a slow example into a failure.
hypothesis_settings.register_profile("qingling", derandomize=True, deadline=None)
hypothesis_settings.load_profile("qingling")

DATA = Path(__file__).parent / "data"
BACKENDS = {"sqlite": "sqlite_databases", "postgresql": "postgres_databases"}


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.close()


@pytest.fixture(params=list(BACKENDS))
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database on each backend: every test that takes it runs twice."""
    databases = request.getfixturevalue(BACKENDS[request.param])
    url = databases.create()
    yield url
    databases.drop(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        {},
        data_dir=tmp_path / "data",
        database_url=database_url,
        publish_forms_on_start=False,
        allow_http_basic=True,
        threads=8,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.engine.dispose()


@pytest.fixture
def project(services: Services):  # noqa: ANN201
    return prepare_database(services, None)


@pytest.fixture
def app_token(services: Services, project) -> str:  # noqa: ANN001
    with transaction(services.sessions) as session:
        return ensure_default_project(session, services.settings.default_project_name)[1].token


@pytest.fixture
def supervisor(services: Services) -> dict[str, str]:
    """Basic-auth headers of a supervisor account (HTTP Basic over plain HTTP is allowed in tests)."""
    with transaction(services.sessions) as session:
        create_user(session, "supervisor@county.example", "correct horse battery", "supervisor")
    token = base64.b64encode(b"supervisor@county.example:correct horse battery").decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def app(services: Services, project) -> Flask:  # noqa: ANN001
    return create_app(services=services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class LiveServer:
    """The app served by waitress on 127.0.0.1, as ``qingling serve`` serves it."""

    def __init__(self, app: Flask, threads: int = 8) -> None:
        from waitress.server import create_server

        self.server = create_server(app, host="127.0.0.1", port=0, threads=threads)
        self.port = self.server.effective_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        """waitress's own ``run`` loops until its socket map is empty, so closing the server from another
        thread can pull a descriptor out from under a ``select`` in progress (EBADF). This loop polls in
        short rounds and stops between two of them; the sockets close only after it has ended."""
        while not self._stopping.is_set():
            self.server.asyncore.loop(timeout=0.05, map=self.server._map, count=1)

    def stop(self) -> None:
        # Let the request threads finish (their responses still flush through the loop), then stop the
        # loop, and only then close the sockets and waitress's wake-up pipe.
        self.server.task_dispatcher.shutdown(timeout=10)
        self._stopping.set()
        self.thread.join(timeout=10)
        for dispatcher in list(self.server._map.values()):  # kept-alive connections, the wake-up pipe
            dispatcher.close()
        self.server.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app)
    yield server
    server.stop()
