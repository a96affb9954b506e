"""A whole deployment on either blob store, for tests outside tests/media that need S3 too.

Import the fixtures into a test module (``from tests.media.deployments import settings, ...``): ``settings``
there replaces the one in tests/conftest.py, and ``blob_store`` picks the store ("local" unless a test
parametrizes it, e.g. ``@pytest.mark.parametrize("blob_store", ["local", "s3"])``). The S3 side is the
same real moto server the store contract tests use (tests/media/conftest.py), one per test session.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from server.config import Settings, load_settings
from tests.collect import COLLECT_HEADERS, DEVICE_ID, Multipart
from tests.media.conftest import aws_credentials, s3_bucket, s3_server  # noqa: F401 - fixtures

__all__ = ["Phone", "aws_credentials", "blob_store", "s3_bucket", "s3_server", "settings", "settings_for"]


def settings_for(data_dir: Path, database_url: str, **store: object) -> Settings:
    return load_settings(
        {},
        data_dir=data_dir,
        database_url=database_url,
        publish_forms_on_start=False,
        allow_http_basic=True,
        threads=8,
        **store,
    )


def s3_options(endpoint_url: str, bucket: str) -> dict[str, str]:
    """Settings for an S3 store under a key prefix of its own (tests share the bucket)."""
    return {
        "blob_store": "s3",
        "s3_bucket": bucket,
        "s3_endpoint_url": endpoint_url,
        "s3_prefix": f"test-{uuid.uuid4().hex[:12]}/",
    }


@pytest.fixture
def blob_store() -> str:
    return "local"


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, database_url: str, blob_store: str) -> Settings:
    store: dict[str, object] = {}
    if blob_store == "s3":
        store = s3_options(request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket"))
    return settings_for(tmp_path / "data", database_url, **store)


class Phone:
    """Collect's submission POST through the Flask test client (tests/protocol/conftest.py's Collect)."""

    def __init__(self, client: FlaskClient, token: str, project_id: int) -> None:
        self.client = client
        self.url = f"/v1/key/{token}/projects/{project_id}/submission?deviceID={DEVICE_ID.replace(':', '%3A')}"

    def post(self, multipart: Multipart):  # noqa: ANN201 - a werkzeug TestResponse
        return self.client.post(
            self.url, data=multipart.body(), content_type=multipart.content_type, headers=COLLECT_HEADERS
        )
