"""Benchmark of per-phone entity lists: 300,000 registered households, phones that carry one village.

Run from the repository root:

    .venv/bin/python -m bench.areas                          # SQLite, 300,000 households, about 2 minutes
    .venv/bin/python -m bench.areas --database-url postgresql+psycopg://...   # an empty PostgreSQL database
    .venv/bin/python -m bench.areas --households 30000 --phones 8 --rounds 3

What it does: a fresh data folder; the survey forms (forms/sources) published; ``--households``
registered households written straight into ``households`` (600 villages of 500, as a province's
registry after its baseline: the list is what is measured, not normalization); then

1. **building one village's list** in-process, as the manifest and the download do it: the hash
   (``entity_list_hash``) and the whole CSV (``entity_list_csv``), for 20 different villages; and
2. **8 phones updating their forms at once** against ``qingling serve`` on 127.0.0.1: each phone (an app
   user of its own village) does what Collect does on "Get blank form": formList, then for every form its
   XML and manifest, then every entity list the manifests name. One update is timed end to end;
   ``--rounds`` updates per phone, all phones started together.

Only 127.0.0.1 is contacted; request loops are bounded by ``--rounds``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

QINGLING = Path(sys.executable).with_name("qingling")
HOUSEHOLDS_PER_VILLAGE = 500
TOWNSHIPS = ("150121100", "150121101", "150121102", "150121103", "150121104", "150121105")
NS = {"f": "http://openrosa.org/xforms/xformsList", "m": "http://openrosa.org/xforms/xformsManifest"}
HEADERS = {"X-OpenRosa-Version": "1.0", "User-Agent": "org.odk.collect.android/v2024.2.4 bench"}


def village_codes(count: int) -> list[str]:
    per_township = -(-count // len(TOWNSHIPS))
    return [f"{TOWNSHIPS[k // per_township]}{201 + k % per_township:03d}" for k in range(count)]


def fill_registry(services, project_id: int, households: int) -> list[str]:  # noqa: ANN001
    """Registered households in villages of 500, inserted in batches (Core executemany)."""
    from sqlalchemy import insert

    from sync.db.models import Household, utcnow

    villages = village_codes(-(-households // HOUSEHOLDS_PER_VILLAGE))
    now, batch = utcnow(), []
    with services.engine.begin() as connection:
        for index in range(households):
            village = villages[index // HOUSEHOLDS_PER_VILLAGE]
            batch.append(
                {
                    "project_id": project_id,
                    "code": f"{village}{index % HOUSEHOLDS_PER_VILLAGE + 1:04d}",
                    "entity_id": str(uuid.UUID(int=index + 1)),
                    "registered_on": date(2021, 3, 1),
                    "label": f"户主{index} ({village}{index % HOUSEHOLDS_PER_VILLAGE + 1:04d})",
                    "county": village[:6],
                    "township": village[:9],
                    "village": village,
                    "group_name": f"{index % 5 + 1}组",
                    "head_name": f"户主{index}",
                    "hh_size": 1 + index % 6,
                    "house_grade": "ABCD"[index % 4],
                    "entity_version": 1,
                    "updated_at": now,
                }
            )
            if len(batch) == 5000:
                connection.execute(insert(Household), batch)
                batch = []
        if batch:
            connection.execute(insert(Household), batch)
    return villages


def time_village_lists(services, project_id: int, villages: list[str], count: int = 20) -> list[float]:  # noqa: ANN001
    from sync.registry.entities import entity_list_csv, entity_list_hash

    step = max(1, len(villages) // count)
    timings = []
    for village in villages[::step][:count]:
        with services.sessions() as session:
            started = time.perf_counter()
            entity_list_hash(session, project_id, village)
            body = b"".join(entity_list_csv(session, project_id, village))
            timings.append(time.perf_counter() - started)
        assert body.count(b"\n") == HOUSEHOLDS_PER_VILLAGE + 1, body.count(b"\n")
    return timings


def phone_update(port: int, path: str) -> tuple[float, int]:
    """One "Get blank form" of Collect: formList, each form and manifest, each entity list; seconds, bytes."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    received = 0

    def get(url: str) -> bytes:
        nonlocal received
        connection.request("GET", urlsplit(url).path or url, headers=HEADERS)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, (url, response.status, body[:300])
        received += len(body)
        return body

    started = time.perf_counter()
    listing = etree.fromstring(get(f"{path}/formList"))
    for form in listing.findall("f:xform", NS):
        get(form.findtext("f:downloadUrl", namespaces=NS))
        manifest_url = form.findtext("f:manifestUrl", namespaces=NS)
        if manifest_url:
            manifest = etree.fromstring(get(manifest_url))
            for entry in manifest.findall("m:mediaFile", NS):
                if entry.get("type") == "entityList":
                    get(entry.findtext("m:downloadUrl", namespaces=NS))
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed, received


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=300_000)
    parser.add_argument("--phones", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="form updates per phone (bounded)")
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()

    from server.config import load_settings
    from server.services import build_services
    from server.startup import prepare
    from sync.access.areas import create_app_user_in_area
    from sync.db.engine import transaction
    from sync.db.models import Project

    data_dir = Path(tempfile.mkdtemp(prefix="qingling-bench-areas-")) / "data"
    settings = load_settings({}, data_dir=data_dir, database_url=args.database_url, publish_forms_on_start=True)
    services = build_services(settings)
    started = time.perf_counter()
    setup = prepare(services)
    project_id = int(setup.server_path.rsplit("/", 1)[1])
    print(f"published {', '.join(setup.published)} in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    villages = fill_registry(services, project_id, args.households)
    elapsed = time.perf_counter() - started
    print(f"{args.households:,} households in {len(villages)} villages written in {elapsed:.1f} s")

    timings = time_village_lists(services, project_id, villages)
    print(
        f"one village's list ({HOUSEHOLDS_PER_VILLAGE} households, hash + CSV), {len(timings)} villages: "
        f"median {statistics.median(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )

    from sync.registry.entities import entity_list_csv

    with services.sessions() as session:
        started = time.perf_counter()
        whole = sum(len(chunk) for chunk in entity_list_csv(session, project_id))
    print(f"the whole list, for comparison: {whole / 1e6:.1f} MB built in {time.perf_counter() - started:.1f} s")

    paths = []
    with transaction(services.sessions) as session:
        project = session.get(Project, project_id)
        for number in range(args.phones):
            village = villages[(number * 37) % len(villages)]
            app_user = create_app_user_in_area(session, project, f"bench phone {number}", village)
            paths.append(f"/v1/key/{app_user.token}/projects/{project_id}")
    services.engine.dispose()

    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    env |= {"QINGLING_DATA_DIR": str(data_dir), "QINGLING_PUBLISH_FORMS_ON_START": "false"}
    if args.database_url:
        env["QINGLING_DATABASE_URL"] = args.database_url
    port = _free_port()
    log = data_dir.parent / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(QINGLING), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        _wait_until_up(port, server, log)
        results: list[tuple[float, int]] = []
        barrier = threading.Barrier(args.phones)

        def phone(path: str) -> None:
            for _ in range(args.rounds):
                barrier.wait(timeout=120)
                results.append(phone_update(port, path))

        threads = [threading.Thread(target=phone, args=(path,)) for path in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
    finally:
        server.terminate()
        server.wait(timeout=30)
    seconds = sorted(r[0] for r in results)
    sizes = {r[1] for r in results}
    print(
        f"{args.phones} phones updating forms and lists at once, {len(results)} updates: "
        f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s, "
        f"{min(sizes) / 1e3:.0f}-{max(sizes) / 1e3:.0f} kB per update"
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port: int, server: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"qingling serve exited:\n{log.read_text(errors='replace')}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("qingling serve did not answer /healthz in time")


if __name__ == "__main__":
    main()
