"""Who is calling: an app user (token in the path) or a named account (HTTP Basic).

Collect sends credentials only after a 401 that carries a challenge, and Basic only over HTTPS
(docs/protocol.md §3.1). So account URLs answer a bare request with 401 + ``WWW-Authenticate``; token URLs
answer an unknown or revoked token with 403, as Central does, so phones show no login prompt (3.2).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from flask import g, request

from server.context import db, services
from sync.access.accounts import account_for_basic, app_user_for_token, user_for_session_token
from sync.access.memberships import scope_for, scopes_of
from sync.access.roles import APP_USER, allowed
from sync.access.scope import Scope
from sync.errors import AuthenticationFailed, Forbidden, HttpsOnly, NotFound
from sync.intake.projects import get_project

REALM = "Qingling"


class ChallengeRequired(AuthenticationFailed):
    """A 401 that must carry ``WWW-Authenticate`` so Collect and browsers offer credentials."""


@dataclass(frozen=True)
class Actor:
    """Who calls. A named account's role and area depend on the project: ``require`` fills in ``scope``."""

    kind: str  # "user" or "app_user"
    id: int
    role: str
    project_id: int | None = None  # app users belong to one project
    area: str | None = None  # an app user's area: the households its entity list holds (None: all)
    scope: Scope | None = None  # filled in by ``require`` for the project of the request
    # A Basic account's memberships as remembered with its credentials (sync/access/recall.py); None: read them.
    known_scopes: tuple[Scope, ...] | None = None

    @property
    def user_id(self) -> int | None:
        return self.id if self.kind == "user" else None

    @property
    def app_user_id(self) -> int | None:
        return self.id if self.kind == "app_user" else None


def authenticate(token: str | None) -> Actor:
    """The caller of this request (cached on ``g``), or a typed problem."""
    if "actor" in g:
        return g.actor
    actor = _from_token(token) if token is not None else _from_basic()
    g.actor = actor
    return actor


def require(permission: str, project_id: int, token: str | None) -> Actor:
    """The caller, with its scope in ``project_id``, if its role there allows ``permission``.

    An unknown project is a 404, as in Central, rather than an empty list or a 204 for a project that is not
    there. An app user (a phone) acts within its own area; a named account within its membership's."""
    actor = authenticate(token)
    # A project exists once a phone or a membership belongs to it (projects are never deleted), so a phone's
    # requests in its own project, and a remembered account's in one of its projects, skip the look-up.
    own_project = actor.kind == "app_user" and actor.project_id == project_id
    known = _known_scope(actor, project_id)
    if not own_project and known is None and get_project(db(), project_id) is None:
        raise NotFound(f"There is no project {project_id}.")
    if actor.kind == "app_user":
        if not own_project:
            raise Forbidden("This app user belongs to another project.")
        scope = Scope(project_id=project_id, role=APP_USER, area=actor.area or "")
    else:
        scope = known or scope_for(db(), actor.id, project_id)
        if scope is None:
            raise Forbidden("Your account is not a member of this project.")
    if not allowed(scope.role, permission):
        raise Forbidden(f"Your role ({scope.role}) may not do this.")
    return Actor(
        kind=actor.kind, id=actor.id, role=scope.role, project_id=actor.project_id, area=actor.area, scope=scope
    )


def _known_scope(actor: Actor, project_id: int) -> Scope | None:
    """The remembered membership of a Basic account in the project; None also means "not known: read it"
    (a membership granted since the credentials were remembered is found that way)."""
    if actor.known_scopes is None:
        return None
    return next((scope for scope in actor.known_scopes if scope.project_id == project_id), None)


def scope_of(actor: Actor) -> Scope:
    """The scope ``require`` gave ``actor`` (a view that calls ``require`` first always has one)."""
    assert actor.scope is not None, "require() before scope_of()"
    return actor.scope


def require_whole_project(permission: str, project_id: int) -> Actor:
    """A named account whose role allows ``permission`` over the whole project, not an area of it: what
    managing the project's phones over the API needs (a phone's area may be anywhere in the project)."""
    actor = require(permission, project_id, None)
    if scope_of(actor).area:
        raise Forbidden("Only an account of the whole project may do this; yours is limited to an area.")
    return actor


def require_server_admin() -> Actor:
    """A named account that administers the whole of some project: the server's own figures (``/metrics``)
    are about every project's jobs, so an administrator of an area does not read them."""
    actor = authenticate(None)
    if actor.kind != "user" or not any(
        scope.may("admin") and not scope.area for scope in scopes_of(db(), actor.id)
    ):
        raise Forbidden("Only administrators of a whole project may read the metrics.")
    return actor


def member_projects(permission: str) -> list[int]:
    """The projects where the calling named account's role has ``permission`` (``GET /v1/projects``)."""
    actor = authenticate(None)
    if actor.kind != "user":
        raise Forbidden("Only named accounts may list projects.")
    scopes = scopes_of(db(), actor.id)
    found = [scope.project_id for scope in scopes if allowed(scope.role, permission)]
    if not found:
        roles = ", ".join(sorted({scope.role for scope in scopes})) or "none"
        raise Forbidden(f"Your role ({roles}) may not do this.")
    return found


def _from_token(token: str) -> Actor:
    app_user = app_user_for_token(db(), token)
    if app_user is None:
        raise Forbidden("This phone's access key is unknown or has been revoked. Ask for a new QR code.")
    return Actor(
        kind="app_user", id=app_user.id, role="app_user", project_id=app_user.project_id, area=app_user.area
    )


def _from_basic() -> Actor:
    header = request.headers.get("Authorization", "")
    if not header:
        raise ChallengeRequired()
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        user = user_for_session_token(db(), services().secret_key, value.strip())
        if user is None:
            raise ChallengeRequired("The session has expired or is not valid; log in again.")
        return Actor(kind="user", id=user.id, role=user.role)
    if scheme.lower() != "basic":
        raise ChallengeRequired("Only HTTP Basic credentials (over HTTPS) or app-user URLs are accepted here.")
    if not request.is_secure and not services().settings.allow_http_basic:
        raise HttpsOnly()
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ChallengeRequired("The Basic credentials could not be decoded.") from None
    if "\x00" in decoded:  # no account has one, and PostgreSQL refuses NUL in a query
        raise ChallengeRequired("The Basic credentials contain a NUL character.")
    email, sep, password = decoded.partition(":")
    if not sep:
        raise ChallengeRequired()
    account = account_for_basic(db(), services().verifier, email, password)
    if account is None:
        raise ChallengeRequired()
    return Actor(kind="user", id=account.id, role=account.role, known_scopes=account.scopes)


def challenge_header() -> str:
    return f'Basic realm="{REALM}", charset="UTF-8"'
