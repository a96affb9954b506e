"""Add photo_bands, the candidate index for near-duplicate photos

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:10:00.000000

The previous release may still be serving while this runs: keep changes additive.

One row per (band key, photo check): the band keys of a photo's perceptual fingerprint
(media.duplicates.Fingerprint.band_keys, integers below 8,192). The primary key starts with band_key, so
"which photos share at least 3 keys with this one" is one index-only range scan per key.
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('photo_bands',
    sa.Column('band_key', sa.SmallInteger(), nullable=False),
    sa.Column('photo_check_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['photo_check_id'], ['photo_checks.id'], name=op.f('fk_photo_bands_photo_check_id_photo_checks')),
    sa.PrimaryKeyConstraint('band_key', 'photo_check_id', name=op.f('pk_photo_bands'))
    )
    with op.batch_alter_table('photo_bands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_bands_photo_check_id'), ['photo_check_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('photo_bands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_bands_photo_check_id'))

    op.drop_table('photo_bands')
