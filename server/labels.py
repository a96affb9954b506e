"""Words for the codes the workspace shows: review states, verdicts, flag kinds and their explanations.

Codes stay codes in the database and the API; people read these (translated, server/i18n.py).
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.flag_words import translate_message

STATES = {
    "none": _l("Not reviewed"),
    "hasIssues": _l("Has issues"),
    "edited": _l("Edited"),
    "approved": _l("Approved"),
    "rejected": _l("Rejected"),
    "pending": _l("Awaiting approval"),
}
VERDICTS = {
    "A": _l("Grade A (safe)"),
    "B": _l("Grade B (basically safe)"),
    "C": _l("Grade C (partly dangerous)"),
    "D": _l("Grade D (dangerous)"),
    "dabiao": _l("Water meets the standard"),
    "jiben": _l("Water basically meets"),
    "budabiao": _l("Water does not meet"),
    "income_risk": _l("Income at risk"),
    "no_income_risk": _l("Income not at risk"),
    "rated": _l("Checked"),
}
VERDICT_GROUPS = (
    (_l("House grade"), ("A", "B", "C", "D")),
    (_l("Water"), ("dabiao", "jiben", "budabiao")),
    (_l("Income"), ("income_risk", "no_income_risk")),
)
FLAG_KINDS = {
    "verdict_mismatch": _l("Phone and server disagree"),
    "no_rule_parameters": _l("No rule parameters"),
    "rule_error": _l("Rule error"),
    "rule_warning": _l("Rule warning"),
    "unknown_household": _l("Unknown household"),
    "household_unregistrable": _l("Household cannot be registered"),
    "id_number_invalid": _l("Invalid ID number"),
    "person_in_two_households": _l("Person in two households"),
    "entity_conflict": _l("Conflicting offline updates"),
    "photo_missing": _l("Photo missing"),
    "photo_unreadable": _l("Photo unreadable"),
    "photo_format_mismatch": _l("Photo format mismatch"),
    "photo_taken_too_far_away": _l("Photo taken far away"),
    "photo_taken_far_from_visit_time": _l("Photo taken at another time"),
    "photo_reused": _l("Photo reused"),
    "photo_near_duplicate": _l("Near-duplicate photo"),
    "processing_failed": _l("Processing failed"),
}
FLAG_STATES = {"open": _l("Open"), "resolved": _l("Resolved"), "dismissed": _l("Dismissed")}
MEMBER_STATES = {"active": _l("member"), "left": _l("left"), "deceased": _l("deceased")}
HISTORY_KINDS = {
    "baseline_records": _l("Baseline"),
    "housing_appraisals": _l("Housing appraisal"),
    "water_surveys": _l("Water survey"),
    "income_checks": _l("Income check"),
}


def state_name(state: str | None) -> str:
    return str(STATES.get(state or "none", state))


def verdict_name(code: str | None) -> str:
    return str(VERDICTS.get(code, code)) if code else "—"


def flag_kind_name(kind: str) -> str:
    return str(FLAG_KINDS.get(kind, kind))


def explain_flag(flag) -> str:  # noqa: ANN001 - a Flag
    """The flag in words with its measured values; a rule's stored message translated (server/flag_words.py)."""
    d = flag.details or {}
    kind = flag.kind
    if kind == "photo_taken_too_far_away":
        return _("%(photo)s was taken %(distance)s m from %(place)s (limit %(limit)s m).",
                 photo=flag.attachment_name or "", distance=f"{d.get('distance_m', 0):,.0f}",
                 limit=f"{d.get('limit_m', 0):,.0f}",
                 place=_("the household's registered location") if d.get("reference") == "household"
                 else _("the location recorded in the form"))
    if kind == "photo_taken_far_from_visit_time":
        return _("%(photo)s was taken %(hours)s hours away from the visit (limit %(limit)s hours).",
                 photo=flag.attachment_name or "", hours=d.get("time_gap_hours", "?"), limit=d.get("limit_hours", "?"))
    if kind == "photo_reused":
        return _("%(photo)s of household %(household)s is the same photo as %(other)s of household "
                 "%(other_household)s.", photo=flag.attachment_name or "", household=flag.household_code or "—",
                 other=flag.other_attachment_name or "", other_household=flag.other_household_code or "—")
    if kind == "photo_near_duplicate":
        return _("%(photo)s of household %(household)s looks almost the same as %(other)s of household "
                 "%(other_household)s (score %(score)s).", photo=flag.attachment_name or "",
                 household=flag.household_code or "—", other=flag.other_attachment_name or "",
                 other_household=flag.other_household_code or "—", score=d.get("score", "?"))
    if kind == "verdict_mismatch":
        return _("The phone computed %(field)s = %(device)s, the server %(server)s; the registry uses the server's.",
                 field=d.get("field", ""), device=d.get("device", ""), server=d.get("server", ""))
    if kind == "unknown_household":
        return _("The household %(reference)s is not in the registry; the record counts for no household.",
                 reference=d.get("reference") or "—")
    if kind == "id_number_invalid":
        return _("The ID number of %(member)s fails the national check digit test.", member=d.get("member") or "—")
    if kind == "person_in_two_households":
        return _("%(name)s is an active member of households %(household)s and %(other)s.", name=d.get("name", ""),
                 household=flag.household_code or "—", other=flag.other_household_code or "—")
    if kind == "entity_conflict":
        return _("Two phones updated %(field)s of this household from the same version %(version)s; the later "
                 "one applies.", field=d.get("field", ""), version=d.get("base_version", ""))
    if kind == "photo_missing":
        return _("%(photo)s is named in the form but has not arrived.", photo=flag.attachment_name or "")
    if kind == "photo_unreadable":
        return _("%(photo)s cannot be read as an image.", photo=flag.attachment_name or "")
    return translate_message(flag.message)

LEDGER_KINDS = {
    "housing": _l("Unsafe housing"),
    "water": _l("Unsafe drinking water"),
    "income": _l("Income under the line"),
    "monitoring": _l("Monitoring"),
    "identity": _l("Identity problem"),
}
LEDGER_STATES = {
    "open": _l("Open"),
    "assigned": _l("Measure assigned"),
    "done": _l("Work reported done"),
    "closed": _l("Closed"),
    "void": _l("Void"),
}
INCOME_LINES = {
    "exit": _l("poverty line"),
    "monitor": _l("monitoring line"),
    "dibao": _l("minimum living allowance line"),
}
