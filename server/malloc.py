"""The C allocator of a serving process, tuned so a long download's memory is the same as a short one's.

Measured on `qingling serve` (docs/performance.md, Exports): with glibc's defaults the server's resident
memory grew by 6-23 MiB with every export and with its size, and stayed: each waitress thread gets its
own malloc arena, and glibc's mmap threshold rises to the size of the first large block freed (the
256 KiB chunks an export yields), after which such blocks come from the arenas and fragment them.
Two arenas and a fixed 64 KiB threshold (large blocks mapped and unmapped on their own) keep the
process flat across downloads; Python's own small-object allocator is unaffected. Elsewhere than on
glibc this does nothing.

Arrow (the Parquet downloads) allocates through its own jemalloc pool by default, which keeps what a
download freed: with ``ARROW_DEFAULT_MEMORY_POOL=system`` it uses the tuned C allocator instead, and a
20,000-row Parquet download peaks 14 MiB lower (183 -> 169 MiB, same CPU). The variable is read when
pyarrow is first imported, so it is set here, before any request; an operator's own setting wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ARENAS = 2
MMAP_THRESHOLD = 64 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h
_M_ARENA_MAX = -8


def tune() -> bool:
    """Apply the settings (before the serving threads start); whether the C library took them."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_ARENA_MAX, ARENAS)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
