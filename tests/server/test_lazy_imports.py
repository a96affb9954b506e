"""The server starts without the libraries only some paths need (docs/performance.md, Exports: memory).

pyarrow (Parquet), xlsxwriter (XLSX), openpyxl (reading XLSForms), OpenCV, NumPy, SciPy and imagehash (the
photos job), boto3 (the S3 store), pyxform (compiling XLSForms) and stream_zip (ZIP downloads) together were
about 100 MiB of the idle server's resident memory. A fresh interpreter creates the app, with its job kinds,
and must not have imported them; the same interpreter then imports the Parquet writer, to show the check sees
a library once it is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = (
    "pyarrow", "openpyxl", "xlsxwriter", "cv2", "numpy", "scipy", "imagehash", "boto3", "botocore", "pyxform",
    "stream_zip",
)

SCRIPT = f"""
import json, sys
from server.app import create_app
from server.config import load_settings

app = create_app(load_settings())
app.extensions["qingling"].work  # what the worker thread of `qingling serve` runs jobs with
lazy = {LAZY!r}
loaded = [name for name in lazy if name in sys.modules]
import sync.exports.parquet  # what the first Parquet download imports
after = [name for name in lazy if name in sys.modules]
print(json.dumps({{"at_start": loaded, "after_exports": after}}))
"""


def test_creating_the_app_imports_no_heavy_library(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    env["QINGLING_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["at_start"] == [], f"imported when the app is created: {found['at_start']}"
    assert "pyarrow" in found["after_exports"]
