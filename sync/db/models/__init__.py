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
from sync.db.models.drafts import DraftSubmission, FormDraft, FormDraftAttachment
from sync.db.models.ledger import LedgerItem, LedgerMeasure, ParameterVersion
from sync.db.models.photos import PhotoCheck, PhotoKey
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
    "DraftSubmission",
    "Flag",
    "Form",
    "FormAttachment",
    "FormDraft",
    "FormDraftAttachment",
    "FormVersion",
    "Household",
    "HousingAppraisal",
    "IncomeCheck",
    "Job",
    "LedgerItem",
    "LedgerMeasure",
    "ParameterVersion",
    "Membership",
    "Person",
    "PhotoCheck",
    "PhotoKey",
    "Project",
    "SignInFailure",
    "Submission",
    "SubmissionAttachment",
    "SubmissionVersion",
    "User",
    "WaterSurvey",
    "utcnow",
]
