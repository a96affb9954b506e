"""The loop that runs queued jobs: a thread inside ``qingling serve``, or ``qingling worker`` on its own.

It polls the ``jobs`` table (PostgreSQL's ``SKIP LOCKED`` lets several workers share it); ``wake`` makes
it look at once, so a submission's normalization starts right after its commit. Now and then (at start,
then every ``prune_every``, never per job) it prunes done jobs older than the retention it was given.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from sync.jobs.queue import JobKinds, prune_done, run_pending_jobs

log = logging.getLogger(__name__)


PRUNE_EVERY = timedelta(hours=6)


class Worker:
    def __init__(
        self,
        factory: sessionmaker[Session],
        kinds: JobKinds,
        *,
        poll_seconds: float = 2.0,
        retention: timedelta | None = None,
        prune_every: timedelta = PRUNE_EVERY,
    ) -> None:
        """``retention``: how long done jobs are kept (None: this worker never prunes)."""
        self.factory, self.kinds, self.poll_seconds = factory, kinds, poll_seconds
        self.retention, self.prune_every = retention, prune_every
        self._next_prune = time.monotonic()
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
            self._prune_if_due()
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

    def _prune_if_due(self) -> None:
        if self.retention is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self.prune_every.total_seconds()
        try:
            removed = prune_done(self.factory, self.retention)
        except Exception:  # noqa: BLE001 - pruning is housekeeping: the next round tries again
            log.exception("done jobs could not be pruned")
            return
        if removed:
            log.info("pruned %d done job(s) finished more than %s ago", removed, self.retention)
