"""Store a flattened copy of each submission version for the exports, and queue the backfill

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:20:00.000000

``submission_versions.flat`` holds the rows of every export table of the version, written at ingestion
(sync/exports/stored.py). Versions stored before this revision have none; one ``flatten`` job is queued
here and fills them in batches, re-queuing itself until none is left (sync/job_kinds.py). Until then an
export parses those versions' XML as before, so no export is incomplete in between.
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submission_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flat', sa.LargeBinary(), nullable=True))
    versions = sa.table('submission_versions', sa.column('id', sa.Integer()))
    if op.get_bind().execute(sa.select(sa.func.count()).select_from(versions)).scalar():
        jobs = sa.table(
            'jobs', sa.column('kind', sa.String()), sa.column('state', sa.String()),
            sa.column('attempts', sa.Integer()), sa.column('run_after', sa.DateTime(timezone=True)),
            sa.column('created_at', sa.DateTime(timezone=True)),
        )
        now = datetime.now(timezone.utc)
        op.execute(jobs.insert().values(kind='flatten', state='pending', attempts=0, run_after=now, created_at=now))


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind = 'flatten'")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): batch mode would recreate the table, which
    # other tables reference, and SQLite's foreign keys refuse to drop it.
    op.drop_column('submission_versions', 'flat')
