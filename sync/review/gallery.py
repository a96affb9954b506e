"""The photo gallery: the thumbnails of a filtered set of submissions (e.g. every roof photo of a C/D house
in one township this month), paged by keyset on the attachment, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.access.scope import Scope
from sync.db.models import Form, FormVersion, PhotoCheck, Submission, SubmissionAttachment, SubmissionVersion
from sync.review.outline import outline
from sync.review.queue import QueueFilter, conditions

PAGE_SIZE = 48


@dataclass
class GalleryPhoto:
    attachment_id: int
    sha256: str
    name: str
    field: str | None
    submission: Submission
    xml_form_id: str
    taken_at: object | None


def photos(
    session: Session, scope: Scope, wanted: QueueFilter, *, field: str = "", after: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[GalleryPhoto], int | None]:
    """A page of photos of the submissions ``wanted`` selects, and the cursor of the next page."""
    query = (
        select(SubmissionAttachment, Submission, Form.xml_form_id, PhotoCheck.taken_at)
        .join(SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id)
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .join(Form, Form.id == Submission.form_id)
        .join(PhotoCheck, PhotoCheck.sha256 == SubmissionAttachment.sha256)
        .where(
            *conditions(scope, wanted),
            SubmissionVersion.current.is_(True),
            SubmissionAttachment.present.is_(True),
            PhotoCheck.readable.is_(True),
        )
    )
    if field:
        query = query.where(SubmissionAttachment.field == field)
    if after is not None:
        query = query.where(SubmissionAttachment.id < after)
    rows = session.execute(query.order_by(SubmissionAttachment.id.desc()).limit(limit + 1)).all()
    found = [
        GalleryPhoto(a.id, a.sha256 or "", a.name, a.field, submission, xml_form_id, taken_at)
        for a, submission, xml_form_id, taken_at in rows[:limit]
    ]
    return found, (found[-1].attachment_id if len(rows) > limit else None)


def photo_questions(session: Session, project_id: int, xml_form_id: str, language: str) -> list[tuple[str, str]]:
    """(field, label) of the image questions of the project's forms (of one form, when given)."""
    query = (
        select(FormVersion.xml)
        .join(Form, Form.current_version_id == FormVersion.id)
        .where(Form.project_id == project_id)
    )
    if xml_form_id:
        query = query.where(Form.xml_form_id == xml_form_id)
    found: dict[str, str] = {}
    for xml in session.scalars(query):
        for node in outline(xml).walk():
            if node.kind == "question" and node.control == "upload" and node.mediatype.startswith("image"):
                found.setdefault(node.name, node.label(language))
    return sorted(found.items(), key=lambda item: item[1])
