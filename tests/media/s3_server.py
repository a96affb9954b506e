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
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
    """``python -m moto.server`` on a free loopback port; ``stop()`` kills it."""

    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.port = _free_port()
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
