"""The flattened copies ingestion stores: every export reads them, and gives the same bytes as from the XML."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from sync.db.engine import transaction
from sync.db.models import Job, SubmissionVersion
from sync.job_kinds import FLATTEN
from sync.jobs.queue import enqueue, run_pending_jobs
from tests.collect import submission_body
from tests.exports.conftest import FORM, shapes_xml

BASE = f"/v1/projects/1/forms/{FORM}"
SVC = f"{BASE}.svc"
DOWNLOADS = [
    f"{BASE}/submissions.csv.zip?attachments=false",
    f"{BASE}/submissions.csv.zip?attachments=false&splitSelectMultiples=true",
    f"{BASE}/submissions.csv?groupPaths=false",
    f"{BASE}/submissions.parquet",
    f"{BASE}/submissions.parquet?table=members",
    f"{BASE}/submissions.xlsx",
    f"{SVC}/Submissions",
    f"{SVC}/Submissions?$expand=*&$wkt=true",
    f"{SVC}/Submissions?$select=__id,place,members&$count=true",
    f"{SVC}/Submissions.members",
    f"{SVC}/Submissions.members.jobs?$count=true&$top=2",
    f"{SVC}/Submissions('uuid:first')/members",
    f"{SVC}/Submissions?$filter=house_grade eq 'D'",
]
# Without its group: OData tells an absent group (null) from a present one with empty answers.
NO_GROUP = "<house_grade>C</house_grade><rooms>x</rooms><members><m_name>赵六</m_name></members>"
# Texts CSV must quote and JSON must escape, in the root table and in nested repeats.
AWKWARD = (
    "<place><township>1501, \"21\"</township><spot>40 111</spot></place><house_grade>B</house_grade>"
    "<members><m_name>\"王\", 二\nline two</m_name><jobs><job>100% %s</job></jobs><jobs><job></job></jobs></members>"
)


@pytest.fixture
def more_shapes(collect, shapes) -> list[str]:  # noqa: ANN001
    time.sleep(0.01)
    for instance_id, body in (("uuid:no-group", NO_GROUP), ("uuid:awkward", AWKWARD)):
        response = collect.post(submission_body(shapes_xml(instance_id, body)))
        assert response.status_code == 201, response.data
        time.sleep(0.01)
    return [*shapes, "uuid:no-group", "uuid:awkward"]


def _contents(client, supervisor) -> dict[str, object]:  # noqa: ANN001
    """Each download as a reader compares it: the files of a ZIP (not its timestamps), a workbook's cells."""
    out: dict[str, object] = {}
    for url in DOWNLOADS:
        response = client.get(url, headers=supervisor)
        assert response.status_code == 200, (url, response.data[:300])
        if url.split("?")[0].endswith(".zip"):
            archive = zipfile.ZipFile(io.BytesIO(response.data))
            out[url] = {name: archive.read(name) for name in archive.namelist()}
        elif url.split("?")[0].endswith(".xlsx"):
            book = load_workbook(io.BytesIO(response.data), read_only=True)
            out[url] = {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book}
        else:
            out[url] = response.data
    return out


def _copies(services, column=SubmissionVersion.flat) -> list[bytes | None]:  # noqa: ANN001
    with services.sessions() as session:
        return list(session.scalars(select(column).order_by(SubmissionVersion.id)))


def test_exports_read_the_stored_copies_and_match_the_xml(client, services, more_shapes, supervisor) -> None:  # noqa: ANN001
    copies = _copies(services)
    assert len(copies) == 5 and all(copies), "ingestion stores a copy of every version"
    from_copies = _contents(client, supervisor)
    entity = next(e for e in client.get(f"{SVC}/Submissions", headers=supervisor).get_json()["value"]
                  if e["__id"] == "uuid:no-group")
    assert entity["place"] is None and entity["rooms"] is None and entity["house_grade"] == "C"

    # As before the backfill: no copies, so every export parses and walks the XML.
    with transaction(services.sessions) as session:
        session.execute(update(SubmissionVersion).values(flat=None, texts=None))
    from_xml = _contents(client, supervisor)
    assert from_xml == from_copies

    with transaction(services.sessions) as session:
        enqueue(session, FLATTEN)
    run_pending_jobs(services.sessions, services.work)
    assert _copies(services) == copies, "the backfill writes the copies ingestion wrote"
    assert _contents(client, supervisor) == from_copies
    with services.sessions() as session:
        states = session.execute(select(Job.state, func.count()).where(Job.kind == FLATTEN).group_by(Job.state)).all()
    assert states == [("done", 2)]  # one batch, then one that found nothing left


