"""Signing in to the workspace: refused guesses are limited, sessions end, every attempt is audited;
accounts from before memberships keep what they could see."""

from __future__ import annotations

import re
import time

from alembic import command
from sqlalchemy import select, text

from sync.db.engine import make_engine, transaction
from sync.db.migrate import alembic_config, upgrade
from sync.db.models import Audit, Membership, User
from tests.web.workspace import PASSWORD, email


def _form(client, who: str, password: str, address: str = "10.1.1.1"):  # noqa: ANN001, ANN202
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/sign-in", data={"email": who, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_repeated_wrong_passwords_lock_the_account_then_the_address(app, accounts, services) -> None:  # noqa: ANN001
    target = email("supervisor", "township_a")
    for attempt in range(5):  # from five addresses: the account's own count reaches the limit
        assert _form(app.test_client(), target, "wrong password", f"10.0.0.{attempt}").status_code == 401
    locked = _form(app.test_client(), target, PASSWORD, "10.0.0.99")
    assert locked.status_code == 429 and "十五分钟" in locked.get_data(as_text=True)
    # Another account is not affected ...
    assert _form(app.test_client(), email("viewer", "township_a"), PASSWORD, "10.0.0.99").status_code == 302
    # ... until one address has guessed five times, whichever accounts it tried.
    for role in ("admin", "manager", "viewer", "enumerator", "supervisor"):
        assert _form(app.test_client(), email(role, "county"), "wrong password", "10.9.9.9").status_code == 401
    assert _form(app.test_client(), email("viewer", "county"), PASSWORD, "10.9.9.9").status_code == 429
    with services.sessions() as session:
        actions = [a.action for a in session.scalars(select(Audit).where(Audit.action.like("user.session.%")))]
    assert actions.count("user.session.failed") == 10
    assert actions.count("user.session.throttled") == 2
    assert actions.count("user.session.create") == 1


def test_a_session_ends_after_its_hours_and_when_the_password_changes(app, accounts, services) -> None:  # noqa: ANN001
    client = app.test_client()
    assert _form(client, email("viewer", "project"), PASSWORD).status_code == 302
    assert client.get("/projects").status_code in (200, 302)
    with client.session_transaction() as cookie:
        cookie["signed_in_at"] = time.time() - services.settings.session_hours * 3600 - 1
    assert "/sign-in" in client.get("/projects").location

    assert _form(client, email("viewer", "project"), PASSWORD).status_code == 302
    with transaction(services.sessions) as session:
        user = session.scalar(select(User).where(User.email == email("viewer", "project")))
        user.password_hash = user.password_hash + "changed"
    assert "/sign-in" in client.get("/projects").location


def test_accounts_from_before_memberships_keep_the_whole_project(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0003")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO projects (id, name, created_at) VALUES (1, 'p', CURRENT_TIMESTAMP)"))
            connection.execute(text("INSERT INTO users (id, email, password_hash, role, created_at) VALUES "
                                    "(7, 'old@example.org', 'x', 'supervisor', CURRENT_TIMESTAMP)"))
        upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(select(Membership.user_id, Membership.project_id, Membership.role,
                                             Membership.area)).all()
        assert [tuple(row) for row in rows] == [(7, 1, "supervisor", "")]
    finally:
        engine.dispose()
