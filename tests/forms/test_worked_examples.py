"""Every worked example of docs/domain.md §7, filled on the device and judged on the server.

For each example the real compiled form is filled in ODK's JavaScript form engine (what a phone runs) with
the example's answers. The verdict fields the form computes (forms.device_verdicts) must equal the server's
verdict, which `forms.rules` computes from the answers of the XML the engine produced, and both must equal
the value docs/domain.md writes down. Then the engine's XML goes through the OpenRosa submission endpoint of the
published form, and what is stored must be that XML byte for byte.

Where the phone refuses an example (a constraint or a required answer, so the enumerator cannot finalise
it), the test checks that the server refuses the same answer for the same field; such a form never leaves
the phone, so it is not sent.

The parameter set is the section 7 set (tests/forms/rules/section7.py); the phone reads the same figures
from the published media files (water_limits.csv, income_lines.csv). Follow-up forms pick the household
from the `households` entity list, given here as the small CSV the server would send (docs/forms.md 3).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import pytest
from sqlalchemy import select

from forms.build import CompiledForm, compile_xlsform, media_file
from forms.device_verdicts import DEVICE_VERDICTS
from forms.locations import SOURCES_DIR
from forms.rules.baseline import age_on, derive_baseline
from forms.rules.household import HouseholdContext, RosterMember
from forms.rules.housing import HouseContext, derive_house_appraisal
from forms.rules.idnumber import check_id_number
from forms.rules.income import derive_income_check, income_parameter_year
from forms.rules.water import derive_water_survey
from sync.db.engine import transaction
from sync.db.models import SubmissionVersion
from sync.intake.instance_xml import answers_from_xml, repeat_names
from sync.intake.publishing import publish_form
from tests.collect import DEVICE_ID, submission_body
from tests.engine.engine import AnswerValue, FileAnswer, FilledForm, FillRequest, fill_many
from tests.forms.rules.section7 import COUNTY, section7_parameters
from tests.images import jpeg_bytes
from tests.protocol.conftest import Collect

TOWNSHIP = "150121100"
VILLAGE = "150121100203"  # 北只图村, Tumed Left Banner: a §7 county (province fallback, class dry)
DEVICE_PROFILE = "TCHES2018"  # the only water profile the form computes (w_profile)
PRELOAD = {"deviceID": DEVICE_ID, "username": "enumerator07"}
PHOTO = jpeg_bytes(7, (64, 48))

Step = tuple[str, AnswerValue]


# --- the households entity list ----------------------------------------------------------------------


@dataclass(frozen=True)
class Household:
    """One row of the `households` entity list the server sends with the follow-up forms."""

    seq: int
    head: str
    size: int
    net_total: str = ""  # last year's household net income in the registry (prefills prev_net_total)

    @property
    def key(self) -> str:
        """The entity id: the registry's household UUID."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://qingling.test/households/{self.code}"))

    @property
    def code(self) -> str:
        return f"{VILLAGE}{self.seq:04d}"


ZHANG = Household(1, "张明", 4)
WANG = Household(2, "王强", 5)
LI = Household(3, "李桂兰", 3)
ZHAO = Household(4, "赵文", 2)
SUN = Household(5, "孙海", 4, net_total="60000")
ZHOU = Household(6, "周立", 4, net_total="40000")
WU = Household(7, "吴建", 4)  # five on the roster, one of them died in 2019 (hh_baseline counted 4 active)
HOUSEHOLDS = (ZHANG, WANG, LI, ZHAO, SUN, ZHOU, WU)


def households_csv() -> str:
    rows = ["name,label,__version,village,hh_code,head_name,hh_size,net_total,water_verdict"]
    for hh in HOUSEHOLDS:
        rows.append(f"{hh.key},{hh.head} · 北只图村,1,{VILLAGE},{hh.code},{hh.head},{hh.size},{hh.net_total},")
    return "\n".join(rows) + "\n"


# A county with its own TCHES2018 row of class `wet` (W5, W8): the phone's copy of that parameter row.
WET_LIMITS = (
    "name,region_class,q_full,q_basic,fetch_full_min,fetch_basic_min,fetch_h_m,fetch_v_m,rel_full,rel_basic,"
    f"lab_max_months\n{COUNTY},wet,60,35,10,20,800,80,0.95,0.90,12\n"
)


# --- the examples ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One filling of a form for a worked example (an example with variants has several)."""

    form: str
    answers: tuple[Step, ...]
    expected: Mapping[str, Any]  # server verdict attributes (dotted paths) as docs/domain.md states them
    device: Mapping[str, str] = field(default_factory=dict)  # device fields docs/domain.md states directly
    context: Any = None  # registry facts: HouseContext / HouseholdContext
    params: Mapping[str, Any] = field(default_factory=dict)  # changes to the section 7 parameter set
    profile: str = DEVICE_PROFILE  # the profile `expected` is judged under
    attachments: Mapping[str, str] = field(default_factory=dict)  # device media differing from the published
    refused: frozenset[str] = frozenset()  # fields the phone refuses: it cannot be finalised or sent
    codes: frozenset[str] = frozenset()  # issue codes the server verdict must carry
    ids: tuple[tuple[bool, str | None, str | None], ...] = ()  # per member (valid, birth, sex) of the ID


def photo(name: str) -> Step:
    return (name, FileAnswer(f"{name}.jpg", PHOTO))


def located(hh: Household) -> list[Step]:
    return [("county", COUNTY), ("township", TOWNSHIP), ("village", VILLAGE), ("hh_ref", hh.key)]


