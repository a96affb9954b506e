"""ODK Central's own client library, pyodk, reads Qingling unchanged: every everyday read call.

pyodk validates each answer against its models of Central's JSON (pydantic), so a missing field or a 404
fails here as it fails for a user's script. Exports (``get_table``, OData) are not covered here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pyodk._utils.config import CentralConfig, Config
from pyodk.client import Client

from tests.sync.survey import VILLAGES, baseline, id_number, member
from tests.sync.test_registry import post, settle


@pytest.fixture
def registered(collect, survey_forms, services) -> list[str]:  # noqa: ANN001
    """Three households registered from phones: their entity ids."""
    entities = []
    for index in range(3):
        entity = str(uuid.uuid4())
        entities.append(entity)
        members = [member(f"户主{index}", id_number("19650505", index), "01")]
        post(
            collect,
            survey_forms.xml(
                "hh_baseline",
                baseline(VILLAGES[0], "一组", members),
                entity_id=entity,
                create=True,
                instance_id=f"uuid:reg-{index}",
            ),
        )
    settle(services)
    return entities


@pytest.fixture
def pyodk(supervisor, live_server, tmp_path) -> Iterator[Client]:  # noqa: ANN001
    config = Config(
        central=CentralConfig(
            base_url=live_server.url,
            username="supervisor@county.example",
            password="correct horse battery",
            default_project_id=1,
        )
    )
    with Client(config=config, cache_path=tmp_path / "pyodk_cache.toml") as client:
        yield client


def test_pyodk_lists_submissions_and_household_entities(registered, pyodk) -> None:  # noqa: ANN001
    submissions = pyodk.submissions.list(form_id="hh_baseline")
    assert sorted(s.instanceId for s in submissions) == ["uuid:reg-0", "uuid:reg-1", "uuid:reg-2"]
    one = pyodk.submissions.get(form_id="hh_baseline", instance_id="uuid:reg-1")
    assert one.instanceId == "uuid:reg-1" and one.createdAt is not None
    listed = pyodk.entities.list(entity_list_name="households")
    assert sorted(e.uuid for e in listed) == sorted(registered)
    assert {e.currentVersion.version for e in listed} == {1}
    assert {e.currentVersion.label for e in listed} == {"户主0 · 一组", "户主1 · 一组", "户主2 · 一组"}


def test_pyodk_reads_projects_and_forms(registered, pyodk, survey_forms) -> None:  # noqa: ANN001
    (project,) = pyodk.projects.list()
    assert (project.id, project.name) == (1, "Household survey")
    assert project.archived is False and project.deletedAt is None
    assert pyodk.projects.get() == project

    forms = pyodk.forms.list()
    assert [f.xmlFormId for f in forms] == sorted(survey_forms.compiled)
    for form in forms:
        compiled = survey_forms.compiled[form.xmlFormId]
        assert (form.projectId, form.version, form.name, form.state) == (1, compiled.version, compiled.title, "open")
        assert form.publishedAt is not None and form.enketoId is None and form.keyId is None
    baseline_form = pyodk.forms.get("hh_baseline")
    assert baseline_form == next(f for f in forms if f.xmlFormId == "hh_baseline")


def test_pyodk_reads_the_entity_list_and_comments(registered, pyodk) -> None:  # noqa: ANN001
    (households,) = pyodk.entity_lists.list()
    assert (households.name, households.projectId, households.approvalRequired) == ("households", 1, False)
    assert pyodk.entity_lists.get(entity_list_name="households").name == "households"
    assert list(pyodk.submissions.list_comments(form_id="hh_baseline", instance_id="uuid:reg-0")) == []
