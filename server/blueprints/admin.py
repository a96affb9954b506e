"""Administration of a project: accounts (role and area), app users for phones, forms and their state."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from server.collect_qr import collect_settings, encode_settings, svg_qr
from server.context import db, services
from server.web import page, page_scope
from sync.access.accounts import (
    create_app_user,
    create_user,
    project_app_users,
    project_members,
    revoke_app_user,
    set_disabled,
    set_password,
)
from sync.access.memberships import grant, membership_of
from sync.access.roles import ROLES
from sync.db.models import AppUser, Form, FormVersion, Project, User
from sync.errors import BadRequest, NotFound
from sync.intake.forms import get_form
from sync.intake.publishing import set_form_state
from sync.review.gate import set_approval_required

bp = Blueprint("admin", __name__)


def _back(endpoint: str, project_id: int, message: str) -> Response:
    db().commit()
    flash(message, "success")
    return redirect(url_for(endpoint, project_id=project_id))


@bp.get("/projects/<int:project_id>/accounts")
@login_required
def accounts(project_id: int) -> str:
    page_scope(project_id, "admin")
    return page("web/admin_accounts.html", members=project_members(db(), project_id), roles=ROLES)


@bp.post("/projects/<int:project_id>/accounts")
@login_required
def create_account(project_id: int) -> Response:
    page_scope(project_id, "admin")
    form = request.form
    user = create_user(db(), form.get("email", ""), form.get("password", ""), form.get("role", ""),
                       area=form.get("area", ""), project_id=project_id, actor_user_id=current_user.user_id)
    return _back("admin.accounts", project_id, _("Account %(email)s created.", email=user.email))


def _member(project_id: int, user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None or membership_of(db(), user_id, project_id) is None:
        raise NotFound("There is no such account in this project.")
    return user


@bp.post("/projects/<int:project_id>/accounts/<int:user_id>")
@login_required
def change_account(project_id: int, user_id: int) -> Response:
    page_scope(project_id, "admin")
    user = _member(project_id, user_id)
    action = request.form.get("action", "")
    actor = current_user.user_id
    if action == "membership":
        grant(db(), user, project_id, request.form.get("role", ""), request.form.get("area", ""), actor_user_id=actor)
        message = _("Role and area of %(email)s saved.", email=user.email)
    elif action == "password":
        set_password(db(), user, request.form.get("password", ""), actor_user_id=actor)
        message = _("New password of %(email)s saved; its sessions have ended.", email=user.email)
    elif action in ("disable", "enable"):
        set_disabled(db(), user, action == "disable", actor_user_id=actor)
        message = _("%(email)s disabled.", email=user.email) if action == "disable" else _(
            "%(email)s enabled.", email=user.email)
    else:
        raise BadRequest(_("Unknown change."))
    return _back("admin.accounts", project_id, message)


@bp.get("/projects/<int:project_id>/app-users")
@login_required
def app_users(project_id: int) -> str:
    page_scope(project_id, "admin")
    project = db().get(Project, project_id)
    base = services().settings.public_url.rstrip("/") or request.host_url.rstrip("/")
    phones = []
    for app_user in project_app_users(db(), project_id):
        url = f"{base}/v1/key/{app_user.token}/projects/{project_id}"
        qr = svg_qr(encode_settings(collect_settings(url, project.name))) if app_user.revoked_at is None else ""
        phones.append((app_user, url, qr))
    return page("web/admin_app_users.html", phones=phones)


@bp.post("/projects/<int:project_id>/app-users")
@login_required
def create_phone(project_id: int) -> Response:
    page_scope(project_id, "admin")
    name = request.form.get("name", "").strip()
    if not name:
        raise BadRequest(_("Give the phone a name, e.g. the enumerator's."))
    create_app_user(db(), db().get(Project, project_id), name[:200])
    return _back("admin.app_users", project_id, _("Phone %(name)s added.", name=name))


@bp.post("/projects/<int:project_id>/app-users/<int:app_user_id>/revoke")
@login_required
def revoke_phone(project_id: int, app_user_id: int) -> Response:
    page_scope(project_id, "admin")
    app_user = db().get(AppUser, app_user_id)
    if app_user is None or app_user.project_id != project_id:
        raise NotFound("There is no such phone in this project.")
    revoke_app_user(db(), app_user)
    return _back("admin.app_users", project_id, _("Phone %(name)s revoked.", name=app_user.display_name))


@bp.get("/projects/<int:project_id>/forms")
@login_required
def forms(project_id: int) -> str:
    page_scope(project_id, "admin")
    rows = db().execute(
        select(Form, FormVersion).outerjoin(FormVersion, FormVersion.id == Form.current_version_id)
        .where(Form.project_id == project_id).order_by(Form.xml_form_id)
    ).all()
    return page("web/admin_forms.html", forms=rows)


@bp.post("/projects/<int:project_id>/forms/<xml_form_id>")
@login_required
def change_form(project_id: int, xml_form_id: str) -> Response:
    page_scope(project_id, "admin", whole_project=True)  # a form's state and approval are the project's
    form = get_form(db(), project_id, xml_form_id)
    if "state" in request.form:
        set_form_state(db(), form, request.form["state"], user_id=current_user.user_id)
    if "approval" in request.form:
        set_approval_required(db(), form, request.form["approval"] == "required", user_id=current_user.user_id)
    return _back("admin.forms", project_id, _("Form %(form)s saved.", form=xml_form_id))