BAD = ("b", "c", "d")


def house(
    grades: Mapping[str, str],
    *,
    grade_final: str,
    struct: str = "brick_timber",
    roof: str = "timber_truss",
    storeys: int = 1,
    site: str = "safe",
    tilt: str = "none",
    danger: str = "",
    override_reason: str = "",
    reappraisal: bool = False,
    counts: Mapping[str, int] | None = None,
    survey: str = "2019-06-10",
) -> tuple[Step, ...]:
    """A house_appraisal as the appraisers fill it; `grades` holds g_* answers in form order."""
    steps: list[Step] = [("survey_date", survey), *located(ZHANG)]
    steps += [
        ("appraiser_1", "王建国"),
        ("appraiser_1_cert", "土左旗住建局 JD-0112"),
        ("appraiser_2", "刘晓东"),
        ("appraiser_2_cert", "察素齐镇村建站"),
        ("occupant_present", "1"),
        ("reappraisal", "1" if reappraisal else "0"),
        ("gps_house", "40.7153 111.1521 1052.0 4.8"),
        ("struct_type", struct),
        ("roof_system", roof),
        ("wall_material", ["brick"]),
        ("storeys", storeys),
        ("build_year", 1996),
        ("bays", 3),
        ("area_m2", "68.5"),
        ("site_grade", site),
    ]
    if site != "safe":
        steps += [("site_hazard", ["landslide"]), photo("ph_site")]
    steps += list(grades.items())
    steps.append(("tilt", tilt))
    if any(grade in BAD for grade in grades.values()):
        steps.append(("danger_points", danger or "见照片"))
    steps.append(("prevention", "partial"))
    if grades.get("g_found") in BAD:
        steps.append(photo("ph_found"))
    if grades.get("g_wall") in BAD:
        steps.append(photo("ph_wall"))
    if any(grades.get(name) in BAD for name in ("g_truss", "g_timber_member", "g_slab")):
        steps.append(photo("ph_roof_in"))
    if any(grade in BAD for grade in grades.values()):
        steps.append(photo("ph_other_dp"))
    steps.append(("grade_final", grade_final))
    if override_reason:
        steps.append(("override_reason", override_reason))
    if counts is not None:
        steps += [("do_quant", "1"), *counts.items()]
    steps += [photo("ph_front"), photo("ph_side"), photo("ph_team")]
    if reappraisal:
        steps.append(photo("ph_after"))
    return tuple(steps)


ALL_A = {"g_found": "a", "g_wall": "a", "g_timber_member": "a", "g_truss": "a", "g_secondary": "a"}
# H3: a brick-timber house with a beam-and-purlin roof (no truss), wall c.
H3_GRADES = {"g_found": "b", "g_wall": "c", "g_timber_member": "b", "g_secondary": "b"}
H3_HOUSE = {"roof": "beam_purlin", "danger": "纵横墙多处裂缝，西山墙外闪"}


def jgj125(n_w: int, nd_w: int) -> dict[str, int]:
    """Member counts for the JGJ 125 cross-check: foundation and envelope sound, wall segments as given."""
    return {"n_f": 10, "nd_f": 0, "n_w": n_w, "nd_w": nd_w, "n_e": 12, "nd_e": 0}


def water(
    *,
    supply: str,
    source: str,
    quantity: Sequence[Step],
    short_days: int,
    treatment: Sequence[str] = ("none",),
    scheme: str | None = None,
    n_users: int | None = None,
    well_in_yard: str | None = None,
    fetch: Sequence[Step] = (),
    drought_ok: str | None = None,
    lab: str = "none",
    sensory: Mapping[str, str] | None = None,
    hh: Household = ZHANG,
) -> tuple[Step, ...]:
    """A water_survey; `quantity` holds the q_method answers, `fetch` the convenience answers."""
    steps: list[Step] = [("survey_date", "2021-07-15"), *located(hh)]
    if n_users is not None:
        steps.append(("n_users", n_users))
    steps.append(("supply_type", supply))
    if scheme is not None:
        steps.append(("scheme_id", scheme))  # prefills scheme_scale from schemes.csv
    steps += [("source", source), ("treatment", list(treatment)), *quantity]
    if well_in_yard is not None:
        steps.append(("well_in_yard", well_in_yard))
    steps += [*fetch, ("short_days", short_days)]
    if drought_ok is not None:
        steps.append(("drought_ok", drought_ok))
    steps.append(("lab_report", lab))
    if lab != "none":
        steps += [("lab_date", "2021-03-02"), ("lab_org", "土默特左旗疾病预防控制中心")]
    senses = {"sens_impurity": "0", "sens_colour_odour": "0", "sens_taste": "0", "sens_ill_effect": "0"}
    steps += [*{**senses, **(sensory or {})}.items(), ("known_exceed", ["none"])]
    steps += [photo("ph_source"), photo("ph_sample")]
    if supply != "central_home":
        steps.append(photo("ph_storage"))
    if any(name == "q_method" and value == "meter" for name, value in quantity):
        steps.append(photo("ph_meter"))
    if supply != "central_home" and well_in_yard != "1":
        steps.append(photo("ph_route"))
    if lab != "none":
        steps.append(photo("ph_lab"))
    return tuple(steps)


def containers(litres: int, trips: int) -> tuple[Step, ...]:
    return (("q_method", "container"), ("cont_litres", litres), ("trips_per_day", trips))


