"""Named accounts (argon2-hashed passwords) and phone app users (path tokens).

HTTP Basic sends the password on every request. Hashing it with argon2 each time would cap the server
at a few requests per second (ODK Central's bcrypt does exactly that), so a successful check is
remembered in-process under a keyed digest of (email, password, stored hash): a changed password or a
disabled account never matches an old entry, and no plaintext is kept. What the account is (its id, role
and memberships) is remembered for a few seconds more on top of that (``account_for_basic``), as a phone's
token is (``app_user_for_token``): both by sync/access/recall.py, which also says when they are forgotten.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sync.access import recall
from sync.access.memberships import check_role, first_project_id, grant, scopes_of
from sync.access.places import check_area
from sync.access.recall import forget_account, forget_token
from sync.access.scope import Scope
from sync.db.models import AppUser, Membership, Project, User, utcnow
from sync.errors import BadRequest
from sync.oversight.audit import record

# OWASP's argon2id parameters (Password Storage Cheat Sheet: m = 19 MiB, t = 2, p = 1) rather than
# argon2-cffi's default (RFC 9106's low-memory profile, m = 64 MiB, t = 3, p = 4). The memory of one check is
# the whole of a server's peak above idle when someone signs in, and memory is what a small deployment runs
# out of first. The price: a guess against a stolen hash costs an attacker about a third of the memory-time
# it did, which is still the strength OWASP recommends for argon2id. A check is rare here anyway: successes
# are remembered (PasswordVerifier), so its cost is paid once per sign-in, not per request. Hashes made
# with other parameters still verify, and are replaced on the next good sign-in (``check_needs_rehash``).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    *,
    area: str = "",
    project_id: int | None = None,
    actor_user_id: int | None = None,
) -> User:
    """An account with ``role`` over ``area`` ("" = whole project) in ``project_id`` (default: the first
    project; with no project yet it joins the first one when that is created, see ``adopt_accounts``)."""
    email = email.strip().lower()
    check_role(role)
    area = check_area(area)
    if "@" not in email:
        raise BadRequest(f"{email!r} is not an email address.")
    check_password(password)
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise BadRequest(f"An account for {email} already exists.")
    user = User(email=email, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    record(session, "user.create", subject=email, details={"role": role, "area": area}, user_id=actor_user_id)
    project_id = project_id if project_id is not None else first_project_id(session)
    if project_id is not None:
        grant(session, user, project_id, role, area, actor_user_id=actor_user_id)
    return user


def check_password(password: str) -> None:
    if len(password) < 10:
        raise BadRequest("The password must have at least 10 characters.")


@dataclass
class _CacheEntry:
    user_id: int
    expires: float


class PasswordVerifier:
    """Checks email/password pairs, remembering successes for ``ttl`` seconds (see module docstring)."""

    def __init__(self, key: str, ttl: float = 600.0, max_entries: int = 10_000) -> None:
        self._key = key.encode()
        self._ttl = ttl
        self._max = max_entries
        self._cache: dict[bytes, _CacheEntry] = {}
        self._lock = threading.Lock()
        # One argon2 hash at a time: each takes 19 MiB (64 MiB for a hash made before that was lowered), so
        # eight phones signing in at once (or a client retrying a wrong password) would otherwise need eight
        # times that. Phones using a remembered sign-in, and app users, never wait here.
        self._hashing = threading.Lock()

    def verify(self, session: Session, email: str, password: str) -> User | None:
        began_here = not session.in_transaction()
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None or user.disabled_at is not None:
            return None
        user_id, stored, address = user.id, user.password_hash, user.email  # the rollback below expires ``user``
        token = self._token(address, password, stored)
        now = time.monotonic()
        if self._remembered(token, user_id, now):
            return user
        if began_here:
            # The hash takes tens of milliseconds and must not run inside a transaction: on SQLite every
            # transaction holds the database's write lock, so each wrong password would stall all uploads for
            # that long. This ends only the read this call began.
            session.rollback()
        with self._hashing:
            # Another request with the same credentials may have checked them while this one waited.
            if not self._remembered(token, user_id, now):
                try:
                    _hasher.verify(stored, password)
                except (VerificationError, InvalidHashError):
                    return None
                if began_here and _hasher.check_needs_rehash(stored):
                    self._rehash(session, user_id, address, password, stored, now)
                self._remember(token, user_id, now)
        if began_here:
            user = session.get(User, user_id, populate_existing=True)
            if user is None or user.disabled_at is not None:
                return None  # changed while we were hashing
            if user.password_hash != stored and not self._remembered(
                self._token(user.email, password, user.password_hash), user_id, now
            ):
                return None  # a new password while we were hashing (not our own rehash)
        return user

    def _rehash(self, session: Session, user_id: int, email: str, password: str, stored: str, now: float) -> None:
        """Store the password again with today's parameters, in a transaction of its own (the caller's has
        ended, see ``verify``), unless it was changed meanwhile. The new hash ends the account's other
        sessions once, as a new password does (``password_fingerprint``); the caller's is made after this."""
        renewed = _hasher.hash(password)
        with session.get_bind().begin() as connection:
            changed = connection.execute(
                update(User).where(User.id == user_id, User.password_hash == stored).values(password_hash=renewed)
            ).rowcount
        if changed:
            self._remember(self._token(email, password, renewed), user_id, now)

    def _token(self, email: str, password: str, stored: str) -> bytes:
        return hmac.new(self._key, f"{email}\0{password}\0{stored}".encode(), hashlib.sha256).digest()

    def _remember(self, token: bytes, user_id: int, now: float) -> None:
        with self._lock:
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[token] = _CacheEntry(user_id, now + self._ttl)

    def _remembered(self, token: bytes, user_id: int, now: float) -> bool:
        with self._lock:
            entry = self._cache.get(token)
            return entry is not None and entry.expires > now and entry.user_id == user_id


