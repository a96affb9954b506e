"""Form drafts: a definition uploaded but not yet published, its media, and the test phone's submissions.

A draft is what Central calls a form's draft definition: one per form, tried on a test phone through
its own token (``/v1/test/<draft_token>/...``) before it goes out. Its test submissions live in their own
table, so nothing that reads ``submissions`` (the job queue, the registry, the exports) can see them;
publishing or deleting the draft deletes them (docs/forms.md §9).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sync.db.models.base import Base, utcnow


class FormDraft(Base):
    __tablename__ = "form_drafts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), unique=True)
    version: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    binary_paths: Mapped[list] = mapped_column(default=list)
    entity_dataset: Mapped[str | None] = mapped_column(String(100), nullable=True)
    source_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The uploaded spreadsheet (served as .xlsx / .xls), a blob; None for an XForm upload.
    source_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    draft_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    attachments: Mapped[list[FormDraftAttachment]] = relationship(
        back_populates="draft", order_by="FormDraftAttachment.name", cascade="all, delete-orphan"
    )


class FormDraftAttachment(Base):
    """A media file the draft names: ``sha256`` is None until it is uploaded; entity lists have ``dataset``."""

    __tablename__ = "form_draft_attachments"
    __table_args__ = (UniqueConstraint("draft_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("form_drafts.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    dataset: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)

    draft: Mapped[FormDraft] = relationship(back_populates="attachments")


class DraftSubmission(Base):
    """A test phone's submission to a draft: the XML as received and the names of the files that came with it."""

    __tablename__ = "draft_submissions"
    __table_args__ = (UniqueConstraint("draft_id", "instance_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("form_drafts.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(200))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[list] = mapped_column(default=list)  # [{"name", "size", "sha256"}]; the bytes are not kept
    device_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