def w2(
    *,
    quantity: Sequence[Step] = containers(50, 2),
    fetch: Sequence[Step] = (("fetch_minutes", 15), ("vehicle_fetch", "0")),
    short_days: int = 30,
    sensory: Mapping[str, str] | None = None,
) -> tuple[Step, ...]:
    """W2: dispersed supply from a neighbour's hand-pump well, 4 users; the base of W3-W7, W9, W10."""
    return water(
        supply="dispersed",
        source="shallow_well",
        well_in_yard="0",
        quantity=quantity,
        fetch=fetch,
        short_days=short_days,
        drought_ok="1",
        sensory=sensory,
    )


def metered(m3: str, days: int) -> tuple[Step, ...]:
    return (("q_method", "meter"), ("meter_m3", m3), ("meter_days", days))


def central(quantity: Sequence[Step], *, short_days: int = 10, hh: Household = ZHANG) -> tuple[Step, ...]:
    """Tap in the house from the large 察素齐镇 scheme, full GB 5749 lab report."""
    return water(
        supply="central_home",
        scheme="150121-01",
        source="deep_well",
        treatment=("disinfect",),
        quantity=quantity,
        short_days=short_days,
        lab="pass_full",
        hh=hh,
    )


def no_fetch_time(horizontal: int, vertical: int) -> tuple[Step, ...]:
    return (("fetch_h_m", horizontal), ("fetch_v_m", vertical), ("vehicle_fetch", "0"))


def income(
    hh: Household,
    year: int,
    amounts: Mapping[str, int],
    *,
    risks: Sequence[str] = (),
    drop_cause: Sequence[str] = (),
    rx: Mapping[str, int] | None = None,
) -> tuple[Step, ...]:
    """An income_check for calendar year `year`, surveyed early in the next year."""
    steps: list[Step] = [("survey_date", f"{year + 1}-02-20"), *located(hh)]
    steps += [("ref_period", "calendar_year"), ("ref_year", year), *amounts.items()]
    steps += list((rx or {}).items())
    if drop_cause:
        steps.append(("income_drop_cause", list(drop_cause)))
    if risks:
        steps.append(("risks", list(risks)))
    steps += [("self_coping", "weak"), ("declaration", "0")]
    if rx:
        steps.append(photo("ph_evidence"))
    return tuple(steps)


I1_AMOUNTS = {
    "w_local": 12000,
    "b_crop_gross": 8000,
    "b_cost": 3000,
    "p_land_rent": 500,
    "t_dibao": 1800,
    "t_subsidy": 700,
}
I10_AMOUNTS = {"w_local": 4000, "t_subsidy": 2200}  # net 6 200 for 2 persons: 3 100 each
ALL_ASSURED = {
    "food_ok": True,
    "clothing_ok": True,
    "edu_ok": True,
    "med_ok": True,
    "housing_ok": True,
    "water_ok": True,  # water_verdict = jiben
}


def member(
    name: str, id_no: str, sex: str, *, labour: str = "normal", student: str | None = None, adult: bool = True
) -> dict[str, AnswerValue]:
    """A member row of hh_baseline; `adult` answers the pension question shown from age 16."""
    row: dict[str, AnswerValue] = {
        "m_name": name,
        "m_id": id_no,
        "m_sex": sex,
        "m_relation": "01",
        "m_ethnic": "02",
        "m_edu": "3",
    }
    if student is not None:
        row["m_student"] = student
    row |= {"m_health": "healthy", "m_labour": labour}
    if labour in ("normal", "skilled"):
        row["m_migrant"] = "none"
    row |= {"m_med_ins": "1", "m_crit_ins": "1"}
    if adult:
        row["m_pension"] = "1"
    row["m_dibao"] = "0"
    return row


def baseline(*members: Mapping[str, AnswerValue]) -> tuple[Step, ...]:
    """A re-check of a registered household with the given roster (hh_baseline)."""
    steps: list[Step] = [
        ("survey_date", "2021-05-20"),
        ("county", COUNTY),
        ("township", TOWNSHIP),
        ("village", VILLAGE),
        ("group_name", "三组"),
        ("reg_type", "existing"),
        ("hh_ref", ZHANG.key),
        ("phone", "13947112345"),
        ("registered", "1"),
        ("poverty_attr", "general"),
        ("main_cause", "1"),
        ("gps_house", "40.7153 111.1521 1052.0 4.8"),
        photo("ph_house_front"),
    ]
    for index, row in enumerate(members, start=1):
        steps += [(f"members[{index}]/{name}", value) for name, value in row.items()]
    steps += [
        ("roster_ok", "OK"),
        ("food_ok", "1"),
        ("clothing_ok", "1"),
        ("med_access_ok", "1"),
        ("housing_basis", "own_AB"),
    ]
    return tuple(steps)


def idcase(row: Mapping[str, AnswerValue], valid: bool, birth: str | None, sex: str | None, **kw: Any) -> Case:
    expected = {"status": "accepted" if valid else "rejected", **kw.pop("expected", {})}
    return Case("hh_baseline", baseline(row), expected, ids=((valid, birth, sex),), **kw)


