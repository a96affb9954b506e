"""Benchmark: submissions with one 1 MB photo over real HTTP, local store vs S3, thumbnails off or on the
request path; and how long the background ``photos`` job takes per photo.

Run from the repository root:

    .venv/bin/python -m bench.photo_ingest                   # 12 variants x 240 submissions, about 5 min
    .venv/bin/python -m bench.photo_ingest --count 40        # a quick look
    .venv/bin/python -m bench.photo_ingest --databases sqlite --stores local

Each variant is a fresh installation (data folder, database, blob store) served by waitress on 127.0.0.1
with 8 threads, as ``qingling serve`` runs it. 8 client threads POST Collect-shaped multipart submissions
(the XML plus one distinct 1 MB, 5 MP JPEG each; bodies are built before the clock starts) until
``--count`` are sent or ``--seconds`` pass. Variants:

- store: the local folder store, or S3 on a moto server on 127.0.0.1 (``python -m moto.server``);
- database: SQLite (the embedded default) or PostgreSQL (pgserver, as the tests use);
- thumbnails: ``job`` (ingestion stores the photo, the ``photos`` job does the rest, later), ``job + worker``
  (the same, with the worker thread ``qingling serve`` starts running the jobs while the phones send:
  production), or
  ``request`` (the job's per-image work, ``sync.evidence.examine.examine_image``, called synchronously inside
  the request through a store wrapper, i.e. before the 201 is sent).

After each ``job`` variant the queue is run job by job (``run_pending_jobs(limit=1)``) and each job is timed,
so the photos job's time per photo includes reading the blob back, the checks, two thumbnail writes, the
band index and the flags. Figures go to ``--out`` (JSON and Markdown) and to stdout; docs/performance.md
("Photos") quotes them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import logging
import os
import platform
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import piexif
import PIL
import requests
from PIL import Image
from sqlalchemy import func, select

from bench.photo_scenes import encode_jpeg, render, scenes_for
from forms.build import compile_xlsform
from media.store import BlobStore
from server.app import create_app
from server.config import load_settings
from server.services import Services, build_services
from server.startup import prepare_database
from sync.db.engine import transaction
from sync.db.models import Job, SubmissionAttachment
from sync.evidence.examine import examine_image
from sync.intake.projects import ensure_default_project
from sync.intake.publishing import publish_form
from sync.jobs.queue import run_pending_jobs
from sync.jobs.worker import Worker
from tests.collect import COLLECT_HEADERS, DEVICE_ID, instance_xml, submission_body

FORM = """\
| survey |          |           |                |
|        | type     | name      | label          |
|        | start    | start     |                |
|        | end      | end       |                |
|        | geopoint | gps_house | House location |
|        | image    | ph_front  | Front          |
| settings |                |                |         |
|          | form_id        | title          | version |
|          | photo_evidence | Photo evidence | 1       |
"""
PHOTO_SIZE = (2592, 1944)  # 5 MP; with sensor noise and quality 88 the JPEG is about 1 MB
THREADS = 8
# Where the per-image work runs: later in the job (nothing else running), in the job with a worker running
# beside the server while phones send (production), or synchronously inside the request.
THUMBNAILS = ("job", "job + worker", "request")


class ThumbnailingStore:
    """A store that does the photo job's per-image work synchronously in ``put_path``: the "request" variant."""

    def __init__(self, inner: BlobStore, sizes: tuple[int, ...]) -> None:
        self.inner, self.sizes = inner, sizes

    def put_path(self, key: str, path: Path, *, content_type: str = "application/octet-stream", move: bool = False):  # noqa: ANN201
        if content_type.startswith("image/") and key.startswith("blobs/"):
            examine_image(self.inner, key.rsplit("/", 1)[-1], Path(path), sizes=self.sizes)
        return self.inner.put_path(key, path, content_type=content_type, move=move)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass(frozen=True)
