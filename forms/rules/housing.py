"""Housing safety appraisal (农村住房安全性鉴定): component grades to house grade, docs/domain.md §3.

The rule is Housing 2019 [V] (site first, then the worst structural component decides; a danger point
in a non-structural member gives at most B), plus the product rules of §3.4: R0 scope referral [V],
R1 rejection of unanswered relevant components [P], R7 overall tilt [P], and the override policy [P].
The JGJ 125 fuzzy method of §3.5 (`forms.rules.jgj125`) is an advisory cross-check that never changes
the grade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from forms.rules.answers import AnswerReader
from forms.rules.issues import Issue, error, has_errors, info, merge_issues, warning
from forms.rules.jgj125 import COUNT_FIELDS, FuzzyGrade, MemberCounts, cross_check_grade
from forms.rules.parameters import RuleParameters

HouseGrade = Literal["A", "B", "C", "D"]
HOUSE_GRADES: tuple[HouseGrade, ...] = ("A", "B", "C", "D")
COMPONENT_GRADES = ("a", "b", "c", "d", "na")
STRUCTURAL_COMPONENTS = ("g_found", "g_wall", "g_timber_member", "g_truss", "g_rc_member", "g_slab", "g_arch")
ALL_COMPONENTS = (*STRUCTURAL_COMPONENTS, "g_secondary")
STRUCT_TYPES = (
    "brick_concrete",
    "brick_timber",
    "brick_earth",
    "earth_timber",
    "stone_timber",
    "stone",
    "timber",
    "cave",
    "rc_frame",
    "steel",
    "other",
)
ROOF_SYSTEMS = (
    "flat",
    "single_slope",
    "double_slope",
    "beam_purlin",
    "timber_truss",
    "chuandou",
    "hard_gable",
    "rc_slab",
    "precast_slab",
    "stone_slab",
    "arch",
)
SITE_GRADES = ("safe", "unfavourable", "dangerous")
TILTS = ("none", "slight", "obvious")
PREVENTION = ("full", "partial", "none")
HOUSING_BASIS_SAFE = frozenset({"own_renovated", "relocated", "with_relatives", "rented_safe", "institution"})

Advice = Literal["normal_use", "maintain", "repair", "stop_use", "relocate"]
ADVICE: dict[HouseGrade, Advice] = {"A": "normal_use", "B": "maintain", "C": "repair", "D": "stop_use"}
"""§3.2 `advice`: A 正常使用; B 正常使用，注意观察与维护; C 维修加固; D 拆除重建或置换，立即停止使用.
`relocate` replaces `stop_use` when the site itself is dangerous (R2, relocation recommended [V])."""

_TIMBER_MEMBER_STRUCTS = frozenset({"brick_timber", "earth_timber", "stone_timber", "timber", "brick_earth"})
_TIMBER_MEMBER_ROOFS = frozenset({"timber_truss", "beam_purlin", "hard_gable"})
_SLAB_ROOFS = frozenset({"rc_slab", "precast_slab", "stone_slab"})
_RC_STRUCTS = frozenset({"brick_concrete", "rc_frame"})


def relevant_components(
    struct_type: str | None, roof_system: str | None, storeys: int | None
) -> frozenset[str]:
    """Component fields the form asks for this structure and roof (the `relevant` column of §3.2).

    `g_found` and `g_secondary` are always asked. `g_wall` is skipped only for timber frames (the
    "walls carry load" alternative has no field, so the appraiser still may answer it).
    """
    relevant = {"g_found", "g_secondary"}
    if struct_type != "timber":
        relevant.add("g_wall")
    if struct_type in _TIMBER_MEMBER_STRUCTS or roof_system in _TIMBER_MEMBER_ROOFS:
        relevant.add("g_timber_member")
    if roof_system == "timber_truss":
        relevant.add("g_truss")
    if struct_type in _RC_STRUCTS:
        relevant.add("g_rc_member")
    if roof_system in _SLAB_ROOFS or storeys == 2:
        relevant.add("g_slab")
    if struct_type == "cave":
        relevant.add("g_arch")
    return frozenset(relevant)


@dataclass(frozen=True)
class HouseFacts:
    """Answers of `house_appraisal` that the grade depends on (field names as in §3.2)."""

    struct_type: str | None = None
    roof_system: str | None = None
    storeys: int | None = None
    site_grade: str | None = None
    g_found: str | None = None
    g_wall: str | None = None
    g_timber_member: str | None = None
    g_truss: str | None = None
    g_rc_member: str | None = None
    g_slab: str | None = None
    g_arch: str | None = None
    g_secondary: str | None = None
    tilt: str | None = None
    prevention: str | None = None
    seismic_intensity: int | None = None
    grade_final: HouseGrade | None = None
    override_reason: str | None = None
    danger_points: str | None = None
    member_counts: MemberCounts | None = None

    def component(self, name: str) -> str | None:
        return getattr(self, name)


@dataclass(frozen=True)
class HouseContext:
    """Registry facts the appraisal's registry effects depend on (§3.4 outcome mapping, §3.7)."""

    hh_status: str | None = None
    monitored: bool = False
    previous_grade: HouseGrade | None = None
    renovation_status: str | None = None


