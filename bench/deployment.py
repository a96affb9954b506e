"""A small deployment on one machine: 2 HTTP processes + 2 job workers + PostgreSQL + an S3 server (moto).

Run from the repository root:

    .venv/bin/python -m bench.deployment                       # scenarios a and b, 30 s each
    .venv/bin/python -m bench.deployment --scenarios b --seconds 20 --http 2 --workers 2

What it starts, all on 127.0.0.1: PostgreSQL from the pgserver wheel (or ``--database-url``, an empty
database), ``python -m moto.server`` as the S3 endpoint with one bucket, ``qingling serve --workers
--http --no-worker`` (one port, N HTTP processes) and ``--workers`` ``qingling worker`` processes sharing
the job queue. Then the phones of bench/ingest.py (HEAD + POST per submission on kept-alive connections,
``--clients`` at once) send for ``--seconds``; after that the run waits (bounded) until the queue is
empty, which measures what the workers sustain. Reported: submissions/s and POST latency while phones
send, CPU seconds per submission of the HTTP processes and of the workers, and how long the queue took
to drain. Scenario b's photos are 1 MB each, so its bytes/s is the figure to scale by photo volume.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.ingest import FORM, QINGLING, SCENARIOS, one_megabyte_jpeg, run_phones

BUCKET = "qingling-bench"


class Deployment:
    def __init__(self, folder: Path, database_url: str, s3_endpoint: str, http: int, workers: int) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
        self.env |= {
            "QINGLING_DATA_DIR": str(folder / "data"),
            "QINGLING_DATABASE_URL": database_url,
            "QINGLING_BLOB_STORE": "s3",
            "QINGLING_S3_BUCKET": BUCKET,
            "QINGLING_S3_ENDPOINT_URL": s3_endpoint,
            "QINGLING_PUBLISH_FORMS_ON_START": "false",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        form = folder / "bench_household.md"
        form.write_text(FORM, encoding="utf-8")
        for args in (["db", "upgrade"], ["forms", "publish", str(form)]):  # publishing needs an installation
            subprocess.run([str(QINGLING), *args], env=self.env, check=True, capture_output=True)
        from tests.protocol.test_concurrency import _free_port

        self.port = _free_port()
        names = ["serve", *[f"worker-{n}" for n in range(workers)]]
        self.logs = [open(folder / f"{name}.log", "wb") for name in names]  # noqa: SIM115
        command = [str(QINGLING), "serve", "--workers", str(http), "--no-worker", "--host", "127.0.0.1",
                   "--port", str(self.port)]
        self.server = subprocess.Popen(command, env=self.env, stdout=self.logs[0], stderr=subprocess.STDOUT)
        self.workers = [
            subprocess.Popen([str(QINGLING), "worker"], env=self.env, stdout=log, stderr=subprocess.STDOUT)
            for log in self.logs[1:]
        ]
        self._wait_until_up()
        banner = (folder / "serve.log").read_text(errors="replace")
        self.token_path = re.search(r"(/v1/key/[A-Za-z0-9_-]+/projects/\d+)\s*$", banner, re.MULTILINE).group(1)

    def _wait_until_up(self, timeout: float = 120.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError((self.folder / "serve.log").read_text(errors="replace"))

    def http_pids(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rpartition(")")[2].split()[1]) == self.server.pid:
                    found.append(int(entry.name))
        return found or [self.server.pid]  # --http 1 serves in the process itself

    def cpu(self, pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def pending_jobs(self) -> int:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env["QINGLING_DATABASE_URL"])
        try:
            with engine.connect() as connection:
                return connection.execute(text("SELECT count(*) FROM jobs WHERE state <> 'done'")).scalar()
        finally:
            engine.dispose()

    def stop(self) -> None:
        self.server.send_signal(signal.SIGTERM)
        for worker in self.workers:
            worker.send_signal(signal.SIGINT)
        for process in (self.server, *self.workers):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="ab")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--http", type=int, default=2, help="HTTP processes (qingling serve --workers)")
    parser.add_argument("--workers", type=int, default=2, help="qingling worker processes")
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: pgserver)")
    args = parser.parse_args()
    from tests.media.s3_server import MotoServer

    photo = one_megabyte_jpeg()
    for key in args.scenarios:
        scenario = SCENARIOS[key]
        with tempfile.TemporaryDirectory(prefix="qingling-bench-deploy-") as folder:
            pg = None
            url = args.database_url
            if url is None:
                import pgserver

                pg = pgserver.get_server(Path(folder) / "pg", cleanup_mode="stop")
                url = pg.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
            os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
            moto = MotoServer()
            deployment = None
            try:
                from media.store import S3Store

                S3Store(BUCKET, endpoint_url=moto.endpoint_url).ensure_bucket()
                deployment = Deployment(Path(folder), url, moto.endpoint_url, args.http, args.workers)
                run_phones([deployment], scenario, args.clients, 40, 60.0, photo)  # warm-up
                while deployment.pending_jobs():
                    time.sleep(0.5)
                http_pids, worker_pids = deployment.http_pids(), [w.pid for w in deployment.workers]
                cpu_http, cpu_work = deployment.cpu(http_pids), deployment.cpu(worker_pids)
                began = time.monotonic()
                shared = run_phones([deployment], scenario, args.clients, 10**6, args.seconds, photo)
                sent = time.monotonic() - began
                deadline = time.monotonic() + 600
                while deployment.pending_jobs() and time.monotonic() < deadline:
                    time.sleep(0.5)
                drained = time.monotonic() - began
                left = deployment.pending_jobs()
                cpu_http = deployment.cpu(http_pids) - cpu_http
                cpu_work = deployment.cpu(worker_pids) - cpu_work
            finally:
                if deployment is not None:
                    deployment.stop()
                moto.stop()
                if pg is not None:
                    pg.cleanup()
        ordered = sorted(shared.latencies_ms)

        def p(q: float, ordered: list[float] = ordered) -> float:
            return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
        done = shared.done
        print(
            f"({key}) {scenario.title}: {args.http} HTTP + {args.workers} workers, {args.clients} phones: "
            f"{done} in {sent:.1f} s = {done / sent:.1f}/s, POST p50 {p(50):.0f} ms p99 {p(99):.0f} ms, "
            f"errors {shared.errors or 'none'}; HTTP CPU {1000 * cpu_http / done:.1f} ms/submission, "
            f"worker CPU {1000 * cpu_work / done:.1f} ms/submission; queue empty {drained:.1f} s after start "
            f"({left} left); mean POST {statistics.fmean(ordered):.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
