"""A supervisor decides a flag over HTTP: resolve, dismiss, reopen, and the decision survives a rebuild."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from sync.db.models import User
from sync.registry.rebuild import rebuild_registry
from tests.sync.survey import VILLAGES, baseline, id_number, member
from tests.sync.test_registry import post, settle


def _flagged_household(collect, survey_forms, services) -> None:  # noqa: ANN001
    """Register a household whose spouse's ID number has a typing error: one ``id_number_invalid`` flag."""
    spouse = id_number("19720202", 3, female=True)
    members = [
        member("户主", id_number("19700101", 3), "01"),
        member("配偶", spouse[:-1] + ("0" if spouse[-1] != "0" else "1"), "10", sex="2"),
    ]
    answers = baseline(VILLAGES[0], "一组", members)
    post(collect, survey_forms.xml("hh_baseline", answers, entity_id=str(uuid.uuid4()), create=True))
    settle(services)


def _supervisor_id(services) -> int:  # noqa: ANN001
    with services.sessions() as session:
        return session.scalar(select(User.id).where(User.email == "supervisor@county.example"))


@pytest.mark.parametrize("state", ["resolved", "dismissed", "open"])
def test_a_supervisor_sets_a_flags_state_over_http(state, collect, survey_forms, services, api) -> None:  # noqa: ANN001
    _flagged_household(collect, survey_forms, services)
    (flag,) = api.get("/v1/projects/1/flags?kind=id_number_invalid")
    assert flag["state"] == "open" and flag["resolvedAt"] is None
    if state == "open":  # reopening needs a decided flag first
        assert api.patch(f"/v1/projects/1/flags/{flag['id']}", {"state": "resolved"}).status_code == 200

    response = api.patch(f"/v1/projects/1/flags/{flag['id']}", {"state": state})

    assert response.status_code == 200, response.data
    body = response.get_json()
    assert body["id"] == flag["id"] and body["state"] == state
    if state == "open":
        assert body["resolvedAt"] is None and body["resolvedBy"] is None
    else:
        assert body["resolvedAt"] is not None and body["resolvedBy"] == _supervisor_id(services)
    # The list says the same, filtered by the new state; no other state lists the flag any more.
    assert [f["id"] for f in api.get(f"/v1/projects/1/flags?state={state}")] == [flag["id"]]
    for other in {"open", "resolved", "dismissed"} - {state}:
        assert api.get(f"/v1/projects/1/flags?state={other}") == []
    # A rebuild raises the same flag again and keeps the supervisor's decision.
    rebuild_registry(services.sessions)
    (after,) = api.get("/v1/projects/1/flags?kind=id_number_invalid")
    assert (after["state"], after["resolvedBy"]) == (state, body["resolvedBy"])
