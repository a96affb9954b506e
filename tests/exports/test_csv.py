"""Central's CSV exports, column for column: what ruODK, pyodk and existing scripts read."""

from __future__ import annotations

import csv
import io
import zipfile

from sqlalchemy import select

from sync.db.models import Audit
from tests.collect import submission_body
from tests.exports.conftest import FORM

BASE = f"/v1/projects/1/forms/{FORM}"
ROOT_TAIL = [
    "KEY",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
]


def read_zip(response) -> dict[str, list[dict[str, str]]]:  # noqa: ANN001
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.testzip() is None
    return {
        name: list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))
        for name in archive.namelist()
        if name.endswith(".csv")
    }


def header(response, name: str) -> list[str]:  # noqa: ANN001
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    return next(csv.reader(io.StringIO(archive.read(name).decode("utf-8"))))


def test_csv_zip_has_centrals_files_columns_and_keys(client, shapes, supervisor) -> None:  # noqa: ANN001
    response = client.get(f"{BASE}/submissions.csv.zip?attachments=false", headers=supervisor)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=\"{FORM}.csv.zip\"; filename*=UTF-8''{FORM}.csv.zip"
    )
    assert response.headers["X-Export-Rows"] == "3"
    assert sorted(zipfile.ZipFile(io.BytesIO(response.data)).namelist()) == [
        f"{FORM}-jobs.csv",
        f"{FORM}-members.csv",
        f"{FORM}.csv",
    ]
    assert header(response, f"{FORM}.csv") == [
        "SubmissionDate",
        "place-township",
        "place-spot-Latitude",
        "place-spot-Longitude",
        "place-spot-Altitude",
        "place-spot-Accuracy",
        "house_grade",
        "assets",
        "rooms",
        "visited",
        "meta-instanceID",
        *ROOT_TAIL,
    ]
    assert header(response, f"{FORM}-members.csv") == ["m_name", "m_info-m_age", "PARENT_KEY", "KEY"]
    assert header(response, f"{FORM}-jobs.csv") == ["job", "PARENT_KEY", "KEY"]
    tables = read_zip(response)
    root = tables[f"{FORM}.csv"]
    assert [row["KEY"] for row in root] == ["uuid:third", "uuid:second", "uuid:first"]  # newest first
    first = root[2]
    assert first["place-spot-Latitude"] == "40.1"
    assert first["place-spot-Accuracy"] == "4.5"
    assert first["assets"] == "tv cow"
    assert first["SubmissionDate"].endswith("Z") and len(first["SubmissionDate"]) == 24
    assert first["Edits"] == "0" and first["FormVersion"] == "2026010101" and first["ReviewState"] == ""
    assert first["AttachmentsExpected"] == "0" and first["DeviceID"] == "collect:AbCdEf0123456789"
    assert root[1]["place-spot-Latitude"] == ""
    members = tables[f"{FORM}-members.csv"]
    assert [(m["m_name"], m["m_info-m_age"], m["PARENT_KEY"], m["KEY"]) for m in members] == [
        ("张三", "70", "uuid:second", "uuid:second/members[1]"),
        ("王芳", "44", "uuid:first", "uuid:first/members[1]"),
        ("李雷", "12", "uuid:first", "uuid:first/members[2]"),
    ]
    jobs = tables[f"{FORM}-jobs.csv"]
    assert [(j["job"], j["PARENT_KEY"], j["KEY"]) for j in jobs] == [
        ("retired", "uuid:second/members[1]", "uuid:second/members[1]/jobs[1]"),
        ("farmer", "uuid:first/members[1]", "uuid:first/members[1]/jobs[1]"),
        ("driver, part-time", "uuid:first/members[1]", "uuid:first/members[1]/jobs[2]"),
    ]


