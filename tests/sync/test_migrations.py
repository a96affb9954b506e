"""The migrations build exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from sync.db.engine import make_engine
from sync.db.migrate import check, current_revision, downgrade, head_revision, upgrade
from sync.db.models import Base


def test_models_and_migrations_have_not_drifted_apart(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        check(engine)  # alembic check: raises when autogenerate would find a difference
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        engine.dispose()


def test_memberships_migration_upgrades_a_database_of_the_previous_release_and_an_empty_one(database_url: str) -> None:
    """0012 (memberships), 0013 (queue count indexes) and 0015 (the exports' order) follow 0011 (flattened copies):
    a database of the previous release keeps its accounts' rights (every account a member of every project, over
    the whole project), and an empty one builds."""
    engine = make_engine(database_url)
    try:
        downgrade(engine, "0011")
        assert current_revision(engine) == "0011"
        assert "memberships" not in inspect(engine).get_table_names()
        now = datetime(2026, 12, 1, tzinfo=UTC)
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO projects (id, name, created_at) VALUES (1, 'County', :now), (2, 'Other', :now)"),
                {"now": now},
            )
            connection.execute(
                text("INSERT INTO users (id, email, password_hash, role, created_at) VALUES "
                     "(1, 'admin@example.org', 'x', 'admin', :now), (2, 'viewer@example.org', 'x', 'viewer', :now)"),
                {"now": now},
            )
        assert upgrade(engine) == ("0011", head_revision())
        assert head_revision() == "0017"
        assert "ix_submissions_form_order" in {index["name"] for index in inspect(engine).get_indexes("submissions")}
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT user_id, project_id, role, area FROM memberships ORDER BY user_id, project_id")
            ).all()
        assert [tuple(row) for row in rows] == [
            (1, 1, "admin", ""), (1, 2, "admin", ""), (2, 1, "viewer", ""), (2, 2, "viewer", "")
        ]
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert upgrade(engine) == (None, "0017")
        check(engine)
    finally:
        engine.dispose()
