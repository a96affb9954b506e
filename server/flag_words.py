"""The rules' flag messages in the page's language.

The rules (forms/rules) and normalization (sync/registry) write their findings in English, with the values
they measured in the text: "storeys = 12 must be between 1 and 3". The database keeps that text (the API
and the exports send it as it is); a page translates it at display. Each message of the rules is listed
here once, as a catalogue entry whose placeholders stand for the values: the entry is both the pattern a
stored message is matched against and the msgid its translation is looked up by, so adding a rule's message
is one line here and one in the catalogues. A message of the form "<where>: <message>" (a member's label or
a field before the finding) is translated after its prefix. A message no entry matches is shown as stored.
"""

from __future__ import annotations

import re
from functools import cache

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

MESSAGES = (
    # answers (forms/rules/answers.py)
    _l("the answers are not a mapping of field names"),
    _l("%(name)s: expected a single value"),
    _l("%(name)s is required but was not answered"),
    _l("%(name)s is relevant here but was not answered (R1)"),
    _l("%(name)s is required for q_method = %(method)s"),
    _l("%(name)s is required"),
    _l("%(name)s: %(value)s is not %(expected)s"),
    _l("%(name)s = %(value)s must be between %(minimum)s and %(maximum)s"),
    _l("%(name)s = %(value)s must be %(bounds)s"),
    _l("%(name)s: a repeat instance is not a group"),
    _l("%(name)s: expected a repeat group"),
    _l("%(name)s = na although this structure has it"),
    _l("members: expected a repeat (list of groups)"),
    # household and members (forms/rules/household.py, baseline.py)
    _l("exactly one active member must be the head (01); found %(count)s"),
    _l("at most one active spouse (10)"),
    _l("spouse aged %(age)s"),
    _l("less than 12 years younger than the head"),
    _l("aged %(age)s but labour is %(labour)s"),
    _l("labour lost without illness, disability or age 60+"),
    _l("the household has no active member"),
    _l("at most 2 other causes, not repeating the main cause"),
    _l("at most 5 risks may be selected"),
    _l("hh_size_ref is required (no roster to count)"),
    _l("hh_size_ref %(answered)s differs from the registry count %(registry)s without size_note"),
    _l("hh_status %(status)s treated as general"),
    _l("member counts are all zero: no cross-check"),
    _l("%(fields)s exceed the member totals: no cross-check"),
    _l("unknown two-assurances flags: %(flags)s"),
    # ID numbers (forms/rules/idnumber.py)
    _l("15-digit legacy numbers are not accepted"),
    _l("born %(birth)s, after the survey date"),
    _l("born %(birth)s, before %(date)s"),
    _l("digits 7-14 (%(digits)s) are not a date"),
    _l("expected 17 digits and a digit or X (optionally + 2 digits)"),
    _l("no ID number given"),
    _l("the check character should be %(expected)s"),
    _l("%(code)s is not a province code"),
    _l("ID address code %(code)s is not the household's county"),
    _l("m_birth %(birth)s differs from the ID"),
    _l("m_sex %(sex)s does not match the ID (17th digit)"),
    _l("%(member)s has the same ID as %(other)s"),
    # housing (forms/rules/housing.py, jgj125.py)
    _l("storeys is required (R0 scope check)"),
    _l("three or more storeys: appraise under GB 50292 / JGJ 125"),
    _l("every house has a foundation: g_found cannot be na"),
    _l("a component is graded b or worse: describe the danger points"),
    _l("g_secondary c/d counts as b (non-structural members give at most B)"),
    _l("grade_final not given: the calculated grade is used"),
    _l("grade_final %(entered)s is better than the calculated %(calculated)s: a reason is required"),
    _l("grade_final %(entered)s is worse than the calculated %(calculated)s without a reason"),
    _l("graded %(entered)s against the calculated %(calculated)s; needs review"),
    _l("JGJ 125 cross-check gives %(cross)s, the grade is %(grade)s"),
    # water (forms/rules/water.py)
    _l("supply_type is required"),
    _l("q_method is required"),
    _l("declared_lpd is required for q_method = declared"),
    _l("drought_ok is required for dispersed supply (EXIT2018)"),
    _l("fetching is needed: record fetch_minutes, or both fetch_h_m and fetch_v_m"),
    _l("meter_days must be positive"),
    _l("short_days is required"),
    _l("lab_date or survey_date missing: the report's age is not checked"),
    _l("the lab report is too old to count; sensory check applies"),
    # income (forms/rules/income.py, monitoring.py)
    _l("the reference period (ref_period with ref_year or ref_end_month) is required"),
    _l("ref_end_month must lie in 2010-2035"),
    _l("no member is counted at the period end"),
    _l("rigid expenses need ph_evidence"),
    _l("risk 04 (lack of labour) with two or more working members"),
    _l("risk 07 (unstable employment) but no member can work"),
    _l("t_dibao > 0 but no member is a 低保 recipient"),
    _l("w_migrant_cost exceeds w_migrant_gross"),
    _l("business income is negative (%(amount)s): accepted"),
    _l("income_pc %(amount)s looks like a typing error"),
    _l("not counted as income: %(listed)s (total %(total)s)"),
    _l("prev_net_total unknown: D4 and D5 not evaluated"),
    _l("no exit line for %(year)s: D2 not evaluated"),
    _l("no monitoring line for %(year)s: D3 not evaluated"),
    _l("no 低保 line for %(year)s: D1 not evaluated"),
    _l("parameters of %(year)s used for a period ending in %(period)s"),
    # normalization (sync/registry)
    _l("A new household needs a 12-digit village code and an entity id; it was not registered."),
    _l("No verdict: %(problem)s."),
    _l("Sent by a phone assigned to area %(area)s; household %(household)s is in village %(village)s."),
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(pattern, msgid) for every message, longest first so that a specific entry wins over a general one."""
    found = []
    for message in MESSAGES:
        msgid = message._args[0]  # the untranslated id of a LazyString
        parts = _PLACEHOLDER.split(msgid)  # text, name, text, name, ..., text
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        found.append((re.compile(f"^{regex}$", re.DOTALL), msgid))
    return tuple(sorted(found, key=lambda pair: -len(pair[1])))


def translate_message(message: str) -> str:
    """``message`` (a rule's English finding) in the page's language; as stored where no entry matches."""
    translated = _translate(message.strip())
    return message if translated is None else translated


def _translate(message: str) -> str | None:
    for pattern, msgid in _patterns():
        match = pattern.match(message)
        if match:
            values = {name: _translate(value) or value for name, value in match.groupdict().items()}
            return gettext(msgid, **values)
    where, sep, rest = message.partition(": ")
    if sep and rest:
        translated = _translate(rest)
        if translated is not None:
            return gettext("%(where)s: %(message)s", where=where, message=translated)
    head, sep, tail = message.partition("; ")  # two findings joined, as the ID check's are
    if sep:
        first, second = _translate(head), _translate(tail)
        if first is not None and second is not None:
            return gettext("%(first)s; %(second)s", first=first, second=second)
    return None
