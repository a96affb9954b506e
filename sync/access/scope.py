"""The area an account acts in, as SQL conditions every query of its requests is built with.

One place decides what "in my area" means for each kind of row, so a page, a ``/v1`` endpoint, a photo
URL and a download cannot disagree: a submission by the area columns normalization gave it, a household
by its village, a flag and a photo by the submission they belong to. Something outside the scope is
reported as not found, never as forbidden, so its existence is not revealed either.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, false, or_, select, true

from sync.access.places import contains
from sync.access.roles import allowed
from sync.db.models import Audit, Flag, Household, Submission, SubmissionAttachment, SubmissionVersion


@dataclass(frozen=True)
class Scope:
    project_id: int
    role: str
    area: str = ""  # "" = the whole project

    @property
    def limit(self) -> str | None:
        """The area code, or None for the whole project: the form the phones' entity-list functions take."""
        return self.area or None

    def may(self, permission: str) -> bool:
        return allowed(self.role, permission)

    def covers(self, code: str | None) -> bool:
        """Whether the area ``code`` (a village, township, county) is within this scope."""
        return contains(self.area, code)

    def submission_condition(self) -> ColumnElement[bool]:
        if not self.area:
            return true()
        column = {6: Submission.county, 9: Submission.township, 12: Submission.village}[len(self.area)]
        return column == self.area

    def household_condition(self) -> ColumnElement[bool]:
        if not self.area:
            return true()
        return Household.village.like(f"{self.area}%")

    def flag_condition(self) -> ColumnElement[bool]:
        """A flag is in scope when its submission is (correlated, so a lookup per flag, not a scan)."""
        if not self.area:
            return true()
        return exists(select(Submission.id).where(Submission.id == Flag.submission_id, self.submission_condition()))

    def blob_condition(self, sha256: str) -> ColumnElement[bool]:
        """A blob (a photo or its thumbnails) is visible when a submission in scope holds it."""
        return exists(
            select(SubmissionAttachment.id)
            .join(SubmissionVersion, SubmissionVersion.id == SubmissionAttachment.submission_version_id)
            .join(Submission, Submission.id == SubmissionVersion.submission_id)
            .where(SubmissionAttachment.sha256 == sha256, SubmissionAttachment.present.is_(True),
                   self.submission_condition())
        )

    def audit_condition(self, user_id: int | None) -> ColumnElement[bool]:
        """Audit rows an account of this scope may read: all of them over the whole project; within an area,
        those about its submissions and its own actions."""
        if not self.area:
            return true()
        mine = Audit.actor_user_id == user_id if user_id is not None else false()
        return or_(Audit.submission_id.in_(select(Submission.id).where(self.submission_condition())), mine)

    def sees_submission(self, submission: Submission) -> bool:
        if not self.area:
            return True
        column = {6: submission.county, 9: submission.township, 12: submission.village}[len(self.area)]
        return column == self.area

    def sees_household(self, household: Household) -> bool:
        return self.covers(household.village)
