"""Fixtures for media tests: a real S3-compatible server (moto) and stores of both kinds.

Reusable elsewhere: ``s3_server`` (endpoint URL of a moto server started once per session, or once per
xdist worker), ``s3_bucket`` (a bucket on it), ``s3_store`` (an S3Store under a fresh key prefix per test)
and ``local_store``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from media.store import LocalStore, S3Store
from tests.media.s3_server import MotoServer, dummy_aws_credentials

TEST_BUCKET = "qingling-tests"


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    with dummy_aws_credentials():
        yield


@pytest.fixture(scope="session")
def s3_server(aws_credentials: None) -> Iterator[str]:
    """Endpoint URL of a moto S3 server on 127.0.0.1, shared by the session."""
    server = MotoServer()
    yield server.endpoint_url
    server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_server: str) -> str:
    S3Store(TEST_BUCKET, endpoint_url=s3_server).ensure_bucket()
    return TEST_BUCKET


@pytest.fixture
def s3_prefix() -> str:
    """A key prefix of its own for each test, so tests sharing the bucket never see each other's keys."""
    return f"test-{uuid.uuid4().hex[:12]}/"


@pytest.fixture
def s3_store_factory(s3_server: str, s3_bucket: str, s3_prefix: str) -> Callable[..., S3Store]:
    def build(**options: Any) -> S3Store:
        return S3Store(s3_bucket, endpoint_url=s3_server, prefix=s3_prefix, **options)

    return build


@pytest.fixture
def s3_store(s3_store_factory: Callable[..., S3Store]) -> S3Store:
    return s3_store_factory()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "blobs")