EXAMPLES: dict[str, list[Case]] = {
    # 7.1 Housing
    "H1": [Case("house_appraisal", house(ALL_A, grade_final="A"), {"grade": "A", "housing_ok": True})],
    "H2": [
        Case(
            "house_appraisal",
            house({**ALL_A, "g_wall": "b"}, grade_final="B", danger="后檐墙轻微裂缝"),
            {"grade": "B", "housing_ok": True},
        )
    ],
    "H3": [
        Case(
            "house_appraisal",
            house(H3_GRADES, grade_final="C", **H3_HOUSE),
            {"grade": "C", "dangerous": True, "advice": "repair", "housing_ok": False, "risks": ("11",)},
            context=HouseContext(hh_status="exited"),
        )
    ],
    "H4": [
        Case(
            "house_appraisal",
            house(
                {"g_found": "b", "g_wall": "b", "g_timber_member": "a", "g_truss": "d", "g_secondary": "a"},
                grade_final="D",
                danger="屋架支座失效，东侧屋面局部塌落",
            ),
            {"grade": "D", "advice": "stop_use", "stop_use": True, "housing_ok": False},
        )
    ],
    "H5": [
        Case(
            "house_appraisal",
            house(ALL_A, site="dangerous", grade_final="D"),
            {"grade": "D", "rule": "R2", "advice": "relocate", "housing_ok": False},
        )
    ],
    "H6": [
        Case(
            "house_appraisal",
            house({**ALL_A, "g_secondary": "b"}, grade_final="B", danger="女儿墙开裂"),
            {"grade": "B", "housing_ok": True},
        )
    ],
    "H7": [
        Case(
            "house_appraisal",
            house({name: grade for name, grade in ALL_A.items() if name != "g_truss"}, grade_final="A"),
            {"status": "rejected", "grade": None},
            refused=frozenset({"g_truss"}),
            codes=frozenset({"unanswered_component"}),
        )
    ],
    "H8": [
        Case(
            "house_appraisal",
            house(ALL_A, storeys=3, grade_final="A"),
            {"status": "referred", "grade": None, "referral": "professional"},
            refused=frozenset({"storeys"}),
            codes=frozenset({"referral_professional"}),
        )
    ],
    "H9": [
        Case(
            "house_appraisal",
            house(H3_GRADES, grade_final="B", **H3_HOUSE),
            {"status": "rejected", "grade": None, "grade_calc": "C"},
            refused=frozenset({"override_reason"}),
            codes=frozenset({"override_reason_required"}),
        ),
        Case(
            "house_appraisal",
            house(H3_GRADES, grade_final="B", override_reason="裂缝已用钢拉杆临时加固", **H3_HOUSE),
            {"status": "graded", "grade": "B", "grade_calc": "C", "review_required": True},
        ),
    ],
    "H10": [
        Case(
            "house_appraisal",
            house(H3_GRADES, grade_final="C", counts=jgj125(10, 1), **H3_HOUSE),  # p_s = 2.4 / 24 = 10 %
            {
                "grade": "C",
                "cross_check.p_super": Decimal(10),
                "cross_check.membership": tuple(map(Decimal, ("0.3", "0.6", "0.2", "0"))),
                "cross_check.grade": "B",
            },
            device={"mu_A": "0.3", "mu_B": "0.6", "mu_C": "0.2", "mu_D": "0"},
        )
    ],
    "H11": [
        Case(
            "house_appraisal",
            house(H3_GRADES, grade_final="C", counts=jgj125(20, 5), **H3_HOUSE),  # p_s = 25 %
            {
                "grade": "C",
                "cross_check.p_super": Decimal(25),
                "cross_check.membership": tuple(map(Decimal, ("0.3", "0.2", "0.6", "0"))),
                "cross_check.grade": "C",
            },
            device={"mu_A": "0.3", "mu_B": "0.2", "mu_C": "0.6", "mu_D": "0"},
        )
    ],
    "H12": [
        Case(
            "house_appraisal",
            house(H3_GRADES, grade_final="C", counts=jgj125(20, 0), **H3_HOUSE),  # every p = 0
            {
                "cross_check.membership": tuple(map(Decimal, ("0.6", "0", "0", "0"))),
                "cross_check.grade": "A",
            },
            device={"mu_A": "0.6", "mu_B": "0", "mu_C": "0", "mu_D": "0"},
        )
    ],
    "H13": [
        Case(
            "house_appraisal",
            house({**ALL_A, "g_secondary": "b"}, grade_final="B", reappraisal=True, danger="挑檐抹灰局部脱落"),
            {"grade": "B", "renovation_status": "done", "housing_ok": True},
            context=HouseContext(hh_status="exited", previous_grade="C", renovation_status="in_progress"),
        )
    ],
    # 7.2 Drinking water
    "W1": [
        Case(
            "water_survey",
            central(metered("7.2", 30)),  # 7.2 m³ over 30 days for 4 users: 60 L
            {
                "lpcd": Decimal(60),
                "quality": "dabiao",
                "quantity": "dabiao",
                "convenience": "dabiao",
                "reliability": "dabiao",
                "reliability_pct": Decimal("97.26"),
                "verdict": "dabiao",
                "water_ok": True,
            },
        )
    ],
    "W2": [
        Case(
            "water_survey",
            w2(),
            {
                "lpcd": Decimal(25),
                "quality": "jiben",
                "quantity": "jiben",
                "convenience": "jiben",
                "reliability": "jiben",
                "reliability_pct": Decimal("91.78"),
                "verdict": "jiben",
                "water_ok": True,
            },
        )
    ],
    "W3": [
        Case(
            "water_survey",
            w2(fetch=(("fetch_minutes", 25), ("fetch_h_m", 900), ("fetch_v_m", 20), ("vehicle_fetch", "0"))),
            {"convenience": "budabiao", "verdict": "budabiao", "failed_indicators": ("convenience",)},
        )
    ],
    "W4": [
        Case(
            "water_survey",
            w2(sensory={"sens_taste": "1"}),
            {"quality": "budabiao", "verdict": "budabiao", "water_ok": False},
        )
    ],
    "W5": [
        Case(
            "water_survey",
            w2(quantity=containers(60, 2)),  # 30 L
            {"lpcd": Decimal(30), "quantity": "budabiao", "verdict": "budabiao"},
            params={"water_region_class": "wet"},
            attachments={"water_limits.csv": WET_LIMITS},
        ),
        Case(
            "water_survey",
            w2(quantity=containers(60, 2)),
            {"lpcd": Decimal(30), "quantity": "jiben", "verdict": "jiben"},
        ),
    ],
    "W6": [
        Case(
            "water_survey",
            w2(short_days=37),
            {"reliability": "budabiao", "reliability_pct": Decimal("89.86"), "verdict": "budabiao"},
        )
    ],
    "W7": [
        Case("water_survey", w2(quantity=containers(20, 4)), {"lpcd": Decimal(20), "quantity": "jiben"}),
        Case("water_survey", w2(quantity=containers(40, 4)), {"lpcd": Decimal(40), "quantity": "dabiao"}),
        Case("water_survey", w2(short_days=18), {"reliability_pct": Decimal("95.07"), "reliability": "dabiao"}),
        Case("water_survey", w2(short_days=19), {"reliability_pct": Decimal("94.79"), "reliability": "jiben"}),
        Case("water_survey", w2(short_days=36), {"reliability_pct": Decimal("90.14"), "reliability": "jiben"}),
        Case(
            "water_survey",
            w2(fetch=(("fetch_minutes", 10), ("vehicle_fetch", "0"))),
            {"convenience": "dabiao"},
        ),
        Case(
            "water_survey",
            w2(fetch=(("fetch_minutes", 20), ("vehicle_fetch", "0"))),
            {"convenience": "jiben"},
        ),
    ],
    "W8": [
        Case(
            "water_survey",
            central(metered("4.5", 30), hh=WANG),  # 5 users
            {"lpcd": Decimal(30), "quantity": "jiben", "verdict": "jiben"},
        ),
        Case(
            "water_survey",
            central(metered("4.5", 30), hh=WANG),
            {"lpcd": Decimal(30), "quantity": "budabiao", "verdict": "budabiao"},
            params={"water_region_class": "wet"},
            attachments={"water_limits.csv": WET_LIMITS},
        ),
    ],
    "W9": [Case("water_survey", w2(fetch=no_fetch_time(600, 30)), {"convenience": "jiben"})],
    "W10": [
        Case(
            "water_survey",
            w2(fetch=no_fetch_time(1500, 10)),
            {"convenience": "budabiao", "verdict": "budabiao", "failed_indicators": ("convenience",)},
        )
    ],
    "W11": [
        Case(
            "water_survey",
            water(
                supply="dispersed",
                source="cellar",
                well_in_yard="0",
                quantity=containers(44, 2),  # 22 L for 4 users
                fetch=(("fetch_minutes", 18), ("vehicle_fetch", "0")),
                short_days=20,
                drought_ok="1",
            ),
            {
                "quality": "pass",
                "quantity": "pass",
                "convenience": "pass",
                "reliability": "pass",
                "water_ok": True,
                "verdict": "jiben",
                "profile": "EXIT2018",
            },
            profile="EXIT2018",
        )
    ],
    "W12": [
        Case(
            "water_survey",
            water(
                supply="central_home",
                scheme="150121-02",  # 讨思浩村联村供水站, a small scheme
                source="deep_well",
                treatment=("disinfect", "filter"),
                quantity=(("q_method", "declared"), ("declared_lpd", 45)),
                short_days=5,
                lab="pass_relaxed",
            ),
            {
                "quality": "dabiao",
                "quantity": "dabiao",
                "convenience": "dabiao",
                "reliability": "dabiao",
                "verdict": "dabiao",
            },
        )
    ],
    # 7.3 Income
    "I1": [
        Case(
            "income_check",
            income(ZHANG, 2019, I1_AMOUNTS),
            {
                "net_total": Decimal(20000),
                "income_pc_rounded": Decimal("5000.00"),
                "monitoring_line": Decimal(5000),
                "income_risk": False,
                "exit_line": Decimal(3218),
            },
            device={"above_exit_line": "1"},
        )
    ],
    "I2": [
        Case(
            "income_check",
            income(ZHANG, 2019, {**I1_AMOUNTS, "x_fixed_purpose": 20000, "x_one_off": 1000}),
            {"income_pc_rounded": Decimal("5000.00"), "components.excluded_total": Decimal(21000)},
            codes=frozenset({"excluded_amounts"}),
        )
    ],
    "I3": [
        Case(
            "income_check",
            income(LI, 2019, {"w_local": 6000, "b_crop_gross": 7000, "b_cost": 3000, "t_family": 2000}),
            {"net_total": Decimal(12000), "income_pc": Decimal(4000), "refer_dibao": True},
            context=HouseholdContext(hh_status="general"),
            device={"below_dibao_line": "1"},
        )
    ],
    "I4": [
        Case(
            "income_check",
            income(WANG, 2021, {"w_local": 20000, "b_crop_gross": 12000, "b_cost": 3000}, risks=("01",)),
            {
                "net_total": Decimal(29000),
                "income_pc": Decimal(5800),
                "income_risk": True,
                "monitor_category": "unstable_exited",
            },
            context=HouseholdContext(hh_status="exited", reg_year=2014, exit_year=2018),
        )
    ],
    "I5": [
        Case(
            "income_check",
            income(ZHAO, 2021, {"w_local": 8000, "t_pension": 3800}, risks=("07",)),
            {"status": "computed", "income_pc": Decimal(5900), "monitor_category": "marginal"},
            context=HouseholdContext(
                hh_status="general", roster=(RosterMember(labour="normal"), RosterMember(labour="none"))
            ),
        )
    ],
    "I6": [
        Case(
            "income_check",
            income(
                SUN,
                2021,
                {"w_local": 36000, "b_crop_gross": 25000, "b_cost": 5000},
                rx={"rx_medical": 70000},
                drop_cause=("01",),
            ),
            {
                "prev_net_total": Decimal(60000),
                "income_pc": Decimal(14000),
                "expense_shock": True,
                "income_risk": False,
                "monitor_category": "sudden_hardship",
            },
            context=HouseholdContext(hh_status="general"),
        )
    ],
    "I7": [
        Case(
            "income_check",
            income(ZHOU, 2021, {"w_local": 10000, "b_crop_gross": 8000, "b_cost": 2000}, drop_cause=("06",)),
            {
                "prev_net_total": Decimal(40000),
                "net_total": Decimal(16000),
                "income_pc": Decimal(4000),
                "income_collapse": True,
                "income_risk": True,
                "monitor_rule": "M3",
                "monitor_category": "marginal",
            },
            context=HouseholdContext(hh_status="general"),
        )
    ],
    "I8": [
        Case(
            "income_check",
            income(ZHAO, 2019, {"w_migrant_gross": 30000, "w_migrant_cost": 12000}),
            {"components.wage": Decimal(18000), "income_pc": Decimal(9000)},
        )
    ],
    "I9": [
        Case(
            "income_check",
            # 10 sheep sold for 8 000 with their costs; the 40 in stock have no field: they are not income.
            income(ZHAO, 2019, {"b_livestock_gross": 8000, "b_cost": 3000}),
            {"components.business": Decimal(5000)},
        )
    ],
    "I10": [
        Case(
            "income_check",
            income(ZHAO, 2018, I10_AMOUNTS),
            {"income_pc": Decimal(3100), "exit_line": Decimal(2995), "exit_eligible": True},
            context=HouseholdContext(hh_status="poor", reg_year=2016, **ALL_ASSURED),
            device={"above_exit_line": "1"},
        ),
        Case(
            "income_check",
            income(ZHAO, 2018, I10_AMOUNTS),
            {"income_pc": Decimal(3100), "exit_eligible": False},
            context=HouseholdContext(hh_status="poor", reg_year=2016, **{**ALL_ASSURED, "housing_ok": False}),
            device={"above_exit_line": "1"},
        ),
    ],
    "I11": [
        Case(
            "income_check",
            income(ZHAO, 2021, {"t_pension": 4800, "t_subsidy": 1200}, risks=("07",)),
            {"status": "rejected"},
            context=HouseholdContext(
                hh_status="general", roster=(RosterMember(labour="none"), RosterMember(labour="lost"))
            ),
            codes=frozenset({"risk07_without_labour"}),
        )
    ],
    "I12": [
        Case(
            "income_check",
            income(WU, 2019, {"w_local": 10000, "b_crop_gross": 8000, "b_cost": 2000}),
            {"hh_size_ref": 4, "net_total": Decimal(16000), "income_pc": Decimal(4000)},
            context=HouseholdContext(
                roster=(
                    *(RosterMember(labour="normal") for _ in range(4)),
                    RosterMember(labour="lost", status="deceased", status_date=date(2019, 5, 10)),
                )
            ),
        )
    ],
    "I13": [
        Case(
            "income_check",
            income(ZHAO, 2019, {"w_local": 10000, "b_crop_gross": 2000, "b_cost": 6000}),
            {"status": "computed", "components.business": Decimal(-4000), "income_pc": Decimal(3000)},
            codes=frozenset({"business_loss"}),
        )
    ],
    # 7.4 ID numbers, as the ID of the household head in the hh_baseline member repeat
    "R1": [idcase(member("韩淑珍", "11010519491231002X", "2", labour="none"), True, "1949-12-31", "2")],
    # The standard's own example is valid, but the registry takes no one born before 1900 (§6.1).
    "R2": [
        idcase(
            member("林振华", "440524188001010014", "1", labour="none"),
            True,
            "1880-01-01",
            "1",
            expected={"status": "rejected"},
            codes=frozenset({"birth_too_early"}),
        )
    ],
    "R3": [
        idcase(
            member("韩淑珍", "110105194912310021", "2", labour="none"),
            False,
            "1949-12-31",
            "2",
            codes=frozenset({"bad_check_character"}),
        )
    ],
    "R4": [idcase(member("韩淑珍", "11010519491231002x", "2", labour="none"), True, "1949-12-31", "2")],
    "R5": [
        idcase(
            member("韩淑珍", "110105194902310026", "2", adult=False),
            False,
            None,
            "2",
            codes=frozenset({"bad_birth_date"}),
        )
    ],
    "R6": [idcase(member("巴特尔", "150102198003150010", "1"), True, "1980-03-15", "1")],
    "R7": [idcase(member("刘畅", "210102199001010023", "2"), True, "1990-01-01", "2")],
    "R8": [
        Case(
            "hh_baseline",
            baseline(member("巴特尔", "150102198003150010", "2")),
            {"status": "rejected"},
            refused=frozenset({"m_sex"}),
            codes=frozenset({"sex_mismatch"}),
        )
    ],
}


