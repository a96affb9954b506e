"""The parameter set of docs/domain.md §7, loaded from the shipped parameter table.

§7: province Inner Mongolia (15), county class `dry`, profile TCHES2018, monitor_line(2021) = 6 000,
monitor_line_local(2019) = 5 000, dibao_line = 4 400, exit_line(2018) = 2 995, exit_line(2019) = 3 218,
drop_ratio = 0.5, count_unsold_produce = 0, D6 disabled, EXIT2018 quantity minimum 20 L. Any county of
Inner Mongolia without its own rows gets these values through the province fallback; 150121
(Tumed Left Banner) is such a county.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from forms.rules.parameters import RuleParameters, load_parameters

PROVINCE = "15"
COUNTY = "150121"


@cache
def _load(year: int, profile: str) -> RuleParameters:
    return load_parameters(PROVINCE, COUNTY, year, profile)


def section7_parameters(year: int = 2019, profile: str = "TCHES2018", **overrides: Any) -> RuleParameters:
    """The §7 set for `year` and `profile`; `overrides` replace single values (e.g. a `wet` county)."""
    params = _load(year, profile)
    return dataclasses.replace(params, **overrides) if overrides else params
