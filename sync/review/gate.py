"""The approval gate (Central's ``approvalRequired``), per form: the registry counts a submission of the
form only once it is approved; until then its record is kept as ``pending`` and shown as such.

Turning the gate on or off re-normalizes the form's submissions through the queue, so the registry matches
the new rule exactly as ``registry rebuild`` would compute it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.db.models import Form, Submission, SubmissionVersion
from sync.job_kinds import NORMALIZE
from sync.jobs.queue import enqueue
from sync.oversight.audit import record


def set_approval_required(session: Session, form: Form, required: bool, *, user_id: int | None) -> int:
    """Set the gate; returns how many submissions were queued for normalization again."""
    if form.approval_required == required:
        return 0
    form.approval_required = required
    version_ids = session.scalars(
        select(SubmissionVersion.id)
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .where(Submission.form_id == form.id, SubmissionVersion.current.is_(True))
        .order_by(SubmissionVersion.id)
    ).all()
    for version_id in version_ids:
        enqueue(session, NORMALIZE, version_id)
    record(session, "form.update", subject=form.xml_form_id, details={"approvalRequired": required},
           user_id=user_id)
    return len(version_ids)
