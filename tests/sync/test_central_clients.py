"""ODK Central's own client library, pyodk, reads Qingling unchanged: login, submissions, entities."""

from __future__ import annotations

import uuid

from pyodk._utils.config import CentralConfig, Config
from pyodk.client import Client

from tests.sync.survey import VILLAGES, baseline, id_number, member
from tests.sync.test_registry import post, settle


def test_pyodk_lists_submissions_and_household_entities(
    collect, survey_forms, services, supervisor, live_server, tmp_path
) -> None:  # noqa: ANN001
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
    config = Config(
        central=CentralConfig(
            base_url=live_server.url,
            username="supervisor@county.example",
            password="correct horse battery",
            default_project_id=1,
        )
    )
    with Client(config=config, cache_path=tmp_path / "pyodk_cache.toml") as client:
        submissions = client.submissions.list(form_id="hh_baseline")
        assert sorted(s.instanceId for s in submissions) == ["uuid:reg-0", "uuid:reg-1", "uuid:reg-2"]
        listed = client.entities.list(entity_list_name="households")
        assert sorted(e.uuid for e in listed) == sorted(entities)
        assert {e.currentVersion.version for e in listed} == {1}
        assert {e.currentVersion.label for e in listed} == {"户主0 · 一组", "户主1 · 一组", "户主2 · 一组"}
