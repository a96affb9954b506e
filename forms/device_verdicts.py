"""The verdicts each form computes on the phone, and the server verdict each one should equal.

Device calculations are hints for the enumerator and an audit trail (docs/domain.md §0.2): the server
recomputes every verdict with `forms.rules` and never trusts these values. Listing them here lets the
server compare the two and flag a disagreement, which points at a stale form version, a stale media
file (`water_limits.csv`, `income_lines.csv`) or a bug on one side. docs/forms.md documents the same list;
a test keeps the two and the compiled forms in step.

Values as submitted: ratings are the codes `dabiao` / `jiben` / `budabiao`, grades `A`-`D`, flags `1` /
`0`, amounts unrounded decimals; an empty string means "not determinable yet" (a missing answer or a
missing parameter), never "false".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


def as_flag(value: bool | None) -> str:
    """A yes/no verdict as the form writes it: "1", "0", or "" when not determinable."""
    return "" if value is None else ("1" if value else "0")


def as_number(value: Decimal | None) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True)
class DeviceVerdict:
    """One calculated field of a form and its server counterpart."""

    field: str  # field name in the form (leaf name; unique within the form)
    server: str  # attribute of the forms.rules verdict it should equal, or a description
    meaning: str  # what it is, with the docs/domain.md section
    in_repeat: str | None = None  # repeat name when the field is computed per repeat instance
    # The server verdict's value as the form writes it ("" = no claim), for the fields the server compares
    # on every submission (a ``verdict_mismatch`` flag when they differ); None for the others.
    value: Callable[[Any], str] | None = None


DEVICE_VERDICTS: dict[str, tuple[DeviceVerdict, ...]] = {
    "hh_baseline": (
        DeviceVerdict("m_id_ok", "MemberIdReport: check character valid", "GB 11643 check character (§6.1)", "members"),
        DeviceVerdict(
            "m_birth",
            "IdCheck.birth_date",
            "birth date from ID digits 7-14, '' if not a date (§6.1)",
            "members",
        ),
        DeviceVerdict("m_sex_from_id", "IdCheck sex", "1 male / 2 female from the 17th digit (§6.1)", "members"),
        DeviceVerdict("m_age", "age_on(birth, survey_date)", "completed years on survey_date (§2.1)", "members"),
        DeviceVerdict("hh_size", "BaselineVerdict.hh_size", "active members (§2.1)", value=lambda v: str(v.hh_size)),
        DeviceVerdict(
            "n_labour",
            "BaselineVerdict.n_labour",
            "active members with normal or skilled labour (§2.1)",
            value=lambda v: str(v.n_labour),
        ),
        DeviceVerdict(
            "n_school_age",
            "BaselineVerdict.n_school_age",
            "active members aged 6-15 (§2.1)",
            value=lambda v: str(v.n_school_age),
        ),
        DeviceVerdict("med_all_insured", "part of BaselineVerdict.med_ok", "every active member insured (§2.1)"),
        DeviceVerdict(
            "edu_ok", "BaselineVerdict.edu_ok", "compulsory education assured (§2.4)", value=lambda v: as_flag(v.edu_ok)
        ),
        DeviceVerdict(
            "med_ok", "BaselineVerdict.med_ok", "basic medical care assured (§2.4)", value=lambda v: as_flag(v.med_ok)
        ),
    ),
    "house_appraisal": (
        DeviceVerdict(
            "grade_calc",
            "HousingVerdict.grade_calc",
            "house grade from site and components, R2-R7 (§3.4)",
            value=lambda v: v.grade_calc or "",
        ),
        DeviceVerdict(
            "review_required",
            "HousingVerdict.review_required",
            "1 when grade_final is better than grade_calc (§3.4)",
        ),
        DeviceVerdict(
            "advice",
            "HousingVerdict.advice",
            "normal_use / maintain / repair / stop_use / relocate (§3.2)",
            value=lambda v: v.advice or "",
        ),
        DeviceVerdict("quant_grade", "HousingVerdict.cross_check.grade", "JGJ 125 fuzzy cross-check, advisory (§3.5)"),
    ),
    "water_survey": (
        DeviceVerdict("lpcd", "WaterVerdict.lpcd", "litres per person per day (§4.3)"),
        DeviceVerdict("qual_rating", "WaterVerdict.quality", "quality rating (§4.4)", value=lambda v: v.quality or ""),
        DeviceVerdict("q_rating", "WaterVerdict.quantity", "quantity rating (§4.4)", value=lambda v: v.quantity or ""),
        DeviceVerdict(
            "c_rating", "WaterVerdict.convenience", "convenience rating (§4.4)", value=lambda v: v.convenience or ""
        ),
        DeviceVerdict(
            "r_rating", "WaterVerdict.reliability", "reliability rating (§4.4)", value=lambda v: v.reliability or ""
        ),
        DeviceVerdict(
            "w_verdict",
            "WaterVerdict.verdict",
            "dabiao / jiben / budabiao, profile TCHES2018 (§4.4)",
            value=lambda v: v.verdict or "",
        ),
        DeviceVerdict("w_ok", "WaterVerdict.water_ok", "1 unless budabiao (§4.4)"),
        DeviceVerdict("w_failed", "WaterVerdict.failed_indicators", "failed indicators, space-separated (§4.4)"),
    ),
    "income_check": (
        DeviceVerdict("wage", "IncomeComponents.wage", "wage income (§5.3)"),
        DeviceVerdict("business", "IncomeComponents.business", "business income, may be negative (§5.3)"),
        DeviceVerdict("property", "IncomeComponents.property", "property income (§5.3)"),
        DeviceVerdict("transfer", "IncomeComponents.transfer", "counted transfers (§5.3)"),
        DeviceVerdict(
            "net_total",
            "IncomeVerdict.net_total",
            "household net income (§5.3)",
            value=lambda v: as_number(v.net_total),
        ),
        DeviceVerdict(
            "income_pc",
            "IncomeVerdict.income_pc",
            "net income per person, unrounded (§5.1)",
            value=lambda v: as_number(v.income_pc),
        ),
        DeviceVerdict("rx_total", "IncomeComponents.rx_total", "rigid expenses (§5.4 D4)"),
        DeviceVerdict(
            "income_risk",
            "IncomeVerdict.income_risk",
            "income_pc below the monitoring line (§5.4 D3)",
            value=lambda v: as_flag(v.income_risk) if v.status == "computed" else "",
        ),
        DeviceVerdict(
            "expense_shock",
            "IncomeVerdict.expense_shock",
            "rigid expenses above last year's income (§5.4 D4)",
        ),
        DeviceVerdict(
            "income_collapse", "IncomeVerdict.income_collapse", "income fell by drop_ratio or more (§5.4 D5)"
        ),
        DeviceVerdict(
            "below_dibao_line",
            "income_pc < IncomeVerdict.dibao_line",
            "D1 before the 低保 / 特困 check (§5.4)",
        ),
        DeviceVerdict("above_exit_line", "income_pc > IncomeVerdict.exit_line", "income part of D2 (§5.4)"),
    ),
}
