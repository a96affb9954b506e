"""Whole numbers from untrusted text (URLs, query strings, submission XML), as the database can hold them.

``str.isdigit`` accepts superscripts and other scripts' digits ("²", "٣") that ``int`` then refuses or reads
as another number, and SQLite cannot bind an integer of 2**63 or more (OverflowError). Every id, count or
version read from a request goes through ``whole_number``, so such text is refused where it is read.
"""

from __future__ import annotations

MAX_DB_INTEGER = 2**63 - 1  # a signed 64-bit integer: what SQLite binds and PostgreSQL compares with any column
MAX_INTEGER_COLUMN = 2**31 - 1  # an ``Integer`` column on PostgreSQL: every id, and counts that are stored


def whole_number(text: str, maximum: int = MAX_DB_INTEGER) -> int | None:
    """The non-negative whole number ``text`` spells in ASCII digits, if it is at most ``maximum``."""
    if not ascii_digits(text) or len(text.lstrip("0")) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits and nothing else (area and village codes)."""
    return text.isascii() and text.isdigit()
