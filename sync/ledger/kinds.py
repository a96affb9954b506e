"""What counts as a problem for the ledger, kind by kind, read from one counted history row.

Each kind looks at the records of one registry table that have a verdict (a record the rules could not
judge neither opens nor closes an item: unknown is never cleared) and says whether the record shows the
problem. The lines are the registry's (docs/registry.md, Clearance), so the ledger and
``registry/clearance`` never disagree on who has a problem:

- ``housing``: house grade C or D (危房, docs/domain.md §3.4); A or B solves it.
- ``water``: verdict 不达标 ``budabiao``, and 基本达标 ``jiben`` where the county's parameter
  ``water_basic_is_problem`` is 1 (docs/rules.md 7) [P]; anything else solves it.
- ``income``: per-capita income under the exit (poverty) line or the monitoring line of its year (§5.4 D2,
  D3); a computed check above both solves it.
- ``monitoring``: the income check proposes monitoring (categories M2-M4, §5.5); a later one that does not
  solves it.
- ``identity``: the registration's baseline has an open flag of an identity kind (an ID number failing
  GB 11643, a person active in two households); a later baseline without one solves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.db.models import BaselineRecord, HousingAppraisal, IncomeCheck, WaterSurvey
from sync.registry.verdicts import DEFAULT_PROFILE, parameters_for

KINDS = ("housing", "water", "income", "monitoring", "identity")
IDENTITY_FLAGS = ("id_number_invalid", "person_in_two_households")
FORM_OF = {
    BaselineRecord: "hh_baseline",
    HousingAppraisal: "house_appraisal",
    WaterSurvey: "water_survey",
    IncomeCheck: "income_check",
}


@dataclass(frozen=True)
class Reading:
    """What one record says about one kind: None when it cannot say (not judged)."""

    problem: bool | None
    details: dict


@dataclass(frozen=True)
class Kind:
    name: str
    model: type
    read: Callable[[Any, str | None, set[int]], Reading]


def _housing(row: HousingAppraisal, county: str | None, flagged: set[int]) -> Reading:
    if not row.grade:
        return Reading(None, {})
    return Reading(row.grade in ("C", "D"), {"grade": row.grade})


def water_basic_is_problem(county: str | None, year: int | None, profile: str | None) -> bool:
    params, _problem = parameters_for(county, year, profile or DEFAULT_PROFILE)
    return bool(params and params.water_basic_is_problem)


def _water(row: WaterSurvey, county: str | None, flagged: set[int]) -> Reading:
    if not row.verdict:
        return Reading(None, {})
    problem = row.verdict == "budabiao"
    if row.verdict == "jiben":
        year = row.survey_date.year if row.survey_date else None
        problem = water_basic_is_problem(county, year, row.profile)
    return Reading(problem, {"verdict": row.verdict})


def _income(row: IncomeCheck, county: str | None, flagged: set[int]) -> Reading:
    if row.status != "computed" or (row.below_exit_line is None and row.below_monitor_line is None):
        return Reading(None, {})
    details = {"income_pc": str(row.income_pc), "income_year": row.income_year}
    return Reading(bool(row.below_exit_line or row.below_monitor_line), details)


def _monitoring(row: IncomeCheck, county: str | None, flagged: set[int]) -> Reading:
    if row.status != "computed":
        return Reading(None, {})
    verdict = row.server_verdict or {}
    return Reading(bool(verdict.get("monitor_flag")), {"category": verdict.get("monitor_category")})


def _identity(row: BaselineRecord, county: str | None, flagged: set[int]) -> Reading:
    return Reading(row.submission_id in flagged, {})


LEDGER_KINDS = (
    Kind("housing", HousingAppraisal, _housing),
    Kind("water", WaterSurvey, _water),
    Kind("income", IncomeCheck, _income),
    Kind("monitoring", IncomeCheck, _monitoring),
    Kind("identity", BaselineRecord, _identity),
)
