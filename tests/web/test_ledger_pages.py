"""The ledger's pages with Flask's client, on both databases: the drill-down's figures are the items behind
them, every page and download stays in the account's area (another township's item or area is a 404
page), the item's forms record decisions with CSRF and a second approver, and bad input gets a page."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from sync.db.models import Audit, LedgerItem
from tests.web.test_queue import csrf, signed_in
from tests.web.workspace import TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, VILLAGE_A2, VILLAGE_B, Workspace

# small_county: grades A, B, C, D in turn, so each village of four has two housing items (C and D).


def rows(html: str) -> dict[str, list[str]]:
    """The dashboard's table: area code -> the cells' texts."""
    found = {}
    for code, body in re.findall(r'<tr data-area="(\d+)">(.*?)</tr>', html, re.S):
        found[code] = [
            re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", body, re.S)
        ]
    return found


def item_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-item="(\d+)"', html)]


def housing_items(services, village_prefix: str) -> list[int]:  # noqa: ANN001
    with services.sessions() as session:
        return sorted(
            session.scalars(
                select(LedgerItem.id).where(LedgerItem.kind == "housing", LedgerItem.village.startswith(village_prefix))
            )
        )


def test_the_county_drills_down_to_a_village_and_each_figure_lists_its_items(
    app,
    small_county: Workspace,
    project,
    services,  # noqa: ANN001
) -> None:
    client = signed_in(app, "manager", "county")
    base = f"/projects/{project.id}/ledger"
    county = client.get(base)
    assert county.status_code == 200
    townships = rows(county.get_data(as_text=True))
    assert set(townships) == {TOWNSHIP_A, TOWNSHIP_B}
    # Area, households, no record yet, then housing, water, income, monitoring, identity...
    assert townships[TOWNSHIP_A][1:4] == ["8", "0", "4"]
    assert townships[TOWNSHIP_B][1:4] == ["4", "0", "2"]
    villages = rows(client.get(f"{base}?area={TOWNSHIP_A}").get_data(as_text=True))
    assert set(villages) == {VILLAGE_A, VILLAGE_A2}
    assert villages[VILLAGE_A][3] == "2"
    listed = item_ids(client.get(f"{base}/list?area={VILLAGE_A}&kind=housing&state=active").get_data(as_text=True))
    assert sorted(listed) == housing_items(services, VILLAGE_A) and len(listed) == 2
    # The progress chart ends at today's open count.
    assert 'data-kind="housing"' in county.get_data(as_text=True)


def test_a_township_account_sees_only_its_township(app, small_county: Workspace, project, services) -> None:  # noqa: ANN001
    client = signed_in(app, "supervisor", "township_a")
    base = f"/projects/{project.id}/ledger"
    own = rows(client.get(base).get_data(as_text=True))
    assert set(own) == {VILLAGE_A, VILLAGE_A2}
    everything = item_ids(client.get(f"{base}/list").get_data(as_text=True))
    assert sorted(everything) == housing_items(services, TOWNSHIP_A)
    other = housing_items(services, TOWNSHIP_B)[0]
    for url in (
        f"{base}?area={TOWNSHIP_B}",
        f"{base}?area=150121",
        f"{base}/list?area={VILLAGE_B}",
        f"{base}/items/{other}",
        f"{base}/export.xlsx?area={TOWNSHIP_B}",
        f"{base}/unknown?area={TOWNSHIP_B}",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "text/html" in response.content_type
    token = csrf(client, f"{base}/items/{housing_items(services, TOWNSHIP_A)[0]}")
    refused = client.post(
        f"{base}/items/{other}/assignment",
        data={
            "csrf_token": token,
            "measure": "housing_repair",
            "unit": "镇政府",
            "person": "王五",
            "deadline": "2030-01-01",
        },
    )
    assert refused.status_code == 404
    with services.sessions() as session:
        assert session.get(LedgerItem, other).measure is None
    workbook = load_workbook(io.BytesIO(client.get(f"{base}/export.xlsx").data), read_only=True)
    text = " ".join(str(c) for sheet in workbook.worksheets for r in sheet.iter_rows(values_only=True) for c in r)
    assert VILLAGE_A in text and VILLAGE_B not in text


def test_the_json_api_clamps_the_area_to_the_callers(app, small_county: Workspace, project) -> None:  # noqa: ANN001
    from tests.web.workspace import basic

    client = app.test_client()
    headers = basic("supervisor", "township_a")
    for area in (TOWNSHIP_B, "150121", VILLAGE_B):
        response = client.get(f"/v1/projects/{project.id}/ledger/items?area={area}", headers=headers)
        assert response.status_code == 403, area
        assert response.get_json()["code"] == 403.1
    own = client.get(f"/v1/projects/{project.id}/ledger/items", headers=headers).get_json()
    assert own and {item["village"][:9] for item in own} == {TOWNSHIP_A}


def test_assign_report_and_close_with_a_second_approver(app, small_county: Workspace, project, services) -> None:  # noqa: ANN001
    target = housing_items(services, VILLAGE_A)[0]
    url = f"/projects/{project.id}/ledger/items/{target}"
    manager = signed_in(app, "manager", "county")
    page = manager.get(url).get_data(as_text=True)
    assert 'value="housing_repair"' in page and 'value="water_' not in page
    form = {
        "csrf_token": csrf(manager, url),
        "measure": "housing_repair",
        "unit": "察素齐镇政府",
        "person": "李四",
        "deadline": "2030-06-30",
    }
    assert manager.post(f"{url}/assignment", data={**form, "csrf_token": ""}).status_code == 400  # no CSRF token
    bad = manager.post(f"{url}/assignment", data={**form, "deadline": "next week"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.get_data(as_text=True)
    assert manager.post(f"{url}/assignment", data=form).status_code == 302
    shown = manager.get(url).get_data(as_text=True)
    assert "李四" in shown and 'data-state="assigned"' in shown
    assert manager.post(f"{url}/done", data={"csrf_token": form["csrf_token"], "note": "已维修"}).status_code == 302
    assert (
        manager.post(f"{url}/close-request", data={"csrf_token": form["csrf_token"], "reason": " "}).status_code == 400
    )
    assert (
        manager.post(
            f"{url}/close-request", data={"csrf_token": form["csrf_token"], "reason": "已搬迁，原房屋拆除"}
        ).status_code
        == 302
    )
    self_approval = manager.post(f"{url}/close-approval", data={"csrf_token": form["csrf_token"]})
    assert self_approval.status_code == 403
    admin = signed_in(app, "admin", "project")
    assert admin.post(f"{url}/close-approval", data={"csrf_token": csrf(admin, url)}).status_code == 302
    with services.sessions() as session:
        item = session.get(LedgerItem, target)
        assert (item.state, item.measure, item.person) == ("closed", "housing_repair", "李四")
        actions = session.scalars(
            select(Audit.action).where(Audit.subject == f"ledger_item:{target}").order_by(Audit.id)
        ).all()
        assert actions == ["ledger.assign", "ledger.done", "ledger.close_request", "ledger.close_approve"]
        assert session.scalar(select(func.count()).select_from(LedgerItem).where(LedgerItem.state == "closed")) == 1
    closed = rows(manager.get(f"/projects/{project.id}/ledger?area={TOWNSHIP_A}").get_data(as_text=True))
    assert closed[VILLAGE_A][3] == "1"
    assert closed[VILLAGE_A][-1] == "1"  # closed this month
    county = manager.get(f"/projects/{project.id}/ledger").get_data(as_text=True)
    chart = re.search(r'data-kind="housing">\s*<figcaption>[^<]*<strong>(\d+)</strong>', county)
    assert chart and chart.group(1) == "5"  # six C/D houses found, one closed today


def test_a_viewer_may_read_but_not_decide(app, small_county: Workspace, project, services) -> None:  # noqa: ANN001
    target = housing_items(services, VILLAGE_A)[0]
    url = f"/projects/{project.id}/ledger/items/{target}"
    viewer = signed_in(app, "viewer", "county")
    page = viewer.get(url)
    assert page.status_code == 200 and "/assignment" not in page.get_data(as_text=True)
    refused = viewer.post(
        f"{url}/assignment",
        data={
            "csrf_token": csrf(viewer, url),
            "measure": "housing_repair",
            "unit": "x",
            "person": "y",
            "deadline": "2030-01-01",
        },
    )
    assert refused.status_code == 403
    assert viewer.get(f"/projects/{project.id}/ledger?area=12ab").status_code == 400


def test_a_long_item_list_is_paged_and_the_pages_together_are_the_whole_list(
    app, small_county: Workspace, project, services, monkeypatch  # noqa: ANN001
) -> None:
    # Six housing items, four to a page (500 in production: server/blueprints/ledger_pages.py reads PAGE).
    monkeypatch.setattr("server.blueprints.ledger_pages.PAGE", 4)
    client = signed_in(app, "manager", "county")
    base = f"/projects/{project.id}/ledger/list?kind=housing"
    first = client.get(base).get_data(as_text=True)
    assert len(item_ids(first)) == 4 and 'rel="next"' in first and 'rel="prev"' not in first
    following = re.search(r'rel="next" href="\?([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "kind=housing" in following and "page=2" in following
    second = client.get(f"/projects/{project.id}/ledger/list?{following}").get_data(as_text=True)
    assert len(item_ids(second)) == 2 and 'rel="prev"' in second and 'rel="next"' not in second
    assert sorted(item_ids(first) + item_ids(second)) == housing_items(services, "")
    # A page past the end, or a page number that is not one, is a page, not an error.
    assert client.get(f"{base}&page=9").status_code == 200
    assert item_ids(client.get(f"{base}&page=x").get_data(as_text=True)) == item_ids(first)
