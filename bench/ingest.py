"""Benchmark of submission ingestion over HTTP: ``qingling serve`` on the embedded default, 8 phones at once.

Run from the repository root:

    .venv/bin/python -m bench.ingest                    # the three scenarios, about 3 minutes
    .venv/bin/python -m bench.ingest --scenarios a --seconds 10
    .venv/bin/python -m bench.ingest --worker both      # also without the background worker (ingestion alone)
    .venv/bin/python -m bench.ingest --write-docs       # also put the table in docs/performance.md
    .venv/bin/python -m bench.ingest --profile /tmp/p   # py-spy stacks of the server (pip install py-spy)

For each scenario a fresh data folder (SQLite and the local blob folder) is made, a small household form is
published with ``qingling forms publish`` and ``qingling serve`` is started on 127.0.0.1 as an operator starts
it, background worker included. Then ``--clients`` threads each act as one phone: for every instance Collect's
HEAD probe, then the multipart POST written the way okhttp writes it (docs/protocol.md §7.2, 7.3), on a kept-alive
connection (http.client). A run stops after ``--count`` submissions or ``--seconds``, whichever comes first,
after ``--warmup`` submissions that are not counted. Only 127.0.0.1 is ever contacted.

Scenarios:

- a: no photo, app-user token URL (``/v1/key/<token>/projects/1/submission``), what phones use;
- b: as a, with one 1 MB JPEG per submission (each one different, so nothing is deduplicated);
- c: as a, but a named account with HTTP Basic on ``/v1/projects/1/submission`` (QINGLING_ALLOW_HTTP_BASIC).

Reported: submissions per second (a submission is HEAD + POST, answered 201), latency percentiles of the POST
as the phone sees it, and the server process's peak resident memory (VmHWM from /proc), plus the background
jobs (normalization, photo checks) still queued when the run ends.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import io
import os
import platform
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Ingestion (bench/ingest.py)"
QINGLING = Path(sys.executable).with_name("qingling")
EMAIL, PASSWORD = "bench@example.org", "bench password 0123456789"
HEADERS = {
    "X-OpenRosa-Version": "1.0",
    "User-Agent": "org.odk.collect.android/v2025.3.0 Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7)",
    "Date": "Tue, 05 Mar 2024 02:05:09 GMT",
    "Accept-Encoding": "gzip",
}
DEVICE = "collect%3ABenchBenchBench0"
# ODK Central on a 2-core machine, as given in the task (ingestion through its OpenRosa endpoint).
CENTRAL = {"a": (134.0, 98.0), "b": (28.0, 451.0), "c": (4.0, None)}

FORM = """\
| survey |          |              |                          |
|        | type     | name         | label                    |
|        | text     | head_name    | Head of household        |
|        | text     | id_number    | ID number                |
|        | integer  | members      | Household members        |
|        | decimal  | income       | Income last year (yuan)  |
|        | date     | visit_date   | Date of visit            |
|        | geopoint | gps_house    | Location of the house    |
|        | text     | remarks      | Remarks                  |
|        | image    | house_photo  | House front              |
| settings |              |                 |          |
|          | form_id      | title           | version  |
|          | bench_household | Bench household | 1     |
"""


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    photo: bool
    basic: bool


SCENARIOS = {
    "a": Scenario("a", "no photo, app-user token", photo=False, basic=False),
    "b": Scenario("b", "one 1 MB JPEG, app-user token", photo=True, basic=False),
    "c": Scenario("c", "no photo, HTTP Basic account", photo=False, basic=True),
}


@dataclass
class Result:
    scenario: Scenario
    worker: bool
    submissions: int
    seconds: float
    latencies_ms: list[float]
    errors: dict[str, int]
    peak_rss_mb: float
    start_rss_mb: float
    jobs_queued: int
    jobs_total: int
    server_cpu_seconds: float
    load_before: float  # the machine's 1-minute load average when the measured phase began

    @property
    def cpu_ms_per_submission(self) -> float:
        """The server's CPU (all threads: requests, and the worker's jobs as far as it kept up) per submission."""
        return 1000 * self.server_cpu_seconds / self.submissions if self.submissions else float("nan")

    @property
    def rate(self) -> float:
        return self.submissions / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the submissions --------------------------------------------------------------------------------------------


def one_megabyte_jpeg(seed: int = 1, target: int = 1_000_000) -> bytes:
    """A camera-sized JPEG of about ``target`` bytes: a noisy gradient at 1600x1200, quality tuned to the size."""
    rng = random.Random(seed)
    width, height = 1600, 1200
    noise = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    picture = Image.blend(gradient, noise, 0.35)
    best = b""
    for quality in range(30, 96, 2):
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality)
        if abs(out.tell() - target) < abs(len(best) - target):
            best = out.getvalue()
    return best


def unique_photo(base: bytes, n: int) -> bytes:
    """``base`` with a JPEG comment naming ``n`` after the start marker: a valid, different file."""
    comment = f"bench photo {n}".encode()
    return base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]


def instance_xml(instance_id: str, n: int, photo: str | None) -> bytes:
    rng = random.Random(n)
    fields = {
        "head_name": f"户主{n}",
        "id_number": f"15010219{rng.randrange(10**9):09d}{rng.randrange(10)}",
        "members": str(rng.randint(1, 8)),
        "income": f"{rng.uniform(2000, 40000):.2f}",
        "visit_date": "2026-11-20",
        "gps_house": f"{40.8 + rng.random() / 10:.6f} {111.6 + rng.random() / 10:.6f} 1050.0 4.5",
        "remarks": "benchmark submission",
        "house_photo": photo or "",
    }
    body = "".join(f"<{k}>{v}</{k}>" if v else f"<{k}/>" for k, v in fields.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?><data xmlns:jr="http://openrosa.org/javarosa" '
        'xmlns:orx="http://openrosa.org/xforms" id="bench_household" version="1">'
        f"{body}<orx:meta><orx:instanceID>{instance_id}</orx:instanceID></orx:meta></data>"
    ).encode()


def multipart(xml: bytes, files: dict[str, bytes]) -> tuple[bytes, str]:
    """The POST body as okhttp 5 writes it for Collect (docs/protocol.md §7.3)."""
    boundary = str(uuid.uuid4())
    out = bytearray()
    parts = [("xml_submission_file", "bench_household_2026-11-20_10-00-00.xml", "text/xml", xml)]
    parts += [(name, name, "image/jpeg", data) for name, data in files.items()]
    for name, filename, kind, data in parts:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'.encode()
        out += f"Content-Type: {kind}\r\n\r\n".encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


# -- the server -------------------------------------------------------------------------------------------------


# ``qingling serve`` without its background worker thread: what ingestion alone costs (--no-worker). Jobs queue up
# and wait for the next worker, as they would during a burst that the worker cannot follow.
SERVE_WITHOUT_WORKER = """
import sys
from waitress import serve
from server.access_log import AccessLog
from server.app import create_app
from server.config import load_settings
from server.services import build_services
from server.startup import prepare, print_banner
services = build_services(load_settings(host=sys.argv[1], port=int(sys.argv[2])))
print_banner(services.settings, prepare(services))
settings = services.settings
serve(AccessLog(create_app(services=services)), host=settings.host, port=settings.port, threads=settings.threads,
      max_request_body_size=settings.max_upload_bytes + 1_000_000, ident="qingling")
