"""Queries about submissions, their versions and attachments."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session, selectinload

from sync.access.scope import Scope
from sync.db.models import Form, Submission, SubmissionAttachment, SubmissionVersion
from sync.errors import NotFound


def list_submissions(
    session: Session, form: Form, *, limit: int | None = None, offset: int = 0, scope: Scope | None = None
) -> Sequence[tuple[Submission, SubmissionVersion]]:
    """Logical submissions of ``form`` with their current version, oldest first (within ``scope``)."""
    query = (
        select(Submission, SubmissionVersion)
        .join(SubmissionVersion, SubmissionVersion.submission_id == Submission.id)
        .where(Submission.form_id == form.id, SubmissionVersion.current.is_(True))
        .where(_within(scope))
        .order_by(Submission.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(s, v) for s, v in session.execute(query).all()]


def count_submissions(session: Session, form: Form, scope: Scope | None = None) -> int:
    query = select(func.count()).select_from(Submission).where(Submission.form_id == form.id, _within(scope))
    return session.scalar(query) or 0


def _within(scope: Scope | None):  # noqa: ANN202 - a SQL condition
    return true() if scope is None else scope.submission_condition()


def get_submission(
    session: Session, form: Form, instance_id: str, scope: Scope | None = None
) -> tuple[Submission, SubmissionVersion]:
    """A logical submission by its (first) instanceID, with its current version and attachments.

    Outside ``scope`` it is not found: a supervisor cannot tell another area's submission from none."""
    row = session.execute(
        select(Submission, SubmissionVersion)
        .join(SubmissionVersion, SubmissionVersion.submission_id == Submission.id)
        .where(
            Submission.form_id == form.id,
            Submission.instance_id == instance_id,
            SubmissionVersion.current.is_(True),
            _within(scope),
        )
        .options(selectinload(SubmissionVersion.attachments))
    ).first()
    if row is None:
        raise NotFound(f"Could not find the submission '{instance_id}'.")
    return row[0], row[1]


def submission_versions(session: Session, submission: Submission) -> list[SubmissionVersion]:
    return list(
        session.scalars(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == submission.id)
            .order_by(SubmissionVersion.id.desc())
        )
    )


def get_attachment(session: Session, version: SubmissionVersion, name: str) -> SubmissionAttachment:
    attachment = session.scalar(
        select(SubmissionAttachment).where(
            SubmissionAttachment.submission_version_id == version.id, SubmissionAttachment.name == name
        )
    )
    if attachment is None or not attachment.present:
        raise NotFound(f"The submission has no attachment named '{name}' (or it has not arrived yet).")
    return attachment
