"""Benchmark of the reused-photo candidate lookup at a province's scale: 10^5 and 10^6 stored fingerprints.

Run from the repository root:

    .venv/bin/python -m bench.photo_index                                  # SQLite and PostgreSQL, 1e5 and 1e6
    .venv/bin/python -m bench.photo_index --sizes 100000 --database sqlite  # a quick look

A province collects about 1.5 million photos a year. The lookup must stay an index lookup, never a scan of
every fingerprint, so this fills ``photo_checks`` and ``photo_keys`` (migrated schema, the job's own row
shapes) with synthetic fingerprints with realistic keys: each copies the views of a real fingerprint (one of
six drawn scenes, bench/photo_scenes.py: its stored keys, its 42 guesses and their probes, which of them
share a key) with the bits of each key half permuted at random, so every key stays balanced (four ones per
half, one of the 4,900 values media/views.py makes) and is uniform over those values; hashes and fine
hashes are random (the accuracy of real images is bench/photo_reuse.py's business). Then, for
``--lookups`` new photos, it runs the ``photos`` job's own lookup, ``sync.evidence.reuse._similar_blobs``:
the indexed ``photo_keys`` query for the ~20 distinct keys of the guesses, the shortlist's fingerprints,
the hash scores and the verdicts (no keypoints: synthetic photos have none; their cost per candidate is
bench/photo_reuse.py's). Reported: milliseconds per lookup (median and p95), wall and CPU, rows the key
query returns, and the database size per million photos (SQLite: the file; PostgreSQL:
``pg_total_relation_size`` of both tables).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select, text

from bench.photo_scenes import KINDS, Scene, render
from bench.registry import Databases
from media.duplicates import FINGERPRINT_VERSION, Fingerprint, fingerprint_image
from media.store import BlobNotFound, LocalStore
from sync.db.engine import make_engine, make_session_factory
from sync.db.migrate import upgrade
from sync.db.models import PhotoCheck, PhotoKey, utcnow
from sync.evidence.examine import examine_image
from sync.evidence.reuse import _similar_blobs

BATCH = 20_000


_VARIANT_BYTES = 70  # one Hashes variant packed (media/duplicates.py)
_VIEW_DTYPE = np.dtype([("key", ">u2"), ("probe", ">u2"), ("fine", ">u8")])  # Fingerprint.to_string's view


def templates() -> list[Fingerprint]:
    """Real fingerprints, one per kind of scene of the labelled sets (bench/photo_scenes.py): the shape the
    synthetic ones copy (how many stored views and guesses, which of them share a key, their probes)."""
    return [fingerprint_image(render(Scene(kind, 20240501 + number))) for number, kind in enumerate(KINDS)]


def _view_array(fp: Fingerprint) -> np.ndarray:
    """(views, 3) uint64: key, probe, fine of the stored views, then of the guesses."""
    return np.array([tuple(v) for v in (*fp.stored, *fp.query)], dtype=np.uint64)


def _relabel(keys: np.ndarray, permutations: np.ndarray) -> np.ndarray:
    """Each row's 16-bit keys with the bits of each 8-bit half permuted by that row's permutations
    (rows x 2 x 8): a balanced key (four ones per half, as media/views.py makes them) stays balanced, a
    probe stays one swap away from its key, and over random permutations every key is uniform over the
    4,900 balanced values."""
    bits = (keys[..., None] >> np.arange(15, -1, -1, dtype=np.uint64)) & np.uint64(1)  # rows x views x 16
    moved = np.zeros_like(bits)
    for half in (0, 1):
        target = permutations[:, half, :] + 8 * half  # rows x 8: where bit i of the half goes
        rows = np.arange(len(keys))[:, None, None]
        views = np.arange(keys.shape[1])[None, :, None]
        moved[rows, views, target[:, None, :]] = bits[:, :, 8 * half : 8 * half + 8]
    return (moved << np.arange(15, -1, -1, dtype=np.uint64)).sum(axis=2).astype(np.uint64)


def synthetic_batch(rng: np.random.Generator, shapes: list[Fingerprint], size: int) -> list[bytes]:
    """``size`` fingerprint strings' raw bytes with realistic keys: each copies a template's views with its
    key bits relabelled at random (``_relabel``), random fine hashes and random hash variants."""
    head = bytes([FINGERPRINT_VERSION, 1])
    out = []
    chosen = rng.integers(0, len(shapes), size)
    for number, shape in enumerate(shapes):
        rows = np.flatnonzero(chosen == number)
        if not len(rows):
            continue
        views = np.repeat(_view_array(shape)[None], len(rows), axis=0)
        permutations = np.argsort(rng.random((len(rows), 2, 8)), axis=2)
        views[:, :, 0] = _relabel(views[:, :, 0], permutations)
        views[:, :, 1] = _relabel(views[:, :, 1], permutations)
        views[:, :, 2] = rng.integers(0, 1 << 63, views.shape[:2], dtype=np.int64).astype(np.uint64) << np.uint64(1)
        variants = rng.integers(0, 256, (len(rows), _VARIANT_BYTES), dtype=np.uint8)
        tail = struct.pack(">HHBB", 1600, 1200, len(shape.stored), len(shape.query))
        packed = np.empty(views.shape[:2], dtype=_VIEW_DTYPE)
        packed["key"], packed["probe"], packed["fine"] = views[:, :, 0], views[:, :, 1], views[:, :, 2]
        for row in range(len(rows)):
            out.append((int(rows[row]), head + variants[row].tobytes() + tail + packed[row].tobytes()))
    return [raw for _, raw in sorted(out)]


def synthetic(rng: np.random.Generator, shapes: list[Fingerprint]) -> Fingerprint:
    """One synthetic fingerprint (a new photo to look up), made as ``fill`` makes the stored ones."""
    return Fingerprint.from_string(base64.urlsafe_b64encode(synthetic_batch(rng, shapes, 1)[0]).decode("ascii"))


def fill(engine, count: int, start: int, seed: int, shapes: list[Fingerprint]) -> None:  # noqa: ANN001
    """Store ``count`` synthetic photos: the bytes ``Fingerprint.to_string`` writes, the rows ``photo_check``
    adds."""
    rng = np.random.default_rng([seed, start])
    with engine.begin() as connection:
        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            checks, keys = [], []
            for row, raw in enumerate(synthetic_batch(rng, shapes, size)):
                number = start + offset + row + 1
                text_value = base64.urlsafe_b64encode(raw).decode("ascii")
                checks.append(
                    {
                        "id": number,
                        "sha256": f"{number:064x}",
                        "readable": True,
                        "image_format": "JPEG",
                        "width": 1600,
                        "height": 1200,
                        "fingerprint": {"value": text_value},
                        "thumbnails": {
                            "256": f"thumbnails/256/{number:064x}",
                            "1024": f"thumbnails/1024/{number:064x}",
                        },
                        "features_key": f"features/{number:064x}",
                        "checked_at": utcnow(),
                    }
                )
                fp = Fingerprint.from_string(text_value)
                keys += [{"key": k, "fine": _signed(f), "photo_check_id": number} for k, f in fp.index_rows()]
            connection.execute(insert(PhotoCheck), checks)
            connection.execute(insert(PhotoKey), keys)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


class _NoStore:
    """Synthetic photos have no keypoint blobs: the lookup then judges by hashes alone."""

    def open(self, key: str):  # noqa: ANN201
        raise BlobNotFound(key)


def measure(engine, lookups: int, seed: int, total: int, shapes: list[Fingerprint]) -> dict:  # noqa: ANN001
    factory = make_session_factory(engine)
    rng = np.random.default_rng([seed, 99])
    times, rows, cpu_times = [], [], []
    for number in range(lookups):
        fp = synthetic(rng, shapes)
        with factory() as session:
            check = PhotoCheck(
                id=total + number + 1,
                sha256=f"new{number:061x}",
                readable=True,
                fingerprint={"value": fp.to_string()},
                thumbnails={},
                checked_at=utcnow(),
            )
            session.add(check)
            session.flush()
            lookup = fp.lookup_keys()
            rows.append(
                session.scalar(select(func.count()).select_from(PhotoKey).where(PhotoKey.key.in_(sorted(lookup))))
            )
            started, cpu = time.perf_counter(), time.process_time()
            _similar_blobs(session, check, _NoStore())  # type: ignore[arg-type]
            times.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu)
            session.rollback()
    times.sort()
    return {
        "lookups": lookups,
        "ms_median": statistics.median(times) * 1000,
        "ms_p95": times[int(len(times) * 0.95) - 1] * 1000,
        "cpu_ms_median": statistics.median(cpu_times) * 1000,
        "cpu_ms_p95": sorted(cpu_times)[int(len(cpu_times) * 0.95) - 1] * 1000,
        "load_average": os.getloadavg()[0],
        "key_rows_median": statistics.median(rows),
    }


def examine_cpu_ms(runs: int = 5) -> float:
    """CPU milliseconds (best of ``runs``) of the photos job's work on one photo before the lookup:
    ``examine_image`` (inspect, both thumbnails, fingerprint, ORB features, the puts to a local store) on
    the ingestion benchmark's 5 MP photo (bench/photo_ingest.py)."""
    from bench.photo_ingest import base_photo  # noqa: PLC0415 (its imports are only needed here)

    folder = Path(tempfile.mkdtemp(prefix="qingling-photo-job-"))
    photo = folder / "photo.jpg"
    photo.write_bytes(base_photo())
    store = LocalStore(folder / "blobs")
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        examine_image(store, "0" * 64, photo, declared_name="photo.jpg")
        best = min(best, time.process_time() - started)
    shutil.rmtree(folder)
    return best * 1000


