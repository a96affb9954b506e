"""Benchmark of the job queue's claim with a backlog: how long taking the next due job takes.

After an evening peak the worker can be tens of thousands of jobs behind (docs/performance.md,
Ingestion). Each claim asks for the oldest due pending job; this measures that claim, through the
queue's own `_claim`, with ``--pending`` jobs waiting (inserted in bulk, all due, as ingestion queues
them), on a migrated database: SQLite (a file in a temporary folder) and PostgreSQL (pgserver).

    .venv/bin/python -m bench.job_claims                                      # 1,000 and 100,000 pending
    .venv/bin/python -m bench.job_claims --pending 100000 --database sqlite,postgresql --claims 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.registry import Databases
from sync.db.engine import make_engine, make_session_factory
from sync.db.migrate import upgrade
from sync.db.models import Job
from sync.jobs.queue import _claim


def run(database: str, databases: Databases, pending: int, claims: int) -> dict:
    url = databases.create(database, f"bench_claims_{pending}")
    if not url:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='qingling-bench-claims-')) / 'q.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        with engine.begin() as connection:
            for first in range(0, pending, 10_000):
                rows = [
                    {"kind": "normalize", "state": "pending", "attempts": 0, "run_after": start, "created_at": start}
                    for _ in range(first, min(pending, first + 10_000))
                ]
                connection.execute(insert(Job.__table__), rows)
        factory = make_session_factory(engine)
        now = start + timedelta(hours=1)
        wall, cpu = [], []
        for _ in range(claims):  # each claim leases the oldest due job: the next claim takes the one after
            started, started_cpu = time.perf_counter(), time.process_time()
            assert _claim(factory, now, timedelta(minutes=5)) is not None
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        return {
            "database": database,
            "pending": pending,
            "claims": claims,
            "claim_ms_median": round(statistics.median(wall) * 1000, 3),
            "claim_ms_p95": round(sorted(wall)[int(0.95 * len(wall))] * 1000, 3),
            "claim_cpu_ms_median": round(statistics.median(cpu) * 1000, 3),
        }
    finally:
        engine.dispose()
        databases.drop(database, f"bench_claims_{pending}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", default="1000,100000", help="backlog sizes, comma-separated")
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--claims", type=int, default=300)
    args = parser.parse_args()
    names = args.database.split(",")
    databases = Databases(names)
    try:
        for database in names:
            for pending in (int(p) for p in args.pending.split(",")):
                print(json.dumps(run(database, databases, pending, args.claims)), flush=True)
    finally:
        databases.close()


if __name__ == "__main__":
    main()
