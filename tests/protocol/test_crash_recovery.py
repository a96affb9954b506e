"""``qingling serve`` killed with SIGKILL in the middle of a background job: the job is taken again soon.

The dead process's claim is a 30-second lease it no longer renews (sync/jobs/queue.py), so a
``qingling worker`` started afterwards takes the orphaned job within a minute of the kill, not after a
quarter of an hour, and every job ends done exactly once (a run killed midway is not counted).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from server.config import load_settings
from server.services import Services, build_services
from server.startup import prepare_database
from sync.db.engine import transaction
from sync.db.models import Job, PhotoCheck
from sync.intake.projects import ensure_default_project
from tests.collect import COLLECT_HEADERS, DEVICE_ID, submission_body
from tests.conftest import DATA
from tests.images import jpeg_bytes
from tests.protocol.conftest import publish
from tests.protocol.test_concurrency import QINGLING, ServeProcess, _environment

BATCH = 6  # photo submissions per attempt; their checks keep the worker thread busy
ATTEMPTS = 5  # a kill may land between two jobs; try again with a new batch
TAKEOVER_LIMIT = 60.0  # seconds from the kill until the orphaned job is done


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres_only)])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Services, dict[str, str]]]:
    database_url = None
    if request.param == "postgresql":
        databases = request.getfixturevalue("postgres_databases")
        database_url = databases.create()
    data_dir = tmp_path / "data"
    settings = load_settings({}, data_dir=data_dir, database_url=database_url, publish_forms_on_start=False)
    services = build_services(settings)
    yield services, _environment(data_dir, database_url)
    services.engine.dispose()
    if database_url:
        databases.drop(database_url)


def _leased(services: Services) -> list[int]:
    with services.sessions() as session:
        return list(session.scalars(select(Job.id).where(Job.state == "pending", Job.lease_token.is_not(None))))


def test_a_job_of_a_killed_server_is_taken_again_within_a_minute(
    deployment: tuple[Services, dict[str, str]], tmp_path: Path
) -> None:
    services, env = deployment
    project = prepare_database(services, None)
    form = publish(services, project, DATA / "forms" / "collect_photos.md")
    with transaction(services.sessions) as session:
        token = ensure_default_project(session, services.settings.default_project_name)[1].token
    sent = 0
    digests: set[str] = set()
    orphans: list[int] = []
    for attempt in range(ATTEMPTS):
        server = ServeProcess(env, tmp_path / f"serve-{attempt}.log")
        url = f"{server.url}/v1/key/{token}/projects/{project.id}/submission?deviceID={DEVICE_ID}"
        with requests.Session() as http:
            for _ in range(BATCH):
                photos = {f"{sent}-a.jpg": jpeg_bytes(sent, (1600, 1200)), f"{sent}-b.jpg": jpeg_bytes(sent + 1000)}
                digests.update(hashlib.sha256(photo).hexdigest() for photo in photos.values())
                fields = {"name": f"户主 {sent}", "photo": f"{sent}-a.jpg", "photo2": f"{sent}-b.jpg"}
                body = submission_body(form.xml(f"uuid:crash-{sent}", fields), photos)
                headers = {**COLLECT_HEADERS, "Content-Type": body.content_type}
                answer = http.post(url, data=body.body(), headers=headers, timeout=60)
                assert answer.status_code == 201, answer.text
                sent += 1
        deadline = time.monotonic() + 30
        while not (orphans := _leased(services)) and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        killed_at = time.monotonic()
        orphans = _leased(services)
        if orphans:
            break
    assert orphans, f"no kill landed during a job in {ATTEMPTS} attempts"

    with open(tmp_path / "worker.log", "wb") as out:
        worker = subprocess.Popen([str(QINGLING), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        while time.monotonic() - killed_at < TAKEOVER_LIMIT + 30:
            with services.sessions() as session:
                states = set(session.scalars(select(Job.state).where(Job.id.in_(orphans))))
                if states == {"done"}:
                    break
            time.sleep(0.2)
        taken_over_after = time.monotonic() - killed_at
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with services.sessions() as session:
                if not session.scalar(select(func.count()).select_from(Job).where(Job.state != "done")):
                    break
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=30)
    print(f"orphaned job(s) {orphans} done {taken_over_after:.1f} s after the kill")
    assert taken_over_after < TAKEOVER_LIMIT, (taken_over_after, (tmp_path / "worker.log").read_text())
    with services.sessions() as session:
        jobs = list(session.scalars(select(Job)))
        assert {(job.state, job.attempts, job.lease_token) for job in jobs} == {("done", 1, None)}
        assert session.scalar(select(func.count()).select_from(PhotoCheck)) == len(digests)  # each photo once
    assert "Traceback" not in (tmp_path / "worker.log").read_text()
