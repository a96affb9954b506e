"""A campaign of today, not of 2021: verdicts for the current year, and what the clearance counts as cleared.

A household is cleared only when its registration, housing, water and income are all judged and none is a
problem; a verdict that could not be computed is unknown, never cleared.
"""

from __future__ import annotations

import uuid

from tests.sync.survey import VILLAGES, appraisal, baseline, id_number, income, member, water
from tests.sync.test_registry import post, settle

DAY = "2026-03-10"
LATER = "2026-06-02"


def register(collect, forms, services, village: str = VILLAGES[0], **extra: str) -> str:  # noqa: ANN001
    entity = str(uuid.uuid4())
    members = [
        member("户主", id_number("19700101", 5, county=village[:6]), "01"),
        member("配偶", id_number("19720202", 5, female=True, county=village[:6]), "10", sex="2"),
        member("子女", id_number("19990909", 5, county=village[:6]), "20", labour="none"),
    ]
    answers = baseline(village, "一组", members, day=DAY, **extra)
    post(collect, forms.xml("hh_baseline", answers, entity_id=entity, create=True))
    settle(services)
    return entity


def follow_ups(collect, forms, services, entity: str, *, wall: str = "a", wages: int = 30000) -> None:  # noqa: ANN001
    post(collect, forms.xml("house_appraisal", appraisal(entity, day=DAY, wall=wall), entity_id=entity, base_version=1))
    post(collect, forms.xml("water_survey", water(entity, day=DAY), entity_id=entity, base_version=2))
    answers = income(entity, day=DAY, persons=3, wages=wages, year=2025)
    post(collect, forms.xml("income_check", answers, entity_id=entity, base_version=3))
    settle(services)


def household(api, entity: str) -> dict:  # noqa: ANN001
    (found,) = [h for h in api.get("/v1/projects/1/registry/households") if h["entityId"] == entity]
    return api.get(f"/v1/projects/1/registry/households/{found['householdCode']}")


def test_a_household_surveyed_this_year_gets_every_verdict_and_is_cleared(collect, survey_forms, services, api) -> None:  # noqa: ANN001
    entity = register(collect, survey_forms, services)
    registered = household(api, entity)
    assert registered["hhSize"] == 3
    assert (registered["foodOk"], registered["clothingOk"], registered["eduOk"], registered["medOk"]) == (
        True, True, True, True,
    )  # fmt: skip
    assert [h["status"] for h in registered["history"]] == ["accepted"]
    assert api.get("/v1/projects/1/flags?kind=no_rule_parameters") == []
    # Registered only: nothing is a problem, but nothing but the registration is known either.
    village = api.get(f"/v1/projects/1/registry/clearance?area={VILLAGES[0]}&date=2026-12-31")
    assert (village["households"], village["baseline_unknown"]) == (1, 0)
    assert (village["households_with_open_problems"], village["households_cleared"]) == (0, 0)
    assert village["households_unknown"] == 1

    follow_ups(collect, survey_forms, services, entity)
    surveyed = household(api, entity)
    assert (surveyed["houseGrade"], surveyed["waterVerdict"], surveyed["incomePerCapita"]) == ("A", "jiben", "10000.00")
    incomes = [h for h in surveyed["history"] if h["kind"] == "income_checks"]
    assert incomes[0]["serverVerdict"]["income_risk"] is False  # judged against the 2025 monitoring line
    assert api.get("/v1/projects/1/flags?kind=no_rule_parameters") == []
    village = api.get(f"/v1/projects/1/registry/clearance?area={VILLAGES[0]}&date=2026-12-31")
    assert (village["housing_unknown"], village["water_unknown"], village["income_unknown"]) == (0, 0, 0)
    assert (village["households_cleared"], village["households_unknown"]) == (1, 0)


def test_a_verdict_that_could_not_be_computed_is_unknown_never_cleared(collect, survey_forms, services, api) -> None:  # noqa: ANN001
    # A county the parameter table does not cover (Beijing): every verdict fails for want of parameters.
    outside = "110101001001"
    entity = register(collect, survey_forms, services, village=outside, county="110101", township="110101001")
    follow_ups(collect, survey_forms, services, entity)
    registered = household(api, entity)
    assert registered["hhSize"] is None and registered["houseGrade"] is None
    assert {f["kind"] for f in api.get("/v1/projects/1/flags") if f["severity"] == "error"} == {"no_rule_parameters"}

    county = api.get("/v1/projects/1/registry/clearance?area=110101&date=2026-12-31")
    assert county["households"] == 1 and county["baseline_unknown"] == 1
    assert (county["housing_unknown"], county["water_unknown"], county["income_unknown"]) == (1, 1, 1)
    assert (county["households_with_open_problems"], county["households_cleared"]) == (0, 0)
    assert county["households_unknown"] == 1


def test_a_newer_record_without_a_verdict_unclears_but_never_hides_a_problem(
    collect, survey_forms, services, api
) -> None:  # noqa: ANN001
    fine, unsafe = register(collect, survey_forms, services), register(collect, survey_forms, services)
    follow_ups(collect, survey_forms, services, fine)
    follow_ups(collect, survey_forms, services, unsafe, wall="c")
    before = api.get(f"/v1/projects/1/registry/clearance?area={VILLAGES[0]}&date=2026-12-31")
    assert (before["households_cleared"], before["households_with_open_problems"]) == (1, 1)
    assert before["housing_unsafe"] == 1

    # A later appraisal of each house that the rules reject: a structural component left unanswered.
    for entity in (fine, unsafe):
        answers = appraisal(entity, day=LATER)
        answers.pop("g_truss")
        post(collect, survey_forms.xml("house_appraisal", answers, entity_id=entity, base_version=4))
    settle(services)
    assert {h["status"] for h in household(api, fine)["history"] if h["kind"] == "housing_appraisals"} == {
        "graded", "rejected",
    }  # fmt: skip

    after = api.get(f"/v1/projects/1/registry/clearance?area={VILLAGES[0]}&date=2026-12-31")
    assert after["housing_unsafe"] == 1 and after["households_with_open_problems"] == 1  # the C stays open
    assert (after["housing_unknown"], after["households_cleared"], after["households_unknown"]) == (1, 0, 1)
    # As of a date before the rejected appraisals, the first one still decides.
    assert api.get(f"/v1/projects/1/registry/clearance?area={VILLAGES[0]}&date=2026-05-01") == {
        **before, "as_of": "2026-05-01",
    }  # fmt: skip
