"""An account's membership of a project: its role there and the area it works in.

Every right an account has in a project comes from here (sync/access/roles.py says what a role may do,
sync/access/scope.py turns the area into query conditions). No membership, no access.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.access.places import check_area
from sync.access.recall import forget_account
from sync.access.roles import ROLES
from sync.access.scope import Scope
from sync.db.models import Membership, Project, User
from sync.errors import BadRequest
from sync.oversight.audit import record


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}.")
    return role


def grant(
    session: Session, user: User, project_id: int, role: str, area: str = "", *, actor_user_id: int | None = None
) -> Membership:
    """Give ``user`` ``role`` over ``area`` in the project (replacing what it had there); audited."""
    role, area = check_role(role), check_area(area)
    membership = membership_of(session, user.id, project_id)
    if membership is None:
        membership = Membership(user_id=user.id, project_id=project_id, role=role, area=area)
        session.add(membership)
    else:
        membership.role, membership.area = role, area
    session.flush()
    forget_account(session, user.id)
    record(session, "user.membership", subject=user.email,
           details={"project_id": project_id, "role": role, "area": area}, user_id=actor_user_id)
    return membership


def membership_of(session: Session, user_id: int, project_id: int) -> Membership | None:
    return session.scalar(select(Membership).where(Membership.user_id == user_id, Membership.project_id == project_id))


def scope_for(session: Session, user_id: int, project_id: int) -> Scope | None:
    """The scope of a named account in a project, or None when it is no member of it."""
    membership = membership_of(session, user_id, project_id)
    if membership is None:
        return None
    return Scope(project_id=project_id, role=membership.role, area=membership.area)


def first_project_id(session: Session) -> int | None:
    return session.scalar(select(Project.id).order_by(Project.id).limit(1))


def adopt_accounts(session: Session, project: Project) -> None:
    """A project created after accounts were: they join it with their account role over the whole project,
    as the migration to memberships did, so an installation set up with ``users create`` before its first
    ``serve`` works."""
    for user in session.scalars(select(User).where(User.disabled_at.is_(None))):
        if membership_of(session, user.id, project.id) is None:
            session.add(Membership(user_id=user.id, project_id=project.id, role=user.role, area=""))


def scopes_of(session: Session, user_id: int) -> list[Scope]:
    """Every scope of an account, one per project it is a member of."""
    return [
        Scope(project_id=m.project_id, role=m.role, area=m.area)
        for m in session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.project_id)
        )
    ]
