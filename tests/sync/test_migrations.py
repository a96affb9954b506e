"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect

from sync.db.engine import make_engine
from sync.db.migrate import check
from sync.db.models import Base


def test_models_and_migrations_have_not_drifted_apart(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        check(engine)  # alembic check: raises when autogenerate would find a difference
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()
