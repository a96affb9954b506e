"""``registry rebuild``: recompute the whole registry from the stored submissions.

How a rule change reaches past data. Members and history are deleted (households keep their rows, so
their codes never change) and the submissions are normalized again, one at a time in order of receipt
of their current version (the order the live queue used), so the result equals what live processing
produced. Flags raised by normalization are kept and replaced per submission, so a supervisor's
resolution of a flag survives. The submissions are streamed in batches, each committed and expunged, so
memory does not grow with their number; at the end every household is refreshed from its history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from sync.db.models import Form, Household, Submission, SubmissionVersion
from sync.registry.households import refresh_household
from sync.registry.normalize import FORMS, delete_registry, normalize_submission
from sync.registry.overlay import follow_applied_table
from sync.registry.verdicts import parameter_overlay

BATCH = 200


@dataclass(frozen=True)
class RebuildReport:
    submissions: int


def rebuild_registry(
    factory: sessionmaker[Session],
    project_id: int | None = None,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    batch: int = BATCH,
    refreshed: Callable[[Session, Household], None] | None = None,
) -> RebuildReport:
    """``refreshed`` runs for every household after its final refresh, in the same transaction: how what is
    derived from the registry (the ledger, docs/ledger.md) is rebuilt with it without the registry knowing it."""
    with factory() as session, session.begin():
        follow_applied_table(session, parameter_overlay())
        delete_registry(session, project_id)
        total = session.scalar(select(func.count()).select_from(_ordered(project_id).subquery())) or 0
    done, after = 0, 0
    repeats: dict = {}
    while True:
        with factory() as session, session.begin():
            page = session.execute(_ordered(project_id).where(SubmissionVersion.id > after).limit(batch)).all()
            if not page:
                break
            # The page's submissions and their versions in two queries, not two for each submission.
            loaded = session.scalars(
                select(Submission)
                .where(Submission.id.in_([submission_id for submission_id, _version_id in page]))
                .options(selectinload(Submission.versions))
            )
            submissions = {submission.id: submission for submission in loaded}
            for submission_id, version_id in page:
                normalize_submission(session, submissions[submission_id], repeats)
                after = version_id
            done += len(page)
        if on_progress is not None:
            on_progress(done, total)
    _refresh_all(factory, project_id, batch, refreshed)
    return RebuildReport(submissions=done)


def _refresh_all(
    factory: sessionmaker[Session],
    project_id: int | None,
    batch: int,
    refreshed: Callable[[Session, Household], None] | None,
) -> None:
    """Recompute every household, also those no stored submission counts for any more."""
    after = 0
    while True:
        with factory() as session, session.begin():
            query = select(Household).where(Household.id > after).order_by(Household.id).limit(batch)
            if project_id is not None:
                query = query.where(Household.project_id == project_id)
            households = session.scalars(query).all()
            if not households:
                return
            for household in households:
                refresh_household(session, household)
                if refreshed is not None:
                    refreshed(session, household)
            after = households[-1].id


def _ordered(project_id: int | None):  # noqa: ANN202 - a Select of (submission id, version id)
    query = (
        select(SubmissionVersion.submission_id, SubmissionVersion.id)
        .join(Form, Form.id == SubmissionVersion.form_id)
        .where(SubmissionVersion.current.is_(True), Form.xml_form_id.in_(FORMS))
        .order_by(SubmissionVersion.id)
    )
    if project_id is not None:
        query = query.where(Form.project_id == project_id)
    return query
