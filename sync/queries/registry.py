"""Queries about the household registry for the read API."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.errors import NotFound
from sync.flags import list_flags
from sync.models import Flag, Form, Household, Person, SubmissionVersion
from sync.registry.entities import DATASET, registered
from sync.registry.households import HISTORY


def list_households(session: Session, project_id: int, *, village: str | None = None) -> list[Household]:
    query = registered(session, project_id)
    if village:
        query = query.where(Household.village == village)
    return list(session.scalars(query))


def get_household(session: Session, project_id: int, code: str) -> Household:
    household = session.scalar(select(Household).where(Household.project_id == project_id, Household.code == code))
    if household is None:
        raise NotFound(f"There is no household {code} in this project's registry.")
    return household


@dataclass
class HouseholdDetail:
    household: Household
    members: list[Person]
    history: list  # history rows of every kind, newest first
    links: list[dict]  # per history row: the source submission and its attachments
    flags: list[Flag]


def household_detail(session: Session, household: Household) -> HouseholdDetail:
    members = list(session.scalars(select(Person).where(Person.household_id == household.id).order_by(Person.id)))
    rows = [
        row for model in HISTORY for row in session.scalars(select(model).where(model.household_id == household.id))
    ]
    rows.sort(key=lambda row: (row.received_at, row.id), reverse=True)
    return HouseholdDetail(
        household=household,
        members=members,
        history=rows,
        links=[_links(session, row) for row in rows],
        flags=list_flags(session, household.project_id, household=household.code),
    )


def _links(session: Session, row) -> dict:  # noqa: ANN001 - a history row
    version = session.get(SubmissionVersion, row.submission_version_id)
    form = session.get(Form, version.form_id)
    base = f"/v1/projects/{form.project_id}/forms/{quote(form.xml_form_id, safe='')}/submissions/"
    submission = base + quote(version.submission.instance_id, safe="")
    return {
        "submission": submission,
        "xml": submission + ".xml",
        "attachments": [
            {"name": a.name, "present": a.present, "url": f"{submission}/attachments/{quote(a.name, safe='')}"}
            for a in version.attachments
        ],
    }


def dataset_summary(session: Session, project_id: int) -> dict:
    count, last = session.execute(
        select(func.count(), func.max(Household.updated_at)).where(
            Household.project_id == project_id, Household.registered_on.is_not(None)
        )
    ).one()
    first = session.scalar(select(func.min(Form.created_at)).where(Form.project_id == project_id))
    return {
        "name": DATASET,
        "projectId": project_id,
        "createdAt": first.isoformat() if first else None,
        "approvalRequired": False,
        "entities": count,
        "lastEntity": last.isoformat() if last else None,
    }
