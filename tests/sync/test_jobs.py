"""The job queue: work is never lost, a failure is retried after a pause and becomes visible."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import event, select

from server.cli import main
from sync.db.engine import transaction
from sync.db.models import Household, Job, SubmissionVersion, utcnow
from sync.jobs.queue import (
    LEASE,
    MAX_ATTEMPTS,
    JobKind,
    enqueue,
    list_jobs,
    prune_done,
    retry_failed,
    run_pending_jobs,
)
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


def _jobs_finished(services, states_and_ages: list[tuple[str, timedelta]]) -> list[int]:  # noqa: ANN001
    """Jobs in the given states, finished (or created) that long ago; their ids, in order."""
    ids = []
    with transaction(services.sessions) as session:
        for state, age in states_and_ages:
            job = enqueue(session, "normalize")
            job.state, job.created_at = state, utcnow() - age - timedelta(minutes=5)
            job.finished_at = utcnow() - age if state == "done" else None
            session.flush()
            ids.append(job.id)
    return ids


def _states(services) -> dict[int, str]:  # noqa: ANN001
    with services.sessions() as session:
        return {job_id: state for job_id, state in session.execute(select(Job.id, Job.state))}


def test_pruning_deletes_old_done_jobs_in_short_batches_and_keeps_failed_and_pending(services) -> None:  # noqa: ANN001
    old, recent = timedelta(days=40), timedelta(days=1)
    ids = _jobs_finished(
        services, [("done", old)] * 5 + [("done", recent), ("failed", old), ("pending", old)]
    )
    deletes: list[str] = []

    def count_deletes(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(statement)

    event.listen(services.engine, "before_cursor_execute", count_deletes)
    try:
        assert prune_done(services.sessions, timedelta(days=30), batch=2) == 5
    finally:
        event.remove(services.engine, "before_cursor_execute", count_deletes)
    assert len(deletes) == 3  # 2 + 2 + 1, each in its own transaction
    assert _states(services) == {ids[5]: "done", ids[6]: "failed", ids[7]: "pending"}
    assert prune_done(services.sessions, timedelta(days=30)) == 0


def test_jobs_prune_command_uses_the_retention_setting(services, settings, monkeypatch) -> None:  # noqa: ANN001
    ids = _jobs_finished(services, [("done", timedelta(days=20)), ("done", timedelta(days=5))])
    monkeypatch.setenv("QINGLING_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QINGLING_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("QINGLING_JOB_RETENTION_DAYS", "10")
    result = CliRunner().invoke(main, ["jobs", "prune"])
    assert result.exit_code == 0, result.output
    assert "1 done job(s) finished more than 10 day(s) ago removed" in result.output
    assert _states(services) == {ids[1]: "done"}
    result = CliRunner().invoke(main, ["jobs", "prune", "--older-than-days", "0"])
    assert result.exit_code == 2 and "--older-than-days" in result.output
    assert _states(services) == {ids[1]: "done"}


def test_the_worker_prunes_old_done_jobs_on_its_own(services) -> None:  # noqa: ANN001
    ids = _jobs_finished(services, [("done", timedelta(days=40)), ("done", timedelta(days=1))])
    worker = Worker(services.sessions, services.work, poll_seconds=0.05, retention=timedelta(days=30))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while ids[0] in _states(services) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert _states(services) == {ids[1]: "done"}


def test_with_a_backlog_jobs_run_oldest_first_past_leased_and_waiting_ones(services) -> None:  # noqa: ANN001
    """The claim walks the pending jobs in id order (ix_jobs_state_id) and takes the first due one: a job
    leased to another worker or waiting to be retried is passed over, and the order does not change."""
    ran: list[int] = []
    kinds = {"step": JobKind(run=lambda session, job, prepared: ran.append(job.id))}
    ids = [_queued(services, "step") for _ in range(6)]
    later = utcnow() + timedelta(minutes=10)
    with transaction(services.sessions) as session:
        session.get(Job, ids[0]).run_after = later  # leased elsewhere
        session.get(Job, ids[2]).run_after = later  # waiting for its retry
    claims: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY jobs.id" in statement:
            claims.append((statement, parameters))

    event.listen(services.engine, "before_cursor_execute", seen)
    try:
        assert run_pending_jobs(services.sessions, kinds) == 4
    finally:
        event.remove(services.engine, "before_cursor_execute", seen)
    assert ran == [ids[1], ids[3], ids[4], ids[5]]
    if services.engine.dialect.name == "sqlite":  # PostgreSQL's plan depends on its statistics
        statement, parameters = claims[0]
        with services.engine.connect() as connection:
            plan = " ".join(
                str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            )
        assert "ix_jobs_state_id" in plan and "TEMP B-TREE" not in plan, plan
