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
from sync.jobs.queue import JobKinds
from sync.registry.verdicts import use_parameter_overlay


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
        """The job kinds with what they need bound in (sync.jobs.queue.run_pending_jobs)."""
        return job_kinds(self.photos)


class DataFolderMissing(Exception):
    """A command that only uses existing data was pointed at a data folder that does not exist."""


def data_folder_problem(settings: Settings) -> str | None:
    """Why ``settings.data_dir`` cannot be used as an existing data folder, or None when it can.

    A relative ``QINGLING_DATA_DIR`` (the default is ``qingling-data``) is read from the current folder, so
    running a command elsewhere would silently start an empty installation there; the message says so.
    """
    folder = settings.data_dir
    if folder.is_dir():
        return None
    where = folder.resolve()
    if folder.exists():
        return f"the data folder {where} (QINGLING_DATA_DIR) is a file, not a folder"
    relative = "" if folder.is_absolute() else f", the relative path {folder} read from the current folder"
    return (
        f"there is no data folder at {where} (QINGLING_DATA_DIR{relative}). Run the command where the data "
        "folder is, or set QINGLING_DATA_DIR to it; `qingling serve`, `qingling db upgrade` and "
        "`qingling users create` make a new one."
    )


def build_services(settings: Settings, *, create: bool = True) -> Services:
    """Build everything from ``settings``; ``create=False`` refuses a missing data folder instead of making it.

    Only the commands that set an installation up (``serve``, ``db upgrade``, ``users create``) and the tests
    create folders; every other command uses what is there (raises :class:`DataFolderMissing`).
    """
    if create:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    elif (problem := data_folder_problem(settings)) is not None:
        raise DataFolderMissing(problem)
    engine = make_engine(settings.resolved_database_url, pool_size=max(settings.threads, 5))
    use_parameter_overlay(settings.parameter_dir)
    secret_key = ensure_secret_key(settings, create=create)
    return Services(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        store=build_store(settings, create=create),
        verifier=PasswordVerifier(secret_key),
        secret_key=secret_key,
    )


def build_store(settings: Settings, *, create: bool = True) -> BlobStore:
    if settings.blob_store == "s3":
        return make_store(
            "s3",
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url or None,
            prefix=settings.s3_prefix,
            region=settings.s3_region or None,
        )
    return make_store("local", root=settings.resolved_blob_dir, create=create)