class Variant:
    database: str
    store: str
    thumbnails: str

    @property
    def name(self) -> str:
        return f"{self.database} / {self.store} / thumbnails in {self.thumbnails}"


@dataclass
class Outcome:
    variant: Variant
    sent: int = 0
    seconds: float = 0.0
    megabytes: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    job_ms: dict[str, list[float]] = field(default_factory=dict)
    job_cpu_ms: dict[str, list[float]] = field(default_factory=dict)
    jobs_during_ingest: int = 0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        jobs = {
            kind: {
                "jobs": len(times),
                "mean_ms": round(statistics.fmean(times), 1),
                "p50_ms": round(_quantile(times, 0.5), 1),
                "p95_ms": round(_quantile(times, 0.95), 1),
                "cpu_mean_ms": round(statistics.fmean(self.job_cpu_ms[kind]), 1),
            }
            for kind, times in self.job_ms.items()
            if times
        }
        return {
            "database": self.variant.database,
            "store": self.variant.store,
            "thumbnails": self.variant.thumbnails,
            "submissions": self.sent,
            "seconds": round(self.seconds, 2),
            "submissions_per_s": round(self.sent / self.seconds, 1) if self.seconds else 0.0,
            "mb_per_s": round(self.megabytes / self.seconds, 1) if self.seconds else 0.0,
            "latency_ms": {
                "p50": round(_quantile(lat, 0.5), 0),
                "p95": round(_quantile(lat, 0.95), 0),
                "max": round(max(lat), 0) if lat else 0,
            },
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "jobs_during_ingest": self.jobs_during_ingest,
            "jobs": jobs,
        }


def _quantile(values: list[float], q: float) -> float:
    return float(np.quantile(values, q)) if values else 0.0


def base_photo(seed: int = 20241201) -> bytes:
    scene = scenes_for(1, seed)[0]
    pixels = np.asarray(render(scene, PHOTO_SIZE)).astype(np.float32)
    noisy = np.clip(pixels + np.random.default_rng(seed).normal(0, 5, pixels.shape), 0, 255).astype(np.uint8)
    return encode_jpeg(Image.fromarray(noisy), quality=88)


def unique_photo(base: bytes, number: int) -> bytes:
    """The same pixels with an EXIF block of their own (time, place, a unique id): distinct bytes per photo."""
    exif = {
        "0th": {piexif.ImageIFD.Make: b"Bench Phone"},
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: b"2024:05:01 10:30:15",
            piexif.ExifIFD.ImageUniqueID: f"{number:032d}".encode(),
        },
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N",
            piexif.GPSIFD.GPSLatitude: ((30, 1), (39, 1), (3600 + number, 100)),
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: ((104, 1), (3, 1), (3600, 100)),
        },
    }
    out = io.BytesIO()
    piexif.insert(piexif.dump(exif), base, out)
    return out.getvalue()


def build_bodies(count: int, base: bytes) -> list[tuple[bytes, str]]:
    bodies = []
    for number in range(count):
        name = f"{1714530000000 + number}.jpg"
        fields = {
            "start": "2024-05-01T10:00:00.000+08:00",
            "end": "2024-05-01T10:45:00.000+08:00",
            "gps_house": "30.6510 104.0600 512.0 4.0",
            "ph_front": name,
        }
        xml = instance_xml("photo_evidence", "1", f"uuid:{uuid.uuid4()}", fields, root="photo_evidence")
        multipart = submission_body(xml, {name: unique_photo(base, number)})
        bodies.append((multipart.body(), multipart.content_type))
    return bodies


def install(variant: Variant, root: Path, database_url: str, s3_endpoint: str | None) -> Services:
    store: dict[str, Any] = {}
    if variant.store == "s3":
        store = {
            "blob_store": "s3",
            "s3_bucket": "qingling-bench",
            "s3_endpoint_url": s3_endpoint,
            "s3_prefix": f"bench-{uuid.uuid4().hex[:8]}/",
        }
    settings = load_settings(
        {}, data_dir=root, database_url=database_url, publish_forms_on_start=False, threads=THREADS, **store
    )
    services = build_services(settings)
    project = prepare_database(services, None)
    source = root / "photo_evidence.md"
    source.write_text(FORM)
    with transaction(services.sessions) as session:
        publish_form(session, services.store, project, compile_xlsform(source, validate=False), {})
    return services


