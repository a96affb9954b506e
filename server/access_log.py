"""A one-line access log per request (waitress logs none of its own)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from server.safe_text import log_path, printable

log = logging.getLogger("qingling.access")


class AccessLog:
    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status_holder: list[str] = []

        def logging_start_response(status: str, headers: list, exc_info=None):  # noqa: ANN001, ANN202
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, logging_start_response)
        finally:
            log.info(
                "%s %s %s %s %.1fms",
                printable(environ.get("REMOTE_ADDR", "-")),
                printable(environ.get("REQUEST_METHOD", "-")),
                log_path(environ.get("PATH_INFO", "")),  # never a phone token, never a forged line
                (status_holder[0].split(" ", 1)[0] if status_holder else "-"),
                (time.perf_counter() - started) * 1000,
            )
