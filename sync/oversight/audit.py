"""The audit log: one row per action that changes what the server holds."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sync.db.models import Audit


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
    entry = Audit(
        submission_id=submission_id,
        action=action,
        subject=subject,
        details=details or {},
        actor_user_id=user_id,
        actor_app_user_id=app_user_id,
    )
    session.add(entry)
    return entry
