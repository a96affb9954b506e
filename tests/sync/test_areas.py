"""A phone carries its own area's households: its entity list, its hash, and a flag for a household elsewhere."""

from __future__ import annotations

import base64
import csv
import io
import uuid

from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from server.cli import main
from sync.access.accounts import create_user
from sync.access.areas import create_app_user_in_area
from sync.db.engine import transaction
from sync.db.models import AppUser, Flag, Household, Project
from tests.protocol.conftest import Collect
from tests.sync.survey import VILLAGES, baseline, id_number, member, water
from tests.sync.test_registry import post, settle

NS = {"m": "http://openrosa.org/xforms/xformsManifest"}
MANIFEST = "/forms/water_survey/manifest"


def _register(collect, survey_forms, village: str, n: int) -> str:  # noqa: ANN001
    entity = str(uuid.uuid4())
    members = [member(f"户主{village[-1]}{n}", id_number("19600606", int(village[-2:]) * 10 + n), "01")]
    answers = baseline(village, "一组", members)
    post(collect, survey_forms.xml("hh_baseline", answers, entity_id=entity, create=True))
    return entity


def _phone(client, services, project, area: str | None) -> Collect:  # noqa: ANN001
    with transaction(services.sessions) as session:
        app_user = create_app_user_in_area(session, session.get(Project, project.id), f"phone {area}", area)
        token = app_user.token
    return Collect(client, f"/v1/key/{token}/projects/{project.id}")


def _list(phone: Collect) -> tuple[str, list[dict]]:
    """What Collect does on a form update: the manifest's entity-list hash, then the CSV it names."""
    manifest = phone.get(phone.server_path + MANIFEST)
    assert manifest.status_code == 200
    (entry,) = [e for e in etree.fromstring(manifest.data).findall("m:mediaFile", NS) if e.get("type") == "entityList"]
    listed = phone.get(entry.findtext("m:downloadUrl", namespaces=NS).removeprefix("http://localhost"))
    assert listed.status_code == 200
    assert listed.headers["ETag"].strip('"') == entry.findtext("m:hash", namespaces=NS).removeprefix("md5:")
    return entry.findtext("m:hash", namespaces=NS), list(csv.DictReader(io.StringIO(listed.data.decode("utf-8"))))


def test_phones_of_two_villages_carry_their_own_lists(client, collect, survey_forms, services, project) -> None:  # noqa: ANN001
    entities = {village: [_register(collect, survey_forms, village, n) for n in range(2)] for village in VILLAGES}
    settle(services)
    first, second, everyone = (_phone(client, services, project, area) for area in (*VILLAGES, None))

    hash_first, rows_first = _list(first)
    hash_second, rows_second = _list(second)
    hash_all, rows_all = _list(everyone)
    assert sorted(r["name"] for r in rows_first) == sorted(entities[VILLAGES[0]])
    assert sorted(r["name"] for r in rows_second) == sorted(entities[VILLAGES[1]])
    assert {r["village"] for r in rows_first} == {VILLAGES[0]}
    assert len(rows_all) == 4
    assert len({hash_first, hash_second, hash_all}) == 3
    township = _phone(client, services, project, VILLAGES[0][:9])
    assert len(_list(township)[1]) == 4  # both villages belong to one township

    # A change in the first village changes the first village's hash (and the whole list's), not the second's.
    household = entities[VILLAGES[0]][0]
    survey = survey_forms.xml("water_survey", water(household, day="2021-06-01"), entity_id=household, base_version=1)
    post(first, survey)
    settle(services)
    assert _list(first)[0] != hash_first
    assert _list(second)[0] == hash_second
    assert _list(everyone)[0] != hash_all


def test_a_household_outside_the_phones_area_is_accepted_and_flagged(
    client, collect, survey_forms, services, project  # noqa: ANN001
) -> None:
    at_home = _register(collect, survey_forms, VILLAGES[0], 0)
    settle(services)
    first, second = (_phone(client, services, project, area) for area in VILLAGES)
    post(first, survey_forms.xml("water_survey", water(at_home, day="2021-06-01"), entity_id=at_home, base_version=1))
    post(second, survey_forms.xml("water_survey", water(at_home, day="2021-06-02"), entity_id=at_home, base_version=2))
    settle(services)
    with services.sessions() as session:
        flags = list(session.scalars(select(Flag).where(Flag.kind == "outside_area")))
        code = session.scalar(select(Household.code).where(Household.entity_id == at_home))
        second_id = session.scalar(select(AppUser.id).where(AppUser.area == VILLAGES[1]))
    assert len(flags) == 1
    assert (flags[0].household_code, flags[0].severity) == (code, "warning")
    assert flags[0].details == {"area": VILLAGES[1], "village": VILLAGES[0], "app_user_id": second_id}
    assert VILLAGES[1] in flags[0].message


def test_app_users_create_with_an_area_and_change_it_later(services, project, settings, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("QINGLING_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QINGLING_DATABASE_URL", settings.resolved_database_url)
    runner = CliRunner()
    made = runner.invoke(main, ["app-users", "create", "--name", "王芳", "--area", VILLAGES[1]])
    assert made.exit_code == 0, made.output
    assert f"area {VILLAGES[1]}" in made.output and "/v1/key/" in made.output
    refused = runner.invoke(main, ["app-users", "create", "--name", "李四", "--area", "15012110"])
    assert refused.exit_code == 1 and "is not an area code" in refused.output
    with services.sessions() as session:
        (app_user,) = session.scalars(select(AppUser).where(AppUser.display_name == "王芳"))
    assert runner.invoke(main, ["app-users", "area", str(app_user.id), VILLAGES[0]]).exit_code == 0
    listed = runner.invoke(main, ["app-users", "list"])
    assert f"王芳\tproject={project.id}\tarea={VILLAGES[0]}\tactive" in listed.output
    assert runner.invoke(main, ["app-users", "revoke", str(app_user.id)]).exit_code == 0
    assert f"area={VILLAGES[0]}\trevoked" in runner.invoke(main, ["app-users", "list"]).output


def test_administrators_give_phones_an_area_through_the_api(client, services, project, supervisor) -> None:  # noqa: ANN001
    with transaction(services.sessions) as session:
        create_user(session, "admin@county.example", "correct horse battery", "admin")
    admin = {"Authorization": "Basic " + base64.b64encode(b"admin@county.example:correct horse battery").decode()}
    base = f"/v1/projects/{project.id}/app-users"
    made = client.post(base, json={"displayName": "王芳", "area": VILLAGES[0]}, headers=admin)
    assert made.status_code == 200, made.data
    phone = made.get_json()
    assert (phone["displayName"], phone["area"], phone["type"]) == ("王芳", VILLAGES[0], "field_key")
    bad = client.patch(f"{base}/{phone['id']}", json={"area": "1501"}, headers=admin)
    assert bad.status_code == 400 and "is not an area code" in bad.get_json()["message"]
    moved = client.patch(f"{base}/{phone['id']}", json={"area": VILLAGES[1]}, headers=admin)
    assert moved.status_code == 200 and moved.get_json()["area"] == VILLAGES[1]
    listed = client.get(base, headers=admin).get_json()
    assert [(p["displayName"], p["area"]) for p in listed if p["id"] == phone["id"]] == [("王芳", VILLAGES[1])]
    assert client.get(base, headers=supervisor).status_code == 403
    assert client.delete(f"{base}/{phone['id']}", headers=admin).status_code == 200
    revoked = Collect(client, f"/v1/key/{phone['token']}/projects/{project.id}").form_list()
    assert revoked.status_code == 403
