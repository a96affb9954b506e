"""A household's page: its current state, members, every record with its evidence photos, and its flags."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.access.scope import Scope
from sync.db.models import Flag, Form, Household, Person, PhotoCheck, Submission, SubmissionAttachment
from sync.oversight.flags import list_flags
from sync.registry.households import HISTORY
from sync.registry.queries import get_household


@dataclass
class Record:
    kind: str  # the history table
    row: object
    xml_form_id: str
    instance_id: str
    photos: list[tuple[str, str, str | None]] = field(default_factory=list)  # (name, sha256, question)


@dataclass
class HouseholdPage:
    household: Household
    members: list[Person]
    records: list[Record]
    flags: list[Flag]


def household_page(session: Session, scope: Scope, code: str) -> HouseholdPage:
    household = get_household(session, scope.project_id, code, scope)
    members = list(session.scalars(
        select(Person).where(Person.household_id == household.id).order_by(Person.member_status, Person.id)
    ))
    records = []
    for model in HISTORY:
        rows = session.execute(
            select(model, Form.xml_form_id, Submission.instance_id)
            .join(Submission, Submission.id == model.submission_id)
            .join(Form, Form.id == Submission.form_id)
            .where(model.household_id == household.id)
        )
        records += [Record(model.__tablename__, row, form_id, instance_id) for row, form_id, instance_id in rows]
    by_version = {record.row.submission_version_id: record for record in records}
    if by_version:
        photos = session.execute(
            select(SubmissionAttachment.submission_version_id, SubmissionAttachment.name, SubmissionAttachment.sha256,
                   SubmissionAttachment.field)
            .join(PhotoCheck, PhotoCheck.sha256 == SubmissionAttachment.sha256)
            .where(SubmissionAttachment.submission_version_id.in_(by_version), SubmissionAttachment.present.is_(True),
                   PhotoCheck.readable.is_(True))
            .order_by(SubmissionAttachment.id)
        )
        for version_id, name, sha256, question in photos:
            by_version[version_id].photos.append((name, sha256, question))
    records.sort(key=lambda r: (r.row.survey_date or r.row.received_at.date(), r.row.received_at), reverse=True)
    flags = list_flags(session, scope.project_id, household=household.code, scope=scope)
    return HouseholdPage(household, members, records, flags)