# --- the device side ---------------------------------------------------------------------------------


@cache
def compiled_forms() -> dict[str, CompiledForm]:
    """The four survey forms compiled as publishing compiles them (ODK Validate included)."""
    return {
        name: compile_xlsform(SOURCES_DIR / f"{name}.xlsx")
        for name in ("hh_baseline", "house_appraisal", "water_survey", "income_check")
    }


def device_media(form: CompiledForm, case: Case) -> dict[str, Any]:
    files: dict[str, Any] = {name: media_file(name) for name in form.media}
    files.update({f"{name}.csv": households_csv() for name in form.entity_lists})
    files.update(case.attachments)
    return files


@pytest.fixture(scope="module")
def filled() -> dict[str, list[FilledForm]]:
    """Every case of every example filled in one round trip to the engine."""
    forms = compiled_forms()
    cases = [(example, case) for example, group in EXAMPLES.items() for case in group]
    results = fill_many(
        FillRequest(forms[case.form], case.answers, attachments=device_media(forms[case.form], case), preload=PRELOAD)
        for _, case in cases
    )
    grouped: dict[str, list[FilledForm]] = {}
    for (example, _), result in zip(cases, results, strict=True):
        grouped.setdefault(example, []).append(result)
    return grouped


def leaf(path: str) -> str:
    """`members[1].m_sex` or `/data/members[1]/m_sex` -> `m_sex`."""
    return path.replace(".", "/").rsplit("/", 1)[-1]


