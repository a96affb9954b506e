"""Drinking-water safety (农村饮水安全评价): four indicator ratings and the household verdict, docs/domain.md §4.

Two rule profiles (§4.1): `TCHES2018`, the graded standard T/CHES 18-2018 (达标 / 基本达标 / 不达标 per
indicator, combined by "any 不达标 fails, all 达标 is 达标" [V]); and `EXIT2018`, the single pass/fail
level of the poverty-exit acceptance rules derived from 水农〔2018〕188号 [V], stored as `jiben` for a
pass and `budabiao` for a fail. All limits come from `RuleParameters`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

from forms.rules.answers import AnswerReader
from forms.rules.issues import Issue, error, has_errors, info, merge_issues, warning
from forms.rules.parameters import RuleParameters

Rating = Literal["dabiao", "jiben", "budabiao", "pass", "fail"]
"""Indicator rating: 达标 / 基本达标 / 不达标 under TCHES2018, `pass` / `fail` under EXIT2018."""
Verdict = Literal["dabiao", "jiben", "budabiao"]
INDICATORS = ("quality", "quantity", "convenience", "reliability")
SUPPLY_TYPES = ("central_home", "central_point", "dispersed", "trucked")
CENTRALIZED = frozenset({"central_home", "central_point"})
SCHEME_SCALES = ("large", "small", "unknown")
Q_METHODS = ("meter", "container", "declared")
LAB_REPORTS = ("pass_full", "pass_relaxed", "fail", "none")
EXCEEDANCES = ("fluoride", "arsenic", "salinity", "iron_mn", "nitrate", "micro", "none")
SENSORY = ("sens_impurity", "sens_colour_odour", "sens_taste", "sens_ill_effect")
SOURCES = (
    "municipal",
    "deep_well",
    "shallow_well",
    "big_well",
    "spring",
    "cellar",
    "tank",
    "small_elec_well",
    "river",
    "pond",
    "bottled",
    "other",
)
TREATMENTS = ("none", "disinfect", "filter", "household_purifier", "boil")
_ORDER = {"budabiao": 0, "jiben": 1, "dabiao": 2}
DAYS_PER_YEAR = 365


@dataclass(frozen=True)
class WaterFacts:
    """Answers of `water_survey` that the verdict depends on (field names as in §4.3)."""

    supply_type: str | None = None
    scheme_scale: str | None = None
    n_users: int | None = None
    q_method: str | None = None
    meter_m3: Decimal | None = None
    meter_days: int | None = None
    cont_litres: Decimal | None = None
    trips_per_day: Decimal | None = None
    declared_lpd: Decimal | None = None
    well_in_yard: bool | None = None
    fetch_minutes: Decimal | None = None
    fetch_h_m: Decimal | None = None
    fetch_v_m: Decimal | None = None
    short_days: int | None = None
    drought_ok: bool | None = None
    lab_report: str | None = None
    lab_date: date | None = None
    survey_date: date | None = None
    sens_impurity: bool | None = None
    sens_colour_odour: bool | None = None
    sens_taste: bool | None = None
    sens_ill_effect: bool | None = None
    known_exceed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WaterContext:
    """Registry facts for the registry effects of §4.6 (risk 12 for exited or monitored households)."""

    hh_status: str | None = None
    monitored: bool = False


@dataclass(frozen=True)
class WaterVerdict:
    """Server verdict of one water survey.

    `status` is `rated` or `rejected` (an error issue; `verdict` and `water_ok` are then None, the
    indicator ratings that could be computed are kept for review). `lpcd` is unrounded;
    `reliability_pct` is rounded to two decimals for display, comparisons use exact values.
    """

    status: Literal["rated", "rejected"]
    verdict: Verdict | None
    water_ok: bool | None
    quality: Rating | None
    quantity: Rating | None
    convenience: Rating | None
    reliability: Rating | None
    failed_indicators: tuple[str, ...]
    lpcd: Decimal | None
    reliability_pct: Decimal | None
    region_class: str | None
    risks: tuple[str, ...]
    issues: tuple[Issue, ...]
    profile: str
    parameter_version: str

    @property
    def ratings(self) -> dict[str, Rating | None]:
        return {name: getattr(self, name) for name in INDICATORS}


def litres_per_person_day(facts: WaterFacts) -> tuple[Decimal | None, list[Issue]]:
    """Quantity Q in litres per person per day from the method used (§4.3 `lpcd`).

    meter: m³ × 1000 ÷ days ÷ users; container: litres per trip × trips per day ÷ users; declared:
    the estimate as given.
    """
    issues: list[Issue] = []
    method = facts.q_method
    if method is None:
        return None, [error("missing", "q_method is required", "q_method")]
    if method == "declared":
        if facts.declared_lpd is None:
            return None, [
                error("missing", "declared_lpd is required for q_method = declared", "declared_lpd")
            ]
        return facts.declared_lpd, issues
    needed = ("meter_m3", "meter_days") if method == "meter" else ("cont_litres", "trips_per_day")
    for name in (*needed, "n_users"):
        if getattr(facts, name) is None:
            issues.append(error("missing", f"{name} is required for q_method = {method}", name))
    if issues or not facts.n_users:
        return None, issues
    if method == "meter":
        if not facts.meter_days:
            return None, [error("out_of_range", "meter_days must be positive", "meter_days")]
        return facts.meter_m3 * 1000 / facts.meter_days / facts.n_users, issues  # type: ignore[operator]
    return facts.cont_litres * facts.trips_per_day / facts.n_users, issues  # type: ignore[operator]


def rate_quantity(lpcd: Decimal, region_class: str, params: RuleParameters) -> Rating:
    """Quantity rating (§4.4): Q ≥ hi 达标, lo ≤ Q < hi 基本达标, Q < lo 不达标, with (hi, lo) = (60, 35)
    for `wet` and (40, 20) for `dry` [V for 35 / 20, G for 60 / 40]."""
    if region_class == "wet":
        high, low = params.water_quantity_full_wet, params.water_quantity_basic_wet
    else:
        high, low = params.water_quantity_full_dry, params.water_quantity_basic_dry
    if lpcd >= high:
        return "dabiao"
    return "jiben" if lpcd >= low else "budabiao"


def _lab_report_valid(facts: WaterFacts, params: RuleParameters) -> tuple[bool, list[Issue]]:
    """A passing report counts only when it is at most `water_lab_max_age_months` old at the survey [P]."""
    if facts.lab_report not in ("pass_full", "pass_relaxed"):
        return False, []
    if facts.lab_date is None or facts.survey_date is None:
        return True, [
            info("lab_age_unknown", "lab_date or survey_date missing: the report's age is not checked")
        ]
    expires = _add_months(facts.lab_date, params.water_lab_max_age_months)
    if facts.survey_date > expires:
        return False, [warning("lab_report_old", "the lab report is too old to count; sensory check applies")]
    return True, []


def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable: day 28 exists in every month")


def rate_quality(facts: WaterFacts, params: RuleParameters) -> tuple[Rating | None, list[Issue]]:
    """Quality rating, the top-down table of §4.4 [V criteria; G the split for dispersed supply].

    A centralized scheme of unknown size is treated like a large one (pass_relaxed gives 基本达标) [P].
    """
    sensory = [getattr(facts, name) for name in SENSORY]
    exceed = facts.known_exceed - {"none"}
    if facts.lab_report == "fail" or exceed or any(answer is True for answer in sensory):
        return "budabiao", []
    missing = [
        error("missing", f"{name} is required", name) for name in SENSORY if getattr(facts, name) is None
    ]
    if missing:
        return None, missing
    if facts.supply_type is None:
        return None, [error("missing", "supply_type is required", "supply_type")]
    valid, issues = _lab_report_valid(facts, params)
    if valid:
        if facts.supply_type in CENTRALIZED:
            if facts.scheme_scale == "small" or facts.lab_report == "pass_full":
                return "dabiao", issues
            return "jiben", issues  # large (or unknown) scheme with the relaxed limits only: row 6 [P]
        return "dabiao", issues
    return "jiben", issues  # no valid report and every sensory answer is no: row 5


def _fetch_in_yard(facts: WaterFacts) -> bool:
    return facts.supply_type == "central_home" or facts.well_in_yard is True


def rate_convenience(facts: WaterFacts, params: RuleParameters) -> tuple[Rating | None, list[Issue]]:
    """Convenience rating (§4.4): in-house supply 达标; else a recorded round trip decides (≤ 10 min
    达标 [G], ≤ 20 基本达标 [V]); without a time, one-way horizontal ≤ 800 m **and** rise ≤ 80 m give
    基本达标 [V limits, P for requiring both]."""
    if facts.supply_type is None and facts.well_in_yard is not True:
        return None, [error("missing", "supply_type is required", "supply_type")]
    if _fetch_in_yard(facts):
        return "dabiao", []
    if facts.fetch_minutes is not None:
        if facts.fetch_minutes <= params.water_fetch_full_minutes:
            return "dabiao", []
        return ("jiben" if facts.fetch_minutes <= params.water_fetch_basic_minutes else "budabiao"), []
    horizontal_ok = (
        None if facts.fetch_h_m is None else facts.fetch_h_m <= params.water_fetch_basic_horizontal_m
    )
    vertical_ok = None if facts.fetch_v_m is None else facts.fetch_v_m <= params.water_fetch_basic_vertical_m
    return _distance_rating(horizontal_ok, vertical_ok, "jiben", "budabiao")


def _distance_rating(
    horizontal_ok: bool | None, vertical_ok: bool | None, good: Rating, bad: Rating
) -> tuple[Rating | None, list[Issue]]:
    if horizontal_ok is False or vertical_ok is False:
        return bad, []
    if horizontal_ok and vertical_ok:
        return good, []
    return None, [
        error(
            "missing",
            "fetching is needed: record fetch_minutes, or both fetch_h_m and fetch_v_m",
            "fetch_minutes",
        )
    ]


def reliability_share(short_days: int) -> Fraction:
    """R = (365 − short_days) ÷ 365, exact (§4.4)."""
    return Fraction(DAYS_PER_YEAR - short_days, DAYS_PER_YEAR)


def rate_reliability(short_days: int, params: RuleParameters) -> Rating:
    """Reliability rating (§4.4): R ≥ 95 % 达标, ≥ 90 % 基本达标 [V], else 不达标."""
    share = reliability_share(short_days)
    if share >= Fraction(params.water_reliability_full):
        return "dabiao"
    return "jiben" if share >= Fraction(params.water_reliability_basic) else "budabiao"


def combine_ratings(ratings: Mapping[str, Rating]) -> Verdict:
    """TCHES2018 verdict (§4.4 [V]): any 不达标 → budabiao; all 达标 → dabiao; otherwise jiben."""
    values = list(ratings.values())
    if "budabiao" in values:
        return "budabiao"
    return "dabiao" if all(value == "dabiao" for value in values) else "jiben"


def _exit_convenience(facts: WaterFacts, params: RuleParameters) -> tuple[Rating | None, list[Issue]]:
    """EXIT2018 convenience [V]: in-house supply, or a round trip ≤ 20 min, or (without a recorded time)
    a round-trip horizontal distance ≤ 1 km and a rise ≤ 100 m. A recorded time decides, as in
    TCHES2018 [P]."""
    if facts.supply_type is None and facts.well_in_yard is not True:
        return None, [error("missing", "supply_type is required", "supply_type")]
    if _fetch_in_yard(facts):
        return "pass", []
    if facts.fetch_minutes is not None:
        return ("pass" if facts.fetch_minutes <= params.exit_fetch_max_minutes else "fail"), []
    horizontal_ok = (
        None if facts.fetch_h_m is None else 2 * facts.fetch_h_m <= params.exit_fetch_round_trip_horizontal_m
    )
    vertical_ok = None if facts.fetch_v_m is None else facts.fetch_v_m <= params.exit_fetch_vertical_m
    return _distance_rating(horizontal_ok, vertical_ok, "pass", "fail")


def _exit_reliability(facts: WaterFacts, params: RuleParameters) -> tuple[Rating | None, list[Issue]]:
    """EXIT2018 reliability [V]: dispersed supply must keep supplying through a 70-100-day drought
    (`drought_ok`); centralized and trucked supply need R ≥ 90 %."""
    if facts.supply_type == "dispersed":
        if facts.drought_ok is None:
            return None, [
                error("missing", "drought_ok is required for dispersed supply (EXIT2018)", "drought_ok")
            ]
        return ("pass" if facts.drought_ok else "fail"), []
    if facts.short_days is None:
        return None, [error("missing", "short_days is required", "short_days")]
    share = reliability_share(facts.short_days)
    return ("pass" if share >= Fraction(params.exit_reliability_central) else "fail"), []


def assess_water(
    facts: WaterFacts, params: RuleParameters, context: WaterContext | None = None
) -> WaterVerdict:
    """Rate the four indicators and combine them under `params.profile` (§4.2, §4.4)."""
    context = context or WaterContext()
    issues: list[Issue] = []
    lpcd, quantity_issues = litres_per_person_day(facts)
    issues.extend(quantity_issues)
    quality, found = rate_quality(facts, params)
    issues.extend(found)
    pct = None
    if facts.short_days is not None:
        share = reliability_share(facts.short_days) * 100
        pct = (Decimal(share.numerator) / Decimal(share.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP)

    ratings: dict[str, Rating | None]
    region = None
    if params.profile == "EXIT2018":
        quantity = None if lpcd is None else ("pass" if lpcd >= params.exit_quantity_min else "fail")
        convenience, found = _exit_convenience(facts, params)
        issues.extend(found)
        reliability, found = _exit_reliability(facts, params)
        issues.extend(found)
        exit_quality = None if quality is None else ("fail" if quality == "budabiao" else "pass")
        ratings = {
            "quality": exit_quality,
            "quantity": quantity,
            "convenience": convenience,
            "reliability": reliability,
        }
        failed = tuple(name for name, rating in ratings.items() if rating == "fail")
    else:
        region = params.water_region_class
        quantity = None if lpcd is None else rate_quantity(lpcd, region, params)
        convenience, found = rate_convenience(facts, params)
        issues.extend(found)
        reliability = None
        if facts.short_days is None:
            issues.append(error("missing", "short_days is required", "short_days"))
        else:
            reliability = rate_reliability(facts.short_days, params)
        ratings = {
            "quality": quality,
            "quantity": quantity,
            "convenience": convenience,
            "reliability": reliability,
        }
        failed = tuple(name for name, rating in ratings.items() if rating == "budabiao")

    verdict: Verdict | None = None
    complete = {name: rating for name, rating in ratings.items() if rating is not None}
    if not has_errors(issues) and len(complete) == len(INDICATORS):
        if params.profile == "EXIT2018":
            verdict = "budabiao" if failed else "jiben"
        else:
            verdict = combine_ratings(complete)
    water_ok = None if verdict is None else verdict != "budabiao"
    risks = ("12",) if water_ok is False and (context.hh_status == "exited" or context.monitored) else ()
    return WaterVerdict(
        status="rated" if verdict is not None else "rejected",
        verdict=verdict,
        water_ok=water_ok,
        quality=ratings["quality"],
        quantity=ratings["quantity"],
        convenience=ratings["convenience"],
        reliability=ratings["reliability"],
        failed_indicators=failed,
        lpcd=lpcd,
        reliability_pct=pct,
        region_class=region,
        risks=risks,
        issues=merge_issues(issues),
        profile=params.profile,
        parameter_version=params.version,
    )


def water_ok_from(verdict: str | None) -> bool:
    """`water_ok` of §2.4: the latest verdict is `dabiao` or `jiben`."""
    return verdict in ("dabiao", "jiben")


def verdict_rank(verdict: Verdict) -> int:
    """Order of verdicts, worst first: budabiao 0 < jiben 1 < dabiao 2."""
    return _ORDER[verdict]


def water_facts_from_answers(answers: Mapping[str, Any]) -> tuple[WaterFacts, list[Issue]]:
    """Read the `water_survey` answers (text as in the submission) into `WaterFacts` plus issues."""
    reader = AnswerReader(answers)
    reader.choice("source", SOURCES)
    reader.choices("treatment", TREATMENTS)
    facts = WaterFacts(
        supply_type=reader.choice("supply_type", SUPPLY_TYPES, required=True),
        scheme_scale=reader.choice("scheme_scale", SCHEME_SCALES),
        n_users=reader.integer("n_users", minimum=1, maximum=30),
        q_method=reader.choice("q_method", Q_METHODS),
        meter_m3=reader.decimal("meter_m3", minimum=0),
        meter_days=reader.integer("meter_days", minimum=7, maximum=400),
        cont_litres=reader.decimal("cont_litres", minimum=0, maximum=500),
        trips_per_day=reader.decimal("trips_per_day", minimum=0, maximum=20),
        declared_lpd=reader.decimal("declared_lpd", minimum=0, maximum=10_000),
        well_in_yard=reader.yes_no("well_in_yard"),
        fetch_minutes=reader.decimal("fetch_minutes", minimum=0, maximum=600),
        fetch_h_m=reader.decimal("fetch_h_m", minimum=0, maximum=1_000_000),
        fetch_v_m=reader.decimal("fetch_v_m", minimum=0, maximum=10_000),
        short_days=reader.integer("short_days", minimum=0, maximum=365),
        drought_ok=reader.yes_no("drought_ok"),
        lab_report=reader.choice("lab_report", LAB_REPORTS),
        lab_date=reader.date("lab_date"),
        survey_date=reader.date("survey_date") or reader.date("today"),
        sens_impurity=reader.yes_no("sens_impurity"),
        sens_colour_odour=reader.yes_no("sens_colour_odour"),
        sens_taste=reader.yes_no("sens_taste"),
        sens_ill_effect=reader.yes_no("sens_ill_effect"),
        known_exceed=reader.choices("known_exceed", EXCEEDANCES),
    )
    return facts, reader.issues


def derive_water_survey(
    answers: Mapping[str, Any], params: RuleParameters, context: WaterContext | None = None
) -> WaterVerdict:
    """Server entry point: the verdict of one `water_survey` submission from its raw answers.

    Never raises on any answer text; an error issue (missing or unreadable answer) gives `rejected`.
    """
    facts, read_issues = water_facts_from_answers(answers)
    verdict = assess_water(facts, params, context)
    issues = merge_issues(read_issues, verdict.issues)
    if has_errors(issues):
        return replace(verdict, status="rejected", verdict=None, water_ok=None, risks=(), issues=issues)
    return replace(verdict, issues=issues)
