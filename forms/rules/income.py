"""Household net income per person and monitoring flags (家庭收入核算 / 防返贫监测), docs/domain.md §5.

income_pc = (wage + business + property + counted transfers) ÷ hh_size_ref (§5.1 [V]); amounts are
Decimal yuan and every comparison uses the unrounded value with a strict `<` for "below the line"
(§5.2 [P]). Decisions D1-D6 (§5.4), the validations of §5.6, and the monitoring category M1-M6
(§5.5, `forms.rules.monitoring`) follow. Lines come from `RuleParameters` for the reference year.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from forms.rules.answers import AnswerReader, has_value
from forms.rules.household import (
    HH_STATUSES,
    WORKING_LABOUR,
    HouseholdContext,
    RosterMember,
    household_size,
    members_on,
)
from forms.rules.issues import Issue, error, has_errors, info, merge_issues, warning
from forms.rules.monitoring import MonitorCategory, failed_assurance_risks, monitoring_category
from forms.rules.parameters import RuleParameters

ZERO = Decimal(0)
PERIODS = ("calendar_year", "rolling_12m")
# fmt: off
RISK_CODES = (
    "01", "0201", "0202", "0203", "0204", "0205", "0206", "0299", "03", "04", "05", "06", "07", "09", "10",
    "11", "12", "13", "14", "99",
)
"""Codes of the `risk` list (docs/domain.md §1.5): 01-09 from a registry export [V], 10-14 product codes [P]."""
# fmt: on
COPING = ("strong", "weak", "none")
ALREADY_ASSISTED = frozenset({"dibao", "tekun", "dibao_only", "wubao"})


@dataclass(frozen=True)
class IncomeFacts:
    """Amounts of `income_check` (yuan for the reference period; blank answers are 0) and the other
    answers the decisions use. Field names as in §5.3."""

    w_local: Decimal = ZERO
    w_migrant_gross: Decimal = ZERO
    w_migrant_cost: Decimal = ZERO
    w_public_post: Decimal = ZERO
    b_crop_gross: Decimal = ZERO
    b_livestock_gross: Decimal = ZERO
    b_self_consumed: Decimal = ZERO
    b_other_gross: Decimal = ZERO
    b_cost: Decimal = ZERO
    p_land_rent: Decimal = ZERO
    p_dividend: Decimal = ZERO
    p_other: Decimal = ZERO
    t_pension: Decimal = ZERO
    t_dibao: Decimal = ZERO
    t_tekun: Decimal = ZERO
    t_subsidy: Decimal = ZERO
    t_disab: Decimal = ZERO
    t_family: Decimal = ZERO
    x_fixed_purpose: Decimal = ZERO
    x_one_off: Decimal = ZERO
    x_med_reimb: Decimal = ZERO
    rx_medical: Decimal = ZERO
    rx_education: Decimal = ZERO
    rx_disaster: Decimal = ZERO
    rx_accident: Decimal = ZERO
    rx_disability: Decimal = ZERO
    ref_period: str | None = None
    ref_year: int | None = None
    ref_end_month: date | None = None
    hh_size_ref: int | None = None
    size_note: str | None = None
    prev_net_total: Decimal | None = None
    risks: frozenset[str] = frozenset()
    evidence: bool = False


AMOUNT_FIELDS = tuple(f.name for f in fields(IncomeFacts) if f.default is ZERO)
EXCLUDED_FIELDS = ("x_fixed_purpose", "x_one_off", "x_med_reimb")
RIGID_FIELDS = ("rx_medical", "rx_education", "rx_disaster", "rx_accident", "rx_disability")


@dataclass(frozen=True)
class ReferencePeriod:
    """The income reference period (§5.1): a calendar year, or the 12 months ending with a month."""

    kind: str
    start: date
    end: date

    @property
    def year(self) -> int:
        """Year whose parameters apply: the calendar year, or the year of the last month [P]."""
        return self.end.year


def reference_period(kind: str | None, year: int | None, end_month: date | None) -> ReferencePeriod | None:
    """Build the period from `ref_period`, `ref_year` and `ref_end_month`; None when incomplete.

    For `rolling_12m` the period runs from the first day of the month eleven months before
    `ref_end_month` to the last day of `ref_end_month` [P].
    """
    if kind == "calendar_year" and year is not None:
        return ReferencePeriod(kind, date(year, 1, 1), date(year, 12, 31))
    if kind == "rolling_12m" and end_month is not None and end_month.year > 1:
        last = calendar.monthrange(end_month.year, end_month.month)[1]
        start_index = end_month.year * 12 + end_month.month - 1 - 11
        start = date(start_index // 12, start_index % 12 + 1, 1)
        return ReferencePeriod(kind, start, date(end_month.year, end_month.month, last))
    return None


@dataclass(frozen=True)
class IncomeComponents:
    """The four income components, their total, the rigid expenses, and what was left out."""

    wage: Decimal
    business: Decimal
    property: Decimal
    transfer: Decimal
    net_total: Decimal
    rx_total: Decimal
    excluded: tuple[tuple[str, Decimal], ...]

    @property
    def excluded_total(self) -> Decimal:
        """Sum of the `x_*` amounts, shown in the audit view and never added (§5.1 [V])."""
        return sum((amount for _, amount in self.excluded), ZERO)


def income_components(facts: IncomeFacts, params: RuleParameters) -> IncomeComponents:
    """Compute the components of §5.3.

    wage = w_local + (w_migrant_gross − w_migrant_cost) + w_public_post (living costs away are
    deducted [V]); business = crops + livestock sold (+ self-consumed produce only when the county
    parameter `count_unsold_produce` is 1 [P]) + other − costs, and may be negative [V]; property and
    the counted transfers are plain sums; `x_*` amounts are never added [V].
    """
    f = facts
    self_consumed = f.b_self_consumed if params.count_unsold_produce else ZERO
    wage = f.w_local + (f.w_migrant_gross - f.w_migrant_cost) + f.w_public_post
    business = f.b_crop_gross + f.b_livestock_gross + self_consumed + f.b_other_gross - f.b_cost
    prop = f.p_land_rent + f.p_dividend + f.p_other
    transfer = f.t_pension + f.t_dibao + f.t_tekun + f.t_subsidy + f.t_disab + f.t_family
    excluded = tuple((name, getattr(f, name)) for name in EXCLUDED_FIELDS if getattr(f, name) > 0)
    rx_total = sum((getattr(f, name) for name in RIGID_FIELDS), ZERO)
    return IncomeComponents(
        wage, business, prop, transfer, wage + business + prop + transfer, rx_total, excluded
    )


@dataclass(frozen=True)
class IncomeVerdict:
    """Server verdict of one income check.

    `status` is `computed`, or `rejected` when an error issue was found (the figures that could be
    computed are kept for review; flags are then False). `income_pc` is unrounded; use
    `income_pc_rounded` for display. `monitor_rule` names the row of §5.5 that applied.
    """

    status: Literal["computed", "rejected"]
    year: int | None
    period: ReferencePeriod | None
    hh_size_ref: int | None
    hh_size_registry: int | None
    components: IncomeComponents
    net_total: Decimal
    income_pc: Decimal | None
    prev_net_total: Decimal | None
    dibao_line: Decimal | None
    exit_line: Decimal | None
    monitoring_line: Decimal | None
    refer_dibao: bool
    exit_eligible: bool
    income_risk: bool
    expense_shock: bool
    income_collapse: bool
    income_after_rx_risk: bool
    monitor_rule: str
    monitor_category: MonitorCategory | None
    monitor_flag: bool
    candidate: bool
    risks: tuple[str, ...]
    proposed_risks: tuple[str, ...]
    issues: tuple[Issue, ...]
    profile: str
    parameter_version: str
    flags: Mapping[str, bool] = field(default_factory=dict, compare=False, repr=False)

    @property
    def income_pc_rounded(self) -> Decimal | None:
        return None if self.income_pc is None else self.income_pc.quantize(Decimal("0.01"), ROUND_HALF_UP)

    @property
    def rx_total(self) -> Decimal:
        return self.components.rx_total


def _size(
    facts: IncomeFacts, period: ReferencePeriod | None, household: HouseholdContext
) -> tuple[int | None, int | None, list[Issue]]:
    """hh_size_ref (§5.1, §5.6): the roster count at the period end; an answered value that differs is
    used only with a `size_note` (otherwise a warning, and the roster count is used) [P]."""
    registry = household_size(household.roster, period.end) if household.roster and period else None
    answered = facts.hh_size_ref
    if registry is None:
        if answered is None:
            return (
                None,
                None,
                [error("missing", "hh_size_ref is required (no roster to count)", "hh_size_ref")],
            )
        return answered, None, []
    if answered is None or answered == registry:
        if registry < 1:
            return (
                None,
                registry,
                [error("no_members", "no member is counted at the period end", "hh_size_ref")],
            )
        return registry, registry, []
    if facts.size_note:
        note = f"hh_size_ref {answered} differs from the registry count {registry}: explained by size_note"
        return answered, registry, [info("size_differs_explained", note, "hh_size_ref")]
    message = f"hh_size_ref {answered} differs from the registry count {registry} without size_note"
    if registry < 1:
        return answered, registry, [warning("size_differs", message, "hh_size_ref")]
    return (
        registry,
        registry,
        [warning("size_differs", message + "; the registry count is used", "hh_size_ref")],
    )


def _validate(
    facts: IncomeFacts,
    components: IncomeComponents,
    income_pc: Decimal | None,
    members: tuple[RosterMember, ...],
    params: RuleParameters,
) -> list[Issue]:
    """The validation rules of §5.6, with their severities."""
    issues: list[Issue] = []
    if facts.w_migrant_cost > facts.w_migrant_gross:
        issues.append(
            error("migrant_cost_exceeds_gross", "w_migrant_cost exceeds w_migrant_gross", "w_migrant_cost")
        )
    if income_pc is not None and (
        income_pc > params.income_pc_warn_high or income_pc < params.income_pc_warn_low
    ):
        issues.append(
            warning("income_pc_implausible", f"income_pc {income_pc:.2f} looks like a typing error")
        )
    if components.business < 0:
        issues.append(
            warning("business_loss", f"business income is negative ({components.business}): accepted")
        )
    if members:
        working = [m for m in members if m.labour in WORKING_LABOUR]
        if "07" in facts.risks and all(m.labour in ("none", "lost") for m in members):
            issues.append(
                error(
                    "risk07_without_labour", "risk 07 (unstable employment) but no member can work", "risks"
                )
            )
        if "04" in facts.risks and len(working) >= 2:
            issues.append(
                warning(
                    "risk04_with_labour", "risk 04 (lack of labour) with two or more working members", "risks"
                )
            )
        if facts.t_dibao > 0 and not any(m.dibao for m in members):
            issues.append(
                warning("dibao_without_member", "t_dibao > 0 but no member is a 低保 recipient", "t_dibao")
            )
    if components.excluded:
        listed = ", ".join(f"{name} {amount}" for name, amount in components.excluded)
        issues.append(
            info("excluded_amounts", f"not counted as income: {listed} (total {components.excluded_total})")
        )
    if components.rx_total > 0 and not facts.evidence:
        issues.append(error("rx_without_evidence", "rigid expenses need ph_evidence", "ph_evidence"))
    if len(facts.risks) > 5:
        issues.append(error("too_many_risks", "at most 5 risks may be selected", "risks"))
    return issues


def decide_income(facts: IncomeFacts, params: RuleParameters, household: HouseholdContext) -> IncomeVerdict:
    """Compute components, income_pc, D1-D6, the monitoring category and the §5.6 validations."""
    issues: list[Issue] = []
    period = reference_period(facts.ref_period, facts.ref_year, facts.ref_end_month)
    if period is None:
        issues.append(
            error("missing", "the reference period (ref_period with ref_year or ref_end_month) is required")
        )
    elif period.year != params.year:
        issues.append(
            warning(
                "parameter_year", f"parameters of {params.year} used for a period ending in {period.year}"
            )
        )
    components = income_components(facts, params)
    size, registry, size_issues = _size(facts, period, household)
    issues.extend(size_issues)
    net = components.net_total
    income_pc = net / size if size else None
    members = members_on(household.roster, period.end if period else None)
    issues.extend(_validate(facts, components, income_pc, members, params))
    prev = facts.prev_net_total if facts.prev_net_total is not None else household.previous_net_total
    status = household.hh_status if household.hh_status in HH_STATUSES else "general"
    if household.hh_status not in HH_STATUSES:
        issues.append(warning("unknown_hh_status", f"hh_status {household.hh_status!r} treated as general"))

    flags = _decisions(
        income_pc, net, components.rx_total, prev, size, params, household, status, members, issues
    )
    rule, category, candidate = monitoring_category(status, flags, facts.risks, household)
    proposed = set(facts.risks)
    if status == "exited" or category is not None:
        proposed |= failed_assurance_risks(household)
    rejected = has_errors(issues)
    if rejected:
        flags = dict.fromkeys(flags, False)
        rule, category, candidate = "M6", None, False
    return IncomeVerdict(
        status="rejected" if rejected else "computed",
        year=period.year if period else None,
        period=period,
        hh_size_ref=size,
        hh_size_registry=registry,
        components=components,
        net_total=net,
        income_pc=income_pc,
        prev_net_total=prev,
        dibao_line=params.dibao_line,
        exit_line=params.exit_line,
        monitoring_line=params.monitoring_line,
        refer_dibao=flags["refer_dibao"],
        exit_eligible=flags["exit_eligible"],
        income_risk=flags["income_risk"],
        expense_shock=flags["expense_shock"],
        income_collapse=flags["income_collapse"],
        income_after_rx_risk=flags["income_after_rx_risk"],
        monitor_rule=rule,
        monitor_category=category,
        monitor_flag=category is not None,
        candidate=candidate,
        risks=tuple(sorted(facts.risks)),
        proposed_risks=tuple(sorted(proposed)),
        issues=merge_issues(issues),
        profile=params.profile,
        parameter_version=params.version,
        flags=flags,
    )


def _decisions(
    income_pc: Decimal | None,
    net: Decimal,
    rx_total: Decimal,
    prev: Decimal | None,
    size: int | None,
    params: RuleParameters,
    household: HouseholdContext,
    status: str,
    members: tuple[RosterMember, ...],
    issues: list[Issue],
) -> dict[str, bool]:
    """D1-D6 of §5.4. A decision whose line or input is missing is False, with an issue saying why."""
    flags = dict.fromkeys(
        (
            "refer_dibao",
            "exit_eligible",
            "income_risk",
            "expense_shock",
            "income_collapse",
            "income_after_rx_risk",
        ),
        False,
    )
    monitoring_line = params.monitoring_line
    if income_pc is not None:
        # D1 [P]: below the 低保 line and not already covered by 低保 / 特困.
        assisted = household.poverty_attr in ALREADY_ASSISTED or any(m.dibao or m.tekun for m in members)
        if params.dibao_line is None:
            issues.append(warning("no_dibao_line", f"no 低保 line for {params.year}: D1 not evaluated"))
        else:
            flags["refer_dibao"] = income_pc < params.dibao_line and not assisted
        # D2 [V]; the strict > is [P].
        if status == "poor":
            if params.exit_line is None:
                issues.append(info("no_exit_line", f"no exit line for {params.year}: D2 not evaluated"))
            else:
                assurances = _assurances(household)
                unknown = [name for name, value in assurances.items() if value is None]
                if unknown:
                    issues.append(
                        info("assurance_unknown", "unknown two-assurances flags: " + ", ".join(unknown))
                    )
                flags["exit_eligible"] = income_pc > params.exit_line and all(assurances.values())
        # D3 [V rule; line from parameters].
        if monitoring_line is None:
            issues.append(
                warning("no_monitoring_line", f"no monitoring line for {params.year}: D3 not evaluated")
            )
        else:
            flags["income_risk"] = income_pc < monitoring_line
    # D4 [V; P the comparison] and D5 [V; P the ratio] compare with the previous year's net income.
    if prev is None:
        if rx_total > 0:
            issues.append(info("no_previous_income", "prev_net_total unknown: D4 and D5 not evaluated"))
    else:
        flags["expense_shock"] = rx_total > prev
        flags["income_collapse"] = prev > 0 and (prev - net) / prev >= params.drop_ratio
    # D6 [G], enabled per province.
    if params.rule_d6_enabled and size and monitoring_line is not None:
        flags["income_after_rx_risk"] = (net - rx_total) / size < monitoring_line
    return flags


def _assurances(household: HouseholdContext) -> dict[str, bool | None]:
    names = ("food_ok", "clothing_ok", "edu_ok", "med_ok", "housing_ok", "water_ok")
    return {name: getattr(household, name) for name in names}


def income_facts_from_answers(answers: Mapping[str, Any]) -> tuple[IncomeFacts, list[Issue]]:
    """Read the `income_check` answers (text as in the submission) into `IncomeFacts` plus issues."""
    reader = AnswerReader(answers)
    amounts = {name: reader.decimal(name, minimum=0) or ZERO for name in AMOUNT_FIELDS}
    period = reader.choice("ref_period", PERIODS, required=True)
    reader.choices("income_drop_cause", RISK_CODES)
    reader.choice("self_coping", COPING)
    reader.yes_no("declaration")
    end_month = reader.date("ref_end_month", required=period == "rolling_12m")
    if end_month is not None and not 2010 <= end_month.year <= 2035:
        reader.issues.append(error("out_of_range", "ref_end_month must lie in 2010-2035", "ref_end_month"))
        end_month = None
    facts = IncomeFacts(
        **amounts,
        ref_period=period,
        ref_year=reader.integer("ref_year", minimum=2010, maximum=2035, required=period == "calendar_year"),
        ref_end_month=end_month,
        hh_size_ref=reader.integer("hh_size_ref", minimum=1, maximum=100),
        size_note=reader.text("size_note"),
        prev_net_total=reader.decimal("prev_net_total"),
        risks=reader.choices("risks", RISK_CODES),
        evidence=has_value(answers.get("ph_evidence")) if isinstance(answers, Mapping) else False,
    )
    return facts, reader.issues


def income_parameter_year(answers: Mapping[str, Any]) -> int | None:
    """The year whose parameters an `income_check` submission needs, or None if its period is unreadable."""
    facts, _ = income_facts_from_answers(answers)
    period = reference_period(facts.ref_period, facts.ref_year, facts.ref_end_month)
    return period.year if period else None


def derive_income_check(
    answers: Mapping[str, Any], params: RuleParameters, household: HouseholdContext | None = None
) -> IncomeVerdict:
    """Server entry point: the verdict of one `income_check` submission from its raw answers.

    Never raises on any answer text; missing or unreadable answers become issues, and an error issue
    makes the verdict `rejected`.
    """
    facts, read_issues = income_facts_from_answers(answers)
    verdict = decide_income(facts, params, household or HouseholdContext())
    issues = merge_issues(read_issues, verdict.issues)
    if has_errors(issues) and verdict.status == "computed":
        flags = dict.fromkeys(verdict.flags, False)
        return replace(
            verdict,
            status="rejected",
            issues=issues,
            monitor_rule="M6",
            monitor_category=None,
            monitor_flag=False,
            candidate=False,
            flags=flags,
            **flags,
        )
    return replace(verdict, issues=issues)
