"""Typed reading of raw submission answers (field name -> text), collecting issues instead of raising.

The server recomputes every verdict from the submission (docs/domain.md §0.2), so the rules must accept
whatever text a submission carries: blanks, typing errors, values from an older form version. Each
reader method returns `None` for a blank or unreadable answer and records why in `issues`; it never
raises. Repeats arrive as lists of mappings.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from forms.rules.issues import Issue, error

# Amounts and counts beyond these are typing errors; the bound also keeps Decimal arithmetic far from
# its overflow limits whatever text arrives.
MAX_ABS_NUMBER = Decimal("1e12")
_MAX_NUMBER_TEXT = 40
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})")
_YES = frozenset({"1", "yes", "true", "y"})
_NO = frozenset({"0", "no", "false", "n"})


class AnswerReader:
    """Reads one submission's answers; every problem found is appended to `issues`."""

    def __init__(self, answers: Any) -> None:
        self.issues: list[Issue] = []
        if isinstance(answers, Mapping):
            self._answers: Mapping[Any, Any] = answers
        else:
            self._answers = {}
            self.issues.append(error("invalid_answers", "the answers are not a mapping of field names"))

    def raw(self, name: str) -> str | None:
        """Return the stripped text of `name`, or None when it is absent, blank or not a scalar."""
        value = self._answers.get(name)
        if value is None or isinstance(value, bool):
            return None if value is None else ("1" if value else "0")
        if isinstance(value, str):
            text = value.strip()
            return text or None
        if isinstance(value, int | float | Decimal):
            return str(value)
        self.issues.append(error("invalid_value", f"{name}: expected a single value", name))
        return None

    def _missing(self, name: str, required: bool) -> None:
        if required:
            self.issues.append(error("missing", f"{name} is required but was not answered", name))

    def _invalid(self, name: str, text: str, expected: str) -> None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        self.issues.append(error("invalid_value", f"{name}: {shown!r} is not {expected}", name))

    def text(self, name: str, *, required: bool = False) -> str | None:
        """Free text answer."""
        text = self.raw(name)
        if text is None:
            self._missing(name, required)
        return text

    def choice(self, name: str, allowed: Collection[str], *, required: bool = False) -> str | None:
        """A `select_one` answer; codes outside `allowed` are invalid."""
        text = self.raw(name)
        if text is None:
            self._missing(name, required)
            return None
        if text not in allowed:
            self._invalid(name, text, "one of " + ", ".join(sorted(allowed)))
            return None
        return text

    def choices(self, name: str, allowed: Collection[str], *, required: bool = False) -> frozenset[str]:
        """A `select_multiple` answer (space-separated codes); unknown codes are reported and dropped."""
        text = self.raw(name)
        if text is None:
            self._missing(name, required)
            return frozenset()
        codes = frozenset(text.split())
        unknown = codes - frozenset(allowed)
        if unknown:
            self._invalid(name, " ".join(sorted(unknown)), "a known choice code")
        return codes - unknown

    def decimal(
        self,
        name: str,
        *,
        minimum: Decimal | int | None = None,
        maximum: Decimal | int | None = None,
        required: bool = False,
    ) -> Decimal | None:
        """A `decimal` answer within [minimum, maximum]."""
        text = self.raw(name)
        if text is None:
            self._missing(name, required)
            return None
        value = _parse_decimal(text)
        if value is None:
            self._invalid(name, text, "a number")
            return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f">= {minimum}"
            high = "" if maximum is None else f"<= {maximum}"
            bounds = " and ".join(part for part in (low, high) if part)
            self.issues.append(error("out_of_range", f"{name} = {value} must be {bounds}", name))
            return None
        return value

    def integer(
        self,
        name: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        required: bool = False,
    ) -> int | None:
        """An `integer` answer within [minimum, maximum]; `3.0` is read as 3, `3.5` is invalid."""
        text = self.raw(name)
        if text is None:
            self._missing(name, required)
            return None
        value = _parse_decimal(text)
        if value is None or value != value.to_integral_value():
            self._invalid(name, text, "a whole number")
            return None
        number = int(value)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            self.issues.append(
                error("out_of_range", f"{name} = {number} must be between {minimum} and {maximum}", name)
            )
            return None
        return number

    def date(self, name: str, *, required: bool = False) -> date | None:
        """A `date` answer `YYYY-MM-DD` (a dateTime is cut to its date)."""
        text = self.raw(name)
        if text is None:
            self._missing(name, required)
            return None
        parsed = parse_date(text)
        if parsed is None:
            self._invalid(name, text, "a date YYYY-MM-DD")
        return parsed

    def yes_no(self, name: str, *, required: bool = False) -> bool | None:
        """A `select_one yn` answer: `1` yes / `0` no (docs/domain.md §2.2); `yes` / `no` are accepted too."""
        text = self.raw(name)
        if text is None:
            self._missing(name, required)
            return None
        lowered = text.lower()
        if lowered in _YES:
            return True
        if lowered in _NO:
            return False
        self._invalid(name, text, "yes (1) or no (0)")
        return None

    def repeat(self, name: str) -> list[Mapping[Any, Any]]:
        """The instances of a repeat group; a lone mapping counts as one instance."""
        value = self._answers.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, Mapping):
            return [value]
        if isinstance(value, list | tuple):
            rows = [row for row in value if isinstance(row, Mapping)]
            if len(rows) != len(value):
                self.issues.append(error("invalid_value", f"{name}: a repeat instance is not a group", name))
            return rows
        self.issues.append(error("invalid_value", f"{name}: expected a repeat group", name))
        return []


def _parse_decimal(text: str) -> Decimal | None:
    if len(text) > _MAX_NUMBER_TEXT:
        return None
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or abs(value) > MAX_ABS_NUMBER:
        return None
    # Normalise "-0" and exponent forms so later arithmetic sees ordinary numbers.
    return value + 0


def parse_date(text: str) -> date | None:
    """Parse `YYYY-MM-DD` (ASCII digits; anything after the date, such as a time, is ignored)."""
    match = _DATE.match(text.strip())
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def has_value(value: Any) -> bool:
    """True when a raw answer holds something: non-blank text, or a repeat with a non-blank value.

    Used for image fields, which may arrive as a file name or as a repeat of file names.
    """
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Mapping):
        return any(has_value(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(has_value(item) for item in value)
    return False
