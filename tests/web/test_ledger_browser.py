"""The ledger's pages in a real headless Chromium, on both databases: a county officer drills down from the
county to a village, to a household and to the photo that closed its item, and assigns a measure; a
township account sees only its township. The page fixture fails a test on any CSP refusal."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from sync.db.models import LedgerItem, Submission
from tests.media.photos import jpeg_bytes, scene
from tests.sync.survey import appraisal
from tests.web.test_browser import sign_in, tab  # noqa: F401 - the page fixture
from tests.web.workspace import TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_A2, Workspace, post, settle

FOLLOW_UP = "uuid:appraisal-follow-up"


def close_by_reappraisal(collect, forms, services, small_county: Workspace) -> tuple[int, str]:  # noqa: ANN001
    """Household 3 of village A (grade C on its first appraisal) re-appraised at grade A with a photo."""
    entity = small_county.households[VILLAGE_A][2]
    files = {"after.jpg": jpeg_bytes(scene(seed=99), taken=datetime(2021, 8, 1, 10, 0), gps=(40.7, 111.2))}
    post(collect, forms.xml("house_appraisal", appraisal(entity, day="2021-08-01", wall="a", ph_front="after.jpg"),
                            entity_id=entity, base_version=2, instance_id=FOLLOW_UP), files)  # fmt: skip
    settle(services)
    with services.sessions() as session:
        closing = session.scalar(select(Submission.id).where(Submission.instance_id == FOLLOW_UP))
        item = session.scalar(select(LedgerItem).where(LedgerItem.closed_by_submission_id == closing))
        assert item is not None and item.state == "closed"
        return item.id, session.get(Submission, closing).household_code


def test_drill_down_to_the_photo_that_closed_an_item_and_assign_a_measure(
    tab,  # noqa: F811
    collect,
    survey_forms,
    services,
    small_county: Workspace,
    project,  # noqa: ANN001, F811
) -> None:
    item_id, household = close_by_reappraisal(collect, survey_forms, services, small_county)
    sign_in(tab, "manager", "county")
    with tab.expect_navigation():  # the next page's rows are read at once: wait for it to load
        tab.click("nav.main a[href$='/ledger']")
    assert tab.locator("tr[data-area]").evaluate_all("rows => rows.map(r => r.dataset.area)") == [
        TOWNSHIP_A,
        TOWNSHIP_B,
    ]
    assert tab.locator("figure.chart[data-kind=housing] svg polyline").count() == 1
    with tab.expect_navigation():  # the next page's rows are read at once: wait for it to load
        tab.click(f"tr[data-area='{TOWNSHIP_A}'] a.drill")
    assert tab.locator("tr[data-area]").evaluate_all("rows => rows.map(r => r.dataset.area)") == [VILLAGE_A, VILLAGE_A2]
    assert tab.locator(f"tr[data-area='{VILLAGE_A}'] td[data-kind=housing]").inner_text() == "1"  # C closed, D open
    tab.click(f"tr[data-area='{VILLAGE_A}'] a.drill")
    tab.click(f"tr[data-item='{item_id}'] td:first-child a")
    assert tab.locator("dd.state").get_attribute("data-state") == "closed"
    photo = tab.locator("[data-evidence=closed] a.evidence-photo img")
    photo.wait_for()
    assert tab.evaluate("img => img.complete && img.naturalWidth > 0", photo.element_handle())
    with tab.expect_response(lambda r: "/photos/" in r.url) as original:
        tab.click("[data-evidence=closed] a.evidence-photo")
    assert original.value.status == 200 and original.value.headers["content-type"] == "image/jpeg"
    tab.go_back()
    with tab.expect_navigation():  # the next page's rows are read at once: wait for it to load
        tab.click(f"p.crumbs a[href$='/households/{household}']")
    assert FOLLOW_UP in tab.locator("div.record").evaluate_all("rs => rs.map(r => r.dataset.instance)")

    # Assign a measure to an open item of the same village.
    with services.sessions() as session:
        open_item = session.scalar(
            select(LedgerItem.id)
            .where(LedgerItem.village == VILLAGE_A, LedgerItem.state == "open")
            .order_by(LedgerItem.id)
        )
    tab.goto(f"{tab.base}/projects/{project.id}/ledger/items/{open_item}")
    tab.select_option("form.assign select[name=measure]", "housing_relocation")
    tab.fill("form.assign input[name=unit]", "察素齐镇政府")
    tab.fill("form.assign input[name=person]", "张三")
    tab.fill("form.assign input[name=deadline]", "2030-06-30")
    tab.click("form.assign button[type=submit]")
    assert tab.locator(".notice.success").count() == 1
    assert tab.locator("dd.state").get_attribute("data-state") == "assigned"
    with services.sessions() as session:
        saved = session.get(LedgerItem, open_item)
        assert (saved.measure, saved.unit, saved.person, str(saved.deadline)) == (
            "housing_relocation",
            "察素齐镇政府",
            "张三",
            "2030-06-30",
        )


def test_a_township_account_sees_only_its_township_ledger(tab, small_county: Workspace, project, services) -> None:  # noqa: ANN001, F811
    sign_in(tab, "supervisor", "township_a")
    tab.goto(f"{tab.base}/projects/{project.id}/ledger")
    assert tab.locator("tr[data-area]").evaluate_all("rows => rows.map(r => r.dataset.area)") == [VILLAGE_A, VILLAGE_A2]
    with tab.expect_navigation():  # the next page's rows are read at once: wait for it to load
        tab.click("p.crumbs a.map")
    shown = tab.locator("svg.ledger-map circle.household").evaluate_all("cs => cs.map(c => c.dataset.household)")
    assert len(shown) == 8 and all(code.startswith(TOWNSHIP_A) for code in shown)
    with services.sessions() as session:
        other = session.scalar(select(LedgerItem.id).where(LedgerItem.village.startswith(TOWNSHIP_B)))
    response = tab.goto(f"{tab.base}/projects/{project.id}/ledger/items/{other}")
    assert response.status == 404
    response = tab.goto(f"{tab.base}/projects/{project.id}/ledger?area={TOWNSHIP_B}")
    assert response.status == 404