@dataclass(frozen=True)
class HousingVerdict:
    """Server verdict of one appraisal.

    `status`: `graded`, `referred` (R0, three or more storeys) or `rejected` (an error issue, e.g. R1).
    `grade` is the accepted final grade, `grade_calc` what the rule gives, `rule` the row of §3.4 that
    decided `grade_calc`. `renovation_status` is the new registry value, or None for "unchanged".
    """

    status: Literal["graded", "referred", "rejected"]
    grade: HouseGrade | None
    grade_calc: HouseGrade | None
    grade_entered: HouseGrade | None
    rule: str | None
    dangerous: bool | None
    housing_ok: bool | None
    advice: Advice | None
    stop_use: bool
    referral: Literal["professional"] | None
    review_required: bool
    seismic_retrofit_suggested: bool
    risks: tuple[str, ...]
    renovation_status: str | None
    cross_check: FuzzyGrade | None
    issues: tuple[Issue, ...]
    profile: str
    parameter_version: str

    @property
    def accepted(self) -> bool:
        return self.status != "rejected"


def grade_from_components(facts: HouseFacts) -> tuple[HouseGrade, str]:
    """Return (grade_calc, rule) from the site and component grades: rows R2-R7 of §3.4.

    `na` and unanswered components are left out of S, like the form's hint formula. A c or d on the
    non-structural `g_secondary` counts as b: a non-structural problem cannot give C or D [V].
    """
    present = [facts.component(name) for name in STRUCTURAL_COMPONENTS]
    grades = {grade for grade in present if grade in ("a", "b", "c", "d")}
    secondary_danger = facts.g_secondary in ("b", "c", "d")
    grade: HouseGrade
    if facts.site_grade == "dangerous":
        grade, rule = "D", "R2"
    elif "d" in grades:
        grade, rule = "D", "R3"
    elif "c" in grades:
        grade, rule = "C", "R4"
    elif "b" in grades or secondary_danger:
        grade, rule = "B", "R5"
    else:
        grade, rule = "A", "R6"
    if facts.tilt == "obvious" and grade in ("A", "B"):
        grade, rule = "C", "R7"
    return grade, rule


