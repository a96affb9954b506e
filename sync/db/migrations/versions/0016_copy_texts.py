"""Store the texts the plain OData feed and the CSV exports write for each submission version

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 14:30:00.000000

``submission_versions.texts`` sits beside the flattened copy (docs/exports.md 8), written at ingestion
(sync/exports/copies.py). Additive: the previous release neither reads nor writes it and keeps serving
while this runs. Versions stored before have none and are exported from their rows as before, with the
same bytes; one ``flatten`` job queued here fills them in 500 at a time, re-queuing itself until none
is left.
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submission_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('texts', sa.Text(), nullable=True))
    versions = sa.table('submission_versions', sa.column('id', sa.Integer()))
    jobs = sa.table(
        'jobs', sa.column('kind', sa.String()), sa.column('state', sa.String()),
        sa.column('attempts', sa.Integer()), sa.column('run_after', sa.DateTime(timezone=True)),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    queued = sa.select(sa.func.count()).select_from(jobs).where(jobs.c.kind == 'flatten', jobs.c.state == 'pending')
    if bind.execute(sa.select(sa.func.count()).select_from(versions)).scalar() and not bind.execute(queued).scalar():
        # one job fills both columns (0011's, when upgrading from before it, is already queued)
        now = datetime.now(timezone.utc)
        op.execute(jobs.insert().values(kind='flatten', state='pending', attempts=0, run_after=now, created_at=now))


def downgrade() -> None:
    op.execute("DELETE FROM jobs WHERE kind = 'flatten' AND state = 'pending'")
    # Plain DROP COLUMN, as 0011's downgrade (batch mode would recreate a table others reference).
    op.drop_column('submission_versions', 'texts')
