"""The clearance view the campaign is measured by: open problems of an area as of a date.

For every household registered in the area on the date, the latest counted record of each kind dated on
or before it decides: C/D housing, water that does not meet (``budabiao``), income under each line.

A household is cleared only when every one of them is known and none is a problem. Unknown, never
cleared: a household with no such record, a registration whose verdict could not be computed (no rule
parameters for its year, or rejected by the rules), and a topic whose newest record could not be judged
although an older one was fine (the newer facts may show a problem). A problem an older record showed
stays open until a judged record clears it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from sync.db.models import BaselineRecord, Household, HousingAppraisal, IncomeCheck, WaterSurvey
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
    baseline_unknown: int = 0  # registration verdict not computed (no parameters for the year, or rejected)
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
    households_unknown: int = 0  # no open problem, but something not known: not cleared
    households_cleared: int = 0  # every topic known, none a problem


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
    ids = set(session.scalars(select(households.c.id)))
    result.households = len(ids)
    problems: set[int] = set()
    known: dict[str, set[int]] = {}

    baselines = _latest(session, BaselineRecord, BaselineRecord.status == "accepted", households, as_of)
    unjudged = {household_id for household_id in ids if household_id not in baselines.judged}
    result.baseline_unknown = len(unjudged)

    housing = _latest(session, HousingAppraisal, HousingAppraisal.grade.is_not(None), households, as_of,
                      HousingAppraisal.grade)  # fmt: skip
    for household_id, (grade,) in housing.values.items():
        result.housing_grades[grade] += 1
        if grade in ("C", "D"):
            result.housing_unsafe += 1
            problems.add(household_id)
    known["housing"] = housing.known(problems)

    water = _latest(session, WaterSurvey, WaterSurvey.verdict.is_not(None), households, as_of, WaterSurvey.verdict)
    water_problems = {household_id for household_id, (verdict,) in water.values.items() if verdict == "budabiao"}
    result.water_unsafe = len(water_problems)
    problems |= water_problems
    known["water"] = water.known(water_problems)

    incomes = _latest(
        session,
        IncomeCheck,
        IncomeCheck.status == "computed",
        households,
        as_of,
        IncomeCheck.below_exit_line,
        IncomeCheck.below_monitor_line,
        IncomeCheck.below_dibao_line,
    )
    income_problems: set[int] = set()
    decided: set[int] = set()  # at least one line applied (exit before 2021, monitoring from 2019/2020)
    for household_id, (below_exit, below_monitor, below_dibao) in incomes.values.items():
        result.income_below_poverty_line += bool(below_exit)
        result.income_below_monitor_line += bool(below_monitor)
        result.income_below_dibao_line += bool(below_dibao)
        if below_exit or below_monitor:
            income_problems.add(household_id)
        if below_exit is not None or below_monitor is not None:
            decided.add(household_id)
    problems |= income_problems
    known["income"] = incomes.known(income_problems) & (decided | income_problems)

    result.housing_unknown = result.households - len(known["housing"])
    result.water_unknown = result.households - len(known["water"])
    result.income_unknown = result.households - len(known["income"])
    result.households_with_open_problems = len(problems)
    cleared = ids - problems - unjudged
    for topic in known.values():
        cleared &= topic
    result.households_cleared = len(cleared)
    result.households_unknown = result.households - len(problems) - len(cleared)
    return result


@dataclass
class _Latest:
    """One kind of record for the households of an area: what the latest judged record says, and which
    households' newest record is judged."""

    values: dict[int, tuple]  # household id -> extra columns of its latest judged record
    judged: set[int]  # households whose newest counted record is the latest judged one

    def known(self, problems: set[int]) -> set[int]:
        """Households whose topic is known: a problem shown by any judged record, or a judged newest record."""
        return (set(self.values) & problems) | self.judged


def _latest(session: Session, model, judged, households, as_of: date, *extra) -> _Latest:  # noqa: ANN001
    """The latest counted record with a verdict (``judged``), and the newest counted record of every kind,
    per household, on or before ``as_of``."""
    newest = _ranked(session, model, None, households, as_of)
    latest = _ranked(session, model, judged, households, as_of, *extra)
    return _Latest(
        values={household_id: row[1:] for household_id, row in latest.items()},
        judged={household_id for household_id, row in latest.items() if newest.get(household_id, (None,))[0] == row[0]},
    )


def _ranked(session: Session, model, condition, households, as_of: date, *extra) -> dict[int, tuple]:  # noqa: ANN001
    """household id -> (record id, *extra) of its latest counted record meeting ``condition``."""
    ranked = (
        select(
            model.household_id,
            model.id,
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
            model.survey_date <= as_of,
            counted(model),
            *([] if condition is None else [condition]),
        )
        .subquery()
    )
    rows = session.execute(select(ranked).where(and_(ranked.c.rank == 1)))
    return {row[0]: tuple(row[1:-1]) for row in rows}
