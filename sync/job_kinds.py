r"""The table of background job kinds: which function runs each, with what it needs bound in.

The queue (sync/jobs/queue.py) runs jobs by name and imports none of the modules below; this is the one
place that knows them all, so the flow between them reads here, one way:

    ingestion --"normalize"--> registry (place the submission, judge it) -> ledger items (same transaction)
                           \--"photos"--> evidence flags

The photo checks follow normalization because most of them are measured against the household (its
registered location, whether a reused photo belongs to another household), which only normalization
knows. Ingestion queues "photos" itself only when a later request fills in a missing file of a
submission it already has. "flatten" backfills the exports' stored rows of versions received before
ingestion wrote them (sync/exports/stored.py); migration 0011 queues it once.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from sync.db.models import Job, SubmissionVersion
from sync.evidence.examine import PhotoSettings, images_of
from sync.exports.copies import backfill
from sync.jobs.queue import JobKind, JobKinds, enqueue
from sync.ledger.derive import derive_households
from sync.registry.normalize import run_normalize_job

NORMALIZE = "normalize"
PHOTOS = "photos"
FLATTEN = "flatten"  # the exports' copies of versions stored before ingestion wrote them (migration 0011)


def job_kinds(photos: PhotoSettings) -> JobKinds:
    return {
        NORMALIZE: JobKind(run=_normalize_then_check_photos),
        PHOTOS: JobKind(run=partial(_run_photos, photos), prepare=partial(_prepare_photos, photos)),
        FLATTEN: JobKind(run=_flatten_batch),
    }


# The photo checks import numpy, OpenCV and SciPy (media/duplicates.py: about 90 MiB); they are imported
# when the worker runs the first photos job, not when the server starts.
def _prepare_photos(photos: PhotoSettings, *args: Any) -> Any:
    from sync.evidence.checks import prepare_photos_job

    return prepare_photos_job(photos, *args)


def _run_photos(photos: PhotoSettings, *args: Any) -> None:
    from sync.evidence.checks import run_photos_job

    run_photos_job(photos, *args)


def _flatten_batch(session: Session, job: Job, prepared: Any) -> None:
    """One batch of the backfill, then the next batch as a job of its own (each commits on its own)."""
    if backfill(session):
        enqueue(session, FLATTEN)


def _normalize_then_check_photos(session: Session, job: Job, prepared: Any) -> None:
    # The ledger is derived in the registry's transaction, so it is never behind it (docs/ledger.md).
    derive_households(session, run_normalize_job(session, job))
    version = session.get(SubmissionVersion, job.submission_version_id) if job.submission_version_id else None
    if version is not None and images_of(version):
        enqueue(session, PHOTOS, version.id)
