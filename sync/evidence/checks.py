"""The ``photos`` job: the evidence flags of one submission's photos.

Normalization queues this job once it has placed the submission in the registry (sync/registry/normalize.py),
so the household is known here; ingestion queues it directly only when a later request fills in a file of
a submission already received. For each present image attachment of the submission version, the blob's
``PhotoCheck`` is taken (or made: sync/evidence/examine.py), then the flags are raised together
(``replace_flags(session, version, "photos", drafts)``): unreadable photo, photo taken too far from the
household's registered location or from the submission's ``gps_house``, taken far from the visit
(``start``/``end``), taken for an on-site visit but without a geotag, the same bytes or a reused (edited)
copy attached to a *different* household of the same project (media/duplicates.py: view-key lookup, then
hashes or ORB keypoints decide).

Why a background job and not the request: with this work on the request path, 6 to 12 times fewer
submissions per second were accepted and the median upload took 1.2-1.8 s instead of 0.1-0.3 s
(docs/performance.md, "Photos"); and only the job ever decodes an uploaded image.

Every step can run twice: a PhotoCheck is reused, thumbnail puts are idempotent, ``replace_flags`` keeps
flags that are raised again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from media.evidence import EvidenceCheck, EvidenceFinding, EvidenceLimits, check_photo_evidence
from media.exif import ExifFacts
from media.geo import GeoPoint, parse_geopoint
from media.images import ImageReport, extension_mismatch
from sync.db.models import Form, Household, Job, PhotoCheck, SubmissionAttachment, SubmissionVersion
from sync.evidence.examine import PhotoSettings, examine_blob, images_of, photo_check, unexamined
from sync.evidence.reuse import Placement, duplicate_flags
from sync.intake.instance_xml import answers_from_xml, local_name, parse_instance, repeat_names, values_at
from sync.oversight.flags import FlagDraft, replace_flags
from sync.registry.households import households_of

log = logging.getLogger(__name__)

SOURCE = "photos"
PROBLEM_WORDS = {
    "not_an_image": "it is not an image",
    "truncated": "the file is cut short",
    "decompression_bomb": "it declares more pixels than can be decoded safely",
    "corrupt": "the image data is damaged",
}


def prepare_photos_job(settings: PhotoSettings, factory: sessionmaker[Session], job_id: int) -> dict:
    """Examine the blobs never checked before, with no transaction open (decoding is the slow part)."""
    with factory() as session:
        job = session.get(Job, job_id)
        version = (
            session.get(SubmissionVersion, job.submission_version_id) if job and job.submission_version_id else None
        )
        todo = unexamined(session, version) if version is not None else {}
        session.rollback()
    return {sha256: examine_blob(settings, sha256, key, name) for sha256, (key, name) in todo.items()}


def run_photos_job(settings: PhotoSettings, session: Session, job: Job, prepared: dict | None) -> None:
    version = session.get(SubmissionVersion, job.submission_version_id) if job.submission_version_id else None
    if version is not None:
        check_submission_photos(session, settings, version, prepared=prepared)


def check_submission_photos(
    session: Session,
    settings: PhotoSettings,
    version: SubmissionVersion,
    *,
    prepared: dict | None = None,
) -> list[FlagDraft]:
    """Check the version's present images and replace its ``photos`` flags; returns the drafts raised."""
    images = images_of(version)
    checks: dict[str, PhotoCheck | str] = {}
    for attachment in images:
        if attachment.sha256 not in checks:
            checks[attachment.sha256] = photo_check(
                session, settings, attachment, (prepared or {}).get(attachment.sha256)
            )
    if not version.current:
        return []  # an edit replaced this version; its own job raises the submission's flags
    visit = _Visit.of(session, version)
    drafts: list[FlagDraft] = []
    for attachment in images:
        attachment.field = visit.fields.get(attachment.name)  # the gallery filters photos by question
        check = checks[attachment.sha256]
        drafts += _image_flags(attachment, check, visit, settings.evidence_limits)
    placement = Placement(visit.household, visit.project_id, visit.fields)
    drafts += duplicate_flags(session, version, placement, images, checks, settings.store)
    replace_flags(session, version, SOURCE, drafts)
    return drafts


def _utc(moment: datetime | None) -> datetime | None:
    """Times read back from the database: SQLite returns naive UTC, PostgreSQL aware."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass
class _Visit:
    """What the flags are measured against: the household, the submission's geopoint and visit window."""

    household: Household | None
    location: GeoPoint | None
    start: datetime | None
    end: datetime | None
    fields: dict[str, str]  # attachment name -> photo field (e.g. ph_front)
    project_id: int

    @classmethod
    def of(cls, session: Session, version: SubmissionVersion) -> _Visit:
        root = parse_instance(version.xml)
        answers = answers_from_xml(root, repeat_names(version.form_version.xml))
        fields = {}
        for path in version.form_version.binary_paths:
            for value in values_at(root, path):
                fields.setdefault(value, local_name(path.rsplit("/", 1)[-1]))
        gps = answers.get("gps_house")
        return cls(
            household=households_of(session, {version.submission_id}).get(version.submission_id),
            location=parse_geopoint(gps) if isinstance(gps, str) else None,
            start=_answer_time(answers.get("start")),
            end=_answer_time(answers.get("end")),
            fields=fields,
            project_id=session.scalar(select(Form.project_id).where(Form.id == version.form_id)),
        )

    @property
    def household_location(self) -> GeoPoint | None:
        h = self.household
        if h is None or h.latitude is None or h.longitude is None:
            return None
        try:
            return GeoPoint(h.latitude, h.longitude)
        except ValueError:
            return None

    @property
    def household_code(self) -> str | None:
        return self.household.code if self.household is not None else None


