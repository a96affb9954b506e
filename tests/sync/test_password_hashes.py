"""Passwords are stored with OWASP's argon2id parameters (sync/access/accounts.py says why); a hash made with
argon2-cffi's default parameters, as every account's was before, still signs in and is replaced then."""

from __future__ import annotations

import base64

from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import select

from sync.db.engine import transaction
from sync.db.models import User

EMAIL, PASSWORD = "supervisor@county.example", "correct horse battery"  # the ``supervisor`` fixture's
OWASP = {"type": Type.ID, "time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}


def _stored(services) -> str:  # noqa: ANN001
    with services.sessions() as session:
        return session.scalars(select(User.password_hash).where(User.email == EMAIL)).one()


def _parameters(stored: str) -> dict:
    found = extract_parameters(stored)
    return {name: getattr(found, name) for name in OWASP}


def _basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}:{password}".encode()).decode()}


def test_a_new_account_gets_owasp_parameters(services, supervisor) -> None:  # noqa: ANN001
    assert _parameters(_stored(services)) == OWASP


def test_an_old_hash_signs_in_and_is_replaced_by_the_first_good_sign_in(client, services, supervisor) -> None:  # noqa: ANN001
    old = PasswordHasher().hash(PASSWORD)  # argon2-cffi's default: m = 64 MiB, t = 3, p = 4
    with transaction(services.sessions) as session:
        session.scalars(select(User).where(User.email == EMAIL)).one().password_hash = old
    assert _parameters(old) != OWASP

    wrong = client.post("/v1/sessions", json={"email": EMAIL, "password": "not the password"})
    assert wrong.status_code == 401 and _stored(services) == old  # a wrong password changes nothing

    login = client.post("/v1/sessions", json={"email": EMAIL, "password": PASSWORD})
    assert login.status_code == 200
    renewed = _stored(services)
    assert renewed != old and _parameters(renewed) == OWASP
    bearer = {"Authorization": f"Bearer {login.get_json()['token']}"}
    assert client.get("/v1/users/current", headers=bearer).status_code == 200  # made with the new hash

    assert client.get("/v1/users/current", headers=_basic(PASSWORD)).status_code == 200
    assert client.get("/v1/users/current", headers=_basic("not the password")).status_code == 401
    assert _stored(services) == renewed  # replaced once, not on every sign-in
