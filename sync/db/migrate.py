"""Apply Alembic migrations programmatically (start-up, ``qingling db upgrade``, tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # ConfigParser reads "%" as interpolation; socket paths in URLs are percent-encoded.
        url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str:
    """The revision this code's models describe (the last migration)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database without Qingling's tables."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to ``revision``; safe to call on every start (no-op when current).

    Returns the revisions before and after, so a caller can say whether anything was applied.
    """
    config = alembic_config(engine)
    with _migrating(engine) as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to ``revision`` (``"base"``: no tables); for tests of older databases."""
    config = alembic_config(engine)
    with _migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """One transaction for the migrations; on SQLite with foreign keys unenforced until it ends.

    SQLite cannot alter a column or add a constraint, so batch mode copies the table, drops the old one and
    renames the copy. With ``foreign_keys=ON`` (every connection of ours, sync/db/engine.py) dropping a table
    that other rows point at fails ("FOREIGN KEY constraint failed") as soon as the table has data. SQLite's
    documented procedure: switch enforcement off outside the transaction, then ``PRAGMA foreign_key_check``
    before committing, so a migration that did break a reference is rolled back instead of committed.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # a no-op inside a transaction: set on the driver's connection before SQLAlchemy begins one
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise MigrationBrokeReferences(broken)
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


class MigrationBrokeReferences(RuntimeError):
    def __init__(self, rows: list) -> None:
        tables = sorted({row[0] for row in rows})
        super().__init__(
            f"the migration would leave {len(rows)} broken reference(s) in {', '.join(tables)}; rolled back"
        )


def schema_problem(engine: Engine) -> str | None:
    """Why a command that only reads and writes rows cannot use this database, or None when it can.

    Commands other than ``serve``, ``db upgrade`` and ``users create`` never migrate: they say what is
    wrong instead of creating an empty SQLite file or failing later with "no such table".
    """
    url = engine.url
    on_disk = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if on_disk and not Path(url.database).exists():
        return f"there is no database at {url.database}; run `qingling db upgrade` (or `qingling serve`) first"
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).strip().splitlines()[0]
        return f"cannot open the database {url.render_as_string(hide_password=True)}: {reason}"
    if current is None:
        return "the database has no Qingling tables yet; run `qingling db upgrade` (or `qingling serve`) first"
    head = head_revision()
    known = {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current not in known:
        return f"the database is at revision {current}, which this version of Qingling does not know (a newer one?)"
    if current != head:
        return (
            f"the database is at revision {current}, this version of Qingling needs {head}; "
            "run `qingling db upgrade` first"
        )
    return None


def check(engine: Engine) -> None:
    """Raise if the models and the migrations have drifted apart (alembic check)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)
