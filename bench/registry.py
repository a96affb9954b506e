"""Benchmark of the household registry: normalization next to ingestion, and ``registry rebuild`` at scale.

Run from the repository root:

    .venv/bin/python -m bench.registry                           # both parts on SQLite, about 17 minutes
    .venv/bin/python -m bench.registry ingest --households 1000  # part 1 only
    .venv/bin/python -m bench.registry ingest --database sqlite,postgresql --modes thread,off
    .venv/bin/python -m bench.registry rebuild --sizes 10000,30000,100000
    .venv/bin/python -m bench.registry --out figures.json --write-docs

The submissions are those of the four real survey forms (forms/sources, compiled here with pyxform and
filled in by tests/sync/survey.py's answer builders): for every household a baseline that registers it
(2 to 5 members with valid ID numbers, in one of 40 villages), then a housing appraisal, a water survey and
an income check that refer to it by its entity id, with base versions 1, 2, 3 as Collect sends them.

Part 1, ``ingest``: for each database, ``qingling serve`` is started in a fresh data folder (the harness of
bench/ingest.py; SQLite and the local blob folder by default, the four forms published on start) and
``--clients`` phones send Collect's HEAD + POST for every submission: all baselines first, then the
follow-ups (each phone sends its households' three follow-ups in order). In up to three set-ups (``--modes``):
``thread``, the server as shipped, its worker thread normalizing while the phones send; ``off``, the same
``qingling serve`` with ``Worker.start`` made a no-op, so the normalize jobs are left pending; ``process``,
that server with ``qingling worker`` running beside it. Reported: submissions/s, POST latencies, how many jobs
were still pending when the phones stopped and how long the queue took to empty; and, for ``off``, the
pending queue run on its own with the server stopped (``run_pending_jobs``, what the worker loop calls): the
throughput of normalization itself in jobs/s.

Part 2, ``rebuild``: submissions are stored by calling ``sync.intake.ingest.receive_submission`` in batches (no
HTTP), in stages so that every stage has the same mix of forms, and after each stage ``qingling registry
rebuild`` runs as a child process: its wall time, its peak RSS (VmHWM, reported by the child as it exits)
and its RSS sampled every 0.2 s show whether memory grows with the number of submissions.
Only 127.0.0.1 and local database sockets are contacted.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from lxml import etree

from bench.ingest import DEVICE, HEADERS, QINGLING, ROOT, Server, _free_port, machine, multipart, wait_for_quiet

DOC = ROOT / "docs" / "performance.md"
SECTION = "## Registry (bench/registry.py)"
VILLAGE_COUNT = 40
FIRST_VISIT = date(2021, 4, 15)


# -- the campaign -----------------------------------------------------------------------------------------------


class Forms:
    """The four compiled survey forms, and submissions of them as Collect writes them.

    The same XML as ``tests.sync.survey.SurveyForms.xml``, but each form's instance template is parsed once
    (a copy is filled per submission), so 100,000 submissions are built in seconds, not minutes.
    """

    def __init__(self) -> None:
        from forms.build import compile_xlsform, find_sources
        from tests.sync.survey import JR, XF

        self.xf = XF
        self.templates: dict[str, etree._Element] = {}
        for source in find_sources():
            compiled = compile_xlsform(source, validate=False)  # the XML is the same; the server validates
            instance = etree.fromstring(compiled.xml).find(f".//{{{XF}}}model/{{{XF}}}instance")
            root = copy.deepcopy(next(iter(instance)))
            for element in root.iter():
                element.attrib.pop(f"{{{JR}}}template", None)
            self.templates[compiled.form_id] = root

    def xml(self, form_id: str, answers: dict, *, entity_id: str, base_version: int | None = None) -> bytes:
        from tests.sync.survey import _fill

        root = copy.deepcopy(self.templates[form_id])
        _fill(root, answers)
        meta = root.find(f"{{{self.xf}}}meta")
        meta.find(f"{{{self.xf}}}instanceID").text = f"uuid:{uuid.uuid4()}"
        entity = meta.find(f"{{{self.xf}}}entity")
        create = base_version is None
        entity.set("id", entity_id)
        entity.set("baseVersion", "" if create else str(base_version))
        if "create" in entity.attrib:
            entity.set("create", "1" if create else "0")
        if "update" in entity.attrib:
            entity.set("update", "0" if create else "1")
        return etree.tostring(root, xml_declaration=False, encoding="utf-8")


def villages() -> list[str]:
    from tests.sync.survey import TOWNSHIP

    return [f"{TOWNSHIP}{201 + k:03d}" for k in range(VILLAGE_COUNT)]


def household_submissions(forms: Forms, index: int) -> tuple[bytes, list[bytes]]:
    """Household ``index``: its baseline, and its appraisal, water survey and income check (in that order).

    ID numbers are unique across households (birth day and sequence follow the index), so the only identity
    flags are the ones a real campaign would raise; the mix of grades, water and incomes is varied.
    """
    from tests.sync.survey import appraisal, baseline, id_number, income, member, water

    entity = str(uuid.UUID(int=index + 1))
    village = villages()[index % VILLAGE_COUNT]
    offset, sequence = divmod(index, 400)

    def born(year: int) -> str:
        return (date(year, 1, 1) + timedelta(days=offset)).strftime("%Y%m%d")

    members = [
        member(f"户主{index}", id_number(born(1950), sequence), "01"),
        member(f"配偶{index}", id_number(born(1952), sequence, female=True), "10", sex="2"),
    ]
    for child in range(index % 4):
        members.append(member(f"子女{index}-{child}", id_number(born(1985 + 5 * child), sequence), "20"))
    registered = FIRST_VISIT - timedelta(days=30 + index % 20)
    survey = baseline(village, f"{index % 5 + 1}组", members, day=registered.isoformat())
    day = (FIRST_VISIT + timedelta(days=index % 30)).isoformat()
    persons = len(members)
    follow_ups = [
        forms.xml(
            "house_appraisal", appraisal(entity, day=day, wall="aabbbcd"[index % 7]), entity_id=entity, base_version=1
        ),
        forms.xml(
            "water_survey",
            water(entity, day=day, fetch_minutes="25" if index % 5 == 0 else "15"),
            entity_id=entity,
            base_version=2,
        ),
        forms.xml(
            "income_check",
            income(entity, day=day, persons=persons, wages=(3000 + 1500 * (index % 5)) * persons),
            entity_id=entity,
            base_version=3,
        ),
    ]
    return forms.xml("hh_baseline", survey, entity_id=entity), follow_ups


def campaign(forms: Forms, first: int, count: int) -> tuple[list[bytes], list[list[bytes]]]:
    """Households ``first`` .. ``first + count - 1``: their baselines, and each one's follow-ups."""
    baselines, follow_ups = [], []
    for index in range(first, first + count):
        registration, later = household_submissions(forms, index)
        baselines.append(registration)
        follow_ups.append(later)
    return baselines, follow_ups


