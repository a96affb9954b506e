"""Reading the ledger for an area: the item list and the counts the dashboard and the export show.

Every query takes an area, an administrative code prefix (county 6 digits, township 9, village 12; ""
for the whole project), matched against the village code the item carries, so the pages and the API
scope them by the caller's area. The counts are SQL aggregates grouped by a prefix of the village code
(the next level down), never Python loops over items, so a province answers as fast as a village
(bench/ledger.py, docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from sync.db.models import Household, LedgerItem, SubmissionVersion
from sync.errors import BadRequest
from sync.ledger.derive import STATES
from sync.ledger.kinds import KINDS
from sync.numbers import ascii_digits
from sync.registry.queries import SourceRecord, sources_of

LEVELS = {0: "project", 6: "county", 9: "township", 12: "village"}
NEXT_LEVEL = {0: 6, 6: 9, 9: 12, 12: 12}
ACTIVE = ("open", "assigned", "done")
PAGE = 500


def check_area(area: str | None) -> str:
    area = area or ""
    if area and (not ascii_digits(area) or len(area) not in (6, 9, 12)):
        raise BadRequest("area must be a 6-digit county, 9-digit township or 12-digit village code, or empty.")
    return area


@dataclass
class ItemRow:
    item: LedgerItem
    household_code: str
    household_label: str
    today: date

    @property
    def overdue(self) -> bool:
        return self.item.state in ACTIVE and self.item.deadline is not None and self.item.deadline < self.today

    @property
    def days_open(self) -> int:
        return ((self.item.closed_on or self.today) - self.item.opened_on).days


def list_items(
    session: Session, project_id: int, area: str, *, limit: int = PAGE, offset: int = 0, **filters: Any
) -> list[ItemRow]:
    """Items of the area, newest first, at most PAGE; ``filters`` are ``_items``' (``today`` is needed)."""
    return _items(session, project_id, area, limit=min(max(limit, 1), PAGE), offset=offset, **filters)


def page_of_items(
    session: Session, project_id: int, area: str, *, number: int, size: int = PAGE, **filters: Any
) -> tuple[list[ItemRow], bool]:
    """Page ``number`` (from 1) of ``list_items`` with ``size`` items, and whether a later page has any:
    one query, asking for one item more than it shows."""
    found = _items(session, project_id, area, limit=size + 1, offset=(number - 1) * size, **filters)
    return found[:size], len(found) > size


def _items(
    session: Session,
    project_id: int,
    area: str,
    *,
    today: date,
    state: str | None = None,
    kind: str | None = None,
    overdue: bool = False,
    household: str | None = None,
    item_id: int | None = None,
    closed_since: date | None = None,
    assigned: bool = False,
    limit: int,
    offset: int = 0,
) -> list[ItemRow]:
    """``state`` ``active`` means not closed; ``assigned``, active items with a measure (the dashboard's)."""
    query = (
        select(LedgerItem, Household.code, Household.label)
        .join(Household, Household.id == LedgerItem.household_id)
        .where(*scope_of(project_id, check_area(area)))
        .order_by(LedgerItem.opened_on.desc(), LedgerItem.id.desc())
        .limit(limit)
        .offset(max(offset, 0))
    )
    if state == "active":
        query = query.where(LedgerItem.state.in_(ACTIVE))
    elif state:
        if state not in STATES:
            raise BadRequest(f"state must be one of active, {', '.join(STATES)}.")
        query = query.where(LedgerItem.state == state)
    if kind:
        if kind not in KINDS:
            raise BadRequest(f"kind must be one of {', '.join(KINDS)}.")
        query = query.where(LedgerItem.kind == kind)
    if overdue:
        query = query.where(LedgerItem.state.in_(ACTIVE), LedgerItem.deadline < today)
    if household:
        query = query.where(Household.code == household)
    if item_id is not None:
        query = query.where(LedgerItem.id == item_id)
    if closed_since is not None:
        query = query.where(LedgerItem.state == "closed", LedgerItem.closed_on >= closed_since)
    if assigned:  # the dashboard's "assigned": active items with a measure
        query = query.where(LedgerItem.state.in_(ACTIVE), LedgerItem.measure.is_not(None))
    return [ItemRow(item, code, label, today) for item, code, label in session.execute(query)]


def scope_of(project_id: int, area: str) -> list:
    conditions = [LedgerItem.project_id == project_id]
    if area:
        conditions += in_area(LedgerItem.village, area)
    return conditions


def in_area(column, area: str) -> list:  # noqa: ANN001 - a column of 12-digit village codes
    """The villages under ``area`` as a range of 12-digit codes, not ``LIKE``: digits sort alike in every
    collation, and the (project, village, ...) indexes answer a range on both databases, LIKE only on SQLite."""
    return [column >= area.ljust(12, "0"), column <= area.ljust(12, "9")]


