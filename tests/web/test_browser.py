"""The review workspace in a real headless Chromium against the server on 127.0.0.1, on both databases."""

from __future__ import annotations

import pytest

from tests.web.workspace import PASSWORD, email

CSP_REPORT = "Content Security Policy"  # Chromium reports every refused script, style or image to the console


@pytest.fixture
def tab(browser, live_server):  # noqa: ANN001, ANN201
    """A page of the workspace; a test fails if the browser refused anything under the pages' policy."""
    page = browser.new_page()
    page.base = live_server.url
    page.csp_violations = []
    page.on("console", lambda message: page.csp_violations.append(message.text) if CSP_REPORT in message.text
            else None)
    yield page
    assert page.csp_violations == [], "the browser refused parts of a page under its Content-Security-Policy"


def sign_in(tab, role: str, key: str) -> None:  # noqa: ANN001
    tab.goto(tab.base + "/")
    tab.fill("input[name=email]", email(role, key))
    tab.fill("input[name=password]", PASSWORD)
    with tab.expect_navigation():  # callers read the signed-in page at once: wait for it to load
        tab.click("button[type=submit]")


def test_sign_in_refuses_a_wrong_password_and_signs_out(tab, accounts) -> None:  # noqa: ANN001
    tab.goto(tab.base + "/")
    assert tab.url.endswith("/sign-in")
    assert tab.locator("h1").inner_text() == "登录"
    tab.fill("input[name=email]", email("supervisor", "township_a"))
    tab.fill("input[name=password]", "not the password")
    tab.click("button[type=submit]")
    assert "电子邮箱或密码错误" in tab.locator("[role=alert]").inner_text()
    sign_in(tab, "supervisor", "township_a")
    assert "察素齐镇" in tab.locator("main").inner_text()
    with tab.expect_navigation():
        tab.click("text=退出登录")
    assert tab.url.endswith("/sign-in")
    tab.goto(tab.base + "/projects")
    assert "/sign-in" in tab.url


def test_a_form_posted_without_its_csrf_token_is_refused(tab, accounts) -> None:  # noqa: ANN001
    sign_in(tab, "supervisor", "township_a")
    tab.evaluate("document.querySelector('form.inline input[name=csrf_token]').remove()")
    with tab.expect_navigation():
        tab.click("text=退出登录")
    assert "表单已过期" in tab.content()
    tab.goto(tab.base + "/projects")
    assert "/sign-in" not in tab.url, "the refused sign-out must not have signed out"


def test_filter_open_approve_and_stay_in_the_township(tab, small_county, project, services) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from sync.db.models import Submission
    from tests.web.workspace import TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A

    sign_in(tab, "supervisor", "township_a")
    assert tab.locator("h1").first.inner_text().startswith("提交记录")
    tab.select_option("select[name=township]", TOWNSHIP_A)
    tab.select_option("select[name=verdict]", ["C", "D"])
    with tab.expect_navigation():  # the filtered page's rows are read at once: wait for it to load
        tab.click("button:has-text('筛选')")
    rows = tab.locator("tr[data-instance]")
    shown = sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.instance)"))
    assert shown == sorted(small_county.instances(TOWNSHIP_A, "CD"))
    # Open the C/D appraisal that has a photo, and see its thumbnail load.
    with_photo = next(i for i in shown if i in small_county.photo)
    tab.click(f"tr[data-instance='{with_photo}'] td:nth-child(2) a")
    image = tab.locator("figure.photo img").first
    image.wait_for()
    assert tab.evaluate("img => img.complete && img.naturalWidth > 0", image.element_handle())
    tab.fill("textarea[name=note]", "照片清楚，同意")
    tab.click("button.approve")
    assert "已保存" in tab.locator(".notice.success").inner_text()
    with services.sessions() as session:
        assert session.scalar(select(Submission.review_state).where(Submission.instance_id == with_photo)) == "approved"
    # Another township's submission, photo and pages are not there for this supervisor.
    other = next(i for i in small_county.instances(TOWNSHIP_B) if i in small_county.photo)
    response = tab.goto(f"{tab.base}/projects/{project.id}/forms/house_appraisal/submissions/{other}")
    assert response.status == 404 and "不在您的辖区" in tab.content()
    with services.sessions() as session:
        found = session.scalar(select(Submission).where(Submission.instance_id == other))
        sha = found.versions[-1].attachments[0].sha256
        other_household = found.household_code
    assert tab.goto(f"{tab.base}/projects/{project.id}/photos/{sha}/1024").status == 404
    assert tab.goto(f"{tab.base}/projects/{project.id}/households/{other_household}").status == 404
    assert VILLAGE_A in with_photo


def test_bulk_approve_a_filtered_set_of_thirty(tab, county_of_30, project, services) -> None:  # noqa: ANN001
    from sqlalchemy import select

    from sync.db.models import Submission
    from tests.web.workspace import TOWNSHIP_A

    with services.sessions() as session:
        before = dict(session.execute(select(Submission.instance_id, Submission.review_state)).all())
    sign_in(tab, "supervisor", "county")
    tab.select_option("select[name=form]", "house_appraisal")
    tab.select_option("select[name=township]", TOWNSHIP_A)
    with tab.expect_navigation():  # the old page's heading would be read otherwise
        tab.click("button:has-text('筛选')")
    assert "共 30 条" in tab.locator("h1").inner_text()
    tab.check("#bulk input[name=all]")
    tab.fill("#bulk input[name=note]", "抽查无误")
    tab.click("#bulk button.approve")
    assert "已保存 30 条记录" in tab.locator(".notice.success").inner_text()
    with services.sessions() as session:
        after = dict(session.execute(select(Submission.instance_id, Submission.review_state)).all())
    changed = {i for i in after if after[i] != before[i]}
    assert changed == set(county_of_30.instances(TOWNSHIP_A)) and len(changed) == 30
    assert {after[i] for i in changed} == {"approved"}
    assert tab.locator("tr[data-instance] .state-approved").count() == 30  # the queue kept its filter


def test_pages_work_under_the_content_security_policy(tab, small_county, project, app_token) -> None:  # noqa: ANN001
    """The queue's script and styles, the thumbnails and the phones' inline SVG QR codes all come from the app
    itself, under ``default-src 'self'`` with no inline script or style allowed."""
    sign_in(tab, "admin", "project")
    response = tab.goto(f"{tab.base}/projects/{project.id}/submissions?form=house_appraisal")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    # /static/app.css applied: the queue's table is laid out by the stylesheet, not the browser's defaults.
    assert tab.evaluate("[...document.styleSheets].some(s => s.href && s.href.endsWith('/static/app.css') "
                        "&& s.cssRules.length > 0)")
    # /static/app.js ran: "select all" checks every row of the page.
    tab.check("input[data-select-all]")
    boxes = tab.locator("input[name=ids]")
    assert boxes.count() > 0 and all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    tab.goto(f"{tab.base}/projects/{project.id}/photos?form=house_appraisal")
    thumbnail = tab.locator("img").first
    thumbnail.wait_for()
    assert tab.evaluate("img => img.complete && img.naturalWidth > 0", thumbnail.element_handle())
    tab.goto(f"{tab.base}/projects/{project.id}/app-users")
    qr = tab.locator(".qr svg").first
    qr.wait_for()
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 50 and qr.locator("path").count() > 0
    # The watcher sees what the policy refuses: an inline style attribute is one.
    tab.evaluate("document.body.setAttribute('style', 'outline: 1px solid red')")
    tab.wait_for_timeout(200)
    assert any("inline style" in text for text in tab.csp_violations), tab.csp_violations
    tab.csp_violations.clear()
