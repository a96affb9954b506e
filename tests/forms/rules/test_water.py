"""Drinking water: docs/domain.md §7.2 W1-W12, the EXIT2018 profile, and properties of the §4.4 tables."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.rules.water import (
    CENTRALIZED,
    EXCEEDANCES,
    INDICATORS,
    LAB_REPORTS,
    SCHEME_SCALES,
    SENSORY,
    SUPPLY_TYPES,
    WaterContext,
    WaterFacts,
    assess_water,
    derive_water_survey,
    verdict_rank,
    water_ok_from,
)
from tests.forms.rules.section7 import section7_parameters

DRY = section7_parameters(2019)
WET = section7_parameters(2019, water_region_class="wet")
EXIT = section7_parameters(2019, "EXIT2018")
SENSORY_NO = dict.fromkeys(SENSORY, "0")


def w1(**answers: str | None) -> dict[str, str]:
    base = {
        "supply_type": "central_home",
        "scheme_scale": "large",
        "source": "deep_well",
        "lab_report": "pass_full",
        "lab_date": "2019-03-01",
        "survey_date": "2019-08-01",
        **SENSORY_NO,
        "q_method": "meter",
        "meter_m3": "7.2",
        "meter_days": "30",
        "n_users": "4",
        "short_days": "10",
    }
    return {k: v for k, v in {**base, **answers}.items() if v is not None}


def w2(**answers: str | None) -> dict[str, str]:
    """Dispersed supply from a neighbour's hand-pump well, 50 L x 2 trips for 4 users, 15 min round trip."""
    base = {
        "supply_type": "dispersed",
        "source": "shallow_well",
        "well_in_yard": "0",
        "lab_report": "none",
        **SENSORY_NO,
        "known_exceed": "none",
        "q_method": "container",
        "cont_litres": "50",
        "trips_per_day": "2",
        "n_users": "4",
        "fetch_minutes": "15",
        "short_days": "30",
    }
    return {k: v for k, v in {**base, **answers}.items() if v is not None}


def ratings(verdict: Any) -> tuple[Any, ...]:
    return (verdict.quality, verdict.quantity, verdict.convenience, verdict.reliability)


def test_w1_central_supply_at_home_is_dabiao() -> None:
    verdict = derive_water_survey(w1(), DRY)
    assert ratings(verdict) == ("dabiao",) * 4
    assert (verdict.verdict, verdict.water_ok, verdict.failed_indicators) == ("dabiao", True, ())
    assert (verdict.lpcd, verdict.reliability_pct) == (Decimal(60), Decimal("97.26"))
    assert (verdict.profile, verdict.parameter_version) == ("TCHES2018", "CN@2025.1+15@2025.1")
    assert verdict.issues == ()


def test_w2_dispersed_well_is_jiben() -> None:
    verdict = derive_water_survey(w2(), DRY)
    assert ratings(verdict) == ("jiben",) * 4
    assert (verdict.lpcd, verdict.reliability_pct) == (Decimal(25), Decimal("91.78"))
    assert (verdict.verdict, verdict.water_ok) == ("jiben", True)


def test_w3_measured_time_wins_over_distance() -> None:
    verdict = derive_water_survey(w2(fetch_minutes="25", fetch_h_m="900", fetch_v_m="20"), DRY)
    assert verdict.convenience == "budabiao"
    assert (verdict.verdict, verdict.water_ok, verdict.failed_indicators) == (
        "budabiao",
        False,
        ("convenience",),
    )


@pytest.mark.parametrize("field", SENSORY)
def test_w4_any_sensory_failure_fails_quality(field: str) -> None:
    verdict = derive_water_survey(w2(**{field: "1"}), DRY)
    assert (verdict.quality, verdict.verdict, verdict.failed_indicators) == (
        "budabiao",
        "budabiao",
        ("quality",),
    )


@pytest.mark.parametrize(
    ("params", "quantity", "verdict"), [(WET, "budabiao", "budabiao"), (DRY, "jiben", "jiben")]
)
def test_w5_region_class_sets_the_quantity_limits(params: Any, quantity: str, verdict: str) -> None:
    result = derive_water_survey(w2(cont_litres="60"), params)
    assert result.lpcd == Decimal(30)
    assert (result.quantity, result.verdict, result.region_class) == (
        quantity,
        verdict,
        params.water_region_class,
    )