def ingest(services: Services, variant: Variant, bodies: list[tuple[bytes, str]], seconds: float) -> Outcome:
    from waitress.server import create_server

    app_services = services
    if variant.thumbnails == "request":
        app_services = replace(services, store=ThumbnailingStore(services.store, services.photos.thumbnail_sizes))
    app = create_app(services=app_services)
    worker = None
    if variant.thumbnails == "job + worker":  # as `qingling serve` runs it: a worker thread in the process
        worker = Worker(services.sessions, services.work)
        worker.start()
        app.extensions["qingling.worker"] = worker
    server = create_server(app, host="127.0.0.1", port=0, threads=THREADS, max_request_body_size=200_000_000)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    with transaction(services.sessions) as session:
        project, app_user = ensure_default_project(session, services.settings.default_project_name)
    url = (
        f"http://127.0.0.1:{server.effective_port}/v1/key/{app_user.token}/projects/{project.id}/submission"
        f"?deviceID={DEVICE_ID}"
    )
    outcome = Outcome(variant)
    lock = threading.Lock()
    numbers = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        with requests.Session() as http:
            while True:
                with lock:
                    number = next(numbers)
                if number >= len(bodies) or time.perf_counter() > deadline:
                    return
                body, content_type = bodies[number]
                sent = time.perf_counter()
                response = http.post(url, data=body, headers={**COLLECT_HEADERS, "Content-Type": content_type})
                elapsed = (time.perf_counter() - sent) * 1000
                with lock:
                    outcome.latencies_ms.append(elapsed)
                    outcome.statuses[response.status_code] = outcome.statuses.get(response.status_code, 0) + 1
                    if response.status_code == 201:
                        outcome.sent += 1
                        outcome.megabytes += len(body) / 1e6

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(client) for _ in range(THREADS)]:
            future.result()
    outcome.seconds = time.perf_counter() - started
    if worker is not None:
        with services.sessions() as session:
            outcome.jobs_during_ingest = session.scalar(
                select(func.count()).select_from(Job).where(Job.state == "done")
            )
        worker.stop(timeout=120)
        run_pending_jobs(services.sessions, services.work)  # what the worker had not reached yet
    server.task_dispatcher.shutdown(timeout=10)
    server.close()
    thread.join(timeout=5)
    with services.sessions() as session:
        present = SubmissionAttachment.present.is_(True)
        stored = session.scalar(select(func.count()).select_from(SubmissionAttachment).where(present))
    assert stored == outcome.sent, (stored, outcome.sent)
    return outcome


