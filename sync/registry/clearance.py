"""The clearance view the campaign is measured by: open problems of an area as of a date.

For every household registered in the area on the date, the latest counted record of each kind dated on
or before it decides: C/D housing, water that does not meet (``budabiao``), income under each line. A
household with no such record is counted as unknown, never as cleared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from sync.db.models import Household, HousingAppraisal, IncomeCheck, WaterSurvey
from sync.errors import BadRequest
from sync.numbers import ascii_digits
from sync.registry.households import counted

AREA_LENGTHS = {6: "county", 9: "township", 12: "village"}


@dataclass
class Clearance:
    area: str
    level: str
    as_of: date
    households: int = 0
    housing_unsafe: int = 0  # house grade C or D
    housing_grades: dict[str, int] = field(default_factory=lambda: {"A": 0, "B": 0, "C": 0, "D": 0})
    housing_unknown: int = 0
    water_unsafe: int = 0  # water verdict budabiao
    water_unknown: int = 0
    income_below_poverty_line: int = 0
    income_below_monitor_line: int = 0
    income_below_dibao_line: int = 0
    income_unknown: int = 0
    households_with_open_problems: int = 0


def area_level(area: str) -> str:
    if not ascii_digits(area) or len(area) not in AREA_LENGTHS:
        raise BadRequest("area must be a 6-digit county, 9-digit township or 12-digit village code.")
    return AREA_LENGTHS[len(area)]


def clearance(session: Session, project_id: int, area: str, as_of: date) -> Clearance:
    result = Clearance(area=area, level=area_level(area), as_of=as_of)
    households = (
        select(Household.id)
        .where(
            Household.project_id == project_id,
            Household.registered_on.is_not(None),
            Household.registered_on <= as_of,
            Household.village.like(f"{area}%"),
        )
        .subquery()
    )
    result.households = session.scalar(select(func.count()).select_from(households)) or 0
    grades = _latest(session, HousingAppraisal, HousingAppraisal.grade, households, as_of)
    waters = _latest(session, WaterSurvey, WaterSurvey.verdict, households, as_of)
    incomes = _latest(
        session,
        IncomeCheck,
        IncomeCheck.income_pc,
        households,
        as_of,
        IncomeCheck.below_exit_line,
        IncomeCheck.below_monitor_line,
        IncomeCheck.below_dibao_line,
    )
    problems: set[int] = set()
    for household_id, grade in grades.items():
        result.housing_grades[grade[0]] += 1
        if grade[0] in ("C", "D"):
            result.housing_unsafe += 1
            problems.add(household_id)
    for household_id, verdict in waters.items():
        if verdict[0] == "budabiao":
            result.water_unsafe += 1
            problems.add(household_id)
    for household_id, (_pc, below_exit, below_monitor, below_dibao) in incomes.items():
        result.income_below_poverty_line += bool(below_exit)
        result.income_below_monitor_line += bool(below_monitor)
        result.income_below_dibao_line += bool(below_dibao)
        if below_exit or below_monitor:
            problems.add(household_id)
    result.housing_unknown = result.households - len(grades)
    result.water_unknown = result.households - len(waters)
    result.income_unknown = result.households - len(incomes)
    result.households_with_open_problems = len(problems)
    return result


def _latest(session: Session, model, value, households, as_of: date, *extra) -> dict[int, tuple]:  # noqa: ANN001
    """household id -> (value, *extra) of its latest counted record with a value, on or before ``as_of``."""
    ranked = (
        select(
            model.household_id,
            value.label("value"),
            *extra,
            func.row_number()
            .over(
                partition_by=model.household_id,
                order_by=(model.survey_date.desc(), model.received_at.desc(), model.id.desc()),
            )
            .label("rank"),
        )
        .where(
            model.household_id.in_(select(households.c.id)),
            value.is_not(None),
            model.survey_date <= as_of,
            counted(model),
        )
        .subquery()
    )
    rows = session.execute(select(ranked).where(and_(ranked.c.rank == 1)))
    return {row[0]: tuple(row[1:-1]) for row in rows}
