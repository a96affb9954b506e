"""A draft on a test phone: its own URL and token, downloads with correct hashes, test submissions that
never reach the queue, the registry or the exports, and are discarded when the draft is published.
"""

from __future__ import annotations

import csv
import hashlib
import io

from lxml import etree
from sqlalchemy import func, select

from server.safe_text import log_path
from sync.db.models import DraftSubmission, Household, Job, Submission, SubmissionVersion
from tests.collect import instance_xml, submission_body
from tests.formsapi.test_forms_api import BASE, create, upload
from tests.formsapi.workbooks import VILLAGES_CSV, workbook
from tests.protocol.conftest import Collect

FORMLIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
JPEG = b"\xff\xd8\xff\xe0" + b"0" * 64 + b"\xff\xd9"


def draft_phone(client, manager) -> tuple[Collect, str]:  # noqa: ANN001
    assert create(client, manager, workbook()).status_code == 200
    assert upload(client, manager, "village_check", "villages.csv", VILLAGES_CSV).status_code == 200
    token = client.get(f"{BASE}/village_check/draft", headers=manager).json["draftToken"]
    return Collect(client, f"/v1/test/{token}/projects/1/forms/village_check/draft"), token


def rows(services) -> dict[str, int]:  # noqa: ANN001
    with services.sessions() as session:
        return {
            m.__name__: session.scalar(select(func.count()).select_from(m))
            for m in (Submission, SubmissionVersion, Job, Household, DraftSubmission)
        }


def test_a_test_phone_downloads_the_draft_with_correct_hashes(client, manager) -> None:  # noqa: ANN001
    phone, _token = draft_phone(client, manager)
    listing = phone.form_list()
    assert listing.status_code == 200 and listing.headers["X-OpenRosa-Version"] == "1.0"
    (entry,) = etree.fromstring(listing.data).findall(f"{FORMLIST}xform")
    assert entry.findtext(f"{FORMLIST}formID") == "village_check"
    assert entry.findtext(f"{FORMLIST}version") == "2026120201"
    xml = phone.get(entry.findtext(f"{FORMLIST}downloadUrl").replace("http://localhost", "")).data
    assert entry.findtext(f"{FORMLIST}hash") == "md5:" + hashlib.md5(xml).hexdigest()
    assert xml == client.get(f"{BASE}/village_check/draft.xml", headers=manager).data
    media = etree.fromstring(phone.get(entry.findtext(f"{FORMLIST}manifestUrl").replace("http://localhost", "")).data)
    (item,) = media.findall(f"{MANIFEST}mediaFile")
    assert item.findtext(f"{MANIFEST}filename") == "villages.csv"
    assert item.findtext(f"{MANIFEST}hash") == "md5:" + hashlib.md5(VILLAGES_CSV).hexdigest()
    url = item.findtext(f"{MANIFEST}downloadUrl").replace("http://localhost", "")
    assert "/draft/attachments/villages.csv" in url
    assert phone.get(url).data == VILLAGES_CSV


def test_test_submissions_reach_nothing_and_go_with_the_published_draft(client, manager, services) -> None:  # noqa: ANN001
    phone, token = draft_phone(client, manager)
    assert phone.head().status_code == 204  # Collect's HEAD before each upload
    xml = instance_xml(
        "village_check", "2026120201", "uuid:test-1",
        {"village": "150102001001", "head": "张三", "members": "4", "house": "house.jpg"},
    )
    sent = phone.post(submission_body(xml, {"house.jpg": JPEG}))
    assert sent.status_code == 201, sent.data
    assert phone.post(submission_body(xml, {"house.jpg": JPEG})).status_code == 201  # a resend is no new row
    changed = instance_xml("village_check", "2026120201", "uuid:test-1", {"head": "李四"})
    assert phone.post(submission_body(changed)).status_code == 409
    assert rows(services) == {
        "Submission": 0, "SubmissionVersion": 0, "Job": 0, "Household": 0, "DraftSubmission": 1,
    }

    assert client.post(f"{BASE}/village_check/draft/publish", headers=manager).status_code == 200
    assert rows(services)["DraftSubmission"] == 0
    export = client.get(f"{BASE}/village_check/submissions.csv", headers=manager)
    assert export.status_code == 200
    assert list(csv.reader(io.StringIO(export.data.decode("utf-8-sig"))))[1:] == []
    assert client.get(f"{BASE}/village_check/submissions", headers=manager).json == []
    gone = phone.form_list()
    assert gone.status_code == 404 and b"draft testing endpoint" in gone.data
    assert log_path(f"/v1/test/{token}/projects/1/forms/village_check/draft/formList") == (
        "/v1/test/***/projects/1/forms/village_check/draft/formList"
    )


def test_a_submission_for_another_version_is_refused(client, manager) -> None:  # noqa: ANN001
    phone, _token = draft_phone(client, manager)
    old = instance_xml("village_check", "2026112201", "uuid:old", {"head": "王五"})
    refused = phone.post(submission_body(old))
    assert refused.status_code == 404 and b"Download the draft again" in refused.data


def test_deleting_or_replacing_the_draft_discards_its_test_submissions(client, manager, services) -> None:  # noqa: ANN001
    phone, token = draft_phone(client, manager)
    assert client.post(f"{BASE}/village_check/draft/publish", headers=manager).status_code == 200
    assert client.post(f"{BASE}/village_check/draft", headers=manager).status_code == 200
    new_token = client.get(f"{BASE}/village_check/draft", headers=manager).json["draftToken"]
    assert new_token != token
    phone = Collect(client, f"/v1/test/{new_token}/projects/1/forms/village_check/draft")
    xml = instance_xml("village_check", "2026120201", "uuid:test-2", {"head": "赵六"})
    assert phone.post(submission_body(xml)).status_code == 201
    assert rows(services)["DraftSubmission"] == 1
    assert client.delete(f"{BASE}/village_check/draft", headers=manager).status_code == 200
    assert rows(services)["DraftSubmission"] == 0
    assert phone.form_list().status_code == 404