def test_group_paths_false_and_split_select_multiples(client, shapes, supervisor) -> None:  # noqa: ANN001
    response = client.get(
        f"{BASE}/submissions.csv.zip?attachments=false&groupPaths=false&splitSelectMultiples=true",
        headers=supervisor,
    )
    assert header(response, f"{FORM}.csv")[1:12] == [
        "township",
        "spot-Latitude",
        "spot-Longitude",
        "spot-Altitude",
        "spot-Accuracy",
        "house_grade",
        "assets",
        "assets/tv",
        "assets/car",
        "assets/cow",
        "rooms",
    ]
    assert header(response, f"{FORM}-members.csv") == ["m_name", "m_age", "PARENT_KEY", "KEY"]
    root = {row["KEY"]: row for row in read_zip(response)[f"{FORM}.csv"]}
    assert [root["uuid:first"][f"assets/{v}"] for v in ("tv", "car", "cow")] == ["1", "0", "1"]
    assert [root["uuid:third"][f"assets/{v}"] for v in ("tv", "car", "cow")] == ["0", "1", "0"]
    assert [root["uuid:second"][f"assets/{v}"] for v in ("tv", "car", "cow")] == ["", "", ""]


def test_submissions_csv_is_the_root_table_and_post_works_too(client, shapes, supervisor) -> None:  # noqa: ANN001
    response = client.get(f"{BASE}/submissions.csv", headers=supervisor)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{FORM}.csv"')
    rows = list(csv.DictReader(io.StringIO(response.data.decode())))
    assert [row["KEY"] for row in rows] == ["uuid:third", "uuid:second", "uuid:first"]
    posted = client.post(f"{BASE}/submissions.csv.zip?attachments=false", headers=supervisor)
    assert posted.status_code == 200
    assert read_zip(posted)[f"{FORM}.csv"] == read_zip(
        client.get(f"{BASE}/submissions.csv.zip?attachments=false", headers=supervisor)
    )[f"{FORM}.csv"]


def test_filter_on_system_fields_and_on_answers(client, shapes, supervisor) -> None:  # noqa: ANN001
    def keys(expression: str) -> list[str]:
        response = client.get(f"{BASE}/submissions.csv", query_string={"$filter": expression}, headers=supervisor)
        assert response.status_code == 200, response.data
        return [row["KEY"] for row in csv.DictReader(io.StringIO(response.data.decode()))]

    assert keys("house_grade eq 'D'") == ["uuid:third", "uuid:first"]
    assert keys("place/township eq '150121100'") == ["uuid:second"]
    assert keys("township eq '150121102' and rooms gt 2") == ["uuid:first"]
    assert keys("rooms ge 3 or house_grade eq 'A'") == ["uuid:second", "uuid:first"]
    assert keys("visited lt 2026-01-07") == ["uuid:second", "uuid:first"]
    assert keys("year(__system/submissionDate) eq 1999") == []
    assert keys("__system/submissionDate gt 2000-01-01T00:00:00Z and __system/reviewState eq null") == [
        "uuid:third",
        "uuid:second",
        "uuid:first",
    ]
    # the repeat files follow the filter of their parents
    response = client.get(
        f"{BASE}/submissions.csv.zip",
        query_string={"$filter": "house_grade eq 'A'", "attachments": "false"},
        headers=supervisor,
    )
    assert [m["PARENT_KEY"] for m in read_zip(response)[f"{FORM}-members.csv"]] == ["uuid:second"]


def test_bad_filter_or_option_is_a_json_400_before_any_byte(client, shapes, supervisor) -> None:  # noqa: ANN001
    for query in ({"$filter": "house_grade eq"}, {"$filter": "nosuch eq 1"}, {"groupPaths": "maybe"}):
        response = client.get(f"{BASE}/submissions.csv.zip", query_string=query, headers=supervisor)
        assert response.status_code == 400, query
        assert response.is_json and response.get_json()["code"] in (400.18, 400.1)
    assert client.get("/v1/projects/1/forms/nosuch/submissions.csv.zip", headers=supervisor).status_code == 404
    assert client.get(f"{BASE}/submissions.csv.zip").status_code == 401


