"""Derive a household's ledger items from its counted history, in the transaction that updated the registry.

Items are never typed in (docs/ledger.md). For each kind (``sync.ledger.kinds``) the household's judged
records are walked in the registry's order (survey date, then receipt): a record showing the problem
while no item is open opens one, found by that record; a later record showing it solved closes the open
item by itself, naming that record. A problem that shows again after its item closed (返贫) opens a new
item linked to the old one. An approved manual close ends the item on its approval date; a record surveyed
after that date that still shows the problem opens a new, linked item.

The rows are then reconciled with what is stored, matched by (household, kind, submission that found the
problem): derived columns are overwritten, the decisions people typed (measure, unit, person, deadline,
done report, manual close) are kept. An item no counted record supports any more (its record was rejected
or edited away) is deleted, or, if someone already decided something about it, kept as ``void``. So the
live ledger, a ``registry rebuild`` and a re-derivation of everything agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.access.scope import Scope
from sync.db.models import Flag, Household, LedgerItem
from sync.ledger.kinds import FORM_OF, IDENTITY_FLAGS, LEDGER_KINDS, Kind
from sync.oversight.flags import resolve_flag
from sync.registry.households import history_of

STATES = ("open", "assigned", "done", "closed", "void")


@dataclass
class _Episode:
    kind: str
    found: object  # the history row that found the problem
    details: dict
    previous: _Episode | None = None
    closed_by: object | None = None
    item: LedgerItem | None = field(default=None, repr=False)


def derive_household(session: Session, household: Household) -> None:
    """Make the ledger items of ``household`` what its counted history shows (see the module docstring)."""
    session.flush()
    existing = session.scalars(select(LedgerItem).where(LedgerItem.household_id == household.id)).all()
    by_key = {(item.kind, item.found_submission_id): item for item in existing}
    flagged = _identity_flagged(session, household)
    rows_of: dict[type, list] = {}
    episodes: list[_Episode] = []
    for kind in LEDGER_KINDS:
        if kind.model not in rows_of:
            rows_of[kind.model] = history_of(session, kind.model, household.id)
        episodes += _walk(kind, rows_of[kind.model], household.county, flagged, by_key)
    wanted = set()
    for episode in episodes:  # in order of the walk, so a relapse's predecessor has its row first
        key = (episode.kind, episode.found.submission_id)
        wanted.add(key)
        item = by_key.get(key)
        if item is None:
            item = LedgerItem(project_id=household.project_id, household_id=household.id, kind=episode.kind,
                              found_submission_id=episode.found.submission_id)  # fmt: skip
            session.add(item)
            by_key[key] = item
        _apply(item, episode, household)
        episode.item = item
    session.flush()
    for episode in episodes:
        episode.item.previous_item_id = episode.previous.item.id if episode.previous else None
    gone = [item for key, item in by_key.items() if key not in wanted]
    for item in gone:  # a void item's link could name one deleted here
        item.previous_item_id = None
    if gone:
        session.flush()
    for item in gone:
        if item.has_decisions():
            item.state = "void"
        else:
            session.delete(item)


def _walk(kind: Kind, rows: list, county: str | None, flagged: set[int], by_key: dict) -> list[_Episode]:
    episodes: list[_Episode] = []
    current: _Episode | None = None
    for row in rows:
        reading = kind.read(row, county, flagged)
        if reading.problem is None:
            continue
        if current is not None and _manually_closed_before(by_key.get((kind.name, current.found.submission_id)), row):
            current = None
        if reading.problem and current is None:
            current = _Episode(kind.name, row, reading.details, previous=episodes[-1] if episodes else None)
            episodes.append(current)
        elif not reading.problem and current is not None:
            current.closed_by = row
            current = None
    return episodes


def _manually_closed_before(item: LedgerItem | None, row: object) -> bool:
    return (
        item is not None
        and item.close_approved_on is not None
        and row.survey_date is not None
        and row.survey_date > item.close_approved_on
    )


def _apply(item: LedgerItem, episode: _Episode, household: Household) -> None:
    found, closed = episode.found, episode.closed_by
    item.village = household.village or ""
    item.opened_on = found.survey_date or found.received_at.date()
    item.found_instance_id = found.instance_id
    item.found_form = FORM_OF[type(found)]
    item.details = episode.details
    if closed is not None:
        item.closed_on = closed.survey_date or closed.received_at.date()
        item.closed_by_submission_id = closed.submission_id
        item.closed_by_instance_id = closed.instance_id
        item.closed_by_form = FORM_OF[type(closed)]
    else:
        item.closed_on = item.close_approved_on
        item.closed_by_submission_id = item.closed_by_instance_id = item.closed_by_form = None
    item.state = state_of(item)


def state_of(item: LedgerItem) -> str:
    """open -> assigned -> done -> closed, from what the row holds (void is set by the reconciliation)."""
    if item.closed_by_submission_id is not None or item.close_approved_on is not None:
        return "closed"
    if item.done_reported_at is not None:
        return "done"
    if item.measure:
        return "assigned"
    return "open"


def _identity_flagged(session: Session, household: Household) -> set[int]:
    """Submissions of the household with an open identity flag (the flags model marks them as needing action)."""
    return set(
        session.scalars(
            select(Flag.submission_id).where(
                Flag.household_code == household.code, Flag.kind.in_(IDENTITY_FLAGS), Flag.state == "open"
            )
        )
    )


def derive_households(session: Session, household_ids: set[int]) -> None:
    for household_id in sorted(household_ids):
        household = session.get(Household, household_id)
        if household is not None:
            derive_household(session, household)


def resolve_flag_and_derive(
    session: Session, project_id: int, flag_id: int, state: str, user_id: int | None, scope: Scope | None = None
) -> Flag:
    """A supervisor's decision on a flag, and the household's identity items derived again with it: a resolved
    or dismissed identity flag needs no action, so its item goes (or turns void if someone decided about it)."""
    flag = resolve_flag(session, project_id, flag_id, state, user_id, scope)  # outside ``scope``: not found
    if flag.kind in IDENTITY_FLAGS and flag.household_code:
        household = session.scalar(
            select(Household).where(Household.project_id == project_id, Household.code == flag.household_code)
        )
        if household is not None:
            derive_household(session, household)
    return flag
