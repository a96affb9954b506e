"""App users (phones) of a project for administrators: Central's ``/app-users`` plus each phone's area.

``PATCH .../app-users/<id>`` with ``{"area": "<code>" | null}`` is Qingling's own: it moves a phone to
another village (its next form update downloads that village's list). ``DELETE`` revokes, as in Central.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from marshmallow import Schema

from server.auth import require_whole_project
from server.context import db
from server.json_body import load_json
from server.schemas.access import AppUserAreaSchema, AppUserCreateSchema, AppUserSchema
from sync.access.accounts import revoke_app_user
from sync.access.areas import app_users, create_app_user_in_area, get_app_user, set_area
from sync.db.models import AppUser
from sync.errors import NotFound
from sync.intake.projects import get_project

bp = Blueprint("app_users", __name__)


def _body(schema: Schema) -> dict:
    return load_json(schema, "Invalid app user")


def _in_project(project_id: int, app_user_id: int) -> AppUser:
    app_user = get_app_user(db(), app_user_id)
    if app_user.project_id != project_id:
        raise NotFound(f"There is no app user {app_user_id} in project {project_id}.")
    return app_user


@bp.get("/projects/<int:project_id>/app-users")
def list_app_users(project_id: int) -> Response:
    require_whole_project("admin", project_id)
    return jsonify(AppUserSchema(many=True).dump(app_users(db(), project_id)))


@bp.post("/projects/<int:project_id>/app-users")
def create(project_id: int) -> Response:
    require_whole_project("admin", project_id)
    body = _body(AppUserCreateSchema())
    session = db()
    project = get_project(session, project_id)
    if project is None:
        raise NotFound(f"There is no project {project_id}.")
    app_user = create_app_user_in_area(session, project, body["displayName"], body["area"])
    session.commit()
    return jsonify(AppUserSchema().dump(app_user))


@bp.patch("/projects/<int:project_id>/app-users/<int:app_user_id>")
def change_area(project_id: int, app_user_id: int) -> Response:
    require_whole_project("admin", project_id)
    body = _body(AppUserAreaSchema())
    session = db()
    app_user = set_area(session, _in_project(project_id, app_user_id).id, body["area"])
    session.commit()
    return jsonify(AppUserSchema().dump(app_user))


@bp.delete("/projects/<int:project_id>/app-users/<int:app_user_id>")
def revoke(project_id: int, app_user_id: int) -> Response:
    require_whole_project("admin", project_id)
    session = db()
    revoke_app_user(session, _in_project(project_id, app_user_id))
    session.commit()
    return jsonify({"success": True})