def size_bytes(engine, database: str, path: Path | None) -> int:  # noqa: ANN001
    if database == "sqlite":
        assert path is not None
        engine.dispose()
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT pg_total_relation_size('photo_checks') + pg_total_relation_size('photo_keys')")
            ).scalar()
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--database", default="sqlite,postgresql")
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    sizes = [int(v) for v in args.sizes.split(",")]
    names = args.database.split(",")
    databases = Databases(names)
    shapes = templates()
    examine_ms = examine_cpu_ms()
    print(json.dumps({"examine_image_cpu_ms": examine_ms}), flush=True)
    results = []
    try:
        for database in names:
            folder = Path(tempfile.mkdtemp(prefix="qingling-photo-index-"))
            path = folder / "index.sqlite3" if database == "sqlite" else None
            url = f"sqlite:///{path}" if path else databases.create(database, "photo_index")
            engine = make_engine(url)
            upgrade(engine)
            stored = 0
            for size in sizes:
                started = time.perf_counter()
                fill(engine, size - stored, stored, args.seed, shapes)
                filled = time.perf_counter() - started
                stored = size
                if database == "postgresql":
                    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                        connection.execute(text("ANALYZE photo_checks"))
                        connection.execute(text("ANALYZE photo_keys"))
                row = {"database": database, "stored": size, "fill_seconds": filled}
                row.update(measure(engine, args.lookups, args.seed, size, shapes))
                row["job_cpu_ms_per_photo"] = examine_ms + row["cpu_ms_median"]
                row["mb_per_million"] = size_bytes(engine, database, path) / size * 1e6 / 2**20
                results.append(row)
                print(json.dumps(row), flush=True)
            engine.dispose()
            if database != "sqlite":
                databases.drop(database, "photo_index")
            elif path:
                for leftover in folder.iterdir():
                    leftover.unlink()
                folder.rmdir()
    finally:
        databases.close()
    lines = [
        "| database | stored fingerprints | lookup ms, median (wall) | p95 (wall) | CPU ms, median | CPU p95 "
        "| key rows read | photos job CPU ms per photo | MiB per million photos | load average |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {r['database']} | {r['stored']:,} | {r['ms_median']:.1f} | {r['ms_p95']:.1f} | "
            f"{r['cpu_ms_median']:.1f} | {r['cpu_ms_p95']:.1f} | {r['key_rows_median']:.0f} | "
            f"{r['job_cpu_ms_per_photo']:.0f} | {r['mb_per_million']:,.0f} | {r['load_average']:.1f} |"
            for r in results
        ],
        "",
        f"Photos job CPU per photo: examine_image {examine_ms:.0f} ms (best of 5, 5 MP photo) + the lookup's "
        "median CPU; a candidate that needs keypoints adds its verdict (bench/photo_reuse.py).",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "photo_index.json").write_text(json.dumps(results, indent=2))
    (args.out / "photo_index.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"(cpu count {os.cpu_count()})")


if __name__ == "__main__":
    main()
