"""``qingling backup`` / ``qingling restore`` for the embedded default: SQLite and the local blob folder.

A backup must be consistent while phones keep sending. SQLite's online backup API copies the database
as one snapshot (a read transaction: with WAL, writers go on meanwhile). Blobs are copied *after* the
snapshot and only those it references: ingestion stores a blob before the rows naming it commit, so
every blob the snapshot names is already in the store, and a blob that arrived later is simply not
named. The restored folder therefore passes ``qingling media check`` with no missing blob and no orphan.

The folder layout is the data folder's own (``qingling.db``, ``blobs/``, ``secret_key``), so a backup is
also a data folder one could point ``QINGLING_DATA_DIR`` at. ``backup.json`` is written last: a folder
without it is an interrupted backup and ``restore`` refuses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from media.store import BlobStore, make_store
from sync.db.engine import make_engine, make_session_factory
from sync.db.models import Submission
from sync.evidence.storage_audit import iter_references

DATABASE = "qingling.db"
BLOBS = "blobs"
SECRET_KEY = "secret_key"
MANIFEST = "backup.json"


class BackupError(Exception):
    """A backup or restore that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class BackupReport:
    created_at: str
    submissions: int
    blobs: int
    blob_bytes: int
    secret_key: bool


def backup(database: Path, store: BlobStore, secret_key: Path | None, dest: Path) -> BackupReport:
    """Snapshot ``database`` and the blobs it references into the new folder ``dest``."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty; back up into a new folder")
    if not database.exists():
        raise BackupError(f"there is no database at {database}")
    dest.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    _snapshot(database, dest / DATABASE)
    blobs, size, submissions = _copy_referenced_blobs(dest / DATABASE, store, make_store("local", root=dest / BLOBS))
    has_key = secret_key is not None and secret_key.exists()
    if has_key:
        shutil.copy2(secret_key, dest / SECRET_KEY)
    report = BackupReport(created, submissions, blobs, size, has_key)
    (dest / MANIFEST).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report


def restore(src: Path, database: Path, blob_dir: Path, secret_key: Path | None) -> BackupReport:
    """Put a backup in place of an empty data folder; refuses to overwrite anything."""
    if not (src / MANIFEST).exists() or not (src / DATABASE).exists():
        raise BackupError(f"{src} is not a complete backup (no {MANIFEST}): it was interrupted or is another folder")
    if database.exists() and database.stat().st_size > 0:
        raise BackupError(f"{database} exists; restore into a fresh data folder (QINGLING_DATA_DIR)")
    if blob_dir.exists() and any(blob_dir.iterdir()):
        raise BackupError(f"{blob_dir} is not empty; restore into a fresh data folder (QINGLING_DATA_DIR)")
    report = BackupReport(**json.loads((src / MANIFEST).read_text()))
    if (src / BLOBS).exists():
        shutil.copytree(src / BLOBS, blob_dir, dirs_exist_ok=True)
    if secret_key is not None and (src / SECRET_KEY).exists() and not secret_key.exists():
        shutil.copy2(src / SECRET_KEY, secret_key)
        secret_key.chmod(0o600)
    # The database last, under a temporary name first: a data folder with a database is a complete one.
    database.parent.mkdir(parents=True, exist_ok=True)
    partial = database.with_name(database.name + ".restoring")
    shutil.copyfile(src / DATABASE, partial)
    os.replace(partial, database)
    return report


def _snapshot(database: Path, target: Path) -> None:
    """One consistent copy through SQLite's online backup API (all pages in one step)."""
    partial = target.with_name(target.name + ".partial")
    with (
        contextlib.closing(sqlite3.connect(database, timeout=30)) as source,
        contextlib.closing(sqlite3.connect(partial)) as copy,
    ):
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    os.replace(partial, target)


def _copy_referenced_blobs(snapshot: Path, source: BlobStore, target: BlobStore) -> tuple[int, int, int]:
    """Copy every blob the snapshot names (attachments, form media, thumbnails); returns count, bytes, submissions."""
    engine = make_engine(f"sqlite:///{snapshot}", pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            keys = sorted({reference.key for reference in iter_references(session)})
            submissions = session.scalar(select(func.count()).select_from(Submission)) or 0
    finally:
        engine.dispose()
    size = 0
    for key in keys:
        with source.open(key) as blob, tempfile.NamedTemporaryFile(dir=snapshot.parent, delete=False) as spool:
            shutil.copyfileobj(blob, spool, 1024 * 1024)
        size += os.path.getsize(spool.name)
        target.put_path(key, Path(spool.name), move=True)
    return len(keys), size, submissions
