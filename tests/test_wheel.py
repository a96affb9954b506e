"""The wheel works on its own: built, installed into a fresh virtual environment outside the checkout,
it migrates a new data folder, builds the shipped forms and serves, with none of the checkout's files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import requests

from tests.protocol.test_concurrency import ServeProcess

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def test_the_wheel_installs_migrates_builds_forms_and_serves(tmp_path: Path) -> None:
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(ROOT)], tmp_path)
    [wheel] = (tmp_path / "dist").glob("qingling-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for shipped in (
        "sync/db/migrations/env.py",
        "sync/db/migrations/script.py.mako",
        "forms/sources/hh_baseline.xlsx",
        "forms/sources/media/income_lines.csv",
        "forms/rules/parameters/national.csv",
        "server/templates/openrosa/form_list.xml",
    ):
        assert shipped in names, f"the wheel lacks {shipped}"

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], tmp_path)
    qingling = venv / "bin" / "qingling"
    away = tmp_path / "elsewhere"  # no checkout here: everything must come from the installed wheel
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_") and k != "PYTHONPATH"}
    env["QINGLING_DATA_DIR"] = str(away / "data")
    installed = run([str(venv / "bin" / "python"), "-c", "import sync; print(sync.__file__)"], away, env)
    assert str(venv) in installed and str(ROOT) not in installed

    assert "database upgraded from empty to" in run([str(qingling), "db", "upgrade"], away, env)
    built = run([str(qingling), "forms", "build"], away, env)
    for form_id in ("hh_baseline", "house_appraisal", "water_survey", "income_check"):
        assert form_id in built

    server = ServeProcess(env, away / "serve.log", executable=qingling, cwd=away)
    try:
        form_list = requests.get(
            f"{server.url}/v1/key/none/projects/1/formList", headers={"X-OpenRosa-Version": "1.0"}, timeout=10
        )
        assert form_list.status_code == 403  # the server answers the phone protocol; the token is not valid
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
    finally:
        server.stop()
