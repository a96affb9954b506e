"""``registry rebuild`` with the ledger: the registry is rebuilt and every household's items derived again.

The registry knows nothing of the ledger; it calls back for each household after the final refresh, in
the same transaction (sync/registry/rebuild.py: ``refreshed``). Decisions on items are kept
(sync/ledger/derive.py), so a rebuild reproduces the derived columns exactly and loses no assignment or
manual close.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from sync.ledger.derive import derive_household
from sync.registry.rebuild import RebuildReport, rebuild_registry


def rebuild_with_ledger(
    factory: sessionmaker[Session],
    project_id: int | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    return rebuild_registry(factory, project_id, on_progress=on_progress, refreshed=derive_household)
