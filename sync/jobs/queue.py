"""The job queue: enqueue in the caller's transaction, run with ``run_pending_jobs``.

A job is added in the same transaction as the submission it concerns, so it exists exactly when the
submission does. ``run_pending_jobs`` claims one job at a time in a short transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so several workers can share the queue) that leases it to this worker, runs its
kind's optional preparer outside any transaction, then its handler, and marks it done in the handler's
transaction. A failing handler leaves no partial work: its transaction is rolled back, the job records
the error and is retried after a growing pause, and after ``MAX_ATTEMPTS`` it stays ``failed`` and raises
a flag, so a failure is always visible. Every handler can safely run twice.

A claim is a short lease (``LEASE``, 30 seconds) with a token; while the job runs, a thread of the worker
renews it every ``RENEW_EVERY``. A worker that dies (kill -9, a lost machine) stops renewing, so its job
is due again at most ``LEASE`` later and the next poll of any worker takes it: a crash costs seconds, not
the length of the longest job. The token makes a stalled worker harmless: its renewal and its final
"done" only touch the row while the token is still its own, so a job taken over is never committed twice
(the final conditional ``UPDATE`` locks the row until commit; a concurrent claimer skips it).

The queue knows no job's module: the caller hands it the table of kinds (``JobKind`` by name), built in
``sync/job_kinds.py`` with whatever each handler needs already bound.

Done jobs are evidence for a while (``qingling jobs list --all``) and clutter after: ``prune_done`` deletes
those finished longer ago than the retention, a batch per short transaction, so neither SQLite's one write
lock nor PostgreSQL's row locks are held for long and uploads go on meanwhile. Failed jobs are never pruned:
they wait for a retry or for an operator.
"""

from __future__ import annotations

import logging
import secrets
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from sync.db.models import Job, SubmissionVersion, utcnow
from sync.oversight.flags import raise_flag

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
PRUNE_BATCH = 1000  # done jobs deleted per transaction: a few milliseconds of write lock each


Handler = Callable[[Session, Job, Any], None]  # (session, job, what the preparer returned or None)
Preparer = Callable[[sessionmaker[Session], int], Any]  # (session factory, job id)
# How long a claim lasts unless renewed: a dead worker's job is taken again at most this long after it died.
LEASE = timedelta(seconds=30)
# How often a running job's lease is renewed; a third of the lease, so two renewals may fail in a row
# (a busy database) before another worker could take the job.
RENEW_EVERY = LEASE / 3


class LeaseLost(RuntimeError):
    """The job was taken over (this worker stalled past its lease); this run's work is discarded."""


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


_INSERT_JOB = insert(Job.__table__)


def enqueue_now(session: Session, kind: str, submission_version_id: int) -> None:
    """``enqueue`` as one INSERT at once, without an ORM object (ingestion's hot path)."""
    session.execute(_INSERT_JOB, {"kind": kind, "submission_version_id": submission_version_id, "state": "pending"})


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(10 * 2 ** (attempts - 1), 3600))


def run_pending_jobs(
    factory: sessionmaker[Session],
    kinds: JobKinds,
    *,
    limit: int | None = None,
    now: datetime | None = None,
    lease: timedelta = LEASE,
) -> int:
    """Run due jobs until none is left (or ``limit`` ran); returns how many ran, failed ones included."""
    ran = 0
    while limit is None or ran < limit:
        outcome = _run_one(factory, kinds, now, lease)
        if outcome is None:
            return ran
        ran += 1
    return ran


def _run_one(
    factory: sessionmaker[Session], kinds: JobKinds, now: datetime | None, lease: timedelta
) -> bool | None:
    claimed = _claim(factory, now, lease)
    if claimed is None:
        return None
    job_id, name, token = claimed
    keeper = _LeaseKeeper(factory, job_id, token, lease)
    keeper.start()
    try:
        kind = kinds.get(name)
        if kind is None:
            raise LookupError(f"this process knows no job kind {name!r}")
        prepared = kind.prepare(factory, job_id) if kind.prepare is not None else None
        with factory() as session:
            job = session.get(Job, job_id)
            assert job is not None
            kind.run(session, job, prepared)
            session.flush()
            _finish(session, job_id, token, job.attempts + 1)
            session.commit()
        return True
    except LeaseLost:
        log.warning("job %s (%s) was taken over by another worker; this run's work is discarded", job_id, name)
        return False
    except Exception:  # noqa: BLE001 - any failure of a handler is recorded on the job, never lost
        error = traceback.format_exc(limit=8)
        log.exception("job %s (%s) failed", job_id, name)
    finally:
        keeper.stop()
    _record_failure(factory, job_id, token, error, now)
    return False