def grade_house(
    facts: HouseFacts, params: RuleParameters, context: HouseContext | None = None
) -> HousingVerdict:
    """Grade one house from its facts (§3.4, top-down R0-R7, then the override policy)."""
    context = context or HouseContext()
    issues: list[Issue] = []
    seismic = (
        facts.prevention == "none"
        and facts.seismic_intensity is not None
        and facts.seismic_intensity >= params.seismic_retrofit_intensity
    )
    if facts.storeys is None:
        issues.append(error("missing", "storeys is required (R0 scope check)", "storeys"))
    elif facts.storeys > params.housing_max_storeys:
        issues.append(
            info(
                "referral_professional", "three or more storeys: appraise under GB 50292 / JGJ 125", "storeys"
            )
        )
        return _verdict("referred", None, None, facts, None, params, issues, seismic, referral="professional")

    for name in ("struct_type", "roof_system", "site_grade"):
        if getattr(facts, name) is None:
            issues.append(error("missing", f"{name} is required", name))
    relevant = relevant_components(facts.struct_type, facts.roof_system, facts.storeys)
    for name in ALL_COMPONENTS:
        value = facts.component(name)
        if name in relevant and value is None:
            issues.append(
                error("unanswered_component", f"{name} is relevant here but was not answered (R1)", name)
            )
        elif name == "g_found" and value == "na":
            issues.append(error("na_not_allowed", "every house has a foundation: g_found cannot be na", name))
        elif name in relevant and value == "na" and name != "g_secondary":
            issues.append(
                warning("na_on_relevant_component", f"{name} = na although this structure has it", name)
            )
    if not facts.danger_points and any(facts.component(name) in ("b", "c", "d") for name in ALL_COMPONENTS):
        issues.append(
            warning("danger_points_missing", "a component is graded b or worse: describe the danger points")
        )
    if facts.g_secondary in ("c", "d"):
        issues.append(
            warning("secondary_capped", "g_secondary c/d counts as b (non-structural members give at most B)")
        )
    if has_errors(issues):
        return _verdict("rejected", None, None, facts, None, params, issues, seismic)

    grade_calc, rule = grade_from_components(facts)
    grade = grade_calc
    review = False
    entered = facts.grade_final
    if entered is None:
        issues.append(warning("grade_final_missing", "grade_final not given: the calculated grade is used"))
    elif _rank(entered) < _rank(grade_calc):
        if not facts.override_reason:
            issues.append(
                error(
                    "override_reason_required",
                    f"grade_final {entered} is better than the calculated {grade_calc}: a reason is required",
                    "override_reason",
                )
            )
            return _verdict("rejected", None, grade_calc, facts, rule, params, issues, seismic)
        grade, review = entered, True
        issues.append(
            info("override_better", f"graded {entered} against the calculated {grade_calc}; needs review")
        )
    elif _rank(entered) > _rank(grade_calc):
        grade = entered
        if not facts.override_reason:
            issues.append(
                warning(
                    "override_reason_missing",
                    f"grade_final {entered} is worse than the calculated {grade_calc} without a reason",
                    "override_reason",
                )
            )

    cross_check = None
    if facts.member_counts is not None:
        cross_check, count_issues = cross_check_grade(facts.member_counts)
        issues.extend(count_issues)
        if cross_check is not None and cross_check.grade != grade:
            review = True
            issues.append(
                info(
                    "cross_check_disagrees",
                    f"JGJ 125 cross-check gives {cross_check.grade}, the grade is {grade}",
                )
            )
    return _verdict(
        "graded",
        grade,
        grade_calc,
        facts,
        rule,
        params,
        issues,
        seismic,
        review=review,
        cross_check=cross_check,
        context=context,
    )


def _rank(grade: HouseGrade) -> int:
    return HOUSE_GRADES.index(grade)