"""


class Server:
    """``qingling serve`` on 127.0.0.1 in a fresh data folder; its output goes to a log file there."""

    def __init__(
        self, data_dir: Path, scenario: Scenario, threads: int | None, worker: bool = True, number: int = 1
    ) -> None:
        """Server ``number`` 1 also prepares the folder (publishes the form, creates the account); more
        servers share that folder and its database, as processes behind one reverse proxy would."""
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
        self.env |= {
            "QINGLING_DATA_DIR": str(data_dir),
            "QINGLING_PUBLISH_FORMS_ON_START": "false",
            "QINGLING_ALLOW_HTTP_BASIC": "true" if scenario.basic else "false",
        }
        if threads:
            self.env["QINGLING_THREADS"] = str(threads)
        if number == 1:
            form = data_dir.parent / "bench_household.md"
            form.write_text(FORM, encoding="utf-8")
            self._cli(["db", "upgrade"])  # a fresh data folder: publishing needs an installation
            self._cli(["forms", "publish", str(form)])
            if scenario.basic:
                self._cli(["users", "create", "--email", EMAIL, "--role", "enumerator"], stdin=PASSWORD + "\n")
        self.port = _free_port()
        self.log = data_dir.parent / f"serve-{number}.log"
        command = [str(QINGLING), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if not worker:
            command = [sys.executable, "-c", SERVE_WITHOUT_WORKER, "127.0.0.1", str(self.port)]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up()
        banner = self.log.read_text(errors="replace")
        match = re.search(r"(/v1/key/[A-Za-z0-9_-]+/projects/\d+)\s*$", banner, re.MULTILINE)
        assert match, banner
        self.token_path = match.group(1)

    def _cli(self, args: list[str], stdin: str | None = None) -> None:
        subprocess.run([str(QINGLING), *args], env=self.env, input=stdin, text=True, check=True, capture_output=True)

    def _wait_until_up(self) -> None:
        wait_until_up(self.process, self.port, self.log)

    def memory_mb(self, field_name: str) -> float:
        """VmRSS (now) or VmHWM (peak) of the server process, in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kilobytes = int(re.search(rf"^{field_name}:\s+(\d+) kB", status, re.MULTILINE).group(1))
        return kilobytes * 1024 / 1e6

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields_after_name = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields_after_name[11]) + int(fields_after_name[12])) / os.sysconf("SC_CLK_TCK")

    def jobs(self) -> tuple[int, int]:
        with sqlite3.connect(self.data_dir / "qingling.db", timeout=30) as db:
            queued = db.execute("SELECT count(*) FROM jobs WHERE state = 'pending'").fetchone()[0]
            total = db.execute("SELECT count(*) FROM jobs").fetchone()[0]
        return queued, total

    def stop(self) -> None:
        stop(self.process)


