"""What every page view needs: the signed-in account, its scope in a project, and page rendering.

Pages use a signed session cookie (Flask-Login); the ``/v1`` API keeps bearer tokens and HTTP Basic
(server/auth.py). A page outside the account's area answers 404 exactly as a missing one does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from flask import Flask, abort, current_app, g, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from server.context import db
from server.i18n import LOCALES, select_locale
from server.labels import (
    FLAG_STATES,
    HISTORY_KINDS,
    MEMBER_STATES,
    explain_flag,
    flag_kind_name,
    state_name,
    verdict_name,
)
from sync.access.accounts import password_fingerprint
from sync.access.memberships import scope_for
from sync.access.pii import mask, mask_text
from sync.access.places import area_name
from sync.access.scope import Scope
from sync.db.models import Membership, Project, User
from sync.errors import Forbidden, NotFound
from sync.oversight.audit import record

login_manager = LoginManager()
csrf = CSRFProtect()


@dataclass
class WebUser(UserMixin):
    """The signed-in account as Flask-Login holds it: its id, and a fingerprint of its password hash so that
    a changed password or a disabled account ends every browser session at once."""

    user_id: int
    email: str
    fingerprint: str

    def get_id(self) -> str:
        return f"{self.user_id}:{self.fingerprint}"


def init_app(app: Flask) -> None:
    settings = app.extensions["qingling"].settings
    app.config.update(
        PERMANENT_SESSION_LIFETIME=int(settings.session_hours * 3600),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="qingling_session",
        WTF_CSRF_CHECK_DEFAULT=False,  # checked below for every page, never for /v1 (no cookies there)
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session, which expires on its own
    )
    login_manager.init_app(app)
    login_manager.login_view = "signin.sign_in"
    login_manager.session_protection = "basic"
    csrf.init_app(app)

    @login_manager.user_loader
    def load_user(identity: str) -> WebUser | None:
        user_id, _, fingerprint = identity.partition(":")
        started = session.get("signed_in_at", 0)
        if not user_id.isdigit() or time.time() - started > settings.session_hours * 3600:
            return None
        user = db().get(User, int(user_id))
        if user is None or user.disabled_at is not None or password_fingerprint(user) != fingerprint:
            return None
        return WebUser(user.id, user.email, fingerprint)

    @app.before_request
    def protect_pages() -> None:
        if is_page() and request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()

    @app.context_processor
    def page_globals() -> dict:
        locale = select_locale()
        offset = timedelta(hours=settings.display_utc_offset_hours)
        reveal = bool(g.get("reveal_pii"))
        return {
            "local_time": lambda moment: _local(moment, offset),
            "masked": lambda answer: answer.value if reveal else mask(answer.path, answer.value),
            "mask": lambda field, value: value if reveal else mask(field, value),
            "reveal_pii": reveal,
            "state_name": state_name,
            "verdict_name": verdict_name,
            "flag_kind_name": flag_kind_name,
            "flag_state_name": lambda state: str(FLAG_STATES.get(state, state)),
            "history_name": lambda kind: str(HISTORY_KINDS.get(kind, kind)),
            "explain_flag": lambda flag: explain_flag(flag) if reveal else mask_text(explain_flag(flag)),
            "view_names": current_app.view_functions,
            "member_status_name": lambda status: str(MEMBER_STATES.get(status, status)),
            "locale": locale,
            "locales": LOCALES,
            "area_name": lambda code: area_name(code, locale),
            "role_name": lambda role: str(ROLE_NAMES.get(role, role)),
            "nav_items": _nav_items(g.get("scope")),
        }


ROLE_NAMES = {
    "admin": _l("Administrator"),
    "manager": _l("County office"),
    "supervisor": _l("Supervisor"),
    "viewer": _l("Viewer"),
    "enumerator": _l("Enumerator"),
}
# The menu: (endpoint, label, permission); an entry shows when the endpoint exists and the role may use it
# (and, for WHOLE_PROJECT pages, when the account is not limited to an area).
NAV = (
    ("review.queue", _l("Submissions"), "submission.read"),
    ("gallery.gallery", _l("Photos"), "submission.read"),
    ("households.index", _l("Households"), "registry.read"),
    ("ledger_pages.dashboard", _l("Ledger"), "ledger.read"),
    ("ledger_pages.parameter_tables", _l("Parameters"), "parameters.manage"),
    ("admin.accounts", _l("Accounts"), "admin"),
    ("admin.app_users", _l("Phones"), "admin"),
    ("admin.forms", _l("Forms"), "admin"),
    ("form_design.upload_page", _l("Upload a form"), "form.manage"),
    ("audits.index", _l("Audit log"), "audit.read"),
)
WHOLE_PROJECT = frozenset({"form_design.upload_page"})


def _local(moment: datetime | None, offset: timedelta) -> str:
    """A stored time in the workspace's calendar (SQLite hands back naive UTC times, PostgreSQL aware ones)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(timezone(offset)).strftime("%Y-%m-%d %H:%M")