@dataclass
class AreaCounts:
    """One row of the dashboard or of the export's village sheet."""

    area: str
    level: str
    households: int = 0
    households_without_record: int = 0  # no appraisal, water survey or income check yet: unknown, not cleared
    open_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    by_state: dict[str, dict[str, int]] = field(
        default_factory=lambda: {kind: dict.fromkeys(STATES, 0) for kind in KINDS}
    )
    assigned: int = 0  # active items with a measure
    overdue: int = 0
    closed_this_month: int = 0

    @property
    def open_items(self) -> int:
        return sum(self.open_by_kind.values())


def area_counts(
    session: Session, project_id: int, area: str, *, today: date, by: int | None = None
) -> list[AreaCounts]:
    """Counts of the area's sub-areas (the next level down, or ``by`` digits of the village code), and a
    first row for the area itself. Two grouped queries: households, items."""
    area = check_area(area)
    width = NEXT_LEVEL[len(area)] if by is None else by
    if width not in (6, 9, 12) or width < len(area):
        raise BadRequest("by must be 6, 9 or 12 digits and not above the area's own level.")
    month = today.replace(day=1)
    rows: dict[str, AreaCounts] = {}

    def row(code: str) -> AreaCounts:
        if code not in rows:
            rows[code] = AreaCounts(code, LEVELS.get(len(code), "village"))
        return rows[code]

    prefix = func.substr(Household.village, 1, width)
    no_record = and_(
        Household.house_grade.is_(None), Household.water_verdict.is_(None), Household.income_year.is_(None)
    )
    households = (
        select(prefix, func.count(), func.sum(case((no_record, 1), else_=0)))
        .where(Household.project_id == project_id, Household.registered_on.is_not(None), Household.village.is_not(None))
        .group_by(prefix)
    )
    if area:
        households = households.where(*in_area(Household.village, area))
    for code, count, without in session.execute(households):
        row(code).households, row(code).households_without_record = count, int(without or 0)
    for code, kind, state, count, overdue, this_month, assigned in session.execute(
        _item_counts(project_id, area, width, today, month)
    ):
        counts = row(code)
        counts.by_state[kind][state] += count
        if state in ACTIVE:
            counts.open_by_kind[kind] += count
        counts.overdue += int(overdue or 0)
        counts.closed_this_month += int(this_month or 0)
        counts.assigned += int(assigned or 0)
    total = AreaCounts(area, LEVELS[len(area)])
    for counts in rows.values():
        _add(total, counts)
    return [total, *(rows[code] for code in sorted(rows))]


def _item_counts(project_id: int, area: str, width: int, today: date, month: date) -> Select:
    prefix = func.substr(LedgerItem.village, 1, width)
    active = LedgerItem.state.in_(ACTIVE)
    return (
        select(
            prefix,
            LedgerItem.kind,
            LedgerItem.state,
            func.count(),
            func.sum(case((and_(active, LedgerItem.deadline < today), 1), else_=0)),
            func.sum(case((and_(LedgerItem.state == "closed", LedgerItem.closed_on >= month), 1), else_=0)),
            func.sum(case((and_(active, LedgerItem.measure.is_not(None)), 1), else_=0)),
        )
        .where(*scope_of(project_id, area))
        .group_by(prefix, LedgerItem.kind, LedgerItem.state)
    )


def _add(total: AreaCounts, part: AreaCounts) -> None:
    total.households += part.households
    total.households_without_record += part.households_without_record
    for kind in KINDS:
        total.open_by_kind[kind] += part.open_by_kind[kind]
        for state in STATES:
            total.by_state[kind][state] += part.by_state[kind][state]
    total.assigned += part.assigned
    total.overdue += part.overdue
    total.closed_this_month += part.closed_this_month


def iter_items(session: Session, project_id: int, area: str, *, today: date, batch: int = 2000) -> Iterator[ItemRow]:
    """Every item of the area in (village, household, kind, opening) order, read in batches (the export)."""
    area = check_area(area)
    after = (None, None)
    while True:
        query = (
            select(LedgerItem, Household.code, Household.label)
            .join(Household, Household.id == LedgerItem.household_id)
            .where(*scope_of(project_id, area))
            .order_by(LedgerItem.id)
            .limit(batch)
        )
        if after[0] is not None:
            query = query.where(LedgerItem.id > after[0])
        rows = session.execute(query).all()
        if not rows:
            return
        for item, code, label in rows:
            yield ItemRow(item, code, label, today)
        after = (rows[-1][0].id, None)


@dataclass
class Evidence:
    """The submissions that found and that closed an item, with their photos, as the registry links them."""

    found: SourceRecord | None
    closed: SourceRecord | None


def item_evidence(session: Session, item: LedgerItem) -> Evidence:
    ids = [i for i in (item.found_submission_id, item.closed_by_submission_id) if i is not None]
    versions = dict(
        session.execute(
            select(SubmissionVersion.submission_id, SubmissionVersion.id).where(
                SubmissionVersion.submission_id.in_(ids), SubmissionVersion.current.is_(True)
            )
        ).all()
    )
    wanted = [versions[i] for i in ids if i in versions]
    sources = dict(zip(wanted, sources_of(session, wanted), strict=True))
    found = sources.get(versions.get(item.found_submission_id))
    closed = sources.get(versions.get(item.closed_by_submission_id)) if item.closed_by_submission_id else None
    return Evidence(found, closed)
