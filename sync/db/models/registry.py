"""The household registry: households, persons, and the history of every assessment.

History rows are append-only projections of submissions: one row per counted submission version, with
the normalized answers, the server's verdict, the device's verdict, the rule profile and parameter
version, and a link to the source submission. A household's *current* columns are derived from that
history by ``sync.registry.households.refresh_household`` and never written anywhere else.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sync.db.models.base import Base, utcnow


class Household(Base):
    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("project_id", "code"),
        UniqueConstraint("project_id", "entity_id"),
        # A phone's entity list is its area's households in code order (sync/registry/entities.py): one index
        # range per village or township, however large the project.
        Index("ix_households_area_village", "project_id", "village", "code"),
        Index("ix_households_area_township", "project_id", "township", "code"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))  # hh_code: 12-digit village code + 4-digit sequence
    entity_id: Mapped[str] = mapped_column(String(64))  # the UUID of the `households` entity on phones
    registered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    registered_submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), nullable=True)
    # Everything below is current state derived from the history tables (refresh_household).
    label: Mapped[str] = mapped_column(String(300), default="")
    county: Mapped[str | None] = mapped_column(String(12), nullable=True)
    township: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    village: Mapped[str | None] = mapped_column(String(12), nullable=True, index=True)
    group_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    head_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    head_id_no: Mapped[str | None] = mapped_column(String(20), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    household_type: Mapped[str | None] = mapped_column(String(32), nullable=True)  # poverty_attr
    main_cause: Mapped[str | None] = mapped_column(String(8), nullable=True)
    other_causes: Mapped[list] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="general")  # general / poor / exited / returned
    hh_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    food_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    clothing_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    edu_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    med_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    housing_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    house_grade: Mapped[str | None] = mapped_column(String(1), nullable=True)
    house_grade_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    water_verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    water_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    water_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    income_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    income_pc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    net_total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    monitor_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    monitor_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    monitor_risks: Mapped[list] = mapped_column(default=list)
    entity_version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(Base):
    """A member of a household as its latest counted baseline lists them, with membership dates."""

    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    id_no: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    id_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(100), default="")
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # from the ID number
    relation: Mapped[str | None] = mapped_column(String(4), nullable=True)
    member_status: Mapped[str] = mapped_column(String(16), default="active")
    member_since: Mapped[date | None] = mapped_column(Date, nullable=True)
    member_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    source_submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))


class _Assessment:
    """Columns every history table shares: where the record came from and which rules judged it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), nullable=True, index=True)
    household_ref: Mapped[str] = mapped_column(String(64), default="")  # as the phone sent it
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    submission_version_id: Mapped[int] = mapped_column(ForeignKey("submission_versions.id"))
    instance_id: Mapped[str] = mapped_column(String(200))
    form_version: Mapped[str] = mapped_column(String(100))
    survey_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    received_at: Mapped[datetime] = mapped_column()
    # ODK entity update bookkeeping: the version of the household the phone edited from.
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answers: Mapped[dict] = mapped_column(default=dict)
    server_verdict: Mapped[dict] = mapped_column(default=dict)
    device_verdict: Mapped[dict] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))  # the rule's status: rated / rejected / ...
    profile: Mapped[str | None] = mapped_column(String(32), nullable=True)
    parameter_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    review_state: Mapped[str | None] = mapped_column(String(32), nullable=True)


class BaselineRecord(_Assessment, Base):
    __tablename__ = "baseline_records"
    hh_size: Mapped[int | None] = mapped_column(Integer, nullable=True)


class HousingAppraisal(_Assessment, Base):
    __tablename__ = "housing_appraisals"
    grade: Mapped[str | None] = mapped_column(String(1), nullable=True)
    device_grade: Mapped[str | None] = mapped_column(String(1), nullable=True)
    housing_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class WaterSurvey(_Assessment, Base):
    __tablename__ = "water_surveys"
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    device_verdict_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    water_ok: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class IncomeCheck(_Assessment, Base):
    __tablename__ = "income_checks"
    income_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    income_pc: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    net_total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    below_exit_line: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    below_monitor_line: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    below_dibao_line: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    monitor_category: Mapped[str | None] = mapped_column(String(32), nullable=True)