def wait_until_up(process: subprocess.Popen, port: int, log: Path, timeout: float = 90.0) -> None:
    """Until ``qingling serve`` answers ``/healthz`` on ``port``; its log is shown if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qingling serve exited:\n{log.read_text(errors='replace')}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("qingling serve did not answer /healthz in time")


def stop(process: subprocess.Popen) -> None:
    """Stop a server as an operator would (SIGTERM), and kill it if it has not exited within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the phones -------------------------------------------------------------------------------------------------


@dataclass
class Shared:
    """The numbering of instances across phones, the stop conditions and what was measured."""

    limit: int
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    issued: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    done: int = 0

    def next(self) -> int | None:
        with self.lock:
            if self.issued >= self.limit or time.monotonic() >= self.deadline:
                return None
            self.issued += 1
            return self.issued


def phone(server: Server, scenario: Scenario, shared: Shared, photo: bytes, prefix: str) -> None:
    """One phone sending instance after instance to ``server`` on one kept-alive connection."""
    if scenario.basic:
        path = "/v1/projects/1/submission"
        credentials = base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()
        headers = {**HEADERS, "Authorization": f"Basic {credentials}"}
    else:
        path, headers = f"{server.token_path}/submission", HEADERS
    url = f"{path}?deviceID={DEVICE}"
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        while (n := shared.next()) is not None:
            name = f"{1714550000000 + n}.jpg"
            xml = instance_xml(f"uuid:{prefix}-{n}", n, name if scenario.photo else None)
            body, content_type = multipart(xml, {name: unique_photo(photo, n)} if scenario.photo else {})
            connection.request("HEAD", url, headers=headers)
            head = connection.getresponse()
            head.read()
            posted = time.perf_counter()
            connection.request("POST", url, body=body, headers={**headers, "Content-Type": content_type})
            answer = connection.getresponse()
            answer.read()
            finished = time.perf_counter()
            with shared.lock:
                if head.status == 204 and answer.status == 201:
                    shared.done += 1
                    shared.latencies_ms.append((finished - posted) * 1000)
                else:
                    key = f"HEAD {head.status} / POST {answer.status}"
                    shared.errors[key] = shared.errors.get(key, 0) + 1
    finally:
        connection.close()


