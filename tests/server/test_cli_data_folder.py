"""The ``qingling`` commands and the data folder: only the set-up commands make one; the others refuse.

A relative ``QINGLING_DATA_DIR`` (the default ``qingling-data``) is read from the current folder, so a
command run from the wrong folder must say so instead of starting an empty installation there. The
commands run as an operator runs them, as processes, from a folder of their own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from sync.db.engine import make_engine
from sync.db.migrate import downgrade, head_revision
from tests.conftest import DATA
from tests.protocol.test_concurrency import QINGLING
from tests.server.test_cli import run

READING_COMMANDS = [
    ["jobs", "list"],
    ["jobs", "retry"],
    ["registry", "rebuild"],
    ["media", "check"],
    ["media", "sweep"],
    ["qr"],
    ["worker"],
    ["forms", "state", "hh_baseline", "closing"],
    ["forms", "publish", str(DATA / "forms" / "village_visit.md")],
]


def qingling(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``qingling ARGS`` in ``cwd``, with none of the developer's QINGLING_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    return subprocess.run(
        [str(QINGLING), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


@pytest.mark.parametrize("command", READING_COMMANDS, ids=" ".join)
def test_a_command_run_from_another_folder_refuses_and_creates_nothing(command: list[str], tmp_path: Path) -> None:
    result = qingling(command, cwd=tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"there is no data folder at {tmp_path / 'qingling-data'}" in result.stderr
    assert "QINGLING_DATA_DIR" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []  # no qingling-data, nothing else either


def test_a_data_folder_without_a_database_is_refused_without_creating_one(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    result = qingling(["jobs", "list"], cwd=tmp_path, env={"QINGLING_DATA_DIR": "data"})

    assert result.returncode == 1
    assert f"there is no database at {tmp_path / 'data' / 'qingling.db'}" in result.stderr
    assert "qingling db upgrade" in result.stderr and "Traceback" not in result.stderr
    assert list((tmp_path / "data").iterdir()) == []


def test_set_up_commands_make_the_folder_and_say_one_line(tmp_path: Path) -> None:
    upgraded = qingling(["db", "upgrade"], cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    # One line of our own, none of alembic's INFO lines.
    assert upgraded.stdout.splitlines() == [f"database upgraded from empty to {head_revision()}"]
    assert upgraded.stderr == ""
    again = qingling(["db", "upgrade"], cwd=tmp_path)
    assert again.stdout.splitlines() == [f"database is at the latest revision ({head_revision()})"]
    assert again.stderr == ""

    listed = qingling(["jobs", "list"], cwd=tmp_path)
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "no pending or failed jobs\n", "")
    assert qingling(["jobs", "list", "--all"], cwd=tmp_path).stdout == "no jobs\n"


def test_a_database_without_tables_is_refused_until_upgraded_on_both_databases(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    downgrade(engine, "base")  # an empty database: what a new PostgreSQL database is before the first start
    engine.dispose()
    env = {"QINGLING_DATA_DIR": str(tmp_path / "data"), "QINGLING_DATABASE_URL": database_url}
    (tmp_path / "data").mkdir()

    refused = run(["jobs", "list"], env)
    assert refused.exit_code == 1
    assert "the database has no Qingling tables yet; run `qingling db upgrade`" in refused.output
    assert "Traceback" not in refused.output

    assert run(["db", "upgrade"], env).output == f"database upgraded from empty to {head_revision()}\n"
    listed = run(["jobs", "list"], env)
    assert (listed.exit_code, listed.output) == (0, "no pending or failed jobs\n")
