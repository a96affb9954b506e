"""An index in the job claim's order, so taking the next job costs the same whatever the backlog

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 15:00:00.000000

Additive (an index only): the previous release keeps working while this runs. Without it SQLite sorted
every due pending job to take the oldest (44 ms a claim with 100,000 waiting; docs/performance.md).
"""

from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_state_id', ['state', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_state_id')