def test_w6_37_short_days_fail_reliability() -> None:
    verdict = derive_water_survey(w2(short_days="37"), DRY)
    assert (verdict.reliability_pct, verdict.reliability, verdict.verdict) == (
        Decimal("89.86"),
        "budabiao",
        "budabiao",
    )


@pytest.mark.parametrize(
    ("answers", "indicator", "rating", "pct"),
    [
        ({"q_method": "declared", "declared_lpd": "20.0"}, "quantity", "jiben", None),
        ({"q_method": "declared", "declared_lpd": "19.99"}, "quantity", "budabiao", None),
        ({"q_method": "declared", "declared_lpd": "40.0"}, "quantity", "dabiao", None),
        ({"short_days": "18"}, "reliability", "dabiao", "95.07"),
        ({"short_days": "19"}, "reliability", "jiben", "94.79"),
        ({"short_days": "36"}, "reliability", "jiben", "90.14"),
        ({"fetch_minutes": "10"}, "convenience", "dabiao", None),
        ({"fetch_minutes": "20"}, "convenience", "jiben", None),
        ({"fetch_minutes": "21"}, "convenience", "budabiao", None),
    ],
)
def test_w7_boundaries(answers: dict[str, str], indicator: str, rating: str, pct: str | None) -> None:
    verdict = derive_water_survey(w2(**answers), DRY)
    assert getattr(verdict, indicator) == rating
    if pct is not None:
        assert verdict.reliability_pct == Decimal(pct)


@pytest.mark.parametrize(("params", "quantity"), [(DRY, "jiben"), (WET, "budabiao")])
def test_w8_meter_reading_gives_lpcd(params: Any, quantity: str) -> None:
    verdict = derive_water_survey(w2(q_method="meter", meter_m3="4.5", meter_days="30", n_users="5"), params)
    assert verdict.lpcd == Decimal("30.0")
    assert verdict.quantity == quantity


@pytest.mark.parametrize(
    ("case", "h", "v", "rating"),
    [
        ("W9", "600", "30", "jiben"),
        ("W10", "1500", "10", "budabiao"),
        ("both", "800", "80", "jiben"),
        ("rise", "100", "81", "budabiao"),
    ],
)
def test_w9_w10_distance_proxies_when_time_not_recorded(case: str, h: str, v: str, rating: str) -> None:
    verdict = derive_water_survey(w2(fetch_minutes=None, fetch_h_m=h, fetch_v_m=v), DRY)
    assert verdict.convenience == rating, case


def test_w11_exit2018_cellar_passes_all_four() -> None:
    answers = w2(
        source="cellar",
        q_method="declared",
        declared_lpd="22",
        fetch_minutes="18",
        drought_ok="1",
        short_days=None,
    )
    verdict = derive_water_survey(answers, EXIT)
    assert ratings(verdict) == ("pass",) * 4
    assert (verdict.verdict, verdict.water_ok, verdict.profile) == ("jiben", True, "EXIT2018")
    assert verdict.parameter_version == "CN@2025.1+15@2025.1"


@pytest.mark.parametrize(
    ("answers", "failed"),
    [
        ({"drought_ok": "0"}, ("reliability",)),
        ({"declared_lpd": "19"}, ("quantity",)),
        ({"fetch_minutes": "21"}, ("convenience",)),
        ({"sens_taste": "1"}, ("quality",)),
        ({"fetch_minutes": None, "fetch_h_m": "500", "fetch_v_m": "100"}, ()),
        ({"fetch_minutes": None, "fetch_h_m": "501", "fetch_v_m": "10"}, ("convenience",)),
    ],
)
def test_exit2018_failures_are_listed(answers: dict[str, str | None], failed: tuple[str, ...]) -> None:
    base = w2(source="cellar", q_method="declared", declared_lpd="22", fetch_minutes="18", drought_ok="1")
    verdict = derive_water_survey({k: v for k, v in {**base, **answers}.items() if v is not None}, EXIT)
    assert verdict.failed_indicators == failed
    assert verdict.verdict == ("budabiao" if failed else "jiben")


def test_exit2018_centralized_reliability_uses_90_percent() -> None:
    assert derive_water_survey(w1(short_days="36"), EXIT).reliability == "pass"
    assert derive_water_survey(w1(short_days="37"), EXIT).reliability == "fail"


def test_w12_small_scheme_relaxed_report_in_yard_tap_is_dabiao() -> None:
    answers = w1(
        scheme_scale="small",
        lab_report="pass_relaxed",
        q_method="declared",
        declared_lpd="45",
        short_days="5",
    )
    verdict = derive_water_survey(answers, DRY)
    assert ratings(verdict) == ("dabiao",) * 4
    assert verdict.verdict == "dabiao"


