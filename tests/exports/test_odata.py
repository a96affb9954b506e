"""OData v4 as Central serves it, read with pyodk (independent readers of $metadata: test_metadata_clients.py)."""

from __future__ import annotations

from pyodk._utils.config import CentralConfig, Config
from pyodk.client import Client

from tests.exports.conftest import FORM

SVC = f"/v1/projects/1/forms/{FORM}.svc"


def test_service_document_metadata_and_501(client, shapes, supervisor) -> None:  # noqa: ANN001
    service = client.get(SVC, headers=supervisor)
    assert service.status_code == 200 and service.headers["OData-Version"] == "4.0"
    assert [s["name"] for s in service.get_json()["value"]] == [
        "Submissions",
        "Submissions.members",
        "Submissions.members.jobs",
    ]
    metadata = client.get(f"{SVC}/$metadata", headers=supervisor)
    assert metadata.headers["Content-Type"].startswith("application/xml")
    text = metadata.data.decode()
    assert '<Property Name="rooms" Type="Edm.Int64"/>' in text
    assert '<Property Name="spot" Type="Edm.GeographyPoint"/>' in text
    assert '<ComplexType Name="Submissions.place">' in text
    assert (
        '<NavigationProperty Name="members" Type="Collection(org.opendatakit.user.export_shapes.Submissions.members)"/>'
        in text
    )
    unknown = client.get(f"{SVC}/Submissions?$apply=groupby", headers=supervisor)
    assert unknown.status_code == 501 and unknown.get_json()["code"] == 501.1


def test_metadata_is_consistent_csdl(client, shapes, supervisor) -> None:  # noqa: ANN001
    """Every type a property, set or navigation names is declared, and every set is keyed."""
    from lxml import etree

    edm = "{http://docs.oasis-open.org/odata/ns/edm}"
    root = etree.fromstring(client.get(f"{SVC}/$metadata", headers=supervisor).data)
    assert root.tag == "{http://docs.oasis-open.org/odata/ns/edmx}Edmx" and root.get("Version") == "4.0"
    declared = {
        f"{schema.get('Namespace')}.{element.get('Name')}"
        for schema in root.iter(f"{edm}Schema")
        for element in schema
        if element.tag in (f"{edm}EntityType", f"{edm}ComplexType", f"{edm}EnumType")
    }
    for prop in root.iter(f"{edm}Property", f"{edm}NavigationProperty"):
        kind = prop.get("Type").removeprefix("Collection(").removesuffix(")")
        assert kind.startswith("Edm.") or kind in declared, kind
    for entity_type in root.iter(f"{edm}EntityType"):
        assert entity_type.find(f"{edm}Key/{edm}PropertyRef").get("Name") == "__id"
    sets = {s.get("Name"): s for s in root.iter(f"{edm}EntitySet")}
    assert all(s.get("EntityType") in declared for s in sets.values())
    bindings = [(b.get("Path"), b.get("Target")) for b in root.iter(f"{edm}NavigationPropertyBinding")]
    assert bindings == [("members", "Submissions.members"), ("jobs", "Submissions.members.jobs")]


def test_submissions_feed_rows_paging_and_expand(client, shapes, supervisor) -> None:  # noqa: ANN001
    body = client.get(f"{SVC}/Submissions?$count=true", headers=supervisor).get_json()
    assert body["@odata.count"] == 3
    rows = body["value"]
    assert [r["__id"] for r in rows] == ["uuid:third", "uuid:second", "uuid:first"]
    first = rows[2]
    assert first["place"]["spot"] == {
        "type": "Point",
        "coordinates": [111.5, 40.1, 1050.0],
        "properties": {"accuracy": 4.5},
    }
    assert first["rooms"] == 3 and first["house_grade"] == "D" and first["assets"] == "tv cow"
    assert first["members@odata.navigationLink"] == "Submissions('uuid%3Afirst')/members"
    assert first["__system"]["reviewState"] is None and first["__system"]["edits"] == 0
    assert list(first["__system"]) == [  # Central's members, in its order ($metadata declares the same)
        "submissionDate", "updatedAt", "deletedAt", "submitterId", "submitterName", "attachmentsPresent",
        "attachmentsExpected", "status", "reviewState", "deviceId", "edits", "formVersion",
    ]
    assert first["__system"]["deletedAt"] is None and first["__system"]["status"] is None
    assert rows[1]["place"]["spot"] is None
    wkt = client.get(f"{SVC}/Submissions?$wkt=true&$filter=rooms eq 3", headers=supervisor).get_json()["value"]
    assert wkt[0]["place"]["spot"] == "POINT (111.5 40.1 1050)"
    page = client.get(f"{SVC}/Submissions?$top=2", headers=supervisor).get_json()
    assert [r["__id"] for r in page["value"]] == ["uuid:third", "uuid:second"]
    rest = client.get(page["@odata.nextLink"].split("://", 1)[1].split("/", 1)[1].join(["/", ""]), headers=supervisor)
    assert [r["__id"] for r in rest.get_json()["value"]] == ["uuid:first"]
    assert "@odata.nextLink" not in rest.get_json()
    expanded = client.get(f"{SVC}/Submissions('uuid:first')?$expand=*", headers=supervisor).get_json()["value"]
    assert [m["m_name"] for m in expanded[0]["members"]] == ["王芳", "李雷"]
    assert [j["job"] for j in expanded[0]["members"][0]["jobs"]] == ["farmer", "driver, part-time"]
    members = client.get(f"{SVC}/Submissions.members?$top=2", headers=supervisor).get_json()
    assert [(m["m_name"], m["__Submissions-id"]) for m in members["value"]] == [
        ("张三", "uuid:second"),
        ("王芳", "uuid:first"),
    ]
    rest = client.get("/" + members["@odata.nextLink"].split("/", 3)[3], headers=supervisor).get_json()
    assert [m["m_name"] for m in rest["value"]] == ["李雷"]
    jobs = client.get(f"{SVC}/Submissions.members.jobs", headers=supervisor).get_json()["value"]
    assert jobs[1]["__Submissions-members-id"] == members["value"][1]["__id"]
    nav = client.get(f"{SVC}/Submissions('uuid%3Afirst')/members", headers=supervisor).get_json()["value"]
    assert [m["m_name"] for m in nav] == ["王芳", "李雷"]
    assert client.get(f"{SVC}/Submissions('uuid:nosuch')", headers=supervisor).status_code == 404


def test_pyodk_get_table(shapes, services, supervisor, live_server, tmp_path) -> None:  # noqa: ANN001
    config = Config(
        central=CentralConfig(
            base_url=live_server.url,
            username="supervisor@county.example",
            password="correct horse battery",
            default_project_id=1,
        )
    )
    with Client(config=config, cache_path=tmp_path / "pyodk_cache.toml") as client:
        table = client.submissions.get_table(form_id=FORM, count=True)
        assert table["@odata.count"] == 3
        assert [r["__id"] for r in table["value"]] == ["uuid:third", "uuid:second", "uuid:first"]
        filtered = client.submissions.get_table(form_id=FORM, filter="house_grade eq 'D'", top=1, skip=1)
        assert [r["__id"] for r in filtered["value"]] == ["uuid:first"]
        expanded = client.submissions.get_table(form_id=FORM, expand="*", filter="__id eq 'uuid:second'")
        assert expanded["value"][0]["members"][0]["jobs"][0]["job"] == "retired"
        members = client.submissions.get_table(form_id=FORM, table_name="Submissions.members")
        assert len(members["value"]) == 3
