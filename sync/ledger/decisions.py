"""What people decide about a ledger item: a measure with its unit, person and deadline, a done report, a
manual close (a reason, then a second account's approval). Each change is audited.

These are the columns a rebuild keeps (docs/ledger.md): derivation never writes them. The state follows
from them (``sync.ledger.derive.state_of``) unless a counted record already closed the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.db.models import LedgerItem, LedgerMeasure, utcnow
from sync.errors import BadRequest, Forbidden, NotFound, StateConflict
from sync.ledger.derive import state_of
from sync.ledger.kinds import KINDS
from sync.oversight.audit import record

# The columns' widths (sync/db/models/ledger.py): the API schema and the page check the same numbers.
UNIT_MAX, PERSON_MAX = 200, 100


@dataclass(frozen=True)
class Assignment:
    measure: str
    unit: str
    person: str
    deadline: date


def get_item(session: Session, project_id: int, item_id: int, area: str | None) -> LedgerItem:
    """The item, if it is in the project and in the caller's area (outside it is as absent as a missing one)."""
    item = session.get(LedgerItem, item_id)
    if item is None or item.project_id != project_id or (area and not item.village.startswith(area)):
        raise NotFound(f"There is no ledger item {item_id} in this project.")
    return item


def _open(item: LedgerItem) -> None:
    if item.state in ("closed", "void"):
        raise StateConflict(f"Ledger item {item.id} is {item.state}; it cannot be changed.")


def assign(session: Session, item: LedgerItem, assignment: Assignment, user_id: int | None) -> LedgerItem:
    """Record (or change) the measure, unit, person and deadline; the item is then ``assigned``."""
    _open(item)
    measure = session.get(LedgerMeasure, assignment.measure)
    if measure is None or not measure.active:
        raise BadRequest(f"Unknown measure {assignment.measure!r}; see GET .../ledger/measures.")
    if measure.kind != item.kind:
        raise BadRequest(f"The measure {measure.code} is for {measure.kind} problems, this item is {item.kind}.")
    if not assignment.unit.strip() or not assignment.person.strip():
        raise BadRequest("An assignment needs a responsible unit and a responsible person.")
    if len(assignment.unit.strip()) > UNIT_MAX or len(assignment.person.strip()) > PERSON_MAX:
        raise BadRequest(f"The unit may have at most {UNIT_MAX} characters, the person {PERSON_MAX}.")
    before = _decision(item)
    item.measure, item.unit, item.person = measure.code, assignment.unit.strip(), assignment.person.strip()
    item.deadline = assignment.deadline
    item.assigned_by_user_id, item.assigned_at = user_id, utcnow()
    item.state = state_of(item)
    record(session, "ledger.assign", subject=f"ledger_item:{item.id}", user_id=user_id,
           details={"before": before, "after": _decision(item)})  # fmt: skip
    return item


def report_done(session: Session, item: LedgerItem, note: str, user_id: int | None) -> LedgerItem:
    """The responsible unit says the work is done; only a counted record (or an approved close) closes it."""
    _open(item)
    if not item.measure:
        raise StateConflict(f"Ledger item {item.id} has no measure assigned yet.")
    item.done_reported_at, item.done_by_user_id, item.done_note = utcnow(), user_id, note.strip() or None
    item.state = state_of(item)
    record(session, "ledger.done", subject=f"ledger_item:{item.id}", user_id=user_id, details={"note": note})
    return item


def request_close(session: Session, item: LedgerItem, reason: str, user_id: int | None) -> LedgerItem:
    """Ask for a manual close (销号 without a record that shows the problem solved): needs a reason."""
    _open(item)
    if not reason.strip():
        raise BadRequest("A manual close needs a reason.")
    if user_id is None:
        raise Forbidden("Only a named account may ask for a manual close.")
    item.close_reason, item.close_requested_by_user_id, item.close_requested_at = reason.strip(), user_id, utcnow()
    item.close_approved_by_user_id = None
    record(session, "ledger.close_request", subject=f"ledger_item:{item.id}", user_id=user_id,
           details={"reason": item.close_reason})  # fmt: skip
    return item


def approve_close(session: Session, item: LedgerItem, user_id: int | None, on: date | None = None) -> LedgerItem:
    """A second account approves the close request; the item is closed on the approval date."""
    _open(item)
    if item.close_requested_at is None:
        raise StateConflict(f"Nobody has asked to close ledger item {item.id}.")
    if user_id is None or user_id == item.close_requested_by_user_id:
        raise Forbidden("A manual close must be approved by another account than the one that asked for it.")
    item.close_approved_by_user_id, item.close_approved_on = user_id, on or date.today()
    item.closed_on = item.close_approved_on
    item.state = state_of(item)
    record(session, "ledger.close_approve", subject=f"ledger_item:{item.id}", user_id=user_id,
           details={"reason": item.close_reason, "requested_by": item.close_requested_by_user_id})  # fmt: skip
    return item


def _decision(item: LedgerItem) -> dict:
    return {"measure": item.measure, "unit": item.unit, "person": item.person,
            "deadline": item.deadline.isoformat() if item.deadline else None}  # fmt: skip


def list_measures(session: Session, kind: str | None = None) -> list[LedgerMeasure]:
    query = select(LedgerMeasure).order_by(LedgerMeasure.kind, LedgerMeasure.position, LedgerMeasure.code)
    if kind:
        query = query.where(LedgerMeasure.kind == kind)
    return list(session.scalars(query))


def save_measure(
    session: Session, code: str, kind: str, label_zh: str, label_en: str, active: bool, user_id: int | None
) -> LedgerMeasure:
    """Add or change an entry of the list of measures (an entry in use is switched off, never deleted)."""
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}.")
    if not code or len(code) > 32 or not code.replace("_", "").isalnum() or not code.isascii():
        raise BadRequest("A measure's code is 1-32 ASCII letters, digits or underscores.")
    if not label_zh.strip() or not label_en.strip():
        raise BadRequest("A measure needs a zh-CN and an English label.")
    measure = session.get(LedgerMeasure, code)
    if measure is None:
        position = len(list_measures(session, kind)) * 10 + 10
        measure = LedgerMeasure(code=code, kind=kind, position=position)
        session.add(measure)
    elif measure.kind != kind:
        raise BadRequest(f"The measure {code} is for {measure.kind} problems; its kind cannot change.")
    measure.label_zh, measure.label_en, measure.active = label_zh.strip(), label_en.strip(), active
    details = {"kind": kind, "label_zh": measure.label_zh, "label_en": measure.label_en, "active": active}
    record(session, "ledger.measure", subject=f"ledger_measure:{code}", user_id=user_id, details=details)
    session.flush()
    return measure
