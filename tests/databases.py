"""Test databases: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``QINGLING_TEST_DATABASE_URL`` when set, otherwise from the ``pgserver`` package,
which ships the server binaries in a wheel and is started here, once per test session. Each test gets
a fresh database copied from a migrated template, so tests can commit freely and never see each other.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from sync.db.migrate import upgrade

_counter = itertools.count()


class SqliteDatabases:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        engine = create_engine(f"sqlite:///{self.template}", poolclass=NullPool)
        upgrade(engine)
        engine.dispose()

    def create(self) -> str:
        path = self.root / f"test_{next(_counter)}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(make_url(url).database + suffix).unlink(missing_ok=True)


class PostgresDatabases:
    def __init__(self) -> None:
        self._server = None
        base_url = os.environ.get("QINGLING_TEST_DATABASE_URL")
        if not base_url:
            import pgserver

            self._dir = tempfile.mkdtemp(prefix="qingling-pg-")
            self._server = pgserver.get_server(self._dir, cleanup_mode="delete")
            base_url = self._server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        self.base_url = make_url(base_url)
        self.admin = create_engine(self.base_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.prefix = f"qingling_test_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.template}"'))
            conn.execute(text(f'CREATE DATABASE "{self.template}"'))
        engine = create_engine(self.base_url.set(database=self.template), poolclass=NullPool)
        upgrade(engine)
        engine.dispose()

    def create(self) -> str:
        name = f"{self.prefix}_{next(_counter)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return self.base_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.template}"'))
        self.admin.dispose()
        if self._server is not None:
            self._server.cleanup()
