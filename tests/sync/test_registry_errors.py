"""Bad requests to the registry API get a clear JSON error, never a 500."""

from __future__ import annotations

import pytest

CASES = [
    ("get", "/v1/projects/1/registry/clearance?area=12", None, 400),
    ("get", "/v1/projects/1/registry/clearance?area=150121&date=2021-13-01", None, 400),
    ("get", "/v1/projects/1/registry/households/000000000000", None, 404),
    ("get", "/v1/projects/1/flags?state=lost", None, 400),
    ("patch", "/v1/projects/1/flags/999", {"state": "resolved"}, 404),
    ("patch", "/v1/projects/1/flags/999", {"nothing": 1}, 400),
    ("get", "/v1/projects/1/datasets/trees/entities", None, 404),
    ("get", "/v1/projects/1/datasets/households/entities/not-a-uuid", None, 404),
    ("patch", "/v1/projects/1/forms/hh_baseline/submissions/uuid:none", {"reviewState": "approved"}, 404),
    ("patch", "/v1/projects/1/forms/hh_baseline/submissions/uuid:none", {"reviewState": "great"}, 400),
]


@pytest.mark.parametrize(("method", "url", "body", "status"), CASES)
def test_bad_registry_requests_are_clear_json_errors(client, survey_forms, supervisor, method, url, body, status):  # noqa: ANN001
    response = getattr(client, method)(url, json=body, headers=supervisor)
    assert response.status_code == status, response.data
    assert response.is_json and response.get_json()["message"]


def test_registry_reads_need_an_account(client, project) -> None:  # noqa: ANN001
    response = client.get("/v1/projects/1/registry/households")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")
