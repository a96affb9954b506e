"""Signing in and out of the review workspace, and the language switch."""

from __future__ import annotations

import time

from flask import Blueprint, Response, make_response, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired

from server.context import db, services
from server.i18n import COOKIE, LOCALES
from server.web import back_to, home_url, page, web_user
from sync.access.signin import sign_in as check_sign_in
from sync.access.signin import sign_out as record_sign_out
from sync.errors import TooManyAttempts

bp = Blueprint("signin", __name__)


class SignInForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


@bp.get("/")
def home() -> Response:
    return redirect(home_url())


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | str:
    form = SignInForm()
    error = None
    status = 200
    if form.validate_on_submit():
        database = db()
        try:
            user = check_sign_in(
                database, services().verifier, form.email.data, form.password.data, request.remote_addr or "",
                limit=services().settings.sign_in_attempts,
            )
        except TooManyAttempts:
            database.commit()
            error, status = _("Too many refused sign-ins. Wait a quarter of an hour and try again."), 429
        else:
            database.commit()
            if user is None:
                error, status = _("The e-mail address or the password is wrong."), 401
            else:
                session.clear()
                session.permanent = True
                session["signed_in_at"] = time.time()
                login_user(web_user(user))
                return redirect(back_to(home_url()))
    elif request.method == "POST":
        status = 400
        error = _("Enter your e-mail address and password.")
    return make_response(page("web/sign_in.html", form=form, error=error, next=request.values.get("next", "")), status)


@bp.post("/sign-out")
def sign_out() -> Response:
    if current_user.is_authenticated:
        record_sign_out(db(), current_user.user_id)
        db().commit()
    logout_user()
    session.clear()
    return redirect(url_for("signin.sign_in"))


@bp.get("/language/<code>")
def language(code: str) -> Response:
    response = redirect(back_to(url_for("signin.home")))
    if code in LOCALES:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response