def run_phones(
    servers: list[Server], scenario: Scenario, clients: int, limit: int, seconds: float, photo: bytes
) -> Shared:
    shared = Shared(limit=limit, deadline=time.monotonic() + seconds)
    prefix = uuid.uuid4().hex[:8]
    threads = [
        threading.Thread(target=phone, args=(servers[i % len(servers)], scenario, shared, photo, f"{prefix}-{i}"))
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return shared


def wait_for_quiet(limit: float, patience: float = 600.0) -> None:
    """Other work on the machine skews every figure: wait (bounded) until the load average drops below ``limit``."""
    deadline = time.monotonic() + patience
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)


def run_scenario(scenario: Scenario, args: argparse.Namespace, photo: bytes, worker: bool) -> Result:
    if args.quiet_load:
        wait_for_quiet(args.quiet_load)
    with tempfile.TemporaryDirectory(prefix=f"qingling-bench-{scenario.key}-") as folder:
        servers: list[Server] = []
        try:
            for number in range(1, args.processes + 1):
                servers.append(Server(Path(folder) / "data", scenario, args.threads, worker, number))
            run_phones(servers, scenario, args.clients, args.warmup, 60.0, photo)
            start_rss = sum(server.memory_mb("VmRSS") for server in servers)
            count = args.count if not scenario.photo else args.photo_count
            profiler = _start_profiler(servers[0], scenario, args)
            load = os.getloadavg()[0]
            began, cpu_before = time.monotonic(), sum(server.cpu_seconds() for server in servers)
            shared = run_phones(servers, scenario, args.clients, count, args.seconds, photo)
            elapsed = time.monotonic() - began
            cpu = sum(server.cpu_seconds() for server in servers) - cpu_before
            if profiler is not None:
                profiler.wait()
            peak = sum(server.memory_mb("VmHWM") for server in servers)
            queued, total = servers[0].jobs()
        finally:
            for server in servers:
                server.stop()
    return Result(
        scenario,
        worker,
        shared.done,
        elapsed,
        shared.latencies_ms,
        shared.errors,
        peak,
        start_rss,
        queued,
        total,
        cpu,
        load,
    )


