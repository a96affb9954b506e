"""A scripted field campaign through the OpenRosa endpoints, and the registry it must produce.

50 households are registered in two villages, then appraised, surveyed and income-checked over two
visits, with an edit, a rejection, an offline conflict, a bad ID number, a person in two households, an
unknown household and a phone whose verdict disagrees with the server's. The registry's current state,
history, flags and clearance counts are checked, and ``registry rebuild`` must reproduce all of it.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import date

import pytest
from lxml import etree
from sqlalchemy import select

from server.services import Services
from sync.db.models import (
    BaselineRecord,
    Flag,
    Household,
    HousingAppraisal,
    IncomeCheck,
    Person,
    WaterSurvey,
)
from sync.jobs.queue import run_pending_jobs
from sync.registry.clearance import clearance
from sync.registry.rebuild import rebuild_registry
from tests.collect import submission_body
from tests.sync.survey import (
    TOWNSHIP,
    VILLAGES,
    SurveyForms,
    appraisal,
    baseline,
    id_number,
    income,
    member,
    water,
)

N_HOUSEHOLDS = 50
FIRST_VISIT, SECOND_VISIT = "2021-04-15", "2021-06-20"


@dataclass
class Campaign:
    """What the script sent: entity ids in registration order, and the instance ids it will refer to."""

    entities: list[str] = field(default_factory=list)
    instances: dict[str, str] = field(default_factory=dict)


def post(collect, xml: bytes) -> None:  # noqa: ANN001
    response = collect.post(submission_body(xml))
    assert response.status_code == 201, response.data


def settle(services: Services) -> None:
    """Run the queue to empty, as the worker would after each upload."""
    run_pending_jobs(services.sessions, services.work)


def wall_for(index: int) -> str:
    """Grades of the first visit: A, B, C, D in turn."""
    return "abcd"[index % 4]


def run_campaign(collect, forms: SurveyForms, services: Services, api) -> Campaign:  # noqa: ANN001
    campaign = Campaign()
    # -- registration: 25 households in each village, 2 or 3 members, valid ID numbers ------------
    for index in range(N_HOUSEHOLDS):
        entity = str(uuid.UUID(int=index + 1))
        campaign.entities.append(entity)
        village = VILLAGES[index % 2]
        head = member(f"户主{index:02d}", id_number("19700101", index), "01")
        members = [head, member(f"配偶{index:02d}", id_number("19720202", index, female=True), "10", sex="2")]
        if index % 3 == 0:
            members.append(member(f"子女{index:02d}", id_number("19990909", index), "20", labour="none"))
        if index == 7:  # a typing error in the spouse's ID number: accepted, flagged
            bad = members[1]["m_id"]
            members[1]["m_id"] = bad[:-1] + ("0" if bad[-1] != "0" else "1")
        if index == 49:  # the head of household 0 listed again, as a member here
            members.append(member("户主00", id_number("19700101", 0), "99"))
        post(
            collect,
            forms.xml("hh_baseline", baseline(village, f"{index % 5 + 1}组", members), entity_id=entity, create=True),
        )
        settle(services)
    # -- first visit: housing, water, income --------------------------------------------------------
    for index, entity in enumerate(campaign.entities):
        instance = f"uuid:house-1-{index}"
        campaign.instances[f"house-1-{index}"] = instance
        extra = {"grade_calc": "A"} if index == 2 else {}  # the phone says A where the rules give C
        post(
            collect,
            forms.xml(
                "house_appraisal",
                appraisal(entity, day=FIRST_VISIT, wall=wall_for(index), **extra),
                entity_id=entity,
                base_version=1,
                instance_id=instance,
            ),
        )
        fetch = "25" if index % 5 == 0 else "15"  # a 25-minute round trip fails convenience
        post(
            collect,
            forms.xml(
                "water_survey", water(entity, day=FIRST_VISIT, fetch_minutes=fetch), entity_id=entity, base_version=2
            ),
        )
        persons = 3 if index % 3 == 0 else 2
        if index == 49:
            persons = 3
        wages = 6000 * persons if index % 2 else 4000 * persons  # odd: 6 000 a person; even: 4 000
        instance = f"uuid:income-1-{index}"
        campaign.instances[f"income-1-{index}"] = instance
        post(
            collect,
            forms.xml(
                "income_check",
                income(entity, day=FIRST_VISIT, persons=persons, wages=wages),
                entity_id=entity,
                base_version=3,
                instance_id=instance,
            ),
        )
        settle(services)
    # -- second visit -------------------------------------------------------------------------------
    # Households 2, 6, 10 (graded C) were renovated: re-appraised A.
    for index in (2, 6, 10):
        post(
            collect,
            forms.xml(
                "house_appraisal",
                appraisal(campaign.entities[index], day=SECOND_VISIT, wall="a"),
                entity_id=campaign.entities[index],
                base_version=4,
            ),
        )
    # An edit: household 4's income check is corrected from 4 000 to 7 000 a person.
    post(
        collect,
        forms.xml(
            "income_check",
            income(campaign.entities[4], day=FIRST_VISIT, persons=2, wages=14000),
            entity_id=campaign.entities[4],
            base_version=3,
            instance_id="uuid:income-1-4-edit",
            deprecated_id=campaign.instances["income-1-4"],
        ),
    )
    # An offline conflict: two phones survey household 1's water from the same version 4.
    for minutes, instance in (("15", "uuid:water-2-1-a"), ("25", "uuid:water-2-1-b")):
        post(
            collect,
            forms.xml(
                "water_survey",
                water(campaign.entities[1], day=SECOND_VISIT, fetch_minutes=minutes),
                entity_id=campaign.entities[1],
                base_version=4,
                instance_id=instance,
            ),
        )
    # A household nobody registered.
    stranger = str(uuid.UUID(int=999))
    post(
        collect,
        forms.xml(
            "house_appraisal",
            appraisal(stranger, day=SECOND_VISIT, wall="d"),
            entity_id=stranger,
            base_version=1,
            instance_id="uuid:stranger",
        ),
    )
    settle(services)
    # A rejection: the supervisor rejects household 3's D appraisal (photos did not show the house).
    response = api.patch(
        f"/v1/projects/1/forms/house_appraisal/submissions/{campaign.instances['house-1-3']}",
        {"reviewState": "rejected"},
    )
    assert response.status_code == 200, response.data
    settle(services)
    return campaign


def snapshot(services: Services) -> dict:
    """Everything the registry holds, without row ids and processing times."""
    with services.sessions() as session:
        households = {
            h.code: {
                k: (str(v) if v is not None else None)
                for k, v in vars(h).items()
                if not k.startswith("_") and k not in ("id", "updated_at", "registered_submission_id")
            }
            for h in session.scalars(select(Household))
        }
        codes = {h.id: h.code for h in session.scalars(select(Household))}
        persons = sorted(
            (codes[p.household_id], p.name, p.id_no, p.member_status, str(p.member_since))
            for p in session.scalars(select(Person))
        )
        history = sorted(
            (
                type(row).__tablename__,
                codes.get(row.household_id, ""),
                row.instance_id,
                str(row.survey_date),
                row.status,
                repr(sorted(row.server_verdict.items())),
                row.review_state or "",
            )
            for model in (BaselineRecord, HousingAppraisal, WaterSurvey, IncomeCheck)
            for row in session.scalars(select(model))
        )
        flags = sorted(
            (f.kind, f.severity, f.household_code or "", f.other_household_code or "", f.message)
            for f in session.scalars(select(Flag))
        )
    return {"households": households, "persons": persons, "history": history, "flags": flags}


@pytest.fixture
def campaign(collect, survey_forms, services, api) -> Campaign:  # noqa: ANN001
    return run_campaign(collect, survey_forms, services, api)


def test_field_campaign_builds_the_registry_and_rebuild_reproduces_it(campaign, services, api) -> None:
    households = api.get("/v1/projects/1/registry/households")
    assert len(households) == N_HOUSEHOLDS
    by_entity = {h["entityId"]: h for h in households}
    codes = [by_entity[entity]["householdCode"] for entity in campaign.entities]
    # Codes: the village code and a per-village sequence, in order of registration.
    assert codes[0] == f"{VILLAGES[0]}0001" and codes[1] == f"{VILLAGES[1]}0001" and codes[2] == f"{VILLAGES[0]}0002"
    assert len(api.get(f"/v1/projects/1/registry/households?village={VILLAGES[1]}")) == 25

    # Current state follows the latest counted record of each kind.
    first = api.get(f"/v1/projects/1/registry/households/{codes[0]}")
    assert (first["houseGrade"], first["waterVerdict"], first["hhSize"]) == ("A", "budabiao", 3)
    assert first["incomePerCapita"] == "4000.00" and first["incomeYear"] == 2020
    assert first["headName"] == "户主00" and first["status"] == "poor"
    assert [m["name"] for m in first["members"]] == ["户主00", "配偶00", "子女00"]
    renovated = api.get(f"/v1/projects/1/registry/households/{codes[2]}")
    assert renovated["houseGrade"] == "A" and renovated["houseGradeDate"] == SECOND_VISIT
    grades = [h["serverVerdict"]["grade"] for h in renovated["history"] if h["kind"] == "housing_appraisals"]
    assert grades == ["A", "C"]  # newest first: the history keeps the C
    assert renovated["entityVersion"] == 5
    # The edit replaced its predecessor's contribution; the history has one income check, the edited one.
    edited = api.get(f"/v1/projects/1/registry/households/{codes[4]}")
    assert edited["incomePerCapita"] == "7000.00"
    incomes = [h for h in edited["history"] if h["kind"] == "income_checks"]
    assert [h["instanceId"] for h in incomes] == ["uuid:income-1-4-edit"]
    assert incomes[0]["links"]["submission"].endswith("/forms/income_check/submissions/uuid%3Aincome-1-4")
    # The rejected appraisal no longer counts: household 3 has no current grade, but the row is kept.
    rejected = api.get(f"/v1/projects/1/registry/households/{codes[3]}")
    assert rejected["houseGrade"] is None
    assert [h["reviewState"] for h in rejected["history"] if h["kind"] == "housing_appraisals"] == ["rejected"]

    # Flags, one model for all of them.
    flags = api.get("/v1/projects/1/flags")
    kinds = {flag["kind"] for flag in flags}
    assert {
        "id_number_invalid",
        "person_in_two_households",
        "entity_conflict",
        "unknown_household",
        "verdict_mismatch",
    } <= kinds
    bad_id = api.get("/v1/projects/1/flags?kind=id_number_invalid")
    assert [flag["householdCode"] for flag in bad_id] == [codes[7]]
    twice = api.get("/v1/projects/1/flags?kind=person_in_two_households")
    assert {(f["householdCode"], f["otherHouseholdCode"]) for f in twice} == {(codes[49], codes[0])}
    assert api.get(f"/v1/projects/1/flags?kind=person_in_two_households&household={codes[0]}") == twice
    conflict = api.get("/v1/projects/1/flags?kind=entity_conflict")
    assert [(f["householdCode"], f["details"]["field"], f["details"]["base_version"]) for f in conflict] == [
        (codes[1], "water_verdict", 4)
    ]
    mismatch = api.get("/v1/projects/1/flags?kind=verdict_mismatch")
    assert [(f["householdCode"], f["details"]["device"], f["details"]["server"]) for f in mismatch] == [
        (codes[2], "A", "C")
    ]
    unknown = api.get("/v1/projects/1/flags?kind=unknown_household")
    assert [f["details"]["reference"] for f in unknown] == [str(uuid.UUID(int=999))]
    # The conflict is recorded, and the later of the two updates is the one applied.
    assert api.get(f"/v1/projects/1/registry/households/{codes[1]}")["waterVerdict"] == "budabiao"

    # Clearance, computed from the registry, for a village and the township, as of two dates.
    village = api.get(f"/v1/projects/1/registry/clearance?area={VILLAGES[0]}&date=2021-05-01")
    even = range(0, N_HOUSEHOLDS, 2)
    assert village["households"] == 25
    assert village["housing_unsafe"] == sum(1 for i in even if wall_for(i) in "cd" and i != 3)
    assert village["water_unsafe"] == sum(1 for i in even if i % 5 == 0)
    # Even households earn 4 000 a person: under the 2020 monitoring line of 6 000, and under the
    # 4 400 minimum-living line; household 4's edit lifted it to 7 000.
    assert village["income_below_monitor_line"] == 24
    assert village["income_below_dibao_line"] == 24
    later = api.get(f"/v1/projects/1/registry/clearance?area={TOWNSHIP}&date=2021-07-01")
    assert later["households"] == N_HOUSEHOLDS
    expected_unsafe = sum(1 for i in range(N_HOUSEHOLDS) if wall_for(i) in "cd") - 1 - 3  # rejected 3; 2, 6, 10
    assert later["housing_unsafe"] == expected_unsafe
    before = api.get(f"/v1/projects/1/registry/clearance?area={TOWNSHIP}&date=2021-01-01")
    assert before["households"] == 0

    # registry rebuild gives exactly the same registry.
    before_rebuild = snapshot(services)
    report = rebuild_registry(services.sessions)
    assert report.submissions == N_HOUSEHOLDS * 4 + 3 + 2 + 1
    assert snapshot(services) == before_rebuild
    with services.sessions() as session:
        assert clearance(session, 1, TOWNSHIP, date(2021, 7, 1)).housing_unsafe == expected_unsafe


def test_entity_list_reaches_phones_and_centrals_entity_api(campaign, collect, survey_forms, services, api) -> None:
    manifest_url = f"{collect.server_path}/forms/house_appraisal/manifest"
    manifest = collect.get(manifest_url)
    assert manifest.status_code == 200
    ns = {"m": "http://openrosa.org/xforms/xformsManifest"}
    entries = {
        entry.findtext("m:filename", namespaces=ns): entry
        for entry in etree.fromstring(manifest.data).findall("m:mediaFile", ns)
    }
    households_entry = entries["households.csv"]
    assert households_entry.get("type") == "entityList"
    url = households_entry.findtext("m:downloadUrl", namespaces=ns)
    hash_before = households_entry.findtext("m:hash", namespaces=ns)
    listed = collect.get(url.removeprefix("http://localhost"))
    assert listed.status_code == 200 and listed.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(listed.data.decode("utf-8"))))
    assert len(rows) == N_HOUSEHOLDS
    first = next(row for row in rows if row["name"] == campaign.entities[0])
    assert (first["hh_code"], first["house_grade"], first["__version"]) == (f"{VILLAGES[0]}0001", "A", "4")
    assert listed.headers["ETag"].strip('"') == hash_before.removeprefix("md5:")
    # The hash changes when the registry changes, so phones download the list again.
    survey = water(campaign.entities[0], day=SECOND_VISIT)
    post(collect, survey_forms.xml("water_survey", survey, entity_id=campaign.entities[0], base_version=4))
    settle(services)
    again = etree.fromstring(collect.get(manifest_url).data)
    hashes = [e.findtext("m:hash", namespaces=ns) for e in again.findall("m:mediaFile", ns)]
    assert hash_before not in hashes and len(hashes) == len(entries)

    datasets = api.get("/v1/projects/1/datasets")
    assert [(d["name"], d["entities"]) for d in datasets] == [("households", N_HOUSEHOLDS)]
    entities = api.get("/v1/projects/1/datasets/households/entities")
    assert len(entities) == N_HOUSEHOLDS
    one = api.get(f"/v1/projects/1/datasets/households/entities/{campaign.entities[0]}")
    assert one["uuid"] == campaign.entities[0]
    assert one["currentVersion"]["version"] == 5 and one["currentVersion"]["data"]["water_verdict"] == "jiben"
    versions = api.get(f"/v1/projects/1/datasets/households/entities/{campaign.entities[0]}/versions")
    assert [v["version"] for v in versions] == [1, 2, 3, 4, 5]
    assert [v["baseVersion"] for v in versions] == [None, 1, 2, 3, 4]


def test_an_edited_registration_keeps_its_household_code_through_a_rebuild(collect, survey_forms, services) -> None:  # noqa: ANN001
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for entity, name in ((first, "甲"), (second, "乙")):
        members = [member(name, id_number("19600606", len(name) + ord(name)), "01")]
        answers = baseline(VILLAGES[0], "一组", members)
        post(
            collect,
            survey_forms.xml("hh_baseline", answers, entity_id=entity, create=True, instance_id=f"uuid:reg-{entity}"),
        )
        settle(services)
    # The first registration is corrected later: its current version now sorts after the second's.
    corrected = baseline(VILLAGES[0], "二组", [member("甲", id_number("19600606", len("甲") + ord("甲")), "01")])
    post(
        collect,
        survey_forms.xml(
            "hh_baseline",
            corrected,
            entity_id=first,
            create=True,
            instance_id="uuid:reg-fix",
            deprecated_id=f"uuid:reg-{first}",
        ),
    )
    settle(services)

    def codes() -> dict[str, tuple[str, str]]:
        with services.sessions() as session:
            return {h.entity_id: (h.code, h.group_name) for h in session.scalars(select(Household))}

    live = codes()
    assert live[first] == (f"{VILLAGES[0]}0001", "二组") and live[second][0] == f"{VILLAGES[0]}0002"
    rebuild_registry(services.sessions)
    assert codes() == live


CENTRAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_listed_times_are_utc_with_milliseconds_and_z_as_central_writes_them(campaign, api) -> None:  # noqa: ANN001
    """pyodk and Central clients read ``2018-01-19T23:58:03.395Z``; PostgreSQL's aware times once gave ``+00:00``."""
    entities = api.get("/v1/projects/1/datasets/households/entities")
    times = [e["createdAt"] for e in entities] + [e["updatedAt"] for e in entities]
    times += [e["currentVersion"]["createdAt"] for e in entities]
    submissions = api.get("/v1/projects/1/forms/house_appraisal/submissions")
    times += [s["createdAt"] for s in submissions] + [s["currentVersion"]["createdAt"] for s in submissions]
    updated = [s["updatedAt"] for s in submissions if s["updatedAt"] is not None]
    assert updated, "the rejected appraisal has an updatedAt"
    times += updated
    assert len(times) == 3 * N_HOUSEHOLDS + 2 * len(submissions) + len(updated)
    assert [t for t in times if not CENTRAL_TIME.fullmatch(t)] == []
