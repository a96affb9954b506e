"""Ids and counts in URLs: ASCII digits the database can hold, else 404 (ids) or Central's 400.11 (counts).

Werkzeug's converter and ``str.isdigit`` took "²" and "٣" (then ``int`` failed or read another number), and
2**63 reached SQLite as an OverflowError; all of these were 500s. Unknown projects answer 404, as in Central.
"""

from __future__ import annotations

import pytest

from sync.intake.instance_xml import parse_instance, read_entity

NOT_IDS = [str(2**63), str(2**63 + 1), str(2**31), "9" * 400, "%C2%B2", "%D9%A3", "%EF%BC%91"]


@pytest.mark.parametrize("value", NOT_IDS)
def test_a_project_id_no_database_holds_is_404(client, supervisor, collect, value: str) -> None:
    api = client.get(f"/v1/projects/{value}/forms", headers=supervisor)
    assert api.status_code == 404 and "message" in api.get_json()
    token = collect.server_path.split("/")[3]
    phone = collect.get(f"/v1/key/{token}/projects/{value}/formList")
    assert phone.status_code == 404 and b"<OpenRosaResponse" in phone.data


@pytest.mark.parametrize("value", NOT_IDS)
def test_a_flag_id_no_database_holds_is_404(client, supervisor, project, value: str) -> None:
    response = client.patch(f"/v1/projects/{project.id}/flags/{value}", json={"state": "resolved"}, headers=supervisor)
    assert response.status_code == 404


@pytest.mark.parametrize("name", ["$top", "$skip"])
@pytest.mark.parametrize("value", [str(2**63), "9" * 400, "%C2%B2", "%D9%A3", "-1", "1.0", ""])
def test_a_count_that_is_not_a_database_integer_is_400_11(
    client, supervisor, collect, photo_form, name: str, value: str
) -> None:
    response = client.get(f"/v1/projects/1/forms/{photo_form.form_id}/submissions?{name}={value}", headers=supervisor)
    assert response.status_code == 400
    assert response.get_json()["code"] == 400.11 and name in response.get_json()["message"]


def test_counts_up_to_the_database_limit_are_answered(client, supervisor, collect, photo_form) -> None:
    from tests.collect import submission_body

    assert collect.post(submission_body(photo_form.xml("uuid:count-1", {"name": "a"}))).status_code == 201
    url = f"/v1/projects/1/forms/{photo_form.form_id}/submissions"
    assert len(client.get(f"{url}?$top={2**63 - 1}", headers=supervisor).get_json()) == 1
    assert client.get(f"{url}?$skip={2**63 - 1}", headers=supervisor).get_json() == []


@pytest.mark.parametrize(
    "path",
    ["/formList", "/submission", "/forms", "", "/registry/households", "/registry/clearance?area=150102", "/flags",
     "/datasets", "/datasets/households/entities"],
)
def test_an_unknown_project_is_404(client, supervisor, project, path: str) -> None:
    method = "HEAD" if path == "/submission" else "GET"
    headers = {**supervisor, "X-OpenRosa-Version": "1.0"}
    response = client.open(f"/v1/projects/{project.id + 98}{path}", method=method, headers=headers)
    assert response.status_code == 404


def test_an_app_user_asking_for_an_unknown_project_gets_404(collect, project) -> None:
    other = collect.server_path.replace(f"/projects/{project.id}", "/projects/99")
    assert collect.get(f"{other}/formList").status_code == 404


def test_an_area_in_other_digits_is_400(client, supervisor, project) -> None:
    response = client.get(f"/v1/projects/{project.id}/registry/clearance?area=%D9%A3%D9%A3%D9%A3%D9%A3%D9%A3%D9%A3",
                          headers=supervisor)
    assert response.status_code == 400


@pytest.mark.parametrize(("base", "read"), [("3", 3), ("²", None), ("٣", None), (str(2**31), None), ("-1", None)])
def test_an_entity_base_version_is_read_as_a_storable_whole_number(base: str, read: int | None) -> None:
    xml = (
        '<data id="f"><meta><instanceID>uuid:e</instanceID>'
        f'<entity dataset="households" id="uuid:1" update="1" baseVersion="{base}"/></meta></data>'
    ).encode()
    entity = read_entity(parse_instance(xml))
    assert entity is not None and entity.base_version == read
