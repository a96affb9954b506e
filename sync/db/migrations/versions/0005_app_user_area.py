"""Add app_users.area, the village/township/county code whose households a phone carries, and the
indexes that serve an area's entity list

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:05:00.000000

The previous release may still be serving while this runs: keep changes additive. It ignores the column
and keeps serving the whole list, as it did. On a large PostgreSQL registry the two indexes may instead
be built beforehand with CREATE INDEX CONCURRENTLY under the same names (docs/operations.md).
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('area', sa.String(length=12), nullable=True))
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.create_index('ix_households_area_village', ['project_id', 'village', 'code'], unique=False, if_not_exists=True)
        batch_op.create_index('ix_households_area_township', ['project_id', 'township', 'code'], unique=False, if_not_exists=True)


def downgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index('ix_households_area_township')
        batch_op.drop_index('ix_households_area_village')
    with op.batch_alter_table('app_users', schema=None) as batch_op:
        batch_op.drop_column('area')
