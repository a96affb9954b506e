"""Durable background work and the project's flags.

``jobs`` is the queue: rows added in the transaction that creates the work, claimed by the worker
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one worker on SQLite), retried with a pause after a failure,
and visible with their last error until they succeed. PostgreSQL is the queue engine; nothing else runs.

``flags`` is the one place where anything questionable is recorded: a device verdict that disagrees with
the server's, an identity problem, an offline conflict, a photo-evidence check. Each row names what it
concerns and carries the measured values, and has a resolution state a supervisor changes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sync.db.models.base import Base, utcnow


class Job(Base):
    __tablename__ = "jobs"
    # (state, id): the claim takes the oldest due pending job by walking it in id order, so a claim costs the
    # same whatever the backlog (docs/performance.md, Job claims); (state, run_after): the queue's figures.
    __table_args__ = (
        Index("ix_jobs_state_run_after", "state", "run_after"),
        Index("ix_jobs_state_id", "state", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    submission_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission_versions.id"), nullable=True, index=True
    )
    # pending -> done, or pending again (with attempts + 1 and a later run_after) after a failure.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # While claimed: the lease's end (renewed as the job runs) and the claim's token, so only the worker
    # holding the lease renews it or marks the job done (sync/jobs/queue.py).
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Flag(Base):
    __tablename__ = "flags"
    # The review queue's flag filter: the submissions of the open flags (of a kind), read from this index alone.
    __table_args__ = (Index("ix_flags_open", "state", "kind", "submission_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    severity: Mapped[str] = mapped_column(String(16))  # error / warning / info
    message: Mapped[str] = mapped_column(Text)
    # What raised it: "normalize" (registry rules) or "photos" (evidence checks); a re-run of that step
    # for the same submission replaces the flags it raised before.
    source: Mapped[str] = mapped_column(String(16))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True, index=True)
    submission_version_id: Mapped[int | None] = mapped_column(ForeignKey("submission_versions.id"), nullable=True)
    household_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    other_household_code: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    other_submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True, index=True)
    attachment_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    other_attachment_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The measured values: distance_m, hours_apart, device/server values, hamming distance, ...
    details: Mapped[dict] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open / resolved / dismissed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