def device_values(fill: FilledForm, form: str, names: Sequence[str]) -> dict[str, Any]:
    """The device's verdict fields: text, or a list of texts for a field computed per repeat instance."""
    values: dict[str, Any] = {}
    for verdict in DEVICE_VERDICTS[form]:
        if verdict.field not in names:
            continue
        if verdict.in_repeat:
            values[verdict.field] = [norm(s.value) for s in fill.nodes.values() if s.name == verdict.field]
        else:
            values[verdict.field] = norm(fill.value(verdict.field))
    return values


# Notes the phone shows as a warning, and the server issue codes that say the same.
WARNING_NOTES: dict[str, dict[str, frozenset[str]]] = {
    "hh_baseline": {
        "m_id_bad": frozenset({"bad_check_character"}),
        "m_birth_bad": frozenset({"bad_birth_date", "birth_too_early", "birth_after_survey"}),
    },
    "income_check": {
        "business_loss": frozenset({"business_loss"}),
        "income_implausible": frozenset({"income_pc_implausible"}),
    },
}


# --- the server side ---------------------------------------------------------------------------------


def norm(value: Any) -> str:
    """One text form for both sides: numbers to 6 decimals without trailing zeros, flags 1/0, None ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = value if isinstance(value, str) else str(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    fixed = format(number.quantize(Decimal("0.000001")), "f")
    fixed = fixed.rstrip("0").rstrip(".") if "." in fixed else fixed
    return "0" if fixed == "-0" else fixed


def server_verdict(case: Case, answers: Mapping[str, Any], profile: str = DEVICE_PROFILE) -> Any:
    if case.form == "income_check":
        year = income_parameter_year(answers)
        assert year is not None
    else:
        year = int(answers["survey_date"][:4])
    params = section7_parameters(year, profile, **case.params)
    if case.form == "house_appraisal":
        return derive_house_appraisal(answers, params, case.context)
    if case.form == "water_survey":
        return derive_water_survey(answers, params)
    if case.form == "income_check":
        return derive_income_check(answers, params, case.context)
    return derive_baseline(answers, params)


def flag_if(known: bool, value: bool) -> str:
    """A device flag: '' when the input it needs is missing ("cannot tell yet"), else 1 / 0."""
    return norm(value) if known else ""


def server_values(verdict: Any, form: str, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The server verdict in the device's field names and text conventions (docs/forms.md 5)."""
    if form == "house_appraisal":
        cross = verdict.cross_check
        return {
            "grade_calc": norm(verdict.grade_calc),
            "review_required": norm(verdict.review_required),
            "advice": norm(verdict.advice),
            "quant_grade": norm(cross.grade if cross else None),
        }
    if form == "water_survey":
        return {
            "lpcd": norm(verdict.lpcd),
            "qual_rating": norm(verdict.quality),
            "q_rating": norm(verdict.quantity),
            "c_rating": norm(verdict.convenience),
            "r_rating": norm(verdict.reliability),
            "w_verdict": norm(verdict.verdict),
            "w_ok": norm(verdict.water_ok),
            "w_failed": " ".join(verdict.failed_indicators),
        }
    if form == "income_check":
        parts, pc = verdict.components, verdict.income_pc
        previous = verdict.prev_net_total is not None
        return {
            "wage": norm(parts.wage),
            "business": norm(parts.business),
            "property": norm(parts.property),
            "transfer": norm(parts.transfer),
            "net_total": norm(verdict.net_total),
            "income_pc": norm(pc),
            "rx_total": norm(parts.rx_total),
            "income_risk": flag_if(pc is not None and verdict.monitoring_line is not None, verdict.income_risk),
            "expense_shock": flag_if(previous, verdict.expense_shock),
            "income_collapse": flag_if(previous, verdict.income_collapse),
            "below_dibao_line": flag_if(
                pc is not None and verdict.dibao_line is not None,
                pc is not None and verdict.dibao_line is not None and pc < verdict.dibao_line,
            ),
            "above_exit_line": flag_if(
                pc is not None and verdict.exit_line is not None,
                pc is not None and verdict.exit_line is not None and pc > verdict.exit_line,
            ),
        }
    survey = date.fromisoformat(answers["survey_date"])
    checks = [result.id_check for result in verdict.member_ids.members]
    assert answers["med_access_ok"] == "1"  # so every member insured <=> med_ok
    return {
        "m_id_ok": [norm(c.normalised is not None and "bad_check_character" not in codes_of(c)) for c in checks],
        "m_birth": [norm(c.birth_date.isoformat() if c.birth_date else None) for c in checks],
        "m_sex_from_id": [norm(c.sex) for c in checks],
        "m_age": [norm(age_on(c.birth_date, survey) if c.birth_date else None) for c in checks],
        "hh_size": norm(verdict.hh_size),
        "n_labour": norm(verdict.n_labour),
        "n_school_age": norm(verdict.n_school_age),
        "med_all_insured": norm(verdict.med_ok),
        "edu_ok": norm(verdict.edu_ok),
        "med_ok": norm(verdict.med_ok),
    }


