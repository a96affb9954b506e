"""A one-line access log per request (waitress logs none of its own)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

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
            path = environ.get("PATH_INFO", "")
            if "/v1/key/" in path:  # never write phone tokens to the log
                head, _, rest = path.partition("/v1/key/")
                path = f"{head}/v1/key/***/{rest.partition('/')[2]}"
            log.info(
                "%s %s %s %s %.1fms",
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REQUEST_METHOD", "-"),
                path,
                (status_holder[0].split(" ", 1)[0] if status_holder else "-"),
                (time.perf_counter() - started) * 1000,
            )
