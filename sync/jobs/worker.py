"""The loop that runs queued jobs: a thread inside ``qingling serve``, or ``qingling worker`` on its own.

It polls the ``jobs`` table (PostgreSQL's ``SKIP LOCKED`` lets several workers share it); ``wake`` makes
it look at once, so a submission's normalization starts right after its commit.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from sync.jobs.queue import JobKinds, run_pending_jobs

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, factory: sessionmaker[Session], kinds: JobKinds, *, poll_seconds: float = 2.0) -> None:
        self.factory, self.kinds, self.poll_seconds = factory, kinds, poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="qingling-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                run_pending_jobs(self.factory, self.kinds)
            except Exception:  # noqa: BLE001 - the database may be briefly away; try again at the next poll
                log.exception("the job queue could not be read")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
