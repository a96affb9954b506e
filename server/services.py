"""The long-lived objects one process needs, built from Settings: engine, sessions, blob store, verifier.

The CLI, the web app and the benchmarks build the same objects the same way; ``sync`` and ``media``
receive them as arguments and never look them up themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from media.evidence import EvidenceLimits
from media.store import BlobStore, make_store
from server.config import Settings, ensure_secret_key
from sync.access.accounts import PasswordVerifier
from sync.db.engine import make_engine, make_session_factory
from sync.evidence.examine import PhotoSettings
from sync.job_kinds import job_kinds
from sync.work.queue import JobKinds


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: BlobStore
    verifier: PasswordVerifier
    secret_key: str

    @property
    def photos(self) -> PhotoSettings:
        """What the photo examination and checks need (sync/evidence)."""
        settings = self.settings
        limits = EvidenceLimits(
            max_distance_m=settings.photo_max_distance_m,
            max_time_gap=timedelta(hours=settings.photo_max_time_gap_hours),
            camera_utc_offset=timedelta(hours=settings.photo_camera_utc_offset_hours),
        )
        return PhotoSettings(store=self.store, evidence_limits=limits)

    @property
    def work(self) -> JobKinds:
        """The job kinds with what they need bound in (sync.work.queue.run_pending_jobs)."""
        return job_kinds(self.photos)


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
