"""Housing appraisal: docs/domain.md §7.1 H1-H13, the relevance and override rules of §3.2 / §3.4, properties."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.rules.housing import (
    ALL_COMPONENTS,
    HOUSE_GRADES,
    ROOF_SYSTEMS,
    STRUCT_TYPES,
    HouseContext,
    HouseFacts,
    derive_house_appraisal,
    grade_house,
    housing_ok_from,
    relevant_components,
)
from forms.rules.jgj125 import COUNT_FIELDS, fuzzy_grade
from tests.forms.rules.section7 import section7_parameters

PARAMS = section7_parameters(2019)


def house(**answers: str) -> dict[str, str]:
    """A one-storey brick-timber house with a timber truss roof, every component a, on a safe site."""
    base = {
        "hh_ref": "150121001001-0001",
        "struct_type": "brick_timber",
        "roof_system": "timber_truss",
        "storeys": "1",
        "site_grade": "safe",
        "g_found": "a",
        "g_wall": "a",
        "g_timber_member": "a",
        "g_truss": "a",
        "g_secondary": "a",
        "tilt": "none",
        "prevention": "full",
        "seismic_intensity": "7",
    }
    base.update(answers)
    return {name: value for name, value in base.items() if value is not None}


def codes(verdict: Any) -> list[str]:
    return [issue.code for issue in verdict.issues]


def test_h1_all_a_gives_a() -> None:
    verdict = derive_house_appraisal(house(grade_final="A"), PARAMS)
    assert (verdict.status, verdict.grade, verdict.housing_ok, verdict.rule) == ("graded", "A", True, "R6")
    assert verdict.advice == "normal_use"
    assert verdict.issues == ()
    assert (verdict.profile, verdict.parameter_version) == ("TCHES2018", "CN@2025.1+15@2025.1")


def test_h2_one_b_wall_gives_b() -> None:
    verdict = derive_house_appraisal(house(g_wall="b", grade_final="B"), PARAMS)
    assert (verdict.grade, verdict.housing_ok, verdict.dangerous, verdict.advice) == (
        "B",
        True,
        False,
        "maintain",
    )


@pytest.mark.parametrize(("hh_status", "risks"), [("exited", ("11",)), ("general", ()), ("poor", ())])
def test_h3_c_wall_is_a_dangerous_house(hh_status: str, risks: tuple[str, ...]) -> None:
    answers = house(
        roof_system="beam_purlin",
        g_truss=None,
        g_found="b",
        g_wall="c",
        g_timber_member="b",
        g_secondary="b",
        grade_final="C",
        danger_points="墙体多处裂缝，一面墙歪闪",
    )
    verdict = derive_house_appraisal(answers, PARAMS, HouseContext(hh_status=hh_status))
    assert (verdict.grade, verdict.rule, verdict.dangerous, verdict.housing_ok) == ("C", "R4", True, False)
    assert verdict.advice == "repair"
    assert verdict.risks == risks
    assert verdict.renovation_status == "planned"


def test_h3_monitored_household_also_gets_risk_11() -> None:
    answers = house(g_wall="c", grade_final="C")
    assert derive_house_appraisal(answers, PARAMS, HouseContext(monitored=True)).risks == ("11",)


def test_h4_failed_truss_gives_d_and_stop_use() -> None:
    verdict = derive_house_appraisal(house(g_found="b", g_wall="b", g_truss="d", grade_final="D"), PARAMS)
    assert (verdict.grade, verdict.rule, verdict.advice, verdict.stop_use) == ("D", "R3", "stop_use", True)
    assert verdict.housing_ok is False


def test_h5_dangerous_site_overrides_the_components() -> None:
    answers = house(site_grade="dangerous", site_hazard="landslide", grade_final="D")
    verdict = derive_house_appraisal(answers, PARAMS)
    assert (verdict.grade, verdict.rule, verdict.advice, verdict.housing_ok) == ("D", "R2", "relocate", False)


def test_h6_non_structural_problem_gives_at_most_b() -> None:
    verdict = derive_house_appraisal(house(g_secondary="b", grade_final="B"), PARAMS)
    assert (verdict.grade, verdict.rule) == ("B", "R5")
    capped = derive_house_appraisal(house(g_secondary="d"), PARAMS)
    assert capped.grade == "B"
    assert "secondary_capped" in codes(capped)


def test_h7_unanswered_relevant_component_is_rejected() -> None:
    verdict = derive_house_appraisal(house(g_truss=None, grade_final="A"), PARAMS)
    assert (verdict.status, verdict.grade, verdict.housing_ok) == ("rejected", None, None)
    assert [(issue.code, issue.field, issue.severity) for issue in verdict.issues] == [
        ("unanswered_component", "g_truss", "error")
    ]


def test_h8_three_storeys_are_referred_not_graded() -> None:
    verdict = derive_house_appraisal(house(storeys="3", g_wall=None), PARAMS)
    assert (verdict.status, verdict.grade, verdict.referral, verdict.rule) == (
        "referred",
        None,
        "professional",
        "R0",
    )
    assert verdict.housing_ok is None


def test_h9_better_grade_than_calculated_needs_a_reason() -> None:
    answers = house(g_wall="c", grade_final="B")
    rejected = derive_house_appraisal(answers, PARAMS)
    assert (rejected.status, rejected.grade, rejected.grade_calc) == ("rejected", None, "C")
    assert "override_reason_required" in codes(rejected)
    accepted = derive_house_appraisal({**answers, "override_reason": "裂缝为抹灰层裂缝，墙体完好"}, PARAMS)
    assert (accepted.status, accepted.grade, accepted.grade_calc) == ("graded", "B", "C")
    assert accepted.review_required is True
    assert accepted.housing_ok is True


def test_worse_grade_than_calculated_is_accepted_and_warned_without_reason() -> None:
    verdict = derive_house_appraisal(house(grade_final="C"), PARAMS)
    assert (verdict.grade, verdict.grade_calc, verdict.review_required) == ("C", "A", False)
    assert [(i.code, i.severity) for i in verdict.issues] == [("override_reason_missing", "warning")]
    with_reason = derive_house_appraisal(house(grade_final="C", override_reason="整体老化"), PARAMS)
    assert with_reason.issues == ()


@pytest.mark.parametrize(
    ("case", "p", "mu", "grade"),
    [
        ("H10", (0, 10, 0), ("0.3", "0.6", "0.2", "0"), "B"),
        ("H11", (0, 25, 0), ("0.3", "0.2", "0.6", "0"), "C"),
        ("H12", (0, 0, 0), ("0.6", "0", "0", "0"), "A"),
    ],
)
def test_h10_h12_fuzzy_cross_check(
    case: str, p: tuple[int, int, int], mu: tuple[str, ...], grade: str
) -> None:
    result = fuzzy_grade(*(Decimal(value) for value in p))
    assert result.membership == tuple(Decimal(value) for value in mu), case
    assert result.grade == grade


def test_fuzzy_tie_goes_to_the_worse_grade() -> None:
    result = fuzzy_grade(Decimal(0), Decimal(65), Decimal(0))
    assert result.membership == (Decimal("0.3"), Decimal(0), Decimal("0.5"), Decimal("0.5"))
    assert result.grade == "D"


def test_fuzzy_foundation_fully_dangerous_forces_d() -> None:
    assert fuzzy_grade(Decimal(100), Decimal(0), Decimal(0)).grade == "D"


def test_h10_cross_check_from_member_counts_in_the_answers() -> None:
    # 10 % of the superstructure weight dangerous: 1 of 10 wall segments (2.4 of 24).
    counts = {name: "0" for name in COUNT_FIELDS} | {"n_f": "4", "n_w": "10", "nd_w": "1", "n_e": "6"}
    agree = derive_house_appraisal(house(g_wall="b", grade_final="B", **counts), PARAMS)
    assert agree.cross_check is not None
    assert (agree.cross_check.p_super, agree.cross_check.grade) == (Decimal(10), "B")
    assert agree.review_required is False
    disagree = derive_house_appraisal(house(grade_final="A", **counts), PARAMS)
    assert (disagree.grade, disagree.review_required) == ("A", True)  # advisory: the grade stays A
    assert "cross_check_disagrees" in codes(disagree)


def test_h13_renovated_house_regraded_b_is_safe_and_done() -> None:
    context = HouseContext(hh_status="exited", previous_grade="C", renovation_status="in_progress")
    verdict = derive_house_appraisal(house(g_secondary="b", grade_final="B"), PARAMS, context)
    assert (verdict.grade, verdict.renovation_status, verdict.housing_ok) == ("B", "done", True)
    assert verdict.risks == ()


def test_r7_obvious_tilt_raises_a_or_b_to_c() -> None:
    verdict = derive_house_appraisal(house(tilt="obvious", grade_final="C"), PARAMS)
    assert (verdict.grade, verdict.rule) == ("C", "R7")
    kept = derive_house_appraisal(house(tilt="obvious", grade_final="A"), PARAMS)
    assert kept.status == "rejected"
    assert "override_reason_required" in codes(kept)


def test_seismic_retrofit_flag_needs_no_prevention_at_intensity_8() -> None:
    assert derive_house_appraisal(
        house(prevention="none", seismic_intensity="8"), PARAMS
    ).seismic_retrofit_suggested
    assert not derive_house_appraisal(
        house(prevention="none", seismic_intensity="7"), PARAMS
    ).seismic_retrofit_suggested
    assert not derive_house_appraisal(
        house(prevention="partial", seismic_intensity="9"), PARAMS
    ).seismic_retrofit_suggested


@pytest.mark.parametrize(
    ("struct", "roof", "storeys", "expected"),
    [
        ("brick_timber", "timber_truss", 1, {"g_wall", "g_timber_member", "g_truss"}),
        ("timber", "chuandou", 1, {"g_timber_member"}),
        ("brick_concrete", "rc_slab", 1, {"g_wall", "g_rc_member", "g_slab"}),
        ("brick_concrete", "flat", 2, {"g_wall", "g_rc_member", "g_slab"}),
        ("cave", "arch", 1, {"g_wall", "g_arch"}),
        ("earth_timber", "hard_gable", 1, {"g_wall", "g_timber_member"}),
        ("steel", "single_slope", 1, {"g_wall"}),
    ],
)
def test_relevant_components_follow_section_3_2(
    struct: str, roof: str, storeys: int, expected: set[str]
) -> None:
    assert relevant_components(struct, roof, storeys) == frozenset(expected | {"g_found", "g_secondary"})


def test_na_foundation_and_bad_codes_are_rejected_with_reasons() -> None:
    assert "na_not_allowed" in codes(derive_house_appraisal(house(g_found="na"), PARAMS))
    bad = derive_house_appraisal(house(g_wall="e", storeys="two"), PARAMS)
    assert bad.status == "rejected"
    assert {(issue.code, issue.field) for issue in bad.issues} >= {
        ("invalid_value", "g_wall"),
        ("invalid_value", "storeys"),
    }
    assert "missing" not in codes(bad)


def test_blank_submission_lists_every_missing_answer() -> None:
    verdict = derive_house_appraisal({}, PARAMS)
    assert verdict.status == "rejected"
    assert ("missing", "storeys") in {(issue.code, issue.field) for issue in verdict.issues}


def test_housing_ok_mapping_of_section_2_4() -> None:
    assert [housing_ok_from(grade) for grade in HOUSE_GRADES] == [True, True, False, False]
    assert housing_ok_from("D", "relocated") is True
    assert housing_ok_from(None, "own_AB") is False


# Property tests -----------------------------------------------------------------------------------

COMPONENT = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def house_facts(draw: st.DrawFn, site: st.SearchStrategy[str] | None = None) -> HouseFacts:
    struct = draw(st.sampled_from(STRUCT_TYPES))
    roof = draw(st.sampled_from(ROOF_SYSTEMS))
    storeys = draw(st.integers(1, 2))
    relevant = relevant_components(struct, roof, storeys)
    grades = {name: draw(COMPONENT) if name in relevant else None for name in ALL_COMPONENTS}
    return HouseFacts(
        struct_type=struct,
        roof_system=roof,
        storeys=storeys,
        site_grade=draw(st.sampled_from(["safe", "unfavourable"]) if site is None else site),
        tilt=draw(st.sampled_from(["none", "slight", "obvious"])),
        **grades,
    )


def _rank(grade: str | None) -> int:
    assert grade is not None
    return HOUSE_GRADES.index(grade)


@given(house_facts(), st.data())
def test_worsening_any_component_never_improves_the_grade(facts: HouseFacts, data: st.DataObject) -> None:
    answered = [name for name in ALL_COMPONENTS if facts.component(name) is not None]
    name = data.draw(st.sampled_from(answered))
    current = facts.component(name)
    worse = data.draw(st.sampled_from([g for g in "abcd" if g >= current]))
    before = grade_house(facts, PARAMS)
    after = grade_house(HouseFacts(**{**facts.__dict__, name: worse}), PARAMS)
    assert before.status == after.status == "graded"
    assert _rank(after.grade) >= _rank(before.grade)


@given(house_facts(site=st.just("dangerous")))
def test_a_dangerous_site_always_gives_d(facts: HouseFacts) -> None:
    verdict = grade_house(facts, PARAMS)
    assert (verdict.grade, verdict.advice, verdict.housing_ok) == ("D", "relocate", False)


@given(house_facts())
def test_grade_matches_the_worst_structural_component(facts: HouseFacts) -> None:
    verdict = grade_house(facts, PARAMS)
    structural = [facts.component(name) for name in ALL_COMPONENTS[:-1] if facts.component(name)]
    worst = max(structural, default="a")
    expected = {"a": "A", "b": "B", "c": "C", "d": "D"}[worst]
    if expected == "A" and facts.g_secondary != "a":
        expected = "B"
    if facts.tilt == "obvious" and expected in ("A", "B"):
        expected = "C"
    assert verdict.grade == expected


@given(
    st.floats(0, 100, allow_nan=False).map(lambda x: Decimal(str(x))),
    st.floats(0, 100, allow_nan=False).map(lambda x: Decimal(str(x))),
    st.floats(0, 100, allow_nan=False).map(lambda x: Decimal(str(x))),
    st.sampled_from([0, 1, 2]),
    st.floats(0, 50, allow_nan=False).map(lambda x: Decimal(str(x))),
)
def test_more_dangerous_members_never_improve_the_fuzzy_grade(
    pf: Decimal, ps: Decimal, pe: Decimal, part: int, extra: Decimal
) -> None:
    p = [pf, ps, pe]
    worse = list(p)
    worse[part] = min(Decimal(100), worse[part] + extra)
    assert _rank(fuzzy_grade(*worse).grade) >= _rank(fuzzy_grade(*p).grade)


HOUSE_FIELDS = [
    "struct_type",
    "roof_system",
    "storeys",
    "site_grade",
    *ALL_COMPONENTS,
    "tilt",
    "prevention",
    "seismic_intensity",
    "grade_final",
    "override_reason",
    *COUNT_FIELDS[:4],
]
ANY_VALUE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["a", "b", "c", "d", "na", "A", "C", "1", "2", "3", "0", "-1", "1e999", "NaN", "safe", "dangerous"]
    ),
    st.none(),
    st.integers(-(10**20), 10**20),
    st.lists(st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2), max_size=2),
)


@given(st.one_of(st.dictionaries(st.sampled_from(HOUSE_FIELDS), ANY_VALUE), st.text(max_size=5), st.none()))
def test_raw_answers_never_raise(answers: Any) -> None:
    verdict = derive_house_appraisal(answers, PARAMS)
    assert verdict.status in ("graded", "referred", "rejected")
    assert (verdict.grade is None) is (verdict.status != "graded")
    if any(issue.severity == "error" for issue in verdict.issues):
        # A referral (R0) stands whatever else is wrong: the components are not used.
        assert verdict.status == ("referred" if verdict.referral else "rejected")


@given(st.dictionaries(st.sampled_from(HOUSE_FIELDS), st.sampled_from(["a", "b", "c", "d", "na", "1", "2"])))
def test_rejections_always_say_why(answers: dict[str, str]) -> None:
    verdict = derive_house_appraisal(house(**answers), PARAMS)
    if verdict.status == "rejected":
        assert any(issue.severity == "error" for issue in verdict.issues)