AMOUNTS = ("wage", "business", "property", "transfer", "net_total", "income_pc", "rx_total")


def codes_of(verdict: Any) -> set[str]:
    return {issue.code for issue in verdict.issues}


def attribute(verdict: Any, path: str) -> Any:
    value = verdict
    for step in path.split("."):
        value = getattr(value, step)
    return value


def judge(case: Case, fill: FilledForm, repeats: frozenset[str]) -> None:
    """Device, server and docs/domain.md agree on one case (the phone refusing it counts as a verdict)."""
    answers = answers_from_xml(fill.submission_xml, repeats)
    verdict = server_verdict(case, answers)
    expected_verdict = verdict if case.profile == DEVICE_PROFILE else server_verdict(case, answers, case.profile)
    assert {name: attribute(expected_verdict, name) for name in case.expected} == dict(case.expected)
    assert case.codes <= codes_of(expected_verdict), expected_verdict.issues

    if case.refused:
        # The phone does not let the enumerator finalise; the server refuses the same field.
        assert {leaf(error.path) for error in fill.errors} == case.refused
        assert fill.payload_status == "pending"
        assert verdict.status in ("rejected", "referred")
        assert case.refused <= {leaf(issue.field) for issue in verdict.issues if issue.field}
        return
    assert fill.valid, fill.errors
    assert fill.payload_status == "ready"

    device = {name: norm(fill.value(name)) for name in case.device}
    assert device == {name: norm(value) for name, value in case.device.items()}
    server = server_values(verdict, case.form, answers)
    if case.form == "income_check" and verdict.status == "rejected":
        # The flags of a rejected check are not decided; its amounts still are.
        server = {name: server[name] for name in AMOUNTS}
    assert device_values(fill, case.form, list(server)) == server
    for note, codes in WARNING_NOTES.get(case.form, {}).items():
        shown = any(s.relevant for s in fill.nodes.values() if s.name == note)
        assert shown == bool(codes & codes_of(verdict)), (note, verdict.issues)
    for row, (valid, birth, sex) in zip(answers.get("members", []), case.ids, strict=True):
        check = check_id_number(row["m_id"])  # the ID by the standard alone (§7.4)
        born = check.birth_date.isoformat() if check.birth_date else None
        assert (check.valid, born, check.sex) == (valid, birth, sex)