@pytest.mark.parametrize(
    ("answers", "quality"),
    [
        ({"lab_report": "pass_relaxed"}, "jiben"),  # large scheme, relaxed limits only: row 6
        ({"lab_report": "none"}, "jiben"),  # sensory check only: row 5
        ({"lab_report": "fail"}, "budabiao"),
        ({"known_exceed": "fluoride"}, "budabiao"),
        ({"lab_date": "2018-07-31"}, "jiben"),  # report older than 12 months no longer counts
        ({"lab_date": "2018-08-01"}, "dabiao"),
        ({"scheme_scale": "unknown", "lab_report": "pass_relaxed"}, "jiben"),
    ],
)
def test_quality_table_rows(answers: dict[str, str], quality: str) -> None:
    assert derive_water_survey(w1(**answers), DRY).quality == quality


def test_budabiao_adds_risk_12_for_exited_households() -> None:
    assert derive_water_survey(w2(short_days="40"), DRY, WaterContext(hh_status="exited")).risks == ("12",)
    assert derive_water_survey(w2(short_days="40"), DRY, WaterContext(hh_status="general")).risks == ()
    assert derive_water_survey(w2(), DRY, WaterContext(hh_status="exited")).risks == ()


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"sens_taste": None}, "sens_taste"),
        ({"q_method": None}, "q_method"),
        ({"cont_litres": None}, "cont_litres"),
        ({"short_days": None}, "short_days"),
        ({"fetch_minutes": None}, "fetch_minutes"),
        ({"supply_type": None}, "supply_type"),
        ({"short_days": "400"}, "short_days"),
        ({"n_users": "four"}, "n_users"),
    ],
)
def test_missing_or_unreadable_answers_reject_with_the_field_named(
    answers: dict[str, str | None], field: str
) -> None:
    verdict = derive_water_survey(w2(**answers), DRY)
    assert (verdict.status, verdict.verdict, verdict.water_ok) == ("rejected", None, None)
    assert field in {issue.field for issue in verdict.issues if issue.severity == "error"}


def test_water_ok_mapping_of_section_2_4() -> None:
    assert [water_ok_from(v) for v in ("dabiao", "jiben", "budabiao", None)] == [True, True, False, False]


# Property tests -----------------------------------------------------------------------------------

DEC = st.decimals(min_value=0, max_value=2000, places=1, allow_nan=False, allow_infinity=False)


@st.composite
def water_facts(draw: st.DrawFn) -> WaterFacts:
    supply = draw(st.sampled_from(SUPPLY_TYPES))
    method = draw(st.sampled_from(["meter", "container", "declared"]))
    timed = draw(st.booleans())
    return WaterFacts(
        supply_type=supply,
        scheme_scale=draw(st.sampled_from(SCHEME_SCALES)) if supply in CENTRALIZED else None,
        n_users=draw(st.integers(1, 30)),
        q_method=method,
        meter_m3=draw(st.decimals(0, 50, places=2)) if method == "meter" else None,
        meter_days=draw(st.integers(7, 400)) if method == "meter" else None,
        cont_litres=draw(st.decimals(1, 500, places=1)) if method == "container" else None,
        trips_per_day=draw(st.decimals(0, 20, places=1)) if method == "container" else None,
        declared_lpd=draw(st.decimals(0, 200, places=1)) if method == "declared" else None,
        well_in_yard=draw(st.booleans()) if supply == "dispersed" else None,
        fetch_minutes=draw(st.decimals(0, 120, places=0)) if timed else None,
        fetch_h_m=None if timed else draw(DEC),
        fetch_v_m=None if timed else draw(st.decimals(0, 200, places=0)),
        short_days=draw(st.integers(0, 365)),
        drought_ok=draw(st.booleans()),
        lab_report=draw(st.sampled_from(LAB_REPORTS)),
        **{name: draw(st.booleans()) for name in SENSORY},
        known_exceed=draw(st.frozensets(st.sampled_from(EXCEEDANCES), max_size=2)),
    )


LAB_ORDER = ("fail", "none", "pass_relaxed", "pass_full")