def test_edits_review_state_and_audit(client, collect, shapes, supervisor, services) -> None:  # noqa: ANN001
    from tests.exports.conftest import SUBMISSIONS, shapes_xml

    edited = SUBMISSIONS["uuid:second"].replace("<rooms>5</rooms>", "<rooms>6</rooms>")
    xml = shapes_xml("uuid:second-edit", edited).replace(
        b"<meta>", b"<meta><deprecatedID>uuid:second</deprecatedID>"
    )
    assert collect.post(submission_body(xml)).status_code == 201
    assert client.patch(f"{BASE}/submissions/uuid:second", json={"reviewState": "approved"}, headers=supervisor)
    response = client.get(f"{BASE}/submissions.csv", headers=supervisor)
    rows = {row["KEY"]: row for row in csv.DictReader(io.StringIO(response.data.decode()))}
    assert rows["uuid:second"]["rooms"] == "6"
    assert rows["uuid:second"]["Edits"] == "1"
    assert rows["uuid:second"]["ReviewState"] == "approved"
    with services.sessions() as session:
        audits = session.scalars(select(Audit).where(Audit.action.like("export.%"))).all()
    assert [(a.action, a.subject, a.details["rows"]) for a in audits] == [("export.submissions.csv", FORM, 3)]


def test_media_folder_holds_the_attachments(client, collect, photo_form, supervisor) -> None:  # noqa: ANN001
    xml = photo_form.xml("uuid:p1", {"name": "王芳", "photo": "front.jpg", "loc": "40 111 0 5"})
    assert collect.post(submission_body(xml, {"front.jpg": b"\xff\xd8jpeg bytes"})).status_code == 201
    response = client.get(f"/v1/projects/1/forms/{photo_form.form_id}/submissions.csv.zip", headers=supervisor)
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{photo_form.form_id}.zip"')
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.read("media/front.jpg") == b"\xff\xd8jpeg bytes"
    row = read_zip(response)[f"{photo_form.form_id}.csv"][0]
    assert (row["photo"], row["AttachmentsPresent"], row["AttachmentsExpected"]) == ("front.jpg", "1", "1")
    plain = client.get(
        f"/v1/projects/1/forms/{photo_form.form_id}/submissions.csv.zip?attachments=false", headers=supervisor
    )
    assert [n for n in zipfile.ZipFile(io.BytesIO(plain.data)).namelist() if n.startswith("media/")] == []


def test_media_folder_holds_the_photos_of_exactly_the_exported_submissions(
    client, collect, photo_form, supervisor, monkeypatch  # noqa: ANN001
) -> None:
    """The media are noted during the tables' pass, read back in batches (made small here so several are
    read): every exported submission's photo is there, newest first, and none of a filtered-out one."""
    from sync.exports import csv_files

    monkeypatch.setattr(csv_files._VersionIds, "BATCH", 2)
    for number in range(1, 6):
        answers = {"name": f"户主{number}", "loc": "40 111 0 5"}
        files = {}
        if number != 3:  # the third has no photo
            answers["photo"] = f"front{number}.jpg"
            files[f"front{number}.jpg"] = b"\xff\xd8photo " + str(number).encode()
        xml = photo_form.xml(f"uuid:m{number}", answers)
        assert collect.post(submission_body(xml, files)).status_code == 201
    url = f"/v1/projects/1/forms/{photo_form.form_id}/submissions.csv.zip"
    archive = zipfile.ZipFile(io.BytesIO(client.get(url, headers=supervisor).data))
    media = [n for n in archive.namelist() if n.startswith("media/")]
    assert media == ["media/front5.jpg", "media/front4.jpg", "media/front2.jpg", "media/front1.jpg"]
    assert archive.read("media/front4.jpg") == b"\xff\xd8photo 4"
    filtered = client.get(url + "?$filter=__id ne 'uuid:m4'", headers=supervisor)
    names = [n for n in zipfile.ZipFile(io.BytesIO(filtered.data)).namelist() if n.startswith("media/")]
    assert names == ["media/front5.jpg", "media/front2.jpg", "media/front1.jpg"]
