"""A household's current state, derived from its history; household codes; member rows.

The current columns of ``households`` and the ``persons`` rows are projections: ``refresh_household``
recomputes them from the counted history rows, so an edit, a rejection or a rebuild can never leave a
stale value behind. Which record is current: the latest by survey date, then by receipt (a survey done
earlier but uploaded later does not override a newer one) [P]. Rejected submissions do not count, nor do
submissions awaiting approval under a form's approval gate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from forms.rules.household import HouseholdContext, roster_from_members
from forms.rules.housing import HouseContext
from forms.rules.water import WaterContext
from media.geo import parse_geopoint
from sync.db.models import (
    BaselineRecord,
    Household,
    HousingAppraisal,
    IncomeCheck,
    Person,
    WaterSurvey,
    utcnow,
)

HISTORY = (BaselineRecord, HousingAppraisal, WaterSurvey, IncomeCheck)
# The entity property each form's history row sets (docs/forms.md 3), with its value as the entity list
# shows it and the one column that value is read from (so entity versions load only it, not the answers):
# two updates of one property from the same base version are an offline conflict.
UPDATES: dict[type, tuple[str, Callable[[Any], str], str]] = {
    BaselineRecord: ("hh_size", lambda row: str((row.server_verdict or {}).get("hh_size", "")), "server_verdict"),
    HousingAppraisal: ("house_grade", lambda row: row.grade or "", "grade"),
    WaterSurvey: ("water_verdict", lambda row: row.verdict or "", "verdict"),
    IncomeCheck: ("income_pc", lambda row: "" if row.income_pc is None else str(row.income_pc), "income_pc"),
}
# History rows in these review states are kept for the record but count for no household: rejected ones,
# and those of a form with an approval gate that are not approved yet.
PENDING = "pending"
NOT_COUNTED = ("rejected", PENDING)
REGISTERED_YES = "1"


def find_household(session: Session, project_id: int, ref: str | None) -> Household | None:
    """The household a phone means by ``ref``: its entity UUID (what the entity list gives) or its code."""
    ref = (ref or "").strip().removeprefix("uuid:")
    if not ref:
        return None
    return session.scalar(_household_by_ref(), {"project_id": project_id, "ref": ref})


@cache
def _household_by_ref() -> Select:
    ref = bindparam("ref")
    return select(Household).where(
        Household.project_id == bindparam("project_id"), or_(Household.entity_id == ref, Household.code == ref)
    )


def updated_property(row: Any) -> dict[str, str]:
    """The entity property a history row set, and its value: ``{"house_grade": "C"}``."""
    name, value, _column = UPDATES[type(row)]
    return {name: value(row)}


def households_of(session: Session, submission_ids: set[int]) -> dict[int, Household]:
    """The household each submission concerns: its history row (the latest), or the household it registered."""
    found: dict[int, int] = {}
    if not submission_ids:
        return {}
    for model in HISTORY:
        rows = session.execute(
            select(model.submission_id, model.household_id)
            .where(model.submission_id.in_(submission_ids), model.household_id.is_not(None))
            .order_by(model.id)
        )
        for submission_id, household_id in rows:
            found[submission_id] = household_id
    rest = submission_ids - found.keys()
    if rest:
        rows = session.execute(
            select(Household.registered_submission_id, Household.id).where(Household.registered_submission_id.in_(rest))
        )
        found.update({submission_id: household_id for submission_id, household_id in rows})
    if not found:
        return {}
    households = {h.id: h for h in session.scalars(select(Household).where(Household.id.in_(set(found.values()))))}
    return {submission_id: households[household_id] for submission_id, household_id in found.items()}


def next_code(session: Session, project_id: int, village: str) -> str:
    """``hh_code``: the 12-digit village code and the next free 4-digit sequence (docs/domain.md §1.3) [P]."""
    # Codes are only ever made here, as the village and 4 digits; the range (redundant with the LIKE for them)
    # lets the (project, code) index find them instead of scanning every household's code on each registration.
    highest = session.scalar(
        select(func.max(Household.code)).where(
            Household.project_id == project_id,
            Household.code.like(f"{village}____"),
            Household.code.between(f"{village}0000", f"{village}9999"),
        )
    )
    sequence = int(highest[-4:]) + 1 if highest and highest[-4:].isdigit() else 1
    return f"{village}{sequence:04d}"


def history_of(session: Session, model: type, household_id: int) -> list:
    """Counted rows of one history table for a household, oldest first by (survey date, receipt)."""
    rows = session.scalars(_counted_rows(model), {"household_id": household_id}).all()
    return sorted(rows, key=lambda row: (row.survey_date or date.min, row.received_at, row.id))


# The queries that run several times for every submission are built once (``cache``) with bound parameters:
# building a statement again each time cost as much as running it on SQLite.


def counted(model: type) -> ColumnElement[bool]:
    """The history rows that count for their household: every one but a rejected submission's, and but one
    awaiting approval under its form's approval gate."""
    return or_(model.review_state.is_(None), model.review_state.not_in(NOT_COUNTED))


