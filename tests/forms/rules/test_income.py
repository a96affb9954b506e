"""Income: docs/domain.md §7.3 I1-I13, decisions D1-D6, categories M1-M6, §5.6 validations, properties."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.rules.household import HouseholdContext, RosterMember, household_size, roster_from_members
from forms.rules.housing import housing_ok_from
from forms.rules.income import (
    AMOUNT_FIELDS,
    EXCLUDED_FIELDS,
    RIGID_FIELDS,
    ZERO,
    IncomeFacts,
    decide_income,
    derive_income_check,
    income_parameter_year,
    reference_period,
)
from forms.rules.water import water_ok_from
from tests.forms.rules.section7 import section7_parameters

P2018, P2019, P2021 = (section7_parameters(year) for year in (2018, 2019, 2021))
ALL_OK = dict.fromkeys(("food_ok", "clothing_ok", "edu_ok", "med_ok", "housing_ok", "water_ok"), True)


def check(year: int, persons: int | None = None, **amounts: str) -> dict[str, Any]:
    answers: dict[str, Any] = {"ref_period": "calendar_year", "ref_year": str(year), **amounts}
    if persons is not None:
        answers["hh_size_ref"] = str(persons)
    return answers


def roster(*labours: str) -> tuple[RosterMember, ...]:
    return tuple(RosterMember(labour=labour) for labour in labours)


def codes(verdict: Any) -> list[str]:
    return [issue.code for issue in verdict.issues]


I1 = check(
    2019,
    4,
    w_local="12000",
    b_crop_gross="8000",
    b_cost="3000",
    p_land_rent="500",
    t_dibao="1800",
    t_subsidy="700",
)


def test_i1_income_at_the_line_is_not_below_it() -> None:
    verdict = derive_income_check(I1, P2019, HouseholdContext(hh_status="poor", **ALL_OK))
    assert (verdict.net_total, verdict.income_pc, verdict.income_pc_rounded) == (
        Decimal(20000),
        Decimal(5000),
        Decimal("5000.00"),
    )
    assert verdict.monitoring_line == Decimal(5000)
    assert verdict.income_risk is False
    assert verdict.exit_line == Decimal(3218)
    assert verdict.exit_eligible is True
    assert (verdict.profile, verdict.parameter_version, verdict.year) == (
        "TCHES2018",
        "CN@2025.1+15@2025.1",
        2019,
    )


def test_i2_excluded_amounts_are_listed_never_added() -> None:
    verdict = derive_income_check({**I1, "x_fixed_purpose": "20000", "x_one_off": "1000"}, P2019)
    assert verdict.income_pc == Decimal(5000)
    assert verdict.components.excluded_total == Decimal(21000)
    assert verdict.components.excluded == (("x_fixed_purpose", Decimal(20000)), ("x_one_off", Decimal(1000)))
    assert [(i.code, i.severity) for i in verdict.issues] == [("excluded_amounts", "info")]


def test_i3_below_the_dibao_line_refers_the_household() -> None:
    answers = check(2019, 3, w_local="6000", b_crop_gross="7000", b_cost="3000", t_family="2000")
    verdict = derive_income_check(answers, P2019)
    assert (verdict.net_total, verdict.income_pc, verdict.refer_dibao) == (
        Decimal(12000),
        Decimal(4000),
        True,
    )
    already = derive_income_check(answers, P2019, HouseholdContext(poverty_attr="dibao"))
    assert already.refer_dibao is False


def test_i4_exited_household_below_the_line_with_a_risk_is_unstable_exited() -> None:
    answers = check(2021, 5, w_local="29000", risks="01")
    verdict = derive_income_check(answers, P2021, HouseholdContext(hh_status="exited", exit_year=2018))
    assert (verdict.income_pc, verdict.income_risk) == (Decimal(5800), True)
    assert (verdict.monitor_rule, verdict.monitor_category, verdict.monitor_flag) == (
        "M2",
        "unstable_exited",
        True,
    )


def test_i5_general_household_below_the_line_with_a_risk_is_marginal() -> None:
    answers = check(2021, 2, w_local="11800", risks="07")
    verdict = derive_income_check(answers, P2021, HouseholdContext(roster=roster("normal", "none")))
    assert verdict.income_pc == Decimal(5900)
    assert (verdict.monitor_rule, verdict.monitor_category, verdict.status) == ("M3", "marginal", "computed")


@pytest.mark.parametrize("status", ["general", "exited"])
def test_a_risk_without_low_income_or_shock_is_not_monitored(status: str) -> None:
    verdict = derive_income_check(
        check(2021, 1, w_local="9000", risks="01"), P2021, HouseholdContext(hh_status=status)
    )
    assert (verdict.income_risk, verdict.monitor_rule, verdict.monitor_flag) == (False, "M6", False)


def test_i6_rigid_expense_above_last_years_income_is_sudden_hardship() -> None:
    answers = check(
        2021,
        4,
        w_local="56000",
        prev_net_total="60000",
        rx_medical="70000",
        ph_evidence=[{"ph_evidence": "bill.jpg"}],
    )
    verdict = derive_income_check(answers, P2021)
    assert (verdict.income_pc, verdict.expense_shock, verdict.income_risk) == (Decimal(14000), True, False)
    assert verdict.income_collapse is False
    assert (verdict.monitor_rule, verdict.monitor_category) == ("M4", "sudden_hardship")


def test_i7_income_criterion_comes_before_the_shock_category() -> None:
    answers = check(2021, 4, w_local="16000", prev_net_total="40000")
    verdict = derive_income_check(answers, P2021)
    assert (verdict.income_pc, verdict.income_collapse, verdict.income_risk) == (Decimal(4000), True, True)
    assert (verdict.monitor_rule, verdict.monitor_category) == ("M3", "marginal")


@pytest.mark.parametrize(("rx", "shock"), [("60000", False), ("60000.01", True)])
def test_d4_expense_shock_needs_expenses_above_last_years_income(rx: str, shock: bool) -> None:
    answers = check(2021, 4, w_local="56000", prev_net_total="60000", rx_medical=rx, ph_evidence="bill.jpg")
    assert derive_income_check(answers, P2021).expense_shock is shock


@pytest.mark.parametrize(("net", "collapse"), [("20000", True), ("20000.01", False)])
def test_d5_income_collapse_at_exactly_the_drop_ratio(net: str, collapse: bool) -> None:
    verdict = derive_income_check(check(2021, 1, w_local=net, prev_net_total="40000"), P2021)
    assert verdict.income_collapse is collapse


def test_i8_living_costs_away_are_deducted_from_migrant_wages() -> None:
    verdict = derive_income_check(check(2019, 2, w_migrant_gross="30000", w_migrant_cost="12000"), P2019)
    assert (verdict.components.wage, verdict.income_pc) == (Decimal(18000), Decimal(9000))


def test_i9_livestock_in_stock_is_not_income() -> None:
    answers = check(2019, 1, b_livestock_gross="8000", b_cost="3000", b_self_consumed="1200")
    assert derive_income_check(answers, P2019).components.business == Decimal(5000)
    counting = section7_parameters(2019, count_unsold_produce=True)
    assert derive_income_check(answers, counting).components.business == Decimal(6200)


@pytest.mark.parametrize(
    ("house_grade", "water_verdict", "eligible"),
    [("A", "jiben", True), ("C", "jiben", False), ("B", "budabiao", False)],
)
def test_i10_exit_needs_income_above_the_line_and_all_six_flags(
    house_grade: str, water_verdict: str, eligible: bool
) -> None:
    household = HouseholdContext(
        hh_status="poor",
        food_ok=True,
        clothing_ok=True,
        edu_ok=True,
        med_ok=True,
        housing_ok=housing_ok_from(house_grade),
        water_ok=water_ok_from(water_verdict),
    )
    verdict = derive_income_check(check(2018, 1, w_local="3100"), P2018, household)
    assert verdict.exit_line == Decimal(2995)
    assert verdict.exit_eligible is eligible
    assert verdict.monitor_rule == "M1"


def test_i10_exit_comparison_is_strict() -> None:
    household = HouseholdContext(hh_status="poor", **ALL_OK)
    assert derive_income_check(check(2018, 1, w_local="2995"), P2018, household).exit_eligible is False
    assert derive_income_check(check(2018, 1, w_local="2995.01"), P2018, household).exit_eligible is True


def test_i11_risk_07_without_any_working_member_is_an_error() -> None:
    verdict = derive_income_check(
        check(2021, 2, w_local="9000", risks="07"), P2021, HouseholdContext(roster=roster("none", "lost"))
    )
    assert verdict.status == "rejected"
    assert [(i.code, i.severity) for i in verdict.issues] == [("risk07_without_labour", "error")]
    assert verdict.monitor_flag is False


def test_i12_member_who_died_in_the_year_is_not_counted() -> None:
    members = (
        RosterMember(labour="normal"),
        RosterMember(labour="normal"),
        RosterMember(labour="none"),
        RosterMember(labour="none"),
        RosterMember(labour="lost", status="deceased", status_date=date(2019, 5, 10)),
    )
    verdict = derive_income_check(check(2019, w_local="16000"), P2019, HouseholdContext(roster=members))
    assert (verdict.hh_size_ref, verdict.income_pc) == (4, Decimal(4000))
    answered = derive_income_check(check(2019, 4, w_local="16000"), P2019, HouseholdContext(roster=members))
    assert (answered.hh_size_ref, answered.issues) == (4, ())


def test_i13_business_loss_is_accepted_with_a_warning() -> None:
    verdict = derive_income_check(check(2019, 2, b_crop_gross="2000", b_cost="6000", w_local="10000"), P2019)
    assert (verdict.components.business, verdict.income_pc, verdict.status) == (
        Decimal(-4000),
        Decimal(3000),
        "computed",
    )
    assert [(i.code, i.severity) for i in verdict.issues] == [("business_loss", "warning")]


# Household size, period, other decisions --------------------------------------------------------


@pytest.mark.parametrize(("net", "risk"), [("17999.99", True), ("18000.00", False), ("18000.01", False)])
def test_comparisons_use_the_unrounded_income_pc(net: str, risk: bool) -> None:
    verdict = derive_income_check(check(2021, 3, w_local=net), P2021)
    assert verdict.income_pc_rounded == Decimal("6000.00")  # all three display as 6 000.00
    assert verdict.income_pc == Decimal(net) / 3
    assert verdict.income_risk is risk


def test_household_size_counts_members_on_the_period_end() -> None:
    members = (
        RosterMember(),
        RosterMember(birth_date=date(2019, 11, 2)),  # newborn in the period: counted
        RosterMember(birth_date=date(2020, 2, 1)),  # born after the period
        RosterMember(status="moved_out", status_date=date(2020, 3, 1)),  # left after the period
        RosterMember(status="married_out"),  # undated departure
    )
    assert household_size(members, date(2019, 12, 31)) == 3


def test_size_answer_that_differs_from_the_registry_needs_a_note() -> None:
    household = HouseholdContext(roster=roster("normal", "normal", "none"))
    unexplained = derive_income_check(check(2019, 4, w_local="12000"), P2019, household)
    assert (unexplained.hh_size_ref, unexplained.income_pc) == (3, Decimal(4000))
    assert [(i.code, i.severity) for i in unexplained.issues] == [("size_differs", "warning")]
    explained = derive_income_check(
        {**check(2019, 4, w_local="12000"), "size_note": "新生儿未登记"}, P2019, household
    )
    assert (explained.hh_size_ref, explained.income_pc) == (4, Decimal(3000))


def test_rolling_period_runs_twelve_months_to_the_end_month() -> None:
    period = reference_period("rolling_12m", None, date(2021, 3, 15))
    assert period is not None
    assert (period.start, period.end, period.year) == (date(2020, 4, 1), date(2021, 3, 31), 2021)
    answers = {"ref_period": "rolling_12m", "ref_end_month": "2021-03-01", "hh_size_ref": "1", "w_local": "1"}
    assert income_parameter_year(answers) == 2021


def test_parameters_of_another_year_are_flagged() -> None:
    verdict = derive_income_check(check(2021, 1, w_local="9000"), P2019)
    assert "parameter_year" in codes(verdict)


def test_d6_compares_income_after_expenses_when_enabled() -> None:
    answers = check(
        2021, 2, w_local="16000", prev_net_total="15000", rx_medical="5000", ph_evidence="bill.jpg"
    )
    off = derive_income_check(answers, P2021)
    on = derive_income_check(answers, section7_parameters(2021, rule_d6_enabled=True))
    assert (off.income_after_rx_risk, on.income_after_rx_risk) == (
        False,
        True,
    )  # (16000 - 5000) / 2 = 5500 < 6000
    assert on.income_risk is False


@pytest.mark.parametrize(
    ("flags", "rule", "candidate", "proposed"),
    [
        ({"housing_ok": False}, "M5", True, ("11",)),
        ({"water_ok": False, "med_ok": False}, "M5", True, ("12", "14")),
        ({}, "M6", False, ()),
    ],
)
def test_m5_exited_household_with_a_failing_assurance_is_a_candidate(
    flags: dict[str, bool], rule: str, candidate: bool, proposed: tuple[str, ...]
) -> None:
    household = HouseholdContext(hh_status="exited", **{**ALL_OK, **flags})
    verdict = derive_income_check(check(2021, 1, w_local="9000"), P2021, household)
    assert (verdict.monitor_rule, verdict.candidate, verdict.monitor_category) == (rule, candidate, None)
    assert verdict.proposed_risks == proposed


@pytest.mark.parametrize(
    ("answers", "household", "code", "severity"),
    [
        (
            {"w_migrant_gross": "1000", "w_migrant_cost": "2000"},
            HouseholdContext(),
            "migrant_cost_exceeds_gross",
            "error",
        ),
        ({"w_local": "500000"}, HouseholdContext(), "income_pc_implausible", "warning"),
        (
            {"risks": "04"},
            HouseholdContext(roster=roster("normal", "skilled")),
            "risk04_with_labour",
            "warning",
        ),
        ({"t_dibao": "1800"}, HouseholdContext(roster=roster("normal")), "dibao_without_member", "warning"),
        ({"rx_medical": "100"}, HouseholdContext(), "rx_without_evidence", "error"),
        ({"risks": "01 03 04 05 06 09"}, HouseholdContext(), "too_many_risks", "error"),
        ({"w_local": "-5"}, HouseholdContext(), "out_of_range", "error"),
        ({"w_local": "abc"}, HouseholdContext(), "invalid_value", "error"),
    ],
)
def test_section_5_6_validations(
    answers: dict[str, str], household: HouseholdContext, code: str, severity: str
) -> None:
    verdict = derive_income_check({**check(2019, 1), **answers}, P2019, household)
    assert (code, severity) in [(i.code, i.severity) for i in verdict.issues]
    assert (verdict.status == "rejected") is (severity == "error")


def test_hh_size_ref_must_be_at_least_one() -> None:
    verdict = derive_income_check(check(2019, 0, w_local="100"), P2019)
    assert verdict.status == "rejected"
    assert ("out_of_range", "hh_size_ref") in [(i.code, i.field) for i in verdict.issues]


def test_blank_submission_is_rejected_with_reasons() -> None:
    verdict = derive_income_check({}, P2019)
    assert verdict.status == "rejected"
    assert {"ref_period", "hh_size_ref"} <= {i.field for i in verdict.issues if i.code == "missing"}


def test_roster_from_baseline_members() -> None:
    members = [
        {"m_id": "150102198003150010", "m_labour": "normal", "m_dibao": "1"},
        {
            "m_id": "210102199001010023",
            "m_labour": "none",
            "m_status": "deceased",
            "m_status_date": "2019-05-10",
        },
    ]
    built = roster_from_members(members)
    assert [(m.labour, m.status, m.dibao, m.birth_date) for m in built] == [
        ("normal", "active", True, date(1980, 3, 15)),
        ("none", "deceased", False, date(1990, 1, 1)),
    ]
    assert household_size(built, date(2019, 12, 31)) == 1


# Property tests -----------------------------------------------------------------------------------

AMOUNT = st.decimals(min_value=0, max_value=200_000, places=2, allow_nan=False, allow_infinity=False)
COUNTED = [
    name
    for name in AMOUNT_FIELDS
    if name not in EXCLUDED_FIELDS + RIGID_FIELDS + ("b_cost", "w_migrant_cost", "b_self_consumed")
]


@st.composite
def income_facts(draw: st.DrawFn) -> IncomeFacts:
    amounts = {name: draw(AMOUNT) for name in AMOUNT_FIELDS if draw(st.booleans())}
    # Valid submissions only (§5.6): living costs away cannot exceed the gross migrant wage.
    amounts["w_migrant_cost"] = min(amounts.get("w_migrant_cost", ZERO), amounts.get("w_migrant_gross", ZERO))
    return IncomeFacts(
        **amounts,
        ref_period="calendar_year",
        ref_year=2021,
        hh_size_ref=draw(st.integers(1, 12)),
        prev_net_total=draw(st.none() | AMOUNT),
        risks=draw(st.frozensets(st.sampled_from(["01", "03", "07", "99"]), max_size=2)),
        evidence=True,
    )


HOUSEHOLD = HouseholdContext(hh_status="general")


@given(income_facts(), st.sampled_from(COUNTED), AMOUNT)
def test_adding_counted_income_never_lowers_income_pc(facts: IncomeFacts, name: str, extra: Decimal) -> None:
    before = decide_income(facts, P2021, HOUSEHOLD)
    after = decide_income(
        dataclasses.replace(facts, **{name: getattr(facts, name) + extra}), P2021, HOUSEHOLD
    )
    assert after.income_pc >= before.income_pc  # type: ignore[operator]
    assert after.income_risk <= before.income_risk


@given(income_facts(), st.sampled_from(EXCLUDED_FIELDS), AMOUNT)
def test_excluded_amounts_never_change_income_pc(facts: IncomeFacts, name: str, amount: Decimal) -> None:
    before = decide_income(facts, P2021, HOUSEHOLD)
    after = decide_income(dataclasses.replace(facts, **{name: amount}), P2021, HOUSEHOLD)
    assert (after.income_pc, after.net_total, after.flags) == (
        before.income_pc,
        before.net_total,
        before.flags,
    )


@given(income_facts(), st.sampled_from(["general", "poor", "exited", "returned"]))
def test_categories_follow_the_status_rules(facts: IncomeFacts, status: str) -> None:
    verdict = decide_income(facts, P2021, HouseholdContext(hh_status=status))
    if status == "poor":
        assert verdict.monitor_category is None
    if verdict.monitor_category == "unstable_exited":
        assert status in ("exited", "returned")
    if verdict.monitor_category == "marginal":
        assert status == "general"
    if verdict.monitor_category == "sudden_hardship":
        assert not verdict.income_risk


INCOME_FIELDS = [
    *AMOUNT_FIELDS,
    "ref_period",
    "ref_year",
    "ref_end_month",
    "hh_size_ref",
    "size_note",
    "prev_net_total",
    "risks",
    "ph_evidence",
    "income_drop_cause",
]
ANY_VALUE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "calendar_year",
            "rolling_12m",
            "2019",
            "2021-03-01",
            "0001-01-01",
            "0",
            "1e999999",
            "-1e11",
            "NaN",
            "07",
            "01 07",
        ]
    ),
    st.none(),
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.lists(st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2), max_size=2),
)


@given(
    st.one_of(st.dictionaries(st.sampled_from(INCOME_FIELDS), ANY_VALUE), st.text(max_size=5)), st.booleans()
)
def test_raw_answers_never_raise(answers: Any, with_roster: bool) -> None:
    household = HouseholdContext(hh_status="exited", roster=roster("none", "lost") if with_roster else ())
    verdict = derive_income_check(answers, P2021, household)
    assert (verdict.status == "rejected") is any(issue.severity == "error" for issue in verdict.issues)
    if verdict.status == "rejected":
        assert not verdict.monitor_flag
        assert not any(verdict.flags.values())
