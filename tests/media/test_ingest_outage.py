"""The blob store dies while phones are sending: 503 (Collect retries later), never a row without its blob.

The S3 side runs against a real moto server on 127.0.0.1 behind a small TCP forwarder
(tests/media/s3_server.py, SeveringProxy) that cuts the connection after a known number of bytes and kills
the server at that moment: an upload severed mid-write, deterministically. Submissions are POSTed the way
Collect sends them (tests/collect.py) through the app.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from media.store import S3Store, blob_key
from server.config import Settings
from server.services import Services
from sync.db.models import Submission, SubmissionAttachment
from sync.evidence.storage_audit import check_media
from tests.collect import submission_body
from tests.media.deployments import Phone, s3_options, settings_for
from tests.media.photos import jpeg_bytes, scene
from tests.media.s3_server import MotoServer, SeveringProxy
from tests.protocol.conftest import publish

BUCKET = "qingling-outage"
FORM = Path(__file__).parents[1] / "data" / "forms" / "collect_photos.md"


@dataclass
class Outage:
    moto: MotoServer
    proxy: SeveringProxy

    def restart(self) -> None:
        """A new, empty S3 server where the old one was (moto keeps objects in memory only)."""
        self.moto.stop()
        self.moto = MotoServer()
        self.proxy.reopen(self.moto.port)
        S3Store(BUCKET, endpoint_url=self.proxy.endpoint_url).ensure_bucket()


@pytest.fixture
def outage(aws_credentials: None) -> Iterator[Outage]:
    moto = MotoServer()
    proxy = SeveringProxy(moto.port)
    S3Store(BUCKET, endpoint_url=proxy.endpoint_url).ensure_bucket()
    state = Outage(moto, proxy)
    yield state
    state.proxy.close()
    state.moto.stop()


@pytest.fixture
def blob_store() -> str:
    return "s3"


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str, blob_store: str) -> Settings:
    if blob_store == "s3":
        return settings_for(
            tmp_path / "data", database_url, **s3_options(request.getfixturevalue("outage").proxy.endpoint_url, BUCKET)
        )
    return settings_for(tmp_path / "data", database_url)


@pytest.fixture
def phone(client, app_token: str, project) -> Phone:  # noqa: ANN001
    return Phone(client, app_token, project.id)


@pytest.fixture
def form(services: Services, project):  # noqa: ANN001, ANN201
    return publish(services, project, FORM)


def post(phone: Phone, form, instance: str, photos: dict[str, bytes]):  # noqa: ANN001, ANN201
    names = dict(zip(("photo", "photo2"), photos, strict=False))
    xml = form.xml(instance, {"name": "李明", **names})
    started = time.monotonic()
    response = phone.post(submission_body(xml, photos))
    return response, time.monotonic() - started


def rows(services: Services) -> dict[str, object]:
    with services.sessions() as session:
        return {
            "submissions": sorted(session.scalars(select(Submission.instance_id))),
            "attachments": session.scalar(select(func.count()).select_from(SubmissionAttachment)),
        }


def spooled(services: Services) -> list[Path]:
    return [path for path in services.settings.tmp_dir.rglob("*") if path.is_file()]


def assert_retry_later(response, seconds: float) -> None:  # noqa: ANN001
    assert response.status_code == 503, response.data
    assert b"<OpenRosaResponse" in response.data and b"send again later" in response.data
    assert seconds < 10


def test_s3_stopped_mid_write_and_between_posts_is_503_and_the_resend_is_stored(
    services: Services, form, phone: Phone, outage: Outage  # noqa: ANN001
) -> None:
    first = jpeg_bytes(scene(seed=1))
    response, _ = post(phone, form, "uuid:before", {"a.jpg": first})
    assert response.status_code == 201

    # 20 MB goes up as a multipart upload (parts of 8 MiB): the store dies 3 MB into it.
    big = np.random.default_rng(7).bytes(20_000_000)
    outage.proxy.sever_after(3_000_000, then=outage.moto.stop)
    response, seconds = post(phone, form, "uuid:during", {"big.jpg": big})
    assert outage.proxy.severed.is_set()
    assert_retry_later(response, seconds)

    # Still down: the next phone gets 503 fast as well, while the server itself answers.
    small = jpeg_bytes(scene(seed=2))
    response, seconds = post(phone, form, "uuid:after", {"b.jpg": small})
    assert_retry_later(response, seconds)
    assert phone.client.head(phone.url, headers={"X-OpenRosa-Version": "1.0"}).status_code == 204

    assert rows(services) == {"submissions": ["uuid:before"], "attachments": 1}  # nothing of the failed posts
    assert spooled(services) == []  # and no upload left in the spool folder

    outage.restart()
    for instance, photos in (("uuid:during", {"big.jpg": big}), ("uuid:after", {"b.jpg": small})):
        response, _ = post(phone, form, instance, photos)  # Collect sends again later
        assert response.status_code == 201, response.data
    assert rows(services) == {"submissions": ["uuid:after", "uuid:before", "uuid:during"], "attachments": 3}
    for data in (big, small):
        with services.store.open(blob_key(hashlib.sha256(data).hexdigest())) as handle:
            assert handle.read() == data

    # The restarted moto server starts empty, so the first photo really is gone now; the check says so.
    report = check_media(services.sessions, services.store)
    assert [(problem.kind, problem.key) for problem in report.problems] == [
        ("missing", blob_key(hashlib.sha256(first).hexdigest()))
    ]


@pytest.mark.parametrize("blob_store", ["local"])
def test_local_store_whose_volume_disappears_is_503_until_it_is_back(
    services: Services, form, phone: Phone  # noqa: ANN001
) -> None:
    root = services.settings.resolved_blob_dir
    response, _ = post(phone, form, "uuid:l1", {"a.jpg": jpeg_bytes(scene(seed=3))})
    assert response.status_code == 201
    shutil.move(root, root.with_name("unmounted"))  # the volume is gone
    photo = jpeg_bytes(scene(seed=4))
    response, seconds = post(phone, form, "uuid:l2", {"b.jpg": photo})
    assert_retry_later(response, seconds)
    assert rows(services) == {"submissions": ["uuid:l1"], "attachments": 1}
    assert not root.exists()  # the store never re-creates a missing mount point
    shutil.move(root.with_name("unmounted"), root)
    response, _ = post(phone, form, "uuid:l2", {"b.jpg": photo})
    assert response.status_code == 201
    assert check_media(services.sessions, services.store).ok
