"""``qingling serve --workers 2`` and two ``qingling worker`` processes on one PostgreSQL database.

Phones send photo submissions while one HTTP process is killed with SIGKILL: the parent starts another,
phones resend what was cut off (as Collect does), and afterwards every submission is stored once and
every job is done once by the two workers sharing the queue. SQLite refuses more than one HTTP process.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import func, select

from server.cli import main
from server.config import load_settings
from server.services import Services, build_services
from server.startup import prepare_database
from sync.db.engine import transaction
from sync.db.models import Job, PhotoCheck, Submission
from sync.intake.projects import ensure_default_project
from tests.collect import COLLECT_HEADERS, DEVICE_ID, submission_body
from tests.conftest import DATA
from tests.images import jpeg_bytes
from tests.protocol.conftest import publish
from tests.protocol.test_concurrency import QINGLING, _environment, _free_port

PHONES, EACH = 4, 10


def _children(parent: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.add(int(entry.name))
    return found


@pytest.fixture
def deployment(postgres_databases, tmp_path: Path) -> Iterator[tuple[Services, dict[str, str]]]:  # noqa: ANN001
    url = postgres_databases.create()
    data_dir = tmp_path / "data"
    services = build_services(load_settings({}, data_dir=data_dir, database_url=url, publish_forms_on_start=False))
    yield services, _environment(data_dir, url)
    services.engine.dispose()
    postgres_databases.drop(url)


@pytest.mark.postgres_only
def test_two_http_processes_and_two_workers_share_one_database(deployment, tmp_path: Path) -> None:  # noqa: ANN001
    services, env = deployment
    project = prepare_database(services, None)
    form = publish(services, project, DATA / "forms" / "collect_photos.md")
    with transaction(services.sessions) as session:
        token = ensure_default_project(session, services.settings.default_project_name)[1].token
    port = _free_port()
    logs = [open(tmp_path / name, "wb") for name in ("serve.log", "worker-1.log", "worker-2.log")]  # noqa: SIM115
    command = [str(QINGLING), "serve", "--workers", "2", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    workers = [
        subprocess.Popen([str(QINGLING), "worker"], env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs[1:]
    ]
    url = f"http://127.0.0.1:{port}/v1/key/{token}/projects/{project.id}/submission?deviceID={DEVICE_ID}"
    digests: set[str] = set()
    acknowledged: list[str] = []
    failures: list[BaseException] = []
    try:
        deadline = time.monotonic() + 90
        while len(_children(server.pid)) < 2 or not _healthy(port):
            assert time.monotonic() < deadline and server.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        first_children = _children(server.pid)

        def phone(number: int) -> None:
            try:
                for n in range(EACH):
                    photo = jpeg_bytes(number * 100 + n, (800, 600))
                    digests.add(hashlib.sha256(photo).hexdigest())
                    xml = form.xml(f"uuid:proc-{number}-{n}", {"name": f"{number}-{n}", "photo": "p.jpg"})
                    _send_until_acknowledged(url, submission_body(xml, {"p.jpg": photo}))
                    acknowledged.append(f"{number}-{n}")
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                failures.append(exc)

        phones = [threading.Thread(target=phone, args=(number,)) for number in range(PHONES)]
        for thread in phones:
            thread.start()
        # Kill one HTTP process while the phones are still sending (after the first few are stored).
        while len(acknowledged) < PHONES and not failures:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        victim = min(first_children)
        os.kill(victim, signal.SIGKILL)
        for thread in phones:
            thread.join(timeout=300)
        assert not failures, failures
        assert len(acknowledged) == PHONES * EACH
        # The parent reaps the killed process and starts another after its restart pause.
        restart_deadline = time.monotonic() + 30
        while victim in (children := _children(server.pid)) or len(children) != 2:
            assert time.monotonic() < restart_deadline, children
            time.sleep(0.1)
        assert _healthy(port)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with services.sessions() as session:
                if not session.scalar(select(func.count()).select_from(Job).where(Job.state != "done")):
                    break
            time.sleep(0.5)
    finally:
        for process in (server, *workers):
            process.send_signal(signal.SIGTERM if process is server else signal.SIGINT)
        for process in (server, *workers):
            process.wait(timeout=30)
        for log in logs:
            log.close()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()
    assert not _children(server.pid)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == PHONES * EACH
        jobs = list(session.scalars(select(Job)))
        assert {(job.state, job.attempts) for job in jobs} == {("done", 1)}
        assert len(jobs) == 2 * PHONES * EACH  # normalize and photos for each
        assert session.scalar(select(func.count()).select_from(PhotoCheck)) == len(digests)
    for name in ("worker-1.log", "worker-2.log"):
        assert "Traceback" not in (tmp_path / name).read_text()


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _send_until_acknowledged(url: str, body, attempts: int = 10) -> None:  # noqa: ANN001
    """Collect resends a submission whose upload failed; the identical resend is not stored twice."""
    for _attempt in range(attempts):
        try:
            headers = {**COLLECT_HEADERS, "Content-Type": body.content_type}
            answer = requests.post(url, data=body.body(), headers=headers, timeout=60)
            if answer.status_code == 201:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not acknowledged after {attempts} attempts")


def test_sqlite_refuses_more_than_one_http_process(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("QINGLING_DATA_DIR", str(tmp_path / "data"))
    refused = CliRunner().invoke(main, ["serve", "--workers", "2", "--port", "1"])
    assert refused.exit_code == 1
    assert "--workers 2 needs PostgreSQL" in refused.output and "docs/scaling.md" in refused.output
