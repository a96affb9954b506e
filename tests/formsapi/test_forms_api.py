"""Central's forms API, route by route, with Central's status codes and bodies, as a script or pyodk sees it.

Every test runs on SQLite and PostgreSQL (the ``client`` fixture's database). A phone's view (the form
list and manifest through the app-user URL) is checked wherever publishing changes what phones get.
"""

from __future__ import annotations

import hashlib

import pytest
from lxml import etree
from sqlalchemy import func, select

from forms.build import compile_xlsform
from sync.db.models import Form, FormDraft, FormVersion
from tests.conftest import DATA
from tests.formsapi.workbooks import SURVEY, VILLAGES_CSV, XLSX, workbook
from tests.sync.test_publishing import form_list, manifest

BASE = "/v1/projects/1/forms"


def create(client, headers, body: bytes, content_type: str = XLSX, query: str = ""):  # noqa: ANN001, ANN201
    return client.post(f"{BASE}{query}", data=body, content_type=content_type, headers=headers)


def upload(client, headers, form_id: str, name: str, data: bytes):  # noqa: ANN001, ANN201
    return client.post(
        f"{BASE}/{form_id}/draft/attachments/{name}", data=data, content_type="text/csv", headers=headers
    )


def counts(services) -> tuple[int, int, int]:  # noqa: ANN001
    with services.sessions() as session:
        return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Form, FormDraft, FormVersion))


def test_an_xlsx_becomes_a_draft_then_a_published_form_phones_download(client, manager, collect, services) -> None:  # noqa: ANN001
    sent = workbook()
    created = create(client, manager, sent)
    assert created.status_code == 200, created.json
    body = created.json
    assert (body["xmlFormId"], body["version"], body["name"], body["state"]) == (
        "village_check", "2026120201", "Village check", "open",
    )
    assert body["publishedAt"] is None and body["projectId"] == 1
    assert "village_check" not in form_list(collect)  # a draft is not offered to phones

    draft = client.get(f"{BASE}/village_check/draft", headers=manager).json
    assert len(draft["draftToken"]) >= 60 and draft["version"] == "2026120201"
    listed = client.get(f"{BASE}/village_check/draft/attachments", headers=manager).json
    assert [(a["name"], a["exists"]) for a in listed] == [("villages.csv", False)]

    stored = upload(client, manager, "village_check", "villages.csv", VILLAGES_CSV)
    assert stored.status_code == 200 and stored.json["exists"] is True
    published = client.post(f"{BASE}/village_check/draft/publish", headers=manager)
    assert (published.status_code, published.json) == (200, {"success": True})

    entry = form_list(collect)["village_check"]
    xml = client.get(f"{BASE}/village_check.xml", headers=manager).data
    assert entry["version"] == "2026120201" and entry["hash"] == "md5:" + hashlib.md5(xml).hexdigest()
    assert manifest(collect, "village_check")["villages.csv"][0] == "md5:" + hashlib.md5(VILLAGES_CSV).hexdigest()
    form = client.get(f"{BASE}/village_check", headers=manager).json
    assert form["publishedAt"] is not None and form["draftToken"] is None
    assert client.get(f"{BASE}/village_check/draft", headers=manager).status_code == 404
    assert client.get(f"{BASE}/village_check.xlsx", headers=manager).data == sent
    assert client.get(f"{BASE}/village_check.xls", headers=manager).status_code == 404


def test_an_xform_xml_is_accepted_and_published_at_once(client, manager, collect) -> None:  # noqa: ANN001
    xml = compile_xlsform(DATA / "forms" / "photo_form.md", validate=False).xml
    created = create(client, manager, xml, "application/xml", "?publish=true")
    assert created.status_code == 200, created.json
    assert created.json["publishedAt"] is not None
    assert form_list(collect)["photo_form"]["hash"] == "md5:" + hashlib.md5(xml).hexdigest()
    assert client.get(f"{BASE}/photo_form.xlsx", headers=manager).status_code == 404


