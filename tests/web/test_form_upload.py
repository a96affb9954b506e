"""The form designers' upload page in a real Chromium, and who gets it, on both databases.

A designer drags a broken XLSForm onto the page, reads the error on its row, uploads the fixed one,
adds the missing media, publishes, and a Collect-like client sees the new version with the right hashes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re

import pytest

from tests.formsapi.workbooks import SURVEY, VILLAGES_CSV, XLSX, workbook
from tests.sync.test_publishing import form_list, manifest
from tests.web.test_browser import sign_in, tab  # noqa: F401 - the page fixture that fails on CSP violations
from tests.web.test_queue import signed_in
from tests.web.workspace import basic

DROP = """([name, type, data]) => {
  const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type}));
  const zone = document.querySelector('[data-dropzone]');
  zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true, cancelable: true}));
  zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
}"""


def drop(tab, name: str, data: bytes) -> None:  # noqa: ANN001, F811
    """Drop a file on the upload form as a file manager does (the page's script fills the input and sends it)."""
    with tab.expect_navigation():
        tab.evaluate(DROP, [name, XLSX, base64.b64encode(data).decode()])


def test_drop_a_broken_form_read_its_row_fix_it_publish_and_phones_get_it(tab, accounts, collect, client) -> None:  # noqa: ANN001, F811
    sign_in(tab, "manager", "project")
    tab.click("nav.main >> text=上传表单")
    assert tab.locator("h1").inner_text() == "上传表单"

    duplicated = [*SURVEY, ["integer", "members", "Members again", "", ""]]
    drop(tab, "village_check.xlsx", workbook(survey=duplicated))
    errors = tab.locator("table[data-kind=error] tbody tr")
    cells = errors.evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.innerText))")
    assert [row[:4] for row in cells] == [["survey", "6", "name", "members"], ["survey", "4", "name", "members"]]
    assert "first used in row 4" in cells[0][4]
    sentence = tab.locator("[data-problems] [role=alert]").inner_text()  # the sentence the CLI and the API give
    assert "row 6" in sentence and "first used in row 4" in sentence
    assert "village_check" not in form_list(collect)

    tab.set_input_files("input[name=file]", files=[{"name": "village_check.xlsx", "mimeType": XLSX,
                                                    "buffer": workbook()}])
    tab.click("[data-dropzone] button[type=submit]")
    assert "准备发布" not in tab.locator("[data-summary]").inner_text()
    assert tab.locator("[data-field=missing]").inner_text() == "villages.csv"
    assert tab.locator("[data-field=questions]").inner_text() == "4"
    assert tab.locator("[data-draft-qr] svg").count() == 1
    assert "/v1/test/" in tab.locator("[data-draft-url]").inner_text()

    tab.set_input_files("[data-media='villages.csv'] input[type=file]",
                        files=[{"name": "villages.csv", "mimeType": "text/csv", "buffer": VILLAGES_CSV}])
    tab.click("[data-media='villages.csv'] button")
    assert "准备发布" in tab.locator("[data-summary]").inner_text()
    tab.click("[data-publish]")
    assert "已发布" in tab.locator(".notice.success").inner_text()

    entry = form_list(collect)["village_check"]
    xml = client.get("/v1/projects/1/forms/village_check.xml", headers=basic("manager", "project")).data
    assert entry["version"] == "2026120201" and entry["hash"] == "md5:" + hashlib.md5(xml).hexdigest()
    assert manifest(collect, "village_check")["villages.csv"][0] == "md5:" + hashlib.md5(VILLAGES_CSV).hexdigest()


def test_warnings_are_shown_apart_and_accepted_on_request(tab, accounts) -> None:  # noqa: ANN001, F811
    survey = [["type", "name", "label"], ["begin repeat", "people", ""], ["text", "pname", "Name"],
              ["end repeat", "", ""]]
    sign_in(tab, "manager", "project")
    tab.goto(tab.base + "/projects/1/form-upload")
    sheet = [{"name": "people.xlsx", "mimeType": XLSX, "buffer": workbook("people", survey=survey)}]
    tab.set_input_files("input[name=file]", files=sheet)
    tab.click("[data-dropzone] button[type=submit]")
    assert tab.locator("table[data-kind=error]").count() == 0
    assert tab.locator("table[data-kind=warning] tbody tr").count() >= 1
    tab.set_input_files("input[name=file]", files=sheet)
    tab.check("input[name=ignore_warnings]")
    tab.click("[data-dropzone] button[type=submit]")
    assert tab.locator("[data-field=form_id]").inner_text() == "people"
    tab.click("text=查看草稿的问题")
    assert tab.locator("li[data-path='/data/people/pname']").count() == 1


