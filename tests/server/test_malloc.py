"""The serving process's allocators (server/malloc.py): tuned before any request, an operator's choice kept."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = "from server.malloc import tune; tune(); import pyarrow; print(pyarrow.default_memory_pool().backend_name)"


def _pool(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"} | env
    result = subprocess.run([sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_parquet_downloads_allocate_through_the_tuned_c_allocator() -> None:
    assert _pool() == "system"


def test_an_operators_arrow_pool_is_kept() -> None:
    assert _pool(ARROW_DEFAULT_MEMORY_POOL="jemalloc") == "jemalloc"
