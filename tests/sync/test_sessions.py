"""Central-style login: a bearer token for a named account, refused for wrong or stale credentials."""

from __future__ import annotations

from sync.access.accounts import hash_password
from sync.db.engine import transaction
from sync.db.models import User


def test_login_gives_a_bearer_token_that_reads_the_api(client, supervisor) -> None:  # noqa: ANN001
    response = client.post(
        "/v1/sessions", json={"email": "supervisor@county.example", "password": "correct horse battery"}
    )
    assert response.status_code == 200
    token = response.get_json()["token"]
    me = client.get("/v1/users/current", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["email"] == "supervisor@county.example"
    assert client.get("/v1/projects/1/flags", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_wrong_password_and_bad_tokens_are_401_in_json(client, supervisor) -> None:  # noqa: ANN001
    wrong = client.post("/v1/sessions", json={"email": "supervisor@county.example", "password": "nope"})
    assert wrong.status_code == 401 and wrong.get_json()["code"] == 401.2
    missing = client.post("/v1/sessions", data="not json", content_type="text/plain")
    assert missing.status_code == 400
    forged = client.get("/v1/users/current", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401 and "code" in forged.get_json()


def test_a_password_change_ends_existing_sessions(client, supervisor, services) -> None:  # noqa: ANN001
    login = {"email": "supervisor@county.example", "password": "correct horse battery"}
    token = client.post("/v1/sessions", json=login).get_json()["token"]
    with transaction(services.sessions) as session:
        user = session.query(User).filter_by(email="supervisor@county.example").one()
        user.password_hash = hash_password("a new password")
    assert client.get("/v1/users/current", headers={"Authorization": f"Bearer {token}"}).status_code == 401
