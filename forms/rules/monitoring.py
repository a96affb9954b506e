"""Monitoring category (监测对象类别) of a household after an income check, docs/domain.md §5.5.

Definitions [V] (Monitoring 2021): 脱贫不稳定户 `unstable_exited`, an exited household whose income is
below the monitoring range or unstable; 边缘易致贫户 `marginal`, an ordinary household in the same
situation; 突发严重困难户 `sudden_hardship`, a household above the range whose basic living is in serious
difficulty after a shock. The result is a proposal: inclusion needs the village review and county
confirmation, recorded as events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from forms.rules.household import HouseholdContext

MonitorCategory = Literal["unstable_exited", "marginal", "sudden_hardship"]


_ASSURANCE_RISKS = (("housing_ok", "11"), ("water_ok", "12"), ("edu_ok", "13"), ("med_ok", "14"))


def failed_assurance_risks(household: HouseholdContext) -> set[str]:
    """Risk codes 11-14 for the assurances known to be failing (§1.5 [P])."""
    return {code for name, code in _ASSURANCE_RISKS if getattr(household, name) is False}


def monitoring_category(
    status: str, flags: Mapping[str, bool], risks: frozenset[str], household: HouseholdContext
) -> tuple[str, MonitorCategory | None, bool]:
    """(rule, monitor_category, candidate) by the top-down table of §5.5 [V definitions, P M5]."""
    low_income = flags["income_risk"] or flags["income_after_rx_risk"]
    risk_signal = bool(risks) or flags["income_collapse"]
    if status == "poor":
        return "M1", None, False
    if low_income and status in ("exited", "returned") and risk_signal:
        return "M2", "unstable_exited", False
    if low_income and status == "general" and risk_signal:
        return "M3", "marginal", False
    if not flags["income_risk"] and (flags["expense_shock"] or flags["income_collapse"]):
        return "M4", "sudden_hardship", False
    if status == "exited" and failed_assurance_risks(household):
        return "M5", None, True
    return "M6", None, False
