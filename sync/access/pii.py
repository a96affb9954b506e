"""Personal information (PIPL: ID numbers and phone numbers are sensitive): masked unless revealed.

Pages show ``150121********1234`` and ``138****5678``; a role with ``pii.read`` may ask for the full value,
and every such view is audited (``pii.view``) by the caller, with the submission or household it showed.
"""

from __future__ import annotations

import re

ID_FIELDS = frozenset({"m_id", "id_no", "head_id", "head_id_no", "id_number"})
PHONE_FIELDS = frozenset({"phone", "m_phone", "contact_phone", "tel"})
_ID = re.compile(r"^\d{17}[\dXx]$|^\d{15}$")
_PHONE = re.compile(r"^\+?\d[\d -]{6,}\d$")


def mask_id_number(value: str) -> str:
    value = value.strip()
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    digits = value.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def sensitive_kind(field: str, value: str) -> str | None:
    """"id" or "phone" when an answer is personal data: by its field name, or by looking like one."""
    name = field.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[-1]
    if name in ID_FIELDS or _ID.match(value or ""):
        return "id"
    if name in PHONE_FIELDS:
        return "phone"
    if _PHONE.match(value or "") and len(re.sub(r"\D", "", value)) == 11 and value.strip().startswith("1"):
        return "phone"
    return None


def mask(field: str, value: str | None) -> str:
    """``value`` masked if it is personal data, else unchanged."""
    if not value:
        return value or ""
    kind = sensitive_kind(field, value)
    if kind == "id":
        return mask_id_number(value)
    if kind == "phone":
        return mask_phone(value)
    return value