def _answer_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _image_flags(
    attachment: SubmissionAttachment, check: PhotoCheck | str, visit: _Visit, limits: EvidenceLimits
) -> list[FlagDraft]:
    name = attachment.name
    common = {"household_code": visit.household_code, "attachment_name": name}
    photo_field = visit.fields.get(name)
    if isinstance(check, str):
        return [
            FlagDraft(
                kind="photo_missing",
                severity="error",
                message=f"{name} is recorded as received but {check}; run `qingling media check`.",
                details={"photo_field": photo_field, "sha256": attachment.sha256, "reason": check},
                **common,
            )
        ]
    if not check.readable:
        code, _, detail = (check.problem or "corrupt: ").partition(": ")
        return [
            FlagDraft(
                kind="photo_unreadable",
                severity="error",
                message=f"{name} cannot be used as a photo: {PROBLEM_WORDS.get(code, code)}. It is kept as sent.",
                details={"photo_field": photo_field, "problem": code, "detail": detail, "sha256": check.sha256},
                **common,
            )
        ]
    drafts = []
    if mismatch := extension_mismatch(check.image_format, name):
        drafts.append(
            FlagDraft(
                kind="photo_format_mismatch",
                severity="info",
                message=f"{name}: {mismatch}; it was read as {check.image_format}.",
                details={"photo_field": photo_field, "format": check.image_format},
                **common,
            )
        )
    report = ImageReport(
        readable=True,
        format=check.image_format,
        exif=ExifFacts(captured_at=_utc(check.taken_at), latitude=check.latitude, longitude=check.longitude),
    )
    findings = check_photo_evidence(
        report,
        household_location=visit.household_location,
        submission_location=visit.location,
        visit_start=visit.start,
        visit_end=visit.end,
        limits=limits,
        on_site=visit.location is not None,  # the form records where the visit took place (gps_house)
    )
    for finding in findings:
        if finding.flagged:
            drafts.append(_evidence_flag(finding, check, visit, photo_field, common))
    return drafts


def _evidence_flag(
    finding: EvidenceFinding, check: PhotoCheck, visit: _Visit, photo_field: str | None, common: dict
) -> FlagDraft:
    name = common["attachment_name"]
    if finding.check is EvidenceCheck.NO_GEOTAG:
        return FlagDraft(
            kind="photo_without_location",
            severity="warning",
            message=f"{name}: {finding.message}.",
            details={
                "field": "exif_gps",
                "photo_field": photo_field,
                "exif_time": check.taken_at is not None,
                "submission_location": [visit.location.latitude, visit.location.longitude] if visit.location else None,
            },
            **common,
        )
    if finding.check is EvidenceCheck.TAKEN_TOO_FAR_AWAY:
        assert finding.distance_m is not None and finding.limit_m is not None
        if finding.reference == "household":
            field_name, place, against = "household_location", "the household's registered location", visit.household
            reference = [against.latitude, against.longitude] if against is not None else None
        else:
            field_name, place = "gps_house", "the location recorded in the form (gps_house)"
            reference = [visit.location.latitude, visit.location.longitude] if visit.location else None
        return FlagDraft(
            kind="photo_taken_too_far_away",
            severity="warning",
            message=f"{name} was taken {finding.distance_m:,.0f} m from {place} (limit {finding.limit_m:,.0f} m).",
            details={
                "field": field_name,
                "reference": finding.reference,
                "photo_field": photo_field,
                "distance_m": round(finding.distance_m, 1),
                "limit_m": finding.limit_m,
                "photo_location": [check.latitude, check.longitude],
                "reference_location": reference,
            },
            **common,
        )
    assert finding.time_gap is not None and finding.limit_gap is not None
    taken = _utc(check.taken_at)
    return FlagDraft(
        kind="photo_taken_far_from_visit_time",
        severity="warning",
        message=f"{name}: {finding.message}.",
        details={
            "field": "start_end",
            "photo_field": photo_field,
            "time_gap_hours": round(finding.time_gap.total_seconds() / 3600, 2),
            "limit_hours": round(finding.limit_gap.total_seconds() / 3600, 2),
            "taken_at": taken.isoformat() if taken else None,
            "visit_start": visit.start.isoformat() if visit.start else None,
            "visit_end": visit.end.isoformat() if visit.end else None,
        },
        **common,
    )
