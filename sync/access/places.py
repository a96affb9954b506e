"""Administrative areas: the code levels, and the names the forms' own table gives them.

Codes nest by prefix (county 6 digits, township 9, village 12), so "is this village in that township" is
a prefix test. Names come from the forms' ``admin.csv`` (forms/sources/media), the table phones pick from.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from forms.locations import MEDIA_DIR
from sync.errors import BadRequest

LEVELS = {6: "county", 9: "township", 12: "village"}


@dataclass(frozen=True)
class Area:
    code: str
    level: str
    parent: str
    label_zh: str
    label_en: str

    def label(self, locale: str) -> str:
        return self.label_en if locale.startswith("en") and self.label_en else self.label_zh


def check_area(code: str) -> str:
    """``code`` if it is "" (the whole project) or a county, township or village code; else a BadRequest."""
    code = (code or "").strip()
    if code and not (code.isdigit() and len(code) in LEVELS):
        raise BadRequest("An area is a 6-digit county, 9-digit township or 12-digit village code.")
    return code


def contains(outer: str, inner: str | None) -> bool:
    """Whether area ``inner`` lies within ``outer`` ("" contains everything, nothing is within an unknown)."""
    return outer == "" or (inner is not None and inner.startswith(outer))


@cache
def areas() -> dict[str, Area]:
    """Every area of the forms' table, by code."""
    found: dict[str, Area] = {}
    path = MEDIA_DIR / "admin.csv"
    if not path.exists():
        return found
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row.get("name", "")
            if code.isdigit() and len(code) in LEVELS:
                found[code] = Area(code, LEVELS[len(code)], row.get("parent", ""), row.get("label", ""),
                                   row.get("label_en", ""))
    return found


def area_name(code: str | None, locale: str = "zh") -> str:
    """A person-readable name: the table's label, else the code itself."""
    if not code:
        return ""
    found = areas().get(code)
    return found.label(locale) if found else code


def children(code: str) -> list[Area]:
    """The areas one level below ``code`` ("" = the counties), in code order."""
    if code == "":
        return sorted((a for a in areas().values() if a.level == "county"), key=lambda a: a.code)
    return sorted((a for a in areas().values() if a.parent == code), key=lambda a: a.code)
