"""Examining an image blob once: inspect, thumbnail and fingerprint it, and record its ``PhotoCheck``.

Each distinct blob (by SHA-256) is examined once, however many submissions attach it: the blob is read back
from the store (and its digest verified), inspected with Pillow (``media.images.inspect_image``: a file
that claims to be an image but is not, is truncated, or is a decompression bomb is recorded as unreadable
and stays stored as sent), thumbnailed (upright, no EXIF) beside the original under ``thumbnail_key``, and
fingerprinted (``media.duplicates``: hashes and view keys) and its local features computed
(``media.keypoints``: ORB, stored beside the thumbnails under ``features_key``); the view keys go to
``photo_keys``, the candidate index of the reused-photo look-up. The flags built on these facts are
raised per submission, in ``sync/evidence/checks.py``.
"""

from __future__ import annotations

import mimetypes
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from media.digests import digest_stream
from media.evidence import EvidenceLimits
from media.images import ImageReport, UnreadableImage, inspect_image, make_thumbnails
from media.store import BlobNotFound, BlobStore, features_key, thumbnail_key
from sync.db.models import PhotoCheck, PhotoKey, SubmissionAttachment, SubmissionVersion, utcnow

if TYPE_CHECKING:  # media.duplicates imports numpy, OpenCV and SciPy: only the photos job needs them
    from media.duplicates import Fingerprint


@dataclass(frozen=True)
class PhotoSettings:
    """What the photo work needs besides a session: the blob store and the limits from Settings."""

    store: BlobStore
    evidence_limits: EvidenceLimits = field(default_factory=EvidenceLimits)
    thumbnail_sizes: tuple[int, ...] = (256, 1024)


@dataclass
class ImageFacts:
    """What the per-blob work found: the report, the stored thumbnails (size -> key), the fingerprint and
    the blob key of the local features."""

    report: ImageReport
    thumbnails: dict[int, str] = field(default_factory=dict)
    fingerprint: Fingerprint | None = None
    features_key: str | None = None

    @property
    def problem(self) -> str | None:
        """``"<code>: <detail>"`` for an unreadable image (PhotoCheck.problem), else None."""
        if self.report.readable:
            return None
        return f"{self.report.reason or 'corrupt'}: {self.report.details[0] if self.report.details else ''}"


def examine_image(
    store: BlobStore, sha256: str, path: Path, *, declared_name: str | None = None, sizes: tuple[int, ...] = (256, 1024)
) -> ImageFacts:
    """Inspect the image at ``path``, store its thumbnails under ``thumbnail_key(sha256, size)``, fingerprint it
    and store its local features under ``features_key(sha256)``.

    The same code runs in the ``photos`` job and, for the benchmark's "thumbnails on the request path"
    variant, inside the request. Never raises for a bad image; store failures propagate (the job retries).
    """
    report = inspect_image(path, declared_name=declared_name)
    if not report.readable:
        return ImageFacts(report)
    try:
        from media.duplicates import examine  # the photos job's first image imports OpenCV (not the server)

        thumbnails = make_thumbnails(path, sizes)
        prints, features = examine(path)
    except UnreadableImage as exc:  # inspect_image passed it, the decoder did not: still unreadable
        return ImageFacts(ImageReport(readable=False, problems=(exc.problem,), details=(exc.detail,)))
    keys = {}
    for size, data in sorted(thumbnails.items()):
        keys[size] = thumbnail_key(sha256, size)
        store.put_bytes(keys[size], data, content_type="image/jpeg")
    store.put_bytes(features_key(sha256), features.to_bytes())
    return ImageFacts(report, keys, prints, features_key(sha256))


def images_of(version: SubmissionVersion) -> list[SubmissionAttachment]:
    """The version's attachments that are stored and claim to be images."""
    return [a for a in version.attachments if a.present and a.sha256 and a.blob_key and claims_image(a)]


def claims_image(attachment: SubmissionAttachment) -> bool:
    """True when the phone said (content type) or the name suggests that the attachment is an image."""
    declared = (attachment.content_type or "").split(";")[0].strip().lower()
    guessed = mimetypes.guess_type(attachment.name)[0] or ""
    return declared.startswith("image/") or guessed.startswith("image/")


def unexamined(session: Session, version: SubmissionVersion) -> dict[str, tuple[str, str]]:
    """SHA-256 -> (blob key, name) of the version's images whose blob has no PhotoCheck yet."""
    todo = {}
    for attachment in images_of(version):
        if session.scalar(select(PhotoCheck.id).where(PhotoCheck.sha256 == attachment.sha256)) is None:
            todo[attachment.sha256] = (attachment.blob_key, attachment.name)
    return todo


def photo_check(
    session: Session,
    settings: PhotoSettings,
    attachment: SubmissionAttachment,
    examined: ImageFacts | str | None = None,
) -> PhotoCheck | str:
    """The PhotoCheck of the attachment's blob, made now if this blob was never checked; or why it cannot be.

    A string is returned (and nothing stored, so the next run tries again) when the blob is missing from
    the store or does not match its SHA-256. StoreUnavailable propagates: the job is retried later.
    ``examined`` is what the job's preparer found outside the transaction, when it ran.
    """
    sha256 = attachment.sha256
    assert sha256 is not None and attachment.blob_key is not None
    existing = session.scalar(select(PhotoCheck).where(PhotoCheck.sha256 == sha256))
    if existing is not None:
        return existing
    facts = examined if examined is not None else examine_blob(settings, sha256, attachment.blob_key, attachment.name)
    if isinstance(facts, str):
        return facts
    report = facts.report
    check = PhotoCheck(
        sha256=sha256,
        readable=report.readable,
        problem=facts.problem,
        image_format=report.format,
        width=report.width,
        height=report.height,
        taken_at=_stored_time(report.captured_at, settings.evidence_limits),
        latitude=report.latitude,
        longitude=report.longitude,
        fingerprint={"value": facts.fingerprint.to_string()} if facts.fingerprint else {},
        thumbnails={str(size): key for size, key in facts.thumbnails.items()},
        features_key=facts.features_key,
        checked_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(check)
            session.flush()
            if facts.fingerprint is not None:
                rows = facts.fingerprint.index_rows()
                session.add_all(PhotoKey(key=key, fine=_signed(fine), photo_check_id=check.id) for key, fine in rows)
    except IntegrityError:
        # Another worker checked the same bytes at the same moment (photo_checks.sha256 is unique).
        existing = session.scalar(select(PhotoCheck).where(PhotoCheck.sha256 == sha256))
        if existing is None:
            raise
        return existing
    return check


def examine_blob(settings: PhotoSettings, sha256: str, key: str, name: str) -> ImageFacts | str:
    """Read the blob back, check its hash and examine it; or say why it cannot be checked."""
    with tempfile.TemporaryDirectory(prefix="qingling-photo-") as folder:
        path = Path(folder) / "original"
        try:
            with settings.store.open(key) as source, path.open("wb") as target:
                digest = digest_stream(source, copy_to=target).sha256
        except BlobNotFound:
            return "its file is missing from the blob store"
        if digest != sha256:
            return "the stored file does not match its SHA-256"
        return examine_image(settings.store, sha256, path, declared_name=name, sizes=settings.thumbnail_sizes)


def _signed(value: int) -> int:
    """A 64-bit unsigned hash as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _stored_time(moment: datetime | None, limits: EvidenceLimits) -> datetime | None:
    """EXIF time as UTC: naive camera times are read at the configured camera offset (media/evidence.py)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone(limits.camera_utc_offset))
    return moment.astimezone(UTC)
