"""Household baseline: two-assurances flags (docs/domain.md §2.4), household structure (§6.2), ID checks (§6.1)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.rules.baseline import age_on, derive_baseline
from forms.rules.idnumber import check_character
from tests.forms.rules.section7 import section7_parameters

PARAMS = section7_parameters(2019)
HEAD = {
    "m_name": "王建国",
    "m_id": "150102198003150010",
    "m_sex": "1",
    "m_relation": "01",
    "m_labour": "normal",
    "m_health": "healthy",
    "m_med_ins": "1",
}
SPOUSE = {
    "m_name": "李梅",
    "m_id": "210102199001010023",
    "m_sex": "2",
    "m_relation": "10",
    "m_labour": "normal",
    "m_health": "healthy",
    "m_med_ins": "1",
}


def child(**answers: str) -> dict[str, str]:
    """A son born 2010-06-01 (aged 9 on the survey date): of compulsory-school age."""
    first17 = "15010220100601001"
    base = {
        "m_name": "王小明",
        "m_id": first17 + check_character(first17),
        "m_sex": "1",
        "m_relation": "20",
        "m_labour": "none",
        "m_health": "healthy",
        "m_med_ins": "1",
    }
    return {**base, **answers}


def baseline(*members: dict[str, str], **answers: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "survey_date": "2019-09-01",
        "county": "150102",
        "poverty_attr": "general",
        "main_cause": "1",
        "other_causes": "8",
        "food_ok": "1",
        "clothing_ok": "1",
        "med_access_ok": "1",
        "housing_basis": "own_AB",
        "members": list(members) or [HEAD, SPOUSE, child()],
    }
    return {**base, **answers}


def codes(verdict: Any) -> list[str]:
    return [issue.code for issue in verdict.issues]


def test_complete_household_gives_all_flags() -> None:
    verdict = derive_baseline(baseline(edu_dropout_any="0"), PARAMS)
    assert verdict.status == "accepted", verdict.issues
    assert (verdict.hh_size, verdict.n_labour, verdict.n_school_age) == (3, 2, 1)
    assert (verdict.food_ok, verdict.clothing_ok, verdict.edu_ok, verdict.med_ok) == (True, True, True, True)
    assert verdict.housing_ok is None  # own_AB: the appraisal decides (§2.5)
    assert (verdict.profile, verdict.parameter_version) == ("TCHES2018", "CN@2025.1+15@2025.1")


@pytest.mark.parametrize(
    ("answers", "edu_ok", "risks"),
    [
        ({"edu_dropout_any": "1", "edu_exempt_reason": "severe_disability"}, True, ()),
        ({"edu_dropout_any": "1", "edu_exempt_reason": "other"}, False, ("13",)),
        ({"edu_dropout_any": "1"}, False, ("13",)),
    ],
)
def test_edu_ok_allows_only_health_exemptions(
    answers: dict[str, str], edu_ok: bool, risks: tuple[str, ...]
) -> None:
    verdict = derive_baseline(baseline(**answers), PARAMS)
    assert (verdict.edu_ok, verdict.risks) == (edu_ok, risks)


def test_no_school_age_child_means_edu_ok() -> None:
    verdict = derive_baseline(baseline(HEAD, SPOUSE), PARAMS)
    assert (verdict.n_school_age, verdict.edu_ok, verdict.status) == (0, True, "accepted")


def test_med_ok_needs_every_active_member_insured() -> None:
    verdict = derive_baseline(baseline(HEAD, {**SPOUSE, "m_med_ins": "0"}), PARAMS)
    assert verdict.med_ok is False
    moved = {**SPOUSE, "m_med_ins": "0", "m_status": "moved_out", "m_status_date": "2019-01-01"}
    assert derive_baseline(baseline(HEAD, moved), PARAMS).med_ok is True


@pytest.mark.parametrize(
    ("basis", "housing_ok"),
    [("relocated", True), ("with_relatives", True), ("none", False), ("own_AB", None)],
)
def test_housing_basis_sets_housing_ok_only_when_independent_of_the_house(
    basis: str, housing_ok: bool | None
) -> None:
    assert derive_baseline(baseline(HEAD, SPOUSE, housing_basis=basis), PARAMS).housing_ok is housing_ok


@pytest.mark.parametrize(
    ("members", "code", "severity"),
    [
        ([SPOUSE], "head_count", "error"),
        ([HEAD, {**SPOUSE, "m_relation": "01"}], "head_count", "error"),
        (
            [HEAD, {**HEAD, "m_id": "210102199001010023", "m_sex": "2", "m_relation": "10"}, {**SPOUSE}],
            "spouse_count",
            "error",
        ),
        ([HEAD, child(m_relation="10")], "spouse_under_18", "warning"),
        ([HEAD, child(m_labour="normal")], "labour_under_16", "warning"),
        ([HEAD, {**SPOUSE, "m_labour": "lost"}], "labour_lost_unexplained", "warning"),
        ([HEAD, {**SPOUSE, "m_id": HEAD["m_id"], "m_sex": "1"}], "duplicate_id", "error"),
        ([HEAD, {**SPOUSE, "m_sex": "1"}], "sex_mismatch", "error"),
    ],
)
def test_household_structure_checks(members: list[dict[str, str]], code: str, severity: str) -> None:
    verdict = derive_baseline(baseline(*members), PARAMS)
    assert (code, severity) in [(i.code, i.severity) for i in verdict.issues]
    assert (verdict.status == "rejected") is any(i.severity == "error" for i in verdict.issues)


def test_child_less_than_12_years_younger_than_the_head_is_warned() -> None:
    young_head = {**HEAD, "m_id": "150102200001010016"}
    verdict = derive_baseline(baseline(young_head, child()), PARAMS)
    assert "child_age_gap" in codes(verdict)


def test_other_causes_at_most_two_and_not_the_main_cause() -> None:
    assert "other_causes" in codes(derive_baseline(baseline(other_causes="1 8"), PARAMS))
    assert "other_causes" in codes(derive_baseline(baseline(other_causes="7 8 9"), PARAMS))


def test_blank_submission_is_rejected_with_reasons() -> None:
    verdict = derive_baseline({}, PARAMS)
    assert verdict.status == "rejected"
    assert {"no_members", "head_count", "missing"} <= set(codes(verdict))


def test_age_in_completed_years() -> None:
    assert age_on(date(2010, 6, 1), date(2019, 5, 31)) == 8
    assert age_on(date(2010, 6, 1), date(2019, 6, 1)) == 9


MEMBER_FIELDS = [
    "m_id",
    "m_sex",
    "m_relation",
    "m_labour",
    "m_health",
    "m_med_ins",
    "m_status",
    "m_status_date",
    "m_birth",
]
VALUE = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["01", "10", "1", "0", "active", "none", "lost", HEAD["m_id"]]),
    st.none(),
    st.integers(),
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "survey_date",
                "food_ok",
                "clothing_ok",
                "edu_dropout_any",
                "edu_exempt_reason",
                "housing_basis",
                "main_cause",
                "other_causes",
                "med_access_ok",
                "members",
            ]
        ),
        st.one_of(
            VALUE,
            st.lists(
                st.one_of(st.dictionaries(st.sampled_from(MEMBER_FIELDS), VALUE), st.text(max_size=3)),
                max_size=3,
            ),
        ),
    )
)
def test_raw_answers_never_raise(answers: dict[str, Any]) -> None:
    verdict = derive_baseline(answers, PARAMS)
    assert (verdict.status == "rejected") is any(issue.severity == "error" for issue in verdict.issues)
