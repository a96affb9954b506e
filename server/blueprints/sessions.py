"""Logging in as Central does it (``POST /v1/sessions`` -> bearer token), so pyodk works unchanged."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from server.auth import authenticate
from server.context import db, services
from server.json_body import load_json
from server.schemas.sessions import LoginSchema, UserSchema
from sync.access.accounts import issue_session_token
from sync.db.models import User, utcnow
from sync.errors import AuthenticationFailed
from sync.times import iso_ms_or_none

bp = Blueprint("sessions", __name__)


@bp.post("/sessions")
def login() -> Response:
    body = load_json(LoginSchema(), "A login needs an email and a password")
    user = services().verifier.verify(db(), body["email"], body["password"])
    if user is None:
        raise AuthenticationFailed("Could not authenticate with the provided credentials.")
    token, expires = issue_session_token(services().secret_key, user)
    return jsonify({"token": token, "expiresAt": iso_ms_or_none(expires), "createdAt": iso_ms_or_none(utcnow())})


@bp.get("/users/current")
def current_user() -> Response:
    actor = authenticate(None)
    user = db().get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise AuthenticationFailed("Only named accounts have a current user.")
    return jsonify(UserSchema().dump(user))
