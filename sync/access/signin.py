"""Signing in to the review workspace: the password check, the limit on guesses, and the audit trail.

Refused attempts are counted per account and per address over a sliding window, in the database, so
several server processes share the count and a restart does not reset it. While either count is at the
limit, even the right password is refused: the attacker learns nothing from a late success.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sync.access.accounts import PasswordVerifier
from sync.db.models import SignInFailure, User, utcnow
from sync.errors import TooManyAttempts
from sync.oversight.audit import record

WINDOW = timedelta(minutes=15)


def sign_in(
    session: Session, verifier: PasswordVerifier, email: str, password: str, address: str, *, limit: int
) -> User | None:
    """The account for these credentials, None when they are wrong; TooManyAttempts while throttled.

    The caller commits in every case, a raised TooManyAttempts included: the failure rows and the audit
    entries are the point of a refusal.
    """
    email = email.strip().lower()[:320]
    address = (address or "unknown")[:64]
    now = utcnow()
    session.execute(delete(SignInFailure).where(SignInFailure.at < now - WINDOW))
    by_email = _failures(session, SignInFailure.email == email, now)
    by_address = _failures(session, SignInFailure.address == address, now)
    if by_email >= limit or by_address >= limit:
        record(session, "user.session.throttled", subject=email, details={"address": address})
        raise TooManyAttempts()
    session.commit()  # the password check must not run inside a transaction (PasswordVerifier)
    user = verifier.verify(session, email, password)
    if user is None:
        session.add(SignInFailure(email=email, address=address, at=utcnow()))
        record(session, "user.session.failed", subject=email, details={"address": address})
        return None
    record(session, "user.session.create", subject=user.email, details={"address": address}, user_id=user.id)
    return user


def _failures(session: Session, condition, now) -> int:  # noqa: ANN001 - a SQL condition, a datetime
    return session.scalar(select(func.count()).where(SignInFailure.at >= now - WINDOW, condition)) or 0


def sign_out(session: Session, user_id: int) -> None:
    user = session.get(User, user_id)
    record(session, "user.session.end", subject=user.email if user else None, user_id=user_id)
