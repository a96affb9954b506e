"""Review decisions on submissions (Central's ``reviewState``), and their effect on the registry.

A decision is recorded and the submission is normalized again by the queue: a rejected submission no
longer counts for its household, an approval (or a rejection undone) restores its contribution.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sync.access.scope import Scope
from sync.db.models import Form, Submission, utcnow
from sync.errors import BadRequest
from sync.intake.submissions import get_submission
from sync.job_kinds import NORMALIZE
from sync.jobs.queue import enqueue
from sync.oversight.audit import record

REVIEW_STATES = ("hasIssues", "edited", "approved", "rejected")


def set_review_state(
    session: Session,
    form: Form,
    instance_id: str,
    state: str | None,
    *,
    user_id: int | None,
    scope: Scope | None = None,
    notes: str | None = None,
) -> Submission:
    """Record a decision (Central's ``X-Action-Notes`` become the audit's notes); outside ``scope``: not found."""
    check_state(state)
    submission, version = get_submission(session, form, instance_id, scope)
    decide(session, submission, version.id, state, user_id=user_id, notes=notes)
    return submission


def check_state(state: str | None) -> None:
    if state is not None and state not in REVIEW_STATES:
        raise BadRequest(f"reviewState must be one of {', '.join(REVIEW_STATES)} or null.")


def decide(
    session: Session, submission: Submission, version_id: int, state: str | None, *, user_id: int | None,
    notes: str | None = None,
) -> None:
    """One submission's decision, its audit row and its re-normalization (the registry follows in the queue)."""
    submission.review_state = state
    submission.updated_at = utcnow()
    enqueue(session, NORMALIZE, version_id)
    details: dict = {"reviewState": state}
    if notes:
        details["notes"] = notes[:2000]
    record(session, "submission.update", subject=submission.instance_id, details=details, user_id=user_id,
           submission_id=submission.id)
