"""Benchmark of the review workspace: the queue and a submission page at 100,000 submissions.

Run from the repository root:

    .venv/bin/python -m bench.review                                  # SQLite, 10k and 100k submissions
    .venv/bin/python -m bench.review --sizes 100000 --database-url postgresql+psycopg://...

For each size a fresh database is migrated, the four survey forms are published, and synthetic rows are
inserted directly (no HTTP, no normalization): N submissions spread over 3 townships and 40 villages, each
with its current version (a small XML of the form's fields), three photo attachments and their photo checks
with thumbnail keys (3N photos), a housing appraisal for each appraisal submission, review states, flags on
one submission in ten, and the area and verdict columns normalization would have set. One thumbnail blob
is stored for real, to measure the thumbnail response.

Then a child process (so that its peak memory is its own) builds the app as ``qingling serve`` does and
signs in as a county supervisor through the Flask test client, and times, server side, the queue page for
each filter of the queue alone and in combination, on the first page and 500 pages deep (the keyset cursor
of a row in the middle), a submission page for 20 submissions, and the thumbnail response with its ETag.
Reported: median and 95th percentile milliseconds per request, the median CPU time of the process per
request (on a machine shared with other work, the figure that work does not inflate), and the child's
peak RSS (VmHWM).
Only local database sockets are contacted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOWNSHIPS = ("150121100", "150121102", "150121103")
PASSWORD = "bench password 1"
FILTERS = {
    "no filter": {},
    "form": {"form": "house_appraisal"},
    "township": {"township": "150121102"},
    "village": {"village": "150121102205"},
    "date range": {"start": "2024-03-01", "end": "2024-03-31"},
    "review state": {"state": "none"},
    "flag kind": {"flag": "photo_taken_too_far_away"},
    "enumerator": {"enumerator": "7"},
    "house grade C/D": {"form": "house_appraisal", "verdict": ["C", "D"]},
    "township + grade C/D + month": {"form": "house_appraisal", "township": "150121100", "verdict": ["C", "D"],
                                     "start": "2024-03-01", "end": "2024-03-31"},
    "village + state + flag": {"village": "150121100203", "state": "none", "flag": "any"},
    "water does not meet + enumerator": {"form": "water_survey", "verdict": ["budabiao"], "enumerator": "3"},
}


def build(database_url: str, data_dir: Path, size: int, seed: int = 1) -> None:
    """Migrate, publish the forms, insert ``size`` synthetic submissions with their rows."""
    sys.path.insert(0, str(ROOT))
    from forms.build import compile_xlsform, find_sources, media_file
    from media.store import thumbnail_key
    from server.config import load_settings
    from server.services import build_services
    from server.startup import prepare_database
    from sync.access.accounts import create_user
    from sync.db.engine import transaction
    from sync.db.models import (
        AppUser,
        Flag,
        Form,
        HousingAppraisal,
        PhotoCheck,
        Submission,
        SubmissionAttachment,
        SubmissionVersion,
    )
    from sync.intake.publishing import publish_form

    services = build_services(load_settings({}, data_dir=data_dir, database_url=database_url,
                                            publish_forms_on_start=False))
    project = prepare_database(services, None)
    with transaction(services.sessions) as session:
        for source in find_sources():
            form = compile_xlsform(source, validate=False)
            publish_form(session, services.store, project, form, {n: media_file(n, source.parent) for n in form.media})
        create_user(session, "county@bench.example", PASSWORD, "supervisor", area="150121", project_id=project.id)
        for n in range(20):
            session.add(AppUser(project_id=project.id, display_name=f"调查员{n:02d}", token=f"bench-token-{n}"))
    rng = random.Random(seed)
    villages = [f"{t}{200 + v:03d}" for t in TOWNSHIPS for v in range(14)][:40]
    villages[0] = "150121100203"
    villages[15] = "150121102205"
    with services.sessions() as session:
        forms = {f.xml_form_id: (f.id, f.current_version_id) for f in session.query(Form).all()}
        app_users = [a.id for a in session.query(AppUser).all()]
    kinds = list(forms)
    grades, waters = "ABCD", ("dabiao", "jiben", "budabiao")
    states = (None, None, None, "approved", "hasIssues", "rejected")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    engine = services.engine
    thumb_sha = None
    batch = 5000
    for first in range(0, size, batch):
        subs, versions, attachments, checks, appraisals, flags = [], [], [], [], [], []
        for i in range(first, min(size, first + batch)):
            sid = i + 1
            kind = kinds[i % len(kinds)]
            village = villages[rng.randrange(len(villages))]
            verdict = rng.choice(grades) if kind == "house_appraisal" else (
                rng.choice(waters) if kind == "water_survey" else None)
            created = start + timedelta(seconds=i * 90)
            code = f"{village}{(i // 4) % 9999 + 1:04d}"
            subs.append({"id": sid, "form_id": forms[kind][0], "instance_id": f"uuid:bench-{sid}",
                         "review_state": rng.choice(states), "submitter_app_user_id": rng.choice(app_users),
                         "created_at": created, "county": village[:6], "township": village[:9], "village": village,
                         "household_code": code, "verdict": verdict, "device_verdict": verdict})
            names = [f"p{sid}-{n}.jpg" for n in range(3)]
            xml = (f'<data id="{kind}" version="1"><survey_date>{created.date()}</survey_date>'
                   f"<photos><ph_front>{names[0]}</ph_front><ph_side>{names[1]}</ph_side>"
                   f"<ph_team>{names[2]}</ph_team></photos><meta><instanceID>uuid:bench-{sid}</instanceID></meta>"
                   "</data>").encode()
            versions.append({"id": sid, "submission_id": sid, "form_id": forms[kind][0],
                             "form_version_id": forms[kind][1], "instance_id": f"uuid:bench-{sid}", "current": True,
                             "xml": xml, "xml_sha256": hashlib.sha256(xml).hexdigest(), "created_at": created})
            for n, name in enumerate(names):
                sha = hashlib.sha256(f"{sid}-{n}".encode()).hexdigest()
                thumb_sha = thumb_sha or sha
                attachments.append({"submission_version_id": sid, "name": name, "content_type": "image/jpeg",
                                    "size": 1000, "sha256": sha, "md5": sha[:32], "blob_key": f"blobs/{sha}",
                                    "present": True, "received_at": created,
                                    "field": ("ph_front", "ph_side", "ph_team")[n]})
                checks.append({"sha256": sha, "readable": True, "image_format": "JPEG", "width": 1600,
                               "height": 1200, "fingerprint": {}, "checked_at": created,
                               "thumbnails": {"256": thumbnail_key(sha, 256), "1024": thumbnail_key(sha, 1024)}})
            if kind == "house_appraisal":
                appraisals.append({"project_id": project.id, "household_ref": code, "submission_id": sid,
                                   "submission_version_id": sid, "instance_id": f"uuid:bench-{sid}",
                                   "form_version": "1", "received_at": created, "answers": {},
                                   "server_verdict": {"grade": verdict}, "device_verdict": {}, "status": "rated",
                                   "grade": verdict, "device_grade": verdict})
            if i % 10 == 0:
                flags.append({"project_id": project.id, "kind": "photo_taken_too_far_away", "severity": "warning",
                              "message": "far", "source": "photos", "submission_id": sid,
                              "submission_version_id": sid, "household_code": code, "attachment_name": names[0],
                              "details": {"distance_m": 1200.0, "limit_m": 300.0}, "state": "open",
                              "created_at": created})
        with engine.begin() as connection:
            for model, rows in ((Submission, subs), (SubmissionVersion, versions),
                                (SubmissionAttachment, attachments), (PhotoCheck, checks),
                                (HousingAppraisal, appraisals), (Flag, flags)):
                if rows:
                    connection.execute(model.__table__.insert(), rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in ("submissions", "submission_versions"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            connection.exec_driver_sql("ANALYZE")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    from tests.media.photos import jpeg_bytes

    services.store.put_bytes(thumbnail_key(thumb_sha, 256), jpeg_bytes(), content_type="image/jpeg")
    (data_dir / "bench.json").write_text(json.dumps({"thumbnail": thumb_sha}))
    engine.dispose()


def measure(database_url: str, data_dir: Path, repeats: int) -> dict:
    """In this process: sign in, then time the pages (run as a child by ``run``)."""
    sys.path.insert(0, str(ROOT))
    from server.app import create_app
    from server.config import load_settings
    from server.services import build_services

    services = build_services(load_settings({}, data_dir=data_dir, database_url=database_url,
                                            publish_forms_on_start=False))
    app = create_app(services=services)
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/sign-in", data={"email": "county@bench.example", "password": PASSWORD,
                                         "csrf_token": token}).status_code == 302

    cpu: list[float] = []  # the process's CPU time of each timed request, in step with the wall times

    def timed(url: str, **kwargs: object) -> tuple[float, object]:
        began, began_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, **kwargs)
        response.get_data()
        elapsed = (time.perf_counter() - began) * 1000
        cpu.append((time.process_time() - began_cpu) * 1000)
        assert response.status_code in (200, 304), (url, response.status_code)
        return elapsed, response

    def summary(times: list[float]) -> dict:
        """Wall and CPU figures of the last ``len(times)`` requests (CPU time is what a loaded machine's
        other work does not add to)."""
        return {**_summary(times), "cpu_median_ms": round(statistics.median(cpu[-len(times):]), 1)}

    from urllib.parse import urlencode

    from sqlalchemy import func, select

    from sync.db.models import Submission

    with services.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Submission))
        middle = session.scalar(select(Submission.id).order_by(Submission.created_at.desc(), Submission.id.desc())
                                .offset(total // 2).limit(1))
        sample = list(session.scalars(select(Submission.instance_id).order_by(Submission.id)
                                      .offset(total // 3).limit(20)))
        appraisal_ids = list(session.scalars(select(Submission.instance_id).where(
            Submission.instance_id.in_(sample))))
    results: dict = {"queue": {}, "submission": {}, "thumbnail": {}}
    for name, args in FILTERS.items():
        query = urlencode(args, doseq=True)
        for where, extra in (("first page", ""), ("deep page", f"&after={middle}")):
            url = f"/projects/1/submissions?{query}{extra}"
            timed(url)  # warm
            times = [timed(url)[0] for _ in range(repeats)]
            results["queue"][f"{name} ({where})"] = summary(times)
    forms = ["hh_baseline", "house_appraisal", "water_survey", "income_check"]
    times = []
    with services.sessions() as session:
        from sync.db.models import Form

        by_instance = dict(session.execute(select(Submission.instance_id, Form.xml_form_id)
                                           .join(Form, Form.id == Submission.form_id)
                                           .where(Submission.instance_id.in_(appraisal_ids))).all())
    page_cpu = []
    for instance in appraisal_ids:
        url = f"/projects/1/forms/{by_instance.get(instance, forms[0])}/submissions/{instance}"
        timed(url)
        these = [timed(url)[0] for _ in range(max(1, repeats // 4))]
        times += these
        page_cpu += cpu[-len(these):]
    results["submission"]["20 submissions"] = {**_summary(times),
                                               "cpu_median_ms": round(statistics.median(page_cpu), 1)}
    sha = json.loads((data_dir / "bench.json").read_text())["thumbnail"]
    url = f"/projects/1/photos/{sha}/256"
    _elapsed, first = timed(url)
    etag = first.headers["ETag"]
    results["thumbnail"]["headers"] = {"ETag": etag, "Cache-Control": first.headers["Cache-Control"]}
    results["thumbnail"]["200"] = summary([timed(url)[0] for _ in range(repeats)])
    results["thumbnail"]["304 (If-None-Match)"] = summary(
        [timed(url, headers={"If-None-Match": etag})[0] for _ in range(repeats)])
    results["total_submissions"] = total
    results["peak_rss_mib"] = _vm_hwm()
    services.engine.dispose()
    return results


def _summary(times: list[float]) -> dict:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"median_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1), "n": len(ordered)}


def _vm_hwm() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run(sizes: list[int], database_url: str | None, repeats: int) -> dict:
    out = {}
    for size in sizes:
        data_dir = Path(tempfile.mkdtemp(prefix=f"qingling-bench-review-{size}-"))
        url = database_url or f"sqlite:///{data_dir / 'qingling.db'}"
        if database_url:
            _recreate(database_url)
        began = time.perf_counter()
        build(url, data_dir, size)
        built = time.perf_counter() - began
        child = subprocess.run(
            [sys.executable, "-m", "bench.review", "--measure", str(data_dir), "--database-url", url,
             "--repeats", str(repeats)], cwd=ROOT, capture_output=True, text=True, check=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        figures["build_seconds"] = round(built, 1)
        out[str(size)] = figures
        print(f"{size}: peak RSS {figures['peak_rss_mib']} MiB", file=sys.stderr)
    return out


def _recreate(database_url: str) -> None:
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL of a database to recreate")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default=None)
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.measure:
        print(json.dumps(measure(options.database_url, Path(options.measure), options.repeats)))
        return
    figures = run([int(s) for s in options.sizes.split(",")], options.database_url, options.repeats)
    text = json.dumps({"machine": {"nproc": os.cpu_count()}, "sizes": figures}, indent=1, ensure_ascii=False)
    if options.out:
        Path(options.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
