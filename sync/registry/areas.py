"""Whether a submission's household lies in the area of the phone that sent it.

A phone carries only its area's households (sync/access/areas.py), so a submission about a household
elsewhere is unusual: a phone lent to a neighbouring village, a mistyped household code, or a list the
phone kept from an earlier assignment. It is accepted (nothing a phone sends is refused for this) and
flagged for a supervisor, by normalization, which is where the household is known.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sync.access.areas import LEVELS, area_of_app_user
from sync.db.models import Household, SubmissionVersion
from sync.oversight.flags import FlagDraft

KIND = "outside_area"


def in_area(household: Household, area: str) -> bool:
    return getattr(household, LEVELS[len(area)]) == area


def outside_area_flag(session: Session, version: SubmissionVersion, household: Household | None) -> FlagDraft | None:
    area = area_of_app_user(session, version.submitter_app_user_id)
    if area is None or household is None or in_area(household, area):
        return None
    return FlagDraft(
        KIND,
        "warning",
        f"Sent by a phone assigned to area {area}; household {household.code} is in village {household.village}.",
        household_code=household.code,
        details={"area": area, "village": household.village, "app_user_id": version.submitter_app_user_id},
    )
