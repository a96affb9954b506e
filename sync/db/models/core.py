"""Core tables: projects, forms and their versions, accounts, submissions, attachments, audit."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sync.db.models.base import Base, utcnow

if TYPE_CHECKING:
    from sync.db.models.drafts import FormDraft


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Form(Base):
    """A form as phones know it: one xmlFormId in a project, with its published versions."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("project_id", "xml_form_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    xml_form_id: Mapped[str] = mapped_column(String(200))
    # open: listed and accepting; closing: not listed, still accepting; closed: refused (docs/protocol.md §7.6).
    state: Mapped[str] = mapped_column(String(16), default="open")
    # Central's approvalRequired: the registry counts a submission of this form only once it is approved.
    approval_required: Mapped[bool] = mapped_column(Boolean, default=False)
    # No foreign key: forms and form_versions would reference each other, which PostgreSQL can only
    # create in two steps. Publishing sets it in the same transaction as the version row.
    current_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    current_version: Mapped[FormVersion | None] = relationship(
        primaryjoin="foreign(Form.current_version_id) == FormVersion.id", viewonly=True
    )
    draft: Mapped[FormDraft | None] = relationship(
        primaryjoin="Form.id == foreign(FormDraft.form_id)", viewonly=True, uselist=False
    )


class FormVersion(Base):
    """One published XForm, kept byte for byte: its md5 is what the form list advertises."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    md5: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    # Paths (e.g. "/data/photos/ph_front") of binary fields: their values name the expected attachments.
    binary_paths: Mapped[list] = mapped_column(default=list)
    entity_dataset: Mapped[str | None] = mapped_column(String(100), nullable=True)
    source_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The spreadsheet it was uploaded as (``GET .../forms/<id>.xlsx``), a blob; None from the CLI or XML.
    source_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)

    attachments: Mapped[list[FormAttachment]] = relationship(
        back_populates="form_version", order_by="FormAttachment.name"
    )
    form: Mapped[Form] = relationship()


class FormAttachment(Base):
    """A media file a form version needs on the phone (a CSV, an image), or an entity list."""

    __tablename__ = "form_attachments"
    __table_args__ = (UniqueConstraint("form_version_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    # Either a stored blob ...
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # ... or an entity list served from the registry.
    dataset: Mapped[str | None] = mapped_column(String(100), nullable=True)

    form_version: Mapped[FormVersion] = relationship(back_populates="attachments")


class User(Base):
    """A named web/API account (supervisor, county office, administrator)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AppUser(Base):
    """A phone credential: the token in ``/v1/key/<token>/...`` (ODK Central's app users)."""

    __tablename__ = "app_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    token: Mapped[str] = mapped_column(String(100), unique=True)
    # The village/township/county code whose households this phone carries (sync/access/areas.py);
    # None: the whole list.
    area: Mapped[str | None] = mapped_column(String(12), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Submission(Base):
    """A logical submission: the first instanceID of an edit chain, with its review state."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("form_id", "instance_id"),
        # The review queue's keyset order, and its area filters in the same order.
        Index("ix_submissions_queue", "created_at", "id"),
        Index("ix_submissions_township_queue", "township", "created_at", "id"),
        Index("ix_submissions_village_queue", "village", "created_at", "id"),
        Index("ix_submissions_county_queue", "county", "created_at", "id"),
        # An export's order (newest first, within one form): read in index order, never sorted first.
        Index("ix_submissions_form_order", "form_id", "created_at", "id"),
        # The queue's counts (by review state, within an area, a form, a verdict) read only these indexes.
        Index("ix_submissions_form_counts", "form_id", "verdict", "review_state"),
        Index("ix_submissions_county_counts", "county", "form_id", "verdict", "review_state"),
        Index("ix_submissions_township_counts", "township", "form_id", "verdict", "review_state"),
        Index("ix_submissions_village_counts", "village", "form_id", "verdict", "review_state"),
        Index("ix_submissions_enumerator_counts", "submitter_app_user_id", "form_id", "verdict", "review_state"),
        # The capped count of one review state (sync/review/queue.py: counts) is a range of one of these.
        # (State last: an index ordered by state after the area would be taken for every grouped count.)
        Index("ix_submissions_states", "form_id", "review_state"),
        Index("ix_submissions_county_states", "county", "form_id", "review_state"),
        Index("ix_submissions_township_states", "township", "form_id", "review_state"),
        Index("ix_submissions_village_states", "village", "form_id", "review_state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(200))
    review_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    submitter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    submitter_app_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Where it belongs and what the server concluded, set by normalization (sync/review/placement.py): the
    # area columns decide who may see it, and the review queue filters and sorts on all of them without
    # opening the history tables. NULL until normalized, or when it names no known household.
    county: Mapped[str | None] = mapped_column(String(6), nullable=True)
    township: Mapped[str | None] = mapped_column(String(9), nullable=True)
    village: Mapped[str | None] = mapped_column(String(12), nullable=True)
    household_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    verdict: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the server's: grade, water, ...
    device_verdict: Mapped[str | None] = mapped_column(String(32), nullable=True)

    versions: Mapped[list[SubmissionVersion]] = relationship(
        back_populates="submission", order_by="SubmissionVersion.id"
    )


class SubmissionVersion(Base):
    """One XML body as received (byte for byte); an edit adds a version whose deprecatedID names the last."""

    __tablename__ = "submission_versions"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    instance_id: Mapped[str] = mapped_column(String(200))
    deprecated_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    instance_name: Mapped[str | None] = mapped_column(String(500), nullable=True)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    # The instance's rows per export table, flattened at ingestion (sync/exports/stored.py); None until then.
    flat: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    # The texts the plain OData feed and the CSV exports write for it (sync/exports/stored.py); None until then.
    texts: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)
    submitter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    submitter_app_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id"), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="versions")
    form_version: Mapped[FormVersion] = relationship()
    attachments: Mapped[list[SubmissionAttachment]] = relationship(
        back_populates="version", order_by="SubmissionAttachment.name"
    )


class SubmissionAttachment(Base):
    """A file the submission's XML names: present once its bytes are in the blob store."""

    __tablename__ = "submission_attachments"
    __table_args__ = (UniqueConstraint("submission_version_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_version_id: Mapped[int] = mapped_column(ForeignKey("submission_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    md5: Mapped[str | None] = mapped_column(String(32), nullable=True)
    blob_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    present: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # The question a photo answers (ph_front, ph_roof_in, ...), set by the photo checks: the gallery's filter.
    field: Mapped[str | None] = mapped_column(String(100), nullable=True)

    version: Mapped[SubmissionVersion] = relationship(back_populates="attachments")


class Audit(Base):
    """Who did what, when: publishing, accounts, submissions, reviews."""

    __tablename__ = "audits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_app_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id"), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The submission it concerns (review decisions, comments, full views of personal data), for the
    # submission's own audit list (Central's .../submissions/{id}/audits).
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True, index=True)
    details: Mapped[dict] = mapped_column(default=dict)
    logged_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
