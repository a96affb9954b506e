"""A verified HTTP Basic credential and a phone's token are remembered a few seconds per process
(sync/access/recall.py): what an administrator changes still takes effect at once in the process that
changes it, and within those seconds in every other (docs/operations.md, "Revoking phones")."""

from __future__ import annotations

import base64
import threading

from sqlalchemy import select, update

from sync.access import recall
from sync.access.accounts import revoke_app_user, set_disabled, set_password
from sync.access.memberships import grant
from sync.db.engine import transaction
from sync.db.models import AppUser, User, utcnow
from tests.collect import COLLECT_HEADERS

EMAIL, PASSWORD = "supervisor@county.example", "correct horse battery"  # the ``supervisor`` fixture's


def _basic(password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{EMAIL}:{password}".encode()).decode()
    return {**COLLECT_HEADERS, "Authorization": f"Basic {token}"}


def _form_list(client, project, password: str = PASSWORD) -> int:  # noqa: ANN001
    return client.get(f"/v1/projects/{project.id}/formList", headers=_basic(password)).status_code


def _change_account(services, change) -> None:  # noqa: ANN001
    with transaction(services.sessions) as session:
        change(session, session.scalars(select(User).where(User.email == EMAIL)).one())


def test_a_disabled_account_is_refused_at_once(client, services, project, supervisor) -> None:
    assert _form_list(client, project) == 200  # remembered by this process from here on ...
    _change_account(services, lambda session, user: set_disabled(session, user, True, actor_user_id=None))
    assert _form_list(client, project) == 401  # ... and forgotten when the change commits
    _change_account(services, lambda session, user: set_disabled(session, user, False, actor_user_id=None))
    assert _form_list(client, project) == 200


def test_a_new_password_ends_the_old_one_at_once(client, services, project, supervisor) -> None:
    assert _form_list(client, project) == 200
    new = "a new password 42"
    _change_account(services, lambda session, user: set_password(session, user, new, actor_user_id=None))
    assert _form_list(client, project) == 401
    assert _form_list(client, project, new) == 200


def test_a_new_role_and_area_apply_at_once(client, services, project, supervisor) -> None:
    submission = f"/v1/projects/{project.id}/submission"
    other_township = f"/v1/projects/{project.id}/registry/clearance?area=150121102"
    assert client.head(submission, headers=_basic()).status_code == 204  # a supervisor may submit
    assert client.get(other_township, headers=_basic()).status_code == 200  # over the whole project
    _change_account(services, lambda session, user: grant(session, user, project.id, "supervisor", "150121100"))
    assert client.get(other_township, headers=_basic()).status_code == 404  # outside the new area
    _change_account(services, lambda session, user: grant(session, user, project.id, "viewer"))
    assert client.head(submission, headers=_basic()).status_code == 403  # a viewer may not


def test_an_account_disabled_by_another_process_is_refused_within_the_bound(
    client, services, project, supervisor
) -> None:
    """The CLI or another ``serve --workers`` child changed the row: this process notices within CALLER_SECONDS."""
    assert _form_list(client, project) == 200
    with transaction(services.sessions) as session:
        user_id = session.scalars(select(User.id).where(User.email == EMAIL)).one()
        session.execute(update(User).values(disabled_at=utcnow()))  # behind this process's back
    assert _form_list(client, project) == 200  # still remembered, for at most CALLER_SECONDS
    recall.accounts.forget_owner(user_id)  # what CALLER_SECONDS passing does
    assert _form_list(client, project) == 401


def test_a_remembered_caller_expires_after_the_bound() -> None:
    memory: recall.ShortMemory[str] = recall.ShortMemory()
    memory.put("key", "caller", 100.0, owner=1, stamp=memory.stamp())
    assert memory.get("key", 100.0 + recall.CALLER_SECONDS - 0.01) == "caller"
    assert memory.get("key", 100.0 + recall.CALLER_SECONDS) is None


def test_a_read_that_began_before_a_change_is_not_remembered() -> None:
    memory: recall.ShortMemory[str] = recall.ShortMemory()
    stamp = memory.stamp()  # a request starts reading the caller ...
    memory.forget_owner(1)  # ... an administrator's change commits meanwhile ...
    memory.put("key", "caller as it was", 100.0, owner=1, stamp=stamp)
    assert memory.get("key", 100.0) is None  # ... so the next request reads it again


def test_a_phone_revoked_while_a_request_reads_it_stays_revoked(collect, services) -> None:
    """The token is forgotten after the revocation commits, not before: a request in between (on PostgreSQL
    it reads the still-live row; on SQLite it waits for the writer) must not make it live again."""
    assert collect.form_list().status_code == 200
    during: list[int] = []
    session = services.sessions()
    try:
        revoke_app_user(session, session.scalars(select(AppUser)).one())
        session.flush()
        reader = threading.Thread(target=lambda: during.append(collect.form_list().status_code))
        reader.start()
        reader.join(timeout=2)
        session.commit()
    finally:
        session.close()
    reader.join(timeout=60)
    assert during in ([200], [403])
    assert collect.form_list().status_code == 403


def test_a_revocation_rolled_back_leaves_the_phone_working(collect, services) -> None:
    assert collect.form_list().status_code == 200
    with services.sessions() as session:
        revoke_app_user(session, session.scalars(select(AppUser)).one())
        session.rollback()
    assert collect.form_list().status_code == 200
