"""Where a submission belongs and what the server concluded, copied onto the submission row (the queue's
summary columns).

Normalization knows both (the household, its village, the history row with the two verdicts); writing them
on ``submissions`` lets area scope (sync/access/scope.py) and the review queue filter, sort and page with
indexes on one table, instead of joining four history tables for every row of every page.
"""

from __future__ import annotations

from sync.access.places import LEVELS
from sync.db.models import Household, HousingAppraisal, IncomeCheck, Submission, WaterSurvey

VILLAGE_LENGTH = max(LEVELS)


def summarize(submission: Submission, household: Household | None, answers: dict, row: object | None) -> None:
    """Set the area, household and verdict columns of ``submission`` from its normalized record."""
    village = household.village if household is not None and household.village else answers.get("village")
    village = (village or "").strip()
    if not (village.isdigit() and len(village) == VILLAGE_LENGTH):
        village = ""
    submission.village = village or None
    submission.township = village[:9] or None
    submission.county = village[:6] or None
    submission.household_code = household.code if household is not None else None
    submission.verdict, submission.device_verdict = verdicts(row)


def verdicts(row: object | None) -> tuple[str | None, str | None]:
    """(server, device) of the record's main conclusion, as codes the review pages translate."""
    if isinstance(row, HousingAppraisal):
        return row.grade, row.device_grade
    if isinstance(row, WaterSurvey):
        return row.verdict, row.device_verdict_code
    if isinstance(row, IncomeCheck):
        server = (row.server_verdict or {}).get("income_risk")
        device = (row.answers or {}).get("income_risk")
        return _risk(server), _risk(device if device in ("0", "1") else None)
    if row is not None:
        return getattr(row, "status", None), None
    return None, None


def _risk(value: object) -> str | None:
    """An income check's conclusion: at risk of returning to poverty, or not."""
    if value is None or value == "":
        return None
    return "income_risk" if value in (True, "1") else "no_income_risk"
