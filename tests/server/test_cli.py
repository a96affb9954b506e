"""The ``qingling`` command as an operator uses it: serve, the phone set-up QR code, accounts.

``qingling serve`` runs as a real process on a fresh embedded installation (SQLite and a blob folder); the
phone set-up is checked the way a phone reads it, by decoding the QR code drawn in the terminal. The whole
Collect conversation over HTTP is tests/protocol/test_end_to_end.py; here only what the CLI promises.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from lxml import etree
from segno.consts import ECC

from server.app import create_app
from server.cli import main
from server.collect_qr import decode_settings
from server.config import load_settings
from tests.collect import COLLECT_HEADERS, DEVICE_ID
from tests.conftest import DATA
from tests.protocol.test_concurrency import QINGLING, ServeProcess

FORM_LIST_NS = {"x": "http://openrosa.org/xforms/xformsList"}
PHONE_URL = re.compile(r"^\s+(http://\S+/v1/key/[A-Za-z0-9_-]{20,}/projects/\d+)\s*$", re.MULTILINE)
PASSWORD = "correct horse battery staple"


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> Result:
    """``qingling ARGS`` in this process; QINGLING_* variables of the developer's shell are left out."""
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("QINGLING_")}
    return CliRunner().invoke(main, args, env={**clean, **env}, input=stdin, catch_exceptions=False)


def form_ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [x.findtext("x:formID", namespaces=FORM_LIST_NS) for x in etree.fromstring(response.content)]


def collect_get(url: str, **kwargs: object) -> requests.Response:
    return requests.get(f"{url}?deviceID={DEVICE_ID}", headers=COLLECT_HEADERS, timeout=10, **kwargs)


@dataclass
class Installation:
    env: dict[str, str]
    server: ServeProcess

    @property
    def banner(self) -> str:
        return self.server.output()


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """A fresh data folder with one form published through the CLI, served by ``qingling serve``."""
    folder = tmp_path_factory.mktemp("cli")
    env = {
        "QINGLING_DATA_DIR": str(folder / "data"),
        "QINGLING_PUBLISH_FORMS_ON_START": "false",
        "QINGLING_ALLOW_HTTP_BASIC": "true",
    }
    assert run(["db", "upgrade"], env).exit_code == 0  # publishing needs an installation, which this makes
    published = run(["forms", "publish", str(DATA / "forms" / "village_visit.md")], env)
    assert published.exit_code == 0, published.output
    assert "published village_visit" in published.output
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")} | env
    server = ServeProcess(process_env, folder / "serve.log")
    yield Installation(env, server)
    server.stop()


