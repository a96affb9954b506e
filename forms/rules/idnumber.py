"""Citizen ID numbers (公民身份号码, GB 11643-1999) and the member-level ID checks of docs/domain.md §6.1.

`check_id_number` answers "is this a well-formed ID?" exactly as the standard defines it [V]: 6-digit
address code, 8-digit birth date, 3-digit sequence, mod 11-2 check character. `check_member_ids` adds
the registry rules that sit on top of it: the birth date must lie between 1900 and the survey date,
the sex answered must agree with the ID, no two active members may share an ID, and a mismatch with
the household's county is listed for data quality.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from forms.rules.answers import AnswerReader
from forms.rules.issues import Issue, error, has_errors, info, merge_issues

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"
PROVINCE_CODES = frozenset(
    str(code)
    for code in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46)
    + (50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83)
)
"""First two digits of GB/T 2260 address codes (83 is used on Taiwan residents' residence permits)."""

REGISTRY_EARLIEST_BIRTH = date(1900, 1, 1)
_ID18 = re.compile(r"^[0-9]{17}[0-9X]$")
_ID15 = re.compile(r"^[0-9]{15}$")
_DISABILITY = re.compile(r"^[0-9]{17}[0-9X][0-9]{2}$")
IdKind = Literal["id", "disability_certificate", "legacy_15", "unknown"]


@dataclass(frozen=True)
class IdCheck:
    """Result of checking one ID number.

    `normalised` is the 18-character ID (upper-case X) when the text had an ID shape, even if invalid;
    `valid` is True only when no error issue was found.
    """

    raw: str
    normalised: str | None
    kind: IdKind
    valid: bool
    birth_date: date | None
    sex: Literal["1", "2"] | None
    address_code: str | None
    disability_suffix: str | None
    issues: tuple[Issue, ...]

    @property
    def province_code(self) -> str | None:
        return self.address_code[:2] if self.address_code else None


def check_character(first17: str) -> str:
    """Return the GB 11643 check character for 17 digits: `"10X98765432"[Σ a_i·w_i mod 11]` [V]."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def normalise_id(text: str) -> str:
    """Strip spaces and upper-case a trailing `x` (docs/domain.md §6.1 [P])."""
    return "".join(text.split()).upper()


def upgrade_legacy_id(text: str) -> str | None:
    """Convert a 15-digit legacy number to 18 digits for import: insert `19` before the 2-digit year
    and append the check character (docs/domain.md §6.1 [G]). None when `text` is not 15 digits."""
    digits = normalise_id(text)
    if not _ID15.match(digits):
        return None
    first17 = digits[:6] + "19" + digits[6:]
    return first17 + check_character(first17)


def check_id_number(
    text: Any,
    *,
    survey_date: date | None = None,
    not_before: date | None = None,
    field: str = "m_id",
) -> IdCheck:
    """Check one ID number (or a 20-digit disability-certificate number) against GB 11643-1999 [V].

    A disability certificate number (残疾人证号) is the holder's 18-character ID followed by two digits
    (docs/domain.md §1.4 [G]); the ID part is checked and the suffix kept. 15-digit legacy numbers are
    rejected here (new submissions), see `upgrade_legacy_id` for imports. `survey_date` and
    `not_before` add the registry's plausibility limits; without them a number is judged by the
    standard alone (so the standard's own 1880 example stays valid).
    """
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    value = normalise_id(raw)
    if not value:
        return _result(raw, None, "unknown", None, [error("missing", f"{field}: no ID number given", field)])
    if _ID15.match(value):
        return _result(
            raw,
            None,
            "legacy_15",
            None,
            [error("legacy_15_digit", f"{field}: 15-digit legacy numbers are not accepted", field)],
        )
    suffix = None
    kind: IdKind = "id"
    if _DISABILITY.match(value):
        value, suffix, kind = value[:18], value[18:], "disability_certificate"
    if not _ID18.match(value):
        return _result(
            raw,
            None,
            "unknown",
            None,
            [
                error(
                    "bad_format",
                    f"{field}: expected 17 digits and a digit or X (optionally + 2 digits)",
                    field,
                )
            ],
        )

    issues: list[Issue] = []
    expected = check_character(value[:17])
    if value[17] != expected:
        issues.append(
            error("bad_check_character", f"{field}: the check character should be {expected!r}", field)
        )
    if value[:2] not in PROVINCE_CODES:
        issues.append(error("unknown_province", f"{field}: {value[:2]} is not a province code", field))
    birth = _birth_date(value)
    if birth is None:
        issues.append(error("bad_birth_date", f"{field}: digits 7-14 ({value[6:14]}) are not a date", field))
    else:
        if not_before is not None and birth < not_before:
            issues.append(
                error("birth_too_early", f"{field}: born {birth}, before {not_before.isoformat()}", field)
            )
        if survey_date is not None and birth > survey_date:
            issues.append(error("birth_after_survey", f"{field}: born {birth}, after the survey date", field))
    sex: Literal["1", "2"] = "1" if int(value[16]) % 2 == 1 else "2"
    return IdCheck(
        raw=raw,
        normalised=value,
        kind=kind,
        valid=not has_errors(issues),
        birth_date=birth,
        sex=sex,
        address_code=value[:6],
        disability_suffix=suffix,
        issues=tuple(issues),
    )


def _result(
    raw: str, normalised: str | None, kind: IdKind, birth: date | None, issues: list[Issue]
) -> IdCheck:
    return IdCheck(raw, normalised, kind, False, birth, None, None, None, tuple(issues))


def _birth_date(value: str) -> date | None:
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


@dataclass(frozen=True)
class MemberIdResult:
    """The ID check of one member (`index` is the position in the repeat) and its member-level issues."""

    index: int
    name: str | None
    status: str | None
    id_check: IdCheck
    issues: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)


@dataclass(frozen=True)
class MemberIdReport:
    """All members' ID checks plus household-level findings (duplicates)."""

    members: tuple[MemberIdResult, ...]
    issues: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)

    @property
    def active_ids(self) -> tuple[str, ...]:
        """Normalised IDs of active members, for the cross-household uniqueness check in the registry."""
        return tuple(
            m.id_check.normalised for m in self.members if m.status == "active" and m.id_check.normalised
        )


def check_member_ids(
    members: Iterable[Mapping[str, Any]] | Any,
    *,
    survey_date: date | None = None,
    household_county: str | None = None,
) -> MemberIdReport:
    """Check the `members` repeat of `hh_baseline` (docs/domain.md §6.1 [V], §1.4).

    Each member dict uses the form's field names: `m_id`, `m_sex`, `m_name`, `m_status` (blank means
    `active`, the form's default) and optionally `m_birth`. Findings per member: the GB 11643 check, a
    birth date before 1900 or after `survey_date`, `m_sex` or `m_birth` disagreeing with the ID (error),
    an address code outside `household_county` (info, for the data-quality list [P]). A duplicate ID
    among active members of this household is an error; uniqueness across households needs the registry
    and is left to the caller (`MemberIdReport.active_ids`).
    """
    rows = list(members) if isinstance(members, list | tuple) else []
    report_issues: list[Issue] = []
    if not isinstance(members, list | tuple):
        report_issues.append(error("invalid_value", "members: expected a repeat (list of groups)", "members"))
    results: list[MemberIdResult] = []
    for index, row in enumerate(rows):
        reader = AnswerReader(row)
        label = f"members[{index + 1}]"
        check = check_id_number(
            reader.raw("m_id"),
            survey_date=survey_date,
            not_before=REGISTRY_EARLIEST_BIRTH,
            field=f"{label}.m_id",
        )
        issues: list[Issue] = list(check.issues)
        sex = reader.choice("m_sex", ("1", "2"))
        if sex is not None and check.sex is not None and sex != check.sex:
            issues.append(
                error(
                    "sex_mismatch",
                    f"{label}: m_sex {sex} does not match the ID (17th digit)",
                    f"{label}.m_sex",
                )
            )
        birth = reader.date("m_birth")
        if birth is not None and check.birth_date is not None and birth != check.birth_date:
            issues.append(
                error("birth_mismatch", f"{label}: m_birth {birth} differs from the ID", f"{label}.m_birth")
            )
        if household_county and check.address_code and check.valid and check.address_code != household_county:
            issues.append(
                info(
                    "address_county_mismatch",
                    f"{label}: ID address code {check.address_code} is not the household's county",
                    f"{label}.m_id",
                )
            )
        status = reader.raw("m_status") or "active"
        issues.extend(
            Issue(i.code, i.severity, f"{label}: {i.message}", f"{label}.{i.field}" if i.field else label)
            for i in reader.issues
        )
        results.append(MemberIdResult(index, reader.raw("m_name"), status, check, merge_issues(issues)))

    seen: dict[str, int] = {}
    for result in results:
        number = result.id_check.normalised
        if result.status != "active" or number is None:
            continue
        if number in seen:
            report_issues.append(
                error(
                    "duplicate_id",
                    f"members[{result.index + 1}] has the same ID as members[{seen[number] + 1}]",
                    f"members[{result.index + 1}].m_id",
                )
            )
        else:
            seen[number] = result.index
    all_issues = [issue for result in results for issue in result.issues] + report_issues
    return MemberIdReport(tuple(results), merge_issues(all_issues))
