"""Household baseline (农户基本信息采集 / 两不愁三保障核查): derived flags and checks, docs/domain.md §2, §6.

From one `hh_baseline` submission: the member ID checks (§6.1), the household structure checks (§6.2),
the labour plausibility warnings of §1.5 [P], the cause-of-poverty rule of §1.5 [V], and the
two-assurances flags of §2.4. `housing_ok` is set here only when `housing_basis` does not depend on the
house itself (§2.5); with `own_AB` the latest appraisal decides. `water_ok` always comes from the water
survey.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from forms.rules.answers import AnswerReader
from forms.rules.household import WORKING_LABOUR, RosterMember, roster_from_members
from forms.rules.housing import HOUSING_BASIS_SAFE
from forms.rules.idnumber import MemberIdReport, check_member_ids
from forms.rules.issues import Issue, error, has_errors, merge_issues, warning
from forms.rules.parameters import RuleParameters

CAUSES = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "99")
HOUSING_BASES = (
    "own_AB",
    "own_renovated",
    "relocated",
    "with_relatives",
    "rented_safe",
    "institution",
    "none",
)
EDU_EXEMPT = frozenset({"health_home_teaching", "severe_disability"})
EDU_REASONS = ("health_home_teaching", "severe_disability", "other")
RELATIONS = ("01", "10", "20", "21", "30", "31", "40", "50", "51", "60", "70", "99")
HEALTH = ("healthy", "chronic", "serious", "disabled")
SCHOOL_AGE = (6, 15)
"""Compulsory-education ages, 6-15 inclusive [V]."""


@dataclass(frozen=True)
class BaselineVerdict:
    """Derived household facts of one baseline submission; flags are None when not decided here."""

    status: Literal["accepted", "rejected"]
    hh_size: int
    n_labour: int
    n_school_age: int
    food_ok: bool | None
    clothing_ok: bool | None
    edu_ok: bool | None
    med_ok: bool | None
    housing_ok: bool | None
    risks: tuple[str, ...]
    roster: tuple[RosterMember, ...]
    member_ids: MemberIdReport
    issues: tuple[Issue, ...]
    profile: str
    parameter_version: str


def age_on(birth: date, day: date) -> int:
    """Age in completed years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _member_checks(
    rows: list[Mapping[str, Any]], roster: tuple[RosterMember, ...], survey_date: date | None
) -> tuple[list[Issue], int]:
    """§6.2 structure and §1.5 labour rules; returns the issues and the number of school-age members."""
    issues: list[Issue] = []
    heads: list[tuple[int, int | None]] = []
    spouses: list[tuple[int, int | None]] = []
    children: list[tuple[int, int | None]] = []
    school_age = 0
    for index, (row, member) in enumerate(zip(rows, roster, strict=True)):
        if member.status != "active":
            continue
        reader = AnswerReader(row)
        label = f"members[{index + 1}]"
        age = age_on(member.birth_date, survey_date) if member.birth_date and survey_date else None
        relation = reader.choice("m_relation", RELATIONS)
        health = reader.choice("m_health", HEALTH)
        if relation == "01":
            heads.append((index, age))
        elif relation == "10":
            spouses.append((index, age))
        elif relation in ("20", "30"):
            children.append((index, age))
        if age is not None and SCHOOL_AGE[0] <= age <= SCHOOL_AGE[1]:
            school_age += 1
        if age is not None and age < 16 and member.labour not in (None, "none"):
            issues.append(warning("labour_under_16", f"{label}: aged {age} but labour is {member.labour}"))
        if (
            member.labour == "lost"
            and health not in ("chronic", "serious", "disabled")
            and (age is None or age < 60)
        ):
            issues.append(
                warning(
                    "labour_lost_unexplained", f"{label}: labour lost without illness, disability or age 60+"
                )
            )
        issues.extend(
            Issue(i.code, i.severity, f"{label}: {i.message}", f"{label}.{i.field}" if i.field else label)
            for i in reader.issues
        )
    if len(heads) != 1:
        issues.append(
            error("head_count", f"exactly one active member must be the head (01); found {len(heads)}")
        )
    if len(spouses) > 1:
        issues.append(error("spouse_count", "at most one active spouse (10)"))
    for index, age in spouses:
        if age is not None and age < 18:
            issues.append(warning("spouse_under_18", f"members[{index + 1}]: spouse aged {age}"))
    if len(heads) == 1 and heads[0][1] is not None:
        head_age = heads[0][1]
        for index, age in children:
            if age is not None and head_age - age < 12:
                issues.append(
                    warning(
                        "child_age_gap", f"members[{index + 1}]: less than 12 years younger than the head"
                    )
                )
    return issues, school_age


def derive_baseline(
    answers: Mapping[str, Any],
    params: RuleParameters,
    *,
    household_county: str | None = None,
) -> BaselineVerdict:
    """Server entry point: derived flags and checks of one `hh_baseline` submission from its raw answers.

    Never raises on any answer text; an error issue makes the verdict `rejected`.
    """
    reader = AnswerReader(answers)
    survey_date = reader.date("survey_date") or reader.date("today", required=True)
    rows = reader.repeat("members")
    ids = check_member_ids(
        rows, survey_date=survey_date, household_county=household_county or reader.raw("county")
    )
    roster = roster_from_members(rows)
    issues: list[Issue] = list(ids.issues)
    structure, n_school_age = _member_checks(rows, roster, survey_date)
    issues.extend(structure)
    active = [member for member in roster if member.status == "active"]
    if not active:
        issues.append(error("no_members", "the household has no active member", "members"))

    main = reader.choice("main_cause", CAUSES, required=bool(reader.raw("poverty_attr")))
    others = reader.choices("other_causes", CAUSES)
    if len(others) > 2 or (main is not None and main in others):
        issues.append(
            error("other_causes", "at most 2 other causes, not repeating the main cause", "other_causes")
        )

    food_ok = reader.yes_no("food_ok", required=True)
    clothing_ok = reader.yes_no("clothing_ok", required=True)
    edu_ok: bool | None = True
    risks: list[str] = []
    if n_school_age > 0:
        dropout = reader.yes_no("edu_dropout_any", required=True)
        reason = reader.choice("edu_exempt_reason", EDU_REASONS)
        edu_ok = None if dropout is None else (not dropout or reason in EDU_EXEMPT)
        if edu_ok is False:
            risks.append("13")
    access = reader.yes_no("med_access_ok", required=True)
    insured = [AnswerReader(row).yes_no("m_med_ins") for row in rows]
    active_insured = [ok for ok, member in zip(insured, roster, strict=True) if member.status == "active"]
    med_ok = None if access is None else access and all(ok is True for ok in active_insured)
    basis = reader.choice("housing_basis", HOUSING_BASES)
    housing_ok = None if basis in (None, "own_AB") else basis in HOUSING_BASIS_SAFE

    all_issues = merge_issues(reader.issues, issues)
    return BaselineVerdict(
        status="rejected" if has_errors(all_issues) else "accepted",
        hh_size=len(active),
        n_labour=sum(1 for member in active if member.labour in WORKING_LABOUR),
        n_school_age=n_school_age,
        food_ok=food_ok,
        clothing_ok=clothing_ok,
        edu_ok=edu_ok,
        med_ok=med_ok,
        housing_ok=housing_ok,
        risks=tuple(risks),
        roster=roster,
        member_ids=ids,
        issues=all_issues,
        profile=params.profile,
        parameter_version=params.version,
    )
