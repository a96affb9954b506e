"""The start of the workspace: the projects the signed-in account is a member of, with its role and area."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, url_for
from flask_login import login_required

from server.web import current_user_memberships, landing_endpoint, page, page_scope

bp = Blueprint("workspace", __name__)


@bp.get("/projects")
@login_required
def projects() -> Response | str:
    memberships = current_user_memberships()
    if len(memberships) == 1 and landing_endpoint() != "workspace.project":
        return redirect(url_for(landing_endpoint(), project_id=memberships[0][0].id))
    return page("web/projects.html", memberships=memberships, landing=landing_endpoint())


@bp.get("/projects/<int:project_id>")
@login_required
def project(project_id: int) -> Response | str:
    page_scope(project_id, "form.read")
    if landing_endpoint() != "workspace.project":
        return redirect(url_for(landing_endpoint(), project_id=project_id))
    return page("web/projects.html", memberships=current_user_memberships(), landing=landing_endpoint())
