"""Two ``qingling serve`` processes on one database receive the same submission at the same moment.

A phone whose upload timed out resends while the first POST is still being handled, and behind a load
balancer the two copies may reach different app processes. Both must answer 201 (an identical resend is
an attachment upsert, docs/protocol.md §7.6) and exactly one submission may result: the unique constraint lets
one insert win and ``sync.intake.ingest.submit`` retries the loser, which then finds the identical resend.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from server.config import load_settings
from server.services import build_services
from server.startup import prepare_database
from sync.db.engine import transaction
from sync.db.models import Submission, SubmissionAttachment, SubmissionVersion
from sync.intake.projects import ensure_default_project
from tests.collect import COLLECT_HEADERS, DEVICE_ID, submission_body
from tests.conftest import DATA
from tests.images import jpeg_bytes
from tests.protocol.conftest import PublishedForm, publish

ROUNDS = 6
QINGLING = Path(sys.executable).with_name("qingling")


class ServeProcess:
    """``qingling serve`` in its own OS process on 127.0.0.1, its output kept in a file."""

    def __init__(self, env: dict[str, str], log: Path, executable: Path = QINGLING, cwd: Path | None = None) -> None:
        self.log = log
        for _attempt in range(3):
            self.port = _free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            with open(log, "wb") as out:
                self.process = subprocess.Popen(
                    [str(executable), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_until_healthy():
                return
            self.stop()
            if "address already in use" not in self.output().lower():
                break
        raise AssertionError(f"qingling serve did not start:\n{self.output()}")

    def _wait_until_healthy(self, timeout: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    env.update(QINGLING_DATA_DIR=str(data_dir), QINGLING_PUBLISH_FORMS_ON_START="false")
    if database_url:
        env["QINGLING_DATABASE_URL"] = database_url
    return env


class Installation:
    """One database and data folder, a published photo form, and two app processes serving them."""

    def __init__(self, tmp_path: Path, database_url: str | None) -> None:
        data_dir = tmp_path / "data"
        self.settings = load_settings({}, data_dir=data_dir, database_url=database_url, publish_forms_on_start=False)
        self.services = build_services(self.settings)
        project = prepare_database(self.services, None)
        self.form: PublishedForm = publish(self.services, project, DATA / "forms" / "collect_photos.md")
        with transaction(self.services.sessions) as session:
            token = ensure_default_project(session, self.settings.default_project_name)[1].token
        self.path = f"/v1/key/{token}/projects/{project.id}"
        env = _environment(data_dir, database_url)
        # One after the other: each start migrates and ensures the default project, which is not meant to
        # race; the race under test is the submission.
        self.processes = [ServeProcess(env, tmp_path / f"serve-{n}.log") for n in (1, 2)]

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        self.services.engine.dispose()

    def rows(self, instance_id: str) -> dict[str, object]:
        with self.services.sessions() as session:
            versions = list(
                session.scalars(select(SubmissionVersion).where(SubmissionVersion.instance_id == instance_id))
            )
            return {
                "submissions": session.scalar(
                    select(func.count()).select_from(Submission).where(Submission.instance_id == instance_id)
                ),
                "versions": len(versions),
                "attachments": [
                    (a.name, a.present, a.sha256)
                    for a in session.scalars(
                        select(SubmissionAttachment).where(
                            SubmissionAttachment.submission_version_id.in_([v.id for v in versions])
                        )
                    )
                ],
            }


def _send_together(urls: list[str], body: bytes, content_type: str) -> list[requests.Response]:
    """Collect's HEAD then POST from one phone per URL, the POSTs released by a barrier at the same moment."""
    barrier = threading.Barrier(len(urls))
    answers: list[requests.Response | BaseException | None] = [None] * len(urls)

    def phone(index: int) -> None:
        with requests.Session() as http:
            try:
                # The HEAD opens the keep-alive connection, so both POSTs start without a TCP handshake.
                head = http.head(f"{urls[index]}?deviceID={DEVICE_ID}", headers=COLLECT_HEADERS, timeout=30)
                assert head.status_code == 204, head.status_code
                barrier.wait(timeout=30)
                answers[index] = http.post(
                    f"{urls[index]}?deviceID={DEVICE_ID}",
                    data=body,
                    headers={**COLLECT_HEADERS, "Content-Type": content_type},
                    timeout=60,
                )
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread below
                barrier.abort()
                answers[index] = exc

    threads = [threading.Thread(target=phone, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers  # type: ignore[return-value]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres_only)])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    """The embedded default (one SQLite file and blob folder shared by both processes), and PostgreSQL."""
    database_url = None
    if request.param == "postgresql":
        databases = request.getfixturevalue("postgres_databases")
        database_url = databases.create()
    built = Installation(tmp_path, database_url)
    yield built
    built.close()
    if database_url:
        databases.drop(database_url)


def test_same_submission_to_two_processes_at_once_is_stored_once(installation: Installation) -> None:
    urls = [f"{p.url}{installation.path}/submission" for p in installation.processes]
    photo = jpeg_bytes(7, (640, 480))
    for round_number in range(ROUNDS):
        instance_id = f"uuid:race-{round_number}"
        with_photo = round_number % 2 == 1
        fields = {"name": f"户主 {round_number}"}
        if with_photo:
            fields["photo"] = "1714550000000.jpg"
        xml = installation.form.xml(instance_id, fields)
        body = submission_body(xml, {"1714550000000.jpg": photo} if with_photo else None)

        answers = _send_together(urls, body.body(), body.content_type)

        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        assert all(b"OpenRosaResponse" in a.content for a in answers)
        rows = installation.rows(instance_id)
        expected = [("1714550000000.jpg", True, hashlib.sha256(photo).hexdigest())] if with_photo else []
        assert rows == {"submissions": 1, "versions": 1, "attachments": expected}, f"round {round_number}"

    with installation.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == ROUNDS
        (blob_key,) = set(session.scalars(select(SubmissionAttachment.blob_key)))
    with installation.services.store.open(blob_key) as stored:
        assert stored.read() == photo
    for process in installation.processes:
        assert process.process.poll() is None, process.output()
        assert "Traceback" not in process.output(), process.output()


def test_same_edit_to_two_processes_at_once_makes_one_new_version(installation: Installation) -> None:
    """An edited instance (deprecatedID, docs/protocol.md §7.7) resent in parallel is one edit, answered 201 twice."""
    urls = [f"{p.url}{installation.path}/submission" for p in installation.processes]
    for round_number in range(ROUNDS):
        original, edited = f"uuid:edit-{round_number}", f"uuid:edit-{round_number}-v2"
        first = submission_body(installation.form.xml(original, {"name": "before"}))
        (answer,) = _send_together(urls[:1], first.body(), first.content_type)
        assert answer.status_code == 201
        edit = submission_body(installation.form.xml(edited, {"name": "after"}, deprecated_id=original))

        answers = _send_together(urls, edit.body(), edit.content_type)

        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        with installation.services.sessions() as session:
            (submission,) = session.scalars(select(Submission).where(Submission.instance_id == original))
            versions = [(v.instance_id, v.current) for v in submission.versions]
        assert versions == [(original, False), (edited, True)], f"round {round_number}"