def test_the_copy_is_read_not_the_xml(client, services, shapes, supervisor) -> None:  # noqa: ANN001
    """With a copy, the XML is not parsed: an export stays whole even if the stored XML were unreadable."""
    with transaction(services.sessions) as session:
        session.execute(update(SubmissionVersion).values(xml=b"<data><oops"))
    response = client.get(f"{BASE}/submissions.csv", headers=supervisor)
    assert response.status_code == 200
    lines = response.data.decode().splitlines()
    assert len(lines) == 4 and all(any(f",{i}," in line for line in lines) for i in shapes)


def test_a_copy_of_another_format_or_version_falls_back_to_the_xml(client, services, shapes, supervisor) -> None:  # noqa: ANN001
    before = client.get(f"{SVC}/Submissions?$expand=*", headers=supervisor).data
    with transaction(services.sessions) as session:
        session.execute(update(SubmissionVersion).values(flat=b"[0,[]]"))
    assert client.get(f"{SVC}/Submissions?$expand=*", headers=supervisor).data == before


def test_versions_without_their_texts_give_the_same_files(client, services, more_shapes, supervisor) -> None:  # noqa: ANN001
    """Versions stored before the exports' texts existed (or with texts of an older format) are exported
    from their rows, with the same bytes; the backfill then writes the texts ingestion writes."""
    from sync.exports.stored import TEXTS_MARK

    texts = _copies(services, SubmissionVersion.texts)
    assert len(texts) == 5 and all(text.startswith(TEXTS_MARK) for text in texts)
    with_texts = _contents(client, supervisor)
    with transaction(services.sessions) as session:
        session.execute(update(SubmissionVersion).values(texts=None))
    assert _contents(client, supervisor) == with_texts
    with transaction(services.sessions) as session:
        session.execute(update(SubmissionVersion).values(texts="T0\x1eold"))
    assert _contents(client, supervisor) == with_texts
    with transaction(services.sessions) as session:
        session.execute(update(SubmissionVersion).values(texts=None))
        enqueue(session, FLATTEN)
    run_pending_jobs(services.sessions, services.work)
    assert _copies(services, SubmissionVersion.texts) == texts


def test_the_backfill_keeps_a_copy_it_cannot_make_again(client, services, shapes, supervisor) -> None:  # noqa: ANN001
    """A version with its rows' copy but no texts, whose XML can no longer be read, keeps that copy: the
    backfill writes only the missing column, so the export still has the submission's values."""
    before = client.get(f"{BASE}/submissions.csv", headers=supervisor).data
    rows = _copies(services)
    with transaction(services.sessions) as session:
        session.execute(update(SubmissionVersion).values(xml=b"<data><oops", texts=None))
        enqueue(session, FLATTEN)
    run_pending_jobs(services.sessions, services.work)
    assert _copies(services) == rows
    assert _copies(services, SubmissionVersion.texts) == ["", "", ""]
    assert client.get(f"{BASE}/submissions.csv", headers=supervisor).data == before


def test_the_migration_queues_the_backfill_of_earlier_versions(client, services, shapes, supervisor) -> None:  # noqa: ANN001
    from sync.db.migrate import downgrade, upgrade

    before = _contents(client, supervisor)
    downgrade(services.engine, "0010")  # a database from before the copies, with its submissions
    upgrade(services.engine)
    assert _copies(services) == [None, None, None]
    with services.sessions() as session:
        assert session.scalars(select(Job.state).where(Job.kind == FLATTEN)).all() == ["pending"]
    assert _contents(client, supervisor) == before  # read from the XML meanwhile
    run_pending_jobs(services.sessions, services.work)
    assert all(_copies(services))
    assert _contents(client, supervisor) == before


def test_upgrading_to_the_texts_queues_their_backfill(client, services, shapes, supervisor) -> None:  # noqa: ANN001
    """A database of the release before the texts (0015) keeps its rows' copies; 0016 adds the column and
    queues one ``flatten`` job, which writes the texts; every export gives the same bytes throughout."""
    from sync.db.migrate import downgrade, upgrade

    before = _contents(client, supervisor)
    texts = _copies(services, SubmissionVersion.texts)
    with transaction(services.sessions) as session:
        session.execute(update(Job).where(Job.kind == FLATTEN).values(state="done"))
    downgrade(services.engine, "0015")
    upgrade(services.engine)
    assert _copies(services, SubmissionVersion.texts) == [None, None, None]
    assert all(_copies(services))  # the rows' copies were kept
    with services.sessions() as session:
        pending = session.scalars(select(Job.id).where(Job.kind == FLATTEN, Job.state == "pending")).all()
    assert len(pending) == 1
    assert _contents(client, supervisor) == before  # from the rows meanwhile
    run_pending_jobs(services.sessions, services.work)
    assert _copies(services, SubmissionVersion.texts) == texts
    assert _contents(client, supervisor) == before
