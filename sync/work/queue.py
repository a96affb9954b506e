"""The job queue: enqueue in the caller's transaction, run with ``run_pending_jobs``.

A job is added in the same transaction as the submission it concerns, so it exists exactly when the
submission does. ``run_pending_jobs`` claims one job at a time in a short transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so several workers can share the queue) that leases it to this worker, runs its
kind's optional preparer outside any transaction, then its handler, and marks it done in the handler's
transaction. A failing handler leaves no partial work: its transaction is rolled back, the job records
the error and is retried after a growing pause, and after ``MAX_ATTEMPTS`` it stays ``failed`` and raises
a flag, so a failure is always visible. A worker that dies mid-job leaves it to be taken again when its
lease ends. Every handler can safely run twice.

The queue knows no job's module: the caller hands it the table of kinds (``JobKind`` by name), built in
``sync/job_kinds.py`` with whatever each handler needs already bound.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sync.db.models import Job, SubmissionVersion, utcnow
from sync.oversight.flags import raise_flag

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


Handler = Callable[[Session, Job, Any], None]  # (session, job, what the preparer returned or None)
Preparer = Callable[[sessionmaker[Session], int], Any]  # (session factory, job id)
# How long a claimed job is left to its worker before another may take it (a crashed worker's job).
LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class JobKind:
    """How to run jobs of one kind: the handler, and optional slow work to do before it.

    On SQLite every transaction holds the database's one write lock, so a handler that decodes images
    inside its transaction would stall every upload meanwhile. ``prepare`` opens short sessions of its own
    to read what it needs, does the slow part with none open, and its result is handed to ``run``, which
    only writes.
    """

    run: Handler
    prepare: Preparer | None = None


JobKinds = Mapping[str, JobKind]


def enqueue(session: Session, kind: str, submission_version_id: int | None = None) -> Job:
    job = Job(kind=kind, submission_version_id=submission_version_id, state="pending")
    session.add(job)
    return job


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(10 * 2 ** (attempts - 1), 3600))


def run_pending_jobs(
    factory: sessionmaker[Session], kinds: JobKinds, *, limit: int | None = None, now: datetime | None = None
) -> int:
    """Run due jobs until none is left (or ``limit`` ran); returns how many ran, failed ones included."""
    ran = 0
    while limit is None or ran < limit:
        outcome = _run_one(factory, kinds, now)
        if outcome is None:
            return ran
        ran += 1
    return ran


def _run_one(factory: sessionmaker[Session], kinds: JobKinds, now: datetime | None) -> bool | None:
    claimed = _claim(factory, now)
    if claimed is None:
        return None
    job_id, name = claimed
    try:
        kind = kinds.get(name)
        if kind is None:
            raise LookupError(f"this process knows no job kind {name!r}")
        prepared = kind.prepare(factory, job_id) if kind.prepare is not None else None
        with factory() as session:
            job = session.get(Job, job_id)
            assert job is not None
            kind.run(session, job, prepared)
            job.state, job.finished_at, job.last_error = "done", utcnow(), None
            job.attempts += 1
            session.commit()
        return True
    except Exception:  # noqa: BLE001 - any failure of a handler is recorded on the job, never lost
        error = traceback.format_exc(limit=8)
        log.exception("job %s (%s) failed", job_id, name)
    _record_failure(factory, job_id, error, now)
    return False


def _claim(factory: sessionmaker[Session], now: datetime | None) -> tuple[int, str] | None:
    """Take the next due job, leasing it (run_after moves past now) so no other worker takes it meanwhile.

    The claim is its own short transaction: no row lock or SQLite write lock is held while the job runs.
    A worker that dies leaves the job pending; it is due again when the lease ends.
    """
    moment = now or utcnow()
    with factory() as session, session.begin():
        job = session.scalar(
            select(Job)
            .where(Job.state == "pending", Job.run_after <= moment)
            .order_by(Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job is None:
            return None
        job.run_after = moment + LEASE
        return job.id, job.kind


def _record_failure(factory: sessionmaker[Session], job_id: int, error: str, now: datetime | None) -> None:
    with factory() as session, session.begin():
        job = session.get(Job, job_id)
        assert job is not None
        job.attempts += 1
        job.last_error = error[-4000:]
        if job.attempts >= MAX_ATTEMPTS:
            job.state = "failed"
            version = session.get(SubmissionVersion, job.submission_version_id) if job.submission_version_id else None
            if version is not None:
                raise_flag(
                    session,
                    version,
                    kind="processing_failed",
                    severity="error",
                    source="jobs",
                    message=f"The server could not process this submission ({job.kind}) after {job.attempts} tries.",
                    details={"job": job.id, "error": error.strip().splitlines()[-1][:500]},
                )
        else:
            job.run_after = (now or utcnow()) + retry_delay(job.attempts)


def list_jobs(session: Session, *, include_done: bool = False) -> list[Job]:
    query = select(Job).order_by(Job.id)
    if not include_done:
        query = query.where(Job.state != "done")
    return list(session.scalars(query))


def retry_failed(session: Session) -> int:
    failed = session.scalars(select(Job).where(Job.state == "failed")).all()
    for job in failed:
        job.state, job.run_after = "pending", utcnow()
    return len(failed)
