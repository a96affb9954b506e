"""Fixtures for registry tests: the four real survey forms, compiled once and published per test."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from forms.build import compile_xlsform, find_sources, media_file
from server.services import Services
from sync.db.engine import transaction
from sync.intake.publishing import publish_form
from tests.protocol.conftest import collect  # noqa: F401 - the Collect-like client fixture
from tests.sync.survey import SurveyForms


@pytest.fixture(scope="session")
def compiled_survey_forms() -> dict:
    """Compiled and checked with ODK Validate once per test session (tests/forms checks them in depth)."""
    return {form.form_id: (form, source) for source in find_sources() for form in [compile_xlsform(source)]}


@pytest.fixture
def survey_forms(services: Services, project, compiled_survey_forms) -> SurveyForms:  # noqa: ANN001
    with transaction(services.sessions) as session:
        for form, source in compiled_survey_forms.values():
            media = {name: media_file(name, source.parent) for name in form.media}
            publish_form(session, services.store, project, form, media)
    return SurveyForms({form_id: form for form_id, (form, _source) in compiled_survey_forms.items()})


@pytest.fixture
def api(client: FlaskClient, supervisor: dict[str, str]):  # noqa: ANN201
    """GET/PATCH JSON on the account API as the supervisor."""

    class Api:
        def get(self, url: str):  # noqa: ANN202
            response = client.get(url, headers=supervisor)
            assert response.status_code == 200, response.data
            return response.get_json()

        def patch(self, url: str, body: dict):  # noqa: ANN202
            return client.patch(url, json=body, headers=supervisor)

    return Api()
