"""Every table, importable from one place: ``from sync.db.models import Submission, Household``."""

from sync.db.models.access import Comment, Membership, SignInFailure
from sync.db.models.base import Base, utcnow
from sync.db.models.core import (
    AppUser,
    Audit,
    Form,
    FormAttachment,
    FormVersion,
    Project,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
    User,
)
from sync.db.models.photos import PhotoBand, PhotoCheck
from sync.db.models.registry import (
    BaselineRecord,
    Household,
    HousingAppraisal,
    IncomeCheck,
    Person,
    WaterSurvey,
)
from sync.db.models.work import Flag, Job

__all__ = [
    "AppUser",
    "Audit",
    "BaselineRecord",
    "Comment",
    "Base",
    "Flag",
    "Form",
    "FormAttachment",
    "FormVersion",
    "Household",
    "HousingAppraisal",
    "IncomeCheck",
    "Job",
    "Membership",
    "Person",
    "PhotoBand",
    "PhotoCheck",
    "Project",
    "SignInFailure",
    "Submission",
    "SubmissionAttachment",
    "SubmissionVersion",
    "User",
    "WaterSurvey",
    "utcnow",
]
