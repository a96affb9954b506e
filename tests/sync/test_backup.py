"""``qingling backup`` while phones keep sending, ``qingling restore`` into a fresh data folder.

Everything acknowledged before the backup began is in the restored folder byte for byte (instance XML
and photos), nothing is half there, and ``qingling media check`` finds no missing blob and no orphan.
The backup covers the embedded default; PostgreSQL is backed up with its own tools
(tests/sync/test_pg_dump.py, docs/operations.md).
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from click.testing import CliRunner
from sqlalchemy import select

from server.cli import main
from server.config import load_settings
from server.services import build_services
from server.startup import prepare_database
from sync.db.engine import transaction
from sync.db.models import SubmissionVersion
from sync.intake.projects import ensure_default_project
from tests.collect import COLLECT_HEADERS, DEVICE_ID, submission_body
from tests.conftest import DATA
from tests.images import jpeg_bytes
from tests.protocol.conftest import publish
from tests.protocol.test_concurrency import QINGLING, ServeProcess, _environment

PHONES = 4
PER_PHONE = 25  # bounded: each phone stops after this many or when told


@dataclass(frozen=True)
class Acknowledged:
    instance_id: str
    xml: bytes
    photos: dict[str, bytes]
    at: float  # time.monotonic() of the 201


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(QINGLING), *args], env=env, capture_output=True, text=True, timeout=300)


def test_a_backup_taken_while_phones_send_restores_every_acknowledged_submission(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = load_settings({}, data_dir=data_dir, publish_forms_on_start=False)
    services = build_services(settings)
    project = prepare_database(services, None)
    form = publish(services, project, DATA / "forms" / "collect_photos.md")
    with transaction(services.sessions) as session:
        token = ensure_default_project(session, settings.default_project_name)[1].token
    services.engine.dispose()
    env = _environment(data_dir, None)
    server = ServeProcess(env, tmp_path / "serve.log")
    url = f"{server.url}/v1/key/{token}/projects/{project.id}/submission?deviceID={DEVICE_ID}"
    acknowledged: list[Acknowledged] = []
    stop = threading.Event()

    def phone(number: int) -> None:
        with requests.Session() as http:
            for n in range(PER_PHONE):
                if stop.is_set():
                    return
                instance_id = f"uuid:backup-{number}-{n}"
                photos = {f"{number}-{n}.jpg": jpeg_bytes(number * 1000 + n, (800, 600))}
                xml = form.xml(instance_id, {"name": f"户主 {number}-{n}", "photo": f"{number}-{n}.jpg"})
                body = submission_body(xml, photos)
                headers = {**COLLECT_HEADERS, "Content-Type": body.content_type}
                answer = http.post(url, data=body.body(), headers=headers, timeout=60)
                if answer.status_code == 201:
                    acknowledged.append(Acknowledged(instance_id, xml, photos, time.monotonic()))

    phones = [threading.Thread(target=phone, args=(number,)) for number in range(PHONES)]
    try:
        for thread in phones:
            thread.start()
        while len(acknowledged) < 20:
            time.sleep(0.05)
        began = time.monotonic()
        made = _run(["backup", str(tmp_path / "backup")], env)
        ended = time.monotonic()
        stop.set()
        for thread in phones:
            thread.join(timeout=120)
    finally:
        stop.set()
        server.stop()
    assert made.returncode == 0, made.stderr
    assert "backed up" in made.stdout
    before = [ack for ack in acknowledged if ack.at < began]
    assert len(before) >= 20
    assert any(ack.at > ended for ack in acknowledged) or len(acknowledged) == PHONES * PER_PHONE

    restored_dir = tmp_path / "restored"
    restored_env = _environment(restored_dir, None)
    answer = _run(["restore", str(tmp_path / "backup")], restored_env)
    assert answer.returncode == 0, answer.stderr
    assert (restored_dir / "secret_key").read_text() == (data_dir / "secret_key").read_text()

    restored = build_services(load_settings({}, data_dir=restored_dir, publish_forms_on_start=False))
    try:
        with restored.sessions() as session:
            versions = {v.instance_id: v for v in session.scalars(select(SubmissionVersion))}
            sent = {ack.instance_id for ack in acknowledged}
            assert set(versions) <= sent  # nothing that was not sent
            for ack in before:
                version = versions[ack.instance_id]
                assert version.xml == ack.xml, ack.instance_id
                stored = {a.name: a for a in version.attachments}
                assert set(stored) == set(ack.photos)
                for name, photo in ack.photos.items():
                    assert stored[name].present, (ack.instance_id, name)
                    with restored.store.open(stored[name].blob_key) as blob:
                        assert blob.read() == photo, (ack.instance_id, name)
    finally:
        restored.engine.dispose()
    check = _run(["media", "check"], restored_env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 missing" in check.stdout and "0 orphan" in check.stdout


def test_backup_and_restore_refuse_what_they_cannot_do_safely(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    runner = CliRunner()
    monkeypatch.setenv("QINGLING_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QINGLING_PUBLISH_FORMS_ON_START", "false")
    prepare_database(build_services(load_settings()), None)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    refused = runner.invoke(main, ["backup", str(tmp_path / "full")])
    assert refused.exit_code == 1 and "is not empty" in refused.output
    (tmp_path / "interrupted").mkdir()
    refused = runner.invoke(main, ["restore", str(tmp_path / "interrupted")])
    assert refused.exit_code == 1 and "not a complete backup" in refused.output
    assert runner.invoke(main, ["backup", str(tmp_path / "good")]).exit_code == 0
    refused = runner.invoke(main, ["restore", str(tmp_path / "good")])  # into the live data folder
    assert refused.exit_code == 1 and "restore into a fresh data folder" in refused.output
    monkeypatch.setenv("QINGLING_DATABASE_URL", "postgresql+psycopg://qingling@127.0.0.1:1/qingling")
    refused = runner.invoke(main, ["backup", str(tmp_path / "pg")])
    assert refused.exit_code == 1 and "docs/operations.md" in refused.output
