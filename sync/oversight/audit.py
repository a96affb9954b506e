"""The audit log: one row per action that changes what the server holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.orm import Session

from sync.db.models import Audit


def _columns(
    action: str,
    subject: str | None,
    details: dict | None,
    user_id: int | None,
    app_user_id: int | None,
    submission_id: int | None,
) -> dict:
    """One audit row's columns, shared by the ORM and the Core path so the two cannot drift apart."""
    return {
        "action": action,
        "subject": subject,
        "details": details or {},
        "actor_user_id": user_id,
        "actor_app_user_id": app_user_id,
        "submission_id": submission_id,
    }


def record(
    session: Session,
    action: str,
    *,
    subject: str | None = None,
    details: dict | None = None,
    user_id: int | None = None,
    app_user_id: int | None = None,
    submission_id: int | None = None,
) -> Audit:
    """Add an audit row to the caller's transaction: it is kept exactly when the action is."""
    entry = Audit(**_columns(action, subject, details, user_id, app_user_id, submission_id))
    session.add(entry)
    return entry


_INSERT_AUDIT = insert(Audit.__table__)


def record_now(
    session: Session,
    action: str,
    *,
    subject: str | None = None,
    details: dict | None = None,
    user_id: int | None = None,
    app_user_id: int | None = None,
    submission_id: int | None = None,
) -> None:
    """``record`` as one INSERT at once, without an ORM object (ingestion's hot path)."""
    session.execute(_INSERT_AUDIT, _columns(action, subject, details, user_id, app_user_id, submission_id))


def audit_conditions(
    *, action: str | None = None, start: datetime | None = None, end: datetime | None = None
) -> list[ColumnElement[bool]]:
    """Central's audit filters: ``action`` is an action or a family of them ("submission" = submission.*)."""
    found: list[ColumnElement[bool]] = []
    if action:
        found.append(Audit.action == action if "." in action else Audit.action.like(f"{action}.%"))
    if start is not None:
        found.append(Audit.logged_at >= start)
    if end is not None:
        found.append(Audit.logged_at <= end)
    return found


def list_audits(
    session: Session, conditions: list[ColumnElement[bool]], *, limit: int = 100, offset: int = 0,
    before: int | None = None,
) -> list[Audit]:
    """Audit rows, newest first; ``before`` pages by id (the log only grows), ``offset`` as Central does."""
    query = select(Audit).where(*conditions)
    if before is not None:
        query = query.where(Audit.id < before)
    return list(session.scalars(query.order_by(Audit.id.desc()).offset(offset).limit(limit)))


def audits_of_submission(session: Session, submission_id: int) -> list[Audit]:
    return list(session.scalars(select(Audit).where(Audit.submission_id == submission_id).order_by(Audit.id)))
