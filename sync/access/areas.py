"""The area of a phone (app user): the village, township or county whose households it carries.

A province has about 300,000 households; a phone that received them all would spend minutes loading the
list and fill its storage (CommCare keeps a device under ~10,000 cases; ODK Central added per-app-user
filters for the same reason). So each app user is given an area when it is created, and the entity list
served to it holds only that area's households (sync/registry/entities.py). Areas are the statistical
division codes households already carry: 6 digits a county, 9 a township, 12 a village (the first 12
digits of a household code). An app user without an area receives the whole list, as before.

This is the area of a *phone*; the areas of named accounts (reviewers) are a separate matter.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync.access.accounts import create_app_user
from sync.access.recall import forget_token
from sync.db.models import AppUser, Project
from sync.errors import BadRequest, NotFound
from sync.oversight.audit import record

LEVELS = {6: "county", 9: "township", 12: "village"}
_CODE = re.compile(r"\d{6}(\d{3}(\d{3})?)?")


def check_area(code: str) -> str:
    """The area code as stored, or BadRequest saying what an area code looks like."""
    code = code.strip()
    if not _CODE.fullmatch(code):
        raise BadRequest(
            f"{code!r} is not an area code: give a village (12 digits), township (9) or county (6) code."
        )
    return code


def create_app_user_in_area(session: Session, project: Project, display_name: str, area: str | None) -> AppUser:
    checked = check_area(area) if area is not None else None
    app_user = create_app_user(session, project, display_name)
    app_user.area = checked
    if checked is not None:
        record(session, "app_user.area", subject=display_name, details={"app_user_id": app_user.id, "area": checked})
    return app_user


def get_app_user(session: Session, app_user_id: int) -> AppUser:
    app_user = session.get(AppUser, app_user_id)
    if app_user is None:
        raise NotFound(f"There is no app user {app_user_id}.")
    return app_user


def set_area(session: Session, app_user_id: int, area: str | None) -> AppUser:
    """Give a phone another area (or none: the whole list); its next form update fetches the new list."""
    app_user = get_app_user(session, app_user_id)
    app_user.area = check_area(area) if area is not None else None
    forget_token(session, app_user.token)
    record(session, "app_user.area", subject=app_user.display_name, details={"app_user_id": app_user.id, "area": area})
    return app_user


def app_users(session: Session, project_id: int | None = None) -> list[AppUser]:
    query = select(AppUser).order_by(AppUser.id)
    if project_id is not None:
        query = query.where(AppUser.project_id == project_id)
    return list(session.scalars(query))


def area_of_app_user(session: Session, app_user_id: int | None) -> str | None:
    if app_user_id is None:
        return None
    return session.scalar(select(AppUser.area).where(AppUser.id == app_user_id))