@pytest.fixture
def collect(client, app_token: str, project) -> Collect:  # noqa: ANN001
    return Collect(client, f"/v1/key/{app_token}/projects/{project.id}")


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_worked_example(example: str, filled: dict[str, list[FilledForm]], collect, services, project) -> None:  # noqa: ANN001
    cases, fills = EXAMPLES[example], filled[example]
    form = compiled_forms()[cases[0].form]
    repeats = repeat_names(form.xml)
    for case, fill in zip(cases, fills, strict=True):
        judge(case, fill, repeats)

    sent = [fill for case, fill in zip(cases, fills, strict=True) if not case.refused]
    if not sent:
        return
    with transaction(services.sessions) as session:
        media = {name: path for name in form.media if (path := media_file(name)) is not None}
        publish_form(session, services.store, project, form, media)
    for fill in sent:
        response = collect.post(submission_body(fill.submission_xml, fill.submission_files))
        assert response.status_code == 201, response.data
    with services.sessions() as session:
        stored = {v.instance_id: v.xml for v in session.scalars(select(SubmissionVersion))}
    assert stored == {fill.instance_id: fill.submission_xml for fill in sent}


def test_every_example_of_section_7_is_covered() -> None:
    domain = {f"H{n}" for n in range(1, 14)} | {f"W{n}" for n in range(1, 13)}
    domain |= {f"I{n}" for n in range(1, 14)} | {f"R{n}" for n in range(1, 9)}
    assert set(EXAMPLES) == domain


def test_answers_from_xml_flattens_groups_and_lists_repeats() -> None:
    xml = (
        b'<?xml version="1.0"?><data id="hh_baseline" version="1"><survey_date>2021-05-20</survey_date>'
        b"<location><county>150121</county><village/></location>"
        b"<members><m_name>A</m_name><m_id>1</m_id></members>"
        b"<grp><more><x>1</x></more><more><x>2</x></more></grp>"
        b'<meta><entity dataset="households" id="k"/><instanceID>uuid:1</instanceID></meta></data>'
    )
    assert answers_from_xml(xml, {"members"}) == {
        "survey_date": "2021-05-20",
        "county": "150121",
        "village": "",
        "members": [{"m_name": "A", "m_id": "1"}],
        "more": [{"x": "1"}, {"x": "2"}],
    }
    # Without the form's repeat names a single instance reads like a group.
    assert answers_from_xml(xml)["m_name"] == "A"
    assert repeat_names(compiled_forms()["hh_baseline"].xml) == {"members"}
