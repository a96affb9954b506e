"""Benchmark of the reused-photo candidate lookup at a province's scale: 10^5 and 10^6 stored fingerprints.

Run from the repository root:

    .venv/bin/python -m bench.photo_index                                  # SQLite and PostgreSQL, 1e5 and 1e6
    .venv/bin/python -m bench.photo_index --sizes 100000 --database sqlite  # a quick look

A province collects about 1.5 million photos a year. The lookup must stay an index lookup, never a scan of
every fingerprint, so this fills ``photo_checks`` and ``photo_keys`` (migrated schema, the job's own row
shapes) with synthetic fingerprints: random hashes, 3 stored view keys each, uniform over the 16-bit key
space (the accuracy of real images is bench/photo_reuse.py's business). Then, for ``--lookups`` new
photos, it runs the ``photos`` job's own lookup, ``sync.evidence.reuse._similar_blobs``: the indexed
``photo_keys`` query for the ~50 guesses, the shortlist's fingerprints, the hash scores and the verdicts
(no keypoints: synthetic photos have none; their cost per candidate is bench/photo_reuse.py's). Reported:
milliseconds per lookup (median and p95), rows the key query returns, and the database size per million
photos (SQLite: the file; PostgreSQL: ``pg_total_relation_size`` of both tables).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import sqlite3
import statistics
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, insert, select, text

from bench.registry import Databases
from media.duplicates import FINGERPRINT_VERSION, Fingerprint, Hashes
from media.store import BlobNotFound
from media.views import ViewKey
from sync.db.engine import make_engine, make_session_factory
from sync.db.migrate import upgrade
from sync.db.models import PhotoCheck, PhotoKey, utcnow
from sync.evidence.reuse import _similar_blobs

BATCH = 20_000


def synthetic(rng: np.random.Generator) -> Fingerprint:
    """A fingerprint with the shape of a real one: one variant, 3 stored and 42 query view keys."""
    words = rng.integers(0, 1 << 63, 4, dtype=np.int64).tolist()
    variant = Hashes(
        *(int(w) for w in words), int(rng.integers(0, 1 << 42)), rng.integers(0, 256, 32, np.uint8).tobytes()
    )

    def view() -> ViewKey:
        key = int(rng.integers(0, 1 << 16))
        return ViewKey(key, key ^ (1 << int(rng.integers(0, 16))), int(rng.integers(0, 1 << 63)))

    return Fingerprint((variant,), tuple(view() for _ in range(3)), tuple(view() for _ in range(42)), (1600, 1200))


def fill(engine, count: int, start: int, seed: int) -> None:  # noqa: ANN001
    """Store ``count`` synthetic photos, made in bulk with numpy: the same bytes ``Fingerprint.to_string``
    writes (one variant, 3 stored and 42 query views), the same rows ``photo_check`` adds."""
    rng = np.random.default_rng([seed, start])
    head = bytes([FINGERPRINT_VERSION, 1])
    tail = struct.pack(">HHBB", 1600, 1200, 3, 42)
    with engine.begin() as connection:
        for offset in range(0, count, BATCH):
            size = min(BATCH, count - offset)
            variants = rng.integers(0, 256, (size, 76), dtype=np.uint8)
            views = rng.integers(0, 256, (size, 45, 12), dtype=np.uint8)
            keys16 = views[:, :3, 0].astype(np.int64) << 8 | views[:, :3, 1]
            fines = views[:, :3, 4:12].copy().view(">u8")[..., 0].astype(np.uint64)
            checks, keys = [], []
            for row in range(size):
                number = start + offset + row + 1
                raw = head + variants[row].tobytes() + tail + views[row].tobytes()
                checks.append(
                    {
                        "id": number,
                        "sha256": f"{number:064x}",
                        "readable": True,
                        "image_format": "JPEG",
                        "width": 1600,
                        "height": 1200,
                        "fingerprint": {"value": base64.urlsafe_b64encode(raw).decode("ascii")},
                        "thumbnails": {
                            "256": f"thumbnails/256/{number:064x}",
                            "1024": f"thumbnails/1024/{number:064x}",
                        },
                        "features_key": f"features/{number:064x}",
                        "checked_at": utcnow(),
                    }
                )
                rows = {(int(k), int(f)) for k, f in zip(keys16[row], fines[row], strict=True)}
                keys += [{"key": k, "fine": _signed(f), "photo_check_id": number} for k, f in rows]
            connection.execute(insert(PhotoCheck), checks)
            connection.execute(insert(PhotoKey), keys)


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


class _NoStore:
    """Synthetic photos have no keypoint blobs: the lookup then judges by hashes alone."""

    def open(self, key: str):  # noqa: ANN201
        raise BlobNotFound(key)


def measure(engine, lookups: int, seed: int, total: int) -> dict:  # noqa: ANN001
    factory = make_session_factory(engine)
    rng = np.random.default_rng([seed, 99])
    times, rows, cpu_times = [], [], []
    for number in range(lookups):
        fp = synthetic(rng)
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
        "load_average": os.getloadavg()[0],
        "key_rows_median": statistics.median(rows),
    }


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
                fill(engine, size - stored, stored, args.seed)
                filled = time.perf_counter() - started
                stored = size
                if database == "postgresql":
                    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                        connection.execute(text("ANALYZE photo_checks"))
                        connection.execute(text("ANALYZE photo_keys"))
                row = {"database": database, "stored": size, "fill_seconds": filled}
                row.update(measure(engine, args.lookups, args.seed, size))
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
        "| database | stored fingerprints | lookup ms, median | p95 | CPU ms (this process), median | key rows read "
        "| MiB per million photos | load average |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {r['database']} | {r['stored']:,} | {r['ms_median']:.1f} | {r['ms_p95']:.1f} | "
            f"{r['cpu_ms_median']:.1f} | {r['key_rows_median']:.0f} | {r['mb_per_million']:,.0f} | "
            f"{r['load_average']:.1f} |"
            for r in results
        ],
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "photo_index.json").write_text(json.dumps(results, indent=2))
    (args.out / "photo_index.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"(cpu count {os.cpu_count()})")


if __name__ == "__main__":
    main()
