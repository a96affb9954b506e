"""Per-request access to the process services and the request's database session.

The session is opened lazily, owned by the request, and closed at teardown; views commit once.
"""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from server.services import Services


def services() -> Services:
    return current_app.extensions["qingling"]


def db() -> Session:
    if "db" not in g:
        g.db = services().sessions()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def wake_worker() -> None:
    """Tell this process's worker thread (``qingling serve`` runs one) that new work was committed."""
    worker = current_app.extensions.get("qingling.worker")
    if worker is not None:
        worker.wake()
