"""Indexes for the review queue's capped counts per review state and its flag filter

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 00:30:00.000000

Additive (indexes only): the previous release keeps working while this runs. See docs/performance.md,
"Review workspace", for what they are for.
"""

from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.create_index('ix_submissions_states', ['form_id', 'review_state'], unique=False)
        batch_op.create_index('ix_submissions_county_states', ['county', 'form_id', 'review_state'], unique=False)
        batch_op.create_index('ix_submissions_township_states', ['township', 'form_id', 'review_state'], unique=False)
        batch_op.create_index('ix_submissions_village_states', ['village', 'form_id', 'review_state'], unique=False)
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index('ix_flags_open', ['state', 'kind', 'submission_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index('ix_flags_open')
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        for name in ('village', 'township', 'county'):
            batch_op.drop_index(f'ix_submissions_{name}_states')
        batch_op.drop_index('ix_submissions_states')