@cache
def _counted_rows(model: type) -> Select:
    """The query of ``history_of`` for one table."""
    return select(model).where(model.household_id == bindparam("household_id"), counted(model))


def refresh_household(session: Session, household: Household) -> None:
    """Recompute the household's current columns and member rows from its counted history."""
    session.flush()
    # Each table is read once: the counted rows of all four are also the household's contributions, so the
    # entity version (their number, as sync/registry/entities.py counts them) needs no second round of queries.
    counted = {model: history_of(session, model, household.id) for model in HISTORY}
    baselines = counted[BaselineRecord]
    appraisals = [row for row in counted[HousingAppraisal] if row.grade]
    surveys = [row for row in counted[WaterSurvey] if row.verdict]
    incomes = [row for row in counted[IncomeCheck] if row.status == "computed"]
    household.entity_version = sum(len(rows) for rows in counted.values())
    _apply_baseline(household, baselines)
    _apply_housing(household, appraisals, baselines[-1] if baselines else None)
    _apply_water(household, surveys)
    _apply_income(household, incomes)
    # The member rows do not depend on the columns just set, which are then written in one UPDATE, not two.
    with session.no_autoflush:
        _replace_persons(session, household, baselines)
    household.label = _label(household)
    household.updated_at = utcnow()


def _apply_baseline(household: Household, baselines: list[BaselineRecord]) -> None:
    if not baselines:
        household.registered_on = None
        return
    first, latest = baselines[0], baselines[-1]
    household.registered_on = first.survey_date
    household.registered_submission_id = first.submission_id
    answers, verdict = latest.answers, latest.server_verdict
    household.county = answers.get("county") or None
    household.township = answers.get("township") or None
    household.village = answers.get("village") or None
    household.group_name = answers.get("group_name") or None
    household.phone = answers.get("phone") or None
    point = parse_geopoint(answers.get("gps_house"))
    household.latitude = point.latitude if point else None
    household.longitude = point.longitude if point else None
    household.household_type = answers.get("poverty_attr") or None
    household.main_cause = answers.get("main_cause") or None
    household.other_causes = (answers.get("other_causes") or "").split()
    household.status = "poor" if answers.get("registered") == REGISTERED_YES else "general"
    household.hh_size = verdict.get("hh_size", latest.hh_size)
    for name in ("food_ok", "clothing_ok", "edu_ok", "med_ok"):
        setattr(household, name, verdict.get(name))
    head = _head(latest)
    household.head_name = head.get("m_name") if head else None
    household.head_id_no = (head.get("m_id") or "").upper() or None if head else None


def _apply_housing(household: Household, appraisals: list[HousingAppraisal], baseline: BaselineRecord | None) -> None:
    basis_ok = baseline.server_verdict.get("housing_ok") if baseline else None
    if appraisals:
        latest = appraisals[-1]
        household.house_grade, household.house_grade_date = latest.grade, latest.survey_date
        household.housing_ok = latest.housing_ok if basis_ok is None else bool(basis_ok or latest.housing_ok)
    else:
        household.house_grade = household.house_grade_date = None
        household.housing_ok = basis_ok


def _apply_water(household: Household, surveys: list[WaterSurvey]) -> None:
    latest = surveys[-1] if surveys else None
    household.water_verdict = latest.verdict if latest else None
    household.water_ok = latest.water_ok if latest else None
    household.water_date = latest.survey_date if latest else None


def _apply_income(household: Household, incomes: list[IncomeCheck]) -> None:
    latest = incomes[-1] if incomes else None
    household.income_year = latest.income_year if latest else None
    household.income_pc = latest.income_pc if latest else None
    household.net_total = latest.net_total if latest else None
    verdict = latest.server_verdict if latest else {}
    household.monitor_flag = bool(verdict.get("monitor_flag"))
    household.monitor_category = verdict.get("monitor_category")
    risks: list[str] = []
    for row in reversed(incomes):  # most recent first, at most 5 (docs/domain.md §5.7)
        for risk in row.server_verdict.get("risks") or []:
            if risk not in risks:
                risks.append(risk)
    household.monitor_risks = risks[:5]


