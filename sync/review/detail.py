"""Everything the page of one submission shows, gathered in one place from the tables that hold it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from media.geo import haversine_m
from sync.access.places import area_name
from sync.access.scope import Scope
from sync.db.models import (
    AppUser,
    Audit,
    Comment,
    Flag,
    Form,
    FormVersion,
    Household,
    PhotoCheck,
    Submission,
    SubmissionVersion,
    User,
)
from sync.intake.forms import get_form
from sync.intake.instance_xml import repeat_names
from sync.intake.submissions import get_submission
from sync.oversight.flags import list_flags
from sync.registry.households import HISTORY
from sync.review.answers import lay_out
from sync.review.diffs import Change, version_diffs
from sync.review.outline import outline
from sync.review.photos import photo_checks


@dataclass
class Photo:
    name: str
    sha256: str | None
    present: bool
    check: PhotoCheck | None = None
    distance_m: float | None = None  # from the household's registered location


@dataclass
class TimelineEntry:
    kind: str  # the history table: baseline_records, housing_appraisals, ...
    row: object
    xml_form_id: str
    instance_id: str
    current: bool  # the submission this page shows


@dataclass
class SubmissionDetail:
    submission: Submission
    version: SubmissionVersion
    form: Form
    form_version: FormVersion
    title: str
    enumerator: str
    household: Household | None
    items: list
    photos: dict[str, Photo]
    flags: list[Flag]
    record: object | None  # the history row: device and server verdicts
    versions: list[SubmissionVersion]
    diffs: dict[str, list[Change]]
    timeline: list[TimelineEntry]
    comments: list[tuple[Comment, str]]
    decisions: list[Audit] = field(default_factory=list)
    other_flag_submissions: dict[int, tuple] = field(default_factory=dict)  # id -> (form, instance, received)


def external_labels(session: Session, project_id: int):  # noqa: ANN201 - an ExternalLabel
    """Labels of choices from lists outside the form: the administrative table, the households list."""

    def label(list_name: str, value: str, language: str) -> str | None:
        if list_name == "admin":
            name = area_name(value, language)
            return name if name != value else None
        if list_name == "households":
            household = session.scalar(
                select(Household).where(Household.project_id == project_id, Household.entity_id == value)
            )
            return f"{household.code} {household.head_name or ''}".strip() if household else None
        return None

    return label


def submission_detail(
    session: Session, scope: Scope, xml_form_id: str, instance_id: str, language: str
) -> SubmissionDetail:
    form = get_form(session, scope.project_id, xml_form_id)
    submission, version = get_submission(session, form, instance_id, scope)
    form_version = session.get(FormVersion, version.form_version_id)
    shape = outline(form_version.xml)
    items = lay_out(shape, version.xml, language, external_labels(session, scope.project_id))
    household = None
    if submission.household_code:
        household = session.scalar(
            select(Household).where(Household.project_id == scope.project_id,
                                    Household.code == submission.household_code)
        )
    checks = photo_checks(session, {a.sha256 for a in version.attachments if a.sha256})
    photos = {}
    for attachment in version.attachments:
        check = checks.get(attachment.sha256 or "")
        distance = None
        if check is not None and check.latitude is not None and household is not None and household.latitude:
            distance = haversine_m(check.latitude, check.longitude, household.latitude, household.longitude)
        photos[attachment.name] = Photo(attachment.name, attachment.sha256, attachment.present, check, distance)
    record = None
    for model in HISTORY:
        record = session.scalar(select(model).where(model.submission_id == submission.id)) or record
    versions = list(session.scalars(
        select(SubmissionVersion).where(SubmissionVersion.submission_id == submission.id)
        .order_by(SubmissionVersion.id)
    ))
    flags = list_flags(session, scope.project_id, submission_id=submission.id, scope=scope)
    others = {f.other_submission_id for f in flags if f.other_submission_id and f.other_submission_id != submission.id}
    others |= {f.submission_id for f in flags if f.submission_id and f.submission_id != submission.id}
    app_user = session.get(AppUser, submission.submitter_app_user_id) if submission.submitter_app_user_id else None
    return SubmissionDetail(
        submission=submission,
        version=version,
        form=form,
        form_version=form_version,
        title=version.instance_name or shape.title,
        enumerator=app_user.display_name if app_user else "",
        household=household,
        items=items,
        photos=photos,
        flags=flags,
        record=record,
        versions=list(reversed(versions)),
        diffs=version_diffs(versions, repeat_names(form_version.xml)) if len(versions) > 1 else {},
        timeline=timeline(session, household, submission.id) if household else [],
        comments=comments(session, submission.id),
        decisions=list(session.scalars(
            select(Audit).where(Audit.submission_id == submission.id, Audit.action == "submission.update")
            .order_by(Audit.id.desc())
        )),
        other_flag_submissions=_locate(session, scope, others),
    )


def _locate(session: Session, scope: Scope, ids: set[int]) -> dict[int, tuple]:
    """submission id -> (xml form id, instance id, received) for the other submissions flags name, in scope."""
    if not ids:
        return {}
    rows = session.execute(
        select(Submission.id, Form.xml_form_id, Submission.instance_id, Submission.created_at)
        .join(Form, Form.id == Submission.form_id)
        .where(Submission.id.in_(ids), scope.submission_condition())
    )
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def timeline(session: Session, household: Household, current_id: int) -> list[TimelineEntry]:
    """Every record of the household, newest first (rejected and pending ones too, marked as such)."""
    entries = []
    for model in HISTORY:
        rows = session.execute(
            select(model, Form.xml_form_id, Submission.instance_id)
            .join(Submission, Submission.id == model.submission_id)
            .join(Form, Form.id == Submission.form_id)
            .where(model.household_id == household.id)
        )
        for row, xml_form_id, instance_id in rows:
            entries.append(TimelineEntry(model.__tablename__, row, xml_form_id, instance_id,
                                         row.submission_id == current_id))
    entries.sort(key=lambda e: (e.row.survey_date or e.row.received_at.date(), e.row.received_at), reverse=True)
    return entries


def comments(session: Session, submission_id: int) -> list[tuple[Comment, str]]:
    rows = session.execute(
        select(Comment, User.email).outerjoin(User, User.id == Comment.actor_user_id)
        .where(Comment.submission_id == submission_id).order_by(Comment.id)
    )
    return [(comment, email or "") for comment, email in rows]