def create_app_user(session: Session, project: Project, display_name: str) -> AppUser:
    app_user = AppUser(project_id=project.id, display_name=display_name, token=secrets.token_urlsafe(48))
    session.add(app_user)
    session.flush()
    record(session, "app_user.create", subject=display_name, details={"project_id": project.id})
    return app_user


@dataclass(frozen=True)
class LiveAppUser:
    """What a request needs of the app user holding a token."""

    id: int
    project_id: int
    area: str | None


def app_user_for_token(session: Session, token: str) -> LiveAppUser | None:
    """The live app user holding ``token``; None for unknown or revoked tokens (remembered for
    `recall.CALLER_SECONDS` per process)."""
    now = time.monotonic()
    known = recall.tokens.get(token, now)
    if known is not None:
        return known
    stamp = recall.tokens.stamp()
    row = session.execute(
        select(AppUser.id, AppUser.project_id, AppUser.area).where(
            AppUser.token == token, AppUser.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    live = LiveAppUser(id=row.id, project_id=row.project_id, area=row.area)
    recall.tokens.put(token, live, now, owner=row.id, stamp=stamp)
    return live


def revoke_app_user(session: Session, app_user: AppUser) -> None:
    app_user.revoked_at = utcnow()
    forget_token(session, app_user.token)
    record(session, "app_user.revoke", subject=app_user.display_name, details={"app_user_id": app_user.id})


@dataclass(frozen=True)
class LiveAccount:
    """What a request needs of a named account that signed in with HTTP Basic: its memberships come with it,
    so a request in one of its projects needs no query at all."""

    id: int
    role: str
    scopes: tuple[Scope, ...]


# Keys of remembered Basic credentials: a digest under a key of this process alone, so no password is kept,
# and with the database in it, so one process's databases (a test run's) never share an entry.
_BASIC_KEY = secrets.token_bytes(32)
_database_names: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def account_for_basic(session: Session, verifier: PasswordVerifier, email: str, password: str) -> LiveAccount | None:
    """The live account of an HTTP Basic email and password, or None (a success is remembered for
    `recall.CALLER_SECONDS` per process; the argon2 check itself is remembered longer by ``verifier``)."""
    database = _database_names.get(session.get_bind())
    if database is None:  # the engine's URL as text, formatted once per engine, not per request
        database = _database_names[session.get_bind()] = str(session.get_bind().url)
    key = hmac.new(_BASIC_KEY, f"{database}\0{email.strip().lower()}\0{password}".encode(), hashlib.sha256).digest()
    now = time.monotonic()
    known = recall.accounts.get(key, now)
    if known is not None:
        return known
    stamp = recall.accounts.stamp()
    user = verifier.verify(session, email, password)
    if user is None:
        return None
    live = LiveAccount(id=user.id, role=user.role, scopes=tuple(scopes_of(session, user.id)))
    recall.accounts.put(key, live, now, owner=user.id, stamp=stamp)
    return live


SESSION_TTL_SECONDS = 24 * 3600


def issue_session_token(secret_key: str, user: User) -> tuple[str, datetime]:
    """A bearer token for ``user`` (Central's ``POST /v1/sessions``), valid for a day.

    Signed, not stored: it carries the user id and a fingerprint of the password hash, so changing the
    password or disabling the account ends every session at once.
    """
    token = _session_serializer(secret_key).dumps({"u": user.id, "p": password_fingerprint(user)})
    return token, utcnow() + timedelta(seconds=SESSION_TTL_SECONDS)


def user_for_session_token(session: Session, secret_key: str, token: str) -> User | None:
    try:
        data = _session_serializer(secret_key).loads(token, max_age=SESSION_TTL_SECONDS)
    except BadData:
        return None
    user = session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or user.disabled_at is not None or data.get("p") != password_fingerprint(user):
        return None
    return user


def _session_serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="qingling.session")


def password_fingerprint(user: User) -> str:
    """Changes whenever the password does: sessions carry it, so a new password ends them."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def set_password(session: Session, user: User, password: str, *, actor_user_id: int | None) -> None:
    """A new password (an administrator's reset): every session of the account ends with the old hash."""
    check_password(password)
    user.password_hash = hash_password(password)
    forget_account(session, user.id)
    record(session, "user.password", subject=user.email, user_id=actor_user_id)


def set_disabled(session: Session, user: User, disabled: bool, *, actor_user_id: int | None) -> None:
    """Disable (or enable again) an account: a disabled account cannot sign in and its sessions end."""
    if disabled and user.id == actor_user_id:
        raise BadRequest("You cannot disable your own account.")
    user.disabled_at = utcnow() if disabled else None
    forget_account(session, user.id)
    record(session, "user.disable" if disabled else "user.enable", subject=user.email, user_id=actor_user_id)


def project_members(session: Session, project_id: int) -> list[tuple[User, Membership]]:
    rows = session.execute(
        select(User, Membership).join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project_id).order_by(User.email)
    )
    return [(user, membership) for user, membership in rows]


def project_app_users(session: Session, project_id: int) -> list[AppUser]:
    return list(session.scalars(select(AppUser).where(AppUser.project_id == project_id).order_by(AppUser.id)))
