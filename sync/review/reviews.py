"""Review decisions on submissions (Central's ``reviewState``), and their effect on the registry.

A decision is recorded and the submission is normalized again by the queue: a rejected submission no
longer counts for its household, an approval (or a rejection undone) restores its contribution.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sync.db.models import Form, Submission, utcnow
from sync.errors import BadRequest
from sync.intake.submissions import get_submission
from sync.job_kinds import NORMALIZE
from sync.jobs.queue import enqueue
from sync.oversight.audit import record

REVIEW_STATES = ("hasIssues", "edited", "approved", "rejected")


def set_review_state(
    session: Session, form: Form, instance_id: str, state: str | None, *, user_id: int | None
) -> Submission:
    if state is not None and state not in REVIEW_STATES:
        raise BadRequest(f"reviewState must be one of {', '.join(REVIEW_STATES)} or null.")
    submission, version = get_submission(session, form, instance_id)
    submission.review_state = state
    submission.updated_at = utcnow()
    enqueue(session, NORMALIZE, version.id)
    record(session, "submission.update", subject=instance_id, details={"reviewState": state}, user_id=user_id)
    return submission
