"""Queries about the household registry for the read API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session, selectinload

from sync.access.scope import Scope
from sync.db.models import Flag, Form, FormAttachment, FormVersion, Household, Person, Submission, SubmissionVersion
from sync.errors import NotFound
from sync.oversight.flags import list_flags
from sync.registry.entities import DATASET, PROPERTIES, registered
from sync.registry.households import HISTORY


def list_households(
    session: Session, project_id: int, *, village: str | None = None, scope: Scope | None = None
) -> list[Household]:
    query = registered(session, project_id, scope.limit if scope else None)
    if village:
        query = query.where(Household.village == village)
    return list(session.scalars(query))


def get_household(session: Session, project_id: int, code: str, scope: Scope | None = None) -> Household:
    """A household by code; outside ``scope`` it is not found, as if it did not exist."""
    household = session.scalar(select(Household).where(Household.project_id == project_id, Household.code == code))
    if household is None or (scope is not None and not scope.sees_household(household)):
        raise NotFound(f"There is no household {code} in this project's registry.")
    return household


@dataclass(frozen=True)
class SourceRecord:
    """The submission a history row came from, as the read API links it: where, which, with what files."""

    project_id: int
    xml_form_id: str
    instance_id: str  # the submission's (its first version's), as the API addresses it
    attachments: list[tuple[str, bool]]  # (name, present)


@dataclass
class HouseholdDetail:
    household: Household
    members: list[Person]
    history: list  # history rows of every kind, newest first
    sources: list[SourceRecord]  # per history row
    flags: list[Flag]


def household_detail(session: Session, household: Household, scope: Scope | None = None) -> HouseholdDetail:
    members = list(session.scalars(select(Person).where(Person.household_id == household.id).order_by(Person.id)))
    rows = [
        row for model in HISTORY for row in session.scalars(select(model).where(model.household_id == household.id))
    ]
    rows.sort(key=lambda row: (row.received_at, row.id), reverse=True)
    return HouseholdDetail(
        household=household,
        members=members,
        history=rows,
        sources=sources_of(session, [row.submission_version_id for row in rows]),
        flags=list_flags(session, household.project_id, household=household.code, scope=scope),
    )


def sources_of(session: Session, version_ids: list[int]) -> list[SourceRecord]:
    """The source of each version id, in the order given, in two queries whatever the number of rows."""
    if not version_ids:
        return []
    rows = session.execute(
        select(SubmissionVersion, Form.project_id, Form.xml_form_id, Submission.instance_id)
        .join(Form, Form.id == SubmissionVersion.form_id)
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .where(SubmissionVersion.id.in_(set(version_ids)))
        .options(selectinload(SubmissionVersion.attachments))
    )
    found = {
        version.id: SourceRecord(
            project_id, xml_form_id, instance_id, [(a.name, a.present) for a in version.attachments]
        )
        for version, project_id, xml_form_id, instance_id in rows
    }
    return [found[version_id] for version_id in version_ids]


@dataclass(frozen=True)
class DatasetSummary:
    """The ``households`` entity list as a whole: how many registered, when first and last changed."""

    name: str
    project_id: int
    created_at: datetime | None
    entities: int
    last_entity: datetime | None


def dataset_summary(session: Session, project_id: int, scope: Scope | None = None) -> DatasetSummary:
    count, last = session.execute(
        select(func.count(), func.max(Household.updated_at)).where(
            Household.project_id == project_id,
            Household.registered_on.is_not(None),
            scope.household_condition() if scope is not None else true(),
        )
    ).one()
    first = session.scalar(select(func.min(Form.created_at)).where(Form.project_id == project_id))
    return DatasetSummary(DATASET, project_id, first, count, last)


@dataclass(frozen=True)
class DatasetDetail:
    """Central's dataset metadata: the summary, and the forms that create or update households (source) and
    that attach the list (linked), as (xmlFormId, title). The properties are derived from the registry, not
    saved by any form."""

    summary: DatasetSummary
    source_forms: list[tuple[str, str]]
    linked_forms: list[tuple[str, str]]
    properties: tuple[str, ...] = PROPERTIES


def dataset_detail(session: Session, project_id: int, scope: Scope | None = None) -> DatasetDetail:
    def forms_where(condition) -> list[tuple[str, str]]:  # noqa: ANN001 - a SQL condition on the current version
        rows = session.execute(
            select(Form.xml_form_id, FormVersion.title)
            .join(FormVersion, FormVersion.id == Form.current_version_id)
            .where(Form.project_id == project_id, condition)
            .order_by(Form.xml_form_id)
            .distinct()
        )
        return [(form_id, title) for form_id, title in rows]

    linked = FormVersion.id.in_(select(FormAttachment.form_version_id).where(FormAttachment.dataset == DATASET))
    return DatasetDetail(
        summary=dataset_summary(session, project_id, scope),
        source_forms=forms_where(FormVersion.entity_dataset == DATASET),
        linked_forms=forms_where(linked),
    )
