"""``/metrics`` in Prometheus' text format, for administrators (HTTP Basic or a session token).

Two sources: figures read from the database at each scrape (the job queue: depth by kind and state,
failed jobs, running jobs, the oldest wait; the same for every app process, sync/jobs/figures.py), and
counters of this process (problem responses by code; ``503.1`` is the blob store failing under
ingestion). Each app process counts its own, so scrape every process, or sum them in Prometheus.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from server.auth import require_server_admin
from server.context import db
from sync.jobs.figures import queue_figures

bp = Blueprint("metrics", __name__)

PROCESS = CollectorRegistry(auto_describe=True)
PROBLEMS = Counter(
    "qingling_problems",
    "Error responses of this process by problem code (503.1: the blob store was unavailable).",
    ["code"],
    registry=PROCESS,
)


def count_problem(code: str) -> None:
    PROBLEMS.labels(code=code).inc()


class _QueueCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = queue_figures(db())
        jobs = GaugeMetricFamily("qingling_jobs", "Jobs in the queue by kind and state.", labels=["kind", "state"])
        for (kind, state), count in sorted(figures.by_kind_state.items()):
            jobs.add_metric([kind, state], count)
        yield jobs
        failed = sum(count for (_kind, state), count in figures.by_kind_state.items() if state == "failed")
        yield GaugeMetricFamily("qingling_jobs_failed", "Jobs that failed every attempt (qingling jobs list).", failed)
        yield GaugeMetricFamily("qingling_jobs_running", "Jobs claimed under a live lease.", figures.running)
        yield GaugeMetricFamily(
            "qingling_job_queue_wait_seconds",
            "How long the longest-waiting due job has waited; grows when workers are too few or dead.",
            figures.oldest_due_seconds,
        )


@bp.get("/metrics")
def metrics() -> Response:
    require_server_admin()
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_QueueCollector())
    return Response(generate_latest(scrape) + generate_latest(PROCESS), mimetype=CONTENT_TYPE_LATEST)
