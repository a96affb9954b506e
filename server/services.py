"""The long-lived objects one process needs, built from Settings: engine, sessions, blob store, verifier.

The CLI, the web app and the benchmarks build the same objects the same way; ``sync`` and ``media``
receive them as arguments and never look them up themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from media.store import BlobStore, make_store
from server.config import Settings, ensure_secret_key
from sync.accounts import PasswordVerifier
from sync.db import make_engine, make_session_factory


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: BlobStore
    verifier: PasswordVerifier
    secret_key: str


def build_services(settings: Settings) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url, pool_size=max(settings.threads, 5))
    secret_key = ensure_secret_key(settings)
    return Services(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        store=build_store(settings),
        verifier=PasswordVerifier(secret_key),
        secret_key=secret_key,
    )


def build_store(settings: Settings) -> BlobStore:
    if settings.blob_store == "s3":
        return make_store(
            "s3",
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url or None,
            prefix=settings.s3_prefix,
            region=settings.s3_region or None,
        )
    return make_store("local", root=settings.resolved_blob_dir)
