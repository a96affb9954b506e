"""Benchmark of the submission exports: CSV ZIP and the OData feed of ``bench_wide30``, as Central was measured.

Run from the repository root (FORM is the ``bench_wide30`` XLSForm markdown or XForm the figures use):

    .venv/bin/python -m bench.exports --form FORM --rows 20000
    .venv/bin/python -m bench.exports --form FORM --rows 10000,100000 --database sqlite,postgresql
    .venv/bin/python -m bench.exports --form FORM --rows 1000000 --runs 1 --server-per-format \
        --formats csv.zip,csv,odata,xlsx,parquet

For each database and size, a fresh data folder is migrated, the form published and the submissions
inserted directly in bulk (30 fields and 3 members each, as the load client fills them; no HTTP, to save
time), then ``qingling serve`` is started as a process and each download is fetched ``--runs`` times over
HTTP Basic: total seconds, seconds to the first byte, bytes, and the server's peak RSS (VmHWM) after the
downloads, counted from after a first signed-in request (whose argon2 check peaks at 64 MiB on its own;
``--server-per-format``: a new server per format, so each peak is that download's), and the
server's CPU seconds per download. ``--keep DIR`` (SQLite) loads each size once into DIR and reuses it
on later runs (``--formats ''`` only loads), as 10^6 rows take minutes to load. ``--no-flat`` loads the
versions without the flattened copies ingestion stores, as before them. Only 127.0.0.1 and local database sockets are
contacted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bench.ingest import QINGLING, ROOT, _free_port
from bench.registry import Databases

USER, PASSWORD = "bench@county.example", "bench password 1234"


def instance(index: int, version: str) -> tuple[str, bytes]:
    instance_id, xml, _tables = instance_and_tables(index, version)
    return instance_id, xml


def instance_and_tables(index: int, version: str) -> tuple[str, bytes, list]:
    """One submission's instance ID, XML and the rows of its tables as the walker reads them, built from
    the same values, so the copy ingestion would store is made without parsing (`load` checks it against
    ingestion's own on the first rows)."""
    rng = random.Random(index)
    instance_id = f"uuid:{uuid.UUID(int=rng.getrandbits(128))}"
    texts = [f"text {rng.randint(0, 10**9)}" for _ in range(11)]
    ints = [str(rng.randint(0, 1000)) for _ in range(7)]
    decimals = [f"{rng.uniform(0, 1000):.3f}" for _ in range(7)]
    people = [(f"member {m}", str(rng.randint(1, 90)), f"{rng.uniform(50, 200):.1f}") for m in range(3)]
    status = rng.choice("abc")
    location = f"{rng.uniform(-80, 80):.6f} {rng.uniform(-170, 170):.6f} 100.0 5.0"
    xml = (
        f'<data xmlns:orx="http://openrosa.org/xforms" id="bench_wide30" version="{version}">'
        + "".join(f"<t{i:02d}>{v}</t{i:02d}>" for i, v in enumerate(texts, 1))
        + "".join(f"<i{i:02d}>{v}</i{i:02d}>" for i, v in enumerate(ints, 1))
        + "".join(f"<d{i:02d}>{v}</d{i:02d}>" for i, v in enumerate(decimals, 1))
        + f"<status>{status}</status><location>{location}</location>"
        + "".join(
            f"<members><m_name>{n}</m_name><m_age>{a}</m_age><m_height>{h}</m_height></members>" for n, a, h in people
        )
        + f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    )
    root = ([*texts, *ints, *decimals, status, location, instance_id, ""], instance_id, instance_id)
    members = [(list(person), instance_id, f"{instance_id}/members[{m}]") for m, person in enumerate(people, 1)]
    return instance_id, xml.encode(), [[root], members]


def load(data_dir: Path, database_url: str, form: Path, rows: int, *, flat: bool = True) -> None:
    """Migrate, publish, add the account and insert ``rows`` submissions in bulk, each with the flattened
    copy ingestion stores (``flat=False``: without, as versions stored before the copies existed)."""
    import hashlib

    from sqlalchemy import insert

    from server.config import load_settings
    from server.services import build_services
    from server.startup import prepare_database
    from sync.access.accounts import create_user
    from sync.db.engine import transaction
    from sync.db.models import Submission, SubmissionVersion
    from sync.exports.copies import copies_of, writer
    from sync.intake.publishing import publish_source

    settings = load_settings({}, data_dir=data_dir, database_url=database_url, publish_forms_on_start=False)
    services = build_services(settings)
    project = prepare_database(services, None)
    with transaction(services.sessions) as session:
        result = publish_source(session, services.store, project, form)
        form_id, version_id, version = result.form.id, result.version.id, result.version.version
        form_xml = result.version.xml
        create_user(session, USER, PASSWORD, "viewer")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = 5000
    copies = writer(form_xml)
    for index in range(min(rows, 200)):  # the copies written below are the walker's, as ingestion's are
        instance_id, xml, tables = instance_and_tables(index, version)
        flat_copy, texts = copies.copies(tables, instance_id)
        made = copies_of(form_xml, xml, instance_id)
        assert (flat_copy, texts) == (made["flat"], made["texts"]), f"row {index}: not ingestion's copies"
    for first in range(0, rows, batch):
        subs, versions = [], []
        for index in range(first, min(rows, first + batch)):
            instance_id, xml, tables = instance_and_tables(index, version)
            flat_copy, texts = copies.copies(tables, instance_id) if flat else (None, None)  # as ingestion stores them
            created = start + timedelta(seconds=index)
            subs.append({"id": index + 1, "form_id": form_id, "instance_id": instance_id, "created_at": created})
            versions.append(
                {
                    "submission_id": index + 1,
                    "form_id": form_id,
                    "form_version_id": version_id,
                    "instance_id": instance_id,
                    "current": True,
                    "xml": xml,
                    "xml_sha256": hashlib.sha256(xml).hexdigest(),
                    "flat": flat_copy,
                    "texts": texts,
                    "device_id": "collect:bench",
                    "created_at": created,
                }
            )
        with transaction(services.sessions) as session:
            session.execute(insert(Submission.__table__), subs)  # Core executemany: no ORM bulk path
            session.execute(insert(SubmissionVersion.__table__), versions)
    if services.engine.dialect.name == "postgresql":
        # Statistics, as autovacuum gathers them on a table that grew by ingestion: without them PostgreSQL
        # plans a freshly bulk-loaded table as if it were empty (nested loops, 0.55 s for 20,000 rows
        # instead of 0.38). SQLite is left as Qingling leaves it, never analyzed.
        with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")
    services.engine.dispose()


def serve(data_dir: Path, database_url: str) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    env |= {
        "QINGLING_DATA_DIR": str(data_dir),
        "QINGLING_LOG_LEVEL": "WARNING",
        "QINGLING_ALLOW_HTTP_BASIC": "true",
        "QINGLING_PUBLISH_FORMS_ON_START": "false",
    }
    if database_url:
        env["QINGLING_DATABASE_URL"] = database_url
    port = _free_port()
    log = open(data_dir.parent / "serve.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [str(QINGLING), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(f"{url}/healthz", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def download(url: str) -> tuple[float, float, int]:
    """Total seconds, seconds to the first bytes of the body (the first piece as it arrives, not the first
    256 KiB), and the size."""
    started = time.perf_counter()
    first = None
    size = 0
    with requests.get(url, auth=(USER, PASSWORD), stream=True, timeout=3600) as response:
        response.raise_for_status()
        for chunk in response.iter_content(None):  # None: each piece as it arrives
            if first is None and chunk:
                first = time.perf_counter() - started
            size += len(chunk)
    return time.perf_counter() - started, first or 0.0, size


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (the machine is shared: wall time swings 2x)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> None:
    """Set the process's VmHWM back to its current RSS (Linux ``clear_refs``), so the next peak read is of
    what follows: the download, not the first sign-in's argon2 check (64 MiB, once per account and 10
    minutes, sync/access/accounts.py)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


DOWNLOADS = {
    "csv.zip": "/v1/projects/1/forms/bench_wide30/submissions.csv.zip",
    "odata": "/v1/projects/1/forms/bench_wide30.svc/Submissions",
    "csv": "/v1/projects/1/forms/bench_wide30/submissions.csv",
    "xlsx": "/v1/projects/1/forms/bench_wide30/submissions.xlsx",
    "parquet": "/v1/projects/1/forms/bench_wide30/submissions.parquet",
}


def run(
    database: str, databases: Databases, form: Path, rows: int, runs: int, *, flat: bool = True,
    formats: tuple[str, ...] = ("csv.zip", "odata"), server_per_format: bool = False, keep: Path | None = None,
) -> list[dict]:
    name = f"bench_exports_{rows}{'' if flat else '_xml'}"
    if keep is None:
        folder = Path(tempfile.mkdtemp(prefix="qingling-bench-exports-"))
        url = databases.create(database, name)
    else:  # loaded once, downloaded from as often as asked (SQLite only: the database file is in the folder)
        if database != "sqlite":
            raise SystemExit("--keep: SQLite only (the PostgreSQL server is a temporary one)")
        folder = keep / name
        url = ""
    data_dir = folder / "data"
    marker = folder / "loaded"
    if marker.exists():
        print(f"{database} {rows}: reusing {data_dir}", flush=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)  # a load that did not finish
        folder.mkdir(parents=True)
        loaded = time.perf_counter()
        load(data_dir, url, form, rows, flat=flat)
        print(f"{database} {rows}: loaded in {time.perf_counter() - loaded:.1f} s", flush=True)
        if keep is not None:
            marker.write_text(f"{rows}\n")
    if not formats:
        return []
    process, base = serve(data_dir, url)
    results = []
    try:
        before = peak_mib(process.pid)
        for number, label in enumerate(formats):
            path = DOWNLOADS[label]
            if server_per_format and number:  # a fresh server: its peak RSS is this download's alone
                process.terminate()
                process.wait(timeout=30)
                process, base = serve(data_dir, url)
                before = peak_mib(process.pid)
            timings, cpu = [], []
            requests.get(base + "/v1/projects/1/forms/bench_wide30.svc", auth=(USER, PASSWORD), timeout=600)
            signin_peak = peak_mib(process.pid)
            reset_peak(process.pid)
            for _ in range(runs):
                before_cpu = cpu_seconds(process.pid)
                timings.append(download(base + path))
                cpu.append(cpu_seconds(process.pid) - before_cpu)
            result = {
                "database": database,
                "rows": rows,
                "download": label,
                "total_s": statistics.median(t[0] for t in timings),
                "server_cpu_s": statistics.median(cpu),
                "first_byte_s": statistics.median(t[1] for t in timings),
                "mb": timings[0][2] / 1e6,
                "peak_rss_mib": peak_mib(process.pid),  # since the sign-in, which peaks on its own
                "signin_peak_rss_mib": signin_peak,
                "idle_rss_mib": before,
            }
            print(json.dumps(result), flush=True)
            results.append(result)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if keep is None:
            databases.drop(database, name)
            shutil.rmtree(folder, ignore_errors=True)  # the data folder: hundreds of MB at 10^5 rows
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--form", type=Path, required=True)
    parser.add_argument("--rows", default="20000")
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-flat", action="store_true", help="store no flattened copies: exports parse the XML")
    parser.add_argument("--formats", default="csv.zip,odata", help=f"of {','.join(DOWNLOADS)}")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR",
        help="SQLite: load each size once into DIR and reuse it on later runs (--formats '' only loads)",
    )
    parser.add_argument(
        "--server-per-format", action="store_true", help="a new server for each format: each peak RSS its own"
    )
    args = parser.parse_args()
    names = args.database.split(",")
    databases = Databases(names)
    results = []
    try:
        for database in names:
            for rows in (int(r) for r in args.rows.split(",")):
                results.extend(
                    run(
                        database, databases, args.form, rows, args.runs, flat=not args.no_flat,
                        formats=tuple(f for f in args.formats.split(",") if f),
                        server_per_format=args.server_per_format, keep=args.keep,
                    )
                )
    finally:
        databases.close()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