def _head(baseline: BaselineRecord) -> dict | None:
    members = baseline.answers.get("members") or []
    for member in members:
        if member.get("m_relation") == "01" and (member.get("m_status") or "active") == "active":
            return member
    return None


_PERSON_COLUMNS = (
    "project_id",
    "household_id",
    "id_no",
    "id_valid",
    "name",
    "sex",
    "birth_date",
    "relation",
    "member_status",
    "member_since",
    "member_until",
    "source_submission_id",
)


def _replace_persons(session: Session, household: Household, baselines: list[BaselineRecord]) -> None:
    """Members as the latest baseline lists them; ``member_since`` is the first baseline naming them.

    The rows are rewritten only when they would change: most submissions are follow-ups, which leave the
    members as they were, and deleting and inserting the same rows again was a good part of their cost.
    """
    wanted = _member_rows(household, baselines)
    existing = session.scalars(_members_of(), {"household_id": household.id}).all()
    if [tuple(getattr(person, name) for name in _PERSON_COLUMNS) for person in existing] == [
        tuple(row[name] for name in _PERSON_COLUMNS) for row in wanted
    ]:
        return
    session.execute(delete(Person).where(Person.household_id == household.id))
    for row in wanted:
        session.add(Person(**row))


@cache
def _members_of() -> Select:
    return select(Person).where(Person.household_id == bindparam("household_id")).order_by(Person.id)


def _member_rows(household: Household, baselines: list[BaselineRecord]) -> list[dict]:
    if not baselines:
        return []
    latest = baselines[-1]
    first_seen: dict[str, date | None] = {}
    for record in baselines:
        for member in record.answers.get("members") or []:
            first_seen.setdefault(_person_key(member), record.survey_date)
    checks = {item["index"]: item for item in latest.server_verdict.get("member_checks", [])}
    rows = []
    for index, member in enumerate(latest.answers.get("members") or []):
        check = checks.get(index, {})
        status = (member.get("m_status") or "active").strip() or "active"
        rows.append(
            {
                "project_id": household.project_id,
                "household_id": household.id,
                "id_no": (member.get("m_id") or "").strip().upper() or None,
                "id_valid": bool(check.get("valid")),
                "name": (member.get("m_name") or "").strip(),
                "sex": member.get("m_sex") or None,
                "birth_date": date.fromisoformat(check["birth_date"]) if check.get("birth_date") else None,
                "relation": member.get("m_relation") or None,
                "member_status": status,
                "member_since": first_seen.get(_person_key(member)),
                "member_until": _parse_day(member.get("m_status_date")) if status != "active" else None,
                "source_submission_id": latest.submission_id,
            }
        )
    return rows


def _person_key(member: dict) -> str:
    return (member.get("m_id") or "").strip().upper() or f"name:{(member.get('m_name') or '').strip()}"


def _parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()[:10])
    except ValueError:
        return None


def _label(household: Household) -> str:
    place = " ".join(part for part in (household.group_name,) if part)
    return " · ".join(part for part in (household.head_name, place) if part) or household.code


def house_context(household: Household | None) -> HouseContext:
    if household is None:
        return HouseContext()
    return HouseContext(
        hh_status=household.status, monitored=household.monitor_flag, previous_grade=household.house_grade
    )


def water_context(household: Household | None) -> WaterContext:
    if household is None:
        return WaterContext()
    return WaterContext(hh_status=household.status, monitored=household.monitor_flag)


def household_context(session: Session, household: Household | None) -> HouseholdContext:
    """The registry facts the income rules take: status, assurances, roster, previous net income."""
    if household is None:
        return HouseholdContext()
    baselines = history_of(session, BaselineRecord, household.id)
    members = baselines[-1].answers.get("members") or [] if baselines else []
    previous = [row for row in history_of(session, IncomeCheck, household.id) if row.status == "computed"]
    return HouseholdContext(
        hh_status=household.status,
        poverty_attr=household.household_type,
        food_ok=household.food_ok,
        clothing_ok=household.clothing_ok,
        edu_ok=household.edu_ok,
        med_ok=household.med_ok,
        housing_ok=household.housing_ok,
        water_ok=household.water_ok,
        roster=roster_from_members(members),
        previous_net_total=previous[-1].net_total if previous else None,
    )


def as_decimal(value: object) -> Decimal | None:
    try:
        return None if value in (None, "") else Decimal(str(value))
    except ArithmeticError:
        return None
