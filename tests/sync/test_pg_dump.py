"""The supported PostgreSQL backup (docs/operations.md): ``pg_dump -Fc`` restored with ``pg_restore``.

Run with the pgserver package's own binaries against the test server: the restored database has every
row, the raw instance XML byte for byte, the schema at the same Alembic revision, and ``media check``
against the (unchanged) blob store is clean.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest
from sqlalchemy import make_url, select, text

from server.services import build_services
from sync.db.models import Base, SubmissionVersion
from sync.evidence.storage_audit import check_media
from tests.collect import submission_body
from tests.conftest import DATA
from tests.images import jpeg_bytes
from tests.protocol.conftest import publish
from tests.sync.test_registry import settle

BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
pytestmark = pytest.mark.postgres_only


@pytest.fixture
def database_url(postgres_databases) -> Iterator[str]:  # noqa: ANN001
    """PostgreSQL only (this module's procedure is PostgreSQL's own), in place of the two-backend fixture."""
    url = postgres_databases.create()
    yield url
    postgres_databases.drop(url)


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _rows(engine) -> dict[str, int]:  # noqa: ANN001
    with engine.connect() as connection:
        count = "SELECT count(*) FROM \"{}\""
        return {name: connection.execute(text(count.format(name))).scalar() for name in Base.metadata.tables}


def test_pg_dump_and_pg_restore_give_back_every_row(  # noqa: PLR0913
    database_url: str, services, project, collect, postgres_databases, settings, tmp_path: Path  # noqa: ANN001
) -> None:
    form = publish(services, project, DATA / "forms" / "collect_photos.md")
    for n in range(5):
        photos = {f"{n}.jpg": jpeg_bytes(n, (640, 480))}
        xml = form.xml(f"uuid:dump-{n}", {"name": f"户主 {n}", "photo": f"{n}.jpg"})
        assert collect.post(submission_body(xml, photos)).status_code == 201
    settle(services)
    dump = tmp_path / "qingling.dump"
    subprocess.run([BIN / "pg_dump", "-Fc", "--no-owner", "-f", dump, _libpq(database_url)], check=True, timeout=120)

    name = f"{make_url(database_url).database}_restored"
    with postgres_databases.admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    restored_url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        subprocess.run(
            [BIN / "pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq(restored_url), dump],
            check=True,
            timeout=120,
        )
        restored = build_services(dataclasses.replace(settings, database_url=restored_url))
        try:
            assert _rows(restored.engine) == _rows(services.engine)
            revision = text("SELECT version_num FROM alembic_version")
            with restored.engine.connect() as after, services.engine.connect() as before:
                assert after.execute(revision).scalar() == before.execute(revision).scalar()
            with services.sessions() as before, restored.sessions() as after:
                query = select(SubmissionVersion.instance_id, SubmissionVersion.xml).order_by(SubmissionVersion.id)
                assert list(after.execute(query)) == list(before.execute(query))
            report = check_media(restored.sessions, restored.store)
            assert report.ok, report.problems
            assert report.references >= 5
        finally:
            restored.engine.dispose()
    finally:
        postgres_databases.drop(restored_url)
