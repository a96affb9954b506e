"""Hostile traffic against ``qingling serve``: what it answers, and how its memory behaves over the run.

Run from the repository root:

    .venv/bin/python -m bench.hostile                          # 2,500 requests, large bodies, 2 clients
    .venv/bin/python -m bench.hostile --count 500 --scale 10   # shorter, smaller bodies
    .venv/bin/python -m bench.hostile --source /tmp/old-checkout   # the same traffic at another version
    .venv/bin/python -m bench.hostile --keep-log /tmp/serve.log    # keep the server's log

A fresh data folder (SQLite, local blobs) gets the benchmark's household form and a supervisor account,
``qingling serve`` is started on 127.0.0.1 with its background worker, one ordinary submission is sent,
and then ``--count`` requests from ``bench/hostile_requests.py`` (seeded: the same every run) go out from
``--clients`` threads, each on its own kept-alive connection, opened again whenever the server closes it.
Only 127.0.0.1 is ever contacted. ``--source`` runs the server (and its CLI) from another checkout of the
repository, with this checkout's traffic, to compare versions.

Reported: the answers by status class (and every 5xx by kind), "unexpected error" lines in the server's
log, and the server process's resident memory (VmRSS from /proc, sampled every ``--every`` seconds) after
start-up, at every tenth of the run, at its peak (VmHWM) and after the run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.hostile_requests import COLLECT_HEADERS, HostileRequest, Target, hostile_requests, multipart_body
from bench.ingest import FORM, _free_port, stop, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
EMAIL, PASSWORD = "hostile@example.org", "hostile password 0123456789"
FIRST = "uuid:hostile-bench-first"


class Server:
    """``qingling serve`` from ``source`` (a checkout) in ``data_dir``; its output goes to a log file."""

    def __init__(self, data_dir: Path, source: Path) -> None:
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
        self.env |= {
            "QINGLING_DATA_DIR": str(data_dir),
            "QINGLING_PUBLISH_FORMS_ON_START": "false",
            "QINGLING_ALLOW_HTTP_BASIC": "true",
            "PYTHONPATH": str(source),
        }
        form = data_dir.parent / "bench_household.md"
        form.write_text(FORM, encoding="utf-8")
        self._cli(["db", "upgrade"])  # a fresh data folder: publishing needs an installation
        self._cli(["forms", "publish", str(form)])
        self._cli(["users", "create", "--email", EMAIL, "--role", "supervisor"], stdin=PASSWORD + "\n")
        self.port = _free_port()
        self.log = data_dir.parent / "serve.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [*self._command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                cwd=source,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up()
        match = re.search(r"/v1/key/([A-Za-z0-9_-]+)/projects/(\d+)\s*$", self.log.read_text(), re.MULTILINE)
        assert match, self.log.read_text()
        self.token, self.project_id = match.group(1), int(match.group(2))

    @staticmethod
    def _command() -> list[str]:
        return [sys.executable, "-c", "from server.cli import main; main()"]

    def _cli(self, args: list[str], stdin: str | None = None) -> None:
        subprocess.run([*self._command(), *args], env=self.env, input=stdin, text=True, check=True,
                       capture_output=True)

    def _wait_until_up(self) -> None:
        wait_until_up(self.process, self.port, self.log)

    def memory_mib(self, name: str = "VmRSS") -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(rf"^{name}:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024

    def stop(self) -> None:
        stop(self.process)


@dataclass
class Run:
    """What the clients sent and got, shared between their threads."""

    requests: Iterator[HostileRequest]  # made as they are sent: the large bodies are not all held at once
    count: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0
    largest: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: Counter = field(default_factory=Counter)
    samples: list[tuple[int, float]] = field(default_factory=list)  # (requests done, VmRSS MiB)

    def next(self) -> HostileRequest | None:
        with self.lock:
            request = next(self.requests, None)
            if request is not None:
                self.largest = max(self.largest, len(request.body))
            return request

    def record(self, request: HostileRequest, status: int | None) -> None:
        with self.lock:
            self.done += 1
            self.statuses["no answer" if status is None else f"{status // 100}xx"] += 1
            if status is not None and status >= 500:
                self.server_errors[f"{request.kind} {status}"] += 1


def send(connection: http.client.HTTPConnection, request: HostileRequest, port: int) -> int:
    own_host = any(name.lower() == "host" for name, _ in request.headers)
    connection.putrequest(request.method, request.target, skip_host=own_host, skip_accept_encoding=True)
    if not own_host:
        connection.putheader("Host", f"127.0.0.1:{port}")
    for name, value in request.headers:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(request.body)))
    connection.endheaders(request.body or None)
    response = connection.getresponse()
    while response.read(256 * 1024):
        pass
    if response.will_close:
        connection.close()
    return response.status


def client(server: Server, run: Run) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    while (request := run.next()) is not None:
        try:
            status: int | None = send(connection, request, server.port)
        except (OSError, http.client.HTTPException):
            status = None  # the server refused the request line or headers and closed the connection
            connection.close()
        run.record(request, status)
    connection.close()


def sampler(server: Server, run: Run, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        run.samples.append((run.done, server.memory_mib()))


def first_submission(server: Server) -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><data xmlns:orx="http://openrosa.org/xforms" id="bench_household" '
        f'version="1"><head_name>first</head_name><orx:meta><orx:instanceID>{FIRST}</orx:instanceID>'
        "</orx:meta></data>"
    ).encode()
    body = multipart_body([("xml_submission_file", "first.xml", "text/xml", xml)], "firstboundary")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = dict(COLLECT_HEADERS) | {"Content-Type": "multipart/form-data; boundary=firstboundary"}
    connection.request("POST", f"/v1/key/{server.token}/projects/{server.project_id}/submission", body, headers)
    assert connection.getresponse().status == 201
    connection.close()


def unexpected_errors(log: str) -> Counter:
    """``unexpected error on METHOD PATH`` lines of the server log, each with the exception its traceback ends on.

    The log is split on newlines only: a path may hold other line separators (the server before these fixes
    wrote them raw).
    """
    found: Counter = Counter()
    lines = log.split("\n")
    for index, line in enumerate(lines):
        if "unexpected error on" not in line:
            continue
        request = line.split("unexpected error on", 1)[1].strip()
        ending = "?"
        if index + 1 < len(lines) and lines[index + 1].startswith("Traceback"):
            end = index + 2
            while end < len(lines) and lines[end].startswith(" "):
                end += 1
            ending = lines[end] if end < len(lines) else "?"
        found[f"{request[:100]}: {ending[:120]}"] += 1
    return found


def report(server: Server, run: Run, started_mib: float, seconds: float, args: argparse.Namespace) -> str:
    lines = [
        f"{run.count:,} requests (seed {args.seed}, scale {args.scale}, {args.clients} clients) in "
        f"{seconds:.0f} s; bodies up to {run.largest / 1e6:.1f} MB",
        "",
        "| answers | " + " | ".join(sorted(run.statuses)) + " |",
        "|---|" + "---|" * len(run.statuses),
        "| count | " + " | ".join(str(run.statuses[k]) for k in sorted(run.statuses)) + " |",
        "",
    ]
    if run.server_errors:
        lines.append("5xx by kind: " + ", ".join(f"{k} x{n}" for k, n in sorted(run.server_errors.items())))
    unexpected = unexpected_errors(server.log.read_text(errors="replace"))
    lines.append(f"'unexpected error' lines in the server log: {sum(unexpected.values())}")
    lines += [f"- {count} x {what}" for what, count in sorted(unexpected.items())]
    lines += ["", "| requests done | " + " | ".join(f"{p}%" for p in range(0, 101, 10)) + " |", "|---|" + "---|" * 11]
    marks = []
    for percent in range(0, 101, 10):
        target = run.count * percent // 100
        before = [mib for done, mib in run.samples if done <= target] or [started_mib]
        marks.append(f"{max(before):.0f}")
    lines.append("| VmRSS MiB (highest so far) | " + " | ".join(marks) + " |")
    lines += [
        "",
        f"VmRSS after start-up {started_mib:.0f} MiB, peak (VmHWM) {server.memory_mib('VmHWM'):.0f} MiB, "
        f"after the run {server.memory_mib():.0f} MiB",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=int, default=40, help="size multiplier of the large bodies (1: tests)")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--every", type=float, default=0.25, help="seconds between memory samples")
    parser.add_argument("--source", type=Path, default=ROOT, help="checkout whose server is measured")
    parser.add_argument("--keep-log", type=Path, help="copy the server's log here after the run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="qingling-hostile-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        server = Server(data_dir, args.source.resolve())
        try:
            first_submission(server)
            target = Target(
                token=server.token,
                project_id=server.project_id,
                form_id="bench_household",
                form_version="1",
                image_fields=("house_photo",),
                email=EMAIL,
                password=PASSWORD,
                instance_id=FIRST,
            )
            run = Run(hostile_requests(target, args.count, args.seed, args.scale), args.count)
            time.sleep(1.0)
            started_mib = server.memory_mib()
            stop = threading.Event()
            watcher = threading.Thread(target=sampler, args=(server, run, stop, args.every), daemon=True)
            watcher.start()
            began = time.monotonic()
            threads = [threading.Thread(target=client, args=(server, run)) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            seconds = time.monotonic() - began
            time.sleep(2.0)
            stop.set()
            watcher.join()
            print(report(server, run, started_mib, seconds, args))
        finally:
            server.stop()
            if args.keep_log:
                shutil.copyfile(server.log, args.keep_log)


if __name__ == "__main__":
    main()
