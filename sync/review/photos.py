"""Photos as the workspace serves them: by content (sha256), only when a submission in scope holds them.

Thumbnails are content-addressed (the same bytes always give the same thumbnail), so their URLs never
change meaning and browsers may keep them; whether the reader may see a photo at all is decided here on
every request, by the scope's ``blob_condition``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from media.images import DISPLAYABLE_TYPES
from sync.access.scope import Scope
from sync.db.models import PhotoCheck, SubmissionAttachment
from sync.errors import NotFound

SIZES = (256, 1024)


def visible_attachment(session: Session, scope: Scope, sha256: str) -> SubmissionAttachment:
    """One stored attachment with these bytes, if the reader's scope holds one; else NotFound."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise NotFound("There is no such photo.")
    if not session.scalar(select(scope.blob_condition(sha256))):
        raise NotFound("There is no such photo.")
    found = session.scalar(
        select(SubmissionAttachment)
        .where(SubmissionAttachment.sha256 == sha256, SubmissionAttachment.present.is_(True))
        .order_by(SubmissionAttachment.id)
        .limit(1)
    )
    if found is None:
        raise NotFound("There is no such photo.")
    return found


def thumbnail_key(session: Session, scope: Scope, sha256: str, size: int) -> str:
    """The blob key of the ``size`` thumbnail of a photo the reader may see."""
    if size not in SIZES:
        raise NotFound("There is no thumbnail of that size.")
    visible_attachment(session, scope, sha256)
    check = session.scalar(select(PhotoCheck).where(PhotoCheck.sha256 == sha256))
    key = (check.thumbnails or {}).get(str(size)) if check is not None else None
    if not key:
        raise NotFound("This photo has no thumbnail (yet, or it could not be read).")
    return key


def checked_image_type(session: Session, sha256: str | None) -> str | None:
    """The type a browser may show the blob as, by what the photo checks decoded (never what the phone
    declared); None when it is not a readable image or has not been checked yet."""
    if not sha256:
        return None
    found = session.scalar(select(PhotoCheck.image_format).where(PhotoCheck.sha256 == sha256, PhotoCheck.readable))
    return DISPLAYABLE_TYPES.get(found or "")


def photo_checks(session: Session, sha256s: set[str]) -> dict[str, PhotoCheck]:
    if not sha256s:
        return {}
    return {c.sha256: c for c in session.scalars(select(PhotoCheck).where(PhotoCheck.sha256.in_(sha256s)))}