def _nav_items(scope: Scope | None) -> list[tuple[str, str]]:
    if scope is None:
        return []
    views = current_app.view_functions
    return [(endpoint, str(label)) for endpoint, label, permission in NAV
            if endpoint in views and scope.may(permission) and not (scope.area and endpoint in WHOLE_PROJECT)]


def is_page() -> bool:
    """Requests for people (pages, their forms and photos), as opposed to the phone and API URLs.

    A URL no route knows is a page only for a client that asks for HTML first (a browser): a script or a
    phone that mistypes a path gets its refusal as JSON or OpenRosa XML, as it would at the right path.
    """
    path = request.path
    if path.startswith("/v1/") or path in ("/healthz", "/v1"):
        return False
    if request.blueprint is not None:
        return True
    return request.accept_mimetypes.best_match(("application/json", "text/html")) == "text/html"


def web_user(user: User) -> WebUser:
    return WebUser(user.id, user.email, password_fingerprint(user))


def page_scope(project_id: int, permission: str = "submission.read", *, whole_project: bool = False) -> Scope:
    """The signed-in account's scope in ``project_id``; a project it is no member of does not exist for it.

    ``whole_project``: only an account of the whole project, not of an area of it, may (forms are the
    project's: a township's manager does not publish or close a form every township uses)."""
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    scope = scope_for(db(), current_user.user_id, project_id)
    if scope is None:
        raise NotFound("There is no such project.")
    if not scope.may(permission):
        raise Forbidden("Your role may not do this.")
    if whole_project and scope.area:
        raise Forbidden(gettext("Only an account of the whole project may do this; yours is limited to an area."))
    g.scope = scope
    return scope


def first_project(user_id: int) -> int | None:
    return db().scalar(
        select(Membership.project_id).where(Membership.user_id == user_id).order_by(Membership.project_id).limit(1)
    )


def page(template: str, **context: object) -> str:
    """Render a page with what the layout needs (the project and the scope of this request)."""
    scope: Scope | None = g.get("scope")
    project = db().get(Project, scope.project_id) if scope else None
    return render_template(template, scope=scope, project=project, **context)


def back_to(default: str) -> str:
    """A same-site path to return to after a form (``next``), never another host."""
    target = request.values.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default


def home_url() -> str:
    return url_for("workspace.projects") if current_user.is_authenticated else url_for("signin.sign_in")


def landing_endpoint() -> str:
    """Where a project's link leads: its review queue once that page exists."""
    return "review.queue" if "review.queue" in current_app.view_functions else "workspace.project"


def current_user_memberships() -> list[tuple[Project, Membership]]:
    rows = db().execute(
        select(Project, Membership)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == current_user.user_id)
        .order_by(Project.id)
    )
    return [(project, membership) for project, membership in rows]


def record_pii_view(scope: Scope, *, subject: str, submission_id: int | None = None) -> bool:
    """Show personal data in full on this page when asked (``?reveal=1``) and the role allows it; every
    such view is audited. Without the right, asking is refused rather than silently ignored."""
    if request.args.get("reveal") != "1":
        return False
    if not scope.may("pii.read"):
        raise Forbidden("Your role may not see ID and phone numbers in full.")
    record(db(), "pii.view", subject=subject, user_id=current_user.user_id, submission_id=submission_id,
           details={"path": request.path})
    db().commit()
    g.reveal_pii = True
    return True
