"""Fixtures for protocol tests: published test forms and a Collect-like client on the Flask test client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from server.services import Services
from sync.db.engine import transaction
from sync.db.models import Submission, SubmissionAttachment, SubmissionVersion
from sync.intake.publishing import publish_source
from tests.collect import COLLECT_HEADERS, DEVICE_ID, Multipart, instance_xml
from tests.conftest import DATA


@dataclass
class PublishedForm:
    form_id: str
    version: str
    root: str
    md5: str

    def xml(self, instance_id: str, fields: dict[str, str], **kwargs: object) -> bytes:
        return instance_xml(self.form_id, self.version, instance_id, fields, root=self.root, **kwargs)


def publish(services: Services, project, source: Path) -> PublishedForm:  # noqa: ANN001
    with transaction(services.sessions) as session:
        result = publish_source(session, services.store, project, source)
        root = result.version.binary_paths[0].split("/")[1] if result.version.binary_paths else "data"
        return PublishedForm(result.form.xml_form_id, result.version.version, root, result.version.md5)


@pytest.fixture
def photo_form(services: Services, project) -> PublishedForm:  # noqa: ANN001
    return publish(services, project, DATA / "forms" / "collect_photos.md")


class Collect:
    """A phone configured with the app-user URL, talking through the Flask test client."""

    def __init__(self, client: FlaskClient, server_path: str) -> None:
        self.client = client
        self.server_path = server_path

    def get(self, url: str, **kwargs: object):  # noqa: ANN201
        separator = "&" if "?" in url else "?"
        return self.client.get(
            f"{url}{separator}deviceID={DEVICE_ID.replace(':', '%3A')}", headers=COLLECT_HEADERS, **kwargs
        )

    def form_list(self):  # noqa: ANN201
        return self.get(f"{self.server_path}/formList")

    def head(self):  # noqa: ANN201
        return self.client.head(f"{self.server_path}/submission?deviceID=x", headers=COLLECT_HEADERS)

    def post(self, multipart: Multipart, headers: dict | None = None):  # noqa: ANN201
        return self.client.post(
            f"{self.server_path}/submission?deviceID={DEVICE_ID.replace(':', '%3A')}",
            data=multipart.body(),
            content_type=multipart.content_type,
            headers={**COLLECT_HEADERS, **(headers or {})},
        )


@pytest.fixture
def collect(client: FlaskClient, app_token: str, project) -> Collect:  # noqa: ANN001
    return Collect(client, f"/v1/key/{app_token}/projects/{project.id}")


def counts(services: Services) -> dict[str, int]:
    """Rows and files a request may have left behind."""
    with services.sessions() as session:
        result = {
            "submissions": session.scalar(select(func.count()).select_from(Submission)),
            "versions": session.scalar(select(func.count()).select_from(SubmissionVersion)),
            "attachments": session.scalar(select(func.count()).select_from(SubmissionAttachment)),
        }
    blob_dir = services.settings.resolved_blob_dir
    result["submission_blobs"] = len(list(blob_dir.rglob("*"))) if blob_dir.exists() else 0
    tmp = services.settings.tmp_dir
    result["tmp_files"] = len([p for p in tmp.rglob("*") if p.is_file()]) if tmp.exists() else 0
    return result
