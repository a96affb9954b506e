"""A real headless Chromium for the workspace tests: Debian's package, driven by Playwright for Python.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``. On a machine without it
(a fresh CI machine) the session installs Debian's ``chromium`` and ``fonts-noto-cjk`` (for the Chinese
pages and screenshots) with apt-get first, as the suite starts PostgreSQL from pgserver itself. The tests
never skip for want of a browser: without root or a package mirror they fail and say why.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CJK_FONT_DIR = Path("/usr/share/fonts/opentype/noto")
PACKAGES = ("chromium", "fonts-noto-cjk")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _installed() -> bool:
    return CHROMIUM.exists() and any(CJK_FONT_DIR.glob("NotoSansCJK*"))


def ensure_chromium() -> None:
    """Install Chromium and the CJK fonts from Debian's packages when they are missing.

    Each pytest-xdist worker starts its own session, so two may get here at once; apt and dpkg refuse a
    second caller while the first holds their locks. A file lock lets one install while the other waits,
    then finds the browser there.
    """
    if _installed():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.fail(f"{CHROMIUM} or fonts-noto-cjk is missing; install them: apt-get install -y {' '.join(PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=600"]
    with open(Path(tempfile.gettempdir()) / "qingling-test-browser.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed():
            return
        for command in (["apt-get", *wait, "update", "-q"], ["apt-get", *wait, "install", "-y", "-q", *PACKAGES]):
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
            if result.returncode != 0:
                pytest.fail(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One browser per test session (each test opens its own context: its own cookies)."""
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def browser(chromium) -> Iterator[object]:  # noqa: ANN001
    """A fresh browser context (no cookies) sized like a 10-inch tablet in landscape, in Chinese."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context
    context.close()
