"""Projects and the default project a fresh installation starts with."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.access.accounts import create_app_user
from sync.access.memberships import adopt_accounts
from sync.db.models import AppUser, Project

DEFAULT_APP_USER = "Default phone"


def ensure_default_project(session: Session, name: str) -> tuple[Project, AppUser]:
    """The first project and its default app user, created on first start (one-command start)."""
    project = session.scalar(select(Project).order_by(Project.id).limit(1))
    if project is None:
        project = Project(name=name)
        session.add(project)
        session.flush()
        adopt_accounts(session, project)
    app_user = session.scalar(
        select(AppUser)
        .where(AppUser.project_id == project.id, AppUser.revoked_at.is_(None))
        .order_by(AppUser.id)
        .limit(1)
    )
    if app_user is None:
        app_user = create_app_user(session, project, DEFAULT_APP_USER)
    return project, app_user


def get_project(session: Session, project_id: int) -> Project | None:
    return session.get(Project, project_id)


def list_projects(session: Session) -> list[Project]:
    """Every project, oldest first: accounts are not limited to projects (roles apply to all of them)."""
    return list(session.scalars(select(Project).order_by(Project.id)))
