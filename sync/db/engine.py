"""Engine and session factory: one code path for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

# How long a write transaction waits for another one to finish before "database is locked".
SQLITE_LOCK_SECONDS = 30


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create the engine with the per-backend settings that matter for concurrent ingestion.

    SQLite: WAL so readers never block the writer, a busy timeout so concurrent writers wait instead of
    failing, and foreign keys on (SQLite leaves them off by default). Connections are pooled: opening one
    costs the pragmas, and closing the last one checkpoints and removes the WAL, which a busy server would
    otherwise do for almost every request. Writers of one process queue on a lock (see
    :class:`_SerializedWrites`) rather than in SQLite's busy handler, which polls with sleeps of up to 100 ms.
    Both backends keep statement parameters out of error messages: those reach logs and the jobs table, and
    a parameter may be a phone token or a password hash.
    """
    if url.startswith("sqlite"):
        connection_class = type("SerializedWrites", (_SerializedWrites,), {"writer": threading.Lock()})
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_LOCK_SECONDS, "check_same_thread": False, "factory": connection_class},
            pool_size=pool_size,
            max_overflow=pool_size,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over
        # (SQLAlchemy docs, "Serializable isolation / Savepoints / Transactional DDL").
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, hide_parameters=True)


def _sqlite_begin(conn: Connection) -> None:
    if conn.get_execution_options().get("read_snapshot"):
        # A deferred BEGIN is a read snapshot in WAL mode and takes no write lock (see `read_snapshot`).
        conn.connection.dbapi_connection.execute("BEGIN")
    else:
        conn.connection.dbapi_connection.begin_immediate()


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A read-only connection that sees one consistent state for as long as it is open.

    Exports read a form in several passes (the root table, then each repeat) and must not mix states:
    a submission committed between two passes would give repeat rows without their parent row. SQLite in
    WAL gives a deferred transaction a snapshot without blocking writers; PostgreSQL gets REPEATABLE READ,
    read-only. Rows are streamed (a server-side cursor on PostgreSQL), so memory stays flat.
    """
    options: dict = {"read_snapshot": True, "stream_results": True}
    if engine.dialect.name == "postgresql":
        options.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with engine.connect() as connection:
        connection = connection.execution_options(**options)
        with connection.begin():
            yield connection


class _SerializedWrites(sqlite3.Connection):
    """A connection that holds its engine's ``writer`` lock from BEGIN IMMEDIATE until COMMIT or ROLLBACK.

    Every transaction here is BEGIN IMMEDIATE, so SQLite lets one run at a time anyway; threads of this
    process now wait their turn on a lock that wakes the next one at once. Other processes (a CLI command,
    a second server) still meet SQLite's busy timeout, as before.
    """

    writer: threading.Lock
    _holding = False

    def begin_immediate(self) -> None:
        if not self.writer.acquire(timeout=SQLITE_LOCK_SECONDS):
            raise sqlite3.OperationalError("database is locked (another transaction of this process is open)")
        self._holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release(force=True)

    def _release(self, force: bool = False) -> None:
        if self._holding and (force or not self.in_transaction):
            self._holding = False
            self.writer.release()


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI objects are untyped
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_LOCK_SECONDS * 1000}")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception. Callers below only flush."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
