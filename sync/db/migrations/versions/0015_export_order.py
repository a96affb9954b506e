"""An index in the exports' order, so a form's submissions stream newest first without a sort

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-02 05:00:00.000000

Additive (an index only): the previous release keeps working while this runs. Without it SQLite sorts a
form's whole export query in a temporary B-tree before the first row (docs/performance.md, "Exports").
"""

from alembic import op


revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index('ix_submissions_form_order', ['form_id', 'created_at', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_submissions_form_order')
