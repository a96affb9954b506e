"""The job queue: work is never lost, a failure is retried after a pause and becomes visible."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select

from server.cli import main
from sync.db.engine import transaction
from sync.db.models import Household, Job, SubmissionVersion, utcnow
from sync.jobs.queue import LEASE, MAX_ATTEMPTS, JobKind, enqueue, list_jobs, retry_failed, run_pending_jobs
from sync.jobs.worker import Worker
from sync.oversight.flags import list_flags
from tests.sync.survey import VILLAGES, baseline, id_number, member
from tests.sync.test_registry import post

calls: list[int] = []


def _always_fails(session, job, prepared) -> None:  # noqa: ANN001
    calls.append(job.id)
    raise RuntimeError("the rule table is broken")


def register(collect, survey_forms, name: str = "户主") -> str:  # noqa: ANN001
    entity = str(uuid.uuid4())
    members = [member(name, id_number("19600606", 1), "01")]
    post(
        collect, survey_forms.xml("hh_baseline", baseline(VILLAGES[0], "一组", members), entity_id=entity, create=True)
    )
    return entity


def test_a_submission_is_normalized_by_its_job_and_only_once(collect, survey_forms, services) -> None:  # noqa: ANN001
    entity = register(collect, survey_forms)
    with services.sessions() as session:
        assert session.scalar(select(Household)) is None  # not before the job runs
    assert run_pending_jobs(services.sessions, services.work) == 1
    assert run_pending_jobs(services.sessions, services.work) == 0
    with services.sessions() as session:
        assert session.scalar(select(Household.entity_id)) == entity
        assert [job.state for job in list_jobs(session, include_done=True)] == ["done"]


def test_a_failing_job_is_retried_later_then_marked_failed_with_a_flag(collect, survey_forms, services) -> None:  # noqa: ANN001
    register(collect, survey_forms)
    run_pending_jobs(services.sessions, services.work)
    with transaction(services.sessions) as session:
        version = session.scalar(select(SubmissionVersion))
        job = enqueue(session, "always_fails", version.id)
        session.flush()
        job_id = job.id
    calls.clear()
    kinds = {**services.work, "always_fails": JobKind(run=_always_fails)}  # this test's kind, in this test only
    assert run_pending_jobs(services.sessions, kinds) == 1
    assert run_pending_jobs(services.sessions, kinds) == 0  # waiting for its pause
    with services.sessions() as session:
        job = session.get(Job, job_id)
        assert (job.state, job.attempts) == ("pending", 1)
        assert "the rule table is broken" in job.last_error
    later = utcnow()
    for attempt in range(2, MAX_ATTEMPTS + 1):
        later += timedelta(hours=2)
        assert run_pending_jobs(services.sessions, kinds, now=later) == 1, attempt
    assert len(calls) == MAX_ATTEMPTS
    with services.sessions() as session:
        assert session.get(Job, job_id).state == "failed"
        flags = list_flags(session, 1, kind="processing_failed")
        assert len(flags) == 1 and "always_fails" in flags[0].message
    with transaction(services.sessions) as session:
        assert retry_failed(session) == 1
    with services.sessions() as session:
        assert session.get(Job, job_id).state == "pending"


def test_a_job_of_a_kind_this_process_does_not_know_fails_visibly(collect, survey_forms, services) -> None:  # noqa: ANN001
    register(collect, survey_forms)
    run_pending_jobs(services.sessions, services.work)
    with transaction(services.sessions) as session:
        job = enqueue(session, "retired_kind", session.scalar(select(SubmissionVersion.id)))
        session.flush()
        job_id = job.id
    assert run_pending_jobs(services.sessions, services.work) == 1
    with services.sessions() as session:
        job = session.get(Job, job_id)
        assert (job.state, job.attempts) == ("pending", 1)
        assert "no job kind 'retired_kind'" in job.last_error


def test_the_worker_thread_normalizes_what_arrives(collect, survey_forms, services) -> None:  # noqa: ANN001
    worker = Worker(services.sessions, services.work, poll_seconds=0.05)
    worker.start()
    try:
        entity = register(collect, survey_forms)
        worker.wake()
        deadline = time.monotonic() + 20
        found = None
        while found is None and time.monotonic() < deadline:
            with services.sessions() as session:
                found = session.scalar(select(Household.entity_id).where(Household.entity_id == entity))
            time.sleep(0.05)
        assert found == entity
    finally:
        worker.stop()


def test_registry_rebuild_command_reports_what_it_did(collect, survey_forms, services, settings, monkeypatch) -> None:  # noqa: ANN001
    register(collect, survey_forms, "甲")
    register(collect, survey_forms, "乙")
    run_pending_jobs(services.sessions, services.work)
    monkeypatch.setenv("QINGLING_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QINGLING_DATABASE_URL", settings.resolved_database_url)
    result = CliRunner().invoke(main, ["registry", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "registry rebuilt from 2 submission(s)" in result.output
    with services.sessions() as session:
        assert sorted(session.scalars(select(Household.head_name))) == ["乙", "甲"]


class _Killed(BaseException):
    """Stands for kill -9 in the middle of a job: nothing of the worker's clean-up for the job runs."""