@pytest.mark.parametrize("role", ["supervisor", "viewer", "enumerator"])
def test_roles_that_do_not_manage_forms_get_no_upload_page(app, accounts, role: str) -> None:  # noqa: ANN001
    client = signed_in(app, role, "project")
    home = client.get("/projects/1/households" if role != "enumerator" else "/projects", follow_redirects=True)
    assert "上传表单" not in home.get_data(as_text=True)
    refused = client.get("/projects/1/form-upload")
    assert refused.status_code == 403 and "不允许" in refused.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.get_data(as_text=True)).group(1)
    posted = client.post("/projects/1/form-upload", data={"csrf_token": token, "file": (io.BytesIO(workbook()),
                                                                                         "village_check.xlsx")})
    assert posted.status_code == 403
    assert client.get("/projects/1/form-upload/village_check").status_code == 403
    assert client.get("/projects/2/form-upload").status_code == 404


def test_a_manager_sees_the_upload_page_in_the_menu(app, accounts) -> None:  # noqa: ANN001
    client = signed_in(app, "manager", "project")
    home = client.get("/projects/1/households").get_data(as_text=True)
    assert "/projects/1/form-upload" in home
    assert client.get("/projects/1/form-upload/village_check").status_code == 404  # no such form yet


RULES_SURVEY = [
    ["type", "name", "label", "relevant", "constraint"],
    ["integer", "members", "Members", "", ". > 0"],
    ["text", "why", "Why so many", "${members} > 5", ""],
]


def _post_file(client, url: str, token: str, name: str, data: bytes):  # noqa: ANN001, ANN202
    return client.post(url, data={"csrf_token": token, "file": (io.BytesIO(data), name)})


def test_preview_shows_the_rules_and_a_reused_version_is_refused_with_the_reason(app, accounts) -> None:  # noqa: ANN001
    client = signed_in(app, "manager", "project")
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/projects/1/form-upload").get_data(as_text=True)).group(1)
    sent = _post_file(client, "/projects/1/form-upload", token, "rules.xlsx",
                      workbook("rules", "1", RULES_SURVEY, title="Rules"))
    assert sent.status_code == 302 and sent.location.endswith("/projects/1/form-upload/rules")
    shown = client.get("/projects/1/form-upload/rules/preview").get_data(as_text=True)
    assert 'data-path="/data/why"' in shown and "显示条件" in shown and "${members} &gt; 5" in shown
    assert ". &gt; 0" in shown
    assert client.post("/projects/1/form-upload/rules/publish", data={"csrf_token": token}).status_code == 302

    changed = [*RULES_SURVEY[:2], ["text", "why", "Why", "${members} > 6", ""]]
    assert _post_file(client, "/projects/1/form-upload", token, "rules.xlsx",
                      workbook("rules", "1", changed, title="Rules")).status_code == 302
    refused = client.post("/projects/1/form-upload/rules/publish", data={"csrf_token": token}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "is already published with different content" in text and "Change the version" in text
    assert "准备发布" in text  # the draft is still there to fix

    wrong = _post_file(client, "/projects/1/form-upload", token, "notes.txt", b"not a form")
    assert wrong.status_code == 400 and "XLSX" in wrong.get_data(as_text=True)


def test_a_manager_of_a_township_gets_neither_the_menu_entry_nor_the_page(app, accounts) -> None:  # noqa: ANN001
    """Forms are the whole project's: a township's manager publishes nothing for the other townships."""
    client = signed_in(app, "manager", "township_a")
    home = client.get("/projects/1/households").get_data(as_text=True)
    assert "/projects/1/form-upload" not in home
    refused = client.get("/projects/1/form-upload")
    assert refused.status_code == 403 and "不允许" in refused.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
    posted = client.post("/projects/1/form-upload", data={"csrf_token": token, "file": (io.BytesIO(workbook()),
                                                                                         "village_check.xlsx")})
    assert posted.status_code == 403
