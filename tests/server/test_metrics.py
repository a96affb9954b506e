"""``/metrics``: the job queue and error counts in Prometheus' text format, for administrators only."""

from __future__ import annotations

import base64

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from sync.access.accounts import create_user
from sync.db.engine import transaction
from sync.db.models import Job
from tests.collect import submission_body
from tests.conftest import DATA
from tests.protocol.conftest import publish


def _basic(email: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:correct horse battery".encode()).decode()}


def _samples(client, headers) -> dict[tuple[str, tuple], float]:  # noqa: ANN001
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def test_metrics_show_queue_depth_failed_jobs_and_problem_counts(client, services, project, collect) -> None:  # noqa: ANN001
    with transaction(services.sessions) as session:
        create_user(session, "admin@county.example", "correct horse battery", "admin")
        create_user(session, "supervisor@county.example", "correct horse battery", "supervisor")
    admin = _basic("admin@county.example")
    form = publish(services, project, DATA / "forms" / "collect_photos.md")
    for n in range(3):
        assert collect.post(submission_body(form.xml(f"uuid:metrics-{n}", {"name": str(n)}))).status_code == 201
    with transaction(services.sessions) as session:
        session.execute(update(Job).where(Job.id == 1).values(state="failed"))

    before = _samples(client, admin)
    assert before[("qingling_jobs", (("kind", "normalize"), ("state", "pending")))] == 2
    assert before[("qingling_jobs", (("kind", "normalize"), ("state", "failed")))] == 1
    assert before[("qingling_jobs_failed", ())] == 1
    assert before[("qingling_job_queue_wait_seconds", ())] >= 0
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=_basic("supervisor@county.example")).status_code == 403
    forbidden = ("qingling_problems_total", (("code", "403.1"),))
    assert _samples(client, admin)[forbidden] == before.get(forbidden, 0) + 1
