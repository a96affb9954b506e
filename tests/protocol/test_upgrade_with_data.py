"""Upgrading a database that holds a release's real data: forms, submissions, photos, jobs.

SQLite rebuilds a table to alter it; with foreign keys enforced, that failed as soon as other rows pointed
at the table ("FOREIGN KEY constraint failed" on the forms table of a county's database).
"""

from __future__ import annotations

from sqlalchemy import func, select

from sync.db.migrate import current_revision, downgrade, head_revision, upgrade
from sync.db.models import Submission, SubmissionAttachment
from tests.collect import submission_body
from tests.images import jpeg_bytes
from tests.protocol.conftest import Collect, PublishedForm


def test_a_database_with_submissions_and_photos_upgrades_and_keeps_them(
    services, collect: Collect, photo_form: PublishedForm  # noqa: ANN001
) -> None:
    for n in range(3):
        xml = photo_form.xml(f"uuid:upgrade-{n}", {"name": f"household {n}", "photo": "p.jpg"})
        assert collect.post(submission_body(xml, {"p.jpg": jpeg_bytes(n, (320, 240))})).status_code == 201
    engine = services.engine

    downgrade(engine, "0011")  # the release before the review workspace's tables
    assert current_revision(engine) == "0011"
    assert upgrade(engine) == ("0011", head_revision())

    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 3
        assert session.scalar(select(func.count()).select_from(SubmissionAttachment)) == 3
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":  # enforcement is back on for the connections that follow
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    assert collect.form_list().status_code == 200