def _start_profiler(server: Server, scenario: Scenario, args: argparse.Namespace) -> subprocess.Popen | None:
    """py-spy on the server for the measured phase (``pip install py-spy``; a measuring tool, not a dependency)."""
    if not args.profile:
        return None
    args.profile.mkdir(parents=True, exist_ok=True)
    output = args.profile / f"{scenario.key}.txt"
    command = ["py-spy", "record", "--pid", str(server.process.pid), "--rate", "250", "--format", "raw", "--gil"]
    command += ["--duration", str(max(1, int(args.seconds))), "--output", str(output), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- the report -------------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = found.group(1).strip() if found else platform.processor() or "unknown"
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kilobytes = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo.read_text(), re.MULTILINE).group(1))
        memory = f"{kilobytes / 1024 / 1024:.1f} GiB"
    return {
        "date": dt.date.today().isoformat(),
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def table(results: list[Result]) -> str:
    lines = [
        "| scenario | worker | submissions | seconds | submissions/s | p50 ms | p95 ms | p99 ms | peak RSS MB "
        "| server CPU | CPU ms/submission | jobs queued at end | load before | ODK Central | vs Central |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        central_rate, central_p99 = CENTRAL[r.scenario.key]
        central = f"{central_rate:g}/s" + (f", p99 {central_p99:g} ms" if central_p99 else "")
        errors = "".join(f" ({count}x {kind})" for kind, count in r.errors.items())
        lines.append(
            f"| ({r.scenario.key}) {r.scenario.title}{errors} | {'on' if r.worker else 'off'} | {r.submissions} "
            f"| {r.seconds:.1f} | {r.rate:.1f} "
            f"| {r.percentile(50):.1f} | {r.percentile(95):.1f} | {r.percentile(99):.1f} | {r.peak_rss_mb:.0f} "
            f"| {100 * r.server_cpu_seconds / r.seconds:.0f} % | {r.cpu_ms_per_submission:.1f} "
            f"| {r.jobs_queued} of {r.jobs_total} "
            f"| {r.load_before:.1f} | {central} "
            f"| {r.rate / central_rate:.1f}x |"
        )
    return "\n".join(lines)


BEGIN, END = "<!-- begin: written by bench/ingest.py -->", "<!-- end: written by bench/ingest.py -->"


def generated_block(results: list[Result], args: argparse.Namespace) -> str:
    m = machine()
    mean = ", ".join(
        f"({r.scenario.key}, worker {'on' if r.worker else 'off'}) {statistics.fmean(r.latencies_ms):.1f} ms"
        for r in results
        if r.latencies_ms
    )
    return "\n".join(
        [
            BEGIN,
            f"Last run {m['date']}: `python -m bench.ingest --worker {args.worker} --processes {args.processes} "
            f"--seconds {args.seconds:g}` "
            f"({args.clients} phones; at most {args.count} submissions without photos, {args.photo_count} with; "
            f"{args.warmup} warm-up submissions first). Machine: {m['nproc']} cores (`nproc`), {m['memory']} "
            f"memory, {m['cpu']}, Python {m['python']}, {m['os']}.",
            "",
            table(results),
            "",
            f"Mean POST latency: {mean}.",
            END,
        ]
    )


def write_docs(block: str) -> None:
    """Put ``block`` in our section of docs/performance.md, between its markers; the rest of the file (other
    benchmarks' sections, and the prose of ours) is left as it is."""
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n"
    if BEGIN in current and END in current:
        head, _, rest = current.partition(BEGIN)
        updated = head + block + rest.partition(END)[2]
    else:
        updated = current.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    DOC.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="abc", help="which of a, b, c to run (default: abc)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--count", type=int, default=6000, help="submissions per scenario without photos")
    parser.add_argument("--photo-count", type=int, default=1500, help="submissions in scenario b")
    parser.add_argument("--seconds", type=float, default=40.0, help="time limit per scenario")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--threads", type=int, default=None, help="QINGLING_THREADS for the server")
    parser.add_argument(
        "--quiet-load", type=float, default=None, help="before each scenario wait (10 min at most) for load below this"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="qingling serve processes on one data folder, phones spread over them"
    )
    parser.add_argument("--write-docs", action="store_true", help=f"write the results into {DOC.name}")
    parser.add_argument(
        "--worker",
        choices=["on", "off", "both"],
        default="on",
        help="on: qingling serve as shipped, its worker thread running the jobs; off: without it (ingestion alone)",
    )
    parser.add_argument("--profile", type=Path, default=None, help="folder for py-spy stacks of the server")
    args = parser.parse_args()
    # A plain kill would leave the servers running: turn it into an exit, so every ``finally`` stops its server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    photo = one_megabyte_jpeg()
    print(f"photo: {len(photo):,} bytes; server: {QINGLING}", flush=True)
    results = []
    for worker in {"on": [True], "off": [False], "both": [True, False]}[args.worker]:
        for key in args.scenarios:
            scenario = SCENARIOS[key]
            print(f"({key}) {scenario.title}, worker {'on' if worker else 'off'} ...", flush=True)
            results.append(run_scenario(scenario, args, photo, worker))
    print(table(results))
    if args.write_docs:
        write_docs(generated_block(results, args))
        print(f"written to {DOC}")


if __name__ == "__main__":
    main()
