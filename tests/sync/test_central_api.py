"""The Central read API's JSON shapes field for field, and its errors (pyodk's own calls: test_central_clients)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sync.access.accounts import create_user
from sync.db.engine import transaction
from tests.sync.conftest import basic_auth

# The readable fields of Central's Project and Form (central-backend lib/model/frames.js, frames/form.js).
PROJECT_FIELDS = {"id", "name", "description", "archived", "keyId", "createdAt", "updatedAt", "deletedAt"}
FORM_FIELDS = {
    "projectId", "xmlFormId", "state", "enketoId", "enketoOnceId", "name", "version", "hash", "sha", "sha256",
    "keyId", "draftToken", "createdAt", "updatedAt", "publishedAt",
}  # fmt: skip


def utc(text: str) -> datetime:
    """An API time as Central writes it: ISO 8601, in UTC."""
    value = datetime.fromisoformat(text)
    assert value.utcoffset() is not None and value.utcoffset().total_seconds() == 0, text
    return value.astimezone(UTC)


def test_projects_have_centrals_fields(api) -> None:  # noqa: ANN001
    (project,) = api.get("/v1/projects")
    assert set(project) == PROJECT_FIELDS
    assert (project["id"], project["name"], project["archived"]) == (1, "Household survey", False)
    assert utc(project["createdAt"]) and project["deletedAt"] is None
    assert api.get("/v1/projects/1") == project


def test_forms_have_centrals_fields_and_the_hashes_of_the_xml_served(api, client, supervisor, survey_forms) -> None:  # noqa: ANN001
    listed = api.get("/v1/projects/1/forms")
    assert [form["xmlFormId"] for form in listed] == sorted(survey_forms.compiled)
    for form in listed:
        assert set(form) == FORM_FIELDS
        assert api.get(f"/v1/projects/1/forms/{form['xmlFormId']}") == form
        xml = client.get(f"/v1/projects/1/forms/{form['xmlFormId']}.xml", headers=supervisor).data
        assert form["hash"] == hashlib.md5(xml).hexdigest()
        assert form["sha"] == hashlib.sha1(xml).hexdigest()
        assert form["sha256"] == hashlib.sha256(xml).hexdigest()
        assert form["version"] == survey_forms.compiled[form["xmlFormId"]].version
        assert utc(form["publishedAt"]) >= utc(form["createdAt"])
        assert form["enketoId"] is None and form["keyId"] is None


def test_the_entity_list_names_the_forms_that_create_and_read_it(api, survey_forms) -> None:  # noqa: ANN001
    detail = api.get("/v1/projects/1/datasets/households")
    assert detail["name"] == "households" and detail["ownerOnly"] is False
    # Registration creates households and every follow-up updates them; all four attach the list.
    assert [f["xmlFormId"] for f in detail["sourceForms"]] == sorted(survey_forms.compiled)
    assert [f["xmlFormId"] for f in detail["linkedForms"]] == sorted(survey_forms.compiled)
    assert {f["name"] for f in detail["linkedForms"]} == {form.title for form in survey_forms.compiled.values()}
    assert "hh_code" in {p["name"] for p in detail["properties"]}
    (summary,) = api.get("/v1/projects/1/datasets")
    assert {k: detail[k] for k in summary} == summary


def test_read_errors_are_centrals_json(client, services, survey_forms, supervisor) -> None:  # noqa: ANN001
    missing = client.get("/v1/projects/1/forms/no_such_form", headers=supervisor)
    assert missing.status_code == 404 and missing.get_json()["message"] == "Could not find the form 'no_such_form'."
    comments = client.get("/v1/projects/1/forms/hh_baseline/submissions/uuid:none/comments", headers=supervisor)
    assert comments.status_code == 404 and comments.is_json
    assert client.get("/v1/projects/1/datasets/trees", headers=supervisor).status_code == 404
    unsigned = client.get("/v1/projects")
    assert unsigned.status_code == 401 and unsigned.headers["WWW-Authenticate"].startswith("Basic")
    with transaction(services.sessions) as session:
        create_user(session, "phone.user@county.example", "correct horse battery", "enumerator")
    refused = client.get("/v1/projects", headers=basic_auth("phone.user@county.example", "correct horse battery"))
    assert refused.status_code == 403 and refused.get_json()["message"] == "Your role (enumerator) may not do this."
