"""Registry facts about a household that the rules take as input: status, flags and the roster.

`HouseholdContext` is what the registry knows when a submission is judged (§1.3, §2.4). The roster
comes from the registry (members of §1.4) or from the `members` repeat of `hh_baseline` (§2.1);
`roster_from_members` reads the latter. docs/domain.md §5.1 [P]: the persons counted are the members
with `member_status = active` at the end of the reference period; a member who died or left during
the period is not counted, a newborn registered during the period is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from forms.rules.answers import AnswerReader
from forms.rules.idnumber import check_id_number

HH_STATUSES = ("general", "poor", "exited", "returned")
LABOUR = ("normal", "skilled", "lost", "none")
MEMBER_STATUSES = ("active", "deceased", "moved_out", "married_out", "other_out")
WORKING_LABOUR = frozenset({"normal", "skilled"})


@dataclass(frozen=True)
class RosterMember:
    """One member as the rules see them. `status_date` is the date of a status change (death, leaving)."""

    labour: str | None = None
    status: str = "active"
    status_date: date | None = None
    birth_date: date | None = None
    dibao: bool = False
    tekun: bool = False
    member_id: str | None = None


def is_member_on(member: RosterMember, day: date) -> bool:
    """True when the member belongs to the household on `day`.

    An active member counts unless born after `day`; a member who left counts only if the change is
    dated after `day` (an undated departure is taken to have happened already).
    """
    if member.birth_date is not None and member.birth_date > day:
        return False
    if member.status == "active":
        return True
    return member.status_date is not None and member.status_date > day


def members_on(roster: Iterable[RosterMember], day: date | None) -> tuple[RosterMember, ...]:
    """Members of the household on `day`; with no date, the members whose status is `active`."""
    if day is None:
        return tuple(member for member in roster if member.status == "active")
    return tuple(member for member in roster if is_member_on(member, day))


def household_size(roster: Iterable[RosterMember], day: date) -> int:
    """Persons counted (家庭人口) on `day`, the end of the reference period (§5.1 [V] registered members,
    [P] active at the period end)."""
    return len(members_on(roster, day))


def roster_from_members(members: Iterable[Mapping[str, Any]]) -> tuple[RosterMember, ...]:
    """Build roster entries from `hh_baseline` member repeat answers (`m_labour`, `m_status`,
    `m_status_date`, `m_dibao`, `m_id`, `m_birth`); unreadable values are left blank."""
    roster = []
    for row in members:
        reader = AnswerReader(row)
        check = check_id_number(reader.raw("m_id"))
        roster.append(
            RosterMember(
                labour=reader.choice("m_labour", LABOUR),
                status=reader.choice("m_status", MEMBER_STATUSES) or "active",
                status_date=reader.date("m_status_date"),
                birth_date=check.birth_date or reader.date("m_birth"),
                dibao=reader.yes_no("m_dibao") is True,
                member_id=check.normalised,
            )
        )
    return tuple(roster)


@dataclass(frozen=True)
class HouseholdContext:
    """Registry facts about the household at the time of the check.

    `hh_status` (§1.3), registration facts, the two-assurances flags of §2.4 (None = unknown), the
    roster, and the previous year's net total (used when the form leaves `prev_net_total` blank).
    """

    hh_status: str = "general"
    poverty_attr: str | None = None
    reg_year: int | None = None
    exit_year: int | None = None
    food_ok: bool | None = None
    clothing_ok: bool | None = None
    edu_ok: bool | None = None
    med_ok: bool | None = None
    housing_ok: bool | None = None
    water_ok: bool | None = None
    roster: tuple[RosterMember, ...] = ()
    previous_net_total: Decimal | None = None