def test_a_broken_xlsx_is_a_400_15_naming_the_row_and_leaves_nothing(client, manager, services) -> None:  # noqa: ANN001
    survey = [*SURVEY, ["integer", "members", "Members again", "", ""]]
    refused = create(client, manager, workbook(survey=survey))
    assert refused.status_code == 400
    assert refused.json["code"] == 400.15
    problems = refused.json["details"]["problems"]
    assert [(p["sheet"], p["row"], p["column"], p["question"], p["kind"]) for p in problems] == [
        ("survey", 6, "name", "members", "error"),
        ("survey", 4, "name", "members", "error"),
    ]
    assert refused.json["message"] == refused.json["details"]["error"]
    assert "row 6" in refused.json["message"] and "first used in row 4" in refused.json["message"]
    assert counts(services) == (0, 0, 0)


def test_warnings_are_a_400_16_until_accepted(client, manager) -> None:  # noqa: ANN001
    survey = [
        ["type", "name", "label"], ["begin repeat", "people", ""], ["text", "pname", "Name"], ["end repeat", "", ""]
    ]
    warned = create(client, manager, workbook("people", survey=survey), query="?ignoreWarnings=false")
    assert (warned.status_code, warned.json["code"]) == (400, 400.16)
    assert warned.json["details"]["warnings"]["xlsFormWarnings"][0].startswith("form.xlsx, sheet 'survey', row 2")
    assert [(p["row"], p["kind"]) for p in warned.json["details"]["problems"]] == [(2, "warning")]
    accepted = create(client, manager, workbook("people", survey=survey), query="?ignoreWarnings=true")
    assert accepted.status_code == 200, accepted.json


def test_the_form_id_fallback_names_a_form_without_one(client, manager) -> None:  # noqa: ANN001
    created = client.post(
        BASE,
        data=workbook(form_id=""),
        content_type=XLSX,
        headers={**manager, "X-XlsForm-FormId-Fallback": "from%20file"},
    )
    assert created.status_code == 200, created.json
    assert created.json["xmlFormId"] == "from_file"


def test_a_second_form_with_the_same_id_is_a_409_3(client, manager) -> None:  # noqa: ANN001
    assert create(client, manager, workbook()).status_code == 200
    again = create(client, manager, workbook())
    assert (again.status_code, again.json["code"]) == (409, 409.3)
    assert "village_check,1" in again.json["message"]


def published(client, manager) -> None:  # noqa: ANN001
    assert create(client, manager, workbook()).status_code == 200
    assert upload(client, manager, "village_check", "villages.csv", VILLAGES_CSV).status_code == 200
    assert client.post(f"{BASE}/village_check/draft/publish", headers=manager).status_code == 200


def test_a_draft_of_the_current_version_takes_new_media_and_a_new_version(client, manager, collect) -> None:  # noqa: ANN001
    published(client, manager)
    assert client.post(f"{BASE}/village_check/draft", headers=manager).json == {"success": True}
    changed = VILLAGES_CSV + "150102001003,三村\n".encode()
    assert upload(client, manager, "village_check", "villages.csv", changed).status_code == 200
    same = client.post(f"{BASE}/village_check/draft/publish", headers=manager)
    assert (same.status_code, same.json["code"]) == (409, 409.6)
    assert "villages.csv changed" in same.json["message"]
    ok = client.post(f"{BASE}/village_check/draft/publish?version=2026120202", headers=manager)
    assert ok.status_code == 200, ok.json
    entry = form_list(collect)["village_check"]
    assert entry["version"] == "2026120202"
    xml = client.get(f"{BASE}/village_check.xml", headers=manager).data
    assert etree.fromstring(xml).find(".//{http://www.w3.org/2002/xforms}instance")[0].get("version") == "2026120202"
    assert manifest(collect, "village_check")["villages.csv"][0] == "md5:" + hashlib.md5(changed).hexdigest()
    versions = client.get(f"{BASE}/village_check/versions", headers=manager).json
    assert [v["version"] for v in versions] == ["2026120202", "2026120201"]


def test_a_new_definition_keeps_the_media_it_still_names(client, manager, collect) -> None:  # noqa: ANN001
    published(client, manager)
    survey = [*SURVEY, ["text", "phone", "Phone", "", ""]]
    replaced = client.post(
        f"{BASE}/village_check/draft", data=workbook(version="2026120203", survey=survey), content_type=XLSX,
        headers=manager,
    )
    assert replaced.json == {"success": True}
    listed = client.get(f"{BASE}/village_check/draft/attachments", headers=manager).json
    assert [(a["name"], a["exists"]) for a in listed] == [("villages.csv", True)]
    assert client.post(f"{BASE}/village_check/draft/publish", headers=manager).status_code == 200
    assert form_list(collect)["village_check"]["version"] == "2026120203"


