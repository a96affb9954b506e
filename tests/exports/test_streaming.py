"""A download is complete or visibly broken: a failure after the first byte never ends as a normal file."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import update

from sync.db.models import SubmissionVersion
from sync.exports import csv_files
from tests.exports.conftest import FORM


@pytest.mark.parametrize("suffix", ["submissions.csv", "submissions.csv.zip?attachments=false"])
def test_a_failure_midway_breaks_the_download(
    shapes, live_server, services, monkeypatch, suffix
) -> None:  # noqa: ANN001
    # The oldest submission (exported last) has unreadable XML and no stored copies (as before the backfill
    # reached it), so the export parses it and the failure comes after rows were sent.
    with services.sessions() as session:
        session.execute(
            update(SubmissionVersion)
            .where(SubmissionVersion.instance_id == "uuid:first")
            .values(xml=b"<data><oops", flat=None, texts=None)
        )
        session.commit()
    monkeypatch.setattr(csv_files, "FLUSH_BYTES", 1)
    from sync.access.accounts import create_user
    from sync.db.engine import transaction

    with transaction(services.sessions) as session:
        create_user(session, "office@county.example", "correct horse battery", "viewer")
    response = requests.get(
        f"{live_server.url}/v1/projects/1/forms/{FORM}/{suffix}",
        auth=("office@county.example", "correct horse battery"),
        stream=True,
        timeout=30,
    )
    assert response.status_code == 200
    received = b""
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for chunk in response.iter_content(1024):
            received += chunk
    assert received  # rows had been sent: only the broken ending tells the client it is incomplete
