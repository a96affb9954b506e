"""The project's one flags model: raise, replace and list flags (table ``flags``, sync/db/models/work.py).

A processing step (normalization, the photo checks) raises the flags of one submission together:
``replace_flags`` keeps a flag that is raised again (with its resolution state, so a supervisor's
decision survives a ``registry rebuild``), updates its measured values, and drops the flags that step no
longer raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sync.access.scope import Scope
from sync.db.models import Flag, SubmissionVersion, utcnow
from sync.db.models.core import Form
from sync.errors import BadRequest, NotFound
from sync.oversight.audit import record

SEVERITIES = ("error", "warning", "info")
STATES = ("open", "resolved", "dismissed")


@dataclass
class FlagDraft:
    kind: str
    severity: str
    message: str
    household_code: str | None = None
    other_household_code: str | None = None
    other_submission_id: int | None = None
    attachment_name: str | None = None
    other_attachment_name: str | None = None
    details: dict = field(default_factory=dict)

    def key(self) -> tuple:
        return identity(self)


def identity(flag: Flag | FlagDraft) -> tuple:
    """What makes a flag "the same flag" when a step raises it again: its kind and what it points at."""
    return (
        flag.kind,
        flag.household_code,
        flag.other_household_code,
        flag.other_submission_id,
        flag.attachment_name,
        flag.other_attachment_name,
        (flag.details or {}).get("field"),
    )


def project_of(session: Session, version: SubmissionVersion) -> int:
    return session.scalar(select(Form.project_id).where(Form.id == version.form_id))


def replace_flags(session: Session, version: SubmissionVersion, source: str, drafts: list[FlagDraft]) -> None:
    """Make the flags ``source`` raised for ``version``'s submission exactly ``drafts``."""
    existing = session.scalars(
        select(Flag).where(Flag.submission_id == version.submission_id, Flag.source == source)
    ).all()
    by_key = {identity(flag): flag for flag in existing}
    wanted = {}
    for draft in drafts:
        assert draft.severity in SEVERITIES, draft.severity
        wanted.setdefault(draft.key(), draft)
    for key, flag in by_key.items():
        if key not in wanted:
            session.delete(flag)
    project_id = None
    for key, draft in wanted.items():
        flag = by_key.get(key)
        if flag is None:
            project_id = project_id or project_of(session, version)
            flag = Flag(project_id=project_id, source=source, submission_id=version.submission_id, state="open")
            session.add(flag)
        flag.kind, flag.severity, flag.message = draft.kind, draft.severity, draft.message
        flag.submission_version_id = version.id
        flag.household_code, flag.other_household_code = draft.household_code, draft.other_household_code
        flag.other_submission_id = draft.other_submission_id
        flag.attachment_name, flag.other_attachment_name = draft.attachment_name, draft.other_attachment_name
        flag.details = draft.details


def raise_flag(
    session: Session, version: SubmissionVersion, *, kind: str, severity: str, source: str, message: str, **extra
) -> Flag:
    """Add one flag outside a replace_flags step (e.g. a job that failed for good)."""
    flag = Flag(
        project_id=project_of(session, version),
        kind=kind,
        severity=severity,
        source=source,
        message=message,
        submission_id=version.submission_id,
        submission_version_id=version.id,
        details=extra.pop("details", {}),
        **extra,
    )
    session.add(flag)
    return flag


def list_flags(
    session: Session,
    project_id: int,
    *,
    kind: str | None = None,
    household: str | None = None,
    state: str | None = None,
    submission_id: int | None = None,
    scope: Scope | None = None,
) -> list[Flag]:
    query = select(Flag).where(Flag.project_id == project_id)
    if scope is not None:
        query = query.where(scope.flag_condition())
    if kind:
        query = query.where(Flag.kind == kind)
    if household:
        query = query.where(or_(Flag.household_code == household, Flag.other_household_code == household))
    if state:
        if state not in STATES:
            raise BadRequest(f"Unknown flag state {state!r}; use one of {', '.join(STATES)}.")
        query = query.where(Flag.state == state)
    if submission_id is not None:
        query = query.where(or_(Flag.submission_id == submission_id, Flag.other_submission_id == submission_id))
    return list(session.scalars(query.order_by(Flag.id)))


def resolve_flag(
    session: Session, project_id: int, flag_id: int, state: str, user_id: int | None, scope: Scope | None = None
) -> Flag:
    """Resolve, dismiss or reopen a flag; audited. A flag outside ``scope`` is not found."""
    if state not in STATES:
        raise BadRequest(f"Unknown flag state {state!r}; use one of {', '.join(STATES)}.")
    query = select(Flag).where(Flag.id == flag_id, Flag.project_id == project_id)
    if scope is not None:
        query = query.where(scope.flag_condition())
    flag = session.scalar(query)
    if flag is None:
        raise NotFound(f"There is no flag {flag_id} in this project.")
    flag.state = state
    flag.resolved_at = None if state == "open" else utcnow()
    flag.resolved_by_user_id = None if state == "open" else user_id
    record(session, "flag.update", subject=str(flag.id), details={"state": state, "kind": flag.kind},
           user_id=user_id)
    return flag
