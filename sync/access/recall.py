"""Who a credential belongs to, remembered for a few seconds per process, and forgotten after a change commits.

A phone sends its token twice per submission (HEAD, then POST); an account on HTTP Basic sends its email and
password with every request. Reading the app user, or the account with its memberships, for each of them
is most of what authentication costs, so the resolved caller is remembered in-process for
``CALLER_SECONDS``. The bound is honest: a change to who a credential is (a phone revoked or given another
area; an account disabled, given a new password, role, area or membership) forgets it in the process that
makes the change as soon as its transaction commits, and every other process (another child of
``serve --workers``, the CLI) reads it again within these seconds. Unknown, revoked and refused credentials
are never remembered.

Forgetting waits for the commit: forgotten before it, a request in between would read the row as it still
is and remember it again for another ``CALLER_SECONDS``. A read that began before a forget does not store
what it read (``stamp``), for the same reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

CALLER_SECONDS = 5.0

_PENDING = "qingling.forget_after_commit"

V = TypeVar("V")


class ShortMemory(Generic[V]):
    """Values under keys for ``ttl`` seconds, each with an owner (an account's or app user's id) by which
    all of its keys can be forgotten at once. Full, it starts again empty rather than track ages."""

    def __init__(self, ttl: float = CALLER_SECONDS, max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[Hashable, tuple[V, float, Hashable]] = {}
        self._forgets = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, now: float) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def stamp(self) -> int:
        """Take before reading what ``put`` will store: the put is dropped if anything was forgotten since."""
        return self._forgets

    def put(self, key: Hashable, value: V, now: float, *, owner: Hashable, stamp: int) -> None:
        with self._lock:
            if stamp != self._forgets:
                return  # a change committed while the caller was being read: read it again next time
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[key] = (value, now + self._ttl, owner)

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._forgets += 1
            self._entries.pop(key, None)

    def forget_owner(self, owner: Hashable) -> None:
        """Every key of ``owner`` (a scan: this runs on an administrator's change, not per request)."""
        with self._lock:
            self._forgets += 1
            for key in [key for key, entry in self._entries.items() if entry[2] == owner]:
                del self._entries[key]


def forget_after_commit(session: Session, forget: Callable[[], None]) -> None:
    """Run ``forget`` once ``session``'s transaction has committed (not at all if it rolls back)."""
    session.info.setdefault(_PENDING, []).append(forget)


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the change is not committed until its outer transaction is
    for forget in session.info.pop(_PENDING, ()):
        forget()


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint rolled back; what the outer transaction changed may still commit
    session.info.pop(_PENDING, None)


# The two memories: live app users under their token, verified HTTP Basic credentials under a keyed digest.
tokens: ShortMemory = ShortMemory()
accounts: ShortMemory = ShortMemory()


def forget_token(session: Session, token: str) -> None:
    """The app user holding ``token`` is being revoked or changed in ``session``: read it again after the commit."""
    forget_after_commit(session, lambda: tokens.forget(token))


def forget_account(session: Session, user_id: int) -> None:
    """Account ``user_id`` (its password, role, memberships, or whether it is disabled) is being changed in
    ``session``: every credential of it is read again after the commit."""
    forget_after_commit(session, lambda: accounts.forget_owner(user_id))
