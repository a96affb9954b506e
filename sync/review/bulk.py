"""Bulk review: one decision for the selected submissions, or for everything matching a filter.

Each batch of submissions is one transaction; each submission in it gets its own audit row and its own
re-normalization, exactly as a single decision does (sync/review/reviews.py ``decide``). The set is fixed
by id before anything changes and walked in id order, so a filter on the very state being changed (e.g.
"not reviewed") neither skips rows nor picks up rows that were outside it when the reviewer chose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.access.scope import Scope
from sync.db.engine import transaction
from sync.db.models import Submission, SubmissionVersion
from sync.review.queue import QueueFilter, conditions
from sync.review.reviews import check_state, decide

BATCH = 200


def _batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def chosen_ids(
    session: Session, scope: Scope, *, ids: Iterable[int] = (), wanted: QueueFilter | None = None
) -> list[int]:
    """The submissions a bulk decision applies to: the given ids, or all matching ``wanted``; within scope."""
    where = conditions(scope, wanted or QueueFilter())
    query = select(Submission.id).where(*where).order_by(Submission.id)
    if wanted is None:
        chosen = sorted({int(i) for i in ids})
        if not chosen:
            return []
        query = query.where(Submission.id.in_(chosen))
    return list(session.scalars(query))


def bulk_decide(
    factory: sessionmaker[Session], submission_ids: list[int], state: str, *, user_id: int | None,
    notes: str | None = None, batch: int = BATCH,
) -> int:
    """Apply ``state`` to every id (already checked against the reader's scope); returns how many changed."""
    check_state(state)
    changed = 0
    for ids in _batches(submission_ids, batch):
        with transaction(factory) as session:
            rows = session.execute(
                select(Submission, SubmissionVersion.id)
                .join(SubmissionVersion, SubmissionVersion.submission_id == Submission.id)
                .where(Submission.id.in_(ids), SubmissionVersion.current.is_(True))
            ).all()
            for submission, version_id in rows:
                decide(session, submission, version_id, state, user_id=user_id, notes=notes)
            changed += len(rows)
    return changed
