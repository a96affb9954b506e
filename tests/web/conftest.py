"""Fixtures of the review workspace tests: the survey forms, a built county, accounts, a real browser."""

from __future__ import annotations

import pytest

from tests.protocol.conftest import collect  # noqa: F401 - the Collect-like client fixture
from tests.sync.conftest import compiled_survey_forms, survey_forms  # noqa: F401 - fixtures
from tests.web.browser import browser, chromium  # noqa: F401 - fixtures
from tests.web.workspace import Workspace, build, create_accounts


@pytest.fixture
def accounts(services, project) -> None:  # noqa: ANN001
    create_accounts(services, project.id)


@pytest.fixture
def small_county(collect, survey_forms, services, accounts) -> Workspace:  # noqa: ANN001, F811
    """Four households in each of two villages of township A and in one village of township B."""
    return build(collect, survey_forms, services, per_village={"150121100203": 4, "150121100210": 4,
                                                                "150121102205": 4})


@pytest.fixture
def county_of_30(collect, survey_forms, services, accounts) -> Workspace:  # noqa: ANN001, F811
    """Thirty appraisals in township A (15 in each of two villages) and four in township B."""
    return build(collect, survey_forms, services, per_village={"150121100203": 15, "150121100210": 15,
                                                                "150121102205": 4})