@st.composite
def improvements(draw: st.DrawFn, facts: WaterFacts) -> WaterFacts:
    """One change that makes a single indicator input better (or leaves it as good as it was)."""
    moves: dict[str, Any] = {}
    if facts.meter_m3 is not None:
        moves["meter_m3"] = facts.meter_m3 + draw(st.decimals(0, 10, places=2))
    if facts.cont_litres is not None:
        moves["cont_litres"] = min(Decimal(500), facts.cont_litres + draw(st.decimals(0, 50, places=1)))
    if facts.declared_lpd is not None:
        moves["declared_lpd"] = facts.declared_lpd + draw(st.decimals(0, 50, places=1))
    moves["n_users"] = draw(st.integers(1, facts.n_users))
    if facts.fetch_minutes is not None:
        moves["fetch_minutes"] = draw(st.decimals(0, facts.fetch_minutes, places=0))
    else:
        moves["fetch_h_m"] = draw(st.decimals(0, facts.fetch_h_m, places=1))
        moves["fetch_v_m"] = draw(st.decimals(0, facts.fetch_v_m, places=0))
    moves["short_days"] = draw(st.integers(0, facts.short_days))
    moves["drought_ok"] = True
    if facts.supply_type == "dispersed":
        moves["well_in_yard"] = True
    for name in SENSORY:
        moves[name] = False if getattr(facts, name) else getattr(facts, name)
    moves["known_exceed"] = (
        frozenset(draw(st.sets(st.sampled_from(sorted(facts.known_exceed)))))
        if facts.known_exceed
        else frozenset()
    )
    moves["lab_report"] = draw(st.sampled_from(LAB_ORDER[LAB_ORDER.index(facts.lab_report) :]))
    name = draw(st.sampled_from(sorted(moves)))
    return dataclasses.replace(facts, **{name: moves[name]})


@given(water_facts(), st.data())
def test_improving_any_indicator_input_never_worsens_the_verdict(
    facts: WaterFacts, data: st.DataObject
) -> None:
    better = data.draw(improvements(facts))
    for params in (DRY, WET):
        before, after = assess_water(facts, params), assess_water(better, params)
        assert before.status == after.status == "rated"
        assert verdict_rank(after.verdict) >= verdict_rank(before.verdict)  # type: ignore[arg-type]
    exit_before, exit_after = assess_water(facts, EXIT), assess_water(better, EXIT)
    assert exit_after.water_ok >= exit_before.water_ok  # type: ignore[operator]


@given(water_facts())
def test_verdict_is_dabiao_iff_all_four_are_dabiao(facts: WaterFacts) -> None:
    verdict = assess_water(facts, DRY)
    assert (verdict.verdict == "dabiao") is all(verdict.ratings[name] == "dabiao" for name in INDICATORS)
    assert (verdict.verdict == "budabiao") is bool(verdict.failed_indicators)
    assert verdict.water_ok is (verdict.verdict != "budabiao")


@given(water_facts())
def test_exit2018_water_ok_iff_all_four_pass(facts: WaterFacts) -> None:
    verdict = assess_water(facts, EXIT)
    assert verdict.water_ok is all(verdict.ratings[name] == "pass" for name in INDICATORS)
    assert verdict.verdict == ("jiben" if verdict.water_ok else "budabiao")


WATER_FIELDS = [
    "supply_type",
    "scheme_scale",
    "n_users",
    "q_method",
    "meter_m3",
    "meter_days",
    "cont_litres",
    "trips_per_day",
    "declared_lpd",
    "well_in_yard",
    "fetch_minutes",
    "fetch_h_m",
    "fetch_v_m",
    "short_days",
    "drought_ok",
    "lab_report",
    "lab_date",
    "survey_date",
    *SENSORY,
    "known_exceed",
    "treatment",
    "source",
]
ANY_VALUE = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "0",
            "1",
            "7",
            "30",
            "-5",
            "1e999999",
            "Infinity",
            "NaN",
            "2019-02-30",
            "central_home",
            "meter",
            "dispersed",
        ]
    ),
    st.none(),
    st.integers(-(10**30), 10**30),
    st.floats(),
    st.lists(st.text(max_size=3), max_size=2),
)


@given(st.one_of(st.dictionaries(st.sampled_from(WATER_FIELDS), ANY_VALUE), st.text(max_size=5)))
def test_raw_answers_never_raise(answers: Any) -> None:
    for params in (DRY, EXIT):
        verdict = derive_water_survey(answers, params)
        assert (verdict.verdict is None) is (verdict.status == "rejected")
        assert (verdict.status == "rejected") is any(issue.severity == "error" for issue in verdict.issues)
