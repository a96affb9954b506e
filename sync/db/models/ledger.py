"""The clearance ledger (问题台账): one row per problem episode of a household, its measures, parameter versions.

A ``ledger_items`` row mixes two kinds of columns. The *derived* ones (kind, opening record, the record
that closed it by itself, area, relapse link) are recomputed from the registry's history by
``sync.ledger.derive``; the *decisions* (measure, unit, person, deadline, work reported done, a manual
close with its approval) are typed by people and survive a ``registry rebuild``. An item is known by its
household, kind and the submission that found the problem, so a rebuild finds the same row again.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync.db.models.base import Base, utcnow


class LedgerItem(Base):
    __tablename__ = "ledger_items"
    __table_args__ = (
        UniqueConstraint("household_id", "kind", "found_submission_id"),
        Index("ix_ledger_items_area", "project_id", "village", "state"),
        Index("ix_ledger_items_household_kind", "household_id", "kind"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    kind: Mapped[str] = mapped_column(String(16))  # housing / water / income / monitoring / identity
    # open / assigned / done / closed, or void when no counted record shows the problem any more
    state: Mapped[str] = mapped_column(String(16), default="open")
    # -- derived ------------------------------------------------------------------------------------
    village: Mapped[str] = mapped_column(String(12), default="")  # the household's, for area scope
    opened_on: Mapped[date] = mapped_column(Date)
    found_submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    found_instance_id: Mapped[str] = mapped_column(String(200))
    found_form: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(default=dict)  # what the record showed: grade, verdict, income_pc
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_by_submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True)
    closed_by_instance_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    closed_by_form: Mapped[str | None] = mapped_column(String(64), nullable=True)
    previous_item_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_items.id"), nullable=True)
    # -- decisions ----------------------------------------------------------------------------------
    measure: Mapped[str | None] = mapped_column(String(32), nullable=True)
    unit: Mapped[str | None] = mapped_column(String(200), nullable=True)
    person: Mapped[str | None] = mapped_column(String(100), nullable=True)
    deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    assigned_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(nullable=True)
    done_reported_at: Mapped[datetime | None] = mapped_column(nullable=True)
    done_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    done_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    close_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    close_requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    close_requested_at: Mapped[datetime | None] = mapped_column(nullable=True)
    close_approved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    close_approved_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def has_decisions(self) -> bool:
        return bool(self.measure or self.done_reported_at or self.close_requested_at)


class LedgerMeasure(Base):
    """One entry of the editable list of measures (措施) a problem of a kind can be assigned."""

    __tablename__ = "ledger_measures"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ParameterVersion(Base):
    """An uploaded parameter table (the CSV format of forms/rules/parameters/): kept after it is replaced."""

    __tablename__ = "parameter_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # uploaded -> applied -> superseded (by a later applied version)
    state: Mapped[str] = mapped_column(String(16), default="uploaded")
    applied_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(nullable=True)