def _queued(services, kind: str) -> int:  # noqa: ANN001
    with transaction(services.sessions) as session:
        job = enqueue(session, kind)
        session.flush()
        return job.id


def test_a_dead_workers_job_is_taken_again_once_its_short_lease_ends(services) -> None:  # noqa: ANN001
    ran: list[int] = []

    def dies_the_first_time(session, job, prepared) -> None:  # noqa: ANN001
        ran.append(job.id)
        if len(ran) == 1:
            raise _Killed

    kinds = {"crashy": JobKind(run=dies_the_first_time)}
    job_id = _queued(services, "crashy")
    with contextlib.suppress(_Killed):
        run_pending_jobs(services.sessions, kinds)
    assert run_pending_jobs(services.sessions, kinds) == 0  # still leased to the dead worker
    assert run_pending_jobs(services.sessions, kinds, now=utcnow() + LEASE + timedelta(seconds=1)) == 1
    with services.sessions() as session:
        job = session.get(Job, job_id)
        assert (job.state, job.attempts, job.lease_token) == ("done", 1, None)
    assert ran == [job_id, job_id]


def test_a_running_job_renews_its_lease_so_no_other_worker_takes_it(services) -> None:  # noqa: ANN001
    """Slow work (a photo check's prepare) outlasts several leases; a second worker polling meanwhile waits."""
    lease = timedelta(seconds=3)
    ran: list[int] = []
    kinds = {
        "slow": JobKind(run=lambda session, job, prepared: ran.append(job.id), prepare=lambda f, i: time.sleep(7.5))
    }
    job_id = _queued(services, "slow")
    first = threading.Thread(target=run_pending_jobs, args=(services.sessions, kinds), kwargs={"lease": lease})
    first.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the first worker holds the claim before the second starts polling
        with services.sessions() as session:
            if session.get(Job, job_id).lease_token is not None:
                break
        time.sleep(0.02)
    deadline = time.monotonic() + 6.0
    taken_by_second = 0
    while time.monotonic() < deadline:
        taken_by_second += run_pending_jobs(services.sessions, kinds, lease=lease, limit=1)
        time.sleep(0.05)
    first.join(timeout=30)
    assert taken_by_second == 0
    assert ran == [job_id]
    with services.sessions() as session:
        assert session.get(Job, job_id).state == "done"


def test_a_stalled_worker_whose_job_was_taken_over_commits_nothing(services) -> None:  # noqa: ANN001
    """Its lease ran out while it stalled and another worker claimed the job: its "done" is refused."""

    def taken_over_meanwhile(factory, job_id) -> None:  # noqa: ANN001
        with transaction(factory) as session:
            session.get(Job, job_id).lease_token = "another-worker"

    def run(session, job, prepared) -> None:  # noqa: ANN001
        enqueue(session, "written_by_the_stalled_worker")

    job_id = _queued(services, "stalls")
    assert run_pending_jobs(services.sessions, {"stalls": JobKind(run=run, prepare=taken_over_meanwhile)}) == 1
    with services.sessions() as session:
        job = session.get(Job, job_id)
        assert (job.state, job.attempts, job.lease_token) == ("pending", 0, "another-worker")
        assert [j.kind for j in list_jobs(session, include_done=True)] == ["stalls"]