def _verdict(
    status: Literal["graded", "referred", "rejected"],
    grade: HouseGrade | None,
    grade_calc: HouseGrade | None,
    facts: HouseFacts,
    rule: str | None,
    params: RuleParameters,
    issues: list[Issue],
    seismic: bool,
    *,
    referral: Literal["professional"] | None = None,
    review: bool = False,
    cross_check: FuzzyGrade | None = None,
    context: HouseContext | None = None,
) -> HousingVerdict:
    dangerous = None if grade is None else grade in ("C", "D")
    advice: Advice | None = None
    risks: tuple[str, ...] = ()
    renovation = None
    if grade is not None:
        advice = "relocate" if grade == "D" and facts.site_grade == "dangerous" else ADVICE[grade]
        context = context or HouseContext()
        if dangerous and (context.hh_status == "exited" or context.monitored):
            risks = ("11",)
        renovation = renovation_after(grade, context)
    return HousingVerdict(
        status=status,
        grade=grade,
        grade_calc=grade_calc,
        grade_entered=facts.grade_final,
        rule="R0" if status == "referred" else rule,
        dangerous=dangerous,
        housing_ok=None if grade is None else not dangerous,
        advice=advice,
        stop_use=grade == "D",
        referral=referral,
        review_required=review,
        seismic_retrofit_suggested=seismic,
        risks=risks,
        renovation_status=renovation,
        cross_check=cross_check,
        issues=merge_issues(issues),
        profile=params.profile,
        parameter_version=params.version,
    )


def renovation_after(grade: HouseGrade, context: HouseContext) -> str | None:
    """New `renovation_status` after an appraisal, or None when it does not change (§3.4, §3.7 [P]).

    C/D on a house with no renovation under way plans one; A/B on a house previously graded C/D means
    the works are done (a dangerous house becomes safe only through such a re-appraisal).
    """
    if grade in ("C", "D"):
        return "planned" if context.renovation_status in (None, "none") else None
    if context.previous_grade in ("C", "D") or context.renovation_status in ("planned", "in_progress"):
        return "done"
    return None


def housing_ok_from(grade: str | None, housing_basis: str | None = None) -> bool:
    """`housing_ok` of §2.4: grade A/B, or a `housing_basis` that does not depend on the old house.

    [V] A/B safe, C/D unsafe, relocation; [G] living with relatives.
    """
    return grade in ("A", "B") or housing_basis in HOUSING_BASIS_SAFE


def house_facts_from_answers(answers: Mapping[str, Any]) -> tuple[HouseFacts, list[Issue]]:
    """Read the `house_appraisal` answers (text as in the submission) into `HouseFacts` plus issues."""
    reader = AnswerReader(answers)
    counts = None
    if any(reader.raw(name) is not None for name in COUNT_FIELDS):
        values = {name: reader.integer(name, minimum=0, maximum=100_000) or 0 for name in COUNT_FIELDS}
        counts = MemberCounts(**values)
    grade_final = reader.choice("grade_final", HOUSE_GRADES)
    facts = HouseFacts(
        struct_type=reader.choice("struct_type", STRUCT_TYPES),
        roof_system=reader.choice("roof_system", ROOF_SYSTEMS),
        storeys=reader.integer("storeys", minimum=1, maximum=200),
        site_grade=reader.choice("site_grade", SITE_GRADES),
        **{name: reader.choice(name, COMPONENT_GRADES) for name in ALL_COMPONENTS},
        tilt=reader.choice("tilt", TILTS),
        prevention=reader.choice("prevention", PREVENTION),
        seismic_intensity=reader.integer("seismic_intensity", minimum=6, maximum=9),
        grade_final=grade_final,  # type: ignore[arg-type]
        override_reason=reader.text("override_reason"),
        danger_points=reader.text("danger_points"),
        member_counts=counts,
    )
    return facts, reader.issues


def derive_house_appraisal(
    answers: Mapping[str, Any], params: RuleParameters, context: HouseContext | None = None
) -> HousingVerdict:
    """Server entry point: the verdict of one `house_appraisal` submission from its raw answers.

    Never raises on any answer text; unreadable or missing answers become issues, and an error issue
    makes the verdict `rejected`.
    """
    facts, read_issues = house_facts_from_answers(answers)
    verdict = grade_house(facts, params, context)
    issues = merge_issues(read_issues, verdict.issues)
    if has_errors(issues) and verdict.status == "graded":
        seismic = verdict.seismic_retrofit_suggested
        return _verdict(
            "rejected", None, verdict.grade_calc, facts, verdict.rule, params, list(issues), seismic
        )
    return replace(verdict, issues=issues)
