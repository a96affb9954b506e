"""Bulk review with a filter active (where Kobo's bulk updates broke), the approval gate, the household
page and the gallery, as a supervisor uses them."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from sqlalchemy import func, select

from sync.db.engine import transaction
from sync.db.models import Audit, Household, HousingAppraisal, Submission
from sync.intake.forms import get_form
from sync.review.gate import set_approval_required
from tests.web.test_queue import csrf, listed, signed_in
from tests.web.workspace import TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, Workspace, settle


def states(services) -> dict[str, str | None]:  # noqa: ANN001
    with services.sessions() as session:
        return dict(session.execute(select(Submission.instance_id, Submission.review_state)).all())


def test_bulk_review_of_everything_matching_an_active_filter(app, small_county: Workspace, project,
                                                            services) -> None:  # noqa: ANN001
    client = signed_in(app, "supervisor", "county")
    query = urlencode({"form": "house_appraisal", "township": TOWNSHIP_A, "verdict": ["C", "D"], "state": "none"},
                      doseq=True)
    queue = f"/projects/{project.id}/submissions"
    # One of the matching rows is decided first: the filter on "not reviewed" must then leave it alone.
    first = small_county.instances(TOWNSHIP_A, "C")[0]
    page = f"/projects/{project.id}/forms/house_appraisal/submissions/{first}"
    client.post(page + "/review", data={"state": "rejected", "csrf_token": csrf(client, page)})
    before = states(services)
    expected = set(small_county.instances(TOWNSHIP_A, "CD")) - {first}
    assert set(listed(client.get(f"{queue}?{query}").get_data(as_text=True))) == expected
    response = client.post(f"{queue}/review", data={"state": "approved", "all": "1", "query": query,
                                                    "note": "批量通过", "csrf_token": csrf(client, queue)})
    assert response.status_code == 302 and response.location.endswith(query)
    after = states(services)
    changed = {i for i in after if after[i] != before[i]}
    assert changed == expected and all(after[i] == "approved" for i in changed)
    with services.sessions() as session:
        audits = session.scalars(select(Audit).where(Audit.action == "submission.update",
                                                     Audit.details["notes"].as_string() == "批量通过")).all()
        assert len(audits) == len(expected)
    settle(services)  # the registry follows: approvals count, the one rejection does not
    unsafe = select(func.count()).select_from(Household).where(Household.house_grade.in_(("C", "D")))
    with services.sessions() as session:
        assert session.scalar(unsafe) == len(small_county.instances(TOWNSHIP_A, "CD")) + len(
            small_county.instances(TOWNSHIP_B, "CD")) - 1


def test_bulk_review_of_selected_rows_ignores_rows_outside_the_area(app, small_county: Workspace, project,
                                                                   services) -> None:  # noqa: ANN001
    client = signed_in(app, "supervisor", "township_a")
    with services.sessions() as session:
        ids = dict(session.execute(select(Submission.instance_id, Submission.id)).all())
    mine = small_county.instances(TOWNSHIP_A)[:2]
    theirs = small_county.instances(TOWNSHIP_B)[:1]
    queue = f"/projects/{project.id}/submissions"
    response = client.post(f"{queue}/review", data={"state": "hasIssues", "ids": [ids[i] for i in mine + theirs],
                                                    "csrf_token": csrf(client, queue)})
    assert response.status_code == 302
    after = states(services)
    assert [after[i] for i in mine] == ["hasIssues", "hasIssues"] and after[theirs[0]] is None
    assert "已保存 2 条记录" in client.get(queue).get_data(as_text=True)
    viewer = signed_in(app, "viewer", "township_a")
    refused = viewer.post(f"{queue}/review", data={"state": "approved", "all": "1",
                                                   "csrf_token": csrf(viewer, queue)})
    assert refused.status_code == 403
    stolen = viewer.post(f"{queue}/review", data={"state": "approved", "all": "1", "csrf_token": csrf(client, queue)})
    assert stolen.status_code == 400  # another session's token
    assert states(services) == after


def test_the_approval_gate_holds_the_registry_until_approval(app, small_county: Workspace, project,
                                                            services) -> None:  # noqa: ANN001
    with transaction(services.sessions) as session:
        queued = set_approval_required(session, get_form(session, project.id, "house_appraisal"), True, user_id=None)
    assert queued == len(small_county.appraisals)
    settle(services)
    instance = small_county.instances(TOWNSHIP_A, "D")[0]
    with services.sessions() as session:
        submission = session.scalar(select(Submission).where(Submission.instance_id == instance))
        household = session.scalar(select(Household).where(Household.code == submission.household_code))
        assert household.house_grade is None
        assert session.scalar(select(HousingAppraisal.review_state)
                              .where(HousingAppraisal.submission_id == submission.id)) == "pending"
        code = household.code
    client = signed_in(app, "supervisor", "township_a")
    household_page = f"/projects/{project.id}/households/{code}"
    assert "待审批：尚未计入" in client.get(household_page).get_data(as_text=True)
    page = f"/projects/{project.id}/forms/house_appraisal/submissions/{instance}"
    client.post(page + "/review", data={"state": "approved", "csrf_token": csrf(client, page)})
    settle(services)
    with services.sessions() as session:
        assert session.scalar(select(Household.house_grade).where(Household.code == code)) == "D"
    assert "待审批：尚未计入" not in client.get(household_page).get_data(as_text=True)


def test_the_household_page_shows_records_photos_flags_and_stays_in_the_area(app, small_county: Workspace,
                                                                            project, services) -> None:  # noqa: ANN001
    instance = next(i for i in small_county.photo if VILLAGE_A in i)
    with services.sessions() as session:
        submission = session.scalar(select(Submission).where(Submission.instance_id == instance))
        code = submission.household_code
    client = signed_in(app, "supervisor", "township_a")
    html = client.get(f"/projects/{project.id}/households/{code}").get_data(as_text=True)
    assert f'data-instance="{instance}"' in html and re.search(r"/photos/[0-9a-f]{64}/256", html)
    assert "150121********" in html and "19700101" not in html  # the head's ID number, masked
    assert signed_in(app, "supervisor", "township_b").get(f"/projects/{project.id}/households/{code}").status_code \
        == 404
    listing = client.get(f"/projects/{project.id}/households").get_data(as_text=True)
    assert f'data-household="{code}"' in listing and "data-household=\"150121102" not in listing


def test_the_gallery_shows_the_photos_of_a_filtered_set(app, small_county: Workspace, project) -> None:  # noqa: ANN001
    client = signed_in(app, "supervisor", "county")
    base = f"/projects/{project.id}/photos"
    html = client.get(f"{base}?form=house_appraisal&field=ph_front&township={TOWNSHIP_A}&verdict=C").get_data(
        as_text=True)
    names = re.findall(r'<figure data-photo="([^"]+)"', html)
    expected = {small_county.photo[i] for i in small_county.instances(TOWNSHIP_A, "C") if i in small_county.photo}
    assert set(names) == expected and len(names) == len(expected) > 0
    assert 'data-lightbox="/projects/' in html
    other = signed_in(app, "supervisor", "township_b").get(f"{base}?form=house_appraisal").get_data(as_text=True)
    assert not set(re.findall(r'<figure data-photo="([^"]+)"', other)) & expected
