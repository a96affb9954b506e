"""``qingling media check`` as an operator runs it, on the local store and on a real S3-compatible server.

A healthy installation checks clean (exit 0). Then the store is damaged the ways it really gets damaged (a
blob deleted by hand, bytes overwritten, a copy cut short, a thumbnail lost, leftovers of failed requests)
and the check names each problem, with the rows that point at it, and exits 1.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from click.testing import CliRunner, Result

from forms.build import CompiledForm, compile_xlsform
from media.store import blob_key, thumbnail_key
from server.cli import main
from server.services import Services
from sync.db.engine import transaction
from sync.evidence.storage_audit import check_media
from sync.intake.publishing import publish_form
from sync.jobs.queue import run_pending_jobs
from tests.collect import instance_xml, submission_body
from tests.conftest import DATA
from tests.formsapi.conftest import manager  # noqa: F401 - fixture
from tests.formsapi.test_forms_api import create, upload
from tests.formsapi.workbooks import VILLAGES_CSV, XLSX, workbook
from tests.media.deployments import (  # noqa: F401 - fixtures
    Phone,
    aws_credentials,
    blob_store,
    s3_bucket,
    s3_server,
    settings,
)
from tests.media.photos import jpeg_bytes, scene

pytestmark = pytest.mark.parametrize("blob_store", ["local", "s3"])


@pytest.fixture(scope="module")
def village_form() -> CompiledForm:
    return compile_xlsform(DATA / "forms" / "village_visit.md", validate=False)


@pytest.fixture
def installation(services: Services, project, client, app_token: str, village_form: CompiledForm) -> Services:  # noqa: ANN001
    """Two visits with a photo each (and the village list as form media), photo checks done."""
    with transaction(services.sessions) as session:
        publish_form(session, services.store, project, village_form, {"villages.csv": DATA / "forms" / "villages.csv"})
    phone = Phone(client, app_token, project.id)
    for number in (1, 2, 3):
        xml = instance_xml(
            village_form.form_id,
            village_form.version,
            f"uuid:visit-{number}",
            {"village": "150102001001", "name": f"户主{number}", "house": f"house{number}.jpg"},
            root=village_form.form_id,
        )
        photo = jpeg_bytes(scene((640, 480), seed=100 + number))
        assert phone.post(submission_body(xml, {f"house{number}.jpg": photo})).status_code == 201
    run_pending_jobs(services.sessions, services.work)
    return services


def media_check(services: Services, *args: str) -> Result:
    config = services.settings
    env = {key: None for key in os.environ if key.startswith("QINGLING_")}
    env.update(
        {
            "QINGLING_DATA_DIR": str(config.data_dir),
            "QINGLING_DATABASE_URL": config.database_url,
            "QINGLING_BLOB_STORE": config.blob_store,
            "QINGLING_BLOB_DIR": str(config.resolved_blob_dir) if config.blob_store == "local" else None,
            "QINGLING_S3_BUCKET": config.s3_bucket,
            "QINGLING_S3_ENDPOINT_URL": config.s3_endpoint_url,
            "QINGLING_S3_PREFIX": config.s3_prefix,
        }
    )
    return CliRunner().invoke(main, ["media", "check", *args], env=env, catch_exceptions=False)


def photo_key(number: int) -> str:
    return blob_key(hashlib.sha256(jpeg_bytes(scene((640, 480), seed=100 + number))).hexdigest())


def test_a_healthy_store_checks_clean(installation: Services) -> None:
    result = media_check(installation)
    assert result.exit_code == 0, result.output
    # 3 photos + 1 form media file + 2 thumbnails and the keypoints per photo: every one read back and hashed.
    assert "13 references to 13 blobs checked (size and SHA-256); 13 keys in the store" in result.stdout
    assert "problems: 0 missing, 0 wrong size, 0 wrong sha256, 0 orphan" in result.stdout
    progress = []
    check_media(installation.sessions, installation.store, progress=lambda done, total: progress.append((done, total)))
    assert progress[0] == (0, 13) and progress[-1] == (13, 13)


def test_damage_is_reported_both_ways_with_exit_code_1(installation: Services) -> None:
    store = installation.store
    store.delete(photo_key(1))  # deleted by hand
    with store.open(photo_key(2)) as handle:
        original = handle.read()
    store.put_bytes(photo_key(2), bytes(reversed(original)))  # same size, other bytes
    store.put_bytes(photo_key(3), original[:1000])  # cut short (and the wrong bytes)
    sha3 = photo_key(3).rsplit("/", 1)[-1]
    store.delete(thumbnail_key(sha3, 256))  # a lost thumbnail
    stray = b"left by a request that failed after the store write"
    store.put_bytes(blob_key(hashlib.sha256(stray).hexdigest()), stray)
    store.put_bytes(thumbnail_key("ab" * 32, 1024), b"a thumbnail of nothing")

    result = media_check(installation)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert "problems: 2 missing, 1 wrong size, 2 wrong sha256, 2 orphan" in lines[-1]

    def line(kind: str, key: str) -> str:
        (found,) = [text for text in lines if text.startswith(kind) and key in text]
        return found

    assert "submission 1 (uuid:visit-1) house1.jpg" in line("MISSING", photo_key(1))
    assert "256 px thumbnail" in line("MISSING", thumbnail_key(sha3, 256))
    assert "uuid:visit-2" in line("WRONG_SHA256", photo_key(2))
    assert "1,000 bytes stored" in line("WRONG_SIZE", photo_key(3))
    assert "uuid:visit-3" in line("WRONG_SHA256", photo_key(3))
    line("ORPHAN", blob_key(hashlib.sha256(stray).hexdigest()))
    line("ORPHAN", thumbnail_key("ab" * 32, 1024))

    quick = media_check(installation, "--sizes-only")  # one metadata call per blob: same-size damage passes
    assert quick.exit_code == 1
    assert "problems: 2 missing, 1 wrong size, 0 wrong sha256, 2 orphan" in quick.stdout
    assert "(size only)" in quick.stdout


def test_a_drafts_files_count_until_the_draft_is_replaced(installation: Services, client, manager) -> None:  # noqa: ANN001, F811
    """The media and spreadsheets of versions and drafts are referenced; a replaced draft's files that
    nothing else names are orphans (blobs are shared by hash, so the draft leaves them in the store)."""
    def draft(body: bytes) -> None:
        sent = client.post("/v1/projects/1/forms/draft_files/draft", data=body, content_type=XLSX, headers=manager)
        assert sent.status_code == 200, sent.json

    assert create(client, manager, workbook("draft_files", "1")).status_code == 200
    assert upload(client, manager, "draft_files", "villages.csv", VILLAGES_CSV).status_code == 200
    assert check_media(installation.sessions, installation.store).ok  # the draft's spreadsheet and CSV
    assert client.post("/v1/projects/1/forms/draft_files/draft/publish", headers=manager).status_code == 200
    assert check_media(installation.sessions, installation.store).ok  # now the version's

    second, csv = workbook("draft_files", "2"), VILLAGES_CSV + "150102001003,三村\n".encode()
    draft(second)
    assert upload(client, manager, "draft_files", "villages.csv", csv).status_code == 200
    assert check_media(installation.sessions, installation.store).ok
    draft(workbook("draft_files", "3", [["type", "name", "label"], ["integer", "members", "Members"]]))
    report = check_media(installation.sessions, installation.store)
    assert {(p.kind, p.key) for p in report.problems} == {
        ("orphan", blob_key(hashlib.sha256(csv).hexdigest())),
        ("orphan", blob_key(hashlib.sha256(second).hexdigest())),
    }
