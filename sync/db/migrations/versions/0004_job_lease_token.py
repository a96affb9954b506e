"""Add jobs.lease_token, the claim token of a job's short, renewed lease

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:40:00.000000

The previous release may still be serving while this runs: keep changes additive. Its workers ignore the
column and keep their 15-minute leases; the new ones renew a 30-second lease and only mark a job done
while they still hold it (sync/jobs/queue.py).
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_column('lease_token')