def test_another_form_id_in_a_new_draft_is_refused(client, manager) -> None:  # noqa: ANN001
    published(client, manager)
    other = client.post(f"{BASE}/village_check/draft", data=workbook("other"), content_type=XLSX, headers=manager)
    assert other.status_code == 400 and "other" in other.json["message"]


def test_publishing_with_media_missing_is_refused_with_their_names(client, manager, collect) -> None:  # noqa: ANN001
    assert create(client, manager, workbook()).status_code == 200
    refused = client.post(f"{BASE}/village_check/draft/publish", headers=manager)
    assert (refused.status_code, refused.json["code"]) == (400, 400.2)
    assert "villages.csv" in refused.json["message"]
    assert "village_check" not in form_list(collect)


def test_an_attachment_the_draft_does_not_name_is_a_404(client, manager) -> None:  # noqa: ANN001
    assert create(client, manager, workbook()).status_code == 200
    assert upload(client, manager, "village_check", "other.csv", b"x").status_code == 404


def test_deleting_a_draft(client, manager) -> None:  # noqa: ANN001
    assert create(client, manager, workbook()).status_code == 200
    never = client.delete(f"{BASE}/village_check/draft", headers=manager)
    assert (never.status_code, never.json["code"]) == (409, 409.7)
    assert upload(client, manager, "village_check", "villages.csv", VILLAGES_CSV).status_code == 200
    assert client.post(f"{BASE}/village_check/draft/publish", headers=manager).status_code == 200
    assert client.post(f"{BASE}/village_check/draft", headers=manager).status_code == 200
    assert client.delete(f"{BASE}/village_check/draft", headers=manager).json == {"success": True}
    assert client.delete(f"{BASE}/village_check/draft", headers=manager).status_code == 404


@pytest.mark.parametrize(("state", "listed"), [("closing", False), ("closed", False), ("open", True)])
def test_patch_sets_the_state(client, manager, collect, state: str, listed: bool) -> None:  # noqa: ANN001
    published(client, manager)
    patched = client.patch(f"{BASE}/village_check", json={"state": state}, headers=manager)
    assert (patched.status_code, patched.json["state"]) == (200, state)
    assert ("village_check" in form_list(collect)) is listed
    bad = client.patch(f"{BASE}/village_check", json={"state": "archived"}, headers=manager)
    assert bad.status_code == 400


def test_only_roles_that_manage_forms_may_change_them(client, supervisor, manager) -> None:  # noqa: ANN001
    denied = create(client, supervisor, workbook())
    assert (denied.status_code, denied.json["code"]) == (403, 403.1)
    published(client, manager)
    for method, url in [
        ("post", f"{BASE}/village_check/draft"),
        ("post", f"{BASE}/village_check/draft/publish"),
        ("delete", f"{BASE}/village_check/draft"),
        ("patch", f"{BASE}/village_check"),
        ("get", f"{BASE}/village_check/draft"),
    ]:
        assert getattr(client, method)(url, headers=supervisor).status_code == 403, url
    assert client.get(f"{BASE}/village_check/versions", headers=supervisor).status_code == 200


def test_a_form_with_only_a_draft_is_for_form_managers_and_has_nothing_to_export(client, manager, supervisor) -> None:  # noqa: ANN001
    assert create(client, manager, workbook()).status_code == 200
    assert [f["xmlFormId"] for f in client.get(BASE, headers=manager).json] == ["village_check"]
    assert client.get(BASE, headers=supervisor).json == []
    assert client.get(f"{BASE}/village_check", headers=supervisor).status_code == 403
    assert client.get(f"{BASE}/village_check", headers=manager).json["draftToken"] is None  # only .../draft has it
    for export in ("/submissions.csv", "/submissions.csv.zip", "/submissions.xlsx", ".svc", ".svc/Submissions"):
        answer = client.get(f"{BASE}/village_check{export}", headers=manager)
        assert (answer.status_code, answer.json["code"]) == (404, 404.1), export
        assert "no published version" in answer.json["message"]