def _finish(session: Session, job_id: int, token: str, attempts: int) -> None:
    """Mark the job done in the handler's transaction, only if this worker still holds its lease."""
    finished = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_token == token, Job.state == "pending")
        .values(state="done", finished_at=utcnow(), last_error=None, attempts=attempts, lease_token=None)
        .execution_options(synchronize_session=False)
    )
    if finished.rowcount != 1:
        session.rollback()
        raise LeaseLost(job_id)


class _LeaseKeeper:
    """Renews a running job's lease every ``lease / 3`` until stopped; the thread dies with its process."""

    def __init__(self, factory: sessionmaker[Session], job_id: int, token: str, lease: timedelta) -> None:
        self.factory, self.job_id, self.token, self.lease = factory, job_id, token, lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"qingling-lease-{job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 3):
            try:
                with self.factory() as session, session.begin():
                    renewed = session.execute(
                        update(Job)
                        .where(Job.id == self.job_id, Job.lease_token == self.token, Job.state == "pending")
                        .values(run_after=utcnow() + self.lease)
                        .execution_options(synchronize_session=False)
                    )
                if renewed.rowcount != 1:
                    return  # finished meanwhile, or taken over: _finish will tell
            except Exception:  # noqa: BLE001 - a busy or briefly absent database: the next renewal may pass
                log.warning("the lease of job %s could not be renewed", self.job_id, exc_info=True)


def _claim(factory: sessionmaker[Session], now: datetime | None, lease: timedelta) -> tuple[int, str, str] | None:
    """Take the next due job, leasing it (run_after moves past now) so no other worker takes it meanwhile.

    The claim is its own short transaction: no row lock or SQLite write lock is held while the job runs.
    A worker that dies leaves the job pending; it is due again when the lease ends.
    """
    moment = now or utcnow()
    with factory() as session, session.begin():
        job = session.scalar(
            select(Job)
            # run_after is never null: the coalesce only keeps both databases from reading the due jobs as a
            # range of ix_jobs_state_run_after and sorting all of them (44 ms a claim with 100,000 waiting);
            # they walk ix_jobs_state_id in id order instead and stop at the first due one.
            .where(Job.state == "pending", func.coalesce(Job.run_after, moment) <= moment)
            .order_by(Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if job is None:
            return None
        token = secrets.token_hex(16)
        job.run_after, job.lease_token = moment + lease, token
        return job.id, job.kind, token


def _record_failure(
    factory: sessionmaker[Session], job_id: int, token: str, error: str, now: datetime | None
) -> None:
    with factory() as session, session.begin():
        job = session.get(Job, job_id, with_for_update=True)
        assert job is not None
        if job.lease_token != token or job.state != "pending":
            log.warning("job %s was taken over by another worker; its failure here is not recorded", job_id)
            return
        job.lease_token = None
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


def prune_done(
    factory: sessionmaker[Session],
    retention: timedelta,
    *,
    now: datetime | None = None,
    batch: int = PRUNE_BATCH,
) -> int:
    """Delete done jobs finished more than ``retention`` ago, ``batch`` per transaction; returns how many.

    Each batch commits before the next is chosen, so a large backlog (a first prune after months) never
    holds a write lock for long; pending and failed jobs are never touched.
    """
    cutoff = (now or utcnow()) - retention
    removed = 0
    while True:
        with factory() as session, session.begin():
            ids = list(
                session.scalars(
                    select(Job.id)
                    .where(Job.state == "done", func.coalesce(Job.finished_at, Job.created_at) < cutoff)
                    .order_by(Job.id)
                    .limit(batch)
                )
            )
            if ids:
                session.execute(
                    delete(Job).where(Job.id.in_(ids), Job.state == "done").execution_options(synchronize_session=False)
                )
        removed += len(ids)
        if len(ids) < batch:
            return removed
