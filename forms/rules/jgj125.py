"""JGJ 125 fuzzy grading of a house from its dangerous members (危险构件), docs/domain.md §3.5.

Housing 2009 keeps a quantitative method for houses graded D qualitatively; this is the JGJ 125-99
version, whose worked examples are published [V]. How Housing 2009 Appendix A adapts the parts and
weights was not checked [G]. The result is advisory only: `forms.rules.housing` never lets it change
the grade, and a disagreement only sets `review_required`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from forms.rules.issues import Issue, warning

HouseGrade = Literal["A", "B", "C", "D"]
_GRADES: tuple[HouseGrade, ...] = ("A", "B", "C", "D")


@dataclass(frozen=True)
class MemberCounts:
    """Member counts for the JGJ 125 cross-check (§3.5): totals `n_*` and dangerous members `nd_*`.

    f foundation, c columns, w wall segments, mb main beams, rt roof trusses, sb secondary beams,
    s slabs, e envelope.
    """

    n_f: int = 0
    nd_f: int = 0
    n_c: int = 0
    nd_c: int = 0
    n_w: int = 0
    nd_w: int = 0
    n_mb: int = 0
    nd_mb: int = 0
    n_rt: int = 0
    nd_rt: int = 0
    n_sb: int = 0
    nd_sb: int = 0
    n_s: int = 0
    nd_s: int = 0
    n_e: int = 0
    nd_e: int = 0


COUNT_FIELDS = tuple(MemberCounts.__dataclass_fields__)


@dataclass(frozen=True)
class FuzzyGrade:
    """JGJ 125 fuzzy cross-check result: percentages of dangerous members, memberships μA..μD, grade."""

    p_found: Decimal | None
    p_super: Decimal | None
    p_envelope: Decimal | None
    membership: tuple[Decimal, Decimal, Decimal, Decimal]
    grade: HouseGrade


def _membership(p: Decimal | None) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """Membership of one part in component grades a-d for a dangerous-member percentage (§3.5 step 3)."""
    zero, one = Decimal(0), Decimal(1)
    if p is None:
        return (zero, zero, zero, zero)
    mu_a = one if p == 0 else zero
    if p == 0:
        mu_b = zero
    elif p <= 5:
        mu_b = one
    elif p <= 30:
        mu_b = (30 - p) / 25
    else:
        mu_b = zero
    if p <= 5:
        mu_c = zero
    elif p <= 30:
        mu_c = (p - 5) / 25
    else:
        mu_c = (100 - p) / 70
    mu_d = zero if p <= 30 else (p - 30) / 70
    return (mu_a, mu_b, mu_c, mu_d)


_PART_WEIGHTS = (Decimal("0.3"), Decimal("0.6"), Decimal("0.1"))


def fuzzy_grade(p_found: Decimal | None, p_super: Decimal | None, p_envelope: Decimal | None) -> FuzzyGrade:
    """JGJ 125-99 fuzzy grade from dangerous-member percentages (0-100) of the three parts [V].

    μX = max(min(0.3, μx_found), min(0.6, μx_super), min(0.1, μx_envelope)); the grade is the X with
    the largest μX, the worse grade on a tie [P]; μd = 1 for the foundation or the superstructure
    forces D [G]. A part given as None (no members counted) contributes nothing.
    """
    parts = [_membership(p) for p in (p_found, p_super, p_envelope)]
    membership = tuple(
        max(min(weight, part[index]) for weight, part in zip(_PART_WEIGHTS, parts, strict=True))
        for index in range(4)
    )
    mu = (membership[0], membership[1], membership[2], membership[3])
    if parts[0][3] == 1 or parts[1][3] == 1:
        grade: HouseGrade = "D"
    else:
        best = max(mu)
        grade = _GRADES[max(i for i, value in enumerate(mu) if value == best)]
    return FuzzyGrade(p_found, p_super, p_envelope, mu, grade)


def cross_check_grade(counts: MemberCounts) -> tuple[FuzzyGrade | None, list[Issue]]:
    """Dangerous-member percentages of §3.5 step 2 from member counts, then `fuzzy_grade`."""
    pairs = [
        (getattr(counts, f"n_{k}"), getattr(counts, f"nd_{k}"), k)
        for k in ("f", "c", "w", "mb", "rt", "sb", "s", "e")
    ]
    bad = [key for total, dangerous, key in pairs if dangerous > total]
    if bad:
        fields = ", ".join(f"nd_{key}" for key in bad)
        return None, [warning("bad_member_count", f"{fields} exceed the member totals: no cross-check")]
    c = counts
    weighted = (
        Decimal("2.4") * (c.n_c + c.n_w)
        + Decimal("1.9") * (c.n_mb + c.n_rt)
        + Decimal("1.4") * c.n_sb
        + c.n_s
    )
    weighted_d = (
        Decimal("2.4") * (c.nd_c + c.nd_w)
        + Decimal("1.9") * (c.nd_mb + c.nd_rt)
        + Decimal("1.4") * c.nd_sb
        + c.nd_s
    )
    p_found = Decimal(100) * c.nd_f / c.n_f if c.n_f else None
    p_super = Decimal(100) * weighted_d / weighted if weighted else None
    p_envelope = Decimal(100) * c.nd_e / c.n_e if c.n_e else None
    if p_found is None and p_super is None and p_envelope is None:
        return None, [warning("no_member_counts", "member counts are all zero: no cross-check")]
    return fuzzy_grade(p_found, p_super, p_envelope), []
