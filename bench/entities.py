"""The ``households`` entity listing pyodk reads (``GET .../datasets/households/entities``), at scale.

Builds a registry of ``--households`` households with ``--records`` records each (1: the baseline; 4: also an
appraisal, a water survey and an income check; the campaign of bench/registry.py), stored directly and
normalized by ``registry rebuild``, once per size into ``bench/results/`` (reused by later runs). Then it
times the listing through the app (Flask's test client, an admin account over HTTP Basic), to its last byte,
in wall-clock and CPU seconds of this process (the CPU figure is the one to compare on a shared machine),
and counts the SQL statements it ran.

    .venv/bin/python -m bench.entities --households 10000 --records 2
"""

from __future__ import annotations

import argparse
import base64
import resource
import shutil
import time
from pathlib import Path

from sqlalchemy import event

from bench.ingest import ROOT
from bench.registry import Forms, campaign, open_services, store_directly

RESULTS = ROOT / "bench" / "results"
EMAIL, PASSWORD = "bench@example.org", "entities-bench-password"


def prepared(households: int, records: int) -> Path:
    """A data folder holding the registry of ``households`` households (made once, then reused)."""
    folder = RESULTS / f"entities-{households}x{records}"
    if (folder / "ready").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    services = open_services(folder, f"sqlite:///{folder / 'qingling.db'}")
    from sync.access.accounts import create_user
    from sync.db.engine import transaction
    from sync.registry.rebuild import rebuild_registry

    baselines, follow_ups = campaign(Forms(), 0, households)
    store_directly(services, iter(baselines))
    store_directly(services, (xml for later in follow_ups for xml in later[: records - 1]))
    rebuild_registry(services.sessions)
    with transaction(services.sessions) as session:
        create_user(session, EMAIL, PASSWORD, "admin")
    services.engine.dispose()
    (folder / "ready").write_text("ok")
    return folder


def measure(folder: Path) -> dict:
    from server.app import create_app
    from server.config import load_settings
    from server.services import build_services

    settings = load_settings(
        {}, data_dir=folder, database_url=f"sqlite:///{folder / 'qingling.db'}", allow_http_basic=True,
        publish_forms_on_start=False, log_level="WARNING",
    )
    services = build_services(settings)
    statements = []
    event.listen(services.engine, "before_cursor_execute", lambda *args: statements.append(1))
    app = create_app(settings, services)
    client = app.test_client()
    auth = {"Authorization": "Basic " + base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()}
    url = "/v1/projects/1/datasets/households/entities"
    client.get(url, headers=auth)  # warm: the password check and the first connection
    statements.clear()
    started, cpu_started = time.perf_counter(), time.process_time()
    response = client.get(url, headers=auth)
    body = response.data  # a streamed answer is written as it is read: the clock stops after the last byte
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    assert response.status_code == 200, body[:500]
    return {
        "entities": len(response.get_json()),
        "bytes": len(body),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "statements": len(statements),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=10000)
    parser.add_argument("--records", type=int, choices=range(1, 5), default=4, help="records per household")
    args = parser.parse_args()
    print({"households": args.households, "records": args.records, **measure(prepared(args.households, args.records))})


if __name__ == "__main__":
    main()
