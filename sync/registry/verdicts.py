"""Run the server's rules on one submission's answers: parameters, verdict, device comparison.

Pure of the database: given the answers and the registry facts the rules need, return what the
normalizer stores. The device's values are compared with the server's (docs/forms.md 5); a difference
is returned as a mismatch, and the server's value is the one the registry uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from forms.device_verdicts import DEVICE_VERDICTS
from forms.rules.answers import AnswerReader
from forms.rules.baseline import BaselineVerdict, derive_baseline
from forms.rules.household import HouseholdContext
from forms.rules.housing import HouseContext, HousingVerdict, derive_house_appraisal
from forms.rules.income import IncomeVerdict, derive_income_check, income_parameter_year
from forms.rules.issues import Issue
from forms.rules.parameters import ParameterError, RuleParameters, load_parameters
from forms.rules.water import WaterContext, WaterVerdict, derive_water_survey

DEFAULT_PROFILE = "TCHES2018"
# The folder of the county's applied parameter table (docs/ledger.md), laid over the shipped table: set once
# per process from the settings (server/services.py), like the engine, and read by every judgement.
_overlay: list[Path | None] = [None]


def use_parameter_overlay(directory: Path | None) -> None:
    _overlay[0] = directory


def parameter_overlay() -> Path | None:
    return _overlay[0]


@dataclass(frozen=True)
class Mismatch:
    field: str
    device: str
    server: str


@dataclass
class Judgement:
    """What the rules said about one submission."""

    verdict: Any | None  # BaselineVerdict, HousingVerdict, WaterVerdict, IncomeVerdict, or None
    issues: list[Issue] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    parameter_problem: str | None = None

    @property
    def status(self) -> str:
        return "no_parameters" if self.verdict is None else self.verdict.status


def survey_day(answers: dict) -> date | None:
    reader = AnswerReader(answers)
    return reader.date("survey_date") or reader.date("today")


def parameters_for(county: str | None, year: int | None, profile: str) -> tuple[RuleParameters | None, str | None]:
    if not county or len(county) < 2 or year is None:
        return None, "the household's county or the survey year is unknown, so no rule parameters apply"
    try:
        return load_parameters(county[:2], county, year, profile, overlay=_overlay[0]), None
    except ParameterError as exc:
        return None, str(exc)


def judge_baseline(answers: dict, county: str | None) -> Judgement:
    day = survey_day(answers)
    params, problem = parameters_for(county, day.year if day else None, DEFAULT_PROFILE)
    if params is None:
        return Judgement(None, parameter_problem=problem)
    verdict: BaselineVerdict = derive_baseline(answers, params, household_county=county)
    return Judgement(verdict, list(verdict.issues), _compare(answers, "hh_baseline", verdict))


def judge_housing(answers: dict, county: str | None, context: HouseContext) -> Judgement:
    day = survey_day(answers)
    params, problem = parameters_for(county, day.year if day else None, DEFAULT_PROFILE)
    if params is None:
        return Judgement(None, parameter_problem=problem)
    verdict: HousingVerdict = derive_house_appraisal(answers, params, context)
    return Judgement(verdict, list(verdict.issues), _compare(answers, "house_appraisal", verdict))


def judge_water(answers: dict, county: str | None, context: WaterContext) -> Judgement:
    day = survey_day(answers)
    profile = (answers.get("w_profile") or "").strip() or DEFAULT_PROFILE
    params, problem = parameters_for(county, day.year if day else None, profile)
    if params is None:
        return Judgement(None, parameter_problem=problem)
    verdict: WaterVerdict = derive_water_survey(answers, params, context)
    return Judgement(verdict, list(verdict.issues), _compare(answers, "water_survey", verdict))


def judge_income(answers: dict, county: str | None, household: HouseholdContext) -> Judgement:
    params, problem = parameters_for(county, income_parameter_year(answers), DEFAULT_PROFILE)
    if params is None:
        return Judgement(None, parameter_problem=problem)
    verdict: IncomeVerdict = derive_income_check(answers, params, household)
    return Judgement(verdict, list(verdict.issues), _compare(answers, "income_check", verdict))


def verdict_record(verdict: Any) -> dict:
    """A JSON-safe copy of a verdict for the history row (roster and ID report left to the members)."""
    if verdict is None:
        return {}
    data = {k: v for k, v in asdict(verdict).items() if k not in ("roster", "member_ids")}
    return _json_safe(data)


def _compare(answers: dict, form_id: str, verdict: Any) -> list[Mismatch]:
    """Device values the form computed that differ from the server's (a blank value on either side is no
    claim); which fields are compared is listed once, in ``forms.device_verdicts``."""
    found = []
    for compared in DEVICE_VERDICTS[form_id]:
        if compared.value is None:
            continue
        expected = compared.value(verdict)
        device = answers.get(compared.field)
        if not isinstance(device, str) or not device.strip() or not expected:
            continue
        if not _same(device.strip(), expected):
            found.append(Mismatch(compared.field, device.strip(), expected))
    return found


def _same(device: str, server: str) -> bool:
    try:
        return abs(Decimal(device) - Decimal(server)) < Decimal("0.01")
    except ArithmeticError:
        return device == server


def _json_safe(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _json_safe(asdict(value))
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_json_safe(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
