"""Benchmark: what one HTTP Basic sign-in adds to ``qingling serve``'s peak memory, and its CPU.

Run from the repository root:

    .venv/bin/python -m bench.signin                # 2 rounds: a hash of today's parameters, then an older one

Each measurement is a fresh data folder (SQLite), ``qingling db upgrade``, an account made with ``qingling
users create``, and ``qingling serve`` on 127.0.0.1 with HTTP Basic allowed over plain HTTP. After 20 phone
requests (the app-user token's form list) warm it up, the server's peak resident memory (VmHWM) and CPU are
read, then one Basic request signs in (``/v1/projects/1/formList``), and both are read again; a second
Basic request with the same credentials shows that the sign-in is remembered. "older" replaces the account's
hash with one made by argon2-cffi's default parameters (64 MiB, 3 passes, 4 lanes), as every account's was
before 2026-12-02: the first good sign-in checks it at that cost and stores a new one
(sync/access/accounts.py). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher

from bench.ingest import _free_port

QINGLING = Path(sys.executable).with_name("qingling")
EMAIL, PASSWORD = "bench@example.org", "bench password 0123456789"
HEADERS = {"X-OpenRosa-Version": "1.0"}


def _status_mib(pid: int, field: str) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE).group(1)) / 1024


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(hash_kind: str) -> str:
    with tempfile.TemporaryDirectory(prefix="qingling-signin-") as folder:
        data = Path(folder) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
        env |= {"QINGLING_DATA_DIR": str(data), "QINGLING_ALLOW_HTTP_BASIC": "true"}
        subprocess.run([str(QINGLING), "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([str(QINGLING), "users", "create", "--email", EMAIL, "--role", "enumerator"], env=env,
                       input=PASSWORD + "\n", text=True, check=True, capture_output=True)
        if hash_kind == "older":
            older = PasswordHasher().hash(PASSWORD)
            with sqlite3.connect(data / "qingling.db") as db:
                db.execute("UPDATE users SET password_hash = ? WHERE email = ?", (older, EMAIL))
        port = _free_port()
        log = Path(folder) / "serve.log"
        with open(log, "wb") as out:
            server = subprocess.Popen([str(QINGLING), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                      stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            token_path = _wait_for_token_path(server, log)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

            def get(path: str, headers: dict[str, str]) -> int:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                return response.status

            for _ in range(20):
                get(f"{token_path}/formList", HEADERS)
            time.sleep(0.5)
            peak, cpu = _status_mib(server.pid, "VmHWM"), _cpu_seconds(server.pid)
            basic = {**HEADERS, "Authorization": "Basic " + base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode()}
            status = get("/v1/projects/1/formList", basic)
            time.sleep(0.3)
            signed_peak, signed_cpu = _status_mib(server.pid, "VmHWM"), _cpu_seconds(server.pid)
            again = get("/v1/projects/1/formList", basic)
            again_cpu = _cpu_seconds(server.pid)
            return (
                f"| {hash_kind} | {status}, {again} | {peak:.1f} -> {signed_peak:.1f} (+{signed_peak - peak:.1f}) "
                f"| {1000 * (signed_cpu - cpu):.0f} | {1000 * (again_cpu - signed_cpu):.0f} "
                f"| {os.getloadavg()[0]:.1f} |"
            )
        finally:
            server.terminate()
            server.wait(30)


def _wait_for_token_path(server: subprocess.Popen, log: Path, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"qingling serve exited:\n{log.read_text(errors='replace')}")
        found = re.search(r"(/v1/key/[A-Za-z0-9_-]+/projects/\d+)\s*$", log.read_text(errors="replace"), re.MULTILINE)
        if found:
            time.sleep(0.5)
            return found.group(1)
        time.sleep(0.2)
    raise RuntimeError("qingling serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print("| stored hash | answers (sign-in, again) | server VmHWM MiB, before -> after the sign-in "
          "| sign-in CPU ms | next request CPU ms | load |")
    print("|---|---|---|---:|---:|---:|")
    for _ in range(args.rounds):
        for kind in ("today's", "older"):
            print(measure(kind), flush=True)


if __name__ == "__main__":
    main()
