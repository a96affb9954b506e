"""Every JSON body (sign-in, review, flag update) is read by one bounded reader: clear 4xx, never a 500."""

from __future__ import annotations

import pytest

from tests.collect import submission_body


@pytest.fixture
def json_urls(collect, photo_form, project) -> dict[str, tuple[str, str]]:  # noqa: ANN001
    assert collect.post(submission_body(photo_form.xml("uuid:json-1", {"name": "a"}))).status_code == 201
    return {
        "login": ("POST", "/v1/sessions"),
        "review": ("PATCH", f"/v1/projects/{project.id}/forms/{photo_form.form_id}/submissions/uuid:json-1"),
        "flag": ("PATCH", f"/v1/projects/{project.id}/flags/1"),
    }


def _send(client, supervisor, url: tuple[str, str], body: bytes, content_type: str = "application/json"):  # noqa: ANN001, ANN202
    method, path = url
    return client.open(path, method=method, data=body, content_type=content_type, headers=supervisor)


@pytest.mark.parametrize("endpoint", ["login", "review", "flag"])
@pytest.mark.parametrize("body", [b"[" * 2000, b'{"a":' * 2000 + b"1" + b"}" * 2000, b"[" * 33 + b"]" * 33])
def test_deeply_nested_json_is_400(client, supervisor, json_urls, endpoint: str, body: bytes) -> None:
    response = _send(client, supervisor, json_urls[endpoint], body)
    assert response.status_code == 400
    assert "nested more than 32 levels" in response.get_json()["message"]


@pytest.mark.parametrize("endpoint", ["login", "review", "flag"])
def test_json_nested_within_the_limit_reaches_validation(client, supervisor, json_urls, endpoint: str) -> None:
    response = _send(client, supervisor, json_urls[endpoint], b"[" * 32 + b"]" * 32)
    assert response.status_code == 400
    assert "Invalid input type" in response.get_json()["message"]


@pytest.mark.parametrize("endpoint", ["login", "review", "flag"])
def test_a_json_body_over_250_kb_is_413(client, supervisor, json_urls, endpoint: str) -> None:
    response = _send(client, supervisor, json_urls[endpoint], b'{"email": "' + b"x" * 250_000 + b'"}')
    assert response.status_code == 413
    assert "250,000 bytes" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"{", "Could not parse"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"9" * 5000, "Could not parse"),
        (b'"' + b'\\"' * 120_000, "Could not parse"),  # an unterminated string of escaped quotes, scanned once
        (b'{"email": "nul\\u0000@example.org", "password": "x"}', "NUL"),
        (b'{"email": "\\ud800@example.org", "password": "x"}', "surrogate"),
    ],
)
def test_unparseable_or_unstorable_json_is_400(client, supervisor, json_urls, body: bytes, text: str) -> None:
    response = _send(client, supervisor, json_urls["login"], body)
    assert response.status_code == 400
    assert text in response.get_json()["message"]


def test_a_body_not_typed_as_json_counts_as_empty(client, supervisor, json_urls) -> None:
    response = _send(client, supervisor, json_urls["login"], b'{"email": "a", "password": "b"}', "text/plain")
    assert response.status_code == 400
    assert "Missing data for required field" in response.get_json()["message"]


def test_a_well_formed_review_still_works(client, supervisor, json_urls) -> None:
    response = _send(client, supervisor, json_urls["review"], b'{"reviewState": "approved"}')
    assert response.status_code == 200
    assert response.get_json()["reviewState"] == "approved"