# -- part 2: storing submissions directly, and registry rebuild ----------------------------------------------


def open_services(data_dir: Path, database_url: str):  # noqa: ANN201 - server.services.Services
    """Services on a fresh data folder, migrated, with the four survey forms published (as serve does)."""
    from server.config import load_settings
    from server.services import build_services
    from server.startup import prepare

    settings = load_settings({}, data_dir=data_dir, database_url=database_url, log_level="WARNING")
    services = build_services(settings)
    setup = prepare(services)
    assert len(setup.published) == 4 and not setup.failed, setup
    return services


def store_directly(services, submissions: Iterator[bytes], batch: int = 500) -> int:  # noqa: ANN001
    """``receive_submission`` for every XML, ``batch`` to a transaction (the rows a 201 would have stored)."""
    from sync.db.engine import transaction
    from sync.intake.ingest import Envelope, receive_submission

    stored, pending = 0, []
    user_agent = HEADERS["User-Agent"]

    def flush() -> None:
        with transaction(services.sessions) as session:
            for xml in pending:
                envelope = Envelope(project_id=1, xml=xml, device_id="collect:BenchBenchBench0", user_agent=user_agent)
                receive_submission(session, services.store, envelope)

    for xml in submissions:
        pending.append(xml)
        if len(pending) == batch:
            flush()
            stored += len(pending)
            pending.clear()
    if pending:
        flush()
        stored += len(pending)
    return stored


