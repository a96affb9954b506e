"""The review queue and one submission's page, as a supervisor uses them (Flask test client; the browser
tests in test_browser.py walk the same path in Chromium)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from sync.access.scope import Scope
from sync.db.models import Audit, Flag, Household, Submission
from sync.review.queue import QueueFilter, counts, page
from tests.web.workspace import PASSWORD, TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, Workspace, basic, email, settle


def signed_in(app, role: str, key: str):  # noqa: ANN001, ANN201
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/sign-in").get_data(as_text=True)).group(1)
    response = client.post("/sign-in", data={"email": email(role, key), "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return client


def csrf(client, url: str) -> str:  # noqa: ANN001
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def listed(html: str) -> list[str]:
    return re.findall(r'<tr data-instance="([^"]+)"', html)


def test_the_queue_shows_only_the_supervisors_township_and_filters_combine(app, small_county: Workspace,
                                                                          project) -> None:  # noqa: ANN001
    client = signed_in(app, "supervisor", "township_a")
    base = f"/projects/{project.id}/submissions"
    everything = listed(client.get(base).get_data(as_text=True))
    appraisals_a = small_county.instances(TOWNSHIP_A)
    assert set(appraisals_a) <= set(everything)
    assert not set(small_county.instances(TOWNSHIP_B)) & set(everything)
    grade_cd = listed(client.get(f"{base}?form=house_appraisal&verdict=C&verdict=D").get_data(as_text=True))
    assert sorted(grade_cd) == sorted(small_county.instances(TOWNSHIP_A, "CD"))
    village = listed(client.get(f"{base}?form=house_appraisal&village={VILLAGE_A}&verdict=C&verdict=D")
                     .get_data(as_text=True))
    assert sorted(village) == sorted(i for i in small_county.instances(TOWNSHIP_A, "CD") if VILLAGE_A in i)
    outside = client.get(f"{base}?township={TOWNSHIP_B}")
    assert outside.status_code == 400
    county = signed_in(app, "supervisor", "county")
    both = listed(county.get(f"{base}?form=house_appraisal&verdict=C&verdict=D").get_data(as_text=True))
    assert sorted(both) == sorted(small_county.instances(TOWNSHIP_A, "CD") + small_county.instances(TOWNSHIP_B, "CD"))


def test_keyset_pages_cover_every_row_once_in_order(services, small_county: Workspace, project) -> None:  # noqa: ANN001
    scope = Scope(project.id, "supervisor", "")
    with services.sessions() as session:
        wanted = QueueFilter(sort="oldest")
        seen, after = [], None
        while True:
            found = page(session, scope, wanted, after=after, limit=5)
            seen += [row.submission.id for row in found.rows]
            if found.next_after is None:
                break
            after = found.next_after
        everything = list(session.scalars(select(Submission.id).order_by(Submission.created_at, Submission.id)))
        assert seen == everything and found.total == len(everything)
        back = page(session, scope, wanted, before=seen[10], limit=5)
        assert [row.submission.id for row in back.rows] == seen[5:10]
        assert back.previous_before == seen[5] and back.next_after == seen[9]


def test_a_submission_page_shows_the_form_s_words_photos_and_verdicts(app, small_county: Workspace,
                                                                     project) -> None:  # noqa: ANN001
    instance = next(i for i in small_county.photo if VILLAGE_A in i)
    client = signed_in(app, "supervisor", "township_a")
    url = f"/projects/{project.id}/forms/house_appraisal/submissions/{instance}"
    html = client.get(url).get_data(as_text=True)
    assert "承重墙体等级" in html and "a级 无危险点" in html  # labels and choice labels, not codes
    thumbnail = re.search(r'src="(/projects/\d+/photos/[0-9a-f]{64}/1024)"', html).group(1)
    image = client.get(thumbnail)
    assert image.status_code == 200 and image.content_type == "image/jpeg"
    assert "immutable" in image.headers["Cache-Control"] and image.headers["ETag"]
    assert client.get(thumbnail, headers={"If-None-Match": image.headers["ETag"]}).status_code == 304
    client.get("/language/en")
    english = client.get(url).get_data(as_text=True)
    assert "Load-bearing wall grade" in english and "a: no danger point" in english
    other = signed_in(app, "supervisor", "township_b")
    assert other.get(url).status_code == 404
    assert other.get(thumbnail).status_code == 404


def test_a_decision_is_saved_audited_and_reaches_the_registry(app, small_county: Workspace, project,
                                                             services) -> None:  # noqa: ANN001
    instance = small_county.instances(TOWNSHIP_A, "C")[0]
    client = signed_in(app, "supervisor", "township_a")
    url = f"/projects/{project.id}/forms/house_appraisal/submissions/{instance}"
    response = client.post(url + "/review", data={"state": "rejected", "note": "墙体照片不清楚",
                                                   "csrf_token": csrf(client, url)})
    assert response.status_code == 302
    settle(services)
    with services.sessions() as session:
        submission = session.scalar(select(Submission).where(Submission.instance_id == instance))
        assert submission.review_state == "rejected"
        household = session.scalar(select(Household).where(Household.code == submission.household_code))
        assert household.house_grade is None  # the only appraisal no longer counts
        audit = session.scalar(select(Audit).where(Audit.submission_id == submission.id,
                                                   Audit.action == "submission.update"))
        assert audit.details == {"reviewState": "rejected", "notes": "墙体照片不清楚"}
    assert "墙体照片不清楚" in client.get(url).get_data(as_text=True)


def test_the_central_review_patch_takes_action_notes(client, small_county: Workspace, project,
                                                    services) -> None:  # noqa: ANN001
    instance = small_county.instances(TOWNSHIP_A, "D")[0]
    url = f"/v1/projects/{project.id}/forms/house_appraisal/submissions/{instance}"
    response = client.patch(url, json={"reviewState": "approved"},
                            headers={**basic("supervisor", "township_a"), "X-Action-Notes": "%E5%A5%BD"})
    assert response.status_code == 200 and response.get_json()["reviewState"] == "approved"
    with services.sessions() as session:
        audit = session.scalar(select(Audit).where(Audit.action == "submission.update").order_by(Audit.id.desc()))
        assert audit.details["notes"] == "好"
    refused = client.patch(url, json={"reviewState": "approved"}, headers=basic("supervisor", "township_b"))
    assert refused.status_code == 404


def test_counts_past_the_cap_read_as_at_least(services, small_county: Workspace, project) -> None:  # noqa: ANN001
    """Each state is counted up to the cap (an index range, however large the county); past it the page says
    "3+"; with a flag filter the flagged submissions are few and counted exactly."""
    scope = Scope(project.id, "supervisor", "")
    with services.sessions() as session:
        grouped = select(Submission.review_state, func.count()).group_by(Submission.review_state)
        states = dict(session.execute(grouped).all())
        exact, by_state = counts(session, scope, QueueFilter(), cap=10_000)
        assert int(exact) == sum(states.values()) and not exact.capped
        assert {state: int(n) for state, n in by_state.items()} == {s or "none": n for s, n in states.items()}
        capped, by_state = counts(session, scope, QueueFilter(), cap=3)
        undecided = states[None]
        assert undecided > 3 and by_state["none"].capped and str(by_state["none"]) == "3+"
        assert capped.capped and str(capped) == f"{int(capped)}+"
        only_undecided, _ = counts(session, scope, QueueFilter(state="none"), cap=3)
        assert str(only_undecided) == "3+"
        flagged = session.scalar(select(func.count(func.distinct(Flag.submission_id))).where(Flag.state == "open"))
        assert flagged > 3
        with_flag, _ = counts(session, scope, QueueFilter(flag="any"), cap=3)
        assert int(with_flag) == flagged and not with_flag.capped
