"""The county's applied parameter table, kept in step with the database in every process.

Applying a table (sync/ledger/parameters.py) records it in ``parameter_versions`` and writes it to the
applying process's overlay folder. Every other process, on this machine or another one sharing the
database, reads its own folder (``forms.rules.parameters.read_table``), so before judging anything it
asks which version is applied and rewrites its folder when that is not the one it holds: one indexed
primary-key query per job, and the table's text only when it changed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.db.models import ParameterVersion

OVERLAY_FILE = "county.csv"

# The applied version each overlay folder holds, per process (None: none written by this process yet).
_held: dict[Path, int] = {}


def follow_applied_table(session: Session, directory: Path | None) -> None:
    """Make ``directory`` hold the applied parameter table, if one is applied and it is not held already."""
    if directory is None:
        return
    applied = session.scalar(select(ParameterVersion.id).where(ParameterVersion.state == "applied").limit(1))
    if applied is None or _held.get(directory) == applied:
        return
    content = session.scalar(select(ParameterVersion.content).where(ParameterVersion.id == applied))
    write_table(directory, content or "", applied)


def write_table(directory: Path, content: str, version_id: int) -> None:
    """Replace the folder's table in one rename, so a process reading it sees the old table or the new one."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / OVERLAY_FILE
    if not (target.exists() and target.read_text(encoding="utf-8") == content):
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    _held[directory] = version_id