# -- part 1: over HTTP, with and without the worker -------------------------------------------------------------

# ``qingling serve`` itself, with the worker thread it starts made a no-op: the jobs stay pending.
SERVE_WITHOUT_WORKER = (
    "import sys; import sync.jobs.worker; sync.jobs.worker.Worker.start = lambda self: None; "
    "from server.cli import main; sys.argv[0] = 'qingling'; main()"
)


class RegistryServer(Server):
    """bench/ingest.py's ``qingling serve`` harness, publishing the four survey forms on start (as shipped)."""

    def __init__(self, data_dir: Path, database_url: str, *, worker_thread: bool) -> None:  # noqa: D107
        self.data_dir, self.database_url = data_dir, database_url
        data_dir.mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
        self.env |= {"QINGLING_DATA_DIR": str(data_dir), "QINGLING_LOG_LEVEL": "WARNING"}
        if database_url:
            self.env["QINGLING_DATABASE_URL"] = database_url
        self.port = _free_port()
        self.log = data_dir.parent / "serve.log"
        command = [str(QINGLING)] if worker_thread else [sys.executable, "-c", SERVE_WITHOUT_WORKER]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [*command, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up(timeout=300.0)  # start-up publishes the four forms (ODK Validate on Java)
        banner = self.log.read_text(errors="replace")
        match = re.search(r"(/v1/key/[A-Za-z0-9_-]+/projects/\d+)\s*$", banner, re.MULTILINE)
        assert match and "hh_baseline" in banner and "income_check" in banner, banner
        self.token_path = match.group(1)

    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'qingling.db'}"

    def jobs(self) -> tuple[int, int]:
        """(pending, all) jobs; a failed one would be neither done nor pending (runs check that all are done)."""
        states = job_states(self.url())
        return states.get("pending", 0), sum(states.values())

    def start_worker(self) -> None:
        """``qingling worker``: the queue run by a process of its own, beside the server."""
        self.worker_log = open(self.data_dir.parent / "worker.log", "wb")  # noqa: SIM115 - closed in stop_worker
        self.worker = subprocess.Popen(
            [str(QINGLING), "worker"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.worker_log,
            stderr=subprocess.STDOUT,
        )

    def worker_cpu_seconds(self) -> float:
        fields_after_name = Path(f"/proc/{self.worker.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields_after_name[11]) + int(fields_after_name[12])) / os.sysconf("SC_CLK_TCK")

    def stop_worker(self) -> None:
        self.worker.terminate()
        self.worker.wait(timeout=30)
        self.worker_log.close()


def job_states(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT state, count(*) FROM jobs GROUP BY state")).all())
    finally:
        engine.dispose()


@dataclass
class Phones:
    """What the phones measured (shared by their threads)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    done: int = 0


def phone(server: RegistryServer, queue: list[bytes], phones: Phones) -> None:
    """One phone on a kept-alive connection: Collect's HEAD probe, then the multipart POST, for each XML."""
    url = f"{server.token_path}/submission?deviceID={DEVICE}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
    try:
        for xml in queue:
            body, content_type = multipart(xml, {})
            connection.request("HEAD", url, headers=HEADERS)
            head = connection.getresponse()
            head.read()
            posted = time.perf_counter()
            connection.request("POST", url, body=body, headers={**HEADERS, "Content-Type": content_type})
            answer = connection.getresponse()
            answer.read()
            finished = time.perf_counter()
            with phones.lock:
                if head.status == 204 and answer.status == 201:
                    phones.done += 1
                    phones.latencies_ms.append((finished - posted) * 1000)
                else:
                    key = f"HEAD {head.status} / POST {answer.status}"
                    phones.errors[key] = phones.errors.get(key, 0) + 1
    finally:
        connection.close()


def send(server: RegistryServer, queues: list[list[bytes]], phones: Phones) -> None:
    threads = [threading.Thread(target=phone, args=(server, queue, phones)) for queue in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


MODES = {
    "thread": "qingling serve as shipped: its worker thread normalizes while the phones send",
    "process": "qingling serve without its worker thread, and qingling worker as a second process",
    "off": "qingling serve without its worker thread: the jobs are left pending",
}


def ingest_run(database: str, url: str, folder: Path, mode: str, households: int, clients: int) -> dict:
    """One ``qingling serve`` on a fresh database; the campaign's baselines, then its follow-ups."""
    forms = Forms()
    baselines, follow_ups = campaign(forms, 0, households)
    warm_baselines, warm_follow_ups = campaign(forms, households, clients)  # not counted
    server = RegistryServer(folder / "data", url, worker_thread=mode == "thread")
    if mode == "process":
        server.start_worker()
    try:
        send(server, [[xml] for xml in warm_baselines], Phones())
        send(server, warm_follow_ups, Phones())
        if mode != "off":
            wait_for_queue(server, timeout=300)
        warm_pending, warm_total = server.jobs()
        phones = Phones()
        began, cpu_before = time.monotonic(), server.cpu_seconds()
        worker_cpu_before = server.worker_cpu_seconds() if mode == "process" else 0.0
        send(server, [baselines[k::clients] for k in range(clients)], phones)
        baselines_done = time.monotonic()
        send(server, [[xml for later in follow_ups[k::clients] for xml in later] for k in range(clients)], phones)
        elapsed = time.monotonic() - began
        cpu = server.cpu_seconds() - cpu_before
        worker_cpu = server.worker_cpu_seconds() - worker_cpu_before if mode == "process" else None
        pending, total = server.jobs()
        drained = wait_for_queue(server, timeout=1800) if mode != "off" else None
        peak = server.memory_mb("VmHWM")
    finally:
        server.stop()
        if mode == "process":
            server.stop_worker()
    result = {
        "database": database,
        "mode": mode,
        "households": households,
        "clients": clients,
        "submissions": phones.done,
        "errors": phones.errors,
        "seconds": elapsed,
        "baseline_seconds": baselines_done - began,
        "rate": phones.done / elapsed,
        "p50_ms": percentile(phones.latencies_ms, 50),
        "p95_ms": percentile(phones.latencies_ms, 95),
        "p99_ms": percentile(phones.latencies_ms, 99),
        "server_cpu": cpu / elapsed,
        "worker_cpu": worker_cpu / elapsed if worker_cpu is not None else None,
        "peak_rss_mb": peak,
        "jobs": total - warm_total,
        "pending_at_end": pending - warm_pending,
        "caught_up_after_s": drained,
        "loadavg": os.getloadavg()[0],
    }
    if mode == "off":
        result |= run_queue_alone(server.url(), folder / "data")
    states = job_states(server.url())
    assert set(states) == {"done"}, states
    result["registry"] = registry_counts(server.url())
    return result


def wait_for_queue(server: RegistryServer, timeout: float) -> float:
    """Seconds until no job is pending (the worker polls every 2 s when idle)."""
    began = time.monotonic()
    while server.jobs()[0]:
        if time.monotonic() - began > timeout:
            raise RuntimeError("the worker did not empty the queue in time")
        time.sleep(0.1)
    return time.monotonic() - began


def run_queue_alone(url: str, data_dir: Path) -> dict:
    """The pending queue, run to empty by ``run_pending_jobs`` (what the worker loop calls), server stopped."""
    from server.config import load_settings
    from server.services import build_services
    from sync.jobs.queue import run_pending_jobs

    services = build_services(load_settings({}, data_dir=data_dir, database_url=url))
    try:
        began, cpu = time.perf_counter(), time.process_time()
        ran = run_pending_jobs(services.sessions, services.work)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    finally:
        services.engine.dispose()
    # CPU: this process's (SQLite runs in it; a PostgreSQL server's own CPU is not counted).
    return {"queue_jobs": ran, "queue_seconds": seconds, "queue_rate": ran / seconds, "queue_cpu_seconds": cpu}


def registry_counts(url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in (
                    "households",
                    "persons",
                    "baseline_records",
                    "housing_appraisals",
                    "water_surveys",
                    "income_checks",
                    "flags",
                )
            }
    finally:
        engine.dispose()


# -- part 2: registry rebuild -----------------------------------------------------------------------------------


def rebuild_runs(database: str, url: str, folder: Path, sizes: list[int], quiet_load: float | None) -> list[dict]:
    """Store submissions up to each of ``sizes`` (same mix of forms in every stage), rebuild after each."""
    forms = Forms()
    data_dir = folder / "data"
    services = open_services(data_dir, url)
    url = services.settings.resolved_database_url
    results, stored, households = [], 0, 0
    try:
        for size in sizes:
            count = (size - stored) // 4
            began = time.perf_counter()
            baselines, follow_ups = campaign(forms, households, count)
            generated = time.perf_counter()
            added = store_directly(services, iter(baselines))
            added += store_directly(services, (xml for later in follow_ups for xml in later))
            store_seconds = time.perf_counter() - generated
            households, stored = households + count, stored + added
            del baselines, follow_ups
            settle_queue(services)
            if quiet_load:
                wait_for_quiet(quiet_load)
            print(f"  {database}: {stored:,} stored ({added / store_seconds:.0f}/s); rebuilding", flush=True)
            result = rebuild_child(data_dir, url)
            result |= {
                "database": database,
                "submissions": stored,
                "households": households,
                "generate_seconds": generated - began,
                "store_seconds": store_seconds,
                "store_rate": added / store_seconds,
                "registry": registry_counts(url),
            }
            assert result["registry"]["households"] == households, result
            print(
                f"  rebuild of {stored:,}: {result['seconds']:.0f} s ({stored / result['seconds']:.0f}/s), "
                f"peak RSS {result['peak_rss_mb']:.0f} MB",
                flush=True,
            )
            results.append(result)
    finally:
        services.engine.dispose()
    return results


def settle_queue(services) -> None:  # noqa: ANN001
    """The stored submissions' normalize jobs are marked done: the registry comes from the rebuild instead."""
    from sqlalchemy import update

    from sync.db.engine import transaction
    from sync.db.models import Job

    with transaction(services.sessions) as session:
        session.execute(update(Job).where(Job.state == "pending").values(state="done"))


# ``qingling registry rebuild``, reporting its own peak RSS as it exits. VmHWM belongs to the process's address space
# and starts again at exec; getrusage's ru_maxrss would also count the benchmark's own memory, which the child
# inherits at fork until its exec.
REBUILD_REPORTING_PEAK = """
import atexit, os, sys
def report():
    status = open("/proc/self/status").read()
    os.write(2, ("peak " + next(line for line in status.splitlines() if line.startswith("VmHWM")) + "\\n").encode())
atexit.register(report)
from server.cli import main
sys.argv[0] = "qingling"
main()
"""


def rebuild_child(data_dir: Path, url: str) -> dict:
    """``qingling registry rebuild`` as a process: wall time, peak RSS (its VmHWM), RSS sampled every 0.2 s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    env |= {"QINGLING_DATA_DIR": str(data_dir), "QINGLING_DATABASE_URL": url, "QINGLING_LOG_LEVEL": "WARNING"}
    log = data_dir.parent / "rebuild.log"
    samples: list[tuple[float, float]] = []
    with open(log, "wb") as out:
        began = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", REBUILD_REPORTING_PEAK, "registry", "rebuild"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
        status_file = Path(f"/proc/{process.pid}/status")
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                try:
                    found = re.search(r"^VmRSS:\s+(\d+) kB", status_file.read_text(), re.MULTILINE)
                except OSError:
                    return
                if found:
                    samples.append((time.monotonic() - began, int(found.group(1)) / 1024))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
    output = log.read_text(errors="replace")
    assert process.returncode == 0 and "registry rebuilt from" in output, output
    rebuilt = int(re.search(r"registry rebuilt from (\d+) submission", output).group(1))
    peak_kb = int(re.search(r"^peak VmHWM:\s+(\d+) kB", output, re.MULTILINE).group(1))

    def rss_at(fraction: float) -> float:
        moment = fraction * seconds
        return min(samples, key=lambda s: abs(s[0] - moment))[1] if samples else float("nan")

    return {
        "rebuilt": rebuilt,
        "seconds": seconds,
        "rate": rebuilt / seconds,
        "peak_rss_mb": peak_kb / 1024,
        "rss_mb_at": {f"{int(f * 100)}%": rss_at(f) for f in (0.1, 0.5, 0.9)},
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "loadavg": os.getloadavg()[0],
    }


# -- databases --------------------------------------------------------------------------------------------------


class Databases:
    """SQLite: the embedded default (empty URL, the file in the data folder). PostgreSQL: pgserver, as the tests."""

    def __init__(self, names: list[str]) -> None:
        self.server = None
        self.version = {"sqlite": sqlite_version()}
        if "postgresql" in names:
            import pgserver

            self._dir = tempfile.mkdtemp(prefix="qingling-bench-pg-")
            self.server = pgserver.get_server(self._dir, cleanup_mode="delete")
            self.base = self.server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
            self.version["postgresql"] = self._admin("SHOW server_version")

    def _admin(self, sql: str) -> str | None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        engine = create_engine(self.base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                result = connection.execute(text(sql))
                return str(result.scalar()) if result.returns_rows else None
        finally:
            engine.dispose()

    def create(self, database: str, name: str) -> str:
        if database == "sqlite":
            return ""
        from sqlalchemy import make_url

        self._admin(f'DROP DATABASE IF EXISTS "{name}"')
        self._admin(f'CREATE DATABASE "{name}"')
        return make_url(self.base).set(database=name).render_as_string(hide_password=False)

    def drop(self, database: str, name: str) -> None:
        if database != "sqlite":
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.server is not None:
            self.server.cleanup()


def sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


# -- the report -------------------------------------------------------------------------------------------------

BEGIN, END = "<!-- begin: written by bench/registry.py -->", "<!-- end: written by bench/registry.py -->"


LABELS = {"thread": "worker thread (as shipped)", "process": "`qingling worker` process", "off": "none (left pending)"}


def ingest_table(results: list[dict]) -> str:
    lines = [
        "| database | normalization | submissions | seconds | submissions/s | p50 / p95 / p99 POST ms | server CPU "
        "| normalize jobs pending when the phones stopped | queue empty after | queue alone, jobs/s "
        "| queue alone, CPU ms/job | load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        errors = "".join(f" ({count}x {kind})" for kind, count in r["errors"].items())
        caught = f"{r['caught_up_after_s']:.1f} s later" if r["caught_up_after_s"] is not None else "(no worker)"
        server_cpu = f"{100 * r['server_cpu']:.0f} %"
        if r.get("worker_cpu") is not None:
            server_cpu += f" + worker {100 * r['worker_cpu']:.0f} %"
        alone = f"{r['queue_rate']:.0f} ({r['queue_jobs']} in {r['queue_seconds']:.0f} s)" if "queue_rate" in r else ""
        cpu = f"{1000 * r['queue_cpu_seconds'] / r['queue_jobs']:.1f}" if "queue_cpu_seconds" in r else ""
        lines.append(
            f"| {r['database']} | {LABELS[r['mode']]} | {r['submissions']}{errors} | {r['seconds']:.1f} "
            f"| {r['rate']:.1f} | {r['p50_ms']:.0f} / {r['p95_ms']:.0f} / {r['p99_ms']:.0f} "
            f"| {server_cpu} | {r['pending_at_end']} of {r['jobs']} | {caught} | {alone} | {cpu} "
            f"| {r.get('loadavg', float('nan')):.1f} |"
        )
    return "\n".join(lines)


def rebuild_table(results: list[dict]) -> str:
    lines = [
        "| database | submissions | households | rebuild s | submissions/s | peak RSS MiB | RSS MiB at 10 / 50 / 90 % "
        "of the run | rebuild CPU s | stored by receive_submission, /s | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        at = " / ".join(f"{r['rss_mb_at'][k]:.0f}" for k in ("10%", "50%", "90%"))
        lines.append(
            f"| {r['database']} | {r['submissions']:,} | {r['households']:,} | {r['seconds']:.0f} | {r['rate']:.0f} "
            f"| {r['peak_rss_mb']:.0f} | {at} | {r['cpu_seconds']:.0f} | {r['store_rate']:.0f} "
            f"| {r.get('loadavg', float('nan')):.1f} |"
        )
    return "\n".join(lines)


def comparison_table(before: dict, after: dict) -> str:
    """The figures of two runs side by side (say the code before and after a change), where both measured them."""
    lines = ["| measure | before | after | after / before |", "|---|---:|---:|---:|"]

    def add(name: str, old: float | None, new: float | None, digits: int = 0) -> None:
        if old is None or new is None:
            return
        ratio = f"{new / old:.2f}" if old else ""
        lines.append(f"| {name} | {old:,.{digits}f} | {new:,.{digits}f} | {ratio} |")

    earlier = {(r["database"], r["mode"]): r for r in before.get("ingest", [])}
    for r in after.get("ingest", []):
        old = earlier.get((r["database"], r["mode"]))
        if old is None:
            continue
        where = f"{r['database']}, {LABELS[r['mode']]}"
        add(f"{where}: submissions/s over HTTP", old["rate"], r["rate"], 1)
        if r["mode"] == "off":
            add(f"{r['database']}: normalize jobs/s, the queue on its own", old["queue_rate"], r["queue_rate"], 1)
            add(
                f"{r['database']}: CPU ms per normalize job, the queue on its own",
                1000 * old["queue_cpu_seconds"] / old["queue_jobs"],
                1000 * r["queue_cpu_seconds"] / r["queue_jobs"],
                1,
            )
        else:
            add(f"{where}: jobs pending when the phones stopped", old["pending_at_end"], r["pending_at_end"])
            add(f"{where}: seconds until the queue was empty", old["caught_up_after_s"], r["caught_up_after_s"], 1)
    rebuilt = {(r["database"], r["submissions"]): r for r in before.get("rebuild", [])}
    for r in after.get("rebuild", []):
        old = rebuilt.get((r["database"], r["submissions"]))
        if old is not None:
            add(f"{r['database']}: registry rebuild of {r['submissions']:,}, seconds", old["seconds"], r["seconds"])
            add(
                f"{r['database']}: registry rebuild of {r['submissions']:,}, CPU s",
                old["cpu_seconds"],
                r["cpu_seconds"],
            )
            add(
                f"{r['database']}: registry rebuild of {r['submissions']:,}, peak RSS MiB",
                old["peak_rss_mb"],
                r["peak_rss_mb"],
            )
    return "\n".join(lines)


def generated_block(results: dict, commands: list[str], before: dict | None = None, before_label: str = "") -> str:
    m, versions = results["machine"], results["versions"]
    run = " and ".join(f"`{command}`" for command in commands)
    lines = [
        BEGIN,
        f"Last run {m['date']}: {run}. Machine: {m['nproc']} cores (`nproc`), {m['memory']} memory, {m['cpu']}, "
        f"Python {m['python']}, {m['os']}; SQLite {versions['sqlite']}"
        + (f", PostgreSQL {versions['postgresql']} (pgserver)" if "postgresql" in versions else "")
        + ".",
    ]
    if results.get("ingest"):
        first = results["ingest"][0]
        lines += [
            "",
            f"Over HTTP, {first['clients']} phones, {first['households']} households = {4 * first['households']} "
            "submissions (baselines first, then each household's appraisal, water survey and income check):",
            "",
            ingest_table(results["ingest"]),
        ]
    if results.get("rebuild"):
        lines += [
            "",
            "`qingling registry rebuild` as a process, after each stage of storing:",
            "",
            rebuild_table(results["rebuild"]),
        ]
    if before is not None:
        lines += ["", f"Before: {before_label}, run {before['machine']['date']} on the same machine.", ""]
        if before.get("ingest"):
            lines += [ingest_table(before["ingest"]), ""]
        if before.get("rebuild"):
            lines += [rebuild_table(before["rebuild"]), ""]
        lines += ["Before and after, side by side:", "", comparison_table(before, results)]
    lines.append(END)
    return "\n".join(lines)


def write_docs(block: str) -> None:
    """Put ``block`` between our markers in our section of docs/performance.md; nothing else is touched."""
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    if BEGIN in current and END in current:
        head, _, rest = current.partition(BEGIN)
        updated = head + block + rest.partition(END)[2]
    else:
        updated = current.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    DOC.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=["ingest", "rebuild", "all"], default="all")
    parser.add_argument("--database", default="sqlite", help="comma-separated: sqlite, postgresql (pgserver)")
    parser.add_argument("--households", type=int, default=1000, help="households over HTTP (4 submissions each)")
    parser.add_argument("--clients", type=int, default=8, help="phones sending at once")
    parser.add_argument("--modes", default="thread,off,process", help=f"comma-separated: {', '.join(MODES)}")
    parser.add_argument("--sizes", default="10000,30000,100000", help="submissions stored before each rebuild")
    parser.add_argument("--rebuild-database", default="sqlite", help="databases for the rebuild part")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    parser.add_argument(
        "--quiet-load", type=float, default=None, help="before each run, wait (at most 10 min) for a lower load average"
    )
    parser.add_argument("--write-docs", action="store_true", help=f"write the tables into {DOC.name}")
    parser.add_argument("--before", type=Path, default=None, help="--out of an earlier run, shown beside this one")
    parser.add_argument("--before-label", default="an earlier run", help="what the earlier run measured")
    args = parser.parse_args()

    databases = [name.strip() for name in args.database.split(",") if name.strip()]
    rebuild_databases = [name.strip() for name in args.rebuild_database.split(",") if name.strip()]
    wanted = set(databases if args.part != "rebuild" else []) | set(rebuild_databases if args.part != "ingest" else [])
    servers = Databases(sorted(wanted))
    results: dict = {"machine": machine(), "versions": servers.version, "ingest": [], "rebuild": []}
    began = time.monotonic()
    try:
        if args.part in ("ingest", "all"):
            for database in databases:
                for mode in args.modes.split(","):
                    if args.quiet_load:
                        wait_for_quiet(args.quiet_load)
                    print(f"ingest: {database}, {MODES[mode]} ...", flush=True)
                    name = f"bench_registry_ingest_{mode}"
                    with tempfile.TemporaryDirectory(prefix="qingling-bench-registry-") as folder:
                        url = servers.create(database, name)
                        try:
                            result = ingest_run(database, url, Path(folder), mode, args.households, args.clients)
                        finally:
                            servers.drop(database, name)
                    print(json.dumps(result), flush=True)
                    results["ingest"].append(result)
        if args.part in ("rebuild", "all"):
            sizes = [int(size) for size in args.sizes.split(",")]
            for database in rebuild_databases:
                print(f"rebuild: {database}, sizes {sizes} ...", flush=True)
                with tempfile.TemporaryDirectory(prefix="qingling-bench-rebuild-") as folder:
                    url = servers.create(database, "bench_registry_rebuild")
                    try:
                        results["rebuild"] += rebuild_runs(database, url, Path(folder), sizes, args.quiet_load)
                    finally:
                        servers.drop(database, "bench_registry_rebuild")
    finally:
        servers.close()
    results["total_seconds"] = time.monotonic() - began
    command = "python -m bench.registry " + " ".join(sys.argv[1:])
    if results["ingest"]:
        print(ingest_table(results["ingest"]))
    if results["rebuild"]:
        print(rebuild_table(results["rebuild"]))
    print(f"total {results['total_seconds'] / 60:.1f} min")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    if args.write_docs:
        before = json.loads(args.before.read_text(encoding="utf-8")) if args.before else None
        write_docs(generated_block(results, [command.strip()], before, args.before_label))
        print(f"written to {DOC}")


if __name__ == "__main__":
    main()
