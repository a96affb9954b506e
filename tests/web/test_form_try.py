"""The form preview in ODK Web Forms, in a real Chromium, on both databases.

The bundle the page runs is built from server/static_src/webforms/ (its README says how to rebuild it);
the page's policy (server/security_headers.PREVIEW_POLICY) must let it run without a single CSP report,
its media must come from our own URLs, and pressing Send must create nothing.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from sqlalchemy import func, select

from sync.db.models import DraftSubmission, Submission
from tests.formsapi.workbooks import VILLAGES_CSV, workbook
from tests.web.test_browser import sign_in, tab  # noqa: F401 - the page fixture that fails on CSP violations
from tests.web.test_queue import signed_in

STATIC = Path(__file__).parents[2] / "server" / "static" / "webforms"
SOURCE = Path(__file__).parents[2] / "server" / "static_src" / "webforms"
TRY_SURVEY = [
    ["type", "name", "label", "relevant"],
    ["select_one_from_file villages.csv", "village", "Village", ""],
    ["integer", "members", "Members", ""],
    ["text", "why", "Why so many people", "${members} > 5"],
]


def _draft(app, name: str = "try_me"):  # noqa: ANN001, ANN202
    """A signed-in manager's client with a draft of ``name`` whose media file is uploaded."""
    client = signed_in(app, "manager", "project")
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/projects/1/form-upload").get_data(as_text=True)).group(1)
    sent = client.post("/projects/1/form-upload", data={
        "csrf_token": token, "file": (io.BytesIO(workbook(name, "1", TRY_SURVEY, title="Try me")), f"{name}.xlsx")})
    assert sent.status_code == 302, sent.get_data(as_text=True)
    media = client.post(f"/projects/1/form-upload/{name}/media/villages.csv", data={
        "csrf_token": token, "file": (io.BytesIO(VILLAGES_CSV), "villages.csv")})
    assert media.status_code == 302
    return client, token


def _count(services, model) -> int:  # noqa: ANN001
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_fill_in_the_draft_and_a_published_version_in_web_forms(tab, app, accounts, services) -> None:  # noqa: ANN001, F811
    client, token = _draft(app)
    sign_in(tab, "manager", "project")
    tab.goto(tab.base + "/projects/1/form-upload/try_me")
    posts: list[str] = []
    tab.on("request", lambda request: posts.append(request.url) if request.method != "GET" else None)
    fetched: list[str] = []
    tab.on("request", lambda request: fetched.append(request.url))
    tab.click("[data-try]")
    form = tab.locator("[data-webforms] .odk-form")
    form.wait_for(timeout=60_000)
    assert "Try me" in form.inner_text()
    assert "一村" in form.inner_text() and "二村" in form.inner_text()  # villages.csv, from our media URL
    assert tab.get_by_text("Why so many people").count() == 0
    members = tab.get_by_role("spinbutton")
    members.press_sequentially("7")
    members.press("Tab")  # Web Forms takes the number when the field is left
    tab.get_by_text("Why so many people").wait_for()  # relevant: ${members} > 5
    tab.get_by_role("button", name="Send").click()
    tab.locator("[data-preview-sent]").wait_for(state="visible")
    assert posts == [], "the preview sent something"
    assert all(url.startswith(tab.base) for url in fetched), fetched
    assert any(url.endswith("/try_me/try/media/villages.csv") for url in fetched)
    assert _count(services, DraftSubmission) == 0 and _count(services, Submission) == 0

    assert client.post("/projects/1/form-upload/try_me/publish", data={"csrf_token": token}).status_code == 302
    tab.goto(tab.base + "/projects/1/form-upload")
    tab.click("li[data-form=try_me] [data-try]")
    tab.locator("[data-webforms] .odk-form").wait_for(timeout=60_000)
    assert "一村" in tab.locator("[data-webforms]").inner_text()
    assert "/versions/1/try" in tab.url


def test_the_preview_routes_and_their_policy(app, accounts) -> None:  # noqa: ANN001
    client, _token = _draft(app, "try_routes")
    page = client.get("/projects/1/form-upload/try_routes/try")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert 'data-form="/projects/1/form-upload/try_routes/try/form.xml"' in page.get_data(as_text=True)
    xml = client.get("/projects/1/form-upload/try_routes/try/form.xml")
    assert xml.status_code == 200 and b"<h:html" in xml.data and "sandbox" in xml.headers["Content-Security-Policy"]
    assert client.get("/projects/1/form-upload/try_routes/try/media/villages.csv").data == VILLAGES_CSV
    assert client.get("/projects/1/form-upload/try_routes/try/media/other.csv").status_code == 404
    assert client.get("/projects/1/form-upload/try_routes/versions/1/try").status_code == 404  # not published
    other = client.get("/projects/1/households")  # every other page keeps the app's policy
    assert other.headers["Content-Security-Policy"].startswith("default-src 'self'; base-uri")


def test_the_committed_bundle_is_the_one_the_build_writes() -> None:
    """The built files are committed (pip needs no Node); the build names them as the page links them."""
    config = (SOURCE / "vite.config.js").read_text()
    assert 'outDir: "../../static/webforms"' in config and 'entryFileNames: "webforms.js"' in config
    entry = (STATIC / "webforms.js").read_text()
    chunks = set(re.findall(r'"\./(webforms-[\w-]+\.js)"', entry))
    assert chunks and all((STATIC / chunk).is_file() for chunk in chunks)
    assert "@font-face" not in entry  # the build drops the embedded Roboto faces
    locked = json.loads((SOURCE / "package-lock.json").read_text())["packages"]
    assert locked["node_modules/@getodk/web-forms"]["license"] == "Apache-2.0"
    version = locked["node_modules/@getodk/web-forms"]["version"]
    assert f"@getodk/web-forms {version}" in (STATIC / "NOTICE.txt").read_text()