def test_serve_prints_the_phone_url_and_answers_health_and_form_list(installation: Installation) -> None:
    (url,) = PHONE_URL.findall(installation.banner)
    assert url.startswith(f"{installation.server.url}/v1/key/")
    assert "Qingling is ready." in installation.banner

    health = requests.get(f"{installation.server.url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert form_ids(collect_get(f"{url}/formList")) == ["village_visit"]


def test_start_up_qr_code_configures_collect_with_the_app_user_url(installation: Installation) -> None:
    settings = decode_settings(read_terminal_qr(installation.banner))
    (printed_url,) = PHONE_URL.findall(installation.banner)
    server_url = settings["general"]["server_url"]
    assert server_url == printed_url
    assert re.fullmatch(rf"{re.escape(installation.server.url)}/v1/key/[A-Za-z0-9_-]{{20,}}/projects/1", server_url)
    assert settings["project"]["name"] == "Household survey"
    # The phone needs nothing else: the token URL lists the forms without any credentials.
    assert form_ids(collect_get(f"{server_url}/formList")) == ["village_visit"]
    head = requests.head(f"{server_url}/submission?deviceID={DEVICE_ID}", headers=COLLECT_HEADERS, timeout=10)
    assert head.status_code == 204


def test_qr_command_prints_the_same_phone_set_up_again(installation: Installation) -> None:
    port = str(installation.server.port)
    result = run(["qr"], {**installation.env, "QINGLING_HOST": "127.0.0.1", "QINGLING_PORT": port})
    assert result.exit_code == 0, result.output

    server_url = decode_settings(read_terminal_qr(result.output))["general"]["server_url"]
    assert PHONE_URL.findall(result.output) == [server_url]
    assert PHONE_URL.findall(installation.banner) == [server_url]  # same app user as at start-up
    assert form_ids(collect_get(f"{server_url}/formList")) == ["village_visit"]


def test_created_account_signs_in_with_http_basic_on_the_running_server(installation: Installation) -> None:
    result = run(
        ["users", "create", "--email", "County.Office@example.org", "--role", "supervisor"],
        installation.env,
        stdin=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "created county.office@example.org (supervisor, whole project)"

    form_list = f"{installation.server.url}/v1/projects/1/formList"
    assert form_ids(collect_get(form_list, auth=("county.office@example.org", PASSWORD))) == ["village_visit"]
    wrong = collect_get(form_list, auth=("county.office@example.org", PASSWORD + "!"))
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic ")
    assert collect_get(form_list).status_code == 401


def test_password_piped_in_creates_an_account_on_both_databases(settings, client, project) -> None:  # noqa: ANN001
    """``printf ... | qingling users create``: standard input is a pipe, not a terminal, so no prompt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    env |= {"QINGLING_DATA_DIR": str(settings.data_dir), "QINGLING_DATABASE_URL": settings.database_url}
    # A Windows line ending from a script is not part of the password.
    result = subprocess.run(
        [str(QINGLING), "users", "create", "--email", "viewer@example.org", "--role", "viewer"],
        input=(PASSWORD + "\r\n").encode(),
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == "created viewer@example.org (viewer, whole project)"
    assert PASSWORD.encode() not in result.stdout + result.stderr

    response = client.get(f"/v1/projects/{project.id}/formList", headers=_basic("viewer@example.org", PASSWORD))
    assert response.status_code == 200
    response = client.get(f"/v1/projects/{project.id}/formList", headers=_basic("viewer@example.org", "not it"))
    assert response.status_code == 401


def test_password_is_never_a_command_line_argument(tmp_path: Path) -> None:
    """Arguments end up in shell history and in ``ps`` output; the command offers no way to pass one."""
    env = {"QINGLING_DATA_DIR": str(tmp_path / "data")}
    options = re.findall(r"--[a-z-]+", run(["users", "create", "--help"], env).output)
    assert sorted(options) == ["--area", "--email", "--help", "--role"]
    refused = run(["users", "create", "--email", "a@example.org", "--role", "viewer", "--password", PASSWORD], env)
    assert refused.exit_code == 2 and "No such option '--password'" in refused.output
    positional = run(["users", "create", "--email", "a@example.org", "--role", "viewer", PASSWORD], env)
    assert positional.exit_code == 2 and "unexpected extra argument" in positional.output.lower()


def test_an_account_created_with_an_area_sees_only_that_area(tmp_path: Path) -> None:
    env = {"QINGLING_DATA_DIR": str(tmp_path / "data")}
    bad = run(["users", "create", "--email", "t@example.org", "--role", "supervisor", "--area", "1501"], env,
              stdin=PASSWORD + "\n")
    assert bad.exit_code == 1 and "6-digit county, 9-digit township or 12-digit village" in bad.output
    made = run(["users", "create", "--email", "t@example.org", "--role", "supervisor", "--area", "150121100"], env,
               stdin=PASSWORD + "\n")
    assert made.exit_code == 0 and made.output.strip() == "created t@example.org (supervisor, 150121100)"
    app = create_app(load_settings({}, data_dir=tmp_path / "data", allow_http_basic=True))
    other = app.test_client().get("/v1/projects/1/registry/clearance?area=150121102",
                                  headers=_basic("t@example.org", PASSWORD))
    assert other.status_code == 404
    own = app.test_client().get("/v1/projects/1/registry/clearance", headers=_basic("t@example.org", PASSWORD))
    assert own.status_code == 200 and own.get_json()["area"] == "150121100"


def test_refused_account_names_the_reason_and_creates_nothing(tmp_path: Path) -> None:
    env = {"QINGLING_DATA_DIR": str(tmp_path / "data")}
    assert run(["db", "upgrade"], env).exit_code == 0
    short = run(["users", "create", "--email", "a@example.org", "--role", "viewer"], env, stdin="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    created = run(["users", "create", "--email", "a@example.org", "--role", "viewer"], env, stdin=PASSWORD + "\n")
    assert created.exit_code == 0, created.output
    again = run(["users", "create", "--email", "A@example.org", "--role", "admin"], env, stdin="another password\n")
    assert again.exit_code == 1 and "already exists" in again.output
    app = create_app(load_settings({}, data_dir=tmp_path / "data", allow_http_basic=True))
    client = app.test_client()
    assert client.get("/v1/projects/1/formList", headers=_basic("a@example.org", "short")).status_code == 401
    assert client.get("/v1/projects/1/formList", headers=_basic("a@example.org", "another password")).status_code == 401
    current = client.get("/v1/users/current", headers=_basic("a@example.org", PASSWORD))
    assert current.status_code == 200 and current.get_json()["role"] == "viewer"


def _basic(email: str, password: str) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {**COLLECT_HEADERS, "Authorization": f"Basic {token}"}


# -- reading the QR code as a phone camera would --------------------------------------------------------------

_HALF_BLOCKS = {" ": (1, 1), "\u2580": (0, 1), "\u2584": (1, 0), "\u2588": (0, 0)}  # 1 = dark module
_MASKS = (
    lambda r, c: (r + c) % 2 == 0,
    lambda r, c: r % 2 == 0,
    lambda r, c: c % 3 == 0,
    lambda r, c: (r + c) % 3 == 0,
    lambda r, c: (r // 2 + c // 3) % 2 == 0,
    lambda r, c: r * c % 2 + r * c % 3 == 0,
    lambda r, c: (r * c % 2 + r * c % 3) % 2 == 0,
    lambda r, c: ((r + c) % 2 + r * c % 3) % 2 == 0,
)
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def read_terminal_qr(text: str) -> str:
    """The text of the QR code drawn in ``text`` with half blocks, light modules as blocks (segno's terminal
    output): a small QR reader (ISO/IEC 18004) for undamaged symbols, so the test reads what a phone reads."""
    lines = [line for line in text.splitlines() if line and set(line) <= set(_HALF_BLOCKS) and "\u2588" in line]
    rows = [bits for line in lines for bits in zip(*(_HALF_BLOCKS[ch] for ch in line), strict=True)]
    # The symbol's first row starts and ends with a finder pattern: its dark extent is the symbol's width.
    top = next(r for r, row in enumerate(rows) if any(row))
    left = rows[top].index(1)
    size = len(rows[top]) - rows[top][::-1].index(1) - left
    return _decode_qr([row[left : left + size] for row in rows[top : top + size]])


def _format_code(data: int) -> int:
    remainder = data
    for _ in range(10):
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
    return (data << 10 | remainder & 0x3FF) ^ 0x5412


def _data_modules(size: int, version: int) -> list[tuple[int, int]]:
    """Positions of the data modules in reading order: column pairs from the bottom right, zigzagging."""
    function = [[False] * size for _ in range(size)]

    def reserve(r0: int, c0: int, height: int, width: int) -> None:
        for r in range(r0, r0 + height):
            for c in range(c0, c0 + width):
                function[r][c] = True

    reserve(0, 0, 9, 9)  # finders with their separators and the format information
    reserve(0, size - 8, 9, 8)
    reserve(size - 8, 0, 8, 9)
    reserve(6, 0, 1, size)  # timing patterns
    reserve(0, 6, size, 1)
    if version > 1:
        count = version // 7 + 2
        step = (version * 8 + count * 3 + 5) // (count * 4 - 4) * 2
        centres = [6] + sorted(size - 7 - i * step for i in range(count - 1))
        corners = {(6, 6), (6, centres[-1]), (centres[-1], 6)}
        for r in centres:
            for c in centres:
                if (r, c) not in corners:
                    reserve(r - 2, c - 2, 5, 5)
    if version >= 7:  # version information
        reserve(0, size - 11, 6, 3)
        reserve(size - 11, 0, 3, 6)
    order = []
    for right in [c for c in range(size - 1, 0, -2) if c > 6] + list(range(5, 0, -2)):
        upward = (right + 1) & 2 == 0
        for vert in range(size):
            r = size - 1 - vert if upward else vert
            order += [(r, c) for c in (right, right - 1) if not function[r][c]]
    return order


def _decode_qr(grid: list[tuple[int, ...]]) -> str:
    size = len(grid)
    version = (size - 17) // 4
    cells = [(i, 8) for i in range(6)] + [(7, 8), (8, 8), (8, 7)] + [(8, 14 - i) for i in range(9, 15)]
    raw = sum(grid[r][c] << i for i, (r, c) in enumerate(cells))
    fmt = min(range(32), key=lambda d: bin(_format_code(d) ^ raw).count("1"))
    level, mask = fmt >> 3, _MASKS[fmt & 7]
    bits = "".join(str(grid[r][c] ^ mask(r, c)) for r, c in _data_modules(size, version))
    codewords = [int(bits[i : i + 8], 2) for i in range(0, len(bits) - 7, 8)]
    # The blocks' data codewords are interleaved; error correction codewords follow and are not needed.
    lengths = [group.num_data for group in ECC[version][level] for _ in range(group.num_blocks)]
    blocks: list[list[int]] = [[] for _ in lengths]
    stream = iter(codewords)
    for i in range(max(lengths)):
        for block, length in zip(blocks, lengths, strict=True):
            if i < length:
                block.append(next(stream))
    payload = "".join(f"{byte:08b}" for block in blocks for byte in block)
    band = 0 if version <= 9 else 1 if version <= 26 else 2
    out, pos, encoding = bytearray(), 0, "iso-8859-1"  # the QR default without an ECI

    def take(n: int) -> int:
        nonlocal pos
        pos += n
        return int(payload[pos - n : pos], 2)

    while pos + 4 <= len(payload) and (mode := take(4)) != 0:
        if mode == 0b0100:  # bytes
            out += bytes(take(8) for _ in range(take((8, 16, 16)[band])))
        elif mode == 0b0010:  # alphanumeric, two characters in 11 bits
            count = take((9, 11, 13)[band])
            for _ in range(count // 2):
                pair = take(11)
                out += (_ALPHANUMERIC[pair // 45] + _ALPHANUMERIC[pair % 45]).encode()
            if count % 2:
                out += _ALPHANUMERIC[take(6)].encode()
        elif mode == 0b0001:  # numeric, three digits in 10 bits
            count = take((10, 12, 14)[band])
            for start in range(0, count, 3):
                digits = min(3, count - start)
                out += str(take((4, 7, 10)[digits - 1])).zfill(digits).encode()
        elif mode == 0b0111:  # ECI; 26 is UTF-8
            encoding = "utf-8" if take(8) == 26 else encoding
        else:
            raise ValueError(f"QR mode {mode:04b} is not supported by this reader")
    return out.decode(encoding)


def test_media_sweep_removes_only_old_unfinished_writes(tmp_path: Path) -> None:
    from media.store import make_store
    from media.stores.local import TEMP_MARK

    env = {"QINGLING_DATA_DIR": str(tmp_path / "data")}
    assert run(["db", "upgrade"], env).exit_code == 0
    settings = load_settings(env)
    store = make_store("local", root=settings.resolved_blob_dir)
    folder = settings.resolved_blob_dir / "submissions"
    folder.mkdir(parents=True, exist_ok=True)
    crashed, in_flight = folder / f".a.jpg{TEMP_MARK}1", folder / f".b.jpg{TEMP_MARK}2"
    crashed.write_bytes(b"half a photo")
    in_flight.write_bytes(b"still arriving")
    two_days_ago = time.time() - 2 * 86400
    os.utime(crashed, (two_days_ago, two_days_ago))
    assert sorted(p.key for p in store.partial_writes()) == ["submissions/a.jpg", "submissions/b.jpg"]

    result = run(["media", "sweep"], env)
    assert result.exit_code == 0, result.output
    assert "removed 1 unfinished write(s) older than 24 h" in result.output
    assert [p.key for p in store.partial_writes()] == ["submissions/b.jpg"]
