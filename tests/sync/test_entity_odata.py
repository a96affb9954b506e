"""The registry's entity list as OData (``datasets/households.svc``), read with pyodk's ``get_table`` itself."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sync.survey import VILLAGES, baseline, id_number, member
from tests.sync.test_central_clients import pyodk  # noqa: F401 - the fixture
from tests.sync.test_registry import post, settle

SVC = "/v1/projects/1/datasets/households.svc"


@pytest.fixture
def households(collect, survey_forms, services) -> dict[str, str]:  # noqa: ANN001
    """Five households: three in the first village, two in the second; entity id -> village."""
    found = {}
    for index in range(5):
        entity = str(uuid.uuid4())
        village = VILLAGES[0] if index < 3 else VILLAGES[1]
        found[entity] = village
        members = [member(f"户主{index}", id_number("19650505", index), "01")] + [
            member(f"成员{index}{n}", id_number("19900101", index * 10 + n), "02") for n in range(index)
        ]
        post(
            collect,
            survey_forms.xml(
                "hh_baseline",
                baseline(village, "一组", members),
                entity_id=entity,
                create=True,
                instance_id=f"uuid:reg-{index}",
            ),
        )
    settle(services)
    return found


def test_pyodk_get_table_reads_the_entity_feed(households, pyodk) -> None:  # noqa: ANN001, F811
    table = pyodk.entities.get_table(entity_list_name="households")
    rows = table["value"]
    assert {row["__id"] for row in rows} == set(households)
    assert table["@odata.context"].endswith("/datasets/households.svc/$metadata#Entities")
    newest = rows[0]
    assert newest["__id"] == list(households)[-1]  # newest first, as Central orders entities
    assert newest["village"] == VILLAGES[1] and newest["hh_size"] == "5"
    assert newest["__system"]["version"] == 1 and newest["__system"]["updates"] == 0
    assert newest["__system"]["creatorId"].isdigit() and newest["__system"]["createdAt"].endswith("Z")
    assert newest["label"]

    page = pyodk.entities.get_table(entity_list_name="households", top=2, count=True)
    assert page["@odata.count"] == 5 and len(page["value"]) == 2
    assert [row["__id"] for row in page["value"]] == [row["__id"] for row in rows[:2]]
    token = parse_qs(urlsplit(page["@odata.nextLink"]).query)["$skiptoken"][0]
    assert token
    skipped = pyodk.entities.get_table(entity_list_name="households", skip=3)
    assert [row["__id"] for row in skipped["value"]] == [row["__id"] for row in rows[3:]]

    big = pyodk.entities.get_table(entity_list_name="households", filter="hh_size ge 3", count=True)
    assert big["@odata.count"] == 3 and {int(row["hh_size"]) for row in big["value"]} == {3, 4, 5}
    first = pyodk.entities.get_table(entity_list_name="households", filter=f"village eq '{VILLAGES[0]}'")
    assert {row["__id"] for row in first["value"]} == {e for e, v in households.items() if v == VILLAGES[0]}

    chosen = pyodk.entities.get_table(entity_list_name="households", select="__id,village,__system/version")
    assert chosen["value"][0] == {"__id": rows[0]["__id"], "__system": {"version": 1}, "village": VILLAGES[1]}


def test_the_next_link_walks_every_page(client, households, supervisor) -> None:  # noqa: ANN001
    seen = []
    url = f"{SVC}/Entities?$top=2"
    while url:
        response = client.get(url, headers=supervisor)
        assert response.status_code == 200 and response.headers["OData-Version"] == "4.0"
        body = response.get_json()
        seen += [row["__id"] for row in body["value"]]
        url = body.get("@odata.nextLink", "").replace("http://localhost", "")
    assert len(seen) == 5 and set(seen) == set(households)


def test_the_feed_is_scoped_by_area(client, households, supervisor) -> None:  # noqa: ANN001
    response = client.get(f"{SVC}/Entities?area={VILLAGES[1]}&$count=true", headers=supervisor)
    body = response.get_json()
    assert body["@odata.count"] == 2
    assert {row["__id"] for row in body["value"]} == {e for e, v in households.items() if v == VILLAGES[1]}


def test_service_document_metadata_and_errors(client, households, supervisor) -> None:  # noqa: ANN001
    service = client.get(SVC, headers=supervisor)
    assert service.status_code == 200
    assert service.get_json()["value"] == [{"name": "Entities", "kind": "EntitySet", "url": "Entities"}]
    metadata = client.get(f"{SVC}/$metadata", headers=supervisor)
    assert metadata.headers["Content-Type"].startswith("application/xml")
    assert b'<Property Name="house_grade" Type="Edm.String"/>' in metadata.data
    for query, status, code in [
        ("$filter=nonsense eq 1", 400, 400.18),
        ("$filter=hh_size ge", 400, 400.18),
        ("$select=nope", 400, None),
        ("$top=-1", 400, None),
        ("$orderby=label", 501, 501.1),
        ("area=15x", 400, None),
    ]:
        response = client.get(f"{SVC}/Entities?{query}", headers=supervisor)
        assert response.status_code == status, (query, response.data)
        if code is not None:
            assert response.get_json()["code"] == code
    assert client.get("/v1/projects/1/datasets/trees.svc/Entities", headers=supervisor).status_code == 404
    assert client.get(f"{SVC}/Entities").status_code in (401, 403)
