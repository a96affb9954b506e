"""A real S3-compatible server on 127.0.0.1 for tests: moto's standalone server in a child process.

A child process rather than moto's in-process threaded server so that stopping it really closes every
connection (a stopped in-process server can keep serving keep-alive connections), which the
"store dies mid-test" checks depend on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import pytest

DUMMY_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "qingling-test",
    "AWS_SECRET_ACCESS_KEY": "qingling-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Never fall back to instance metadata or a developer's own profile and files.
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
CLEARED_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CA_BUNDLE",
)


@contextmanager
def dummy_aws_credentials() -> Iterator[None]:
    """Offline credentials for boto3, and no proxy for loopback, restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name in CLEARED_AWS_VARIABLES:
            patch.delenv(name, raising=False)
        for name, value in DUMMY_AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        no_proxy = ",".join(filter(None, [os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
        patch.setenv("NO_PROXY", no_proxy)
        patch.setenv("no_proxy", no_proxy)
        yield


class MotoServer:
    """``python -m moto.server`` on a free loopback port (or ``port``); ``stop()`` kills it."""

    def __init__(self, startup_timeout: float = 30.0, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + startup_timeout
        while not self._accepting():
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode} on port {self.port}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto server did not listen on port {self.port} in {startup_timeout}s")
            time.sleep(0.05)

    def _accepting(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SeveringProxy:
    """A TCP forwarder on 127.0.0.1 in front of a server, that can sever everything mid-stream.

    ``sever_after(n, then=...)`` lets ``n`` more bytes through towards the server, then calls ``then`` (e.g.
    kill the moto server), closes every connection and stops listening, so an upload is cut at a known
    point instead of whenever a kill happens to land. ``reopen(port)`` listens again on the same port in
    front of another server: what a restarted store looks like to the app.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = _free_port()
        self.severed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._budget: int | None = None
        self._then: Callable[[], None] | None = None
        self._listen()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sever_after(self, budget: int, then: Callable[[], None] | None = None) -> None:
        with self._lock:
            self._budget, self._then = budget, then

    def reopen(self, upstream_port: int) -> None:
        with self._lock:
            self.upstream_port, self._budget, self._then = upstream_port, None, None
        self.severed.clear()
        self._listen()

    def close(self) -> None:
        self._sever()

    def _listen(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR on POSIX
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by _sever
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self.severed.is_set():
                    client.close()
                    upstream.close()
                    continue
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, towards_server: bool) -> None:
        try:
            while data := source.recv(65536):
                if towards_server and not self._spend(len(data)):
                    return
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                _close(sock)

    def _spend(self, count: int) -> bool:
        with self._lock:
            if self._budget is None:
                return True
            self._budget -= count
            if self._budget >= 0:
                return True
        self._sever()
        return False

    def _sever(self) -> None:
        with self._lock:
            if self.severed.is_set():
                return
            self.severed.set()
            then, self._then = self._then, None
            sockets, self._sockets = self._sockets, set()
        if then is not None:
            then()
        _close(self._listener)
        for sock in sockets:
            _close(sock)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