def time_jobs(services: Services, outcome: Outcome, max_photos: int) -> None:
    """Run the queue one job at a time (the worker's order) and time each, up to ``max_photos`` photos jobs."""
    context = services.work
    while len(outcome.job_ms.get("photos", [])) < max_photos:
        with services.sessions() as session:
            kind = session.scalar(select(Job.kind).where(Job.state == "pending").order_by(Job.id).limit(1))
        if kind is None:
            break
        started, cpu = time.perf_counter(), time.process_time()
        assert run_pending_jobs(services.sessions, context, limit=1) == 1
        outcome.job_ms.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        outcome.job_cpu_ms.setdefault(kind, []).append((time.process_time() - cpu) * 1000)
    with services.sessions() as session:
        failed = session.scalar(select(func.count()).select_from(Job).where(Job.attempts > 0, Job.state != "done"))
    assert not failed, f"{failed} jobs failed"


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = None
    with contextlib.suppress(ValueError, OSError):
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pillow": PIL.__version__,
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.now().strftime("%Y-%m-%d"),
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def markdown(results: dict[str, Any]) -> str:
    lines = [
        f"Machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"{results['machine']['memory_gib']} GiB, {results['machine']['os']}, Python {results['machine']['python']}, "
        f"Pillow {results['machine']['pillow']}, SQLite {results['machine']['sqlite']}, "
        f"load average {results['machine']['load_average_1m_at_start']} at the start; "
        f"photo {results['photo_bytes']:,} bytes ({PHOTO_SIZE[0]} x {PHOTO_SIZE[1]}); {THREADS} clients, "
        f"waitress with {THREADS} threads, all on 127.0.0.1.",
        "",
        "| database | store | thumbnails | submissions | submissions/s | MB/s | p50 ms | p95 ms | max ms | statuses "
        "| jobs run meanwhile |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        lat = run["latency_ms"]
        statuses = ", ".join(f"{k}: {v}" for k, v in run["statuses"].items())
        lines.append(
            f"| {run['database']} | {run['store']} | {run['thumbnails']} | {run['submissions']} | "
            f"{run['submissions_per_s']} | {run['mb_per_s']} | {lat['p50']:.0f} | {lat['p95']:.0f} | "
            f"{lat['max']:.0f} | {statuses} | {run['jobs_during_ingest']} |"
        )
    lines += ["", "| database | store | job | jobs timed | mean ms | p50 ms | p95 ms | CPU ms (this process), mean |"]
    lines += ["|---|---|---|---|---|---|---|---|"]
    for run in results["runs"]:
        for kind, job in run["jobs"].items():
            lines.append(
                f"| {run['database']} | {run['store']} | {kind} | {job['jobs']} | {job['mean_ms']} | "
                f"{job['p50_ms']} | {job['p95_ms']} | {job['cpu_mean_ms']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=240, help="submissions per variant (default 240)")
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit per variant (default 60)")
    parser.add_argument("--job-photos", type=int, default=60, help="photos jobs timed per job variant")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--stores", default="local,s3")
    parser.add_argument("--out", type=Path, default=Path("bench/results/photo_ingest"))
    args = parser.parse_args()
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is the point here

    from tests.media.s3_server import MotoServer, dummy_aws_credentials

    info = machine()  # before the runs: the load average then says whether anything else was running
    base = base_photo()
    bodies = build_bodies(args.count, base)
    print(f"photo: {len(base):,} bytes; {len(bodies)} bodies of {len(bodies[0][0]):,} bytes ready", flush=True)
    databases, stores = args.databases.split(","), args.stores.split(",")
    postgres = None
    runs = []
    with dummy_aws_credentials(), tempfile.TemporaryDirectory(prefix="qingling-bench-") as folder:
        moto = MotoServer() if "s3" in stores else None
        try:
            if moto is not None:
                from media.store import S3Store

                S3Store("qingling-bench", endpoint_url=moto.endpoint_url).ensure_bucket()
            if "postgresql" in databases:
                from tests.databases import PostgresDatabases

                postgres = PostgresDatabases()
            for number, variant in enumerate(
                Variant(d, s, t) for d in databases for s in stores for t in THUMBNAILS
            ):
                root = Path(folder) / f"run-{number}"
                url = postgres.create() if variant.database == "postgresql" else f"sqlite:///{root / 'qingling.db'}"
                root.mkdir()
                services = install(variant, root, url, moto.endpoint_url if moto else None)
                try:
                    outcome = ingest(services, variant, bodies, args.seconds)
                    if variant.thumbnails == "job":
                        time_jobs(services, outcome, args.job_photos)
                finally:
                    services.engine.dispose()
                    if variant.database == "postgresql":
                        postgres.drop(url)
                runs.append(outcome.summary())
                print(json.dumps(runs[-1]), flush=True)
        finally:
            if moto is not None:
                moto.stop()
            if postgres is not None:
                postgres.close()
    results = {"machine": info, "photo_bytes": len(base), "count": args.count, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
