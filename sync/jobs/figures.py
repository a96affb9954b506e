"""What an operator watches about the job queue: depth by kind and state, running jobs, the oldest wait.

Read by the ``/metrics`` endpoint at every scrape, so each figure is one indexed aggregate over
``jobs`` (done jobs are counted too, which ``ix_jobs_state_run_after`` serves; the workers delete them
``QINGLING_JOB_RETENTION_DAYS`` after they finish, docs/operations.md, so they do not pile up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.db.models import Job, utcnow


@dataclass(frozen=True)
class QueueFigures:
    by_kind_state: dict[tuple[str, str], int]
    running: int  # claimed under a live lease
    oldest_due_seconds: float  # how long the longest-waiting due job (new, retried, or a dead worker's) has waited


def queue_figures(session: Session, now: datetime | None = None) -> QueueFigures:
    moment = now or utcnow()
    grouped = select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)
    counts = {(kind, state): count for kind, state, count in session.execute(grouped)}
    running = session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.state == "pending", Job.lease_token.is_not(None), Job.run_after > moment)
    )
    oldest = session.scalar(
        select(func.min(Job.run_after)).where(Job.state == "pending", Job.run_after <= moment)
    )
    if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC times
        oldest = oldest.replace(tzinfo=moment.tzinfo)
    waited = (moment - oldest).total_seconds() if oldest is not None else 0.0
    return QueueFigures(counts, running or 0, max(waited, 0.0))
