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


_ID_IN_TEXT = re.compile(r"(?<![\dA-Za-z])(\d{6})(\d{8})(\d{3}[\dXx])(?![\dA-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<![\dA-Za-z])(1[3-9]\d)(\d{4})(\d{4})(?![\dA-Za-z])")
JSON_KEYS = frozenset({"idNumber", "headIdNumber", "id_number", "id_no", "m_id", "phone", "head_id_no"})


def mask_text(text: str) -> str:
    """Free text (a flag's message, a note) with every ID number and mobile number in it masked."""
    text = _ID_IN_TEXT.sub(lambda m: m.group(1) + "*" * 8 + m.group(3)[-4:] if len(m.group(3)) == 4
                           else m.group(1) + "*" * 8 + m.group(3), text)
    return _MOBILE_IN_TEXT.sub(lambda m: m.group(1) + "****" + m.group(3), text)


def mask_json(value: object, key: str = "") -> object:
    """A JSON body with personal data masked: known keys by kind, and any ID or mobile number in text."""
    if isinstance(value, dict):
        return {k: mask_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_json(v, key) for v in value]
    if isinstance(value, str):
        if key in JSON_KEYS:
            return mask_phone(value) if "phone" in key.lower() else mask_id_number(value)
        return mask_text(value)
    return value


_XML_FIELD = re.compile(rb"<((?:[\w.-]+:)?(?:m_id|id_no|head_id|phone|m_phone))>([^<]*)</\1>")


def mask_xml(xml: bytes) -> bytes:
    """A submission's XML with its ID and phone fields masked (and any other ID number in it)."""
    def field(match: re.Match[bytes]) -> bytes:
        tag, value = match.group(1), match.group(2).decode("utf-8", "replace")
        masked = mask_phone(value) if b"phone" in tag else mask_id_number(value)
        return b"<" + tag + b">" + masked.encode() + b"</" + tag + b">"

    return mask_text(_XML_FIELD.sub(field, xml).decode("utf-8", "replace")).encode("utf-8")