def test_a_body_that_is_no_spreadsheet_is_a_400_15_in_words(client, manager, services) -> None:  # noqa: ANN001
    refused = create(client, manager, b"PK\x03\x04 this is not a workbook")
    assert (refused.status_code, refused.json["code"]) == (400, 400.15)
    assert "not a ZIP archive" in refused.json["message"]
    as_xml = create(client, manager, b"\x00\x01 neither XML", "application/xml")
    assert (as_xml.status_code, as_xml.json["code"]) == (400, 400.15)
    assert counts(services) == (0, 0, 0)


def test_a_body_past_the_upload_limit_is_a_413_and_leaves_nothing(services, project, manager, tmp_path) -> None:  # noqa: ANN001
    from dataclasses import replace

    from server.app import create_app
    from server.services import Services

    small = Services(**{**services.__dict__, "settings": replace(services.settings, max_upload_bytes=4096)})
    client = create_app(services=small).test_client()
    body = workbook(survey=[*SURVEY, *[["text", f"q{i}", "Q" * 200, "", ""] for i in range(60)]])
    assert len(body) > 4096
    refused = create(client, manager, body)
    assert refused.status_code == 413
    assert counts(services) == (0, 0, 0)


def test_the_previous_version_keeps_accepting_submissions(client, manager, collect, services) -> None:  # noqa: ANN001
    from tests.collect import instance_xml, submission_body

    published(client, manager)
    assert client.post(f"{BASE}/village_check/draft", headers=manager).status_code == 200
    assert client.post(f"{BASE}/village_check/draft/publish?version=2026120202", headers=manager).status_code == 200
    old = instance_xml("village_check", "2026120201", "uuid:from-an-old-phone", {"head": "张三"})
    assert collect.post(submission_body(old)).status_code == 201
    new = instance_xml("village_check", "2026120202", "uuid:from-an-updated-phone", {"head": "李四"})
    assert collect.post(submission_body(new)).status_code == 201
    listed = client.get(f"{BASE}/village_check/submissions", headers=manager).json
    assert sorted(s["instanceId"] for s in listed) == ["uuid:from-an-old-phone", "uuid:from-an-updated-phone"]


def test_a_lookup_of_a_column_the_uploaded_csv_lacks_is_refused_at_publish(client, manager, collect) -> None:  # noqa: ANN001
    book = workbook(
        survey=[
            [*SURVEY[0], "calculation"],
            *[[*row, ""] for row in SURVEY[1:]],
            ["calculate", "district", "", "", "", "instance('villages')/root/item[name=${village}]/district"],
        ]
    )
    assert create(client, manager, book).status_code == 200  # the CSV is not there yet: nothing to compare
    assert upload(client, manager, "village_check", "villages.csv", VILLAGES_CSV).status_code == 200
    refused = client.post(f"{BASE}/village_check/draft/publish", headers=manager)
    assert (refused.status_code, refused.json["code"]) == (400, 400.15)
    (problem,) = refused.json["details"]["problems"]
    assert (problem["sheet"], problem["row"], problem["column"], problem["question"]) == (
        "survey", 6, "calculation", "district",
    )
    assert "villages.csv has no column 'district'" in problem["message"]
    with_district = b"name,label,district\n150102001001,A,east\n"
    assert upload(client, manager, "village_check", "villages.csv", with_district).status_code == 200
    assert client.post(f"{BASE}/village_check/draft/publish", headers=manager).status_code == 200
    assert form_list(collect)["village_check"]["version"] == "2026120201"


def test_a_draft_summary_says_what_will_go_out(client, manager, services) -> None:  # noqa: ANN001
    from sync.db.models import Form as FormRow
    from sync.intake.draft_summary import summarize

    assert create(client, manager, workbook()).status_code == 200
    with services.sessions() as session:
        form = session.scalar(select(FormRow))
        summary = summarize(form, form.draft)
        assert (summary.form_id, summary.version, summary.title) == ("village_check", "2026120201", "Village check")
        assert summary.questions == 4 and summary.missing_media == ("villages.csv",) and not summary.ready
    assert upload(client, manager, "village_check", "villages.csv", VILLAGES_CSV).status_code == 200
    with services.sessions() as session:
        form = session.scalar(select(FormRow))
        assert summarize(form, form.draft).ready
