"""What the ledger's pages need beyond the counts: the area a page may show, progress toward zero month by
month, the households with no record yet, and the photos that found or closed an item.

Each is one SQL query (aggregates or an indexed range), so the dashboard of a province costs what the
counts of ``sync.ledger.queries`` cost plus one grouped query (bench/ledger.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sync.access.scope import Scope
from sync.db.models import Household, LedgerItem, PhotoCheck, SubmissionAttachment, SubmissionVersion
from sync.errors import NotFound
from sync.ledger.kinds import KINDS
from sync.ledger.queries import check_area, in_area, scope_of

MONTHS = 12


def page_area(scope: Scope, requested: str | None) -> str:
    """The area a page shows: the account's own unless ``?area=`` narrows it. An area outside the account's
    is as absent as one that does not exist (404), never silently widened or replaced."""
    area = check_area((requested or "").strip() or scope.area)
    if not scope.covers(area) or (scope.area and len(area) < len(scope.area)):
        raise NotFound("There is no such area in your part of the project.")
    return area


def month_ends(today: date, months: int = MONTHS) -> list[date]:
    """The last day of each of the ``months`` months up to today's (today itself for the current month)."""
    ends: list[date] = [today]
    first = today.replace(day=1)
    for _ in range(months - 1):
        last = date.fromordinal(first.toordinal() - 1)
        ends.append(last)
        first = last.replace(day=1)
    return list(reversed(ends))


def progress(
    session: Session, project_id: int, area: str, *, today: date, months: int = MONTHS
) -> dict[str, list[int]]:
    """Items not yet closed at each month's end, by kind: items opened by then minus items closed by then,
    from two grouped queries (per kind and opening day, per kind and closing day); the running sums run over
    those few hundred day buckets, never over items."""
    ends = month_ends(today, months)
    where = [*scope_of(project_id, check_area(area)), LedgerItem.state != "void"]
    opened = session.execute(
        select(LedgerItem.kind, LedgerItem.opened_on, func.count()).where(*where, LedgerItem.opened_on <= today)
        .group_by(LedgerItem.kind, LedgerItem.opened_on)
    ).all()  # fmt: skip
    closed = session.execute(
        select(LedgerItem.kind, LedgerItem.closed_on, func.count())
        .where(*where, LedgerItem.closed_on.is_not(None), LedgerItem.closed_on <= today)
        .group_by(LedgerItem.kind, LedgerItem.closed_on)
    ).all()  # fmt: skip
    found = {kind: [0] * len(ends) for kind in KINDS}
    for rows, sign in ((opened, 1), (closed, -1)):
        for kind, day, count in rows:
            if kind not in found:
                continue
            for n, end in enumerate(ends):
                if day <= end:
                    found[kind][n] += sign * int(count)
    return found


def households_without_record(session: Session, project_id: int, area: str, *, limit: int = 500) -> list[Household]:
    """Registered households of the area that no appraisal, water survey or income check has judged yet:
    their problems are unknown, which the dashboard never counts as cleared."""
    query = (
        select(Household)
        .where(Household.project_id == project_id, Household.registered_on.is_not(None),
               Household.village.is_not(None), Household.house_grade.is_(None), Household.water_verdict.is_(None),
               Household.income_year.is_(None))
        .order_by(Household.village, Household.code)
        .limit(limit)
    )  # fmt: skip
    area = check_area(area)
    if area:
        query = query.where(*in_area(Household.village, area))
    return list(session.scalars(query))


@dataclass(frozen=True)
class Photo:
    submission_id: int
    name: str
    sha256: str
    question: str | None


def submission_photos(session: Session, submission_ids: list[int]) -> dict[int, list[Photo]]:
    """The readable photos of the current versions of these submissions (the evidence of an item)."""
    found: dict[int, list[Photo]] = {i: [] for i in submission_ids}
    if not submission_ids:
        return found
    rows = session.execute(
        select(SubmissionVersion.submission_id, SubmissionAttachment.name, SubmissionAttachment.sha256,
               SubmissionAttachment.field)
        .join(SubmissionAttachment, SubmissionAttachment.submission_version_id == SubmissionVersion.id)
        .join(PhotoCheck, PhotoCheck.sha256 == SubmissionAttachment.sha256)
        .where(SubmissionVersion.submission_id.in_(submission_ids), SubmissionVersion.current.is_(True),
               SubmissionAttachment.present.is_(True), PhotoCheck.readable.is_(True))
        .order_by(SubmissionAttachment.id)
    )  # fmt: skip
    for submission_id, name, sha256, question in rows:
        found[submission_id].append(Photo(submission_id, name, sha256, question))
    return found
